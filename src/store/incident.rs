//! Partner incidents: one row each in `incidents`, the incident as JSON
//! beside the columns that lists, reports and `/metrics` filter on; and the
//! HTTP intake's idempotency keys in `incident_requests`.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::ms;
use super::session::Access;
use crate::domain::incident::{Incident, Severity, State};

/// A stored incident: its number (the n of INC-n) and the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub n: i64,
    pub incident: Incident,
}

/// What `/incident list` filters on (all `None`: every incident).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub severity: Option<Severity>,
    /// `None`: every state but resolved.
    pub state: Option<State>,
    pub all_states: bool,
    pub partner: Option<String>,
}

fn decode((n, body): (i64, String)) -> anyhow::Result<Stored> {
    Ok(Stored {
        n,
        incident: serde_json::from_str(&body)?,
    })
}

/// Stores a new incident; returns its number.
pub async fn insert(db: &mut impl Access, i: &Incident, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO incidents (severity, state, partner, opened_at, responded_at, breached_at, body, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(i.severity.as_str())
    .bind(i.state.as_str())
    .bind(&i.partner)
    .bind(ms(i.opened_at))
    .bind(i.responded.as_ref().map(|(at, _)| ms(*at)))
    .bind(i.breached_at.map(ms))
    .bind(serde_json::to_string(i)?)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Saves an incident after a change.
pub async fn update(
    db: &mut impl Access,
    n: i64,
    i: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "UPDATE incidents SET severity = ?, state = ?, partner = ?, responded_at = ?, breached_at = ?,
             body = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(i.severity.as_str())
    .bind(i.state.as_str())
    .bind(&i.partner)
    .bind(i.responded.as_ref().map(|(at, _)| ms(*at)))
    .bind(i.breached_at.map(ms))
    .bind(serde_json::to_string(i)?)
    .bind(ms(now))
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// Loads one incident.
pub async fn get(db: &mut impl Access, n: i64) -> anyhow::Result<Option<Stored>> {
    let conn = super::conn(db).await?;
    let row: Option<(i64, String)> = sqlx::query_as("SELECT id, body FROM incidents WHERE id = ?")
        .bind(n)
        .fetch_optional(conn)
        .await?;
    row.map(decode).transpose()
}

/// Incidents matching `filter`, newest first, at most `limit`.
pub async fn list(
    db: &mut impl Access,
    filter: &Filter,
    limit: i64,
) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, body FROM incidents
         WHERE (?1 IS NULL OR severity = ?1)
           AND (?2 = 1 OR (?3 IS NULL AND state <> 'resolved') OR state = ?3)
           AND (?4 IS NULL OR partner = ?4)
         ORDER BY id DESC LIMIT ?5",
    )
    .bind(filter.severity.map(Severity::as_str))
    .bind(filter.all_states)
    .bind(filter.state.map(State::as_str))
    .bind(&filter.partner)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// Incidents opened in `[from, to)`, oldest first.
pub async fn opened_between(
    db: &mut impl Access,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, body FROM incidents WHERE opened_at >= ? AND opened_at < ? ORDER BY id",
    )
    .bind(ms(from))
    .bind(ms(to))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// Resolved incidents whose resolution plans a patch (for back-port items).
pub async fn patches_planned(db: &mut impl Access) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, body FROM incidents
         WHERE state = 'resolved' AND json_extract(body, '$.resolved.kind') = 'patch-planned'
         ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// The incident an intake request with idempotency `key` opened for
/// `partner`, and that request's fingerprint.
pub async fn request_by_key(
    db: &mut impl Access,
    partner: &str,
    key: &str,
) -> anyhow::Result<Option<(i64, String)>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_as(
        "SELECT incident, fingerprint FROM incident_requests WHERE partner = ? AND key = ?",
    )
    .bind(partner)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

/// Records that the intake request with idempotency `key` opened incident `n`.
pub async fn remember_request(
    db: &mut impl Access,
    partner: &str,
    key: &str,
    fingerprint: &str,
    n: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "INSERT INTO incident_requests (partner, key, fingerprint, incident, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(partner)
    .bind(key)
    .bind(fingerprint)
    .bind(n)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Breaches recorded, per severity (for `/metrics`).
pub async fn breaches(conn: &mut SqliteConnection) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT severity, COUNT(*) FROM incidents WHERE breached_at IS NOT NULL GROUP BY severity",
    )
    .fetch_all(conn)
    .await
}

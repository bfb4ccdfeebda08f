//! Downtime windows: one row each in `downtimes`.

use super::session::Access;
use chrono::{DateTime, Utc};

use super::{from_ms, ms};
use crate::domain::downtime::{Downtime, State};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    environment: String,
    starts_at: i64,
    ends_at: i64,
    reason: String,
    audience: Option<String>,
    state: String,
    version: i64,
    announced_by: String,
    started_at: Option<i64>,
    started_by: Option<String>,
    completed_at: Option<i64>,
    cancel_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, environment, starts_at, ends_at, reason, audience, state, version, announced_by, \
     started_at, started_by, completed_at, cancel_reason, created_at, updated_at";

/// A stored window: its number (the n of DT-n), the window, and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub n: i64,
    pub downtime: Downtime,
    pub updated_at: DateTime<Utc>,
}

fn decode(row: Row) -> anyhow::Result<Stored> {
    let downtime = Downtime {
        environment: row.environment,
        start: from_ms(row.starts_at),
        end: from_ms(row.ends_at),
        reason: row.reason,
        audience: row.audience,
        state: row.state.parse()?,
        version: u32::try_from(row.version)?,
        announced_by: row.announced_by.parse()?,
        started_at: row.started_at.map(from_ms),
        started_by: row.started_by.map(|u| u.parse()).transpose()?,
        completed_at: row.completed_at.map(from_ms),
        cancel_reason: row.cancel_reason,
        created_at: from_ms(row.created_at),
    };
    Ok(Stored {
        n: row.id,
        downtime,
        updated_at: from_ms(row.updated_at),
    })
}

/// Stores a new window; returns its number.
pub async fn insert(db: &mut impl Access, d: &Downtime, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO downtimes (environment, starts_at, ends_at, reason, audience, state, version, announced_by,
             started_at, started_by, completed_at, cancel_reason, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&d.environment)
    .bind(ms(d.start))
    .bind(ms(d.end))
    .bind(&d.reason)
    .bind(&d.audience)
    .bind(d.state.as_str())
    .bind(i64::from(d.version))
    .bind(d.announced_by.to_string())
    .bind(d.started_at.map(ms))
    .bind(d.started_by.as_ref().map(ToString::to_string))
    .bind(d.completed_at.map(ms))
    .bind(&d.cancel_reason)
    .bind(ms(d.created_at))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Saves the mutable parts of a window.
pub async fn update(
    db: &mut impl Access,
    n: i64,
    d: &Downtime,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "UPDATE downtimes SET starts_at = ?, ends_at = ?, state = ?, version = ?, started_at = ?, started_by = ?,
             completed_at = ?, cancel_reason = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(ms(d.start))
    .bind(ms(d.end))
    .bind(d.state.as_str())
    .bind(i64::from(d.version))
    .bind(d.started_at.map(ms))
    .bind(d.started_by.as_ref().map(ToString::to_string))
    .bind(d.completed_at.map(ms))
    .bind(&d.cancel_reason)
    .bind(ms(now))
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// Loads one window.
pub async fn get(db: &mut impl Access, n: i64) -> anyhow::Result<Option<Stored>> {
    let conn = super::conn(db).await?;
    let sql = format!("SELECT {COLUMNS} FROM downtimes WHERE id = ?");
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(n)
        .fetch_optional(conn)
        .await?;
    row.map(decode).transpose()
}

/// Live (announced or in-progress) windows of one environment, by start.
pub async fn live_in(db: &mut impl Access, environment: &str) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM downtimes WHERE environment = ? AND state IN ('announced', 'in-progress') ORDER BY starts_at, id"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(environment)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

/// Windows in the given states (all when empty), by start.
pub async fn in_states(
    db: &mut impl Access,
    states: &[State],
    limit: i64,
) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let filter = if states.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("WHERE state IN ({})", names.join(","))
    };
    let sql = format!("SELECT {COLUMNS} FROM downtimes {filter} ORDER BY starts_at, id LIMIT ?");
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

/// Windows that end after `since` or changed after it (for the calendar), by start.
pub async fn since(
    db: &mut impl Access,
    since: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<Stored>> {
    let conn = super::conn(db).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM downtimes WHERE ends_at >= ?1 OR updated_at >= ?1 ORDER BY starts_at, id LIMIT ?2"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ms(since))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

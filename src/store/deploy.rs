//! Deploy requests: one row each in `deploy_requests`, the request as JSON
//! beside its target, its state and the key of the pipeline run it started.

use chrono::{DateTime, Utc};

use super::Tagged;
use super::batch::Batch;
use super::ms;
use super::session::Access;
use crate::domain::deploy::{DeployRequest, State};

fn decode((n, body): (i64, String)) -> anyhow::Result<(i64, DeployRequest)> {
    Ok((n, serde_json::from_str(&body)?))
}

/// Stores a new request; returns its number (the n of DEP-n).
pub async fn insert(
    db: &mut impl Access,
    r: &DeployRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO deploy_requests (target, state, run_key, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.target)
    .bind(r.state.as_str())
    .bind(r.run_key())
    .bind(serde_json::to_string(r)?)
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Saves a request after a change.
pub async fn update(
    db: &mut impl Access,
    n: i64,
    r: &DeployRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "UPDATE deploy_requests SET state = ?, run_key = ?, body = ?, updated_at = ? WHERE id = ?",
    )
    .bind(r.state.as_str())
    .bind(r.run_key())
    .bind(serde_json::to_string(r)?)
    .bind(ms(now))
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// Loads one request.
pub async fn get(db: &mut impl Access, n: i64) -> anyhow::Result<Option<DeployRequest>> {
    let conn = super::conn(db).await?;
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM deploy_requests WHERE id = ?")
        .bind(n)
        .fetch_optional(conn)
        .await?;
    Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
}

/// Requests in `states` (empty: every state), newest first, at most `limit`.
pub async fn list(
    db: &mut impl Access,
    states: &[State],
    limit: i64,
) -> anyhow::Result<Vec<(i64, DeployRequest)>> {
    let conn = super::conn(db).await?;
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, body FROM deploy_requests
         WHERE ?1 = '[]' OR state IN (SELECT value FROM json_each(?1))
         ORDER BY id DESC LIMIT ?2",
    )
    .bind(serde_json::to_string(&names)?)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// Reads, with the webhook writer's `BEGIN`, the requests that started
/// these runs (see [`by_runs_from`]).
pub fn read_by_runs(b: &mut Batch, run_keys: &[&str]) {
    if run_keys.is_empty() {
        return;
    }
    b.statement(&format!(
        "SELECT id, run_key, body, 'deploy' AS tag FROM deploy_requests WHERE run_key IN ({})",
        vec!["?"; run_keys.len()].join(", ")
    ));
    for k in run_keys {
        b.bind(k.to_string());
    }
}

/// `(n, run key, request)` of what [`read_by_runs`] found.
pub fn by_runs_from(rows: &Tagged) -> anyhow::Result<Vec<(i64, String, DeployRequest)>> {
    let rows: Vec<(i64, String, String)> = rows.decode("deploy")?;
    rows.into_iter()
        .map(|(n, key, body)| Ok((n, key, serde_json::from_str(&body)?)))
        .collect()
}

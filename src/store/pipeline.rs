//! Pipeline deliveries (the dedup table) and runs. Written in batches: the
//! webhook writer folds many deliveries into one transaction, so the batch
//! statements take slices and are appended to a [`Batch`], to go to SQLite
//! with the transaction's `BEGIN` (reads) or `COMMIT` (writes).

use super::session::Access;
use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::batch::Batch;
use super::{Tagged, ms};

/// One accepted delivery.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub source: &'a str,
    pub delivery_id: &'a str,
    pub kind: &'a str,
    pub applied: bool,
    pub run_key: Option<&'a str>,
}

/// One run to write.
#[derive(Debug, Clone)]
pub struct RunRow<'a> {
    pub key: &'a str,
    pub source: &'a str,
    pub pipeline: &'a str,
    pub environment: &'a str,
    pub routed: bool,
    pub status: &'a str,
    pub body: String,
}

fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Records deliveries (read back with [`fresh_deliveries`]). One statement:
/// keep `rows` under a few thousand (SQLite's bound-parameter limit).
pub fn record_deliveries(b: &mut Batch, rows: &[NewDelivery<'_>], now: DateTime<Utc>) {
    if rows.is_empty() {
        return;
    }
    b.statement(&format!(
        "INSERT INTO pipeline_deliveries (source, delivery_id, kind, outcome, run_key, received_at)
         VALUES {} ON CONFLICT DO NOTHING RETURNING source, delivery_id, 'delivery' AS tag",
        placeholders(rows.len(), 6)
    ));
    for r in rows {
        b.bind(r.source.to_string())
            .bind(r.delivery_id.to_string())
            .bind(r.kind.to_string())
            .bind(if r.applied { "applied" } else { "ignored" })
            .bind(r.run_key.map(str::to_string))
            .bind(ms(now));
    }
}

/// The `(source, delivery_id)` pairs [`record_deliveries`] found new.
pub fn fresh_deliveries(rows: &Tagged) -> sqlx::Result<HashSet<(String, String)>> {
    Ok(rows.decode("delivery")?.into_iter().collect())
}

/// Reads the stored bodies of these runs (see [`runs_from`]).
pub fn load_runs(b: &mut Batch, keys: &[&str]) {
    if keys.is_empty() {
        return;
    }
    b.statement(&format!(
        "SELECT key, body, 'run' AS tag FROM pipeline_runs WHERE key IN ({})",
        vec!["?"; keys.len()].join(", ")
    ));
    for k in keys {
        b.bind(k.to_string());
    }
}

/// `(key, body)` of the runs [`load_runs`] found (missing keys are skipped).
pub fn runs_from(rows: &Tagged) -> sqlx::Result<Vec<(String, String)>> {
    rows.decode("run")
}

/// Inserts or updates runs (a run keeps its `seq`, the order it was first seen in).
pub fn save_runs(b: &mut Batch, rows: &[RunRow<'_>], now: DateTime<Utc>) {
    if rows.is_empty() {
        return;
    }
    b.statement(&format!(
        "INSERT INTO pipeline_runs (key, source, pipeline, environment, routed, status, updated_at, body)
         VALUES {}
         ON CONFLICT (key) DO UPDATE SET pipeline = excluded.pipeline,
            environment = excluded.environment, routed = excluded.routed,
            status = excluded.status, updated_at = excluded.updated_at, body = excluded.body",
        placeholders(rows.len(), 8)
    ));
    for r in rows {
        b.bind(r.key.to_string())
            .bind(r.source.to_string())
            .bind(r.pipeline.to_string())
            .bind(r.environment.to_string())
            .bind(r.routed)
            .bind(r.status.to_string())
            .bind(ms(now))
            .bind(r.body.clone());
    }
}

/// The latest run of each pipeline in each environment (or in one).
pub async fn latest_runs(
    db: &mut impl Access,
    environment: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_scalar(
        "SELECT body FROM pipeline_runs WHERE seq IN (
             SELECT MAX(seq) FROM pipeline_runs WHERE ?1 IS NULL OR environment = ?1
             GROUP BY environment, pipeline)
         ORDER BY environment, pipeline",
    )
    .bind(environment)
    .fetch_all(conn)
    .await?)
}

/// The last `limit` runs of a pipeline, newest first.
pub async fn history(
    db: &mut impl Access,
    pipeline: &str,
    limit: i64,
) -> anyhow::Result<Vec<(String, String)>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_as(
        "SELECT environment, body FROM pipeline_runs WHERE pipeline = ? ORDER BY seq DESC LIMIT ?",
    )
    .bind(pipeline)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Every pipeline name seen, for "did you mean".
pub async fn pipeline_names(db: &mut impl Access) -> anyhow::Result<Vec<String>> {
    let conn = super::conn(db).await?;
    Ok(
        sqlx::query_scalar("SELECT DISTINCT pipeline FROM pipeline_runs ORDER BY pipeline")
            .fetch_all(conn)
            .await?,
    )
}

/// Every environment seen.
pub async fn environments(db: &mut impl Access) -> anyhow::Result<Vec<String>> {
    let conn = super::conn(db).await?;
    Ok(
        sqlx::query_scalar("SELECT DISTINCT environment FROM pipeline_runs ORDER BY environment")
            .fetch_all(conn)
            .await?,
    )
}

/// The stored body of one run, if it has been seen.
pub async fn run_body(db: &mut impl Access, key: &str) -> anyhow::Result<Option<String>> {
    let conn = super::conn(db).await?;
    Ok(
        sqlx::query_scalar("SELECT body FROM pipeline_runs WHERE key = ?")
            .bind(key)
            .fetch_optional(conn)
            .await?,
    )
}

/// The stored bodies of the latest runs of `source` in `environment`, newest first.
pub async fn recent_in(
    db: &mut impl Access,
    source: &str,
    environment: &str,
    limit: i64,
) -> anyhow::Result<Vec<String>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_scalar(
        "SELECT body FROM pipeline_runs WHERE source = ? AND environment = ? ORDER BY seq DESC LIMIT ?",
    )
    .bind(source)
    .bind(environment)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The stored body of the latest attempt of run `run_id` of `source`.
pub async fn latest_attempt(
    db: &mut impl Access,
    source: &str,
    run_id: &str,
) -> anyhow::Result<Option<String>> {
    let conn = super::conn(db).await?;
    let prefix = format!("pipeline:{source}:{run_id}:");
    Ok(sqlx::query_scalar(
        "SELECT body FROM pipeline_runs WHERE substr(key, 1, length(?1)) = ?1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(prefix)
    .fetch_optional(conn)
    .await?)
}

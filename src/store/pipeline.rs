//! Pipeline deliveries (the dedup table) and runs. Written in batches: the
//! webhook writer folds many deliveries into one transaction, so these take
//! slices and use one statement per slice where SQLite allows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::ms;

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

const CHUNK: usize = 200;

fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Records deliveries; returns the `(source, delivery_id)` pairs that were new.
pub async fn record_deliveries(
    conn: &mut SqliteConnection,
    rows: &[NewDelivery<'_>],
    now: DateTime<Utc>,
) -> sqlx::Result<HashSet<(String, String)>> {
    let mut fresh = HashSet::new();
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO pipeline_deliveries (source, delivery_id, kind, outcome, run_key, received_at)
             VALUES {} ON CONFLICT DO NOTHING RETURNING source, delivery_id",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.source)
                .bind(r.delivery_id)
                .bind(r.kind)
                .bind(if r.applied { "applied" } else { "ignored" })
                .bind(r.run_key)
                .bind(ms(now));
        }
        fresh.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(fresh)
}

/// The stored bodies of these runs (missing keys are skipped).
pub async fn load_runs(
    conn: &mut SqliteConnection,
    keys: &[&str],
) -> sqlx::Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT key, body FROM pipeline_runs WHERE key IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Inserts or updates runs (a run keeps its `seq`, the order it was first seen in).
pub async fn save_runs(
    conn: &mut SqliteConnection,
    rows: &[RunRow<'_>],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO pipeline_runs (key, source, pipeline, environment, routed, status, updated_at, body)
             VALUES {}
             ON CONFLICT (key) DO UPDATE SET pipeline = excluded.pipeline,
                environment = excluded.environment, routed = excluded.routed,
                status = excluded.status, updated_at = excluded.updated_at, body = excluded.body",
            placeholders(chunk.len(), 8)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.key)
                .bind(r.source)
                .bind(r.pipeline)
                .bind(r.environment)
                .bind(r.routed)
                .bind(r.status)
                .bind(ms(now))
                .bind(&r.body);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The latest run of each pipeline in each environment (or in one).
pub async fn latest_runs(
    conn: &mut SqliteConnection,
    environment: Option<&str>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT body FROM pipeline_runs WHERE seq IN (
             SELECT MAX(seq) FROM pipeline_runs WHERE ?1 IS NULL OR environment = ?1
             GROUP BY environment, pipeline)
         ORDER BY environment, pipeline",
    )
    .bind(environment)
    .fetch_all(conn)
    .await
}

/// The last `limit` runs of a pipeline, newest first.
pub async fn history(
    conn: &mut SqliteConnection,
    pipeline: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT environment, body FROM pipeline_runs WHERE pipeline = ? ORDER BY seq DESC LIMIT ?",
    )
    .bind(pipeline)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every pipeline name seen, for "did you mean".
pub async fn pipeline_names(conn: &mut SqliteConnection) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT pipeline FROM pipeline_runs ORDER BY pipeline")
        .fetch_all(conn)
        .await
}

/// Every environment seen.
pub async fn environments(conn: &mut SqliteConnection) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT environment FROM pipeline_runs ORDER BY environment")
        .fetch_all(conn)
        .await
}

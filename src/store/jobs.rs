//! The one job table for every timed thing (cooling-off expiry, reminders,
//! SLA clocks, cron jobs). The scheduler claims a due job inside the same
//! transaction that applies its effects, so a job fires exactly once.

use super::session::Access;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::batch::Batch;
use super::{from_ms, ms};

/// A job to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
    pub due_at: DateTime<Utc>,
    /// A recurring job's cron expression; the next occurrence is scheduled when it fires.
    pub cron: Option<String>,
    /// A key that makes scheduling idempotent: a second job with the same key is ignored.
    pub dedup_key: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub due_at: DateTime<Utc>,
    pub cron: Option<String>,
    pub attempts: i64,
}

type JobRow = (i64, String, String, i64, Option<String>, i64);

fn job((id, kind, payload, due_at, cron, attempts): JobRow) -> Job {
    Job {
        id,
        kind,
        payload,
        due_at: from_ms(due_at),
        cron,
        attempts,
    }
}

/// A job's row (one whose dedup key exists already is ignored); the values follow.
const INSERT: &str =
    "INSERT OR IGNORE INTO jobs (kind, payload, due_at, cron, dedup_key, created_at) VALUES ";

/// Appends one multi-row [`INSERT`] of `rows` (job, created at) to `b`.
pub(super) fn insert_rows(b: &mut Batch, rows: &[(NewJob, i64)]) {
    b.statement(&format!(
        "{INSERT}{}",
        vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
    ));
    for (j, now) in rows {
        b.bind(j.kind.clone())
            .bind(j.payload.clone())
            .bind(ms(j.due_at))
            .bind(j.cron.clone())
            .bind(j.dedup_key.clone())
            .bind(*now);
    }
}

/// Schedules a job now; returns its id, or `None` when the dedup key already exists.
pub async fn schedule(
    conn: &mut SqliteConnection,
    j: &NewJob,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!("{INSERT}(?, ?, ?, ?, ?, ?)")))
        .bind(&j.kind)
        .bind(&j.payload)
        .bind(ms(j.due_at))
        .bind(&j.cron)
        .bind(&j.dedup_key)
        .bind(ms(now))
        .execute(conn)
        .await?;
    Ok((done.rows_affected() == 1).then(|| done.last_insert_rowid()))
}

/// Registers (or re-times) the recurring job `kind`. Its pending occurrence is
/// kept when the expression is unchanged, so an occurrence missed while the
/// bot was down still fires once on start.
pub async fn upsert_recurring(
    conn: &mut SqliteConnection,
    kind: &str,
    cron: &str,
    first_due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, payload, due_at, cron, dedup_key, created_at) VALUES (?1, '{}', ?2, ?3, 'cron:' || ?1, ?4)
         ON CONFLICT (dedup_key) DO UPDATE SET
             due_at = CASE WHEN jobs.cron IS excluded.cron AND jobs.state = 'pending' THEN jobs.due_at ELSE excluded.due_at END,
             cron = excluded.cron, state = 'pending', attempts = 0",
    )
    .bind(kind)
    .bind(ms(first_due))
    .bind(cron)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// When the earliest pending job is due.
pub async fn next_due(conn: &mut SqliteConnection) -> sqlx::Result<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(due_at) FROM jobs WHERE state = 'pending'")
            .fetch_one(conn)
            .await?;
    Ok(at.map(from_ms))
}

/// Claims up to `limit` due jobs, oldest first, inside the caller's
/// (`BEGIN IMMEDIATE`) transaction: no other worker can fire them until it ends.
pub async fn claim_due(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<Job>> {
    let rows: Vec<JobRow> = sqlx::query_as(
        "SELECT id, kind, payload, due_at, cron, attempts FROM jobs
         WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
    )
    .bind(ms(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(job).collect())
}

/// Marks one-shot jobs fired, in one statement.
pub async fn complete_all(
    conn: &mut SqliteConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE jobs SET state = 'done', fired_at = ? WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ms(now));
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Claims a due job inside the caller's transaction: `None` if another worker fired it.
pub async fn claim(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Job>> {
    let row: Option<JobRow> = sqlx::query_as(
        "SELECT id, kind, payload, due_at, cron, attempts FROM jobs WHERE id = ? AND state = 'pending' AND due_at <= ?",
    )
    .bind(id)
    .bind(ms(now))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(job))
}

/// Marks a job fired; a recurring job moves to its next occurrence instead.
pub async fn complete(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    match next {
        Some(next) => {
            sqlx::query("UPDATE jobs SET due_at = ?, fired_at = ?, attempts = 0, last_error = NULL WHERE id = ?")
                .bind(ms(next))
                .bind(ms(now))
                .bind(id)
                .execute(conn)
                .await?
        }
        None => sqlx::query("UPDATE jobs SET state = 'done', fired_at = ? WHERE id = ?")
            .bind(ms(now))
            .bind(id)
            .execute(conn)
            .await?,
    };
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up when `None`.
pub async fn fail(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET attempts = attempts + 1, last_error = ?,
                state = CASE WHEN ? IS NULL THEN 'failed' ELSE state END,
                due_at = COALESCE(?, due_at)
         WHERE id = ?",
    )
    .bind(error)
    .bind(retry_at.map(ms))
    .bind(retry_at.map(ms))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels pending jobs of one kind whose payload mentions `record` (e.g. stale reminders).
pub async fn cancel_for(
    db: &mut impl Access,
    kind: &str,
    dedup_prefix: &str,
) -> anyhow::Result<u64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled' WHERE state = 'pending' AND kind = ? AND dedup_key LIKE ? || '%'",
    )
    .bind(kind)
    .bind(dedup_prefix)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Counts jobs by state (for tests and metrics).
pub async fn count(db: &mut impl Access, state: &str) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = ?")
            .bind(state)
            .fetch_one(conn)
            .await?,
    )
}

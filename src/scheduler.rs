//! The durable scheduler: one job table for every timed thing.
//!
//! The loop sleeps until the next due job, a wake-up from a commit in this
//! process, or at most [`POLL`] (so jobs written by another process, such as
//! `shipmate run`, are noticed within a second). Due jobs are claimed in
//! batches, each in one `BEGIN IMMEDIATE` transaction that also applies their
//! effects and marks them fired, so a job fires exactly once, including jobs
//! that fell due while the bot was down, and a burst costs one transaction
//! per batch, not per job. A failing job is rolled back (its batch is then
//! fired one job at a time, so only it fails) and retried with exponential
//! backoff, then marked `failed`. Recurring jobs carry a cron expression and
//! move to their next occurrence (in the configured time zone) when they fire.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::app::{App, jobs};
use crate::shutdown::Shutdown;
use crate::store;

/// The longest the loop sleeps without looking at the table.
pub const POLL: Duration = Duration::from_millis(500);

/// Parses a cron expression: 6 or 7 fields (seconds first), or a 5-field Unix
/// crontab (a `0` seconds field is added), or `@daily`-style shorthands.
/// Numeric weekdays are refused: the `cron` crate counts 1 = Sunday, unlike
/// Unix cron, so names (MON-FRI) are the only unambiguous form.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!("0 {expr}"),
        1 if expr.starts_with('@') => expr.to_string(),
        6 | 7 => expr.to_string(),
        _ => {
            return Err(format!(
                "`{expr}` is not a cron expression: write sec min hour day month weekday, e.g. \"0 0 10 * * MON\""
            ));
        }
    };
    let weekday = full.split_whitespace().nth(5).unwrap_or("*");
    if weekday.chars().any(|c| c.is_ascii_digit()) && !weekday.contains('/') {
        return Err(format!(
            "`{expr}`: write weekdays as names (MON-FRI); numbers are ambiguous between cron dialects"
        ));
    }
    full.parse::<cron::Schedule>()
        .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))
}

/// The next occurrence of `expr` strictly after `after`, in `tz`.
pub fn next_occurrence(expr: &str, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = parse_cron(expr).ok()?;
    schedule
        .after(&after.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Registers every recurring job from the configuration.
pub async fn register_recurring(app: &App) -> anyhow::Result<()> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    for (kind, expr) in jobs::recurring(&app.config) {
        let first = next_occurrence(&expr, app.config.tz, now)
            .ok_or_else(|| anyhow::anyhow!("cron `{expr}` for {kind} never fires"))?;
        store::jobs::upsert_recurring(&mut tx, kind, &expr, first, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn backoff(base: TimeDelta, attempts: i64) -> TimeDelta {
    let factor = 1_i32 << attempts.clamp(0, 10);
    (base * factor).min(TimeDelta::hours(1))
}

/// Runs the scheduler until the task is dropped.
pub async fn run(app: App) {
    run_until(app, Shutdown::new()).await;
}

/// Runs the scheduler until `shutdown` is triggered; a job being fired then
/// is finished (its transaction commits or rolls back), and no other starts.
pub async fn run_until(app: App, shutdown: Shutdown) {
    while !shutdown.is_triggered() {
        if let Err(e) = fire_due(&app, &shutdown).await {
            tracing::error!(error = format!("{e:#}"), "scheduler pass failed");
        }
        let wait = match store::jobs::next_due(&mut *pool_conn(&app).await).await {
            Ok(Some(next)) => (next - app.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(POLL),
            _ => POLL,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.wake.jobs.notified() => {}
            _ = shutdown.triggered() => {}
        }
    }
    tracing::debug!("scheduler stopped");
}

async fn pool_conn(app: &App) -> sqlx::pool::PoolConnection<sqlx::Sqlite> {
    loop {
        match app.db.pool.acquire().await {
            Ok(conn) => return conn,
            Err(e) => {
                tracing::warn!(error = %e, "scheduler waiting for the database");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Fires every job due now; returns how many fired.
pub async fn run_due(app: &App) -> anyhow::Result<usize> {
    fire_due(app, &Shutdown::new()).await
}

/// Fires the jobs due now, a batch at a time, until none is due or a stop is asked for.
async fn fire_due(app: &App, shutdown: &Shutdown) -> anyhow::Result<usize> {
    let mut fired = 0;
    loop {
        if shutdown.is_triggered() {
            return Ok(fired);
        }
        match fire_batch(app).await? {
            Batch::Fired(n) => fired += n,
            Batch::Empty => return Ok(fired),
            Batch::Failed(ids) => {
                // one of them failed: fire them one by one, each in its own
                // savepoint, so the others are not held back by it
                for id in ids {
                    if fire_one(app, id).await? {
                        fired += 1;
                    }
                }
            }
        }
    }
}

/// Jobs claimed and fired in one transaction.
const BATCH: i64 = 32;

enum Batch {
    Fired(usize),
    Empty,
    /// One handler failed; nothing was kept. The ids to fire one by one.
    Failed(Vec<i64>),
}

/// Claims up to [`BATCH`] due jobs in one transaction and fires them all in
/// it: one `BEGIN`, the handlers' own statements, one `COMMIT`, instead of a
/// transaction per job. If any handler fails, the whole batch is rolled back
/// and its jobs go one by one through [`fire_one`], which isolates the failure.
async fn fire_batch(app: &App) -> anyhow::Result<Batch> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let jobs = store::jobs::claim_due(&mut tx, now, BATCH).await?;
    if jobs.is_empty() {
        tx.rollback().await?;
        return Ok(Batch::Empty);
    }
    let mut effects = (false, false);
    for job in &jobs {
        match jobs::fire(app, &mut tx, job, now).await {
            Ok((posted, scheduled)) => {
                effects = (effects.0 || posted, effects.1 || scheduled);
            }
            Err(e) => {
                tracing::debug!(
                    job = job.id,
                    error = format!("{e:#}"),
                    "a job in a batch failed; firing the batch one by one"
                );
                tx.rollback().await?;
                return Ok(Batch::Failed(jobs.iter().map(|j| j.id).collect()));
            }
        }
    }
    let mut one_shots = Vec::new();
    for job in &jobs {
        match job
            .cron
            .as_deref()
            .and_then(|c| next_occurrence(c, app.config.tz, now))
        {
            Some(next) => store::jobs::complete(&mut tx, job.id, now, Some(next)).await?,
            None => one_shots.push(job.id),
        }
    }
    store::jobs::complete_all(&mut tx, &one_shots, now).await?;
    tx.commit().await?;
    app.notify(effects);
    for job in &jobs {
        metrics::counter!("shipmate_jobs_fired_total", "kind" => job.kind.clone(), "outcome" => "ok")
            .increment(1);
    }
    Ok(Batch::Fired(jobs.len()))
}

async fn fire_one(app: &App, id: i64) -> anyhow::Result<bool> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let Some(job) = store::jobs::claim(&mut tx, id, now).await? else {
        tx.rollback().await?;
        return Ok(false);
    };
    // The handler runs in a savepoint: on failure its writes are undone while
    // the claim holds, and the failure is recorded in the same transaction,
    // so no other worker can run the job in between.
    tx.savepoint("attempt").await?;
    let outcome = jobs::fire(app, &mut tx, &job, now).await;
    let fired = match outcome {
        Ok(effects) => {
            tx.release("attempt", true).await?;
            let next = job
                .cron
                .as_deref()
                .and_then(|c| next_occurrence(c, app.config.tz, now));
            store::jobs::complete(&mut tx, job.id, now, next).await?;
            tx.commit().await?;
            app.notify(effects);
            true
        }
        Err(e) => {
            tx.release("attempt", false).await?;
            let max = i64::from(app.config.settings.scheduler.max_attempts);
            let retry_at = (job.attempts + 1 < max)
                .then(|| now + backoff(app.config.scheduler_retry_base, job.attempts));
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts + 1, error = format!("{e:#}"),
                gave_up = retry_at.is_none(), "job failed");
            store::jobs::fail(&mut tx, job.id, &format!("{e:#}"), retry_at).await?;
            tx.commit().await?;
            false
        }
    };
    let outcome = if fired { "ok" } else { "error" };
    metrics::counter!("shipmate_jobs_fired_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
    Ok(fired)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn cron_accepts_six_fields_and_unix_five_and_refuses_numeric_weekdays() {
        assert!(parse_cron("0 0 10 * * MON").is_ok());
        assert!(parse_cron("0 10 * * MON-FRI").is_ok());
        assert!(parse_cron("@daily").is_ok());
        assert!(parse_cron("0 0 10 * * 1-5").unwrap_err().contains("names"));
        assert!(
            parse_cron("every day")
                .unwrap_err()
                .contains("sec min hour")
        );
        assert!(parse_cron("0 0 25 * * *").is_err());
    }

    #[test]
    fn next_occurrence_uses_the_configured_zone() {
        let tz = chrono_tz::Asia::Kolkata;
        let after = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(); // a Sunday
        let next = next_occurrence("0 0 10 * * MON", tz, after).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 23, 4, 30, 0).unwrap());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = TimeDelta::seconds(5);
        assert_eq!(backoff(base, 0), TimeDelta::seconds(5));
        assert_eq!(backoff(base, 3), TimeDelta::seconds(40));
        assert_eq!(backoff(base, 30), TimeDelta::hours(1));
    }
}

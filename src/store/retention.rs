//! Retention: deletes, by age, the rows that would otherwise grow without
//! bound (see `app::retention` for when, and `[retention]` for how old).
//! Each call deletes at most `limit` rows of each kind, so one transaction
//! never holds the write lock for long; the caller repeats while
//! [`Pruned::more`] says a kind had more.
//!
//! What is never deleted: the audit log; inbound mail still held for
//! support; confirmed subscribers; outbox rows still waiting (or
//! parked); pending and failed jobs; the latest run of each pipeline in each
//! environment, and any run not finished or with a message still waiting;
//! the first delivered copy of each living message (what later edits change
//! and replies thread under) unless its pipeline run is pruned; and the
//! newest copy of a message with buttons (a button may refer to its row).

use chrono::{DateTime, Utc};

use super::ms;
use super::session::Access;
use crate::domain::pipeline::Status;

/// The cut-offs: rows older than these go (`None`: kept forever).
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    /// Webhook deliveries received before this (the dedup table).
    pub deliveries: Option<DateTime<Utc>>,
    /// Finished pipeline runs last updated before this, with their messages.
    pub runs: Option<DateTime<Utc>>,
    /// Messages delivered before this.
    pub messages: Option<DateTime<Utc>>,
    /// Done or cancelled jobs due and fired before this.
    pub jobs: Option<DateTime<Utc>>,
    /// Replay digests of requests signed before this.
    pub seen_requests: DateTime<Utc>,
}

/// How many rows of each kind one call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub runs: u64,
    pub messages: u64,
    pub jobs: u64,
    pub seen_requests: u64,
    /// Inbound mails (the `Message-ID`s that make a relay's retry a no-op)
    /// and subscriptions never confirmed, both by the deliveries' cut-off.
    pub mail: u64,
}

impl Pruned {
    /// Whether a kind reached `limit`, so more may be waiting.
    pub fn more(&self, limit: u64) -> bool {
        [
            self.deliveries,
            self.runs,
            self.messages,
            self.jobs,
            self.seen_requests,
            self.mail,
        ]
        .iter()
        .any(|n| *n >= limit)
    }

    pub fn total(&self) -> u64 {
        self.deliveries + self.runs + self.messages + self.jobs + self.seen_requests + self.mail
    }
}

/// Deletes up to `limit` rows of each kind older than its cut-off, in the
/// caller's transaction.
pub async fn prune(db: &mut impl Access, cut: &Cutoffs, limit: u64) -> anyhow::Result<Pruned> {
    let conn = super::conn(db).await?;
    let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut pruned = Pruned::default();
    if let Some(before) = cut.deliveries {
        pruned.deliveries = sqlx::query(
            "DELETE FROM pipeline_deliveries WHERE rowid IN (
                 SELECT rowid FROM pipeline_deliveries WHERE received_at < ? ORDER BY received_at LIMIT ?)",
        )
        .bind(ms(before))
        .bind(limit_i)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        pruned.mail = prune_mail(conn, before, limit_i).await?;
    }
    if let Some(before) = cut.runs {
        pruned.runs = prune_runs(conn, before, limit_i).await?;
    }
    if let Some(before) = cut.messages {
        pruned.messages = sqlx::query(
            "DELETE FROM outbox WHERE id IN (
                 SELECT o.id FROM outbox o
                 WHERE o.state = 'delivered' AND o.delivered_at < ?1
                   -- the first delivered copy of a living message: edits and replies find it
                   AND NOT (o.message_key IS NOT NULL AND o.platform_message_id IS NOT NULL
                            AND NOT EXISTS (SELECT 1 FROM outbox a
                                            WHERE a.channel = o.channel AND a.message_key = o.message_key
                                              AND a.state = 'delivered' AND a.platform_message_id IS NOT NULL
                                              AND a.id < o.id))
                   -- the copy people see of a message with buttons: a button may name its row
                   AND NOT (json_type(o.body, '$.buttons') IS NOT NULL
                            AND NOT (o.message_key IS NOT NULL
                                     AND EXISTS (SELECT 1 FROM outbox n
                                                 WHERE n.channel = o.channel AND n.message_key = o.message_key
                                                   AND n.state = 'delivered' AND n.id > o.id)))
                 ORDER BY o.delivered_at LIMIT ?2)",
        )
        .bind(ms(before))
        .bind(limit_i)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    if let Some(before) = cut.jobs {
        pruned.jobs = sqlx::query(
            "DELETE FROM jobs WHERE id IN (
                 SELECT id FROM jobs
                 WHERE state IN ('done', 'cancelled') AND due_at < ?1 AND COALESCE(fired_at, 0) < ?1
                 ORDER BY due_at LIMIT ?2)",
        )
        .bind(ms(before))
        .bind(limit_i)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    pruned.seen_requests = sqlx::query(
        "DELETE FROM seen_requests WHERE digest IN (
             SELECT digest FROM seen_requests WHERE signed_at < ? ORDER BY signed_at LIMIT ?)",
    )
    .bind(ms(cut.seen_requests))
    .bind(limit_i)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(pruned)
}

/// Deletes up to `limit` inbound mails received before `before` (never one
/// still held for support) and up to `limit` subscriptions asked for before
/// it and never confirmed.
async fn prune_mail(
    conn: &mut sqlx::SqliteConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<u64> {
    let mails = sqlx::query(
        "DELETE FROM inbound_mail WHERE id IN (
             SELECT id FROM inbound_mail WHERE received_at < ? AND state != 'held'
             ORDER BY received_at LIMIT ?)",
    )
    .bind(ms(before))
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let pending = sqlx::query(
        "DELETE FROM subscribers WHERE id IN (
             SELECT id FROM subscribers WHERE state = 'pending' AND created_at < ?
             ORDER BY created_at LIMIT ?)",
    )
    .bind(ms(before))
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(mails.max(pending))
}

/// Deletes up to `limit` finished runs last updated before `before`, and the
/// delivered messages of each (its living message and the replies under it,
/// keyed `<run key>` and `<run key>:…`, in any channel): nothing edits them
/// once their run is gone. Kept: the latest run of each pipeline in each
/// environment (`/pipeline status` shows it), runs not finished, and runs
/// with a message still waiting to be delivered.
async fn prune_runs(
    conn: &mut sqlx::SqliteConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<u64> {
    let finished: Vec<&str> = Status::ALL
        .iter()
        .filter(|s| s.is_finished())
        .map(|s| s.as_str())
        .collect();
    let sql = format!(
        "DELETE FROM pipeline_runs WHERE seq IN (
             SELECT r.seq FROM pipeline_runs r
             WHERE r.updated_at < ? AND r.status IN ({})
               AND r.seq < (SELECT MAX(l.seq) FROM pipeline_runs l
                            WHERE l.environment = r.environment AND l.pipeline = r.pipeline)
               AND NOT EXISTS (SELECT 1 FROM outbox w
                               WHERE w.message_key IS NOT NULL AND w.state = 'pending'
                                 AND (w.message_key = r.key
                                      OR (w.message_key > r.key || ':' AND w.message_key < r.key || ';')))
             ORDER BY r.updated_at, r.seq LIMIT ?)
         RETURNING key",
        vec!["?"; finished.len()].join(", ")
    );
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(ms(before));
    for status in &finished {
        query = query.bind(*status);
    }
    let keys: Vec<String> = query.bind(limit).fetch_all(&mut *conn).await?;
    if keys.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "DELETE FROM outbox WHERE id IN (
             SELECT o.id FROM json_each(?) k JOIN outbox o
               ON o.message_key = k.value
                  OR (o.message_key > k.value || ':' AND o.message_key < k.value || ';')
             WHERE o.state = 'delivered')",
    )
    .bind(serde_json::to_string(&keys)?)
    .execute(&mut *conn)
    .await?;
    Ok(keys.len() as u64)
}

//! The durable outbox: every outgoing chat message is a row written in the
//! same transaction as the state change that causes it. The delivery worker
//! leases a row, delivers it, then records the platform's message id.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::SqliteConnection;

use super::{from_ms, ms};

/// A message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub channel: String,
    pub body: String,
    pub message_key: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// Queues a message. `message_key` names a living message: a later row with
/// the same channel and key edits the one delivered before.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    channel: &str,
    body: &str,
    message_key: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let done = sqlx::query(
        "INSERT INTO outbox (channel, body, message_key, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(channel)
    .bind(body)
    .bind(message_key)
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// What [`enqueue_latest`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// A pending, unleased row of the same channel and key now carries the new body.
    Replaced(i64),
    /// A new row was added.
    Added(i64),
}

/// Queues the newest state of a living message (coalescing): when a row with
/// the same channel and key is still pending and no worker holds it, its body
/// is replaced, so a burst of updates yields one delivery. Otherwise a row is
/// added; when the key already has rows (it is an edit) it is held until
/// `edit_delay` after the previous row's delivery (or due time), so a message
/// is edited at most once per `edit_delay` and updates arriving meanwhile
/// are merged into the waiting row.
pub async fn enqueue_latest(
    conn: &mut SqliteConnection,
    channel: &str,
    body: &str,
    key: &str,
    now: DateTime<Utc>,
    edit_delay: TimeDelta,
) -> sqlx::Result<Queued> {
    let replaced: Option<i64> = sqlx::query_scalar(
        "UPDATE outbox SET body = ?1
         WHERE id = (SELECT id FROM outbox
                     WHERE channel = ?2 AND message_key = ?3 AND state = 'pending'
                       AND (lease_until IS NULL OR lease_until <= ?4)
                     ORDER BY id DESC LIMIT 1)
         RETURNING id",
    )
    .bind(body)
    .bind(channel)
    .bind(key)
    .bind(ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = replaced {
        return Ok(Queued::Replaced(id));
    }
    let done = sqlx::query(
        "INSERT INTO outbox (channel, body, message_key, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3,
                 MAX(?4, COALESCE((SELECT MAX(COALESCE(delivered_at, next_attempt_at)) FROM outbox
                                   WHERE channel = ?1 AND message_key = ?3) + ?5, ?4)),
                 ?4)",
    )
    .bind(channel)
    .bind(body)
    .bind(key)
    .bind(ms(now))
    .bind(edit_delay.num_milliseconds())
    .execute(&mut *conn)
    .await?;
    Ok(Queued::Added(done.last_insert_rowid()))
}

/// Leases up to `limit` due messages for `lease`; rows leased by another live worker are skipped.
pub async fn lease_due(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: i64,
) -> sqlx::Result<Vec<Pending>> {
    let rows: Vec<(i64, String, String, Option<String>, i64, i64)> = sqlx::query_as(
        "UPDATE outbox SET lease_until = ?1
         WHERE id IN (SELECT id FROM outbox
                      WHERE state = 'pending' AND next_attempt_at <= ?2
                        AND (lease_until IS NULL OR lease_until <= ?2)
                      ORDER BY id LIMIT ?3)
         RETURNING id, channel, body, message_key, attempts, created_at",
    )
    .bind(ms(now + lease))
    .bind(ms(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let mut pending: Vec<Pending> = rows
        .into_iter()
        .map(
            |(id, channel, body, message_key, attempts, created_at)| Pending {
                id,
                channel,
                body,
                message_key,
                attempts,
                created_at: from_ms(created_at),
            },
        )
        .collect();
    pending.sort_by_key(|p| p.id);
    Ok(pending)
}

/// The platform id of the message already delivered under this key, if any.
pub async fn delivered_id_for_key(
    conn: &mut SqliteConnection,
    channel: &str,
    key: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT platform_message_id FROM outbox
         WHERE channel = ? AND message_key = ? AND state = 'delivered' AND platform_message_id IS NOT NULL
         ORDER BY id LIMIT 1",
    )
    .bind(channel)
    .bind(key)
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

/// Records a delivery.
pub async fn mark_delivered(
    conn: &mut SqliteConnection,
    id: i64,
    platform_message_id: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, platform_message_id = ?, lease_until = NULL,
                attempts = attempts + 1, last_error = NULL
         WHERE id = ?",
    )
    .bind(ms(now))
    .bind(platform_message_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or parked when `None`.
pub async fn mark_failed(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL,
                state = CASE WHEN ? IS NULL THEN 'parked' ELSE state END,
                next_attempt_at = COALESCE(?, next_attempt_at)
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

/// When the earliest pending message is due.
pub async fn next_due(conn: &mut SqliteConnection) -> sqlx::Result<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM outbox WHERE state = 'pending'")
            .fetch_one(conn)
            .await?;
    Ok(at.map(from_ms))
}

/// Message counts by state: (pending, parked).
pub async fn depth(conn: &mut SqliteConnection) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'parked'), 0) FROM outbox",
    )
    .fetch_one(conn)
    .await
}

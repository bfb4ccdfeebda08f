//! The durable outbox: every outgoing chat message is a row written in the
//! same transaction as the state change that causes it. The delivery worker
//! leases a row, delivers it, then records the platform's message id.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::SqliteConnection;

use std::collections::HashMap;

use super::batch::Batch;
use super::{Tagged, from_ms, ms};

/// A message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub channel: String,
    pub body: String,
    pub message_key: Option<String>,
    /// The living message (by key, same channel) this one replies to in a thread.
    pub reply_to_key: Option<String>,
    pub attempts: i64,
    /// How many times a worker has leased it, this lease included: above one,
    /// an earlier holder may have sent it before it stopped.
    pub leases: i64,
    pub created_at: DateTime<Utc>,
    /// Parts of the message delivered so far (a long message goes in parts).
    pub parts_sent: i64,
    /// Where the next part starts in the message's rendered text (bytes).
    pub part_offset: i64,
    /// The platform id of the message's first part, once it is delivered.
    pub first_part_id: Option<String>,
}

impl Pending {
    /// Whether an earlier try may have reached the platform: a failed attempt,
    /// or an earlier lease that ended without a recorded outcome.
    pub fn maybe_sent_before(&self) -> bool {
        self.attempts > 0 || self.leases > 1
    }
}

/// A new message's row; the values follow.
const INSERT: &str =
    "INSERT INTO outbox (channel, body, message_key, next_attempt_at, created_at) VALUES ";

/// A message gathered in a [`Batch`], written with its command's `COMMIT`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel: String,
    pub body: String,
    pub message_key: Option<String>,
    /// When it was queued (and may first be sent), in unix milliseconds.
    pub at_ms: i64,
}

/// Appends one multi-row [`INSERT`] of `rows` to `b`.
pub(super) fn insert_rows(b: &mut Batch, rows: &[NewMessage]) {
    b.statement(&format!(
        "{INSERT}{}",
        vec!["(?, ?, ?, ?, ?)"; rows.len()].join(", ")
    ));
    for m in rows {
        b.bind(m.channel.clone())
            .bind(m.body.clone())
            .bind(m.message_key.clone())
            .bind(m.at_ms)
            .bind(m.at_ms);
    }
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
    let done = sqlx::query(sqlx::AssertSqlSafe(format!("{INSERT}(?, ?, ?, ?, ?)")))
        .bind(channel)
        .bind(body)
        .bind(message_key)
        .bind(ms(now))
        .bind(ms(now))
        .execute(conn)
        .await?;
    Ok(done.last_insert_rowid())
}

/// Queues the rest of a message read whole, from byte `offset` of its
/// rendered text (a command reply's pages past what its `response_url`
/// may carry): delivered like any posted message, in parts from there.
pub async fn enqueue_from(
    conn: &mut SqliteConnection,
    channel: &str,
    body: &str,
    offset: usize,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let done = sqlx::query(
        "INSERT INTO outbox (channel, body, part_offset, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(channel)
    .bind(body)
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// One living message's newest state, for [`enqueue_latest`].
#[derive(Debug, Clone)]
pub struct Latest<'a> {
    pub channel: String,
    pub key: &'a str,
    pub body: String,
}

/// Where each living message stands: its newest row still waiting (and not
/// leased), and when its last row was (or is due to be) delivered.
pub type LatestState = HashMap<(String, String), (Option<i64>, Option<i64>)>;

/// Reads where these living messages stand (see [`latest_state_from`]), for
/// [`enqueue_latest`]. Read and write in one transaction, so no worker leases
/// a row between the look-up and the update.
pub fn read_latest_state(b: &mut Batch, channels: &[&str], keys: &[&str], now: DateTime<Utc>) {
    if channels.is_empty() || keys.is_empty() {
        return;
    }
    b.statement(&format!(
        "SELECT channel, message_key,
                MAX(CASE WHEN state = 'pending' AND (lease_until IS NULL OR lease_until <= ?) THEN id END),
                MAX(COALESCE(delivered_at, next_attempt_at)), 'outbox.latest' AS tag
         FROM outbox WHERE channel IN ({}) AND message_key IN ({})
         GROUP BY channel, message_key",
        vec!["?"; channels.len()].join(", "),
        vec!["?"; keys.len()].join(", ")
    ));
    b.bind(ms(now));
    for c in channels {
        b.bind(c.to_string());
    }
    for k in keys {
        b.bind(k.to_string());
    }
}

/// What [`read_latest_state`] found.
pub fn latest_state_from(rows: &Tagged) -> sqlx::Result<LatestState> {
    let rows: Vec<(String, String, Option<i64>, Option<i64>)> = rows.decode("outbox.latest")?;
    Ok(rows
        .into_iter()
        .map(|(channel, key, open, last)| ((channel, key), (open, last)))
        .collect())
}

/// Queues the newest state of living messages (coalescing), in two
/// statements. For each (channel, key): when a row is still pending and no
/// worker holds it, its body is replaced, so a burst of updates yields one
/// delivery. Otherwise a row is added; when the key already has rows (it is
/// an edit) it is due `edit_delay` after the previous row's delivery (or due
/// time), so a message is edited at most once per `edit_delay` and updates
/// arriving meanwhile merge into the waiting row.
pub fn enqueue_latest(
    b: &mut Batch,
    items: &[Latest<'_>],
    state: &LatestState,
    now: DateTime<Utc>,
    edit_delay: TimeDelta,
) {
    let mut replace: Vec<(i64, &str)> = Vec::new();
    let mut add: Vec<(&Latest, i64)> = Vec::new();
    for item in items {
        match state.get(&(item.channel.clone(), item.key.to_string())) {
            Some((Some(open), _)) => replace.push((*open, &item.body)),
            Some((None, Some(last))) => {
                add.push((item, ms(now).max(last + edit_delay.num_milliseconds())));
            }
            _ => add.push((item, ms(now))),
        }
    }
    if !replace.is_empty() {
        b.statement(&format!(
            "UPDATE outbox SET body = CASE id {} END WHERE id IN ({})",
            vec!["WHEN ? THEN ?"; replace.len()].join(" "),
            vec!["?"; replace.len()].join(", ")
        ));
        for (id, body) in &replace {
            b.bind(*id).bind(body.to_string());
        }
        for (id, _) in &replace {
            b.bind(*id);
        }
    }
    if !add.is_empty() {
        b.statement(&format!(
            "INSERT INTO outbox (channel, body, message_key, next_attempt_at, created_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?)"; add.len()].join(", ")
        ));
        for (item, due) in add {
            b.bind(item.channel.clone())
                .bind(item.body.clone())
                .bind(item.key.to_string())
                .bind(due)
                .bind(ms(now));
        }
    }
}

/// Queues a thread reply to the living message `reply_to_key` in the same channel.
pub fn enqueue_reply_later(
    b: &mut Batch,
    channel: &str,
    body: &str,
    message_key: &str,
    reply_to_key: &str,
    now: DateTime<Utc>,
) {
    b.statement(
        "INSERT INTO outbox (channel, body, message_key, reply_to_key, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(channel.to_string())
    .bind(body.to_string())
    .bind(message_key.to_string())
    .bind(reply_to_key.to_string())
    .bind(ms(now))
    .bind(ms(now));
}

/// A leased row as SQLite returns it.
#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    channel: String,
    body: String,
    message_key: Option<String>,
    reply_to_key: Option<String>,
    attempts: i64,
    leases: i64,
    created_at: i64,
    parts_sent: i64,
    part_offset: i64,
    first_part_id: Option<String>,
}

impl From<PendingRow> for Pending {
    fn from(r: PendingRow) -> Self {
        Self {
            id: r.id,
            channel: r.channel,
            body: r.body,
            message_key: r.message_key,
            reply_to_key: r.reply_to_key,
            attempts: r.attempts,
            leases: r.leases,
            created_at: from_ms(r.created_at),
            parts_sent: r.parts_sent,
            part_offset: r.part_offset,
            first_part_id: r.first_part_id,
        }
    }
}

/// The statement [`lease_due`] runs: ?1 the lease's end, ?2 now, ?3 the
/// limit, ?4 the rows per channel.
const LEASE_DUE: &str = "UPDATE outbox SET lease_until = ?1, leases = leases + 1
    WHERE id IN (
        WITH RECURSIVE lanes(channel) AS (
            SELECT MIN(channel) FROM outbox WHERE state = 'pending'
            UNION ALL
            SELECT (SELECT MIN(channel) FROM outbox
                    WHERE state = 'pending' AND channel > lanes.channel)
            FROM lanes WHERE lanes.channel IS NOT NULL)
        SELECT head.id FROM lanes, outbox AS head
        WHERE lanes.channel IS NOT NULL
          AND lanes.channel NOT IN (SELECT channel FROM channel_pauses WHERE until > ?2)
          AND head.id IN (SELECT id FROM outbox
                          WHERE channel = lanes.channel AND state = 'pending'
                            AND next_attempt_at <= ?2
                            AND (lease_until IS NULL OR lease_until <= ?2)
                          ORDER BY id LIMIT ?4)
        ORDER BY head.id LIMIT ?3)
    RETURNING id, channel, body, message_key, reply_to_key, attempts, leases, created_at,
              parts_sent, part_offset, first_part_id";

/// Leases up to `limit` due messages for `lease`, counting the lease on each
/// row: at most `per_channel` of each channel (the first by id), none of a
/// channel paused by a rate limit, none leased by another live worker.
///
/// Its cost follows the number of channels with waiting rows, not the number
/// of rows: the channels are found by stepping from one to the next in the
/// `outbox_pending_channel` index, and each channel's first due rows by id in
/// the same index (sorting every waiting row by channel instead took ~40 ms
/// of the writer per lease with 20,000 rows waiting in one channel).
pub async fn lease_due(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: i64,
    per_channel: i64,
) -> sqlx::Result<Vec<Pending>> {
    let rows: Vec<PendingRow> = sqlx::query_as(LEASE_DUE)
        .bind(ms(now + lease))
        .bind(ms(now))
        .bind(limit)
        .bind(per_channel)
        .fetch_all(conn)
        .await?;
    let mut pending: Vec<Pending> = rows.into_iter().map(Pending::from).collect();
    pending.sort_by_key(|p| p.id);
    Ok(pending)
}

/// Queues a thread reply to the living message `reply_to_key` in the same channel.
pub async fn enqueue_reply(
    conn: &mut SqliteConnection,
    channel: &str,
    body: &str,
    message_key: &str,
    reply_to_key: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let done = sqlx::query(
        "INSERT INTO outbox (channel, body, message_key, reply_to_key, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(channel)
    .bind(body)
    .bind(message_key)
    .bind(reply_to_key)
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Whether a row with this key is still waiting to be delivered in `channel`.
pub async fn pending_for_key(
    conn: &mut SqliteConnection,
    channel: &str,
    key: &str,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE channel = ? AND message_key = ? AND state = 'pending'",
    )
    .bind(channel)
    .bind(key)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Moves a leased row, not sent, back to waiting until `at`, without
/// counting an attempt or the lease.
pub async fn defer(conn: &mut SqliteConnection, id: i64, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, leases = MAX(leases - 1, 0) WHERE id = ?",
    )
        .bind(ms(at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Hands leased rows back at once (a worker stopping), if the lease is still
/// `held`. `maybe_sent`: a send had started, so the lease stays counted and
/// the next holder checks for an earlier copy; otherwise it is as if the row
/// had never been leased.
pub async fn hand_back(
    conn: &mut SqliteConnection,
    ids: &[i64],
    held: DateTime<Utc>,
    maybe_sent: bool,
) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE outbox SET lease_until = NULL, leases = CASE WHEN ? THEN leases ELSE MAX(leases - 1, 0) END
         WHERE state = 'pending' AND lease_until = ? AND id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(maybe_sent)
        .bind(ms(held));
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// The platform rate-limited `channel` until `until` while row `id` was
/// being sent: the channel is paused (nothing is leased for it meanwhile, so
/// its order holds), and the row goes back to waiting, not counted as a
/// failed attempt. `uncount`: the lease sent nothing, so it is not counted
/// either.
pub async fn rate_limited(
    conn: &mut SqliteConnection,
    id: i64,
    channel: &str,
    until: DateTime<Utc>,
    reason: &str,
    uncount: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM channel_pauses WHERE until <= ?;
         INSERT INTO channel_pauses (channel, until) VALUES (?, ?)
             ON CONFLICT (channel) DO UPDATE SET until = MAX(until, excluded.until);
         UPDATE outbox SET lease_until = NULL, last_error = ?, next_attempt_at = MAX(next_attempt_at, ?),
                leases = CASE WHEN ? THEN MAX(leases - 1, 0) ELSE leases END
         WHERE id = ?",
    )
    .bind(ms(now))
    .bind(channel)
    .bind(ms(until))
    .bind(reason)
    .bind(ms(until))
    .bind(uncount)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
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
                attempts = attempts + 1, last_error = NULL, parts_sent = parts_sent + 1
         WHERE id = ?",
    )
    .bind(ms(now))
    .bind(platform_message_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that one more part of a long message was delivered, while the
/// row is still leased (`held`): the next part starts at `next_offset`, and
/// `first_part_id` is the platform id of the message's first part. The next
/// part starts afresh: no failed attempt, and this lease as its only one.
/// False when the lease was lost (another worker holds the row).
pub async fn part_delivered(
    conn: &mut SqliteConnection,
    id: i64,
    held: DateTime<Utc>,
    next_offset: i64,
    first_part_id: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET parts_sent = parts_sent + 1, part_offset = ?,
                first_part_id = COALESCE(first_part_id, ?), attempts = 0, leases = 1, last_error = NULL
         WHERE id = ? AND state = 'pending' AND lease_until = ?",
    )
    .bind(next_offset)
    .bind(first_part_id)
    .bind(id)
    .bind(ms(held))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// When the earliest pending message is due (its lease and its channel's pause over).
pub async fn next_due(conn: &mut SqliteConnection) -> sqlx::Result<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0),
                            COALESCE((SELECT until FROM channel_pauses p WHERE p.channel = outbox.channel), 0)))
             FROM outbox WHERE state = 'pending'",
        )
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

/// The stored body of one outbox row (delivered rows are kept).
pub async fn body_of(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT body FROM outbox WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Extends the lease on a row this worker still holds (its lease is exactly
/// `held`); false when the lease expired and another worker took the row.
pub async fn renew_lease(
    conn: &mut SqliteConnection,
    id: i64,
    held: DateTime<Utc>,
    until: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'pending' AND lease_until = ?",
    )
    .bind(ms(until))
    .bind(id)
    .bind(ms(held))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::Db;

    const LEASE: TimeDelta = TimeDelta::seconds(30);

    /// A fresh database (kept while its directory and handle live) and a connection to it.
    async fn fresh() -> (
        tempfile::TempDir,
        Db,
        sqlx::pool::PoolConnection<sqlx::Sqlite>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let conn = db.pool.acquire().await.unwrap();
        (dir, db, conn)
    }

    #[tokio::test]
    async fn a_lease_taken_over_after_expiry_cannot_be_renewed_by_its_old_holder() {
        let (_dir, _db, mut conn) = fresh().await;
        let (t0, lease) = (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), LEASE);
        let id = enqueue(&mut conn, "slack:C1", "{}", None, t0)
            .await
            .unwrap();

        let first = lease_due(&mut conn, t0, lease, 10, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            renew_lease(&mut conn, id, t0 + lease, t0 + lease * 2)
                .await
                .unwrap()
        );

        // The renewed lease expires; a second worker takes the row.
        let later = t0 + lease * 2 + TimeDelta::seconds(1);
        assert_eq!(
            lease_due(&mut conn, later, lease, 10, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            !renew_lease(&mut conn, id, t0 + lease * 2, later + lease)
                .await
                .unwrap()
        );
        assert!(
            renew_lease(&mut conn, id, later + lease, later + lease * 2)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_lease_takes_the_first_due_rows_of_each_unpaused_channel_without_scanning_the_backlog()
     {
        let (_dir, _db, mut conn) = fresh().await;
        let (t0, lease) = (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), LEASE);
        let mut ids = std::collections::HashMap::<&str, Vec<i64>>::new();
        for channel in ["slack:C2", "slack:C1", "discord:9", "slack:C3", "slack:C1"] {
            for _ in 0..3 {
                let id = enqueue(&mut conn, channel, "{}", None, t0).await.unwrap();
                ids.entry(channel).or_default().push(id);
            }
        }
        // C3 is paused by a rate limit; C2's first row waits for a retry
        let c3 = ids["slack:C3"][0];
        rate_limited(&mut conn, c3, "slack:C3", t0 + lease, "429", true, t0)
            .await
            .unwrap();
        let c2 = ids["slack:C2"][0];
        defer(&mut conn, c2, t0 + lease).await.unwrap();

        let first = lease_due(&mut conn, t0, lease, 10, 2).await.unwrap();
        let leased: Vec<(i64, &str)> = first.iter().map(|p| (p.id, p.channel.as_str())).collect();
        let mut want = vec![
            (ids["slack:C2"][1], "slack:C2"),
            (ids["slack:C2"][2], "slack:C2"),
            (ids["slack:C1"][0], "slack:C1"),
            (ids["slack:C1"][1], "slack:C1"),
            (ids["discord:9"][0], "discord:9"),
            (ids["discord:9"][1], "discord:9"),
        ];
        want.sort();
        assert_eq!(leased, want);

        // the rows leased are skipped while their lease runs; the limit
        // takes the oldest heads first
        let second = lease_due(&mut conn, t0, lease, 2, 1).await.unwrap();
        let second: Vec<i64> = second.iter().map(|p| p.id).collect();
        assert_eq!(second, [ids["slack:C1"][2], ids["discord:9"][2]]);

        // the plan walks the index by channel and id, never the waiting rows in bulk
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {LEASE_DUE}"
        )))
        .bind(0)
        .bind(0)
        .bind(1)
        .bind(1)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|row| row.3).collect();
        assert!(
            plan.iter()
                .filter(|step| step.contains(" outbox ") || step.contains(" head "))
                .all(|step| step.contains("outbox_pending_channel")
                    || step.contains("INTEGER PRIMARY KEY")),
            "{plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("outbox_pending_channel")),
            "{plan:#?}"
        );
    }
}

//! The outbox delivery worker and the one small trait every platform's
//! sender implements.
//!
//! The worker leases due rows (so two processes sharing the database never
//! send the same row at once), the next one of each channel per round, and
//! sends each round's rows side by side, one lane per channel, so a channel
//! waiting on a rate limit never holds up another and each channel keeps its
//! order. Each row goes to the [`Transport`] of its channel's platform, and
//! the platform's message id is recorded. A posted message too long for one
//! platform message goes in parts ([`Shape`]), its progress recorded after
//! each, so a restart sends each part once; a living message (edited in
//! place) stays one message and summarises. A `429` pauses its channel for the
//! platform's `Retry-After` without counting an attempt; other temporary
//! failures are retried with backoff; a message that keeps failing is
//! parked, counted in `/metrics` and logged, never dropped.
//!
//! Transports: [`ConsoleTransport`], [`SlackTransport`], [`DiscordTransport`],
//! [`MailTransport`];
//! each waits for its per-channel rate limit before sending. Platform wire
//! types stay inside their transport's module.

pub mod buttons;
mod console;
mod discord;
pub mod limits;
pub mod mail;
pub(crate) mod mentions;
pub mod pages;
mod slack;
pub(crate) mod wire;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

pub use console::{ConsoleTransport, SharedBuffer, terminal_safe};
pub use discord::DiscordTransport;
pub use limits::{ChannelLimiter, Pace};
pub use mail::{MailTransport, dkim_key, escape as escape_html};
pub use slack::SlackTransport;

use crate::app::{App, Message};
use crate::domain::{ChannelRef, Platform};
use crate::shutdown::Shutdown;
use crate::store;

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub outbox_id: i64,
    pub channel: ChannelRef,
    pub message: Message,
    /// The platform id of the message to edit instead of posting a new one.
    pub edit_of: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The platform id of the message this one answers in a thread.
    pub reply_to: Option<String>,
    /// An earlier try may have reached the platform: an attempt failed, or an
    /// earlier lease of the row ended without an outcome (the process stopped
    /// during the send). A transport that can tell checks before sending again.
    pub maybe_sent_before: bool,
    /// Failed attempts so far (a transport may send less on a retry).
    pub attempts: i64,
    /// How a message too long for one platform message is sent.
    pub shape: Shape,
}

/// How a message longer than one platform message is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A living message, edited in place: one platform message holding the
    /// first page and a note of what did not fit (what builds it keeps its
    /// long lists summarised, like a pipeline run's failed jobs).
    Summarised,
    /// Every other posted message is read whole: this is its part number
    /// `index` (from 0), starting at byte `offset` of its rendered text. A
    /// transport sends that one part and says where the next one starts.
    Part { index: i64, offset: usize },
}

/// What the platform answered.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub platform_message_id: Option<String>,
    /// A part was sent and the message goes on: where the next part starts.
    pub next_part: Option<usize>,
}

/// Why a delivery failed.
#[derive(Debug, Clone)]
pub enum DeliveryError {
    /// Try again, after the platform's wait if it gave one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The platform rate-limited the channel (429): wait `after`, then try
    /// again; the whole channel waits, and it is not a failed attempt.
    RateLimited { after: Duration, reason: String },
    /// Will never succeed (unknown channel, bad token): park it.
    Permanent(String),
}

pub type DeliveryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Delivered, DeliveryError>> + Send + 'a>>;

/// Sends messages to one platform.
pub trait Transport: Send + Sync {
    fn deliver<'a>(&'a self, item: &'a Outbound) -> DeliveryFuture<'a>;
}

/// The transports of the enabled platforms.
#[derive(Clone, Default)]
pub struct Transports(HashMap<Platform, Arc<dyn Transport>>);

impl Transports {
    pub fn with(mut self, platform: Platform, transport: Arc<dyn Transport>) -> Self {
        self.0.insert(platform, transport);
        self
    }
}

const LEASE: TimeDelta = TimeDelta::seconds(30);
const BATCH: i64 = 32;
/// Rows of one channel per batch: each batch's lanes run side by side, and a
/// busy channel gives up its turn after one message, so a message to another
/// channel never waits behind a queue.
const PER_CHANNEL: i64 = 1;
/// A lease with less than this left is renewed before a send (more than a
/// transport's request timeout).
const RENEW_BELOW: TimeDelta = TimeDelta::seconds(20);

fn backoff(base: TimeDelta, attempts: i64) -> TimeDelta {
    (base * (1_i32 << attempts.clamp(0, 10))).min(TimeDelta::minutes(15))
}

/// Runs the delivery worker until the task is dropped.
pub async fn run(app: App, transports: Transports) {
    run_until(app, transports, Shutdown::new(), Duration::MAX).await;
}

/// Runs the delivery worker until `shutdown` is triggered, then stops: the
/// send in flight gets `grace` to finish (past it, it is dropped and its lease
/// handed back, still counted, so the next holder checks for a copy first);
/// rows leased but not yet started are handed back uncounted.
pub async fn run_until(app: App, transports: Transports, shutdown: Shutdown, grace: Duration) {
    let stop = Stop { shutdown, grace };
    while !stop.shutdown.is_triggered() {
        if let Err(e) = deliver(&app, &transports, &stop).await {
            tracing::error!(error = format!("{e:#}"), "outbox pass failed");
        }
        let next = match app.db.pool.acquire().await {
            Ok(mut conn) => store::outbox::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        let wait = next
            .map(|n| (n - app.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(crate::scheduler::POLL)
            .min(crate::scheduler::POLL);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.wake.outbox.notified() => {}
            _ = stop.shutdown.triggered() => {}
        }
    }
    tracing::debug!("outbox worker stopped");
}

/// When the worker stops, and how long a send in flight may take after that.
struct Stop {
    shutdown: Shutdown,
    grace: Duration,
}

impl Stop {
    /// Completes `grace` after the stop signal.
    async fn cut_off(&self) {
        self.shutdown.triggered().await;
        tokio::time::sleep(self.grace).await;
    }
}

/// Delivers every message due now; returns how many were delivered.
pub async fn deliver_due(app: &App, transports: &Transports) -> anyhow::Result<usize> {
    let stop = Stop {
        shutdown: Shutdown::new(),
        grace: Duration::MAX,
    };
    deliver(app, transports, &stop).await
}

async fn deliver(app: &App, transports: &Transports, stop: &Stop) -> anyhow::Result<usize> {
    let mut delivered = 0;
    loop {
        if stop.shutdown.is_triggered() {
            return Ok(delivered);
        }
        let now = app.clock.now();
        let batch =
            store::outbox::lease_due(&mut *app.db.lock().await, now, LEASE, BATCH, PER_CHANNEL)
                .await?;
        if batch.is_empty() {
            return Ok(delivered);
        }
        let held = now + LEASE;
        // one lane per channel, side by side: a channel waiting on its rate
        // limit does not hold up the others; within a lane, rows go in order
        let mut lanes: Vec<Vec<store::outbox::Pending>> = Vec::new();
        for row in batch {
            match lanes.iter_mut().find(|lane| lane[0].channel == row.channel) {
                Some(lane) => lane.push(row),
                None => lanes.push(vec![row]),
            }
        }
        let results = futures_util::future::join_all(
            lanes
                .into_iter()
                .map(|lane| deliver_lane(app, transports, lane, held, stop)),
        )
        .await;
        for result in results {
            delivered += result?;
        }
    }
}

/// Delivers one channel's leased rows in order; stops at a rate limit or a
/// stop signal, handing the rest back unsent.
async fn deliver_lane(
    app: &App,
    transports: &Transports,
    lane: Vec<store::outbox::Pending>,
    held: DateTime<Utc>,
    stop: &Stop,
) -> anyhow::Result<usize> {
    let mut delivered = 0;
    let mut rows = lane.into_iter();
    let mut next = rows.next().map(|row| (row, held));
    while let Some((row, row_held)) = next.take() {
        if stop.shutdown.is_triggered() {
            // not started: hand this row and the rest back as if never leased
            store::outbox::hand_back(&mut *app.db.lock().await, &[row.id], row_held, false).await?;
            let rest: Vec<i64> = rows.map(|r| r.id).collect();
            store::outbox::hand_back(&mut *app.db.lock().await, &rest, held, false).await?;
            return Ok(delivered);
        }
        match deliver_one(app, transports, row, row_held, stop).await? {
            Sent::Delivered => delivered += 1,
            // the next part of the same message comes before anything else
            // of its channel, paced by the channel's rate limit
            Sent::Part(row, renewed) => {
                next = Some((*row, renewed));
                continue;
            }
            Sent::Paused => {
                // the rest of the lane waits with its channel
                let rest: Vec<i64> = rows.map(|r| r.id).collect();
                store::outbox::hand_back(&mut *app.db.lock().await, &rest, held, false).await?;
                return Ok(delivered);
            }
            Sent::NotYet => {}
        }
        next = rows.next().map(|row| (row, held));
    }
    Ok(delivered)
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Delivered,
    /// One part of a long message went; the row (its progress recorded),
    /// still leased until the given time, goes on with its next part.
    Part(Box<store::outbox::Pending>, DateTime<Utc>),
    /// Parked, retried later, deferred, or taken by another worker.
    NotYet,
    /// Its channel is rate-limited: the channel waits.
    Paused,
}

async fn deliver_one(
    app: &App,
    transports: &Transports,
    row: store::outbox::Pending,
    mut held: DateTime<Utc>,
    stop: &Stop,
) -> anyhow::Result<Sent> {
    // Rate-limit waits for earlier rows of the batch may have eaten into the
    // lease: with less than RENEW_BELOW left, send only if the row is still
    // ours, with a fresh lease for the send. (With more left, it is ours:
    // nobody leases a row whose lease runs.)
    let now = app.clock.now();
    if held - now < RENEW_BELOW {
        if !store::outbox::renew_lease(&mut *app.db.lock().await, row.id, held, now + LEASE).await?
        {
            tracing::debug!(outbox = row.id, "lease lost to another worker; skipping");
            return Ok(Sent::NotYet);
        }
        held = now + LEASE;
    }
    let parsed = row
        .channel
        .parse::<ChannelRef>()
        .map_err(|e| e.to_string())
        .and_then(|channel| {
            serde_json::from_str::<Message>(&row.body)
                .map(|m| (channel, m))
                .map_err(|e| e.to_string())
        });
    let (channel, message) = match parsed {
        Ok(ok) => ok,
        Err(e) => {
            park(app, &row, &format!("unreadable outbox row: {e}")).await?;
            return Ok(Sent::NotYet);
        }
    };
    let Some(transport) = transports.0.get(&channel.platform) else {
        park(
            app,
            &row,
            &format!(
                "{} is not enabled, so {channel} cannot be reached",
                channel.platform
            ),
        )
        .await?;
        return Ok(Sent::NotYet);
    };
    // Reads go to the pool (the connection goes back before the send, which
    // may wait on a rate limit); writes through the writer connection.
    let mut conn = app.db.pool.acquire().await?;
    let edit_of = match &row.message_key {
        Some(key) => store::outbox::delivered_id_for_key(&mut conn, &row.channel, key).await?,
        None => None,
    };
    let reply_to = match &row.reply_to_key {
        Some(parent) => {
            match store::outbox::delivered_id_for_key(&mut conn, &row.channel, parent).await? {
                Some(id) => Some(id),
                // the message it answers is still on its way: wait for it, so the reply lands in its thread
                None if store::outbox::pending_for_key(&mut conn, &row.channel, parent).await? => {
                    store::outbox::defer(
                        &mut *app.db.lock().await,
                        row.id,
                        app.clock.now() + TimeDelta::seconds(1),
                    )
                    .await?;
                    return Ok(Sent::NotYet);
                }
                // it can never be delivered: post the reply on its own
                None => None,
            }
        }
        None => None,
    };
    drop(conn);
    // a living message (it has a key: later rows edit it) stays one message;
    // any other is delivered whole, its parts after the first following the
    // first in its thread (Slack) or after it in the channel (Discord)
    let shape = match (&row.message_key, &edit_of) {
        (None, None) => Shape::Part {
            index: row.parts_sent,
            offset: usize::try_from(row.part_offset).unwrap_or(0),
        },
        _ => Shape::Summarised,
    };
    let item = Outbound {
        outbox_id: row.id,
        channel,
        message,
        edit_of,
        created_at: row.created_at,
        reply_to: reply_to.or_else(|| row.first_part_id.clone()),
        maybe_sent_before: row.maybe_sent_before(),
        attempts: row.attempts,
        shape,
    };
    let outcome = tokio::select! {
        outcome = transport.deliver(&item) => outcome,
        _ = stop.cut_off() => {
            tracing::info!(outbox = row.id, channel = %row.channel, "stopping: send cut off; the message will be checked and sent after the restart");
            store::outbox::hand_back(&mut *app.db.lock().await, &[row.id], held, true).await?;
            return Ok(Sent::NotYet);
        }
    };
    match outcome {
        Ok(Delivered {
            platform_message_id,
            next_part: Some(offset),
        }) => {
            let first = row.first_part_id.clone().or(platform_message_id);
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            if !store::outbox::part_delivered(
                &mut *app.db.lock().await,
                row.id,
                held,
                offset,
                first.as_deref(),
            )
            .await?
            {
                tracing::warn!(
                    outbox = row.id,
                    "lease lost between the parts of a message; its holder goes on"
                );
                return Ok(Sent::NotYet);
            }
            metrics::counter!("shipmate_outbox_parts_total", "platform" => item.channel.platform.as_str())
                .increment(1);
            let next = store::outbox::Pending {
                parts_sent: row.parts_sent + 1,
                part_offset: offset,
                first_part_id: first,
                attempts: 0,
                leases: 1,
                ..row
            };
            Ok(Sent::Part(Box::new(next), held))
        }
        Ok(done) => {
            // a message sent in parts is known by its first part (edits, thread replies)
            let id = row.first_part_id.clone().or(done.platform_message_id);
            store::outbox::mark_delivered(
                &mut *app.db.lock().await,
                row.id,
                id.as_deref(),
                app.clock.now(),
            )
            .await?;
            metrics::counter!("shipmate_outbox_delivered_total", "platform" => item.channel.platform.as_str())
                .increment(1);
            Ok(Sent::Delivered)
        }
        Err(DeliveryError::RateLimited { after, reason }) => {
            let until =
                app.clock.now() + TimeDelta::from_std(after).unwrap_or(TimeDelta::seconds(1));
            tracing::info!(outbox = row.id, channel = %row.channel, wait = ?after, %reason, "channel rate-limited: it waits, the others go on");
            metrics::counter!("shipmate_outbox_rate_limited_total", "platform" => item.channel.platform.as_str())
                .increment(1);
            store::outbox::rate_limited(
                &mut *app.db.lock().await,
                row.id,
                &row.channel,
                until,
                &reason,
                !row.maybe_sent_before(),
                app.clock.now(),
            )
            .await?;
            Ok(Sent::Paused)
        }
        Err(DeliveryError::Permanent(reason)) => {
            park(app, &row, &reason).await?;
            Ok(Sent::NotYet)
        }
        Err(DeliveryError::Retry { after, reason }) => {
            let max = i64::from(app.config.settings.outbox.max_attempts);
            if row.attempts + 1 >= max {
                park(app, &row, &reason).await?;
                return Ok(Sent::NotYet);
            }
            let wait = after
                .and_then(|d| TimeDelta::from_std(d).ok())
                .unwrap_or_else(|| backoff(app.config.outbox_retry_base, row.attempts));
            tracing::warn!(outbox = row.id, channel = %row.channel, attempt = row.attempts + 1, %reason, "delivery will be retried");
            store::outbox::mark_failed(
                &mut *app.db.lock().await,
                row.id,
                &reason,
                Some(app.clock.now() + wait),
            )
            .await?;
            Ok(Sent::NotYet)
        }
    }
}

async fn park(app: &App, row: &store::outbox::Pending, reason: &str) -> anyhow::Result<()> {
    tracing::error!(outbox = row.id, channel = %row.channel, %reason, "message parked: it will not be retried");
    metrics::counter!("shipmate_outbox_parked_total").increment(1);
    store::outbox::mark_failed(&mut *app.db.lock().await, row.id, reason, None).await?;
    Ok(())
}

/// What one message becomes on `platform`: the request body its transport
/// would send (Slack's `chat.postMessage` payload to channel `C0`, Discord's
/// message body), or for the console the text it prints. For previews,
/// documentation and snapshot tests: it is the transports' own rendering.
pub fn preview(
    message: &Message,
    platform: Platform,
    tz: chrono_tz::Tz,
    directory: &crate::settings::Directory,
) -> serde_json::Value {
    let message = mentions::for_platform(message, platform, directory);
    match platform {
        Platform::Console => serde_json::Value::String(terminal_safe(&message.plain(tz)).into()),
        Platform::Email => {
            let mail = mail::render(&message, tz, directory, &[]);
            serde_json::json!({ "subject": mail.subject, "text": mail.text, "html": mail.html })
        }
        Platform::Slack => serde_json::to_value(slack::preview(&message, tz)).unwrap_or_default(),
        Platform::Discord => {
            serde_json::to_value(discord::preview(&message, tz)).unwrap_or_default()
        }
    }
}

//! The public status feed's data: current and upcoming downtime windows
//! (`/status.json`, `/status`) and the windows on `/calendar.ics`.
//!
//! The calendar is kind-neutral: [`calendar_windows`] gathers
//! [`CalendarWindow`]s from every feature that has windows (downtime today;
//! code-freeze windows append theirs in the same function), and
//! The calendar module turns them into one RFC 5545 document.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::App;
use crate::domain::downtime::{Downtime, State};
use crate::domain::{RecordId, RecordKind};
use crate::store::{self, downtime::Stored};

/// `/status.json`: what a website banner needs.
#[derive(Debug, Clone, Serialize)]
pub struct StatusFeed {
    pub generated_at: DateTime<Utc>,
    /// Windows happening now (in progress, or due to start this instant).
    pub active: Vec<FeedWindow>,
    /// Announced windows still ahead, soonest first.
    pub upcoming: Vec<FeedWindow>,
}

/// One downtime window in the feed. Times are RFC 3339 UTC.
#[derive(Debug, Clone, Serialize)]
pub struct FeedWindow {
    pub id: String,
    pub environment: String,
    /// `announced` or `in-progress`.
    pub state: State,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// In progress past its planned end.
    pub overrunning: bool,
    pub reason: String,
    pub audience: Option<String>,
    /// Bumped on every postpone.
    pub sequence: u32,
}

fn feed_window(n: i64, d: &Downtime, now: DateTime<Utc>) -> FeedWindow {
    FeedWindow {
        id: RecordId::new(RecordKind::Downtime, n).to_string(),
        environment: d.environment.clone(),
        state: d.state,
        starts_at: d.start,
        ends_at: d.end,
        started_at: d.started_at,
        overrunning: d.is_overrunning(now),
        reason: d.reason.clone(),
        audience: d.audience.clone(),
        sequence: d.version,
    }
}

/// The current status feed.
pub async fn status_feed(app: &App) -> anyhow::Result<StatusFeed> {
    let mut conn = app.db.pool.acquire().await?;
    let now = app.clock.now();
    let live =
        store::downtime::in_states(&mut *conn, &[State::Announced, State::InProgress], 200).await?;
    let (mut active, mut upcoming) = (Vec::new(), Vec::new());
    for Stored { n, downtime: d, .. } in &live {
        let window = feed_window(*n, d, now);
        if d.state == State::InProgress || d.start <= now {
            active.push(window);
        } else {
            upcoming.push(window);
        }
    }
    upcoming.sort_by_key(|w| w.starts_at);
    Ok(StatusFeed {
        generated_at: now,
        active,
        upcoming,
    })
}

/// One window on the public calendar, of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarWindow {
    /// Stable across every change of the window.
    pub uid: String,
    pub summary: String,
    pub description: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// RFC 5545 SEQUENCE: bumped on every reschedule (and cancellation).
    pub sequence: u32,
    pub cancelled: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// How far back the calendar reaches.
pub const CALENDAR_HISTORY: TimeDelta = TimeDelta::days(90);

/// The public calendar: what partners should see, the downtime windows,
/// recent and future.
pub async fn calendar_windows(app: &App) -> anyhow::Result<Vec<CalendarWindow>> {
    let mut conn = app.db.pool.acquire().await?;
    let since = app.clock.now() - CALENDAR_HISTORY;
    let mut windows = downtime_windows(&mut conn, since).await?;
    windows.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.uid.cmp(&b.uid)));
    Ok(windows)
}

/// The internal calendar: the team's code-freeze and backport windows.
pub async fn internal_calendar_windows(app: &App) -> anyhow::Result<Vec<CalendarWindow>> {
    let mut conn = app.db.pool.acquire().await?;
    let since = app.clock.now() - CALENDAR_HISTORY;
    let mut windows = freeze_windows(&mut conn, since).await?;
    windows.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.uid.cmp(&b.uid)));
    Ok(windows)
}

/// Code-freeze and backport windows; one ended early ends there, with a higher SEQUENCE.
async fn freeze_windows(
    conn: &mut SqliteConnection,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<CalendarWindow>> {
    Ok(store::freeze::since(conn, since)
        .await?
        .into_iter()
        .map(|(id, w)| {
            let label = w.kind.label();
            let mut description = format!("{}: {}\nOpened by {}", label, w.reason, w.opened_by);
            if let Some(ended) = w.ended_at {
                description.push_str(&format!("\nEnded early at {}", ended.to_rfc3339()));
            }
            CalendarWindow {
                uid: format!("freeze-{id}-{}@shipmate", w.starts_at.timestamp_millis()),
                summary: format!("{}{}: {}", label[..1].to_uppercase(), &label[1..], w.target),
                description,
                start: w.starts_at,
                end: w.ended_at.unwrap_or(w.ends_at),
                sequence: u32::from(w.ended_at.is_some()),
                cancelled: false,
                created: w.starts_at,
                updated: w.ended_at.unwrap_or(w.starts_at),
            }
        })
        .collect())
}

async fn downtime_windows(
    conn: &mut SqliteConnection,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<CalendarWindow>> {
    let rows = store::downtime::since(conn, since, 500).await?;
    Ok(rows
        .into_iter()
        .map(
            |Stored {
                 n,
                 downtime: d,
                 updated_at,
             }| {
                let id = RecordId::new(RecordKind::Downtime, n);
                let done = d.state == State::Completed;
                let mut description = format!("{id}: {}", d.reason);
                if let Some(a) = &d.audience {
                    description.push_str(&format!("\nAffects: {a}"));
                }
                description.push_str(&format!("\nState: {}", d.state));

                if let Some(r) = &d.cancel_reason {
                    description.push_str(&format!("\nCancelled: {r}"));
                }
                CalendarWindow {
                    uid: super::downtime::calendar_uid(n, &d),
                    summary: format!("Downtime: {} ({id})", d.environment),
                    description,
                    // a completed window shows when it really ran
                    start: d.started_at.filter(|_| done).unwrap_or(d.start),
                    end: d.completed_at.unwrap_or(d.end),
                    sequence: d.version + u32::from(done),
                    cancelled: d.state == State::Cancelled,
                    created: d.created_at,
                    updated: updated_at,
                }
            },
        )
        .collect())
}

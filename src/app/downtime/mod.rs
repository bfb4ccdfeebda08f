//! `/downtime`: announces, postpones, starts, completes, cancels and lists
//! downtime windows; turns the domain's effects into announcements in every
//! `downtime.channels` channel and timer jobs (reminders, start, overrun),
//! and fires those timers.
//!
//! Every timer job carries the window's version; the window re-checks it
//! when the job fires, so a reminder of a postponed window says nothing even
//! if its job somehow survived the cancellation.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

mod command;
mod config;

pub use command::{DOWNTIME, DowntimeCommand};
pub use config::DowntimeRules;

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::message::Invite;
use super::{Ctx, Line, Message, Reply};
use crate::domain::downtime::{
    Downtime, Draft, Effect, Event, Neighbour, Notice, Policy, State, Timer,
};
use crate::domain::subscription::Topic;
use crate::domain::timing::format_duration;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store::{self, downtime::Stored};

/// The downtime feature.
pub struct Downtimes;

impl Feature for Downtimes {
    const COMMANDS: &'static [&'static CommandSpec] = &[&DOWNTIME];
    const JOBS: &'static [&'static dyn JobRunner] = &[&Runs::<TimerJob>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<DowntimeRules>::NEW];
    type Command = DowntimeCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: DowntimeCommand) -> Handled<Reply> {
        match command {
            DowntimeCommand::Announce(draft) => announce(ctx, draft).await,
            DowntimeCommand::Postpone { id, to, reason } => {
                transition(ctx, id, "postpone", Event::Postpone { to, reason }).await
            }
            DowntimeCommand::Start { id, end } => {
                transition(ctx, id, "start", Event::Start { end }).await
            }
            DowntimeCommand::Complete(id) => transition(ctx, id, "complete", Event::Complete).await,
            DowntimeCommand::Cancel { id, reason } => {
                transition(ctx, id, "cancel", Event::Cancel { reason }).await
            }
            DowntimeCommand::List => list(ctx).await,
        }
    }
}

/// The one job kind for every downtime timer (reminders, start, overrun).
pub struct TimerJob;

impl Job for TimerJob {
    const KIND: &'static str = "downtime.timer";
    type Payload = TimerPayload;

    fn dedup_key(p: &TimerPayload) -> Option<String> {
        let id = RecordId::new(RecordKind::Downtime, p.id);
        Some(format!(
            "{}v{}:{}",
            timer_prefix(id),
            p.version,
            p.timer.key()
        ))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: TimerPayload) -> anyhow::Result<()> {
        fire_timer(ctx, payload).await
    }
}

/// Payload of [`TimerJob`].
#[derive(Debug, Serialize, Deserialize)]
pub struct TimerPayload {
    pub id: i64,
    pub version: u32,
    #[serde(flatten)]
    pub timer: Timer,
}

/// The dedup-key prefix of every timer of one window (the trailing `:` keeps DT-1 from matching DT-10).
fn timer_prefix(id: RecordId) -> String {
    format!("{}:{id}:", TimerJob::KIND)
}

fn policy(ctx: &Ctx<'_>) -> Policy {
    Policy {
        remind_before: ctx
            .app
            .config
            .section::<DowntimeRules>()
            .remind_before
            .clone(),
        tz: ctx.app.config.tz,
        manager: ctx.app.config.section::<DowntimeRules>().manager.clone(),
    }
}

async fn neighbours(
    ctx: &mut Ctx<'_>,
    environment: &str,
    except: Option<i64>,
) -> Handled<Vec<Neighbour>> {
    let live =
        store::downtime::live_in(&mut ctx.db, &environment.trim().to_ascii_lowercase()).await?;
    Ok(live
        .into_iter()
        .filter(|s| Some(s.n) != except)
        .map(|s| {
            s.downtime
                .as_neighbour(RecordId::new(RecordKind::Downtime, s.n))
        })
        .collect())
}

async fn announce(ctx: &mut Ctx<'_>, draft: Draft) -> Handled<Reply> {
    let others = neighbours(ctx, &draft.environment, None).await?;
    let (downtime, effects) =
        Downtime::announce(draft, &ctx.actor, &policy(ctx), &others, ctx.now)?;
    let n = store::downtime::insert(&mut ctx.db, &downtime, ctx.now).await?;
    let id = RecordId::new(RecordKind::Downtime, n);
    let detail = format!(
        "env={} start={} end={} reason={}",
        downtime.environment,
        downtime.start.to_rfc3339(),
        downtime.end.to_rfc3339(),
        downtime.reason
    );
    ctx.audit(&id.to_string(), "announced", &detail);
    apply_effects(ctx, id, &downtime, effects).await?;
    Ok(Reply::in_channel(summary(id, &downtime).line(
        channel_list(ctx, Line::new().text("Announced to ")).text("."),
    )))
}

/// Where the messages go: channels link on their own platform.
fn channel_list(ctx: &Ctx<'_>, line: Line) -> Line {
    let channels = &ctx.app.config.section::<DowntimeRules>().channels;
    if channels.is_empty() {
        line.text("no channel (downtime.channels is empty)")
    } else {
        line.channels(channels)
    }
}

async fn load(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<(RecordId, Downtime)> {
    match store::downtime::get(&mut ctx.db, id.n).await? {
        Some(s) => Ok((id, s.downtime)),
        None => {
            Err(DomainError::not_found(format!("{id} does not exist: see /downtime list")).into())
        }
    }
}

async fn transition(ctx: &mut Ctx<'_>, id: RecordId, action: &str, event: Event) -> Handled<Reply> {
    let (id, mut downtime) = load(ctx, id).await?;
    let others = match &event {
        Event::Postpone { .. } => neighbours(ctx, &downtime.environment, Some(id.n)).await?,
        _ => Vec::new(),
    };
    let extra = match &event {
        Event::Postpone { to, reason } => format!(
            " to={}{}",
            to.to_rfc3339(),
            reason
                .as_ref()
                .map(|r| format!(" reason={r}"))
                .unwrap_or_default()
        ),
        Event::Cancel { reason } => format!(" reason={reason}"),
        _ => String::new(),
    };
    let moved = matches!(event, Event::Postpone { .. });
    let was = (downtime.start, downtime.end);
    let effects = downtime
        .apply(event, &ctx.actor, &policy(ctx), &others, ctx.now)
        .map_err(|e| in_context(id, e))?;
    store::downtime::update(&mut ctx.db, id.n, &downtime, ctx.now).await?;
    let detail = format!(
        "state={} version={}{extra}",
        downtime.state, downtime.version
    );
    ctx.audit(&id.to_string(), action, &detail);
    apply_effects(ctx, id, &downtime, effects).await?;
    if moved {
        let word = if downtime.start < was.0 {
            "moved earlier"
        } else {
            "postponed"
        };
        let line = Line::new()
            .bold(id.to_string())
            .text(" ")
            .code(&downtime.environment)
            .text(format!(" {word}: now "));
        let line = window(line, &downtime)
            .text("; was ")
            .time(was.0)
            .text(" → ")
            .time(was.1)
            .text(".");
        return Ok(Reply::in_channel(Message::new().line(line)));
    }
    Ok(Reply::in_channel(summary(id, &downtime)))
}

/// Prefixes a refusal with the record it concerns.
fn in_context(id: RecordId, e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid(m) => DomainError::Invalid(format!("{id}: {m}")),
        DomainError::Forbidden(m) => DomainError::Forbidden(format!("{id}: {m}")),
        DomainError::Conflict(m) => DomainError::Conflict(format!("{id}: {m}")),
        DomainError::NotFound(m) => DomainError::NotFound(m),
    }
}

fn window(line: Line, d: &Downtime) -> Line {
    line.time(d.start)
        .text(" → ")
        .time(d.end)
        .text(format!(" ({})", format_duration(d.end - d.start)))
}

fn summary(id: RecordId, d: &Downtime) -> Message {
    let head = Line::new()
        .bold(id.to_string())
        .text(" ")
        .code(&d.environment)
        .text(format!(" is {}: ", d.state));
    Message::new().line(window(head, d).text("."))
}

/// Turns domain effects into jobs and announcements, in the caller's transaction.
pub async fn apply_effects(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    d: &Downtime,
    effects: Vec<Effect>,
) -> Handled<()> {
    for effect in effects {
        match effect {
            Effect::CancelTimers => {
                store::jobs::cancel_for(&mut ctx.db, TimerJob::KIND, &timer_prefix(id)).await?;
            }
            Effect::Schedule { timer, version, at } => {
                let payload = TimerPayload {
                    id: id.n,
                    version,
                    timer,
                };
                TimerJob::schedule(ctx, &payload, at);
            }
            Effect::Announce(notice) => {
                let message = by_mail(id, d, &notice, announcement(id, d, &notice));
                let channels = ctx.app.config.section::<DowntimeRules>().channels.clone();
                ctx.post_all(&channels, &message);
                super::subscribers::notify(ctx, Topic::Downtime, &message).await?;
            }
        }
    }
    Ok(())
}

/// The window's calendar `UID` (the same in `/calendar.ics` and in mailed
/// invitations): stable across every change, unique for the database's life.
pub fn calendar_uid(n: i64, d: &Downtime) -> String {
    format!("downtime-{n}-{}@shipmate", d.created_at.timestamp_millis())
}

/// Files a notice under its window (one mail thread per window) and, for an
/// announcement, a postponement or a cancellation, carries the window as an
/// invitation that calendars add, move or strike.
fn by_mail(id: RecordId, d: &Downtime, notice: &Notice, message: Message) -> Message {
    let uid = calendar_uid(id.n, d);
    let subject = format!("{id}: downtime of {}", d.environment);
    let message = message.about(
        uid.trim_end_matches("@shipmate"),
        subject,
        matches!(notice, Notice::Announced),
    );
    let cancelled = match notice {
        Notice::Announced | Notice::Postponed { .. } => false,
        Notice::Cancelled { .. } => true,
        _ => return message,
    };
    let mut description = format!("{id}: {}", d.reason);
    if let Some(a) = &d.audience {
        description.push_str(&format!("\nAffects: {a}"));
    }
    message.invite(Invite {
        uid,
        sequence: d.version,
        start: d.start,
        end: d.end,
        summary: format!("Downtime: {} ({id})", d.environment),
        description,
        cancelled,
    })
}

/// The message each notice puts in the downtime channels.
pub fn announcement(id: RecordId, d: &Downtime, notice: &Notice) -> Message {
    let head = |emoji: &str| {
        Line::new()
            .text(format!("{emoji} "))
            .bold(id.to_string())
            .text(" downtime of ")
            .code(&d.environment)
    };
    let details = |m: Message| {
        let m = m.line(Line::new().text(format!("Reason: {}", d.reason)));
        match &d.audience {
            Some(a) => m.line(Line::new().text(format!("Affects: {a}"))),
            None => m,
        }
    };
    match notice {
        Notice::Announced => details(
            Message::new()
                .line(head("🛠️").text(" announced"))
                .line(window(Line::new().text("Window: "), d)),
        ),
        Notice::Postponed {
            from_start,
            from_end,
            reason,
        } => {
            let m = Message::new()
                .line(head("📅").text(if d.start < *from_start {
                    " moved earlier"
                } else {
                    " postponed"
                }))
                .line(
                    Line::new()
                        .text("Was: ")
                        .time(*from_start)
                        .text(" → ")
                        .time(*from_end),
                )
                .line(window(Line::new().text("Now: "), d));
            let m = match reason {
                Some(r) => m.line(Line::new().text(format!("Why: {r}"))),
                None => m,
            };
            details(m)
        }
        Notice::Reminder { before } => details(
            Message::new().line(
                head("⏰")
                    .text(format!(" starts in {}: ", format_duration(*before)))
                    .time(d.start)
                    .text(" → ")
                    .time(d.end),
            ),
        ),
        Notice::Started { by } => {
            let line = head("🔴").text(" is in progress, until ").time(d.end);
            let line = match by {
                Some(u) => line.text(" (started early by ").user(u).text(")"),
                None => line,
            };
            details(Message::new().line(line.text(".")))
        }
        Notice::Overrun => Message::new().line(
            head("⚠️")
                .text(" is overrunning: it was planned to end at ")
                .time(d.end)
                .text(format!(
                    ". Run /downtime complete {id} when service is back."
                )),
        ),
        Notice::Completed { by } => {
            let took = match d.started_at.zip(d.completed_at) {
                Some((s, c)) => format!(" after {}", rough(c - s)),
                None => String::new(),
            };
            Message::new().line(
                head("✅")
                    .text(format!(" is over: service is back{took}. Completed by "))
                    .user(by)
                    .text("."),
            )
        }
        Notice::Cancelled { by, reason } => Message::new().line(
            head("🚫")
                .text(" is cancelled: the window ")
                .time(d.start)
                .text(" will not happen. Cancelled by ")
                .user(by)
                .text(format!(": {reason}")),
        ),
    }
}

/// A length in the largest sensible units, e.g. `1h 25m`.
fn rough(d: TimeDelta) -> String {
    let mins = d.num_minutes().max(0);
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

async fn list(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    let live =
        store::downtime::in_states(&mut ctx.db, &[State::Announced, State::InProgress], 50).await?;
    if live.is_empty() {
        return Ok(Reply::private(Message::text(
            "No current or upcoming downtime.",
        )));
    }
    let mut m = Message::text("Downtime (current and upcoming):");
    for Stored { n, downtime: d, .. } in live {
        let id = RecordId::new(RecordKind::Downtime, n);
        let state = if d.is_overrunning(ctx.now) {
            "in-progress, overrunning".to_string()
        } else {
            d.state.to_string()
        };
        m = m.line(
            window(
                Line::new()
                    .text(format!("  {id} · {state} · "))
                    .code(&d.environment)
                    .text(" · "),
                &d,
            )
            .text(format!(" · {} · by ", d.reason))
            .user(&d.announced_by),
        );
    }
    Ok(Reply::private(m))
}

/// Fires a due timer job: re-reads the window and lets it decide.
async fn fire_timer(ctx: &mut Ctx<'_>, payload: TimerPayload) -> anyhow::Result<()> {
    let id = RecordId::new(RecordKind::Downtime, payload.id);
    let Some(Stored {
        downtime: mut d, ..
    }) = store::downtime::get(&mut ctx.db, payload.id).await?
    else {
        anyhow::bail!("{id} no longer exists");
    };
    let before = d.state;
    let effects = d.on_timer(payload.timer, payload.version, ctx.now);
    if effects.is_empty() {
        tracing::debug!(%id, timer = ?payload.timer, "stale or moot downtime timer ignored");
        return Ok(());
    }
    if d.state != before {
        store::downtime::update(&mut ctx.db, payload.id, &d, ctx.now).await?;
        ctx.audit(&id.to_string(), "started", "planned start reached");
    }
    apply_effects(ctx, id, &d, effects)
        .await
        .map_err(anyhow::Error::from)
}

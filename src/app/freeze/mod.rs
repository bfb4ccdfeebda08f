//! `/freeze start|end|status`: code-freeze and backport windows, opened by
//! hand or by a release task, announced in `freeze.channels`, with a reminder
//! `freeze.remind_before` ahead of the end and a notice when it ends.
//! [`active_for`] answers "is this target frozen now?" for pipeline checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

mod command;
mod config;

pub use command::{FREEZE, FreezeCommand, Until};
pub use config::FreezeRules;

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::message::local;
use super::{Ctx, Line, Message, Reply};
use crate::domain::DomainError;
use crate::domain::freeze::{FreezeWindow, WindowKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store;

#[derive(Debug, Serialize, Deserialize)]
pub struct WindowPayload {
    pub id: i64,
    pub ends_at_ms: i64,
}

/// The freeze feature.
pub struct Freezes;

impl Feature for Freezes {
    const COMMANDS: &'static [&'static CommandSpec] = &[&FREEZE];
    const JOBS: &'static [&'static dyn JobRunner] = &[&Runs::<Ending>::NEW, &Runs::<Ended>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<FreezeRules>::NEW];
    type Command = FreezeCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: FreezeCommand) -> Handled<Reply> {
        match command {
            FreezeCommand::Start {
                target,
                until,
                reason,
                kind,
            } => start(ctx, &target, until, &reason, kind).await,
            FreezeCommand::End { target, kind } => end(ctx, &target, kind).await,
            FreezeCommand::Status => status(ctx).await,
        }
    }
}

async fn start(
    ctx: &mut Ctx<'_>,
    target: &str,
    until: Until,
    reason: &str,
    kind: WindowKind,
) -> Handled<Reply> {
    let manager = &ctx.app.config.section::<FreezeRules>().manager;
    ctx.actor.require(manager, "open freeze windows")?;
    let ends_at = match until {
        Until::After(d) => ctx.now + d,
        Until::At(at) => at,
    };
    let by = ctx.actor.user.to_string();
    let label = capitalised(kind.label());
    let line = match open(ctx, target, kind, ends_at, reason, &by).await? {
        Opened::New(_) => Line::new()
            .text(format!("{label} on `{target}` until "))
            .time(ends_at)
            .text("."),
        Opened::Extended(_) => Line::new()
            .text(format!(
                "{label} on `{target}` was in force already: extended until "
            ))
            .time(ends_at)
            .text("."),
        Opened::Kept(_, until) => Line::new()
            .text(format!("{label} on `{target}` is in force already until "))
            .time(until)
            .text(format!(
                ": kept (end it with /freeze end {target} to shorten it)."
            )),
    };
    Ok(Reply::in_channel(Message::new().line(line)))
}

async fn end(ctx: &mut Ctx<'_>, target: &str, kind: WindowKind) -> Handled<Reply> {
    let manager = &ctx.app.config.section::<FreezeRules>().manager;
    ctx.actor.require(manager, "end freeze windows")?;
    let by = Line::new().user(&ctx.actor.user);
    if !close(ctx, target, kind, by).await? {
        return Err(
            DomainError::not_found(format!("`{target}` has no active {}", kind.label())).into(),
        );
    }
    Ok(Reply::in_channel(Message::text(format!(
        "{} on `{target}` ended.",
        capitalised(kind.label())
    ))))
}

/// Ends the window in force on `target` now, announcing who ended it
/// (`by`: a person, or the release whose task ends it); `false` when none
/// is in force.
pub async fn close(ctx: &mut Ctx<'_>, target: &str, kind: WindowKind, by: Line) -> Handled<bool> {
    let Some((id, w)) = store::freeze::active(&mut ctx.db, ctx.now, Some(target), Some(kind))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    store::freeze::end(&mut ctx.db, id, ctx.now).await?;
    ctx.audit(
        &format!("freeze:{id}"),
        "end",
        &format!("target={target} kind={kind}"),
    );
    let message = Message::new().line(
        Line::new()
            .text(format!(
                "🔓 {} on `{}` ended early by ",
                capitalised(kind.label()),
                w.target
            ))
            .append(by)
            .text("."),
    );
    let channels = ctx.app.config.section::<FreezeRules>().channels.clone();
    ctx.post_all(&channels, &message);
    Ok(true)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// What opening a window did: one window per target and kind is in force,
/// so opening it again extends it to the later end, or keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    New(i64),
    Extended(i64),
    Kept(i64, DateTime<Utc>),
}

/// Opens a window now until `ends_at`, announces it and schedules its
/// reminders; when one is in force on the target already, extends it to
/// `ends_at` if that is later, else keeps it (the same rule for
/// `/freeze start` and a runbook's task, however often it is redone).
pub async fn open(
    ctx: &mut Ctx<'_>,
    target: &str,
    kind: WindowKind,
    ends_at: DateTime<Utc>,
    reason: &str,
    opened_by: &str,
) -> Handled<Opened> {
    let window = FreezeWindow::open(target, kind, ctx.now, ends_at, reason, opened_by)?;
    let current = store::freeze::active(&mut ctx.db, ctx.now, Some(&window.target), Some(kind))
        .await?
        .into_iter()
        .next_back();
    if let Some((id, w)) = current {
        if ends_at <= w.ends_at {
            return Ok(Opened::Kept(id, w.ends_at));
        }
        store::freeze::extend(&mut ctx.db, id, ends_at).await?;
        ctx.audit(
            &format!("freeze:{id}"),
            "extend",
            &format!(
                "target={} kind={kind} until={} by={opened_by}",
                w.target,
                local(ends_at, ctx.app.config.tz)
            ),
        );
        let message = Message::new().line(
            Line::new()
                .text(format!(
                    "❄️ {} on `{}` extended until ",
                    capitalised(kind.label()),
                    w.target
                ))
                .time(ends_at)
                .text(format!(" (by {opened_by})")),
        );
        let channels = ctx.app.config.section::<FreezeRules>().channels.clone();
        ctx.post_all(&channels, &message);
        schedule_end(ctx, id, ends_at);
        return Ok(Opened::Extended(id));
    }
    let id = store::freeze::insert(&mut ctx.db, &window, ctx.now).await?;
    ctx.audit(
        &format!("freeze:{id}"),
        "open",
        &format!(
            "target={} kind={kind} until={} reason={} by={opened_by}",
            window.target,
            local(ends_at, ctx.app.config.tz),
            window.reason
        ),
    );
    let message = Message::new().line(
        Line::new()
            .text(format!(
                "❄️ {} on `{}` until ",
                capitalised(kind.label()),
                window.target
            ))
            .time(ends_at)
            .text(format!(": {} (opened by {opened_by})", window.reason)),
    );
    let channels = ctx.app.config.section::<FreezeRules>().channels.clone();
    ctx.post_all(&channels, &message);
    schedule_end(ctx, id, ends_at);
    Ok(Opened::New(id))
}

/// The reminder before a window's end and the notice at it (timers of an
/// earlier end are void: they carry the end they were set for).
fn schedule_end(ctx: &mut Ctx<'_>, id: i64, ends_at: DateTime<Utc>) {
    let payload = WindowPayload {
        id,
        ends_at_ms: store::ms(ends_at),
    };
    let remind_at = ends_at - ctx.app.config.section::<FreezeRules>().remind_before;
    if remind_at > ctx.now {
        Ending::schedule(ctx, &payload, remind_at);
    }
    Ended::schedule(ctx, &payload, ends_at);
}

/// The reminder `freeze.remind_before` ahead of a window's end.
pub struct Ending;

impl Job for Ending {
    const KIND: &'static str = "freeze.ending";
    type Payload = WindowPayload;

    fn dedup_key(p: &WindowPayload) -> Option<String> {
        Some(format!("{}:{}:{}", Self::KIND, p.id, p.ends_at_ms))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: WindowPayload) -> anyhow::Result<()> {
        notify(ctx, payload, true)
            .await
            .map_err(anyhow::Error::from)
    }
}

/// The notice when a window ends.
pub struct Ended;

impl Job for Ended {
    const KIND: &'static str = "freeze.ended";
    type Payload = WindowPayload;

    fn dedup_key(p: &WindowPayload) -> Option<String> {
        Some(format!("{}:{}:{}", Self::KIND, p.id, p.ends_at_ms))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: WindowPayload) -> anyhow::Result<()> {
        notify(ctx, payload, false)
            .await
            .map_err(anyhow::Error::from)
    }
}

/// Reminder before the end, or the notice at the end; nothing if the window was ended early.
async fn notify(ctx: &mut Ctx<'_>, payload: WindowPayload, ending: bool) -> Handled<()> {
    let Some(w) = store::freeze::get(&mut ctx.db, payload.id).await? else {
        return Ok(());
    };
    if w.ended_at.is_some() || store::ms(w.ends_at) != payload.ends_at_ms {
        return Ok(());
    }
    let label = capitalised(w.kind.label());
    let message = if ending {
        Message::new().line(
            Line::new()
                .text(format!("⏳ {label} on `{}` ends ", w.target))
                .time(w.ends_at)
                .text(format!(": {}", w.reason)),
        )
    } else {
        Message::new().line(Line::new().text(format!("🔓 {label} on `{}` has ended.", w.target)))
    };
    let channels = ctx.app.config.section::<FreezeRules>().channels.clone();
    ctx.post_all(&channels, &message);
    Ok(())
}

async fn status(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    let windows = store::freeze::not_ended(&mut ctx.db, ctx.now).await?;
    if windows.is_empty() {
        return Ok(Reply::private(Message::text(
            "No freeze or backport window is in force or coming.",
        )));
    }
    let mut m = Message::text("Windows:");
    for (_, w) in windows {
        let state = if w.is_active(ctx.now) {
            "in force"
        } else {
            "coming"
        };
        m = m.line(
            Line::new()
                .text(format!(
                    "  {} · `{}` · {state} until ",
                    w.kind.label(),
                    w.target
                ))
                .time(w.ends_at)
                .text(format!(" · {} (by {})", w.reason, w.opened_by)),
        );
    }
    Ok(Reply::private(m))
}

/// The window that freezes `target` at `at`, if any (for pipeline deployment checks).
pub async fn active_for(
    conn: &mut SqliteConnection,
    target: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<Option<FreezeWindow>> {
    Ok(
        store::freeze::active(conn, at, Some(target), Some(WindowKind::Freeze))
            .await?
            .into_iter()
            .next()
            .map(|(_, w)| w),
    )
}

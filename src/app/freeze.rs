//! `/freeze start|end|status`: code-freeze and backport windows, opened by
//! hand or by a release task, announced in `freeze.channels`, with a reminder
//! `freeze.remind_before` ahead of the end and a notice when it ends.
//! [`active_for`] answers "is this target frozen now?" for pipeline checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::context::Handled;
use super::message::local;
use super::release::parse_when;
use super::{Ctx, Line, Message, Reply};
use crate::domain::freeze::{FreezeWindow, WindowKind};
use crate::domain::timing::parse_duration;
use crate::domain::{DomainError, Role};
use crate::grammar::Parsed;
use crate::store::{self, jobs::NewJob};

pub const ENDING_JOB: &str = "freeze.ending";
pub const ENDED_JOB: &str = "freeze.ended";

#[derive(Debug, Serialize, Deserialize)]
pub struct WindowPayload {
    pub id: i64,
    pub ends_at_ms: i64,
}

pub async fn run(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    match p.sub.name {
        "start" => {
            ctx.actor
                .require(Role::ReleaseManager, "open freeze windows")?;
            let kind: WindowKind = p.get("kind").unwrap_or("freeze").parse()?;
            let until = p.get("until").unwrap_or_default();
            let ends_at = match parse_duration(until) {
                Ok(d) => ctx.now + d,
                Err(_) => parse_when(until, ctx.app.config.tz).map_err(|_| {
                    DomainError::invalid(format!(
                        "until: `{until}` is neither a date/time (YYYY-MM-DD, \"YYYY-MM-DD HH:MM\") nor a duration (30d)"
                    ))
                })?,
            };
            let target = p.get("target").unwrap_or_default();
            if let Some((_, w)) = store::freeze::active(ctx.conn, ctx.now, Some(target), Some(kind))
                .await?
                .first()
            {
                return Err(DomainError::conflict(format!(
                    "`{target}` already has a {} until {}: end it first with /freeze end {target}",
                    kind.label(),
                    local(w.ends_at, ctx.app.config.tz)
                ))
                .into());
            }
            let by = ctx.actor.user.to_string();
            open(
                ctx,
                target,
                kind,
                ends_at,
                p.get("reason").unwrap_or_default(),
                &by,
            )
            .await?;
            Ok(Reply::in_channel(
                Message::new().line(
                    Line::new()
                        .text(format!(
                            "{} on `{target}` until ",
                            capitalised(kind.label())
                        ))
                        .time(ends_at)
                        .text("."),
                ),
            ))
        }
        "end" => {
            ctx.actor
                .require(Role::ReleaseManager, "end freeze windows")?;
            let kind: WindowKind = p.get("kind").unwrap_or("freeze").parse()?;
            let target = p.get("target").unwrap_or_default();
            let Some((id, w)) = store::freeze::active(ctx.conn, ctx.now, Some(target), Some(kind))
                .await?
                .into_iter()
                .next()
            else {
                return Err(DomainError::not_found(format!(
                    "`{target}` has no active {}",
                    kind.label()
                ))
                .into());
            };
            store::freeze::end(ctx.conn, id, ctx.now).await?;
            ctx.audit(
                &format!("freeze:{id}"),
                "end",
                &format!("target={target} kind={kind}"),
            )
            .await?;
            let message = Message::new().line(
                Line::new()
                    .text(format!(
                        "🔓 {} on `{}` ended early by ",
                        capitalised(kind.label()),
                        w.target
                    ))
                    .user(&ctx.actor.user)
                    .text("."),
            );
            let channels = ctx.app.config.freeze_channels.clone();
            ctx.post_all(&channels, &message).await?;
            Ok(Reply::in_channel(Message::text(format!(
                "{} on `{target}` ended.",
                capitalised(kind.label())
            ))))
        }
        _ => status(ctx).await,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Opens a window now until `ends_at`, announces it and schedules its reminders.
pub async fn open(
    ctx: &mut Ctx<'_>,
    target: &str,
    kind: WindowKind,
    ends_at: DateTime<Utc>,
    reason: &str,
    opened_by: &str,
) -> Handled<i64> {
    let window = FreezeWindow::open(target, kind, ctx.now, ends_at, reason, opened_by)?;
    let id = store::freeze::insert(ctx.conn, &window, ctx.now).await?;
    ctx.audit(
        &format!("freeze:{id}"),
        "open",
        &format!(
            "target={} kind={kind} until={} reason={} by={opened_by}",
            window.target,
            local(ends_at, ctx.app.config.tz),
            window.reason
        ),
    )
    .await?;
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
    let channels = ctx.app.config.freeze_channels.clone();
    ctx.post_all(&channels, &message).await?;
    let payload = serde_json::to_string(&WindowPayload {
        id,
        ends_at_ms: store::ms(ends_at),
    })
    .map_err(anyhow::Error::from)?;
    let remind_at = ends_at - ctx.app.config.freeze_remind_before;
    if remind_at > ctx.now {
        let dedup_key = Some(format!("{ENDING_JOB}:{id}:{}", store::ms(ends_at)));
        ctx.schedule(NewJob {
            kind: ENDING_JOB.into(),
            payload: payload.clone(),
            due_at: remind_at,
            cron: None,
            dedup_key,
        })
        .await?;
    }
    let dedup_key = Some(format!("{ENDED_JOB}:{id}:{}", store::ms(ends_at)));
    ctx.schedule(NewJob {
        kind: ENDED_JOB.into(),
        payload,
        due_at: ends_at,
        cron: None,
        dedup_key,
    })
    .await?;
    Ok(id)
}

/// Reminder before the end, or the notice at the end; nothing if the window was ended early.
pub async fn fire(ctx: &mut Ctx<'_>, kind: &str, payload: &str) -> Handled<()> {
    let payload: WindowPayload = serde_json::from_str(payload).map_err(anyhow::Error::from)?;
    let Some(w) = store::freeze::get(ctx.conn, payload.id).await? else {
        return Ok(());
    };
    if w.ended_at.is_some() || store::ms(w.ends_at) != payload.ends_at_ms {
        return Ok(());
    }
    let label = capitalised(w.kind.label());
    let message = if kind == ENDING_JOB {
        Message::new().line(
            Line::new()
                .text(format!("⏳ {label} on `{}` ends ", w.target))
                .time(w.ends_at)
                .text(format!(": {}", w.reason)),
        )
    } else {
        Message::new().line(Line::new().text(format!("🔓 {label} on `{}` has ended.", w.target)))
    };
    let channels = ctx.app.config.freeze_channels.clone();
    ctx.post_all(&channels, &message).await
}

async fn status(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    let windows = store::freeze::not_ended(ctx.conn, ctx.now).await?;
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

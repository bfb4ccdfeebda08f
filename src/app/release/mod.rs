//! `/release`, `/task` and `/signoff`: release runs from runbook templates,
//! bound to the channel they were started in. Turns the domain's effects into
//! announcements in that channel, owner pings when a task can start (at the
//! opening of working hours), one overdue digest per working morning, and
//! freeze windows.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

mod command;
mod config;
mod runbooks;

pub use command::{RELEASE, ReleaseCommand, RetroFormat, SIGNOFF, TASK, TaskAction};
pub use config::ReleaseRules;

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::message::{count, local};
use super::{Ctx, Line, Message, Reply};
use crate::domain::calendar::WorkingCalendar;
use crate::domain::release::{Effect, Notice, Release, RetroRow, TaskState};
use crate::domain::runbook::{DowntimeStep, TaskKind, TaskSpec};
use crate::domain::timing::midnight;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store;

/// The release feature: runs, their tasks and their gates.
pub struct Releases;

impl Feature for Releases {
    const COMMANDS: &'static [&'static CommandSpec] = &[&RELEASE, &TASK, &SIGNOFF];
    const JOBS: &'static [&'static dyn JobRunner] =
        &[&Runs::<Overdue>::NEW, &Runs::<ReadyPing>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<ReleaseRules>::NEW];
    type Command = ReleaseCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: ReleaseCommand) -> Handled<Reply> {
        let tz = ctx.app.config.tz;
        match command {
            ReleaseCommand::Start { name, template, t0 } => start(ctx, &name, &template, t0).await,
            ReleaseCommand::Plan { release } => {
                let (id, r) = resolve(ctx, release).await?;
                Ok(Reply::private(plan(&id, &r, tz)))
            }
            ReleaseCommand::Status { release } => {
                let (id, r) = resolve(ctx, release).await?;
                Ok(Reply::private(status(&id, &r, tz, ctx.now)))
            }
            ReleaseCommand::Retro { release, format } => {
                let (id, r) = resolve(ctx, release).await?;
                let cal = &ctx.app.config.calendar;
                Ok(Reply::private(match format {
                    RetroFormat::Markdown => Message::text(retro_markdown(&id, &r, tz, cal)),
                    RetroFormat::Text => retro(&id, &r, tz, cal),
                }))
            }
            ReleaseCommand::Close { release } => close(ctx, release).await,
            ReleaseCommand::Cancel { release, reason } => cancel(ctx, release, &reason).await,
            ReleaseCommand::Task {
                release,
                task,
                action,
            } => run_task(ctx, release, task, action).await,
            ReleaseCommand::TaskList { release } => {
                let (id, r) = resolve(ctx, release).await?;
                Ok(Reply::private(task_list(&id, &r, tz)))
            }
            ReleaseCommand::Sign {
                release,
                gate,
                note,
            } => signoff(ctx, release, gate, Ok(note)).await,
            ReleaseCommand::Revoke {
                release,
                gate,
                reason,
            } => signoff(ctx, release, gate, Err(reason)).await,
            ReleaseCommand::Gates { release } => {
                let (id, r) = resolve(ctx, release).await?;
                Ok(Reply::private(gates(&id, &r, tz)))
            }
        }
    }
}

/// The overdue digest of one release, each working morning.
pub struct Overdue;

#[derive(Debug, Serialize, Deserialize)]
pub struct OverduePayload {
    pub id: i64,
    /// Rows from before the digest checked one task each; such a row now
    /// only hands over to the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// When it is due.
    #[serde(default)]
    pub at_ms: i64,
}

impl Job for Overdue {
    const KIND: &'static str = "release.overdue";
    type Payload = OverduePayload;

    fn dedup_key(p: &OverduePayload) -> Option<String> {
        let id = RecordId::new(RecordKind::Release, p.id);
        match &p.task {
            Some(task) => Some(format!("{}:{id}:{task}:{}", Self::KIND, p.at_ms)),
            None => Some(format!("{}:{id}:{}", Self::KIND, p.at_ms)),
        }
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: OverduePayload) -> anyhow::Result<()> {
        let id = RecordId::new(RecordKind::Release, payload.id);
        let Some(release) = store::release::get(&mut ctx.db, payload.id).await? else {
            anyhow::bail!("{id} no longer exists");
        };
        let calendar = ctx.app.config.calendar.clone();
        let effects = match payload.task {
            Some(_) => vec![Effect::ScheduleDigest {
                at: calendar.next_open(ctx.now),
            }],
            None => release.overdue_digest(ctx.now, &calendar),
        };
        apply_effects(ctx, id, &release, effects)
            .await
            .map_err(anyhow::Error::from)
    }
}

/// The ping to a task's owners on the working morning it can start.
pub struct ReadyPing;

#[derive(Debug, Serialize, Deserialize)]
pub struct ReadyPayload {
    pub id: i64,
    pub task: String,
    pub at_ms: i64,
}

impl Job for ReadyPing {
    const KIND: &'static str = "release.ready";
    type Payload = ReadyPayload;

    fn dedup_key(p: &ReadyPayload) -> Option<String> {
        let id = RecordId::new(RecordKind::Release, p.id);
        Some(format!("{}:{id}:{}:{}", Self::KIND, p.task, p.at_ms))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: ReadyPayload) -> anyhow::Result<()> {
        let id = RecordId::new(RecordKind::Release, payload.id);
        let Some(release) = store::release::get(&mut ctx.db, payload.id).await? else {
            anyhow::bail!("{id} no longer exists");
        };
        // started, finished or blocked again since: nothing to say; already
        // late: this morning's digest names it
        let late = release
            .task(&payload.task)
            .is_ok_and(|t| release.planned_end(&t.spec) <= ctx.now);
        if !release.can_start(&payload.task) || late {
            return Ok(());
        }
        let effects = vec![Effect::Announce(Notice::TaskReady { task: payload.task })];
        apply_effects(ctx, id, &release, effects)
            .await
            .map_err(anyhow::Error::from)
    }
}

async fn close(ctx: &mut Ctx<'_>, release: Option<RecordId>) -> Handled<Reply> {
    let (id, mut r) = resolve(ctx, release).await?;
    let effects = r.close(&ctx.actor, ctx.now).map_err(|e| e.about(id))?;
    save(ctx, id, &r, "close", "").await?;
    apply_effects(ctx, id, &r, effects).await?;
    Ok(Reply::in_channel(Message::text(format!(
        "{id} `{}` is closed. Retro: /release retro release:{id}",
        r.name
    ))))
}

/// Cancels a run: its overdue reminders stop, and the reply names the
/// freeze windows it opened that are still open (ending them is a choice).
async fn cancel(ctx: &mut Ctx<'_>, release: Option<RecordId>, reason: &str) -> Handled<Reply> {
    let (id, mut r) = resolve(ctx, release).await?;
    let effects = r
        .cancel(&ctx.actor, reason, ctx.now)
        .map_err(|e| e.about(id))?;
    save(ctx, id, &r, "cancel", reason).await?;
    for kind in [Overdue::KIND, ReadyPing::KIND] {
        store::jobs::cancel_for(&mut ctx.db, kind, &format!("{kind}:{id}:")).await?;
    }
    apply_effects(ctx, id, &r, effects).await?;
    let windows: Vec<_> = store::freeze::not_ended(&mut ctx.db, ctx.now)
        .await?
        .into_iter()
        .filter(|(_, w)| w.opened_by == id.to_string())
        .collect();
    let mut m = Message::text(format!(
        "{id} `{}` is cancelled; its reminders have stopped, and this channel can start another release.",
        r.name
    ));
    for (_, w) in &windows {
        m = m.line(
            Line::new()
                .text(format!("Still open from it: {} window on ", w.kind))
                .code(&w.target)
                .text(" until ")
                .time(w.ends_at)
                .text(format!(" (end it with /freeze end {})", w.target)),
        );
    }
    Ok(Reply::in_channel(m))
}

async fn run_task(
    ctx: &mut Ctx<'_>,
    release: Option<RecordId>,
    task: String,
    action: TaskAction,
) -> Handled<Reply> {
    let (id, mut r) = resolve(ctx, release).await?;
    let task = canonical(&r, task);
    let at = match &action {
        TaskAction::Start { at } | TaskAction::Done { at, .. } => at.unwrap_or(ctx.now),
        TaskAction::Skip { .. } => ctx.now,
    };
    if at > ctx.now {
        return Err(DomainError::invalid("at: cannot be in the future").into());
    }
    // an end before its start would make the retro lie
    if let TaskAction::Done { .. } = &action
        && let Ok(run) = r.task(&task)
        && let Some(started) = run.started_at
        && at < started
    {
        let tz = ctx.app.config.tz;
        return Err(DomainError::invalid(format!(
            "at: {} is before `{task}` was started ({}): give a time after its start, or leave at: out for now",
            local(at, tz),
            local(started, tz)
        ))
        .into());
    }
    // a notice that stands for a downtime window is done once /downtime
    // has announced (or completed) it; the window goes in its note
    let mut action = action;
    if let TaskAction::Done { note, .. } = &mut action
        && let Ok(run) = r.task(&task)
        && let Some(step) = run.spec.downtime
        && !run.state.finished()
    {
        // refusals about role and order come first: try it on a copy
        r.clone()
            .complete_task(&task, &ctx.actor, at, None)
            .map_err(|e| e.about(id))?;
        let window = downtime_window(ctx, &r, &task, step).await?;
        if note.is_none() {
            *note = Some(window);
        }
    }
    let name = action.name();
    let (effects, detail) = match action {
        TaskAction::Start { .. } => (r.start_task(&task, &ctx.actor, at), format!("task={task}")),
        TaskAction::Done { note, .. } => {
            let detail = format!(
                "task={task}{}",
                note.as_deref()
                    .map(|n| format!(" note={n}"))
                    .unwrap_or_default()
            );
            (r.complete_task(&task, &ctx.actor, at, note), detail)
        }
        TaskAction::Skip { reason } => (
            r.skip_task(&task, &ctx.actor, at, &reason),
            format!("task={task} reason={reason}"),
        ),
    };
    let effects = effects.map_err(|e| e.about(id))?;
    let action = format!("task.{name}");
    save(ctx, id, &r, &action, &detail).await?;
    apply_effects(ctx, id, &r, effects).await?;
    let state = r.task(&task).map(|t| t.state.as_str()).unwrap_or_default();
    Ok(Reply::in_channel(Message::text(format!(
        "{id} `{task}` is now {state}."
    ))))
}

/// The downtime window a notice task stands for (announced, or completed,
/// since the release started), as `DT-n env from … to …`; or a refusal
/// that says which `/downtime` command comes first.
async fn downtime_window(
    ctx: &mut Ctx<'_>,
    r: &Release,
    task: &str,
    step: DowntimeStep,
) -> Handled<String> {
    use crate::domain::downtime::State;
    let tz = ctx.app.config.tz;
    let windows: Vec<_> = store::downtime::in_states(&mut ctx.db, State::ALL, 1_000)
        .await?
        .into_iter()
        .filter(|w| w.downtime.created_at >= r.created_at && w.downtime.state != State::Cancelled)
        .collect();
    let wanted = windows.iter().rev().find(|w| match step {
        DowntimeStep::Announce => true,
        DowntimeStep::Complete => w.downtime.state == State::Completed,
    });
    if let Some(w) = wanted {
        let d = &w.downtime;
        let id = RecordId::new(RecordKind::Downtime, w.n);
        return Ok(format!(
            "{id} {} from {} to {}",
            d.environment,
            local(d.started_at.unwrap_or(d.start), tz),
            local(d.completed_at.unwrap_or(d.end), tz)
        ));
    }
    let message = match (
        step,
        windows.iter().rev().find(|w| w.downtime.state.is_live()),
    ) {
        (DowntimeStep::Announce, _) => format!(
            "`{task}` tells partners the downtime window: announce it first with /downtime announce env:<environment> start:\"YYYY-MM-DD HH:MM\" duration:<d> reason:… (partner channels and the status banner follow from it), then mark `{task}` done"
        ),
        (DowntimeStep::Complete, Some(live)) => format!(
            "`{task}` tells partners the window is over: complete it first with /downtime complete {} (partner channels and the status banner follow from it), then mark `{task}` done",
            RecordId::new(RecordKind::Downtime, live.n)
        ),
        (DowntimeStep::Complete, None) => format!(
            "`{task}` tells partners the downtime window is over, but no window was announced since this release started: announce and complete it with /downtime, or skip `{task}` with a reason"
        ),
    };
    Err(DomainError::conflict(message).into())
}

/// The task's own name for `typed` (`QA` → `qa`), or `typed` as it is.
fn canonical(r: &Release, typed: String) -> String {
    r.task(&typed).map(|t| t.spec.id.clone()).unwrap_or(typed)
}

/// Signs a gate (`Ok(note)`) or revokes its sign-off (`Err(reason)`).
async fn signoff(
    ctx: &mut Ctx<'_>,
    release: Option<RecordId>,
    gate: String,
    sign: Result<Option<String>, String>,
) -> Handled<Reply> {
    let (id, mut r) = resolve(ctx, release).await?;
    let gate = canonical(&r, gate);
    let (effects, action, detail) = match sign {
        Ok(note) => {
            let detail = format!(
                "gate={gate}{}",
                note.as_deref()
                    .map(|n| format!(" note={n}"))
                    .unwrap_or_default()
            );
            (r.sign(&gate, &ctx.actor, ctx.now, note), "signoff", detail)
        }
        Err(reason) => (
            r.revoke(
                &gate,
                &ctx.actor,
                ctx.now,
                &reason,
                &ctx.app.config.calendar.clone(),
            ),
            "signoff.revoke",
            format!("gate={gate} reason={reason}"),
        ),
    };
    let effects = effects.map_err(|e| e.about(id))?;
    save(ctx, id, &r, action, &detail).await?;
    apply_effects(ctx, id, &r, effects).await?;
    if action == "signoff" {
        // deploy requests waiting for this gate move on
        super::deploy::gate_signed(ctx, &r).await?;
    }
    let verb = if action == "signoff" {
        "signed"
    } else {
        "revoked"
    };
    Ok(Reply::in_channel(Message::text(format!(
        "{id} gate `{gate}` {verb}."
    ))))
}

async fn start(
    ctx: &mut Ctx<'_>,
    name: &str,
    template: &str,
    t0: Option<DateTime<Utc>>,
) -> Handled<Reply> {
    let config = ctx.app.config.clone();
    let runbook = config
        .section::<ReleaseRules>()
        .runbooks
        .get(template)
        .ok_or_else(|| {
            let names: Vec<&str> = config
                .section::<ReleaseRules>()
                .runbooks
                .keys()
                .map(String::as_str)
                .collect();
            DomainError::invalid(format!(
                "unknown template `{template}`: the templates are {}",
                names.join(", ")
            ))
        })?;
    let tz = config.tz;
    let t0 = match t0 {
        Some(t0) => t0,
        None => midnight(ctx.now.with_timezone(&tz).date_naive(), tz)?,
    };
    if let Some((open, r)) =
        store::release::open_in_channel(&mut ctx.db, &ctx.channel.to_string()).await?
    {
        let open = RecordId::new(RecordKind::Release, open);
        return Err(DomainError::conflict(format!(
            "{open} `{}` is still open in this channel: close it first, or start this one in another channel",
            r.name
        ))
        .into());
    }
    let (release, effects) = Release::start(
        name,
        runbook,
        t0,
        ctx.channel.clone(),
        &ctx.actor,
        ctx.now,
        &config.calendar,
    )?;
    let n = store::release::insert(&mut ctx.db, &release, ctx.now).await?;
    let id = RecordId::new(RecordKind::Release, n);
    ctx.audit(
        &id.to_string(),
        "start",
        &format!(
            "name={} template={template} t0={}",
            release.name,
            local(t0, tz)
        ),
    );
    apply_effects(ctx, id, &release, effects).await?;
    Ok(Reply::in_channel(plan(&id, &release, tz)))
}

async fn resolve(ctx: &mut Ctx<'_>, named: Option<RecordId>) -> Handled<(RecordId, Release)> {
    if let Some(id) = named {
        return match store::release::get(&mut ctx.db, id.n).await? {
            Some(r) => Ok((id, r)),
            None => Err(DomainError::not_found(format!("{id} does not exist")).into()),
        };
    }
    match store::release::open_in_channel(&mut ctx.db, &ctx.channel.to_string()).await? {
        Some((n, r)) => Ok((RecordId::new(RecordKind::Release, n), r)),
        None => Err(DomainError::not_found(
            "no release is open in this channel: name one with release:REL-n, or start one with /release start <name> template:<template>",
        )
        .into()),
    }
}

async fn save(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &Release,
    action: &str,
    detail: &str,
) -> Handled<()> {
    store::release::update(&mut ctx.db, id.n, r, ctx.now).await?;
    ctx.audit(&id.to_string(), action, detail);
    Ok(())
}

/// Turns release effects into announcements, overdue checks and freeze windows.
pub async fn apply_effects(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &Release,
    effects: Vec<Effect>,
) -> Handled<()> {
    for effect in effects {
        match effect {
            Effect::Announce(notice) => {
                let message = announcement(ctx, id, r, &notice).await?;
                let channel = r.channel.clone();
                ctx.post(&channel, &message, None);
            }
            Effect::Ready { task, not_before } => {
                // the opening of working hours on the day it can start, or
                // now when that is now
                let at = ctx.app.config.calendar.next_open(not_before.max(ctx.now));
                if at <= ctx.now {
                    let message = announcement(ctx, id, r, &Notice::TaskReady { task }).await?;
                    let channel = r.channel.clone();
                    ctx.post(&channel, &message, None);
                } else {
                    let payload = ReadyPayload {
                        id: id.n,
                        task,
                        at_ms: store::ms(at),
                    };
                    ReadyPing::schedule(ctx, &payload, at);
                }
            }
            Effect::ScheduleDigest { at } => {
                let payload = OverduePayload {
                    id: id.n,
                    task: None,
                    at_ms: store::ms(at),
                };
                Overdue::schedule(ctx, &payload, at);
            }
            Effect::EndWindow(end) => {
                let by = Line::new().text(id.to_string());
                super::freeze::close(ctx, &end.target, end.kind, by).await?;
            }
            Effect::OpenWindow(spec) => {
                super::freeze::open(
                    ctx,
                    &spec.target,
                    spec.kind,
                    ctx.now + spec.duration,
                    &spec.reason,
                    &id.to_string(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn announcement(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &Release,
    notice: &Notice,
) -> Handled<Message> {
    let tz = ctx.app.config.tz;
    let head = |emoji: &str| {
        Line::new()
            .text(format!("{emoji} "))
            .bold(id.to_string())
            .text(" ")
    };
    let title = |task: &str| {
        r.task(task)
            .map(|t| t.spec.title.clone())
            .unwrap_or_default()
    };
    let m = match notice {
        Notice::Started => Message::new().line(
            head("🚀")
                .code(&r.name)
                .text(format!(" started from `{}` by ", r.template))
                .user(&r.started_by)
                .text(format!(
                    ". T0 is {}; {} tasks. See /release plan",
                    local(r.t0, tz),
                    r.tasks.len()
                )),
        ),
        Notice::TaskReady { task } => {
            let Ok(t) = r.task(task) else {
                return Ok(Message::new());
            };
            let what = if t.spec.kind == TaskKind::Gate {
                format!("/signoff {task}")
            } else {
                format!("/task done {task}")
            };
            let line = head("▶️")
                .code(task)
                .text(format!(" is ready: {} — ", t.spec.title));
            Message::new().line(with_owners(ctx, line, &t.spec).await?.text(format!(
                " (planned by {}; then {what})",
                local(r.planned_end(&t.spec), tz)
            )))
        }
        Notice::TaskStarted { task, by } => {
            Message::new().line(head("🔧").code(task).text(" started by ").user(by))
        }
        Notice::TaskDone { task, by } => {
            let mut line = head("✅")
                .code(task)
                .text(format!(" done ({}) by ", title(task)))
                .user(by);
            if let Some(note) = r.task(task).ok().and_then(|t| t.note.clone()) {
                line = line.text(format!(": {note}"));
            }
            Message::new().line(line)
        }
        Notice::TaskSkipped { task, by, reason } => Message::new().line(
            head("⏭️")
                .code(task)
                .text(" skipped by ")
                .user(by)
                .text(format!(": {reason}")),
        ),
        Notice::Published { text, .. } => {
            Message::new().line(Line::new().text("📣 ").text(text.clone()))
        }
        Notice::Signed { gate, by } => Message::new().line(
            head("🖊️")
                .text(format!("gate `{gate}` ({}) signed off by ", title(gate)))
                .user(by)
                .text("."),
        ),
        Notice::Revoked {
            gate,
            by,
            reason,
            reopened,
        } => {
            let mut line = head("↩️")
                .text(format!("sign-off `{gate}` revoked by "))
                .user(by)
                .text(format!(": {reason}."));
            if !reopened.is_empty() {
                line = line.text(format!(" Reopened: {}.", reopened.join(", ")));
            }
            Message::new().line(line)
        }
        Notice::Overdue { late, waiting } => {
            let mut m = Message::new().line(head("⏰").code(&r.name).text(format!(
                ": {} overdue",
                count(late.len() as i64, "task is", "tasks are")
            )));
            for (task, days) in late {
                let Ok(t) = r.task(task) else { continue };
                let line = Line::new()
                    .text("  • ")
                    .code(task)
                    .text(format!(
                        " ({}), {}, planned by {} — ",
                        t.spec.title,
                        if *days == 0 {
                            "late since earlier today".to_string()
                        } else {
                            format!("{} late", count(*days, "working day", "working days"))
                        },
                        local(r.planned_end(&t.spec), tz)
                    ));
                m = m.line(with_owners(ctx, line, &t.spec).await?);
            }
            if !waiting.is_empty() {
                m = m.line(Line::new().text(format!(
                    "  Also past their planned dates, waiting on the above: {}",
                    waiting.join(", ")
                )));
            }
            m
        }
        Notice::Cancelled { by, reason } => Message::new().line(
            head("🛑")
                .code(&r.name)
                .text(" cancelled by ")
                .user(by)
                .text(format!(": {reason}")),
        ),
        Notice::Closed { by } => Message::new()
            .line(
                head("🏁")
                    .code(&r.name)
                    .text(" closed by ")
                    .user(by)
                    .text(format!(". Retro: /release retro release:{id}")),
            )
            .line(Line::new().text(
                "📝 Partners get release notes with every release: record what shipped with /version release <service> <semver> notes:<url>.",
            )),
    };
    Ok(m)
}

/// `line` followed by a mention of each of the task's owner roles.
async fn with_owners(ctx: &mut Ctx<'_>, mut line: Line, spec: &TaskSpec) -> Handled<Line> {
    for (i, role) in spec.owners().enumerate() {
        if i > 0 {
            line = line.text(" and ");
        }
        let members = super::roles::members_of(ctx, role).await?;
        line = line.role(role.clone(), members);
    }
    Ok(line)
}

fn date(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %Y-%m-%d").to_string()
}

/// The owner column's width: the longest owner label, at least 16.
fn owner_width(r: &Release) -> usize {
    r.tasks
        .iter()
        .map(|t| t.spec.owner_label().chars().count())
        .max()
        .unwrap_or(0)
        .max(16)
}

fn plan(id: &RecordId, r: &Release, tz: Tz) -> Message {
    let width = owner_width(r);
    let mut m = Message::new().line(
        Line::new()
            .text("📋 ")
            .bold(id.to_string())
            .text(" ")
            .code(&r.name)
            .text(format!(
                " ({}) — T0 {} in {}",
                r.template,
                date(r.t0, tz),
                r.channel
            )),
    );
    for t in &r.tasks {
        let start = r.planned_start(&t.spec);
        let last_day = r.planned_end(&t.spec) - chrono::TimeDelta::seconds(1);
        let span =
            if start.with_timezone(&tz).date_naive() == last_day.with_timezone(&tz).date_naive() {
                date(start, tz)
            } else {
                format!("{} → {}", date(start, tz), date(last_day, tz))
            };
        m = m.line(Line::new().text(format!(
            "  T+{:<3} {span:<31} {:<22} {:<7} {:<width$} {:<12} {}",
            t.spec.offset_days,
            t.spec.id,
            t.spec.kind.as_str(),
            t.spec.owner_label(),
            t.state.as_str(),
            t.spec.title
        )));
    }
    m
}

fn status(id: &RecordId, r: &Release, tz: Tz, now: DateTime<Utc>) -> Message {
    let done = r.tasks.iter().filter(|t| t.state.finished()).count();
    let mut m = Message::new().line(
        Line::new()
            .bold(id.to_string())
            .text(" ")
            .code(&r.name)
            .text(format!(
                ": {done} of {} tasks finished{}",
                r.tasks.len(),
                match r.state {
                    crate::domain::release::ReleaseState::Open => String::new(),
                    crate::domain::release::ReleaseState::Closed => " (closed)".to_string(),
                    crate::domain::release::ReleaseState::Cancelled => format!(
                        " (cancelled: {})",
                        r.cancel_reason.as_deref().unwrap_or("no reason recorded")
                    ),
                }
            )),
    );
    let list = |filter: &dyn Fn(&crate::domain::release::TaskRun) -> bool| -> Vec<String> {
        r.tasks
            .iter()
            .filter(|t| filter(t))
            .map(|t| format!("{} ({})", t.spec.id, t.spec.owner_label()))
            .collect()
    };
    let in_progress = list(&|t| t.state == TaskState::InProgress);
    let ready = r.ready_pending();
    let ready: Vec<String> = r
        .tasks
        .iter()
        .filter(|t| ready.contains(&t.spec.id))
        .map(|t| format!("{} ({})", t.spec.id, t.spec.owner_label()))
        .collect();
    let blocked: Vec<String> = r
        .tasks
        .iter()
        .filter(|t| t.state == TaskState::Pending)
        .filter_map(|t| {
            let b = r.blockers(&t.spec);
            (!b.is_empty()).then(|| format!("{} ← {}", t.spec.id, b.join(", ")))
        })
        .collect();
    let overdue: Vec<String> = r
        .tasks
        .iter()
        .filter(|t| !t.state.finished() && r.planned_end(&t.spec) <= now)
        .map(|t| {
            format!(
                "{} (planned by {})",
                t.spec.id,
                date(r.planned_end(&t.spec) - chrono::TimeDelta::seconds(1), tz)
            )
        })
        .collect();
    for (label, items) in [
        ("In progress", in_progress),
        ("Ready", ready),
        ("Blocked", blocked),
        ("Overdue", overdue),
    ] {
        if !items.is_empty() {
            m = m.line(Line::new().text(format!("  {label}: {}", items.join("; "))));
        }
    }
    m
}

fn task_list(id: &RecordId, r: &Release, tz: Tz) -> Message {
    let width = owner_width(r);
    let mut m = Message::text(format!("{id} `{}` tasks:", r.name));
    for t in &r.tasks {
        let when = t
            .finished_at
            .map(|f| format!(" at {}", local(f, tz)))
            .unwrap_or_default();
        m = m.line(Line::new().text(format!(
            "  {:<22} {:<7} {:<width$} {}{when}",
            t.spec.id,
            t.spec.kind.as_str(),
            t.spec.owner_label(),
            t.state.as_str()
        )));
    }
    m
}

fn gates(id: &RecordId, r: &Release, tz: Tz) -> Message {
    let mut m = Message::text(format!("{id} `{}` sign-offs:", r.name));
    let ready = r.ready_pending();
    for t in r.tasks.iter().filter(|t| t.spec.kind == TaskKind::Gate) {
        let line = match (&t.by, t.finished_at, t.state) {
            (Some(by), Some(at), TaskState::Done) => Line::new()
                .text(format!("  ✅ {} ({}) signed by ", t.spec.id, t.spec.owner))
                .user(by)
                .text(format!(" at {}", local(at, tz))),
            _ if ready.contains(&t.spec.id) => Line::new().text(format!(
                "  ⏳ {} ({}) ready to sign",
                t.spec.id, t.spec.owner
            )),
            _ => Line::new().text(format!(
                "  ⛔ {} ({}) waiting for {}",
                t.spec.id,
                t.spec.owner,
                r.blockers(&t.spec).join(", ")
            )),
        };
        m = m.line(line);
    }
    m
}

fn slip(row: &RetroRow) -> String {
    match row.slip_days {
        Some(0) => "on time".to_string(),
        Some(d) if d > 0 => format!("+{d}d"),
        Some(d) => format!("{d}d"),
        None => row.state.as_str().to_string(),
    }
}

fn retro(id: &RecordId, r: &Release, tz: Tz, cal: &WorkingCalendar) -> Message {
    let rows = r.retro(tz, cal);
    let slipped: Vec<&RetroRow> = rows
        .iter()
        .filter(|row| row.slip_days.is_some_and(|d| d > 0))
        .collect();
    let total: i64 = slipped.iter().filter_map(|row| row.slip_days).sum();
    let mut m = Message::text(format!(
        "📊 Retro {id} `{}` ({}): {} of {} slipped, {} in all",
        r.name,
        r.template,
        slipped.len(),
        count(rows.len() as i64, "task", "tasks"),
        count(total, "working day", "working days")
    ));
    m = m.line(Line::new().text(format!(
        "  {:<22} {:<11} {:<11} {}",
        "task", "planned", "actual", "slip"
    )));
    for row in &rows {
        let actual = row
            .actual_end
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into());
        m = m.line(Line::new().text(format!(
            "  {:<22} {:<11} {:<11} {}",
            row.id,
            row.planned_end.to_string(),
            actual,
            slip(row)
        )));
    }
    if !slipped.is_empty() {
        m = m.line(Line::new().text("Slipped:"));
        for row in &slipped {
            let note = row
                .note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            m = m.line(Line::new().text(format!("  {} {}{note}", row.id, slip(row))));
        }
    }
    m = m.line(Line::new().text("Sign-offs:"));
    for row in rows.iter().filter(|row| row.kind == TaskKind::Gate) {
        m = match (&row.by, row.finished_at, row.state) {
            (Some(by), Some(at), TaskState::Done) => m.line(
                Line::new()
                    .text(format!("  {} by ", row.id))
                    .user(by)
                    .text(format!(" at {}", local(at, tz))),
            ),
            _ => m.line(Line::new().text(format!("  {} not signed", row.id))),
        };
    }
    if !r.revocations.is_empty() {
        m = m.line(Line::new().text("Revoked sign-offs:"));
        for v in &r.revocations {
            let mut line = Line::new().text(format!("  {}", v.gate));
            if let Some((signer, signed_at)) = &v.signed {
                line = line
                    .text(" (signed by ")
                    .user(signer)
                    .text(format!(" at {})", local(*signed_at, tz)));
            }
            m = m.line(line.text(" revoked by ").user(&v.by).text(format!(
                " at {}: {}",
                local(v.at, tz),
                v.reason
            )));
        }
    }
    m
}

fn retro_markdown(id: &RecordId, r: &Release, tz: Tz, cal: &WorkingCalendar) -> String {
    let rows = r.retro(tz, cal);
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("## Retro: {id} {} ({})\n\n", r.name, r.template);
    out.push_str("| Task | Owner | Planned start | Planned end | Actual start | Actual end | Slip (days) | Note |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for row in &rows {
        let opt = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "—".into());
        let slip = match row.slip_days {
            Some(d) if d > 0 => format!("+{d}"),
            Some(d) => d.to_string(),
            None => row.state.as_str().to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&row.id),
            row.owner,
            row.planned_start,
            row.planned_end,
            opt(row.actual_start),
            opt(row.actual_end),
            slip,
            cell(row.note.as_deref().unwrap_or(""))
        ));
    }
    out.push_str("\n### Sign-offs\n\n");
    for row in rows.iter().filter(|row| row.kind == TaskKind::Gate) {
        match (&row.by, row.finished_at) {
            (Some(by), Some(at)) if row.state == TaskState::Done => {
                out.push_str(&format!("- {}: {by} at {}\n", row.id, local(at, tz)))
            }
            _ => out.push_str(&format!("- {}: not signed\n", row.id)),
        }
    }
    out
}

//! `/delete-request`: files, approves, objects, resolves, cancels, executes,
//! shows and lists deletion requests; turns the domain's effects into cards
//! in every `deletion.channels` channel and the cooling-off expiry job.

mod command;
mod config;
mod jobs;

pub use command::{DELETE_REQUEST, DeletionCommand, Filter};
pub use config::DeletionRules;
pub use jobs::{Expire, ExpirePayload, ReadyReminder};

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::listing::with_history;
use super::message::local;
use super::{Ctx, Line, Message, Reply};
use crate::domain::deletion::{DeletionRequest, Draft, Effect, Event, Notice, Policy, State};
use crate::domain::timing::format_duration;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store::{self, Reads};
use command::Create;

/// The deletion-request feature.
pub struct Deletion;

impl Feature for Deletion {
    const COMMANDS: &'static [&'static CommandSpec] = &[&DELETE_REQUEST];
    const JOBS: &'static [&'static dyn JobRunner] =
        &[&Runs::<Expire>::NEW, &Runs::<ReadyReminder>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<DeletionRules>::NEW];
    type Command = DeletionCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: DeletionCommand) -> Handled<Reply> {
        match command {
            DeletionCommand::Create(create) => self::create(ctx, create).await,
            DeletionCommand::Approve(id) => transition(ctx, id, "approve", Event::Approve).await,
            DeletionCommand::Object { id, reason } => {
                transition(ctx, id, "object", Event::Object { reason }).await
            }
            DeletionCommand::Resolve(id) => transition(ctx, id, "resolve", Event::Resolve).await,
            DeletionCommand::Cancel { id, reason } => {
                transition(ctx, id, "cancel", Event::Cancel { reason }).await
            }
            DeletionCommand::Done { id, note } => {
                transition(ctx, id, "done", Event::Done { note }).await
            }
            DeletionCommand::Show(id) => show(ctx, id).await,
            DeletionCommand::List(filter) => list(ctx, filter).await,
        }
    }

    fn reads(command: &DeletionCommand, reads: &mut Reads) {
        reads.deletions(command.id().map(|id| id.n));
    }
}

fn policy(ctx: &Ctx<'_>, r: &DeletionRequest) -> Policy {
    let rules = &ctx.app.config.section::<DeletionRules>();
    Policy {
        approvals_required: rules.approvals_required,
        cooling_off: rules.cooling_off_for(r.sensitivity),
        approver: rules.approver.clone(),
        product: rules.product.clone(),
        executor: rules.executor.clone(),
    }
}

async fn create(ctx: &mut Ctx<'_>, c: Create) -> Handled<Reply> {
    let draft = Draft {
        protected: ctx
            .app
            .config
            .section::<DeletionRules>()
            .is_protected(c.target.trim()),
        target: c.target,
        reason: c.reason,
        justification: c.justification,
        sensitivity: c.sensitivity,
        stakeholders: c.stakeholders,
        channel: ctx.channel.clone(),
    };
    let (request, effects) = DeletionRequest::create(draft, &ctx.actor, ctx.now)?;
    let n = store::deletion::insert(&mut ctx.db, &request, ctx.now).await?;
    let id = RecordId::new(RecordKind::DeletionRequest, n);
    let detail = format!(
        "target={} reason={} sensitivity={} justification={}",
        request.target, request.reason, request.sensitivity, request.justification
    );
    ctx.audit(&id.to_string(), "created", &detail);
    apply_effects(ctx, id, &request, effects).await?;
    let missing = request
        .missing_approvals(&policy(ctx, &request))
        .join(" and ");
    let line = Line::new()
        .text(format!("Filed {id}: delete "))
        .code(&request.target)
        .text(format!(". It needs {missing}; the card is posted to "));
    Ok(Reply::in_channel(
        Message::new().line(channel_list(ctx, line).text(".")),
    ))
}

/// Where the messages go: channels link on their own platform.
fn channel_list(ctx: &Ctx<'_>, line: Line) -> Line {
    let channels = &ctx.app.config.section::<DeletionRules>().channels;
    if channels.is_empty() {
        line.text("no channel (deletion.channels is empty)")
    } else {
        line.channels(channels)
    }
}

async fn load(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<(RecordId, DeletionRequest)> {
    match store::deletion::get(&mut ctx.db, id.n).await? {
        Some(r) => Ok((id, r)),
        None => Err(DomainError::not_found(format!(
            "{id} does not exist: see /delete-request list"
        ))
        .into()),
    }
}

async fn transition(ctx: &mut Ctx<'_>, id: RecordId, action: &str, event: Event) -> Handled<Reply> {
    let (id, mut request) = load(ctx, id).await?;
    let policy = policy(ctx, &request);
    let detail = match &event {
        Event::Object { reason } => format!("reason={reason}"),
        Event::Cancel { reason: Some(r) } => format!("reason={r}"),
        Event::Done { note: Some(n) } => format!("note={n}"),
        _ => String::new(),
    };
    let effects = request
        .apply(event, &ctx.actor, &policy, ctx.now)
        .map_err(|e| e.about(id))?;
    store::deletion::update(&mut ctx.db, id.n, &request, ctx.now);
    let detail = format!(
        "state={}{}{detail}",
        request.state,
        if detail.is_empty() { "" } else { " " }
    );
    ctx.audit(&id.to_string(), action, &detail);
    apply_effects(ctx, id, &request, effects).await?;
    Ok(Reply::in_channel(summary(ctx, id, &request)))
}

fn summary(ctx: &Ctx<'_>, id: RecordId, r: &DeletionRequest) -> Message {
    let line = Line::new()
        .bold(id.to_string())
        .text(" ")
        .code(&r.target)
        .text(format!(" is now {}", r.state));
    let line = match (r.state, r.cooling_off_until) {
        (State::CoolingOff, Some(until)) => line.text(" until ").time(until),
        (State::PendingApproval, _) => line.text(format!(
            "; needs {}",
            r.missing_approvals(&policy(ctx, r)).join(" and ")
        )),
        _ => line,
    };
    Message::new().line(line.text("."))
}

/// Turns domain effects into jobs and cards, in the command's transaction.
pub async fn apply_effects(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &DeletionRequest,
    effects: Vec<Effect>,
) -> Handled<()> {
    for effect in effects {
        match effect {
            Effect::ScheduleExpiry(until) => {
                let payload = ExpirePayload {
                    id: id.n,
                    until_ms: until.timestamp_millis(),
                };
                Expire::schedule(ctx, &payload, until);
            }
            Effect::Announce(notice) => {
                let message = announcement(ctx, id, r, &notice).await?;
                let channels = ctx.app.config.section::<DeletionRules>().channels.clone();
                ctx.post_all(&channels, &message);
            }
        }
    }
    Ok(())
}

async fn announcement(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &DeletionRequest,
    notice: &Notice,
) -> Handled<Message> {
    let head = |emoji: &str| {
        Line::new()
            .text(format!("{emoji} "))
            .bold(id.to_string())
            .text(" ")
            .code(&r.target)
    };
    let message = match notice {
        Notice::Created => {
            let app = ctx.app;
            let stewards =
                super::roles::members_of(ctx, &app.config.section::<DeletionRules>().approver)
                    .await?;
            let cooling = format_duration(
                ctx.app
                    .config
                    .section::<DeletionRules>()
                    .cooling_off_for(r.sensitivity),
            );
            let mut m = Message::new()
                .line(
                    head("🗑️")
                        .text(" deletion requested by ")
                        .user(&r.requester),
                )
                .line(Line::new().text(format!(
                    "Reason: {} · Sensitivity: {} (cooling-off {cooling})",
                    r.reason, r.sensitivity
                )))
                .line(Line::new().text(format!("Justification: {}", r.justification)));
            if !r.stakeholders.is_empty() {
                m = m.line(Line::new().text("Stakeholders: ").users(&r.stakeholders));
            }
            let mut needs = Line::new()
                .text(format!(
                    "Needs {}: ",
                    r.missing_approvals(&policy(ctx, r)).join(" and ")
                ))
                .role(
                    ctx.app.config.section::<DeletionRules>().approver.clone(),
                    stewards,
                );
            if r.needs_product {
                let app = ctx.app;
                let product =
                    super::roles::members_of(ctx, &app.config.section::<DeletionRules>().product)
                        .await?;
                needs = needs.text(" ").role(
                    ctx.app.config.section::<DeletionRules>().product.clone(),
                    product,
                );
            }
            m.line(needs)
                .button("Approve", format!("/delete-request approve {id}"), false)
                .button(
                    "Object",
                    format!("/delete-request object {id} reason:\"…\""),
                    true,
                )
        }
        Notice::Approved { by, missing } => Message::new().line(
            head("👍")
                .text(" approved by ")
                .user(by)
                .text(format!("; still needs {}.", missing.join(" and "))),
        ),
        Notice::CoolingOffStarted { until } => {
            let mut m = Message::new()
                .line(
                    head("⏳")
                        .text(" approved: cooling-off until ")
                        .time(*until)
                        .text("."),
                )
                .line(Line::new().text(format!(
                    "Anyone may object until then: /delete-request object {id} reason:\"…\""
                )));
            if !r.stakeholders.is_empty() {
                m = m.line(Line::new().text("Stakeholders: ").users(&r.stakeholders));
            }
            m
        }
        Notice::OnHold { by, reason } => {
            let app = ctx.app;
            let stewards =
                super::roles::members_of(ctx, &app.config.section::<DeletionRules>().approver)
                    .await?;
            Message::new()
                .line(
                    head("✋")
                        .text(" is on hold: ")
                        .user(by)
                        .text(format!(" objected: {reason}")),
                )
                .line(
                    Line::new()
                        .text("The clock is stopped. ")
                        .role(
                            ctx.app.config.section::<DeletionRules>().approver.clone(),
                            stewards,
                        )
                        .text(format!(" can resolve it with /delete-request resolve {id}")),
                )
        }
        Notice::Resumed { until: Some(until) } => Message::new().line(
            head("▶️")
                .text(" objections resolved; the full cooling-off restarts, until ")
                .time(*until)
                .text("."),
        ),
        Notice::Resumed { until: None } => {
            Message::new().line(head("▶️").text(" objections resolved; back to pending approval."))
        }
        Notice::Ready => {
            let app = ctx.app;
            let devops =
                super::roles::members_of(ctx, &app.config.section::<DeletionRules>().executor)
                    .await?;
            Message::new()
                .line(
                    head("🟢")
                        .text(" is ready: cooling-off has ended. Requested by ")
                        .user(&r.requester)
                        .text("."),
                )
                .line(Line::new().role(ctx.app.config.section::<DeletionRules>().executor.clone(), devops).text(format!(
                    " may now delete it and record it with /delete-request done {id} note:\"…\""
                )))
        }
        Notice::Cancelled { by } => {
            Message::new().line(head("🚫").text(" cancelled by ").user(by).text("."))
        }
        Notice::Done { by } => {
            let mut line = head("🏁").text(" deleted; recorded by ").user(by).text(".");
            if let Some(note) = &r.closed_note {
                line = line.text(format!(" Note: {note}"));
            }
            Message::new().line(line)
        }
    };
    Ok(message)
}

async fn show(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<Reply> {
    let (id, r) = load(ctx, id).await?;
    let tz = ctx.app.config.tz;
    let mut m = Message::new()
        .line(
            Line::new()
                .bold(id.to_string())
                .text(" ")
                .code(&r.target)
                .text(format!(" — {}", r.state)),
        )
        .line(
            Line::new()
                .text("Requested by ")
                .user(&r.requester)
                .text(format!(" at {}", local(r.created_at, tz))),
        )
        .line(Line::new().text(format!(
            "Reason: {} · Sensitivity: {} · Justification: {}",
            r.reason, r.sensitivity, r.justification
        )));
    if let Some(until) = r.cooling_off_until {
        m = m.line(Line::new().text("Cooling-off until ").time(until));
    }
    for a in &r.approvals {
        m = m.line(
            Line::new()
                .text(format!("Approved ({}) by ", a.role))
                .user(&a.by)
                .text(format!(" at {}", local(a.at, tz))),
        );
    }
    for o in &r.objections {
        let status = if o.resolved_by.is_some() {
            "resolved"
        } else {
            "open"
        };
        m = m.line(
            Line::new()
                .text("Objection by ")
                .user(&o.by)
                .text(format!(" ({status}): {}", o.reason)),
        );
    }
    let m = with_history(ctx, m, &id.to_string()).await?;
    Ok(Reply::private(m))
}

async fn list(ctx: &mut Ctx<'_>, filter: Filter) -> Handled<Reply> {
    let states = filter.states(|s| !matches!(s, State::Done | State::Cancelled));
    let filter = filter.name();
    let requests = store::deletion::list(&mut ctx.db, &states, 50).await?;
    if requests.is_empty() {
        return Ok(Reply::private(Message::text(format!(
            "No deletion requests ({filter})."
        ))));
    }
    let mut m = Message::text(format!("Deletion requests ({filter}):"));
    for (n, r) in requests {
        let id = RecordId::new(RecordKind::DeletionRequest, n);
        m = m.line(
            Line::new()
                .text(format!("  {id} · {} · ", r.state))
                .code(&r.target)
                .text(" · by ")
                .user(&r.requester),
        );
    }
    Ok(Reply::private(m))
}

/// Reminds devops of every request that is ready but not yet executed.
pub async fn remind_ready(ctx: &mut Ctx<'_>) -> Handled<()> {
    let ready = store::deletion::list(&mut ctx.db, &[State::Ready], 50).await?;
    if ready.is_empty() {
        return Ok(());
    }
    let app = ctx.app;
    let devops =
        super::roles::members_of(ctx, &app.config.section::<DeletionRules>().executor).await?;
    let mut m = Message::new().line(
        Line::new()
            .text(format!(
                "⏰ {} ready and waiting for ",
                super::message::count(ready.len() as i64, "deletion request", "deletion requests")
            ))
            .role(
                ctx.app.config.section::<DeletionRules>().executor.clone(),
                devops,
            )
            .text(":"),
    );
    for (n, r) in ready.iter().rev() {
        let id = RecordId::new(RecordKind::DeletionRequest, *n);
        let line = Line::new().text(format!("  {id} ")).code(&r.target);
        let line = match r.cooling_off_until {
            Some(since) => line.text(" ready since ").time(since),
            None => line,
        };
        m = m.line(line);
    }
    let channels = ctx.app.config.section::<DeletionRules>().channels.clone();
    ctx.post_all(&channels, &m);
    Ok(())
}

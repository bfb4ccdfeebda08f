//! `/deploy`: gated deploy requests (`DEP-n`). Files a request for a
//! configured target, checks its freezes and release windows (an admin may
//! override, audited and announced), takes approvals and objections by the
//! shared rules (`domain::approval`), waits for the release gate the target
//! requires, and then triggers the provider once ([`trigger`]). The request's
//! card in its channel is one living message, edited as it goes.
//!
//! Files: `command.rs` (grammar and typed command), `config.rs` (`[deploy]`
//! and `[github]`), `card.rs` (what chat shows), `gate.rs` (release gate,
//! freezes and windows), `trigger.rs` (the durable, exactly-once trigger).

mod card;
mod command;
mod config;
mod gate;
mod trigger;

pub use command::{DEPLOY, DeployCommand, Filter, Request};
pub use config::{DeployRules, GithubApi, Provider, Target};
pub use gate::gate_signed;
pub use trigger::{Trigger, TriggerPayload};

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::listing::with_history;
use super::pipeline_message::RunRecord;
use super::{App, Ctx, Line, Message, Reply};
use crate::domain::deploy::{DeployRequest, Draft, Effect, Event, Policy};
use crate::domain::{ChannelRef, DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store;

/// The deploy-request feature.
pub struct Deploys;

impl Feature for Deploys {
    const COMMANDS: &'static [&'static CommandSpec] = &[&DEPLOY];
    const JOBS: &'static [&'static dyn JobRunner] = &[&Runs::<Trigger>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] =
        &[&Checks::<DeployRules>::NEW, &Checks::<GithubApi>::NEW];
    type Command = DeployCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: DeployCommand) -> Handled<Reply> {
        match command {
            DeployCommand::Request(request) => file(ctx, request).await,
            DeployCommand::Approve(id) => transition(ctx, id, "approve", Event::Approve).await,
            DeployCommand::Object { id, reason } => {
                transition(ctx, id, "object", Event::Object { reason }).await
            }
            DeployCommand::Resolve(id) => transition(ctx, id, "resolve", Event::Resolve).await,
            DeployCommand::Cancel { id, reason } => {
                transition(ctx, id, "cancel", Event::Cancel { reason }).await
            }
            DeployCommand::Show(id) => show(ctx, id).await,
            DeployCommand::List(filter) => list(ctx, filter).await,
        }
    }
}

/// The configured target of `name`, or a refusal naming the targets.
fn target(ctx: &Ctx<'_>, name: &str) -> Result<Target, DomainError> {
    let rules = ctx.app.config.section::<DeployRules>();
    rules.target(name).cloned().ok_or_else(|| {
        DomainError::not_found(format!(
            "there is no deploy target `{name}`: targets are {}",
            rules.names()
        ))
    })
}

/// Refuses a target whose provider has no credentials configured.
fn require_credentials(ctx: &Ctx<'_>, target: &Target) -> Result<(), DomainError> {
    match &target.provider {
        Provider::Github { .. } if ctx.app.config.section::<GithubApi>().token.is_empty() => {
            Err(DomainError::conflict(format!(
                "`{}` deploys through GitHub, but github.token is not set: an admin must set it (SHIPMATE__GITHUB__TOKEN) before anything can be triggered",
                target.name
            )))
        }
        Provider::Github { .. } => Ok(()),
    }
}

async fn file(ctx: &mut Ctx<'_>, c: Request) -> Handled<Reply> {
    let target = target(ctx, &c.target)?;
    require_credentials(ctx, &target)?;
    let blocks = gate::blocks(ctx, &target).await?;
    let draft = Draft {
        target: target.name.clone(),
        environment: target.environment.clone(),
        git_ref: c.git_ref,
        reason: c.reason,
        channel: ctx.channel.clone(),
    };
    let mut request = DeployRequest::file(
        draft,
        &ctx.actor,
        &target.policy,
        blocks,
        c.override_reason,
        ctx.now,
    )?;
    let signed = gate::is_signed(ctx, &request).await?;
    let effects = request.filed(signed);
    let n = store::deploy::insert(&mut ctx.db, &request, ctx.now).await?;
    let id = RecordId::new(RecordKind::DeployRequest, n);
    let reason = request
        .reason
        .as_deref()
        .map(|r| format!(" reason={r}"))
        .unwrap_or_default();
    ctx.audit(
        &id.to_string(),
        "requested",
        &format!(
            "target={} environment={} ref={}{reason}",
            request.target, request.environment, request.git_ref
        ),
    );
    if let Some(o) = &request.overridden {
        ctx.audit(
            &id.to_string(),
            "override",
            &format!("reason={} overrode={}", o.reason, o.blocks.join("; ")),
        );
    }
    apply_effects(ctx, id, &request, effects).await?;
    let line = Line::new()
        .text(format!("Filed {id}: deploy "))
        .code(&request.git_ref)
        .text(format!(
            " to {} ({}). {}",
            request.target,
            request.environment,
            card::waiting_for(&request, &target.policy, signed)
        ));
    Ok(Reply::in_channel(Message::new().line(line)))
}

async fn load(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<DeployRequest> {
    match store::deploy::get(&mut ctx.db, id.n).await? {
        Some(r) => Ok(r),
        None => {
            Err(DomainError::not_found(format!("{id} does not exist: see /deploy list")).into())
        }
    }
}

/// The policy a request is held to: its target's, as configured now.
fn policy(ctx: &Ctx<'_>, id: RecordId, r: &DeployRequest) -> Result<Policy, DomainError> {
    target(ctx, &r.target).map(|t| t.policy).map_err(|_| {
        DomainError::conflict(format!(
            "{id}'s target `{}` is no longer configured: cancel it and file a new request",
            r.target
        ))
    })
}

async fn transition(ctx: &mut Ctx<'_>, id: RecordId, action: &str, event: Event) -> Handled<Reply> {
    let mut request = load(ctx, id).await?;
    let policy = match (&event, policy(ctx, id, &request)) {
        (_, Ok(policy)) => policy,
        // a request whose target is gone can still be withdrawn by its requester
        (Event::Cancel { .. }, Err(_)) => Policy {
            approvals: request.approvals_needed,
            approver_roles: Vec::new(),
            requester_roles: Vec::new(),
            requires: None,
        },
        (_, Err(e)) => return Err(e.into()),
    };
    let detail = match &event {
        Event::Object { reason } => format!(" reason={reason}"),
        Event::Cancel { reason: Some(r) } => format!(" reason={r}"),
        _ => String::new(),
    };
    let signed = gate::is_signed(ctx, &request).await?;
    let effects = request
        .apply(event, &ctx.actor, &policy, signed, ctx.now)
        .map_err(|e| e.about(id))?;
    store::deploy::update(&mut ctx.db, id.n, &request, ctx.now).await?;
    ctx.audit(
        &id.to_string(),
        action,
        &format!("state={}{detail}", request.state),
    );
    apply_effects(ctx, id, &request, effects).await?;
    let line = Line::new().bold(id.to_string()).text(format!(
        " is now {}: {}",
        request.state,
        card::waiting_for(&request, &policy, signed)
    ));
    Ok(Reply::in_channel(Message::new().line(line)))
}

/// Turns domain effects into the trigger job and messages, then redraws
/// the request's card, in the caller's transaction.
pub async fn apply_effects(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &DeployRequest,
    effects: Vec<Effect>,
) -> Handled<()> {
    for effect in effects {
        match effect {
            Effect::Trigger => {
                ctx.audit(&id.to_string(), "trigger.queued", "");
                Trigger::schedule(ctx, &TriggerPayload::first(id.n), ctx.now);
            }
            Effect::Announce(notice) => {
                let message = card::announcement(id, r, &notice);
                ctx.post(&r.channel, &message, None);
            }
        }
    }
    let target = ctx
        .app
        .config
        .section::<DeployRules>()
        .target(&r.target)
        .cloned();
    let signed = gate::is_signed(ctx, r).await?;
    let run = linked_run(ctx, r).await?;
    let message = card::card(id, r, target.as_ref(), signed, run.as_ref());
    ctx.post(&r.channel, &message, Some(&card::key(id)));
    Ok(())
}

/// The pipeline run `r` started, if its webhooks have reported it.
async fn linked_run(ctx: &mut Ctx<'_>, r: &DeployRequest) -> Handled<Option<RunRecord>> {
    let Some(key) = r.run_key() else {
        return Ok(None);
    };
    let body = store::pipeline::run_body(&mut ctx.db, &key).await?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// The card of request `n` showing the run it started (`rec`), for the
/// webhook writer: the channel, the message and its key.
pub fn card_with_run(
    app: &App,
    n: i64,
    r: &DeployRequest,
    rec: &RunRecord,
) -> (ChannelRef, Message, String) {
    let id = RecordId::new(RecordKind::DeployRequest, n);
    let target = app.config.section::<DeployRules>().target(&r.target);
    // a triggered request has passed its gate
    let message = card::card(id, r, target, true, Some(rec));
    (r.channel.clone(), message, card::key(id))
}

async fn show(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<Reply> {
    let r = load(ctx, id).await?;
    let target = ctx
        .app
        .config
        .section::<DeployRules>()
        .target(&r.target)
        .cloned();
    let signed = gate::is_signed(ctx, &r).await?;
    let run = linked_run(ctx, &r).await?;
    let mut m = card::card(id, &r, target.as_ref(), signed, run.as_ref());
    m.buttons.clear();
    let m = with_history(ctx, m, &id.to_string()).await?;
    Ok(Reply::private(m))
}

async fn list(ctx: &mut Ctx<'_>, filter: Filter) -> Handled<Reply> {
    let requests =
        store::deploy::list(&mut ctx.db, &filter.states(command::listed_open), 50).await?;
    if requests.is_empty() {
        return Ok(Reply::private(Message::text(format!(
            "No deploy requests ({}).",
            filter.name()
        ))));
    }
    let mut m = Message::text(format!("Deploy requests ({}):", filter.name()));
    for (n, r) in requests {
        let id = RecordId::new(RecordKind::DeployRequest, n);
        m = m.line(
            Line::new()
                .text(format!("  {id} · {} · {} ", r.state, r.target))
                .code(&r.git_ref)
                .text(" · by ")
                .user(&r.requester),
        );
    }
    Ok(Reply::private(m))
}

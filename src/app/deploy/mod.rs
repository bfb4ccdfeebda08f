//! `/deploy`, `/rollback` and `/pipeline rerun`: gated deploy requests (`DEP-n`). Files a request for a
//! configured target, checks its freezes and release windows (an admin may
//! override, audited and announced), takes approvals and objections by the
//! shared rules (`domain::approval`), waits for the release gate the target
//! requires, and then triggers the provider once ([`trigger`]). The request's
//! card in its channel is one living message, edited as it goes.
//!
//! Files: `command.rs` (grammar and typed command), `config.rs` (`[deploy]`
//! and `[github]`), `card.rs` (what chat shows), `earlier.rs` (the runs a
//! rollback or re-run starts from), `gate.rs` (release gate,
//! freezes and windows), `trigger.rs` (the durable, exactly-once trigger).

mod card;
mod command;
mod config;
mod earlier;
mod gate;
mod trigger;

pub use command::{DEPLOY, DeployCommand, Filter, ROLLBACK, Request, Rollback};
pub use config::{AwsApi, DeployRules, GithubApi, GitlabApi, Provider, Target};
pub use earlier::target_of;
pub use gate::gate_signed;
pub use trigger::{Trigger, TriggerPayload};

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::listing::with_history;
use super::pipeline_message::RunRecord;
use super::{App, Ctx, Line, Message, Reply};
use crate::domain::deploy::{
    DeployRequest, Draft, Effect, Event, Kind, Policy, Rerun, State, is_commit_id,
};
use crate::domain::pipeline::Source;
use crate::domain::release_window::is_production;
use crate::domain::{ChannelRef, DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store;

/// The deploy-request feature.
pub struct Deploys;

impl Feature for Deploys {
    const COMMANDS: &'static [&'static CommandSpec] = &[&DEPLOY, &ROLLBACK];
    const JOBS: &'static [&'static dyn JobRunner] = &[&Runs::<Trigger>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[
        &Checks::<DeployRules>::NEW,
        &Checks::<GithubApi>::NEW,
        &Checks::<GitlabApi>::NEW,
        &Checks::<AwsApi>::NEW,
    ];
    type Command = DeployCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: DeployCommand) -> Handled<Reply> {
        match command {
            DeployCommand::Request(c) => request(ctx, c).await,
            DeployCommand::Rollback(c) => rollback(ctx, c).await,
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
    let (missing, section, variable) = match &target.provider {
        Provider::Github { .. } => (
            ctx.app.config.section::<GithubApi>().token.is_empty(),
            "github",
            "SHIPMATE__GITHUB__TOKEN",
        ),
        Provider::Gitlab { .. } => (
            ctx.app.config.section::<GitlabApi>().token.is_empty(),
            "gitlab",
            "SHIPMATE__GITLAB__TOKEN",
        ),
        Provider::Aws { .. } => (
            !ctx.app.config.section::<AwsApi>().is_configured(),
            "aws",
            "aws.region, SHIPMATE__AWS__ACCESS_KEY_ID and SHIPMATE__AWS__SECRET_ACCESS_KEY",
        ),
        // its url and secret are checked with the configuration
        Provider::Generic { .. } => (false, "generic", ""),
    };
    if missing {
        return Err(DomainError::conflict(format!(
            "`{}` deploys through {section}, but its credentials are not set: an admin must set them ({variable}) before anything can be triggered",
            target.name
        )));
    }
    Ok(())
}

/// What is asked of a target, beside the target itself.
struct Ask {
    kind: Kind,
    git_ref: String,
    reason: Option<String>,
    override_reason: Option<String>,
    rolls_back_to: Option<String>,
    commit: Option<String>,
    rerun: Option<Rerun>,
}

async fn request(ctx: &mut Ctx<'_>, c: Request) -> Handled<Reply> {
    let target = target(ctx, &c.target)?;
    let ask = Ask {
        kind: Kind::Deploy,
        commit: is_commit_id(&c.git_ref).then(|| c.git_ref.to_ascii_lowercase()),
        git_ref: c.git_ref,
        reason: c.reason,
        override_reason: c.override_reason,
        rolls_back_to: None,
        rerun: None,
    };
    file(ctx, &target, ask).await
}

async fn rollback(ctx: &mut Ctx<'_>, c: Rollback) -> Handled<Reply> {
    let target = target(ctx, &c.target)?;
    let point = earlier::rollback_ref(ctx, &target, c.to.as_deref()).await?;
    let ask = Ask {
        kind: Kind::Rollback,
        git_ref: point.git_ref,
        reason: Some(c.reason),
        override_reason: c.override_reason,
        rolls_back_to: point.from,
        commit: point.commit,
        rerun: None,
    };
    file(ctx, &target, ask).await
}

/// `/pipeline rerun <run> [failed-only]`: a request to re-run a run of a
/// deploy target, held to that target's gates.
pub async fn rerun(
    ctx: &mut Ctx<'_>,
    run_id: &str,
    failed_only: bool,
    reason: Option<String>,
) -> Handled<Reply> {
    let mut rec = None;
    for source in [Source::Github, Source::Gitlab, Source::Aws, Source::Generic] {
        if rec.is_none() {
            rec = earlier::run(ctx, source, run_id).await?;
        }
    }
    let Some(rec) = rec else {
        return Err(DomainError::not_found(format!(
            "no run {run_id} has been seen: /pipeline history <pipeline> lists the runs"
        ))
        .into());
    };
    let rules = ctx.app.config.section::<DeployRules>();
    let Some(target) = earlier::target_of(rules, &rec).cloned() else {
        return Err(DomainError::not_found(format!(
            "run {run_id} ({} of {}, in {}) belongs to no deploy target: an admin adds a [[deploy.targets]] entry for its repository, project or pipeline in that environment",
            rec.run.source.as_str(),
            rec.run.repository.as_deref().unwrap_or(&rec.run.pipeline),
            rec.environment
        ))
        .into());
    };
    if let Provider::Aws { stage: None, .. } = target.provider {
        return Err(DomainError::conflict(format!(
            "`{}` names no stage: set its `stage` to retry a failed CodePipeline stage",
            target.name
        ))
        .into());
    }
    let ask = Ask {
        kind: Kind::Rerun,
        git_ref: rec.run.branch.clone().unwrap_or_else(|| run_id.to_string()),
        reason,
        override_reason: None,
        rolls_back_to: None,
        commit: None,
        rerun: Some(Rerun {
            run_id: run_id.to_string(),
            attempt: rec.run.attempt,
            failed_only,
        }),
    };
    file(ctx, &target, ask).await
}

/// Refuses what CodePipeline cannot start as asked: it starts its sources'
/// latest revisions unless told one commit of its source action, so a
/// rollback, or a deploy of a named commit, needs `source_action` and a
/// commit to give it.
fn startable(target: &Target, ask: &Ask) -> Result<(), DomainError> {
    let Provider::Aws { source_action, .. } = &target.provider else {
        return Ok(());
    };
    let name = &target.name;
    match (ask.kind, source_action, &ask.commit) {
        (Kind::Rerun, _, _) => Ok(()),
        (Kind::Rollback, None, _) | (Kind::Deploy, None, Some(_)) => {
            Err(DomainError::conflict(format!(
                "`{name}` starts its sources' latest revisions, so it cannot go to `{}`: an admin can name its CodePipeline source action (source_action = \"Source\" in its [[deploy.targets]]) so a commit can be started",
                ask.git_ref
            )))
        }
        (Kind::Rollback, Some(_), None) => Err(DomainError::conflict(format!(
            "`{}` names no commit, and CodePipeline starts a source revision by its commit id: roll back with to:<run> (a run that recorded its commit) or to:<commit id>",
            ask.git_ref
        ))),
        _ => Ok(()),
    }
}

async fn file(ctx: &mut Ctx<'_>, target: &Target, ask: Ask) -> Handled<Reply> {
    require_credentials(ctx, target)?;
    startable(target, &ask)?;
    let blocks = gate::blocks(ctx, target).await?;
    let draft = Draft {
        kind: ask.kind,
        target: target.name.clone(),
        environment: target.environment.clone(),
        git_ref: ask.git_ref,
        reason: ask.reason,
        channel: ctx.channel.clone(),
        rolls_back_to: ask.rolls_back_to,
        commit: ask.commit,
        rerun: ask.rerun,
    };
    let mut request = DeployRequest::file(
        draft,
        &ctx.actor,
        &target.policy,
        blocks,
        ask.override_reason,
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
            "kind={} target={} environment={} ref={}{reason}",
            request.kind, request.target, request.environment, request.git_ref
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
    let line = card::what(Line::new().text(format!("Filed {id}: ")), &request).text(format!(
        ". {}",
        card::waiting_for(&request, &target.policy, signed)
    ));
    let mut reply = Message::new().line(line);
    if let Provider::Aws { source_action, .. } = &target.provider
        && request.kind == Kind::Deploy
        && request.commit.is_none()
    {
        let how = if source_action.is_some() {
            "give a whole commit id to start that commit"
        } else {
            "an admin can set its source_action so a whole commit id can be started"
        };
        reply = reply.line(Line::new().text(format!(
            "CodePipeline starts the latest revisions of its sources: `{}` is recorded, not passed ({how}).",
            request.git_ref
        )));
    }
    if let Some(hint) = gate::no_release_to_sign(ctx, &request, signed).await? {
        reply = reply.line(Line::new().text(hint));
    }
    Ok(Reply::in_channel(reply))
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
    let before = request.state;
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
    let now = if request.state == before {
        "still"
    } else {
        "now"
    };
    let next = match request.state {
        // the state says it all
        State::Cancelled | State::Triggered => String::new(),
        _ => format!(" {}", card::waiting_for(&request, &policy, signed)),
    };
    let line = Line::new()
        .bold(id.to_string())
        .text(format!(" is {now} {}.{next}", request.state));
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

/// A failed production run of a deploy target gets **Re-run** and **Roll
/// back** buttons, each opening a deploy request.
pub fn with_failure_buttons(app: &App, rec: &RunRecord, m: Message) -> Message {
    let rules = app.config.section::<DeployRules>();
    let target = earlier::target_of(rules, rec);
    match target {
        Some(target) if rec.is_production_deploy() || is_production(&target.environment) => m
            .button(
                "Re-run",
                format!("/pipeline rerun {} failed-only", rec.run.run_id),
                false,
            )
            .button(
                "Roll back",
                format!("/rollback {} reason:\"…\"", target.name),
                true,
            ),
        _ => m,
    }
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
        let what = match (&r.kind, &r.rerun) {
            (Kind::Rerun, Some(rerun)) => format!("re-run of run {}", rerun.run_id),
            (Kind::Rollback, _) => "rollback to".to_string(),
            _ => "deploy".to_string(),
        };
        let line = Line::new().text(format!("  {id} · {} · {what} ", r.state));
        let line = if r.kind == Kind::Rerun {
            line.text(format!("→ {}", r.target))
        } else {
            line.code(&r.git_ref).text(format!(" → {}", r.target))
        };
        m = m.line(line.text(" · by ").user(&r.requester));
    }
    Ok(Reply::private(m))
}

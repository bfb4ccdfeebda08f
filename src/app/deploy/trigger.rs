//! The trigger of an approved deploy request, made at most once.
//!
//! The `deploy.trigger` job only starts an attempt: the provider is called
//! in a task of its own, outside the scheduler's write transaction, in
//! three steps, each of the two writes in its own transaction:
//!
//! 1. the attempt is recorded (its number, a lease, and — for a call — when
//!    it was sent), with a `deploy.trigger` job at the lease's end;
//! 2. the provider is called (or, when an earlier call may have reached
//!    it, its runs are looked at first and it is called only when none is
//!    found);
//! 3. the outcome is recorded, announced and shown on the card.
//!
//! A crash between 1 and 3 leaves the lease: the job at its end begins the
//! next attempt, which looks before it calls. An unanswered call (a
//! timeout, a 5xx) is handled the same way; a refusal is reported with the
//! provider's reason and never retried.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::config::inputs_for;
use super::gate;
use super::{AwsApi, DeployRules, GithubApi, GitlabApi, Provider, Target, apply_effects};
use crate::app::feature::Job;
use crate::app::{App, Ctx};
use crate::ci::trigger::{self as ci, aws, generic, github, gitlab};
use crate::domain::deploy::{Attempt, Begun, DeployRequest, Kind, Outcome, RunLink};
use crate::domain::{Actor, RecordId, RecordKind, RoleSet, UserRef};
use crate::store::{self, Pending, Session};

/// How long an attempt holds the trigger: longer than a call can take.
pub const LEASE: TimeDelta = TimeDelta::minutes(2);

/// Starts an attempt at a request's trigger.
pub struct Trigger;

/// Payload of [`Trigger`].
#[derive(Debug, Serialize, Deserialize)]
pub struct TriggerPayload {
    pub id: i64,
    /// The attempt whose lease this job follows (0: the first).
    pub after: u32,
}

impl TriggerPayload {
    pub fn first(id: i64) -> Self {
        Self { id, after: 0 }
    }
}

impl Job for Trigger {
    const KIND: &'static str = "deploy.trigger";
    type Payload = TriggerPayload;

    fn dedup_key(p: &TriggerPayload) -> Option<String> {
        let id = RecordId::new(RecordKind::DeployRequest, p.id);
        Some(format!("{}:{id}:{}", Self::KIND, p.after))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: TriggerPayload) -> anyhow::Result<()> {
        // the attempt begins in its own transaction, after this one commits
        spawn(ctx.app, payload.id);
        Ok(())
    }
}

/// Runs one attempt in the background.
pub fn spawn(app: &App, n: i64) {
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = attempt(&app, n).await {
            let id = RecordId::new(RecordKind::DeployRequest, n);
            tracing::error!(%id, error = format!("{e:#}"), "deploy trigger attempt failed");
        }
    });
}

/// One attempt: begin (recorded), call or look, record the outcome.
pub async fn attempt(app: &App, n: i64) -> anyhow::Result<()> {
    let Some((attempt, request, target)) = begin(app, n).await? else {
        return Ok(());
    };
    let outcome = call(app, &target, n, &request, attempt).await;
    finish(app, n, attempt.number(), outcome).await
}

/// Runs `step` in a transaction of its own as shipmate, and commits it.
async fn in_transaction<T>(
    app: &App,
    step: impl for<'c, 'd> AsyncFnOnce(&'c mut Ctx<'d>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut tx = app.db.begin().await?;
    let mut pending = Pending::default();
    let system = Actor {
        user: UserRef::console("shipmate"),
        person: "system".into(),
        roles: RoleSet::default(),
    };
    let mut ctx = Ctx::new(
        Session::new(&mut tx, &mut pending),
        app,
        system.clone(),
        crate::domain::ChannelRef::new(crate::domain::Platform::Console, "#shipmate"),
        app.clock.now(),
        ("shipmate".into(), "system".into()),
    );
    let value = step(&mut ctx).await?;
    ctx.db.flush().await?;
    let effects = ctx.effects();
    drop(ctx);
    tx.commit().await?;
    app.notify(effects);
    Ok(value)
}

/// Step 1: records the attempt and its lease, or finds there is nothing to do.
async fn begin(app: &App, n: i64) -> anyhow::Result<Option<(Attempt, DeployRequest, Target)>> {
    in_transaction(app, async |ctx| {
        let id = RecordId::new(RecordKind::DeployRequest, n);
        let Some(mut request) = store::deploy::get(&mut ctx.db, n).await? else {
            anyhow::bail!("{id} no longer exists");
        };
        let target = ctx
            .app
            .config
            .section::<DeployRules>()
            .target(&request.target)
            .cloned();
        if let Some(target) = &target {
            // a freeze or the windows may have closed in since it was filed
            let blocks = gate::blocks(ctx, target).await?;
            let effects = request.blocked(&blocks);
            if !effects.is_empty() {
                store::deploy::update(&mut ctx.db, n, &request, ctx.now).await?;
                ctx.audit(&id.to_string(), "trigger.blocked", &blocks.join("; "));
                apply_effects(ctx, id, &request, effects).await?;
                return Ok(None);
            }
        }
        let begun = request.begin_attempt(ctx.now, LEASE);
        let attempt = match begun {
            Begun::Nothing => return Ok(None),
            Begun::GaveUp(effects) => {
                store::deploy::update(&mut ctx.db, n, &request, ctx.now).await?;
                ctx.audit(
                    &id.to_string(),
                    "trigger.unconfirmed",
                    "every attempt spent",
                );
                apply_effects(ctx, id, &request, effects).await?;
                return Ok(None);
            }
            Begun::Attempt(attempt) => attempt,
        };
        let Some(target) = target else {
            // the target left the configuration: nothing can be called
            let effects = request.record(
                attempt.number(),
                Outcome::Refused(format!(
                    "the target `{}` is no longer configured",
                    request.target
                )),
            );
            store::deploy::update(&mut ctx.db, n, &request, ctx.now).await?;
            ctx.audit(
                &id.to_string(),
                "trigger.refused",
                "target no longer configured",
            );
            apply_effects(ctx, id, &request, effects).await?;
            return Ok(None);
        };
        store::deploy::update(&mut ctx.db, n, &request, ctx.now).await?;
        let (action, detail) = match attempt {
            Attempt::Call { number } => ("trigger.call", format!("attempt={number}")),
            Attempt::Check { number, .. } => (
                "trigger.check",
                format!("attempt={number} an earlier call may have reached the provider"),
            ),
        };
        ctx.audit(&id.to_string(), action, &detail);
        let guard = TriggerPayload {
            id: n,
            after: attempt.number(),
        };
        Trigger::schedule(ctx, &guard, ctx.now + LEASE);
        Ok(Some((attempt, request, target)))
    })
    .await
}

/// Step 2: the provider call (after a look at its runs, when an earlier call may have reached it).
async fn call(
    app: &App,
    target: &Target,
    n: i64,
    request: &DeployRequest,
    attempt: Attempt,
) -> Outcome {
    let id = RecordId::new(RecordKind::DeployRequest, n);
    let client = match ci::client() {
        Ok(c) => c,
        Err(e) => return Outcome::Unanswered(format!("no HTTP client: {e}")),
    };
    let rerun = request
        .rerun
        .as_ref()
        .filter(|_| request.kind == Kind::Rerun);
    match &target.provider {
        Provider::Github {
            repository,
            workflow,
            inputs,
        } => {
            let github = app.config.section::<GithubApi>();
            let api = github::Api {
                base: &github.base_url,
                token: &github.token,
            };
            if let Some(rerun) = rerun {
                let rerun = github::Rerun {
                    repository,
                    run_id: &rerun.run_id,
                    attempt: rerun.attempt,
                    failed_only: rerun.failed_only,
                };
                let look = github::find_rerun(&client, &api, &rerun);
                return look_then_call(attempt, look, github::rerun(&client, &api, &rerun)).await;
            }
            let inputs = inputs_for(inputs, request, id);
            let dispatch = github::Dispatch {
                repository,
                workflow,
                git_ref: &request.git_ref,
                inputs: &inputs,
            };
            let since = attempt.since();
            let look = github::find_run(&client, &api, &dispatch, since);
            look_then_call(attempt, look, github::dispatch(&client, &api, &dispatch)).await
        }
        Provider::Gitlab {
            project,
            git_ref,
            variables,
            job,
        } => {
            let gitlab = app.config.section::<GitlabApi>();
            let api = gitlab::Api {
                base: &gitlab.base_url,
                token: &gitlab.token,
            };
            if let Some(rerun) = rerun {
                let look = gitlab::find_retry(&client, &api, project, &rerun.run_id);
                let call = gitlab::retry(&client, &api, project, &rerun.run_id);
                return look_then_call(attempt, look, call).await;
            }
            if let Some(job) = job {
                let manual = gitlab::ManualJob {
                    project,
                    git_ref: git_ref.as_deref().unwrap_or(&request.git_ref),
                    job,
                };
                let look = gitlab::find_played(&client, &api, &manual);
                return look_then_call(attempt, look, gitlab::play(&client, &api, &manual)).await;
            }
            let variables = inputs_for(variables, request, id);
            let pipeline = gitlab::Pipeline {
                project,
                git_ref: git_ref.as_deref().unwrap_or(&request.git_ref),
                variables: &variables,
            };
            let look = gitlab::find_pipeline(&client, &api, &pipeline, attempt.since());
            look_then_call(attempt, look, gitlab::create(&client, &api, &pipeline)).await
        }
        Provider::Aws {
            pipeline,
            stage,
            source_action,
        } => {
            let config = app.config.section::<AwsApi>();
            let api = aws::Api {
                endpoint: &config.endpoint,
                region: &config.region,
                access_key_id: &config.access_key_id,
                secret_access_key: &config.secret_access_key,
            };
            let now = app.clock.now();
            if let Some(rerun) = rerun {
                let Some(stage) = stage else {
                    return Outcome::Refused(format!("`{}` names no stage to retry", target.name));
                };
                let retry = aws::StageRetry {
                    pipeline,
                    stage,
                    execution_id: &rerun.run_id,
                    failed_only: rerun.failed_only,
                };
                let look = aws::find_stage_retry(&client, &api, &retry, now);
                return look_then_call(attempt, look, aws::retry_stage(&client, &api, &retry, now))
                    .await;
            }
            // the token makes a repeated call answer with the execution it started
            let token = format!("shipmate-{id}");
            let execution = aws::Execution {
                pipeline,
                token: &token,
                revision: source_action.as_deref().zip(request.commit.as_deref()),
            };
            aws::start(&client, &api, &execution, now).await
        }
        Provider::Generic { url, secret, .. } => {
            let body = serde_json::json!({
                "request": id.to_string(),
                "kind": request.kind,
                "target": request.target,
                "environment": request.environment,
                "ref": request.git_ref,
                "commit": request.commit,
                "reason": request.reason,
                "requested_by": request.requester.to_string(),
                "rolls_back_to": request.rolls_back_to,
                "rerun": request.rerun.as_ref().map(|r| serde_json::json!({
                    "run_id": r.run_id,
                    "failed_only": r.failed_only,
                })),
            });
            // the key makes a repeated post answer with the run it started
            let key = format!("shipmate-{id}");
            generic::post(&client, url, secret, &key, &body, app.clock.now()).await
        }
    }
}

/// An attempt after one that may have reached the provider `look`s first
/// and makes the `call` only when it finds nothing; a first attempt calls.
async fn look_then_call(
    attempt: Attempt,
    look: impl Future<Output = Result<Option<RunLink>, String>>,
    call: impl Future<Output = Outcome>,
) -> Outcome {
    if let Attempt::Check { .. } = attempt {
        match look.await {
            Ok(Some(run)) => return Outcome::Started(Some(run)),
            Ok(None) => {}
            Err(reason) => return Outcome::Unanswered(reason),
        }
    }
    call.await
}

/// Step 3: records the outcome of attempt `number`.
async fn finish(app: &App, n: i64, number: u32, outcome: Outcome) -> anyhow::Result<()> {
    in_transaction(app, async |ctx| {
        let id = RecordId::new(RecordKind::DeployRequest, n);
        let Some(mut request) = store::deploy::get(&mut ctx.db, n).await? else {
            anyhow::bail!("{id} no longer exists");
        };
        let (action, detail) = match &outcome {
            Outcome::Started(Some(run)) => (
                "trigger.started",
                format!(
                    "run={}{}",
                    run.id,
                    run.url
                        .as_deref()
                        .map(|u| format!(" url={u}"))
                        .unwrap_or_default()
                ),
            ),
            Outcome::Started(None) => (
                "trigger.started",
                "the provider did not name the run".to_string(),
            ),
            Outcome::Refused(reason) => ("trigger.refused", reason.clone()),
            Outcome::Unanswered(reason) => ("trigger.unanswered", reason.clone()),
        };
        let effects = request.record(number, outcome);
        if effects.is_empty() {
            tracing::debug!(%id, number, "a stale trigger outcome ignored");
            return Ok(());
        }
        store::deploy::update(&mut ctx.db, n, &request, ctx.now).await?;
        ctx.audit(
            &id.to_string(),
            action,
            &format!("attempt={number} {detail}"),
        );
        apply_effects(ctx, id, &request, effects).await?;
        Ok(())
    })
    .await
}

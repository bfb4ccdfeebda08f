//! What a deploy request looks like in chat: its card (one living message
//! in the request's channel: what will run, where, what it waits for, and
//! how the trigger went), and the announcements beside it.

use std::collections::BTreeMap;

use super::config::inputs_for;
use super::{Provider, Target};
use crate::app::pipeline_message::{RunRecord, summary};
use crate::app::{Line, Message};
use crate::domain::RecordId;
use crate::domain::deploy::{DeployRequest, Kind, Notice, Policy, State};

/// The card's message key: later versions edit it in place.
pub fn key(id: RecordId) -> String {
    format!("deploy:{id}")
}

fn roles(policy: &Policy) -> String {
    policy
        .approver_roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What the request does, after `line`: `deploy `v2.4.0` → portal-prod (production)`.
pub fn what(line: Line, r: &DeployRequest) -> Line {
    let place = format!("{} ({})", r.target, r.environment);
    match (&r.kind, &r.rerun) {
        (Kind::Rerun, Some(rerun)) => line.text(format!(
            "re-run {} of run {} → {place}",
            if rerun.failed_only {
                "the failed jobs"
            } else {
                "every job"
            },
            rerun.run_id
        )),
        (Kind::Rollback, _) => {
            let from = r
                .rolls_back_to
                .as_deref()
                .map(|f| format!(", from {f}"))
                .unwrap_or_default();
            line.text("roll back to ")
                .code(&r.git_ref)
                .text(format!(" → {place}{from}"))
        }
        _ => line
            .text("deploy ")
            .code(&r.git_ref)
            .text(format!(" → {place}")),
    }
}

/// What the request waits for, as a sentence.
pub fn waiting_for(r: &DeployRequest, policy: &Policy, signed: bool) -> String {
    let gate = r.requires.as_ref().map(|g| {
        if signed {
            format!("release gate {g} (signed)")
        } else {
            format!("release gate {g} (not signed yet)")
        }
    });
    match r.state {
        State::PendingApproval => {
            let n = r.missing();
            let mut text = format!(
                "Waits for {n} more approval{} from {}",
                if n == 1 { "" } else { "s" },
                roles(policy)
            );
            if let Some(gate) = gate {
                text.push_str(&format!(" and {gate}"));
            }
            text + "."
        }
        State::OnHold => "Held by an objection until an approver resolves it.".to_string(),
        State::WaitingGate => format!("Approved; waits for {}.", gate.unwrap_or_default()),
        State::Triggering => "Approved; the trigger is queued.".to_string(),
        State::Triggered => "Triggered.".to_string(),
        State::Refused => "Not triggered (the reason is below).".to_string(),
        State::Unconfirmed => {
            "The trigger was never confirmed: check the provider before filing again.".to_string()
        }
        State::Cancelled => "Cancelled.".to_string(),
    }
}

/// `line` and ` with `k=v, …``: a target's inputs or variables for this request.
fn with_values(
    line: Line,
    values: &BTreeMap<String, String>,
    r: &DeployRequest,
    id: RecordId,
) -> Line {
    if values.is_empty() {
        return line;
    }
    let text = inputs_for(values, r, id)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    line.text(" with ").code(text)
}

/// The run a re-run repeats, and whether only its failed jobs.
fn rerun_of(r: &DeployRequest) -> (&str, bool) {
    r.rerun
        .as_ref()
        .map(|x| (x.run_id.as_str(), x.failed_only))
        .unwrap_or_default()
}

/// What the provider will run, in words.
fn what_runs(target: &Target, id: RecordId, r: &DeployRequest) -> Line {
    match &target.provider {
        Provider::Github { repository, .. } if r.kind == Kind::Rerun => {
            let (run, failed) = rerun_of(r);
            let jobs = if failed { "failed jobs" } else { "jobs" };
            Line::new().text(format!(
                "Runs: GitHub re-run of the {jobs} of run {run} in {repository}"
            ))
        }
        Provider::Github {
            repository,
            workflow,
            inputs,
        } => {
            let line = Line::new()
                .text("Runs: GitHub workflow ")
                .code(workflow.clone())
                .text(format!(" of {repository} on "))
                .code(&r.git_ref);
            with_values(line, inputs, r, id)
        }
        Provider::Aws {
            pipeline, stage, ..
        } if r.kind == Kind::Rerun => {
            let (run, failed) = rerun_of(r);
            let actions = if failed { "failed actions" } else { "actions" };
            Line::new().text(format!(
                "Runs: AWS CodePipeline retry of the {actions} of stage {} of {pipeline} in execution {run}",
                stage.as_deref().unwrap_or("?")
            ))
        }
        Provider::Aws {
            pipeline,
            source_action,
            ..
        } => {
            let line = Line::new()
                .text("Runs: AWS CodePipeline ")
                .code(pipeline.clone());
            let line = match (source_action, &r.commit) {
                (Some(action), Some(commit)) => line
                    .text(" (a new execution of commit ")
                    .code(commit.clone())
                    .text(format!(" in source action {action}")),
                _ => line.text(" (a new execution of its sources' latest revisions"),
            };
            line.text(format!("; idempotency token shipmate-{id})"))
        }
        Provider::Generic { url, .. } if r.kind == Kind::Rerun => {
            let (run, failed) = rerun_of(r);
            let jobs = if failed { "failed jobs" } else { "jobs" };
            Line::new().text(format!(
                "Runs: a signed webhook to {url} asking to re-run the {jobs} of run {run} (Idempotency-Key shipmate-{id})"
            ))
        }
        Provider::Generic { url, .. } => Line::new().text(format!(
            "Runs: a signed webhook to {url} (Idempotency-Key shipmate-{id})"
        )),
        Provider::Gitlab { project, .. } if r.kind == Kind::Rerun => {
            let run = r
                .rerun
                .as_ref()
                .map(|x| x.run_id.as_str())
                .unwrap_or_default();
            Line::new().text(format!(
                "Runs: GitLab retry of the failed jobs of pipeline {run} in {project}"
            ))
        }
        Provider::Gitlab {
            project,
            git_ref,
            job: Some(job),
            ..
        } => Line::new()
            .text(format!(
                "Runs: GitLab manual job `{job}` of {project}, played in the newest pipeline on "
            ))
            .code(git_ref.as_deref().unwrap_or(&r.git_ref)),
        Provider::Gitlab {
            project,
            git_ref,
            variables,
            job: None,
        } => {
            let line = Line::new()
                .text(format!("Runs: GitLab pipeline of {project} on "))
                .code(git_ref.as_deref().unwrap_or(&r.git_ref));
            with_values(line, variables, r, id)
        }
    }
}

/// The request's card; `run` is the pipeline run it started, as its webhooks reported it.
pub fn card(
    id: RecordId,
    r: &DeployRequest,
    target: Option<&Target>,
    signed: bool,
    run: Option<&RunRecord>,
) -> Message {
    let head = what(Line::new().text("🚀 ").bold(id.to_string()).text(" "), r);
    let mut m = Message::new().line(
        head.text(format!(" · {} · requested by ", r.state))
            .user(&r.requester),
    );
    if let Some(target) = target {
        m = m.line(what_runs(target, id, r));
    }
    if let Some(reason) = &r.reason {
        m = m.line(Line::new().text(format!("Reason: {reason}")));
    }
    if let Some(o) = &r.overridden {
        m = m.line(
            Line::new()
                .text("⚠️ Filed although ")
                .text(o.blocks.join("; "))
                .text(": override by ")
                .user(&o.by)
                .text(format!(" — {}", o.reason)),
        );
    }
    if !r.approvals.is_empty() {
        let mut line = Line::new().text("Approved by ");
        for (i, a) in r.approvals.iter().enumerate() {
            if i > 0 {
                line = line.text(", ");
            }
            line = line.user(&a.by).text(format!(" ({})", a.role));
        }
        m = m.line(line);
    }
    for o in r.objections.iter().filter(|o| o.resolved_by.is_none()) {
        m = m.line(
            Line::new()
                .text("✋ Objection by ")
                .user(&o.by)
                .text(format!(": {}", o.reason)),
        );
    }
    let policy = target.map(|t| t.policy.clone()).unwrap_or(Policy {
        approvals: r.approvals_needed,
        approver_roles: Vec::new(),
        requester_roles: Vec::new(),
        requires: r.requires.clone(),
    });
    m = m.line(Line::new().text(waiting_for(r, &policy, signed)));
    match (run, &r.trigger.run) {
        (Some(rec), _) => m = m.line(summary(rec)),
        (None, Some(run)) => {
            let url = run
                .url
                .as_deref()
                .map(|u| format!(" · {u}"))
                .unwrap_or_default();
            m = m.line(Line::new().text(format!("Run {}{url}", run.id)));
        }
        (None, None) => {}
    }
    if let Some(note) = &r.trigger.note {
        // the provider's answer names the provider; a check of shipmate's
        // own (a freeze begun after approval) names itself
        m = m.line(Line::new().text(format!("Why: {note}")));
    }
    if matches!(r.state, State::PendingApproval) {
        m = m
            .button("Approve", format!("/deploy approve {id}"), false)
            .button("Object", format!("/deploy object {id} reason:\"…\""), true);
    } else if matches!(r.state, State::WaitingGate | State::OnHold) {
        m = m.button("Object", format!("/deploy object {id} reason:\"…\""), true);
    }
    m
}

/// An announcement beside the card.
pub fn announcement(id: RecordId, r: &DeployRequest, notice: &Notice) -> Message {
    let head = |emoji: &str| {
        Line::new()
            .text(format!("{emoji} "))
            .bold(id.to_string())
            .text(format!(" {} ", r.target))
            .code(&r.git_ref)
    };
    let line = match notice {
        Notice::Overridden => {
            let (by, reason, blocks) = match &r.overridden {
                Some(o) => (Some(&o.by), o.reason.as_str(), o.blocks.join("; ")),
                None => (None, "", String::new()),
            };
            let mut line = head("⚠️").text(format!(" filed although {blocks}: override by "));
            if let Some(by) = by {
                line = line.user(by);
            }
            line.text(format!(" — {reason}"))
        }
        Notice::Triggered => {
            let run = match &r.trigger.run {
                Some(run) => format!(
                    ": run {}{}",
                    run.id,
                    run.url
                        .as_deref()
                        .map(|u| format!(" {u}"))
                        .unwrap_or_default()
                ),
                None => " (the provider did not name the run)".to_string(),
            };
            head("▶️").text(format!(" triggered{run}"))
        }
        Notice::Refused => head("⛔").text(format!(
            " was not triggered: {}",
            r.trigger
                .note
                .as_deref()
                .unwrap_or("the provider refused it")
        )),
        Notice::Unanswered { reason } => head("❔").text(format!(
            " trigger unanswered ({reason}); shipmate makes sure it did not run before trying again"
        )),
        Notice::Unconfirmed => head("❔").text(format!(
            " trigger never confirmed after {} attempts; check the provider before filing again",
            r.trigger.attempts
        )),
    };
    Message::new().line(line)
}

//! GitHub webhooks (`X-GitHub-Event`): `workflow_run`, `workflow_job`,
//! `check_suite`, `deployment` and `deployment_status` become run events;
//! `ping` and every other valid event are acknowledged and ignored.
//!
//! Identity: a workflow run is `run id + run_attempt` (a re-run is a new
//! message); a check suite is `suite-<id>`; a deployment is
//! `deployment-<id>`, its statuses folding into it. Order comes from the
//! payload's `updated_at` / `completed_at`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Intake, Malformed, from_json, non_empty};
use crate::domain::pipeline::{Job, RunEvent, Source, Status};
use crate::domain::release_window::is_production;

#[derive(Deserialize)]
struct Repo {
    full_name: String,
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

#[derive(Deserialize)]
struct WorkflowRunPayload {
    workflow_run: WorkflowRun,
    workflow: Option<Named>,
    repository: Option<Repo>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct WorkflowRun {
    id: u64,
    name: Option<String>,
    run_number: Option<u64>,
    run_attempt: Option<u32>,
    status: Option<String>,
    conclusion: Option<String>,
    head_branch: Option<String>,
    head_sha: Option<String>,
    html_url: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    run_started_at: Option<DateTime<Utc>>,
    actor: Option<Login>,
}

#[derive(Deserialize)]
struct WorkflowJobPayload {
    workflow_job: WorkflowJob,
    repository: Option<Repo>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct WorkflowJob {
    id: u64,
    run_id: u64,
    run_attempt: Option<u32>,
    workflow_name: Option<String>,
    name: String,
    status: Option<String>,
    conclusion: Option<String>,
    head_branch: Option<String>,
    head_sha: Option<String>,
    html_url: Option<String>,
    created_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct CheckSuitePayload {
    check_suite: CheckSuite,
    repository: Option<Repo>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct CheckSuite {
    id: u64,
    status: Option<String>,
    conclusion: Option<String>,
    head_branch: Option<String>,
    head_sha: Option<String>,
    app: Option<Named>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct DeploymentPayload {
    deployment: Deployment,
    deployment_status: Option<DeploymentStatus>,
    workflow: Option<Named>,
    workflow_run: Option<WorkflowRun>,
    repository: Option<Repo>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct Deployment {
    id: u64,
    task: Option<String>,
    environment: Option<String>,
    production_environment: Option<bool>,
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    creator: Option<Login>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct DeploymentStatus {
    state: String,
    target_url: Option<String>,
    log_url: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
}

/// `status` + `conclusion` of workflow runs, jobs and check suites.
fn status(status: Option<&str>, conclusion: Option<&str>) -> Option<Status> {
    Some(match (status?, conclusion) {
        ("queued" | "requested" | "pending", _) => Status::Queued,
        ("waiting", _) => Status::Waiting,
        ("in_progress", _) => Status::Running,
        ("completed", Some(c)) => match c {
            "success" | "neutral" => Status::Succeeded,
            "failure" | "startup_failure" => Status::Failed,
            "timed_out" => Status::TimedOut,
            "cancelled" | "stale" => Status::Cancelled,
            "skipped" => Status::Skipped,
            // Waiting for someone to approve the run: not finished.
            "action_required" => Status::Waiting,
            _ => return None,
        },
        _ => return None,
    })
}

fn deployment_state(state: &str) -> Option<Status> {
    Some(match state {
        "pending" | "queued" => Status::Queued,
        "waiting" => Status::Waiting,
        "in_progress" => Status::Running,
        "success" => Status::Succeeded,
        "failure" | "error" => Status::Failed,
        // `inactive` only says a newer deployment replaced this one.
        _ => return None,
    })
}

fn repo_name(repo: &Option<Repo>) -> Option<String> {
    repo.as_ref().map(|r| r.full_name.clone())
}

/// Parses one delivery of `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Intake, Malformed> {
    let e = match event {
        "workflow_run" => workflow_run(from_json(body)?),
        "workflow_job" => workflow_job(from_json(body)?),
        "check_suite" => check_suite(from_json(body)?),
        "deployment" | "deployment_status" => deployment(from_json(body)?),
        _ => {
            // Still has to be JSON: a garbled ping is a sender problem worth a 400.
            from_json::<serde_json::Value>(body)?;
            return Ok(Intake::Ignored);
        }
    };
    Ok(Intake::Event(Box::new(e)))
}

fn workflow_run(p: WorkflowRunPayload) -> RunEvent {
    let r = p.workflow_run;
    let name = non_empty(&r.name)
        .or_else(|| p.workflow.and_then(|w| non_empty(&w.name)))
        .unwrap_or_else(|| format!("workflow {}", r.id));
    let mut e = RunEvent::new(Source::Github, r.id.to_string(), name);
    e.attempt = r.run_attempt.unwrap_or(1);
    e.number = r.run_number;
    e.repository = repo_name(&p.repository);
    e.branch = r.head_branch;
    e.commit = r.head_sha;
    e.url = r.html_url;
    e.actor = r.actor.or(p.sender).map(|a| a.login);
    e.status = status(r.status.as_deref(), r.conclusion.as_deref());
    e.started_at = r.run_started_at;
    e.at = r.updated_at;
    if e.status.is_some_and(Status::is_finished) {
        e.finished_at = r.updated_at;
    }
    e
}

fn workflow_job(p: WorkflowJobPayload) -> RunEvent {
    let j = p.workflow_job;
    let mut e = RunEvent::new(Source::Github, j.run_id.to_string(), "");
    e.pipeline = non_empty(&j.workflow_name);
    e.authoritative = false;
    e.attempt = j.run_attempt.unwrap_or(1);
    e.repository = repo_name(&p.repository);
    e.branch = j.head_branch;
    e.commit = j.head_sha;
    e.actor = p.sender.map(|s| s.login);
    e.at = j.completed_at.or(j.started_at).or(j.created_at);
    if let Some(status) = status(j.status.as_deref(), j.conclusion.as_deref()) {
        e.jobs.push(Job {
            id: j.id.to_string(),
            name: j.name,
            stage: None,
            status,
            url: j.html_url,
            started_at: j.started_at,
            finished_at: j.completed_at,
            at: e.at,
        });
    }
    e
}

fn check_suite(p: CheckSuitePayload) -> RunEvent {
    let s = p.check_suite;
    let app = s
        .app
        .and_then(|a| non_empty(&a.name))
        .unwrap_or_else(|| "checks".into());
    let mut e = RunEvent::new(Source::Github, format!("suite-{}", s.id), app);
    e.repository = repo_name(&p.repository);
    e.url = match (&p.repository, &s.head_sha) {
        (
            Some(Repo {
                html_url: Some(base),
                ..
            }),
            Some(sha),
        ) => Some(format!("{base}/commit/{sha}/checks")),
        _ => None,
    };
    e.branch = s.head_branch;
    e.commit = s.head_sha;
    e.actor = p.sender.map(|s| s.login);
    e.status = status(s.status.as_deref(), s.conclusion.as_deref());
    e.started_at = s.created_at;
    e.at = s.updated_at;
    if e.status.is_some_and(Status::is_finished) {
        e.finished_at = s.updated_at;
    }
    e
}

fn deployment(p: DeploymentPayload) -> RunEvent {
    let d = p.deployment;
    let environment = non_empty(&d.environment);
    let name = p
        .workflow
        .and_then(|w| non_empty(&w.name))
        .or_else(|| non_empty(&d.task))
        .unwrap_or_else(|| "deploy".into());
    let mut e = RunEvent::new(Source::Github, format!("deployment-{}", d.id), name);
    e.deployment = true;
    e.production = d
        .production_environment
        .unwrap_or_else(|| environment.as_deref().is_some_and(is_production));
    e.environment = environment;
    e.repository = repo_name(&p.repository);
    e.branch = d.git_ref;
    e.commit = d.sha;
    e.number = Some(d.id);
    e.actor = d.creator.or(p.sender).map(|a| a.login);
    e.url = p.workflow_run.and_then(|r| r.html_url);
    match p.deployment_status {
        None => {
            e.status = Some(Status::Queued);
            e.at = d.created_at;
        }
        Some(s) => {
            e.status = deployment_state(&s.state);
            e.at = s.updated_at.or(s.created_at).or(d.updated_at);
            if let Some(url) = non_empty(&s.log_url).or_else(|| non_empty(&s.target_url)) {
                e.url = Some(url);
            }
            if e.status.is_some_and(|s| s.rank() >= Status::Running.rank()) {
                e.started_at = d.created_at;
            }
            if e.status.is_some_and(Status::is_finished) {
                e.finished_at = e.at;
            }
        }
    }
    e
}

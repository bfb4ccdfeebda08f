//! GitLab webhooks (`X-Gitlab-Event`): Pipeline Hook, Job Hook (also the
//! older `Build Hook`) and Deployment Hook. Other hooks are acknowledged and
//! ignored.
//!
//! Identity: a pipeline is its global `id` (jobs carry it as `pipeline_id`);
//! a deployment is `deployment-<deployment_id>`. GitLab payloads carry no
//! event time, so order comes from `finished_at` / `started_at` /
//! `created_at` and the status rank. Times come in three formats
//! (see [`super::time`]).

use serde::Deserialize;

use super::{Intake, Malformed, from_json, non_empty, opt_time};
use crate::domain::pipeline::{Job, RunEvent, Source, Status};
use crate::domain::release_window::is_production;

#[derive(Deserialize)]
struct Project {
    path_with_namespace: Option<String>,
    web_url: Option<String>,
}

#[derive(Deserialize)]
struct User {
    username: Option<String>,
    name: Option<String>,
}

impl User {
    fn handle(self) -> Option<String> {
        non_empty(&self.username).or_else(|| non_empty(&self.name))
    }
}

#[derive(Deserialize)]
struct PipelineHook {
    object_attributes: PipelineAttributes,
    project: Option<Project>,
    user: Option<User>,
    #[serde(default)]
    builds: Vec<Build>,
}

#[derive(Deserialize)]
struct PipelineAttributes {
    id: u64,
    iid: Option<u64>,
    name: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    status: String,
    created_at: Option<String>,
    finished_at: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Build {
    id: u64,
    stage: Option<String>,
    name: String,
    status: String,
    created_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
}

#[derive(Deserialize)]
struct JobHook {
    build_id: u64,
    build_name: String,
    build_stage: Option<String>,
    build_status: String,
    build_created_at: Option<String>,
    build_started_at: Option<String>,
    build_finished_at: Option<String>,
    pipeline_id: u64,
    project_name: Option<String>,
    project: Option<Project>,
    repository: Option<Repository>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct Repository {
    homepage: Option<String>,
}

#[derive(Deserialize)]
struct DeploymentHook {
    deployment_id: u64,
    status: String,
    status_changed_at: Option<String>,
    environment: Option<String>,
    environment_tier: Option<String>,
    deployable_url: Option<String>,
    project: Option<Project>,
    short_sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    user: Option<User>,
}

fn status(s: &str) -> Option<Status> {
    Some(match s {
        "created" | "waiting_for_resource" | "preparing" | "pending" => Status::Queued,
        "scheduled" | "manual" | "waiting_for_callback" | "blocked" => Status::Waiting,
        "running" | "canceling" => Status::Running,
        "success" => Status::Succeeded,
        "failed" => Status::Failed,
        "canceled" | "cancelled" => Status::Cancelled,
        "skipped" => Status::Skipped,
        _ => return None,
    })
}

fn path(project: &Option<Project>) -> Option<String> {
    project
        .as_ref()
        .and_then(|p| non_empty(&p.path_with_namespace))
}

fn web_url(project: &Option<Project>) -> Option<String> {
    project.as_ref().and_then(|p| non_empty(&p.web_url))
}

/// Parses one delivery of `event` (the `X-Gitlab-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Intake, Malformed> {
    let e = match event {
        "Pipeline Hook" => pipeline(from_json(body)?),
        "Job Hook" | "Build Hook" => job(from_json(body)?),
        "Deployment Hook" => deployment(from_json(body)?),
        _ => {
            from_json::<serde_json::Value>(body)?;
            return Ok(Intake::Ignored);
        }
    };
    Ok(Intake::Event(Box::new(e)))
}

fn pipeline(p: PipelineHook) -> RunEvent {
    let a = p.object_attributes;
    let repo = path(&p.project);
    let base = web_url(&p.project);
    let name = non_empty(&a.name)
        .or_else(|| repo.clone())
        .unwrap_or_else(|| format!("pipeline {}", a.id));
    let mut e = RunEvent::new(Source::Gitlab, a.id.to_string(), name);
    e.number = a.iid.or(Some(a.id));
    e.repository = repo;
    e.branch = a.git_ref;
    e.commit = a.sha;
    e.actor = p.user.and_then(User::handle);
    e.url =
        non_empty(&a.url).or_else(|| base.as_ref().map(|b| format!("{b}/-/pipelines/{}", a.id)));
    e.status = status(&a.status);
    e.started_at = opt_time(&a.created_at);
    e.finished_at = opt_time(&a.finished_at);
    e.at = e.finished_at.or(e.started_at);
    for b in p.builds {
        let Some(s) = status(&b.status) else { continue };
        let started_at = opt_time(&b.started_at);
        let finished_at = opt_time(&b.finished_at);
        e.jobs.push(Job {
            id: b.id.to_string(),
            name: b.name,
            stage: b.stage,
            status: s,
            url: base.as_ref().map(|u| format!("{u}/-/jobs/{}", b.id)),
            started_at,
            finished_at,
            at: finished_at.or(started_at).or(opt_time(&b.created_at)),
        });
    }
    e
}

fn job(j: JobHook) -> RunEvent {
    let repo = path(&j.project).or_else(|| non_empty(&j.project_name));
    let base = web_url(&j.project).or_else(|| j.repository.and_then(|r| non_empty(&r.homepage)));
    let mut e = RunEvent::new(Source::Gitlab, j.pipeline_id.to_string(), "");
    e.pipeline = repo.clone();
    e.authoritative = false;
    e.repository = repo;
    e.branch = j.git_ref;
    e.commit = j.sha;
    e.actor = j.user.and_then(User::handle);
    e.url = base
        .as_ref()
        .map(|b| format!("{b}/-/pipelines/{}", j.pipeline_id));
    let started_at = opt_time(&j.build_started_at);
    let finished_at = opt_time(&j.build_finished_at);
    e.at = finished_at.or(started_at).or(opt_time(&j.build_created_at));
    if let Some(s) = status(&j.build_status) {
        e.jobs.push(Job {
            id: j.build_id.to_string(),
            name: j.build_name,
            stage: j.build_stage,
            status: s,
            url: base.map(|b| format!("{b}/-/jobs/{}", j.build_id)),
            started_at,
            finished_at,
            at: e.at,
        });
    }
    e
}

fn deployment(d: DeploymentHook) -> RunEvent {
    let repo = path(&d.project);
    let name = repo
        .clone()
        .unwrap_or_else(|| format!("deployment {}", d.deployment_id));
    let mut e = RunEvent::new(
        Source::Gitlab,
        format!("deployment-{}", d.deployment_id),
        name,
    );
    e.deployment = true;
    let environment = non_empty(&d.environment);
    e.production = d.environment_tier.as_deref() == Some("production")
        || environment.as_deref().is_some_and(is_production);
    e.environment = environment;
    e.number = Some(d.deployment_id);
    e.repository = repo;
    e.branch = d.git_ref;
    e.commit = d.short_sha;
    e.actor = d.user.and_then(User::handle);
    e.url = non_empty(&d.deployable_url);
    e.status = status(&d.status);
    e.at = opt_time(&d.status_changed_at);
    if e.status.is_some_and(|s| s.rank() >= Status::Running.rank()) {
        e.started_at = e.at;
    }
    if e.status.is_some_and(Status::is_finished) {
        e.finished_at = e.at;
    }
    e
}

//! AWS: CodePipeline pipeline/stage/action execution state changes and
//! CodeBuild build state/phase changes, as an EventBridge event (API
//! destination) or as the CodeStar Notifications "processed" form
//! (`detailType`), either posted directly or as the `Message` of an SNS
//! `Notification` (see [`super::sns`]).
//!
//! Identity: a CodePipeline run is its `execution-id`, stages are jobs named
//! after the stage and actions `stage/action`; a CodeBuild run is the build
//! id after `build/`, its phases are jobs. Order comes from the event `time`.
//! `pipeline-execution-attempt` is not part of the identity: AWS's own
//! examples disagree on it within one execution, and a retried stage keeps
//! its execution id.

use serde::Deserialize;
use serde_json::Value;

use super::{Intake, Malformed, non_empty, opt_time};
use crate::domain::pipeline::{Job, RunEvent, Source, Status};

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "detail-type", alias = "detailType")]
    detail_type: String,
    time: Option<String>,
    region: Option<String>,
    detail: Value,
    #[serde(rename = "additionalAttributes")]
    additional: Option<Additional>,
}

#[derive(Deserialize, Default)]
struct Additional {
    #[serde(rename = "sourceActions", default)]
    source_actions: Vec<SourceAction>,
}

#[derive(Deserialize)]
struct SourceAction {
    #[serde(rename = "sourceActionVariables")]
    variables: Option<SourceVariables>,
}

#[derive(Deserialize)]
struct SourceVariables {
    #[serde(rename = "BranchName")]
    branch: Option<String>,
    #[serde(rename = "CommitId")]
    commit: Option<String>,
    #[serde(rename = "RepositoryName")]
    repository: Option<String>,
}

#[derive(Deserialize)]
struct PipelineDetail {
    pipeline: String,
    #[serde(rename = "execution-id")]
    execution_id: String,
    stage: Option<String>,
    action: Option<String>,
    state: String,
    region: Option<String>,
    #[serde(rename = "execution-result")]
    result: Option<ExecutionResult>,
    #[serde(rename = "execution-trigger")]
    trigger: Option<Trigger>,
}

#[derive(Deserialize)]
struct ExecutionResult {
    #[serde(rename = "external-execution-url")]
    url: Option<String>,
}

#[derive(Deserialize)]
struct Trigger {
    #[serde(rename = "trigger-detail")]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct BuildDetail {
    #[serde(rename = "build-status")]
    build_status: Option<String>,
    #[serde(rename = "project-name")]
    project: String,
    #[serde(rename = "build-id")]
    build_id: String,
    #[serde(rename = "completed-phase")]
    completed_phase: Option<String>,
    #[serde(rename = "completed-phase-status")]
    completed_phase_status: Option<String>,
    #[serde(rename = "completed-phase-start")]
    completed_phase_start: Option<String>,
    #[serde(rename = "completed-phase-end")]
    completed_phase_end: Option<String>,
    #[serde(rename = "additional-information")]
    info: Option<BuildInfo>,
}

#[derive(Deserialize)]
struct BuildInfo {
    initiator: Option<String>,
    #[serde(rename = "build-start-time")]
    start: Option<String>,
    logs: Option<Logs>,
    #[serde(default)]
    phases: Vec<Phase>,
    #[serde(rename = "source-version")]
    source_version: Option<String>,
}

#[derive(Deserialize)]
struct Logs {
    #[serde(rename = "deep-link")]
    deep_link: Option<String>,
}

#[derive(Deserialize)]
struct Phase {
    #[serde(rename = "phase-type")]
    phase_type: String,
    #[serde(rename = "phase-status")]
    status: Option<String>,
    #[serde(rename = "start-time")]
    start: Option<String>,
    #[serde(rename = "end-time")]
    end: Option<String>,
}

/// CodePipeline `state`.
fn pipeline_state(s: &str) -> Option<Status> {
    Some(match s {
        "STARTED" | "RESUMED" | "STOPPING" => Status::Running,
        "SUCCEEDED" => Status::Succeeded,
        "FAILED" => Status::Failed,
        "STOPPED" | "SUPERSEDED" | "CANCELED" | "ABANDONED" => Status::Cancelled,
        _ => return None,
    })
}

/// CodeBuild `build-status` / `phase-status`.
fn build_state(s: &str) -> Option<Status> {
    Some(match s {
        "QUEUED" => Status::Queued,
        "IN_PROGRESS" => Status::Running,
        "SUCCEEDED" => Status::Succeeded,
        "FAILED" | "FAULT" | "CLIENT_ERROR" => Status::Failed,
        "TIMED_OUT" => Status::TimedOut,
        "STOPPED" => Status::Cancelled,
        _ => return None,
    })
}

fn detail<T: for<'de> Deserialize<'de>>(value: Value, what: &str) -> Result<T, Malformed> {
    serde_json::from_value(value).map_err(|e| Malformed(format!("malformed {what} detail: {e}")))
}

/// Parses one EventBridge (or CodeStar Notifications) event.
pub fn parse_event(value: Value) -> Result<Intake, Malformed> {
    let event: Event = serde_json::from_value(value)
        .map_err(|e| Malformed(format!("not an EventBridge event: {e}")))?;
    let e = match event.detail_type.as_str() {
        "CodePipeline Pipeline Execution State Change"
        | "CodePipeline Stage Execution State Change"
        | "CodePipeline Action Execution State Change" => {
            let d = detail(event.detail.clone(), "CodePipeline")?;
            codepipeline(&event, d)
        }
        "CodeBuild Build State Change" | "CodeBuild Build Phase Change" => {
            let d = detail(event.detail.clone(), "CodeBuild")?;
            codebuild(&event, d)
        }
        _ => return Ok(Intake::Ignored),
    };
    Ok(Intake::Event(Box::new(e)))
}

fn codepipeline(event: &Event, d: PipelineDetail) -> RunEvent {
    let mut e = RunEvent::new(Source::Aws, d.execution_id.clone(), d.pipeline.clone());
    let region = d.region.clone().or_else(|| event.region.clone());
    e.at = opt_time(&event.time);
    e.url = region.map(|r| {
        format!(
            "https://{r}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{}/executions/{}/timeline?region={r}",
            d.pipeline, d.execution_id
        )
    });
    if let Some(vars) = event
        .additional
        .as_ref()
        .and_then(|a| a.source_actions.iter().find_map(|s| s.variables.as_ref()))
    {
        e.repository = non_empty(&vars.repository);
        e.branch = non_empty(&vars.branch);
        e.commit = non_empty(&vars.commit);
    }
    e.actor = d
        .trigger
        .and_then(|t| t.detail)
        .map(|arn| arn.rsplit('/').next().unwrap_or(&arn).to_string());
    let state = pipeline_state(&d.state);
    match (d.stage, d.action) {
        (None, _) if event.detail_type.contains("Pipeline Execution") => {
            e.status = state;
            if state == Some(Status::Running) && d.state == "STARTED" {
                e.started_at = e.at;
            }
            if state.is_some_and(Status::is_finished) {
                e.finished_at = e.at;
            }
        }
        // A stage event without its stage (AWS's Go examples): the run is under way.
        (None, _) => {
            e.authoritative = false;
            e.status = state.filter(|s| !s.is_finished()).map(|_| Status::Running);
        }
        (Some(stage), action) => {
            e.authoritative = false;
            if let Some(status) = state {
                let (id, name, stage_of) = match action {
                    Some(a) => (format!("{stage}/{a}"), a, Some(stage)),
                    None => (stage.clone(), stage, None),
                };
                let finished = status.is_finished().then_some(e.at).flatten();
                e.jobs.push(Job {
                    id,
                    name,
                    stage: stage_of,
                    status,
                    url: d
                        .result
                        .and_then(|r| non_empty(&r.url))
                        .or_else(|| e.url.clone()),
                    started_at: (status == Status::Running).then_some(e.at).flatten(),
                    finished_at: finished,
                    at: e.at,
                });
            }
        }
    }
    e
}

fn codebuild(event: &Event, d: BuildDetail) -> RunEvent {
    let run_id = d
        .build_id
        .split_once(":build/")
        .map(|(_, id)| id.to_string())
        .unwrap_or_else(|| d.build_id.clone());
    let mut e = RunEvent::new(Source::Aws, run_id, d.project.clone());
    e.at = opt_time(&event.time);
    e.repository = Some(d.project.clone());
    e.status = d.build_status.as_deref().and_then(build_state);
    if let Some(info) = d.info {
        e.actor = info.initiator;
        e.url = info.logs.and_then(|l| l.deep_link);
        e.started_at = opt_time(&info.start);
        e.commit = info.source_version;
        for p in info
            .phases
            .into_iter()
            .filter(|p| p.phase_type != "COMPLETED")
        {
            let Some(status) = p.status.as_deref().and_then(build_state) else {
                continue;
            };
            let finished = opt_time(&p.end);
            e.jobs.push(Job {
                id: p.phase_type.clone(),
                name: p.phase_type,
                stage: None,
                status,
                url: e.url.clone(),
                started_at: opt_time(&p.start),
                finished_at: finished,
                at: finished.or(e.at),
            });
        }
    }
    if let (Some(phase), Some(status)) = (
        d.completed_phase.filter(|p| p != "COMPLETED"),
        d.completed_phase_status.as_deref().and_then(build_state),
    ) && !e.jobs.iter().any(|j| j.id == phase)
    {
        let finished = opt_time(&d.completed_phase_end);
        e.jobs.push(Job {
            id: phase.clone(),
            name: phase,
            stage: None,
            status,
            url: e.url.clone(),
            started_at: opt_time(&d.completed_phase_start),
            finished_at: finished,
            at: finished.or(e.at),
        });
    }
    if e.status.is_some_and(Status::is_finished) {
        e.finished_at = e.at;
    }
    e
}

//! AWS CodePipeline: `StartPipelineExecution` (JSON 1.1 protocol:
//! `POST /` with `X-Amz-Target: CodePipeline_20150709.StartPipelineExecution`),
//! its `clientRequestToken` the deploy request's own id, so a call repeated
//! after an unanswered one starts nothing new: AWS answers with the
//! execution the token already started. `RetryStageExecution` retries a
//! failed stage of an execution, and `GetPipelineState` tells whether an
//! unanswered retry happened. Requests are signed with AWS Signature
//! Version 4 by the `aws-sigv4` crate.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::provider_message;
use crate::domain::deploy::{Outcome, RunLink};
use crate::domain::pipeline::Source;
use crate::settings::Secret;

/// The service name SigV4 scopes CodePipeline's signatures to.
pub const SERVICE: &str = "codepipeline";
const TARGET_PREFIX: &str = "CodePipeline_20150709";

/// Where, in which region and as whom to call.
#[derive(Debug, Clone)]
pub struct Api<'a> {
    /// `https://codepipeline.{region}.amazonaws.com` unless configured.
    pub endpoint: &'a str,
    pub region: &'a str,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a Secret,
}

/// One execution to start.
#[derive(Debug, Clone)]
pub struct Execution<'a> {
    pub pipeline: &'a str,
    /// The idempotency token (letters, digits and `-`).
    pub token: &'a str,
    /// The source action and the commit it starts (`sourceRevisions`);
    /// `None`: the sources' latest revisions.
    pub revision: Option<(&'a str, &'a str)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    pipeline_execution_id: String,
}

/// Signs and sends one JSON 1.1 call of `action` at `now`.
async fn call(
    client: &reqwest::Client,
    api: &Api<'_>,
    action: &str,
    body: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(reqwest::StatusCode, String), String> {
    let url = format!("{}/", api.endpoint.trim_end_matches('/'));
    let body = body.to_string();
    let target = format!("{TARGET_PREFIX}.{action}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
    ];
    let identity = Credentials::new(
        api.access_key_id,
        api.secret_access_key.expose(),
        None,
        None,
        "shipmate",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(api.region)
        .name(SERVICE)
        .time(SystemTime::from(now))
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("the request could not be signed: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("the request could not be signed: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("the request could not be signed: {e}"))?
        .into_parts();
    let mut request = client.post(&url).body(body);
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| super::no_answer("AWS", e))?;
    let status = response.status();
    Ok((status, response.text().await.unwrap_or_default()))
}

/// AWS's error (`__type` and `message`), short.
fn error(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let kind = value
        .get("__type")
        .and_then(|t| t.as_str())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let message = provider_message(text, "/message");
    match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    }
}

/// Starts the execution (again, when an earlier call went unanswered: the
/// token makes AWS answer with the execution it started then).
pub async fn start(
    client: &reqwest::Client,
    api: &Api<'_>,
    e: &Execution<'_>,
    now: DateTime<Utc>,
) -> Outcome {
    let mut body = serde_json::json!({ "name": e.pipeline, "clientRequestToken": e.token });
    if let Some((action, commit)) = e.revision {
        body["sourceRevisions"] = serde_json::json!([{
            "actionName": action,
            "revisionType": "COMMIT_ID",
            "revisionValue": commit,
        }]);
    }
    let (status, text) = match call(client, api, "StartPipelineExecution", &body, now).await {
        Ok(answer) => answer,
        Err(reason) => return Outcome::Unanswered(reason),
    };
    if status.is_success() {
        let run = serde_json::from_str::<Started>(&text)
            .ok()
            .map(|s| RunLink {
                source: Source::Aws,
                id: s.pipeline_execution_id,
                attempt: 1,
                url: None,
            });
        return Outcome::Started(run);
    }
    refusal(status, &text)
}

/// One retry of a failed stage of an execution.
#[derive(Debug, Clone)]
pub struct StageRetry<'a> {
    pub pipeline: &'a str,
    pub stage: &'a str,
    pub execution_id: &'a str,
    /// `FAILED_ACTIONS` (else `ALL_ACTIONS`).
    pub failed_only: bool,
}

impl StageRetry<'_> {
    fn started(&self) -> Outcome {
        Outcome::Started(Some(self.link()))
    }

    fn link(&self) -> RunLink {
        RunLink {
            source: Source::Aws,
            id: self.execution_id.to_string(),
            attempt: 1,
            url: None,
        }
    }
}

/// The outcome of a call that AWS refused (or did not answer).
fn refusal(status: reqwest::StatusCode, text: &str) -> Outcome {
    let reason = format!("AWS answered HTTP {}: {}", status.as_u16(), error(text));
    if status.is_server_error() || text.contains("ThrottlingException") {
        Outcome::Unanswered(reason)
    } else {
        Outcome::Refused(reason)
    }
}

/// `RetryStageExecution` once.
pub async fn retry_stage(
    client: &reqwest::Client,
    api: &Api<'_>,
    r: &StageRetry<'_>,
    now: DateTime<Utc>,
) -> Outcome {
    let body = serde_json::json!({
        "pipelineName": r.pipeline,
        "stageName": r.stage,
        "pipelineExecutionId": r.execution_id,
        "retryMode": if r.failed_only { "FAILED_ACTIONS" } else { "ALL_ACTIONS" },
    });
    match call(client, api, "RetryStageExecution", &body, now).await {
        Err(reason) => Outcome::Unanswered(reason),
        Ok((status, _)) if status.is_success() => r.started(),
        Ok((status, text)) => refusal(status, &text),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PipelineState {
    #[serde(default)]
    stage_states: Vec<StageState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageState {
    stage_name: String,
    latest_execution: Option<StageExecution>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageExecution {
    pipeline_execution_id: String,
    status: String,
}

/// Whether the retry happened (`GetPipelineState`): the stage's latest
/// execution is this one and no longer failed.
pub async fn find_stage_retry(
    client: &reqwest::Client,
    api: &Api<'_>,
    r: &StageRetry<'_>,
    now: DateTime<Utc>,
) -> Result<Option<RunLink>, String> {
    let body = serde_json::json!({ "name": r.pipeline });
    let (status, text) = call(client, api, "GetPipelineState", &body, now).await?;
    if !status.is_success() {
        return Err(format!(
            "AWS answered HTTP {} reading the pipeline's state: {}",
            status.as_u16(),
            error(&text)
        ));
    }
    let state: PipelineState = serde_json::from_str(&text)
        .map_err(|e| format!("AWS's pipeline state could not be read: {e}"))?;
    let retried = state.stage_states.iter().any(|s| {
        s.stage_name == r.stage
            && s.latest_execution
                .as_ref()
                .is_some_and(|e| e.pipeline_execution_id == r.execution_id && e.status != "Failed")
    });
    Ok(retried.then(|| r.link()))
}

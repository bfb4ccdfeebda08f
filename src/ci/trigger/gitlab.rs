//! GitLab CI: `POST /projects/:id/pipeline` (a pipeline on a ref, with
//! variables), the look at the project's API pipelines an unanswered call is
//! followed by (`GET /projects/:id/pipelines?source=api&ref=…&updated_after=…`),
//! and `POST /projects/:id/pipelines/:pipeline_id/retry` (its failed and
//! cancelled jobs), checked by the pipeline's status
//! (`GET /projects/:id/pipelines/:pipeline_id`).
//!
//! A target with a manual job plays it instead: the newest pipeline on the
//! ref (`GET /projects/:id/pipelines?ref=…&order_by=id&sort=desc`), its
//! job of that name (`GET /projects/:id/pipelines/:pipeline_id/jobs`), and
//! `POST /projects/:id/jobs/:job_id/play` while the job is `manual`; a job
//! no longer `manual` was played already, which is what the look before a
//! retry checks.
//!
//! Authentication is the `PRIVATE-TOKEN` header. `:id` is the project's
//! path, URL-encoded (`acme%2Fportal`), or its number.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;

use crate::domain::deploy::{Outcome, RunLink};
use crate::domain::pipeline::Source;
use crate::settings::Secret;

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct Api<'a> {
    /// `https://gitlab.com/api/v4` (no trailing slash).
    pub base: &'a str,
    pub token: &'a Secret,
}

impl Api<'_> {
    fn project_url(&self, project: &str, tail: &str) -> String {
        let id = project.replace('%', "%25").replace('/', "%2F");
        format!("{}/projects/{id}/{tail}", self.base.trim_end_matches('/'))
    }

    /// Sends `builder` authenticated; GitLab's status and body, or why no answer came.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, String), String> {
        let response = builder
            .header("PRIVATE-TOKEN", self.token.expose())
            .send()
            .await
            .map_err(|e| super::no_answer("GitLab", e))?;
        let status = response.status();
        Ok((status, response.text().await.unwrap_or_default()))
    }
}

/// GitLab's error body (`message` is a string, or a map of field → problems), short.
fn message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = match value.get("message").or_else(|| value.get("error")) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Object(fields)) => fields
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::Array(items) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect();
                    format!("{k}: {}", items.join(", "))
                }
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.trim().to_string(),
    };
    super::provider_message(
        &serde_json::json!({ "message": text }).to_string(),
        "/message",
    )
}

/// A non-2xx answer: refused (nothing ran), or unanswered when GitLab could not say.
fn refusal(status: reqwest::StatusCode, text: &str) -> Outcome {
    let reason = format!(
        "GitLab answered HTTP {}: {}",
        status.as_u16(),
        message(text)
    );
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Outcome::Unanswered(reason)
    } else {
        Outcome::Refused(reason)
    }
}

/// The outcome of a call that starts a pipeline (its body names it).
fn started(answer: Result<(reqwest::StatusCode, String), String>) -> Outcome {
    match answer {
        Err(reason) => Outcome::Unanswered(reason),
        Ok((status, text)) if status.is_success() => Outcome::Started(
            serde_json::from_str::<Created>(&text)
                .ok()
                .map(|c| link(&c)),
        ),
        Ok((status, text)) => refusal(status, &text),
    }
}

/// One pipeline to create.
#[derive(Debug, Clone)]
pub struct Pipeline<'a> {
    pub project: &'a str,
    pub git_ref: &'a str,
    pub variables: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Created {
    id: u64,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    status: Option<String>,
}

fn link(p: &Created) -> RunLink {
    RunLink {
        source: Source::Gitlab,
        id: p.id.to_string(),
        attempt: 1,
        url: p.web_url.clone(),
    }
}

/// Creates the pipeline once.
pub async fn create(client: &reqwest::Client, api: &Api<'_>, p: &Pipeline<'_>) -> Outcome {
    let variables: Vec<serde_json::Value> = p
        .variables
        .iter()
        .map(|(k, v)| serde_json::json!({ "key": k, "value": v, "variable_type": "env_var" }))
        .collect();
    let body = serde_json::json!({ "ref": p.git_ref, "variables": variables });
    let request = client
        .post(api.project_url(p.project, "pipeline"))
        .json(&body);
    started(api.send(request).await)
}

/// The first API pipeline of the project on the ref created since `since`
/// (less a minute of clock skew), if GitLab lists one.
pub async fn find_pipeline(
    client: &reqwest::Client,
    api: &Api<'_>,
    p: &Pipeline<'_>,
    since: DateTime<Utc>,
) -> Result<Option<RunLink>, String> {
    let from = since - TimeDelta::minutes(1);
    let after = from.to_rfc3339_opts(SecondsFormat::Secs, true);
    let request = client.get(api.project_url(p.project, "pipelines")).query(&[
        ("source", "api"),
        ("ref", p.git_ref),
        ("updated_after", after.as_str()),
        ("per_page", "100"),
    ]);
    let (status, text) = api.send(request).await?;
    if !status.is_success() {
        return Err(format!(
            "GitLab answered HTTP {} listing the project's pipelines: {}",
            status.as_u16(),
            message(&text)
        ));
    }
    let pipelines: Vec<Created> = serde_json::from_str(&text)
        .map_err(|e| format!("GitLab's list of pipelines could not be read: {e}"))?;
    Ok(pipelines
        .iter()
        .filter(|c| c.created_at.is_some_and(|at| at >= from))
        .min_by_key(|c| (c.created_at, c.id))
        .map(link))
}

/// Retries the failed and cancelled jobs of pipeline `id` once.
pub async fn retry(client: &reqwest::Client, api: &Api<'_>, project: &str, id: &str) -> Outcome {
    let request = client.post(api.project_url(project, &format!("pipelines/{id}/retry")));
    started(api.send(request).await)
}

/// Whether the retry happened: the pipeline runs again (no longer failed or cancelled).
pub async fn find_retry(
    client: &reqwest::Client,
    api: &Api<'_>,
    project: &str,
    id: &str,
) -> Result<Option<RunLink>, String> {
    let request = client.get(api.project_url(project, &format!("pipelines/{id}")));
    let (status, text) = api.send(request).await?;
    if !status.is_success() {
        return Err(format!(
            "GitLab answered HTTP {} reading pipeline {id}: {}",
            status.as_u16(),
            message(&text)
        ));
    }
    let pipeline: Created = serde_json::from_str(&text)
        .map_err(|e| format!("GitLab's pipeline could not be read: {e}"))?;
    let again = !matches!(pipeline.status.as_deref(), Some("failed" | "canceled"));
    Ok(again.then(|| link(&pipeline)))
}

/// A manual job to play in the newest pipeline on a ref.
#[derive(Debug, Clone)]
pub struct ManualJob<'a> {
    pub project: &'a str,
    pub git_ref: &'a str,
    pub job: &'a str,
}

#[derive(Deserialize)]
struct Job {
    id: u64,
    name: String,
    status: String,
}

/// The newest pipeline on the ref and its job named `m.job`, or why not.
async fn manual_job(
    client: &reqwest::Client,
    api: &Api<'_>,
    m: &ManualJob<'_>,
) -> Result<Result<(Created, Job), String>, String> {
    let request = client.get(api.project_url(m.project, "pipelines")).query(&[
        ("ref", m.git_ref),
        ("order_by", "id"),
        ("sort", "desc"),
        ("per_page", "1"),
    ]);
    let (status, text) = api.send(request).await?;
    if !status.is_success() {
        return Err(format!(
            "GitLab answered HTTP {} listing the pipelines on `{}`: {}",
            status.as_u16(),
            m.git_ref,
            message(&text)
        ));
    }
    let pipelines: Vec<Created> = serde_json::from_str(&text)
        .map_err(|e| format!("GitLab's list of pipelines could not be read: {e}"))?;
    let Some(pipeline) = pipelines.into_iter().next() else {
        return Ok(Err(format!(
            "no pipeline of {} runs on `{}`: push the ref (or create its pipeline) first",
            m.project, m.git_ref
        )));
    };
    let request = client
        .get(api.project_url(m.project, &format!("pipelines/{}/jobs", pipeline.id)))
        .query(&[("per_page", "100")]);
    let (status, text) = api.send(request).await?;
    if !status.is_success() {
        return Err(format!(
            "GitLab answered HTTP {} listing the jobs of pipeline {}: {}",
            status.as_u16(),
            pipeline.id,
            message(&text)
        ));
    }
    let jobs: Vec<Job> = serde_json::from_str(&text)
        .map_err(|e| format!("GitLab's list of jobs could not be read: {e}"))?;
    Ok(match jobs.into_iter().find(|j| j.name == m.job) {
        Some(job) => Ok((pipeline, job)),
        None => Err(format!(
            "pipeline {} on `{}` has no job `{}`",
            pipeline.id, m.git_ref, m.job
        )),
    })
}

/// Plays the manual job once; a job that is not waiting to be played is refused.
pub async fn play(client: &reqwest::Client, api: &Api<'_>, m: &ManualJob<'_>) -> Outcome {
    let (pipeline, job) = match manual_job(client, api, m).await {
        Err(reason) => return Outcome::Unanswered(reason),
        Ok(Err(refusal)) => return Outcome::Refused(refusal),
        Ok(Ok(found)) => found,
    };
    if job.status != "manual" {
        return Outcome::Refused(format!(
            "job `{}` of pipeline {} is {}, not waiting to be played",
            job.name, pipeline.id, job.status
        ));
    }
    let request = client.post(api.project_url(m.project, &format!("jobs/{}/play", job.id)));
    match api.send(request).await {
        Err(reason) => Outcome::Unanswered(reason),
        Ok((status, _)) if status.is_success() => Outcome::Started(Some(link(&pipeline))),
        Ok((status, text)) => refusal(status, &text),
    }
}

/// Whether the manual job was played: it is no longer `manual`.
pub async fn find_played(
    client: &reqwest::Client,
    api: &Api<'_>,
    m: &ManualJob<'_>,
) -> Result<Option<RunLink>, String> {
    match manual_job(client, api, m).await? {
        Ok((pipeline, job)) if job.status != "manual" => Ok(Some(link(&pipeline))),
        _ => Ok(None),
    }
}

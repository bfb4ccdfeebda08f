//! GitHub Actions: `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`
//! (`workflow_dispatch`, with `return_run_details` so GitHub answers with
//! the run it created), and the look at the workflow's runs an unanswered
//! call is followed by: `GET …/workflows/{workflow}/runs?event=workflow_dispatch`.
//!
//! Authentication is `Authorization: Bearer <token>` with
//! `Accept: application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;

use super::provider_message;
use crate::domain::deploy::{Outcome, RunLink};
use crate::domain::pipeline::Source;
use crate::settings::Secret;

/// The API version every call names.
pub const API_VERSION: &str = "2022-11-28";

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct Api<'a> {
    /// `https://api.github.com` (no trailing slash).
    pub base: &'a str,
    pub token: &'a Secret,
}

/// One workflow dispatch.
#[derive(Debug, Clone)]
pub struct Dispatch<'a> {
    /// `owner/repo`.
    pub repository: &'a str,
    /// The workflow's file name (`deploy.yml`) or id.
    pub workflow: &'a str,
    /// The branch or tag the workflow runs on.
    pub git_ref: &'a str,
    pub inputs: &'a BTreeMap<String, String>,
}

impl Api<'_> {
    fn workflow_url(&self, d: &Dispatch<'_>, tail: &str) -> String {
        format!(
            "{}/repos/{}/actions/workflows/{}/{tail}",
            self.base.trim_end_matches('/'),
            d.repository,
            d.workflow
        )
    }

    /// Sends `builder` authenticated; GitHub's status and body, or why no answer came.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, String), String> {
        let response = builder
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| super::no_answer("GitHub", e))?;
        let status = response.status();
        Ok((status, response.text().await.unwrap_or_default()))
    }
}

#[derive(Deserialize)]
struct RunDetails {
    workflow_run_id: u64,
    #[serde(default)]
    html_url: Option<String>,
}

/// Dispatches the workflow once.
pub async fn dispatch(client: &reqwest::Client, api: &Api<'_>, d: &Dispatch<'_>) -> Outcome {
    let body = serde_json::json!({
        "ref": d.git_ref,
        "inputs": d.inputs,
        "return_run_details": true,
    });
    let sent = api
        .send(client.post(api.workflow_url(d, "dispatches")).json(&body))
        .await;
    let (status, text) = match sent {
        Ok(answer) => answer,
        Err(reason) => return Outcome::Unanswered(reason),
    };
    if status.is_success() {
        // 200 names the run; 204 (a server without run details) does not
        let run = serde_json::from_str::<RunDetails>(&text)
            .ok()
            .map(|r| RunLink {
                source: Source::Github,
                id: r.workflow_run_id.to_string(),
                attempt: 1,
                url: r.html_url,
            });
        return Outcome::Started(run);
    }
    refusal(status, &text)
}

/// A non-2xx answer: refused (nothing ran), or unanswered when GitHub
/// could not say (a 5xx, a timeout, a rate limit).
fn refusal(status: reqwest::StatusCode, text: &str) -> Outcome {
    let reason = format!(
        "GitHub answered HTTP {}: {}",
        status.as_u16(),
        provider_message(text, "/message")
    );
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Outcome::Unanswered(reason)
    } else {
        Outcome::Refused(reason)
    }
}

/// One re-run of a workflow run.
#[derive(Debug, Clone)]
pub struct Rerun<'a> {
    pub repository: &'a str,
    pub run_id: &'a str,
    /// The attempt it re-runs: the re-run is the next one.
    pub attempt: u32,
    pub failed_only: bool,
}

impl Rerun<'_> {
    fn url(&self, api: &Api<'_>, tail: &str) -> String {
        format!(
            "{}/repos/{}/actions/runs/{}{tail}",
            api.base.trim_end_matches('/'),
            self.repository,
            self.run_id
        )
    }

    fn started(&self, attempt: u32) -> Outcome {
        Outcome::Started(Some(RunLink {
            source: Source::Github,
            id: self.run_id.to_string(),
            attempt,
            url: None,
        }))
    }
}

/// Re-runs a run (all its jobs, or the failed ones) once.
pub async fn rerun(client: &reqwest::Client, api: &Api<'_>, r: &Rerun<'_>) -> Outcome {
    let tail = if r.failed_only {
        "/rerun-failed-jobs"
    } else {
        "/rerun"
    };
    let (status, text) = match api.send(client.post(r.url(api, tail))).await {
        Ok(answer) => answer,
        Err(reason) => return Outcome::Unanswered(reason),
    };
    if status.is_success() {
        return r.started(r.attempt + 1);
    }
    refusal(status, &text)
}

#[derive(Deserialize)]
struct RunAttempt {
    run_attempt: u32,
}

/// Whether the re-run happened: the run's attempt is past the one re-run.
pub async fn find_rerun(
    client: &reqwest::Client,
    api: &Api<'_>,
    r: &Rerun<'_>,
) -> Result<Option<RunLink>, String> {
    let (status, text) = api.send(client.get(r.url(api, ""))).await?;
    if !status.is_success() {
        return Err(format!(
            "GitHub answered HTTP {} reading run {}: {}",
            status.as_u16(),
            r.run_id,
            provider_message(&text, "/message")
        ));
    }
    let run: RunAttempt =
        serde_json::from_str(&text).map_err(|e| format!("GitHub's run could not be read: {e}"))?;
    Ok(match r.started(run.run_attempt) {
        Outcome::Started(link) if run.run_attempt > r.attempt => link,
        _ => None,
    })
}

#[derive(Deserialize)]
struct Runs {
    workflow_runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    id: u64,
    #[serde(default)]
    html_url: Option<String>,
    created_at: DateTime<Utc>,
}

/// The first `workflow_dispatch` run of the workflow on the ref created
/// since `since` (less a minute of clock skew), if GitHub lists one.
pub async fn find_run(
    client: &reqwest::Client,
    api: &Api<'_>,
    d: &Dispatch<'_>,
    since: DateTime<Utc>,
) -> Result<Option<RunLink>, String> {
    let from = since - TimeDelta::minutes(1);
    let created = format!(">={}", from.to_rfc3339_opts(SecondsFormat::Secs, true));
    let runs = client.get(api.workflow_url(d, "runs")).query(&[
        ("event", "workflow_dispatch"),
        ("branch", d.git_ref),
        ("created", created.as_str()),
        ("per_page", "100"),
    ]);
    let (status, text) = api.send(runs).await?;
    if !status.is_success() {
        return Err(format!(
            "GitHub answered HTTP {} listing the workflow's runs: {}",
            status.as_u16(),
            provider_message(&text, "/message")
        ));
    }
    let runs: Runs = serde_json::from_str(&text)
        .map_err(|e| format!("GitHub's list of runs could not be read: {e}"))?;
    Ok(runs
        .workflow_runs
        .into_iter()
        .filter(|r| r.created_at >= from)
        .min_by_key(|r| (r.created_at, r.id))
        .map(|r| RunLink {
            source: Source::Github,
            id: r.id.to_string(),
            attempt: 1,
            url: r.html_url,
        }))
}

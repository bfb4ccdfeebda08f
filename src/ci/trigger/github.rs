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

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
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
        .request(client.post(api.workflow_url(d, "dispatches")))
        .json(&body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Unanswered(format!("no answer from GitHub: {}", e.without_url()));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        // 200 names the run; 204 (a server without run details) does not
        let run = serde_json::from_str::<RunDetails>(&text)
            .ok()
            .map(|r| RunLink {
                source: Source::Github,
                id: r.workflow_run_id.to_string(),
                url: r.html_url,
            });
        return Outcome::Started(run);
    }
    let reason = format!(
        "GitHub answered HTTP {}: {}",
        status.as_u16(),
        provider_message(&text, "/message")
    );
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Outcome::Unanswered(reason)
    } else {
        Outcome::Refused(reason)
    }
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
    let response = api
        .request(client.get(api.workflow_url(d, "runs")))
        .query(&[
            ("event", "workflow_dispatch"),
            ("branch", d.git_ref),
            ("created", created.as_str()),
            ("per_page", "100"),
        ])
        .send()
        .await
        .map_err(|e| format!("no answer from GitHub: {}", e.without_url()))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
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
            url: r.html_url,
        }))
}

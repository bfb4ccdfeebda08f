//! shipmate's own webhook schema, for Jenkins, Buildkite, scripts: one JSON
//! object per event, published as `config/generic-webhook.schema.json`.
//!
//! ```json
//! {"id": "jenkins-4711-3", "pipeline": "deploy-web", "run_id": "4711",
//!  "status": "running", "environment": "production", "branch": "main",
//!  "commit": "3484a3fb", "url": "https://ci.example.com/job/deploy-web/4711/",
//!  "timestamp": "2026-11-23T10:00:00Z",
//!  "jobs": [{"id": "build", "name": "build", "status": "succeeded"}]}
//! ```
//!
//! Unknown fields are refused (400 naming the field) so typos surface at
//! once. `id` is the dedup key: send the same `id` again and it is
//! acknowledged but not applied twice. `timestamp` orders events of one run.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Intake, Malformed, from_json, non_empty};
use crate::domain::pipeline::{Job, RunEvent, Source, Status};
use crate::domain::release_window::is_production;

/// One generic event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericEvent {
    pub id: String,
    pub pipeline: String,
    pub run_id: String,
    #[serde(default)]
    pub attempt: Option<u32>,
    pub status: Status,
    pub repository: Option<String>,
    pub number: Option<u64>,
    pub environment: Option<String>,
    #[serde(default)]
    pub deployment: bool,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub actor: Option<String>,
    pub url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub jobs: Vec<GenericJob>,
}

/// One job of a generic event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericJob {
    pub id: Option<String>,
    pub name: String,
    pub stage: Option<String>,
    pub status: Status,
    pub url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Parses a generic event; returns its dedup id with it.
pub fn parse(body: &[u8]) -> Result<(String, Intake), Malformed> {
    let g: GenericEvent = from_json(body)?;
    for (field, value) in [
        ("id", &g.id),
        ("pipeline", &g.pipeline),
        ("run_id", &g.run_id),
    ] {
        if value.trim().is_empty() {
            return Err(Malformed(format!("`{field}` must not be empty")));
        }
    }
    let mut e = RunEvent::new(Source::Generic, g.run_id.trim(), g.pipeline.trim());
    e.attempt = g.attempt.unwrap_or(1).max(1);
    e.status = Some(g.status);
    e.repository = non_empty(&g.repository);
    e.number = g.number;
    let environment = non_empty(&g.environment);
    e.production = environment.as_deref().is_some_and(is_production);
    e.deployment = g.deployment || environment.is_some();
    e.environment = environment;
    e.branch = non_empty(&g.branch);
    e.commit = non_empty(&g.commit);
    e.actor = non_empty(&g.actor);
    e.url = non_empty(&g.url);
    e.started_at = g.started_at;
    e.finished_at = g.finished_at;
    e.at = g.timestamp.or(g.finished_at).or(g.started_at);
    for j in g.jobs {
        e.jobs.push(Job {
            id: j.id.unwrap_or_else(|| j.name.clone()),
            name: j.name,
            stage: j.stage,
            status: j.status,
            url: j.url,
            started_at: j.started_at,
            finished_at: j.finished_at,
            at: j.finished_at.or(j.started_at).or(e.at),
        });
    }
    Ok((g.id, Intake::Event(Box::new(e))))
}

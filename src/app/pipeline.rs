//! `/pipeline status [env:…]` (the latest run of each pipeline per
//! environment) and `/pipeline history <pipeline>` (its last runs). Both
//! read what the webhook writer ([`super::pipeline_intake`]) stored.

use super::context::Handled;
use super::message::{Line, Message};
use super::pipeline_message::{RunRecord, summary};
use super::{Ctx, Reply};
use crate::domain::DomainError;
use crate::grammar::Parsed;
use crate::store;

const HISTORY: i64 = 10;

pub async fn run(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    match p.sub.name {
        "history" => history(ctx, p.get("pipeline").unwrap_or_default()).await,
        _ => status(ctx, p.get("env")).await,
    }
}

fn read(body: &str) -> Option<RunRecord> {
    serde_json::from_str(body)
        .inspect_err(|e| tracing::warn!(error = %e, "stored run unreadable"))
        .ok()
}

fn when(rec: &RunRecord) -> Line {
    match rec.run.finished_at.or(rec.run.started_at).or(rec.run.at) {
        Some(t) => Line::new().text("    ").time(t),
        None => Line::new().text("    (no time reported)"),
    }
}

async fn status(ctx: &mut Ctx<'_>, env: Option<&str>) -> Handled<Reply> {
    let runs: Vec<RunRecord> = store::pipeline::latest_runs(ctx.conn, env)
        .await?
        .iter()
        .filter_map(|b| read(b))
        .collect();
    if runs.is_empty() {
        let known = store::pipeline::environments(ctx.conn).await?;
        return Ok(Reply::private(Message::text(match (env, known.is_empty()) {
            (_, true) => "No pipeline runs yet: point a webhook at /webhooks/{github,gitlab,aws,generic}.".to_string(),
            (Some(e), false) => format!("No runs in environment `{e}`. Environments: {}", known.join(", ")),
            (None, false) => "No pipeline runs yet.".to_string(),
        })));
    }
    let mut m = Message::text(match env {
        Some(e) => format!("Latest pipeline runs in {e}:"),
        None => "Latest pipeline runs per environment:".to_string(),
    });
    for rec in &runs {
        m = m.line(summary(rec)).line(when(rec));
    }
    Ok(Reply::private(m))
}

async fn history(ctx: &mut Ctx<'_>, pipeline: &str) -> Handled<Reply> {
    let pipeline = pipeline.trim();
    let rows = store::pipeline::history(ctx.conn, pipeline, HISTORY).await?;
    if rows.is_empty() {
        let known = store::pipeline::pipeline_names(ctx.conn).await?;
        let hint = if known.is_empty() {
            "no pipeline has reported a run yet".to_string()
        } else {
            format!("known pipelines: {}", known.join(", "))
        };
        return Err(DomainError::not_found(format!("No runs of `{pipeline}`: {hint}.")).into());
    }
    let mut m = Message::text(format!(
        "Last {} runs of {pipeline}, newest first:",
        rows.len()
    ));
    for (_, body) in &rows {
        if let Some(rec) = read(body) {
            m = m.line(summary(&rec)).line(when(&rec));
        }
    }
    Ok(Reply::private(m))
}

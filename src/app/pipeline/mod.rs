//! `/pipeline status [env:…]` (the latest run of each pipeline per
//! environment) and `/pipeline history <pipeline>` (its last runs), which
//! read what the webhook writer ([`super::pipeline_intake`]) stored, and
//! `/pipeline rerun <run> [failed-only]`, a deploy request
//! ([`super::deploy::rerun`]).

mod config;

pub use config::PipelineRules;

use super::context::Handled;
use super::feature::{Feature, Input};
use super::message::{Line, Message};
use super::pipeline_message::{RunRecord, summary};
use super::{Ctx, Reply};
use crate::domain::DomainError;
use crate::grammar::spec::{opt_key, pos};
use crate::grammar::{CommandSpec, Form, Param, SubSpec};
use crate::settings::{Checks, SectionCheck};
use crate::store;

pub static PIPELINE: CommandSpec = CommandSpec {
    name: "pipeline",
    summary: "Show CI/CD pipeline runs",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "status",
            summary: "The latest run of each pipeline, per environment",
            params: &[opt_key(
                "env",
                "environment",
                "only this environment, e.g. production",
            )],
        },
        SubSpec {
            name: "rerun",
            summary: "Request a re-run of a deploy target's run (a gated deploy request)",
            params: &[
                pos("run", "run", "the provider's run id, e.g. 30433642"),
                Param {
                    name: "jobs",
                    form: Form::PositionalOrKey,
                    required: false,
                    choices: &["failed-only", "all"],
                    hint: "failed-only",
                    help: "re-run only the failed jobs (default: all)",
                },
                opt_key("reason", "…", "why, shown on the request's card"),
            ],
        },
        SubSpec {
            name: "history",
            summary: "The last runs of one pipeline",
            params: &[Param {
                name: "pipeline",
                form: Form::Rest,
                required: true,
                choices: &[],
                hint: "pipeline",
                help: "the pipeline or workflow name, e.g. deploy-web",
            }],
        },
    ],
};

/// One `/pipeline` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineCommand {
    /// The latest run of each pipeline, in one environment or all.
    Status {
        env: Option<String>,
    },
    History {
        pipeline: String,
    },
    /// A re-run of a deploy target's run, as a deploy request.
    Rerun {
        run: String,
        failed_only: bool,
        reason: Option<String>,
    },
}

impl TryFrom<Input<'_>> for PipelineCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        Ok(match input.sub() {
            "status" => PipelineCommand::Status {
                env: input.string("env"),
            },
            "rerun" => {
                let run = input.required("run")?.trim().to_string();
                let id_like =
                    run.len() <= 100 && run.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if run.is_empty() || !id_like {
                    return Err(DomainError::invalid(format!(
                        "`{run}` is not a run id: give the provider's id, e.g. /pipeline rerun 30433642"
                    )));
                }
                PipelineCommand::Rerun {
                    run,
                    failed_only: input.text("jobs") == Some("failed-only"),
                    reason: input.string("reason"),
                }
            }
            "history" => PipelineCommand::History {
                pipeline: input.required("pipeline")?.to_string(),
            },
            _ => return Err(input.unknown()),
        })
    }
}

/// The pipeline feature's commands (its intake is [`super::pipeline_intake`]).
pub struct Pipelines;

impl Feature for Pipelines {
    const COMMANDS: &'static [&'static CommandSpec] = &[&PIPELINE];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<PipelineRules>::NEW];
    type Command = PipelineCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: PipelineCommand) -> Handled<Reply> {
        match command {
            PipelineCommand::Status { env } => status(ctx, env.as_deref()).await,
            PipelineCommand::History { pipeline } => history(ctx, &pipeline).await,
            PipelineCommand::Rerun {
                run,
                failed_only,
                reason,
            } => super::deploy::rerun(ctx, &run, failed_only, reason).await,
        }
    }
}

const HISTORY: i64 = 10;

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
    let runs: Vec<RunRecord> = store::pipeline::latest_runs(&mut ctx.db, env)
        .await?
        .iter()
        .filter_map(|b| read(b))
        .collect();
    if runs.is_empty() {
        let known = store::pipeline::environments(&mut ctx.db).await?;
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
    let rows = store::pipeline::history(&mut ctx.db, pipeline, HISTORY).await?;
    if rows.is_empty() {
        let known = store::pipeline::pipeline_names(&mut ctx.db).await?;
        let hint = if known.is_empty() {
            "no pipeline has reported a run yet".to_string()
        } else {
            format!("known pipelines: {}", known.join(", "))
        };
        // nothing found is an answer, as for `/pipeline status env:…`
        return Ok(Reply::private(Message::text(format!(
            "No runs of `{pipeline}`: {hint}."
        ))));
    }
    let mut m = Message::text(format!(
        "Last {} of {pipeline}, newest first:",
        crate::app::message::count(rows.len() as i64, "run", "runs")
    ));
    for (_, body) in &rows {
        if let Some(rec) = read(body) {
            m = m.line(summary(&rec)).line(when(&rec));
        }
    }
    Ok(Reply::private(m))
}

//! What a rollback or a re-run starts from, read from the pipeline runs
//! shipmate has seen: the previous successful deploy of a target, a run
//! named by its id, and the target a run belongs to.

use super::{DeployRules, Target};
use crate::app::Ctx;
use crate::app::context::Handled;
use crate::app::pipeline_message::RunRecord;
use crate::domain::DomainError;
use crate::domain::deploy::{is_commit_id, rollback_point};
use crate::domain::pipeline::Source;
use crate::store;

/// How many of a target's latest runs a rollback looks through.
const LOOK_BACK: i64 = 200;

fn source(target: &Target) -> Source {
    target.provider.source()
}

/// Whether `rec` is a run of `target` (its repository, in its environment).
pub fn runs_for(target: &Target, rec: &RunRecord) -> bool {
    rec.environment == target.environment && target.provider.started(&rec.run)
}

/// The target whose runs `rec` is one of.
pub fn target_of<'a>(rules: &'a DeployRules, rec: &RunRecord) -> Option<&'a Target> {
    rules.targets.iter().find(|t| runs_for(t, rec))
}

/// The latest attempt of run `run_id` of `target`'s provider.
pub async fn run(ctx: &mut Ctx<'_>, source: Source, run_id: &str) -> Handled<Option<RunRecord>> {
    let body = store::pipeline::latest_attempt(&mut ctx.db, source.as_str(), run_id).await?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// Where a rollback goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The branch or tag (or, when the run named none, the commit).
    pub git_ref: String,
    /// The run it comes from, in words (`run #87 (30433000)`); `None` for a
    /// tag or commit named by `to:`.
    pub from: Option<String>,
    /// The exact commit, when known.
    pub commit: Option<String>,
}

impl Point {
    fn of_run(rec: &RunRecord) -> Option<Self> {
        let commit = rec.run.commit.clone().filter(|c| !c.is_empty());
        let git_ref = rec.run.branch.clone().or_else(|| commit.clone())?;
        Some(Self {
            git_ref,
            from: Some(run_words(rec)),
            commit,
        })
    }
}

/// Where a rollback of `target` goes. `to` is a run id (digits), a tag or
/// a commit id; without it, the previous successful deploy of the target
/// among the runs seen.
pub async fn rollback_ref(ctx: &mut Ctx<'_>, target: &Target, to: Option<&str>) -> Handled<Point> {
    let source = source(target);
    match to {
        Some(id) if id.chars().all(|c| c.is_ascii_digit()) => {
            let rec = run(ctx, source, id)
                .await?
                .filter(|rec| runs_for(target, rec));
            let Some(rec) = rec else {
                return Err(DomainError::not_found(format!(
                    "no run {id} of `{}` has been seen: name a tag or a whole commit id with to:",
                    target.name
                ))
                .into());
            };
            Point::of_run(&rec).ok_or_else(|| {
                DomainError::conflict(format!(
                    "run {id} names no branch, tag or commit to go back to: name a tag or a whole commit id with to:"
                ))
                .into()
            })
        }
        Some(tag) => Ok(Point {
            git_ref: tag.to_string(),
            from: None,
            commit: is_commit_id(tag).then(|| tag.to_ascii_lowercase()),
        }),
        None => {
            let bodies = store::pipeline::recent_in(
                &mut ctx.db,
                source.as_str(),
                &target.environment,
                LOOK_BACK,
            )
            .await?;
            let recs: Vec<RunRecord> = bodies
                .iter()
                .filter_map(|b| serde_json::from_str::<RunRecord>(b).ok())
                .filter(|rec| runs_for(target, rec))
                .collect();
            let runs: Vec<_> = recs.iter().map(|r| r.run.clone()).collect();
            let point = rollback_point(&runs).map(|p| p.key.clone());
            let found = point
                .and_then(|key| recs.iter().find(|r| r.run.key == key))
                .and_then(Point::of_run);
            let Some(point) = found else {
                return Err(DomainError::not_found(format!(
                    "no earlier successful deploy of `{}` has been seen: name one with to:<tag|commit|run>",
                    target.name
                ))
                .into());
            };
            Ok(point)
        }
    }
}

/// `run #87 (30433000)`.
fn run_words(rec: &RunRecord) -> String {
    match rec.run.number {
        Some(n) => format!("run #{n} ({})", rec.run.run_id),
        None => format!("run {}", rec.run.run_id),
    }
}

//! Pipeline runs: every CI/CD event (GitHub, GitLab, AWS, generic) normalised
//! into one [`RunEvent`], folded into one [`Run`] by [`apply`].
//!
//! Providers deliver events late, twice and out of order, so the fold is a
//! state machine with two rules:
//! - a run or job only moves *forward* by [`Status::rank`] (queued → waiting
//!   → running → finished); an event carrying an earlier status is stale;
//! - a finished run or job never goes back to running. It changes only to a
//!   *different* finished status carried by an event with a strictly newer
//!   provider timestamp (a retried GitLab pipeline that failed, then passed).
//!
//! [`apply`] returns the [`Effect`]s the app turns into messages: the run's
//! message changed, the run failed for the first time.
//!
//! ```
//! use shipmate::domain::pipeline::{apply, RunEvent, Source, Status};
//! let mut e = RunEvent::new(Source::Github, "42", "deploy");
//! e.status = Some(Status::Running);
//! let (run, effects) = apply(None, &e);
//! assert_eq!(run.status, Status::Running);
//! assert!(!effects.is_empty());
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Github,
    Gitlab,
    Aws,
    Generic,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Github, Source::Gitlab, Source::Aws, Source::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Github => "github",
            Source::Gitlab => "gitlab",
            Source::Aws => "aws",
            Source::Generic => "generic",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "unknown source `{s}`: use github, gitlab, aws or generic"
                ))
            })
    }
}

/// The state of a run or one of its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    /// Held for an approval, a manual action or an environment's protection rule.
    Waiting,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Queued,
        Status::Waiting,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::TimedOut,
        Status::Cancelled,
        Status::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Waiting => "waiting",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timed_out",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }

    /// Order of progress: an event never moves a run to a lower rank.
    pub fn rank(self) -> u8 {
        match self {
            Status::Queued => 0,
            Status::Waiting => 1,
            Status::Running => 2,
            _ => 3,
        }
    }

    pub fn is_finished(self) -> bool {
        self.rank() == 3
    }

    /// Failed, timed out or cancelled: the on-call role is told.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut | Status::Cancelled)
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Status::Queued => "⏳",
            Status::Waiting => "⏸️",
            Status::Running => "🔄",
            Status::Succeeded => "✅",
            Status::Failed => "❌",
            Status::TimedOut => "⌛",
            Status::Cancelled => "🚫",
            Status::Skipped => "⏭️",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "unknown status `{s}`: use {}",
                    Status::ALL.map(Status::as_str).join(", ")
                ))
            })
    }
}

/// One stage, job, action or phase of a run, as an event reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Stable within the run (provider job id, or `stage/action`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Provider time of the last applied update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// One provider event, normalised. Optional fields are what the event knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    pub source: Source,
    /// The provider's run identity (workflow run id, pipeline id, execution id…).
    pub run_id: String,
    pub attempt: u32,
    /// Workflow / pipeline / project name.
    pub pipeline: Option<String>,
    /// True when this event speaks for the whole run (not one job): its
    /// descriptive fields override earlier ones instead of filling blanks.
    pub authoritative: bool,
    pub repository: Option<String>,
    pub number: Option<u64>,
    /// The environment the provider names (deployments).
    pub environment: Option<String>,
    /// The provider marks the environment as production.
    pub production: bool,
    pub deployment: bool,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub actor: Option<String>,
    pub url: Option<String>,
    /// The run's new status, when the event says.
    pub status: Option<Status>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Provider time of this event (ordering); `None` when the provider gives none.
    pub at: Option<DateTime<Utc>>,
    pub jobs: Vec<Job>,
}

impl RunEvent {
    /// An event with only its identity set.
    pub fn new(source: Source, run_id: impl Into<String>, pipeline: impl Into<String>) -> Self {
        Self {
            source,
            run_id: run_id.into(),
            attempt: 1,
            pipeline: Some(pipeline.into()),
            authoritative: true,
            repository: None,
            number: None,
            environment: None,
            production: false,
            deployment: false,
            branch: None,
            commit: None,
            actor: None,
            url: None,
            status: None,
            started_at: None,
            finished_at: None,
            at: None,
            jobs: Vec::new(),
        }
    }

    /// The run's identity: one message per key per channel.
    pub fn run_key(&self) -> String {
        run_key(self.source, &self.run_id, self.attempt)
    }
}

/// `pipeline:{source}:{run id}:{attempt}`.
pub fn run_key(source: Source, run_id: &str, attempt: u32) -> String {
    format!("pipeline:{source}:{run_id}:{attempt}")
}

/// A run as folded from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub key: String,
    pub source: Source,
    pub run_id: String,
    pub attempt: u32,
    pub pipeline: String,
    pub repository: Option<String>,
    pub number: Option<u64>,
    pub provider_environment: Option<String>,
    pub production: bool,
    pub deployment: bool,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub actor: Option<String>,
    pub url: Option<String>,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Provider time of the last status change applied.
    pub at: Option<DateTime<Utc>>,
    pub jobs: Vec<Job>,
    /// Events folded in (including stale ones).
    pub events: u32,
    /// The on-call role has been told about a failure.
    pub failure_announced: bool,
}

/// What a fold asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The run's message should show the new state.
    Changed,
    /// The run entered a failure status for the first time.
    Failed,
}

impl Run {
    fn empty(e: &RunEvent) -> Self {
        Self {
            key: e.run_key(),
            source: e.source,
            run_id: e.run_id.clone(),
            attempt: e.attempt,
            pipeline: String::new(),
            repository: None,
            number: None,
            provider_environment: None,
            production: false,
            deployment: false,
            branch: None,
            commit: None,
            actor: None,
            url: None,
            status: Status::Queued,
            started_at: None,
            finished_at: None,
            at: None,
            jobs: Vec::new(),
            events: 0,
            failure_announced: false,
        }
    }

    /// Jobs that failed, in the order they were first reported.
    pub fn failed_jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| j.status.is_failure())
    }

    /// Time from start to finish (or to the last event while running).
    pub fn duration(&self) -> Option<chrono::TimeDelta> {
        let start = self.started_at?;
        let end = self.finished_at.or(self.at)?;
        (end >= start).then(|| end - start)
    }

    /// A short commit id.
    pub fn short_commit(&self) -> Option<&str> {
        self.commit.as_deref().map(|c| c.get(..7).unwrap_or(c))
    }
}

/// Whether a status update from an event at `at` replaces `current` (last changed at `current_at`).
pub fn supersedes(
    current: Status,
    current_at: Option<DateTime<Utc>>,
    next: Status,
    at: Option<DateTime<Utc>>,
) -> bool {
    if next == current {
        return false;
    }
    if current.is_finished() {
        // Only a different final status, strictly newer, replaces a final one.
        return next.is_finished() && matches!((current_at, at), (Some(c), Some(n)) if n > c);
    }
    // Unfinished: only forward moves count (a late "queued" after "running" is stale).
    next.rank() > current.rank()
}

fn set_if<T: Clone>(slot: &mut Option<T>, value: &Option<T>, overwrite: bool) {
    if value.is_some() && (overwrite || slot.is_none()) {
        slot.clone_from(value);
    }
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn earlier(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn apply_job(jobs: &mut Vec<Job>, update: &Job, event_at: Option<DateTime<Utc>>) -> bool {
    let at = update.at.or(event_at);
    match jobs.iter_mut().find(|j| j.id == update.id) {
        None => {
            let mut job = update.clone();
            job.at = at;
            jobs.push(job);
            true
        }
        Some(job) => {
            let mut changed = false;
            if supersedes(job.status, job.at, update.status, at) {
                job.status = update.status;
                job.at = later(job.at, at);
                changed = true;
            }
            for (slot, value) in [(&mut job.url, &update.url), (&mut job.stage, &update.stage)] {
                if slot.is_none() && value.is_some() {
                    slot.clone_from(value);
                    changed = true;
                }
            }
            let started = earlier(job.started_at, update.started_at);
            let finished = if job.status.is_finished() {
                later(job.finished_at, update.finished_at)
            } else {
                job.finished_at
            };
            changed |= started != job.started_at || finished != job.finished_at;
            job.started_at = started;
            job.finished_at = finished;
            changed
        }
    }
}

/// Folds one event into the run it belongs to (`None`: the first event seen).
pub fn apply(run: Option<Run>, e: &RunEvent) -> (Run, Vec<Effect>) {
    let is_new = run.is_none();
    let mut run = run.unwrap_or_else(|| Run::empty(e));
    let before = run.clone();
    run.events += 1;

    let overwrite = e.authoritative;
    if let Some(p) = &e.pipeline
        && (overwrite || run.pipeline.is_empty())
    {
        run.pipeline.clone_from(p);
    }
    set_if(&mut run.repository, &e.repository, overwrite);
    set_if(&mut run.number, &e.number, overwrite);
    set_if(&mut run.provider_environment, &e.environment, overwrite);
    set_if(&mut run.branch, &e.branch, overwrite);
    set_if(&mut run.commit, &e.commit, overwrite);
    set_if(&mut run.actor, &e.actor, overwrite);
    set_if(&mut run.url, &e.url, overwrite);
    run.production |= e.production;
    run.deployment |= e.deployment;

    if let Some(next) = e.status
        && supersedes(run.status, run.at, next, e.at)
    {
        run.status = next;
        run.at = later(run.at, e.at);
    } else if run.at.is_none() {
        run.at = e.at;
    }
    for job in &e.jobs {
        apply_job(&mut run.jobs, job, e.at);
    }
    // A job that started means the run did, even if its own event is late.
    if run.status.rank() < Status::Running.rank()
        && run
            .jobs
            .iter()
            .any(|j| j.status.rank() >= Status::Running.rank())
    {
        run.status = Status::Running;
    }
    run.started_at = earlier(run.started_at, e.started_at);
    if run.started_at.is_none() && run.status.rank() >= Status::Running.rank() {
        run.started_at = e.at;
    }
    if run.status.is_finished() {
        run.finished_at = later(run.finished_at, e.finished_at).or(run.at);
    }

    let mut effects = Vec::new();
    let mut compare = run.clone();
    compare.events = before.events;
    if is_new || compare != before {
        effects.push(Effect::Changed);
    }
    if run.status.is_failure() && !run.failure_announced {
        run.failure_announced = true;
        effects.push(Effect::Failed);
    }
    (run, effects)
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;

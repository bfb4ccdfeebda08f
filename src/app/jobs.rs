//! Fires a due job with the runner its feature lists (see
//! [`super::feature::Job`]). Runs inside the scheduler's transaction, so the
//! job's effects and its completion commit together.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::feature::{JobRunner, Runs};
use super::{App, Ctx, features, retention};
use crate::domain::{Actor, ChannelRef, Platform, RoleSet, UserRef};
use crate::store::jobs::Job;
use crate::store::{Pending, Session};

/// Runs one due job. An error rolls its effects back and the job is retried.
/// Returns whether messages were queued and jobs scheduled.
pub async fn fire(
    app: &App,
    conn: &mut SqliteConnection,
    job: &Job,
    now: DateTime<Utc>,
) -> anyhow::Result<(bool, bool)> {
    let Some(runner) = runner(&job.kind) else {
        anyhow::bail!("unknown job kind `{}`", job.kind);
    };
    let system = Actor {
        user: UserRef::console("shipmate"),
        person: "system".into(),
        roles: RoleSet::default(),
    };
    let channel = ChannelRef::new(Platform::Console, "#shipmate");
    let mut pending = Pending::default();
    let mut ctx = Ctx::new(
        Session::new(conn, &mut pending),
        app,
        system,
        channel,
        now,
        ("shipmate".into(), "system".into()),
    );
    runner.fire(&mut ctx, &job.payload).await?;
    ctx.db.flush().await?;
    Ok(ctx.effects())
}

/// Jobs of the core rather than of a feature: retention.
const CORE: &[&dyn JobRunner] = &[&Runs::<retention::Prune>::NEW];

/// Every job: the features' and the core's.
fn all() -> impl Iterator<Item = &'static dyn JobRunner> {
    features::JOBS.iter().copied().chain(CORE.iter().copied())
}

/// The runner of job `kind`.
pub fn runner(kind: &str) -> Option<&'static dyn JobRunner> {
    all().find(|j| j.kind() == kind)
}

/// The recurring jobs the configuration asks for, as (kind, cron expression).
pub fn recurring(config: &crate::settings::Config) -> Vec<(&'static str, String)> {
    all()
        .filter_map(|job| Some((job.kind(), job.cron(config)?)))
        .collect()
}

//! What each kind of job does when it falls due. Runs inside the scheduler's
//! transaction, so the job's effects and its completion commit together.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::deletion::{EXPIRE_JOB, ExpirePayload, READY_REMINDER_JOB, apply_effects, remind_ready};
use super::{App, Ctx};
use crate::domain::{Actor, ChannelRef, Platform, RecordId, RecordKind, RoleSet, UserRef};
use crate::store::{self, jobs::Job};

/// Runs one due job. An error rolls its effects back and the job is retried.
/// Returns whether messages were queued and jobs scheduled.
pub async fn fire(
    app: &App,
    conn: &mut SqliteConnection,
    job: &Job,
    now: DateTime<Utc>,
) -> anyhow::Result<(bool, bool)> {
    let system = Actor {
        user: UserRef::console("shipmate"),
        person: "system".into(),
        roles: RoleSet::default(),
    };
    let channel = ChannelRef::new(Platform::Console, "#shipmate");
    let mut ctx = Ctx::new(
        conn,
        app,
        system,
        channel,
        now,
        ("shipmate".into(), "system".into()),
    );
    match job.kind.as_str() {
        EXPIRE_JOB => expire_cooling_off(&mut ctx, job).await?,
        READY_REMINDER_JOB => remind_ready(&mut ctx).await.map_err(unwrap_handled)?,
        super::release::OVERDUE_JOB => overdue(&mut ctx, job).await?,
        kind @ (super::freeze::ENDING_JOB | super::freeze::ENDED_JOB) => {
            super::freeze::fire(&mut ctx, kind, &job.payload)
                .await
                .map_err(unwrap_handled)?
        }
        super::downtime::TIMER_JOB => super::downtime::fire_timer(&mut ctx, &job.payload).await?,
        super::sms::REMINDER_JOB => super::sms::remind(&mut ctx).await.map_err(unwrap_handled)?,
        super::sms_poll::POLL_JOB => super::sms_poll::spawn(app),
        other => anyhow::bail!("unknown job kind `{other}`"),
    }
    ctx.flush().await.map_err(unwrap_handled)?;
    Ok(ctx.effects())
}

/// The recurring jobs the configuration asks for, as (kind, cron expression).
pub fn recurring(config: &crate::settings::Config) -> Vec<(&'static str, String)> {
    let mut jobs = vec![
        (
            READY_REMINDER_JOB,
            config.settings.deletion.ready_reminder_cron.clone(),
        ),
        (
            super::sms::REMINDER_JOB,
            config.settings.sms.reminder_cron.clone(),
        ),
    ];
    if config.sms.poll {
        jobs.push((
            super::sms_poll::POLL_JOB,
            config.settings.sms.poll_cron.clone(),
        ));
    }
    jobs
}

async fn expire_cooling_off(ctx: &mut Ctx<'_>, job: &Job) -> anyhow::Result<()> {
    let payload: ExpirePayload = serde_json::from_str(&job.payload)?;
    let id = RecordId::new(RecordKind::DeletionRequest, payload.id);
    let Some(mut request) = store::deletion::get(ctx.conn, payload.id).await? else {
        anyhow::bail!("{id} no longer exists");
    };
    let effects = request.expire(store::from_ms(payload.until_ms), ctx.now);
    if effects.is_empty() {
        tracing::debug!(%id, "stale cooling-off timer ignored");
        return Ok(());
    }
    store::deletion::update(ctx.conn, payload.id, &request, ctx.now).await?;
    ctx.audit(&id.to_string(), "ready", "cooling-off ended")
        .await
        .map_err(unwrap_handled)?;
    apply_effects(ctx, id, &request, effects)
        .await
        .map_err(unwrap_handled)?;
    Ok(())
}

/// A handler's error as a job error (a user error in a job is still a failure).
pub(crate) fn unwrap_handled(e: super::CommandError) -> anyhow::Error {
    match e {
        super::CommandError::User(e) => anyhow::anyhow!("{e}"),
        super::CommandError::Internal(e) => e,
    }
}

async fn overdue(ctx: &mut Ctx<'_>, job: &Job) -> anyhow::Result<()> {
    let payload: super::release::OverduePayload = serde_json::from_str(&job.payload)?;
    let id = RecordId::new(RecordKind::Release, payload.id);
    let Some(release) = store::release::get(ctx.conn, payload.id).await? else {
        anyhow::bail!("{id} no longer exists");
    };
    let effects = release.overdue(&payload.task, ctx.now);
    super::release::apply_effects(ctx, id, &release, effects)
        .await
        .map_err(unwrap_handled)
}

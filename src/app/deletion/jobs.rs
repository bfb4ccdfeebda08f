//! The deletion feature's jobs: the end of a cooling-off period, and the
//! recurring nudge about ready requests nobody has executed.

use serde::{Deserialize, Serialize};

use super::{apply_effects, remind_ready};
use crate::app::Ctx;
use crate::app::feature::{Job, NoPayload};
use crate::domain::{RecordId, RecordKind};
use crate::settings::Config;
use crate::store;

/// Ends a cooling-off period: the request becomes ready.
pub struct Expire;

/// Payload of [`Expire`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpirePayload {
    pub id: i64,
    pub until_ms: i64,
}

impl Job for Expire {
    const KIND: &'static str = "deletion.expire";
    type Payload = ExpirePayload;

    fn dedup_key(p: &ExpirePayload) -> Option<String> {
        let id = RecordId::new(RecordKind::DeletionRequest, p.id);
        Some(format!("{}:{id}:{}", Self::KIND, p.until_ms))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: ExpirePayload) -> anyhow::Result<()> {
        let id = RecordId::new(RecordKind::DeletionRequest, payload.id);
        let Some(mut request) = store::deletion::get(&mut ctx.db, payload.id).await? else {
            anyhow::bail!("{id} no longer exists");
        };
        let effects = request.expire(store::from_ms(payload.until_ms), ctx.now);
        if effects.is_empty() {
            tracing::debug!(%id, "stale cooling-off timer ignored");
            return Ok(());
        }
        store::deletion::update(&mut ctx.db, payload.id, &request, ctx.now);
        ctx.audit(&id.to_string(), "ready", "cooling-off ended");
        apply_effects(ctx, id, &request, effects)
            .await
            .map_err(anyhow::Error::from)
    }
}

/// Reminds devops of every ready request (`deletion.ready_reminder_cron`).
pub struct ReadyReminder;

impl Job for ReadyReminder {
    const KIND: &'static str = "deletion.ready_reminder";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        Some(
            config
                .section::<super::DeletionRules>()
                .ready_reminder_cron
                .clone(),
        )
    }

    async fn fire(ctx: &mut Ctx<'_>, _: NoPayload) -> anyhow::Result<()> {
        remind_ready(ctx).await.map_err(anyhow::Error::from)
    }
}

//! Retention: a recurring job (`retention.schedule`) that deletes what grows
//! without bound once it is older than its `[retention]` age: webhook
//! deliveries, finished pipeline runs with their messages, delivered
//! messages, fired and cancelled jobs, and replay digests past their window.
//! The audit log is never pruned. What is kept, and why, is stated in
//! `store::retention`, which holds the SQL.
//!
//! It is core, not a feature: it has no commands, and is listed beside the
//! features' jobs in `jobs.rs`. Each firing deletes at most [`BATCH`] rows of
//! each kind in the scheduler's transaction; when a kind had more, it
//! schedules itself again at once, so a large backlog goes in many short
//! transactions, with commands and webhooks served between them.

use chrono::{DateTime, TimeDelta, Utc};

use super::Ctx;
use super::feature::{Job, NoPayload};
use crate::settings::{Config, RetentionRules};
use crate::store;
use crate::store::retention::Cutoffs;

/// Rows of each kind deleted per transaction.
pub const BATCH: u64 = 500;

/// The recurring pruning job.
pub struct Prune;

impl Job for Prune {
    const KIND: &'static str = "retention.prune";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        Some(config.settings.retention.schedule.clone())
    }

    async fn fire(ctx: &mut Ctx<'_>, _payload: NoPayload) -> anyhow::Result<()> {
        let cut = cutoffs(&ctx.app.config.retention, ctx.now);
        let pruned = store::retention::prune(&mut ctx.db, &cut, BATCH).await?;
        for (kind, n) in [
            ("webhook_deliveries", pruned.deliveries),
            ("pipeline_runs", pruned.runs),
            ("delivered_messages", pruned.messages),
            ("finished_jobs", pruned.jobs),
            ("seen_requests", pruned.seen_requests),
            ("inbound_mail", pruned.mail),
        ] {
            metrics::counter!("shipmate_retention_pruned_total", "kind" => kind).increment(n);
        }
        let more = pruned.more(BATCH);
        if pruned.total() > 0 {
            tracing::info!(?pruned, more, "retention: pruned old rows");
        }
        if more {
            // the rest in a transaction of its own, straight after this one
            Prune::schedule(ctx, &NoPayload {}, ctx.now);
        }
        Ok(())
    }
}

/// What is old enough to go at `now`.
pub fn cutoffs(rules: &RetentionRules, now: DateTime<Utc>) -> Cutoffs {
    let before = |age: Option<TimeDelta>| age.map(|a| now - a);
    Cutoffs {
        deliveries: before(rules.webhook_deliveries),
        runs: before(rules.pipeline_runs),
        messages: before(rules.delivered_messages),
        jobs: before(rules.finished_jobs),
        seen_requests: now - store::replay::REMEMBER,
    }
}

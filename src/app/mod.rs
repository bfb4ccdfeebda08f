//! Use-cases: [`App::dispatch`] takes an [`Invocation`] from any platform,
//! runs it in one transaction and returns a [`Reply`]; [`App::fire_job`]
//! runs a due job the same way. One handler file per feature.
//!
//! A refused or failed command rolls back: nothing it wrote (state, audit
//! rows, outbox rows, jobs) survives.

pub mod calendar;
mod context;
pub mod deletion;
pub mod downtime;
pub mod freeze;
mod help;
pub mod invocation;
pub mod jobs;
pub mod mention;
pub mod message;
pub mod pipeline;
pub mod pipeline_intake;
pub mod pipeline_message;
pub mod release;
pub mod roles;
pub mod sms;
pub mod sms_poll;
pub mod status;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

pub use context::{CommandError, Ctx};
pub use invocation::{Invocation, Reply, Status};
pub use message::{Line, Message};

use crate::domain::timing::Clock;
use crate::grammar::{self, Parsed};
use crate::settings::Config;
use crate::store::Db;

/// Wake-ups for the background workers after a commit.
#[derive(Debug, Default)]
pub struct Wake {
    pub jobs: Notify,
    pub outbox: Notify,
}

/// The application: database, configuration, clock.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Wake>,
}

impl App {
    pub fn new(db: Db, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            config,
            clock,
            wake: Arc::new(Wake::default()),
        }
    }

    /// Runs one command and returns the reply for its invoker.
    pub async fn dispatch(&self, inv: &Invocation) -> Reply {
        let started = Instant::now();
        let (name, reply) = match grammar::parse_line(&inv.text) {
            Err(e) => ("unknown", Reply::error(Status::Invalid, e.to_string())),
            Ok(parsed) if parsed.command.name == "help" => ("help", help::run(&parsed)),
            Ok(parsed) => (
                parsed.command.name,
                self.run_in_transaction(inv, &parsed).await,
            ),
        };
        metrics::counter!("shipmate_commands_total", "command" => name, "outcome" => reply.status.as_str())
            .increment(1);
        metrics::histogram!("shipmate_command_duration_seconds", "command" => name)
            .record(started.elapsed().as_secs_f64());
        reply
    }

    async fn run_in_transaction(&self, inv: &Invocation, parsed: &Parsed) -> Reply {
        let mut tx = match self.db.begin().await {
            Ok(tx) => tx,
            Err(e) => return internal_error(e),
        };
        let now = self.clock.now();
        let (actor, grants) =
            match roles::actor_for(&mut tx, &self.config, &inv.user, &inv.platform_roles).await {
                Ok(found) => found,
                Err(e) => return internal_error(e.into()),
            };
        let audit_actor = (inv.user.to_string(), inv.user.platform.to_string());
        let mut ctx = Ctx::new(&mut tx, self, actor, inv.channel.clone(), now, audit_actor);
        ctx.set_grants(grants);
        let result = match parsed.command.name {
            "delete-request" => deletion::run(&mut ctx, parsed).await,
            "downtime" => downtime::run(&mut ctx, parsed).await,
            "sms" => sms::run(&mut ctx, parsed).await,
            "role" => roles::run(&mut ctx, parsed).await,
            "release" => release::run_release(&mut ctx, parsed).await,
            "task" => release::run_task(&mut ctx, parsed).await,
            "signoff" => release::run_signoff(&mut ctx, parsed).await,
            "freeze" => freeze::run(&mut ctx, parsed).await,
            "pipeline" => pipeline::run(&mut ctx, parsed).await,
            other => Err(CommandError::Internal(anyhow::anyhow!(
                "no handler for /{other}"
            ))),
        };
        let effects = ctx.effects();
        let batch = ctx.take_batch();
        drop(ctx);
        match result {
            Ok(reply) => match commit(tx, batch).await {
                Ok(()) => {
                    self.notify(effects);
                    reply
                }
                Err(e) => internal_error(e),
            },
            Err(CommandError::User(e)) => {
                let _ = tx.rollback().await;
                let status = match e {
                    crate::domain::DomainError::Invalid(_) => Status::Invalid,
                    _ => Status::Refused,
                };
                let text = match status {
                    Status::Invalid => format!("{e}\nUsage:\n{}", parsed.usage()),
                    _ => e.to_string(),
                };
                Reply::error(status, text)
            }
            Err(CommandError::Internal(e)) => {
                let _ = tx.rollback().await;
                internal_error(e)
            }
        }
    }

    /// Wakes the workers that have new rows to look at.
    pub fn notify(&self, (posted, scheduled): (bool, bool)) {
        if posted {
            self.wake.outbox.notify_one();
        }
        if scheduled {
            self.wake.jobs.notify_one();
        }
    }
}

/// Commits with the command's gathered writes, in one round trip.
async fn commit(tx: crate::store::Tx, batch: crate::store::batch::Batch) -> anyhow::Result<()> {
    let (statements, args) = batch.into_parts()?;
    tx.commit_with(statements, args).await
}

fn internal_error(e: anyhow::Error) -> Reply {
    let reference = format!("{:x}", chrono::Utc::now().timestamp_micros());
    tracing::error!(reference, error = format!("{e:#}"), "command failed");
    Reply::error(
        Status::Failed,
        format!("internal error (ref {reference}); nothing was changed"),
    )
}

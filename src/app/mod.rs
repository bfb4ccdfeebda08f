//! Use-cases: [`App::dispatch`] takes an [`Invocation`] from any platform,
//! parses it with the one grammar, types it into its feature's command
//! ([`feature::Feature`]), runs it in a transaction and returns a
//! [`Reply`]; [`jobs::fire`] runs a due job the same way. Each feature is
//! one module; [`features`] lists them (see `docs/design.md`).
//!
//! A refused or failed command rolls back: nothing it wrote (state, audit
//! rows, outbox rows, jobs) survives. Commands arriving together share one
//! transaction (see `group.rs`), each seeing the ones before it.

pub mod calendar;
mod context;
pub mod deletion;
pub mod deploy;
pub mod downtime;
pub mod feature;
pub mod features;
pub mod freeze;
mod group;
mod help;
pub mod incident;
pub mod invocation;
pub mod jobs;
pub mod listing;
pub mod mention;
pub mod message;
pub mod pipeline;
pub mod pipeline_intake;
pub mod pipeline_message;
pub mod release;
pub mod retention;
pub mod roles;
pub mod sms;
pub mod status;
pub mod subscribers;
pub mod version;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

pub use context::{CommandError, Ctx};
pub use invocation::{Invocation, Reply, Status};
pub use message::{Line, Message};

use crate::domain::DomainError;
use crate::domain::timing::Clock;
use crate::grammar::Parsed;
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
    /// Commands waiting for the next group transaction.
    queue: Arc<group::Queue>,
}

impl App {
    pub fn new(db: Db, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            config,
            clock,
            wake: Arc::new(Wake::default()),
            queue: Arc::default(),
        }
    }

    /// Runs one command and returns the reply for its invoker.
    pub async fn dispatch(&self, inv: &Invocation) -> Reply {
        let started = Instant::now();
        let (name, reply) = match features::parse_line(&inv.text) {
            Err(e) => ("unknown", Reply::error(Status::Invalid, e.to_string())),
            Ok(parsed) => (parsed.command.name, self.run_parsed(inv, &parsed).await),
        };
        metrics::counter!("shipmate_commands_total", "command" => name, "outcome" => reply.status.as_str())
            .increment(1);
        metrics::histogram!("shipmate_command_duration_seconds", "command" => name)
            .record(started.elapsed().as_secs_f64());
        reply
    }

    /// Types a parsed command and runs it (`/help` needs no transaction).
    async fn run_parsed(&self, inv: &Invocation, parsed: &Parsed) -> Reply {
        let input = feature::Input {
            parsed,
            config: &self.config,
            platform: inv.user.platform,
        };
        match features::Command::from_input(input) {
            None => help::run(parsed),
            Some(Err(e)) => refusal(e, parsed.usage()),
            Some(Ok(command)) => self.run_grouped(inv, command, parsed).await,
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

/// The answer to a command a rule refused; invalid input gets its usage line.
fn refusal(e: DomainError, usage: String) -> Reply {
    match e {
        DomainError::Invalid(_) => Reply::error(Status::Invalid, format!("{e}\nUsage:\n{usage}")),
        _ => Reply::error(Status::Refused, e.to_string()),
    }
}

fn internal_error(e: anyhow::Error) -> Reply {
    let reference = format!("{:x}", chrono::Utc::now().timestamp_micros());
    tracing::error!(reference, error = format!("{e:#}"), "command failed");
    Reply::error(
        Status::Failed,
        format!("internal error (ref {reference}); nothing was changed"),
    )
}

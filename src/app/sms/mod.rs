//! `/sms balance|status`, the renewal reminder (`sms.reminder_cron`) and the
//! low-balance / run-out alerts in `sms.channels`. The forecast and the
//! alert rules are the domain's ([`crate::domain::sms`]); this module loads
//! the history, remembers which alerts went out, and writes the messages.
//!
//! Files: `command.rs` (grammar and typed command), `credits.rs` (the
//! handlers, forecast and alerts), `poll.rs` (the optional balance poller).

mod command;
mod config;
mod credits;
mod poll;

pub use command::{SMS, SmsCommand};
pub use config::SmsRules;
pub use credits::load_forecast;
pub use poll::{Poll, PollOutcome, poll_once};

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, NoPayload, Runs};
use super::{Ctx, Reply};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, Config, SectionCheck};
use credits::{balance, remind, status};

/// The SMS-credit feature.
pub struct Sms;

impl Feature for Sms {
    const COMMANDS: &'static [&'static CommandSpec] = &[&SMS];
    const JOBS: &'static [&'static dyn JobRunner] = &[&Runs::<Reminder>::NEW, &Runs::<Poll>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<SmsRules>::NEW];
    type Command = SmsCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: SmsCommand) -> Handled<Reply> {
        match command {
            SmsCommand::Balance(credits) => balance(ctx, credits).await,
            SmsCommand::Status => status(ctx).await,
        }
    }
}

/// The recurring renewal reminder (`sms.reminder_cron`).
pub struct Reminder;

impl Job for Reminder {
    const KIND: &'static str = "sms.reminder";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        Some(config.section::<SmsRules>().reminder_cron.clone())
    }

    async fn fire(ctx: &mut Ctx<'_>, _: NoPayload) -> anyhow::Result<()> {
        remind(ctx).await.map_err(anyhow::Error::from)
    }
}

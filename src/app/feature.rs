//! The typed boundary between the grammar and the features.
//!
//! A feature is one module that owns all of itself: the grammar entries of
//! its commands ([`Feature::COMMANDS`]), a typed command built once from the
//! parsed form (`TryFrom<Input>`, every argument already typed), its handler
//! ([`Feature::handle`], an exhaustive `match` over that type), the reads it
//! wants with the transaction's `BEGIN` ([`Feature::reads`]), its jobs
//! ([`Job`], listed in [`Feature::JOBS`]) and its configuration section
//! ([`Feature::SECTIONS`]). One line in
//! `features.rs` wires it into the grammar table, `/help`, Discord
//! registration, the Slack manifest, dispatch, job firing and
//! `check-config`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Handled;
use super::{Ctx, Reply};
use crate::domain::{DomainError, Platform, RecordId, RecordKind};
use crate::grammar::{CommandSpec, Parsed};
use crate::settings::{Config, SectionCheck};
use crate::store::Reads;
use crate::store::jobs::NewJob;

/// A feature: its commands, their typed form and handler, and its jobs.
pub trait Feature {
    /// The grammar entries of its commands, in the order `/help` lists them.
    const COMMANDS: &'static [&'static CommandSpec];
    /// Its jobs (the scheduler fires them by [`Job::KIND`]).
    const JOBS: &'static [&'static dyn JobRunner] = &[];
    /// Its sections of the configuration (`[deletion]`), each checked into
    /// its typed rules ([`crate::settings::Section`]), which the feature
    /// reads with `config.section::<Rules>()`.
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[];
    /// One command of this feature, every argument typed.
    type Command: for<'a> TryFrom<Input<'a>, Error = DomainError> + Clone + Send + 'static;

    /// Runs one command. Its only effects are its writes through `ctx`: it
    /// may run again after a rollback (see `app::group`).
    fn handle(
        ctx: &mut Ctx<'_>,
        command: Self::Command,
    ) -> impl Future<Output = Handled<Reply>> + Send;

    /// Adds what `command` will read to the reads sent with the `BEGIN`.
    fn reads(_command: &Self::Command, _reads: &mut Reads) {}
}

/// What a typed command is built from: the parsed form, the configuration
/// (time zone, role names) and the invoker's platform (how `@name` reads).
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub parsed: &'a Parsed,
    pub config: &'a Config,
    pub platform: Platform,
}

impl<'a> Input<'a> {
    /// The subcommand's name.
    pub fn sub(&self) -> &'static str {
        self.parsed.sub.name
    }

    /// A parameter's text, if given.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.parsed.get(name)
    }

    /// A parameter's text, as an owned string, if given.
    pub fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_string)
    }

    /// A parameter the grammar requires.
    pub fn required(&self, name: &str) -> Result<&'a str, DomainError> {
        self.text(name)
            .ok_or_else(|| DomainError::invalid(format!("missing `{name}`")))
    }

    /// A parameter parsed into its type, if given.
    pub fn parse<T: FromStr<Err = DomainError>>(
        &self,
        name: &str,
    ) -> Result<Option<T>, DomainError> {
        self.text(name).map(str::parse).transpose()
    }

    /// A required parameter parsed into its type.
    pub fn parse_required<T: FromStr<Err = DomainError>>(
        &self,
        name: &str,
    ) -> Result<T, DomainError> {
        self.required(name)?.parse()
    }

    /// A record id of `kind` (e.g. `DR-1` or `1`).
    pub fn record(&self, kind: RecordKind, name: &str) -> Result<RecordId, DomainError> {
        RecordId::parse_as(kind, self.required(name)?)
    }

    /// A time as `"YYYY-MM-DD HH:MM"` in the configured zone or RFC 3339.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, DomainError> {
        self.text(name)
            .map(|s| crate::domain::timing::parse_time(s, self.config.tz))
            .transpose()
    }

    /// The error for a subcommand the feature does not know: the grammar
    /// and the feature disagree (a test walks every subcommand, so this
    /// never reaches a user).
    pub fn unknown(&self) -> DomainError {
        DomainError::invalid(format!(
            "`/{} {}` has no handler",
            self.parsed.command.name, self.parsed.sub.name
        ))
    }
}

/// A kind of scheduled job: a row in the one `jobs` table with this kind and
/// a JSON payload, fired by the scheduler in a transaction of its own.
pub trait Job: 'static {
    /// The kind stored with each row.
    const KIND: &'static str;
    type Payload: Serialize + DeserializeOwned + Send;

    /// A job whose key exists already is not scheduled again.
    fn dedup_key(_payload: &Self::Payload) -> Option<String> {
        None
    }

    /// For a recurring job: its cron expression from the configuration
    /// (`None`: not recurring, or switched off).
    fn cron(_config: &Config) -> Option<String> {
        None
    }

    /// Applies the job's effects through `ctx`. An error rolls them back and
    /// the job is retried.
    fn fire(
        ctx: &mut Ctx<'_>,
        payload: Self::Payload,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Schedules this job with `payload` at `due_at`, in `ctx`'s transaction
    /// (once per [`Job::dedup_key`]).
    fn schedule(ctx: &mut Ctx<'_>, payload: &Self::Payload, due_at: DateTime<Utc>) {
        match serde_json::to_string(payload) {
            Ok(text) => ctx.schedule_row(&NewJob {
                kind: Self::KIND.into(),
                payload: text,
                due_at,
                cron: None,
                dedup_key: Self::dedup_key(payload),
            }),
            Err(e) => ctx.fail_encoding(format!("{} payload: {e}", Self::KIND)),
        }
    }
}

/// The payload of a recurring job (stored as `{}`).
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct NoPayload {}

/// The future a job's firing returns.
pub type Firing<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// A [`Job`] as a value, so features can list theirs in [`Feature::JOBS`].
pub trait JobRunner: Sync {
    fn kind(&self) -> &'static str;
    fn cron(&self, config: &Config) -> Option<String>;
    fn fire<'a>(&'a self, ctx: &'a mut Ctx<'_>, payload: &'a str) -> Firing<'a>;
}

/// The [`JobRunner`] of job `J`: `&Runs::<MyJob>::NEW`.
pub struct Runs<J>(PhantomData<fn() -> J>);

impl<J> Runs<J> {
    pub const NEW: Self = Self(PhantomData);
}

impl<J: Job> JobRunner for Runs<J> {
    fn kind(&self) -> &'static str {
        J::KIND
    }

    fn cron(&self, config: &Config) -> Option<String> {
        J::cron(config)
    }

    fn fire<'a>(&'a self, ctx: &'a mut Ctx<'_>, payload: &'a str) -> Firing<'a> {
        Box::pin(async move {
            let payload: J::Payload = serde_json::from_str(payload)
                .map_err(|e| anyhow::anyhow!("{} payload unreadable: {e}", J::KIND))?;
            J::fire(ctx, payload).await
        })
    }
}

/// Lists the features: generates `Command` (one variant per feature), the
/// grammar table, the job list and the section list (used once, in
/// `features.rs`).
macro_rules! features {
    ($($variant:ident => $feature:ty),+ $(,)?) => {
        /// One command of any feature, typed.
        #[derive(Clone)]
        pub enum Command {
            $($variant(<$feature as Feature>::Command)),+
        }

        impl Command {
            /// The typed command for `input`, or `None` when no feature owns
            /// its command (`/help`, which needs no transaction).
            pub fn from_input(input: Input<'_>) -> Option<Result<Self, DomainError>> {
                $(
                    if owns(<$feature as Feature>::COMMANDS, input.parsed.command) {
                        return Some(
                            <$feature as Feature>::Command::try_from(input).map(Command::$variant),
                        );
                    }
                )+
                None
            }

            /// Runs the command with its feature's handler.
            pub async fn handle(self, ctx: &mut Ctx<'_>) -> Handled<Reply> {
                match self {
                    $(Command::$variant(c) => <$feature as Feature>::handle(ctx, c).await),+
                }
            }

            /// Adds what the command will read to the reads sent with the `BEGIN`.
            pub fn reads(&self, reads: &mut Reads) {
                match self {
                    $(Command::$variant(c) => <$feature as Feature>::reads(c, reads)),+
                }
            }
        }

        /// Every command of every feature, in `/help` order, then `/help`.
        pub static COMMANDS: LazyLock<Vec<&'static CommandSpec>> = LazyLock::new(|| {
            let mut all: Vec<&'static CommandSpec> = Vec::new();
            $(all.extend_from_slice(<$feature as Feature>::COMMANDS);)+
            all.push(&HELP);
            all
        });

        /// Every job of every feature.
        pub static JOBS: LazyLock<Vec<&'static dyn JobRunner>> = LazyLock::new(|| {
            let mut all: Vec<&'static dyn JobRunner> = Vec::new();
            $(all.extend_from_slice(<$feature as Feature>::JOBS);)+
            all
        });

        /// Every configuration section of every feature.
        pub static SECTIONS: LazyLock<Vec<&'static dyn SectionCheck>> = LazyLock::new(|| {
            let mut all: Vec<&'static dyn SectionCheck> = Vec::new();
            $(all.extend_from_slice(<$feature as Feature>::SECTIONS);)+
            all
        });
    };
}

pub(crate) use features;

/// Whether `command` is one of `commands` (names are unique in the table).
pub fn owns(commands: &[&'static CommandSpec], command: &CommandSpec) -> bool {
    commands.iter().any(|c| c.name == command.name)
}

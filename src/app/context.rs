//! The context a handler runs in: its [`Session`] (the open transaction, see
//! `store::session` for the group-commit and replay contract), the actor,
//! the channel, the clock reading, and helpers that gather audit rows,
//! outbox rows and jobs into that same transaction.

use chrono::{DateTime, Utc};

use super::App;
use super::message::Message;
use crate::domain::{Actor, ChannelRef, DomainError, RoleSet, UserRef};
use crate::store::{Pending, Session, audit::AuditEntry, jobs::NewJob};

/// Why a handler stopped: the user's mistake, or ours.
#[derive(Debug)]
pub enum CommandError {
    User(DomainError),
    Internal(anyhow::Error),
}

impl From<DomainError> for CommandError {
    fn from(e: DomainError) -> Self {
        Self::User(e)
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

pub type Handled<T> = Result<T, CommandError>;

/// A handler's error as a job's (a user error in a job is still a failure).
impl From<CommandError> for anyhow::Error {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::User(e) => anyhow::anyhow!("{e}"),
            CommandError::Internal(e) => e,
        }
    }
}

/// One command's (or one job's) working context.
pub struct Ctx<'a> {
    /// Every read and write goes through here (the store functions take it).
    pub db: Session<'a>,
    pub app: &'a App,
    pub actor: Actor,
    pub channel: ChannelRef,
    pub now: DateTime<Utc>,
    audit_actor: (String, String),
    posted: bool,
    scheduled: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(
        db: Session<'a>,
        app: &'a App,
        actor: Actor,
        channel: ChannelRef,
        now: DateTime<Utc>,
        audit_actor: (String, String),
    ) -> Self {
        Self {
            db,
            app,
            actor,
            channel,
            now,
            audit_actor,
            posted: false,
            scheduled: false,
        }
    }

    /// Appends an audit row for `record`.
    pub fn audit(&mut self, record: &str, action: &str, detail: &str) {
        let entry = AuditEntry {
            at: self.now,
            actor: self.audit_actor.0.clone(),
            platform: self.audit_actor.1.clone(),
            record: record.to_string(),
            action: action.to_string(),
            detail: detail.to_string(),
        };
        self.db.batch().audit(&entry);
    }

    /// Queues a message for one channel.
    pub fn post(&mut self, channel: &ChannelRef, message: &Message, key: Option<&str>) {
        let now = self.now;
        self.db
            .batch()
            .outbox(channel.to_string(), message, key.map(str::to_string), now);
        self.posted = true;
    }

    /// Queues a message for every channel in `channels`.
    pub fn post_all(&mut self, channels: &[ChannelRef], message: &Message) {
        for channel in channels {
            self.post(channel, message, None);
        }
    }

    /// Schedules a job row (see `Job::schedule` for the typed way).
    pub fn schedule_row(&mut self, job: &NewJob) {
        let now = self.now;
        self.db.batch().job(job, now);
        self.scheduled = true;
    }

    /// Records that a value could not be encoded: the transaction then fails.
    pub fn fail_encoding(&mut self, what: String) {
        self.db.batch().fail(what);
    }

    /// Every run-time role grant as (role, member), read at most once per
    /// transaction.
    pub async fn grants(&mut self) -> Handled<Vec<(String, String)>> {
        Ok(self.db.grants().await?)
    }

    /// Whether messages were queued and jobs scheduled.
    pub fn effects(&self) -> (bool, bool) {
        (self.posted, self.scheduled)
    }
}

/// Runs `work` as `user` (a partner's API identity, the mail intake; no role)
/// in a transaction of its own on the writer, `channel` standing for where
/// it came from; commits what it wrote when it succeeds (then wakes the
/// workers), rolls everything back when it fails.
pub async fn run_as<T>(
    app: &App,
    user: UserRef,
    channel: ChannelRef,
    via: &str,
    work: impl AsyncFnOnce(&mut Ctx<'_>) -> Handled<T>,
) -> Handled<T> {
    let now = app.clock.now();
    let actor = Actor {
        user: user.clone(),
        person: user.id.clone(),
        roles: RoleSet::default(),
    };
    let mut tx = app.db.begin().await?;
    let mut pending = Pending::default();
    let mut ctx = Ctx::new(
        Session::new(&mut tx, &mut pending),
        app,
        actor,
        channel,
        now,
        (user.to_string(), via.into()),
    );
    let outcome = match work(&mut ctx).await {
        Ok(done) => ctx
            .db
            .flush()
            .await
            .map(|()| done)
            .map_err(CommandError::from),
        Err(e) => Err(e),
    };
    let effects = ctx.effects();
    drop(ctx);
    match outcome {
        Ok(done) => {
            tx.commit().await?;
            app.notify(effects);
            Ok(done)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(
                    error = format!("{rollback:#}"),
                    "rolling back refused work failed"
                );
            }
            Err(e)
        }
    }
}

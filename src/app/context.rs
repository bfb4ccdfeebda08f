//! The context a handler runs in: the open transaction, the actor, the
//! clock reading, and helpers that write audit rows, outbox rows and jobs
//! into that same transaction.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::App;
use super::message::Message;
use crate::domain::{Actor, ChannelRef, DomainError};
use crate::store::{self, audit::AuditEntry, jobs::NewJob};

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

/// One command's (or one job's) working context.
pub struct Ctx<'a> {
    pub conn: &'a mut SqliteConnection,
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
        conn: &'a mut SqliteConnection,
        app: &'a App,
        actor: Actor,
        channel: ChannelRef,
        now: DateTime<Utc>,
        audit_actor: (String, String),
    ) -> Self {
        Self {
            conn,
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
    pub async fn audit(&mut self, record: &str, action: &str, detail: &str) -> Handled<()> {
        let entry = AuditEntry {
            at: self.now,
            actor: self.audit_actor.0.clone(),
            platform: self.audit_actor.1.clone(),
            record: record.to_string(),
            action: action.to_string(),
            detail: detail.to_string(),
        };
        store::audit::append(self.conn, &entry).await?;
        Ok(())
    }

    /// Queues a message for one channel.
    pub async fn post(
        &mut self,
        channel: &ChannelRef,
        message: &Message,
        key: Option<&str>,
    ) -> Handled<()> {
        let body = serde_json::to_string(message).map_err(anyhow::Error::from)?;
        store::outbox::enqueue(self.conn, &channel.to_string(), &body, key, self.now).await?;
        self.posted = true;
        Ok(())
    }

    /// Queues a message for every channel in `channels`.
    pub async fn post_all(&mut self, channels: &[ChannelRef], message: &Message) -> Handled<()> {
        for channel in channels {
            self.post(channel, message, None).await?;
        }
        Ok(())
    }

    /// Schedules a job.
    pub async fn schedule(&mut self, job: NewJob) -> Handled<()> {
        store::jobs::schedule(self.conn, &job, self.now).await?;
        self.scheduled = true;
        Ok(())
    }

    /// Whether messages were queued and jobs scheduled.
    pub fn effects(&self) -> (bool, bool) {
        (self.posted, self.scheduled)
    }
}

//! The context a handler runs in: the open transaction, the actor, the
//! clock reading, and helpers that write audit rows, outbox rows and jobs
//! into that same transaction.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::App;
use super::feature::Job;
use super::message::Message;
use crate::domain::{Actor, ChannelRef, DomainError};
use crate::store::{audit::AuditEntry, batch::Batch, jobs::NewJob};

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
    /// Audit rows, messages and jobs, written together at the end (see
    /// [`crate::store::batch`]): whoever commits the transaction first calls
    /// [`Ctx::flush`] or sends [`Ctx::take_batch`] with its `COMMIT`.
    batch: Batch,
    /// Run-time role grants, read once per command.
    grants: Option<Vec<(String, String)>>,
    /// Deletion requests read or written in this transaction (see
    /// [`super::deletion::Working`]).
    pub deletions: super::deletion::Working,
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
            batch: Batch::default(),
            grants: None,
            deletions: Default::default(),
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
        self.batch.audit(&entry);
    }

    /// Queues a message for one channel.
    pub fn post(&mut self, channel: &ChannelRef, message: &Message, key: Option<&str>) {
        self.batch.outbox(
            channel.to_string(),
            message,
            key.map(str::to_string),
            self.now,
        );
        self.posted = true;
    }

    /// Queues a message for every channel in `channels`.
    pub fn post_all(&mut self, channels: &[ChannelRef], message: &Message) {
        for channel in channels {
            self.post(channel, message, None);
        }
    }

    /// Schedules job `J` with `payload` at `due_at` (once per dedup key).
    pub fn schedule<J: Job>(&mut self, payload: &J::Payload, due_at: DateTime<Utc>) {
        let job = NewJob {
            kind: J::KIND.into(),
            payload: serde_json::to_string(payload).unwrap_or_else(|e| {
                self.batch.fail(format!("{} payload: {e}", J::KIND));
                String::new()
            }),
            due_at,
            cron: None,
            dedup_key: J::dedup_key(payload),
        };
        self.batch.job(&job, self.now);
        self.scheduled = true;
    }

    /// Uses grants the caller has read already.
    pub fn set_grants(&mut self, grants: Vec<(String, String)>) {
        self.grants = Some(grants);
    }

    /// Every run-time role grant as (role, member), read at most once.
    pub async fn grants(&mut self) -> Handled<Vec<(String, String)>> {
        if self.grants.is_none() {
            self.grants = Some(crate::store::roles::all(self.conn).await?);
        }
        Ok(self.grants.clone().unwrap_or_default())
    }

    /// Writes the gathered rows now (before reading audit, outbox, jobs or
    /// deletion requests back).
    pub async fn flush(&mut self) -> Handled<()> {
        let batch = self.take_batch()?;
        if !batch.is_empty() {
            batch.execute(self.conn).await?;
        }
        Ok(())
    }

    /// Continues a batch gathered before (by earlier commands of the same
    /// transaction), so one `COMMIT` sends them all.
    pub fn continue_batch(&mut self, batch: Batch) {
        self.batch = batch;
    }

    /// Every gathered write, to send with the `COMMIT`.
    pub fn take_batch(&mut self) -> Handled<Batch> {
        self.deletions.save_to(&mut self.batch)?;
        Ok(std::mem::take(&mut self.batch))
    }

    /// The gathered writes and the deletion working set, for the next
    /// command of the same transaction (see `app::group`).
    pub fn hand_over(&mut self) -> (Batch, super::deletion::Working) {
        (
            std::mem::take(&mut self.batch),
            std::mem::take(&mut self.deletions),
        )
    }

    /// Whether messages were queued and jobs scheduled.
    pub fn effects(&self) -> (bool, bool) {
        (self.posted, self.scheduled)
    }
}

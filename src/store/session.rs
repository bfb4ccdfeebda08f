//! The façade a command or a job reads and writes through: one open
//! transaction, the writes gathered for it, and what it has read.
//!
//! # The contract (group commit and replay)
//!
//! Commands that arrive together run one after another in one transaction
//! (`app::group`), and writes are gathered to go to SQLite with the
//! `COMMIT` in one round trip (see [`super::batch`]). So that no command can
//! read stale data, the raw connection never leaves the store: every store
//! function takes a [`Session`] (or, outside commands, a connection) through
//! the [`Access`] trait, and a [`Session`] sends the writes gathered so
//! far before it hands its connection to any statement. The deletion requests
//! and the role grants a transaction touches are kept here too (an identity
//! map), so commands of one group see each other's changes without a
//! round trip.
//!
//! A handler's only effects are its writes through its session: when one
//! command of a group fails, the transaction rolls back and the others run
//! again from the start, so a handler must not do anything else (no HTTP
//! call, no message sent directly).

use sqlx::SqliteConnection;

use super::batch::Batch;
use super::{Tagged, deletion, roles};

/// What one transaction has gathered: writes not yet sent, and the records
/// it has read or changed.
#[derive(Debug, Default)]
pub struct Pending {
    batch: Batch,
    /// Every run-time role grant as (role, member), once read.
    grants: Option<Vec<(String, String)>>,
    pub(super) deletions: deletion::Working,
}

impl Pending {
    /// A transaction's starting point from the rows its `BEGIN` read (see
    /// [`super::Reads`]).
    pub fn from_found(found: &Tagged) -> anyhow::Result<Self> {
        Ok(Self {
            batch: Batch::default(),
            grants: Some(roles::grants_from(found)?),
            deletions: deletion::Working::from_found(found)?,
        })
    }

    /// Every gathered write, to send with the `COMMIT`.
    pub fn into_batch(mut self) -> anyhow::Result<Batch> {
        self.deletions.save_to(&mut self.batch)?;
        Ok(self.batch)
    }

    /// The run-time role grants, when this transaction has read them.
    pub fn grants(&self) -> Option<&[(String, String)]> {
        self.grants.as_deref()
    }
}

/// One command's (or job's) access to the database: the open transaction
/// and what its group has gathered.
pub struct Session<'t> {
    conn: &'t mut SqliteConnection,
    pending: &'t mut Pending,
}

impl<'t> Session<'t> {
    pub fn new(conn: &'t mut SqliteConnection, pending: &'t mut Pending) -> Self {
        Self { conn, pending }
    }

    /// The writes gathered so far (sent before the next statement, or with
    /// the `COMMIT`).
    pub fn batch(&mut self) -> &mut Batch {
        &mut self.pending.batch
    }

    /// Sends every gathered write now.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        self.pending.deletions.save_to(&mut self.pending.batch)?;
        let batch = std::mem::take(&mut self.pending.batch);
        batch.execute(self.conn).await
    }

    /// Every run-time role grant as (role, member), read at most once.
    pub async fn grants(&mut self) -> anyhow::Result<Vec<(String, String)>> {
        if let Some(grants) = &self.pending.grants {
            return Ok(grants.clone());
        }
        let grants = roles::all(self).await?;
        self.pending.grants = Some(grants.clone());
        Ok(grants)
    }

    /// Keeps the cached grants true after a grant or revoke.
    pub(super) fn grants_changed(&mut self, role: &str, member: &str, granted: bool) {
        if let Some(grants) = &mut self.pending.grants {
            let entry = (role.to_string(), member.to_string());
            grants.retain(|g| *g != entry);
            if granted {
                grants.push(entry);
                grants.sort();
            }
        }
    }

    pub(super) fn deletions(&mut self) -> &mut deletion::Working {
        &mut self.pending.deletions
    }
}

/// Proof that the caller is inside the store: only store code can make one,
/// so only store code can call [`Access::conn`].
pub struct Inside(());

impl Inside {
    pub(super) const TOKEN: Inside = Inside(());
}

/// How a store function reaches SQLite: a bare connection (or transaction)
/// as it is, a [`Session`] only after sending what it has gathered. Only
/// store code can call [`Access::conn`] (it takes an [`Inside`]), so no
/// handler can take the connection out of a session.
pub trait Access: Send {
    fn conn(
        &mut self,
        inside: Inside,
    ) -> impl Future<Output = anyhow::Result<&mut SqliteConnection>> + Send;
}

impl Access for SqliteConnection {
    async fn conn(&mut self, _: Inside) -> anyhow::Result<&mut SqliteConnection> {
        Ok(self)
    }
}

impl Access for sqlx::pool::PoolConnection<sqlx::Sqlite> {
    async fn conn(&mut self, _: Inside) -> anyhow::Result<&mut SqliteConnection> {
        Ok(self)
    }
}

impl Access for super::Tx {
    async fn conn(&mut self, _: Inside) -> anyhow::Result<&mut SqliteConnection> {
        Ok(self)
    }
}

impl Access for Session<'_> {
    async fn conn(&mut self, _: Inside) -> anyhow::Result<&mut SqliteConnection> {
        self.flush().await?;
        Ok(self.conn)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::{Db, audit, audit::AuditEntry, jobs::NewJob};

    #[tokio::test]
    async fn a_session_reads_its_own_gathered_writes_and_rolls_them_back_with_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&format!("sqlite://{}/s.db", dir.path().display()))
            .await
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let entry = AuditEntry {
            at: now,
            actor: "console:a".into(),
            platform: "console".into(),
            record: "DR-1".into(),
            action: "created".into(),
            detail: String::new(),
        };

        // gathered, not yet sent: a read through the session sees it anyway
        let mut tx = db.begin().await.unwrap();
        let mut pending = Pending::default();
        let mut session = Session::new(&mut tx, &mut pending);
        session.batch().audit(&entry);
        session.batch().job(
            &NewJob {
                kind: "k".into(),
                payload: "{}".into(),
                due_at: now,
                cron: None,
                dedup_key: None,
            },
            now,
        );
        let history = audit::for_record(&mut session, "DR-1").await.unwrap();
        assert_eq!(history, [entry]);
        let jobs = crate::store::jobs::count(&mut session, "pending")
            .await
            .unwrap();
        assert_eq!(jobs, 1, "the job was sent with the audit row");

        // rolled back: nothing stays
        drop(tx);
        let mut conn = db.pool.acquire().await.unwrap();
        assert!(
            audit::for_record(&mut *conn, "DR-1")
                .await
                .unwrap()
                .is_empty()
        );
    }
}

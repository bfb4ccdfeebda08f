//! Statements gathered to send to SQLite in one round trip: the writes of a
//! command (audit rows, outbox messages, jobs), usually sent with its
//! `COMMIT`, or tagged reads sent with a `BEGIN` (see `store::Tagged`).
//! Every statement is a round trip to SQLite's worker thread, so one batch
//! instead of one statement per row keeps commands fast.
//!
//! The statements themselves belong to their tables' modules; a
//! [`super::Session`] sends its batch before any other statement, so nothing
//! reads a table before what was gathered for it is written.

use chrono::{DateTime, Utc};
use sqlx::Arguments;
use sqlx::sqlite::SqliteArguments;

use super::audit::AuditEntry;
use super::jobs::NewJob;
use super::ms;

/// Pending statements, as SQL text and the arguments bound across it in
/// order, plus audit, outbox and job rows, which go last, one multi-row
/// `INSERT` per table (each statement's result is a hand-over between
/// threads, so fewer statements are faster).
#[derive(Debug, Default)]
pub struct Batch {
    sql: String,
    args: SqliteArguments,
    error: Option<String>,
    audit: Vec<AuditEntry>,
    outbox: Vec<super::outbox::NewMessage>,
    jobs: Vec<(NewJob, i64)>,
}

/// The most rows in one multi-row `INSERT` (SQLite binds at most 32,766 values).
const ROWS_PER_INSERT: usize = 1000;

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.sql.is_empty()
            && self.audit.is_empty()
            && self.outbox.is_empty()
            && self.jobs.is_empty()
    }

    /// Appends one statement; its `?`s take the values bound next, in order.
    pub fn statement(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self.sql.push(';');
        self
    }

    /// Binds the next `?`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e.to_string());
        }
        self
    }

    pub fn audit(&mut self, e: &AuditEntry) {
        self.audit.push(e.clone());
    }

    /// A message for `channel`, as its JSON body.
    pub fn outbox(
        &mut self,
        channel: String,
        body: &impl serde::Serialize,
        message_key: Option<String>,
        now: DateTime<Utc>,
    ) {
        match serde_json::to_string(body) {
            Ok(body) => self.outbox.push(super::outbox::NewMessage {
                channel,
                body,
                message_key,
                at_ms: ms(now),
            }),
            Err(e) => self.fail(format!("a message for {channel}: {e}")),
        }
    }

    /// Records a value that could not be encoded: the batch then fails to
    /// run, and its transaction rolls back.
    pub fn fail(&mut self, what: String) {
        self.error.get_or_insert(what);
    }

    /// A job; one whose dedup key exists already is ignored.
    pub fn job(&mut self, j: &NewJob, now: DateTime<Utc>) {
        self.jobs.push((j.clone(), ms(now)));
    }

    /// Turns the gathered rows into their multi-row `INSERT`s now (each
    /// table module states its own), so that statements appended afterwards
    /// run after them.
    pub fn seal(&mut self) {
        let audit = std::mem::take(&mut self.audit);
        for rows in audit.chunks(ROWS_PER_INSERT) {
            super::audit::insert_rows(self, rows);
        }
        let outbox = std::mem::take(&mut self.outbox);
        for rows in outbox.chunks(ROWS_PER_INSERT) {
            super::outbox::insert_rows(self, rows);
        }
        let jobs = std::mem::take(&mut self.jobs);
        for rows in jobs.chunks(ROWS_PER_INSERT) {
            super::jobs::insert_rows(self, rows);
        }
    }

    /// The statements and their arguments (to run, or to send with a `COMMIT`).
    pub fn into_parts(mut self) -> anyhow::Result<(String, SqliteArguments)> {
        self.seal();
        match self.error {
            Some(e) => Err(anyhow::anyhow!("encoding a batched write: {e}")),
            None => Ok((self.sql, self.args)),
        }
    }

    /// Runs the batch now, in the caller's transaction.
    pub async fn execute(self, conn: &mut sqlx::SqliteConnection) -> anyhow::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let (sql, args) = self.into_parts()?;
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::Db;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
    }

    fn created(record: &str) -> AuditEntry {
        AuditEntry {
            at: at(),
            actor: "console:a".into(),
            platform: "console".into(),
            record: record.into(),
            action: "created".into(),
            detail: String::new(),
        }
    }

    async fn temp_db(dir: &tempfile::TempDir) -> Db {
        Db::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_batch_writes_every_row_with_its_own_values_and_ignores_duplicate_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let db = temp_db(&dir).await;
        let now = at();
        let mut batch = Batch::default();
        for record in ["DR-1", "DR-2"] {
            batch.audit(&created(record));
        }
        batch.outbox(
            "console:#x".into(),
            &serde_json::json!({}),
            Some("k".into()),
            now,
        );
        let job = NewJob {
            kind: "k".into(),
            payload: "{}".into(),
            due_at: now,
            cron: None,
            dedup_key: Some("once".into()),
        };
        batch.job(&job, now);
        batch.job(&job, now);
        let tx = db.begin().await.unwrap();
        let (sql, args) = batch.into_parts().unwrap();
        tx.commit_with(sql, args).await.unwrap();
        let records: Vec<String> = sqlx::query_scalar("SELECT record FROM audit_log ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(records, ["DR-1", "DR-2"]);
        let key: Option<String> = sqlx::query_scalar("SELECT message_key FROM outbox")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(key.as_deref(), Some("k"));
        let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'k'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(jobs, 1);
    }

    #[tokio::test]
    async fn reads_sent_with_the_begin_come_back_by_tag_and_a_failed_read_leaves_no_transaction_open()
     {
        let dir = tempfile::tempdir().unwrap();
        let db = temp_db(&dir).await;
        let now = at();
        let mut w = db.begin().await.unwrap();
        let mut pending = crate::store::Pending::default();
        let mut session = crate::store::Session::new(&mut w, &mut pending);
        crate::store::roles::grant(&mut session, "qa", "console:bob", "console:root", now)
            .await
            .unwrap();
        w.commit().await.unwrap();

        let mut reads = Batch::default();
        reads.statement("SELECT 7 AS n, 'seven' AS tag");
        crate::store::roles::read_all(&mut reads);
        reads.statement("SELECT 8 AS n, 'eight' AS tag");
        let (tx, found) = crate::store::Tx::begin_with(db.lock().await, reads)
            .await
            .unwrap();
        assert_eq!(
            crate::store::roles::grants_from(&found).unwrap(),
            [("qa".to_string(), "console:bob".to_string())]
        );
        let eights: Vec<(i64,)> = found.decode("eight").unwrap();
        assert_eq!(eights, [(8,)]);
        tx.commit().await.unwrap();

        let mut bad = Batch::default();
        bad.statement("SELECT nope FROM nowhere");
        let err = crate::store::Tx::begin_with(db.lock().await, bad)
            .await
            .err()
            .expect("a read of a missing table fails");
        assert!(format!("{err:#}").contains("nowhere"), "{err:#}");
        // the writer is free and not inside a transaction
        let tx = db.begin().await.expect("begin after a failed read");
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_commit_that_opens_the_next_transaction_says_whether_it_committed() {
        use crate::store::{Chained, Tx};
        let dir = tempfile::tempdir().unwrap();
        let db = temp_db(&dir).await;
        let audited = || async {
            sqlx::query_scalar::<_, String>("SELECT record FROM audit_log ORDER BY id")
                .fetch_all(&db.pool)
                .await
                .unwrap()
        };

        // both run: the next transaction reads what the first one wrote
        let tx = db.begin().await.unwrap();
        let mut writes = Batch::default();
        writes.audit(&created("DR-1"));
        let reads = |b: &mut Batch| {
            b.statement("SELECT COUNT(*) AS n, 'count' AS tag FROM audit_log");
        };
        let Chained::Open(tx, found) = tx.commit_then_begin(writes, reads).await.unwrap() else {
            panic!("the next transaction opens");
        };
        assert_eq!(found.decode::<(i64,)>("count").unwrap(), [(1,)]);
        // the first is durable: another connection sees it while the second is open
        assert_eq!(audited().await, ["DR-1"]);

        // the commit runs, the next transaction's read fails: the writer comes back idle
        let mut writes = Batch::default();
        writes.audit(&created("DR-2"));
        let bad = |b: &mut Batch| {
            b.statement("SELECT nope, 'x' AS tag FROM nowhere");
        };
        let Chained::Committed(writer, e) = tx.commit_then_begin(writes, bad).await.unwrap() else {
            panic!("the read of a missing table fails");
        };
        assert!(format!("{e:#}").contains("nowhere"), "{e:#}");
        assert_eq!(audited().await, ["DR-1", "DR-2"]);
        let (tx, _) = Tx::begin_with(writer, Batch::default()).await.unwrap();

        // a write fails: nothing of that transaction stays, and no transaction is left open
        let mut writes = Batch::default();
        writes.audit(&created("DR-3"));
        writes.statement("INSERT INTO nowhere VALUES (1)");
        let err = tx
            .commit_then_begin(writes, |_| {})
            .await
            .err()
            .expect("fails");
        assert!(format!("{err:#}").contains("nowhere"), "{err:#}");
        assert_eq!(audited().await, ["DR-1", "DR-2"]);
        db.begin()
            .await
            .expect("the writer is free")
            .commit()
            .await
            .unwrap();
    }
}

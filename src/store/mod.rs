//! Persistence: the only place with SQL. SQLite through sqlx, WAL mode, a busy
//! timeout so `shipmate run` and `shipmate serve` can share one file, and
//! migrations embedded in the binary.
//!
//! Every function takes a `&mut SqliteConnection` so callers compose them in
//! one transaction. SQLite has one writer at a time, so the process keeps one
//! writer connection behind a fair async lock: [`Db::begin`] takes it and
//! opens `BEGIN IMMEDIATE` (other processes sharing the file queue on the busy
//! timeout); reads that need no transaction use the pool. Each statement is a
//! hop to SQLite's worker thread, so [`Tx::commit_with`] sends the last writes
//! of a command together with its `COMMIT`.

pub mod audit;
pub mod backup;
pub mod batch;
pub mod checkpoint;
pub mod deletion;
pub mod deploy;
pub mod downtime;
pub mod freeze;
pub mod inbound_mail;
pub mod incident;
pub mod jobs;
pub mod outbox;
pub mod pipeline;
pub mod release;
pub mod replay;
pub mod retention;
pub mod roles;
pub mod session;
pub mod sms;
pub mod subscription;
pub mod version;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqliteConnection, SqlitePool};

use batch::Batch;
pub use session::{Access, Pending, Session};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Reads sent with a transaction's `BEGIN`, in the same round trip (see
/// `app::group`): the role grants, and the deletion requests the commands name.
#[derive(Debug, Default)]
pub struct Reads {
    deletions: Option<Vec<i64>>,
}

impl Reads {
    /// The deletion requests' highest number, and request `n` if given.
    pub fn deletions(&mut self, n: Option<i64>) {
        let ids = self.deletions.get_or_insert_with(Vec::new);
        if let Some(n) = n
            && !ids.contains(&n)
        {
            ids.push(n);
        }
    }

    /// Adds the statements to `batch`.
    pub fn add_to(&self, batch: &mut Batch) {
        roles::read_all(batch);
        if let Some(ids) = &self.deletions {
            deletion::prefetch(batch, ids);
        }
    }
}

/// The migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle to the database.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: SqlitePool,
    writer: Arc<Mutex<SqliteConnection>>,
}

impl Db {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("database.url `{url}` is not a SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // rows here are small and a commit touches a page in each of several
            // tables and indexes: 1 KiB pages write a third to a half of the log
            // that 4 KiB pages do (takes effect when the file is created)
            .page_size(1024)
            // once the log has been copied back and starts over, trim the file
            .pragma(
                "journal_size_limit",
                checkpoint::WAL_LIMIT_BYTES.to_string(),
            );
        if let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create the database directory {}", parent.display())
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            // a SQLite file does not drop connections: skip the ping on every acquire
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open the database at {url}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying database migrations")?;
        // The writer never checkpoints (its commits stay short); see `checkpoint`.
        let writer = options
            .pragma("wal_autocheckpoint", "0")
            .statement_cache_capacity(WRITER_STATEMENTS)
            .connect()
            .await
            .with_context(|| format!("cannot open the database at {url}"))?;
        let db = Self {
            pool,
            writer: Arc::new(Mutex::new(writer)),
        };
        checkpoint::spawn(db.pool.clone(), &db.writer);
        Ok(db)
    }

    /// Runs one round of WAL upkeep now (see [`checkpoint::round`]).
    pub async fn checkpoint(&self) -> sqlx::Result<checkpoint::Progress> {
        checkpoint::round(&self.pool, &Arc::downgrade(&self.writer)).await
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying database migrations")
    }

    /// Opens a write transaction on the writer connection (waiting in turn for it).
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let (tx, _) = Tx::begin_with(self.lock().await, Batch::default()).await?;
        Ok(tx)
    }

    /// Takes the writer connection (waiting in turn), without opening a transaction.
    pub async fn lock(&self) -> Writer {
        Writer(self.writer.clone().lock_owned().await)
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The writer connection, held: nobody else in this process writes meanwhile.
/// Single statements run on it in autocommit; [`Tx::begin_with`] opens a
/// transaction on it. Writing through it rather than through the pool keeps
/// this process's writers queued on one lock instead of on SQLite's busy
/// handler, which sleeps in milliseconds.
pub struct Writer(OwnedMutexGuard<SqliteConnection>);

/// Prepared statements the writer connection keeps. A batch goes to SQLite as
/// one multi-statement text, cached as a whole, and its text varies with the
/// batch's size and with what it holds (and, for a chained command group,
/// with the next group's reads). With sqlx's default of 100 the webhook
/// writer spent 2.5% of its SQLite thread preparing texts it had seen
/// before; with 1,000, 0.7%. The cache fills only with what runs.
const WRITER_STATEMENTS: usize = 1000;

impl Deref for Writer {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.0
    }
}

impl DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }
}

/// Rows of a multi-statement read: each statement names its rows with a
/// last column `tag`, so one round trip can answer several questions.
#[derive(Default)]
pub struct Tagged(Vec<SqliteRow>);

impl Tagged {
    /// The rows one statement returned.
    pub fn rows<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a SqliteRow> + 'a {
        self.0
            .iter()
            .filter(move |row| row.try_get::<&str, _>("tag").is_ok_and(|t| t == tag))
    }

    /// One statement's rows decoded as `T` (by position; `tag` comes last).
    pub fn decode<'a, T>(&'a self, tag: &'a str) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow>,
    {
        self.rows(tag).map(T::from_row).collect()
    }
}

/// How [`Tx::commit_then_begin`] went, once its `COMMIT` had run.
pub enum Chained {
    /// Committed, and the next transaction is open with its reads' rows.
    Open(Tx, Tagged),
    /// Committed, but the next transaction could not be opened: the writer
    /// is back, with no transaction open.
    Committed(Writer, anyhow::Error),
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    conn: Option<OwnedMutexGuard<SqliteConnection>>,
}

impl Tx {
    /// Opens `BEGIN IMMEDIATE` on the held writer and runs `reads` (tagged
    /// statements, see [`Tagged`]) in the same round trip.
    pub async fn begin_with(writer: Writer, reads: Batch) -> anyhow::Result<(Tx, Tagged)> {
        let mut tx = Tx {
            conn: Some(writer.0),
        };
        let (sql, args) = reads.into_parts()?;
        let sql = format!("BEGIN IMMEDIATE;{sql}");
        let rows = match sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_all(tx.conn()?)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                // BEGIN may or may not have run: roll back whatever is open, quietly
                if let Some(mut conn) = tx.conn.take() {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                }
                return Err(anyhow::Error::from(e).context("opening a database transaction"));
            }
        };
        Ok((tx, Tagged(rows)))
    }

    /// Rolls back and keeps the writer, to start again at once.
    pub async fn rollback_keep(mut self) -> anyhow::Result<Writer> {
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| anyhow::anyhow!("transaction already finished"))?;
        sqlx::query("ROLLBACK")
            .execute(&mut *conn)
            .await
            .context("rolling back")?;
        Ok(Writer(conn))
    }

    fn conn(&mut self) -> anyhow::Result<&mut SqliteConnection> {
        self.conn
            .as_deref_mut()
            .ok_or_else(|| anyhow::anyhow!("transaction already finished"))
    }

    /// Commits.
    pub async fn commit(self) -> anyhow::Result<()> {
        self.commit_with(String::new(), SqliteArguments::default())
            .await
    }

    /// Runs `statements` (with `args` bound across them in order) and commits,
    /// in one round trip to SQLite. On failure the transaction rolls back.
    pub async fn commit_with(
        mut self,
        statements: String,
        args: SqliteArguments,
    ) -> anyhow::Result<()> {
        let sql = format!("{statements}COMMIT;");
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(self.conn()?)
            .await
            .context("committing a database transaction")?;
        self.conn = None;
        Ok(())
    }

    /// Commits with `writes` and, in the same round trip, opens the next
    /// transaction with the statements `reads` adds (tagged, see [`Tagged`]):
    /// under steady load one round trip per transaction instead of two. A
    /// marker row after the `COMMIT` tells whether it ran when a later
    /// statement fails.
    pub async fn commit_then_begin(
        mut self,
        mut writes: Batch,
        reads: impl FnOnce(&mut Batch),
    ) -> anyhow::Result<Chained> {
        use futures_util::StreamExt;
        const COMMITTED: &str = "committed ";
        writes.seal();
        writes
            .statement("COMMIT")
            .statement(&format!("SELECT '{COMMITTED}' AS tag"))
            .statement("BEGIN IMMEDIATE");
        reads(&mut writes);
        let (sql, args) = writes.into_parts()?;
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| anyhow::anyhow!("transaction already finished"))?;
        let (mut rows, mut committed, mut failed) = (Vec::new(), false, None);
        {
            let mut stream = sqlx::query_with(sqlx::AssertSqlSafe(sql), args).fetch(&mut *conn);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(row) if !committed => {
                        committed = row.try_get::<&str, _>("tag").is_ok_and(|t| t == COMMITTED)
                    }
                    Ok(row) => rows.push(row),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        match (committed, failed) {
            (true, None) => Ok(Chained::Open(Tx { conn: Some(conn) }, Tagged(rows))),
            (true, Some(e)) => {
                // the next BEGIN or its reads failed: close whatever is open, quietly
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                let e = anyhow::Error::from(e).context("opening a database transaction");
                Ok(Chained::Committed(Writer(conn), e))
            }
            (false, failed) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                let e = failed.map_or_else(
                    || anyhow::anyhow!("the COMMIT did not report back"),
                    anyhow::Error::from,
                );
                Err(e.context("committing a database transaction"))
            }
        }
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> anyhow::Result<()> {
        if let Some(mut conn) = self.conn.take() {
            sqlx::query("ROLLBACK")
                .execute(&mut *conn)
                .await
                .context("rolling back")?;
        }
        Ok(())
    }

    /// Opens a savepoint inside the transaction.
    pub async fn savepoint(&mut self, name: &'static str) -> anyhow::Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SAVEPOINT {name}")))
            .execute(self.conn()?)
            .await?;
        Ok(())
    }

    /// Keeps (`true`) or undoes (`false`) what was written since the savepoint.
    pub async fn release(&mut self, name: &'static str, keep: bool) -> anyhow::Result<()> {
        let sql = if keep {
            format!("RELEASE {name}")
        } else {
            format!("ROLLBACK TO {name}; RELEASE {name}")
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(self.conn()?)
            .await?;
        Ok(())
    }
}

impl Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        // `conn` is only empty once the Tx has been consumed by commit or rollback
        self.conn
            .as_deref()
            .unwrap_or_else(|| unreachable!("a finished transaction is not used"))
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("a finished transaction is not used"))
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // an abandoned transaction (an error, a panic, a cancelled request) rolls
        // back before the writer connection is handed to anyone else
        if let (Some(mut conn), Ok(handle)) =
            (self.conn.take(), tokio::runtime::Handle::try_current())
        {
            handle.spawn(async move {
                if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                    tracing::error!(error = %e, "rolling back an abandoned transaction failed");
                }
            });
        }
    }
}

/// Unix milliseconds of a time.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time of unix milliseconds (out-of-range values clamp to the epoch).
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The connection behind `db`, for store code (see [`session::Access`]).
async fn conn<A: Access>(db: &mut A) -> anyhow::Result<&mut SqliteConnection> {
    db.conn(session::Inside::TOKEN).await
}

//! WAL upkeep: copies the write-ahead log back into the database file off
//! the writer's path, and keeps the log from growing without end.
//!
//! The writer connection never checkpoints (its commits stay short). A
//! background task does, every [`CHECKPOINT_EVERY`], with `PASSIVE`
//! checkpoints on a pool connection, which never block the writer. The log
//! starts over from its beginning only when a write begins after a
//! checkpoint copied all of it, and under steady writes a passive checkpoint
//! never does: frames are appended while it copies. So once the log is
//! larger than [`RESTART_PAST_BYTES`], the task repeats passive passes until
//! few frames arrive during one (at most [`PASSES`]), then copies what is left
//! while holding the writer lock: nothing is appended meanwhile, the copy
//! completes, and the next commit writes the log from its start again. That
//! costs the writer a pause of a few milliseconds (two `fsync`s) per round
//! under load; measured in `benches/dispatch.rs`, a log left to grow costs
//! more. Under writes so heavy that the passes never settle, the last copy
//! under the lock is longer (what one pass let through), but it still
//! happens: the log never grows without end.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Mutex;

/// How often the WAL is copied back into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The size past which the log is made to start over. A long log costs
/// more than its disk space: every append allocates, and every page lookup
/// searches more of the WAL index.
pub const RESTART_PAST_BYTES: i64 = 4 * 1024 * 1024;

/// The size the log file is trimmed to when it starts over
/// (`journal_size_limit`).
pub const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Frames appended during a background pass small enough to copy under
/// the writer lock.
const FINISH_AT_MOST: i64 = 256;

/// Background passes per round at most.
const PASSES: usize = 6;

/// Starts the background task; it stops when the writer is dropped.
pub(super) fn spawn(pool: SqlitePool, writer: &Arc<Mutex<SqliteConnection>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let writer = Arc::downgrade(writer);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if writer.strong_count() == 0 || pool.is_closed() {
                break;
            }
            if let Err(e) = round(&pool, &writer).await {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
    });
}

/// Closes the database for a clean exit: waits for the writer (the last
/// commit in flight finishes), copies the whole log back into the file and
/// empties it (`TRUNCATE`), and closes the pool. Nothing in this process
/// should write afterwards.
pub async fn close(db: &super::Db) -> sqlx::Result<()> {
    let mut writer = db.lock().await;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *writer)
        .await?;
    if busy != 0 {
        // another process (`shipmate run`, a backup) is reading: its next
        // commit or the next start finishes the copy
        tracing::debug!("final checkpoint incomplete: the database is in use elsewhere");
    }
    db.pool.close().await;
    Ok(())
}

/// What `PRAGMA wal_checkpoint` reports: frames in the log, frames copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub log: i64,
    pub copied: i64,
}

async fn passive(conn: &mut SqliteConnection) -> sqlx::Result<Progress> {
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    Ok(Progress { log, copied })
}

/// One round: a passive checkpoint; when the log has outgrown
/// [`RESTART_PAST_BYTES`], more passes until few frames arrive during one (or
/// [`PASSES`] ran), then the last under the writer lock. Returns what the last
/// pass reported.
pub async fn round(
    pool: &SqlitePool,
    writer: &Weak<Mutex<SqliteConnection>>,
) -> sqlx::Result<Progress> {
    let mut conn = pool.acquire().await?;
    let mut last = passive(&mut conn).await?;
    if last.log == 0 {
        return Ok(last); // nothing written since the log last started over
    }
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    // a frame is a page and its 24-byte header
    if last.log * (page + 24) < RESTART_PAST_BYTES {
        return Ok(last);
    }
    for _ in 1..PASSES {
        let next = passive(&mut conn).await?;
        let appended = next.log - last.log;
        last = next;
        if (0..=FINISH_AT_MOST).contains(&appended) {
            break;
        }
    }
    drop(conn);
    let Some(writer) = writer.upgrade() else {
        return Ok(last); // the store is closing
    };
    let mut held = writer.lock().await;
    passive(&mut held).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::store::Db;

    /// The size of the log file (it grows while the log is appended to, and
    /// stays put once the log starts over from its beginning).
    fn wal_bytes(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len())
    }

    #[tokio::test]
    async fn a_log_past_the_limit_starts_over_even_while_writes_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&format!("sqlite://{}/w.db", dir.path().display()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)")
            .execute(&db.pool)
            .await
            .unwrap();
        // past the limit: 6 MB of rows
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) \
             INSERT INTO t SELECT zeroblob(1000) FROM n",
        )
        .execute(&mut *db.lock().await)
        .await
        .unwrap();
        let before = wal_bytes(&dir);
        assert!(before > RESTART_PAST_BYTES as u64, "{before} bytes");

        // a writer that keeps committing small transactions back to back
        // meanwhile (letting go of the writer every 50), so a passive
        // checkpoint never finds the whole log copied
        let stop = Arc::new(AtomicBool::new(false));
        let writing = {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut w = db.lock().await;
                    for _ in 0..50 {
                        sqlx::query("INSERT INTO t VALUES (zeroblob(100))")
                            .execute(&mut *w)
                            .await
                            .unwrap();
                    }
                    drop(w);
                    tokio::task::yield_now().await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        db.checkpoint().await.unwrap();
        let checkpointed = wal_bytes(&dir);
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, Ordering::Relaxed);
        writing.await.unwrap();

        // the log started over: what was written since reused the file
        // instead of growing it
        let after = wal_bytes(&dir);
        assert!(checkpointed >= before);
        assert_eq!(
            after, checkpointed,
            "the log file grew: it never started over"
        );
    }
}

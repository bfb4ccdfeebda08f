//! `shipmate backup` (the real binary) while the application keeps writing:
//! the copy passes `PRAGMA integrity_check` and holds every write that was
//! acknowledged before the backup started; an existing file is never
//! overwritten.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

fn backup(db_url: &str, file: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shipmate"));
    cmd.env("SHIPMATE__DATABASE__URL", db_url)
        .env("RUST_LOG", "warn")
        .arg("backup")
        .arg(file);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_is_whole_and_holds_every_acknowledged_write() {
    let t = Arc::new(common::spawn_app(&[]).await);
    let url = format!("sqlite://{}/shipmate.db", t.dir.path().display());
    // Arrange: a client filing requests one after another, counting the acknowledged ones
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (t, acked, stop) = (t.clone(), acked.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                t.ok(
                    "alice",
                    &format!("/delete-request city-b/run-{n} reason:other load"),
                )
                .await;
                acked.store(n, Ordering::SeqCst);
            }
        }
    });
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act: back up while the writes go on
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("shipmate-backup.db");
    let before = acked.load(Ordering::SeqCst);
    let done = backup(&url, &file).output().await.unwrap();
    let during = acked.load(Ordering::SeqCst) - before;
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();

    // Assert: whole, consistent, and holding what was acknowledged before it began
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("backed up"));
    assert!(during > 0, "the writes went on while the backup ran");
    let mut copy = SqliteConnectOptions::new()
        .filename(&file)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy)
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
    let filed: Vec<String> = sqlx::query_scalar("SELECT target FROM deletion_requests ORDER BY id")
        .fetch_all(&mut copy)
        .await
        .unwrap();
    assert!(filed.len() >= before, "{} of {before}", filed.len());
    for (i, target) in filed.iter().take(before).enumerate() {
        assert_eq!(target, &format!("city-b/run-{}", i + 1));
    }
    // every request in the copy is whole: its audit row and its card came with it
    let (audited, cards): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM audit_log WHERE action = 'created'),
                (SELECT COUNT(*) FROM outbox)",
    )
    .fetch_one(&mut copy)
    .await
    .unwrap();
    assert_eq!(audited, filed.len() as i64);
    assert!(cards >= filed.len() as i64);

    // a second backup to the same file is refused and leaves the first alone
    let size = std::fs::metadata(&file).unwrap().len();
    let again = backup(&url, &file).output().await.unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
}

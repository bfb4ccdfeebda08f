//! Due jobs are fired in batches, each job exactly once: a burst larger than
//! a batch, with a failing job among it, fires every good job once and
//! records the failure on the bad one only.

mod common;

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use shipmate::domain::timing::ManualClock;
use shipmate::scheduler;
use shipmate::store;

#[tokio::test]
async fn a_burst_of_due_jobs_with_a_failing_one_fires_every_good_job_exactly_once() {
    // Arrange: 40 requests in cooling-off (more than one batch), and a timer
    // for a request that does not exist, all due at the same moment
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let t = common::spawn_app_with_clock(&[], clock.clone()).await;
    for n in 1..=40 {
        t.ok(
            "alice",
            &format!("/delete-request city-b/run-{n} reason:other burst"),
        )
        .await;
        t.ok("steward", &format!("/delete-request approve DR-{n}"))
            .await;
    }
    let due = t0 + TimeDelta::days(1);
    let mut tx = t.app.db.begin().await.unwrap();
    store::jobs::schedule(
        &mut tx,
        &store::jobs::NewJob {
            kind: "deletion.expire".into(),
            payload: format!(r#"{{"id":9999,"until_ms":{}}}"#, due.timestamp_millis()),
            due_at: due - TimeDelta::seconds(1),
            cron: None,
            dedup_key: None,
        },
        t0,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Act: everything falls due at once
    clock.set(due + TimeDelta::seconds(1));
    scheduler::run_due(&t.app).await.unwrap();
    scheduler::run_due(&t.app).await.unwrap();

    // Assert: every request is ready, announced once; the bad timer failed alone
    let ready: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deletion_requests WHERE state = 'ready'")
            .fetch_one(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(ready, 40);
    let readies: Vec<(String, i64)> = sqlx::query_as(
        "SELECT record, COUNT(*) FROM audit_log WHERE action = 'ready' GROUP BY record HAVING COUNT(*) != 1",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    assert!(readies.is_empty(), "announced other than once: {readies:?}");
    let (done, failed): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(state = 'done'), 0), COALESCE(SUM(attempts = 1 AND state = 'pending' AND last_error LIKE '%no longer exists%'), 0)
         FROM jobs WHERE kind = 'deletion.expire'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!((done, failed), (40, 1));
}

//! Retention on the manual clock: the recurring `retention.prune` job deletes
//! webhook deliveries, finished pipeline runs, delivered messages, fired
//! jobs and stale replay digests once they are older than their
//! `[retention]` age, in batches, and re-arms; what is still needed (waiting
//! messages, pending jobs, the latest run of a pipeline, the first copy of a
//! living message) and the audit log are never deleted.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use shipmate::app::Message;
use shipmate::ci::auth::github_signature;
use shipmate::domain::timing::ManualClock;
use shipmate::store;

const CONFIG: &str = r#"
[webhooks.github]
secret = "gh-secret"

[pipelines]
default_channels = ["console:#ci"]
min_edit_interval = "1s"
"#;

/// Monday 2026-11-23 09:00 IST.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 30, 0).unwrap()
}

async fn spawn(overrides: &[(&str, &str)]) -> TestApp {
    let clock = Arc::new(ManualClock::new(t0()));
    let mut t = spawn_app_with(overrides, Some(CONFIG), clock.clone(), None).await;
    t.clock = Some(clock);
    let res = reqwest::get(t.url("/healthz")).await.expect("healthz");
    assert_eq!(res.status().as_u16(), 200);
    t
}

/// A finished `workflow_run` of pipeline `name`, run `id`.
fn finished_run(name: &str, id: u64) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/workflow_run.completed.success.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
    v["workflow"]["name"] = json!(name);
    v["workflow_run"]["name"] = json!(name);
    v["workflow_run"]["id"] = json!(id);
    v.to_string().into_bytes()
}

async fn github(t: &TestApp, delivery: &str, body: Vec<u8>) {
    let sig = github_signature("gh-secret", &body);
    let res = reqwest::Client::new()
        .post(t.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "workflow_run")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status().as_u16(), 200, "{delivery}");
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits until the outbox worker has delivered every message that is due.
async fn delivered(t: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let due = t.app.clock.now().timestamp_millis();
    while count(
        t,
        &format!(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND next_attempt_at <= {due}"
        ),
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "messages not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Queues a message due `after` from now: it stays waiting.
async fn queue_later(t: &TestApp, channel: &str, text: &str, after: TimeDelta) -> i64 {
    let body = serde_json::to_string(&Message::text(text)).expect("json");
    let mut w = t.app.db.lock().await;
    store::outbox::enqueue(&mut w, channel, &body, None, t.app.clock.now() + after)
        .await
        .expect("enqueue")
}

/// The waiting message, the pending cooling-off timer and every audit row are still there.
async fn never_pruned(t: &TestApp, waiting: i64, audit: i64) {
    let waits = format!("SELECT COUNT(*) FROM outbox WHERE id = {waiting} AND state = 'pending'");
    assert_eq!(count(t, &waits).await, 1, "the waiting message");
    let timer = "SELECT COUNT(*) FROM jobs WHERE kind = 'deletion.expire' AND state = 'pending'";
    assert_eq!(count(t, timer).await, 1, "the pending timer");
    let audited = count(t, "SELECT COUNT(*) FROM audit_log").await;
    assert!(audited >= audit, "audit rows pruned: {audited} of {audit}");
}

#[tokio::test]
async fn old_rows_are_pruned_after_their_age_and_what_is_needed_or_audited_never_is() {
    // Arrange: two finished runs of one pipeline (the second is its latest),
    // a deletion request (audit rows, a card with buttons, a pending
    // cooling-off timer), a message that is still waiting, and every
    // delivered message delivered
    let t = spawn(&[
        ("SHIPMATE__DELETION__COOLING_OFF__LOW", "200d"),
        ("SHIPMATE__RETENTION__DELIVERED_MESSAGES", "30d"),
    ])
    .await;
    github(&t, "d-1", finished_run("build", 101)).await;
    github(&t, "d-2", finished_run("build", 102)).await;
    t.ok("alice", "/delete-request city-b/run-1 reason:other old")
        .await;
    t.ok("steward", "/delete-request approve DR-1").await;
    for n in 0..5 {
        queue_later(
            &t,
            "console:#bioinfo",
            &format!("plain note {n}"),
            TimeDelta::zero(),
        )
        .await;
    }
    let waiting = queue_later(&t, "console:#later", "not yet", TimeDelta::days(400)).await;
    delivered(&t).await;
    let audit = count(&t, "SELECT COUNT(*) FROM audit_log").await;
    assert!(audit >= 2);
    let delivered_ids = "SELECT id FROM outbox WHERE state = 'delivered' ORDER BY id";
    let ids_before: Vec<i64> = sqlx::query_scalar(delivered_ids)
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert!(ids_before.len() >= 3, "{ids_before:?}");
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries").await,
        2
    );

    // Act: 29 days on, nothing is old enough yet
    t.advance(TimeDelta::days(29)).await;

    // Assert
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries").await,
        2
    );
    // (jobs due in those days may have posted more meanwhile: what was
    // delivered before is what must still be there)
    let ids_after: Vec<i64> = sqlx::query_scalar(delivered_ids)
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert!(
        ids_before.iter().all(|id| ids_after.contains(id)),
        "{ids_before:?} pruned to {ids_after:?}"
    );

    // Act: past 30 days, deliveries and delivered messages go
    t.advance(TimeDelta::days(2)).await;

    // Assert: the deliveries are gone; of the messages, the first copy of
    // each living message and the card with buttons stay; the waiting
    // message, the pending timer and the audit log are untouched
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries").await,
        0
    );
    let left: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT message_key, body FROM outbox WHERE state = 'delivered' ORDER BY id",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    for key in ["pipeline:github:101:1", "pipeline:github:102:1"] {
        assert_eq!(
            left.iter()
                .filter(|(k, _)| k.as_deref() == Some(key))
                .count(),
            1,
            "the living message of {key} is kept: {left:?}"
        );
    }
    assert!(
        left.iter().any(|(_, body)| body.contains("\"buttons\"")),
        "the card people can still click is kept: {left:?}"
    );
    assert!(
        !left.iter().any(|(_, body)| body.contains("plain note")),
        "plain replies delivered 31 days ago are pruned: {left:?}"
    );
    never_pruned(&t, waiting, audit).await;
    assert_eq!(count(&t, "SELECT COUNT(*) FROM pipeline_runs").await, 2);

    // Act: past 90 days, the older run goes with its message; the latest stays
    t.advance(TimeDelta::days(60)).await;

    // Assert
    let runs: Vec<String> = sqlx::query_scalar("SELECT key FROM pipeline_runs")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(runs, ["pipeline:github:102:1"]);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE message_key = 'pipeline:github:101:1'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE message_key = 'pipeline:github:102:1'"
        )
        .await,
        1
    );
    never_pruned(&t, waiting, audit).await;
}

#[tokio::test]
async fn a_backlog_goes_in_batches_and_the_job_rearms_for_its_next_day() {
    // Arrange: 1,234 replay digests long past their window (more than two
    // batches) and one signed after the day to come; timers that fired 40
    // and 28 days ago
    let t = spawn(&[]).await;
    let now = t.app.clock.now();
    {
        let mut w = t.app.db.lock().await;
        for n in 0..1234_u32 {
            sqlx::query("INSERT INTO seen_requests (digest, signed_at) VALUES (?, ?)")
                .bind(n.to_be_bytes().to_vec())
                .bind((now - TimeDelta::hours(1)).timestamp_millis())
                .execute(&mut *w)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO seen_requests (digest, signed_at) VALUES (x'ff', ?)")
            .bind((now + TimeDelta::hours(24)).timestamp_millis())
            .execute(&mut *w)
            .await
            .unwrap();
        for (n, age) in [(1, 40), (2, 28)] {
            let at = (now - TimeDelta::days(age)).timestamp_millis();
            sqlx::query(
                "INSERT INTO jobs (kind, payload, due_at, state, created_at, fired_at)
                 VALUES ('freeze.ended', ?, ?, 'done', ?, ?)",
            )
            .bind(format!("{{\"n\":{n}}}"))
            .bind(at)
            .bind(at)
            .bind(at)
            .execute(&mut *w)
            .await
            .unwrap();
        }
    }

    // Act: the daily run falls due (03:30 IST is 22:00 UTC)
    t.advance(TimeDelta::hours(24)).await;

    // Assert: every stale digest went, in several transactions (the job
    // scheduled itself again while a batch came back full); the fresh one
    // stayed; only the timer fired longer than 30 days ago went
    assert_eq!(count(&t, "SELECT COUNT(*) FROM seen_requests").await, 1);
    let steps = count(
        &t,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'retention.prune' AND cron IS NULL AND state = 'done'",
    )
    .await;
    assert!(steps >= 2, "{steps} continuation steps");
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'freeze.ended'")
            .fetch_all(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(kept, ["{\"n\":2}"]);
    // the recurring row re-armed for the next 03:30 IST
    let (state, due): (String, i64) = sqlx::query_as(
        "SELECT state, due_at FROM jobs WHERE kind = 'retention.prune' AND cron IS NOT NULL",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(state, "pending");
    let next = t.app.clock.now() + TimeDelta::days(1) - TimeDelta::hours(2);
    assert!(
        due > t.app.clock.now().timestamp_millis() && due <= next.timestamp_millis() + 1,
        "next run {due} vs now {}",
        t.app.clock.now()
    );
    assert_eq!(due % 86_400_000, 22 * 3_600_000, "03:30 IST is 22:00 UTC");
}

#[test]
fn retention_ages_are_off_or_at_least_a_day_and_problems_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(
        &dir,
        &[
            ("SHIPMATE__RETENTION__WEBHOOK_DELIVERIES", "off"),
            ("SHIPMATE__RETENTION__FINISHED_JOBS", "2w"),
            ("SHIPMATE__RETENTION__DELIVERED_MESSAGES", "30d"),
        ],
    );
    assert_eq!(config.retention.webhook_deliveries, None);
    assert_eq!(config.retention.finished_jobs, Some(TimeDelta::weeks(2)));
    assert_eq!(
        config.retention.delivered_messages,
        Some(TimeDelta::days(30))
    );

    let env = common::test_env(
        &dir,
        &[
            ("SHIPMATE__RETENTION__DELIVERED_MESSAGES", "2h"),
            ("SHIPMATE__RETENTION__PIPELINE_RUNS", "0"),
            ("SHIPMATE__RETENTION__SCHEDULE", "daily"),
        ],
    );
    let problems = shipmate::settings::load(None, Some(env))
        .unwrap()
        .validate()
        .unwrap_err();
    let find = |key: &str| {
        problems
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.message.clone())
            .unwrap_or_else(|| panic!("no problem for {key}: {problems:?}"))
    };
    assert!(find("retention.delivered_messages").contains("at least 1d"));
    assert!(find("retention.pipeline_runs").contains("\"off\""));
    assert!(find("retention.schedule").contains("cron"));
}

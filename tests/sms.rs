//! SMS credits end to end: balances typed by devops or read by the poller
//! (a wiremock endpoint), the forecast, the alerts and the renewal reminder,
//! with a hand-moved clock and `scheduler::run_due` for due jobs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_with_clock};
use serde_json::json;
use shipmate::app::Message;
use shipmate::app::sms::{PollOutcome, poll_once};
use shipmate::domain::timing::ManualClock;
use shipmate::scheduler;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPS_CHANNEL: (&str, &str) = ("SHIPMATE__SMS__CHANNELS", "console:#ops");
/// Keeps the weekly renewal reminder out of tests that move the clock past Monday.
const YEARLY_REMINDER: (&str, &str) = ("SHIPMATE__SMS__REMINDER_CRON", "0 0 0 1 JAN *");

/// Sunday 2026-11-01 04:30 UTC (10:00 IST).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 4, 30, 0).unwrap()
}

async fn app(clock: &Arc<ManualClock>, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![OPS_CHANNEL, YEARLY_REMINDER];
    env.extend_from_slice(extra);
    spawn_app_with_clock(&env, clock.clone()).await
}

/// Every message queued for #ops, as console text.
async fn posted(t: &TestApp) -> Vec<String> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM outbox WHERE channel = 'console:#ops' ORDER BY id")
            .fetch_all(&t.app.db.pool)
            .await
            .unwrap();
    bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<Message>(b)
                .unwrap()
                .plain(t.app.config.tz)
        })
        .collect()
}

async fn count(t: &TestApp, needle: &str) -> usize {
    posted(t)
        .await
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

#[tokio::test]
async fn a_sequence_of_balances_gives_the_expected_forecast() {
    // Arrange
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app(&clock, &[]).await;
    let empty = t.ok("alice", "/sms status").await;
    assert!(empty.contains("No SMS balance recorded yet"), "{empty}");

    // Act: 200 credits a day for ten days
    t.ok("ops", "/sms balance 10000").await;
    clock.advance(TimeDelta::days(5));
    t.ok("ops", "/sms balance 9,000").await;
    clock.advance(TimeDelta::days(5));
    let reply = t.ok("ops", "/sms balance 8000").await;

    // Assert
    assert!(reply.contains("Recorded 8,000 SMS credits."), "{reply}");
    let status = t.ok("alice", "/sms status").await;
    assert!(
        status.contains("SMS credits: 8,000 as of 2026-11-11 10:00 IST"),
        "{status}"
    );
    assert!(
        status.contains("Burn rate: 200 credits/day over the last 30d (3 readings)."),
        "{status}"
    );
    assert!(
        status.contains("Forecast run-out: 2026-12-21 10:00 IST (in 40 days)."),
        "{status}"
    );
    let refusal = t.refused("alice", "/sms balance 5").await;
    assert!(refusal.contains("only `devops` members"), "{refusal}");
    let refusal = t.refused("ops", "/sms balance lots").await;
    assert!(refusal.contains("not a credit balance"), "{refusal}");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_balances")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 3);
}

#[tokio::test]
async fn the_low_balance_alert_fires_once_not_on_every_check_and_again_when_worse() {
    // Arrange: minimum 1000
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app(&clock, &[("SHIPMATE__SMS__MIN_BALANCE", "1000")]).await;
    t.ok("ops", "/sms balance 1200").await;
    assert_eq!(count(&t, "SMS credits low").await, 0);

    // Act / Assert: under the minimum → one alert, mentioning devops
    clock.advance(TimeDelta::hours(1));
    t.ok("ops", "/sms balance 900").await;
    assert_eq!(count(&t, "SMS credits low").await, 1);
    let alert = posted(&t)
        .await
        .into_iter()
        .find(|m| m.contains("SMS credits low"))
        .unwrap();
    assert!(
        alert.contains("900 left, under the minimum of 1,000. @devops please renew."),
        "{alert}"
    );

    // More checks the same day at the same level: silence
    for credits in [890, 880, 870] {
        clock.advance(TimeDelta::hours(1));
        t.ok("ops", &format!("/sms balance {credits}")).await;
    }
    assert_eq!(count(&t, "SMS credits low").await, 1, "not on every check");

    // It worsens (under half the minimum): again at once
    clock.advance(TimeDelta::hours(1));
    t.ok("ops", "/sms balance 400").await;
    assert_eq!(count(&t, "SMS credits low").await, 2);

    // A day later, still low: the daily repeat
    clock.advance(TimeDelta::hours(25));
    t.ok("ops", "/sms balance 390").await;
    assert_eq!(count(&t, "SMS credits low").await, 3);

    // Renewed: cleared; a later dip alerts again at once
    clock.advance(TimeDelta::hours(1));
    t.ok("ops", "/sms balance 50000").await;
    clock.advance(TimeDelta::hours(1));
    t.ok("ops", "/sms balance 950").await;
    assert_eq!(count(&t, "SMS credits low").await, 4);
}

#[tokio::test]
async fn the_run_out_alert_fires_when_the_forecast_falls_under_warn_days() {
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app(
        &clock,
        &[
            ("SHIPMATE__SMS__WARN_DAYS", "14"),
            ("SHIPMATE__SMS__MIN_BALANCE", "10"),
        ],
    )
    .await;
    t.ok("ops", "/sms balance 5000").await;
    clock.advance(TimeDelta::days(1));
    t.ok("ops", "/sms balance 4000").await; // 1000/day: 4 days left
    assert_eq!(count(&t, "SMS credits run out around").await, 1);
    let alert = posted(&t).await.pop().unwrap();
    assert!(
        alert.contains(
            "run out around 2026-11-06 10:00 IST (in 4 days, at 1000/day; warning at 14 days)"
        ),
        "{alert}"
    );
    clock.advance(TimeDelta::hours(2));
    t.ok("ops", "/sms balance 3920").await;
    assert_eq!(
        count(&t, "SMS credits run out around").await,
        1,
        "once a day"
    );
}

/// Waits until the recurring jobs of a freshly started app are registered.
async fn registered(t: &TestApp, kind: &str) -> DateTime<Utc> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let due: Option<i64> =
            sqlx::query_scalar("SELECT due_at FROM jobs WHERE kind = ? AND state = 'pending'")
                .bind(kind)
                .fetch_optional(&t.app.db.pool)
                .await
                .unwrap();
        if let Some(due) = due {
            return shipmate::store::from_ms(due);
        }
        assert!(Instant::now() < deadline, "{kind} never registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_renewal_reminder_fires_on_its_cron_once_per_occurrence() {
    // Arrange: Mondays 10:00 IST; the clock on Sunday
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app(
        &clock,
        &[("SHIPMATE__SMS__REMINDER_CRON", "0 0 10 * * MON")],
    )
    .await;
    t.ok("ops", "/sms balance 7000").await;
    let monday = Utc.with_ymd_and_hms(2026, 11, 2, 4, 30, 0).unwrap();
    assert_eq!(registered(&t, "sms.reminder").await, monday);

    // Act / Assert: not a second early, once on time, not twice
    clock.set(monday - TimeDelta::seconds(1));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(count(&t, "renewal check").await, 0);
    clock.set(monday);
    scheduler::run_due(&t.app).await.unwrap();
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(count(&t, "renewal check").await, 1);
    let reminder = posted(&t).await.pop().unwrap();
    assert!(
        reminder.contains("renewal check for @devops") && reminder.contains("SMS credits: 7,000"),
        "{reminder}"
    );
    assert_eq!(
        registered(&t, "sms.reminder").await,
        monday + TimeDelta::weeks(1),
        "moved to next Monday"
    );
}

fn poller_env(server: &MockServer, cron: &str) -> Vec<(String, String)> {
    vec![
        (
            "SHIPMATE__SMS__BALANCE_URL".into(),
            format!("{}/v1/balance", server.uri()),
        ),
        (
            "SHIPMATE__SMS__BALANCE_POINTER".into(),
            "/data/credits".into(),
        ),
        ("SHIPMATE__SMS__BALANCE_TOKEN".into(), "sekret-token".into()),
        ("SHIPMATE__SMS__POLL_CRON".into(), cron.into()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn the_poller_reads_the_balance_with_its_token_on_its_cron() {
    // Arrange: the vendor's endpoint wants the bearer token
    let vendor = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", "Bearer sekret-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"credits": 4321}})))
        .mount(&vendor)
        .await;
    let clock = Arc::new(ManualClock::new(t0()));
    let env = poller_env(&vendor, "0 * * * * *");
    let mut all = pairs(&env);
    all.extend([OPS_CHANNEL, YEARLY_REMINDER]);
    let t = spawn_app_with_clock(&all, clock.clone()).await;

    // Act: one poll by hand
    assert_eq!(
        poll_once(&t.app).await.unwrap(),
        PollOutcome::Recorded(4321)
    );
    let status = t.ok("alice", "/sms status").await;
    assert!(status.contains("SMS credits: 4,321"), "{status}");

    // …and one from the cron job
    let next = registered(&t, "sms.poll").await;
    clock.set(next);
    scheduler::run_due(&t.app).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sms_balances WHERE source = 'poller'")
                .fetch_one(&t.app.db.pool)
                .await
                .unwrap();
        if n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the cron poll never recorded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Assert: the token went to the vendor and nowhere else
    assert_eq!(vendor.received_requests().await.unwrap().len(), 2);
    let everything = t.snapshot().await;
    assert!(
        !everything.contains("sekret-token"),
        "the token leaked into the database"
    );
}

#[tokio::test]
async fn a_failing_poll_is_reported_once_a_day_and_so_is_its_recovery() {
    // Arrange: the endpoint fails three times, then recovers
    let vendor = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .mount(&vendor)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"credits": "2,500"}})),
        )
        .mount(&vendor)
        .await;
    let clock = Arc::new(ManualClock::new(t0()));
    // (the cron poll is yearly, so only the polls below reach the endpoint)
    let env = poller_env(&vendor, "0 0 0 1 JAN *");
    let mut all = pairs(&env);
    all.extend([OPS_CHANNEL, YEARLY_REMINDER]);
    let t = spawn_app_with_clock(&all, clock.clone()).await;

    // Act / Assert: first failure reported, with the reason
    let outcome = poll_once(&t.app).await.unwrap();
    assert!(
        matches!(outcome, PollOutcome::Failed(ref r) if r.contains("503")),
        "{outcome:?}"
    );
    assert_eq!(count(&t, "SMS balance poll failed").await, 1);
    let report = posted(&t).await.pop().unwrap();
    assert!(
        report.contains("the balance endpoint answered HTTP 503 Service Unavailable"),
        "{report}"
    );
    assert!(!report.contains("sekret-token"));

    // Failing again within the day: quiet; a day later: reported again
    clock.advance(TimeDelta::hours(1));
    poll_once(&t.app).await.unwrap();
    assert_eq!(count(&t, "SMS balance poll failed").await, 1);
    clock.advance(TimeDelta::days(1));
    poll_once(&t.app).await.unwrap();
    assert_eq!(count(&t, "SMS balance poll failed").await, 2);

    // Recovery is announced once
    clock.advance(TimeDelta::hours(1));
    assert_eq!(
        poll_once(&t.app).await.unwrap(),
        PollOutcome::Recorded(2500)
    );
    clock.advance(TimeDelta::hours(1));
    poll_once(&t.app).await.unwrap();
    assert_eq!(count(&t, "poller recovered").await, 1);
}

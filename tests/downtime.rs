//! Downtime windows end to end: the whole app on a temporary database with
//! a hand-moved clock; due timers are fired with `scheduler::run_due`, and
//! what the channels receive is read back from the outbox (or from the
//! Slack and Discord mocks). Each test checks what a reader of the channel,
//! the status page or a subscribed calendar would notice.

mod common;

use std::io::BufReader;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_in, spawn_app_with_clock};
use serde_json::{Value, json};
use shipmate::app::Message;
use shipmate::domain::timing::ManualClock;
use shipmate::scheduler;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PARTNERS: (&str, &str) = ("SHIPMATE__DOWNTIME__CHANNELS", "console:#partners");
const REMINDERS: (&str, &str) = ("SHIPMATE__DOWNTIME__REMIND_BEFORE", "24h,1h");

/// Monday 2026-11-02 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}
fn at(hours: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(hours)
}
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn app_at(clock: &Arc<ManualClock>, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![PARTNERS, REMINDERS];
    env.extend_from_slice(extra);
    spawn_app_with_clock(&env, clock.clone()).await
}

/// Every message queued for a channel, as console text, oldest first.
async fn posted(t: &TestApp, channel: &str) -> Vec<String> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM outbox WHERE channel = ? ORDER BY id")
            .bind(channel)
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
    posted(t, "console:#partners")
        .await
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

/// Moves the clock and fires whatever fell due.
async fn advance_to(t: &TestApp, clock: &ManualClock, to: DateTime<Utc>) {
    clock.set(to);
    scheduler::run_due(&t.app).await.unwrap();
}

async fn status(t: &TestApp) -> Value {
    reqwest::get(t.url("/status.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Rows a downtime command writes. (The outbox worker only updates rows and
/// the recurring jobs of other features register in the background, so
/// these counts are stable while nothing is commanded.)
async fn row_counts(t: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM downtimes",
        "SELECT COUNT(*) FROM jobs WHERE kind = 'downtime.timer'",
        "SELECT COUNT(*) FROM audit_log",
        "SELECT COUNT(*) FROM outbox",
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&t.app.db.pool)
            .await
            .unwrap();
        counts.push(n);
    }
    counts
}

async fn announce(t: &TestApp, env: &str, start: DateTime<Utc>, length: &str) -> String {
    t.ok(
        "rm",
        &format!(
            "/downtime announce env:{env} start:{} duration:{length} reason:\"database upgrade\" audience:\"partner portals\"",
            rfc(start)
        ),
    )
    .await
}

#[tokio::test]
async fn an_announcement_reaches_slack_discord_and_the_status_feed() {
    // Arrange: Slack and Discord mocks, both in downtime.channels
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C1", "ts": "1700000000.000100"})),
        )
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v10/channels/123/messages"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "5001", "channel_id": "123"})),
        )
        .mount(&discord)
        .await;
    let (slack_api, discord_api) = (
        format!("{}/api/", slack.uri()),
        format!("{}/api/v10", discord.uri()),
    );
    let clock = Arc::new(ManualClock::new(t0()));
    let t = spawn_app_with_clock(
        &[
            ("SHIPMATE__DOWNTIME__CHANNELS", "slack:C1,discord:123"),
            ("SHIPMATE__SLACK__ENABLED", "true"),
            ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-test-token"),
            ("SHIPMATE__SLACK__SIGNING_SECRET", "signing-secret"),
            ("SHIPMATE__SLACK__API_BASE_URL", &slack_api),
            ("SHIPMATE__DISCORD__ENABLED", "true"),
            ("SHIPMATE__DISCORD__BOT_TOKEN", "discord-test-token"),
            (
                "SHIPMATE__DISCORD__PUBLIC_KEY",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            ),
            ("SHIPMATE__DISCORD__API_BASE_URL", &discord_api),
        ],
        clock.clone(),
    )
    .await;

    // Act
    let reply = announce(&t, "production", at(48), "2h").await;

    // Assert: the invoker is told, and both platforms get the announcement with native times
    assert!(reply.contains("DT-1"), "{reply}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (slack_body, discord_body) = loop {
        let s = slack.received_requests().await.unwrap_or_default();
        let d = discord.received_requests().await.unwrap_or_default();
        if let (Some(s), Some(d)) = (s.first(), d.first()) {
            break (
                s.body_json::<Value>().unwrap(),
                d.body_json::<Value>().unwrap(),
            );
        }
        assert!(Instant::now() < deadline, "no delivery to both platforms");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let slack_text = slack_body.to_string();
    assert!(slack_text.contains("*DT-1*"), "{slack_text}");
    assert!(slack_text.contains("`production`"), "{slack_text}");
    assert!(
        slack_text.contains(&format!("<!date^{}^", at(48).timestamp())),
        "native Slack time: {slack_text}"
    );
    assert!(slack_text.contains("database upgrade"), "{slack_text}");
    assert!(slack_text.contains("partner portals"), "{slack_text}");
    let discord_text = discord_body.to_string();
    assert!(discord_text.contains("**DT-1**"), "{discord_text}");
    assert!(
        discord_text.contains(&format!("<t:{}:f>", at(48).timestamp())),
        "native Discord time: {discord_text}"
    );
    assert!(
        discord_text.contains(&format!("<t:{}:f>", at(50).timestamp())),
        "{discord_text}"
    );

    // …and the public feed lists it as upcoming, for any origin, briefly cacheable
    let response = reqwest::get(t.url("/status.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=30")
    );
    let feed: Value = response.json().await.unwrap();
    assert_eq!(feed["active"], json!([]));
    let upcoming = &feed["upcoming"][0];
    assert_eq!(upcoming["id"], "DT-1");
    assert_eq!(upcoming["environment"], "production");
    assert_eq!(upcoming["state"], "announced");
    assert_eq!(upcoming["starts_at"], "2026-11-04T09:00:00Z");
    assert_eq!(upcoming["ends_at"], "2026-11-04T11:00:00Z");
    assert_eq!(upcoming["reason"], "database upgrade");
    assert_eq!(upcoming["audience"], "partner portals");
}

#[tokio::test]
async fn postponing_silences_the_old_reminders_and_the_new_ones_fire() {
    // Arrange: a window in 48h with reminders 24h and 1h before
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(48), "2h").await;

    // Act: move it a day later
    let reply = t
        .ok(
            "rm",
            &format!(
                "/downtime postpone DT-1 to:{} reason:\"vendor delay\"",
                rfc(at(72))
            ),
        )
        .await;

    // Assert: re-announced with the old and the new window
    assert_eq!(
        reply,
        "DT-1 `production` postponed: now 2026-11-05 14:30 IST → 2026-11-05 16:30 IST (2h); was 2026-11-04 14:30 IST → 2026-11-04 16:30 IST."
    );
    let postponed = posted(&t, "console:#partners").await.pop().unwrap();
    assert!(
        postponed.contains("DT-1 downtime of `production` postponed"),
        "{postponed}"
    );
    assert!(
        postponed.contains("Was: 2026-11-04 14:30 IST → 2026-11-04 16:30 IST"),
        "{postponed}"
    );
    assert!(
        postponed.contains("Now: 2026-11-05 14:30 IST → 2026-11-05 16:30 IST"),
        "{postponed}"
    );
    assert!(postponed.contains("Why: vendor delay"), "{postponed}");

    // The old reminder times pass in silence
    for hour in [24, 47] {
        advance_to(&t, &clock, at(hour)).await;
    }
    assert_eq!(count(&t, "starts in").await, 0, "old reminders fired");

    // The old start is the new 24h reminder: the reminder speaks, the window does not start
    advance_to(&t, &clock, at(48)).await;
    assert_eq!(count(&t, "starts in 1d").await, 1);
    assert_eq!(count(&t, "in progress").await, 0, "old start fired");
    assert_eq!(status(&t).await["active"], json!([]));

    // The new ones fire, once each
    advance_to(&t, &clock, at(71)).await;
    assert_eq!(count(&t, "starts in 1h").await, 1);
    advance_to(&t, &clock, at(72)).await;
    assert_eq!(count(&t, "is in progress").await, 1);
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(count(&t, "starts in").await, 2, "no reminder twice");
    let cancelled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'downtime.timer' AND state = 'cancelled'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        cancelled, 4,
        "two reminders, start and overrun of the old window"
    );
}

#[tokio::test]
async fn a_window_starts_by_itself_overruns_and_completes() {
    // Arrange
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(2), "2h").await;
    let list = t.ok("alice", "/downtime list").await;
    assert!(list.contains("DT-1 · announced · `production`"), "{list}");

    // Act: its start time comes
    advance_to(&t, &clock, at(2)).await;

    // Assert: announced as in progress, and active on the feed
    assert_eq!(
        count(&t, "DT-1 downtime of `production` is in progress").await,
        1
    );
    let feed = status(&t).await;
    assert_eq!(feed["active"][0]["id"], "DT-1");
    assert_eq!(feed["active"][0]["state"], "in-progress");
    assert_eq!(feed["active"][0]["overrunning"], false);
    assert_eq!(feed["upcoming"], json!([]));

    // Its planned end passes: an overrun notice, and the feed says so
    advance_to(&t, &clock, at(4)).await;
    assert_eq!(count(&t, "is overrunning").await, 1);
    assert_eq!(status(&t).await["active"][0]["overrunning"], true);

    // Complete: service is back, nothing active
    clock.set(at(4) + TimeDelta::minutes(25));
    t.ok("rm", "/downtime complete DT-1").await;
    assert_eq!(count(&t, "is over: service is back after 2h 25m").await, 1);
    let feed = status(&t).await;
    assert_eq!(feed["active"], json!([]));
    assert_eq!(feed["upcoming"], json!([]));
    let list = t.ok("alice", "/downtime list").await;
    assert!(list.contains("No current or upcoming downtime"), "{list}");
}

#[tokio::test]
async fn a_window_started_by_hand_is_not_started_again_by_its_timer() {
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "staging", at(3), "1h").await;

    t.ok("rm", "/downtime start DT-1").await;
    for hour in [2, 3] {
        advance_to(&t, &clock, at(hour)).await;
    }

    assert_eq!(count(&t, "is in progress").await, 1);
    assert_eq!(count(&t, "started early by @rm").await, 1);
    assert_eq!(count(&t, "starts in").await, 0, "no reminder once it began");
    assert_eq!(status(&t).await["active"][0]["state"], "in-progress");
}

#[tokio::test]
async fn overlapping_windows_of_one_environment_are_refused_with_the_other_named() {
    // Arrange
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(10), "2h").await;
    let before = row_counts(&t).await;

    // Act / Assert: an overlapping window is refused, naming DT-1, and nothing changes
    let refusal = t
        .refused(
            "rm",
            &format!(
                "/downtime announce env:production start:{} end:{} reason:\"other work\"",
                rfc(at(11)),
                rfc(at(13))
            ),
        )
        .await;
    assert!(
        refusal.contains("DT-1 already covers production"),
        "{refusal}"
    );
    assert_eq!(row_counts(&t).await, before, "a refusal changes nothing");

    // Another environment, or the same one right after, is fine
    announce(&t, "staging", at(11), "1h").await;
    announce(&t, "production", at(12), "1h").await;
    // Postponing into an occupied slot is refused too
    let refusal = t
        .refused(
            "rm",
            &format!(
                "/downtime postpone DT-3 to:{}",
                rfc(at(9) + TimeDelta::minutes(30))
            ),
        )
        .await;
    assert!(refusal.contains("DT-1"), "{refusal}");
    // Once DT-1 is cancelled the slot is free
    t.ok("rm", "/downtime cancel DT-1 reason:\"moved to next week\"")
        .await;
    t.ok(
        "rm",
        &format!(
            "/downtime postpone DT-3 to:{}",
            rfc(at(9) + TimeDelta::minutes(30))
        ),
    )
    .await;
}

#[tokio::test]
async fn commands_are_checked_for_role_grammar_and_state() {
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    let start = rfc(at(5));
    let r = t
        .refused(
            "alice",
            &format!("/downtime announce env:prod start:{start} duration:1h reason:x"),
        )
        .await;
    assert!(r.contains("only `release-manager` members"), "{r}");
    let r = t
        .refused(
            "rm",
            &format!("/downtime announce env:prod start:{start} reason:x"),
        )
        .await;
    assert!(r.contains("duration:<d>") && r.contains("Usage:"), "{r}");
    let r = t
        .refused(
            "rm",
            &format!("/downtime announce env:prod start:{start} duration:1h end:{start} reason:x"),
        )
        .await;
    assert!(r.contains("not both"), "{r}");
    let r = t
        .refused(
            "rm",
            "/downtime announce env:prod start:tomorrow duration:1h reason:x",
        )
        .await;
    assert!(r.contains("is not a time"), "{r}");
    let r = t.refused("rm", "/downtime complete DT-9").await;
    assert!(r.contains("DT-9 does not exist"), "{r}");
    t.ok(
        "rm",
        "/downtime announce env:prod start:\"2026-11-02 20:00\" duration:1h reason:x",
    )
    .await;
    let r = t.refused("rm", "/downtime complete DT-1").await;
    assert!(r.contains("DT-1: this window has not started"), "{r}");
    let r = t.refused("rm", "/downtime cancel DT-1").await;
    assert!(r.contains("missing `reason`"), "{r}");
    let audit: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE record = 'DT-1' ORDER BY id")
            .fetch_all(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(audit, ["announced"]);
}

fn prop<'a>(event: &'a ical::parser::ical::component::IcalEvent, name: &str) -> &'a str {
    event
        .properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_deref())
        .unwrap_or_else(|| panic!("{name} missing"))
}

async fn calendar(t: &TestApp) -> Vec<ical::parser::ical::component::IcalEvent> {
    let response = reqwest::get(t.url("/calendar.ics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let body = response.text().await.unwrap();
    let mut parser = ical::IcalParser::new(BufReader::new(body.as_bytes()));
    let calendar = parser
        .next()
        .expect("one calendar")
        .expect("valid iCalendar");
    assert!(parser.next().is_none(), "exactly one calendar");
    let version = calendar
        .properties
        .iter()
        .find(|p| p.name == "VERSION")
        .and_then(|p| p.value.clone());
    assert_eq!(version.as_deref(), Some("2.0"));
    calendar.events
}

#[tokio::test]
async fn the_calendar_parses_and_keeps_uids_across_a_postpone_with_a_higher_sequence() {
    // Arrange: two windows, one then cancelled
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(48), "2h").await;
    announce(&t, "staging", at(30), "1h").await;
    t.ok("rm", "/downtime cancel DT-2 reason:\"not needed\"")
        .await;
    let before = calendar(&t).await;
    assert_eq!(before.len(), 2);
    let dt1 = before
        .iter()
        .find(|e| prop(e, "SUMMARY").contains("DT-1"))
        .unwrap();
    let dt2 = before
        .iter()
        .find(|e| prop(e, "SUMMARY").contains("DT-2"))
        .unwrap();
    assert_eq!(prop(dt1, "DTSTART"), "20261104T090000Z");
    assert_eq!(prop(dt1, "DTEND"), "20261104T110000Z");
    assert_eq!(prop(dt1, "SEQUENCE"), "0");
    assert_eq!(prop(dt1, "STATUS"), "CONFIRMED");
    assert_eq!(prop(dt2, "STATUS"), "CANCELLED");
    assert_ne!(prop(dt1, "UID"), prop(dt2, "UID"));

    // Act
    clock.advance(TimeDelta::minutes(5));
    t.ok("rm", &format!("/downtime postpone DT-1 to:{}", rfc(at(72))))
        .await;

    // Assert: same UID, higher SEQUENCE, new times
    let after = calendar(&t).await;
    let moved = after
        .iter()
        .find(|e| prop(e, "UID") == prop(dt1, "UID"))
        .expect("the UID survives the postpone");
    assert_eq!(prop(moved, "SEQUENCE"), "1");
    assert_eq!(prop(moved, "DTSTART"), "20261105T090000Z");
    assert_eq!(prop(moved, "DTEND"), "20261105T110000Z");
    assert!(prop(moved, "DTSTAMP") > prop(dt1, "DTSTAMP"));
    assert_eq!(after.len(), 2);
}

#[tokio::test]
async fn a_window_started_early_with_an_end_shows_its_actual_times_once_completed() {
    // Arrange: a 2 h window announced for day 2, 09:00 UTC
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(48), "2h").await;

    // Act: started an hour early with its own end, completed late
    advance_to(&t, &clock, at(47)).await;
    let r = t
        .refused("rm", &format!("/downtime start DT-1 end:{}", rfc(at(46))))
        .await;
    assert!(r.contains("is not after now"), "{r}");
    t.ok("rm", &format!("/downtime start DT-1 end:{}", rfc(at(50))))
        .await;
    advance_to(&t, &clock, at(50) + TimeDelta::minutes(20)).await;
    t.ok("rm", "/downtime complete DT-1").await;

    // Assert: the calendar moves the event to when it really ran
    let events = calendar(&t).await;
    let dt1 = &events[0];
    assert_eq!(prop(dt1, "DTSTART"), "20261104T080000Z");
    assert_eq!(prop(dt1, "DTEND"), "20261104T112000Z");
    assert_eq!(prop(dt1, "SEQUENCE"), "2", "started early, then completed");
    assert!(prop(dt1, "DESCRIPTION").contains("State: completed"));
}

#[tokio::test]
async fn a_restart_between_announcement_and_reminder_still_sends_the_reminder_once() {
    // Arrange: announce, then stop the bot
    let clock = Arc::new(ManualClock::new(t0()));
    let first = app_at(&clock, &[]).await;
    announce(&first, "production", at(48), "2h").await;
    let dir = first.dir.clone();
    drop(first);

    // Act: start again on the same database; the reminder falls due
    let env = [PARTNERS, REMINDERS];
    let second = spawn_app_in(dir, &env, clock.clone()).await;
    advance_to(&second, &clock, at(24)).await;
    advance_to(&second, &clock, at(24) + TimeDelta::minutes(1)).await;

    // Assert: queued once, printed once
    assert_eq!(count(&second, "starts in 1d").await, 1);
    assert!(
        second
            .wait_console("starts in 1d", 1, Duration::from_secs(5))
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(second.console_count("starts in 1d"), 1);
}

#[tokio::test]
async fn a_stale_timer_that_outlived_its_cancellation_still_says_nothing() {
    // Arrange: postpone, then bring the old window's cancelled jobs back to life
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(48), "2h").await;
    t.ok("rm", &format!("/downtime postpone DT-1 to:{}", rfc(at(96))))
        .await;
    let revived = sqlx::query(
        "UPDATE jobs SET state = 'pending' WHERE kind = 'downtime.timer' AND state = 'cancelled'",
    )
    .execute(&t.app.db.pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(revived, 4);

    // Act: every old timer falls due and fires
    advance_to(&t, &clock, at(50)).await;

    // Assert: the version guard keeps them quiet
    let fired: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'downtime.timer' AND state = 'done'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(fired, 4, "the stale jobs ran");
    assert_eq!(count(&t, "starts in").await, 0);
    assert_eq!(count(&t, "in progress").await, 0);
    assert_eq!(count(&t, "overrunning").await, 0);
    assert_eq!(status(&t).await["upcoming"][0]["state"], "announced");
}

#[tokio::test]
async fn the_status_page_shows_windows_escaped_and_the_banner_snippet() {
    // Arrange: a reason that tries to inject markup
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    t.ok(
        "rm",
        &format!(
            "/downtime announce env:production start:{} duration:1h reason:\"<script>alert(1)</script>\"",
            rfc(at(5))
        ),
    )
    .await;

    // Act
    let response = reqwest::get(t.url("/status")).await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "markup injected");
    assert!(page.contains("2026-11-02 19:30 IST"), "{page}");
    let feed = format!("var feed = \"http://127.0.0.1:{}/status.json\";", t.port);
    assert_eq!(page.matches(&feed).count(), 1, "the live banner: {page}");
    assert!(
        page.contains("var feed = &quot;http://127.0.0.1:"),
        "the copyable snippet"
    );
}

#[tokio::test]
async fn moving_a_window_earlier_says_so_and_starting_early_keeps_its_length() {
    // Arrange: a 2h window in 48h
    let clock = Arc::new(ManualClock::new(t0()));
    let t = app_at(&clock, &[]).await;
    announce(&t, "production", at(48), "2h").await;

    // Act: moved a day earlier, then started an hour before that
    t.ok(
        "rm",
        &format!(
            "/downtime postpone DT-1 to:{} reason:\"vendor ready\"",
            rfc(at(24))
        ),
    )
    .await;
    let moved = posted(&t, "console:#partners").await.pop().unwrap();
    advance_to(&t, &clock, at(23)).await;
    t.ok("rm", "/downtime start DT-1").await;
    let started = posted(&t, "console:#partners").await.pop().unwrap();

    // Assert
    assert!(
        moved.contains("DT-1 downtime of `production` moved earlier"),
        "{moved}"
    );
    assert!(
        started.contains("is in progress, until 2026-11-03 15:30 IST"),
        "two hours from the early start: {started}"
    );
    // the overrun warning follows the moved end, not the planned one
    advance_to(&t, &clock, at(25) + TimeDelta::minutes(1)).await;
    assert_eq!(count(&t, "is overrunning").await, 1);
}

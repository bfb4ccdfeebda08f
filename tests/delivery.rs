//! Outbound delivery to Slack and Discord, end to end: the whole app with
//! its outbox worker, talking to wiremock servers on 127.0.0.1 that play
//! the Slack Web API and the Discord REST API. Each test checks what a user
//! of the channel would notice: the card and its buttons, edits in place,
//! waits honoured, no duplicates, no lost or endlessly retried messages.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{TestApp, spawn_app, spawn_app_in, spawn_app_with_clock};
use serde_json::{Value, json};
use shipmate::app::{Line, Message};
use shipmate::domain::timing::{Clock, ManualClock, SystemClock};
use shipmate::store;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SLACK_TS: &str = "1700000000.000100";
const DISCORD_ID: &str = "5001";
/// RFC 8032 test vector 1 public key: a well-formed key for config validation.
const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Answers from a script (then a default), remembering when each request came.
#[derive(Clone)]
struct Script(Arc<ScriptInner>);

struct ScriptInner {
    queue: Mutex<VecDeque<ResponseTemplate>>,
    then: ResponseTemplate,
    seen: Mutex<Vec<(Instant, Request)>>,
}

impl Script {
    fn new(first: Vec<ResponseTemplate>, then: ResponseTemplate) -> Self {
        Self(Arc::new(ScriptInner {
            queue: Mutex::new(first.into()),
            then,
            seen: Mutex::new(Vec::new()),
        }))
    }
    fn always(then: ResponseTemplate) -> Self {
        Self::new(Vec::new(), then)
    }
    fn seen(&self) -> Vec<(Instant, Request)> {
        self.0.seen.lock().unwrap().clone()
    }
    fn bodies(&self) -> Vec<Value> {
        self.seen()
            .iter()
            .map(|(_, r)| r.body_json().unwrap())
            .collect()
    }
    fn count(&self) -> usize {
        self.0.seen.lock().unwrap().len()
    }
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0
            .seen
            .lock()
            .unwrap()
            .push((Instant::now(), request.clone()));
        self.0
            .queue
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.0.then.clone())
    }
}

fn slack_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": "C1", "ts": SLACK_TS}))
}

fn slack_history(messages: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"ok": true, "messages": messages, "has_more": false}))
}

fn discord_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"id": DISCORD_ID, "channel_id": "123"}))
}

async fn mount(server: &MockServer, verb: &str, at: &str, script: &Script) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(script.clone())
        .mount(server)
        .await;
}

/// Slack and Discord enabled and pointed at the mocks, fast outbox retries.
fn platform_env(
    slack: &MockServer,
    discord: &MockServer,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("SHIPMATE__SLACK__ENABLED", "true"),
        ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-test-token"),
        ("SHIPMATE__SLACK__SIGNING_SECRET", "signing-secret"),
        ("SHIPMATE__DISCORD__ENABLED", "true"),
        ("SHIPMATE__DISCORD__BOT_TOKEN", "discord-test-token"),
        ("SHIPMATE__DISCORD__PUBLIC_KEY", PUBLIC_KEY),
        ("SHIPMATE__OUTBOX__RETRY_BASE", "100ms"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push((
        "SHIPMATE__SLACK__API_BASE_URL".into(),
        format!("{}/api/", slack.uri()),
    ));
    env.push((
        "SHIPMATE__DISCORD__API_BASE_URL".into(),
        format!("{}/api/v10", discord.uri()),
    ));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Row {
    id: i64,
    channel: String,
    state: String,
    attempts: i64,
    platform_message_id: Option<String>,
    last_error: Option<String>,
}

async fn rows(t: &TestApp) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, channel, state, attempts, platform_message_id, last_error FROM outbox ORDER BY id",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap()
}

/// Waits until no row is pending any more; returns the rows.
async fn settled(t: &TestApp, within: Duration) -> Vec<Row> {
    let deadline = Instant::now() + within;
    loop {
        let now = rows(t).await;
        if !now.is_empty() && now.iter().all(|r| r.state != "pending") {
            return now;
        }
        assert!(Instant::now() < deadline, "outbox did not settle: {now:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Queues messages in one transaction, as a command would, and wakes the worker.
async fn enqueue(t: &TestApp, items: &[(&str, &Message, Option<&str>)], attempts: i64) -> Vec<i64> {
    let mut tx = t.app.db.begin().await.unwrap();
    let mut ids = Vec::new();
    for (channel, message, key) in items {
        let body = serde_json::to_string(message).unwrap();
        let id = store::outbox::enqueue(&mut tx, channel, &body, *key, Utc::now())
            .await
            .unwrap();
        sqlx::query("UPDATE outbox SET attempts = ? WHERE id = ?")
            .bind(attempts)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    t.app.wake.outbox.notify_one();
    ids
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn a_deletion_request_card_reaches_slack_and_discord_with_buttons_and_precise_pings() {
    // Arrange: priya is one person on the console, Slack and Discord
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let (post, create) = (Script::always(slack_ok()), Script::always(discord_ok()));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let env = platform_env(
        &slack,
        &discord,
        &[
            ("SHIPMATE__DELETION__CHANNELS", "slack:C1,discord:123"),
            (
                "SHIPMATE__ROLES__DATA-STEWARD",
                "console:steward,discord-role:42",
            ),
            ("SHIPMATE__PEOPLE__PRIYA__CONSOLE", "priya"),
            ("SHIPMATE__PEOPLE__PRIYA__SLACK", "UPRIYA"),
            ("SHIPMATE__PEOPLE__PRIYA__DISCORD", "555"),
        ],
    );
    let t = spawn_app(&pairs(&env)).await;

    // Act
    t.ok(
        "alice",
        "/delete-request city-b/run-42 reason:duplicate-run stakeholders:@priya ran <!everyone> twice",
    )
    .await;
    let rows = settled(&t, Duration::from_secs(5)).await;

    // Assert: both delivered, with the platform ids recorded
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let slack_row = rows.iter().find(|r| r.channel == "slack:C1").unwrap();
    let discord_row = rows.iter().find(|r| r.channel == "discord:123").unwrap();
    assert_eq!(slack_row.state, "delivered");
    assert_eq!(slack_row.platform_message_id.as_deref(), Some(SLACK_TS));
    assert_eq!(discord_row.state, "delivered");
    assert_eq!(discord_row.platform_message_id.as_deref(), Some(DISCORD_ID));

    // Slack: Block Kit with the buttons, bearer token, metadata, escaped free text
    let (_, req) = &post.seen()[0];
    assert_eq!(header(req, "authorization"), "Bearer xoxb-test-token");
    let body: Value = req.body_json().unwrap();
    assert_eq!(body["channel"], "C1");
    let blocks = body["blocks"].as_array().unwrap();
    let section = blocks[0]["text"]["text"].as_str().unwrap();
    assert_eq!(blocks[0]["type"], "section");
    assert!(
        section.contains("*DR-1* `city-b/run-42` deletion requested by @alice"),
        "{section}"
    );
    assert!(section.contains("Stakeholders: <@UPRIYA>"), "{section}");
    assert!(section.contains("ran &lt;!everyone&gt; twice"), "{section}");
    let actions = blocks.last().unwrap();
    assert_eq!(actions["type"], "actions");
    let labels: Vec<&str> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Approve", "Object"]);
    assert_eq!(
        actions["elements"][0]["value"],
        "/delete-request approve DR-1"
    );
    assert_eq!(actions["elements"][1]["style"], "danger");
    assert!(body["text"].as_str().unwrap().contains("DR-1"));
    assert_eq!(
        body["metadata"],
        json!({"event_type": "shipmate_outbox", "event_payload": {"outbox_id": slack_row.id}})
    );

    // Discord: embed, components, nonce, pings for priya and the steward role only
    let (_, req) = &create.seen()[0];
    assert_eq!(header(req, "authorization"), "Bot discord-test-token");
    let body: Value = req.body_json().unwrap();
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.contains("**DR-1** `city-b/run-42` deletion requested by @alice"),
        "{description}"
    );
    assert!(
        description.contains("Stakeholders: <@555>"),
        "{description}"
    );
    assert!(description.contains("<@&42>"), "{description}");
    let buttons = &body["components"][0]["components"];
    assert_eq!(body["components"][0]["type"], 1);
    assert_eq!(
        buttons[0],
        json!({"type": 2, "style": 1, "label": "Approve", "custom_id": "/delete-request approve DR-1"})
    );
    assert_eq!(buttons[1]["label"], "Object");
    assert_eq!(buttons[1]["style"], 4);
    assert_eq!(body["nonce"], discord_row.id.to_string());
    assert_eq!(body["enforce_nonce"], true);
    assert_eq!(body["content"], "<@555> <@&42>");
    assert_eq!(
        body["allowed_mentions"],
        json!({"parse": [], "users": ["555"], "roles": ["42"], "replied_user": false})
    );
}

#[tokio::test]
async fn a_keyed_message_is_edited_in_place_with_the_stored_platform_id() {
    // Arrange
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let (post, update) = (Script::always(slack_ok()), Script::always(slack_ok()));
    let (create, edit) = (Script::always(discord_ok()), Script::always(discord_ok()));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "POST", "/api/chat.update", &update).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    mount(
        &discord,
        "PATCH",
        "/api/v10/channels/123/messages/5001",
        &edit,
    )
    .await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let running = Message::text("deploy #7 running");
    let passed = Message::text("deploy #7 passed");

    // Act: the first version, then (after it is delivered) the second, under one key
    enqueue(
        &t,
        &[
            ("slack:C1", &running, Some("run-7")),
            ("discord:123", &running, Some("run-7")),
        ],
        0,
    )
    .await;
    settled(&t, Duration::from_secs(5)).await;
    enqueue(
        &t,
        &[
            ("slack:C1", &passed, Some("run-7")),
            ("discord:123", &passed, Some("run-7")),
        ],
        0,
    )
    .await;
    let rows = settled(&t, Duration::from_secs(5)).await;

    // Assert: one post and one edit per platform, the edit naming the first message
    assert!(rows.iter().all(|r| r.state == "delivered"), "{rows:#?}");
    assert_eq!((post.count(), update.count()), (1, 1));
    let body = &update.bodies()[0];
    assert_eq!(
        (body["channel"].as_str(), body["ts"].as_str()),
        (Some("C1"), Some(SLACK_TS))
    );
    assert_eq!(body["blocks"][0]["text"]["text"], "deploy #7 passed");
    assert_eq!((create.count(), edit.count()), (1, 1));
    let body = &edit.bodies()[0];
    assert_eq!(body["embeds"][0]["description"], "deploy #7 passed");
    assert!(body.get("nonce").is_none(), "edits carry no nonce: {body}");
}

#[tokio::test]
async fn a_429_is_waited_out_then_the_message_is_delivered_exactly_once() {
    // Arrange: each platform refuses the first try with its own wait
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::new(
        vec![ResponseTemplate::new(429).insert_header("Retry-After", "1")],
        slack_ok(),
    );
    let history = Script::always(slack_history(json!([])));
    let create = Script::new(
        vec![ResponseTemplate::new(429).set_body_json(
            json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false}),
        )],
        discord_ok(),
    );
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "GET", "/api/conversations.history", &history).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;

    // Act
    let m = Message::text("maintenance tonight");
    enqueue(&t, &[("slack:C1", &m, None), ("discord:123", &m, None)], 0).await;
    let rows = settled(&t, Duration::from_secs(6)).await;

    // Assert: delivered, two requests each, the second after the platform's
    // wait; waiting on a rate limit is not a failed attempt
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let times: Vec<Instant> = post.seen().iter().map(|(at, _)| *at).collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_secs(1),
        "{:?}",
        times[1] - times[0]
    );
    assert_eq!(
        history.count(),
        0,
        "a 429 posted nothing, so there is no earlier copy to look for"
    );
    let seen = create.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].0 - seen[0].0 >= Duration::from_millis(500),
        "{:?}",
        seen[1].0 - seen[0].0
    );
    let bodies = create.bodies();
    assert_eq!(
        bodies[0]["nonce"], bodies[1]["nonce"],
        "a resend reuses its nonce"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_delivered_once() {
    // Arrange
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::new(
        vec![ResponseTemplate::new(503), ResponseTemplate::new(500)],
        slack_ok(),
    );
    let history = Script::always(slack_history(json!([])));
    let create = Script::new(
        vec![ResponseTemplate::new(502), ResponseTemplate::new(500)],
        discord_ok(),
    );
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "GET", "/api/conversations.history", &history).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;

    // Act
    let m = Message::text("release 2.4 shipped");
    enqueue(&t, &[("slack:C1", &m, None), ("discord:123", &m, None)], 0).await;
    let rows = settled(&t, Duration::from_secs(6)).await;

    // Assert: three tries each, delivered once, the error cleared
    for r in &rows {
        assert_eq!(r.state, "delivered", "{r:?}");
        assert_eq!(r.attempts, 3, "{r:?}");
        assert_eq!(r.last_error, None, "{r:?}");
    }
    assert_eq!((post.count(), history.count(), create.count()), (3, 2, 3));
    let nonces: Vec<Value> = create.bodies().iter().map(|b| b["nonce"].clone()).collect();
    assert!(nonces.iter().all(|n| *n == nonces[0]), "{nonces:?}");
}

#[tokio::test]
async fn a_channel_that_cannot_be_reached_is_parked_not_retried() {
    // Arrange
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::always(
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
    );
    let create = Script::always(
        ResponseTemplate::new(404)
            .set_body_json(json!({"message": "Unknown Channel", "code": 10003})),
    );
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;

    // Act
    let m = Message::text("hello?");
    enqueue(&t, &[("slack:C1", &m, None), ("discord:123", &m, None)], 0).await;
    let rows = settled(&t, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Assert: parked after one try each, with the platform's reason
    assert!(
        rows.iter().all(|r| r.state == "parked" && r.attempts == 1),
        "{rows:#?}"
    );
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("channel_not_found")
    );
    assert!(
        rows[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("Unknown Channel")
    );
    assert_eq!((post.count(), create.count()), (1, 1));
}

#[tokio::test]
async fn a_restart_after_delivery_sends_nothing_again() {
    // Arrange: a first app delivers a message to each platform
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let (post, create) = (Script::always(slack_ok()), Script::always(discord_ok()));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let env = platform_env(&slack, &discord, &[]);
    let first = spawn_app(&pairs(&env)).await;
    let before = Message::text("before the restart");
    let old = enqueue(
        &first,
        &[("slack:C1", &before, None), ("discord:123", &before, None)],
        0,
    )
    .await;
    settled(&first, Duration::from_secs(5)).await;
    let dir = first.dir.clone();
    drop(first);

    // Act: a second app on the same database delivers a new message
    let second = spawn_app_in(dir, &pairs(&env), Arc::new(SystemClock)).await;
    let after = Message::text("after the restart");
    let new = enqueue(
        &second,
        &[("slack:C1", &after, None), ("discord:123", &after, None)],
        0,
    )
    .await;
    let rows = settled(&second, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Assert: each message reached each platform exactly once
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let slack_ids: Vec<Value> = post
        .bodies()
        .iter()
        .map(|b| b["metadata"]["event_payload"]["outbox_id"].clone())
        .collect();
    assert_eq!(slack_ids, [json!(old[0]), json!(new[0])]);
    let nonces: Vec<Value> = create.bodies().iter().map(|b| b["nonce"].clone()).collect();
    assert_eq!(
        nonces,
        [json!(old[1].to_string()), json!(new[1].to_string())]
    );
}

#[tokio::test]
async fn a_retried_slack_post_already_in_the_channel_is_not_posted_again() {
    // Arrange: two rows an earlier process tried; Slack shows the first one arrived
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::always(slack_ok());
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let history_messages = |id: i64| {
        json!([
            {"type": "message", "ts": "1700000001.000300", "text": "someone else"},
            {"type": "message", "ts": "1700000000.000200",
             "metadata": {"event_type": "shipmate_outbox", "event_payload": {"outbox_id": id}}},
        ])
    };
    // The ids are known only after insert, so the history mock is mounted with the next id.
    let next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    let history = Script::always(slack_history(history_messages(next_id)));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "GET", "/api/conversations.history", &history).await;

    // Act
    let m = Message::new().line(Line::new().text("cooling-off ended"));
    let ids = enqueue(&t, &[("slack:C1", &m, None), ("slack:C1", &m, None)], 1).await;
    let rows = settled(&t, Duration::from_secs(5)).await;

    // Assert: the first is recorded with the ts found; only the second was posted
    assert_eq!(ids[0], next_id);
    assert_eq!(rows[0].state, "delivered");
    assert_eq!(
        rows[0].platform_message_id.as_deref(),
        Some("1700000000.000200")
    );
    assert_eq!(rows[1].state, "delivered");
    assert_eq!(rows[1].platform_message_id.as_deref(), Some(SLACK_TS));
    assert_eq!(post.count(), 1);
    assert_eq!(
        post.bodies()[0]["metadata"]["event_payload"]["outbox_id"],
        json!(ids[1])
    );
    let (_, query) = &history.seen()[0];
    let q: Vec<(String, String)> = query.url.query_pairs().into_owned().collect();
    assert!(q.contains(&("channel".into(), "C1".into())), "{q:?}");
    assert!(
        q.contains(&("include_all_metadata".into(), "true".into())),
        "{q:?}"
    );
    assert!(q.iter().any(|(k, _)| k == "oldest"), "{q:?}");
    assert_eq!(header(query, "authorization"), "Bearer xoxb-test-token");
}

#[tokio::test]
async fn a_slack_row_leased_by_a_process_that_stopped_is_checked_against_the_channel_first() {
    // Arrange: a row an earlier process leased (its lease ran out: it stopped
    // mid-send) but never recorded an attempt for; Slack shows it arrived
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::always(slack_ok());
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    let history = Script::always(slack_history(json!([
        {"type": "message", "ts": "1700000000.000200",
         "metadata": {"event_type": "shipmate_outbox", "event_payload": {"outbox_id": next_id}}},
    ])));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "GET", "/api/conversations.history", &history).await;

    // Act: queued and leased a minute ago for 30 s, in one transaction so the
    // running worker cannot take it in between
    let then = Utc::now() - chrono::TimeDelta::seconds(60);
    let body = serde_json::to_string(&Message::text("sent just before a crash")).unwrap();
    let mut tx = t.app.db.begin().await.unwrap();
    let id = store::outbox::enqueue(&mut tx, "slack:C1", &body, None, then)
        .await
        .unwrap();
    let leased = store::outbox::lease_due(&mut tx, then, chrono::TimeDelta::seconds(30), 10, 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    t.app.wake.outbox.notify_one();
    let rows = settled(&t, Duration::from_secs(5)).await;

    // Assert: the earlier copy is recorded; nothing is posted again
    assert_eq!((id, leased.len(), leased[0].attempts), (next_id, 1, 0));
    assert_eq!(rows[0].state, "delivered");
    assert_eq!(
        rows[0].platform_message_id.as_deref(),
        Some("1700000000.000200")
    );
    assert_eq!((history.count(), post.count()), (1, 0));
}

/// Answers 429 to any request that comes sooner than `min_gap` after the previous one.
#[derive(Clone)]
struct Paced(Arc<PacedInner>);

struct PacedInner {
    min_gap: Duration,
    seen: Mutex<Vec<Instant>>,
    limited: AtomicUsize,
}

impl Respond for Paced {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let this = &self.0;
        let now = Instant::now();
        let mut seen = this.seen.lock().unwrap();
        let too_soon = seen.last().is_some_and(|last| now - *last < this.min_gap);
        seen.push(now);
        if too_soon {
            this.limited.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(429).insert_header("Retry-After", "1")
        } else {
            slack_ok()
        }
    }
}

#[tokio::test]
async fn a_burst_to_one_slack_channel_is_spread_out_and_never_rate_limited() {
    // Arrange: a channel rate of 1 per 100 ms (the default is 1 per second;
    // the shorter window keeps the test fast), and a Slack that enforces it
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let paced = Paced(Arc::new(PacedInner {
        // half the window: a burst sent unpaced arrives within a few ms, while
        // paced sends delayed unevenly on a busy machine still pass
        min_gap: Duration::from_millis(50),
        seen: Mutex::new(Vec::new()),
        limited: AtomicUsize::new(0),
    }));
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(paced.clone())
        .mount(&slack)
        .await;
    let env = platform_env(
        &slack,
        &discord,
        &[("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "100ms")],
    );
    let t = spawn_app(&pairs(&env)).await;

    // Act: 30 messages at once
    let messages: Vec<Message> = (0..30)
        .map(|i| Message::text(format!("item {i}")))
        .collect();
    let items: Vec<(&str, &Message, Option<&str>)> =
        messages.iter().map(|m| ("slack:C1", m, None)).collect();
    let started = Instant::now();
    enqueue(&t, &items, 0).await;
    let rows = settled(&t, Duration::from_secs(10)).await;

    // Assert: all delivered on the first try, no two requests closer than the rate
    assert_eq!(rows.len(), 30);
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    assert_eq!(
        paced.0.limited.load(Ordering::SeqCst),
        0,
        "Slack answered 429"
    );
    let seen = paced.0.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 30);
    assert!(
        started.elapsed() >= Duration::from_millis(29 * 90),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_empty_discord_bucket_holds_the_next_send_to_that_channel() {
    // Arrange: Discord says the channel's bucket is empty for 600 ms
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let create = Script::new(
        vec![
            discord_ok()
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset-After", "0.6"),
        ],
        discord_ok(),
    );
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;

    // Act
    let (a, b) = (Message::text("one"), Message::text("two"));
    enqueue(
        &t,
        &[("discord:123", &a, None), ("discord:123", &b, None)],
        0,
    )
    .await;
    let rows = settled(&t, Duration::from_secs(5)).await;

    // Assert: both delivered first time, the second only after the reset
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let seen = create.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].0 - seen[0].0 >= Duration::from_millis(600),
        "{:?}",
        seen[1].0 - seen[0].0
    );
}

#[tokio::test]
async fn a_follow_up_waits_for_its_message_and_lands_in_its_thread() {
    // Arrange
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::always(slack_ok());
    let create = Script::always(discord_ok());
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&discord, "POST", "/api/v10/channels/123/messages", &create).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let failed = serde_json::to_string(&Message::text("deploy #8 failed: unit-tests")).unwrap();
    let page = serde_json::to_string(&Message::text("@devops deploy #8 failed")).unwrap();

    // Act: the run message and its follow-up are queued together; the follow-up is queued first
    let mut tx = t.app.db.begin().await.unwrap();
    for channel in ["slack:C1", "discord:123"] {
        store::outbox::enqueue_reply(
            &mut tx,
            channel,
            &page,
            "run-8:failure",
            "run-8",
            Utc::now(),
        )
        .await
        .unwrap();
        store::outbox::enqueue(&mut tx, channel, &failed, Some("run-8"), Utc::now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    t.app.wake.outbox.notify_one();
    let rows = settled(&t, Duration::from_secs(8)).await;

    // Assert: every row delivered; the follow-up went second, as a reply to the run message
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let slack_bodies = post.bodies();
    assert_eq!(slack_bodies.len(), 2);
    assert!(
        slack_bodies[0].get("thread_ts").is_none(),
        "{}",
        slack_bodies[0]
    );
    assert_eq!(
        slack_bodies[1]["thread_ts"], SLACK_TS,
        "{}",
        slack_bodies[1]
    );
    let discord_bodies = create.bodies();
    assert_eq!(discord_bodies.len(), 2);
    assert!(discord_bodies[0].get("message_reference").is_none());
    assert_eq!(
        discord_bodies[1]["message_reference"]["message_id"], DISCORD_ID,
        "{}",
        discord_bodies[1]
    );
}

/// Slack with one channel in a 429 storm: its first `storm` posts are refused
/// with `Retry-After`; every post is recorded with its channel and outbox id.
#[derive(Clone)]
struct Storm(Arc<StormInner>);

struct StormInner {
    channel: &'static str,
    storm: Mutex<usize>,
    retry_after: &'static str,
    seen: Mutex<Vec<(Instant, String, i64, u16)>>,
}

impl Respond for Storm {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let channel = body["channel"].as_str().unwrap_or_default().to_string();
        let id = body["metadata"]["event_payload"]["outbox_id"]
            .as_i64()
            .unwrap_or(-1);
        let mut storm = self.0.storm.lock().unwrap();
        let limited = channel == self.0.channel && *storm > 0;
        let status = if limited {
            *storm -= 1;
            429
        } else {
            200
        };
        self.0
            .seen
            .lock()
            .unwrap()
            .push((Instant::now(), channel, id, status));
        if limited {
            ResponseTemplate::new(429).insert_header("Retry-After", self.0.retry_after)
        } else {
            slack_ok()
        }
    }
}

#[tokio::test]
async fn a_rate_limited_channel_waits_in_order_without_losing_anything_and_the_others_flow() {
    // Arrange: C1 answers its first three posts with 429 Retry-After 1 s;
    // two failed attempts would park a message; our own pacing is 10 a second
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let storm = Storm(Arc::new(StormInner {
        channel: "C1",
        storm: Mutex::new(3),
        retry_after: "1",
        seen: Mutex::new(Vec::new()),
    }));
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(storm.clone())
        .mount(&slack)
        .await;
    let env = platform_env(
        &slack,
        &discord,
        &[
            ("SHIPMATE__OUTBOX__MAX_ATTEMPTS", "2"),
            ("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "100ms"),
        ],
    );
    let t = spawn_app(&pairs(&env)).await;

    // Act: three messages to C1; once it is rate-limited, one to C2
    let m = |s: &str| Message::text(s);
    let (a, b, c) = (m("c1 first"), m("c1 second"), m("c1 third"));
    let c1 = enqueue(
        &t,
        &[
            ("slack:C1", &a, None),
            ("slack:C1", &b, None),
            ("slack:C1", &c, None),
        ],
        0,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while storm.0.seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no post");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let queued = Instant::now();
    let other = m("c2 meanwhile");
    let c2 = enqueue(&t, &[("slack:C2", &other, None)], 0).await;
    let rows = settled(&t, Duration::from_secs(10)).await;

    // Assert: nothing parked or lost, and a rate limit is no failed attempt
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let seen = storm.0.seen.lock().unwrap().clone();
    let to = |ch: &str| -> Vec<(Instant, i64, u16)> {
        seen.iter()
            .filter(|(_, c, _, _)| c == ch)
            .map(|(at, _, id, status)| (*at, *id, *status))
            .collect()
    };
    let (on_c1, on_c2) = (to("C1"), to("C2"));
    assert_eq!(on_c1.iter().filter(|p| p.2 == 429).count(), 3);
    // Retry-After held the whole channel: nothing went to C1 within 1 s of a 429
    for pair in on_c1.windows(2) {
        if pair[0].2 == 429 {
            assert!(
                pair[1].0 - pair[0].0 >= Duration::from_millis(990),
                "C1 posted {:?} after a 429",
                pair[1].0 - pair[0].0
            );
        }
    }
    // in order: each message accepted once, in the order queued
    let accepted: Vec<i64> = on_c1.iter().filter(|p| p.2 == 200).map(|p| p.1).collect();
    assert_eq!(accepted, c1);
    // the other channel did not wait for the storm
    assert_eq!(on_c2.len(), 1);
    assert_eq!(on_c2[0].1, c2[0]);
    assert!(
        on_c2[0].0 - queued < Duration::from_millis(500),
        "C2 waited {:?}",
        on_c2[0].0 - queued
    );
    assert!(
        on_c2[0].0 < on_c1.last().unwrap().0,
        "C2 went during the storm"
    );
}

#[tokio::test]
async fn a_queue_for_one_channel_does_not_hold_up_a_message_to_another() {
    // Arrange: C1 takes one post every 300 ms (our pacing), and ten are queued
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let storm = Storm(Arc::new(StormInner {
        channel: "C1",
        storm: Mutex::new(0),
        retry_after: "1",
        seen: Mutex::new(Vec::new()),
    }));
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(storm.clone())
        .mount(&slack)
        .await;
    let env = platform_env(
        &slack,
        &discord,
        &[("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "300ms")],
    );
    let t = spawn_app(&pairs(&env)).await;
    let texts: Vec<Message> = (0..10).map(|i| Message::text(format!("c1 #{i}"))).collect();
    let items: Vec<(&str, &Message, Option<&str>)> =
        texts.iter().map(|m| ("slack:C1", m, None)).collect();
    let c1 = enqueue(&t, &items, 0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while storm.0.seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "C1 not being sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Act: a message to C2 while C1's queue drains
    let queued = Instant::now();
    let other = Message::text("c2");
    enqueue(&t, &[("slack:C2", &other, None)], 0).await;
    settled(&t, Duration::from_secs(10)).await;

    // Assert: C2 went at once; C1 kept its order
    let seen = storm.0.seen.lock().unwrap().clone();
    let c2_at = seen
        .iter()
        .find(|(_, ch, _, _)| ch == "C2")
        .map(|(at, ..)| *at)
        .expect("C2 posted");
    assert!(
        c2_at - queued < Duration::from_millis(400),
        "C2 waited {:?} behind C1",
        c2_at - queued
    );
    let c1_order: Vec<i64> = seen
        .iter()
        .filter(|(_, ch, _, _)| ch == "C1")
        .map(|(_, _, id, _)| *id)
        .collect();
    assert_eq!(c1_order, c1);
}

#[tokio::test]
async fn a_retried_thread_reply_already_in_its_thread_is_not_posted_again() {
    // Arrange: a follow-up an earlier process posted into the run message's
    // thread before it crashed; thread replies are not in channel history
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let post = Script::always(slack_ok());
    let history = Script::always(slack_history(json!([])));
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(&slack, "GET", "/api/conversations.history", &history).await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let reply_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    let thread = Script::always(slack_history(json!([
        {"type": "message", "ts": SLACK_TS, "text": "deploy #9 failed", "thread_ts": SLACK_TS},
        {"type": "message", "ts": "1700000000.000900", "thread_ts": SLACK_TS,
         "metadata": {"event_type": "shipmate_outbox", "event_payload": {"outbox_id": reply_id}}},
    ])));
    mount(&slack, "GET", "/api/conversations.replies", &thread).await;
    let failed = serde_json::to_string(&Message::text("deploy #9 failed")).unwrap();
    let page = serde_json::to_string(&Message::text("@devops deploy #9 failed")).unwrap();

    // Act: the follow-up was tried once already; its run message is posted first
    let mut tx = t.app.db.begin().await.unwrap();
    let id = store::outbox::enqueue_reply(
        &mut tx,
        "slack:C1",
        &page,
        "run-9:failure",
        "run-9",
        Utc::now(),
    )
    .await
    .unwrap();
    sqlx::query("UPDATE outbox SET attempts = 1 WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    store::outbox::enqueue(&mut tx, "slack:C1", &failed, Some("run-9"), Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    t.app.wake.outbox.notify_one();
    let rows = settled(&t, Duration::from_secs(8)).await;

    // Assert: the thread was read, the copy found there recorded, nothing posted twice
    assert_eq!(id, reply_id);
    assert!(rows.iter().all(|r| r.state == "delivered"), "{rows:#?}");
    let reply = rows.iter().find(|r| r.id == reply_id).unwrap();
    assert_eq!(
        reply.platform_message_id.as_deref(),
        Some("1700000000.000900")
    );
    assert_eq!(
        post.count(),
        1,
        "only the run message is posted: {:#?}",
        post.bodies()
    );
    let (_, query) = &thread.seen()[0];
    let q: Vec<(String, String)> = query.url.query_pairs().into_owned().collect();
    assert!(q.contains(&("channel".into(), "C1".into())), "{q:?}");
    assert!(q.contains(&("ts".into(), SLACK_TS.into())), "{q:?}");
    assert!(
        q.contains(&("include_all_metadata".into(), "true".into())),
        "{q:?}"
    );
}

#[tokio::test]
async fn a_slack_refusal_for_size_is_retried_smaller_not_parked() {
    // Arrange: Slack refuses the first try as too long (its limit is not published exactly)
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let too_long = ResponseTemplate::new(200)
        .set_body_json(json!({"ok": false, "error": "msg_blocks_too_long"}));
    let post = Script::new(vec![too_long], slack_ok());
    mount(&slack, "POST", "/api/chat.postMessage", &post).await;
    mount(
        &slack,
        "GET",
        "/api/conversations.history",
        &Script::always(slack_history(json!([]))),
    )
    .await;
    let t = spawn_app(&pairs(&platform_env(&slack, &discord, &[]))).await;
    let mut m = Message::new();
    for i in 0..400 {
        m = m.line(Line::new().text(format!("job-{i:03} failed {}", "x".repeat(30))));
    }

    // Act: a living message (edited in place, so it stays one message)
    enqueue(&t, &[("slack:C1", &m, Some("run-1"))], 0).await;
    let rows = settled(&t, Duration::from_secs(8)).await;

    // Assert: delivered on the second try, with less text than the first
    assert_eq!(rows[0].state, "delivered", "{rows:#?}");
    let bodies = post.bodies();
    assert_eq!(bodies.len(), 2);
    let text = |b: &Value| -> usize {
        b["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["text"]["text"].as_str())
            .map(|s| s.chars().count())
            .sum()
    };
    assert!(
        text(&bodies[1]) < text(&bodies[0]),
        "{} then {}",
        text(&bodies[0]),
        text(&bodies[1])
    );
    assert!(bodies[1].to_string().contains("more lines not shown"));
}

/// A Slack or Discord channel that answers 429 until `until` on the test's
/// clock, with a `Retry-After` of at most `retry_after` seconds (as both
/// platforms do: Slack in the header, Discord in the header, the body and
/// its bucket headers); every request is recorded with the clock's time,
/// the outbox id it carries and the status answered.
#[derive(Clone)]
struct LimitedPeriod(Arc<PeriodInner>);

struct PeriodInner {
    clock: Arc<ManualClock>,
    until: DateTime<Utc>,
    /// The one Slack channel limited (`None`: every request to the mock).
    channel: Option<&'static str>,
    retry_after: i64,
    discord: bool,
    seen: Mutex<Vec<(DateTime<Utc>, i64, u16)>>,
}

impl LimitedPeriod {
    fn seen(&self) -> Vec<(DateTime<Utc>, i64, u16)> {
        self.0.seen.lock().unwrap().clone()
    }
}

impl Respond for LimitedPeriod {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let p = &self.0;
        let body: Value = request.body_json().unwrap_or_default();
        let id = if p.discord {
            body["nonce"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1)
        } else {
            body["metadata"]["event_payload"]["outbox_id"]
                .as_i64()
                .unwrap_or(-1)
        };
        let now = p.clock.now();
        let left = (p.until - now).num_seconds();
        let in_channel = p.channel.is_none_or(|c| body["channel"] == c);
        let limited = now < p.until && in_channel;
        p.seen
            .lock()
            .unwrap()
            .push((now, id, if limited { 429 } else { 200 }));
        if !limited {
            return if p.discord {
                ResponseTemplate::new(200).set_body_json(json!({"id": format!("90{id}")}))
            } else {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "ts": format!("1700000000.{id:06}")}))
            };
        }
        let wait = left.clamp(1, p.retry_after);
        let answer = ResponseTemplate::new(429).insert_header("Retry-After", wait.to_string());
        if p.discord {
            answer
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset-After", wait.to_string())
                .insert_header("X-RateLimit-Scope", "user")
                .set_body_json(json!({"message": "You are being rate limited.",
                                      "retry_after": wait as f64, "global": false}))
        } else {
            answer
        }
    }
}

#[tokio::test]
async fn a_60_second_429_storm_on_both_platforms_drops_nothing_delivers_in_order_and_spares_other_channels()
 {
    // Arrange: on the test's clock, a Slack and a Discord channel answer 429
    // for 60 s (Retry-After 10 s each time); two failed attempts would park;
    // another Slack channel is healthy throughout
    const STORM: i64 = 60;
    let start = Utc::now() + TimeDelta::seconds(5);
    let clock = Arc::new(ManualClock::new(start));
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let period = |discord: bool| {
        LimitedPeriod(Arc::new(PeriodInner {
            clock: clock.clone(),
            until: start + TimeDelta::seconds(STORM),
            channel: (!discord).then_some("C1"),
            retry_after: 10,
            discord,
            seen: Mutex::new(Vec::new()),
        }))
    };
    let (on_slack, on_discord) = (period(false), period(true));
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(on_slack.clone())
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v10/channels/123/messages"))
        .respond_with(on_discord.clone())
        .mount(&discord)
        .await;
    let env = platform_env(
        &slack,
        &discord,
        &[
            ("SHIPMATE__OUTBOX__MAX_ATTEMPTS", "2"),
            ("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "10ms"),
            ("SHIPMATE__DISCORD__PER_CHANNEL_WINDOW", "10ms"),
        ],
    );
    let t = spawn_app_with_clock(&pairs(&env), clock.clone()).await;
    let texts: Vec<Message> = (0..4)
        .map(|i| Message::text(format!("update #{i}")))
        .collect();
    let items: Vec<(&str, &Message, Option<&str>)> = texts
        .iter()
        .flat_map(|m| [("slack:C1", m, None), ("discord:123", m, None)])
        .collect();
    let ids = enqueue(&t, &items, 0).await;
    let (slack_ids, discord_ids): (Vec<i64>, Vec<i64>) =
        ids.chunks(2).map(|p| (p[0], p[1])).unzip();
    // the tries of the stormed channels' messages only
    let tries = |mock: &LimitedPeriod, ids: &[i64]| -> Vec<(DateTime<Utc>, i64, u16)> {
        mock.seen()
            .into_iter()
            .filter(|s| ids.contains(&s.1))
            .collect()
    };

    // Act: test time passes in 10-second steps; real time only as long as
    // the worker takes to notice
    let asked = |n: usize| {
        let (s, d) = (on_slack.clone(), on_discord.clone());
        let (s_ids, d_ids) = (slack_ids.clone(), discord_ids.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while tries(&s, &s_ids).len() < n || tries(&d, &d_ids).len() < n {
                assert!(
                    Instant::now() < deadline,
                    "the channels were not tried again: {:?} {:?}",
                    s.seen(),
                    d.seen()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    asked(1).await;
    // during the storm, a message to a healthy channel goes at once
    let healthy = Message::text("meanwhile in C2");
    let c2 = enqueue(&t, &[("slack:C2", &healthy, None)], 0).await;
    let steps = (STORM / 10) as usize;
    for step in 1..=steps {
        // nothing more goes to a channel while its Retry-After runs
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            (
                tries(&on_slack, &slack_ids).len(),
                tries(&on_discord, &discord_ids).len()
            ),
            (step, step)
        );
        let pending: Vec<Row> = rows(&t)
            .await
            .into_iter()
            .filter(|r| !c2.contains(&r.id))
            .collect();
        assert!(
            pending
                .iter()
                .all(|r| r.state == "pending" && r.attempts == 0),
            "a 429 is no failed attempt: {pending:#?}"
        );
        clock.advance(TimeDelta::seconds(10));
        t.app.wake.outbox.notify_one();
        asked(step + 1).await;
    }
    let rows = settled(&t, Duration::from_secs(10)).await;

    // Assert: nothing parked or dropped; each message once, in order, after the period
    assert!(
        rows.iter()
            .all(|r| r.state == "delivered" && r.attempts == 1),
        "{rows:#?}"
    );
    let end = start + TimeDelta::seconds(STORM);
    let spared = tries(&on_slack, &c2);
    assert!(
        spared.len() == 1 && spared[0].2 == 200 && spared[0].0 < start + TimeDelta::seconds(10),
        "the healthy channel went in the storm's first Retry-After: {spared:?}"
    );
    for (mock, ids) in [(&on_slack, &slack_ids), (&on_discord, &discord_ids)] {
        let seen = tries(mock, ids);
        assert_eq!(
            seen.iter().filter(|s| s.2 == 429).count(),
            steps,
            "{seen:?}"
        );
        let accepted: Vec<i64> = seen.iter().filter(|s| s.2 == 200).map(|s| s.1).collect();
        assert_eq!(&accepted, ids, "each once, in order");
        assert!(
            seen.iter().all(|s| (s.2 == 200) == (s.0 >= end)),
            "{seen:?}"
        );
    }
}

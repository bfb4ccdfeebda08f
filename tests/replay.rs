//! Replay protection on the signed chat endpoints: the same signed request
//! sent twice while its signature is fresh runs once; the second copy is
//! refused with 401 and stores nothing.

mod chat;
mod common;

use chat::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn requests(t: &common::TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deletion_requests")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("count")
}

async fn seen(t: &common::TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM seen_requests")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("count")
}

async fn slack_app() -> (common::TestApp, MockServer) {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/actions/1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut env = slack_env(&mock);
    env.push(("SHIPMATE__DELETION__CHANNELS", "console:#bioinfo".into()));
    (spawn(&env).await, mock)
}

/// Sends the replay; asserts it was refused and stored nothing.
async fn replay_refused(t: &common::TestApp, send: impl AsyncFnOnce() -> reqwest::Response) {
    // the first copy's digest is written in the background
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while seen(t).await != 1 {
        assert!(std::time::Instant::now() < deadline, "first copy recorded");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = t.snapshot().await;
    let res = send().await;
    assert_eq!(res.status(), 401);
    let text = res.text().await.unwrap_or_default();
    assert!(text.contains("already received"), "{text}");
    assert_eq!(t.snapshot().await, before, "a replay changes nothing");
    assert_eq!(seen(t).await, 1, "a replay stores nothing");
}

#[tokio::test]
async fn a_replayed_slack_command_is_refused_and_stores_nothing() {
    let (t, mock) = slack_app().await;
    let body = slash_body(
        "/delete-request",
        "city-b/run-42 reason:duplicate-run ran twice",
        "W111",
        "C111",
        &format!("{}/actions/1", mock.uri()),
    );
    let ts = now().to_string();
    let sig = shipmate::platform::signature::sign_slack(SLACK_SECRET, &ts, body.as_bytes());

    let first = post_slack_with(&t, "/slack/commands", &body, &ts, &sig).await;
    assert_eq!(first.status(), 200);
    let reply: Value = first.json().await.expect("json");
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Filed DR-1"),
        "{reply}"
    );

    replay_refused(&t, async || {
        post_slack_with(&t, "/slack/commands", &body, &ts, &sig).await
    })
    .await;
    assert_eq!(requests(&t).await, 1);
}

#[tokio::test]
async fn a_replayed_slack_interaction_is_refused_and_stores_nothing() {
    let (t, mock) = slack_app().await;
    // a button that files a request: run twice, it would file two
    let click = interaction_body(&block_actions(
        "/delete-request city-b/run-7 reason:other typo",
        "W111",
        "C111",
        &format!("{}/actions/1", mock.uri()),
    ));
    let ts = now().to_string();
    let sig = shipmate::platform::signature::sign_slack(SLACK_SECRET, &ts, click.as_bytes());
    let first = post_slack_with(&t, "/slack/interactions", &click, &ts, &sig).await;
    assert_eq!(first.status(), 200);
    assert_eq!(received(&mock, "/actions/1", 1).await.len(), 1);
    assert_eq!(requests(&t).await, 1);

    replay_refused(&t, async || {
        post_slack_with(&t, "/slack/interactions", &click, &ts, &sig).await
    })
    .await;
    assert_eq!(requests(&t).await, 1);
    let answers: Vec<_> = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/actions/1")
        .collect();
    assert_eq!(answers.len(), 1, "no second answer");
}

#[tokio::test]
async fn a_replayed_discord_interaction_is_refused_and_stores_nothing() {
    let mock = MockServer::start().await;
    let mut env = discord_env(&mock);
    env.push((
        "SHIPMATE__DELETION__CHANNELS",
        "discord:645027906669510667".into(),
    ));
    let t = spawn(&env).await;
    let create = json!({"type": 1, "name": "delete-request", "options": [{
    "type": 1, "name": "create", "options": [
        {"type": 3, "name": "target", "value": "city-b/run-42"},
        {"type": 3, "name": "reason", "value": "duplicate-run"},
        {"type": 3, "name": "justification", "value": "ran twice"}
    ]}]});
    let body = discord_interaction(2, "53908232506183680", &[], create).to_string();
    let ts = now().to_string();
    let sig = hex::encode(
        ed25519_dalek::Signer::sign(&discord_key(), format!("{ts}{body}").as_bytes()).to_bytes(),
    );

    let first = post_discord_with(&t, &body, &ts, &sig).await;
    assert_eq!(first.status(), 200);
    let answer: Value = first.json().await.expect("json");
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Filed DR-1"),
        "{answer}"
    );

    replay_refused(&t, async || post_discord_with(&t, &body, &ts, &sig).await).await;
    assert_eq!(requests(&t).await, 1);
}

#[tokio::test]
async fn a_replay_after_a_restart_is_refused_too() {
    let (t, mock) = slack_app().await;
    let body = slash_body(
        "/delete-request",
        "city-b/run-42 reason:duplicate-run ran twice",
        "W111",
        "C111",
        &format!("{}/actions/1", mock.uri()),
    );
    let ts = now().to_string();
    let sig = shipmate::platform::signature::sign_slack(SLACK_SECRET, &ts, body.as_bytes());
    let first = post_slack_with(&t, "/slack/commands", &body, &ts, &sig).await;
    assert_eq!(first.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while seen(&t).await != 1 {
        assert!(std::time::Instant::now() < deadline, "first copy recorded");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dir = t.dir.clone();
    drop(t);

    let mut env = slack_env(&mock);
    env.push(("SHIPMATE__DELETION__CHANNELS", "console:#bioinfo".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let again = common::spawn_app_in(
        dir,
        &pairs,
        std::sync::Arc::new(shipmate::domain::timing::SystemClock),
    )
    .await;
    replay_refused(&again, async || {
        post_slack_with(&again, "/slack/commands", &body, &ts, &sig).await
    })
    .await;
    assert_eq!(requests(&again).await, 1);
}

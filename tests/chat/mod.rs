//! Helpers for the Slack and Discord endpoint tests: signed requests built
//! from the recorded fixtures, a test Ed25519 key, and waits on the mock
//! Slack/Discord servers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use wiremock::MockServer;

use crate::common::{TestApp, spawn_app};

pub const SLACK_SECRET: &str = "secret";
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{path}")).expect("fixture")
}

pub fn fixture_json(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).expect("fixture json")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Spawns the app with owned environment values.
pub async fn spawn(env: &[(&str, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app(&pairs).await
}

/// Slack enabled, signing with [`SLACK_SECRET`], Web API at the mock.
pub fn slack_env(mock: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("SHIPMATE__SLACK__ENABLED", "true".into()),
        ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-test-token".into()),
        ("SHIPMATE__SLACK__SIGNING_SECRET", SLACK_SECRET.into()),
        (
            "SHIPMATE__SLACK__API_BASE_URL",
            format!("{}/api/", mock.uri()),
        ),
    ]
}

/// The test Ed25519 key, from a fixed seed.
pub fn discord_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// Discord enabled, checking signatures with [`discord_key`], REST at the mock.
pub fn discord_env(mock: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("SHIPMATE__DISCORD__ENABLED", "true".into()),
        ("SHIPMATE__DISCORD__BOT_TOKEN", "discord-test-token".into()),
        (
            "SHIPMATE__DISCORD__APPLICATION_ID",
            "775799577604522054".into(),
        ),
        (
            "SHIPMATE__DISCORD__PUBLIC_KEY",
            hex::encode(discord_key().verifying_key().to_bytes()),
        ),
        (
            "SHIPMATE__DISCORD__API_BASE_URL",
            format!("{}/api/v10", mock.uri()),
        ),
    ]
}

pub async fn post_slack(t: &TestApp, path: &str, body: &str, ts: i64) -> reqwest::Response {
    let ts = ts.to_string();
    let sig = shipmate::platform::signature::sign_slack(SLACK_SECRET, &ts, body.as_bytes());
    post_slack_with(t, path, body, &ts, &sig).await
}

pub async fn post_slack_with(
    t: &TestApp,
    path: &str,
    body: &str,
    ts: &str,
    sig: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(t.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// The fixture slash command with our command, text, user, channel and response URL.
pub fn slash_body(
    command: &str,
    text: &str,
    user: &str,
    channel: &str,
    response_url: &str,
) -> String {
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&fixture(
        "slack/slash_command.bolt-python.form-urlencoded.txt",
    ))
    .expect("fixture form");
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "command" => command.to_string(),
                "text" => text.to_string(),
                "user_id" => user.to_string(),
                "channel_id" => channel.to_string(),
                "response_url" => response_url.to_string(),
                _ => v,
            };
            (k, v)
        })
        .collect();
    serde_urlencoded::to_string(fields).expect("form")
}

/// The fixture button click, with our command as the button's value.
pub fn block_actions(value: &str, user: &str, channel: &str, response_url: &str) -> Value {
    let mut p = fixture_json("slack/block_actions.bolt-python.json");
    p["user"]["id"] = user.into();
    p["channel"]["id"] = channel.into();
    p["container"]["channel_id"] = channel.into();
    p["response_url"] = response_url.into();
    p["actions"][0]["value"] = value.into();
    p
}

pub fn interaction_body(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form")
}

pub async fn post_discord(t: &TestApp, body: &Value, ts: i64) -> reqwest::Response {
    let body = body.to_string();
    let ts = ts.to_string();
    let sig = hex::encode(
        discord_key()
            .sign(format!("{ts}{body}").as_bytes())
            .to_bytes(),
    );
    post_discord_with(t, &body, &ts, &sig).await
}

pub async fn post_discord_with(t: &TestApp, body: &str, ts: &str, sig: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(t.url("/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-timestamp", ts)
        .header("x-signature-ed25519", sig)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// A Discord interaction of `kind` by a guild member with `roles`, in the fixture's channel.
pub fn discord_interaction(kind: u8, user: &str, roles: &[&str], data: Value) -> Value {
    let mut i = fixture_json("discord/application_command.chat_input.with-options.docs.json");
    i["type"] = kind.into();
    i["member"]["user"]["id"] = user.into();
    i["member"]["roles"] = roles.iter().map(|r| Value::from(*r)).collect();
    i["data"] = data;
    i
}

pub async fn state_of(t: &TestApp, n: i64) -> String {
    sqlx::query_scalar("SELECT state FROM deletion_requests WHERE id = ?")
        .bind(n)
        .fetch_one(&t.app.db.pool)
        .await
        .expect("request exists")
}

/// Waits for the mock to receive a request on `path`; returns its JSON bodies.
pub async fn received(mock: &MockServer, path: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let bodies: Vec<Value> = mock
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == path)
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        if bodies.len() >= count || Instant::now() > deadline {
            return bodies;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}
pub mod rules;

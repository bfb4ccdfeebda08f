//! One deletion request across both platforms, end to end: filed with a
//! signed Slack slash command, approved with a signed Discord button click
//! by a steward who is one person on both, announced as ready on both
//! platforms (mock Web APIs) with the requester mentioned natively on each,
//! and the same steward's second approval from Slack refused.

mod chat;
mod common;

use std::time::{Duration, Instant};

use chat::rules::*;
use chat::*;
use serde_json::{Value, json};
use wiremock::MockServer;

const DISCORD_CHANNEL: &str = "645027906669510667";
const SAM_DISCORD: &str = "111222333444";
const RIYA_DISCORD: &str = "777888999000";

/// Slack and Discord mocks as strict as the platforms.
async fn mocks() -> (MockServer, MockServer) {
    (strict_slack().await, strict_discord().await)
}

/// Waits for a message posted to `at` whose JSON body contains `needle`.
async fn posted(mock: &MockServer, at: &str, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bodies = received(mock, at, 0).await;
        if let Some(body) = bodies.iter().find(|b| b.to_string().contains(needle)) {
            return body.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no message with {needle:?} on {at}: {bodies:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_request_filed_on_slack_and_approved_on_discord_is_announced_ready_on_both() {
    // Arrange: both platforms at their mocks; sam steward on both, riya requester on both
    let (slack, discord) = mocks().await;
    let mut env = slack_env(&slack);
    env.extend(discord_env(&discord));
    env.extend([
        (
            "SHIPMATE__DELETION__CHANNELS",
            format!("slack:CDELETE,discord:{DISCORD_CHANNEL}"),
        ),
        ("SHIPMATE__DELETION__COOLING_OFF__LOW", "1s".into()),
        ("SHIPMATE__PEOPLE__SAM__SLACK", "USAM".into()),
        ("SHIPMATE__PEOPLE__SAM__DISCORD", SAM_DISCORD.into()),
        ("SHIPMATE__PEOPLE__RIYA__SLACK", "URIYA".into()),
        ("SHIPMATE__PEOPLE__RIYA__DISCORD", RIYA_DISCORD.into()),
        ("SHIPMATE__ROLES__DATA-STEWARD", "slack:USAM".into()),
    ]);
    let t = spawn(&env).await;
    let response_url = format!("{}/actions/1", slack.uri());

    // Act 1: riya files it with a signed Slack slash command
    let body = slash_body(
        "/delete-request",
        "city-b/run-5 reason:duplicate-run ran twice",
        "URIYA",
        "C111",
        &response_url,
    );
    let res = post_slack(&t, "/slack/commands", &body, now()).await;
    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.expect("json");
    assert_eq!(reply["response_type"], "in_channel", "{reply}");

    // Act 2: sam approves it with a signed Discord button click
    let click = discord_interaction(
        3,
        SAM_DISCORD,
        &[],
        json!({"custom_id": "/delete-request approve DR-1", "component_type": 2}),
    );
    let answer: Value = post_discord(&t, &click, now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["type"], 4, "{answer}");
    assert!(answer["data"].get("flags").is_none(), "public: {answer}");

    // Assert: after the 1 s cooling-off, the ready notice reaches both, mentioning riya natively
    let on_slack = posted(&slack, "/api/chat.postMessage", "is ready").await;
    assert_eq!(on_slack["channel"], "CDELETE");
    let text = on_slack["text"].as_str().unwrap_or_default();
    assert!(text.contains("is ready"), "{text}");
    assert!(text.contains("Requested by <@URIYA>"), "{text}");
    let on_discord = posted(
        &discord,
        &format!("/api/v10/channels/{DISCORD_CHANNEL}/messages"),
        "is ready",
    )
    .await;
    let description = on_discord["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(description.contains("is ready"), "{on_discord}");
    assert!(
        description.contains(&format!("Requested by <@{RIYA_DISCORD}>")),
        "{description}"
    );
    assert_eq!(on_discord["content"], format!("<@{RIYA_DISCORD}>"));
    assert_eq!(
        on_discord["allowed_mentions"]["users"],
        json!([RIYA_DISCORD])
    );
    assert_eq!(state_of(&t, 1).await, "ready");

    // Act 3: sam tries to approve again, from Slack
    let before = t.snapshot().await;
    let click = block_actions(
        "/delete-request approve DR-1",
        "USAM",
        "C111",
        &response_url,
    );
    let res = post_slack(&t, "/slack/interactions", &interaction_body(&click), now()).await;

    // Assert: refused privately, nothing changed
    assert_eq!(res.status(), 200);
    let replies = received(&slack, "/actions/1", 1).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["response_type"], "ephemeral", "{:?}", replies[0]);
    let text = replies[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("this request is ready"), "{text}");
    assert_eq!(t.snapshot().await, before);
    assert_eq!(state_of(&t, 1).await, "ready");
}

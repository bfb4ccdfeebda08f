//! The Discord interactions endpoint as Discord calls it: requests signed
//! with a test Ed25519 key, built from recorded interaction payloads, and
//! answered by the whole application; plus one person acting on Slack and
//! Discord.

mod chat;
mod common;

use chat::rules::*;
use chat::*;
use ed25519_dalek::Signer;
use serde_json::{Value, json};
use shipmate::platform::signature::{SignatureError, verify_discord};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A data-steward Discord role.
const STEWARD_ROLE: &str = "539082325061836999";
const CHANNEL: &str = "645027906669510667";
const MASON: &str = "53908232506183680";

async fn discord_app(extra: &[(&'static str, &str)]) -> (common::TestApp, MockServer) {
    let mock = MockServer::start().await;
    let mut env = discord_env(&mock);
    env.push((
        "SHIPMATE__ROLES__DATA-STEWARD",
        format!("console:steward,discord-role:{STEWARD_ROLE}"),
    ));
    env.push(("SHIPMATE__DELETION__CHANNELS", format!("discord:{CHANNEL}")));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    (spawn(&env).await, mock)
}

fn create_data() -> Value {
    json!({"type": 1, "name": "delete-request", "id": "771825006014889984", "options": [{
    "type": 1, "name": "create", "options": [
        {"type": 3, "name": "target", "value": "city-b/run 42"},
        {"type": 3, "name": "reason", "value": "duplicate-run"},
        {"type": 3, "name": "justification", "value": "the pipeline ran \"twice\""},
        {"type": 3, "name": "sensitivity", "value": "high"}
    ]}]})
}

fn button(custom_id: &str) -> Value {
    json!({"custom_id": custom_id, "component_type": 2})
}

#[test]
fn the_fixture_vector_verifies_and_tampering_fails() {
    let v = fixture_json("discord/signature.computed-rfc8032-test1.json");
    let key = v["public_key_hex"].as_str().unwrap_or_default();
    let at = 1_700_000_000;
    let check = |case: &Value| {
        verify_discord(
            key,
            case["x_signature_timestamp"].as_str(),
            case["x_signature_ed25519"].as_str(),
            case["raw_body"].as_str().unwrap_or_default().as_bytes(),
            at,
        )
    };
    assert_eq!(
        v["raw_body"].as_str(),
        Some(fixture("discord/ping.discord-interactions-js.json").as_str())
    );
    assert_eq!(check(&v), Ok(()));
    let negatives = v["negative_cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(negatives.len(), 2);
    for case in &negatives {
        assert_eq!(
            check(case),
            Err(SignatureError::Mismatch),
            "{}",
            case["why"]
        );
    }
    let stale = verify_discord(
        key,
        v["x_signature_timestamp"].as_str(),
        v["x_signature_ed25519"].as_str(),
        v["raw_body"].as_str().unwrap_or_default().as_bytes(),
        at + 301,
    );
    assert_eq!(stale, Err(SignatureError::Stale));
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let (t, _mock) = discord_app(&[]).await;
    let ping = fixture_json("discord/ping.discord-interactions-js.json");
    let res = post_discord(&t, &ping, now()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json"), json!({"type": 1}));
}

#[tokio::test]
async fn an_application_command_creates_a_request_and_a_refusal_is_ephemeral() {
    let (t, _mock) = discord_app(&[]).await;

    let res = post_discord(
        &t,
        &discord_interaction(2, MASON, &[], create_data()),
        now(),
    )
    .await;

    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["type"], 4);
    let content = answer["data"]["content"].as_str().unwrap_or_default();
    assert!(
        content.contains("Filed DR-1: delete `city-b/run 42`"),
        "{answer}"
    );
    assert!(
        answer["data"].get("flags").is_none(),
        "state changes are public"
    );
    let (requester, channel, justification, sensitivity): (String, String, String, String) =
        sqlx::query_as(
            "SELECT requester, channel, justification, sensitivity FROM deletion_requests WHERE id = 1",
        )
        .fetch_one(&t.app.db.pool)
        .await
        .expect("stored");
    assert_eq!(requester, format!("discord:{MASON}"));
    assert_eq!(channel, format!("discord:{CHANNEL}"));
    assert_eq!(justification, "the pipeline ran \"twice\"");
    assert_eq!(sensitivity, "high");
    let cards: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE channel = ?")
        .bind(format!("discord:{CHANNEL}"))
        .fetch_one(&t.app.db.pool)
        .await
        .expect("outbox");
    assert_eq!(cards, 1);

    let approve = json!({"type": 1, "name": "delete-request", "options": [{
        "type": 1, "name": "approve", "options": [{"type": 3, "name": "id", "value": "DR-1"}]}]});
    let before = t.snapshot().await;
    let res = post_discord(&t, &discord_interaction(2, MASON, &[], approve), now()).await;
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("data-steward"),
        "{answer}"
    );
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn a_button_click_approves_for_a_steward_role_and_is_refused_for_anyone_else() {
    let (t, _mock) = discord_app(&[]).await;
    t.ok("alice", "/delete-request city-b/run-1 reason:other typo")
        .await;
    let click = |roles: &[&str]| {
        discord_interaction(
            3,
            "80351110224678912",
            roles,
            button("/delete-request approve DR-1"),
        )
    };

    let before = t.snapshot().await;
    let answer: Value = post_discord(&t, &click(&[]), now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["flags"], 64);
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("data-steward"),
        "{answer}"
    );
    assert_eq!(
        t.snapshot().await,
        before,
        "a refused click changes nothing"
    );

    let answer: Value = post_discord(&t, &click(&[STEWARD_ROLE]), now())
        .await
        .json()
        .await
        .expect("json");
    assert!(answer["data"].get("flags").is_none(), "{answer}");
    assert_eq!(state_of(&t, 1).await, "cooling-off");

    // a button that is not a shipmate command is answered privately, not run
    let answer: Value = post_discord(
        &t,
        &discord_interaction(
            3,
            MASON,
            &[],
            fixture_json("discord/message_component.button.discord-interactions-js.json")["data"]
                .clone(),
        ),
        now(),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(answer["data"]["flags"], 64);
}

#[tokio::test]
async fn the_object_button_opens_a_modal_whose_submission_puts_the_request_on_hold() {
    let (t, _mock) = discord_app(&[]).await;
    t.ok("alice", "/delete-request city-b/run-1 reason:other typo")
        .await;
    t.ok("steward", "/delete-request approve DR-1").await;

    let click = discord_interaction(
        3,
        MASON,
        &[],
        button("/delete-request object DR-1 reason:\"…\""),
    );
    let modal: Value = post_discord(&t, &click, now())
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(modal["type"], 9, "{modal}");
    let custom_id = modal["data"]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(custom_id, "/delete-request object DR-1");
    let input = &modal["data"]["components"][0]["components"][0];
    assert_eq!(input["custom_id"], "reason");
    assert_eq!(state_of(&t, 1).await, "cooling-off");

    let submit = discord_interaction(
        5,
        MASON,
        &[],
        json!({
            "custom_id": custom_id,
            "components": [{"type": 1, "components": [{"type": 4, "custom_id": "reason", "value": "run-1 is still used"}]}]
        }),
    );
    let answer: Value = post_discord(&t, &submit, now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(state_of(&t, 1).await, "on-hold");
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("on-hold"),
        "{answer}"
    );
}

#[tokio::test]
async fn unsigned_stale_oversized_unknown_and_malformed_interactions_are_rejected() {
    let (t, _mock) = discord_app(&[("SHIPMATE__HTTP__MAX_BODY_BYTES", "4096")]).await;
    let create = discord_interaction(2, MASON, &[], create_data());
    let before = t.snapshot().await;

    let body = create.to_string();
    let ts = now().to_string();
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let forged = hex::encode(other_key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
    let res = post_discord_with(&t, &body, &ts, &forged).await;
    assert_eq!(res.status(), 401);
    assert_eq!(post_discord_with(&t, &body, &ts, "").await.status(), 401);

    assert_eq!(post_discord(&t, &create, now() - 301).await.status(), 401);

    let mut huge = create.clone();
    huge["padding"] = "x".repeat(5000).into();
    assert_eq!(post_discord(&t, &huge, now()).await.status(), 413);

    let autocomplete = discord_interaction(4, MASON, &[], create_data());
    let res = post_discord(&t, &autocomplete, now()).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("interaction type 4")
    );

    let no_type = json!({"id": "1", "token": "t"});
    let res = post_discord(&t, &no_type, now()).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap_or_default().contains("type"));

    assert_eq!(t.snapshot().await, before, "nothing may be stored");
}

#[tokio::test]
async fn one_person_on_two_platforms_approves_once() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/actions/1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut env = discord_env(&mock);
    env.extend(slack_env(&mock));
    env.extend([
        ("SHIPMATE__PEOPLE__SAM__SLACK", "USAM".to_string()),
        ("SHIPMATE__PEOPLE__SAM__DISCORD", "111222333444".to_string()),
        (
            "SHIPMATE__ROLES__DATA-STEWARD",
            "discord:111222333444".to_string(),
        ),
        ("SHIPMATE__DELETION__APPROVALS_REQUIRED", "2".to_string()),
        (
            "SHIPMATE__DELETION__CHANNELS",
            format!("slack:CDELETE,discord:{CHANNEL}"),
        ),
    ]);
    let t = spawn(&env).await;
    let response_url = format!("{}/actions/1", mock.uri());

    // filed on Slack
    let body = slash_body(
        "/delete-request",
        "city-b/run-5 reason:duplicate-run ran twice",
        "W111",
        "C111",
        &response_url,
    );
    assert_eq!(
        post_slack(&t, "/slack/commands", &body, now())
            .await
            .status(),
        200
    );

    // approved by sam on Discord
    let click = discord_interaction(
        3,
        "111222333444",
        &[],
        button("/delete-request approve DR-1"),
    );
    let answer: Value = post_discord(&t, &click, now())
        .await
        .json()
        .await
        .expect("json");
    assert!(answer["data"].get("flags").is_none(), "{answer}");
    let approvals: String =
        sqlx::query_scalar("SELECT approvals FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("stored");
    assert!(approvals.contains("discord:111222333444"), "{approvals}");

    // sam again, from Slack
    let before = t.snapshot().await;
    let click = block_actions(
        "/delete-request approve DR-1",
        "USAM",
        "C111",
        &response_url,
    );
    let res = post_slack(&t, "/slack/interactions", &interaction_body(&click), now()).await;
    assert_eq!(res.status(), 200);
    let replies = received(&mock, "/actions/1", 1).await;
    let text = replies[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("already approved"), "{text}");
    assert_eq!(replies[0]["response_type"], "ephemeral");
    assert_eq!(t.snapshot().await, before);
    assert_eq!(state_of(&t, 1).await, "pending-approval");
}

/// Holds the database so the next command outlasts the 3-second window.
async fn hold_the_writer(t: &common::TestApp) -> shipmate::store::Tx {
    // once /healthz answers, startup's own writes are done
    let health = reqwest::get(t.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    t.app.db.begin().await.expect("write lock")
}

/// Waits until Discord has shown `count` messages for deferred interactions.
async fn shown(replies: &DeferredReplies, count: usize) -> Vec<(Value, bool)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while replies.messages().len() < count && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    replies.messages()
}

#[tokio::test]
async fn a_slow_command_is_deferred_privately_and_its_public_result_follows_up_in_the_channel() {
    let (t, mock) = discord_app(&[]).await;
    let replies = DeferredReplies::default();
    replies.mount(&mock, "775799577604522054").await;
    let lock = hold_the_writer(&t).await;

    let started = std::time::Instant::now();
    let res = post_discord(
        &t,
        &discord_interaction(2, MASON, &[], create_data()),
        now(),
    )
    .await;

    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let deferral: Value = res.json().await.expect("json");
    assert_eq!(deferral, json!({"type": 5, "data": {"flags": 64}}));
    replies.deferred("A_UNIQUE_TOKEN", &deferral);
    lock.rollback().await.expect("release");
    let messages = shown(&replies, 2).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let public: Vec<&Value> = messages
        .iter()
        .filter(|(_, e)| !e)
        .map(|(b, _)| b)
        .collect();
    assert_eq!(
        public.len(),
        1,
        "the result is shown to the channel once: {messages:?}"
    );
    assert!(
        public[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Filed DR-1"),
        "{}",
        public[0]
    );
    assert_eq!(state_of(&t, 1).await, "pending-approval");
}

#[tokio::test]
async fn a_slow_refusal_stays_private() {
    let (t, mock) = discord_app(&[]).await;
    let replies = DeferredReplies::default();
    replies.mount(&mock, "775799577604522054").await;
    let approve = json!({"type": 1, "name": "delete-request", "id": "771825006014889984",
        "options": [{"type": 1, "name": "approve", "options": [{"type": 3, "name": "id", "value": "DR-9"}]}]});
    let lock = hold_the_writer(&t).await;

    let res = post_discord(&t, &discord_interaction(2, MASON, &[], approve), now()).await;

    let deferral: Value = res.json().await.expect("json");
    replies.deferred("A_UNIQUE_TOKEN", &deferral);
    lock.rollback().await.expect("release");
    let messages = shown(&replies, 1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (body, private) = &messages[0];
    assert!(private, "a refusal is only for the invoker: {body}");
    assert!(
        body["content"]
            .as_str()
            .unwrap_or_default()
            .contains("DR-9 does not exist"),
        "{body}"
    );
}

#[tokio::test]
async fn a_button_carrying_an_outbox_reference_runs_the_command_it_points_to() {
    // Arrange: the card's row in the outbox holds the buttons; Discord sends back `ref:<row>:<index>`
    let (t, _mock) = discord_app(&[]).await;
    t.ok("alice", "/delete-request city-b/run-1 reason:other typo")
        .await;
    let card: i64 =
        sqlx::query_scalar("SELECT id FROM outbox WHERE body LIKE '%Approve%' ORDER BY id LIMIT 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("card row");

    // Act: a steward clicks Approve (button 0)
    let click = discord_interaction(
        3,
        "80351110224678912",
        &[STEWARD_ROLE],
        button(&format!("ref:{card}:0")),
    );
    let answer: Value = post_discord(&t, &click, now())
        .await
        .json()
        .await
        .expect("json");

    // Assert
    assert_eq!(answer["type"], 4, "{answer}");
    assert!(answer["data"].get("flags").is_none(), "{answer}");
    assert_eq!(state_of(&t, 1).await, "cooling-off");
    let unknown = discord_interaction(
        3,
        "80351110224678912",
        &[STEWARD_ROLE],
        button("ref:99999:0"),
    );
    let answer: Value = post_discord(&t, &unknown, now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["data"]["flags"], 64,
        "a reference to nothing we sent is refused privately"
    );
}

//! Slack Socket Mode and the Discord gateway. What runs offline: each
//! connection asks the configured (mock) Web API for its websocket with the
//! right token, and payloads shaped as they arrive over the socket/gateway
//! run through the same core as the HTTP endpoints against the whole app
//! (parsed into slack-morphism's and serenity's event types, as the
//! listeners do).
//! The websockets themselves need Slack's and Discord's servers and are not
//! exercised here.

mod chat;
mod common;

use std::time::{Duration, Instant};

use chat::*;
use serde_json::{Value, json};
use shipmate::delivery::Pace;
use shipmate::platform::discord::gateway;
use shipmate::platform::discord::inbound::{Inbound as DiscordInbound, Response};
use shipmate::platform::slack::inbound::Inbound as SlackInbound;
use shipmate::platform::slack::socket::{handle_command, handle_interaction};
use slack_morphism::prelude::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Waits until the mock has seen a request on `at`.
async fn first_request(mock: &MockServer, at: &str) -> Request {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = mock.received_requests().await.unwrap_or_default();
        if let Some(r) = seen.into_iter().find(|r| r.url.path() == at) {
            return r;
        }
        assert!(Instant::now() < deadline, "nothing received on {at}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn auth(r: &Request) -> &str {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn socket_mode_asks_the_configured_slack_api_for_a_websocket_with_the_app_token() {
    // Arrange: a Slack API that hands out a websocket URL nobody listens on
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/apps.connections.open"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "url": "ws://127.0.0.1:9/link"})),
        )
        .mount(&mock)
        .await;
    let mut env = slack_env(&mock);
    env.retain(|(k, _)| *k != "SHIPMATE__SLACK__SIGNING_SECRET");
    env.push(("SHIPMATE__SLACK__SOCKET_MODE", "true".into()));
    env.push(("SHIPMATE__SLACK__APP_TOKEN", "xapp-1-test".into()));

    // Act
    let _t = spawn(&env).await;

    // Assert
    let open = first_request(&mock, "/api/apps.connections.open").await;
    assert_eq!(open.method.as_str(), "POST");
    assert_eq!(auth(&open), "Bearer xapp-1-test");
}

#[tokio::test]
async fn the_gateway_asks_the_configured_discord_api_for_its_url_with_the_bot_token() {
    // Arrange: a Discord API that names a gateway nobody listens on
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v10/gateway"))
        .and(header("authorization", "Bot discord-test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": "ws://127.0.0.1:9"})))
        .mount(&mock)
        .await;
    let mut env = discord_env(&mock);
    env.retain(|(k, _)| *k != "SHIPMATE__DISCORD__PUBLIC_KEY");
    env.push(("SHIPMATE__DISCORD__GATEWAY", "true".into()));

    // Act
    let _t = spawn(&env).await;

    // Assert
    let gateway = first_request(&mock, "/api/v10/gateway").await;
    assert_eq!(auth(&gateway), "Bot discord-test-token");
}

/// Slack on, with a mock for `response_url`, and a steward.
async fn slack_app() -> (common::TestApp, MockServer) {
    let mock = chat::rules::strict_slack().await;
    let mut env = slack_env(&mock);
    env.push(("SHIPMATE__ROLES__DATA-STEWARD", "slack:USTEWARD".into()));
    (spawn(&env).await, mock)
}

#[tokio::test]
async fn socket_mode_payloads_file_and_approve_through_the_http_core() {
    let (t, mock) = slack_app().await;
    let inbound = SlackInbound::new(
        t.app.clone(),
        reqwest::Client::new(),
        Pace::new(&t.app.config).slack,
    );
    let response_url = format!("{}/actions/1", mock.uri());

    // a slash command: a bare ack, the reply goes to response_url
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&slash_body(
        "/delete-request",
        "city-b/run-5 reason:duplicate-run ran twice",
        "W111",
        "C111",
        &response_url,
    ))
    .expect("form");
    let payload: serde_json::Map<String, Value> =
        form.into_iter().map(|(k, v)| (k, v.into())).collect();
    let cmd: SlackCommandEvent = serde_json::from_value(payload.into()).expect("parses");
    assert_eq!(handle_command(&inbound, cmd).await, None);
    let filed = received(&mock, "/actions/1", 1).await;
    assert_eq!(filed[0]["response_type"], "in_channel", "{:?}", filed[0]);
    assert!(
        filed[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Filed DR-1"),
        "{:?}",
        filed[0]
    );

    // a button click: bare ack, the reply goes to response_url
    let click = block_actions(
        "/delete-request approve DR-1",
        "USTEWARD",
        "C111",
        &response_url,
    );
    let event: SlackInteractionEvent = serde_json::from_value(click).expect("parses");
    let ack = handle_interaction(&inbound, event).await;
    assert_eq!(ack, SlackInteractionResponse::Empty);
    let replies = received(&mock, "/actions/1", 2).await;
    assert_eq!(
        replies[1]["response_type"], "in_channel",
        "{:?}",
        replies[1]
    );
    assert_eq!(state_of(&t, 1).await, "cooling-off");
}

fn socket_command(text: &str, response_url: &str) -> SlackCommandEvent {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&slash_body(
        "/delete-request",
        text,
        "W111",
        "C111",
        response_url,
    ))
    .expect("form");
    let payload: serde_json::Map<String, Value> =
        form.into_iter().map(|(k, v)| (k, v.into())).collect();
    serde_json::from_value(payload.into()).expect("parses")
}

#[tokio::test]
async fn socket_mode_acknowledges_every_envelope_at_once_and_answers_when_the_work_is_done() {
    let (t, mock) = slack_app().await;
    let inbound = SlackInbound::new(
        t.app.clone(),
        reqwest::Client::new(),
        Pace::new(&t.app.config).slack,
    );
    let response_url = format!("{}/actions/1", mock.uri());
    t.ok("alice", "/delete-request city-b/run-1 reason:other first")
        .await;
    // another writer holds the database: every command waits on it
    let health = reqwest::get(t.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let lock = t.app.db.begin().await.expect("write lock");

    let started = Instant::now();
    let command_ack = handle_command(
        &inbound,
        socket_command("city-b/run-5 reason:duplicate-run ran twice", &response_url),
    )
    .await;
    let click = block_actions(
        "/delete-request approve DR-1",
        "USTEWARD",
        "C111",
        &response_url,
    );
    let event: SlackInteractionEvent = serde_json::from_value(click).expect("parses");
    let click_ack = handle_interaction(&inbound, event).await;
    let acked_in = started.elapsed();

    assert_eq!(command_ack, None);
    assert_eq!(click_ack, SlackInteractionResponse::Empty);
    assert!(
        acked_in < Duration::from_millis(500),
        "both envelopes acknowledged at once, not after the work: {acked_in:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let early = mock.received_requests().await.unwrap_or_default();
    assert!(
        !early.iter().any(|r| r.url.path() == "/actions/1"),
        "nothing answered while the work waits"
    );
    lock.rollback().await.expect("release");
    let replies = received(&mock, "/actions/1", 2).await;
    let texts: Vec<&str> = replies.iter().filter_map(|r| r["text"].as_str()).collect();
    assert!(texts.iter().any(|t| t.contains("Filed DR-2")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("cooling-off")), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("Working on it")),
        "no placeholder is needed: {texts:?}"
    );
}

#[tokio::test]
async fn a_gateway_interaction_files_a_request_through_the_http_core() {
    let mock = MockServer::start().await;
    let t = spawn(&discord_env(&mock)).await;
    let inbound = DiscordInbound::new(
        t.app.clone(),
        reqwest::Client::new(),
        Pace::new(&t.app.config).discord,
    );
    // the docs' chat-input payload plus the fields the gateway adds today (serenity requires them)
    let mut raw = discord_interaction(
        2,
        "53908232506183680",
        &[],
        json!({"type": 1, "name": "delete-request", "id": "771825006014889984", "options": [{
        "type": 1, "name": "create", "options": [
            {"type": 3, "name": "target", "value": "city-b/run 42"},
            {"type": 3, "name": "reason", "value": "duplicate-run"},
            {"type": 3, "name": "justification", "value": "the pipeline ran twice"}
        ]}]}),
    );
    raw["application_id"] = "775799577604522054".into();
    raw["version"] = 1.into();
    raw["entitlements"] = json!([]);
    raw["attachment_size_limit"] = 8_388_608.into();
    raw["member"]["flags"] = 0.into();
    let interaction: serenity::all::Interaction =
        serde_json::from_value(raw).expect("serenity parses the interaction");

    let wire = gateway::wire(&interaction).expect("translates");
    let Response::Body(response) = inbound.interaction(&wire).await.expect("answered") else {
        panic!("a one-message reply is answered in the response");
    };

    assert_eq!(response["type"], 4, "{response}");
    let content = response["data"]["content"].as_str().unwrap_or_default();
    assert!(content.contains("Filed DR-1"), "{content}");
    assert_eq!(state_of(&t, 1).await, "pending-approval");
}

#[tokio::test]
async fn a_socket_form_the_grammar_refuses_stays_open_and_a_good_one_is_answered_on_response_url() {
    use shipmate::platform::command_text::form_for_bare;
    use shipmate::platform::slack::render::form_view;
    use shipmate::platform::slack::wire::FormMeta;

    let (t, mock) = slack_app().await;
    let inbound = SlackInbound::new(
        t.app.clone(),
        reqwest::Client::new(),
        Pace::new(&t.app.config).slack,
    );
    let form = form_for_bare("/delete-request").expect("form");
    let meta = FormMeta {
        base: form.base.clone(),
        channel: "C111".into(),
        response_url: Some(format!("{}/actions/1", mock.uri())),
    };
    let view = form_view(&form, &meta);
    let submit = |values: Value| -> SlackInteractionEvent {
        let mut v = view.clone();
        v["id"] = "V111".into();
        v["team_id"] = "T111".into();
        v["hash"] = "1.2".into();
        v["state"] = json!({"values": values});
        serde_json::from_value(json!({
            "type": "view_submission",
            "team": {"id": "T111", "domain": "d"},
            "user": {"id": "W111", "username": "w", "team_id": "T111"},
            "api_app_id": "A111",
            "trigger_id": "1.2.3",
            "view": v,
        }))
        .expect("parses")
    };
    let target = json!({"type": "plain_text_input", "value": "city-b/run-9"});
    let reason = json!({"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "other"}, "value": "other"}});

    let missing = handle_interaction(
        &inbound,
        submit(
            json!({"target": {"value": target}, "reason": {"value": reason},
            "justification": {"value": {"type": "plain_text_input", "value": null}}}),
        ),
    )
    .await;
    let missing = serde_json::to_value(&missing).expect("json");
    assert_eq!(missing["response_action"], "errors", "{missing}");
    assert!(
        missing["errors"]["justification"]
            .as_str()
            .is_some_and(|e| e.contains("justification")),
        "{missing}"
    );

    let full = json!({"target": {"value": target}, "reason": {"value": reason},
        "justification": {"value": {"type": "plain_text_input", "value": "x & y"}}});
    let ack = handle_interaction(&inbound, submit(full)).await;
    assert_eq!(ack, SlackInteractionResponse::Empty);
    let replies = received(&mock, "/actions/1", 1).await;
    assert!(
        replies[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Filed DR-1")),
        "{:?}",
        replies
    );
}

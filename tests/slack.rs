//! The Slack endpoints as Slack calls them: signed slash commands, button
//! clicks and form submissions built from recorded payloads, answered by the
//! whole application with a temp database and a mock Slack Web API.

mod chat;
mod common;

use chat::rules::*;
use chat::*;
use serde_json::{Value, json};
use shipmate::platform::signature::{SignatureError, verify_slack};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FILE: &str = "city-b/run-42 reason:duplicate-run pipeline ran twice";

async fn slack_app(extra: &[(&'static str, &str)]) -> (common::TestApp, MockServer) {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/views.open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/actions/1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let mut env = slack_env(&mock);
    env.push((
        "SHIPMATE__ROLES__DATA-STEWARD",
        "console:steward,slack:USTEWARD".into(),
    ));
    env.push((
        "SHIPMATE__DELETION__CHANNELS",
        "slack:CDELETE,console:#bioinfo".into(),
    ));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    (spawn(&env).await, mock)
}

fn response_url(mock: &MockServer) -> String {
    format!("{}/actions/1", mock.uri())
}

#[test]
fn the_fixture_signature_vector_verifies_and_a_one_byte_change_fails() {
    let v = fixture_json("slack/signature.computed-over-bolt-python-slash-command.json");
    let body = fixture("slack/slash_command.bolt-python.form-urlencoded.txt");
    assert_eq!(v["raw_body"].as_str(), Some(body.as_str()));
    let secret = v["signing_secret"].as_str().unwrap_or_default();
    let ts = v["x_slack_request_timestamp"].as_str().unwrap_or_default();
    let sig = v["x_slack_signature"].as_str().unwrap_or_default();
    let at = 1_700_000_000;
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), body.as_bytes(), at),
        Ok(())
    );

    let mut tampered = body.clone().into_bytes();
    tampered[0] ^= 1;
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &tampered, at),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_slack(secret, Some("1700000001"), Some(sig), body.as_bytes(), at),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), body.as_bytes(), at + 301),
        Err(SignatureError::Stale)
    );
}

#[tokio::test]
async fn a_signed_slash_command_files_a_request_and_queues_its_cards() {
    let (t, mock) = slack_app(&[]).await;
    let body = slash_body(
        "/delete-request",
        FILE,
        "W111",
        "C111",
        &response_url(&mock),
    );

    let res = post_slack(&t, "/slack/commands", &body, now()).await;

    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.expect("json");
    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    let text = reply["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Filed DR-1: delete `city-b/run-42`"),
        "{text}"
    );
    assert_eq!(reply["blocks"][0]["text"]["text"].as_str(), Some(text));
    let (requester, channel): (String, String) =
        sqlx::query_as("SELECT requester, channel FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("stored");
    assert_eq!(
        (requester.as_str(), channel.as_str()),
        ("slack:W111", "slack:C111")
    );
    let outbox: Vec<String> = sqlx::query_scalar("SELECT channel FROM outbox ORDER BY channel")
        .fetch_all(&t.app.db.pool)
        .await
        .expect("outbox");
    assert_eq!(outbox, ["console:#bioinfo", "slack:CDELETE"]);

    // an error is private and names the problem
    let body = slash_body(
        "/delete-request",
        "approve DR-9",
        "W111",
        "C111",
        &response_url(&mock),
    );
    let reply: Value = post_slack(&t, "/slack/commands", &body, now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .contains("DR-9 does not exist"),
        "{reply}"
    );
}

#[tokio::test]
async fn unsigned_stale_oversized_and_malformed_requests_are_rejected_and_store_nothing() {
    let (t, mock) = slack_app(&[("SHIPMATE__HTTP__MAX_BODY_BYTES", "4096")]).await;
    let body = slash_body(
        "/delete-request",
        FILE,
        "W111",
        "C111",
        &response_url(&mock),
    );
    let before = t.snapshot().await;

    let ts = now().to_string();
    let forged = shipmate::platform::signature::sign_slack("not-the-secret", &ts, body.as_bytes());
    let res = post_slack_with(&t, "/slack/commands", &body, &ts, &forged).await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap_or_default().contains("signature"));

    let res = post_slack(&t, "/slack/commands", &body, now() - 301).await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap_or_default().contains("5 minutes"));

    let huge = format!("{body}&pad={}", "x".repeat(5000));
    assert_eq!(
        post_slack(&t, "/slack/commands", &huge, now())
            .await
            .status(),
        413
    );

    let no_user = body.replace("user_id=W111&", "");
    let res = post_slack(&t, "/slack/commands", &no_user, now()).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap_or_default().contains("user_id"));

    let res = post_slack(&t, "/slack/interactions", "payload=%7Bnot-json", now()).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("interaction payload")
    );

    assert_eq!(t.snapshot().await, before, "nothing may be stored");
}

#[tokio::test]
async fn a_button_click_approves_for_a_steward_and_is_refused_for_anyone_else() {
    let (t, mock) = slack_app(&[]).await;
    t.ok("alice", &format!("/delete-request {FILE}")).await;
    let click = |user: &str| {
        interaction_body(&block_actions(
            "/delete-request approve DR-1",
            user,
            "C111",
            &response_url(&mock),
        ))
    };

    let before = t.snapshot().await;
    let res = post_slack(&t, "/slack/interactions", &click("W222"), now()).await;
    assert_eq!(res.status(), 200);
    let replies = received(&mock, "/actions/1", 1).await;
    assert_eq!(replies[0]["response_type"], "ephemeral", "{}", replies[0]);
    let text = replies[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("data-steward"), "{text}");
    assert_eq!(
        t.snapshot().await,
        before,
        "a refused click changes nothing"
    );

    let res = post_slack(&t, "/slack/interactions", &click("USTEWARD"), now()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(state_of(&t, 1).await, "cooling-off");
    let replies = received(&mock, "/actions/1", 2).await;
    assert_eq!(replies[1]["response_type"], "in_channel", "{}", replies[1]);
    assert_eq!(replies[1]["replace_original"], false);
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'approve'")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("audited");
    assert_eq!(actor, "slack:USTEWARD");
}

/// A `view_submission` for the form shipmate opened, with `values` typed in.
fn submission(view: &Value, user: &str, values: Value) -> String {
    interaction_body(&json!({
        "type": "view_submission",
        "user": {"id": user},
        "view": {
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values}
        }
    }))
}

#[tokio::test]
async fn the_object_button_opens_a_form_whose_submission_puts_the_request_on_hold() {
    let (t, mock) = slack_app(&[]).await;
    t.ok("alice", &format!("/delete-request {FILE}")).await;
    t.ok("steward", "/delete-request approve DR-1").await;
    let click = block_actions(
        "/delete-request object DR-1 reason:\"…\"",
        "W222",
        "C111",
        &response_url(&mock),
    );

    let res = post_slack(&t, "/slack/interactions", &interaction_body(&click), now()).await;

    assert_eq!(res.status(), 200);
    let opened = received(&mock, "/api/views.open", 1).await;
    assert_eq!(opened[0]["trigger_id"], "111.222.valid");
    let view = &opened[0]["view"];
    assert_eq!(view["blocks"][1]["block_id"], "reason", "{view}");
    assert_eq!(
        state_of(&t, 1).await,
        "cooling-off",
        "opening the form changes nothing"
    );

    let typed = json!({"reason": {"value": {"type": "plain_text_input", "value": "run-42 is \"still\" used"}}});
    let res = post_slack(
        &t,
        "/slack/interactions",
        &submission(view, "W222", typed),
        now(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(state_of(&t, 1).await, "on-hold");
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'object'")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("audited");
    assert!(
        detail.contains("reason=run-42 is \"still\" used"),
        "{detail}"
    );
    let replies = received(&mock, "/actions/1", 1).await;
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("on-hold"),
        "{}",
        replies[0]
    );
}

#[tokio::test]
async fn a_bare_delete_request_opens_the_create_form_and_its_submission_files_it() {
    let (t, mock) = slack_app(&[]).await;
    let body = slash_body("/delete-request", "", "W111", "C111", &response_url(&mock));

    let res = post_slack(&t, "/slack/commands", &body, now()).await;

    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap_or_default(),
        "",
        "the form is the answer"
    );
    let opened = received(&mock, "/api/views.open", 1).await;
    let view = &opened[0]["view"];
    let blocks: Vec<&str> = view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["block_id"].as_str())
        .collect();
    assert_eq!(
        blocks,
        [
            "target",
            "reason",
            "justification",
            "sensitivity",
            "stakeholders"
        ]
    );
    assert_eq!(view["blocks"][2]["element"]["type"], "static_select");

    // without a justification the form stays open and says what is missing
    let partial = json!({
        "target": {"value": {"type": "plain_text_input", "value": "city-b/run-9"}},
        "reason": {"value": {"type": "static_select", "selected_option": {"value": "other"}}},
        "justification": {"value": {"type": "plain_text_input", "value": null}},
    });
    let res = post_slack(
        &t,
        "/slack/interactions",
        &submission(view, "W111", partial),
        now(),
    )
    .await;
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["justification"]
            .as_str()
            .unwrap_or_default()
            .contains("missing `justification`"),
        "{answer}"
    );

    let full = json!({
        "target": {"value": {"type": "plain_text_input", "value": "city-b/run-9"}},
        "reason": {"value": {"type": "static_select", "selected_option": {"value": "other"}}},
        "justification": {"value": {"type": "plain_text_input", "value": "bad run:\nwrong genome"}},
        "sensitivity": {"value": {"type": "static_select", "selected_option": {"value": "medium"}}},
        "stakeholders": {"value": {"type": "plain_text_input", "value": null}},
    });
    let res = post_slack(
        &t,
        "/slack/interactions",
        &submission(view, "W111", full),
        now(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (target, sensitivity, requester): (String, String, String) =
        sqlx::query_as("SELECT target, sensitivity, requester FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("filed");
    assert_eq!(
        (target.as_str(), sensitivity.as_str(), requester.as_str()),
        ("city-b/run-9", "medium", "slack:W111")
    );
}

#[tokio::test]
async fn events_echo_the_url_verification_challenge() {
    let (t, _mock) = slack_app(&[]).await;
    let body = json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let res = post_slack(&t, "/slack/events", &body, now()).await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let other = json!({"type": "event_callback", "event": {"type": "app_mention"}}).to_string();
    assert_eq!(
        post_slack(&t, "/slack/events", &other, now())
            .await
            .status(),
        200
    );
    assert_eq!(
        post_slack(&t, "/slack/events", "{}", now()).await.status(),
        400
    );
}

#[tokio::test]
async fn slack_endpoints_are_off_unless_slack_is_enabled() {
    let t = common::spawn_app(&[("SHIPMATE__SLACK__SIGNING_SECRET", SLACK_SECRET)]).await;
    let body = slash_body(
        "/delete-request",
        FILE,
        "W111",
        "C111",
        "http://127.0.0.1:9/x",
    );
    let res = post_slack(&t, "/slack/commands", &body, now()).await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("slack.enabled")
    );
}

#[tokio::test]
async fn a_command_that_outlasts_the_3_second_window_is_acknowledged_then_answered_via_response_url()
 {
    let (t, mock) = slack_app(&[]).await;
    // another writer holds the database, so the command waits on the lock
    // once /healthz answers, startup's own writes are done
    let health = reqwest::get(t.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    let lock = t.app.db.begin().await.expect("write lock");
    let body = slash_body(
        "/delete-request",
        FILE,
        "W111",
        "C111",
        &response_url(&mock),
    );

    let started = std::time::Instant::now();
    let res = post_slack(&t, "/slack/commands", &body, now()).await;

    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "answered within 3 s"
    );
    let ack: Value = res.json().await.expect("json");
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(
        ack["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Working on it"),
        "{ack}"
    );
    lock.rollback().await.expect("release");
    let replies = received(&mock, "/actions/1", 1).await;
    assert_eq!(replies.len(), 1, "the result follows");
    assert_eq!(replies[0]["response_type"], "in_channel");
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Filed DR-1"),
        "{}",
        replies[0]
    );
    assert_eq!(state_of(&t, 1).await, "pending-approval");
}

const DISCORD_CHANNEL: &str = "645027906669510667";

/// Slack (strict mock) and Discord (accepting mock) both enabled; W111 is a
/// release-manager and admin, USTEWARD a data steward; cards go to Slack,
/// Discord and the console.
async fn both_platforms() -> (common::TestApp, MockServer, MockServer) {
    let slack = strict_slack().await;
    let discord = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v10/channels/{DISCORD_CHANNEL}/messages"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "5001", "channel_id": DISCORD_CHANNEL})),
        )
        .mount(&discord)
        .await;
    let mut env = slack_env(&slack);
    env.extend(discord_env(&discord));
    let channels = format!("slack:CDELETE,discord:{DISCORD_CHANNEL},console:#bioinfo");
    env.extend([
        ("SHIPMATE__DELETION__CHANNELS", channels.clone()),
        ("SHIPMATE__DOWNTIME__CHANNELS", channels),
        ("SHIPMATE__ROLES__RELEASE-MANAGER", "slack:W111".into()),
        ("SHIPMATE__ROLES__ADMIN", "slack:W111".into()),
        ("SHIPMATE__ROLES__DATA-STEWARD", "slack:USTEWARD".into()),
    ]);
    (spawn(&env).await, slack, discord)
}

/// Sends a slash command the way Slack does with `should_escape: true`.
async fn slash(t: &common::TestApp, mock: &MockServer, command: &str, escaped: &str) -> Value {
    let body = slash_body(command, escaped, "W111", "C111", &response_url(mock));
    let res = post_slack(t, "/slack/commands", &body, now()).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// Waits for a message on `at` whose body contains `needle`.
async fn posted_with(mock: &MockServer, at: &str, needle: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let bodies = received(mock, at, 0).await;
        if let Some(b) = bodies.iter().find(|b| b.to_string().contains(needle)) {
            return b.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing with {needle:?} on {at}: {bodies:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn what_a_person_types_in_slack_is_stored_as_typed_and_shown_intact_everywhere() {
    let (t, slack, discord) = both_platforms().await;
    // Slack escapes & < > and sends mentions, channels and links as control sequences
    let typed = "db upgrade & reindex <now> per the runbook (https://wiki.example.org/x?a=1&b=2) in slack:C0OPS";
    let escaped = "city-b/run-42 reason:other stakeholders:<@U024BE7LH|bob>,<@W0123ABC> \
        db upgrade &amp; reindex &lt;now&gt; per <https://wiki.example.org/x?a=1&amp;b=2|the runbook> in <#C0OPS|ops>";

    let reply = slash(&t, &slack, "/delete-request", escaped).await;

    // stored: what the person typed, people as addresses
    let (justification, stakeholders): (String, String) =
        sqlx::query_as("SELECT justification, stakeholders FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("filed");
    assert_eq!(justification, typed);
    assert!(
        stakeholders.contains("slack:U024BE7LH") && stakeholders.contains("slack:W0123ABC"),
        "{stakeholders}"
    );
    // the reply names the card's channels, Slack's as channel links
    let text = reply["text"].as_str().unwrap_or_default();
    assert!(text.contains("<#CDELETE>"), "{text}");
    assert!(
        slack_shows(text).contains(&format!(
            "the card is posted to #CDELETE, discord:{DISCORD_CHANNEL}, console:#bioinfo."
        )),
        "{text}"
    );
    // Slack shows it once-escaped, with the stakeholders mentioned
    let card = posted_with(&slack, "/api/chat.postMessage", "Justification").await;
    let shows = slack_body_shows(&card);
    assert!(
        shows.contains(&format!("Justification: {typed}")),
        "{shows}"
    );
    assert!(shows.contains("@U024BE7LH"), "{shows}");
    assert!(!card.to_string().contains("&amp;amp;"), "{card}");
    // Discord and the console show the characters themselves
    let on_discord = posted_with(
        &discord,
        &format!("/api/v10/channels/{DISCORD_CHANNEL}/messages"),
        "Justification",
    )
    .await;
    assert!(on_discord.to_string().contains(typed), "{on_discord}");
    assert!(!on_discord.to_string().contains("&amp;"), "{on_discord}");
    assert!(
        t.wait_console(typed, 1, std::time::Duration::from_secs(5))
            .await,
        "{}",
        t.console.contents()
    );
}

#[tokio::test]
async fn a_reason_typed_in_slack_reaches_status_json_and_the_calendar_unescaped() {
    let (t, slack, _discord) = both_platforms().await;

    let reply = slash(
        &t,
        &slack,
        "/downtime",
        "announce env:production start:\"2030-12-01 22:00\" duration:2h reason:\"db upgrade &amp; reindex &lt;v2&gt;\"",
    )
    .await;

    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    let feed: Value = reqwest::get(t.url("/status.json"))
        .await
        .expect("feed")
        .json()
        .await
        .expect("json");
    assert_eq!(feed["upcoming"][0]["reason"], "db upgrade & reindex <v2>");
    let ics = reqwest::get(t.url("/calendar.ics"))
        .await
        .expect("calendar")
        .text()
        .await
        .expect("text");
    assert!(ics.contains("db upgrade & reindex <v2>"), "{ics}");
    assert!(!ics.contains("&amp;"), "{ics}");
    let announced = posted_with(&slack, "/api/chat.postMessage", "reindex").await;
    let shows = slack_body_shows(&announced);
    assert!(shows.contains("db upgrade & reindex <v2>"), "{shows}");
    // the window's times are Slack date tokens, never UTC text
    assert!(announced.to_string().contains("<!date^"), "{announced}");
    assert!(!shows.contains("UTC"), "{shows}");
}

#[tokio::test]
async fn a_refusal_shows_its_usage_with_the_placeholders_and_typed_text_cannot_ping() {
    let (t, slack, _discord) = both_platforms().await;

    let reply = slash(&t, &slack, "/delete-request", "approve").await;

    assert_eq!(reply["response_type"], "ephemeral");
    let shows = slack_shows(reply["text"].as_str().unwrap_or_default());
    assert!(shows.contains("/delete-request approve <DR-n>"), "{shows}");

    // a justification holding Slack's own syntax is text, not a ping
    let escaped = "city-b/run-1 reason:other hey &lt;!channel&gt; look";
    slash(&t, &slack, "/delete-request", escaped).await;
    let justification: String =
        sqlx::query_scalar("SELECT justification FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("filed");
    assert_eq!(justification, "hey <!channel> look");
    let card = posted_with(&slack, "/api/chat.postMessage", "look").await;
    assert!(!card.to_string().contains("<!channel>"), "{card}");
    assert!(slack_body_shows(&card).contains("hey <!channel> look"));
    // and @channel typed with the escaping on arrives as the word
    slash(
        &t,
        &slack,
        "/delete-request",
        "city-b/run-2 reason:other <!here> please",
    )
    .await;
    let second: String =
        sqlx::query_scalar("SELECT justification FROM deletion_requests WHERE id = 2")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("filed");
    assert_eq!(second, "@here please");
}

#[tokio::test]
async fn a_slack_user_group_can_hold_a_role_and_is_mentioned_as_one() {
    let (t, slack, _discord) = both_platforms().await;

    let reply = slash(
        &t,
        &slack,
        "/role",
        "grant data-steward <!subteam^S0614TZR7|@stewards>",
    )
    .await;

    assert_eq!(reply["response_type"], "in_channel", "{reply}");
    let member: String = sqlx::query_scalar("SELECT member FROM role_grants")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("granted");
    assert_eq!(member, "slack-group:S0614TZR7");
    slash(
        &t,
        &slack,
        "/delete-request",
        "city-b/run-3 reason:other why",
    )
    .await;
    let card = posted_with(&slack, "/api/chat.postMessage", "run-3").await;
    assert!(
        card.to_string().contains("<!subteam^S0614TZR7>"),
        "the group is pinged: {card}"
    );
}

#[tokio::test]
async fn the_create_form_picks_stakeholders_from_slack_users_and_stores_text_as_typed() {
    let (t, slack, _discord) = both_platforms().await;
    let body = slash_body("/delete-request", "", "W111", "C111", &response_url(&slack));
    post_slack(&t, "/slack/commands", &body, now()).await;
    let opened = received(&slack, "/api/views.open", 1).await;
    let view = &opened[0]["view"];

    let values = json!({
        "target": {"value": {"type": "plain_text_input", "value": "city-b/run-9"}},
        "reason": {"value": {"type": "static_select", "selected_option": {"value": "other"}}},
        "justification": {"value": {"type": "plain_text_input", "value": "a & b <c> \"d\""}},
        "stakeholders": {"value": {"type": "multi_users_select", "selected_users": ["U024BE7LH", "W0123ABC"]}},
    });
    let res = post_slack(
        &t,
        "/slack/interactions",
        &submission(view, "W111", values),
        now(),
    )
    .await;

    assert_eq!(res.status(), 200);
    let (justification, stakeholders): (String, String) =
        sqlx::query_as("SELECT justification, stakeholders FROM deletion_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("filed");
    assert_eq!(justification, "a & b <c> \"d\"");
    assert!(
        stakeholders.contains("slack:U024BE7LH") && stakeholders.contains("slack:W0123ABC"),
        "{stakeholders}"
    );
}

#[tokio::test]
async fn a_button_shipmate_cannot_read_is_answered_200_with_a_private_explanation() {
    let (t, mock) = slack_app(&[]).await;
    let before = t.snapshot().await;
    let click = block_actions("ref:99999:0", "W222", "C111", &response_url(&mock));

    let res = post_slack(&t, "/slack/interactions", &interaction_body(&click), now()).await;

    assert_eq!(
        res.status(),
        200,
        "Slack shows an error icon on anything else"
    );
    let replies = received(&mock, "/actions/1", 1).await;
    assert_eq!(replies[0]["response_type"], "ephemeral", "{}", replies[0]);
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("type the command instead"),
        "{}",
        replies[0]
    );
    assert_eq!(t.snapshot().await, before);
}

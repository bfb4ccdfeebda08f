//! Socket Mode payloads, parsed into slack-morphism's event types exactly as
//! its listener does, translated into the HTTP path's wire types, and the
//! answers turned into its ack payload types. Payloads are the recorded HTTP
//! fixtures as JSON, which is how Socket Mode carries them (in an envelope's
//! `payload`). slack-morphism 2.31.1 does not export its envelope types
//! (`models::socket_mode` is shadowed by the `socket_mode` module), so the
//! envelope itself is not parsed here.

use serde_json::{Value, json};
use slack_morphism::prelude::*;

use super::*;
use crate::app::{Message, Reply};
use crate::platform::command_text::template;
use crate::platform::slack::inbound::{identities, slash_text, submission_text};
use crate::platform::slack::wire::FormMeta;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slack");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn command_event(payload: Value) -> SlackCommandEvent {
    serde_json::from_value(payload).expect("slack-morphism parses the command")
}

fn interaction_event(payload: Value) -> SlackInteractionEvent {
    serde_json::from_value(payload).expect("slack-morphism parses the interaction")
}

/// The recorded slash command, as the JSON payload Socket Mode carries.
fn slash_payload(command: &str, text: &str) -> Value {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_str(&fixture("slash_command.bolt-python.form-urlencoded.txt"))
            .expect("form");
    let mut payload: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    payload.insert("command".into(), command.into());
    payload.insert("text".into(), text.into());
    Value::Object(payload)
}

#[test]
fn a_socket_slash_command_reads_like_the_http_one() {
    let event = command_event(slash_payload("/delete-request", "approve DR-1"));

    let cmd = slash_command(&event).expect("translates");

    assert_eq!(slash_text(&cmd), "/delete-request approve DR-1");
    let (user, channel) = identities(&cmd.user_id, &cmd.channel_id).expect("ids");
    assert_eq!(
        (user.to_string(), channel.to_string()),
        ("slack:W111".into(), "slack:C111".into())
    );
    assert_eq!(
        cmd.response_url.as_deref(),
        Some("https://hooks.slack.com/commands/T111/111/xxxxx")
    );
    assert_eq!(cmd.trigger_id.as_deref(), Some("111.111.xxx"));
}

#[test]
fn a_socket_button_click_reads_like_the_http_one() {
    let mut payload: Value =
        serde_json::from_str(&fixture("block_actions.bolt-python.json")).expect("json");
    payload["actions"][0]["value"] = "/delete-request approve DR-1".into();
    let event = interaction_event(payload);

    let Interaction::BlockActions(a) = interaction(&event).expect("translates") else {
        panic!("not block_actions");
    };

    assert_eq!(a.user.id, "W111");
    assert_eq!(a.channel_id(), Some("C111"));
    assert_eq!(a.trigger_id.as_deref(), Some("111.222.valid"));
    assert_eq!(
        a.response_url.as_deref(),
        Some("https://hooks.slack.com/actions/T111/111/random-value")
    );
    assert_eq!(
        a.actions[0].value.as_deref(),
        Some("/delete-request approve DR-1")
    );
}

#[test]
fn a_socket_form_submission_rebuilds_the_command_text() {
    // the view Slack echoes back is the one shipmate opened, plus its state
    let t = template("/delete-request object DR-1 reason:\"…\"").expect("template");
    let meta = FormMeta {
        base: t.base.clone(),
        channel: "C111".into(),
        response_url: None,
    };
    let mut view = render::form_view(&t, &meta);
    view["id"] = "V111".into();
    view["team_id"] = "T111".into();
    view["hash"] = "156772938.1827394".into();
    view["state"] = json!({"values": {"reason": {"value": {
        "type": "plain_text_input", "value": "still in use"
    }}}});
    let payload = json!({
        "type": "view_submission",
        "team": {"id": "T111", "domain": "workspace-domain"},
        "user": {"id": "W222", "username": "steward", "team_id": "T111"},
        "api_app_id": "A111",
        "trigger_id": "111.333.valid",
        "view": view,
    });
    let event = interaction_event(payload);

    let Interaction::ViewSubmission(v) = interaction(&event).expect("translates") else {
        panic!("not view_submission");
    };
    let (meta, text) = submission_text(&v).expect("readable").expect("ours");

    assert_eq!(v.user.id, "W222");
    assert_eq!(meta.channel, "C111");
    assert_eq!(text, "/delete-request object DR-1 reason:\"still in use\"");
}

#[test]
fn a_reply_travels_in_the_command_ack() {
    let reply = Reply::in_channel(
        Message::new()
            .line(crate::app::Line::new().text("Filed DR-1"))
            .button("Approve", "/delete-request approve DR-1".into(), false),
    );
    let body = render::reply_body(
        &reply,
        chrono_tz::UTC,
        &crate::settings::Directory::default(),
    );

    let payload = command_ack(Answer::Body(body.clone()))
        .expect("fits")
        .expect("has a payload");
    let sent = serde_json::to_value(&payload).expect("serializes");

    assert_eq!(sent["response_type"], "in_channel");
    assert_eq!(sent["text"], "Filed DR-1");
    assert_eq!(sent["blocks"], body["blocks"], "{sent}");
    assert_eq!(command_ack(Answer::Ack), Ok(None));
}

#[test]
fn a_form_error_travels_in_the_interaction_ack_and_a_click_gets_a_bare_ack() {
    let body = render::form_errors("reason", "`reason` is required");

    let response = interaction_ack(Answer::Body(body)).expect("fits");

    assert_eq!(
        serde_json::to_value(&response).expect("serializes"),
        json!({"response_action": "errors", "errors": {"reason": "`reason` is required"}})
    );
    assert_eq!(
        interaction_ack(Answer::Ack),
        Ok(SlackInteractionResponse::Empty)
    );
}

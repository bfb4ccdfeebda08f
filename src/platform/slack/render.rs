//! Block Kit for replies and forms. Replies go through the same
//! preparation as posted messages ([`mentions::for_platform`]): identities
//! translated through `[people]`, and free text escaped, so a usage line
//! keeps its `<target>` and typed text can never become `<!channel>`.

use chrono_tz::Tz;
use serde_json::{Value, json};

use super::text::escape;
use super::wire::FormMeta;
use super::{FORM_CALLBACK, FORM_INPUT};
use crate::app::{Message, Reply};
use crate::delivery::{mentions, pages};
use crate::domain::Platform;
use crate::platform::command_text::{Field, Template};
use crate::settings::Directory;

/// The notification text of a message (its blocks hold the whole text).
const FALLBACK_MAX: usize = 3000;

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": truncate(text, max)})
}

/// The actions block of a message's buttons, if it has any.
fn actions(message: &Message) -> Option<Value> {
    if message.buttons.is_empty() {
        return None;
    }
    let elements: Vec<Value> = message
        .buttons
        .iter()
        .take(25)
        .enumerate()
        .map(|(i, b)| {
            let mut button = json!({
                "type": "button",
                "action_id": format!("shipmate.command.{i}"),
                "text": plain(&b.label, 75),
                "value": b.command,
            });
            if b.danger {
                button["style"] = json!("danger");
            }
            button
        })
        .collect();
    Some(json!({"type": "actions", "elements": elements}))
}

/// A reply as Slack messages within Slack's limits ([`pages`]): the first
/// is the answer, the others continue it (the buttons go with the last).
pub fn reply_bodies(reply: &Reply, tz: Tz, directory: &Directory) -> Vec<Value> {
    reply_paged(reply, tz, directory)
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

/// [`reply_bodies`], each with the byte offset where its page starts in the
/// reply's Slack markup: the outbox can deliver the rest from there, as
/// the same text a posted message would be ([`payload`](crate::delivery)).
pub fn reply_paged(reply: &Reply, tz: Tz, directory: &Directory) -> Vec<(usize, Value)> {
    let message = mentions::for_platform(&reply.message, Platform::Slack, directory);
    let markup = message.markup(Platform::Slack, tz);
    let mut pages = pages::slack_paged(&markup, pages::SLACK_PAGE_TEXT);
    if pages.is_empty() {
        pages.push((0, Vec::new()));
    }
    let last = pages.len() - 1;
    pages
        .into_iter()
        .enumerate()
        .map(|(i, (offset, sections))| {
            let text = sections.join("\n");
            let mut blocks: Vec<Value> = sections
                .into_iter()
                .map(|t| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}}))
                .collect();
            let buttons = (i == last).then(|| actions(&message)).flatten();
            let fallback = match (&buttons, text.is_empty()) {
                (Some(_), true) => message
                    .buttons
                    .iter()
                    .map(|b| escape(&b.label))
                    .collect::<Vec<_>>()
                    .join(" | "),
                _ => truncate(&text, FALLBACK_MAX),
            };
            blocks.extend(buttons);
            let body = json!({
                "response_type": if reply.in_channel { "in_channel" } else { "ephemeral" },
                "text": fallback,
                "blocks": blocks,
            });
            (offset, body)
        })
        .collect()
}

/// The first of [`reply_bodies`]: a reply that fits one message.
pub fn reply_body(reply: &Reply, tz: Tz, directory: &Directory) -> Value {
    reply_bodies(reply, tz, directory).swap_remove(0)
}

/// Like [`reply_bodies`] for a `response_url`: never replaces the clicked message.
pub fn follow_up_bodies(reply: &Reply, tz: Tz, directory: &Directory) -> Vec<Value> {
    let mut bodies = reply_bodies(reply, tz, directory);
    for body in &mut bodies {
        body["replace_original"] = json!(false);
    }
    bodies
}

/// Ends a reply page with a line saying where the rest of the reply is.
pub fn note_rest(body: &mut Value, text: &str) {
    let line = json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(text)}]});
    if let Some(blocks) = body.get_mut("blocks").and_then(Value::as_array_mut) {
        blocks.push(line);
    }
}

/// A short private note (acknowledgements, failures to open a form), escaped.
pub fn note(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": escape(text)})
}

fn input(field: &Field) -> Value {
    let element = if field.people {
        json!({"type": "multi_users_select", "action_id": FORM_INPUT})
    } else if field.choices.is_empty() {
        json!({
            "type": "plain_text_input",
            "action_id": FORM_INPUT,
            "multiline": field.long,
        })
    } else {
        let options: Vec<Value> = field
            .choices
            .iter()
            .map(|c| json!({"text": plain(c, 75), "value": c}))
            .collect();
        json!({"type": "static_select", "action_id": FORM_INPUT, "options": options})
    };
    let mut block = json!({
        "type": "input",
        "block_id": field.name,
        "optional": !field.required,
        "label": plain(&field.label, 2000),
        "element": element,
    });
    if !field.help.is_empty() {
        block["hint"] = plain(&field.help, 2000);
    }
    block
}

/// The modal that asks for a template's missing fields.
pub fn form_view(template: &Template, meta: &FormMeta) -> Value {
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("`{}`", escape(&template.base))}
    })];
    blocks.extend(template.fields.iter().map(input));
    json!({
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": serde_json::to_string(meta).unwrap_or_default(),
        "title": plain(&template.title(), 24),
        "submit": plain("Submit", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    })
}

/// The answer to a form submission that must stay open: the error shown on a field.
pub fn form_errors(field: &str, text: &str) -> Value {
    json!({"response_action": "errors", "errors": {field: truncate(text, 1000)}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Line;
    use crate::platform::command_text::template;

    #[test]
    fn a_reply_with_buttons_has_an_actions_block_carrying_the_commands() {
        let reply = Reply::in_channel(
            Message::new()
                .line(Line::new().bold("DR-1").text(" filed"))
                .button("Approve", "/delete-request approve DR-1".into(), false)
                .button(
                    "Object",
                    "/delete-request object DR-1 reason:\"…\"".into(),
                    true,
                ),
        );
        let body = reply_body(&reply, chrono_tz::UTC, &Directory::default());
        assert_eq!(body["response_type"], "in_channel");
        assert_eq!(body["text"], "*DR-1* filed");
        assert_eq!(
            body["blocks"][1]["elements"][0]["value"],
            "/delete-request approve DR-1"
        );
        assert_eq!(body["blocks"][1]["elements"][1]["style"], "danger");
    }

    #[test]
    fn a_reply_is_escaped_so_placeholders_stay_and_nothing_pings() {
        let reply = Reply::private(
            Message::new()
                .line(Line::new().text("missing `id`: db upgrade & reindex <!channel>"))
                .line(Line::new().text("Usage: /delete-request approve <DR-n>"))
                .line(Line::new().user(&"slack:U1".parse().unwrap())),
        );
        let body = reply_body(&reply, chrono_tz::UTC, &Directory::default());
        let text = body["text"].as_str().unwrap_or_default();
        assert_eq!(
            text,
            "missing `id`: db upgrade &amp; reindex &lt;!channel&gt;\n\
             Usage: /delete-request approve &lt;DR-n&gt;\n<@U1>"
        );
        assert_eq!(body["blocks"][0]["text"]["text"].as_str(), Some(text));
        assert_eq!(
            note("Type it instead: /x <target>")["text"],
            "Type it instead: /x &lt;target&gt;"
        );
    }

    #[test]
    fn a_form_asks_for_people_with_a_user_picker() {
        let form = crate::platform::command_text::form_for_bare("/delete-request").expect("form");
        let meta = FormMeta {
            base: form.base.clone(),
            channel: "C1".into(),
            response_url: None,
        };
        let view = form_view(&form, &meta);
        let stakeholders = view["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["block_id"] == "stakeholders")
            .expect("stakeholders field");
        assert_eq!(stakeholders["element"]["type"], "multi_users_select");
    }

    #[test]
    fn a_form_has_one_input_per_field_and_carries_its_metadata() {
        let t = template("/delete-request object DR-1 reason:\"…\"").expect("template");
        let meta = FormMeta {
            base: t.base.clone(),
            channel: "C1".into(),
            response_url: None,
        };
        let view = form_view(&t, &meta);
        assert_eq!(view["blocks"][1]["block_id"], "reason");
        assert_eq!(view["blocks"][1]["element"]["multiline"], true);
        let back: FormMeta =
            serde_json::from_str(view["private_metadata"].as_str().unwrap_or_default())
                .expect("metadata");
        assert_eq!(back, meta);
    }
}

//! Interaction responses: messages (type 4), forms (type 9), deferrals (type 5).

use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::app::{Message, Reply};
use crate::delivery::pages;
use crate::domain::Platform;
use crate::platform::command_text::Template;

/// Response types.
pub const PONG: u8 = 1;
pub const CHANNEL_MESSAGE: u8 = 4;
pub const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
pub const MODAL: u8 = 9;

/// Message flag: only the invoker sees it.
pub const EPHEMERAL: u64 = 64;

/// Discord's limit on message content.
const CONTENT_MAX: usize = 2000;
/// Discord's limit on a custom id.
pub const CUSTOM_ID_MAX: usize = 100;

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Buttons as action rows (5 per row); a command too long for a custom id is left out.
pub fn components(message: &Message) -> Vec<Value> {
    let buttons: Vec<Value> = message
        .buttons
        .iter()
        .filter(|b| b.command.len() <= CUSTOM_ID_MAX)
        .map(|b| {
            json!({
                "type": 2,
                "style": if b.danger { 4 } else { 1 },
                "label": truncate(&b.label, 80),
                "custom_id": b.command,
            })
        })
        .collect();
    buttons
        .chunks(5)
        .take(5)
        .map(|row| json!({"type": 1, "components": row}))
        .collect()
}

/// A reply as Discord messages of at most 2,000 characters each
/// ([`pages`]): content, flags, and the buttons with the last. A reply pings
/// nobody (`allowed_mentions` parses nothing): it answers the invoker.
pub fn message_pages(reply: &Reply, tz: Tz) -> Vec<Value> {
    let mut texts = pages::text_pages(&reply.message.markup(Platform::Discord, tz), CONTENT_MAX);
    if texts.is_empty() {
        texts.push(String::new());
    }
    let last = texts.len() - 1;
    texts
        .into_iter()
        .enumerate()
        .map(|(i, content)| {
            let mut data = json!({
                "content": content,
                "allowed_mentions": {"parse": []},
            });
            if !reply.in_channel {
                data["flags"] = json!(EPHEMERAL);
            }
            let rows = components(&reply.message);
            if i == last && !rows.is_empty() {
                data["components"] = json!(rows);
            }
            data
        })
        .collect()
}

/// The message part of a reply that fits one message: its first page.
pub fn message_data(reply: &Reply, tz: Tz) -> Value {
    message_pages(reply, tz).swap_remove(0)
}

/// A type-4 response carrying the reply (its first page).
pub fn reply(reply: &Reply, tz: Tz) -> Value {
    json!({"type": CHANNEL_MESSAGE, "data": message_data(reply, tz)})
}

/// A private type-4 note.
pub fn note(text: &str) -> Value {
    json!({"type": CHANNEL_MESSAGE, "data": {"content": truncate(text, CONTENT_MAX), "flags": EPHEMERAL}})
}

/// The form asking for a template's fields; its custom id is the template's base text.
pub fn modal(template: &Template) -> Option<Value> {
    if template.base.len() > CUSTOM_ID_MAX {
        return None;
    }
    let rows: Vec<Value> = template
        .fields
        .iter()
        .take(5)
        .map(|f| {
            let mut input = json!({
                "type": 4,
                "custom_id": f.name,
                "label": truncate(&f.label, 45),
                "style": if f.long { 2 } else { 1 },
                "required": f.required,
            });
            let hint = if f.choices.is_empty() {
                f.help.clone()
            } else {
                f.choices.join(" | ")
            };
            if !hint.is_empty() {
                input["placeholder"] = json!(truncate(&hint, 100));
            }
            json!({"type": 1, "components": [input]})
        })
        .collect();
    Some(json!({
        "type": MODAL,
        "data": {
            "custom_id": template.base,
            "title": truncate(&template.title(), 45),
            "components": rows,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Line;
    use crate::platform::command_text::template;

    #[test]
    fn errors_are_ephemeral_and_state_changes_public() {
        let ok = reply(&Reply::in_channel(Message::text("done")), chrono_tz::UTC);
        assert_eq!(ok["type"], 4);
        assert_eq!(ok["data"]["content"], "done");
        assert!(ok["data"].get("flags").is_none());
        let err = reply(
            &Reply::error(crate::app::Status::Refused, "no"),
            chrono_tz::UTC,
        );
        assert_eq!(err["data"]["flags"], 64);
    }

    #[test]
    fn buttons_carry_their_command_as_custom_id() {
        let m = Message::new()
            .line(Line::new().text("x"))
            .button("Approve", "/delete-request approve DR-1".into(), false)
            .button(
                "Object",
                "/delete-request object DR-1 reason:\"…\"".into(),
                true,
            );
        let rows = components(&m);
        assert_eq!(
            rows[0]["components"][0]["custom_id"],
            "/delete-request approve DR-1"
        );
        assert_eq!(rows[0]["components"][1]["style"], 4);
    }

    #[test]
    fn the_object_form_asks_for_the_reason() {
        let t = template("/delete-request object DR-1 reason:\"…\"").expect("template");
        let m = modal(&t).expect("modal");
        assert_eq!(m["type"], 9);
        assert_eq!(m["data"]["custom_id"], "/delete-request object DR-1");
        assert_eq!(
            m["data"]["components"][0]["components"][0]["custom_id"],
            "reason"
        );
    }
}

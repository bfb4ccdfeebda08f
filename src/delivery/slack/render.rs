//! A [`Message`] as a Slack Block Kit payload: one `section` (mrkdwn) per
//! paragraph, an `actions` block with the buttons, a `text` fallback for
//! notifications, and the `shipmate_outbox` metadata that lets a resend
//! after a crash find the copy already posted. Slack's limits (3000
//! characters per section, 50 blocks, about 12,000 characters of block
//! text, 25 buttons, 75-character labels) are respected by splitting or
//! capping ([`pages`]), never by failing: a message read whole goes in
//! parts, each one payload, the buttons on the last; a living message
//! keeps to one payload and notes what it left out.

use chrono_tz::Tz;
use serde::Serialize;

use crate::app::Message;
use crate::delivery::Shape;
use crate::delivery::buttons::button_ids;
use crate::delivery::pages;
use crate::delivery::wire::cap;
use crate::domain::Platform;

/// Event type of the metadata attached to every message we post.
pub const METADATA_EVENT: &str = "shipmate_outbox";

const FALLBACK_MAX: usize = 4000;
const MAX_BUTTONS: usize = 25;
const LABEL_MAX: usize = 75;
const VALUE_MAX: usize = 2000;

/// `chat.postMessage` / `chat.update` body.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub channel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<&'a str>,
    pub text: String,
    pub blocks: Vec<Block>,
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfurl_links: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfurl_media: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Section { text: TextObject },
    Actions { elements: Vec<ButtonElement> },
}

#[derive(Debug, Serialize)]
pub struct TextObject {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    emoji: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ButtonElement {
    #[serde(rename = "type")]
    kind: &'static str,
    text: TextObject,
    action_id: String,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    event_type: &'static str,
    event_payload: EventPayload,
}

#[derive(Debug, Serialize)]
struct EventPayload {
    outbox_id: i64,
    /// Which part of a message sent in parts (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<i64>,
    /// Where the next part starts, when there is one: a restart that finds
    /// this part posted goes on from there.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<usize>,
}

/// The payload for a message already passed through `mentions::for_platform`,
/// and where its next part starts when it goes on in further messages.
/// `edit` is the `ts` of the message to replace, if any; `budget` is the
/// most block text it may hold ([`pages::SLACK_PAGE_TEXT`], less on a retry
/// after Slack refused a message for its size); `shape` says whether it is
/// one summarised message or which part of a message read whole. A part
/// carries the message's buttons only when it is the last.
pub fn payload<'a>(
    channel: &'a str,
    edit: Option<&'a str>,
    outbox_id: i64,
    message: &Message,
    tz: Tz,
    budget: usize,
    shape: Shape,
) -> (Payload<'a>, Option<usize>) {
    let markup = message.markup(Platform::Slack, tz);
    let (sections, next, part, partial) = match shape {
        Shape::Summarised => (sections(&markup, budget), None, None, false),
        Shape::Part { index, offset } => {
            let part = pages::part_at(&markup, offset, |m: &str| pages::slack_paged(m, budget));
            let partial = index > 0 || offset > 0 || part.next.is_some();
            (part.page, part.next, (index > 0).then_some(index), partial)
        }
    };
    // a part's notification text is that part (not the message's start)
    let fallback = if partial {
        sections.join("\n\n")
    } else {
        markup
    };
    let buttons: &[_] = if next.is_none() {
        &message.buttons
    } else {
        &[]
    };
    let mut blocks: Vec<Block> = sections
        .into_iter()
        .map(|text| Block::Section {
            text: TextObject {
                kind: "mrkdwn",
                text,
                emoji: None,
            },
        })
        .collect();
    if !buttons.is_empty() {
        let ids = button_ids(outbox_id, buttons, VALUE_MAX);
        let elements = buttons
            .iter()
            .zip(ids)
            .take(MAX_BUTTONS)
            .enumerate()
            .map(|(i, (b, value))| ButtonElement {
                kind: "button",
                text: TextObject {
                    kind: "plain_text",
                    text: cap(&b.label, LABEL_MAX),
                    emoji: Some(true),
                },
                action_id: action_id(i, &b.command),
                value,
                style: b.danger.then_some("danger"),
            })
            .collect();
        blocks.push(Block::Actions { elements });
    }
    let text = if fallback.trim().is_empty() {
        buttons
            .iter()
            .map(|b| b.label.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    } else {
        cap(&fallback, FALLBACK_MAX)
    };
    let payload = Payload {
        channel,
        ts: edit,
        text,
        blocks,
        metadata: Metadata {
            event_type: METADATA_EVENT,
            event_payload: EventPayload {
                outbox_id,
                part,
                next,
            },
        },
        unfurl_links: edit.is_none().then_some(false),
        unfurl_media: edit.is_none().then_some(false),
    };
    (payload, next)
}

/// The message's sections: its first page (Slack's limits), and a last
/// line saying how many lines did not fit. Messages are edited in place, so
/// they stay one message; what builds them keeps long lists summarised.
fn sections(markup: &str, budget: usize) -> Vec<String> {
    let (first, left_out) = pages::first_page_noting_the_rest(
        pages::slack_pages_within(markup, budget),
        |page: &Vec<String>| page.iter().map(|s| s.lines().count()).sum(),
    );
    let mut out = first.unwrap_or_default();
    if left_out > 0 {
        // the note replaces the last section when the page is full
        if out.len() >= pages::SLACK_PAGE_SECTIONS
            || out.iter().map(|s| s.chars().count()).sum::<usize>() + 60 > budget
        {
            out.pop();
        }
        out.push(format!("_… {left_out} more lines not shown_"));
    }
    out
}

/// A stable, readable action id: `shipmate-<index>-<command slug>`.
fn action_id(index: usize, command: &str) -> String {
    let mut slug = String::new();
    for c in command.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 200 {
            break;
        }
    }
    format!("shipmate-{index}-{}", slug.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::Line;

    /// Part `index` (from byte `offset`) of `m` as a new post to `C1` from outbox row `id`.
    fn part(m: &Message, id: i64, index: i64, offset: usize) -> (Payload<'static>, Option<usize>) {
        let shape = Shape::Part { index, offset };
        payload(
            "C1",
            None,
            id,
            m,
            chrono_tz::UTC,
            pages::SLACK_PAGE_TEXT,
            shape,
        )
    }

    #[test]
    fn a_card_becomes_sections_buttons_fallback_and_metadata() {
        let m = Message::new()
            .line(Line::new().bold("DR-1").text(" wants approval"))
            .line(Line::new().text(""))
            .line(Line::new().text("Second paragraph"))
            .button("Approve", "/delete-request approve DR-1".into(), false)
            .button(
                "Object",
                "/delete-request object DR-1 reason:\"…\"".into(),
                true,
            );
        let (p, next) = part(&m, 9, 0, 0);
        assert_eq!(next, None, "one part");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["channel"], "C1");
        assert!(v.get("ts").is_none());
        assert_eq!(v["text"], "*DR-1* wants approval\n\nSecond paragraph");
        assert_eq!(
            v["blocks"][0],
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "*DR-1* wants approval"}})
        );
        assert_eq!(v["blocks"][1]["text"]["text"], "Second paragraph");
        let buttons = &v["blocks"][2];
        assert_eq!(buttons["type"], "actions");
        assert_eq!(
            buttons["elements"][0],
            json!({"type": "button", "text": {"type": "plain_text", "text": "Approve", "emoji": true},
                   "action_id": "shipmate-0-delete-request-approve-dr-1",
                   "value": "/delete-request approve DR-1"})
        );
        assert_eq!(buttons["elements"][1]["style"], "danger");
        assert_eq!(
            v["metadata"],
            json!({"event_type": "shipmate_outbox", "event_payload": {"outbox_id": 9}})
        );
        assert_eq!(v["unfurl_links"], false);
    }

    #[test]
    fn long_text_is_split_within_slack_limits() {
        let line = "word ".repeat(1000);
        let mut m = Message::new();
        for _ in 0..60 {
            m = m.line(Line::new().text(line.clone())).line(Line::new());
        }
        let (p, next) = payload(
            "C1",
            Some("1.2"),
            1,
            &m,
            chrono_tz::UTC,
            pages::SLACK_PAGE_TEXT,
            Shape::Summarised,
        );
        assert_eq!(next, None, "a living message stays one message");
        assert!(p.blocks.len() <= 50);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["ts"], "1.2");
        assert!(v.get("unfurl_links").is_none());
        let mut total = 0;
        for b in v["blocks"].as_array().unwrap() {
            let n = b["text"]["text"].as_str().unwrap().chars().count();
            assert!(n <= 3000);
            total += n;
        }
        assert!(total <= 12_000, "msg_blocks_too_long at {total}");
        let last = v["blocks"].as_array().unwrap().last().unwrap().clone();
        assert!(
            last["text"]["text"]
                .as_str()
                .unwrap()
                .contains("more lines not shown"),
            "{last}"
        );
        assert!(p.text.chars().count() <= 4000);
    }

    #[test]
    fn a_message_read_whole_goes_in_parts_with_its_buttons_on_the_last() {
        let mut m = Message::new();
        for i in 0..300 {
            m = m.line(Line::new().text(format!("task-{i:03} {}", "z".repeat(70))));
        }
        let m = m.button("Approve", "/task done x".into(), false);
        let mut parts = Vec::new();
        let mut at = Some(0);
        while let Some(offset) = at {
            let index = i64::try_from(parts.len()).unwrap();
            let (p, next) = part(&m, 7, index, offset);
            parts.push(serde_json::to_value(&p).unwrap());
            at = next;
        }
        assert!(parts.len() > 1, "{} parts", parts.len());
        let shown: Vec<String> = parts
            .iter()
            .flat_map(|v| v["blocks"].as_array().unwrap().clone())
            .filter_map(|b| b["text"]["text"].as_str().map(String::from))
            .collect();
        let shown = shown.join("\n");
        let order: Vec<usize> = (0..300)
            .map(|i| shown.find(&format!("task-{i:03}")).expect("every line"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(!shown.contains("not shown"));
        for (i, v) in parts.iter().enumerate() {
            let total: usize = v["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"]["text"].as_str())
                .map(|t| t.chars().count())
                .sum();
            assert!(total <= 12_000, "part {i}: {total}");
            assert!(v["text"].as_str().unwrap().chars().count() <= 4000);
            let part = &v["metadata"]["event_payload"]["part"];
            if i == 0 {
                assert!(part.is_null(), "{v}");
            } else {
                assert_eq!(part, i);
            }
            let has_buttons = v["blocks"].to_string().contains("\"actions\"");
            assert_eq!(
                has_buttons,
                i == parts.len() - 1,
                "buttons on the last part only"
            );
        }
    }
}

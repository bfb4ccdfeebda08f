//! A [`Message`] as a Discord message body: the text as an embed, the
//! buttons as action rows, and the mentions repeated in `content` (Discord
//! only pings for mentions in `content`, never in embeds) with
//! `allowed_mentions` listing exactly those users and roles, so nothing
//! else (no `@everyone`, no pasted `<@id>`) ever pings. Discord's limits
//! (4096-character description, 2000-character content, 5×5 buttons,
//! 80-character labels, 100-character `custom_id`) are applied by paging
//! ([`pages`]: a message read whole goes in parts, one embed each; a living
//! message too long says how many lines it left out) or capping.

use chrono_tz::Tz;
use serde::Serialize;

use crate::app::Message;
use crate::delivery::Shape;
use crate::delivery::buttons::button_ids;
use crate::delivery::mentions::DiscordMentions;
use crate::delivery::pages;
use crate::delivery::wire::cap;
use crate::domain::Platform;

const DESCRIPTION_MAX: usize = 4096;
const CONTENT_MAX: usize = 2000;
const MENTIONS_MAX: usize = 100;
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const LABEL_MAX: usize = 80;
const CUSTOM_ID_MAX: usize = 100;
const EMBED_COLOUR: u32 = 0x5865F2;

/// Body of `POST /channels/{id}/messages` and `PATCH …/messages/{id}`.
#[derive(Debug, Serialize)]
pub struct Body {
    content: String,
    embeds: Vec<Embed>,
    components: Vec<ActionRow>,
    allowed_mentions: AllowedMentions,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enforce_nonce: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Embed {
    description: String,
    color: u32,
}

#[derive(Debug, Serialize)]
struct ActionRow {
    #[serde(rename = "type")]
    kind: u8,
    components: Vec<ButtonComponent>,
}

#[derive(Debug, Serialize)]
struct ButtonComponent {
    #[serde(rename = "type")]
    kind: u8,
    style: u8,
    label: String,
    custom_id: String,
}

#[derive(Debug, Serialize)]
struct AllowedMentions {
    parse: [&'static str; 0],
    users: Vec<String>,
    roles: Vec<String>,
    replied_user: bool,
}

/// The embed's description: the first page of the text, and how many lines
/// did not fit (what builds messages keeps long lists summarised).
fn description(markup: &str) -> String {
    const NOTE_ROOM: usize = 40;
    let pages = pages::text_pages(markup, DESCRIPTION_MAX - NOTE_ROOM);
    let (first, left_out) =
        pages::first_page_noting_the_rest(pages, |page: &String| page.lines().count());
    let mut text = first.unwrap_or_default();
    if left_out > 0 {
        text.push_str(&format!("\n*… {left_out} more lines not shown*"));
    }
    cap(&text, DESCRIPTION_MAX)
}

/// The body for a message already passed through `mentions::for_platform`,
/// and where its next part starts when it goes on in further messages.
/// A new message (`edit == false`) carries the outbox id as its nonce (a
/// later part: `<id>.<part>`). A message read whole ([`Shape::Part`]) goes
/// in parts: the mentions (pings) with the first, the buttons with the last.
pub fn body(
    outbox_id: i64,
    message: &Message,
    edit: bool,
    tz: Tz,
    shape: Shape,
) -> (Body, Option<usize>) {
    let markup = message.markup(Platform::Discord, tz);
    let (description, next, index) = match shape {
        Shape::Summarised => (description(&markup), None, 0),
        Shape::Part { index, offset } => {
            let part = pages::part_at(&markup, offset, |m: &str| {
                pages::text_paged(m, DESCRIPTION_MAX)
            });
            (part.page, part.next, index)
        }
    };
    let mut mentions = if index == 0 {
        DiscordMentions::of(message)
    } else {
        DiscordMentions::default()
    };
    mentions.users.truncate(MENTIONS_MAX);
    mentions.roles.truncate(MENTIONS_MAX);
    let tokens = mentions
        .users
        .iter()
        .map(|id| format!("<@{id}>"))
        .chain(mentions.roles.iter().map(|id| format!("<@&{id}>")));
    let mut content = String::new();
    for token in tokens {
        if content.len() + token.len() + 1 > CONTENT_MAX {
            break;
        }
        if !content.is_empty() {
            content.push(' ');
        }
        content.push_str(&token);
    }
    let buttons: &[_] = if next.is_none() {
        &message.buttons
    } else {
        &[]
    };
    let ids = button_ids(outbox_id, buttons, CUSTOM_ID_MAX);
    let buttons: Vec<ButtonComponent> = buttons
        .iter()
        .zip(ids)
        .take(BUTTONS_PER_ROW * MAX_ROWS)
        .map(|(b, custom_id)| ButtonComponent {
            kind: 2,
            style: if b.danger { 4 } else { 1 },
            label: cap(&b.label, LABEL_MAX),
            custom_id,
        })
        .collect();
    let mut components = Vec::new();
    let mut buttons = buttons.into_iter().peekable();
    while buttons.peek().is_some() {
        components.push(ActionRow {
            kind: 1,
            components: buttons.by_ref().take(BUTTONS_PER_ROW).collect(),
        });
    }
    let nonce = match index {
        0 => outbox_id.to_string(),
        n => format!("{outbox_id}.{n}"),
    };
    let body = Body {
        content,
        embeds: if description.trim().is_empty() {
            Vec::new()
        } else {
            vec![Embed {
                description,
                color: EMBED_COLOUR,
            }]
        },
        components,
        allowed_mentions: AllowedMentions {
            parse: [],
            users: mentions.users,
            roles: mentions.roles,
            replied_user: false,
        },
        nonce: (!edit).then_some(nonce),
        enforce_nonce: (!edit).then_some(true),
    };
    (body, next)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::Line;
    use crate::domain::Role;

    const FIRST: Shape = Shape::Part {
        index: 0,
        offset: 0,
    };

    #[test]
    fn a_card_becomes_an_embed_with_buttons_and_only_its_own_pings() {
        let mut m = Message::new().line(
            Line::new()
                .text("@everyone <@999> asked ")
                .user(&"discord:111".parse().unwrap())
                .text(" ")
                .role(
                    Role::DATA_STEWARD,
                    vec![
                        "discord-role:42".parse().unwrap(),
                        "slack:U1".parse().unwrap(),
                    ],
                ),
        );
        for i in 0..7 {
            m = m.button(&format!("B{i}"), format!("/task done t{i}"), i == 6);
        }
        let v = serde_json::to_value(body(12, &m, false, chrono_tz::UTC, FIRST).0).unwrap();
        assert_eq!(
            v["embeds"][0]["description"],
            "@everyone <@999> asked <@111> <@&42>"
        );
        assert_eq!(v["content"], "<@111> <@&42>");
        assert_eq!(
            v["allowed_mentions"],
            json!({"parse": [], "users": ["111"], "roles": ["42"], "replied_user": false})
        );
        assert_eq!(v["nonce"], "12");
        assert_eq!(v["enforce_nonce"], true);
        let rows = v["components"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(
            rows[0]["components"][0],
            json!({"type": 2, "style": 1, "label": "B0", "custom_id": "/task done t0"})
        );
        assert_eq!(rows[1]["components"][1]["style"], 4);

        let edit =
            serde_json::to_value(body(13, &Message::text("x"), true, chrono_tz::UTC, FIRST).0)
                .unwrap();
        assert!(edit.get("nonce").is_none() && edit.get("enforce_nonce").is_none());
        assert_eq!(edit["components"], json!([]), "an edit clears old buttons");
    }

    #[test]
    fn long_text_is_capped_to_discord_limits() {
        let m = Message::text("x".repeat(5000));
        let v =
            serde_json::to_value(body(1, &m, false, chrono_tz::UTC, Shape::Summarised).0).unwrap();
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert!(d.chars().count() <= 4096);
        assert!(d.ends_with("*… 1 more lines not shown*"), "{d}");

        let mut m = Message::new();
        for i in 0..200 {
            m = m.line(crate::app::Line::new().text(format!("line {i:03} {}", "y".repeat(40))));
        }
        let v =
            serde_json::to_value(body(1, &m, false, chrono_tz::UTC, Shape::Summarised).0).unwrap();
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert!(d.chars().count() <= 4096);
        assert!(
            d.starts_with("line 000") && d.contains("more lines not shown"),
            "{d}"
        );
    }

    #[test]
    fn a_message_read_whole_goes_in_parts_pinging_once_with_buttons_last() {
        let mut m = Message::new().line(
            Line::new()
                .text("for ")
                .user(&"discord:111".parse().unwrap()),
        );
        for i in 0..300 {
            m = m.line(Line::new().text(format!("task-{i:03} {}", "q".repeat(60))));
        }
        let m = m.button("Ack", "/task done x".into(), false);
        let mut parts = Vec::new();
        let mut at = Some(0);
        while let Some(offset) = at {
            let index = i64::try_from(parts.len()).unwrap();
            let (b, next) = body(5, &m, false, chrono_tz::UTC, Shape::Part { index, offset });
            parts.push(serde_json::to_value(b).unwrap());
            at = next;
        }
        assert!(parts.len() > 1);
        let shown: String = parts
            .iter()
            .map(|v| v["embeds"][0]["description"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let order: Vec<usize> = (0..300)
            .map(|i| shown.find(&format!("task-{i:03}")).expect("every line"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "in order");
        let last = parts.len() - 1;
        for (i, v) in parts.iter().enumerate() {
            assert!(
                v["embeds"][0]["description"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .count()
                    <= 4096
            );
            assert_eq!(
                v["content"] == "<@111>",
                i == 0,
                "pinged once: {}",
                v["content"]
            );
            assert_eq!(v["components"].as_array().unwrap().is_empty(), i != last);
            let nonce = if i == 0 {
                "5".to_string()
            } else {
                format!("5.{i}")
            };
            assert_eq!(v["nonce"], nonce);
        }
    }
}

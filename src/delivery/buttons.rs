//! What a button carries back when it is clicked: the command text itself
//! (`/delete-request approve DR-1`) when it fits the platform's limit
//! (Discord `custom_id` 100 characters, Slack `value` 2000), otherwise a
//! short reference `ref:<outbox id>:<button index>` into the durable outbox
//! row that holds the message. [`command_for`] turns either form back into
//! the command, for the inbound interaction handlers.

use sqlx::SqliteConnection;

use crate::app::Message;
use crate::app::message::Button;
use crate::store;

const REF_PREFIX: &str = "ref:";

/// One id per button, each at most `max_len` characters and unique in the message.
pub fn button_ids(outbox_id: i64, buttons: &[Button], max_len: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(buttons.len());
    for (i, b) in buttons.iter().enumerate() {
        let direct = b.command.starts_with('/')
            && b.command.chars().count() <= max_len
            && !ids.contains(&b.command);
        ids.push(if direct {
            b.command.clone()
        } else {
            format!("{REF_PREFIX}{outbox_id}:{i}")
        });
    }
    ids
}

/// The command a clicked button's id stands for; `None` when it names nothing we sent.
pub async fn command_for(conn: &mut SqliteConnection, id: &str) -> anyhow::Result<Option<String>> {
    if id.starts_with('/') {
        return Ok(Some(id.to_string()));
    }
    let Some((outbox_id, index)) = id
        .strip_prefix(REF_PREFIX)
        .and_then(|r| r.split_once(':'))
        .and_then(|(o, i)| Some((o.parse::<i64>().ok()?, i.parse::<usize>().ok()?)))
    else {
        return Ok(None);
    };
    let Some(body) = store::outbox::body_of(conn, outbox_id).await? else {
        return Ok(None);
    };
    let message: Message = serde_json::from_str(&body)?;
    Ok(message.buttons.get(index).map(|b| b.command.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(command: &str) -> Button {
        Button {
            label: "Go".into(),
            command: command.into(),
            danger: false,
        }
    }

    #[test]
    fn short_commands_travel_as_themselves_and_long_or_repeated_ones_by_reference() {
        let long = format!("/delete-request object DR-1 reason:\"{}\"", "x".repeat(90));
        let ids = button_ids(7, &[button("/a b"), button(&long), button("/a b")], 100);
        assert_eq!(ids, ["/a b", "ref:7:1", "ref:7:2"]);
        assert!(ids.iter().all(|id| id.len() <= 100));
    }

    #[tokio::test]
    async fn references_resolve_through_the_stored_outbox_row() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = store::Db::open(&url).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        let long = format!("/incident resolve INC-1 resolution:\"{}\"", "y".repeat(120));
        let message = Message::new().button("Resolve", long.clone(), false);
        let body = serde_json::to_string(&message).unwrap();
        let id = store::outbox::enqueue(&mut conn, "discord:1", &body, None, chrono::Utc::now())
            .await
            .unwrap();
        let ids = button_ids(id, &message.buttons, 100);
        assert_eq!(command_for(&mut conn, &ids[0]).await.unwrap(), Some(long));
        assert_eq!(
            command_for(&mut conn, "/sms status")
                .await
                .unwrap()
                .as_deref(),
            Some("/sms status")
        );
        for unknown in [
            format!("ref:{id}:5"),
            "ref:999:0".into(),
            "ref:x".into(),
            "hi".into(),
        ] {
            assert_eq!(
                command_for(&mut conn, &unknown).await.unwrap(),
                None,
                "{unknown}"
            );
        }
    }
}

//! `POST /webhooks/mail`: mail to the address partners are given for
//! incidents, posted by an inbound-mail relay (the use-cases are
//! `app::incident::by_mail`). Authenticated by `webhooks.mail.token` as
//! `Authorization: Bearer <token>`, or as the password of HTTP Basic (for
//! relays that take credentials in the webhook URL), compared in constant
//! time. Two bodies are read, both JSON:
//!
//! - shipmate's own: `{"from", "to", "subject", "text", "message_id",
//!   "in_reply_to", "references", "attachments"}` (`from` and `message_id`
//!   required; no other field; `attachments` a list of `{"name",
//!   "content_type", "size"}`);
//! - Postmark's inbound webhook: `FromFull.Email`, `Subject`, `TextBody`,
//!   the `Message-ID`, `In-Reply-To` and `References` entries of `Headers`
//!   (Postmark's own `MessageID` when the mail had none), and `Attachments`
//!   (`Name`, `ContentType`, `ContentLength`);
//!
//! and one `multipart/form-data` body: SendGrid's Inbound Parse (`from`,
//! `subject`, `text`, and `Message-ID`, `In-Reply-To` and `References` from
//! the raw `headers` field; its file parts are the attachments).
//!
//! Attachments are named in what the team reads (name, type, size); their
//! content is not kept.
//!
//! | outcome | status |
//! |---|---|
//! | no token, or the wrong one (or none configured) | 401, nothing stored |
//! | body over `http.max_body_bytes` | 413 (the router's limit) |
//! | `Content-Type` neither JSON nor `multipart/form-data` | 415 |
//! | malformed, a missing or unknown field, a sender that is no address | 400 naming it |
//! | handled (after the commit) | 200 `{"outcome": "opened"/"added", "incident": "INC-n"}` or `{"outcome": "held", "mail": n}` |
//! | the same `Message-ID` again (a relay's retry) | 200 with the first outcome, `"replayed": true` |

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use crate::app::incident::by_mail::{self, Attachment, Mail, Outcome};
use crate::app::{App, CommandError};
use crate::ci::auth::{authorization_token, token_ok};
use crate::domain::valid_email;
use crate::settings::bare_address;

/// The fields of shipmate's own body.
pub const FIELDS: [&str; 8] = [
    "from",
    "to",
    "subject",
    "text",
    "message_id",
    "in_reply_to",
    "references",
    "attachments",
];

pub fn routes(app: App) -> Router {
    Router::new()
        .route("/webhooks/mail", post(receive))
        .with_state(app)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn receive(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let given = authorization_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    if !token_ok(
        app.config.settings.webhooks.mail.token.expose(),
        given.as_deref(),
    ) {
        metrics::counter!("shipmate_http_unauthorized_total").increment(1);
        tracing::warn!("inbound mail refused: no or wrong token");
        return error(
            StatusCode::UNAUTHORIZED,
            "Authorization: send webhooks.mail.token as `Authorization: Bearer <token>` (or as the Basic password)",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_string();
    let media = content_type.to_ascii_lowercase();
    let parsed = if media.starts_with("application/json") {
        parse(&body)
    } else if media.starts_with("multipart/form-data") {
        sendgrid(&content_type, body).await
    } else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: send the mail as application/json (or SendGrid's multipart/form-data)",
        );
    };
    let mail = match parsed {
        Ok(mail) => mail,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match by_mail::receive(&app, mail).await {
        Ok((outcome, replayed)) => {
            let kind = match outcome {
                Outcome::Opened(_) => "opened",
                Outcome::Added(_) => "added",
                Outcome::Held(_) => "held",
            };
            metrics::counter!("shipmate_inbound_mail_total", "outcome" => kind, "replayed" => if replayed { "true" } else { "false" })
                .increment(1);
            let mut body = match outcome {
                Outcome::Opened(id) => json!({"outcome": "opened", "incident": id.to_string()}),
                Outcome::Added(id) => json!({"outcome": "added", "incident": id.to_string()}),
                Outcome::Held(n) => json!({"outcome": "held", "mail": n}),
            };
            if replayed {
                body["replayed"] = json!(true);
            }
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(CommandError::User(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(CommandError::Internal(e)) => {
            tracing::error!(error = format!("{e:#}"), "inbound mail failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the mail could not be stored: try again",
            )
        }
    }
}

/// The ids in an `In-Reply-To` or `References` value (`<a@b> <c@d>`).
fn ids(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{name}: must be a string")),
    }
}

/// The value of header `name` in a raw header block (folded lines joined).
fn raw_header(block: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in block.lines() {
        match (&mut found, line.starts_with([' ', '\t'])) {
            (Some(value), true) => {
                value.push(' ');
                value.push_str(line.trim());
            }
            (Some(_), false) => break,
            (None, _) => {
                if let Some((n, v)) = line.split_once(':')
                    && n.trim().eq_ignore_ascii_case(name)
                {
                    found = Some(v.trim().to_string());
                }
            }
        }
    }
    found
}

/// SendGrid's Inbound Parse form: every problem names its field.
async fn sendgrid(content_type: &str, body: Bytes) -> Result<Mail, String> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| format!("Content-Type: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut attachments = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| format!("malformed multipart body: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(file) = field.file_name().map(str::to_string) {
            let content_type = field.content_type().map(|m| m.essence_str().to_string());
            let bytes = field
                .bytes()
                .await
                .map_err(|e| format!("{name}: cannot be read: {e}"))?;
            attachments.push(Attachment {
                name: file,
                content_type,
                size: Some(bytes.len() as u64),
            });
            continue;
        }
        if !matches!(name.as_str(), "from" | "subject" | "text" | "headers") {
            continue;
        }
        let value = field
            .text()
            .await
            .map_err(|e| format!("{name}: cannot be read: {e}"))?;
        fields.push((name, value));
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let from = get("from").ok_or("from: missing: the sender")?;
    let headers = get("headers").ok_or("headers: missing: the mail's raw headers")?;
    let mut replies_to = ids(&raw_header(headers, "In-Reply-To").unwrap_or_default());
    replies_to.extend(ids(&raw_header(headers, "References").unwrap_or_default()));
    let mail = Mail {
        from: bare_address(from).to_ascii_lowercase(),
        subject: get("subject").unwrap_or_default().to_string(),
        text: get("text").unwrap_or_default().to_string(),
        message_id: raw_header(headers, "Message-ID").ok_or("headers: no Message-ID")?,
        replies_to,
        attachments,
    };
    checked(mail)
}

/// Reads either JSON body into a [`Mail`]; every problem names its field.
pub fn parse(body: &[u8]) -> Result<Mail, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON payload: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(
            "the body must be a JSON object: {\"from\": \"…\", \"message_id\": \"…\", …}".into(),
        );
    };
    let mail = if fields.contains_key("FromFull") {
        postmark(&fields)?
    } else {
        own(&fields)?
    };
    checked(mail)
}

/// Refuses a sender that is no address and a missing or huge `Message-ID`.
fn checked(mail: Mail) -> Result<Mail, String> {
    if !valid_email(&mail.from) {
        return Err(format!("from: `{}` is not an e-mail address", mail.from));
    }
    if mail.message_id.trim().is_empty() || mail.message_id.len() > 998 {
        return Err("message_id: required, the mail's Message-ID".into());
    }
    Ok(mail)
}

fn own(fields: &Map<String, Value>) -> Result<Mail, String> {
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown field: the fields are {} (or post Postmark's inbound JSON)",
            FIELDS.join(", ")
        ));
    }
    let from = string(fields, "from")?.ok_or("from: missing: the sender's address")?;
    let mut replies_to = ids(string(fields, "in_reply_to")?.unwrap_or_default());
    replies_to.extend(ids(string(fields, "references")?.unwrap_or_default()));
    Ok(Mail {
        from: bare_address(from).to_ascii_lowercase(),
        subject: string(fields, "subject")?.unwrap_or_default().to_string(),
        text: string(fields, "text")?.unwrap_or_default().to_string(),
        message_id: string(fields, "message_id")?
            .ok_or("message_id: missing: the mail's Message-ID")?
            .to_string(),
        replies_to,
        attachments: attachments(fields, "attachments", ["name", "content_type", "size"])?,
    })
}

/// Postmark's inbound webhook body.
fn postmark(fields: &Map<String, Value>) -> Result<Mail, String> {
    let from = fields
        .get("FromFull")
        .and_then(|f| f.get("Email"))
        .and_then(Value::as_str)
        .ok_or("FromFull.Email: missing: the sender's address")?;
    let headers: Vec<(String, String)> = match fields.get("Headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|h| {
                let name = h.get("Name").and_then(Value::as_str);
                let value = h.get("Value").and_then(Value::as_str);
                name.zip(value)
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                    .ok_or("Headers: each entry is {\"Name\": …, \"Value\": …}".to_string())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("Headers: must be a list of {\"Name\", \"Value\"}".into()),
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut replies_to = ids(header("in-reply-to").unwrap_or_default());
    replies_to.extend(ids(header("references").unwrap_or_default()));
    let message_id = match header("message-id") {
        Some(id) => id.trim().to_string(),
        None => string(fields, "MessageID")?
            .ok_or("MessageID: missing")?
            .to_string(),
    };
    Ok(Mail {
        from: from.trim().to_ascii_lowercase(),
        subject: string(fields, "Subject")?.unwrap_or_default().to_string(),
        text: string(fields, "TextBody")?.unwrap_or_default().to_string(),
        message_id,
        replies_to,
        attachments: attachments(
            fields,
            "Attachments",
            ["Name", "ContentType", "ContentLength"],
        )?,
    })
}

/// The list of attachments at `key`: objects with a name, a content type
/// and a size in bytes under the names `keys` gives.
fn attachments(
    fields: &Map<String, Value>,
    key: &str,
    [name, kind, size]: [&str; 3],
) -> Result<Vec<Attachment>, String> {
    let list = match fields.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(format!("{key}: must be a list of {{\"{name}\": …}}")),
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let at = |field: &str| format!("{key}[{i}].{field}");
            let Value::Object(item) = item else {
                return Err(format!("{key}[{i}]: must be an object {{\"{name}\": …}}"));
            };
            let file = string(item, name)
                .map_err(|_| format!("{}: must be a string", at(name)))?
                .ok_or_else(|| format!("{}: missing: the file's name", at(name)))?;
            let content_type = string(item, kind)
                .map_err(|_| format!("{}: must be a string", at(kind)))?
                .map(str::to_string);
            let size = match item.get(size) {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| format!("{}: must be a number of bytes", at(size)))?,
                ),
            };
            Ok(Attachment {
                name: file.to_string(),
                content_type,
                size,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_header_is_found_in_any_case_with_its_folded_lines() {
        let block = "From: a@b.example\nreferences: <r1@x>\n <r2@x>\n\t<r3@x>\nMessage-ID: <m@x>\n";
        assert_eq!(
            raw_header(block, "References").as_deref(),
            Some("<r1@x> <r2@x> <r3@x>")
        );
        assert_eq!(raw_header(block, "message-id").as_deref(), Some("<m@x>"));
        assert_eq!(raw_header(block, "In-Reply-To"), None);
        assert_eq!(ids("<r1@x> <r2@x>,<r3@x>"), ["<r1@x>", "<r2@x>", "<r3@x>"]);
    }
}

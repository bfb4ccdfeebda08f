//! A generic signed outbound webhook (Jenkins and the like): `POST url`
//! with the request as JSON, signed and made idempotent:
//!
//! - `X-Shipmate-Timestamp`: Unix seconds when it was sent;
//! - `X-Shipmate-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with
//!   the target's `secret`, of `{timestamp}.{body}`;
//! - `Idempotency-Key`: `shipmate-DEP-n`, the same on every attempt: the
//!   receiver starts one run per key and answers a repeat with that run.
//!
//! A 2xx answer started it (a JSON body `{"run_id": "…", "url": "…"}` names
//! the run, which the generic inbound webhook then reports); a 4xx refused
//! it (its body is the reason); a 5xx or no answer is unanswered.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::provider_message;
use crate::domain::deploy::{Outcome, RunLink};
use crate::domain::pipeline::Source;
use crate::settings::Secret;

/// The headers the receiver checks.
pub const TIMESTAMP: &str = "X-Shipmate-Timestamp";
pub const SIGNATURE: &str = "X-Shipmate-Signature";
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `sha256=<hex>` of `{timestamp}.{body}` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // any key length is valid for HMAC
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Deserialize)]
struct Answer {
    run_id: Option<serde_json::Value>,
    url: Option<String>,
}

/// Posts `body` once, signed at `now`, under `key`.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    key: &str,
    body: &serde_json::Value,
    now: DateTime<Utc>,
) -> Outcome {
    let body = body.to_string();
    let timestamp = now.timestamp();
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP, timestamp.to_string())
        .header(
            SIGNATURE,
            signature(secret.expose(), timestamp, body.as_bytes()),
        )
        .header(IDEMPOTENCY_KEY, key)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Unanswered(super::no_answer("the webhook", e));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        let run = serde_json::from_str::<Answer>(&text).ok().and_then(|a| {
            let id = match a.run_id? {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Some(RunLink {
                source: Source::Generic,
                id,
                attempt: 1,
                url: a.url,
            })
        });
        return Outcome::Started(run);
    }
    let reason = format!(
        "the webhook answered HTTP {}: {}",
        status.as_u16(),
        provider_message(&text, "/message")
    );
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Outcome::Unanswered(reason)
    } else {
        Outcome::Refused(reason)
    }
}

//! The Discord transport: `POST {api}/channels/{id}/messages` for new
//! messages and `PATCH …/messages/{message_id}` for edits, with
//! `Authorization: Bot <token>`. Rate limits: our own per-channel quota,
//! plus Discord's bucket headers (`X-RateLimit-Remaining: 0` holds the next
//! send to that channel for `X-RateLimit-Reset-After`) and 429's
//! `retry_after`. 5xx and network errors are retried; 401/403/404 and other
//! client errors park the message.
//!
//! Restart idempotency: a new message carries the outbox id as `nonce`
//! (a later part of a message read whole: `<id>.<part>`) with
//! `enforce_nonce`, so Discord answers a resend of a message it already
//! created (within its nonce window) with that message instead of a
//! duplicate. The parts after the first reply to the first.

mod render;

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::limits::ChannelLimiter;
use super::wire::{bucket_exhausted, request_failed, retry_after, seconds};
use super::{Delivered, DeliveryError, DeliveryFuture, Outbound, Transport, mentions};
use crate::domain::Platform;
use crate::settings::{Config, Directory, Secret};

/// Posts to Discord.
pub struct DiscordTransport {
    http: reqwest::Client,
    base: String,
    token: Secret,
    tz: Tz,
    directory: Arc<Directory>,
    limiter: Arc<ChannelLimiter>,
}

impl DiscordTransport {
    /// `limiter`: the platform's per-channel pace, shared with command replies.
    pub fn new(http: reqwest::Client, config: &Config, limiter: Arc<ChannelLimiter>) -> Self {
        Self {
            http,
            base: config
                .settings
                .discord
                .api_base_url
                .trim_end_matches('/')
                .to_string(),
            token: config.settings.discord.bot_token.clone(),
            tz: config.tz,
            directory: Arc::new(config.directory.clone()),
            limiter,
        }
    }

    async fn send(&self, item: &Outbound) -> Result<Delivered, DeliveryError> {
        let channel = item.channel.id.as_str();
        let message = mentions::for_platform(&item.message, Platform::Discord, &self.directory);
        let (body, next_part) = render::body(
            item.outbox_id,
            &message,
            item.edit_of.is_some(),
            self.tz,
            item.shape,
        );
        let mut body = serde_json::to_value(body)
            .map_err(|e| DeliveryError::Permanent(format!("discord payload: {e}")))?;
        if let (None, Some(parent), Some(fields)) =
            (&item.edit_of, &item.reply_to, body.as_object_mut())
        {
            fields.insert(
                "message_reference".into(),
                serde_json::json!({ "message_id": parent, "fail_if_not_exists": false }),
            );
        }
        let messages = format!("{}/channels/{channel}/messages", self.base);
        let (what, request) = match &item.edit_of {
            Some(id) => ("discord edit", self.http.patch(format!("{messages}/{id}"))),
            None => ("discord post", self.http.post(messages)),
        };
        self.limiter.acquire(channel).await;
        let response = request
            .header("Authorization", format!("Bot {}", self.token.expose()))
            .json(&body)
            .send()
            .await
            .map_err(|e| request_failed(what, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            // the bucket is empty until it resets: the next send waits for it
            // (a 429 instead pauses the channel in the outbox, on the app's clock)
            if let Some(wait) = bucket_exhausted(&headers) {
                self.limiter.block_for(channel, wait);
            }
            let created: Created = response.json().await.map_err(|e| DeliveryError::Retry {
                after: None,
                reason: format!("{what}: unreadable answer: {e}"),
            })?;
            return Ok(Delivered {
                platform_message_id: Some(created.id),
                next_part,
            });
        }
        let error: ErrorBody = response.json().await.unwrap_or_default();
        Err(classify(what, status.as_u16(), &headers, &error))
    }
}

impl Transport for DiscordTransport {
    fn deliver<'a>(&'a self, item: &'a Outbound) -> DeliveryFuture<'a> {
        Box::pin(self.send(item))
    }
}

fn classify(what: &str, status: u16, headers: &HeaderMap, error: &ErrorBody) -> DeliveryError {
    let reason = match (&error.message, error.code) {
        (Some(m), Some(c)) => format!("{what}: HTTP {status}: {m} (code {c})"),
        (Some(m), None) => format!("{what}: HTTP {status}: {m}"),
        _ => format!("{what}: HTTP {status}"),
    };
    match status {
        429 => DeliveryError::RateLimited {
            after: error
                .retry_after
                .and_then(seconds)
                .or_else(|| retry_after(headers))
                .unwrap_or(Duration::from_secs(1)),
            reason,
        },
        408 | 500..=599 => DeliveryError::Retry {
            after: retry_after(headers),
            reason,
        },
        _ => DeliveryError::Permanent(reason),
    }
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    retry_after: Option<f64>,
}

/// The body of `message` (mentions already resolved) as a new message from
/// outbox row 1 (see `delivery::preview`).
pub(super) fn preview(message: &crate::app::Message, tz: chrono_tz::Tz) -> render::Body {
    let first = super::Shape::Part {
        index: 0,
        offset: 0,
    };
    render::body(1, message, false, tz, first).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retry_or_park() {
        let h = HeaderMap::new();
        let limited = ErrorBody {
            retry_after: Some(0.5),
            ..ErrorBody::default()
        };
        assert!(matches!(
            classify("x", 429, &h, &limited),
            DeliveryError::RateLimited { after, .. } if after == Duration::from_millis(500)
        ));
        for s in [500, 502, 503] {
            assert!(matches!(
                classify("x", s, &h, &ErrorBody::default()),
                DeliveryError::Retry { .. }
            ));
        }
        let unknown = ErrorBody {
            message: Some("Unknown Channel".into()),
            code: Some(10003),
            retry_after: None,
        };
        match classify("discord post", 404, &h, &unknown) {
            DeliveryError::Permanent(r) => {
                assert_eq!(r, "discord post: HTTP 404: Unknown Channel (code 10003)")
            }
            other => panic!("{other:?}"),
        }
        for s in [400, 401, 403] {
            assert!(matches!(
                classify("x", s, &h, &ErrorBody::default()),
                DeliveryError::Permanent(_)
            ));
        }
    }

    #[test]
    fn an_empty_bucket_holds_the_channel() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "0.75".parse().unwrap());
        assert_eq!(bucket_exhausted(&h), Some(Duration::from_millis(750)));
        h.insert("x-ratelimit-remaining", "3".parse().unwrap());
        assert_eq!(bucket_exhausted(&h), None);
    }
}

//! The Slack transport: `chat.postMessage` for new messages, `chat.update`
//! when the outbox says to edit, over the Web API at `slack.api_base_url`
//! with the bot token as a bearer token. Slack answers failures as HTTP 200
//! with `{"ok":false,"error":…}`; those, 429 and 5xx are mapped onto
//! retry-or-park here. The platform message id we record is the `ts` (the
//! channel is known from the outbox row, so edits have both).
//!
//! A message read whole goes in parts (see `Shape`): the parts after the
//! first are replies in the first one's thread.
//!
//! Restart idempotency: every post carries `shipmate_outbox` metadata with
//! the outbox id (and, for a later part, its number and where the part after
//! it starts); a post that was tried or leased before first looks in
//! `conversations.history` (a thread reply: in its thread,
//! `conversations.replies`) for a copy that an earlier, interrupted attempt
//! already delivered.

mod render;

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use reqwest::RequestBuilder;
use serde::Deserialize;

use super::limits::ChannelLimiter;
use super::pages;
use super::wire::{request_failed, retry_after};
use super::{Delivered, DeliveryError, DeliveryFuture, Outbound, Shape, Transport, mentions};
use crate::domain::Platform;
use crate::settings::{Config, Directory, Secret};

/// How far before the row's creation the resend check looks (clock skew margin).
const HISTORY_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// How many recent messages the resend check reads.
const HISTORY_LIMIT: &str = "100";

/// Posts to Slack.
pub struct SlackTransport {
    http: reqwest::Client,
    base: String,
    token: Secret,
    tz: Tz,
    directory: Arc<Directory>,
    limiter: Arc<ChannelLimiter>,
}

impl SlackTransport {
    /// `limiter`: the platform's per-channel pace, shared with command replies.
    pub fn new(http: reqwest::Client, config: &Config, limiter: Arc<ChannelLimiter>) -> Self {
        Self {
            http,
            base: config
                .settings
                .slack
                .api_base_url
                .trim_end_matches('/')
                .to_string(),
            token: config.settings.slack.bot_token.clone(),
            tz: config.tz,
            directory: Arc::new(config.directory.clone()),
            limiter,
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.base)
    }

    async fn send(&self, item: &Outbound) -> Result<Delivered, DeliveryError> {
        let channel = item.channel.id.as_str();
        let message = mentions::for_platform(&item.message, Platform::Slack, &self.directory);
        if item.edit_of.is_none()
            && item.maybe_sent_before
            && let Some((ts, next_part)) = self.already_posted(item).await?
        {
            // a part found posted: the message goes on where that part ended
            tracing::info!(outbox = item.outbox_id, %ts, "found the copy an earlier attempt posted; not posting again");
            return Ok(Delivered {
                platform_message_id: Some(ts),
                next_part,
            });
        }
        let (payload, next_part) = render::payload(
            channel,
            item.edit_of.as_deref(),
            item.outbox_id,
            &message,
            self.tz,
            budget(item.attempts),
            item.shape,
        );
        let mut body = serde_json::to_value(payload)
            .map_err(|e| DeliveryError::Permanent(format!("slack payload: {e}")))?;
        if let (None, Some(parent), Some(fields)) =
            (&item.edit_of, &item.reply_to, body.as_object_mut())
        {
            fields.insert(
                "thread_ts".into(),
                serde_json::Value::String(parent.clone()),
            );
        }
        let method = match item.edit_of {
            Some(_) => "chat.update",
            None => "chat.postMessage",
        };
        self.limiter.acquire(channel).await;
        let answer = self
            .call(method, self.http.post(self.url(method)).json(&body))
            .await?;
        let ts =
            answer
                .ts
                .or_else(|| item.edit_of.clone())
                .ok_or_else(|| DeliveryError::Retry {
                    after: None,
                    reason: format!("slack {method} answered ok without a ts"),
                })?;
        Ok(Delivered {
            platform_message_id: Some(ts),
            next_part,
        })
    }

    /// The `ts` of a message carrying this outbox id (and part), if an
    /// earlier attempt posted it, and where the part after it starts.
    async fn already_posted(
        &self,
        item: &Outbound,
    ) -> Result<Option<(String, Option<usize>)>, DeliveryError> {
        let oldest = item.created_at - HISTORY_MARGIN;
        let oldest = format!(
            "{}.{:06}",
            oldest.timestamp(),
            oldest.timestamp_subsec_micros()
        );
        // a thread reply is listed only among its thread's replies, not in channel history
        let (method, thread) = match item.reply_to.as_deref() {
            Some(parent) => ("conversations.replies", Some(("ts", parent))),
            None => ("conversations.history", None),
        };
        let mut query = vec![
            ("channel", item.channel.id.as_str()),
            ("oldest", oldest.as_str()),
            ("limit", HISTORY_LIMIT),
            ("include_all_metadata", "true"),
        ];
        query.extend(thread);
        let request = self.http.get(self.url(method)).query(&query);
        match self.call(method, request).await {
            Ok(answer) => Ok(answer
                .messages
                .into_iter()
                .find(|m| m.carries(item.outbox_id, part_index(item.shape)))
                .map(|m| {
                    let next = match item.shape {
                        Shape::Part { .. } => m.next_part(),
                        Shape::Summarised => None,
                    };
                    (m.ts, next)
                })),
            Err(DeliveryError::Permanent(reason)) => {
                tracing::warn!(outbox = item.outbox_id, %reason, "cannot check Slack for an earlier copy; posting again may duplicate it");
                Ok(None)
            }
            Err(retry) => Err(retry),
        }
    }

    /// Sends one Web API call and classifies the answer.
    async fn call(&self, method: &str, request: RequestBuilder) -> Result<Answer, DeliveryError> {
        let what = format!("slack {method}");
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| request_failed(&what, &e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        if status.as_u16() == 429 {
            return Err(DeliveryError::RateLimited {
                after: wait.unwrap_or(Duration::from_secs(1)),
                reason: format!("{what}: rate limited (HTTP 429)"),
            });
        }
        if status.is_server_error() || status.as_u16() == 408 {
            return Err(DeliveryError::Retry {
                after: wait,
                reason: format!("{what}: HTTP {status}"),
            });
        }
        if !status.is_success() {
            return Err(DeliveryError::Permanent(format!("{what}: HTTP {status}")));
        }
        let answer: Answer = response.json().await.map_err(|e| DeliveryError::Retry {
            after: None,
            reason: format!("{what}: unreadable answer: {e}"),
        })?;
        if answer.ok {
            return Ok(answer);
        }
        let error = answer.error.unwrap_or_else(|| "unknown_error".into());
        Err(classify(&what, &error, wait))
    }
}

/// The block text a message may hold on its `attempts`-th retry: Slack's
/// size rule is not published exactly, so a message it refused for size
/// (`msg_blocks_too_long`) is tried again smaller, never parked for it.
fn budget(attempts: i64) -> usize {
    let halvings = u32::try_from(attempts.clamp(0, 3)).unwrap_or(3);
    pages::SLACK_PAGE_TEXT >> halvings
}

/// `ok:false` errors that go away by themselves (or, for size, on a
/// smaller retry); every other one never will.
fn classify(what: &str, error: &str, wait: Option<Duration>) -> DeliveryError {
    let reason = format!("{what}: {error}");
    match error {
        "ratelimited" | "rate_limited" => DeliveryError::RateLimited {
            after: wait.unwrap_or(Duration::from_secs(1)),
            reason,
        },
        "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "msg_blocks_too_long" => DeliveryError::Retry {
            after: wait,
            reason,
        },
        _ => DeliveryError::Permanent(reason),
    }
}

impl Transport for SlackTransport {
    fn deliver<'a>(&'a self, item: &'a Outbound) -> DeliveryFuture<'a> {
        Box::pin(self.send(item))
    }
}

/// The parts of a Web API answer we read.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    messages: Vec<HistoryMessage>,
}

#[derive(Debug, Deserialize)]
struct HistoryMessage {
    ts: String,
    #[serde(default)]
    metadata: Option<HistoryMetadata>,
}

#[derive(Debug, Deserialize)]
struct HistoryMetadata {
    event_type: String,
    #[serde(default)]
    event_payload: serde_json::Value,
}

/// Which part of its message an item is (0: the first, or the only one).
fn part_index(shape: Shape) -> i64 {
    match shape {
        Shape::Part { index, .. } => index,
        Shape::Summarised => 0,
    }
}

/// A metadata number, sent as a number and read back as one or as a string.
fn number(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl HistoryMessage {
    /// Whether this is part `part` of outbox row `outbox_id` (no part: the first).
    fn carries(&self, outbox_id: i64, part: i64) -> bool {
        self.metadata.as_ref().is_some_and(|m| {
            m.event_type == render::METADATA_EVENT
                && number(&m.event_payload["outbox_id"]) == Some(outbox_id)
                && number(&m.event_payload["part"]).unwrap_or(0) == part
        })
    }

    /// Where the part after this one starts, as its metadata says.
    fn next_part(&self) -> Option<usize> {
        self.metadata
            .as_ref()
            .and_then(|m| number(&m.event_payload["next"]))
            .and_then(|n| usize::try_from(n).ok())
    }
}

/// The `chat.postMessage` body of `message` (mentions already resolved) to
/// channel `C0`, as outbox row 1 (see `delivery::preview`).
pub(super) fn preview(message: &crate::app::Message, tz: Tz) -> render::Payload<'static> {
    let first = Shape::Part {
        index: 0,
        offset: 0,
    };
    render::payload("C0", None, 1, message, tz, pages::SLACK_PAGE_TEXT, first).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_that_heal_are_retried_and_the_rest_parked() {
        assert!(matches!(
            classify("x", "ratelimited", None),
            DeliveryError::RateLimited { .. }
        ));
        for e in [
            "internal_error",
            "service_unavailable",
            "msg_blocks_too_long",
        ] {
            assert!(
                matches!(classify("x", e, None), DeliveryError::Retry { .. }),
                "{e}"
            );
        }
        for e in [
            "channel_not_found",
            "not_in_channel",
            "invalid_auth",
            "account_inactive",
            "message_not_found",
            "is_archived",
        ] {
            assert!(
                matches!(classify("x", e, None), DeliveryError::Permanent(_)),
                "{e}"
            );
        }
    }

    #[test]
    fn history_matches_our_metadata_only() {
        let m: HistoryMessage = serde_json::from_str(
            r#"{"ts":"1.2","metadata":{"event_type":"shipmate_outbox","event_payload":{"outbox_id":"7"}}}"#,
        )
        .unwrap();
        assert!(m.carries(7, 0) && !m.carries(8, 0) && !m.carries(7, 1));
        let part: HistoryMessage = serde_json::from_str(
            r#"{"ts":"1.4","metadata":{"event_type":"shipmate_outbox","event_payload":{"outbox_id":7,"part":2}}}"#,
        )
        .unwrap();
        assert!(part.carries(7, 2) && !part.carries(7, 0) && !part.carries(7, 1));
        assert_eq!(part.next_part(), None, "the last part");
        let middle: HistoryMessage = serde_json::from_str(
            r#"{"ts":"1.5","metadata":{"event_type":"shipmate_outbox","event_payload":{"outbox_id":7,"part":1,"next":4000}}}"#,
        )
        .unwrap();
        assert_eq!(middle.next_part(), Some(4000));
        let other: HistoryMessage = serde_json::from_str(
            r#"{"ts":"1.3","metadata":{"event_type":"deploy","event_payload":{"outbox_id":7}}}"#,
        )
        .unwrap();
        assert!(!other.carries(7, 0));
    }
}

//! Per-channel outgoing rate limits: a keyed `governor` limiter (our own
//! quota, e.g. Slack's one message per second per channel) plus a
//! "blocked until" time per channel that the platform itself can impose
//! (Discord's `X-RateLimit-Remaining: 0` / `X-RateLimit-Reset-After`).
//! A transport awaits [`ChannelLimiter::acquire`] before every send, so a
//! burst is spread out instead of being answered with 429.
//!
//! One limiter per platform ([`Pace`]) is shared by the outbox transports
//! and the continuations of long command replies (`platform::slack`,
//! `platform::discord`), so the two together keep a channel's pace.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::settings::{ChannelRate, Config};

/// The per-channel limiters of the chat platforms, one each, shared by
/// everything that posts to a channel.
#[derive(Clone)]
pub struct Pace {
    pub slack: Arc<ChannelLimiter>,
    pub discord: Arc<ChannelLimiter>,
}

impl Pace {
    /// Limiters at the configured rates (`slack.per_channel_*`, `discord.per_channel_*`).
    pub fn new(config: &Config) -> Self {
        Self {
            slack: Arc::new(ChannelLimiter::new(config.slack_rate)),
            discord: Arc::new(ChannelLimiter::new(config.discord_rate)),
        }
    }
}

/// Waits for a channel's turn to send.
pub struct ChannelLimiter {
    quota: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl ChannelLimiter {
    pub fn new(rate: ChannelRate) -> Self {
        Self {
            quota: RateLimiter::keyed(quota(rate)),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Resolves when a message may be sent to `channel` now.
    pub async fn acquire(&self, channel: &str) {
        let until = self
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .copied();
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        self.quota.until_key_ready(&channel.to_string()).await;
    }

    /// Counts a message sent to `channel` without waiting for its turn (a
    /// reply answered inside the platform's deadline): what follows it waits.
    pub fn count(&self, channel: &str) {
        // a channel already at its limit stays there: nothing more to count
        let _ = self.quota.check_key(&channel.to_string());
    }

    /// Holds back the next send to `channel` for `wait` (the platform asked for it).
    pub fn block_for(&self, channel: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, t| *t > Instant::now());
        let entry = blocked.entry(channel.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

/// `limit` messages per `window`: a burst of `limit`, refilled one every `window / limit`.
fn quota(rate: ChannelRate) -> Quota {
    let burst = NonZeroU32::new(rate.limit).unwrap_or(NonZeroU32::MIN);
    let period = rate.window / burst.get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_follow_the_configured_rate() {
        let slack = quota(ChannelRate {
            limit: 1,
            window: Duration::from_secs(1),
        });
        assert_eq!(slack.burst_size().get(), 1);
        assert_eq!(slack.replenish_interval(), Duration::from_secs(1));
        let discord = quota(ChannelRate {
            limit: 5,
            window: Duration::from_secs(5),
        });
        assert_eq!(discord.burst_size().get(), 5);
        assert_eq!(discord.replenish_interval(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn channels_wait_for_their_own_turn_only() {
        let limiter = ChannelLimiter::new(ChannelRate {
            limit: 1,
            window: Duration::from_millis(200),
        });
        let start = std::time::Instant::now();
        limiter.acquire("C1").await;
        limiter.acquire("C2").await;
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "first sends are free"
        );
        limiter.acquire("C1").await;
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "second send to C1 waits"
        );

        limiter.block_for("C3", Duration::from_millis(150));
        let blocked = std::time::Instant::now();
        limiter.acquire("C3").await;
        assert!(
            blocked.elapsed() >= Duration::from_millis(140),
            "platform block honoured"
        );
    }
}

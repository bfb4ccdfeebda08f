//! `[sms]`: where SMS-credit notices go, who records the balance, when the
//! renewal reminder fires, and the optional balance poller.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Secret, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    /// Records the balance, and is reminded to renew.
    role: Option<String>,
    reminder_cron: String,
    warn_days: u32,
    min_balance: u64,
    window: String,
    #[serde(default)]
    balance_url: String,
    #[serde(default)]
    balance_pointer: String,
    #[serde(default)]
    balance_token: Secret,
    /// How often the poller reads `balance_url` (cron with seconds, in `timezone`).
    poll_cron: String,
}

/// SMS credit rules.
#[derive(Debug, Clone)]
pub struct SmsRules {
    pub channels: Vec<ChannelRef>,
    /// `sms.role`.
    pub role: Role,
    pub reminder_cron: String,
    /// Warn when the forecast runs out within this many days…
    pub warn_days: u32,
    /// …or the balance is below this.
    pub min_balance: u64,
    /// The history a forecast reads.
    pub window: TimeDelta,
    /// The balance poller, when `sms.balance_url` is set.
    pub poll: Option<BalancePoll>,
}

/// Where and when the balance is polled.
#[derive(Debug, Clone)]
pub struct BalancePoll {
    pub url: String,
    /// A JSON pointer to the number (empty: the whole body is the number).
    pub pointer: String,
    pub token: Secret,
    pub cron: String,
}

impl Section for SmsRules {
    const NAME: &'static str = "sms";
    type Raw = SmsSettings;

    fn check(s: SmsSettings, c: &mut Check<'_>) -> Self {
        let channels = c.channels("channels", &s.channels);
        c.cron("reminder_cron", &s.reminder_cron);
        let window = c.duration("window", &s.window);
        if s.warn_days == 0 {
            c.problem("warn_days", "must be at least 1");
        }
        let url = s.balance_url.trim();
        let poll = !url.is_empty();
        if poll {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => c.problem("balance_url", format!("`{url}` is not an http(s) URL")),
            }
            c.cron("poll_cron", &s.poll_cron);
        }
        let pointer = s.balance_pointer.trim();
        if poll && !(pointer.is_empty() || pointer.starts_with('/')) {
            c.problem(
                "balance_pointer",
                format!(
                    "`{pointer}` is not a JSON pointer: start it with /, e.g. /data/balance (empty: the whole body is the number)"
                ),
            );
        }
        if !poll && !s.balance_token.is_empty() {
            c.problem(
                "balance_token",
                "is set but sms.balance_url is empty: set the URL too, or drop the token",
            );
        }
        SmsRules {
            channels,
            role: c.role("role", s.role.as_deref(), Role::DEVOPS),
            reminder_cron: s.reminder_cron,
            warn_days: s.warn_days,
            min_balance: s.min_balance,
            window: window.unwrap_or(TimeDelta::days(30)),
            poll: poll.then(|| BalancePoll {
                url: url.to_string(),
                pointer: pointer.to_string(),
                token: s.balance_token,
                cron: s.poll_cron,
            }),
        }
    }
}

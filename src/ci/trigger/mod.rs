//! Outbound calls that start CI runs for deploy requests: one module per
//! provider, each turning the provider's answer into a domain
//! [`Outcome`](crate::domain::deploy::Outcome) — started (with the run when
//! the provider names it), refused (with the provider's reason: nothing
//! ran), or unanswered (it may have run: the caller looks at the provider's
//! runs before any new call). Provider types stay in these modules.

pub mod aws;
pub mod generic;
pub mod github;
pub mod gitlab;

use std::time::Duration;

/// Timeout of one trigger call: an attempt's lease outlasts it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The client the trigger calls use.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("shipmate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A provider's error body, reduced to its message and kept short (it is posted to chat).
pub fn provider_message(body: &str, pointer: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer(pointer)
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().to_string());
    let mut short: String = message.chars().take(300).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    short
}

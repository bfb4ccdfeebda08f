//! HTTP plumbing shared by the Slack and Discord transports: the one
//! reqwest client, how transport errors and `Retry-After` map onto
//! [`DeliveryError`], Discord's bucket headers, and length caps that respect character boundaries.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::DeliveryError;

/// Timeout for one platform API call.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client every platform transport shares.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("shipmate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A request that never got an answer: retried, except for a request we could not even build.
pub fn request_failed(what: &str, e: &reqwest::Error) -> DeliveryError {
    let reason = format!("{what}: {e}");
    if e.is_builder() {
        DeliveryError::Permanent(reason)
    } else {
        DeliveryError::Retry {
            after: None,
            reason,
        }
    }
}

/// Seconds as a duration, for the platforms' (possibly fractional) wait hints.
pub fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3600.0)))
}

/// A header holding seconds, e.g. `Retry-After: 1` or `X-RateLimit-Reset-After: 0.25`.
pub fn header_seconds(headers: &HeaderMap, name: &str) -> Option<Duration> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(seconds)
}

/// The `Retry-After` header in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_seconds(headers, RETRY_AFTER.as_str())
}

/// How long a Discord rate-limit bucket is empty for, when the answer says
/// it is (`X-RateLimit-Remaining: 0`, `X-RateLimit-Reset-After`): the next
/// request to it waits that long.
pub fn bucket_exhausted(headers: &HeaderMap) -> Option<Duration> {
    let remaining = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())?;
    (remaining.trim() == "0")
        .then(|| header_seconds(headers, "x-ratelimit-reset-after"))
        .flatten()
}

/// `s` cut to at most `max` characters, marked with `…` when cut.
pub fn cap(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_and_caps() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "0.25".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        assert_eq!(
            header_seconds(&h, "x-ratelimit-reset-after"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(seconds(-1.0), None);
        assert_eq!(cap("héllo", 5), "héllo");
        assert_eq!(cap("héllo wörld", 5), "héll…");
    }
}

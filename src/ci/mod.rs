//! Provider payloads → domain [`RunEvent`]s, at the edge and after the
//! signature check. Provider types stay in this module: the rest of the app
//! sees only [`Delivery`].
//!
//! - [`github`]: `workflow_run`, `workflow_job`, `check_suite`, `deployment`, `deployment_status`, `ping`.
//! - [`gitlab`]: Pipeline, Job and Deployment hooks.
//! - [`aws`]: CodePipeline and CodeBuild state changes, as EventBridge events or inside SNS.
//! - [`sns`]: the SNS envelope and its message signatures.
//! - [`generic`]: shipmate's own schema (`config/generic-webhook.schema.json`).
//! - [`auth`]: constant-time signature and token checks.

pub mod auth;
pub mod aws;
pub mod generic;
pub mod github;
pub mod gitlab;
pub mod sns;
pub mod trigger;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::domain::pipeline::{RunEvent, Source};

/// What one accepted request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// A pipeline event to fold into its run.
    Event(Box<RunEvent>),
    /// A valid event shipmate does not track (ping, push…): acknowledged and recorded.
    Ignored,
}

/// One authenticated, parsed delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub source: Source,
    /// The provider's delivery id (dedup key).
    pub id: String,
    /// The provider's event name, e.g. `workflow_run` or `Pipeline Hook`.
    pub kind: String,
    pub intake: Intake,
}

/// Why a payload was refused with 400: names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl Malformed {
    pub fn json(e: &serde_json::Error) -> Self {
        Self(format!("malformed JSON payload: {e}"))
    }
}

/// Reads a JSON payload, naming the problem when it does not fit.
pub fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Malformed> {
    serde_json::from_slice(body).map_err(|e| Malformed::json(&e))
}

/// Hex SHA-256 of a body: the dedup key of deliveries without an id.
pub fn digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Reads the time formats providers use: RFC 3339, `2016-08-12 15:23:28 UTC`,
/// `2021-04-28 21:50:00 +0200`, CodeBuild's `Sep 1, 2017 4:12:29 PM` (UTC).
pub fn time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S %z") {
        return Some(t.with_timezone(&Utc));
    }
    let naive = s
        .strip_suffix(" UTC")
        .and_then(|r| NaiveDateTime::parse_from_str(r, "%Y-%m-%d %H:%M:%S").ok())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%b %e, %Y %l:%M:%S %p").ok())?;
    Some(Utc.from_utc_datetime(&naive))
}

/// An optional time field.
pub fn opt_time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(time)
}

/// A non-empty string, or `None`.
pub fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_time_format_is_read() {
        for (s, want) in [
            ("2020-10-05T16:33:24Z", "2020-10-05T16:33:24+00:00"),
            ("2016-08-12 15:23:28 UTC", "2016-08-12T15:23:28+00:00"),
            ("2021-04-28 21:50:00 +0200", "2021-04-28T19:50:00+00:00"),
            ("Sep 1, 2017 4:12:29 PM", "2017-09-01T16:12:29+00:00"),
            ("2021-02-23T02:41:37.886Z", "2021-02-23T02:41:37.886+00:00"),
        ] {
            assert_eq!(
                time(s).map(|t| t.to_rfc3339()).as_deref(),
                Some(want),
                "{s}"
            );
        }
        assert_eq!(time("yesterday"), None);
    }
}

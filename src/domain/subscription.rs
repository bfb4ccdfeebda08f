//! Subscriptions by e-mail, as a status page has them: an address asks for
//! some notices (topics), receives nothing but a confirmation mail until its
//! owner confirms (double opt-in), and can leave at any time.
//!
//! ```text
//! subscribe ─▶ pending ──(owner confirms)──▶ confirmed ──(unsubscribe, or an admin removes it)──▶ gone
//!                 └──(unsubscribe, or an admin removes it)──▶ gone
//! ```

use super::{DomainError, valid_email};
use crate::text_enum;

text_enum!(
    /// Which notices a subscriber receives.
    Topic, "topic" {
        /// Downtime announcements and their updates.
        Downtime = "downtime",
        /// Release notes and end-of-service-life notices.
        Releases = "releases",
    }
);

text_enum!(
    /// Where a subscription stands.
    SubscriptionState, "subscription state" {
        Pending = "pending",
        Confirmed = "confirmed",
    }
);

/// The longest address a subscription takes.
pub const MAX_ADDRESS: usize = 254;

/// A subscription request's address, lower-cased, or why it is refused.
pub fn parse_address(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    if s.len() > MAX_ADDRESS || !valid_email(s) {
        return Err(DomainError::invalid(format!(
            "email: `{}` is not an e-mail address: write it as name@example.com",
            s.chars().take(80).collect::<String>()
        )));
    }
    Ok(s.to_ascii_lowercase())
}

/// The topics asked for (each once, in order); none given: every topic.
pub fn parse_topics<'a>(
    given: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Topic>, DomainError> {
    let mut topics = Vec::new();
    for name in given
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let topic: Topic = name
            .parse()
            .map_err(|e: DomainError| DomainError::invalid(format!("topics: {e}")))?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        topics = Topic::ALL.to_vec();
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lower_cased() {
        assert_eq!(
            parse_address(" Reader@Lab.Example ").unwrap(),
            "reader@lab.example"
        );
        for bad in [
            "reader",
            "a@b",
            "<a@b.example>",
            "a@b.example\r\nBcc: c@d.example",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topics_default_to_all_and_unknown_ones_are_named() {
        assert_eq!(parse_topics([]).unwrap(), Topic::ALL.to_vec());
        assert_eq!(
            parse_topics(["releases,downtime", "releases"]).unwrap(),
            [Topic::Releases, Topic::Downtime]
        );
        let e = parse_topics(["weather"]).unwrap_err().to_string();
        assert!(e.contains("topics:") && e.contains("weather"), "{e}");
    }
}

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

/// Why a call got no answer, in words that name the cause (`connection
/// refused`, a DNS failure, the timeout) rather than reqwest's outermost
/// "error sending request"; never the URL (it may carry a token).
pub fn no_answer(who: &str, e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer from {who} within {}s", CALL_TIMEOUT.as_secs());
    }
    let e = e.without_url();
    let mut cause: Option<String> = None;
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        cause = Some(inner.to_string());
        source = inner.source();
    }
    match cause {
        Some(cause) if !e.to_string().contains(&cause) => {
            format!("no answer from {who}: {e} ({cause})")
        }
        _ => format!("no answer from {who}: {e}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_answer_names_the_cause_and_not_the_url() {
        // a port nothing listens on: the connection is refused
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
        let e = client()
            .expect("a client")
            .post(&url)
            .send()
            .await
            .expect_err("nothing listens");

        let said = no_answer("the webhook", e);

        assert!(said.starts_with("no answer from the webhook: "), "{said}");
        assert!(said.to_lowercase().contains("refused"), "{said}");
        assert!(
            !said.contains("s3cret") && !said.contains("/hook"),
            "{said}"
        );
    }
}

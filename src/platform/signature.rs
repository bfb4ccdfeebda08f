//! Request signatures of the chat platforms, checked against a given `now`
//! (so recorded vectors verify at their own timestamp): Slack's v0
//! HMAC-SHA256 and Discord's Ed25519. Both reject timestamps more than
//! [`MAX_SKEW_SECS`] away from `now`.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request timestamp may be from our clock (5 minutes).
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was not accepted as signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("the request timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the request timestamp is more than 5 minutes from now (replayed or clock skew)")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
    #[error("no key is configured to check signatures with ({0})")]
    NotConfigured(&'static str),
}

fn fresh(timestamp: &str, now: i64) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Checks `X-Slack-Signature` (`v0=<hex>`) over `v0:{timestamp}:{body}`.
pub fn verify_slack(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NotConfigured("slack.signing_secret"));
    }
    let timestamp = timestamp.ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
    let signature = signature.ok_or(SignatureError::Missing("X-Slack-Signature"))?;
    fresh(timestamp, now)?;
    let expected = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| SignatureError::NotConfigured("slack.signing_secret"))?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    // constant-time comparison
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Signs like Slack does (for tests and tools): `v0=<hex>`.
pub fn sign_slack(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Signature-Ed25519` over `timestamp + body` with the application's public key (hex).
pub fn verify_discord(
    public_key_hex: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let key: [u8; 32] = hex::decode(public_key_hex.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(SignatureError::NotConfigured("discord.public_key"))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| SignatureError::NotConfigured("discord.public_key"))?;
    let timestamp = timestamp.ok_or(SignatureError::Missing("X-Signature-Timestamp"))?;
    let signature = signature.ok_or(SignatureError::Missing("X-Signature-Ed25519"))?;
    fresh(timestamp, now)?;
    let signature: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(SignatureError::Mismatch)?;
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify(&message, &Signature::from_bytes(&signature))
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_signature_round_trip_and_skew() {
        let sig = sign_slack("s3cret", "1000", b"a=b");
        assert_eq!(
            verify_slack("s3cret", Some("1000"), Some(&sig), b"a=b", 1000),
            Ok(())
        );
        assert_eq!(
            verify_slack("s3cret", Some("1000"), Some(&sig), b"a=b", 1300),
            Ok(())
        );
        assert_eq!(
            verify_slack("s3cret", Some("1000"), Some(&sig), b"a=b", 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack("s3cret", Some("1000"), Some(&sig), b"a=b", 699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack("other", Some("1000"), Some(&sig), b"a=b", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack("", Some("1000"), Some(&sig), b"a=b", 1000),
            Err(SignatureError::NotConfigured("slack.signing_secret"))
        );
        assert_eq!(
            verify_slack("s3cret", None, Some(&sig), b"a=b", 1000),
            Err(SignatureError::Missing("X-Slack-Request-Timestamp"))
        );
        assert_eq!(
            verify_slack("s3cret", Some("1000"), Some("v0=zz"), b"a=b", 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn discord_rejects_a_bad_key_in_config() {
        assert_eq!(
            verify_discord("abc", Some("1"), Some("00"), b"{}", 1),
            Err(SignatureError::NotConfigured("discord.public_key"))
        );
    }
}

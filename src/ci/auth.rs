//! Constant-time checks of webhook credentials: GitHub's
//! `X-Hub-Signature-256` (HMAC-SHA256 of the raw body) and the shared tokens
//! of GitLab (`X-Gitlab-Token`), AWS and generic senders (`Authorization`).
//! An empty configured secret never matches anything.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn github_signature_ok(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(sig) else {
        return false;
    };
    if secret.is_empty() {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The `sha256=<hex>` header value for `body` (tests, benches, and senders).
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `given` equals the configured token, without leaking where they differ
/// (both are hashed first so even their lengths are compared in constant time).
pub fn token_ok(configured: &str, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    if configured.is_empty() {
        return false;
    }
    let a = Sha256::digest(configured.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

/// The token of `Authorization: Bearer <token>`, or the password of HTTP Basic.
pub fn authorization_token(header: Option<&str>) -> Option<String> {
    let header = header?.trim();
    let (scheme, value) = header.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(value.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_both_carry_the_token() {
        assert_eq!(
            authorization_token(Some("Bearer abc")).as_deref(),
            Some("abc")
        );
        // "sns:abc" in base64
        assert_eq!(
            authorization_token(Some("Basic c25zOmFiYw==")).as_deref(),
            Some("abc")
        );
        assert_eq!(authorization_token(Some("Token abc")), None);
        assert_eq!(authorization_token(None), None);
    }

    #[test]
    fn tokens_must_match_exactly_and_empty_config_matches_nothing() {
        assert!(token_ok("s3cret", Some("s3cret")));
        assert!(!token_ok("s3cret", Some("S3cret")));
        assert!(!token_ok("s3cret", Some("")));
        assert!(!token_ok("", Some("")));
        assert!(!token_ok("s3cret", None));
    }

    #[test]
    fn a_signature_is_checked_against_the_raw_body() {
        let sig = github_signature("k", b"body");
        assert!(github_signature_ok("k", b"body", Some(&sig)));
        assert!(!github_signature_ok("k", b"body!", Some(&sig)));
        assert!(!github_signature_ok("", b"body", Some(&sig)));
        assert!(!github_signature_ok("k", b"body", Some("sha1=00")));
        assert!(!github_signature_ok("k", b"body", None));
    }
}

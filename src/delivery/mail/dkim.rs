//! DKIM signatures on outgoing mail (RFC 6376; Ed25519 keys, RFC 8463),
//! signed by `lettre` with the key of `mail.dkim_private_key`. The
//! signature covers what a receiver must trust: the sender, recipients,
//! subject, date, the thread (`Message-ID`, `In-Reply-To`, `References`)
//! and the one-click unsubscribe, whose `List-Unsubscribe` and
//! `List-Unsubscribe-Post` RFC 8058 requires to be signed. Headers are
//! listed whether present or not, so none can be added in transit.
//! Canonicalization is relaxed for headers and body, which survives relays
//! that refold lines.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;

use crate::settings::Secret;

/// The headers every signature covers.
pub const SIGNED: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
];

/// The signing key: an RSA key in PKCS#1 PEM, or an Ed25519 seed in base64.
/// The error says which form was expected and how to make one; it never
/// repeats the key.
pub fn dkim_key(key: &Secret) -> Result<DkimSigningKey, String> {
    let text = key.expose().trim();
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        return Err("is a PKCS#8 key: give the RSA key in PKCS#1 form (`openssl rsa -in key.pem -traditional`), or an Ed25519 seed in base64".into());
    }
    let algorithm = if text.starts_with("-----BEGIN") {
        DkimSigningAlgorithm::Rsa
    } else {
        DkimSigningAlgorithm::Ed25519
    };
    DkimSigningKey::new(text, algorithm).map_err(|_| match algorithm {
        DkimSigningAlgorithm::Rsa => "is not an RSA private key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`, e.g. from `openssl genrsa -traditional 2048`)".to_string(),
        DkimSigningAlgorithm::Ed25519 => "is neither an RSA private key in PEM nor an Ed25519 seed in base64 (32 bytes)".to_string(),
    })
}

/// What signs the mails of `domain` with `key` under `selector`.
pub fn signer(domain: &str, selector: &str, key: &Secret) -> Result<DkimConfig, String> {
    Ok(DkimConfig::new(
        selector.to_string(),
        domain.to_string(),
        dkim_key(key)?,
        SIGNED
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

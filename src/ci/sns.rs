//! Amazon SNS HTTP(S) deliveries: the envelope (`Notification`,
//! `SubscriptionConfirmation`, `UnsubscribeConfirmation`) and its message
//! signature.
//!
//! What [`verify`] checks, when `webhooks.aws.verify_sns` is on:
//! 1. `SigningCertURL` is `https://sns.<region>.amazonaws.com[.cn]/….pem`
//!    (so the certificate can only come from SNS itself, over TLS with the
//!    system's web PKI roots — the trust anchor AWS documents);
//! 2. the certificate (fetched through a [`CertSource`], cached) parses as
//!    X.509 and holds an RSA key;
//! 3. `Signature` is the RSA PKCS#1 v1.5 signature of the canonical string
//!    (SHA-1 for `SignatureVersion` 1, SHA-256 for 2) under that key.
//!
//! The certificate's own chain and validity dates are not re-checked here:
//! the TLS fetch from the SNS host vouches for it. Replays are stopped by
//! the dedup on `MessageId`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};
use serde::Deserialize;

/// The JSON body SNS posts.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Subject")]
    pub subject: Option<String>,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: Option<String>,
    #[serde(rename = "Signature")]
    pub signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: Option<String>,
    #[serde(rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    pub token: Option<String>,
}

impl Envelope {
    /// Whether a JSON object looks like an SNS envelope rather than an EventBridge event.
    pub fn looks_like(value: &serde_json::Value) -> bool {
        value.get("Type").is_some() && value.get("TopicArn").is_some()
    }

    /// The canonical string SNS signs (documented per message type).
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        if self.kind == "Notification" {
            if let Some(subject) = &self.subject {
                fields.push(("Subject", subject));
            }
        } else {
            fields.push((
                "SubscribeURL",
                self.subscribe_url.as_deref().unwrap_or_default(),
            ));
        }
        fields.push(("Timestamp", &self.timestamp));
        if self.kind != "Notification" {
            fields.push(("Token", self.token.as_deref().unwrap_or_default()));
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        fields
            .into_iter()
            .map(|(k, v)| format!("{k}\n{v}\n"))
            .collect()
    }
}

/// Whether a URL is served by SNS itself: `https://sns.<region>.amazonaws.com[.cn]/…`.
pub fn is_sns_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let Some(region) = host.strip_prefix("sns.").and_then(|h| {
        h.strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    }) else {
        return false;
    };
    region.len() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// RSA PKCS#1 v1.5 under SHA-1 or SHA-256, through `ring`.
#[derive(Debug)]
struct RsaPkcs1 {
    params: &'static ring::signature::RsaParameters,
    sha1: bool,
}

// sha1WithRSAEncryption, DER contents of its AlgorithmIdentifier.
const SHA1_WITH_RSA: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
]);

impl SignatureVerificationAlgorithm for RsaPkcs1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.params, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        if self.sha1 {
            SHA1_WITH_RSA
        } else {
            alg_id::RSA_PKCS1_SHA256
        }
    }
}

static SHA1: RsaPkcs1 = RsaPkcs1 {
    params: &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    sha1: true,
};
static SHA256: RsaPkcs1 = RsaPkcs1 {
    params: &ring::signature::RSA_PKCS1_2048_8192_SHA256,
    sha1: false,
};

/// Checks the envelope's signature against the PEM certificate that `SigningCertURL` served.
pub fn verify_with_cert(envelope: &Envelope, cert_pem: &str) -> Result<(), String> {
    let algorithm: &dyn SignatureVerificationAlgorithm = match envelope.signature_version.as_deref()
    {
        Some("1") => &SHA1,
        Some("2") => &SHA256,
        other => return Err(format!("unsupported SignatureVersion {other:?}")),
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(envelope.signature.as_deref().unwrap_or_default())
        .map_err(|e| format!("Signature is not base64: {e}"))?;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| format!("signing certificate is not PEM: {e:?}"))?;
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| format!("signing certificate does not parse: {e}"))?;
    cert.verify_signature(algorithm, envelope.string_to_sign().as_bytes(), &signature)
        .map_err(|e| format!("signature does not verify: {e}"))
}

pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The two things shipmate fetches from SNS: signing certificates and
/// subscription confirmations. Tests inject their own.
pub trait CertSource: Send + Sync {
    /// The PEM served at `url`.
    fn certificate<'a>(&'a self, url: &'a str) -> PortFuture<'a, String>;
    /// GETs a `SubscribeURL`.
    fn confirm<'a>(&'a self, url: &'a str) -> PortFuture<'a, ()>;
}

/// The real one: HTTPS with the web PKI, certificates cached by URL (a
/// failed fetch is not cached, so the redelivery tries again).
pub struct HttpSns {
    client: reqwest::Client,
    cache: Mutex<HashMap<String, String>>,
}

impl Default for HttpSns {
    fn default() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cache: Mutex::default(),
        }
    }
}

impl CertSource for HttpSns {
    fn certificate<'a>(&'a self, url: &'a str) -> PortFuture<'a, String> {
        Box::pin(async move {
            if let Some(pem) = self
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(url)
            {
                return Ok(pem.clone());
            }
            let pem = self
                .client
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("fetching {url}: {e}"))?
                .text()
                .await
                .map_err(|e| format!("reading {url}: {e}"))?;
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(url.to_string(), pem.clone());
            Ok(pem)
        })
    }

    fn confirm<'a>(&'a self, url: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map(|_| ())
                .map_err(|e| format!("confirming the subscription: {e}"))
        })
    }
}

/// Why an envelope was not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unverified {
    /// The envelope is not genuine (or not from SNS): refuse it (401).
    Invalid(String),
    /// The signing certificate could not be fetched: nothing is wrong with
    /// the envelope, so answer 5xx and SNS delivers it again (it never
    /// retries a 4xx).
    Unavailable(String),
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unverified::Invalid(why) | Unverified::Unavailable(why) => f.write_str(why),
        }
    }
}

/// Verifies an envelope end to end: certificate URL, certificate, signature.
pub async fn verify(envelope: &Envelope, certs: &dyn CertSource) -> Result<(), Unverified> {
    let url = envelope
        .signing_cert_url
        .as_deref()
        .ok_or_else(|| Unverified::Invalid("SigningCertURL is missing".into()))?;
    if !is_sns_url(url) || !url.ends_with(".pem") {
        return Err(Unverified::Invalid(format!(
            "SigningCertURL {url} is not an SNS certificate URL"
        )));
    }
    let pem = certs
        .certificate(url)
        .await
        .map_err(Unverified::Unavailable)?;
    verify_with_cert(envelope, &pem).map_err(Unverified::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_are_trusted() {
        assert!(is_sns_url(
            "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3.pem"
        ));
        assert!(is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/x.pem"));
        for bad in [
            "http://sns.us-west-2.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com.evil.com/x.pem",
            "https://evil.com/sns.us-west-2.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://s3.amazonaws.com/x.pem",
        ] {
            assert!(!is_sns_url(bad), "{bad}");
        }
    }
}

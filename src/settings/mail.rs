//! `[mail]`: the SMTP relay shipmate sends e-mail through, its sender, the
//! base URL of the links in mails, and the named lists `email:<name>`
//! channels reach (`[mail.lists.<name>]`). Empty `url`: no e-mail.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Deserialize;

use super::raw::Secret;
use super::validate::Checker;
use crate::domain::valid_email;

/// `[mail]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// lettre's SMTP URL: `smtp://host:587?tls=required`, `smtps://host:465`,
    /// `smtp://127.0.0.1:2525` (a local relay, no TLS). Empty: e-mail is off.
    #[serde(default)]
    pub url: String,
    /// The sender, `shipmate@example.com` or `Shipmate <shipmate@example.com>`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub username: String,
    /// Set it from the environment: `SHIPMATE__MAIL__PASSWORD`.
    #[serde(default)]
    pub password: Secret,
    /// The base of the links in mails (confirmation, unsubscribe).
    #[serde(default)]
    pub public_url: String,
    /// The zone of times in mails to single addresses (default: `timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// DKIM: the selector of the public key published at
    /// `<selector>._domainkey.<sender's domain>` (empty: mails are not signed).
    #[serde(default)]
    pub dkim_selector: String,
    /// DKIM: the private key, an RSA key in PEM (`-----BEGIN RSA PRIVATE
    /// KEY-----`) or an Ed25519 seed in base64. Set it from the environment:
    /// `SHIPMATE__MAIL__DKIM_PRIVATE_KEY`.
    #[serde(default)]
    pub dkim_private_key: Secret,
    #[serde(default)]
    pub lists: BTreeMap<String, MailListSettings>,
}

/// `[mail.lists.<name>]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailListSettings {
    #[serde(default, deserialize_with = "super::list")]
    pub addresses: Vec<String>,
    /// The zone of times in its mails (default: `mail.timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// The checked `[mail]`, when e-mail is on.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub url: String,
    /// The sender as written (checked).
    pub from: String,
    /// The sender's domain: the right side of every `Message-ID`.
    pub domain: String,
    pub username: String,
    pub password: Secret,
    /// Without a trailing `/`.
    pub public_url: String,
    pub tz: Tz,
    pub lists: BTreeMap<String, MailList>,
    /// The DKIM selector and key, when mails are signed.
    pub dkim: Option<(String, Secret)>,
}

/// One named list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailList {
    pub to: Vec<String>,
    pub tz: Tz,
}

/// The address inside `Name <addr>`, or `s` itself.
pub fn bare_address(s: &str) -> &str {
    let s = s.trim();
    match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(open), Some(inner)) => inner[open + 1..].trim(),
        _ => s,
    }
}

/// Whether `url` is plain SMTP (no TLS) to a host other than this machine.
fn plain_to_another_host(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("smtp://") else {
        return false;
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let tls = query
        .split('&')
        .any(|kv| kv == "tls=required" || kv == "tls=opportunistic");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.trim_end_matches('/');
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let local = matches!(host, "localhost" | "[::1]") || host.starts_with("127.");
    !tls && !local
}

fn zone(c: &mut Checker, key: &str, name: Option<&str>, default: Tz) -> Tz {
    match name.map(str::trim) {
        None | Some("") => default,
        Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
            c.problem(
                key,
                format!("unknown time zone `{name}`: use an IANA name such as Europe/Berlin"),
            );
            default
        }),
    }
}

impl MailSettings {
    /// Checks `[mail]`; `None` when `url` is empty (e-mail off).
    pub(super) fn check(&self, c: &mut Checker, default_tz: Tz) -> Option<MailConfig> {
        let tz = zone(c, "mail.timezone", self.timezone.as_deref(), default_tz);
        let mut lists = BTreeMap::new();
        for (name, list) in &self.lists {
            let key = format!("mail.lists.{name}");
            if name.contains('@')
                || format!("email:{name}")
                    .parse::<crate::domain::ChannelRef>()
                    .is_err()
            {
                c.problem(
                    &key,
                    "is not a list name: use letters, digits, - and _, e.g. [mail.lists.partners]",
                );
            }
            if list.addresses.is_empty() {
                c.problem(
                    format!("{key}.addresses"),
                    "is empty: list at least one address",
                );
            }
            for (i, a) in list.addresses.iter().enumerate() {
                if !valid_email(a) {
                    c.problem(format!("{key}.addresses[{i}]"), format!("`{a}` is not an e-mail address: write local@domain, e.g. ops@partner.example"));
                }
            }
            let list_tz = zone(c, &format!("{key}.timezone"), list.timezone.as_deref(), tz);
            lists.insert(
                name.clone(),
                MailList {
                    to: list.addresses.clone(),
                    tz: list_tz,
                },
            );
        }
        let url = self.url.trim();
        if url.is_empty() {
            return None;
        }
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            c.problem("mail.url", format!("`{url}` is not an SMTP URL: write smtp://host:587?tls=required, smtps://host:465 or smtp://127.0.0.1:2525"));
        } else if lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).is_err() {
            c.problem("mail.url", format!("`{url}` is not an SMTP URL lettre understands: write smtp://host:587?tls=required, smtps://host:465 or smtp://127.0.0.1:2525"));
        }
        let from = bare_address(&self.from);
        let domain = match (
            valid_email(from),
            self.from.parse::<lettre::message::Mailbox>(),
        ) {
            (true, Ok(_)) => from
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default(),
            _ if self.from.trim().is_empty() => {
                c.problem(
                    "mail.from",
                    "missing: the sender, e.g. Shipmate <shipmate@example.com>",
                );
                String::new()
            }
            _ => {
                c.problem("mail.from", format!("`{}` is not a sender: write shipmate@example.com or Shipmate <shipmate@example.com>", self.from));
                String::new()
            }
        };
        if !self.username.is_empty() && plain_to_another_host(url) {
            c.problem("mail.url", format!("`{url}` sends the login unencrypted to another machine: write smtp://host:587?tls=required or smtps://host:465 (plain smtp:// only to a relay on this machine)"));
        }
        if !self.username.is_empty() && self.password.is_empty() {
            c.problem(
                "mail.password",
                "is required with mail.username (set SHIPMATE__MAIL__PASSWORD)",
            );
        }
        let dkim = self.dkim(c);
        let public_url = self.public_url.trim().trim_end_matches('/');
        if public_url.is_empty() {
            c.problem("mail.public_url", "missing: the base of the links in mails (confirm, unsubscribe), e.g. https://shipmate.example.com");
        } else if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            c.problem("mail.public_url", format!("`{public_url}` is not an http(s) URL: the links in mails (confirm, unsubscribe) start with it, e.g. https://shipmate.example.com"));
        }
        Some(MailConfig {
            url: url.to_string(),
            from: self.from.trim().to_string(),
            domain,
            username: self.username.clone(),
            password: self.password.clone(),
            public_url: public_url.to_string(),
            tz,
            lists,
            dkim,
        })
    }

    /// The DKIM selector and key, checked: both or neither, a selector DNS
    /// can hold, a key lettre can sign with.
    fn dkim(&self, c: &mut Checker) -> Option<(String, Secret)> {
        let selector = self.dkim_selector.trim();
        match (selector.is_empty(), self.dkim_private_key.is_empty()) {
            (true, true) => return None,
            (false, true) => {
                c.problem(
                    "mail.dkim_private_key",
                    "is required with mail.dkim_selector (set SHIPMATE__MAIL__DKIM_PRIVATE_KEY)",
                );
                return None;
            }
            (true, false) => {
                c.problem(
                    "mail.dkim_selector",
                    "is required with mail.dkim_private_key: the name its public key is published under, e.g. \"shipmate\" for shipmate._domainkey.<domain>",
                );
                return None;
            }
            (false, false) => {}
        }
        let label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        };
        if !selector.split('.').all(label) {
            c.problem(
                "mail.dkim_selector",
                format!(
                    "`{selector}` is not a DNS name: letters, digits, - and _, e.g. \"shipmate\""
                ),
            );
        }
        if let Err(why) = crate::delivery::dkim_key(&self.dkim_private_key) {
            c.problem("mail.dkim_private_key", why);
        }
        Some((selector.to_string(), self.dkim_private_key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::load;

    fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match load(None, Some(env)).unwrap().validate() {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn each_bad_mail_key_is_named_with_the_fix() {
        let p = problems(&[
            ("SHIPMATE__MAIL__URL", "http://mail.example.com"),
            ("SHIPMATE__MAIL__FROM", "shipmate"),
            ("SHIPMATE__MAIL__USERNAME", "shipmate"),
            ("SHIPMATE__MAIL__PUBLIC_URL", "shipmate.example.com"),
            ("SHIPMATE__MAIL__TIMEZONE", "Mars/Olympus"),
            ("SHIPMATE__DOWNTIME__CHANNELS", "email:nobody,email:ops@x"),
            // a list named like a partner, and a partner with no addresses
            (
                "SHIPMATE__MAIL__LISTS__ACME__ADDRESSES",
                "alice@lab.example",
            ),
            ("SHIPMATE__PARTNERS__ACME__EMAILS", "ops@acme.example"),
            ("SHIPMATE__PARTNERS__BETA__CHANNELS", "console:#beta"),
            ("SHIPMATE__VERSIONS__CHANNELS", "email:beta,email:acme"),
        ]);
        let off = problems(&[("SHIPMATE__DOWNTIME__CHANNELS", "email:ops@x.example")]);
        assert_eq!(
            off,
            [
                "downtime.channels[0]: `email:ops@x.example` is an e-mail channel, but e-mail is off: set mail.url (see [mail])"
            ]
        );
        for key in [
            "mail.url: `http://mail.example.com` is not an SMTP URL",
            "mail.from: `shipmate` is not a sender",
            "mail.password: is required with mail.username",
            "mail.public_url: `shipmate.example.com` is not an http(s) URL",
            "mail.timezone: unknown time zone",
            "downtime.channels[0]: `email:nobody` names no mail list",
            "downtime.channels[1]: `email:ops@x` is not a valid email channel id",
            "mail.lists.acme: is named like partner [partners.acme], so `email:acme` could mean either: rename the list",
            "versions.channels[0]: `email:beta` names partner [partners.beta], which has no emails: set partners.beta.emails",
        ] {
            assert!(p.iter().any(|x| x.starts_with(key)), "{key} not in {p:#?}");
        }
        assert!(
            !p.iter().any(|x| x.starts_with("versions.channels[1]")),
            "email:acme is refused once, at the list: {p:#?}"
        );
    }

    #[test]
    fn an_empty_sender_or_public_url_is_missing_with_an_example() {
        let p = problems(&[
            ("SHIPMATE__MAIL__URL", "smtp://127.0.0.1:2525"),
            ("SHIPMATE__MAIL__FROM", " "),
        ]);
        assert_eq!(
            p,
            [
                "mail.from: missing: the sender, e.g. Shipmate <shipmate@example.com>",
                "mail.public_url: missing: the base of the links in mails (confirm, unsubscribe), e.g. https://shipmate.example.com",
            ]
        );
        assert!(p.iter().all(|x| !x.contains("``")), "{p:?}");
    }

    #[test]
    fn a_dkim_key_must_come_with_its_selector_and_be_one_lettre_signs_with() {
        let base = [
            ("SHIPMATE__MAIL__URL", "smtp://127.0.0.1:2525"),
            ("SHIPMATE__MAIL__FROM", "ship@ops.example"),
            ("SHIPMATE__MAIL__PUBLIC_URL", "https://shipmate.example.com"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            problems(&pairs)
        };
        assert_eq!(
            with(&[("SHIPMATE__MAIL__DKIM_SELECTOR", "shipmate")]),
            [
                "mail.dkim_private_key: is required with mail.dkim_selector (set SHIPMATE__MAIL__DKIM_PRIVATE_KEY)"
            ]
        );
        let pkcs8 = with(&[
            ("SHIPMATE__MAIL__DKIM_SELECTOR", "shipmate"),
            (
                "SHIPMATE__MAIL__DKIM_PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            ),
        ]);
        assert_eq!(pkcs8.len(), 1, "{pkcs8:?}");
        assert!(
            pkcs8[0].starts_with(
                "mail.dkim_private_key: is a PKCS#8 key: give the RSA key in PKCS#1 form"
            ),
            "{pkcs8:?}"
        );
        assert!(!pkcs8[0].contains("MIIE"), "the key is never repeated");
        let bad = with(&[
            ("SHIPMATE__MAIL__DKIM_SELECTOR", "ship mate"),
            ("SHIPMATE__MAIL__DKIM_PRIVATE_KEY", "not-a-key"),
        ]);
        assert_eq!(
            bad,
            [
                "mail.dkim_selector: `ship mate` is not a DNS name: letters, digits, - and _, e.g. \"shipmate\"",
                "mail.dkim_private_key: is neither an RSA private key in PEM nor an Ed25519 seed in base64 (32 bytes)",
            ]
        );
    }

    #[test]
    fn a_good_mail_section_is_on_and_its_password_never_printed() {
        let env: HashMap<String, String> = [
            ("SHIPMATE__MAIL__URL", "smtps://smtp.example.com:465"),
            ("SHIPMATE__MAIL__FROM", "Shipmate <ship@ops.example>"),
            ("SHIPMATE__MAIL__USERNAME", "ship"),
            ("SHIPMATE__MAIL__PASSWORD", "hunter2-secret"),
            (
                "SHIPMATE__MAIL__PUBLIC_URL",
                "https://shipmate.example.com/",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = load(None, Some(env)).unwrap().validate().unwrap();
        let mail = config.mail.clone().expect("mail on");
        assert_eq!(mail.domain, "ops.example");
        assert_eq!(mail.public_url, "https://shipmate.example.com");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(problems(&[]).is_empty(), "mail is off by default");
    }

    #[test]
    fn a_login_never_travels_in_plain_text_to_another_machine() {
        assert!(plain_to_another_host("smtp://smtp.example.com:587"));
        assert!(!plain_to_another_host(
            "smtp://smtp.example.com:587?tls=required"
        ));
        assert!(!plain_to_another_host("smtps://smtp.example.com:465"));
        assert!(!plain_to_another_host("smtp://127.0.0.1:2525"));
        assert!(!plain_to_another_host("smtp://localhost:25"));
    }

    #[test]
    fn the_address_inside_a_display_name() {
        assert_eq!(bare_address("Shipmate <ship@x.example>"), "ship@x.example");
        assert_eq!(bare_address(" ship@x.example "), "ship@x.example");
    }
}

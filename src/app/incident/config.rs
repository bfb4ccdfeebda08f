//! `[support]` (the desk: channels, role, SLA per severity, escalation
//! matrix, back-port reminder) and `[partners.<name>]` (each partner's
//! shared channels and intake token).

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::calendar::WorkingCalendar;
use crate::domain::incident::{At, MAX_PARTNER_NAME, Severity, Sla};
use crate::domain::{ChannelRef, Role, UserRef, valid_email};
use crate::settings::{Check, Secret, Section, list};

/// `[support]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportSettings {
    /// The team's channels: new incidents and escalations.
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    /// Acts on incidents (ack, assign, update, resolve…).
    role: Option<String>,
    sla: SlaSettings,
    #[serde(default)]
    escalation: Vec<LevelSettings>,
    /// While a planned patch is unreleased, its incident's people are reminded on this cron.
    backport_reminder_cron: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaSettings {
    #[serde(rename = "P1", alias = "p1")]
    p1: String,
    #[serde(rename = "P2", alias = "p2")]
    p2: String,
    #[serde(rename = "P3", alias = "p3")]
    p3: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelSettings {
    severity: String,
    at: String,
    #[serde(deserialize_with = "list")]
    notify: Vec<String>,
}

/// Who an escalation level tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    /// The incident's assignee (the support role while nobody is assigned).
    Assignee,
    Role(Role),
    User(UserRef),
}

/// One level of the escalation matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub severity: Severity,
    pub at: At,
    pub notify: Vec<Notify>,
}

/// The support desk's rules.
#[derive(Debug, Clone)]
pub struct SupportRules {
    pub channels: Vec<ChannelRef>,
    /// `support.role`.
    pub role: Role,
    pub sla: Sla,
    /// Every level, in the order configured.
    pub escalation: Vec<Level>,
    pub backport_reminder_cron: String,
}

impl SupportRules {
    /// The levels of one severity, with their index in [`Self::escalation`].
    pub fn levels(&self, severity: Severity) -> impl Iterator<Item = (usize, &Level)> {
        self.escalation
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.severity == severity)
    }
}

impl Section for SupportRules {
    const NAME: &'static str = "support";
    type Raw = SupportSettings;

    fn check(s: SupportSettings, c: &mut Check<'_>) -> Self {
        let calendar = c.calendar.clone();
        let mut business = |key: &str, value: &str| match calendar.parse_business(value) {
            Ok(d) => d,
            Err(e) => {
                c.problem(key, e);
                chrono::TimeDelta::hours(4)
            }
        };
        let sla = Sla {
            p1: business("sla.P1", &s.sla.p1),
            p2: business("sla.P2", &s.sla.p2),
            p3: business("sla.P3", &s.sla.p3),
        };
        c.cron("backport_reminder_cron", &s.backport_reminder_cron);
        let escalation = s
            .escalation
            .iter()
            .enumerate()
            .filter_map(|(i, level)| check_level(c, &calendar, &format!("escalation[{i}]"), level))
            .collect();
        SupportRules {
            channels: c.channels("channels", &s.channels),
            role: c.role("role", s.role.as_deref(), Role::SUPPORT),
            sla,
            escalation,
            backport_reminder_cron: s.backport_reminder_cron,
        }
    }
}

fn check_level(
    c: &mut Check<'_>,
    calendar: &WorkingCalendar,
    key: &str,
    level: &LevelSettings,
) -> Option<Level> {
    let severity = c.parse::<Severity>(&format!("{key}.severity"), &level.severity.to_uppercase());
    let at = level.at.trim();
    let at = match at.strip_suffix('%') {
        Some(p) => match p.trim().parse::<u32>() {
            Ok(p) if (1..=100).contains(&p) => Some(At::Percent(p)),
            _ => {
                c.problem(
                    &format!("{key}.at"),
                    format!("`{at}` is not a share of the SLA: write 1% to 100% (100% is the breach), e.g. \"80%\""),
                );
                None
            }
        },
        None => match calendar.parse_business(at) {
            Ok(d) => Some(At::After(d)),
            Err(e) => {
                c.problem(
                    &format!("{key}.at"),
                    format!("{e}; or a share of the SLA such as \"80%\""),
                );
                None
            }
        },
    };
    if level.notify.is_empty() {
        c.problem(
            &format!("{key}.notify"),
            "is empty: name who is told, e.g. [\"assignee\", \"support-lead\"]",
        );
    }
    let notify = level
        .notify
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let k = format!("{key}.notify[{i}]");
            let n = n.trim();
            if n == "assignee" {
                Notify::Assignee
            } else if n.contains(':') {
                c.parse::<UserRef>(&k, n)
                    .map(Notify::User)
                    .unwrap_or(Notify::Assignee)
            } else {
                Notify::Role(c.role(&k, Some(n), Role::SUPPORT))
            }
        })
        .collect();
    Some(Level {
        severity: severity?,
        at: at?,
        notify,
    })
}

/// `[partners]` as written: `[partners.<name>]` tables.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct PartnersSettings(BTreeMap<String, PartnerSettings>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerSettings {
    /// The chat channels shared with the partner.
    #[serde(default, deserialize_with = "list")]
    channels: Vec<String>,
    /// The bearer token of the partner's HTTP intake (empty: no intake).
    #[serde(default)]
    token: Secret,
    /// The partner's e-mail addresses: `email:<name>` reaches them, and a
    /// mail from one of them to the incident address is the partner's.
    #[serde(default, deserialize_with = "list")]
    emails: Vec<String>,
    /// The zone of times in mails to the partner (default: `mail.timezone`).
    #[serde(default)]
    timezone: Option<String>,
}

/// One partner.
#[derive(Debug, Clone)]
pub struct Partner {
    pub channels: Vec<ChannelRef>,
    token: Secret,
    /// Lower-case addresses.
    pub emails: Vec<String>,
    /// The zone of times in mails to the partner (`None`: mail's own).
    pub tz: Option<chrono_tz::Tz>,
}

/// The partners, by name.
#[derive(Debug, Clone, Default)]
pub struct Partners(BTreeMap<String, Partner>);

/// Intake tokens shorter than this are refused (a guessable secret).
const MIN_TOKEN_LEN: usize = 24;

impl Partners {
    /// The partner whose shared channel `channel` is.
    pub fn of_channel(&self, channel: &ChannelRef) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, p)| p.channels.contains(channel))
            .map(|(name, _)| name.as_str())
    }

    /// A partner by name.
    pub fn get(&self, name: &str) -> Option<&Partner> {
        self.0.get(name)
    }

    /// The partner one of whose `emails` is `address` (any case).
    pub fn of_email(&self, address: &str) -> Option<&str> {
        let address = address.trim().to_ascii_lowercase();
        self.0
            .iter()
            .find(|(_, p)| p.emails.contains(&address))
            .map(|(name, _)| name.as_str())
    }

    /// Every partner's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The partner holding intake `token` (compared in constant time, every
    /// partner checked; both sides are hashed first, so not even their
    /// lengths are compared directly).
    pub fn by_token(&self, token: &str) -> Option<&str> {
        let given = Sha256::digest(token.as_bytes());
        let mut found = None;
        for (name, p) in &self.0 {
            let t = p.token.expose().as_bytes();
            if !t.is_empty() && bool::from(Sha256::digest(t).ct_eq(&given)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

impl Section for Partners {
    const NAME: &'static str = "partners";
    type Raw = PartnersSettings;

    fn check(raw: PartnersSettings, c: &mut Check<'_>) -> Self {
        let mut partners = BTreeMap::new();
        for (name, p) in raw.0 {
            if name.is_empty()
                || name.len() > MAX_PARTNER_NAME
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                c.problem(
                    &name,
                    format!("is not a partner name: use letters, digits, - and _ (at most {MAX_PARTNER_NAME}), e.g. [partners.acme]"),
                );
                continue;
            }
            let channels = c.channels(&format!("{name}.channels"), &p.channels);
            let len = p.token.expose().len();
            if len > 0 && len < MIN_TOKEN_LEN {
                c.problem(
                    &format!("{name}.token"),
                    format!("is {len} characters: use at least {MIN_TOKEN_LEN} random ones (e.g. `openssl rand -hex 24`)"),
                );
            }
            for (i, e) in p.emails.iter().enumerate() {
                if !valid_email(e) {
                    c.problem(
                        &format!("{name}.emails[{i}]"),
                        format!("`{e}` is not an e-mail address: write local@domain, e.g. ops@{name}.example"),
                    );
                }
            }
            let tz = match p.timezone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(zone) => zone.parse::<chrono_tz::Tz>().map_or_else(
                    |_| {
                        c.problem(
                            &format!("{name}.timezone"),
                            format!(
                                "unknown time zone `{zone}`: use an IANA name such as Europe/Berlin"
                            ),
                        );
                        None
                    },
                    Some,
                ),
            };
            partners.insert(
                name,
                Partner {
                    channels,
                    token: p.token,
                    emails: p.emails.iter().map(|e| e.to_ascii_lowercase()).collect(),
                    tz,
                },
            );
        }
        Partners(partners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(token: &str) -> Partner {
        Partner {
            channels: Vec::new(),
            token: Secret::new(token),
            emails: Vec::new(),
            tz: None,
        }
    }

    #[test]
    fn a_token_names_its_partner_and_an_empty_token_names_none() {
        let partners = Partners(BTreeMap::from([
            ("acme".to_string(), partner("acme-token-0123456789abcdef")),
            ("beta".to_string(), partner("beta-token-0123456789abcdef")),
            ("mute".to_string(), partner("")),
        ]));
        assert_eq!(
            partners.by_token("acme-token-0123456789abcdef"),
            Some("acme")
        );
        assert_eq!(
            partners.by_token("beta-token-0123456789abcdef"),
            Some("beta")
        );
        assert_eq!(partners.by_token("acme-token-0123456789abcde"), None);
        assert_eq!(partners.by_token(""), None);
    }
}

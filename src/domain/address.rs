//! Addresses of users, channels and role members (SPEC §3):
//! `slack:U024BE7LH`, `discord:80351110224678912`, `console:alice`,
//! `console:#bioinfo`, `discord-role:41771983423143936`,
//! `slack-group:S0614TZR7`; and, for messages only, e-mail:
//! `email:ops@partner.example` (one address) or `email:partners` (a named
//! list, `[mail.lists.<name>]`, or a partner's `[partners.<name>] emails`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// A chat platform an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Slack,
    Discord,
    Console,
    /// E-mail: a delivery channel only (no user, no command comes from it).
    Email,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Slack,
        Platform::Discord,
        Platform::Console,
        Platform::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Console => "console",
            Platform::Email => "email",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "slack" => Ok(Platform::Slack),
            "discord" => Ok(Platform::Discord),
            "console" => Ok(Platform::Console),
            "email" => Ok(Platform::Email),
            other => Err(DomainError::invalid(format!(
                "unknown platform `{other}`: use slack, discord, console or email"
            ))),
        }
    }
}

fn split_address<'a>(
    s: &'a str,
    what: &str,
    example: &str,
) -> Result<(Platform, &'a str), DomainError> {
    let (platform, id) = s.split_once(':').ok_or_else(|| {
        DomainError::invalid(format!(
            "`{s}` is not a {what} address: write platform:id, e.g. `{example}`"
        ))
    })?;
    let platform: Platform = platform.parse().map_err(|_| {
        DomainError::invalid(format!(
            "`{s}` is not a {what} address: the platform must be slack, discord, console or email, e.g. `{example}`"
        ))
    })?;
    Ok((platform, id))
}

fn valid_platform_id(platform: Platform, id: &str) -> bool {
    match platform {
        Platform::Slack => {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
        Platform::Discord => {
            !id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_digit())
        }
        Platform::Console => {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '#'))
        }
        // an e-mail channel only: an address, or a list's name
        Platform::Email => valid_email(id) || valid_list_name(id),
    }
}

/// A plain `local@domain` address (no display name, no comment, no spaces
/// or angle brackets, a dotted domain): what an `email:` channel and a
/// subscription accept.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// A mail list's (or partner's) name: letters, digits, `-` and `_`.
fn valid_list_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A user on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserRef {
    pub platform: Platform,
    pub id: String,
}

impl UserRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        Self {
            platform,
            id: id.into(),
        }
    }
    pub fn console(name: &str) -> Self {
        Self::new(Platform::Console, name)
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for UserRef {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = split_address(s, "user", "slack:U024BE7LH")?;
        if platform == Platform::Email {
            return Err(DomainError::invalid(format!(
                "`{s}` is an e-mail address: e-mail only receives messages, so it cannot be a user (use slack:, discord: or console:)"
            )));
        }
        if id.starts_with('#') || !valid_platform_id(platform, id) {
            return Err(DomainError::invalid(format!(
                "`{s}` is not a valid {platform} user id (e.g. slack:U024BE7LH, discord:80351110224678912, console:alice)"
            )));
        }
        Ok(Self::new(platform, id))
    }
}

impl TryFrom<String> for UserRef {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<UserRef> for String {
    fn from(u: UserRef) -> String {
        u.to_string()
    }
}

/// A channel on one platform. Console channels start with `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelRef {
    pub platform: Platform,
    pub id: String,
}

impl ChannelRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        Self {
            platform,
            id: id.into(),
        }
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for ChannelRef {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = split_address(s, "channel", "console:#bioinfo")?;
        let ok = match platform {
            Platform::Console => id.starts_with('#') && valid_platform_id(platform, &id[1..]),
            _ => valid_platform_id(platform, id),
        };
        if !ok {
            return Err(DomainError::invalid(format!(
                "`{s}` is not a valid {platform} channel id (e.g. slack:C2147483705, discord:41771983423143937, console:#bioinfo, email:ops@partner.example, email:partners)"
            )));
        }
        Ok(Self::new(platform, id))
    }
}

impl TryFrom<String> for ChannelRef {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ChannelRef> for String {
    fn from(c: ChannelRef) -> String {
        c.to_string()
    }
}

/// Something that can hold a role: a user, every member of a Discord guild
/// role, or every member of a Slack user group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MemberRef {
    User(UserRef),
    DiscordRole(String),
    SlackGroup(String),
}

impl fmt::Display for MemberRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberRef::User(u) => u.fmt(f),
            MemberRef::DiscordRole(id) => write!(f, "discord-role:{id}"),
            MemberRef::SlackGroup(id) => write!(f, "slack-group:{id}"),
        }
    }
}

impl FromStr for MemberRef {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(id) = s.strip_prefix("discord-role:") {
            if valid_platform_id(Platform::Discord, id) {
                return Ok(MemberRef::DiscordRole(id.to_string()));
            }
            return Err(DomainError::invalid(format!(
                "`{s}` is not a valid Discord role id (e.g. discord-role:41771983423143936)"
            )));
        }
        if let Some(id) = s.strip_prefix("slack-group:") {
            if id.starts_with('S') && valid_platform_id(Platform::Slack, id) {
                return Ok(MemberRef::SlackGroup(id.to_string()));
            }
            return Err(DomainError::invalid(format!(
                "`{s}` is not a valid Slack user group id (e.g. slack-group:S0614TZR7)"
            )));
        }
        s.parse().map(MemberRef::User)
    }
}

impl TryFrom<String> for MemberRef {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MemberRef> for String {
    fn from(m: MemberRef) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for s in [
            "slack:U024BE7LH",
            "discord:80351110224678912",
            "console:alice",
        ] {
            assert_eq!(s.parse::<UserRef>().unwrap().to_string(), s);
        }
        for s in [
            "slack:C2147483705",
            "discord:41771983423143937",
            "console:#bioinfo",
        ] {
            assert_eq!(s.parse::<ChannelRef>().unwrap().to_string(), s);
        }
        let m: MemberRef = "discord-role:41771983423143936".parse().unwrap();
        assert_eq!(m.to_string(), "discord-role:41771983423143936");
        let g: MemberRef = "slack-group:S0614TZR7".parse().unwrap();
        assert_eq!(g, MemberRef::SlackGroup("S0614TZR7".into()));
        assert_eq!(g.to_string(), "slack-group:S0614TZR7");
        assert!("slack-group:U0614TZR7".parse::<MemberRef>().is_err());
    }

    #[test]
    fn bad_addresses_are_named() {
        let e = "teams:abc".parse::<UserRef>().unwrap_err().to_string();
        assert!(e.contains("teams:abc") && e.contains("slack"), "{e}");
        assert!("slack:u-lower".parse::<UserRef>().is_err());
        assert!("console:bioinfo".parse::<ChannelRef>().is_err());
        assert!("discord:12ab".parse::<ChannelRef>().is_err());
        assert!("alice".parse::<UserRef>().is_err());
    }

    #[test]
    fn email_channels_are_an_address_or_a_list() {
        for s in [
            "email:ops@partner.example",
            "email:partners",
            "email:a.b+c@x-y.example.org",
        ] {
            assert_eq!(s.parse::<ChannelRef>().unwrap().to_string(), s);
        }
        for bad in [
            "email:ops@localhost",
            "email:<ops@x.example>",
            "email:ops@x.example\r\nBcc: y@z.example",
            "email:a..b@x.example",
            "email:",
        ] {
            assert!(bad.parse::<ChannelRef>().is_err(), "{bad}");
        }
        let e = "email:ops@x.example"
            .parse::<UserRef>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be a user"), "{e}");
    }
}

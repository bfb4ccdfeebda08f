//! Reads a user written in a command: a Slack mention `<@U123|name>`, a
//! Discord mention `<@123>` / `<@!123>`, a full address `slack:U123`, or on
//! the console `@alice` / `alice`.

use crate::domain::{DomainError, Platform, UserRef};

/// Parses one user as written by someone on `platform`.
pub fn parse_user(s: &str, platform: Platform) -> Result<UserRef, DomainError> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("<@").and_then(|r| r.strip_suffix('>')) {
        let id = inner
            .split('|')
            .next()
            .unwrap_or_default()
            .trim_start_matches('!');
        let platform = if id.chars().all(|c| c.is_ascii_digit()) {
            Platform::Discord
        } else {
            Platform::Slack
        };
        return format!("{platform}:{id}").parse();
    }
    if s.contains(':') {
        return s.parse();
    }
    let name = s.strip_prefix('@').unwrap_or(s);
    match platform {
        Platform::Console => format!("console:{name}").parse(),
        _ => Err(DomainError::invalid(format!(
            "`{s}` is not a user I can resolve: mention them (@name, so the platform sends their id) or write slack:U… / discord:…"
        ))),
    }
}

/// Parses a comma-separated list of users.
pub fn parse_users(s: &str, platform: Platform) -> Result<Vec<UserRef>, DomainError> {
    let mut users = Vec::new();
    for part in s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        let user = parse_user(part, platform)?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_of_every_platform() {
        assert_eq!(
            parse_user("<@U024BE7LH|bob>", Platform::Slack)
                .unwrap()
                .to_string(),
            "slack:U024BE7LH"
        );
        assert_eq!(
            parse_user("<@!80351110224678912>", Platform::Discord)
                .unwrap()
                .to_string(),
            "discord:80351110224678912"
        );
        assert_eq!(
            parse_user("@bob", Platform::Console).unwrap().to_string(),
            "console:bob"
        );
        assert_eq!(
            parse_user("discord:1", Platform::Slack)
                .unwrap()
                .to_string(),
            "discord:1"
        );
        assert!(
            parse_user("@bob", Platform::Slack)
                .unwrap_err()
                .to_string()
                .contains("mention")
        );
        assert_eq!(
            parse_users("@a,@b, @a", Platform::Console).unwrap().len(),
            2
        );
    }
}

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

/// Parses a comma-separated list of users, each once, refusing a list of
/// more than `max` people (in time linear in the list, stopping at the first
/// one past `max`).
pub fn parse_users(
    s: &str,
    platform: Platform,
    max: usize,
    key: &str,
) -> Result<Vec<UserRef>, DomainError> {
    let mut users = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        let user = parse_user(part, platform)?;
        if seen.insert(user.clone()) {
            if users.len() == max {
                return Err(DomainError::invalid(format!(
                    "a card mentions at most {max} people (set by {key}); this list names more: keep the ones who must be told"
                )));
            }
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
            parse_users("@a,@b, @a", Platform::Console, 2, "k")
                .unwrap()
                .len(),
            2
        );
        let refused = parse_users(
            "@a,@b,@c",
            Platform::Console,
            2,
            "deletion.max_stakeholders",
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("at most 2 people"), "{refused}");
        assert!(refused.contains("deletion.max_stakeholders"), "{refused}");
    }
}

//! Prepares a platform-neutral [`Message`] for one platform before it is
//! rendered: user and role-member identities are translated through the
//! `[people.*]` directory (so `slack:U1` becomes `<@80351…>` on Discord when
//! both are one person), Slack control characters in free text are escaped
//! (so a justification cannot smuggle in `<!everyone>`), and the Discord
//! users and roles a message really mentions are listed for `allowed_mentions`.

use crate::app::Message;
use crate::app::message::Span;
use crate::domain::{MemberRef, Platform, UserRef};
use crate::settings::Directory;

/// The message as `platform` should see it: identities translated, text escaped.
pub fn for_platform(message: &Message, platform: Platform, directory: &Directory) -> Message {
    let lines = message
        .lines
        .iter()
        .map(|line| {
            line.iter()
                .map(|span| resolve_span(span, platform, directory))
                .collect()
        })
        .collect();
    Message {
        lines,
        ..message.clone()
    }
}

fn resolve_span(span: &Span, platform: Platform, directory: &Directory) -> Span {
    match span {
        Span::Text(s) => Span::Text(escape(s, platform)),
        Span::Bold(s) => Span::Bold(escape(s, platform)),
        Span::Code(s) => Span::Code(escape(s, platform)),
        Span::User(u) => Span::User(translate(u, platform, directory)),
        Span::Role { role, members } => {
            let mut resolved: Vec<MemberRef> = Vec::with_capacity(members.len());
            for member in members {
                let m = match member {
                    MemberRef::User(u) => MemberRef::User(translate(u, platform, directory)),
                    other => other.clone(),
                };
                if !resolved.contains(&m) {
                    resolved.push(m);
                }
            }
            Span::Role {
                role: role.clone(),
                members: resolved,
            }
        }
        Span::Time(t) => Span::Time(*t),
        Span::Channel(c) => Span::Channel(c.clone()),
    }
}

/// The same person's identity on `platform`, or `user` unchanged when unknown.
fn translate(user: &UserRef, platform: Platform, directory: &Directory) -> UserRef {
    if user.platform == platform {
        return user.clone();
    }
    directory
        .identities_of(user)
        .into_iter()
        .find(|u| u.platform == platform)
        .unwrap_or_else(|| user.clone())
}

/// Slack reads `<…>` as links and mentions and `&` as an entity start.
fn escape(s: &str, platform: Platform) -> String {
    if platform != Platform::Slack {
        return s.to_string();
    }
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Discord user ids and role ids a (resolved) message mentions, in order, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscordMentions {
    pub users: Vec<String>,
    pub roles: Vec<String>,
}

impl DiscordMentions {
    /// Collects the mentions of a message already passed through [`for_platform`].
    pub fn of(message: &Message) -> Self {
        let mut m = Self::default();
        for span in message.lines.iter().flatten() {
            match span {
                Span::User(u) => m.user(u),
                Span::Role { members, .. } => {
                    for member in members {
                        match member {
                            MemberRef::User(u) => m.user(u),
                            MemberRef::DiscordRole(id) => push_new(&mut m.roles, id),
                            MemberRef::SlackGroup(_) => {}
                        }
                    }
                }
                _ => {}
            }
        }
        m
    }

    fn user(&mut self, u: &UserRef) {
        if u.platform == Platform::Discord {
            push_new(&mut self.users, &u.id);
        }
    }
}

fn push_new(list: &mut Vec<String>, id: &str) {
    if !list.iter().any(|x| x == id) {
        list.push(id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Line;
    use crate::domain::Role;

    fn directory() -> Directory {
        let mut d = Directory::default();
        for id in ["slack:U1", "discord:111", "console:priya"] {
            d.people.insert(id.parse().unwrap(), "priya".into());
        }
        d
    }

    #[test]
    fn a_person_is_mentioned_natively_on_every_platform_they_are_known_on() {
        let tz = chrono_tz::UTC;
        let m = Message::new().line(
            Line::new()
                .user(&"slack:U1".parse().unwrap())
                .text(" and ")
                .user(&"slack:U2".parse().unwrap())
                .text(" asked ")
                .role(
                    Role::DATA_STEWARD,
                    vec![
                        "console:priya".parse().unwrap(),
                        "discord:111".parse().unwrap(),
                        "discord-role:42".parse().unwrap(),
                    ],
                ),
        );
        let d = directory();
        let discord = for_platform(&m, Platform::Discord, &d);
        assert_eq!(
            discord.markup(Platform::Discord, tz),
            "<@111> and slack:U2 asked <@111> <@&42>"
        );
        assert_eq!(
            DiscordMentions::of(&discord),
            DiscordMentions {
                users: vec!["111".into()],
                roles: vec!["42".into()],
            }
        );
        let slack = for_platform(&m, Platform::Slack, &d);
        assert_eq!(
            slack.markup(Platform::Slack, tz),
            "<@U1> and <@U2> asked <@U1>"
        );
    }

    #[test]
    fn slack_control_sequences_in_free_text_are_escaped() {
        let m = Message::new().line(Line::new().text("ping <!everyone> & <@U9>").code("a<b>"));
        let slack = for_platform(&m, Platform::Slack, &Directory::default());
        assert_eq!(
            slack.markup(Platform::Slack, chrono_tz::UTC),
            "ping &lt;!everyone&gt; &amp; &lt;@U9&gt;`a&lt;b&gt;`"
        );
        let discord = for_platform(&m, Platform::Discord, &Directory::default());
        assert_eq!(
            DiscordMentions::of(&discord),
            DiscordMentions::default(),
            "typed text pings nobody"
        );
    }
}

//! The one reply model: what the domain says, independent of platform.
//! Mentions and times stay structured until a platform renders them
//! (Block Kit, embeds, or the console's plain text), so every reader sees
//! their own mention syntax and local time.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{ChannelRef, MemberRef, Platform, Role, UserRef};

/// A piece of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum Span {
    Text(String),
    Bold(String),
    Code(String),
    User(UserRef),
    /// Everyone holding a role, resolved when the message was written.
    Role {
        role: Role,
        members: Vec<MemberRef>,
    },
    Time(DateTime<Utc>),
    /// A channel: a link on its own platform, its address elsewhere.
    Channel(ChannelRef),
}

/// A button that runs a command, as its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub command: String,
    pub danger: bool,
}

/// The matter a message is about (a record), for media that keep one
/// conversation per matter: e-mail threads every message of one `key` and
/// uses `subject` as its subject. Chat ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The record, e.g. `DT-4` (unique for the life of the database).
    pub key: String,
    pub subject: String,
    /// This message opens the matter (an announcement, an incident's
    /// opening): it heads the conversation the later ones answer.
    #[serde(default)]
    pub opens: bool,
}

/// A calendar event a message carries (e-mail attaches it as an iCalendar
/// invitation; chat ignores it). One `uid` per event; a later message with a
/// higher `sequence` updates it, or cancels it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub uid: String,
    pub sequence: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    pub cancelled: bool,
}

/// A message: lines of spans, and optional buttons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub lines: Vec<Vec<Span>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Thread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<Box<Invite>>,
    /// Links e-mail shows under the text, as (label, URL); chat ignores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
    /// The one recipient's unsubscribe URL (a subscriber's mail): e-mail
    /// adds it as a link and as RFC 8058 one-click `List-Unsubscribe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
    /// A mail's subject when the message is no matter's (a matter's is its
    /// [`Thread`]'s); without either, e-mail takes the first line. Chat
    /// ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Builds one line.
#[derive(Debug, Default)]
pub struct Line(Vec<Span>);

impl Line {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends another line's spans.
    pub fn append(mut self, other: Line) -> Self {
        self.0.extend(other.0);
        self
    }
    pub fn text(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Text(s.into()));
        self
    }
    pub fn bold(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Bold(s.into()));
        self
    }
    pub fn code(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Code(s.into()));
        self
    }
    pub fn user(mut self, u: &UserRef) -> Self {
        self.0.push(Span::User(u.clone()));
        self
    }
    pub fn users(mut self, users: &[UserRef]) -> Self {
        for (i, u) in users.iter().enumerate() {
            if i > 0 {
                self.0.push(Span::Text(", ".into()));
            }
            self.0.push(Span::User(u.clone()));
        }
        self
    }
    pub fn role(mut self, role: Role, members: Vec<MemberRef>) -> Self {
        self.0.push(Span::Role { role, members });
        self
    }
    pub fn time(mut self, t: DateTime<Utc>) -> Self {
        self.0.push(Span::Time(t));
        self
    }
    /// Channels, comma-separated.
    pub fn channels(mut self, channels: &[ChannelRef]) -> Self {
        for (i, c) in channels.iter().enumerate() {
            if i > 0 {
                self.0.push(Span::Text(", ".into()));
            }
            self.0.push(Span::Channel(c.clone()));
        }
        self
    }
}

impl Message {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn text(s: impl Into<String>) -> Self {
        Self::new().line(Line::new().text(s))
    }
    pub fn line(mut self, line: Line) -> Self {
        self.lines.push(line.0);
        self
    }
    /// Files the message under a matter (see [`Thread`]); `opens` when it
    /// is the matter's first message.
    pub fn about(
        mut self,
        key: impl Into<String>,
        subject: impl Into<String>,
        opens: bool,
    ) -> Self {
        self.thread = Some(Thread {
            key: key.into(),
            subject: subject.into(),
            opens,
        });
        self
    }
    /// Gives the mail a short subject of its own (see [`Message::subject`]).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Adds a link e-mail shows under the text.
    pub fn link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.links.push((label.into(), url.into()));
        self
    }
    /// Carries a calendar event (see [`Invite`]).
    pub fn invite(mut self, invite: Invite) -> Self {
        self.invite = Some(Box::new(invite));
        self
    }
    pub fn button(mut self, label: &str, command: String, danger: bool) -> Self {
        self.buttons.push(Button {
            label: label.into(),
            command,
            danger,
        });
        self
    }

    /// Plain text for the console (and for logs and `shipmate run`).
    pub fn plain(&self, tz: Tz) -> String {
        let mut out: Vec<String> = self
            .lines
            .iter()
            .map(|l| render_line(l, Platform::Console, tz))
            .collect();
        if !self.buttons.is_empty() {
            let hints: Vec<String> = self
                .buttons
                .iter()
                .map(|b| format!("{}: {}", b.label, b.command))
                .collect();
            out.push(format!("  ↳ {}", hints.join("  |  ")));
        }
        out.join("\n")
    }

    /// Text with mentions and timestamps in one platform's markup.
    pub fn markup(&self, platform: Platform, tz: Tz) -> String {
        self.lines
            .iter()
            .map(|l| render_line(l, platform, tz))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn render_line(spans: &[Span], platform: Platform, tz: Tz) -> String {
    spans.iter().map(|s| render_span(s, platform, tz)).collect()
}

fn render_span(span: &Span, platform: Platform, tz: Tz) -> String {
    match (span, platform) {
        (Span::Text(s), _) => s.clone(),
        (Span::Bold(s), Platform::Slack) => format!("*{s}*"),
        (Span::Bold(s), Platform::Discord) => format!("**{s}**"),
        (Span::Bold(s), Platform::Console | Platform::Email) => s.clone(),
        (Span::Code(s), _) => format!("`{s}`"),
        (Span::User(u), p) => mention(u, p),
        (Span::Role { role, members }, p) => {
            let here: Vec<String> = members
                .iter()
                .filter_map(|m| match (m, p) {
                    (MemberRef::User(u), _) if u.platform == p && p != Platform::Console => {
                        Some(mention(u, p))
                    }
                    (MemberRef::DiscordRole(id), Platform::Discord) => Some(format!("<@&{id}>")),
                    (MemberRef::SlackGroup(id), Platform::Slack) => {
                        Some(format!("<!subteam^{id}>"))
                    }
                    _ => None,
                })
                .collect();
            if here.is_empty() {
                format!("@{role}")
            } else {
                here.join(" ")
            }
        }
        (Span::Time(t), Platform::Slack) => {
            format!(
                "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
                t.timestamp(),
                local(*t, tz)
            )
        }
        (Span::Time(t), Platform::Discord) => format!("<t:{}:f>", t.timestamp()),
        (Span::Time(t), Platform::Console | Platform::Email) => local(*t, tz),
        (Span::Channel(c), Platform::Slack) if c.platform == Platform::Slack => {
            format!("<#{}>", c.id)
        }
        (Span::Channel(c), Platform::Discord) if c.platform == Platform::Discord => {
            format!("<#{}>", c.id)
        }
        (Span::Channel(c), _) => c.to_string(),
    }
}

fn mention(u: &UserRef, platform: Platform) -> String {
    match (u.platform, platform) {
        (Platform::Slack, Platform::Slack) | (Platform::Discord, Platform::Discord) => {
            format!("<@{}>", u.id)
        }
        (Platform::Console, _) => format!("@{}", u.id),
        _ => u.to_string(),
    }
}

/// A time in the configured zone, e.g. `2026-11-23 10:00 IST` (seconds shown only when not zero).
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    let format = if t.timestamp() % 60 == 0 {
        "%Y-%m-%d %H:%M %Z"
    } else {
        "%Y-%m-%d %H:%M:%S %Z"
    };
    t.with_timezone(&tz).format(format).to_string()
}

/// `n` and its noun, singular for one: `1 working day`, `2 tasks are`.
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn each_platform_gets_its_own_mentions_and_times() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 4, 30, 0).unwrap();
        let m = Message::new().line(
            Line::new()
                .user(&"slack:U1".parse().unwrap())
                .text(" at ")
                .time(t)
                .text(" ")
                .role(
                    Role::DATA_STEWARD,
                    vec![
                        "discord-role:42".parse().unwrap(),
                        "slack:U9".parse().unwrap(),
                    ],
                ),
        );
        let tz = chrono_tz::Asia::Kolkata;
        assert_eq!(
            m.markup(Platform::Slack, tz),
            "<@U1> at <!date^1795408200^{date_short_pretty} {time}|2026-11-23 10:00 IST> <@U9>"
        );
        assert_eq!(
            m.markup(Platform::Discord, tz),
            "slack:U1 at <t:1795408200:f> <@&42>"
        );
        assert_eq!(
            m.plain(tz),
            "slack:U1 at 2026-11-23 10:00 IST @data-steward"
        );
    }

    #[test]
    fn channels_link_on_their_platform_and_groups_are_mentioned_on_slack() {
        let m = Message::new().line(
            Line::new()
                .channels(&[
                    "slack:C2147483705".parse().unwrap(),
                    "discord:41771983423143937".parse().unwrap(),
                    "console:#bioinfo".parse().unwrap(),
                ])
                .text(" ")
                .role(
                    Role::QA,
                    vec![
                        "slack-group:S0614TZR7".parse().unwrap(),
                        "discord-role:42".parse().unwrap(),
                    ],
                ),
        );
        let tz = chrono_tz::UTC;
        assert_eq!(
            m.markup(Platform::Slack, tz),
            "<#C2147483705>, discord:41771983423143937, console:#bioinfo <!subteam^S0614TZR7>"
        );
        assert_eq!(
            m.markup(Platform::Discord, tz),
            "slack:C2147483705, <#41771983423143937>, console:#bioinfo <@&42>"
        );
        assert_eq!(
            m.plain(tz),
            "slack:C2147483705, discord:41771983423143937, console:#bioinfo @qa"
        );
    }
}

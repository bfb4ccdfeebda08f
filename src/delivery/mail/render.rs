//! A [`Message`] as e-mail: its plain-text and HTML alternatives (the same
//! lines, times in the recipients' zone, people by name), its subject (the
//! matter's, the message's own, else its first line), and
//! its invitation as an iCalendar (RFC 5546) `REQUEST` or `CANCEL`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, Component, EventLike, EventStatus};

use crate::app::Message;
use crate::app::message::{Invite, Span, Thread, local};
use crate::domain::MemberRef;
use crate::settings::Directory;

/// The longest subject taken from a message's first line.
const SUBJECT_CHARS: usize = 120;

/// A mail's text parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Header text: no control characters (a CR or LF in a reason must not start a header).
pub fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Users by their `[people]` name (`@alice`), else their id.
fn user_name(u: &crate::domain::UserRef, directory: &Directory) -> String {
    match directory.people.get(u) {
        Some(name) => format!("@{name}"),
        None => format!("@{}", u.id),
    }
}

fn span_text(span: &Span, tz: Tz, directory: &Directory) -> String {
    match span {
        Span::Text(s) | Span::Bold(s) => s.clone(),
        Span::Code(s) => s.clone(),
        Span::User(u) => user_name(u, directory),
        Span::Role { role, members } => {
            let names: Vec<String> = members
                .iter()
                .filter_map(|m| match m {
                    MemberRef::User(u) => Some(user_name(u, directory)),
                    _ => None,
                })
                .collect();
            if names.is_empty() {
                format!("@{role}")
            } else {
                names.join(", ")
            }
        }
        Span::Time(t) => local(*t, tz),
        Span::Channel(c) => c.to_string(),
    }
}

fn span_html(span: &Span, tz: Tz, directory: &Directory) -> String {
    let text = escape(&span_text(span, tz, directory));
    match span {
        Span::Bold(_) => format!("<strong>{text}</strong>"),
        Span::Code(_) => format!("<code>{text}</code>"),
        Span::Time(t) => format!("<time datetime=\"{}\">{text}</time>", t.to_rfc3339()),
        _ => text,
    }
}

/// Renders `message` for recipients in `tz`; `footer` lines (links) close both parts.
pub fn render(
    message: &Message,
    tz: Tz,
    directory: &Directory,
    footer: &[(String, String)],
) -> Rendered {
    let lines: Vec<String> = message
        .lines
        .iter()
        .map(|l| l.iter().map(|s| span_text(s, tz, directory)).collect())
        .collect();
    let subject = match (&message.thread, &message.subject) {
        (Some(Thread { subject, .. }), _) | (None, Some(subject)) => header_safe(subject),
        (None, None) => {
            let first = header_safe(lines.first().map(String::as_str).unwrap_or("shipmate"));
            first.chars().take(SUBJECT_CHARS).collect()
        }
    };
    let mut text = lines.join("\n");
    let mut html =
        String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n");
    for line in &message.lines {
        html.push_str("<p>");
        html.push_str(
            &line
                .iter()
                .map(|s| span_html(s, tz, directory))
                .collect::<String>(),
        );
        html.push_str("</p>\n");
    }
    if !footer.is_empty() {
        text.push_str("\n\n-- ");
        html.push_str("<hr>\n<p style=\"font-size: small; color: #555\">");
        for (i, (label, url)) in footer.iter().enumerate() {
            text.push_str(&format!("\n{label}: {url}"));
            if i > 0 {
                html.push_str(" · ");
            }
            html.push_str(&format!(
                "<a href=\"{}\">{}</a>",
                escape(url),
                escape(label)
            ));
        }
        html.push_str("</p>\n");
    }
    html.push_str("</body></html>\n");
    text.push('\n');
    Rendered {
        subject,
        text,
        html,
    }
}

/// The invitation as an iCalendar object: `METHOD:REQUEST` (new or moved,
/// `SEQUENCE` rising) or `METHOD:CANCEL`, organised by `organizer`, its
/// `attendees` the mail's recipients (no reply asked).
pub fn invitation(
    invite: &Invite,
    organizer: &str,
    attendees: &[String],
    stamp: DateTime<Utc>,
) -> String {
    let mut calendar = Calendar::empty();
    let method = if invite.cancelled {
        "CANCEL"
    } else {
        "REQUEST"
    };
    for (key, value) in [
        ("VERSION", "2.0"),
        ("PRODID", "-//shipmate//mail//EN"),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", method),
    ] {
        calendar.append_property((key, value));
    }
    let mut event = icalendar::Event::new();
    event
        .uid(&invite.uid)
        .sequence(invite.sequence)
        .summary(&header_safe(&invite.summary))
        .description(&invite.description)
        .starts(invite.start)
        .ends(invite.end)
        .timestamp(stamp)
        .status(if invite.cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        })
        .add_property("ORGANIZER", format!("mailto:{organizer}"))
        .add_property("TRANSP", "OPAQUE");
    for a in attendees {
        event.append_multi_property(
            icalendar::Property::new("ATTENDEE", format!("mailto:{a}"))
                .add_parameter("RSVP", "FALSE")
                .done(),
        );
    }
    calendar.push(event.done());
    calendar.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::app::Line;

    #[test]
    fn untrusted_text_is_escaped_in_html_and_kept_out_of_headers() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 4, 30, 0).unwrap();
        let m = Message::new()
            .line(
                Line::new()
                    .bold("DT-1")
                    .text(" <script>alert(1)</script> & ")
                    .time(t),
            )
            .about("dt-1", "DT-1: evil\r\nBcc: all@x.example", false);
        let r = render(
            &m,
            chrono_tz::Asia::Kolkata,
            &Directory::default(),
            &[(
                "unsubscribe".into(),
                "https://s.example/u?a=1&b=\"2\"".into(),
            )],
        );
        assert_eq!(r.subject, "DT-1: evil  Bcc: all@x.example");
        assert!(
            r.html
                .contains("<strong>DT-1</strong> &lt;script&gt;alert(1)&lt;/script&gt; &amp; "),
            "{}",
            r.html
        );
        assert!(
            r.html
                .contains("href=\"https://s.example/u?a=1&amp;b=&quot;2&quot;\"")
        );
        assert!(
            r.text
                .starts_with("DT-1 <script>alert(1)</script> & 2026-11-23 10:00 IST\n")
        );
        assert!(
            r.text
                .ends_with("unsubscribe: https://s.example/u?a=1&b=\"2\"\n")
        );
    }
}

//! Slack's text conventions, both ways.
//!
//! **In** ([`decode`]): Slack escapes `&`, `<` and `>` as entities in every
//! text it sends (slash commands with `should_escape: true`, events) and
//! writes mentions, channels, user groups and links as control sequences.
//! `decode` turns those into shipmate's own references and plain text, so
//! what is stored is what the person typed:
//!
//! | Slack sends | stored |
//! |---|---|
//! | `<@U024BE7LH\|bob>`, `<@U024BE7LH>` | `slack:U024BE7LH` |
//! | `<#C024BE7LR\|general>` | `slack:C024BE7LR` |
//! | `<!subteam^S0614TZR7\|@qa-team>` | `slack-group:S0614TZR7` |
//! | `<!here>`, `<!channel>`, `<!everyone>` | `@here`, `@channel`, `@everyone` |
//! | `<https://x.example/a>` | `https://x.example/a` |
//! | `<http://x.example\|x.example>` (auto-linked) | `x.example` |
//! | `<https://x.example\|the docs>` | `the docs (https://x.example)` |
//! | `<!date^1392734382^{date}\|Feb 18>` | `Feb 18` |
//! | `a &amp; b &lt;c&gt;` | `a & b <c>` |
//!
//! Only sequences of those shapes are decoded: a `<` that starts anything
//! else is kept, so text that was never escaped (a modal's plain-text input)
//! reads back unchanged.
//!
//! **Out** ([`escape`]): the three characters are written as entities in any
//! free text shipmate sends to Slack, so nothing typed can become a link, a
//! mention or `<!channel>`.

/// Slack text with its control sequences and entities turned into plain text.
pub fn decode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find('<') {
        out.push_str(&unescape(&rest[..start]));
        let after = &rest[start + 1..];
        match after.find(['>', '<']) {
            Some(end) if after.as_bytes()[end] == b'>' => {
                match sequence(&after[..end]) {
                    Some(plain) => out.push_str(&plain),
                    None => {
                        out.push('<');
                        out.push_str(&unescape(&after[..end]));
                        out.push('>');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(&unescape(rest));
    out
}

/// The plain text of one control sequence (between `<` and `>`), or `None`
/// when it is not one of Slack's.
fn sequence(inner: &str) -> Option<String> {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(unescape(l))),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        return slack_id(id, 'U')
            .or_else(|| slack_id(id, 'W'))
            .map(|id| format!("slack:{id}"));
    }
    if let Some(id) = target.strip_prefix('#') {
        return slack_id(id, 'C')
            .or_else(|| slack_id(id, 'G'))
            .map(|id| format!("slack:{id}"));
    }
    if let Some(special) = target.strip_prefix('!') {
        if let Some(id) = special.strip_prefix("subteam^") {
            return slack_id(id, 'S').map(|id| format!("slack-group:{id}"));
        }
        if special.starts_with("date^") {
            return Some(label.unwrap_or_default());
        }
        return match special {
            "here" | "channel" | "everyone" => Some(format!("@{special}")),
            _ => label.or_else(|| Some(format!("@{special}"))),
        };
    }
    let url = unescape(target);
    let scheme = ["https://", "http://", "mailto:", "tel:"]
        .into_iter()
        .find(|s| url.starts_with(s))?;
    Some(match label {
        Some(label) if label == url || label == url[scheme.len()..] => label,
        Some(label) if url[scheme.len()..].trim_end_matches('/') == label => label,
        Some(label) if !label.is_empty() => format!("{label} ({url})"),
        _ => url,
    })
}

/// `id` when it is a Slack id starting with `first` (upper-case letters and digits).
fn slack_id(id: &str, first: char) -> Option<&str> {
    (id.starts_with(first)
        && id.len() > 1
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    .then_some(id)
}

/// `&lt;`, `&gt;` and `&amp;` back to the characters (`&amp;` last, so
/// `&amp;lt;` stays the text `&lt;`).
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (ch, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(ch);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Free text made safe for Slack: `&`, `<`, `>` as entities.
pub fn escape(s: &str) -> String {
    if !s.contains(['&', '<', '>']) {
        return s.to_string();
    }
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_channels_groups_and_links_become_references_and_plain_text() {
        assert_eq!(
            decode("approve <@U024BE7LH|bob> and <@W0123ABC> in <#C024BE7LR|general>"),
            "approve slack:U024BE7LH and slack:W0123ABC in slack:C024BE7LR"
        );
        assert_eq!(
            decode("grant qa <!subteam^S0614TZR7|@qa-team>"),
            "grant qa slack-group:S0614TZR7"
        );
        assert_eq!(
            decode("<!here> <!channel> <!everyone>"),
            "@here @channel @everyone"
        );
        assert_eq!(
            decode("see <https://ci.example.com/job/4711> and <http://example.org|example.org>"),
            "see https://ci.example.com/job/4711 and example.org"
        );
        assert_eq!(
            decode("read <https://wiki.example.org/x?a=1&amp;b=2|the runbook>"),
            "read the runbook (https://wiki.example.org/x?a=1&b=2)"
        );
        assert_eq!(
            decode("mail <mailto:ops@example.org|ops@example.org>"),
            "mail ops@example.org"
        );
        assert_eq!(
            decode("at <!date^1392734382^{date_short}|Feb 18, 2014>"),
            "at Feb 18, 2014"
        );
    }

    #[test]
    fn the_three_entities_are_unescaped_once() {
        assert_eq!(
            decode("db upgrade &amp; reindex &lt;prod&gt;"),
            "db upgrade & reindex <prod>"
        );
        assert_eq!(decode("&amp;lt; stays"), "&lt; stays");
        assert_eq!(decode("AT&T &copy; & co"), "AT&T &copy; & co");
    }

    #[test]
    fn text_that_was_never_escaped_reads_back_unchanged() {
        for raw in [
            "use <target> here",
            "a < b > c",
            "x <y",
            "<@lowercase> <#nope> <ftp://x>",
            "quotes \"kept\" and key:value",
        ] {
            assert_eq!(decode(raw), raw, "{raw}");
        }
    }

    #[test]
    fn escaping_round_trips_through_decoding() {
        for typed in [
            "db upgrade & reindex",
            "<!channel> <@U1>",
            "a&amp;b",
            "<<>>",
        ] {
            let sent = escape(typed);
            assert!(!sent.contains('<') && !sent.contains('>'), "{sent}");
            assert_eq!(decode(&sent), typed);
        }
    }
}

//! Delivery to `console:` channels: a block on the serving process's stdout
//! with the time, the channel and the text. A terminal cannot edit what it
//! printed, so an edit is printed again, marked `(edit of console-N)`.
//!
//! Text from users reaches a terminal here (and in the console's and
//! `shipmate run`'s replies), so it goes through [`terminal_safe`] first: a
//! control sequence in a deletion reason must not retitle, clear or rewrite
//! the operator's terminal.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono_tz::Tz;

use super::{Delivered, DeliveryError, DeliveryFuture, Outbound, Transport};
use crate::app::message::local;

/// `text` made safe to print on a terminal: control characters other than
/// newline and tab (escape, carriage return, backspace, bell, the C1 range,
/// DEL) are shown in caret notation (`^[`, `^M`, …, C1 as `^U+0085`), so no
/// escape or control sequence reaches the terminal, and bidirectional
/// overrides and isolates (which reorder what is shown) as `<U+202E>`.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => safe.push(c),
            '\u{7F}' => safe.push_str("^?"),
            c if (c as u32) < 0x20 => {
                safe.push('^');
                safe.push(char::from(c as u8 + 0x40));
            }
            c if c.is_control() => safe.push_str(&format!("^U+{:04X}", c as u32)),
            c => safe.push_str(&format!("<U+{:04X}>", c as u32)),
        }
    }
    Cow::Owned(safe)
}

/// A shared in-memory writer, for tests that read what the console printed.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prints console-channel messages.
pub struct ConsoleTransport {
    out: Mutex<Box<dyn Write + Send>>,
    tz: Tz,
}

impl ConsoleTransport {
    pub fn new(out: Box<dyn Write + Send>, tz: Tz) -> Self {
        Self {
            out: Mutex::new(out),
            tz,
        }
    }
}

impl Transport for ConsoleTransport {
    fn deliver<'a>(&'a self, item: &'a Outbound) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let text = item.message.plain(self.tz);
            let text = terminal_safe(&text);
            let mut block = format!("[{}] {}", local(chrono::Utc::now(), self.tz), item.channel);
            if let Some(original) = &item.edit_of {
                block.push_str(&format!(" (edit of {original})"));
            } else if let Some(parent) = &item.reply_to {
                block.push_str(&format!(" (reply to {parent})"));
            }
            for line in text.lines() {
                block.push_str("\n  ");
                block.push_str(line);
            }
            block.push('\n');
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            out.write_all(block.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| DeliveryError::Retry {
                    after: None,
                    reason: format!("console write failed: {e}"),
                })?;
            // An edit keeps the id of the message it edits, as Slack and Discord do.
            let id = item
                .edit_of
                .clone()
                .unwrap_or_else(|| format!("console-{}", item.outbox_id));
            Ok(Delivered {
                platform_message_id: Some(id),
                next_part: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn control_sequences_are_shown_not_obeyed() {
        assert_eq!(terminal_safe("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(
            terminal_safe("a\x1b]0;pwned\x07b\x1b[2Jc\rd\x08\x7f"),
            "a^[]0;pwned^Gb^[[2Jc^Md^H^?"
        );
        assert_eq!(terminal_safe("x\u{9b}31m"), "x^U+009B31m");
        assert_eq!(terminal_safe("ab\u{202E}cd"), "ab<U+202E>cd");
        let out = terminal_safe("\x1b[31mred\x1b[0m");
        assert!(!out.contains('\x1b'), "{out}");
    }
}

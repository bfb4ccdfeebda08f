//! Delivery to `console:` channels: a block on the serving process's stdout
//! with the time, the channel and the text. A terminal cannot edit what it
//! printed, so an edit is printed again, marked `(edit of console-N)`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono_tz::Tz;

use super::{Delivered, DeliveryError, DeliveryFuture, Outbound, Transport};
use crate::app::message::local;

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
            })
        })
    }
}

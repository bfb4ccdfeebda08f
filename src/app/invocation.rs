//! What every platform turns its input into, and what comes back.

use crate::domain::{ChannelRef, UserRef};

use super::message::Message;

/// One command as typed by someone somewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub user: UserRef,
    /// Discord guild role ids the user holds (for `discord-role:` members).
    pub platform_roles: Vec<String>,
    pub channel: ChannelRef,
    /// The whole command line, e.g. `/delete-request approve DR-1`.
    pub text: String,
}

impl Invocation {
    pub fn new(user: UserRef, channel: ChannelRef, text: impl Into<String>) -> Self {
        Self {
            user,
            platform_roles: Vec::new(),
            channel,
            text: text.into(),
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done; the state changed or was read.
    Ok,
    /// The grammar rejected the text.
    Invalid,
    /// A rule refused it (role, state, missing record).
    Refused,
    /// Something broke inside; nothing changed.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Invalid => "invalid",
            Status::Refused => "refused",
            Status::Failed => "error",
        }
    }
}

/// The reply to the person who typed the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// Visible to the channel (state changes) or only to the invoker (errors, help, reads).
    pub in_channel: bool,
    pub message: Message,
}

impl Reply {
    pub fn in_channel(message: Message) -> Self {
        Self {
            status: Status::Ok,
            in_channel: true,
            message,
        }
    }
    pub fn private(message: Message) -> Self {
        Self {
            status: Status::Ok,
            in_channel: false,
            message,
        }
    }
    pub fn error(status: Status, text: impl Into<String>) -> Self {
        Self {
            status,
            in_channel: false,
            message: Message::text(text),
        }
    }
}

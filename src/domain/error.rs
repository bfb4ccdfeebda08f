//! User-facing errors: their `Display` is the chat-ready sentence shown to
//! the person whose command was refused.

/// A refusal or invalid input. The text names what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input was malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// The caller lacks the role the action needs.
    #[error("{0}")]
    Forbidden(String),
    /// The record is in a state where the action is not allowed.
    #[error("{0}")]
    Conflict(String),
    /// The named record does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl DomainError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    /// Prefixes the message with the record it concerns, e.g. `DR-1: …`.
    pub fn about(self, record: impl std::fmt::Display) -> Self {
        match self {
            Self::Invalid(m) => Self::Invalid(format!("{record}: {m}")),
            Self::Forbidden(m) => Self::Forbidden(format!("{record}: {m}")),
            Self::Conflict(m) => Self::Conflict(format!("{record}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{record}: {m}")),
        }
    }
}

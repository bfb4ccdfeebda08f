//! `/freeze`: its grammar entry and its typed form.

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::feature::Input;
use crate::domain::DomainError;
use crate::domain::freeze::WindowKind;
use crate::domain::timing::parse_duration;
use crate::domain::timing::parse_when;
use crate::grammar::spec::{choice, key, pos};
use crate::grammar::{CommandSpec, SubSpec};

pub static FREEZE: CommandSpec = CommandSpec {
    name: "freeze",
    summary: "Code-freeze and backport windows",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "start",
            summary: "Open a window for a target (release-manager)",
            params: &[
                pos("target", "target", "what is frozen, e.g. portal"),
                key(
                    "until",
                    "date|duration",
                    "when it ends: a date/time or a duration such as 30d",
                ),
                key("reason", "…", "why"),
                choice(
                    "kind",
                    false,
                    WindowKind::NAMES,
                    "freeze (fixes and docs only) or backport (security fixes)",
                ),
            ],
        },
        SubSpec {
            name: "end",
            summary: "End a window early (release-manager)",
            params: &[
                pos("target", "target", "the frozen target"),
                choice(
                    "kind",
                    false,
                    WindowKind::NAMES,
                    "which window (default freeze)",
                ),
            ],
        },
        SubSpec {
            name: "status",
            summary: "Windows in force and coming",
            params: &[],
        },
    ],
};

/// When a window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// This long after it opens.
    After(TimeDelta),
    At(DateTime<Utc>),
}

/// One `/freeze` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeCommand {
    Start {
        target: String,
        until: Until,
        reason: String,
        kind: WindowKind,
    },
    End {
        target: String,
        kind: WindowKind,
    },
    Status,
}

impl TryFrom<Input<'_>> for FreezeCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let kind = || Ok::<_, DomainError>(input.parse("kind")?.unwrap_or(WindowKind::Freeze));
        Ok(match input.sub() {
            "start" => FreezeCommand::Start {
                target: input.required("target")?.to_string(),
                until: until(input.required("until")?, input)?,
                reason: input.required("reason")?.to_string(),
                kind: kind()?,
            },
            "end" => FreezeCommand::End {
                target: input.required("target")?.to_string(),
                kind: kind()?,
            },
            "status" => FreezeCommand::Status,
            _ => return Err(input.unknown()),
        })
    }
}

fn until(text: &str, input: Input<'_>) -> Result<Until, DomainError> {
    if let Ok(d) = parse_duration(text) {
        return Ok(Until::After(d));
    }
    parse_when(text, input.config.tz).map(Until::At).map_err(|_| {
        DomainError::invalid(format!(
            "until: `{text}` is neither a date/time (YYYY-MM-DD, \"YYYY-MM-DD HH:MM\") nor a duration (30d)"
        ))
    })
}

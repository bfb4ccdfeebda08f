//! `/downtime`: its grammar entry and its typed form.

use chrono::{DateTime, Utc};

use crate::app::feature::Input;
use crate::domain::downtime::Draft;
use crate::domain::timing::parse_duration;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::spec::{key, opt_key, pos};
use crate::grammar::{CommandSpec, Param, SubSpec};

const DT_ID: Param = pos("id", "DT-n", "the downtime window, e.g. DT-1");

pub static DOWNTIME: CommandSpec = CommandSpec {
    name: "downtime",
    summary: "Announce and run planned downtime windows",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "announce",
            summary: "Announce a downtime window; give duration or end (release-manager)",
            params: &[
                key("env", "env", "the environment, e.g. production"),
                key(
                    "start",
                    "time",
                    "when it starts: \"YYYY-MM-DD HH:MM\" in the configured zone, or RFC 3339",
                ),
                key("reason", "…", "what the downtime is for"),
                // Optional parameters come last: Discord requires required options first.
                opt_key("duration", "d", "how long it lasts, e.g. 2h (or give end)"),
                opt_key("end", "time", "when it ends (or give duration)"),
                opt_key("audience", "…", "who is affected, e.g. \"partner portals\""),
            ],
        },
        SubSpec {
            name: "postpone",
            summary: "Move an announced window to a new start, keeping its length (release-manager)",
            params: &[
                DT_ID,
                key("to", "time", "the new start time"),
                opt_key("reason", "…", "why it moved"),
            ],
        },
        SubSpec {
            name: "start",
            summary: "Start a window now; it keeps its length unless end: is given (release-manager)",
            params: &[
                DT_ID,
                opt_key(
                    "end",
                    "time",
                    "when it will end (default: it keeps its length)",
                ),
            ],
        },
        SubSpec {
            name: "complete",
            summary: "Announce that service is back (release-manager)",
            params: &[DT_ID],
        },
        SubSpec {
            name: "cancel",
            summary: "Call off an announced window (release-manager)",
            params: &[DT_ID, key("reason", "…", "why it is called off")],
        },
        SubSpec {
            name: "list",
            summary: "List current and upcoming windows",
            params: &[],
        },
    ],
};

/// One `/downtime` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DowntimeCommand {
    Announce(Draft),
    Postpone {
        id: RecordId,
        to: DateTime<Utc>,
        reason: Option<String>,
    },
    Start {
        id: RecordId,
        end: Option<DateTime<Utc>>,
    },
    Complete(RecordId),
    Cancel {
        id: RecordId,
        reason: String,
    },
    List,
}

impl TryFrom<Input<'_>> for DowntimeCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let id = || input.record(RecordKind::Downtime, "id");
        let time = |name: &str| {
            input
                .time(name)?
                .ok_or_else(|| DomainError::invalid(format!("missing `{name}`")))
        };
        Ok(match input.sub() {
            "announce" => {
                let start = time("start")?;
                let end = match (input.text("duration"), input.time("end")?) {
                    (Some(d), None) => start + parse_duration(d)?,
                    (None, Some(end)) => end,
                    (Some(_), Some(_)) => {
                        return Err(DomainError::invalid(
                            "give either duration:<d> or end:<time>, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(DomainError::invalid(
                            "missing the length of the window: add duration:<d> (e.g. duration:2h) or end:<time>",
                        ));
                    }
                };
                DowntimeCommand::Announce(Draft {
                    environment: input.required("env")?.to_string(),
                    start,
                    end,
                    reason: input.required("reason")?.to_string(),
                    audience: input.string("audience"),
                })
            }
            "postpone" => DowntimeCommand::Postpone {
                id: id()?,
                to: time("to")?,
                reason: input.string("reason"),
            },
            "start" => DowntimeCommand::Start {
                id: id()?,
                end: input.time("end")?,
            },
            "complete" => DowntimeCommand::Complete(id()?),
            "cancel" => DowntimeCommand::Cancel {
                id: id()?,
                reason: input.required("reason")?.to_string(),
            },
            "list" => DowntimeCommand::List,
            _ => return Err(input.unknown()),
        })
    }
}

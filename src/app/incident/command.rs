//! `/incident`: its grammar entry and its typed form.

use chrono::NaiveDate;

use crate::app::feature::Input;
use crate::app::mention::parse_user;
use crate::domain::choice::names_with;
use crate::domain::incident::{Resolution, Severity, State};
use crate::domain::version::{Semver, parse_service};
use crate::domain::{DomainError, RecordId, RecordKind, UserRef};
use crate::grammar::spec::{choice, key, opt_key, pos};
use crate::grammar::{CommandSpec, Param, SubSpec};

const INC_ID: Param = pos("id", "INC-n", "the incident, e.g. INC-1");

/// What `/incident list state:` accepts: every state and `all`.
const LIST_STATES: [&str; State::NAMES.len() + 1] = names_with(State::NAMES, &["all"]);

pub static INCIDENT: CommandSpec = CommandSpec {
    name: "incident",
    summary: "Partner incidents with response SLAs in business hours",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "open",
            summary: "Raise an incident: its INC-n and response deadline (anyone)",
            params: &[
                choice(
                    "severity",
                    true,
                    Severity::NAMES,
                    "P1 business halted, P2 slowed, P3 unaffected",
                ),
                key(
                    "summary",
                    "…",
                    "what is wrong, e.g. summary:\"login fails for every user\"",
                ),
                opt_key("service", "service", "the service affected, e.g. portal"),
                opt_key(
                    "version",
                    "semver",
                    "the version in use, e.g. 2.5.56 (checked against the version policy)",
                ),
                opt_key(
                    "partner",
                    "name",
                    "the partner (default: the partner whose channel this is)",
                ),
            ],
        },
        SubSpec {
            name: "ack",
            summary: "Give the first response: stops the SLA clock (support)",
            params: &[INC_ID],
        },
        SubSpec {
            name: "assign",
            summary: "Give the incident to someone (support)",
            params: &[INC_ID, pos("user", "@user", "who takes it")],
        },
        SubSpec {
            name: "note",
            summary: "Add an internal note (support)",
            params: &[
                INC_ID,
                key("text", "…", "the note; the partner does not see it"),
            ],
        },
        SubSpec {
            name: "update",
            summary: "Send an update to the partner's channels (support)",
            params: &[INC_ID, key("text", "…", "what the partner reads")],
        },
        SubSpec {
            name: "wait",
            summary: "Wait on the partner: pauses the SLA clock (support)",
            params: &[INC_ID, key("reason", "…", "what the partner must send")],
        },
        SubSpec {
            name: "resume",
            summary: "The partner answered: the SLA clock runs again (support)",
            params: &[INC_ID],
        },
        SubSpec {
            name: "resolve",
            summary: "Resolve the incident (support)",
            params: &[
                INC_ID,
                choice("resolution", true, Resolution::NAMES, "how it was resolved"),
                opt_key(
                    "fix-in",
                    "semver,…",
                    "with patch-planned: the versions the fix ships in, e.g. 3.2.16,2.5.57",
                ),
                key("text", "…", "what the partner reads"),
            ],
        },
        SubSpec {
            name: "reopen",
            summary: "Reopen a resolved incident (support)",
            params: &[INC_ID],
        },
        SubSpec {
            name: "accept-mail",
            summary: "Raise a held mail from an unknown sender as an incident (support)",
            params: &[
                pos("mail", "n", "the held mail's number, e.g. 3"),
                opt_key("partner", "name", "the partner it is for (default: none)"),
                choice(
                    "severity",
                    false,
                    Severity::NAMES,
                    "default: the subject's [P1]/[P2]/[P3] tag, else P3",
                ),
            ],
        },
        SubSpec {
            name: "held",
            summary: "Held mails from unknown senders, with their numbers (support)",
            params: &[],
        },
        SubSpec {
            name: "show",
            summary: "The whole timeline, with business time used against the SLA",
            params: &[INC_ID],
        },
        SubSpec {
            name: "list",
            summary: "Incidents (default: every one not resolved)",
            params: &[
                choice("severity", false, Severity::NAMES, "one severity only"),
                choice("state", false, &LIST_STATES, "one state, or all"),
                opt_key("partner", "name", "one partner only"),
            ],
        },
        SubSpec {
            name: "report",
            summary: "Per severity: incidents, time to first response, SLA attainment",
            params: &[opt_key("month", "YYYY-MM", "the month (default: this one)")],
        },
    ],
};

/// What opening an incident takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub severity: Severity,
    pub summary: String,
    pub service: Option<String>,
    pub version: Option<Semver>,
    pub partner: Option<String>,
}

/// One `/incident` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentCommand {
    Open(Open),
    Ack(RecordId),
    Assign {
        id: RecordId,
        user: UserRef,
    },
    Note {
        id: RecordId,
        text: String,
    },
    Update {
        id: RecordId,
        text: String,
    },
    Wait {
        id: RecordId,
        reason: String,
    },
    Resume(RecordId),
    Resolve {
        id: RecordId,
        kind: Resolution,
        fix_in: Vec<Semver>,
        text: String,
    },
    Reopen(RecordId),
    AcceptMail {
        mail: i64,
        partner: Option<String>,
        severity: Option<Severity>,
    },
    Held,
    Show(RecordId),
    List {
        severity: Option<Severity>,
        /// `None`: every state but resolved.
        state: Option<State>,
        all: bool,
        partner: Option<String>,
    },
    Report {
        month: Option<NaiveDate>,
    },
}

impl TryFrom<Input<'_>> for IncidentCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let id = || input.record(RecordKind::Incident, "id");
        let text = |name: &str| -> Result<String, DomainError> {
            let t = input.required(name)?.trim();
            if t.is_empty() {
                return Err(DomainError::invalid(format!(
                    "{name}: write some text, e.g. {name}:\"…\""
                )));
            }
            Ok(t.to_string())
        };
        Ok(match input.sub() {
            "open" => IncidentCommand::Open(Open {
                severity: input.parse_required("severity")?,
                summary: text("summary")?,
                service: input.text("service").map(parse_service).transpose()?,
                version: input.parse("version")?,
                partner: input.string("partner"),
            }),
            "ack" => IncidentCommand::Ack(id()?),
            "assign" => IncidentCommand::Assign {
                id: id()?,
                user: parse_user(input.required("user")?, input.platform)?,
            },
            "note" => IncidentCommand::Note {
                id: id()?,
                text: text("text")?,
            },
            "update" => IncidentCommand::Update {
                id: id()?,
                text: text("text")?,
            },
            "wait" => IncidentCommand::Wait {
                id: id()?,
                reason: text("reason")?,
            },
            "resume" => IncidentCommand::Resume(id()?),
            "resolve" => IncidentCommand::Resolve {
                id: id()?,
                kind: input.parse_required("resolution")?,
                fix_in: match input.text("fix-in") {
                    Some(list) => list
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| {
                            v.parse::<Semver>()
                                .map_err(|e| DomainError::invalid(format!("fix-in: {e}")))
                        })
                        .collect::<Result<_, _>>()?,
                    None => Vec::new(),
                },
                text: text("text")?,
            },
            "reopen" => IncidentCommand::Reopen(id()?),
            "accept-mail" => {
                let mail = input.required("mail")?.trim();
                IncidentCommand::AcceptMail {
                    mail: mail.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        DomainError::invalid(format!(
                            "mail: `{mail}` is not a held mail's number: write the number support was shown, e.g. 3"
                        ))
                    })?,
                    partner: input.string("partner"),
                    severity: input.parse("severity")?,
                }
            }
            "held" => IncidentCommand::Held,
            "show" => IncidentCommand::Show(id()?),
            "list" => {
                let state = input.text("state");
                IncidentCommand::List {
                    severity: input.parse("severity")?,
                    state: match state {
                        None | Some("all") => None,
                        Some(s) => Some(s.parse()?),
                    },
                    all: state == Some("all"),
                    partner: input.string("partner"),
                }
            }
            "report" => IncidentCommand::Report {
                month: input
                    .text("month")
                    .map(|m| {
                        NaiveDate::parse_from_str(&format!("{}-01", m.trim()), "%Y-%m-%d").map_err(
                            |_| {
                                DomainError::invalid(format!(
                                    "month: `{m}` is not a month: write YYYY-MM, e.g. month:2026-11"
                                ))
                            },
                        )
                    })
                    .transpose()?,
            },
            _ => return Err(input.unknown()),
        })
    }
}

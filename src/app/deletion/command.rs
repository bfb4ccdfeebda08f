//! `/delete-request`: its grammar entry and its typed form.

use crate::app::feature::Input;
use crate::app::listing::StateFilter;
use crate::app::mention::parse_users;
use crate::domain::choice::names_with;
use crate::domain::deletion::{Reason, Sensitivity, State};
use crate::domain::{DomainError, RecordId, RecordKind, UserRef};
use crate::grammar::spec::{choice, key, opt_key, pos};
use crate::grammar::{CommandSpec, Form, Param, SubSpec};

const DR_ID: Param = pos("id", "DR-n", "the deletion request, e.g. DR-1");

/// What `/delete-request list state:` accepts: every state, `open` and `all`.
const LIST_FILTERS: [&str; State::NAMES.len() + 2] = names_with(State::NAMES, &["open", "all"]);

pub static DELETE_REQUEST: CommandSpec = CommandSpec {
    name: "delete-request",
    summary: "File, approve and track data deletion requests",
    default_sub: Some("create"),
    subs: &[
        SubSpec {
            name: "create",
            summary: "File a deletion request (the default subcommand)",
            params: &[
                Param {
                    name: "target",
                    form: Form::PositionalOrKey,
                    required: true,
                    choices: &[],
                    hint: "target",
                    help: "the data to delete, e.g. city-a/run-42",
                },
                choice("reason", true, Reason::NAMES, "why the data must go"),
                Param {
                    name: "justification",
                    form: Form::Rest,
                    required: true,
                    choices: &[],
                    hint: "justification…",
                    help: "free text explaining the request",
                },
                choice(
                    "sensitivity",
                    false,
                    Sensitivity::NAMES,
                    "sets the cooling-off period (default low)",
                ),
                opt_key("stakeholders", "@a,@b", "people to tell, comma-separated"),
            ],
        },
        SubSpec {
            name: "approve",
            summary: "Approve a request (data-steward)",
            params: &[DR_ID],
        },
        SubSpec {
            name: "object",
            summary: "Object to a request: puts it on hold and stops the clock",
            params: &[
                DR_ID,
                key("reason", "…", "why the request should not proceed"),
            ],
        },
        SubSpec {
            name: "resolve",
            summary: "Resolve the objections; the full cooling-off restarts (data-steward)",
            params: &[DR_ID],
        },
        SubSpec {
            name: "cancel",
            summary: "Withdraw a request before it is done (requester or data-steward)",
            params: &[DR_ID, opt_key("reason", "…", "why it is withdrawn")],
        },
        SubSpec {
            name: "done",
            summary: "Record that a ready request was executed (devops)",
            params: &[DR_ID, opt_key("note", "…", "what was run")],
        },
        SubSpec {
            name: "show",
            summary: "Show a request with its audit history",
            params: &[DR_ID],
        },
        SubSpec {
            name: "list",
            summary: "List requests",
            params: &[choice(
                "state",
                false,
                &LIST_FILTERS,
                "filter by state (default open)",
            )],
        },
    ],
};

/// A request to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub target: String,
    pub reason: Reason,
    pub justification: String,
    pub sensitivity: Sensitivity,
    pub stakeholders: Vec<UserRef>,
}

/// Which requests `/delete-request list` shows (open: not yet done or cancelled).
pub type Filter = StateFilter<State>;

/// One `/delete-request` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionCommand {
    Create(Create),
    Approve(RecordId),
    Object {
        id: RecordId,
        reason: String,
    },
    Resolve(RecordId),
    Cancel {
        id: RecordId,
        reason: Option<String>,
    },
    Done {
        id: RecordId,
        note: Option<String>,
    },
    Show(RecordId),
    List(Filter),
}

impl DeletionCommand {
    /// The request it names, if any.
    pub fn id(&self) -> Option<RecordId> {
        match self {
            DeletionCommand::Create(_) | DeletionCommand::List(_) => None,
            DeletionCommand::Approve(id)
            | DeletionCommand::Object { id, .. }
            | DeletionCommand::Resolve(id)
            | DeletionCommand::Cancel { id, .. }
            | DeletionCommand::Done { id, .. }
            | DeletionCommand::Show(id) => Some(*id),
        }
    }
}

impl TryFrom<Input<'_>> for DeletionCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let id = || input.record(RecordKind::DeletionRequest, "id");
        Ok(match input.sub() {
            "create" => DeletionCommand::Create(Create {
                target: input.required("target")?.to_string(),
                reason: input.parse_required("reason")?,
                justification: input.required("justification")?.to_string(),
                sensitivity: input.parse("sensitivity")?.unwrap_or(Sensitivity::Low),
                stakeholders: match input.text("stakeholders") {
                    Some(s) => parse_users(
                        s,
                        input.platform,
                        input
                            .config
                            .section::<super::DeletionRules>()
                            .max_stakeholders,
                        "deletion.max_stakeholders",
                    )?,
                    None => Vec::new(),
                },
            }),
            "approve" => DeletionCommand::Approve(id()?),
            "object" => DeletionCommand::Object {
                id: id()?,
                reason: input.required("reason")?.to_string(),
            },
            "resolve" => DeletionCommand::Resolve(id()?),
            "cancel" => DeletionCommand::Cancel {
                id: id()?,
                reason: input.string("reason"),
            },
            "done" => DeletionCommand::Done {
                id: id()?,
                note: input.string("note"),
            },
            "show" => DeletionCommand::Show(id()?),
            "list" => DeletionCommand::List(Filter::from_input(&input, "state")?),
            _ => return Err(input.unknown()),
        })
    }
}

//! `/deploy` and `/rollback`: their grammar entries and their typed form.

use crate::app::feature::Input;
use crate::app::listing::StateFilter;
use crate::domain::choice::names_with;
use crate::domain::deploy::State;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::spec::{choice, key, opt_key, pos};
use crate::grammar::{CommandSpec, Param, SubSpec};

const DEP_ID: Param = pos("id", "DEP-n", "the deploy request, e.g. DEP-1");

/// What `/deploy list state:` accepts: every state, `open` and `all`.
const LIST_FILTERS: [&str; State::NAMES.len() + 2] = names_with(State::NAMES, &["open", "all"]);

pub static DEPLOY: CommandSpec = CommandSpec {
    name: "deploy",
    summary: "Request, approve and follow gated deploys",
    default_sub: Some("request"),
    subs: &[
        SubSpec {
            name: "request",
            summary: "Request a deploy of a target (the default subcommand)",
            params: &[
                pos("target", "target", "the deploy target, e.g. portal-prod"),
                key("ref", "branch|tag|sha", "what to deploy, e.g. v2.4.0"),
                opt_key("reason", "…", "why, shown on the card"),
                opt_key(
                    "override",
                    "…",
                    "admin only: file it despite a freeze or the release windows, saying why",
                ),
            ],
        },
        SubSpec {
            name: "approve",
            summary: "Approve a deploy request (a role the target names)",
            params: &[DEP_ID],
        },
        SubSpec {
            name: "object",
            summary: "Object to a deploy request: it is held until resolved",
            params: &[DEP_ID, key("reason", "…", "why it should not go ahead")],
        },
        SubSpec {
            name: "resolve",
            summary: "Resolve the objections (an approver role)",
            params: &[DEP_ID],
        },
        SubSpec {
            name: "cancel",
            summary: "Withdraw a request before it is triggered (requester or an approver role)",
            params: &[DEP_ID, opt_key("reason", "…", "why it is withdrawn")],
        },
        SubSpec {
            name: "show",
            summary: "Show a deploy request with its audit history",
            params: &[DEP_ID],
        },
        SubSpec {
            name: "list",
            summary: "List deploy requests",
            params: &[choice(
                "state",
                false,
                &LIST_FILTERS,
                "filter by state (default open)",
            )],
        },
    ],
};

pub static ROLLBACK: CommandSpec = CommandSpec {
    name: "rollback",
    summary: "Request a rollback of a deploy target (a gated deploy request)",
    default_sub: Some("request"),
    subs: &[SubSpec {
        name: "request",
        summary: "Roll a target back to its previous successful deploy, or to a tag, commit or run",
        params: &[
            pos("target", "target", "the deploy target, e.g. portal-prod"),
            opt_key(
                "to",
                "tag|commit|run",
                "a tag, a whole commit id, or the id of a run whose ref and commit to go back to (default: the previous successful deploy)",
            ),
            key("reason", "…", "why, shown on the card"),
            opt_key(
                "override",
                "…",
                "admin only: file it despite a freeze or the release windows, saying why",
            ),
        ],
    }],
};

/// A rollback to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub target: String,
    pub to: Option<String>,
    pub reason: String,
    pub override_reason: Option<String>,
}

/// A deploy to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub target: String,
    pub git_ref: String,
    pub reason: Option<String>,
    pub override_reason: Option<String>,
}

/// Which requests `/deploy list` shows (open: not yet triggered, refused or cancelled).
pub type Filter = StateFilter<State>;

/// The states `/deploy list` shows by default.
pub fn listed_open(state: State) -> bool {
    state.is_open() || state == State::Triggering
}

/// One `/deploy` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployCommand {
    Request(Request),
    Rollback(Rollback),
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
    Show(RecordId),
    List(Filter),
}

impl TryFrom<Input<'_>> for DeployCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let id = || input.record(RecordKind::DeployRequest, "id");
        if input.parsed.command.name == ROLLBACK.name {
            return match input.sub() {
                "request" => Ok(DeployCommand::Rollback(Rollback {
                    target: input.required("target")?.trim().to_string(),
                    to: input.string("to").map(|t| t.trim().to_string()),
                    reason: input.required("reason")?.to_string(),
                    override_reason: input.string("override"),
                })),
                _ => Err(input.unknown()),
            };
        }
        Ok(match input.sub() {
            "request" => DeployCommand::Request(Request {
                target: input.required("target")?.trim().to_string(),
                git_ref: input.required("ref")?.trim().to_string(),
                reason: input.string("reason"),
                override_reason: input.string("override"),
            }),
            "approve" => DeployCommand::Approve(id()?),
            "object" => DeployCommand::Object {
                id: id()?,
                reason: input.required("reason")?.to_string(),
            },
            "resolve" => DeployCommand::Resolve(id()?),
            "cancel" => DeployCommand::Cancel {
                id: id()?,
                reason: input.string("reason"),
            },
            "show" => DeployCommand::Show(id()?),
            "list" => DeployCommand::List(Filter::from_input(&input, "state")?),
            _ => return Err(input.unknown()),
        })
    }
}

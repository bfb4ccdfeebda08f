//! `/release`, `/task` and `/signoff`: their grammar entries and their typed form.

use chrono::{DateTime, Utc};

use crate::app::feature::Input;
use crate::domain::timing::parse_when;
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::spec::{choice, key, opt_key, pos};
use crate::grammar::{CommandSpec, Param, SubSpec};
use crate::text_enum;

text_enum!(
    /// How `/release retro` is written.
    RetroFormat, "format" {
        Text = "text",
        /// A table to paste.
        Markdown = "markdown",
    }
);

const RELEASE_KEY: Param = opt_key(
    "release",
    "REL-n",
    "the release (default: the one started in this channel)",
);

pub static RELEASE: CommandSpec = CommandSpec {
    name: "release",
    summary: "Run releases and upgrades from runbook templates",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "start",
            summary: "Start a release from a template, bound to this channel (release-manager)",
            params: &[
                pos("name", "name", "what this release is called, e.g. 2026-Q4"),
                key(
                    "template",
                    "template",
                    "the runbook: demo-upgrade, portal-release, rollout, or your own",
                ),
                opt_key(
                    "t0",
                    "date",
                    "day zero of the plan, YYYY-MM-DD (default today)",
                ),
            ],
        },
        SubSpec {
            name: "plan",
            summary: "The timeline with real dates, owners and states",
            params: &[RELEASE_KEY],
        },
        SubSpec {
            name: "status",
            summary: "Progress, and what blocks what",
            params: &[RELEASE_KEY],
        },
        SubSpec {
            name: "retro",
            summary: "Planned versus actual per task, slips and sign-offs",
            params: &[
                RELEASE_KEY,
                choice(
                    "format",
                    false,
                    RetroFormat::NAMES,
                    "markdown gives a table to paste",
                ),
            ],
        },
        SubSpec {
            name: "close",
            summary: "Close the release once every task is finished (release-manager)",
            params: &[RELEASE_KEY],
        },
        SubSpec {
            name: "cancel",
            summary: "End a release that cannot finish; its reminders stop (release-manager)",
            params: &[RELEASE_KEY, key("reason", "…", "why it is cancelled")],
        },
    ],
};

const TASK_ID: Param = pos("task", "task", "the task id, e.g. backup (see /task list)");

pub static TASK: CommandSpec = CommandSpec {
    name: "task",
    summary: "Work through a release's tasks",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "start",
            summary: "Mark a task in progress (its owner role or release-manager)",
            params: &[
                TASK_ID,
                RELEASE_KEY,
                opt_key("at", "time", "when it started, if not now"),
            ],
        },
        SubSpec {
            name: "done",
            summary: "Mark a task done; a notice publishes its text (its owner role or release-manager)",
            params: &[
                TASK_ID,
                opt_key("note", "…", "what happened"),
                RELEASE_KEY,
                opt_key("at", "time", "when it finished, if not now"),
            ],
        },
        SubSpec {
            name: "skip",
            summary: "Skip a task that is not needed (release-manager)",
            params: &[
                TASK_ID,
                key("reason", "…", "why it is skipped"),
                RELEASE_KEY,
            ],
        },
        SubSpec {
            name: "list",
            summary: "The tasks with their owners and states",
            params: &[RELEASE_KEY],
        },
    ],
};

const GATE: Param = pos("gate", "gate", "the gate, e.g. qa or product");

pub static SIGNOFF: CommandSpec = CommandSpec {
    name: "signoff",
    summary: "Sign a release gate (only its owner role, only after what it depends on)",
    default_sub: Some("sign"),
    subs: &[
        SubSpec {
            name: "sign",
            summary: "Sign a gate (the default subcommand)",
            params: &[
                GATE,
                RELEASE_KEY,
                opt_key("note", "…", "a remark kept with the sign-off"),
            ],
        },
        SubSpec {
            name: "revoke",
            summary: "Revoke a sign-off; what depends on it reopens",
            params: &[
                GATE,
                key("reason", "…", "why the sign-off no longer holds"),
                RELEASE_KEY,
            ],
        },
        SubSpec {
            name: "status",
            summary: "Every gate with who signed it and when",
            params: &[RELEASE_KEY],
        },
    ],
};

/// One `/release`, `/task` or `/signoff` command. `release` is the release
/// named with `release:REL-n`, or else the one open in the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseCommand {
    Start {
        name: String,
        template: String,
        t0: Option<DateTime<Utc>>,
    },
    Plan {
        release: Option<RecordId>,
    },
    Status {
        release: Option<RecordId>,
    },
    Retro {
        release: Option<RecordId>,
        format: RetroFormat,
    },
    Close {
        release: Option<RecordId>,
    },
    Cancel {
        release: Option<RecordId>,
        reason: String,
    },
    Task {
        release: Option<RecordId>,
        task: String,
        action: TaskAction,
    },
    TaskList {
        release: Option<RecordId>,
    },
    Sign {
        release: Option<RecordId>,
        gate: String,
        note: Option<String>,
    },
    Revoke {
        release: Option<RecordId>,
        gate: String,
        reason: String,
    },
    Gates {
        release: Option<RecordId>,
    },
}

/// What `/task` does to a task; `at` is when, if not now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAction {
    Start {
        at: Option<DateTime<Utc>>,
    },
    Done {
        note: Option<String>,
        at: Option<DateTime<Utc>>,
    },
    Skip {
        reason: String,
    },
}

impl TaskAction {
    /// The audit action's suffix.
    pub fn name(&self) -> &'static str {
        match self {
            TaskAction::Start { .. } => "start",
            TaskAction::Done { .. } => "done",
            TaskAction::Skip { .. } => "skip",
        }
    }
}

impl TryFrom<Input<'_>> for ReleaseCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let release = input
            .text("release")
            .map(|r| RecordId::parse_as(RecordKind::Release, r))
            .transpose()?;
        let when = |name: &str| {
            input
                .text(name)
                .map(|s| parse_when(s, input.config.tz))
                .transpose()
        };
        let required = |name: &str| input.required(name).map(str::to_string);
        Ok(match (input.parsed.command.name, input.sub()) {
            ("release", "start") => ReleaseCommand::Start {
                name: required("name")?,
                template: required("template")?,
                t0: when("t0")?,
            },
            ("release", "plan") => ReleaseCommand::Plan { release },
            ("release", "status") => ReleaseCommand::Status { release },
            ("release", "retro") => ReleaseCommand::Retro {
                release,
                format: input.parse("format")?.unwrap_or(RetroFormat::Text),
            },
            ("release", "close") => ReleaseCommand::Close { release },
            ("release", "cancel") => ReleaseCommand::Cancel {
                release,
                reason: required("reason")?,
            },
            ("task", "list") => ReleaseCommand::TaskList { release },
            ("task", sub @ ("start" | "done" | "skip")) => ReleaseCommand::Task {
                release,
                task: required("task")?,
                action: match sub {
                    "start" => TaskAction::Start { at: when("at")? },
                    "done" => TaskAction::Done {
                        note: input.string("note"),
                        at: when("at")?,
                    },
                    _ => TaskAction::Skip {
                        reason: required("reason")?,
                    },
                },
            },
            ("signoff", "sign") => ReleaseCommand::Sign {
                release,
                gate: required("gate")?,
                note: input.string("note"),
            },
            ("signoff", "revoke") => ReleaseCommand::Revoke {
                release,
                gate: required("gate")?,
                reason: required("reason")?,
            },
            ("signoff", "status") => ReleaseCommand::Gates { release },
            _ => return Err(input.unknown()),
        })
    }
}

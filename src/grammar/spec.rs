//! The table of commands: every command, subcommand and parameter, with the
//! summaries that `/help`, error usage lines and Discord registration show.

/// How a parameter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A positional word only (record ids, names).
    Positional,
    /// `key:value` only.
    Key,
    /// A positional word, or `key:value`.
    PositionalOrKey,
    /// All remaining positional words joined by spaces, or `key:value`.
    Rest,
}

/// One parameter of a subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub form: Form,
    pub required: bool,
    /// The accepted values, when the set is closed.
    pub choices: &'static [&'static str],
    /// Placeholder shown in usage, e.g. `DR-n`.
    pub hint: &'static str,
    pub help: &'static str,
}

/// One subcommand. The default subcommand of a command may be typed or left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
}

/// One command with its subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    pub name: &'static str,
    pub summary: &'static str,
    /// The subcommand used when the first word is not a subcommand name.
    pub default_sub: Option<&'static str>,
    pub subs: &'static [SubSpec],
}

const fn pos(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Positional,
        required: true,
        choices: &[],
        hint,
        help,
    }
}
const fn opt_pos(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Positional,
        required: false,
        choices: &[],
        hint,
        help,
    }
}
const fn key(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Key,
        required: true,
        choices: &[],
        hint,
        help,
    }
}
const fn opt_key(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Key,
        required: false,
        choices: &[],
        hint,
        help,
    }
}
const fn choice(
    name: &'static str,
    required: bool,
    choices: &'static [&'static str],
    help: &'static str,
) -> Param {
    Param {
        name,
        form: Form::Key,
        required,
        choices,
        hint: "",
        help,
    }
}

const DR_ID: Param = pos("id", "DR-n", "the deletion request, e.g. DR-1");

pub const HELP: CommandSpec = CommandSpec {
    name: "help",
    summary: "List the commands, or show the usage of one",
    default_sub: Some("show"),
    subs: &[SubSpec {
        name: "show",
        summary: "Show usage",
        params: &[opt_pos(
            "command",
            "command",
            "the command to explain, e.g. delete-request",
        )],
    }],
};

pub const DELETE_REQUEST: CommandSpec = CommandSpec {
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
                choice(
                    "reason",
                    true,
                    &["incorrect-input", "duplicate-run", "other"],
                    "why the data must go",
                ),
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
                    &["low", "medium", "high"],
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
                &[
                    "pending-approval",
                    "cooling-off",
                    "on-hold",
                    "ready",
                    "done",
                    "cancelled",
                    "open",
                    "all",
                ],
                "filter by state (default open)",
            )],
        },
    ],
};

pub const ROLE: CommandSpec = CommandSpec {
    name: "role",
    summary: "Grant, revoke and list roles (admin)",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "grant",
            summary: "Grant a role to a user (admin)",
            params: &[
                pos("role", "role", "the role, e.g. qa"),
                pos("user", "user", "a mention or address, e.g. slack:U024BE7LH"),
            ],
        },
        SubSpec {
            name: "revoke",
            summary: "Revoke a role granted at run time (admin)",
            params: &[
                pos("role", "role", "the role, e.g. qa"),
                pos("user", "user", "a mention or address"),
            ],
        },
        SubSpec {
            name: "list",
            summary: "List who holds which role",
            params: &[],
        },
    ],
};

const RELEASE_KEY: Param = opt_key(
    "release",
    "REL-n",
    "the release (default: the one started in this channel)",
);

pub const RELEASE: CommandSpec = CommandSpec {
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
                    &["text", "markdown"],
                    "markdown gives a table to paste",
                ),
            ],
        },
        SubSpec {
            name: "close",
            summary: "Close the release once every task is finished (release-manager)",
            params: &[RELEASE_KEY],
        },
    ],
};

const TASK_ID: Param = pos("task", "task", "the task id, e.g. backup (see /task list)");

pub const TASK: CommandSpec = CommandSpec {
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

pub const SIGNOFF: CommandSpec = CommandSpec {
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

pub const FREEZE: CommandSpec = CommandSpec {
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
                    &["freeze", "backport"],
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
                    &["freeze", "backport"],
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

const DT_ID: Param = pos("id", "DT-n", "the downtime window, e.g. DT-1");

pub const DOWNTIME: CommandSpec = CommandSpec {
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
            summary: "Start a window now, before its planned time (release-manager)",
            params: &[DT_ID],
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

pub const SMS: CommandSpec = CommandSpec {
    name: "sms",
    summary: "Track SMS credits and forecast when they run out",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "balance",
            summary: "Record the current SMS credit balance (devops)",
            params: &[pos("credits", "credits", "the balance, e.g. 12000")],
        },
        SubSpec {
            name: "status",
            summary: "Show the balance, burn rate and forecast run-out date",
            params: &[],
        },
    ],
};

pub const PIPELINE: CommandSpec = CommandSpec {
    name: "pipeline",
    summary: "Show CI/CD pipeline runs",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "status",
            summary: "The latest run of each pipeline, per environment",
            params: &[opt_key(
                "env",
                "environment",
                "only this environment, e.g. production",
            )],
        },
        SubSpec {
            name: "history",
            summary: "The last runs of one pipeline",
            params: &[Param {
                name: "pipeline",
                form: Form::Rest,
                required: true,
                choices: &[],
                hint: "pipeline",
                help: "the pipeline or workflow name, e.g. deploy-web",
            }],
        },
    ],
};

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[&CommandSpec] = &[
    &DELETE_REQUEST,
    &RELEASE,
    &TASK,
    &SIGNOFF,
    &FREEZE,
    &PIPELINE,
    &DOWNTIME,
    &SMS,
    &ROLE,
    &HELP,
];

/// Looks a command up by name, with or without the leading `/`.
pub fn find_command(name: &str) -> Option<&'static CommandSpec> {
    let name = name.strip_prefix('/').unwrap_or(name);
    COMMANDS
        .iter()
        .copied()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

impl Param {
    /// How the parameter appears in a usage line.
    pub fn usage(&self) -> String {
        let value = if self.choices.is_empty() {
            self.hint.to_string()
        } else {
            self.choices.join("|")
        };
        let text = match self.form {
            Form::Positional | Form::Rest => format!("<{value}>"),
            Form::PositionalOrKey => format!("<{value}>"),
            Form::Key => format!("{}:{value}", self.name),
        };
        if self.required {
            text
        } else {
            format!("[{text}]")
        }
    }
}

impl CommandSpec {
    pub fn sub(&self, name: &str) -> Option<&'static SubSpec>
    where
        Self: 'static,
    {
        self.subs.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The usage line of one subcommand.
    pub fn usage_of(&self, sub: &SubSpec) -> String {
        let mut line = format!("/{}", self.name);
        if self.default_sub == Some(sub.name) {
            if self.subs.len() > 1 {
                line.push_str(&format!(" [{}]", sub.name));
            }
        } else {
            line.push(' ');
            line.push_str(sub.name);
        }
        for p in sub.params {
            line.push(' ');
            line.push_str(&p.usage());
        }
        line
    }

    /// Every usage line of the command.
    pub fn usage(&self) -> String {
        self.subs
            .iter()
            .map(|s| self.usage_of(s))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

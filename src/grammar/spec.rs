//! How a command is described: its subcommands and parameters, with the
//! summaries that `/help`, error usage lines and Discord registration show.
//! Each feature declares its own commands (`app::features` lists them);
//! only `/help`, which every table has, is declared here.

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

pub const fn pos(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Positional,
        required: true,
        choices: &[],
        hint,
        help,
    }
}
pub const fn opt_pos(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Positional,
        required: false,
        choices: &[],
        hint,
        help,
    }
}
pub const fn key(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Key,
        required: true,
        choices: &[],
        hint,
        help,
    }
}
pub const fn opt_key(name: &'static str, hint: &'static str, help: &'static str) -> Param {
    Param {
        name,
        form: Form::Key,
        required: false,
        choices: &[],
        hint,
        help,
    }
}
pub const fn choice(
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

pub static HELP: CommandSpec = CommandSpec {
    name: "help",
    summary: "List the commands, or show the usage of one",
    default_sub: Some("show"),
    subs: &[SubSpec {
        name: "show",
        summary: "Show usage",
        params: &[
            opt_pos(
                "command",
                "command",
                "the command to explain, e.g. delete-request",
            ),
            opt_pos("sub", "subcommand", "one of its subcommands, e.g. approve"),
        ],
    }],
};

/// Looks a command up by name in `commands`, with or without the leading `/`.
pub fn find_command(commands: &[&'static CommandSpec], name: &str) -> Option<&'static CommandSpec> {
    let name = name.strip_prefix('/').unwrap_or(name);
    commands
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

//! The list of features. Adding a feature is its own files plus one line
//! here: the line wires its commands into the grammar table, `/help`,
//! Discord registration, the Slack manifest and dispatch, and its jobs into
//! the scheduler.

use std::sync::LazyLock;

use super::context::Handled;
use super::feature::{Feature, Input, JobRunner, features, owns};
use super::{Ctx, Reply};
use crate::domain::DomainError;
use crate::grammar::{self, CommandSpec, HELP, ParseError, Parsed};
use crate::settings::{Config, Problem, SectionCheck, Settings};
use crate::store::Reads;

features! {
    Deletion => super::deletion::Deletion,
    Release => super::release::Releases,
    Freeze => super::freeze::Freezes,
    Pipeline => super::pipeline::Pipelines,
    Downtime => super::downtime::Downtimes,
    Sms => super::sms::Sms,
    Roles => super::roles::Roles,
    Version => super::version::Versions,
    Incident => super::incident::Incidents,
    Subscribers => super::subscribers::Subscribers,
    Deploy => super::deploy::Deploys,
}

impl Settings {
    /// Checks every key, the core's and each feature's section; returns the
    /// typed config or every problem found (what `check-config` prints).
    pub fn validate(&self) -> Result<Config, Vec<Problem>> {
        self.validate_with(&SECTIONS)
    }
}

/// Parses a whole command line against every feature's commands.
pub fn parse_line(line: &str) -> Result<Parsed, ParseError> {
    grammar::parse_line(&COMMANDS, line)
}

/// Parses the text after a command name (as Slack sends it).
pub fn parse(command: &str, text: &str) -> Result<Parsed, ParseError> {
    grammar::parse(&COMMANDS, command, text)
}

/// Looks a command up by name, with or without the leading `/`.
pub fn find_command(name: &str) -> Option<&'static CommandSpec> {
    grammar::find_command(&COMMANDS, name)
}

/// The job runner of `kind`.
pub fn job(kind: &str) -> Option<&'static dyn JobRunner> {
    JOBS.iter().copied().find(|j| j.kind() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;
    use crate::grammar::{Form, Param};

    fn config() -> Config {
        crate::settings::load(None, Some(Default::default()))
            .expect("defaults load")
            .validate()
            .expect("defaults are valid")
    }

    /// A value of the right type for `param` of `/command`.
    fn sample(command: &str, param: &Param) -> String {
        if let Some(first) = param.choices.first() {
            return first.to_string();
        }
        match (command, param.name) {
            ("delete-request", "id") => "DR-7",
            ("downtime", "id") => "DT-7",
            ("incident", "id") => "INC-7",
            ("deploy", "id") => "DEP-7",
            ("pipeline", "run") => "30433642",
            ("incident", "version" | "fix-in") => "2.5.56",
            ("incident", "month") => "2026-11",
            ("incident", "mail") => "3",
            ("subscribers", "email") => "reader@lab.example",
            (_, "release") => "REL-1",
            (_, "t0" | "at") => "2026-11-02",
            (_, "start" | "end" | "to") => "\"2026-11-02 10:00\"",
            (_, "until") => "30d",
            (_, "duration") => "2h",
            (_, "credits") => "12000",
            (_, "role") => "qa",
            (_, "user") => "console:alice",
            (_, "stakeholders") => "@a,@b",
            ("version", "version") => "3.2.1",
            ("version", "major") => "2",
            ("version", "date") => "2099-06-30",
            ("version", "notes") => "https://example.com/notes",
            _ => "x",
        }
        .to_string()
    }

    fn line(command: &CommandSpec, sub: &str, params: &[(&Param, String)]) -> String {
        let mut line = format!("/{} {sub}", command.name);
        for (param, value) in params {
            match param.form {
                Form::Positional => line.push_str(&format!(" {value}")),
                _ => line.push_str(&format!(" {}:{value}", param.name)),
            }
        }
        line
    }

    fn typed(config: &Config, line: &str) -> Result<Command, String> {
        let parsed = parse_line(line).map_err(|e| format!("{line}: {e}"))?;
        let input = Input {
            parsed: &parsed,
            config,
            platform: Platform::Console,
        };
        match Command::from_input(input) {
            Some(Ok(command)) => Ok(command),
            Some(Err(e)) => Err(format!("{line}: {e}")),
            None => Err(format!("{line}: no feature owns it")),
        }
    }

    #[test]
    fn every_subcommand_of_every_feature_becomes_its_typed_command() {
        let config = config();
        for command in COMMANDS.iter().filter(|c| c.name != "help") {
            for sub in command.subs {
                // (`end` and `duration` of a downtime exclude each other)
                let params: Vec<(&Param, String)> = sub
                    .params
                    .iter()
                    .filter(|p| (command.name, p.name) != ("downtime", "end"))
                    .map(|p| (p, sample(command.name, p)))
                    .collect();
                // every parameter given, then only the required ones (and
                // a downtime's length)
                let all = line(command, sub.name, &params);
                typed(&config, &all).unwrap_or_else(|e| panic!("{e}"));
                let required: Vec<(&Param, String)> = params
                    .iter()
                    .filter(|(p, _)| p.required || p.name == "duration")
                    .map(|(p, v)| (*p, v.clone()))
                    .collect();
                let some = line(command, sub.name, &required);
                typed(&config, &some).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn every_choice_of_every_command_reaches_its_domain_type() {
        let config = config();
        for command in COMMANDS.iter().filter(|c| c.name != "help") {
            for sub in command.subs {
                for (i, param) in sub.params.iter().enumerate() {
                    for choice in param.choices {
                        let params: Vec<(&Param, String)> = sub
                            .params
                            .iter()
                            .enumerate()
                            .filter(|(j, p)| p.required || *j == i || p.name == "duration")
                            .map(|(j, p)| {
                                let v = if j == i {
                                    choice.to_string()
                                } else {
                                    sample(command.name, p)
                                };
                                (p, v)
                            })
                            .collect();
                        let text = line(command, sub.name, &params);
                        typed(&config, &text).unwrap_or_else(|e| panic!("{e}"));
                    }
                }
            }
        }
    }

    #[test]
    fn a_command_name_belongs_to_one_feature_and_every_job_kind_to_one_job() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        let mut kinds: Vec<&str> = JOBS.iter().map(|j| j.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), JOBS.len());
        assert!(job("deletion.expire").is_some());
        assert!(job("no.such").is_none());
    }
}

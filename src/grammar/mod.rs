//! The one command grammar (SPEC §4), shared by Slack slash-command text, the
//! console, `shipmate run` and Discord options (which map 1:1 onto params).
//!
//! `/<command> [<subcommand>] [positional…] [key:value | key:"quoted value"]…`
//!
//! [`spec`] describes commands; the table of them (`app::features::COMMANDS`,
//! one entry per feature) drives parsing, `/help`, and the
//! usage shown with every error, so they cannot drift apart.
//! No Slack, Discord, HTTP or SQL types live here.

mod lexer;
mod parser;
pub mod spec;

pub use parser::{ParseError, Parsed, parse, parse_line};
pub use spec::{CommandSpec, Form, HELP, Param, SubSpec, find_command};

#[cfg(test)]
mod tests;

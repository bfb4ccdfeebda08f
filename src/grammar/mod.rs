//! The one command grammar (SPEC §4), shared by Slack slash-command text, the
//! console, `shipmate run` and Discord options (which map 1:1 onto params).
//!
//! `/<command> [<subcommand>] [positional…] [key:value | key:"quoted value"]…`
//!
//! [`spec`] holds the table of commands: it drives parsing, `/help`, and the
//! usage shown with every error, so they cannot drift apart.
//! No Slack, Discord, HTTP or SQL types live here.

mod lexer;
mod parser;
pub mod spec;

pub use parser::{ParseError, Parsed, parse, parse_line};
pub use spec::{COMMANDS, CommandSpec, Form, Param, SubSpec, find_command};

#[cfg(test)]
mod tests;

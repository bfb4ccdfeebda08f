//! `/subscribers`: its grammar entry and its typed form.

use crate::app::feature::Input;
use crate::domain::DomainError;
use crate::domain::subscription::parse_address;
use crate::grammar::spec::pos;
use crate::grammar::{CommandSpec, SubSpec};

pub static SUBSCRIBERS: CommandSpec = CommandSpec {
    name: "subscribers",
    summary: "E-mail subscribers of the status page's notices",
    default_sub: Some("list"),
    subs: &[
        SubSpec {
            name: "list",
            summary: "Every subscriber, its topics and whether it confirmed (admin)",
            params: &[],
        },
        SubSpec {
            name: "remove",
            summary: "Remove a subscriber: it receives nothing more (admin)",
            params: &[pos(
                "email",
                "address",
                "the subscriber, e.g. reader@lab.example",
            )],
        },
    ],
};

/// One `/subscribers` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribersCommand {
    List,
    Remove(String),
}

impl TryFrom<Input<'_>> for SubscribersCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        Ok(match input.sub() {
            "list" => SubscribersCommand::List,
            "remove" => SubscribersCommand::Remove(parse_address(input.required("email")?)?),
            _ => return Err(input.unknown()),
        })
    }
}

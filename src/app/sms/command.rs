//! `/sms`: its grammar entry and its typed form.

use crate::app::feature::Input;
use crate::domain::DomainError;
use crate::domain::sms;
use crate::grammar::spec::pos;
use crate::grammar::{CommandSpec, SubSpec};

pub static SMS: CommandSpec = CommandSpec {
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

/// One `/sms` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsCommand {
    /// Record the balance, in credits.
    Balance(u64),
    Status,
}

impl TryFrom<Input<'_>> for SmsCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        Ok(match input.sub() {
            "balance" => SmsCommand::Balance(sms::parse_credits(input.required("credits")?)?),
            "status" => SmsCommand::Status,
            _ => return Err(input.unknown()),
        })
    }
}

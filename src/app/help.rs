//! `/help [command [subcommand]]`: usage generated from the grammar table.

use super::features::{COMMANDS, find_command};
use super::{Message, Reply, Status};
use crate::grammar::Parsed;

pub fn run(parsed: &Parsed) -> Reply {
    match parsed.get("command") {
        None => {
            let mut text = String::from("shipmate commands (`/help <command>` for details):");
            for c in COMMANDS.iter() {
                text.push_str(&format!("\n  /{:<16} {}", c.name, c.summary));
            }
            Reply::private(Message::text(text))
        }
        Some(name) => match find_command(name) {
            Some(c) => {
                let subs: Vec<_> = match parsed.get("sub") {
                    None => c.subs.iter().collect(),
                    Some(wanted) => match c
                        .subs
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case(wanted))
                    {
                        Some(sub) => vec![sub],
                        None => {
                            return Reply::error(
                                Status::Invalid,
                                format!(
                                    "/{} has no subcommand `{wanted}`: its subcommands are {}",
                                    c.name,
                                    c.subs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                                ),
                            );
                        }
                    },
                };
                let mut text = format!("/{}: {}", c.name, c.summary);
                for sub in subs {
                    text.push_str(&format!("\n  {}\n      {}", c.usage_of(sub), sub.summary));
                    for p in sub.params {
                        text.push_str(&format!("\n      {:<14} {}", p.name, p.help));
                    }
                }
                Reply::private(Message::text(text))
            }
            None => Reply::error(
                Status::Invalid,
                format!(
                    "unknown command `{name}`: the commands are {}",
                    COMMANDS
                        .iter()
                        .map(|c| format!("/{}", c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        },
    }
}

//! The Discord application commands, generated from the grammar's table
//! (command → subcommands → typed options), and their bulk registration
//! (`PUT …/commands`, which replaces the whole set).

use serde_json::{Value, json};

use crate::app::features::COMMANDS;
use crate::grammar::{CommandSpec, Param, SubSpec};
use crate::settings::DiscordSettings;

/// Option types.
const SUB_COMMAND: u8 = 1;
const STRING: u8 = 3;
/// Application command type: a slash command.
const CHAT_INPUT: u8 = 1;

fn description(text: &str) -> String {
    let text = if text.trim().is_empty() {
        "-"
    } else {
        text.trim()
    };
    text.chars().take(100).collect()
}

fn option(p: &Param) -> Value {
    let mut o = json!({
        "type": STRING,
        "name": p.name,
        "description": description(p.help),
        "required": p.required,
    });
    if !p.choices.is_empty() {
        let choices: Vec<Value> = p
            .choices
            .iter()
            .take(25)
            .map(|c| json!({"name": c, "value": c}))
            .collect();
        o["choices"] = json!(choices);
    }
    o
}

/// Discord wants required options first.
fn options(sub: &SubSpec) -> Vec<Value> {
    let mut params: Vec<&Param> = sub.params.iter().collect();
    params.sort_by_key(|p| !p.required);
    params.into_iter().map(option).collect()
}

fn command(c: &CommandSpec) -> Value {
    let flat = c.subs.len() == 1 && c.default_sub == Some(c.subs[0].name);
    let options: Vec<Value> = if flat {
        options(&c.subs[0])
    } else {
        c.subs
            .iter()
            .map(|s| {
                json!({
                    "type": SUB_COMMAND,
                    "name": s.name,
                    "description": description(s.summary),
                    "options": options(s),
                })
            })
            .collect()
    };
    json!({
        "type": CHAT_INPUT,
        "name": c.name,
        "description": description(c.summary),
        "options": options,
    })
}

/// Every grammar command as a Discord application command.
pub fn application_commands() -> Value {
    Value::Array(COMMANDS.iter().map(|c| command(c)).collect())
}

/// Why registration did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0} is not set: it is needed to register commands")]
    Missing(&'static str),
    #[error("Discord refused the commands: {0}")]
    Refused(String),
}

/// Where the commands go: one guild (instant) or global.
pub fn commands_url(settings: &DiscordSettings) -> String {
    let base = settings.api_base_url.trim_end_matches('/');
    let app = settings.application_id.trim();
    match settings.guild_id.trim() {
        "" => format!("{base}/applications/{app}/commands"),
        guild => format!("{base}/applications/{app}/guilds/{guild}/commands"),
    }
}

/// Replaces the application's commands with [`application_commands`]; returns how many.
pub async fn register(
    client: &reqwest::Client,
    settings: &DiscordSettings,
) -> Result<usize, RegisterError> {
    if settings.application_id.trim().is_empty() {
        return Err(RegisterError::Missing("discord.application_id"));
    }
    if settings.bot_token.is_empty() {
        return Err(RegisterError::Missing("discord.bot_token"));
    }
    let commands = application_commands();
    let response = client
        .put(commands_url(settings))
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Bot {}", settings.bot_token.expose()),
        )
        .json(&commands)
        .send()
        .await
        .map_err(|e| RegisterError::Refused(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(commands.as_array().map(Vec::len).unwrap_or_default());
    }
    let body = response.text().await.unwrap_or_default();
    Err(RegisterError::Refused(format!(
        "{status}: {}",
        body.chars().take(500).collect::<String>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_and_choices_come_from_the_grammar() {
        let all = application_commands();
        let dr = &all[0];
        assert_eq!(dr["name"], "delete-request");
        let create = &dr["options"][0];
        assert_eq!(create["type"], 1);
        assert_eq!(create["name"], "create");
        let reason = create["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == "reason"))
            .expect("reason");
        assert_eq!(reason["choices"][1]["value"], "duplicate-run");
        assert_eq!(reason["required"], true);
        let help = all
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == "help"))
            .expect("help");
        assert_eq!(
            help["options"][0]["type"], 3,
            "help has no subcommand level"
        );
    }

    #[test]
    fn required_options_come_first_and_descriptions_fit() {
        for c in application_commands().as_array().into_iter().flatten() {
            let subs = c["options"].as_array().cloned().unwrap_or_default();
            for s in subs.iter().filter(|s| s["type"] == 1) {
                let opts = s["options"].as_array().cloned().unwrap_or_default();
                let first_optional = opts.iter().position(|o| o["required"] == false);
                if let Some(i) = first_optional {
                    assert!(opts[i..].iter().all(|o| o["required"] == false), "{s}");
                }
                for o in &opts {
                    let d = o["description"].as_str().unwrap_or_default();
                    assert!(!d.is_empty() && d.chars().count() <= 100, "{o}");
                }
            }
        }
    }
}

//! Discord: the wire shape of interactions, the inbound core shared by the
//! interactions endpoint and the gateway ([`inbound`], [`gateway`]), how a
//! [`Reply`](crate::app::Reply) and a form look as interaction responses, the
//! mapping of application-command options back onto the grammar, and the
//! application commands generated from the grammar for registration.
//! Nothing outside `platform` and `http` sees these types.

pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod render;
pub mod wire;

use crate::app::features::find_command;
use crate::platform::command_text::{NamedValue, render as render_text};

use wire::{CommandData, CommandOption, Component};

/// Option type of a subcommand.
const SUB_COMMAND: u8 = 1;
/// Option type of a subcommand group (shipmate registers none).
const SUB_COMMAND_GROUP: u8 = 2;

fn value_text(option: &CommandOption) -> String {
    match &option.value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Rebuilds the command text of an application command from its subcommand
/// and typed options, for the grammar to parse like typed text.
pub fn command_text(data: &CommandData) -> Result<String, String> {
    let name = data.name.as_deref().unwrap_or_default();
    let command = find_command(name).ok_or_else(|| format!("unknown command `/{name}`"))?;
    let (sub_name, options) = match data.options.first() {
        Some(o) if o.kind == SUB_COMMAND => (Some(o.name.as_str()), o.options.as_slice()),
        Some(o) if o.kind == SUB_COMMAND_GROUP => {
            return Err(format!("`/{name} {}` is not a shipmate command", o.name));
        }
        _ => (command.default_sub, data.options.as_slice()),
    };
    let sub = match sub_name {
        Some(s) => command
            .sub(s)
            .ok_or_else(|| format!("unknown subcommand `{s}` for `/{name}`"))?,
        None => {
            let subs: Vec<&str> = command.subs.iter().map(|s| s.name).collect();
            return Err(format!("`/{name}` needs a subcommand: {}", subs.join(", ")));
        }
    };
    let values: Vec<NamedValue> = options
        .iter()
        .map(|o| NamedValue::new(o.name.clone(), value_text(o)))
        .collect();
    render_text(command, sub, &values)
}

/// The values typed into a submitted modal: every text input by its custom id.
pub fn modal_values(components: &[Component]) -> Vec<NamedValue> {
    let mut out = Vec::new();
    for c in components {
        if let (Some(id), Some(value)) = (&c.custom_id, &c.value) {
            out.push(NamedValue::new(id.clone(), value.clone()));
        }
        out.extend(modal_values(&c.components));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(json: &str) -> CommandData {
        serde_json::from_str(json).expect("data")
    }

    #[test]
    fn a_subcommand_with_typed_options_becomes_grammar_text() {
        let d = data(
            r#"{"name":"delete-request","options":[{"type":1,"name":"create","options":[
                {"type":3,"name":"target","value":"city-b/run 42"},
                {"type":3,"name":"reason","value":"duplicate-run"},
                {"type":3,"name":"justification","value":"ran \"twice\""}]}]}"#,
        );
        let text = command_text(&d).expect("text");
        let parsed = crate::app::features::parse_line(&text).expect("parses");
        assert_eq!(parsed.sub.name, "create");
        assert_eq!(parsed.get("target"), Some("city-b/run 42"));
        assert_eq!(parsed.get("justification"), Some("ran \"twice\""));
    }

    #[test]
    fn positional_ids_and_flat_commands() {
        let d = data(
            r#"{"name":"delete-request","options":[{"type":1,"name":"approve","options":[{"type":3,"name":"id","value":"DR-2"}]}]}"#,
        );
        assert_eq!(
            command_text(&d).as_deref(),
            Ok("/delete-request approve \"DR-2\"")
        );
        let help =
            data(r#"{"name":"help","options":[{"type":3,"name":"command","value":"role"}]}"#);
        assert_eq!(command_text(&help).as_deref(), Ok("/help show \"role\""));
        let role = data(r#"{"name":"role"}"#);
        assert!(
            command_text(&role)
                .unwrap_err()
                .contains("needs a subcommand")
        );
        let unknown = data(r#"{"name":"cardsearch"}"#);
        assert!(command_text(&unknown).unwrap_err().contains("/cardsearch"));
    }

    #[test]
    fn modal_inputs_are_read_from_their_rows() {
        let c: Vec<Component> = serde_json::from_str(
            r#"[{"type":1,"components":[{"type":4,"custom_id":"reason","value":"in use"}]}]"#,
        )
        .expect("components");
        assert_eq!(modal_values(&c), vec![NamedValue::new("reason", "in use")]);
    }
}

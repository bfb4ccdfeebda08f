//! Builds command text for the one grammar from structured platform input:
//! named options (Discord application commands, Slack and Discord forms) and
//! button templates with placeholders (`reason:"…"`) that a form fills in.
//! The text is then parsed by [`grammar`](crate::grammar) like typed text,
//! so there is no second parser.

use crate::app::features::find_command;
use crate::grammar::{CommandSpec, Form, Param, SubSpec};

/// The value a button leaves for a form to fill, as in `reason:"…"`.
const PLACEHOLDERS: [&str; 2] = ["\"…\"", "\"...\""];

/// Quotes a value so the lexer reads it back as one word, unchanged.
pub fn quote(value: &str) -> String {
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”')] {
        if !value.contains(open) && !value.contains(close) {
            return format!("{open}{value}{close}");
        }
    }
    // every quote character occurs: the double quotes become double primes
    format!("\"{}\"", value.replace('"', "″"))
}

/// One named value, as a platform delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    pub name: String,
    pub value: String,
}

impl NamedValue {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Writes `/{command} {sub} …` from named values: positional-only parameters
/// in table order, every other one as `name:"value"`. Empty values are left out.
pub fn render(
    command: &CommandSpec,
    sub: &SubSpec,
    values: &[NamedValue],
) -> Result<String, String> {
    let mut text = format!("/{} {}", command.name, sub.name);
    for v in values {
        if !sub.params.iter().any(|p| p.name == v.name) {
            return Err(format!(
                "`/{} {}` has no option `{}`",
                command.name, sub.name, v.name
            ));
        }
    }
    let value_of = |p: &Param| {
        values
            .iter()
            .find(|v| v.name == p.name && !v.value.trim().is_empty())
            .map(|v| quote(v.value.trim()))
    };
    for p in sub.params.iter().filter(|p| p.form == Form::Positional) {
        if let Some(v) = value_of(p) {
            text.push(' ');
            text.push_str(&v);
        }
    }
    for p in sub.params.iter().filter(|p| p.form != Form::Positional) {
        if let Some(v) = value_of(p) {
            text.push_str(&format!(" {}:{v}", p.name));
        }
    }
    Ok(text)
}

/// `base` followed by ` name:"value"` for each non-empty value: what a
/// submitted form runs. The grammar rejects names the command does not take.
pub fn append(base: &str, values: &[NamedValue]) -> String {
    let mut text = base.trim().to_string();
    let key_like = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    for v in values
        .iter()
        .filter(|v| key_like(&v.name) && !v.value.trim().is_empty())
    {
        text.push_str(&format!(" {}:{}", v.name, quote(v.value.trim())));
    }
    text
}

/// A field a form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub help: String,
    pub required: bool,
    /// A closed set of values: a select instead of free text.
    pub choices: Vec<String>,
    /// Free text that may span lines.
    pub long: bool,
    /// Names people (its usage hint is `@a,@b`): a user picker where the
    /// platform has one, so nobody has to type ids.
    pub people: bool,
}

impl Field {
    fn from_param(p: &Param) -> Self {
        let mut label = p.name.replace(['-', '_'], " ");
        if let Some(first) = label.get(..1) {
            label = format!("{}{}", first.to_uppercase(), &label[1..]);
        }
        Self {
            name: p.name.to_string(),
            label,
            help: p.help.to_string(),
            required: p.required,
            choices: p.choices.iter().map(|c| c.to_string()).collect(),
            long: p.form == Form::Rest || (p.name == "reason" && p.choices.is_empty()),
            people: p.hint.starts_with('@'),
        }
    }
}

/// A command with fields still to fill: the text so far and the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The command text without the missing values, e.g. `/delete-request object DR-1`.
    pub base: String,
    pub fields: Vec<Field>,
}

impl Template {
    /// The title a form shows: the command and subcommand.
    pub fn title(&self) -> String {
        self.base
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command text with the values of its fields; others are ignored.
    pub fn fill(&self, values: &[NamedValue]) -> String {
        let own: Vec<NamedValue> = values
            .iter()
            .filter(|v| self.fields.iter().any(|f| f.name == v.name))
            .cloned()
            .collect();
        append(&self.base, &own)
    }
}

fn spec_of(text: &str) -> Option<(&'static CommandSpec, Option<&'static SubSpec>)> {
    let mut words = text.split_whitespace();
    let command = find_command(words.next()?)?;
    let sub = words.next().and_then(|w| command.sub(w));
    Some((command, sub))
}

/// A button command that leaves values to fill (`key:"…"`), or `None`.
pub fn template(command_text: &str) -> Option<Template> {
    let mut base: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for word in command_text.split_whitespace() {
        match word.split_once(':') {
            Some((key, rest)) if PLACEHOLDERS.contains(&rest) && !key.is_empty() => names.push(key),
            _ => base.push(word),
        }
    }
    if names.is_empty() {
        return None;
    }
    let base = base.join(" ");
    let sub = spec_of(&base).and_then(|(_, sub)| sub);
    let fields = names
        .into_iter()
        .map(|name| {
            let param = sub.and_then(|s| s.params.iter().find(|p| p.name == name));
            match param {
                Some(p) => Field::from_param(p),
                None => Field {
                    name: name.to_string(),
                    label: name.to_string(),
                    help: String::new(),
                    required: true,
                    choices: Vec::new(),
                    long: false,
                    people: false,
                },
            }
        })
        .collect();
    Some(Template { base, fields })
}

/// For a command typed with no text whose default subcommand needs values,
/// the form that asks for them (e.g. `/delete-request` alone). `None` when
/// the command runs as typed.
pub fn form_for_bare(command_name: &str) -> Option<Template> {
    let command = find_command(command_name)?;
    let sub = command.default_sub.and_then(|d| command.sub(d))?;
    let needs_values = sub.params.iter().any(|p| p.required);
    let all_named = sub.params.iter().all(|p| p.form != Form::Positional);
    if !needs_values || !all_named {
        return None;
    }
    Some(Template {
        base: format!("/{} {}", command.name, sub.name),
        fields: sub.params.iter().map(Field::from_param).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::features::{COMMANDS, parse_line};

    #[test]
    fn quoted_values_read_back_unchanged() {
        for value in [
            "plain",
            "two words",
            "has \"double\" quotes",
            "it's \"both\"",
            "it's \"all\" “three”",
            "key:value inside",
            "line one\nline two",
        ] {
            let text = format!("/delete-request object DR-1 reason:{}", quote(value));
            let parsed = parse_line(&text).expect(&text);
            let expected = if value.contains('“') {
                value.replace('"', "″")
            } else {
                value.to_string()
            };
            assert_eq!(parsed.get("reason"), Some(expected.as_str()), "{text}");
        }
    }

    #[test]
    fn every_subcommand_round_trips_from_named_values() {
        for command in COMMANDS.iter() {
            for sub in command.subs {
                let values: Vec<NamedValue> = sub
                    .params
                    .iter()
                    .map(|p| {
                        let v = match (p.choices.first(), p.name) {
                            (Some(c), _) => c.to_string(),
                            (None, "id") => "DR-7".to_string(),
                            (None, "command") => "role".to_string(),
                            (None, _) => format!("{} with: \"spaces\"", p.name),
                        };
                        NamedValue::new(p.name, v)
                    })
                    .collect();
                let text = render(command, sub, &values).expect("render");
                let parsed = parse_line(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(parsed.sub.name, sub.name, "{text}");
                for v in &values {
                    assert_eq!(parsed.get(&v.name), Some(v.value.as_str()), "{text}");
                }
            }
        }
    }

    #[test]
    fn unknown_options_are_named() {
        let err = render(
            &crate::app::deletion::DELETE_REQUEST,
            &crate::app::deletion::DELETE_REQUEST.subs[1],
            &[NamedValue::new("colour", "red")],
        )
        .unwrap_err();
        assert!(err.contains("`colour`"), "{err}");
    }

    #[test]
    fn a_button_template_becomes_a_form_and_back() {
        let t = template("/delete-request object DR-3 reason:\"…\"").expect("template");
        assert_eq!(t.base, "/delete-request object DR-3");
        assert_eq!(t.title(), "/delete-request object");
        assert_eq!(t.fields.len(), 1);
        assert_eq!(t.fields[0].name, "reason");
        assert!(t.fields[0].required);
        let text = t.fill(&[NamedValue::new("reason", "still in use")]);
        assert_eq!(text, "/delete-request object DR-3 reason:\"still in use\"");
        assert!(parse_line(&text).is_ok());
        assert_eq!(template("/delete-request approve DR-3"), None);
    }

    #[test]
    fn a_bare_delete_request_asks_for_every_create_field() {
        let form = form_for_bare("/delete-request").expect("form");
        let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "target",
                "reason",
                "justification",
                "sensitivity",
                "stakeholders"
            ]
        );
        assert_eq!(form.fields[1].choices.len(), 3);
        assert!(form.fields[2].long);
        assert!(form.fields[4].people && !form.fields[0].people);
        assert_eq!(form_for_bare("help"), None);
        assert_eq!(form_for_bare("role"), None);
    }
}

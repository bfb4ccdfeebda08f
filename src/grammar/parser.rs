//! Turns text into a [`Parsed`] command checked against the [`spec`](super::spec) table.

use std::collections::BTreeMap;
use std::fmt;

use super::lexer::{Token, lex};
use super::spec::{CommandSpec, Form, SubSpec, find_command};

/// A command the table accepts: every parameter by name, positionals bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub command: &'static CommandSpec,
    pub sub: &'static SubSpec,
    pub args: BTreeMap<&'static str, String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.get(name).map(String::as_str)
    }

    /// The usage line of this subcommand, for errors found after parsing.
    pub fn usage(&self) -> String {
        self.command.usage_of(self.sub)
    }
}

/// Input the grammar rejects: what was wrong, and the correct usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub usage: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\nUsage:\n{}", self.message, self.usage)
    }
}

impl std::error::Error for ParseError {}

/// Words that look like `key:` but start an address or a link.
const VALUE_PREFIXES: &[&str] = &[
    "slack",
    "discord",
    "console",
    "discord-role",
    "slack-group",
    "http",
    "https",
    "mailto",
];

/// The option closest to `word` within a small edit distance, if any.
fn nearest<'a>(word: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    options
        .into_iter()
        .map(|o| (strsim::levenshtein(&word, o), o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

fn did_you_mean<'a>(word: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, options)
        .map(|o| format!(" (did you mean `{o}`?)"))
        .unwrap_or_default()
}

/// The usage shown when no command is at hand: `/help`'s, not every command's.
fn help_usage() -> String {
    super::spec::HELP.usage()
}

/// Parses a whole line such as `/delete-request approve DR-1` (the `/` is
/// optional) against the table `commands`.
pub fn parse_line(commands: &[&'static CommandSpec], line: &str) -> Result<Parsed, ParseError> {
    let line = line.trim();
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if name.is_empty() || name == "/" {
        return Err(ParseError {
            message: "no command given: start with a command such as /help".into(),
            usage: help_usage(),
        });
    }
    parse(commands, name, rest)
}

/// Parses the text after a command name, as Slack sends it.
pub fn parse(
    commands: &[&'static CommandSpec],
    command: &str,
    text: &str,
) -> Result<Parsed, ParseError> {
    let spec = find_command(commands, command).ok_or_else(|| {
        let bare = command.strip_prefix('/').unwrap_or(command);
        ParseError {
            message: format!(
                "unknown command `/{bare}`{}: see /help",
                did_you_mean(bare, commands.iter().map(|c| c.name))
            ),
            usage: help_usage(),
        }
    })?;
    let tokens = lex(text).map_err(|message| ParseError {
        message,
        usage: spec.usage(),
    })?;
    let (sub, rest) = pick_sub(spec, &tokens)?;
    bind(spec, sub, rest)
}

fn pick_sub<'t>(
    spec: &'static CommandSpec,
    tokens: &'t [Token],
) -> Result<(&'static SubSpec, &'t [Token]), ParseError> {
    let first = tokens.first().filter(|t| !t.quoted);
    if let Some(sub) = first.and_then(|t| spec.sub(&t.text)) {
        return Ok((sub, &tokens[1..]));
    }
    let names: Vec<&str> = spec.subs.iter().map(|s| s.name).collect();
    // a misspelled subcommand is never run as the default one's argument
    let near = first
        .and_then(|t| nearest(&t.text, names.iter().copied()).map(|name| (t.text.as_str(), name)));
    match (spec.default_sub.and_then(|d| spec.sub(d)), near) {
        (Some(default), Some((typed, meant))) => Err(ParseError {
            message: format!(
                "`{typed}` looks like the subcommand `{meant}` (did you mean `{meant}`?); \
                 to give `{typed}` as a value, quote it: \"{typed}\""
            ),
            usage: spec
                .sub(meant)
                .map_or_else(|| spec.usage_of(default), |s| spec.usage_of(s)),
        }),
        (Some(default), None) => Ok((default, tokens)),
        (None, _) => {
            let message = match tokens.first() {
                None => format!("`/{}` needs a subcommand: {}", spec.name, names.join(", ")),
                Some(t) => format!(
                    "unknown subcommand `{}` for `/{}`{}: use one of {}",
                    t.text,
                    spec.name,
                    did_you_mean(&t.text, names.iter().copied()),
                    names.join(", ")
                ),
            };
            let usage = match near.and_then(|(_, meant)| spec.sub(meant)) {
                Some(sub) => spec.usage_of(sub),
                None => spec.usage(),
            };
            Err(ParseError { message, usage })
        }
    }
}

fn is_key_like(prefix: &str) -> bool {
    let mut chars = prefix.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn bind(
    spec: &'static CommandSpec,
    sub: &'static SubSpec,
    tokens: &[Token],
) -> Result<Parsed, ParseError> {
    let usage = spec.usage_of(sub);
    let fail = |message: String| ParseError {
        message,
        usage: usage.clone(),
    };
    let mut args: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut positionals: Vec<&str> = Vec::new();
    // the key:value a bare word came right after (`reason:bad words`): the
    // word was most likely meant as more of that value
    let mut after_key: BTreeMap<usize, (&'static str, &str)> = BTreeMap::new();
    let mut last_key: Option<(&'static str, &str)> = None;

    for token in tokens {
        let split = token.text.split_once(':').filter(|_| !token.quoted);
        let Some((prefix, value)) = split.filter(|(p, _)| is_key_like(p)) else {
            if let Some(key) = last_key {
                after_key.insert(positionals.len(), key);
            }
            positionals.push(&token.text);
            continue;
        };
        last_key = None;
        let lower = prefix.to_ascii_lowercase();
        match sub
            .params
            .iter()
            .find(|p| p.name == lower && p.form != Form::Positional)
        {
            Some(param) => {
                if value.trim().is_empty() {
                    return Err(fail(format!(
                        "`{prefix}:` has no value: write {}",
                        param.usage().trim_matches(['[', ']'])
                    )));
                }
                last_key = Some((param.name, value));
                if args.insert(param.name, value.to_string()).is_some() {
                    return Err(fail(format!(
                        "`{}` is given twice: give it once",
                        param.name
                    )));
                }
            }
            None if VALUE_PREFIXES.contains(&lower.as_str()) => positionals.push(&token.text),
            None => {
                let keys: Vec<&str> = sub
                    .params
                    .iter()
                    .filter(|p| p.form != Form::Positional)
                    .map(|p| p.name)
                    .collect();
                let valid = if keys.is_empty() {
                    "it takes no keys".to_string()
                } else {
                    format!("its keys are {}", keys.join(", "))
                };
                return Err(fail(format!(
                    "unknown key `{prefix}` for `{}`{}: {valid} (quote a value that contains `:`)",
                    usage_head(spec, sub),
                    did_you_mean(prefix, keys.iter().copied()),
                )));
            }
        }
    }

    let glued = |at: usize| after_key.get(&at).copied();
    let mut words = positionals.iter().copied().enumerate().peekable();
    for param in sub.params.iter().filter(|p| p.form != Form::Key) {
        if args.contains_key(param.name) || words.peek().is_none() {
            continue;
        }
        let value = if param.form == Form::Rest {
            words.by_ref().map(|(_, w)| w).collect::<Vec<_>>().join(" ")
        } else {
            words.next().map(|(_, w)| w).unwrap_or_default().to_string()
        };
        args.insert(param.name, value);
    }
    if let Some((at, extra)) = words.next() {
        if let Some((key, value)) = glued(at) {
            // every bare word after the key, up to the next key
            let mut more = vec![extra];
            more.extend(
                words
                    .take_while(|(i, _)| after_key.get(i).is_some_and(|k| k.0 == key))
                    .map(|(_, w)| w),
            );
            return Err(fail(format!(
                "`{key}:` has spaces in its value: quote it, {key}:\"{value} {}\"",
                more.join(" ")
            )));
        }
        return Err(fail(format!(
            "unexpected `{extra}`: `{}` does not take that many values (quote text with spaces, or use key:value)",
            usage_head(spec, sub)
        )));
    }

    for param in sub.params {
        match args.get_mut(param.name) {
            Some(value) if !param.choices.is_empty() => {
                // a choice matches whatever its case; the canonical spelling is kept
                let Some(canonical) = param.choices.iter().find(|c| c.eq_ignore_ascii_case(value))
                else {
                    let lower = value.to_ascii_lowercase();
                    return Err(fail(format!(
                        "`{value}` is not a valid {}{}: use one of {}",
                        param.name,
                        did_you_mean(&lower, param.choices.iter().copied()),
                        param.choices.join(", ")
                    )));
                };
                *value = canonical.to_string();
            }
            Some(_) => {}
            None if param.required => {
                let how = match param.form {
                    Form::Key => format!("add {}", param.usage()),
                    Form::Positional => format!("give {}", param.usage()),
                    _ => format!("give {} or {}:\"…\"", param.usage(), param.name),
                };
                return Err(fail(format!(
                    "missing `{}` ({}): {how}",
                    param.name, param.help
                )));
            }
            None => {}
        }
    }
    Ok(Parsed {
        command: spec,
        sub,
        args,
    })
}

/// `/deploy approve`; a command's default subcommand goes unsaid (`/deploy`).
fn usage_head(spec: &CommandSpec, sub: &SubSpec) -> String {
    if spec.default_sub == Some(sub.name) {
        format!("/{}", spec.name)
    } else {
        format!("/{} {}", spec.name, sub.name)
    }
}

//! Reading a table so that every problem in it is found at once, not only
//! the first one serde stops at.
//!
//! Each failure is recorded with its full key path; the key at fault is then
//! patched — an unknown key dropped, a value of the wrong type replaced by the
//! default (or dropped when there is none), a missing key given its default —
//! and the table is read again, until it reads or nothing more can be
//! patched. An unknown key is answered with the nearest known one; a wrong
//! value with the default as an example of a valid one.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use config::{ConfigError, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::{EMBEDDED_DEFAULTS, Problem};

/// Rounds of patching before giving up (each round fixes one key).
const MAX_ROUNDS: usize = 100;

/// The embedded defaults as one table (the examples of valid values).
pub fn defaults() -> &'static Value {
    static DEFAULTS: OnceLock<Value> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        config::Config::builder()
            .add_source(config::File::from_str(
                EMBEDDED_DEFAULTS,
                config::FileFormat::Toml,
            ))
            .build()
            .map(|c| c.cache)
            .unwrap_or_else(|_| Value::new(None, ValueKind::Table(Default::default())))
    })
}

/// What went wrong at one key, relative to the table read.
enum Fault {
    Unknown {
        at: Vec<String>,
        field: String,
        known: Vec<String>,
    },
    Missing {
        at: Vec<String>,
    },
    Invalid {
        at: Vec<String>,
        message: String,
    },
}

/// Reads `table` (found at `prefix`, `""` for the root) as `T`, collecting
/// every problem; `T` is returned when the table reads after patching, so
/// later checks can still run, but the problems stand.
pub fn read_all<T: DeserializeOwned>(table: &Value, prefix: &str) -> (Option<T>, Vec<Problem>) {
    let defaults = lookup(defaults(), &split(prefix));
    let mut table = table.clone();
    let mut problems = Vec::new();
    let mut patched = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let error = match T::deserialize(table.clone()) {
            Ok(read) => return (Some(read), problems),
            Err(e) => e,
        };
        let Some(fault) = classify(&error) else {
            problems.push(Problem {
                key: shown(prefix, &[]),
                message: error.to_string(),
            });
            return (None, problems);
        };
        let at = match &fault {
            Fault::Unknown { at, field, .. } => [at.clone(), vec![field.clone()]].concat(),
            Fault::Missing { at } | Fault::Invalid { at, .. } => at.clone(),
        };
        let key = shown(prefix, &at);
        if !patched.insert(key.clone()) {
            problems.push(Problem {
                key,
                message: error.to_string(),
            });
            return (None, problems);
        }
        let default = defaults.and_then(|d| lookup(d, &at)).cloned();
        let leaf = at.last().cloned().unwrap_or_default();
        let example_of = |d: &Value| Some(example(d));
        match fault {
            Fault::Unknown { field, known, .. } => {
                problems.push(Problem {
                    key,
                    message: unknown_message(&field, &known),
                });
                remove(&mut table, &at);
            }
            Fault::Missing { .. } => {
                let example = default
                    .as_ref()
                    .and_then(example_of)
                    .map(|d| format!(", e.g. {leaf} = {d}"))
                    .unwrap_or_default();
                problems.push(Problem {
                    key,
                    message: format!("missing: this key is required{example}"),
                });
                match default {
                    Some(d) => set(&mut table, &at, d),
                    // a key of an array's element (no default there): an
                    // empty value stands in, so the element is still read
                    // and checked, under its own index
                    None if at.iter().any(|p| index(p).is_some()) => {
                        set(
                            &mut table,
                            &at,
                            Value::new(None, ValueKind::String(String::new())),
                        );
                    }
                    None => return (None, problems),
                }
            }
            Fault::Invalid { message, .. } => {
                let example = default
                    .as_ref()
                    .and_then(example_of)
                    .map(|d| format!(": write e.g. {leaf} = {d} (the default)"))
                    .unwrap_or_default();
                problems.push(Problem {
                    key,
                    message: format!("{message}{example}"),
                });
                match default {
                    Some(d) => set(&mut table, &at, d),
                    None => remove(&mut table, &at),
                }
            }
        }
    }
    (None, problems)
}

/// The message for an unknown key, with the nearest known key if one is close.
pub fn unknown_message(field: &str, known: &[String]) -> String {
    let nearest = nearest(field, known.iter().map(String::as_str));
    let hint = nearest
        .map(|n| format!(": did you mean `{n}`?"))
        .unwrap_or_default();
    if known.is_empty() {
        format!("unknown key `{field}`{hint}: this table takes no keys")
    } else {
        format!(
            "unknown key `{field}`{hint} (the keys here are {})",
            known.join(", ")
        )
    }
}

/// The candidate closest to `typed`, if it is close enough to be a typo.
pub fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(typed, c), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn classify(e: &ConfigError) -> Option<Fault> {
    match e {
        ConfigError::At { error, key, .. } => {
            let at = key.as_deref().map(split).unwrap_or_default();
            match error.as_ref() {
                ConfigError::Message(m) if m.starts_with("unknown field") => {
                    let mut names = backticked(m);
                    let field = (!names.is_empty()).then(|| names.remove(0))?;
                    Some(Fault::Unknown {
                        at,
                        field,
                        known: names,
                    })
                }
                ConfigError::NotFound(field) => Some(Fault::Missing {
                    at: [at, split(field)].concat(),
                }),
                // serde's own words for a key left out of an array's element
                ConfigError::Message(m) if m.starts_with("missing field") => {
                    let field = backticked(m).into_iter().next()?;
                    Some(Fault::Missing {
                        at: [at, vec![field]].concat(),
                    })
                }
                inner => Some(Fault::Invalid {
                    at,
                    message: inner.to_string(),
                }),
            }
        }
        ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => Some(Fault::Invalid {
            at: split(key),
            message: format!(
                "{} is not {}",
                unexpected
                    .to_string()
                    .trim_start_matches("64-bit integer ")
                    .trim_start_matches("64-bit unsigned integer "),
                plain(expected)
            ),
        }),
        ConfigError::NotFound(field) => Some(Fault::Missing { at: split(field) }),
        ConfigError::Message(m) if m.starts_with("unknown field") => {
            let mut names = backticked(m);
            let field = (!names.is_empty()).then(|| names.remove(0))?;
            // `… for key `routes[0]``: where the field is
            let at = m
                .rsplit_once("for key `")
                .and_then(|(_, k)| k.strip_suffix('`'))
                .map(split)
                .unwrap_or_default();
            Some(Fault::Unknown {
                at,
                field,
                known: names,
            })
        }
        _ => None,
    }
}

/// The config crate's name of a type, in words (`an unsigned 64 bit or
/// less integer` → `a whole number, 0 or more`).
fn plain(expected: &str) -> &str {
    if expected.contains("unsigned") && expected.contains("integer") {
        "a whole number, 0 or more"
    } else if expected.contains("integer") {
        "a whole number"
    } else {
        expected
    }
}

/// The words between backticks, in order.
fn backticked(m: &str) -> Vec<String> {
    m.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `a.b[2].c` → `["a", "b", "[2]", "c"]`: table keys, and array indexes
/// in brackets.
fn split(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for part in key.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                parts.push(rest[..open].to_string());
            }
            rest = &rest[open..];
            while let Some(close) = rest.find(']') {
                parts.push(rest[..=close].to_string());
                rest = &rest[close + 1..];
            }
            // the config crate names a key in an element `routes[0]environment`
            if !rest.is_empty() {
                parts.push(rest.to_string());
            }
        } else {
            parts.push(rest.to_string());
        }
    }
    parts
}

/// `[2]` → 2.
fn index(part: &str) -> Option<usize> {
    part.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

fn shown(prefix: &str, at: &[String]) -> String {
    let mut shown = prefix.to_string();
    for part in at {
        if !shown.is_empty() && !part.starts_with('[') {
            shown.push('.');
        }
        shown.push_str(part);
    }
    if shown.is_empty() {
        "config".to_string()
    } else {
        shown
    }
}

fn lookup<'a>(value: &'a Value, at: &[String]) -> Option<&'a Value> {
    let mut v = value;
    for part in at {
        v = match (&v.kind, index(part)) {
            (ValueKind::Table(t), None) => t.get(part)?,
            (ValueKind::Array(items), Some(i)) => items.get(i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn remove(value: &mut Value, at: &[String]) {
    let Some((last, parents)) = at.split_last() else {
        return;
    };
    match (lookup_mut(value, parents).map(|v| &mut v.kind), index(last)) {
        (Some(ValueKind::Table(t)), None) => {
            t.remove(last);
        }
        (Some(ValueKind::Array(items)), Some(i)) if i < items.len() => {
            items.remove(i);
        }
        _ => {}
    }
}

fn set(value: &mut Value, at: &[String], new: Value) {
    let Some((last, parents)) = at.split_last() else {
        *value = new;
        return;
    };
    match (lookup_mut(value, parents).map(|v| &mut v.kind), index(last)) {
        (Some(ValueKind::Table(t)), None) => {
            t.insert(last.clone(), new);
        }
        (Some(ValueKind::Array(items)), Some(i)) if i < items.len() => items[i] = new,
        _ => {}
    }
}

fn lookup_mut<'a>(value: &'a mut Value, at: &[String]) -> Option<&'a mut Value> {
    let mut v = value;
    for part in at {
        v = match (&mut v.kind, index(part)) {
            (ValueKind::Table(t), None) => t.get_mut(part)?,
            (ValueKind::Array(items), Some(i)) => items.get_mut(i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A value as it would be written in TOML.
fn example(v: &Value) -> String {
    match &v.kind {
        ValueKind::String(s) => format!("{s:?}"),
        ValueKind::Array(items) => format!(
            "[{}]",
            items.iter().map(example).collect::<Vec<_>>().join(", ")
        ),
        ValueKind::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            let shown: Vec<String> = keys
                .iter()
                .take(3)
                .filter_map(|k| t.get(*k).map(|v| format!("{k} = {}", example(v))))
                .collect();
            let more = if keys.len() > 3 { ", …" } else { "" };
            format!("{{ {}{more} }}", shown.join(", "))
        }
        ValueKind::Nil => "\"\"".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_key_is_suggested_only_when_close() {
        let keys = ["channels", "remind_before", "manager_role"];
        assert_eq!(nearest("remind_befor", keys), Some("remind_before"));
        assert_eq!(nearest("chanels", keys), Some("channels"));
        assert_eq!(nearest("colour", keys), None);
    }

    #[test]
    fn paths_step_into_arrays() {
        assert_eq!(split("a.b.c"), ["a", "b", "c"]);
        assert_eq!(
            split("runbooks.tasks[2].id"),
            ["runbooks", "tasks", "[2]", "id"]
        );
        assert_eq!(
            split("routes[0]environment"),
            ["routes", "[0]", "environment"]
        );
        assert_eq!(
            shown("pipelines", &split("routes[0].environment")),
            "pipelines.routes[0].environment"
        );
    }
}

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
                    .map(|d| format!(", e.g. {leaf} = {}", example(d)))
                    .unwrap_or_default();
                problems.push(Problem {
                    key,
                    message: format!("missing: this key is required{example}"),
                });
                match default {
                    Some(d) => set(&mut table, &at, d),
                    None => return (None, problems),
                }
            }
            Fault::Invalid { message, .. } => {
                let example = default
                    .as_ref()
                    .map(|d| format!(": write e.g. {leaf} = {} (the default)", example(d)))
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
            message: format!("{unexpected} is not {expected}"),
        }),
        ConfigError::NotFound(field) => Some(Fault::Missing { at: split(field) }),
        ConfigError::Message(m) if m.starts_with("unknown field") => {
            let mut names = backticked(m);
            let field = (!names.is_empty()).then(|| names.remove(0))?;
            Some(Fault::Unknown {
                at: Vec::new(),
                field,
                known: names,
            })
        }
        _ => None,
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

/// `a.b[2].c` → `["a", "b"]`: a path into an array stops at the array,
/// which is then patched as a whole.
fn split(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for part in key.split('.').filter(|p| !p.is_empty()) {
        match part.split_once('[') {
            Some((head, _)) => {
                if !head.is_empty() {
                    parts.push(head.to_string());
                }
                break;
            }
            None => parts.push(part.to_string()),
        }
    }
    parts
}

fn shown(prefix: &str, at: &[String]) -> String {
    let mut parts: Vec<&str> = prefix.split('.').filter(|p| !p.is_empty()).collect();
    parts.extend(at.iter().map(String::as_str));
    if parts.is_empty() {
        "config".to_string()
    } else {
        parts.join(".")
    }
}

fn lookup<'a>(value: &'a Value, at: &[String]) -> Option<&'a Value> {
    let mut v = value;
    for part in at {
        match &v.kind {
            ValueKind::Table(t) => v = t.get(part)?,
            _ => return None,
        }
    }
    Some(v)
}

fn remove(value: &mut Value, at: &[String]) {
    let Some((last, parents)) = at.split_last() else {
        return;
    };
    if let Some(ValueKind::Table(t)) = lookup_mut(value, parents).map(|v| &mut v.kind) {
        t.remove(last);
    }
}

fn set(value: &mut Value, at: &[String], new: Value) {
    let Some((last, parents)) = at.split_last() else {
        *value = new;
        return;
    };
    if let Some(ValueKind::Table(t)) = lookup_mut(value, parents).map(|v| &mut v.kind) {
        t.insert(last.clone(), new);
    }
}

fn lookup_mut<'a>(value: &'a mut Value, at: &[String]) -> Option<&'a mut Value> {
    let mut v = value;
    for part in at {
        match &mut v.kind {
            ValueKind::Table(t) => v = t.get_mut(part)?,
            _ => return None,
        }
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
    fn paths_stop_at_arrays() {
        assert_eq!(split("a.b.c"), ["a", "b", "c"]);
        assert_eq!(split("runbooks.tasks[2].id"), ["runbooks", "tasks"]);
    }
}

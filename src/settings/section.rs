//! A feature's own section of the configuration (`[deletion]`, `[sms]`…).
//!
//! A feature states its section once, in its own module: the keys as written
//! (`Section::Raw`, serde), the typed rules it runs on (the type that
//! implements [`Section`]) and the check between the two ([`Section::check`],
//! which names every problem with its key). The core settings never name a
//! feature: they keep each section's table as read ([`RawSections`]), and
//! [`super::Settings::validate_with`] checks each one with the feature's
//! [`SectionCheck`] into [`Sections`], which the app reads back by type
//! ([`super::Config::section`]).

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::validate::{Checker, Directory, parse_interval};
use crate::domain::calendar::WorkingCalendar;
use crate::domain::{ChannelRef, Role};

/// The typed rules of one section, checked from its raw keys.
pub trait Section: Any + Send + Sync + fmt::Debug + Sized {
    /// The table's name: `deletion` for `[deletion]`.
    const NAME: &'static str;
    /// The keys as written (deserialized with `deny_unknown_fields`).
    type Raw: DeserializeOwned;

    /// Checks the keys; every problem goes to `check` with its key. The
    /// rules returned when there were problems are never used.
    fn check(raw: Self::Raw, check: &mut Check<'_>) -> Self;

    /// Checks what depends on another section (a runbook a deploy target
    /// names, say), once every section is checked: `(full key, message)`
    /// for each problem.
    fn check_across(&self, _sections: &Sections) -> Vec<(String, String)> {
        Vec::new()
    }

    /// What is valid but will not work as the user likely means (a deploy
    /// target whose provider has no credentials): `(full key, message)`.
    fn warnings(&self, _sections: &Sections) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// What checking a section may read: the core configuration already checked
/// (zone, calendar, roles), and where its problems go.
pub struct Check<'a> {
    pub(super) checker: &'a mut Checker,
    pub(super) section: &'static str,
    /// The configured zone (`timezone`).
    pub tz: Tz,
    /// The working calendar (`[calendar]`).
    pub calendar: &'a WorkingCalendar,
    pub(super) directory: &'a Directory,
}

impl Check<'_> {
    /// The full name of `key` in this section (`deletion.channels`).
    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.section)
    }

    /// Records a problem with `key` of this section.
    pub fn problem(&mut self, key: &str, message: impl fmt::Display) {
        let key = self.key(key);
        self.checker.problem(key, message);
    }

    /// Records a problem under a key outside the section's table (a runbook
    /// file, say).
    pub fn problem_at(&mut self, full_key: impl Into<String>, message: impl fmt::Display) {
        self.checker.problem(full_key, message);
    }

    /// Parses `value` of `key`, recording the parser's message if it fails.
    pub fn parse<T: FromStr>(&mut self, key: &str, value: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let key = self.key(key);
        self.checker.parse(&key, value)
    }

    /// A duration (`90s`, `3d`, `2w`).
    pub fn duration(&mut self, key: &str, value: &str) -> Option<TimeDelta> {
        let key = self.key(key);
        self.checker.duration(&key, value)
    }

    /// Each item of a list of durations (problems named `key[i]`).
    pub fn durations(&mut self, key: &str, values: &[String]) -> Vec<TimeDelta> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.duration(&format!("{key}[{i}]"), v))
            .collect()
    }

    /// An interval: a duration or milliseconds (`250ms`).
    pub fn interval(&mut self, key: &str, value: &str) -> Option<TimeDelta> {
        match parse_interval(value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    /// A list of channels (problems named `key[i]`).
    pub fn channels(&mut self, key: &str, values: &[String]) -> Vec<ChannelRef> {
        let key = self.key(key);
        self.checker.channels(&key, values)
    }

    /// A cron expression with seconds.
    pub fn cron(&mut self, key: &str, value: &str) {
        let key = self.key(key);
        self.checker.cron(&key, value);
    }

    /// Every role `[roles]` configures.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.directory.roles.keys()
    }

    /// The role named by `key`, `default` when the key is not set; either
    /// way `[roles]` must configure it (else the problem is recorded and
    /// `default` returned, never to be used).
    pub fn role(&mut self, key: &str, name: Option<&str>, default: Role) -> Role {
        let key = self.key(key);
        let name = name.unwrap_or(default.as_str());
        self.checker
            .role(&key, name, self.directory)
            .unwrap_or(default)
    }
}

/// A section checker, as the features list holds it.
pub trait SectionCheck: Sync {
    /// The table's name.
    fn name(&self) -> &'static str;
    /// Checks the table as read (`None`: the section is absent).
    fn check(&self, table: Option<&config::Value>, check: &mut Check<'_>) -> Option<Checked>;
    /// [`Section::check_across`] of the checked section.
    fn check_across(&self, sections: &Sections) -> Vec<(String, String)>;
    /// [`Section::warnings`] of the checked section.
    fn warnings(&self, sections: &Sections) -> Vec<(String, String)>;
}

/// The [`SectionCheck`] of section `S`.
pub struct Checks<S>(PhantomData<fn() -> S>);

impl<S> Checks<S> {
    pub const NEW: Self = Self(PhantomData);
}

impl<S: Section> SectionCheck for Checks<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn check(&self, table: Option<&config::Value>, check: &mut Check<'_>) -> Option<Checked> {
        // an absent section is an empty table: fine when every key has a default
        let empty = config::Value::new(None, config::ValueKind::Table(Default::default()));
        let table = table.unwrap_or(&empty);
        // every problem of the table at once, each under its full key
        let (raw, problems) = super::every_problem::read_all::<S::Raw>(table, S::NAME);
        for p in problems {
            check.problem_at(p.key, p.message);
        }
        let rules = S::check(raw?, check);
        Some(Checked(TypeId::of::<S>(), Arc::new(rules)))
    }

    fn check_across(&self, sections: &Sections) -> Vec<(String, String)> {
        sections
            .get::<S>()
            .map(|rules| rules.check_across(sections))
            .unwrap_or_default()
    }

    fn warnings(&self, sections: &Sections) -> Vec<(String, String)> {
        sections
            .get::<S>()
            .map(|rules| rules.warnings(sections))
            .unwrap_or_default()
    }
}

/// One section's checked rules.
pub struct Checked(TypeId, Arc<dyn Any + Send + Sync>);

/// Every feature's checked rules, by type.
#[derive(Clone, Default)]
pub struct Sections(BTreeMap<TypeId, (&'static str, Arc<dyn Any + Send + Sync>)>);

impl Sections {
    pub(super) fn insert(&mut self, name: &'static str, checked: Checked) {
        self.0.insert(checked.0, (name, checked.1));
    }

    /// The rules of section `S`, if the features list checked it.
    pub fn get<S: Section>(&self) -> Option<&S> {
        self.0.get(&TypeId::of::<S>())?.1.downcast_ref()
    }
}

impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.values().map(|(name, _)| name))
            .finish()
    }
}

/// The feature sections' tables, as read (every top-level key the core
/// settings do not own). `Debug` prints only their names: a table may hold
/// a secret.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct RawSections(pub(super) BTreeMap<String, config::Value>);

impl fmt::Debug for RawSections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Deserializes a list of strings that may also be written as one
/// comma-separated string (as an environment variable sets it:
/// `SHIPMATE__DELETION__CHANNELS=slack:C1,console:#ops`).
pub fn list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    deserializer.deserialize_any(ListVisitor)
}

/// [`list`] for each value of a map (`[roles]`).
pub fn list_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    struct Item(#[serde(deserialize_with = "list")] Vec<String>);
    let map = BTreeMap::<String, Item>::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(k, Item(v))| (k, v)).collect())
}

struct ListVisitor;

impl<'de> serde::de::Visitor<'de> for ListVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings, or one string with the items separated by commas")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(vec![v.to_string()])
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(vec![v.to_string()])
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(items)
    }
}

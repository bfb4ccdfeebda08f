//! Runbook templates: the tasks of a procedure (id, title, owner roles,
//! dependencies, offset from T0 in working days — or calendar days when the
//! template says so — duration, kind, what it publishes, which freeze
//! windows it opens), validated: unique ids, known dependencies, no cycles.
//! Tasks are kept in dependency order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::Role;
use super::freeze::WindowKind;

/// What a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Work someone does.
    Task,
    /// A sign-off, signed only by its owner role with `/signoff`.
    Gate,
    /// An announcement; completing it publishes its text.
    Notice,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Task => "task",
            TaskKind::Gate => "gate",
            TaskKind::Notice => "notice",
        }
    }
}

/// What a notice task needs from `/downtime` before it can be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DowntimeStep {
    /// A window announced (or running) since the release started.
    Announce,
    /// A window completed since the release started.
    Complete,
}

impl DowntimeStep {
    pub fn as_str(self) -> &'static str {
        match self {
            DowntimeStep::Announce => "announce",
            DowntimeStep::Complete => "complete",
        }
    }
}

/// A freeze or backport window a task opens when it completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub target: String,
    #[serde(with = "seconds")]
    pub duration: TimeDelta,
    pub reason: String,
}

/// One task of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: String,
    pub title: String,
    pub owner: Role,
    pub kind: TaskKind,
    pub depends_on: Vec<String>,
    pub offset_days: i64,
    #[serde(with = "seconds")]
    pub duration: TimeDelta,
    pub publishes: Option<String>,
    /// Other roles that own it with `owner` (a gate has one owner).
    #[serde(default)]
    pub co_owners: Vec<Role>,
    /// Offset and duration in calendar days instead of working days.
    #[serde(default)]
    pub calendar_days: bool,
    /// The downtime window this notice stands for, if any: it is done once
    /// `/downtime` has announced (or completed) the window, which is what
    /// reaches the partner channels and the status banner.
    #[serde(default)]
    pub downtime: Option<DowntimeStep>,
    #[serde(default)]
    pub opens: Vec<WindowSpec>,
    /// The windows finishing it ends (if in force).
    #[serde(default)]
    pub ends: Vec<WindowEnd>,
}

impl TaskSpec {
    /// Every role that owns it, `owner` first.
    pub fn owners(&self) -> impl Iterator<Item = &Role> {
        std::iter::once(&self.owner).chain(self.co_owners.iter())
    }

    /// The owners as one label: `qa`, or `release-manager+partnership`.
    pub fn owner_label(&self) -> String {
        self.owners()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// A window a task ends when it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowEnd {
    pub kind: WindowKind,
    pub target: String,
}

/// A validated template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    pub name: String,
    pub title: String,
    pub tasks: Vec<TaskSpec>,
    /// The role that manages a release of it (`releases.manager_role`, or
    /// the template's `manager`).
    pub manager: Role,
}

/// Subcommand words of `/signoff` that a gate may not be called.
const RESERVED_GATE_IDS: &[&str] = &["status", "revoke", "sign"];

/// Checks a template; every problem comes with the key it concerns
/// (`runbooks.<template>.tasks.<task>.<field>`).
pub fn validate(
    name: &str,
    title: &str,
    tasks: Vec<TaskSpec>,
) -> Result<Runbook, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let key = |task: &str, field: &str| format!("runbooks.{name}.tasks.{task}.{field}");
    if tasks.is_empty() {
        problems.push((
            format!("runbooks.{name}.tasks"),
            "a runbook needs at least one task".to_string(),
        ));
    }
    let mut ids = BTreeSet::new();
    for t in &tasks {
        let valid_id = !t.id.is_empty()
            && t.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            problems.push((
                key(&t.id, "id"),
                format!("`{}` is not a task id: use letters, digits, - and _", t.id),
            ));
        }
        if !ids.insert(t.id.as_str()) {
            problems.push((
                key(&t.id, "id"),
                format!("task id `{}` is used twice", t.id),
            ));
        }
        if t.kind == TaskKind::Gate && RESERVED_GATE_IDS.contains(&t.id.as_str()) {
            problems.push((
                key(&t.id, "id"),
                format!("a gate cannot be called `{}` (a /signoff subcommand)", t.id),
            ));
        }
        if t.kind == TaskKind::Gate && !t.co_owners.is_empty() {
            problems.push((
                key(&t.id, "owner"),
                "a gate is signed by one role: give it one owner".to_string(),
            ));
        }
        if t.offset_days < 0 {
            problems.push((key(&t.id, "offset"), "must be T+0 or later".to_string()));
        }
        if t.kind == TaskKind::Notice && t.publishes.as_deref().is_none_or(|p| p.trim().is_empty())
        {
            problems.push((
                key(&t.id, "publishes"),
                "a notice must say what it publishes".to_string(),
            ));
        }
    }
    for t in &tasks {
        for dep in &t.depends_on {
            if !ids.contains(dep.as_str()) {
                problems.push((key(&t.id, "depends_on"), format!("unknown task `{dep}`")));
            } else if dep == &t.id {
                problems.push((
                    key(&t.id, "depends_on"),
                    "a task cannot depend on itself".to_string(),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    match topological_order(&tasks) {
        Ok(order) => Ok(Runbook {
            name: name.to_string(),
            title: title.to_string(),
            tasks: order,
            manager: Role::RELEASE_MANAGER,
        }),
        Err(cycle) => Err(vec![(
            key(&cycle[0], "depends_on"),
            format!("dependency cycle: {}", cycle.join(" → ")),
        )]),
    }
}

/// Orders tasks so each comes after its dependencies (stable for ties), or returns a cycle.
fn topological_order(tasks: &[TaskSpec]) -> Result<Vec<TaskSpec>, Vec<String>> {
    let position: BTreeMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut placed = vec![false; tasks.len()];
    let mut order = Vec::with_capacity(tasks.len());
    while order.len() < tasks.len() {
        let next = tasks.iter().enumerate().find(|(i, t)| {
            !placed[*i]
                && t.depends_on
                    .iter()
                    .all(|d| position.get(d.as_str()).is_some_and(|p| placed[*p]))
        });
        match next {
            Some((i, t)) => {
                placed[i] = true;
                order.push(t.clone());
            }
            None => return Err(find_cycle(tasks, &placed, &position)),
        }
    }
    Ok(order)
}

fn find_cycle(
    tasks: &[TaskSpec],
    placed: &[bool],
    position: &BTreeMap<&str, usize>,
) -> Vec<String> {
    // every unplaced task has an unplaced dependency: walk until a task repeats
    let Some(mut current) = placed.iter().position(|p| !p) else {
        return Vec::new();
    };
    let mut path: Vec<usize> = Vec::new();
    loop {
        if let Some(start) = path.iter().position(|p| *p == current) {
            let mut cycle: Vec<String> =
                path[start..].iter().map(|i| tasks[*i].id.clone()).collect();
            cycle.push(tasks[current].id.clone());
            return cycle;
        }
        path.push(current);
        let next = tasks[current]
            .depends_on
            .iter()
            .filter_map(|d| position.get(d.as_str()))
            .find(|p| !placed[**p]);
        match next {
            Some(p) => current = *p,
            None => return path.iter().map(|i| tasks[*i].id.clone()).collect(),
        }
    }
}

/// Serialises a duration as whole seconds.
pub mod seconds {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        i64::deserialize(d).map(TimeDelta::seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn task(id: &str, deps: &[&str], kind: TaskKind) -> TaskSpec {
        TaskSpec {
            id: id.into(),
            title: id.into(),
            owner: Role::DEVOPS,
            kind,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            offset_days: 0,
            duration: TimeDelta::days(1),
            publishes: (kind == TaskKind::Notice).then(|| "text".into()),
            co_owners: Vec::new(),
            calendar_days: false,
            downtime: None,
            opens: Vec::new(),
            ends: Vec::new(),
        }
    }

    #[test]
    fn tasks_come_out_in_dependency_order() {
        let rb = validate(
            "x",
            "X",
            vec![
                task("b", &["a"], TaskKind::Task),
                task("a", &[], TaskKind::Task),
                task("c", &["a", "b"], TaskKind::Gate),
            ],
        )
        .unwrap();
        let ids: Vec<&str> = rb.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn unknown_dependencies_cycles_and_duplicates_are_named() {
        let e = validate("x", "X", vec![task("a", &["zz"], TaskKind::Task)]).unwrap_err();
        assert_eq!(e[0].0, "runbooks.x.tasks.a.depends_on");
        assert!(e[0].1.contains("unknown task `zz`"));
        let e = validate(
            "x",
            "X",
            vec![
                task("a", &["c"], TaskKind::Task),
                task("b", &["a"], TaskKind::Task),
                task("c", &["b"], TaskKind::Task),
            ],
        )
        .unwrap_err();
        assert!(e[0].1.contains("dependency cycle: a → c → b → a"), "{e:?}");
        let e = validate(
            "x",
            "X",
            vec![
                task("a", &[], TaskKind::Task),
                task("a", &[], TaskKind::Task),
            ],
        )
        .unwrap_err();
        assert!(e[0].1.contains("used twice"));
        let e = validate("x", "X", vec![task("status", &[], TaskKind::Gate)]).unwrap_err();
        assert!(e[0].1.contains("subcommand"));
        let mut n = task("n", &[], TaskKind::Notice);
        n.publishes = None;
        assert!(
            validate("x", "X", vec![n]).unwrap_err()[0]
                .0
                .ends_with("publishes")
        );
    }
}

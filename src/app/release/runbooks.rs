//! Runbook templates: the three shipped ones (embedded) plus every
//! `*.toml` in `releases.runbooks_dir` (a file with a shipped name replaces
//! it). Each problem is named with its template and task.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::domain::Role;
use crate::domain::freeze::WindowKind;
use crate::domain::runbook::{
    DowntimeStep, Runbook, TaskKind, TaskSpec, WindowEnd, WindowSpec, validate,
};
use crate::domain::timing::parse_duration;
use crate::settings::Problem;

/// The shipped templates.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "demo-upgrade",
        include_str!("../../../config/runbooks/demo-upgrade.toml"),
    ),
    (
        "portal-release",
        include_str!("../../../config/runbooks/portal-release.toml"),
    ),
    (
        "rollout",
        include_str!("../../../config/runbooks/rollout.toml"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    title: String,
    /// The role that manages its releases (default `releases.manager_role`).
    #[serde(default)]
    manager: Option<String>,
    /// `working` (the default) or `calendar`: what T+N and `d` count.
    #[serde(default)]
    days: Option<String>,
    tasks: Vec<RawTask>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: String,
    title: String,
    /// One role, or several that own it together (`["qa", "devops"]`).
    owner: Owners,
    #[serde(default)]
    kind: Option<String>,
    /// Overrides the template's `days` for this task.
    #[serde(default)]
    days: Option<String>,
    /// `announce` or `complete`: done once `/downtime` has done that.
    #[serde(default)]
    downtime: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    offset: Offset,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    publishes: Option<String>,
    #[serde(default)]
    opens: Vec<RawWindow>,
    #[serde(default)]
    ends: Vec<RawEnd>,
}

/// `owner = "qa"` or `owner = ["release-manager", "partnership"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Owners {
    One(String),
    Many(Vec<String>),
}

/// Whether `days` (template or task) means calendar days.
fn calendar_days(value: Option<&str>, default: bool) -> Result<bool, String> {
    match value.map(str::trim) {
        None => Ok(default),
        Some("working") => Ok(false),
        Some("calendar") => Ok(true),
        Some(other) => Err(format!(
            "`{other}` is not a kind of day: write days = \"working\" (weekends and holidays skipped, the default) or days = \"calendar\""
        )),
    }
}

/// `offset = 3` or `offset = "T+3"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Offset {
    Days(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnd {
    kind: String,
    target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    kind: String,
    target: String,
    duration: String,
    reason: String,
}

/// The roles a template may name, and the manager role it gets by default.
pub struct RoleNames<'a> {
    pub known: &'a BTreeSet<Role>,
    pub manager: &'a Role,
}

impl RoleNames<'_> {
    /// The role `name`, if `[roles]` has it.
    fn check(&self, name: &str) -> Result<Role, String> {
        let role: Role = name
            .parse()
            .map_err(|e: crate::domain::DomainError| e.to_string())?;
        if self.known.contains(&role) {
            return Ok(role);
        }
        let known: Vec<&str> = self.known.iter().map(Role::as_str).collect();
        Err(format!(
            "unknown role `{name}`: add it under [roles], or use one of {}",
            known.join(", ")
        ))
    }
}

/// Loads every template; returns the valid ones and every problem.
pub fn load(dir: &Path, roles: &RoleNames<'_>) -> (BTreeMap<String, Runbook>, Vec<Problem>) {
    let mut sources: BTreeMap<String, String> = EMBEDDED
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    let mut problems = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for path in entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    sources.insert(name, text);
                }
                Err(e) => problems.push(Problem {
                    key: format!("runbooks.{name}"),
                    message: format!("cannot read {}: {e}", path.display()),
                }),
            }
        }
    }
    let mut runbooks = BTreeMap::new();
    for (name, text) in sources {
        match parse(&name, &text, roles) {
            Ok(rb) => {
                runbooks.insert(name, rb);
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    (runbooks, problems)
}

fn parse(name: &str, text: &str, roles: &RoleNames<'_>) -> Result<Runbook, Vec<Problem>> {
    let raw: RawRunbook = toml_from_str(text).map_err(|e| {
        vec![Problem {
            key: format!("runbooks.{name}"),
            message: e,
        }]
    })?;
    let mut problems = Vec::new();
    let template_calendar = calendar_days(raw.days.as_deref(), false)
        .map_err(|message| {
            problems.push(Problem {
                key: format!("runbooks.{name}.days"),
                message,
            })
        })
        .unwrap_or(false);
    let mut tasks = Vec::new();
    for t in raw.tasks {
        let key = |field: &str| format!("runbooks.{name}.tasks.{}.{field}", t.id);
        let mut bad = |field: &str, message: String| {
            problems.push(Problem {
                key: key(field),
                message,
            })
        };
        let owner_names = match &t.owner {
            Owners::One(one) => vec![one.clone()],
            Owners::Many(many) => many.clone(),
        };
        if owner_names.is_empty() {
            bad(
                "owner",
                "name at least one role, e.g. owner = \"qa\"".to_string(),
            );
        }
        let owners: Vec<Role> = owner_names
            .iter()
            .filter_map(|o| roles.check(o).map_err(|e| bad("owner", e)).ok())
            .collect();
        let owner = (owners.len() == owner_names.len())
            .then(|| owners.first().cloned())
            .flatten();
        let downtime = match t.downtime.as_deref().map(str::trim) {
            None => Some(None),
            Some("announce") => Some(Some(DowntimeStep::Announce)),
            Some("complete") => Some(Some(DowntimeStep::Complete)),
            Some(other) => {
                bad(
                    "downtime",
                    format!(
                        "`{other}` is not a downtime step: write downtime = \"announce\" (done once /downtime announce has announced the window) or \"complete\""
                    ),
                );
                None
            }
        };
        let task_calendar = calendar_days(t.days.as_deref(), template_calendar)
            .map_err(|e| bad("days", e))
            .ok();
        let kind = match t.kind.as_deref().unwrap_or("task") {
            "task" => Some(TaskKind::Task),
            "gate" => Some(TaskKind::Gate),
            "notice" => Some(TaskKind::Notice),
            other => {
                bad(
                    "kind",
                    format!("`{other}` is not a task kind: use task, gate or notice"),
                );
                None
            }
        };
        let offset = match &t.offset {
            Offset::Days(n) => Some(*n),
            Offset::Text(s) => s
                .trim()
                .strip_prefix("T+")
                .and_then(|n| n.parse().ok())
                .or_else(|| {
                    bad(
                        "offset",
                        format!("`{s}` is not an offset: write a number of days or T+N"),
                    );
                    None
                }),
        };
        let duration = parse_duration(t.duration.as_deref().unwrap_or("1d"))
            .map_err(|e| bad("duration", e.to_string()))
            .ok();
        let mut opens = Vec::new();
        for (i, w) in t.opens.iter().enumerate() {
            let field = format!("opens[{i}]");
            let kind = w
                .kind
                .parse::<WindowKind>()
                .map_err(|e| bad(&field, e.to_string()))
                .ok();
            let dur = parse_duration(&w.duration)
                .map_err(|e| bad(&field, e.to_string()))
                .ok();
            if let (Some(kind), Some(duration)) = (kind, dur) {
                opens.push(WindowSpec {
                    kind,
                    target: w.target.clone(),
                    duration,
                    reason: w.reason.clone(),
                });
            }
        }
        let ends = t
            .ends
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.kind
                    .parse::<WindowKind>()
                    .map_err(|err| bad(&format!("ends[{i}]"), err.to_string()))
                    .ok()
                    .map(|kind| WindowEnd {
                        kind,
                        target: e.target.clone(),
                    })
            })
            .collect();
        if let (
            Some(owner),
            Some(kind),
            Some(offset_days),
            Some(duration),
            Some(calendar_days),
            Some(downtime),
        ) = (owner, kind, offset, duration, task_calendar, downtime)
        {
            tasks.push(TaskSpec {
                id: t.id,
                title: t.title,
                owner,
                kind,
                depends_on: t.depends_on,
                offset_days,
                duration,
                publishes: t.publishes,
                co_owners: owners.into_iter().skip(1).collect(),
                calendar_days,
                downtime,
                opens,
                ends,
            });
        }
    }
    let manager = match raw.manager.as_deref() {
        None => Some(roles.manager.clone()),
        Some(m) => roles
            .check(m)
            .map_err(|message| {
                problems.push(Problem {
                    key: format!("runbooks.{name}.manager"),
                    message,
                })
            })
            .ok(),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut runbook = validate(name, &raw.title, tasks).map_err(|ps| {
        ps.into_iter()
            .map(|(key, message)| Problem { key, message })
            .collect::<Vec<_>>()
    })?;
    if let Some(manager) = manager {
        runbook.manager = manager;
    }
    Ok(runbook)
}

fn toml_from_str(text: &str) -> Result<RawRunbook, String> {
    use config::{Config as Layers, File, FileFormat};
    Layers::builder()
        .add_source(File::from_str(text, FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<RawRunbook>())
        .map_err(|e| format!("not a valid runbook: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The roles of the default configuration.
    fn roles() -> BTreeSet<Role> {
        [
            "admin",
            "data-steward",
            "devops",
            "product",
            "qa",
            "release-manager",
            "support",
            "partnership",
            "documentation",
        ]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect()
    }

    fn load(dir: &Path) -> (BTreeMap<String, Runbook>, Vec<Problem>) {
        let known = roles();
        super::load(
            dir,
            &RoleNames {
                known: &known,
                manager: &Role::RELEASE_MANAGER,
            },
        )
    }

    #[test]
    fn the_shipped_templates_are_valid() {
        let (runbooks, problems) = load(Path::new("/nonexistent"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            runbooks.keys().collect::<Vec<_>>(),
            ["demo-upgrade", "portal-release", "rollout"]
        );
        let demo = &runbooks["demo-upgrade"];
        let qa = demo.tasks.iter().find(|t| t.id == "qa").unwrap();
        assert_eq!(
            (qa.kind, qa.offset_days, qa.owner.clone()),
            (TaskKind::Gate, 8, Role::QA)
        );
        let portal = &runbooks["portal-release"];
        let merge = portal.tasks.iter().find(|t| t.id == "merge-main").unwrap();
        assert_eq!(merge.opens[0].kind, WindowKind::Freeze);
    }

    #[test]
    fn cycles_unknown_dependencies_and_unknown_roles_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "title = \"Bad\"\n[[tasks]]\nid = \"a\"\ntitle = \"A\"\nowner = \"wizard\"\noffset = 0\n[[tasks]]\nid = \"b\"\ntitle = \"B\"\nowner = \"qa\"\noffset = \"T+1\"\ndepends_on = [\"zz\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("loop.toml"),
            "title = \"Loop\"\n[[tasks]]\nid = \"a\"\ntitle = \"A\"\nowner = \"qa\"\noffset = 0\ndepends_on = [\"b\"]\n[[tasks]]\nid = \"b\"\ntitle = \"B\"\nowner = \"qa\"\noffset = 1\ndepends_on = [\"a\"]\n",
        )
        .unwrap();
        let (runbooks, problems) = load(dir.path());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|p| p.starts_with("runbooks.bad.tasks.a.owner: unknown role `wizard`")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|p| p
                    .starts_with("runbooks.loop.tasks.a.depends_on: dependency cycle: a → b → a")),
            "{text:?}"
        );
        assert!(runbooks.contains_key("demo-upgrade"));
        std::fs::remove_file(dir.path().join("bad.toml")).unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "title = \"Bad\"\n[[tasks]]\nid = \"b\"\ntitle = \"B\"\nowner = \"qa\"\noffset = 1\ndepends_on = [\"zz\"]\n",
        )
        .unwrap();
        let (_, problems) = load(dir.path());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|p| p == "runbooks.bad.tasks.b.depends_on: unknown task `zz`"),
            "{text:?}"
        );
    }
}

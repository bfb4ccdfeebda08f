//! `[releases]`: the runbook templates (shipped and `runbooks_dir`) and the
//! role that manages releases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::runbooks::{self, RoleNames};
use crate::domain::Role;
use crate::domain::runbook::Runbook;
use crate::settings::{Check, Section};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSettings {
    runbooks_dir: String,
    /// Manages releases (a template's `manager` overrides it).
    manager_role: Option<String>,
}

/// Release rules.
#[derive(Debug, Clone)]
pub struct ReleaseRules {
    /// Runbook templates by name.
    pub runbooks: BTreeMap<String, Runbook>,
}

impl Section for ReleaseRules {
    const NAME: &'static str = "releases";
    type Raw = ReleaseSettings;

    fn check(r: ReleaseSettings, c: &mut Check<'_>) -> Self {
        let manager = c.role(
            "manager_role",
            r.manager_role.as_deref(),
            Role::RELEASE_MANAGER,
        );
        let known: BTreeSet<Role> = c.roles().cloned().collect();
        let (runbooks, problems) = runbooks::load(
            Path::new(&r.runbooks_dir),
            &RoleNames {
                known: &known,
                manager: &manager,
            },
        );
        for p in problems {
            c.problem_at(p.key, p.message);
        }
        ReleaseRules { runbooks }
    }
}

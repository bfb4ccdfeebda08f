//! `[deletion]`: where deletion cards go, who approves and executes, which
//! targets are protected and how long each sensitivity cools off.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::deletion::Sensitivity;
use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionSettings {
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    approvals_required: u32,
    #[serde(deserialize_with = "list")]
    protected: Vec<String>,
    max_stakeholders: usize,
    ready_reminder_cron: String,
    cooling_off: CoolingOffSettings,
    /// Approves requests and resolves objections.
    approver_role: Option<String>,
    /// Also approves requests for protected targets.
    product_role: Option<String>,
    /// Executes ready requests.
    executor_role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoolingOffSettings {
    low: String,
    medium: String,
    high: String,
}

/// Deletion-request rules.
#[derive(Debug, Clone)]
pub struct DeletionRules {
    pub channels: Vec<ChannelRef>,
    pub approvals_required: u32,
    pub protected: Vec<glob::Pattern>,
    /// A card mentions at most this many stakeholders.
    pub max_stakeholders: usize,
    pub ready_reminder_cron: String,
    cooling_off: [TimeDelta; 3],
    /// `deletion.approver_role`, `deletion.product_role`, `deletion.executor_role`.
    pub approver: Role,
    pub product: Role,
    pub executor: Role,
}

impl DeletionRules {
    /// How long a request of `sensitivity` cools off once approved.
    pub fn cooling_off_for(&self, sensitivity: Sensitivity) -> TimeDelta {
        match sensitivity {
            Sensitivity::Low => self.cooling_off[0],
            Sensitivity::Medium => self.cooling_off[1],
            Sensitivity::High => self.cooling_off[2],
        }
    }

    /// Whether `target` needs the product role's approval too.
    pub fn is_protected(&self, target: &str) -> bool {
        self.protected.iter().any(|p| p.matches(target))
    }
}

impl Section for DeletionRules {
    const NAME: &'static str = "deletion";
    type Raw = DeletionSettings;

    fn check(d: DeletionSettings, c: &mut Check<'_>) -> Self {
        let channels = c.channels("channels", &d.channels);
        if d.approvals_required == 0 {
            c.problem("approvals_required", "must be at least 1");
        }
        let protected = d
            .protected
            .iter()
            .enumerate()
            .filter_map(|(i, g)| match glob::Pattern::new(g) {
                Ok(p) => Some(p),
                Err(e) => {
                    c.problem(
                        &format!("protected[{i}]"),
                        format!("`{g}` is not a glob pattern: {e}"),
                    );
                    None
                }
            })
            .collect();
        c.cron("ready_reminder_cron", &d.ready_reminder_cron);
        let mut cooling = |name: &str, value: &str| {
            c.duration(&format!("cooling_off.{name}"), value)
                .unwrap_or(TimeDelta::days(1))
        };
        let cooling_off = [
            cooling("low", &d.cooling_off.low),
            cooling("medium", &d.cooling_off.medium),
            cooling("high", &d.cooling_off.high),
        ];
        DeletionRules {
            channels,
            approvals_required: d.approvals_required,
            protected,
            max_stakeholders: d.max_stakeholders,
            ready_reminder_cron: d.ready_reminder_cron,
            cooling_off,
            approver: c.role(
                "approver_role",
                d.approver_role.as_deref(),
                Role::DATA_STEWARD,
            ),
            product: c.role("product_role", d.product_role.as_deref(), Role::PRODUCT),
            executor: c.role("executor_role", d.executor_role.as_deref(), Role::DEVOPS),
        }
    }
}

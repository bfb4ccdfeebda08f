//! `[downtime]`: where announcements go, when reminders fire, who manages
//! downtime windows.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DowntimeSettings {
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    #[serde(deserialize_with = "list")]
    remind_before: Vec<String>,
    /// Announces and runs downtime windows.
    manager_role: Option<String>,
}

/// Downtime rules.
#[derive(Debug, Clone)]
pub struct DowntimeRules {
    pub channels: Vec<ChannelRef>,
    pub remind_before: Vec<TimeDelta>,
    /// `downtime.manager_role`.
    pub manager: Role,
}

impl Section for DowntimeRules {
    const NAME: &'static str = "downtime";
    type Raw = DowntimeSettings;

    fn check(d: DowntimeSettings, c: &mut Check<'_>) -> Self {
        DowntimeRules {
            channels: c.channels("channels", &d.channels),
            remind_before: c.durations("remind_before", &d.remind_before),
            manager: c.role(
                "manager_role",
                d.manager_role.as_deref(),
                Role::RELEASE_MANAGER,
            ),
        }
    }
}

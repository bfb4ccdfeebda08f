//! `[freeze]`: where freeze and back-port notices go, when the ending
//! reminder fires, who opens and ends windows by hand.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeSettings {
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    remind_before: String,
    /// Opens and ends freeze windows by hand.
    manager_role: Option<String>,
}

/// Freeze rules.
#[derive(Debug, Clone)]
pub struct FreezeRules {
    pub channels: Vec<ChannelRef>,
    /// The "ends soon" reminder fires this long before a window ends.
    pub remind_before: TimeDelta,
    /// `freeze.manager_role`.
    pub manager: Role,
}

impl Section for FreezeRules {
    const NAME: &'static str = "freeze";
    type Raw = FreezeSettings;

    fn check(f: FreezeSettings, c: &mut Check<'_>) -> Self {
        FreezeRules {
            channels: c.channels("channels", &f.channels),
            remind_before: c
                .duration("remind_before", &f.remind_before)
                .unwrap_or(TimeDelta::days(3)),
            manager: c.role(
                "manager_role",
                f.manager_role.as_deref(),
                Role::RELEASE_MANAGER,
            ),
        }
    }
}

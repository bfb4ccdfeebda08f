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
    /// The key of the internal calendar feed (empty: no feed).
    #[serde(default)]
    calendar_token: String,
}

/// Freeze rules.
#[derive(Clone)]
pub struct FreezeRules {
    pub channels: Vec<ChannelRef>,
    /// The "ends soon" reminder fires this long before a window ends.
    pub remind_before: TimeDelta,
    /// `freeze.manager_role`.
    pub manager: Role,
    /// `freeze.calendar_token`: the key of `GET /internal/calendar.ics`
    /// (empty: the internal feed is off).
    pub calendar_token: String,
}

impl std::fmt::Debug for FreezeRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreezeRules")
            .field("channels", &self.channels)
            .field("remind_before", &self.remind_before)
            .field("manager", &self.manager)
            .field(
                "calendar_token",
                &if self.calendar_token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
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
            calendar_token: f.calendar_token.trim().to_string(),
        }
    }
}

//! `[versions]`: where release notes and EOSL notices go, how long before
//! the end of support they are sent, who records releases.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSettings {
    /// Where release notes and EOSL notices go (partner channels).
    #[serde(deserialize_with = "list")]
    channels: Vec<String>,
    /// EOSL notices this long before support ends.
    #[serde(deserialize_with = "list")]
    eosl_notice: Vec<String>,
    /// Records releases and schedules EOSL.
    manager_role: Option<String>,
    /// The team's channels: reminders of the roadmap and of missing release notes.
    #[serde(deserialize_with = "list")]
    team_channels: Vec<String>,
    /// Reminded to send partners the roadmap and the release notes.
    product_role: Option<String>,
    /// When the quarterly roadmap reminder goes out (cron with seconds, in `timezone`).
    roadmap_cron: String,
}

/// Version policy rules.
#[derive(Debug, Clone)]
pub struct VersionRules {
    pub channels: Vec<ChannelRef>,
    /// EOSL notices this long before support ends, longest first.
    pub eosl_notice: Vec<TimeDelta>,
    /// `versions.manager_role`.
    pub manager: Role,
    pub team_channels: Vec<ChannelRef>,
    /// `versions.product_role`.
    pub product: Role,
    pub roadmap_cron: String,
}

impl Section for VersionRules {
    const NAME: &'static str = "versions";
    type Raw = VersionSettings;

    fn check(v: VersionSettings, c: &mut Check<'_>) -> Self {
        let mut eosl_notice = c.durations("eosl_notice", &v.eosl_notice);
        eosl_notice.sort_unstable_by(|a, b| b.cmp(a));
        eosl_notice.dedup();
        VersionRules {
            channels: c.channels("channels", &v.channels),
            eosl_notice,
            manager: c.role(
                "manager_role",
                v.manager_role.as_deref(),
                Role::RELEASE_MANAGER,
            ),
            team_channels: c.channels("team_channels", &v.team_channels),
            product: c.role("product_role", v.product_role.as_deref(), Role::PRODUCT),
            roadmap_cron: {
                c.cron("roadmap_cron", &v.roadmap_cron);
                v.roadmap_cron
            },
        }
    }
}

//! Release windows: weekly ranges such as `"Mon-Thu 10:00-16:00"` or
//! `"Tue 10:00-16:00"` in the configured time zone, and the flags a
//! production deployment earns when it starts outside them.
//!
//! [`deploy_flags`] is the one place that decides whether a deployment is
//! flagged; a later "inside an active code freeze" check joins it there.

use super::freeze::{FreezeWindow, WindowKind};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::DomainError;

/// One weekly window: days (inclusive, may wrap Sat-Mon) and a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseWindow {
    days: Vec<Weekday>,
    start: NaiveTime,
    end: NaiveTime,
    text: String,
}

const DAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// `Mon`, `mon`, `Monday`, `Tues`…: at least three letters of the English name.
fn day(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    if s.len() < 3 {
        return None;
    }
    DAYS.iter()
        .find(|(name, _)| name.starts_with(s.as_str()))
        .map(|(_, d)| *d)
}

impl FromStr for ReleaseWindow {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            DomainError::invalid(format!(
                "`{s}` is not a release window ({why}): write days and hours, e.g. \"Mon-Thu 10:00-16:00\" or \"Tue 10:00-16:00\""
            ))
        };
        let mut parts = s.split_whitespace();
        let (Some(days), Some(hours), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected two parts"));
        };
        let mut list = Vec::new();
        for range in days.split(',') {
            match range.split_once('-') {
                Some((a, b)) => {
                    let (Some(a), Some(b)) = (day(a), day(b)) else {
                        return Err(bad("unknown day"));
                    };
                    let mut d = a;
                    loop {
                        list.push(d);
                        if d == b {
                            break;
                        }
                        d = d.succ();
                    }
                }
                None => list.push(day(range).ok_or_else(|| bad("unknown day"))?),
            }
        }
        let (from, to) = hours
            .split_once('-')
            .ok_or_else(|| bad("hours must be HH:MM-HH:MM"))?;
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| bad("bad time"));
        let (start, end) = (time(from)?, time(to)?);
        if end <= start {
            return Err(bad("the end must be after the start on the same day"));
        }
        Ok(Self {
            days: list,
            start,
            end,
            text: s.to_string(),
        })
    }
}

impl fmt::Display for ReleaseWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ReleaseWindow {
    /// Whether `t` (read in `tz`) falls inside this window (start inclusive, end exclusive).
    pub fn contains(&self, t: DateTime<Utc>, tz: Tz) -> bool {
        let local = t.with_timezone(&tz);
        let time = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
            .unwrap_or_default();
        self.days.contains(&local.weekday()) && time >= self.start && time < self.end
    }
}

/// Why a deployment is flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flag {
    /// A production deployment started outside every release window.
    OutsideReleaseWindow { windows: Vec<String> },
    /// A production deployment started while its target was in a code freeze.
    DuringFreeze {
        target: String,
        until: DateTime<Utc>,
        reason: String,
    },
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::OutsideReleaseWindow { windows } => write!(
                f,
                "started outside the release windows ({})",
                windows.join(", ")
            ),
            Flag::DuringFreeze {
                target,
                until,
                reason,
            } => write!(
                f,
                "started during the code freeze on `{target}` (until {}, {reason})",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// The rules a production deployment is checked against.
#[derive(Debug, Clone, Default)]
pub struct DeployRules {
    pub windows: Vec<ReleaseWindow>,
    pub tz: Option<Tz>,
}

/// The flags of a production deployment of `target` that started at
/// `started`: outside the release windows (none configured: no restriction),
/// or inside a code freeze of its target.
pub fn deploy_flags(
    rules: &DeployRules,
    started: DateTime<Utc>,
    target: Option<&str>,
    freezes: &[FreezeWindow],
) -> Vec<Flag> {
    let tz = rules.tz.unwrap_or(Tz::UTC);
    let mut flags = Vec::new();
    if !rules.windows.is_empty() && !rules.windows.iter().any(|w| w.contains(started, tz)) {
        flags.push(Flag::OutsideReleaseWindow {
            windows: rules.windows.iter().map(ToString::to_string).collect(),
        });
    }
    if let Some(target) = target {
        let frozen = freezes
            .iter()
            .find(|w| w.kind == WindowKind::Freeze && w.target == target && w.is_active(started));
        if let Some(w) = frozen {
            flags.push(Flag::DuringFreeze {
                target: w.target.clone(),
                until: w.ends_at,
                reason: w.reason.clone(),
            });
        }
    }
    flags
}

/// When the next release window opens after `after` (`None`: no windows).
pub fn next_opening(rules: &DeployRules, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz = rules.tz.unwrap_or(Tz::UTC);
    let today = after.with_timezone(&tz).date_naive();
    rules
        .windows
        .iter()
        .flat_map(|w| {
            (0..=7).filter_map(move |n| {
                let day = today + chrono::Days::new(n);
                if !w.days.contains(&day.weekday()) {
                    return None;
                }
                day.and_time(w.start)
                    .and_local_timezone(tz)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            })
        })
        .filter(|t| *t > after)
        .min()
}

/// Whether an environment name means production.
pub fn is_production(environment: &str) -> bool {
    matches!(
        environment.to_ascii_lowercase().as_str(),
        "production" | "prod" | "prd" | "live"
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const KOLKATA: Tz = chrono_tz::Asia::Kolkata;

    #[test]
    fn the_next_window_opens_on_its_next_day_at_its_start() {
        let rules = DeployRules {
            windows: vec!["Tue,Thu 10:00-16:00".parse().unwrap()],
            tz: Some(KOLKATA),
        };
        // Tuesday 2026-12-01 17:00 IST: today's window has closed
        let after = KOLKATA.with_ymd_and_hms(2026, 12, 1, 17, 0, 0).unwrap();
        let next = next_opening(&rules, after.with_timezone(&Utc)).unwrap();
        assert_eq!(
            next.with_timezone(&KOLKATA).to_string(),
            "2026-12-03 10:00:00 IST"
        );
        // Tuesday 09:00: it opens later that day
        let early = KOLKATA.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let next = next_opening(&rules, early.with_timezone(&Utc)).unwrap();
        assert_eq!(
            next.with_timezone(&KOLKATA).to_string(),
            "2026-12-01 10:00:00 IST"
        );
        assert_eq!(
            next_opening(&DeployRules::default(), early.with_timezone(&Utc)),
            None
        );
    }

    fn at_local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        KOLKATA
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn windows_parse_days_ranges_and_hours() {
        let w: ReleaseWindow = "Mon-Thu 10:00-16:00".parse().unwrap();
        // 2026-11-23 is a Monday.
        assert!(w.contains(at_local(2026, 11, 23, 10, 0), KOLKATA));
        assert!(w.contains(at_local(2026, 11, 26, 15, 59), KOLKATA));
        assert!(!w.contains(at_local(2026, 11, 26, 16, 0), KOLKATA));
        assert!(
            !w.contains(at_local(2026, 11, 27, 11, 0), KOLKATA),
            "Friday"
        );
        assert!(!w.contains(at_local(2026, 11, 23, 9, 59), KOLKATA));
        let wrap: ReleaseWindow = "Sat-Mon 08:00-09:00".parse().unwrap();
        assert!(
            wrap.contains(at_local(2026, 11, 29, 8, 30), KOLKATA),
            "Sunday"
        );
        let list: ReleaseWindow = "Tue,Thu 10:00-12:00".parse().unwrap();
        assert!(list.contains(at_local(2026, 11, 26, 11, 0), KOLKATA));
        assert!(!list.contains(at_local(2026, 11, 25, 11, 0), KOLKATA));
    }

    #[test]
    fn bad_windows_are_named() {
        for bad in [
            "",
            "Mon",
            "Funday 10:00-12:00",
            "Mon 10-12",
            "Mon 16:00-10:00",
            "Mon 10:00-12:00 extra",
        ] {
            let e = bad.parse::<ReleaseWindow>().unwrap_err().to_string();
            assert!(e.contains("release window"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_deploy_outside_every_window_is_flagged_and_none_configured_means_free() {
        let rules = DeployRules {
            windows: vec!["Mon-Thu 10:00-16:00".parse().unwrap()],
            tz: Some(KOLKATA),
        };
        assert!(deploy_flags(&rules, at_local(2026, 11, 24, 11, 0), None, &[]).is_empty());
        let flags = deploy_flags(&rules, at_local(2026, 11, 27, 18, 0), None, &[]);
        assert_eq!(
            flags,
            vec![Flag::OutsideReleaseWindow {
                windows: vec!["Mon-Thu 10:00-16:00".into()]
            }]
        );
        assert!(
            deploy_flags(
                &DeployRules::default(),
                at_local(2026, 11, 27, 18, 0),
                None,
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn a_deploy_during_a_code_freeze_of_its_target_is_flagged() {
        let start = at_local(2026, 11, 23, 0, 0);
        let freeze = FreezeWindow::open(
            "portal",
            WindowKind::Freeze,
            start,
            start + chrono::TimeDelta::days(30),
            "release",
            "REL-1",
        )
        .unwrap();
        let backport = FreezeWindow::open(
            "api",
            WindowKind::Backport,
            start,
            start + chrono::TimeDelta::days(30),
            "sec",
            "REL-1",
        )
        .unwrap();
        let rules = DeployRules::default();
        let windows = [freeze, backport];
        let during = deploy_flags(
            &rules,
            at_local(2026, 11, 25, 11, 0),
            Some("portal"),
            &windows,
        );
        assert!(
            matches!(&during[..], [Flag::DuringFreeze { target, .. }] if target == "portal"),
            "{during:?}"
        );
        assert!(during[0].to_string().contains("code freeze on `portal`"));
        assert!(
            deploy_flags(&rules, at_local(2026, 11, 25, 11, 0), Some("web"), &windows).is_empty(),
            "other targets"
        );
        assert!(
            deploy_flags(&rules, at_local(2026, 11, 25, 11, 0), Some("api"), &windows).is_empty(),
            "backport windows allow deploys"
        );
        assert!(
            deploy_flags(
                &rules,
                at_local(2026, 12, 24, 11, 0),
                Some("portal"),
                &windows
            )
            .is_empty(),
            "after the freeze"
        );
    }
}

//! Code-freeze and backport windows: while one is active for a target, only
//! fixes (freeze) or security backports (backport) should ship, and a
//! production deployment to that target is flagged.

use chrono::{DateTime, Utc};

use super::DomainError;
use crate::text_enum;

text_enum!(
    /// Which kind of window.
    WindowKind, "window kind" {
        Freeze = "freeze",
        Backport = "backport",
    }
);

impl WindowKind {
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Freeze => "code freeze",
            WindowKind::Backport => "backport window",
        }
    }
}

/// One window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeWindow {
    pub target: String,
    pub kind: WindowKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    /// Who or what opened it: a user address or a release id.
    pub opened_by: String,
    pub ended_at: Option<DateTime<Utc>>,
}

impl FreezeWindow {
    /// Opens a window; the end must be after the start and the reason given.
    pub fn open(
        target: &str,
        kind: WindowKind,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        reason: &str,
        opened_by: &str,
    ) -> Result<Self, DomainError> {
        let target = target.trim();
        if target.is_empty() {
            return Err(DomainError::invalid(
                "name the target the window applies to, e.g. portal",
            ));
        }
        if ends_at <= starts_at {
            return Err(DomainError::invalid(
                "the window must end in the future: give until:<date> or until:<duration>",
            ));
        }
        if reason.trim().is_empty() {
            return Err(DomainError::invalid(
                "a window needs a reason: add reason:\"…\"",
            ));
        }
        Ok(Self {
            target: target.to_string(),
            kind,
            starts_at,
            ends_at,
            reason: reason.trim().to_string(),
            opened_by: opened_by.to_string(),
            ended_at: None,
        })
    }

    /// Whether the window is in force at `at`.
    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        self.starts_at <= at && at < self.ends_at && self.ended_at.is_none_or(|e| at < e)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    #[test]
    fn a_window_is_active_between_start_and_end_until_ended() {
        let t = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let mut w = FreezeWindow::open(
            "portal",
            WindowKind::Freeze,
            t,
            t + TimeDelta::days(30),
            "release",
            "REL-1",
        )
        .unwrap();
        assert!(!w.is_active(t - TimeDelta::seconds(1)));
        assert!(w.is_active(t) && w.is_active(t + TimeDelta::days(29)));
        assert!(!w.is_active(t + TimeDelta::days(30)));
        w.ended_at = Some(t + TimeDelta::days(2));
        assert!(!w.is_active(t + TimeDelta::days(3)));
        assert!(FreezeWindow::open("portal", WindowKind::Freeze, t, t, "r", "x").is_err());
        assert!(
            FreezeWindow::open(" ", WindowKind::Freeze, t, t + TimeDelta::days(1), "r", "x")
                .is_err()
        );
    }
}

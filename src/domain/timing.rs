//! Durations (`90s`, `45m`, `6h`, `7d`, `2w`) and times (RFC 3339, or
//! `YYYY-MM-DD HH:MM` in the configured time zone), plus the clock port.

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::DomainError;

/// Parses `90s`, `45m`, `6h`, `7d` or `2w` (a whole number and one unit).
pub fn parse_duration(s: &str) -> Result<TimeDelta, DomainError> {
    let bad = || {
        DomainError::invalid(format!(
            "`{s}` is not a duration: write a whole number and a unit s, m, h, d or w, e.g. 90s, 45m, 6h, 7d, 2w"
        ))
    };
    let s = s.trim();
    let unit = s.chars().last().ok_or_else(bad)?;
    let number: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    if number <= 0 {
        return Err(DomainError::invalid(format!(
            "`{s}` is not a positive duration: use a number above zero, e.g. 7d"
        )));
    }
    let seconds_per_unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds_per_unit)
        .filter(|secs| *secs <= 100 * 365 * 86_400)
        .map(TimeDelta::seconds)
        .ok_or_else(|| {
            DomainError::invalid(format!("`{s}` is too long: keep durations under 100 years"))
        })
}

/// Formats a duration the way users write it, using the largest exact unit.
pub fn format_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs != 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Parses an RFC 3339 time, or `YYYY-MM-DD HH:MM` in `tz`.
/// `t` as `YYYY-MM-DD HH:MM` and the zone's abbreviation, in `tz`.
pub fn format_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

pub fn parse_time(s: &str, tz: Tz) -> Result<DateTime<Utc>, DomainError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            DomainError::invalid(format!(
                "`{s}` is not a time: write RFC 3339 (2026-12-01T10:00:00+05:30) or \"YYYY-MM-DD HH:MM\" in {tz}"
            ))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "`{s}` does not exist in {tz} (a clock change skips it)"
            ))
        })
}

/// Where the current time comes from: the system, or a test's hand.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock moved by hand, for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }
    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A day or a time: `YYYY-MM-DD` (midnight in `tz`), `YYYY-MM-DD HH:MM` or RFC 3339.
pub fn parse_when(s: &str, tz: Tz) -> Result<DateTime<Utc>, DomainError> {
    if let Ok(date) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return midnight(date, tz);
    }
    parse_time(s, tz)
}

pub fn midnight(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>, DomainError> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DomainError::invalid(format!("{date} has no midnight in {tz}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("90s").unwrap(), TimeDelta::seconds(90));
        assert_eq!(parse_duration("45m").unwrap(), TimeDelta::minutes(45));
        assert_eq!(parse_duration("6h").unwrap(), TimeDelta::hours(6));
        assert_eq!(parse_duration("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(parse_duration("2w").unwrap(), TimeDelta::weeks(2));
        assert_eq!(format_duration(TimeDelta::days(7)), "1w");
        assert_eq!(format_duration(TimeDelta::seconds(90)), "90s");
        for bad in ["", "7", "d", "7x", "-1d", "0s", "1.5h", "99999999999w"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn times_parse_in_zone_or_rfc3339() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let t = parse_time("2026-12-01 10:00", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T04:30:00+00:00");
        let t = parse_time("2026-12-01T10:00:00Z", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert!(
            parse_time("tomorrow", tz)
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
    }
}

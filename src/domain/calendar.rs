//! The working calendar (`[calendar]`): working days, daily working hours
//! and holidays in one time zone, and business-time arithmetic on it.
//!
//! [`WorkingCalendar::add_business`] moves an instant forward by business
//! time (an instant out of hours starts at the next opening);
//! [`WorkingCalendar::business_between`] measures the business time between
//! two instants. In SLA strings a `d` is one working day (the length of the
//! working hours), see [`WorkingCalendar::parse_business`]. Pure: no I/O, no
//! clock.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::DomainError;
use super::timing::parse_duration;

/// Days searched forward before giving up (no working day in sight).
const MAX_DAYS: i64 = 3_660;

/// Daily working hours, `HH:MM-HH:MM` (the end after the start, same day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl FromStr for WorkingHours {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let bad = |why: &str| {
            DomainError::invalid(format!(
                "`{s}` is not working hours ({why}): write HH:MM-HH:MM, e.g. 09:00-18:00"
            ))
        };
        let (a, b) = s.trim().split_once('-').ok_or_else(|| bad("no `-`"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad("bad time of day"))
        };
        let (open, close) = (time(a)?, time(b)?);
        if close <= open {
            return Err(bad("the end must be after the start on the same day"));
        }
        Ok(Self { open, close })
    }
}

/// A working day name: `Mon`, `Tue`, … (or the full English name).
pub fn parse_weekday(s: &str) -> Result<Weekday, DomainError> {
    s.trim().parse::<Weekday>().map_err(|_| {
        DomainError::invalid(format!(
            "`{s}` is not a day of the week: write Mon, Tue, Wed, Thu, Fri, Sat or Sun"
        ))
    })
}

/// A holiday: `YYYY-MM-DD`.
pub fn parse_holiday(s: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        DomainError::invalid(format!(
            "`{s}` is not a date: write YYYY-MM-DD, e.g. 2026-12-25"
        ))
    })
}

/// The holidays of an iCalendar (RFC 5545) document: every day each
/// `VEVENT` covers, from its `DTSTART` up to (not including) its `DTEND`
/// (one day when it has none). Times of day are ignored (the event's local
/// date counts); recurrence rules are not expanded: list each year's dates.
pub fn parse_ics_holidays(text: &str) -> Result<Vec<NaiveDate>, DomainError> {
    // unfold: a line starting with a space or tab continues the previous one
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        match raw.strip_prefix([' ', '\t']) {
            Some(rest) if !lines.is_empty() => {
                if let Some(last) = lines.last_mut() {
                    last.push_str(rest);
                }
            }
            _ => lines.push(raw.trim_end().to_string()),
        }
    }
    if !lines
        .iter()
        .any(|l| l.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(DomainError::invalid(
            "not an iCalendar document (no BEGIN:VCALENDAR): export the holiday calendar as .ics",
        ));
    }
    let date_of = |line: &str| -> Result<NaiveDate, DomainError> {
        let value = line.rsplit(':').next().unwrap_or_default();
        value
            .get(..8)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "`{line}` has no date: write DTSTART;VALUE=DATE:YYYYMMDD"
                ))
            })
    };
    let mut days = Vec::new();
    let (mut inside, mut start, mut end) = (false, None, None);
    for line in &lines {
        let name = line
            .split([':', ';'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if line.eq_ignore_ascii_case("BEGIN:VEVENT") {
            (inside, start, end) = (true, None, None);
        } else if line.eq_ignore_ascii_case("END:VEVENT") {
            inside = false;
            let Some(first) = start else {
                return Err(DomainError::invalid("an event has no DTSTART"));
            };
            let last = end
                .and_then(|e: NaiveDate| e.pred_opt())
                .filter(|l| *l >= first)
                .unwrap_or(first);
            if (last - first).num_days() > 366 {
                return Err(DomainError::invalid(format!(
                    "the event from {first} to {last} is longer than a year: is it a holiday?"
                )));
            }
            let mut d = first;
            while d <= last {
                days.push(d);
                match d.succ_opt() {
                    Some(next) => d = next,
                    None => break,
                }
            }
        } else if inside && name == "DTSTART" {
            start = Some(date_of(line)?);
        } else if inside && name == "DTEND" {
            end = Some(date_of(line)?);
        }
    }
    Ok(days)
}

/// Working days and hours in a time zone, with holidays off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    tz: Tz,
    days: BTreeSet<u32>,
    hours: WorkingHours,
    holidays: BTreeSet<NaiveDate>,
}

impl Default for WorkingCalendar {
    /// Monday to Friday, 09:00-18:00 UTC, no holidays.
    fn default() -> Self {
        Self {
            tz: Tz::UTC,
            days: (0..5).collect(),
            hours: WorkingHours {
                open: NaiveTime::MIN + TimeDelta::hours(9),
                close: NaiveTime::MIN + TimeDelta::hours(18),
            },
            holidays: BTreeSet::new(),
        }
    }
}

impl WorkingCalendar {
    /// A calendar; at least one working day is needed.
    pub fn new(
        tz: Tz,
        days: impl IntoIterator<Item = Weekday>,
        hours: WorkingHours,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, DomainError> {
        let days: BTreeSet<u32> = days.into_iter().map(|d| d.num_days_from_monday()).collect();
        if days.is_empty() {
            return Err(DomainError::invalid(
                "no working day: list at least one, e.g. [\"Mon\",\"Tue\",\"Wed\",\"Thu\",\"Fri\"]",
            ));
        }
        Ok(Self {
            tz,
            days,
            hours,
            holidays: holidays.into_iter().collect(),
        })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The length of one working day's hours (`1d` in SLA strings).
    pub fn working_day(&self) -> TimeDelta {
        self.hours.close - self.hours.open
    }

    /// Whether `date` is a working day (its weekday listed, not a holiday).
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.days.contains(&date.weekday().num_days_from_monday()) && !self.holidays.contains(&date)
    }

    /// Whether `t` falls inside working hours (opening inclusive, closing exclusive).
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let date = t.with_timezone(&self.tz).date_naive();
        self.hours_on(date)
            .is_some_and(|(open, close)| open <= t && t < close)
    }

    /// `n` working days of business time (`n` × the working day's length).
    pub fn working_days(&self, n: i64) -> TimeDelta {
        self.working_day() * n.clamp(0, i32::MAX as i64) as i32
    }

    /// A business duration: `d` is a working day, `w` a working week (as
    /// many working days as the calendar has in a week); `s`, `m`, `h` as
    /// usual. E.g. `4h`, `1d`, `2d`.
    pub fn parse_business(&self, s: &str) -> Result<TimeDelta, DomainError> {
        let t = s.trim();
        let per_unit = if let Some(n) = t.strip_suffix('d') {
            Some((n, self.working_day()))
        } else {
            t.strip_suffix('w')
                .map(|n| (n, self.working_day() * self.days.len() as i32))
        };
        match per_unit {
            Some((n, unit)) => match n.parse::<i32>() {
                Ok(n) if n > 0 && n <= 10_000 => Ok(unit * n),
                _ => Err(DomainError::invalid(format!(
                    "`{s}` is not a business duration: write a whole number above zero and a unit m, h, d (working days) or w (working weeks), e.g. 4h, 1d, 2d"
                ))),
            },
            None => parse_duration(t),
        }
    }

    /// The instant `duration` of business time after `start`. An instant out
    /// of hours starts at the next opening (so a zero duration gives the next
    /// opening, or `start` itself when it is in hours).
    pub fn add_business(&self, start: DateTime<Utc>, duration: TimeDelta) -> DateTime<Utc> {
        let mut left = duration.max(TimeDelta::zero());
        let mut date = start.with_timezone(&self.tz).date_naive();
        for _ in 0..MAX_DAYS {
            if let Some((open, close)) = self.hours_on(date) {
                let from = open.max(start);
                if from < close {
                    let available = close - from;
                    if left <= available {
                        return from + left;
                    }
                    left -= available;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        DateTime::<Utc>::MAX_UTC
    }

    /// The first working day on or after `date` (`date` itself when it is one).
    pub fn working_day_from(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        for _ in 0..MAX_DAYS {
            if self.is_working_day(d) {
                return d;
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
        }
        date
    }

    /// The working day `n` working days after the working day `date`
    /// (`n` = 0 is `date` itself, moved to a working day if it is not one).
    pub fn add_working_days(&self, date: NaiveDate, n: i64) -> NaiveDate {
        let mut d = self.working_day_from(date);
        for _ in 0..n.clamp(0, MAX_DAYS) {
            d = match d.succ_opt() {
                Some(next) => self.working_day_from(next),
                None => d,
            };
        }
        d
    }

    /// Working days after `a` up to and including `b`; negative when `b` is
    /// before `a` (so a task planned for Friday and done on Monday slipped 1).
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let (from, to, sign) = if b >= a { (a, b, 1) } else { (b, a, -1) };
        let count = from
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as i64;
        sign * count
    }

    /// The opening instant of working hours on `date`, if it is a working day.
    pub fn opening(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        self.hours_on(date).map(|(open, _)| open)
    }

    /// The closing time of working hours on `date`, working day or not.
    pub fn closing(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&date.and_time(self.hours.close))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// `t` itself when it is in working hours, else the next opening.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.add_business(t, TimeDelta::zero())
    }

    /// The opening of the first working day after `t`'s local date.
    pub fn next_working_morning(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let today = t.with_timezone(&self.tz).date_naive();
        let next = today.succ_opt().unwrap_or(today);
        let day = self.working_day_from(next);
        self.opening(day).unwrap_or(t + TimeDelta::days(1))
    }

    /// Business time between `a` and `b` (zero when `b` is not after `a`).
    pub fn business_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if b <= a {
            return total;
        }
        let mut date = a.with_timezone(&self.tz).date_naive();
        let last = b.with_timezone(&self.tz).date_naive();
        while date <= last {
            if let Some((open, close)) = self.hours_on(date) {
                let (from, to) = (open.max(a), close.min(b));
                if from < to {
                    total += to - from;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    /// Opening and closing instants on `date`, if it is a working day. A
    /// clock change that skips the opening or closing moves it an hour later.
    fn hours_on(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(date) {
            return None;
        }
        let at = |time: NaiveTime| {
            let local = date.and_time(time);
            self.tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    self.tz
                        .from_local_datetime(&(local + TimeDelta::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
        };
        Some((at(self.hours.open)?, at(self.hours.close)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ist() -> WorkingCalendar {
        WorkingCalendar::new(
            chrono_tz::Asia::Kolkata,
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            "09:00-18:00".parse().unwrap(),
            [parse_holiday("2026-12-25").unwrap()],
        )
        .unwrap()
    }

    /// `YYYY-MM-DD HH:MM` in IST.
    fn t(s: &str) -> DateTime<Utc> {
        crate::domain::timing::parse_time(s, chrono_tz::Asia::Kolkata).unwrap()
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let cal = ist();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 2026-12-05 is a Saturday, 2026-12-25 a Friday holiday
        assert_eq!(cal.working_day_from(d("2026-12-05")), d("2026-12-07"));
        assert_eq!(cal.add_working_days(d("2026-12-04"), 1), d("2026-12-07"));
        assert_eq!(cal.add_working_days(d("2026-12-05"), 0), d("2026-12-07"));
        assert_eq!(cal.add_working_days(d("2026-12-21"), 4), d("2026-12-28"));
        assert_eq!(
            cal.working_days_between(d("2026-12-04"), d("2026-12-07")),
            1
        );
        assert_eq!(
            cal.working_days_between(d("2026-12-07"), d("2026-12-04")),
            -1
        );
        assert_eq!(
            cal.working_days_between(d("2026-12-24"), d("2026-12-28")),
            1
        );
        assert_eq!(
            cal.next_working_morning(t("2026-12-04 10:00")),
            t("2026-12-07 09:00")
        );
        assert_eq!(cal.next_open(t("2026-12-04 10:00")), t("2026-12-04 10:00"));
        assert_eq!(cal.next_open(t("2026-12-04 23:00")), t("2026-12-07 09:00"));
    }

    #[test]
    fn adding_business_time() {
        let cal = ist();
        // (what, start IST, duration, expected IST); 2026-12-04 is a Friday,
        // 2026-12-25 a Friday holiday
        let cases = [
            ("within a day", "2026-12-01 10:00", "2h", "2026-12-01 12:00"),
            (
                "to the close exactly",
                "2026-12-01 14:00",
                "4h",
                "2026-12-01 18:00",
            ),
            (
                "across a night",
                "2026-12-01 17:00",
                "2h",
                "2026-12-02 10:00",
            ),
            (
                "P1 across a Friday evening and a weekend",
                "2026-12-04 16:00",
                "4h",
                "2026-12-07 11:00",
            ),
            (
                "opened Friday evening, out of hours",
                "2026-12-04 19:30",
                "4h",
                "2026-12-07 13:00",
            ),
            (
                "opened on a Saturday",
                "2026-12-05 11:00",
                "1h",
                "2026-12-07 10:00",
            ),
            (
                "opened before the opening",
                "2026-12-01 07:00",
                "30m",
                "2026-12-01 09:30",
            ),
            (
                "zero: the next opening",
                "2026-12-01 20:00",
                "0s",
                "2026-12-02 09:00",
            ),
            (
                "across a holiday and a weekend",
                "2026-12-24 17:00",
                "2h",
                "2026-12-28 10:00",
            ),
            (
                "opened on the holiday",
                "2026-12-25 10:00",
                "1h",
                "2026-12-28 10:00",
            ),
            (
                "P2: one working day",
                "2026-12-01 11:00",
                "1d",
                "2026-12-02 11:00",
            ),
            (
                "P3: two working days over a weekend",
                "2026-12-03 15:00",
                "2d",
                "2026-12-07 15:00",
            ),
            (
                "a working week",
                "2026-12-01 09:00",
                "1w",
                "2026-12-07 18:00",
            ),
        ];
        for (what, start, duration, expected) in cases {
            let d = if duration == "0s" {
                TimeDelta::zero()
            } else {
                cal.parse_business(duration).unwrap()
            };
            assert_eq!(cal.add_business(t(start), d), t(expected), "{what}");
        }
    }

    #[test]
    fn measuring_business_time() {
        let cal = ist();
        let cases = [
            ("same day", "2026-12-01 10:00", "2026-12-01 12:30", "150m"),
            (
                "out of hours only",
                "2026-12-01 19:00",
                "2026-12-02 08:00",
                "0s",
            ),
            (
                "Friday evening to Monday",
                "2026-12-04 16:00",
                "2026-12-07 11:00",
                "4h",
            ),
            (
                "a weekend counts nothing",
                "2026-12-05 00:00",
                "2026-12-07 00:00",
                "0s",
            ),
            (
                "the holiday counts nothing",
                "2026-12-24 17:00",
                "2026-12-28 10:00",
                "2h",
            ),
            ("backwards", "2026-12-02 10:00", "2026-12-01 10:00", "0s"),
        ];
        for (what, a, b, expected) in cases {
            let expected = if expected == "0s" {
                TimeDelta::zero()
            } else {
                parse_duration(expected).unwrap()
            };
            assert_eq!(cal.business_between(t(a), t(b)), expected, "{what}");
        }
    }

    #[test]
    fn a_wait_pauses_the_clock() {
        // P1 opened Monday 10:00, waiting on the partner Monday 11:00 to
        // Tuesday 10:00: 1h used before, 3h left after the resume
        let cal = ist();
        let opened = t("2026-12-07 10:00");
        let sla = cal.parse_business("4h").unwrap();
        let used = cal.business_between(opened, t("2026-12-07 11:00"));
        let deadline = cal.add_business(t("2026-12-08 10:00"), sla - used);
        assert_eq!(deadline, t("2026-12-08 13:00"));
        assert!(cal.is_open(deadline) && !cal.is_open(t("2026-12-05 10:00")));
    }

    #[test]
    fn holidays_come_from_an_icalendar_file() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:2027\r\n 0101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART:20261102T000000\r\nDTEND:20261104T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let days: Vec<String> = parse_ics_holidays(ics)
            .unwrap()
            .iter()
            .map(NaiveDate::to_string)
            .collect();
        assert_eq!(
            days,
            ["2026-12-25", "2027-01-01", "2026-11-02", "2026-11-03"]
        );
        assert!(parse_ics_holidays("holidays: 2026-12-25").is_err());
        assert!(
            parse_ics_holidays("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:soon\nEND:VEVENT\n")
                .unwrap_err()
                .to_string()
                .contains("YYYYMMDD")
        );
    }

    #[test]
    fn bad_values_say_what_to_write() {
        for bad in ["9-18", "18:00-09:00", "09:00", "nine-five"] {
            let e = bad.parse::<WorkingHours>().unwrap_err().to_string();
            assert!(e.contains("HH:MM-HH:MM"), "{bad}: {e}");
        }
        assert!(parse_weekday("Funday").is_err());
        assert_eq!(parse_weekday("Mon").unwrap(), Weekday::Mon);
        assert!(parse_holiday("25/12/2026").is_err());
        let cal = ist();
        for bad in ["0d", "-1d", "1.5d", "d", "soon"] {
            assert!(cal.parse_business(bad).is_err(), "{bad}");
        }
        assert_eq!(cal.working_days(2), TimeDelta::hours(18));
        let none: [Weekday; 0] = [];
        assert!(WorkingCalendar::new(Tz::UTC, none, "09:00-18:00".parse().unwrap(), []).is_err());
    }
}

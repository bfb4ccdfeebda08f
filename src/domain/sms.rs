//! SMS credits: the burn-rate forecast and the alert rules, as pure functions.
//!
//! The forecast reads the balance history inside a window (`sms.window`):
//! the credits *used* are the sum of every drop between consecutive readings
//! (a rise is a top-up, not negative use), divided by the time the readings
//! span. The run-out date is the last reading plus its balance at that rate.
//!
//! Alerts (low balance, run-out within `sms.warn_days`) are graded by
//! severity; one fires when its condition holds and it was never sent, or
//! was last sent a day or more ago, or the severity rose since. A condition
//! that clears forgets its last alert, so its next occurrence speaks at once.

use chrono::{DateTime, TimeDelta, Utc};

use super::DomainError;

/// One recorded balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub credits: u64,
}

/// What the history says about the future.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// The latest reading.
    pub latest: Reading,
    /// Credits used per day over the window; `None` with fewer than two readings in it.
    pub per_day: Option<f64>,
    /// When the balance reaches zero at that rate; `None` without a rate or when nothing is used.
    pub run_out: Option<DateTime<Utc>>,
    /// How many readings the rate is based on.
    pub readings: usize,
}

impl Forecast {
    /// Whole days from `now` until the run-out (negative once it is past).
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        self.run_out.map(|r| (r - now).num_days())
    }
}

/// The readings span less than this: too short to call a rate.
const MIN_SPAN: TimeDelta = TimeDelta::minutes(1);

/// Forecasts from `history` (any order) using the readings in the last `window`.
/// `None` when there is no reading at all.
pub fn forecast(history: &[Reading], window: TimeDelta, now: DateTime<Utc>) -> Option<Forecast> {
    let mut sorted: Vec<Reading> = history.iter().copied().filter(|r| r.at <= now).collect();
    sorted.sort_by_key(|r| r.at);
    let latest = *sorted.last()?;
    let recent: Vec<Reading> = sorted
        .into_iter()
        .filter(|r| r.at >= now - window)
        .collect();
    let readings = recent.len();
    let per_day = match (recent.first(), recent.last()) {
        (Some(first), Some(last)) if readings >= 2 && last.at - first.at >= MIN_SPAN => {
            let used: u64 = recent
                .windows(2)
                .map(|w| w[0].credits.saturating_sub(w[1].credits))
                .sum();
            let days = (last.at - first.at).num_seconds() as f64 / 86_400.0;
            Some(used as f64 / days)
        }
        _ => None,
    };
    let run_out = per_day.filter(|rate| *rate > 0.0).and_then(|rate| {
        let secs = (latest.credits as f64 / rate * 86_400.0).round();
        // A forecast beyond a century is no forecast at all.
        (secs < 100.0 * 365.0 * 86_400.0).then(|| latest.at + TimeDelta::seconds(secs as i64))
    });
    Some(Forecast {
        latest,
        per_day,
        run_out,
        readings,
    })
}

/// Parses a credit count as typed: `12000`, `12,000` or `12_000`.
pub fn parse_credits(s: &str) -> Result<u64, DomainError> {
    let digits: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '_'))
        .collect();
    digits.parse::<u64>().map_err(|_| {
        DomainError::invalid(format!(
            "`{s}` is not a credit balance: give a whole number of credits, e.g. /sms balance 12000"
        ))
    })
}

/// The conditions that raise an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    /// The balance is under `sms.min_balance`.
    LowBalance,
    /// The forecast run-out is within `sms.warn_days`.
    RunOut,
}

impl Condition {
    pub const ALL: &'static [Condition] = &[Condition::LowBalance, Condition::RunOut];
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::LowBalance => "low-balance",
            Condition::RunOut => "run-out",
        }
    }
}

/// Alert thresholds from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub warn_days: u32,
    pub min_balance: u64,
}

/// The last alert sent for a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub condition: Condition,
    pub at: DateTime<Utc>,
    pub severity: u8,
}

/// An alert to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub condition: Condition,
    pub severity: u8,
}

/// How bad a condition is now: 0 = fine, higher = worse.
pub fn severity(condition: Condition, f: &Forecast, t: Thresholds, now: DateTime<Utc>) -> u8 {
    match condition {
        Condition::LowBalance => {
            let (b, min) = (f.latest.credits, t.min_balance);
            if b >= min {
                0
            } else if b == 0 {
                4
            } else if b < min / 10 {
                3
            } else if b < min / 2 {
                2
            } else {
                1
            }
        }
        Condition::RunOut => match f.days_left(now) {
            None => 0,
            Some(d) if d > i64::from(t.warn_days) => 0,
            Some(d) if d <= 1 => 3,
            Some(d) if d <= i64::from(t.warn_days) / 2 => 2,
            Some(_) => 1,
        },
    }
}

/// The repeat interval for an unchanged condition.
pub const REPEAT_AFTER: TimeDelta = TimeDelta::days(1);

/// Which alerts to send now, given the last ones sent; and which conditions cleared.
pub fn alerts(
    f: &Forecast,
    t: Thresholds,
    sent: &[Sent],
    now: DateTime<Utc>,
) -> (Vec<Alert>, Vec<Condition>) {
    let mut due = Vec::new();
    let mut cleared = Vec::new();
    for &condition in Condition::ALL {
        let level = severity(condition, f, t, now);
        let last = sent.iter().find(|s| s.condition == condition);
        if level == 0 {
            if last.is_some() {
                cleared.push(condition);
            }
            continue;
        }
        let send = match last {
            None => true,
            Some(s) => level > s.severity || now - s.at >= REPEAT_AFTER,
        };
        if send {
            due.push(Alert {
                condition,
                severity: level,
            });
        }
    }
    (due, cleared)
}

#[cfg(test)]
#[path = "sms_tests.rs"]
mod tests;

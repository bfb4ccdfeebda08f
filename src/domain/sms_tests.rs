//! The forecast and the alert rules, without I/O.

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap()
}
fn day(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::days(n)
}
fn r(at: DateTime<Utc>, credits: u64) -> Reading {
    Reading { at, credits }
}
fn window() -> TimeDelta {
    TimeDelta::days(30)
}
fn limits() -> Thresholds {
    Thresholds {
        warn_days: 14,
        min_balance: 1_000,
    }
}

#[test]
fn a_steady_burn_forecasts_the_run_out_date() {
    let history = [r(day(0), 10_000), r(day(5), 9_000), r(day(10), 8_000)];
    let f = forecast(&history, window(), day(10)).unwrap();
    assert_eq!(f.latest, r(day(10), 8_000));
    assert_eq!(f.per_day, Some(200.0));
    assert_eq!(f.run_out, Some(day(50)));
    assert_eq!(f.days_left(day(10)), Some(40));
    assert_eq!(f.readings, 3);
}

#[test]
fn a_top_up_is_not_negative_use() {
    // 1000 used, then a top-up of 5000, then 1000 used: 2000 over 10 days.
    let history = [
        r(day(0), 3_000),
        r(day(4), 2_000),
        r(day(5), 7_000),
        r(day(10), 6_000),
    ];
    let f = forecast(&history, window(), day(10)).unwrap();
    assert_eq!(f.per_day, Some(200.0));
    assert_eq!(f.run_out, Some(day(40)));
}

#[test]
fn only_readings_inside_the_window_set_the_rate() {
    let history = [r(day(0), 100_000), r(day(40), 9_000), r(day(50), 8_000)];
    let f = forecast(&history, window(), day(50)).unwrap();
    assert_eq!(f.readings, 2);
    assert_eq!(f.per_day, Some(100.0));
}

#[test]
fn too_little_history_gives_a_balance_but_no_rate() {
    assert!(forecast(&[], window(), day(0)).is_none());
    let one = forecast(&[r(day(0), 500)], window(), day(1)).unwrap();
    assert_eq!((one.per_day, one.run_out), (None, None));
    let flat = forecast(&[r(day(0), 500), r(day(3), 500)], window(), day(3)).unwrap();
    assert_eq!((flat.per_day, flat.run_out), (Some(0.0), None));
    let future = forecast(&[r(day(5), 1)], window(), day(0));
    assert!(future.is_none(), "readings after now are ignored");
}

#[test]
fn credits_parse_with_separators_and_refuse_nonsense() {
    assert_eq!(parse_credits("12000").unwrap(), 12_000);
    assert_eq!(parse_credits("12,000").unwrap(), 12_000);
    assert_eq!(parse_credits("12_000").unwrap(), 12_000);
    for bad in ["", "-5", "1.5", "lots"] {
        assert!(
            parse_credits(bad)
                .unwrap_err()
                .to_string()
                .contains("/sms balance"),
            "{bad}"
        );
    }
}

fn f_with(balance: u64, run_out: Option<DateTime<Utc>>) -> Forecast {
    Forecast {
        latest: r(day(0), balance),
        per_day: run_out.map(|_| 1.0),
        run_out,
        readings: 2,
    }
}

#[test]
fn severities_grade_the_balance_and_the_days_left() {
    let now = day(0);
    let sev = |c, b, ro| severity(c, &f_with(b, ro), limits(), now);
    assert_eq!(sev(Condition::LowBalance, 1_000, None), 0);
    assert_eq!(sev(Condition::LowBalance, 999, None), 1);
    assert_eq!(sev(Condition::LowBalance, 499, None), 2);
    assert_eq!(sev(Condition::LowBalance, 99, None), 3);
    assert_eq!(sev(Condition::LowBalance, 0, None), 4);
    assert_eq!(sev(Condition::RunOut, 5_000, None), 0);
    assert_eq!(sev(Condition::RunOut, 5_000, Some(day(15))), 0);
    assert_eq!(sev(Condition::RunOut, 5_000, Some(day(14))), 1);
    assert_eq!(sev(Condition::RunOut, 5_000, Some(day(7))), 2);
    assert_eq!(sev(Condition::RunOut, 5_000, Some(day(1))), 3);
}

#[test]
fn an_alert_fires_once_then_waits_a_day_unless_it_worsens() {
    let f = f_with(900, None);
    let (due, _) = alerts(&f, limits(), &[], day(0));
    assert_eq!(
        due,
        vec![Alert {
            condition: Condition::LowBalance,
            severity: 1
        }]
    );
    let sent = [Sent {
        condition: Condition::LowBalance,
        at: day(0),
        severity: 1,
    }];
    let later = day(0) + TimeDelta::hours(23);
    assert!(
        alerts(&f, limits(), &sent, later).0.is_empty(),
        "not twice a day"
    );
    assert_eq!(
        alerts(&f, limits(), &sent, day(1)).0.len(),
        1,
        "again a day later"
    );
    let worse = f_with(400, None);
    assert_eq!(
        alerts(&worse, limits(), &sent, later).0,
        vec![Alert {
            condition: Condition::LowBalance,
            severity: 2
        }],
        "again at once when it worsens"
    );
}

#[test]
fn a_cleared_condition_is_forgotten() {
    let sent = [Sent {
        condition: Condition::RunOut,
        at: day(0),
        severity: 1,
    }];
    let (due, cleared) = alerts(&f_with(50_000, Some(day(90))), limits(), &sent, day(0));
    assert!(due.is_empty());
    assert_eq!(cleared, vec![Condition::RunOut]);
}

proptest! {
    #[test]
    fn the_rate_never_goes_negative_and_run_out_follows_the_latest_reading(
        credits in proptest::collection::vec(0u64..1_000_000, 2..20)
    ) {
        let history: Vec<Reading> = credits
            .iter()
            .enumerate()
            .map(|(i, c)| r(t0() + TimeDelta::hours(i as i64), *c))
            .collect();
        let now = history.last().unwrap().at;
        let f = forecast(&history, window(), now).unwrap();
        prop_assert!(f.per_day.unwrap() >= 0.0);
        if let Some(run_out) = f.run_out {
            prop_assert!(run_out >= f.latest.at);
        }
    }
}

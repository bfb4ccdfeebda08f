use chrono::{NaiveDate, TimeZone, Weekday};
use chrono_tz::Asia::Kolkata;

use super::*;
use crate::domain::calendar::WorkingHours;

fn calendar(holidays: &[&str]) -> WorkingCalendar {
    WorkingCalendar::new(
        Kolkata,
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        "09:00-18:00".parse::<WorkingHours>().unwrap(),
        holidays
            .iter()
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()),
    )
    .unwrap()
}

/// `"Fri 2026-12-04 16:00"` in IST (the weekday is there to read the table).
fn ist(s: &str) -> DateTime<Utc> {
    let (_, rest) = s.split_once(' ').unwrap();
    let naive = chrono::NaiveDateTime::parse_from_str(rest, "%Y-%m-%d %H:%M").unwrap();
    Kolkata
        .from_local_datetime(&naive)
        .unwrap()
        .with_timezone(&Utc)
}

fn sla(cal: &WorkingCalendar) -> Sla {
    Sla {
        p1: cal.parse_business("4h").unwrap(),
        p2: cal.parse_business("1d").unwrap(),
        p3: cal.parse_business("2d").unwrap(),
    }
}

fn report() -> Report {
    Report {
        severity: Severity::P3,
        summary: "login fails".into(),
        service: None,
        version: None,
        partner: None,
        support: None,
        contact: None,
        via: Via::Chat,
    }
}

fn open(severity: Severity, at: &str) -> Incident {
    Incident::open(
        Report {
            severity,
            ..report()
        },
        &UserRef::console("pat"),
        &"console:#acme".parse().unwrap(),
        ist(at),
    )
    .unwrap()
}

#[test]
fn deadlines_count_business_hours_across_nights_weekends_and_holidays() {
    let plain = calendar(&[]);
    let monday_off = calendar(&["2026-12-07"]);
    let cases = [
        // (calendar, severity, opened, deadline)
        (
            &plain,
            Severity::P1,
            "Fri 2026-12-04 16:00",
            "Mon 2026-12-07 11:00",
        ),
        (
            &plain,
            Severity::P2,
            "Fri 2026-12-04 16:00",
            "Mon 2026-12-07 16:00",
        ),
        (
            &plain,
            Severity::P3,
            "Fri 2026-12-04 16:00",
            "Tue 2026-12-08 16:00",
        ),
        (
            &monday_off,
            Severity::P1,
            "Fri 2026-12-04 16:00",
            "Tue 2026-12-08 11:00",
        ),
        // opened out of hours: the clock starts at the next opening
        (
            &plain,
            Severity::P1,
            "Sat 2026-12-05 10:00",
            "Mon 2026-12-07 13:00",
        ),
        (
            &plain,
            Severity::P1,
            "Tue 2026-12-08 20:30",
            "Wed 2026-12-09 13:00",
        ),
        (
            &plain,
            Severity::P1,
            "Wed 2026-12-09 07:00",
            "Wed 2026-12-09 13:00",
        ),
        // inside one day
        (
            &plain,
            Severity::P1,
            "Wed 2026-12-09 10:15",
            "Wed 2026-12-09 14:15",
        ),
    ];
    for (cal, severity, opened, expected) in cases {
        let incident = open(severity, opened);
        let deadline = incident.deadline(cal, &sla(cal), ist(opened)).unwrap();
        assert_eq!(deadline, ist(expected), "{severity} opened {opened}");
    }
}

#[test]
fn waiting_on_the_partner_pauses_the_clock() {
    let cal = calendar(&[]);
    let sla = sla(&cal);
    let pat = UserRef::console("pat");
    let mut incident = open(Severity::P1, "Mon 2026-12-07 10:00");
    incident
        .apply(
            Event::Wait("logs".into()),
            &pat,
            &cal,
            ist("Mon 2026-12-07 11:00"),
        )
        .unwrap();
    assert_eq!(
        incident.deadline(&cal, &sla, ist("Mon 2026-12-07 15:00")),
        None
    );
    assert_eq!(
        incident.clock(&cal, ist("Tue 2026-12-08 09:30")),
        TimeDelta::hours(1),
        "frozen while waiting"
    );
    let effects = incident
        .apply(Event::Resume, &pat, &cal, ist("Tue 2026-12-08 10:00"))
        .unwrap();
    assert_eq!(effects, [Effect::ScheduleTimers]);
    assert_eq!(
        incident.deadline(&cal, &sla, ist("Tue 2026-12-08 10:00")),
        Some(ist("Tue 2026-12-08 13:00")),
        "3 of the 4 hours left"
    );
    assert_eq!(incident.epoch, 2, "wait and resume each move the clock");
}

#[test]
fn the_first_response_stops_the_clock_and_cancels_the_timers() {
    let cal = calendar(&[]);
    let sla = sla(&cal);
    let pat = UserRef::console("pat");
    let mut incident = open(Severity::P2, "Mon 2026-12-07 10:00");
    let effects = incident
        .apply(Event::Ack, &pat, &cal, ist("Mon 2026-12-07 12:30"))
        .unwrap();
    assert_eq!(effects, [Effect::CancelTimers]);
    assert_eq!(incident.state, State::Acknowledged);
    assert_eq!(
        incident.clock(&cal, ist("Fri 2026-12-11 12:00")),
        TimeDelta::minutes(150)
    );
    assert_eq!(incident.met_sla(&cal, &sla), Some(true));
    assert!(
        incident
            .apply(Event::Ack, &pat, &cal, ist("Mon 2026-12-07 13:00"))
            .is_err()
    );
    assert!(
        !incident.breach(ist("Mon 2026-12-07 19:00")),
        "answered in time"
    );
}

#[test]
fn a_breach_is_recorded_once_and_counts_against_the_sla() {
    let cal = calendar(&[]);
    let mut incident = open(Severity::P1, "Mon 2026-12-07 10:00");
    assert!(incident.breach(ist("Mon 2026-12-07 14:00")));
    assert!(!incident.breach(ist("Mon 2026-12-07 14:01")));
    incident
        .apply(
            Event::Ack,
            &UserRef::console("pat"),
            &cal,
            ist("Mon 2026-12-07 15:00"),
        )
        .unwrap();
    assert_eq!(incident.met_sla(&cal, &sla(&cal)), Some(false));
}

#[test]
fn resolution_rules_and_reopening() {
    let cal = calendar(&[]);
    let pat = UserRef::console("pat");
    let now = ist("Mon 2026-12-07 10:00");
    let mut incident = open(Severity::P3, "Mon 2026-12-07 09:00");
    let planned = |fix_in: &[&str]| {
        Event::Resolve(Resolved {
            kind: Resolution::PatchPlanned,
            text: "fixed in the next patch".into(),
            fix_in: fix_in.iter().map(|v| v.parse().unwrap()).collect(),
        })
    };
    let e = incident.apply(planned(&[]), &pat, &cal, now).unwrap_err();
    assert!(e.to_string().contains("fix-in"), "{e}");
    let effects = incident
        .apply(planned(&["3.2.16", "2.5.57"]), &pat, &cal, now)
        .unwrap();
    assert!(effects.contains(&Effect::CancelTimers));
    assert_eq!(incident.state, State::Resolved);
    assert!(incident.apply(Event::Resume, &pat, &cal, now).is_err());
    let effects = incident.apply(Event::Reopen, &pat, &cal, now).unwrap();
    assert_eq!(
        incident.state,
        State::Open,
        "never answered: the clock runs again"
    );
    assert!(effects.contains(&Effect::ScheduleTimers));
    assert!(incident.resolved.is_none());
}

#[test]
fn escalation_offsets_are_shares_of_the_sla_or_business_time() {
    assert_eq!(
        At::Percent(50).offset(TimeDelta::hours(4)),
        TimeDelta::hours(2)
    );
    assert_eq!(
        At::Percent(80).offset(TimeDelta::hours(4)),
        TimeDelta::minutes(192)
    );
    assert_eq!(
        At::After(TimeDelta::hours(1)).offset(TimeDelta::hours(4)),
        TimeDelta::hours(1)
    );
    let mut v = [
        TimeDelta::hours(3),
        TimeDelta::hours(1),
        TimeDelta::hours(2),
    ];
    assert_eq!(median(&mut v), Some(TimeDelta::hours(2)));
    assert_eq!(median(&mut []), None);
}

#[test]
fn the_partner_reads_the_public_timeline_only() {
    let cal = calendar(&[]);
    let mut incident = open(Severity::P2, "Mon 2026-12-07 10:00");
    let support = UserRef::console("sam");
    let at = ist("Mon 2026-12-07 11:00");
    for event in [
        Event::Ack,
        Event::Note("the DBA thinks it is the index".into()),
        Event::Update("we are on it".into()),
        Event::Resolve(Resolved {
            kind: Resolution::Workaround,
            text: "restart the job".into(),
            fix_in: Vec::new(),
        }),
        Event::Reopen,
    ] {
        incident.apply(event, &support, &cal, at).unwrap();
    }
    let public: Vec<(&str, &str)> = incident
        .public_timeline()
        .map(|e| (e.what.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        public,
        [
            ("opened", "login fails"),
            ("update", "we are on it"),
            ("resolve", "resolved with a workaround: restart the job"),
            ("reopen", "reopened: we are working on it again"),
        ]
    );
}

#[test]
fn a_contact_is_one_trimmed_line_of_bounded_length() {
    assert_eq!(
        parse_contact("  Jane <jane@acme.example> ").unwrap(),
        Some("Jane <jane@acme.example>".into())
    );
    assert_eq!(parse_contact("   ").unwrap(), None);
    assert!(
        parse_contact("jane\nroe")
            .unwrap_err()
            .to_string()
            .starts_with("contact: ")
    );
    let long = "x".repeat(MAX_CONTACT + 1);
    assert!(
        parse_contact(&long)
            .unwrap_err()
            .to_string()
            .contains("201 characters")
    );
    assert_eq!(
        parse_contact(&"x".repeat(MAX_CONTACT))
            .unwrap()
            .map(|c| c.len()),
        Some(MAX_CONTACT)
    );
}

#[test]
fn the_api_identity_is_a_valid_console_user_for_the_longest_partner_name() {
    let name = "a".repeat(MAX_PARTNER_NAME);
    let user = api_user(&name);
    assert_eq!(user.to_string().parse::<UserRef>(), Ok(user));
    assert_eq!(api_user("acme").to_string(), "console:api.acme");
}

#[test]
fn an_incident_stored_before_via_was_written_still_reads_as_raised_through_the_api() {
    let mut stored = serde_json::to_value(open(Severity::P1, "Mon 2026-12-07 10:00")).unwrap();
    assert!(
        stored.get("via").is_none(),
        "a chat incident writes no `via`"
    );
    stored["via_api"] = serde_json::Value::Bool(true);
    let old: Incident = serde_json::from_value(stored).unwrap();
    assert_eq!(old.via, Via::Api);
    let rewritten = serde_json::to_value(&old).unwrap();
    assert_eq!(rewritten["via"], "api");
    assert!(rewritten.get("via_api").is_none());
    let by_mail = Incident::open(
        Report {
            via: Via::Mail,
            contact: Some("ops@acme.example".into()),
            ..report()
        },
        &UserRef::console("api.acme"),
        &"email:acme".parse().unwrap(),
        ist("Mon 2026-12-07 10:00"),
    )
    .unwrap();
    let again: Incident = serde_json::from_str(&serde_json::to_string(&by_mail).unwrap()).unwrap();
    assert_eq!(again.via, Via::Mail);
}

#[test]
fn a_resolution_reads_in_plain_words_with_the_versions_of_a_planned_fix() {
    let resolved = |kind, fix_in: &[&str]| Resolved {
        kind,
        text: "fix coming".into(),
        fix_in: fix_in.iter().map(|v| v.parse().unwrap()).collect(),
    };
    assert_eq!(
        resolved(Resolution::PatchPlanned, &["2.5.57"]).words(),
        "resolved — a fix is planned in 2.5.57: fix coming"
    );
    assert_eq!(
        resolved(Resolution::PatchPlanned, &["3.2.16", "2.5.57", "1.9.3"]).words(),
        "resolved — a fix is planned in 3.2.16, 2.5.57 and 1.9.3: fix coming"
    );
    assert_eq!(
        resolved(Resolution::Workaround, &[]).words(),
        "resolved with a workaround: fix coming"
    );
    assert_eq!(
        resolved(Resolution::Clarification, &[]).words(),
        "resolved with an answer: fix coming"
    );
}

//! Every transition and every refusal of the downtime state machine, without I/O.

use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::domain::{RecordKind, RoleSet};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}
fn h(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor {
        user: UserRef::console(name),
        person: format!("console:{name}"),
        roles: RoleSet::new(roles.iter().cloned()),
    }
}
fn rm() -> Actor {
    actor("rm", &[Role::RELEASE_MANAGER])
}
fn alice() -> Actor {
    actor("alice", &[])
}

fn policy() -> Policy {
    Policy {
        remind_before: vec![h(1), h(24)],
        tz: chrono_tz::Asia::Kolkata,
        manager: Role::RELEASE_MANAGER,
    }
}

fn draft() -> Draft {
    Draft {
        environment: "Production".into(),
        start: t0() + h(48),
        end: t0() + h(50),
        reason: "database upgrade".into(),
        audience: Some("partners".into()),
    }
}

fn dt(n: i64) -> RecordId {
    RecordId::new(RecordKind::Downtime, n)
}

fn announced() -> Downtime {
    Downtime::announce(draft(), &rm(), &policy(), &[], t0())
        .unwrap()
        .0
}

fn in_progress() -> Downtime {
    let mut d = announced();
    let start = d.start;
    d.on_timer(Timer::Start, 0, start);
    d
}

fn refused(d: &mut Downtime, e: Event, by: &Actor, neighbours: &[Neighbour]) -> DomainError {
    let before = d.clone();
    let err = d.apply(e, by, &policy(), neighbours, t0()).unwrap_err();
    assert_eq!(*d, before, "a refusal must change nothing");
    assert!(!err.to_string().is_empty());
    err
}

fn schedules(effects: &[Effect]) -> Vec<(Timer, u32, DateTime<Utc>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Schedule { timer, version, at } => Some((*timer, *version, *at)),
            _ => None,
        })
        .collect()
}

#[test]
fn announce_creates_an_announced_window_with_reminders_start_and_overrun_timers() {
    let (d, effects) = Downtime::announce(draft(), &rm(), &policy(), &[], t0()).unwrap();
    assert_eq!(d.state, State::Announced);
    assert_eq!(d.environment, "production", "names are lower-cased");
    assert_eq!(d.version, 0);
    assert_eq!(effects[0], Effect::Announce(Notice::Announced));
    assert_eq!(
        schedules(&effects),
        vec![
            (
                Timer::Reminder {
                    before_secs: 86_400
                },
                0,
                t0() + h(24)
            ),
            (Timer::Reminder { before_secs: 3_600 }, 0, t0() + h(47)),
            (Timer::Start, 0, t0() + h(48)),
            (Timer::Overrun, 0, t0() + h(50)),
        ]
    );
}

#[test]
fn reminders_already_past_are_not_scheduled() {
    let mut d = draft();
    d.start = t0() + h(2);
    d.end = t0() + h(3);
    let (_, effects) = Downtime::announce(d, &rm(), &policy(), &[], t0()).unwrap();
    let timers: Vec<Timer> = schedules(&effects).into_iter().map(|s| s.0).collect();
    assert_eq!(
        timers,
        vec![
            Timer::Reminder { before_secs: 3_600 },
            Timer::Start,
            Timer::Overrun
        ]
    );
}

#[test]
fn a_window_that_already_began_starts_at_once() {
    let mut d = draft();
    d.start = t0() - h(1);
    d.end = t0() + h(1);
    let (_, effects) = Downtime::announce(d, &rm(), &policy(), &[], t0()).unwrap();
    assert!(schedules(&effects).contains(&(Timer::Start, 0, t0())));
}

#[test]
fn announce_is_for_release_managers_only() {
    let err = Downtime::announce(draft(), &alice(), &policy(), &[], t0()).unwrap_err();
    assert!(matches!(err, DomainError::Forbidden(_)));
    assert!(err.to_string().contains("release-manager"), "{err}");
    let admin = actor("admin", &[Role::ADMIN]);
    assert!(Downtime::announce(draft(), &admin, &policy(), &[], t0()).is_ok());
}

#[test]
fn announce_refuses_bad_windows_and_text() {
    type Change = Box<dyn Fn(&mut Draft)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|d| d.end = d.start), "ends before it starts"),
        (
            Box::new(|d| d.end = d.start - h(1)),
            "ends before it starts",
        ),
        (
            Box::new(|d| d.end = d.start + h(24 * 31)),
            "longer than 30 days",
        ),
        (
            Box::new(|d| {
                d.start = t0() - h(3);
                d.end = t0() - h(1);
            }),
            "already over",
        ),
        (Box::new(|d| d.reason = "  ".into()), "reason is empty"),
        (Box::new(|d| d.reason = "x".repeat(1_001)), "too long"),
        (
            Box::new(|d| d.audience = Some(" ".into())),
            "audience is empty",
        ),
        (
            Box::new(|d| d.environment = "prod env".into()),
            "environment name",
        ),
        (Box::new(|d| d.environment = "".into()), "environment name"),
    ];
    for (change, expected) in cases {
        let mut d = draft();
        change(&mut d);
        let err = Downtime::announce(d, &rm(), &policy(), &[], t0())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn overlapping_windows_of_one_environment_are_refused_naming_the_other() {
    let other = announced().as_neighbour(dt(3));
    let err = Downtime::announce(
        draft(),
        &rm(),
        &policy(),
        std::slice::from_ref(&other),
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)));
    assert!(
        err.to_string().contains(
            "DT-3 already covers production from 2026-11-04 14:30 IST to 2026-11-04 16:30 IST"
        ),
        "{err}"
    );

    // Touching windows do not overlap; other environments and dead windows do not count.
    let mut after = draft();
    after.start = other.end;
    after.end = other.end + h(1);
    assert!(
        Downtime::announce(after, &rm(), &policy(), std::slice::from_ref(&other), t0()).is_ok()
    );
    let mut staging = other.clone();
    staging.environment = "staging".into();
    assert!(Downtime::announce(draft(), &rm(), &policy(), &[staging], t0()).is_ok());
    let mut gone = other;
    gone.state = State::Cancelled;
    assert!(Downtime::announce(draft(), &rm(), &policy(), &[gone], t0()).is_ok());
}

#[test]
fn an_overrunning_window_blocks_its_environment_until_completed() {
    let mut running = in_progress().as_neighbour(dt(1));
    running.start = t0() - h(3);
    running.end = t0() - h(1);
    let mut d = draft();
    d.start = t0() + TimeDelta::minutes(30);
    d.end = t0() + h(1);
    let err = check_overlap(
        "production",
        d.start,
        d.end,
        &[running],
        chrono_tz::UTC,
        t0() + h(1) - TimeDelta::minutes(1),
    );
    assert!(err.unwrap_err().to_string().contains("DT-1"));
}

#[test]
fn postpone_moves_the_window_keeps_its_length_bumps_the_version_and_renews_timers() {
    let mut d = announced();
    let to = t0() + h(72);
    let effects = d
        .apply(
            Event::Postpone {
                to,
                reason: Some("vendor delay".into()),
            },
            &rm(),
            &policy(),
            &[],
            t0(),
        )
        .unwrap();
    assert_eq!((d.start, d.end), (to, to + h(2)));
    assert_eq!(d.version, 1);
    assert_eq!(d.state, State::Announced);
    assert_eq!(effects[0], Effect::CancelTimers);
    assert_eq!(
        effects[1],
        Effect::Announce(Notice::Postponed {
            from_start: t0() + h(48),
            from_end: t0() + h(50),
            reason: Some("vendor delay".into())
        })
    );
    let timers = schedules(&effects);
    assert!(timers.iter().all(|(_, v, _)| *v == 1), "{timers:?}");
    assert!(timers.contains(&(Timer::Start, 1, to)));
    assert!(timers.contains(&(Timer::Reminder { before_secs: 3_600 }, 1, to - h(1))));
}

#[test]
fn a_stale_timer_from_before_a_postpone_does_nothing() {
    let mut d = announced();
    d.apply(
        Event::Postpone {
            to: t0() + h(72),
            reason: None,
        },
        &rm(),
        &policy(),
        &[],
        t0(),
    )
    .unwrap();
    let before = d.clone();
    assert!(
        d.on_timer(
            Timer::Reminder {
                before_secs: 86_400
            },
            0,
            t0() + h(24)
        )
        .is_empty()
    );
    assert!(d.on_timer(Timer::Start, 0, t0() + h(48)).is_empty());
    assert_eq!(d, before);
    // The current version's reminder speaks.
    assert_eq!(
        d.on_timer(
            Timer::Reminder {
                before_secs: 86_400
            },
            1,
            t0() + h(48)
        ),
        vec![Effect::Announce(Notice::Reminder { before: h(24) })]
    );
}

#[test]
fn postpone_refusals() {
    let mut d = announced();
    let e = refused(
        &mut d,
        Event::Postpone {
            to: t0() + h(72),
            reason: None,
        },
        &alice(),
        &[],
    );
    assert!(matches!(e, DomainError::Forbidden(_)));
    let e = refused(
        &mut d,
        Event::Postpone {
            to: t0() - h(1),
            reason: None,
        },
        &rm(),
        &[],
    );
    assert!(e.to_string().contains("not in the future"), "{e}");
    let e = refused(
        &mut d,
        Event::Postpone {
            to: t0() + h(48),
            reason: None,
        },
        &rm(),
        &[],
    );
    assert!(e.to_string().contains("already starts then"), "{e}");
    let mut blocker = announced().as_neighbour(dt(2));
    blocker.start = t0() + h(72);
    blocker.end = t0() + h(73);
    let e = refused(
        &mut d,
        Event::Postpone {
            to: t0() + h(71),
            reason: None,
        },
        &rm(),
        &[blocker],
    );
    assert!(e.to_string().contains("DT-2"), "{e}");
    for mut other in [in_progress(), completed(), cancelled()] {
        let e = refused(
            &mut other,
            Event::Postpone {
                to: t0() + h(72),
                reason: None,
            },
            &rm(),
            &[],
        );
        assert!(matches!(e, DomainError::Conflict(_)), "{e}");
    }
}

#[test]
fn the_start_timer_begins_the_window_on_time() {
    let mut d = announced();
    assert!(
        d.on_timer(Timer::Start, 0, t0() + h(47)).is_empty(),
        "not before its time"
    );
    let effects = d.on_timer(Timer::Start, 0, t0() + h(48));
    assert_eq!(d.state, State::InProgress);
    assert_eq!(d.started_at, Some(t0() + h(48)));
    assert_eq!(d.started_by, None);
    assert_eq!(
        effects,
        vec![Effect::Announce(Notice::Started { by: None })]
    );
}

#[test]
fn starting_by_hand_beats_the_timer_and_silences_reminders() {
    let mut d = announced();
    let length = d.end - d.start;
    let effects = d
        .apply(Event::Start { end: None }, &rm(), &policy(), &[], t0())
        .unwrap();
    assert_eq!(d.state, State::InProgress);
    assert_eq!(d.started_by, Some(UserRef::console("rm")));
    // started early: the window keeps its length, its end moves with the start
    assert_eq!((d.start, d.end), (t0(), t0() + length));
    assert_eq!(
        effects,
        vec![
            Effect::CancelTimers,
            Effect::Schedule {
                timer: Timer::Overrun,
                version: 1,
                at: t0() + length,
            },
            Effect::Announce(Notice::Started {
                by: Some(UserRef::console("rm"))
            })
        ]
    );
    assert!(d.on_timer(Timer::Start, 0, t0() + h(48)).is_empty());
    assert!(
        d.on_timer(Timer::Reminder { before_secs: 3_600 }, 0, t0() + h(47))
            .is_empty()
    );
}

#[test]
fn starting_early_with_an_end_ends_there_and_an_end_in_the_past_is_refused() {
    let mut d = announced();
    let e = refused(
        &mut d,
        Event::Start {
            end: Some(t0() - h(1)),
        },
        &rm(),
        &[],
    );
    let e = e.to_string();
    assert!(e.contains("is not after now") && e.contains("IST"), "{e}");
    d.apply(
        Event::Start {
            end: Some(t0() + h(6)),
        },
        &rm(),
        &policy(),
        &[],
        t0(),
    )
    .unwrap();
    assert_eq!((d.start, d.end), (t0(), t0() + h(6)));
    assert_eq!(d.version, 1, "the planned timers are void");
}

#[test]
fn start_refusals() {
    let e = refused(&mut announced(), Event::Start { end: None }, &alice(), &[]);
    assert!(matches!(e, DomainError::Forbidden(_)));
    for mut d in [in_progress(), completed(), cancelled()] {
        let e = refused(&mut d, Event::Start { end: None }, &rm(), &[]);
        assert!(e.to_string().contains("only an announced window"), "{e}");
    }
}

#[test]
fn the_overrun_timer_speaks_only_while_still_in_progress() {
    let mut d = in_progress();
    assert_eq!(
        d.on_timer(Timer::Overrun, 0, t0() + h(50)),
        vec![Effect::Announce(Notice::Overrun)]
    );
    assert!(d.is_overrunning(t0() + h(50)));
    let mut done = completed();
    assert!(done.on_timer(Timer::Overrun, 0, t0() + h(50)).is_empty());
    let mut early = in_progress();
    assert!(early.on_timer(Timer::Overrun, 0, t0() + h(49)).is_empty());
}

fn completed() -> Downtime {
    let mut d = in_progress();
    d.apply(Event::Complete, &rm(), &policy(), &[], t0() + h(49))
        .unwrap();
    d
}

fn cancelled() -> Downtime {
    let mut d = announced();
    d.apply(
        Event::Cancel {
            reason: "not needed".into(),
        },
        &rm(),
        &policy(),
        &[],
        t0(),
    )
    .unwrap();
    d
}

#[test]
fn complete_ends_the_window_and_voids_its_timers() {
    let mut d = in_progress();
    let effects = d
        .apply(Event::Complete, &rm(), &policy(), &[], t0() + h(49))
        .unwrap();
    assert_eq!(d.state, State::Completed);
    assert_eq!(d.completed_at, Some(t0() + h(49)));
    assert_eq!(
        effects,
        vec![
            Effect::CancelTimers,
            Effect::Announce(Notice::Completed {
                by: UserRef::console("rm")
            })
        ]
    );
}

#[test]
fn complete_refusals() {
    let e = refused(&mut in_progress(), Event::Complete, &alice(), &[]);
    assert!(matches!(e, DomainError::Forbidden(_)));
    let e = refused(&mut announced(), Event::Complete, &rm(), &[]);
    assert!(e.to_string().contains("has not started"), "{e}");
    for mut d in [completed(), cancelled()] {
        let e = refused(&mut d, Event::Complete, &rm(), &[]);
        assert!(e.to_string().contains("already"), "{e}");
    }
}

#[test]
fn cancel_voids_the_window_and_bumps_the_version() {
    let mut d = announced();
    let effects = d
        .apply(
            Event::Cancel {
                reason: "vendor fixed it".into(),
            },
            &rm(),
            &policy(),
            &[],
            t0(),
        )
        .unwrap();
    assert_eq!(d.state, State::Cancelled);
    assert_eq!(d.version, 1);
    assert_eq!(d.cancel_reason.as_deref(), Some("vendor fixed it"));
    assert_eq!(effects[0], Effect::CancelTimers);
    assert!(d.on_timer(Timer::Start, 0, t0() + h(48)).is_empty());
    assert!(d.on_timer(Timer::Start, 1, t0() + h(48)).is_empty());
    assert_eq!(d.state, State::Cancelled);
}

#[test]
fn cancel_refusals() {
    let cancel = || Event::Cancel { reason: "x".into() };
    let e = refused(&mut announced(), cancel(), &alice(), &[]);
    assert!(matches!(e, DomainError::Forbidden(_)));
    let e = refused(
        &mut announced(),
        Event::Cancel { reason: " ".into() },
        &rm(),
        &[],
    );
    assert!(e.to_string().contains("reason is empty"), "{e}");
    let e = refused(&mut in_progress(), cancel(), &rm(), &[]);
    assert!(e.to_string().contains("in progress"), "{e}");
    for mut d in [completed(), cancelled()] {
        let e = refused(&mut d, cancel(), &rm(), &[]);
        assert!(e.to_string().contains("already"), "{e}");
    }
}

#[test]
fn states_round_trip_through_text() {
    for s in State::ALL {
        assert_eq!(s.as_str().parse::<State>().unwrap(), *s);
    }
    assert!("paused".parse::<State>().is_err());
    assert!(State::Announced.is_live() && State::InProgress.is_live());
    assert!(!State::Completed.is_live() && !State::Cancelled.is_live());
}

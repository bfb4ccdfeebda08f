//! Every transition and every refusal of the deletion state machine, without I/O.

use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::domain::{Actor, ChannelRef, Role, RoleSet, UserRef};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor {
        user: UserRef::console(name),
        person: format!("console:{name}"),
        roles: RoleSet::new(roles.iter().cloned()),
    }
}

fn policy() -> Policy {
    Policy {
        approvals_required: 1,
        cooling_off: TimeDelta::days(7),
        approver: Role::DATA_STEWARD,
        product: Role::PRODUCT,
        executor: Role::DEVOPS,
    }
}

fn draft(protected: bool) -> Draft {
    Draft {
        target: "city-b/run-42".into(),
        reason: Reason::DuplicateRun,
        justification: "pipeline ran twice".into(),
        sensitivity: Sensitivity::Medium,
        stakeholders: vec![UserRef::console("bob")],
        channel: "console:#bioinfo".parse::<ChannelRef>().unwrap(),
        protected,
    }
}

fn alice() -> Actor {
    actor("alice", &[])
}
fn steward() -> Actor {
    actor("sam", &[Role::DATA_STEWARD])
}
fn steward2() -> Actor {
    actor("sue", &[Role::DATA_STEWARD])
}
fn ops() -> Actor {
    actor("ops", &[Role::DEVOPS])
}
fn pm() -> Actor {
    actor("pm", &[Role::PRODUCT])
}

fn filed() -> DeletionRequest {
    DeletionRequest::create(draft(false), &alice(), t0())
        .unwrap()
        .0
}

fn cooling() -> DeletionRequest {
    let mut r = filed();
    r.apply(Event::Approve, &steward(), &policy(), t0())
        .unwrap();
    r
}

fn ready() -> DeletionRequest {
    let mut r = cooling();
    let until = r.cooling_off_until.unwrap();
    r.expire(until, until);
    r
}

fn refused(r: &mut DeletionRequest, e: Event, by: &Actor) -> String {
    let before = r.clone();
    let err = r.apply(e, by, &policy(), t0()).unwrap_err().to_string();
    assert_eq!(*r, before, "a refusal must change nothing");
    assert!(!err.is_empty());
    err
}

#[test]
fn create_starts_pending_and_announces() {
    let (r, effects) = DeletionRequest::create(draft(false), &alice(), t0()).unwrap();
    assert_eq!(r.state, State::PendingApproval);
    assert_eq!(r.requester, UserRef::console("alice"));
    assert_eq!(effects, vec![Effect::Announce(Notice::Created)]);
}

#[test]
fn create_refuses_empty_target_and_justification() {
    let mut d = draft(false);
    d.target = "  ".into();
    assert!(
        DeletionRequest::create(d, &alice(), t0())
            .unwrap_err()
            .to_string()
            .contains("target")
    );
    let mut d = draft(false);
    d.justification = "".into();
    assert!(
        DeletionRequest::create(d, &alice(), t0())
            .unwrap_err()
            .to_string()
            .contains("justification")
    );
    let mut d = draft(false);
    d.target = "x".repeat(400);
    assert!(DeletionRequest::create(d, &alice(), t0()).is_err());
}

#[test]
fn steward_approval_starts_cooling_off_for_the_configured_period() {
    let mut r = filed();
    let effects = r
        .apply(Event::Approve, &steward(), &policy(), t0())
        .unwrap();
    let until = t0() + TimeDelta::days(7);
    assert_eq!(r.state, State::CoolingOff);
    assert_eq!(r.cooling_off_until, Some(until));
    assert_eq!(
        effects,
        vec![
            Effect::ScheduleExpiry(until),
            Effect::Announce(Notice::CoolingOffStarted { until })
        ]
    );
}

#[test]
fn requester_can_never_approve_even_as_steward() {
    let mut r = DeletionRequest::create(draft(false), &steward(), t0())
        .unwrap()
        .0;
    let err = refused(&mut r, Event::Approve, &steward());
    assert!(err.contains("you filed this request"), "{err}");
}

#[test]
fn non_steward_cannot_approve() {
    let mut r = filed();
    let err = refused(&mut r, Event::Approve, &ops());
    assert!(err.contains("data-steward"), "{err}");
}

#[test]
fn the_same_person_counts_once() {
    let mut r = filed();
    let p = Policy {
        approvals_required: 2,
        ..policy()
    };
    let effects = r.apply(Event::Approve, &steward(), &p, t0()).unwrap();
    assert_eq!(r.state, State::PendingApproval);
    assert!(
        matches!(&effects[0], Effect::Announce(Notice::Approved { missing, .. }) if missing[0].contains("1 data-steward"))
    );
    // the same person from another platform
    let mut same = steward();
    same.user = "slack:U024BE7LH".parse().unwrap();
    let before = r.clone();
    let err = r
        .apply(Event::Approve, &same, &p, t0())
        .unwrap_err()
        .to_string();
    assert!(err.contains("already approved"), "{err}");
    assert_eq!(r, before);
    r.apply(Event::Approve, &steward2(), &p, t0()).unwrap();
    assert_eq!(r.state, State::CoolingOff);
}

#[test]
fn protected_targets_also_need_product() {
    let mut r = DeletionRequest::create(draft(true), &alice(), t0())
        .unwrap()
        .0;
    let effects = r
        .apply(Event::Approve, &steward(), &policy(), t0())
        .unwrap();
    assert_eq!(r.state, State::PendingApproval);
    assert!(
        matches!(&effects[0], Effect::Announce(Notice::Approved { missing, .. }) if missing[0].contains("product"))
    );
    // a second steward is not what is missing
    let err = r
        .apply(Event::Approve, &steward2(), &policy(), t0())
        .unwrap_err()
        .to_string();
    assert!(err.contains("product"), "{err}");
    r.apply(Event::Approve, &pm(), &policy(), t0()).unwrap();
    assert_eq!(r.state, State::CoolingOff);
}

#[test]
fn one_approval_counts_for_every_role_the_approver_holds() {
    // a steward who is also product: the protected request needs nobody else
    let both = actor("priya", &[Role::DATA_STEWARD, Role::PRODUCT]);
    let mut r = DeletionRequest::create(draft(true), &alice(), t0())
        .unwrap()
        .0;
    r.apply(Event::Approve, &both, &policy(), t0()).unwrap();
    assert_eq!(r.state, State::CoolingOff);
    assert_eq!(r.approvals.len(), 2, "counted as steward and as product");
    // with two steward approvals required, she still counts once per role
    let two = Policy {
        approvals_required: 2,
        ..policy()
    };
    let mut r = DeletionRequest::create(draft(true), &alice(), t0())
        .unwrap()
        .0;
    let effects = r.apply(Event::Approve, &both, &two, t0()).unwrap();
    assert!(
        matches!(&effects[0], Effect::Announce(Notice::Approved { missing, .. }) if missing == &["1 data-steward approval".to_string()]),
        "{effects:?}"
    );
    r.apply(Event::Approve, &steward(), &two, t0()).unwrap();
    assert_eq!(r.state, State::CoolingOff);
}

#[test]
fn product_alone_cannot_approve_unprotected_targets() {
    let mut r = filed();
    let err = refused(&mut r, Event::Approve, &pm());
    assert!(err.contains("data-steward"), "{err}");
}

#[test]
fn approvals_are_refused_outside_pending() {
    let mut r = cooling();
    let err = refused(&mut r, Event::Approve, &steward2());
    assert!(err.contains("cooling-off"), "{err}");
    let mut r = filed();
    r.apply(
        Event::Object {
            reason: "wrong run".into(),
        },
        &alice(),
        &policy(),
        t0(),
    )
    .unwrap();
    let err = refused(&mut r, Event::Approve, &steward());
    assert!(err.contains("resolve"), "{err}");
}

#[test]
fn expiry_makes_the_request_ready_once() {
    let mut r = cooling();
    let until = r.cooling_off_until.unwrap();
    assert!(
        r.expire(until, until - TimeDelta::seconds(1)).is_empty(),
        "not before its time"
    );
    assert_eq!(
        r.expire(until, until),
        vec![Effect::Announce(Notice::Ready)]
    );
    assert_eq!(r.state, State::Ready);
    assert!(
        r.expire(until, until).is_empty(),
        "a second firing does nothing"
    );
}

#[test]
fn objection_stops_the_clock_and_resolve_restarts_the_full_period() {
    let mut r = cooling();
    let first_until = r.cooling_off_until.unwrap();
    let later = t0() + TimeDelta::days(3);
    let effects = r
        .apply(
            Event::Object {
                reason: "wrong run id".into(),
            },
            &ops(),
            &policy(),
            later,
        )
        .unwrap();
    assert_eq!(r.state, State::OnHold);
    assert_eq!(r.cooling_off_until, None);
    assert!(
        matches!(&effects[0], Effect::Announce(Notice::OnHold { reason, .. }) if reason == "wrong run id")
    );
    // the old timer is stale now
    assert!(r.expire(first_until, first_until).is_empty());
    assert_eq!(r.state, State::OnHold);
    let resolved_at = t0() + TimeDelta::days(4);
    let effects = r
        .apply(Event::Resolve, &steward(), &policy(), resolved_at)
        .unwrap();
    let new_until = resolved_at + TimeDelta::days(7);
    assert_eq!(r.state, State::CoolingOff);
    assert_eq!(r.cooling_off_until, Some(new_until));
    assert_eq!(effects[0], Effect::ScheduleExpiry(new_until));
    assert!(r.objections.iter().all(|o| o.resolved_by.is_some()));
}

#[test]
fn objection_before_approval_resumes_to_pending() {
    let mut r = filed();
    r.apply(
        Event::Object {
            reason: "check the id".into(),
        },
        &alice(),
        &policy(),
        t0(),
    )
    .unwrap();
    r.apply(Event::Resolve, &steward(), &policy(), t0())
        .unwrap();
    assert_eq!(r.state, State::PendingApproval);
    assert_eq!(r.cooling_off_until, None);
}

#[test]
fn objection_on_a_ready_request_holds_it() {
    let mut r = ready();
    r.apply(
        Event::Object {
            reason: "still needed".into(),
        },
        &alice(),
        &policy(),
        t0(),
    )
    .unwrap();
    assert_eq!(r.state, State::OnHold);
    r.apply(Event::Resolve, &steward(), &policy(), t0())
        .unwrap();
    assert_eq!(r.state, State::CoolingOff);
}

#[test]
fn objections_need_a_reason_and_an_open_request() {
    let mut r = filed();
    let err = refused(&mut r, Event::Object { reason: " ".into() }, &alice());
    assert!(err.contains("reason"), "{err}");
    let mut r = ready();
    r.apply(Event::Done { note: None }, &ops(), &policy(), t0())
        .unwrap();
    let err = refused(
        &mut r,
        Event::Object {
            reason: "late".into(),
        },
        &alice(),
    );
    assert!(err.contains("done"), "{err}");
}

#[test]
fn a_second_objection_keeps_it_on_hold() {
    let mut r = cooling();
    r.apply(
        Event::Object {
            reason: "one".into(),
        },
        &alice(),
        &policy(),
        t0(),
    )
    .unwrap();
    r.apply(
        Event::Object {
            reason: "two".into(),
        },
        &ops(),
        &policy(),
        t0(),
    )
    .unwrap();
    assert_eq!(r.state, State::OnHold);
    assert_eq!(r.held_from, Some(State::CoolingOff));
    assert_eq!(r.objections.len(), 2);
}

#[test]
fn only_stewards_resolve_and_only_on_hold() {
    let mut r = cooling();
    r.apply(
        Event::Object { reason: "x".into() },
        &alice(),
        &policy(),
        t0(),
    )
    .unwrap();
    let err = refused(&mut r, Event::Resolve, &alice());
    assert!(err.contains("data-steward"), "{err}");
    let mut r = cooling();
    let err = refused(&mut r, Event::Resolve, &steward());
    assert!(err.contains("not on-hold"), "{err}");
}

#[test]
fn requester_or_steward_can_cancel_before_done() {
    for st in [State::PendingApproval, State::CoolingOff, State::Ready] {
        let mut r = match st {
            State::PendingApproval => filed(),
            State::CoolingOff => cooling(),
            _ => ready(),
        };
        r.apply(Event::Cancel { reason: None }, &alice(), &policy(), t0())
            .unwrap();
        assert_eq!(r.state, State::Cancelled);
        assert_eq!(r.cooling_off_until, None);
    }
    let mut r = cooling();
    r.apply(
        Event::Object { reason: "x".into() },
        &ops(),
        &policy(),
        t0(),
    )
    .unwrap();
    r.apply(
        Event::Cancel {
            reason: Some("not needed".into()),
        },
        &steward(),
        &policy(),
        t0(),
    )
    .unwrap();
    assert_eq!(r.state, State::Cancelled);
    assert_eq!(r.closed_note.as_deref(), Some("not needed"));
}

#[test]
fn others_cannot_cancel_and_nobody_cancels_after_done() {
    let mut r = filed();
    let err = refused(&mut r, Event::Cancel { reason: None }, &ops());
    assert!(err.contains("requester"), "{err}");
    let mut r = ready();
    r.apply(Event::Done { note: None }, &ops(), &policy(), t0())
        .unwrap();
    let err = refused(&mut r, Event::Cancel { reason: None }, &alice());
    assert!(err.contains("already done"), "{err}");
    let mut r = filed();
    r.apply(Event::Cancel { reason: None }, &alice(), &policy(), t0())
        .unwrap();
    let err = refused(&mut r, Event::Cancel { reason: None }, &alice());
    assert!(err.contains("already cancelled"), "{err}");
}

#[test]
fn devops_marks_ready_requests_done_with_a_note() {
    let mut r = ready();
    let effects = r
        .apply(
            Event::Done {
                note: Some("rm -r run-42".into()),
            },
            &ops(),
            &policy(),
            t0(),
        )
        .unwrap();
    assert_eq!(r.state, State::Done);
    assert_eq!(r.closed_note.as_deref(), Some("rm -r run-42"));
    assert_eq!(
        effects,
        vec![Effect::Announce(Notice::Done {
            by: UserRef::console("ops")
        })]
    );
}

#[test]
fn done_is_refused_for_non_devops_and_before_ready() {
    let mut r = ready();
    let err = refused(&mut r, Event::Done { note: None }, &steward());
    assert!(err.contains("devops"), "{err}");
    let mut r = cooling();
    let err = refused(&mut r, Event::Done { note: None }, &ops());
    assert!(err.contains("cooling-off"), "{err}");
    let mut r = filed();
    let err = refused(&mut r, Event::Done { note: None }, &ops());
    assert!(err.contains("approval"), "{err}");
}

#[test]
fn admin_can_do_what_any_role_can() {
    let admin = actor("root", &[Role::ADMIN]);
    let mut r = filed();
    r.apply(Event::Approve, &admin, &policy(), t0()).unwrap();
    assert_eq!(r.state, State::CoolingOff);
}

#[test]
fn enums_parse_and_name_the_choices() {
    assert_eq!(
        "duplicate-run".parse::<Reason>().unwrap(),
        Reason::DuplicateRun
    );
    let err = "typo".parse::<Reason>().unwrap_err().to_string();
    assert!(
        err.contains("incorrect-input, duplicate-run, other"),
        "{err}"
    );
    assert_eq!("high".parse::<Sensitivity>().unwrap(), Sensitivity::High);
    for s in State::ALL {
        assert_eq!(s.as_str().parse::<State>().unwrap(), *s);
    }
}

use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::domain::{Platform, RoleSet};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap()
}

fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor {
        user: UserRef::console(name),
        person: name.into(),
        roles: RoleSet::new(roles.iter().cloned()),
    }
}

fn policy(approvals: u32, requires: Option<&str>) -> Policy {
    Policy {
        approvals,
        approver_roles: vec![Role::DEVOPS, Role::RELEASE_MANAGER],
        requester_roles: vec![Role::DEVOPS],
        requires: requires.map(|r| r.parse().unwrap()),
    }
}

fn draft() -> Draft {
    Draft {
        kind: Kind::Deploy,
        target: "portal-prod".into(),
        environment: "production".into(),
        git_ref: "v2.4.0".into(),
        reason: None,
        channel: ChannelRef::new(Platform::Console, "#ops"),
        rolls_back_to: None,
        commit: None,
        rerun: None,
    }
}

fn filed(p: &Policy) -> DeployRequest {
    let ops = actor("ops", &[Role::DEVOPS]);
    let mut r = DeployRequest::file(draft(), &ops, p, vec![], None, now()).unwrap();
    let effects = r.filed(false);
    assert_eq!(effects.is_empty(), p.approvals > 0, "{effects:?}");
    r
}

#[test]
fn the_requester_never_counts_and_each_person_counts_once() {
    let p = policy(2, None);
    let mut r = filed(&p);
    let ops = actor("ops", &[Role::DEVOPS]);
    let e = r.apply(Event::Approve, &ops, &p, false, now()).unwrap_err();
    assert!(e.to_string().contains("you filed this request"), "{e}");
    let ann = actor("ann", &[Role::DEVOPS]);
    assert!(
        r.apply(Event::Approve, &ann, &p, false, now())
            .unwrap()
            .is_empty()
    );
    assert!(r.apply(Event::Approve, &ann, &p, false, now()).is_err());
    let qa = actor("qa", &[Role::QA]);
    let e = r.apply(Event::Approve, &qa, &p, false, now()).unwrap_err();
    assert!(
        e.to_string().contains("only `devops` or `release-manager`"),
        "{e}"
    );
    let rm = actor("rm", &[Role::RELEASE_MANAGER]);
    let effects = r.apply(Event::Approve, &rm, &p, false, now()).unwrap();
    assert_eq!(effects, vec![Effect::Trigger]);
    assert_eq!(r.state, State::Triggering);
}

#[test]
fn an_unsigned_gate_holds_the_approved_request_until_it_is_signed() {
    let p = policy(1, Some("portal-release:validation"));
    let mut r = filed(&p);
    let rm = actor("rm", &[Role::RELEASE_MANAGER]);
    assert!(
        r.apply(Event::Approve, &rm, &p, false, now())
            .unwrap()
            .is_empty()
    );
    assert_eq!(r.state, State::WaitingGate);
    assert_eq!(r.gate_signed(), vec![Effect::Trigger]);
    assert_eq!(r.state, State::Triggering);
}

#[test]
fn an_objection_holds_it_and_a_resolution_resumes_where_it_was() {
    let p = policy(1, None);
    let mut r = filed(&p);
    let qa = actor("qa", &[Role::QA]);
    let reason = Event::Object {
        reason: "migration not reviewed".into(),
    };
    r.apply(reason, &qa, &p, false, now()).unwrap();
    assert_eq!(r.state, State::OnHold);
    let rm = actor("rm", &[Role::RELEASE_MANAGER]);
    assert!(r.apply(Event::Approve, &rm, &p, false, now()).is_err());
    assert!(r.apply(Event::Resolve, &qa, &p, false, now()).is_err());
    r.apply(Event::Resolve, &rm, &p, false, now()).unwrap();
    assert_eq!(r.state, State::PendingApproval);
}

#[test]
fn a_freeze_refuses_filing_unless_an_admin_overrides_with_a_reason() {
    let p = policy(1, None);
    let ops = actor("ops", &[Role::DEVOPS]);
    let blocks = vec!["code freeze".to_string()];
    let e = DeployRequest::file(draft(), &ops, &p, blocks.clone(), None, now()).unwrap_err();
    assert!(e.to_string().contains("An admin can file it anyway"), "{e}");
    let why = Some("hotfix".to_string());
    assert!(DeployRequest::file(draft(), &ops, &p, blocks.clone(), why.clone(), now()).is_err());
    let admin = actor("admin", &[Role::ADMIN]);
    let mut r = DeployRequest::file(draft(), &admin, &p, blocks, why, now()).unwrap();
    assert_eq!(r.filed(false), vec![Effect::Announce(Notice::Overridden)]);
}

#[test]
fn an_unanswered_call_is_looked_for_before_any_new_call() {
    let p = policy(0, None);
    let mut r = filed(&p);
    assert_eq!(
        r.state,
        State::Triggering,
        "no approval needed: straight to the trigger"
    );
    let lease = TimeDelta::minutes(2);
    let Begun::Attempt(first) = r.begin_attempt(now(), lease) else {
        panic!("an attempt")
    };
    assert_eq!(first, Attempt::Call { number: 1 });
    // held while the lease runs
    assert_eq!(r.begin_attempt(now(), lease), Begun::Nothing);
    r.record(1, Outcome::Unanswered("timeout".into()));
    assert_eq!(r.state, State::Triggering);
    let later = now() + lease;
    assert_eq!(
        r.begin_attempt(later, lease),
        Begun::Attempt(Attempt::Check {
            number: 2,
            since: now()
        })
    );
    // a late answer of the first attempt changes nothing
    assert!(r.record(1, Outcome::Refused("no".into())).is_empty());
    let run = RunLink {
        source: crate::domain::pipeline::Source::Github,
        id: "42".into(),
        attempt: 1,
        url: None,
    };
    r.record(2, Outcome::Started(Some(run)));
    assert_eq!(r.state, State::Triggered);
    assert_eq!(r.run_key().as_deref(), Some("pipeline:github:42:1"));
}

#[test]
fn a_rollback_goes_to_the_latest_success_before_the_newest_run() {
    use crate::domain::pipeline::{RunEvent, Source, Status, apply};
    let run = |id: &str, branch: &str, status: Status| {
        let mut e = RunEvent::new(Source::Github, id, "deploy");
        e.branch = Some(branch.into());
        e.status = Some(status);
        apply(None, &e).0
    };
    let failed_after_two_good = [
        run("3", "v3", Status::Failed),
        run("2", "v2", Status::Succeeded),
        run("1", "v1", Status::Succeeded),
    ];
    let point = rollback_point(&failed_after_two_good).expect("a point");
    assert_eq!(point.branch.as_deref(), Some("v2"));
    let good_after_good = [
        run("2", "v2", Status::Succeeded),
        run("1", "v1", Status::Succeeded),
    ];
    let point = rollback_point(&good_after_good).expect("a point");
    assert_eq!(point.branch.as_deref(), Some("v1"));
    assert!(rollback_point(&good_after_good[1..]).is_none());
}

#[test]
fn a_rollback_needs_a_reason() {
    let ops = actor("ops", &[Role::DEVOPS]);
    let mut d = draft();
    d.kind = Kind::Rollback;
    let e = DeployRequest::file(d, &ops, &policy(1, None), vec![], None, now()).unwrap_err();
    assert!(e.to_string().contains("a rollback needs its reason"), "{e}");
}

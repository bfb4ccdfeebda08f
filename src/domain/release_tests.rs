//! Every transition and refusal of a release run, without I/O.

use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::domain::freeze::WindowKind;
use crate::domain::runbook::{TaskKind, TaskSpec, WindowSpec, validate};
use crate::domain::{Actor, Role, RoleSet};

fn t0() -> DateTime<Utc> {
    // 2026-11-02 00:00 IST
    Utc.with_ymd_and_hms(2026, 11, 1, 18, 30, 0).unwrap()
}

fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor {
        user: UserRef::console(name),
        person: format!("console:{name}"),
        roles: RoleSet::new(roles.iter().cloned()),
    }
}

fn spec(id: &str, owner: Role, kind: TaskKind, deps: &[&str], offset: i64) -> TaskSpec {
    TaskSpec {
        id: id.into(),
        title: format!("{id} title"),
        owner,
        kind,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        offset_days: offset,
        duration: TimeDelta::days(1),
        publishes: (kind == TaskKind::Notice).then(|| "Service is back".into()),
        opens: Vec::new(),
        ends: Vec::new(),
    }
}

fn runbook() -> Runbook {
    let mut deploy = spec("deploy", Role::DEVOPS, TaskKind::Task, &[], 0);
    deploy.opens = vec![WindowSpec {
        kind: WindowKind::Freeze,
        target: "portal".into(),
        duration: TimeDelta::days(30),
        reason: "after release".into(),
    }];
    validate(
        "mini",
        "Mini",
        vec![
            deploy,
            spec("testing", Role::QA, TaskKind::Task, &["deploy"], 1),
            spec("qa", Role::QA, TaskKind::Gate, &["testing"], 2),
            spec("product", Role::PRODUCT, TaskKind::Gate, &["qa"], 3),
            spec(
                "announce",
                Role::RELEASE_MANAGER,
                TaskKind::Notice,
                &["product"],
                4,
            ),
        ],
    )
    .unwrap()
}

fn rm() -> Actor {
    actor("rm", &[Role::RELEASE_MANAGER])
}
fn ops() -> Actor {
    actor("ops", &[Role::DEVOPS])
}
fn qa() -> Actor {
    actor("qa", &[Role::QA])
}
fn pm() -> Actor {
    actor("pm", &[Role::PRODUCT])
}

fn started() -> Release {
    Release::start(
        "2026-Q4",
        &runbook(),
        t0(),
        "console:#rel".parse().unwrap(),
        &rm(),
        t0(),
    )
    .unwrap()
    .0
}

fn at(days: i64) -> DateTime<Utc> {
    t0() + TimeDelta::days(days) + TimeDelta::hours(6)
}

fn refused(
    r: &mut Release,
    f: impl FnOnce(&mut Release) -> Result<Vec<Effect>, DomainError>,
) -> String {
    let before = r.clone();
    let e = f(r).unwrap_err().to_string();
    assert_eq!(*r, before, "a refusal changes nothing");
    e
}

#[test]
fn starting_needs_a_release_manager_and_pings_the_first_owners() {
    let e = Release::start(
        "x",
        &runbook(),
        t0(),
        "console:#rel".parse().unwrap(),
        &ops(),
        t0(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("release-manager"));
    let (r, effects) = Release::start(
        "x",
        &runbook(),
        t0(),
        "console:#rel".parse().unwrap(),
        &rm(),
        t0(),
    )
    .unwrap();
    assert_eq!(effects[0], Effect::Announce(Notice::Started));
    let overdue = effects
        .iter()
        .filter(|e| matches!(e, Effect::ScheduleOverdue { .. }))
        .count();
    assert_eq!(overdue, 5, "one overdue check per task");
    assert!(effects.contains(&Effect::Announce(Notice::TaskReady {
        task: "deploy".into()
    })));
    assert!(!effects.contains(&Effect::Announce(Notice::TaskReady {
        task: "testing".into()
    })));
    assert_eq!(r.planned_end(&r.tasks[0].spec), t0() + TimeDelta::days(1));
}

#[test]
fn tasks_are_worked_by_their_owner_or_a_release_manager_in_order() {
    let mut r = started();
    let e = refused(&mut r, |r| r.start_task("deploy", &qa(), at(0)));
    assert!(e.contains("belongs to `devops`"), "{e}");
    let e = refused(&mut r, |r| r.complete_task("testing", &qa(), at(0), None));
    assert!(e.contains("waiting for deploy (pending)"), "{e}");
    r.start_task("deploy", &ops(), at(0)).unwrap();
    let e = refused(&mut r, |r| r.start_task("deploy", &ops(), at(0)));
    assert!(e.contains("already in-progress"), "{e}");
    let effects = r
        .complete_task("deploy", &ops(), at(0), Some("v2.3".into()))
        .unwrap();
    assert!(effects.contains(&Effect::Announce(Notice::TaskReady {
        task: "testing".into()
    })));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::OpenWindow(w) if w.target == "portal"))
    );
    r.complete_task("testing", &rm(), at(1), None).unwrap();
    let e = refused(&mut r, |r| r.complete_task("testing", &qa(), at(1), None));
    assert!(e.contains("already done"), "{e}");
    let e = refused(&mut r, |r| r.complete_task("nope", &qa(), at(1), None));
    assert!(
        e.contains("no task `nope`") && e.contains("deploy, testing"),
        "{e}"
    );
}

#[test]
fn a_gate_is_signed_only_by_its_role_and_only_after_its_dependencies() {
    let mut r = started();
    let e = refused(&mut r, |r| r.sign("qa", &qa(), at(2), None));
    assert!(
        e.contains("cannot sign `qa` yet: waiting for testing (pending)"),
        "{e}"
    );
    r.complete_task("deploy", &ops(), at(0), None).unwrap();
    r.complete_task("testing", &qa(), at(1), None).unwrap();
    let e = refused(&mut r, |r| r.sign("qa", &rm(), at(2), None));
    assert!(
        e.contains("only `qa` members can sign the `qa` gate"),
        "{e}"
    );
    let e = refused(&mut r, |r| r.sign("product", &pm(), at(2), None));
    assert!(e.contains("waiting for qa (pending)"), "{e}");
    let e = refused(&mut r, |r| r.complete_task("qa", &qa(), at(2), None));
    assert!(e.contains("is a gate: sign it with /signoff qa"), "{e}");
    let e = refused(&mut r, |r| r.sign("testing", &qa(), at(2), None));
    assert!(
        e.contains("is a task, not a gate") && e.contains("gates: qa, product"),
        "{e}"
    );
    let effects = r
        .sign("qa", &qa(), at(2), Some("all green".into()))
        .unwrap();
    assert!(effects.contains(&Effect::Announce(Notice::TaskReady {
        task: "product".into()
    })));
    let e = refused(&mut r, |r| r.sign("qa", &qa(), at(2), None));
    assert!(e.contains("already signed by console:qa"), "{e}");
}

#[test]
fn revoking_reopens_everything_that_depends_on_the_gate() {
    let mut r = started();
    r.complete_task("deploy", &ops(), at(0), None).unwrap();
    r.complete_task("testing", &qa(), at(1), None).unwrap();
    r.sign("qa", &qa(), at(2), None).unwrap();
    r.sign("product", &pm(), at(3), None).unwrap();
    let e = refused(&mut r, |r| r.revoke("qa", &ops(), at(3), "regression"));
    assert!(e.contains("only `qa` members or a release-manager"), "{e}");
    let e = refused(&mut r, |r| r.revoke("qa", &qa(), at(3), " "));
    assert!(e.contains("reason"), "{e}");
    let effects = r.revoke("qa", &qa(), at(3), "login regression").unwrap();
    assert!(
        matches!(&effects[0], Effect::Announce(Notice::Revoked { reopened, .. }) if reopened == &vec!["product".to_string()])
    );
    assert_eq!(r.task("qa").unwrap().state, TaskState::Pending);
    assert_eq!(r.task("product").unwrap().state, TaskState::Pending);
    assert_eq!(
        r.task("testing").unwrap().state,
        TaskState::Done,
        "what it depends on stays done"
    );
    let e = refused(&mut r, |r| r.revoke("qa", &qa(), at(3), "again"));
    assert!(e.contains("nothing to revoke"), "{e}");
}

#[test]
fn notices_publish_and_skips_need_a_release_manager_and_a_reason() {
    let mut r = started();
    let e = refused(&mut r, |r| {
        r.skip_task("deploy", &ops(), at(0), "not needed")
    });
    assert!(e.contains("release-manager"), "{e}");
    let e = refused(&mut r, |r| r.skip_task("deploy", &rm(), at(0), ""));
    assert!(e.contains("reason"), "{e}");
    let e = refused(&mut r, |r| r.skip_task("qa", &rm(), at(0), "trust me"));
    assert!(e.contains("cannot be skipped"), "{e}");
    let effects = r.skip_task("deploy", &rm(), at(0), "hotfix only").unwrap();
    assert!(
        effects.contains(&Effect::Announce(Notice::TaskReady {
            task: "testing".into()
        })),
        "skipped counts as finished"
    );
    r.complete_task("testing", &qa(), at(1), None).unwrap();
    r.sign("qa", &qa(), at(2), None).unwrap();
    r.sign("product", &pm(), at(3), None).unwrap();
    let effects = r.complete_task("announce", &rm(), at(4), None).unwrap();
    assert!(effects.contains(&Effect::Announce(Notice::Published {
        task: "announce".into(),
        text: "Service is back".into()
    })));
}

#[test]
fn closing_waits_for_every_task() {
    let mut r = started();
    let e = refused(&mut r, |r| r.close(&rm(), at(5)));
    assert!(
        e.contains("unfinished tasks deploy, testing, qa, product, announce"),
        "{e}"
    );
    for id in ["deploy", "testing", "announce"] {
        r.skip_task(id, &rm(), at(5), "n/a").unwrap();
    }
    r.sign("qa", &qa(), at(5), None).unwrap();
    r.sign("product", &pm(), at(5), None).unwrap();
    let e = refused(&mut r, |r| r.close(&ops(), at(5)));
    assert!(e.contains("release-manager"), "{e}");
    r.close(&rm(), at(5)).unwrap();
    assert_eq!(r.state, ReleaseState::Closed);
    let e = refused(&mut r, |r| r.start_task("deploy", &ops(), at(6)));
    assert!(e.contains("closed"), "{e}");
}

#[test]
fn overdue_tasks_are_reminded_daily_until_finished() {
    let mut r = started();
    assert!(
        r.overdue("deploy", t0() + TimeDelta::hours(23)).is_empty(),
        "not due yet"
    );
    let due = t0() + TimeDelta::days(1);
    let effects = r.overdue("deploy", due);
    assert_eq!(
        effects[0],
        Effect::Announce(Notice::Overdue {
            task: "deploy".into(),
            days_late: 1
        })
    );
    assert_eq!(
        effects[1],
        Effect::ScheduleOverdue {
            task: "deploy".into(),
            at: due + TimeDelta::days(1)
        }
    );
    r.complete_task("deploy", &ops(), due + TimeDelta::days(1), None)
        .unwrap();
    assert!(
        r.overdue("deploy", due + TimeDelta::days(1)).is_empty(),
        "stops when done"
    );
}

#[test]
fn the_retro_reports_slip_in_days_against_the_plan() {
    let tz = chrono_tz::Asia::Kolkata;
    let mut r = started();
    r.complete_task("deploy", &ops(), at(0), None).unwrap(); // on time
    r.complete_task("testing", &qa(), at(4), Some("flaky env".into()))
        .unwrap(); // planned T+1, done T+4
    let rows = r.retro(tz);
    assert_eq!(rows[0].planned_end.to_string(), "2026-11-02");
    assert_eq!(rows[0].slip_days, Some(0));
    assert_eq!(rows[1].planned_end.to_string(), "2026-11-03");
    assert_eq!(
        rows[1].actual_end.map(|d| d.to_string()).as_deref(),
        Some("2026-11-06")
    );
    assert_eq!(rows[1].slip_days, Some(3));
    assert_eq!(rows[1].note.as_deref(), Some("flaky env"));
    assert_eq!(rows[2].slip_days, None, "unfinished");
}

#[test]
fn a_task_named_in_another_case_is_found_when_only_one_matches() {
    let r = started();
    let id = r.tasks[0].spec.id.clone();
    let upper = id.to_uppercase();
    assert_eq!(r.task(&upper).map(|t| t.spec.id.clone()).ok(), Some(id));
    assert!(r.task("no-such-task").is_err());
}

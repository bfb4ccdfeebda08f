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

/// Mon–Fri 09:00–18:00 IST.
fn cal() -> WorkingCalendar {
    use chrono::Weekday::*;
    WorkingCalendar::new(
        chrono_tz::Asia::Kolkata,
        [Mon, Tue, Wed, Thu, Fri],
        "09:00-18:00".parse().unwrap(),
        [],
    )
    .unwrap()
}

/// `YYYY-MM-DD HH:MM` in IST.
fn ist(s: &str) -> DateTime<Utc> {
    crate::domain::timing::parse_time(s, chrono_tz::Asia::Kolkata).unwrap()
}

/// Whether `effects` make `task` ready (a ping when it can start).
fn readies(effects: &[Effect], task: &str) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::Ready { task: t, .. } if t == task))
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
        co_owners: Vec::new(),
        calendar_days: false,
        downtime: None,
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
        &cal(),
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
        &cal(),
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
        &cal(),
    )
    .unwrap();
    assert_eq!(effects[0], Effect::Announce(Notice::Started));
    assert!(
        effects.contains(&Effect::ScheduleDigest {
            at: ist("2026-11-03 09:00")
        }),
        "the first digest the working morning after the first planned end: {effects:?}"
    );
    assert!(readies(&effects, "deploy"));
    assert!(!readies(&effects, "testing"));
    assert_eq!(r.planned_start(&r.tasks[0].spec), ist("2026-11-02 09:00"));
    assert_eq!(r.planned_end(&r.tasks[0].spec), ist("2026-11-02 18:00"));
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
    assert!(readies(&effects, "testing"));
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
    assert!(readies(&effects, "product"));
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
    let e = refused(&mut r, |r| {
        r.revoke("qa", &ops(), at(3), "regression", &cal())
    });
    assert!(e.contains("only `qa` members or a release-manager"), "{e}");
    let e = refused(&mut r, |r| r.revoke("qa", &qa(), at(3), " ", &cal()));
    assert!(e.contains("reason"), "{e}");
    let effects = r
        .revoke("qa", &qa(), at(3), "login regression", &cal())
        .unwrap();
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
    let e = refused(&mut r, |r| r.revoke("qa", &qa(), at(3), "again", &cal()));
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
    assert!(readies(&effects, "testing"), "skipped counts as finished");
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
fn one_digest_each_working_morning_names_late_unblocked_work() {
    let mut r = started();
    // deploy is planned Mon 2026-11-02 09:00–18:00 IST
    let monday_evening = ist("2026-11-02 17:59");
    let effects = r.overdue_digest(monday_evening, &cal());
    assert_eq!(
        effects,
        vec![Effect::ScheduleDigest {
            at: ist("2026-11-03 09:00")
        }],
        "nothing late yet"
    );
    let tue = ist("2026-11-03 09:00");
    let effects = r.overdue_digest(tue, &cal());
    assert_eq!(
        effects[0],
        Effect::Announce(Notice::Overdue {
            late: vec![("deploy".into(), 1)],
            waiting: Vec::new(),
        })
    );
    assert_eq!(
        effects[1],
        Effect::ScheduleDigest {
            at: ist("2026-11-04 09:00")
        }
    );
    // Friday's digest: deploy 4 working days late; testing (planned Tue)
    // is late too but waits on deploy; the next digest is Monday's
    let fri = ist("2026-11-06 09:00");
    let effects = r.overdue_digest(fri, &cal());
    assert_eq!(
        effects,
        vec![
            Effect::Announce(Notice::Overdue {
                late: vec![("deploy".into(), 4)],
                waiting: vec!["testing".into(), "qa".into(), "product".into()],
            }),
            Effect::ScheduleDigest {
                at: ist("2026-11-09 09:00")
            }
        ]
    );
    for id in ["deploy", "testing", "announce"] {
        r.skip_task(id, &rm(), fri, "n/a").unwrap();
    }
    r.sign("qa", &qa(), fri, None).unwrap();
    r.sign("product", &pm(), fri, None).unwrap();
    assert!(
        r.overdue_digest(fri, &cal()).is_empty(),
        "nothing left: no digest and no next one"
    );
}

#[test]
fn t_plus_n_counts_working_days_and_no_task_lands_on_a_weekend() {
    // T0 on Thursday 2026-11-05: T+1 is Friday, T+2 Monday, T+4 Wednesday
    let t0 = ist("2026-11-05 00:00");
    let r = Release::start(
        "x",
        &runbook(),
        t0,
        "console:#rel".parse().unwrap(),
        &rm(),
        t0,
        &cal(),
    )
    .unwrap()
    .0;
    let starts: Vec<String> = r
        .tasks
        .iter()
        .map(|t| r.planned_start(&t.spec).format("%a %d").to_string())
        .collect();
    // (09:00 IST is 03:30 UTC the same day)
    assert_eq!(starts, ["Thu 05", "Fri 06", "Mon 09", "Tue 10", "Wed 11"]);
    // a two-working-day task from Friday ends on Monday's close
    let mut spec = r.tasks[1].spec.clone();
    spec.duration = TimeDelta::days(2);
    let p = Planned::of(&spec, ist("2026-11-05 00:00"), &cal());
    assert_eq!(p.start, ist("2026-11-06 09:00"));
    assert_eq!(p.end, ist("2026-11-09 18:00"));
    // in calendar days: T+2 is Saturday, moved to Monday; 2 days end Tuesday
    spec.calendar_days = true;
    spec.offset_days = 2;
    let p = Planned::of(&spec, ist("2026-11-05 00:00"), &cal());
    assert_eq!(p.start, ist("2026-11-09 09:00"));
    assert_eq!(p.end, ist("2026-11-10 18:00"));
}

#[test]
fn the_retro_reports_slip_in_days_against_the_plan() {
    let tz = chrono_tz::Asia::Kolkata;
    let mut r = started();
    r.complete_task("deploy", &ops(), at(0), None).unwrap(); // on time
    r.complete_task("testing", &qa(), at(4), Some("flaky env".into()))
        .unwrap(); // planned T+1, done T+4
    let rows = r.retro(tz, &cal());
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

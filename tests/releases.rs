//! Releases and sign-offs through the dispatcher with an injected clock: the
//! demo-upgrade runbook walked end to end, gates enforced, daily overdue
//! reminders, the retro, and freeze windows opened by a release task.

mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_with_clock};
use shipmate::domain::timing::ManualClock;
use shipmate::scheduler;

/// 2026-11-02 00:00 IST, a Monday.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 18, 30, 0).unwrap()
}

/// Day `n` after T0 at 10:00 IST.
fn day(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::days(n) + TimeDelta::hours(10)
}

/// How many queued messages read (as plain text) with `needle` in them.
async fn outbox_count(t: &TestApp, needle: &str) -> i64 {
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM outbox")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<shipmate::app::Message>(b)
                .unwrap()
                .plain(t.app.config.tz)
        })
        .filter(|text| text.contains(needle))
        .count() as i64
}

/// `YYYY-MM-DD HH:MM` in IST.
fn ist(s: &str) -> DateTime<Utc> {
    shipmate::domain::timing::parse_time(s, chrono_tz::Asia::Kolkata).unwrap()
}

/// Moves the clock to `at` (IST) and fires what is due.
async fn at(t: &TestApp, clock: &ManualClock, when: &str) {
    clock.set(ist(when));
    scheduler::run_due(&t.app).await.unwrap();
}

#[tokio::test]
async fn the_demo_upgrade_is_walked_as_the_procedure_on_working_days_to_a_truthful_retro() {
    // Arrange: Tuesday 2026-11-10 is a holiday
    let clock = Arc::new(ManualClock::new(ist("2026-11-02 10:00")));
    let t = spawn_app_with_clock(
        &[("SHIPMATE__CALENDAR__HOLIDAYS", "2026-11-10")],
        clock.clone(),
    )
    .await;

    // Act + Assert: the plan is the procedure's table, T+N in working days
    let plan = t
        .ok(
            "rm",
            "/release start 2026-Q4 template:demo-upgrade t0:2026-11-02",
        )
        .await;
    let rows: Vec<String> = plan
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|l| l.split(" pending ").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        rows,
        [
            "T+0 Mon 2026-11-02 → Fri 2026-11-06 decide-downtime task release-manager+partnership",
            "T+1 Tue 2026-11-03 backup task release-manager",
            "T+1 Tue 2026-11-03 notify-partners notice partnership",
            "T+1 Tue 2026-11-03 website-downtime task documentation",
            "T+3 Thu 2026-11-05 → Fri 2026-11-06 deploy task release-manager",
            "T+4 Fri 2026-11-06 localisation task qa",
            "T+6 Wed 2026-11-11 → Thu 2026-11-12 testing task release-manager+qa",
            "T+8 Fri 2026-11-13 → Mon 2026-11-16 qa gate qa",
            "T+12 Thu 2026-11-19 → Tue 2026-11-24 product gate product",
            "T+13 Fri 2026-11-20 announce-completion notice release-manager",
            "T+13 Fri 2026-11-20 validate-access task release-manager",
            "T+13 Fri 2026-11-20 notify-partners-done notice partnership",
            "T+13 Fri 2026-11-20 website-restore task documentation",
        ],
        "{plan}"
    );
    assert_eq!(
        outbox_count(&t, "`decide-downtime` is ready").await,
        1,
        "its owners are pinged at the start"
    );
    assert_eq!(
        outbox_count(&t, "— @release-manager and @partnership").await,
        1,
        "both owner teams are mentioned"
    );

    // the date is agreed on Wednesday: the three T+1 tasks can start now
    at(&t, &clock, "2026-11-04 11:00").await;
    t.ok(
        "partners",
        "/task done decide-downtime note:\"agreed with City B\"",
    )
    .await;
    for task in ["backup", "notify-partners", "website-downtime"] {
        assert_eq!(
            outbox_count(&t, &format!("`{task}` is ready")).await,
            1,
            "{task}"
        );
    }
    assert_eq!(
        outbox_count(&t, "`deploy` is ready").await,
        0,
        "deploy waits for the backup"
    );

    // the partner notice is the downtime window itself
    let early = t.refused("partners", "/task done notify-partners").await;
    assert!(
        early.contains("announce it first with /downtime announce"),
        "{early}"
    );
    t.ok(
        "rm",
        "/downtime announce env:demo start:\"2026-11-05 20:00\" duration:4h reason:\"demo environment upgrade\"",
    )
    .await;
    t.ok("partners", "/task done notify-partners").await;
    assert_eq!(outbox_count(&t, "`notify-partners` done").await, 1);
    assert_eq!(
        outbox_count(
            &t,
            "DT-1 demo from 2026-11-05 20:00 IST to 2026-11-06 00:00 IST"
        )
        .await,
        1,
        "the window is in the done notice"
    );
    t.ok("docs", "/task done website-downtime").await;
    t.ok("rm", "/task done backup").await;
    assert_eq!(
        outbox_count(&t, "`deploy` is ready").await,
        0,
        "deploy is planned for Thursday: no ping on Wednesday"
    );
    at(&t, &clock, "2026-11-05 08:59").await;
    assert_eq!(outbox_count(&t, "`deploy` is ready").await, 0);
    at(&t, &clock, "2026-11-05 09:00").await;
    assert_eq!(
        outbox_count(&t, "`deploy` is ready").await,
        1,
        "pinged at the opening of its day"
    );

    at(&t, &clock, "2026-11-06 16:00").await;
    t.ok("rm", "/task done deploy").await;
    assert_eq!(outbox_count(&t, "`localisation` is ready").await, 1);
    assert_eq!(
        outbox_count(&t, "`testing` is ready").await,
        0,
        "testing is planned for T+6"
    );
    t.ok("qa", "/task done localisation").await;
    // Monday is T+5 and Tuesday a holiday: testing's day is Wednesday
    at(&t, &clock, "2026-11-10 09:00").await;
    assert_eq!(outbox_count(&t, "`testing` is ready").await, 0);
    at(&t, &clock, "2026-11-11 09:00").await;
    assert_eq!(outbox_count(&t, "`testing` is ready").await, 1);

    let early = t.refused("qa", "/signoff qa").await;
    assert!(
        early.contains("cannot sign `qa` yet: waiting for testing (pending)"),
        "{early}"
    );
    at(&t, &clock, "2026-11-16 12:00").await;
    t.ok("qa", "/task done testing note:\"City B maps slow\"")
        .await;
    for (user, text, why) in [
        (
            "pm",
            "/signoff qa",
            "only `qa` members can sign the `qa` gate; you do not hold it (an admin can grant it: /role grant qa console:pm)",
        ),
        ("rm", "/signoff qa", "only `qa` members"),
        ("pm", "/signoff product", "waiting for qa (pending)"),
    ] {
        let reply = t.refused(user, text).await;
        assert!(reply.contains(why), "{text}: {reply}");
    }
    at(&t, &clock, "2026-11-17 10:00").await;
    t.ok("qa", "/signoff qa note:\"all green on both tenants\"")
        .await;
    assert_eq!(
        outbox_count(&t, "over to the product team").await,
        1,
        "the gate publishes what the procedure says"
    );
    at(&t, &clock, "2026-11-18 10:00").await;
    assert_eq!(
        outbox_count(&t, "`product` is ready").await,
        0,
        "product sign-off is planned for T+12, Thursday"
    );
    at(&t, &clock, "2026-11-19 09:00").await;
    assert_eq!(outbox_count(&t, "`product` is ready").await, 1);
    at(&t, &clock, "2026-11-23 10:00").await;
    t.ok("pm", "/signoff product").await;

    t.ok("rm", "/task done announce-completion").await;
    t.ok("rm", "/task done validate-access").await;
    let early = t
        .refused("partners", "/task done notify-partners-done")
        .await;
    assert!(early.contains("/downtime complete DT-1"), "{early}");
    t.ok("rm", "/downtime complete DT-1").await;
    t.ok("partners", "/task done notify-partners-done").await;
    t.ok("docs", "/task done website-restore").await;
    t.ok("rm", "/release close").await;

    // the retro writes itself, slips in working days
    let retro = t.ok("rm", "/release retro release:REL-1").await;
    let row = |task: &str| {
        retro
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{task} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert!(
        row("testing").contains("2026-11-12 2026-11-16 +2d"),
        "planned Thu, done Mon: Fri and Mon late\n{retro}"
    );
    assert!(row("qa").contains("2026-11-16 2026-11-17 +1d"), "{retro}");
    assert!(
        row("product").contains("2026-11-24 2026-11-23 -1d"),
        "early by a working day\n{retro}"
    );
    assert!(
        row("deploy").contains("2026-11-06 2026-11-06 on time"),
        "{retro}"
    );
    assert!(retro.contains("testing +2d — City B maps slow"), "{retro}");

    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE record = 'REL-1'")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        audit, 15,
        "start, 13 task and sign-off transitions, close: each audited"
    );
}

/// Every pending reminder of the releases is due at 09:00 IST on a working day.
async fn reminders_fall_on_working_mornings(t: &TestApp) {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT due_at FROM jobs WHERE kind IN ('release.ready', 'release.overdue')",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    assert!(!due.is_empty());
    for ms in due {
        let local = DateTime::from_timestamp_millis(ms)
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Kolkata);
        assert_eq!(local.format("%H:%M").to_string(), "09:00", "{local}");
        assert!(
            !matches!(local.format("%a").to_string().as_str(), "Sat" | "Sun"),
            "{local}"
        );
    }
}

#[tokio::test]
async fn a_release_started_late_sends_one_summary_then_one_digest_per_working_morning() {
    // Arrange: on Wednesday 2026-11-04, a run whose T0 was the Monday before
    let clock = Arc::new(ManualClock::new(ist("2026-11-04 10:00")));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    let digests = || outbox_count(&t, "⏰");

    // Act
    t.ok(
        "rm",
        "/release start Q4 template:demo-upgrade t0:2026-10-26",
    )
    .await;

    // Assert: one summary, not a message per late task
    assert_eq!(digests().await, 1);
    assert_eq!(
        outbox_count(&t, "`decide-downtime` (Decide the downtime date with the external and internal stakeholders), 3 working days late").await,
        1,
        "planned by Fri 10-30; Mon, Tue and Wed late"
    );
    assert_eq!(
        outbox_count(
            &t,
            "waiting on the above: backup, notify-partners, website-downtime, deploy, localisation"
        )
        .await,
        1
    );
    assert_eq!(
        outbox_count(&t, "is ready").await,
        0,
        "the summary names the late task: no separate ping"
    );
    reminders_fall_on_working_mornings(&t).await;

    at(&t, &clock, "2026-11-04 23:59").await;
    assert_eq!(digests().await, 1, "never at night");
    at(&t, &clock, "2026-11-05 09:00").await;
    assert_eq!(digests().await, 2, "Thursday morning");
    at(&t, &clock, "2026-11-05 15:00").await;
    assert_eq!(digests().await, 2, "once per working day");
    at(&t, &clock, "2026-11-07 10:00").await;
    at(&t, &clock, "2026-11-08 10:00").await;
    assert_eq!(digests().await, 3, "Friday's, and none on the weekend");

    // the date is agreed: now the unblocked late tasks are named
    at(&t, &clock, "2026-11-09 08:00").await;
    t.ok("rm", "/task done decide-downtime").await;
    assert_eq!(
        outbox_count(&t, "is ready").await,
        0,
        "pings wait for working hours"
    );
    reminders_fall_on_working_mornings(&t).await;
    at(&t, &clock, "2026-11-09 09:00").await;
    assert_eq!(digests().await, 4);
    assert_eq!(
        outbox_count(
            &t,
            "`backup` (Take the backup of the database and images), 9 working days late"
        )
        .await,
        1
    );
    assert_eq!(
        outbox_count(&t, "REL-1 `Q4`: 3 tasks are overdue").await,
        1,
        "backup and the two notices; deploy and localisation wait on the backup"
    );
    assert_eq!(
        outbox_count(&t, "is ready").await,
        0,
        "the morning's digest names them: no separate pings"
    );
}

#[tokio::test]
async fn a_revoked_sign_off_reopens_what_depends_on_it_and_refusals_change_nothing() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    t.ok("rm", "/release start R1 template:rollout").await;
    for task in ["check-versioned-paths", "check-no-overwrite", "freeze-data"] {
        t.ok("ops", &format!("/task done {task}")).await;
    }
    t.ok("pm", "/task done analyse-changes").await;
    t.ok("pm", "/signoff approve-changes").await;
    t.ok("ops", "/task done backend-deploy").await;
    let before = t.snapshot().await;
    for (user, text, why) in [
        (
            "ops",
            "/signoff revoke approve-changes reason:x",
            "only `product` members or a release-manager",
        ),
        ("pm", "/signoff revoke approve-changes", "missing `reason`"),
        ("ops", "/signoff go-live", "only `product` members"),
        (
            "qa",
            "/task skip new-bucket reason:later",
            "release-manager",
        ),
        (
            "rm",
            "/release start R2 template:rollout",
            "still open in this channel",
        ),
        (
            "rm",
            "/release start R2 template:nope",
            "unknown template `nope`",
        ),
        ("rm", "/release close", "unfinished tasks"),
        (
            "qa",
            "/signoff approve-changes release:REL-9",
            "REL-9 does not exist",
        ),
    ] {
        let reply = t.refused(user, text).await;
        assert!(reply.contains(why), "{text}: {reply}");
    }
    assert_eq!(
        t.snapshot().await,
        before,
        "refused commands changed the database"
    );

    let revoked = t
        .ok(
            "pm",
            "/signoff revoke approve-changes reason:\"row counts off by 5%\"",
        )
        .await;
    assert!(
        revoked.contains("gate `approve-changes` revoked"),
        "{revoked}"
    );
    assert_eq!(outbox_count(&t, "Reopened: backend-deploy.").await, 1);
    let status = t.ok("pm", "/signoff status").await;
    assert!(
        status.contains("⏳ approve-changes (product) ready to sign"),
        "{status}"
    );
    let tasks = t.ok("ops", "/task list").await;
    assert!(
        tasks.contains("backend-deploy         task    devops           pending"),
        "{tasks}"
    );
    // the retro tells the truth: the revocation, who had signed, and why
    let retro = t.ok("pm", "/release retro").await;
    assert!(
        retro.contains("Revoked sign-offs:")
            && retro.contains("approve-changes (signed by @pm at")
            && retro.contains("revoked by @pm at")
            && retro.contains(": row counts off by 5%"),
        "{retro}"
    );
}

#[tokio::test]
async fn a_release_task_opens_the_code_freeze_which_reminds_before_it_ends() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(
        &[("SHIPMATE__FREEZE__CHANNELS", "console:#eng")],
        clock.clone(),
    )
    .await;
    t.ok("rm", "/release start P1 template:portal-release")
        .await;
    set_up_portal_release(&t).await;
    let none = shipmate::app::freeze::active_for(
        &mut t.app.db.pool.acquire().await.unwrap(),
        "portal",
        day(0),
    )
    .await
    .unwrap();
    assert!(none.is_none());

    t.ok("ops", "/task done merge-main").await;
    let status = t.ok("ops", "/freeze status").await;
    assert!(
        status.contains("code freeze · `portal` · in force until"),
        "{status}"
    );
    assert_eq!(
        outbox_count(&t, "❄️ Code freeze on `portal` until").await,
        1
    );
    let frozen = shipmate::app::freeze::active_for(
        &mut t.app.db.pool.acquire().await.unwrap(),
        "portal",
        day(10),
    )
    .await
    .unwrap();
    assert_eq!(frozen.map(|w| w.opened_by), Some("REL-1".to_string()));
    let kept = t
        .ok("rm", "/freeze start portal until:7d reason:again")
        .await;
    assert!(
        kept.contains("is in force already until") && kept.contains("kept"),
        "{kept}"
    );

    clock.set(day(0) + TimeDelta::days(27));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        outbox_count(&t, "⏳ Code freeze on `portal` ends").await,
        1,
        "reminded 3 days ahead"
    );
    clock.set(day(0) + TimeDelta::days(30));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        outbox_count(&t, "🔓 Code freeze on `portal` has ended.").await,
        1
    );
    let after = shipmate::app::freeze::active_for(
        &mut t.app.db.pool.acquire().await.unwrap(),
        "portal",
        day(31),
    )
    .await
    .unwrap();
    assert!(after.is_none());
}

#[tokio::test]
async fn freeze_windows_are_opened_and_ended_by_hand() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    assert!(
        t.refused("ops", "/freeze start api until:2d reason:x")
            .await
            .contains("release-manager")
    );
    assert!(
        t.refused("rm", "/freeze start api until:someday reason:x")
            .await
            .contains("neither a date/time")
    );
    t.ok(
        "rm",
        "/freeze start api until:2026-11-20 reason:\"audit\" kind:backport",
    )
    .await;
    let ended = t.ok("rm", "/freeze end api kind:backport").await;
    assert!(ended.contains("Backport window on `api` ended."), "{ended}");
    assert!(
        t.refused("rm", "/freeze end api kind:backport")
            .await
            .contains("no active backport window")
    );
    clock.set(day(30));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        outbox_count(&t, "has ended").await,
        0,
        "a window ended early sends no end notice"
    );
}

fn property(event: &ical::parser::ical::component::IcalEvent, name: &str) -> String {
    event
        .properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn freeze_windows_appear_in_the_internal_calendar_and_ending_early_bumps_the_sequence() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(
        &[("SHIPMATE__FREEZE__CALENDAR_TOKEN", "team-feed-key")],
        clock.clone(),
    )
    .await;
    t.ok(
        "rm",
        "/freeze start portal until:30d reason:\"post-release freeze\"",
    )
    .await;
    let read = || async {
        let body = reqwest::get(t.url("/internal/calendar.ics?token=team-feed-key"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut parser = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
        parser
            .next()
            .expect("a calendar")
            .expect("valid iCalendar")
            .events
    };
    let events = read().await;
    let freeze = events
        .iter()
        .find(|e| property(e, "SUMMARY") == "Code freeze: portal")
        .expect("the freeze is in the calendar");
    let uid = property(freeze, "UID");
    // partners' public calendar holds downtimes only; the internal one needs its key
    let public = reqwest::get(t.url("/calendar.ics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!public.contains("Code freeze"), "{public}");
    for url in [
        "/internal/calendar.ics",
        "/internal/calendar.ics?token=wrong",
    ] {
        let response = reqwest::get(t.url(url)).await.unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::UNAUTHORIZED,
            "{url}"
        );
    }
    assert_eq!(property(freeze, "SEQUENCE"), "0");
    assert!(property(freeze, "DESCRIPTION").contains("post-release freeze"));

    clock.set(day(2));
    t.ok("rm", "/freeze end portal").await;
    let events = read().await;
    let ended = events
        .iter()
        .find(|e| property(e, "UID") == uid)
        .expect("same UID after ending early");
    assert_eq!(property(ended, "SEQUENCE"), "1");
    assert_eq!(
        property(ended, "DTEND"),
        "20261104T043000Z",
        "ends when it was ended (day 2, 10:00 IST)"
    );
}

#[tokio::test]
async fn a_teams_own_roles_own_tasks_sign_gates_approve_and_manage() {
    // Arrange: roles the procedures name (partnership, documentation) and a
    // team's own (stewards, launch-lead), named in the config and a template
    let runbooks = tempfile::tempdir().unwrap();
    std::fs::write(
        runbooks.path().join("launch.toml"),
        r#"title = "Partner launch"
manager = "launch-lead"

[[tasks]]
id = "notice"
title = "Tell partners"
owner = "partnership"
offset = 0

[[tasks]]
id = "docs"
title = "Docs reviewed"
owner = "documentation"
kind = "gate"
offset = 1
depends_on = ["notice"]
"#,
    )
    .unwrap();
    let toml = format!(
        r#"[roles]
launch-lead = ["console:lee"]
stewards = ["console:ann"]
[deletion]
approver_role = "stewards"
[releases]
runbooks_dir = "{}"
"#,
        runbooks.path().display()
    );
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = common::spawn_app_with(&[], Some(&toml), clock.clone(), None).await;

    // Act + Assert: the template's manager starts it; a release-manager may not
    let refused = t
        .refused("rm", "/release start launch template:launch")
        .await;
    assert!(refused.contains("only `launch-lead` members"), "{refused}");
    t.ok("lee", "/release start launch template:launch").await;
    // the owners' own roles work their tasks and sign their gates
    let not_docs = t.refused("docs", "/signoff docs").await;
    assert!(not_docs.contains("waiting for notice"), "{not_docs}");
    t.ok("partners", "/task done notice").await;
    let wrong = t.refused("qa", "/signoff docs").await;
    assert!(wrong.contains("only `documentation` members"), "{wrong}");
    t.ok("docs", "/signoff DOCS").await;
    // a deletion request is approved by the configured approver role
    t.ok("alice", "/delete-request city-b/x reason:other not needed")
        .await;
    let steward = t.refused("steward", "/delete-request approve DR-1").await;
    assert!(steward.contains("only `stewards` members"), "{steward}");
    let approved = t.ok("ann", "/delete-request approve DR-1").await;
    assert!(approved.contains("cooling-off"), "{approved}");
    // and /role knows the new roles, and refuses one that does not exist
    t.ok("admin", "/role grant partnership console:pat").await;
    let unknown = t.refused("admin", "/role grant wizard console:pat").await;
    assert!(unknown.contains("unknown role `wizard`"), "{unknown}");
}

/// Starts REL-1 from portal-release and works it up to merge-main, which
/// opens the 30-day code freeze on `portal`.
async fn merged_portal_release(t: &TestApp) {
    t.ok("rm", "/release start P1 template:portal-release")
        .await;
    set_up_portal_release(t).await;
    t.ok("ops", "/task done merge-main").await;
}

/// Works the open portal release up to its validation sign-off.
async fn set_up_portal_release(t: &TestApp) {
    for task in [
        "release-sprint",
        "release-milestone",
        "release-directory",
        "link-cards",
        "chore-cards",
        "consolidate",
    ] {
        t.ok("rm", &format!("/task done {task}")).await;
    }
    t.ok("ops", "/task done rc-staging").await;
    t.ok("pm", "/task done uat").await;
    t.ok("pm", "/signoff validation").await;
}

#[tokio::test]
async fn a_release_that_cannot_finish_is_cancelled_its_reminders_stop_and_another_can_start() {
    // Arrange: a portal release whose merge-main task opened the code freeze
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    merged_portal_release(&t).await;
    let refused = t
        .refused("ops", "/release cancel reason:\"not mine\"")
        .await;
    assert!(refused.contains("release-manager"), "{refused}");
    let no_reason = t.refused("rm", "/release cancel").await;
    assert!(no_reason.contains("reason"), "{no_reason}");

    // Act
    let cancelled = t
        .ok("rm", "/release cancel reason:\"superseded by P2\"")
        .await;

    // Assert: the freeze it opened is named, reminders stop, a new run may start
    assert!(cancelled.contains("REL-1 `P1` is cancelled"), "{cancelled}");
    assert!(
        cancelled.contains("Still open from it: freeze window on `portal`")
            && cancelled.contains("/freeze end portal"),
        "{cancelled}"
    );
    assert_eq!(outbox_count(&t, "🛑").await, 1, "announced once");
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind IN ('release.overdue', 'release.ready') AND state = 'pending'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0, "no overdue reminder left");
    let again = t.refused("rm", "/task done deploy").await;
    assert!(again.contains("no release is open"), "{again}");
    t.ok("rm", "/release start P2 template:portal-release")
        .await;
    let status = t.ok("rm", "/release status release:REL-1").await;
    assert!(status.contains("(cancelled: superseded by P2)"), "{status}");
}

#[tokio::test]
async fn redoing_the_task_that_opens_a_freeze_keeps_one_window_and_a_later_end_extends_it() {
    // Arrange: merge-main opened the portal freeze
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    merged_portal_release(&t).await;

    // Act: the qa sign-off is revoked (reopening merge-main), signed again, merge-main redone
    clock.advance(TimeDelta::days(1));
    t.ok(
        "pm",
        "/signoff revoke validation reason:\"a late regression\"",
    )
    .await;
    t.ok("pm", "/signoff validation").await;
    t.ok("ops", "/task done merge-main").await;

    // Assert: one window, extended by the day that passed, announced as such
    let windows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM freeze_windows WHERE target = 'portal' AND kind = 'freeze'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(windows, 1);
    assert_eq!(
        outbox_count(&t, "❄️ Code freeze on `portal` until").await,
        1
    );
    assert_eq!(
        outbox_count(&t, "❄️ Code freeze on `portal` extended until").await,
        1
    );
    // the old end's timers are void: one "has ended" notice, at the new end
    clock.set(day(0) + TimeDelta::days(30));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(outbox_count(&t, "has ended").await, 0, "not at the old end");
    clock.set(day(0) + TimeDelta::days(31));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        outbox_count(&t, "🔓 Code freeze on `portal` has ended.").await,
        1
    );
}

#[tokio::test]
async fn the_task_that_closes_the_freeze_ends_it_when_done() {
    // Arrange: merge-main opened the 30-day portal freeze
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    merged_portal_release(&t).await;

    // Act: the freeze is closed early, on day 12
    clock.advance(TimeDelta::days(12));
    t.ok("rm", "/task done freeze-ends").await;

    // Assert: the freeze and the backport window inside it ended (announced as by REL-1)
    assert_eq!(
        outbox_count(&t, "🔓 Code freeze on `portal` ended early by REL-1.").await,
        1
    );
    assert_eq!(
        outbox_count(&t, "Backport window on `portal` ended early by REL-1.").await,
        1
    );
    let status = t.ok("rm", "/freeze status").await;
    assert!(!status.contains("`portal`"), "{status}");
    // its timers are void: no "has ended" notice at the old end
    clock.set(day(0) + TimeDelta::days(31));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        outbox_count(&t, "🔓 Code freeze on `portal` has ended.").await,
        0
    );
}

#[tokio::test]
async fn a_task_cannot_be_done_before_it_was_started() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    t.ok(
        "rm",
        "/release start Q4 template:demo-upgrade t0:2026-11-02",
    )
    .await;
    clock.advance(TimeDelta::hours(3));
    t.ok("rm", "/task start decide-downtime").await;
    clock.advance(TimeDelta::hours(2));

    let refused = t
        .refused("rm", "/task done decide-downtime at:\"2026-11-02 06:00\"")
        .await;

    assert!(
        refused.contains("is before `decide-downtime` was started") && refused.contains("IST"),
        "{refused}"
    );
    t.ok("rm", "/task done decide-downtime").await;
}

/// The console user of each role in the default configuration.
fn member_of(role: &str) -> &'static str {
    match role {
        "release-manager" => "rm",
        "partnership" => "partners",
        "documentation" => "docs",
        "devops" => "ops",
        "qa" => "qa",
        "product" => "pm",
        other => panic!("no console member for {other}"),
    }
}

/// Starts `template` at T0 Monday 2026-11-02 and returns its plan rows
/// (T+N, dates, task, kind, owners), whitespace collapsed.
async fn planned_rows(t: &TestApp, template: &str) -> Vec<String> {
    let plan = t
        .ok(
            "rm",
            &format!("/release start R template:{template} t0:2026-11-02"),
        )
        .await;
    plan.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|l| l.split(" pending ").next().unwrap_or_default().to_string())
        .collect()
}

/// Works every task of the open release on its planned day, by its first
/// owner, in plan order; then closes it and returns the retro.
async fn walk_on_plan(t: &TestApp, clock: &ManualClock, rows: &[String]) -> String {
    for row in rows {
        let cells: Vec<&str> = row.split(' ').collect();
        let date = if cells.get(3) == Some(&"→") {
            cells[5]
        } else {
            cells[2]
        };
        let at_index = if cells.get(3) == Some(&"→") { 6 } else { 3 };
        let (task, kind, owners) = (cells[at_index], cells[at_index + 1], cells[at_index + 2]);
        at(t, clock, &format!("{date} 16:00")).await;
        let user = member_of(owners.split('+').next().unwrap_or_default());
        let command = if kind == "gate" {
            format!("/signoff {task}")
        } else {
            format!("/task done {task}")
        };
        t.ok(user, &command).await;
    }
    t.ok("rm", "/release close").await;
    t.ok("rm", "/release retro release:REL-1").await
}

#[tokio::test]
async fn the_portal_release_is_walked_as_the_procedure_on_working_days() {
    let clock = Arc::new(ManualClock::new(ist("2026-11-02 10:00")));
    let t = spawn_app_with_clock(&[], clock.clone()).await;

    let rows = planned_rows(&t, "portal-release").await;

    assert_eq!(
        rows,
        [
            "T+0 Mon 2026-11-02 release-sprint task release-manager",
            "T+0 Mon 2026-11-02 release-milestone task release-manager",
            "T+0 Mon 2026-11-02 release-directory task release-manager",
            "T+0 Mon 2026-11-02 link-cards task release-manager",
            "T+0 Mon 2026-11-02 chore-cards task release-manager",
            "T+1 Tue 2026-11-03 → Wed 2026-11-04 consolidate task release-manager",
            "T+3 Thu 2026-11-05 rc-staging task devops",
            "T+4 Fri 2026-11-06 → Thu 2026-11-12 uat task product",
            "T+9 Fri 2026-11-13 validation gate product",
            "T+10 Mon 2026-11-16 merge-main task devops",
            "T+10 Mon 2026-11-16 tag task devops",
            "T+10 Mon 2026-11-16 github-releases notice devops",
            "T+11 Tue 2026-11-17 → Thu 2026-11-19 docs task documentation",
            "T+32 Wed 2026-12-16 freeze-ends task release-manager",
            "T+10 Mon 2026-11-16 → Fri 2027-01-08 stability-watch task release-manager",
            "T+50 Mon 2027-01-11 next-sprint notice release-manager",
        ]
    );
    let retro = walk_on_plan(&t, &clock, &rows).await;
    assert!(
        retro.contains("0 of 16 tasks slipped, 0 working days in all"),
        "{retro}"
    );
    // merge-main opened the freeze and the backport window inside it, a
    // month long; freeze-ends, a month later, found them over
    let windows: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, ends_at - starts_at FROM freeze_windows WHERE target = 'portal' ORDER BY kind")
            .fetch_all(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        windows,
        [
            ("backport".to_string(), 30 * 86_400_000),
            ("freeze".to_string(), 30 * 86_400_000)
        ]
    );
}

#[tokio::test]
async fn the_rollout_is_walked_as_the_plan_on_working_days() {
    let clock = Arc::new(ManualClock::new(ist("2026-11-02 10:00")));
    let t = spawn_app_with_clock(&[], clock.clone()).await;

    let rows = planned_rows(&t, "rollout").await;

    assert_eq!(
        rows,
        [
            "T+0 Mon 2026-11-02 check-versioned-paths task devops",
            "T+0 Mon 2026-11-02 check-no-overwrite task devops",
            "T+1 Tue 2026-11-03 freeze-data task devops",
            "T+1 Tue 2026-11-03 → Thu 2026-11-05 analyse-changes task product",
            "T+4 Fri 2026-11-06 approve-changes gate product",
            "T+5 Mon 2026-11-09 backend-deploy task devops",
            "T+0 Mon 2026-11-02 new-bucket task devops",
            "T+1 Tue 2026-11-03 new-cdn task devops",
            "T+6 Tue 2026-11-10 staging-frontend task devops",
            "T+7 Wed 2026-11-11 → Thu 2026-11-12 test-staging task qa",
            "T+9 Fri 2026-11-13 go-live gate product",
            "T+10 Mon 2026-11-16 switch-name task devops",
            "T+10 Mon 2026-11-16 announce notice release-manager",
        ]
    );
    let retro = walk_on_plan(&t, &clock, &rows).await;
    assert!(
        retro.contains("0 of 13 tasks slipped, 0 working days in all"),
        "{retro}"
    );
    assert_eq!(
        outbox_count(&t, "❄️ Code freeze on `data-pipeline` until").await,
        1,
        "freezing data/ froze the pipeline"
    );
}

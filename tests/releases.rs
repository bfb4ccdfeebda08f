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

#[tokio::test]
async fn the_demo_upgrade_is_walked_end_to_end_with_gates_enforced_and_a_retro_of_the_slips() {
    // Arrange
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    let started = t
        .ok(
            "rm",
            "/release start 2026-Q4 template:demo-upgrade t0:2026-11-02",
        )
        .await;
    assert!(
        started.contains("REL-1 `2026-Q4` (demo-upgrade) — T0 Mon 2026-11-02"),
        "{started}"
    );
    assert!(
        started.contains("T+8   Tue 2026-11-10                  qa"),
        "{started}"
    );
    assert_eq!(
        outbox_count(&t, "`agree-date` is ready").await,
        1,
        "first owner pinged"
    );

    // Act + Assert: work the plan, late here and there
    clock.set(day(3));
    t.ok("rm", "/task done agree-date note:\"agreed with City B\"")
        .await;
    assert!(
        outbox_count(&t, "`backup` is ready").await == 1,
        "next owners pinged"
    );
    t.ok("ops", "/task done backup").await;
    t.ok("rm", "/task done notify-partners").await;
    assert_eq!(
        outbox_count(&t, "📣 Scheduled maintenance").await,
        1,
        "the notice publishes its text"
    );
    clock.set(day(5));
    t.ok("ops", "/task start deploy").await;
    t.ok("ops", "/task done deploy").await;
    clock.set(day(6));
    t.ok("ops", "/task done localisation").await;

    let early = t.refused("qa", "/signoff qa").await;
    assert!(
        early.contains("cannot sign `qa` yet: waiting for testing (pending)"),
        "{early}"
    );
    clock.set(day(9));
    t.ok("qa", "/task done testing note:\"City B maps slow\"")
        .await;
    let wrong_role = t.refused("pm", "/signoff qa").await;
    assert!(
        wrong_role.contains("only `qa` members can sign the `qa` gate"),
        "{wrong_role}"
    );
    let by_rm = t.refused("rm", "/signoff qa").await;
    assert!(
        by_rm.contains("only `qa` members"),
        "a release-manager cannot sign for QA: {by_rm}"
    );
    let product_first = t.refused("pm", "/signoff product").await;
    assert!(
        product_first.contains("waiting for qa (pending)"),
        "{product_first}"
    );

    clock.set(day(10));
    t.ok("qa", "/signoff qa note:\"all green on both tenants\"")
        .await;
    clock.set(day(12));
    t.ok("pm", "/signoff product").await;
    clock.set(day(13));
    for task in ["announce-stakeholders", "announce-partners", "notice-down"] {
        t.ok("rm", &format!("/task done {task}")).await;
    }
    t.ok("rm", "/release close").await;

    // the retro writes itself
    let retro = t.ok("rm", "/release retro release:REL-1").await;
    assert!(
        retro.contains("6 of 11 tasks slipped, 12 day(s) in all"),
        "{retro}"
    );
    assert!(
        retro.contains("backup                 2026-11-03  2026-11-05  +2d"),
        "{retro}"
    );
    assert!(
        retro.contains("product                2026-11-14  2026-11-14  on time"),
        "{retro}"
    );
    assert!(retro.contains("testing +2d — City B maps slow"), "{retro}");
    assert!(
        retro.contains("qa by @qa at 2026-11-12 10:00 IST"),
        "{retro}"
    );
    let markdown = t
        .ok("rm", "/release retro release:REL-1 format:markdown")
        .await;
    assert!(markdown.contains("| testing | qa | 2026-11-08 | 2026-11-09 | 2026-11-11 | 2026-11-11 | +2 | City B maps slow |"), "{markdown}");
    assert!(
        markdown.contains("- product: console:pm at 2026-11-14 10:00 IST"),
        "{markdown}"
    );

    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE record = 'REL-1'")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        audit, 14,
        "start, 12 task and sign-off transitions, close: each audited"
    );
}

#[tokio::test]
async fn a_revoked_sign_off_reopens_what_depends_on_it_and_refusals_change_nothing() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    t.ok("rm", "/release start R1 template:rollout").await;
    t.ok("ops", "/task done freeze-pipeline").await;
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
        ("ops", "/signoff go-live", "only `qa` members"),
        (
            "qa",
            "/task skip check-links reason:later",
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
async fn overdue_tasks_are_reminded_once_a_day_until_done() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    t.ok(
        "rm",
        "/release start Q4 template:demo-upgrade t0:2026-11-02",
    )
    .await;
    let reminders = || outbox_count(&t, "`backup` (Back up the database and images) is overdue");

    // backup is planned for T+1 (Tue); it is due at Wed 00:00
    clock.set(t0() + TimeDelta::days(2) - TimeDelta::minutes(1));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(reminders().await, 0, "not overdue before its planned end");
    clock.set(t0() + TimeDelta::days(2));
    scheduler::run_due(&t.app).await.unwrap();
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(
        reminders().await,
        1,
        "one reminder on the first overdue day"
    );
    clock.advance(TimeDelta::hours(12));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(reminders().await, 1, "not twice the same day");
    clock.advance(TimeDelta::hours(12));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(reminders().await, 2, "again the next day");

    t.ok("rm", "/task done agree-date").await;
    t.ok("ops", "/task done backup").await;
    clock.advance(TimeDelta::days(3));
    scheduler::run_due(&t.app).await.unwrap();
    assert_eq!(reminders().await, 2, "no more reminders once done");
    assert!(
        outbox_count(&t, "`notify-partners` (Tell partners").await >= 2,
        "other late tasks keep being reminded"
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
    t.ok("ops", "/task done rc-staging").await;
    t.ok("pm", "/task done uat").await;
    t.ok("pm", "/signoff validation").await;
    t.ok("qa", "/signoff qa").await;
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
async fn freeze_windows_appear_in_the_calendar_and_ending_early_bumps_the_sequence() {
    let clock = Arc::new(ManualClock::new(day(0)));
    let t = spawn_app_with_clock(&[], clock.clone()).await;
    t.ok(
        "rm",
        "/freeze start portal until:30d reason:\"post-release freeze\"",
    )
    .await;
    let read = || async {
        let body = reqwest::get(t.url("/calendar.ics"))
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
    t.ok("ops", "/task done rc-staging").await;
    t.ok("pm", "/task done uat").await;
    t.ok("pm", "/signoff validation").await;
    t.ok("qa", "/signoff qa").await;
    t.ok("ops", "/task done merge-main").await;
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
        "SELECT COUNT(*) FROM jobs WHERE kind = 'release.overdue' AND state = 'pending'",
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
    t.ok("qa", "/signoff revoke qa reason:\"a late regression\"")
        .await;
    t.ok("qa", "/signoff qa").await;
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

    // Assert: the freeze ended (announced as by REL-1), the backport window opened
    assert_eq!(
        outbox_count(&t, "🔓 Code freeze on `portal` ended early by REL-1.").await,
        1
    );
    let status = t.ok("rm", "/freeze status").await;
    assert!(!status.contains("code freeze · `portal`"), "{status}");
    assert!(status.contains("backport window · `portal`"), "{status}");
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
    t.ok("rm", "/task start agree-date").await;
    clock.advance(TimeDelta::hours(2));

    let refused = t
        .refused("rm", "/task done agree-date at:\"2026-11-02 06:00\"")
        .await;

    assert!(
        refused.contains("is before `agree-date` was started") && refused.contains("IST"),
        "{refused}"
    );
    t.ok("rm", "/task done agree-date").await;
}

//! The version policy end to end (`/version`): releases 1.x, 2.x and 3.x
//! leave 3.x (n) and 2.x (n-1) supported and 1.x not; release notes reach
//! the partner channel; an EOSL sends its notices at the configured offsets
//! and ends support on the day. The whole app on a manual clock.

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_at};

const PARTNERS: (&str, &str) = ("SHIPMATE__VERSIONS__CHANNELS", "console:#partners");

/// Tuesday 2026-12-01, 10:00 IST.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 4, 30, 0).unwrap()
}

/// EOSL notices posted to the partner channel so far.
async fn notices(t: &TestApp) -> Vec<String> {
    t.posted("#partners")
        .await
        .into_iter()
        .filter(|m| m.contains("end of service life"))
        .collect()
}

async fn three_majors(t: &TestApp) {
    t.ok("rm", "/version release portal 1.4.2").await;
    t.ok(
        "rm",
        "/version release portal 2.5.56 notes:https://example.com/portal/2.5.56",
    )
    .await;
    let third = t
        .ok(
            "rm",
            "/version release portal 3.2.15 notes:https://example.com/portal/3.2.15",
        )
        .await;
    assert!(third.contains("Release notes posted"), "{third}");
    assert!(third.contains("1.x is no longer supported"), "{third}");
}

#[tokio::test]
async fn n_and_n_minus_one_are_supported_and_older_majors_upgrade() {
    // Arrange: releases of three majors
    let t = spawn_app_at(&[PARTNERS], start()).await;
    three_majors(&t).await;

    // Act
    let n = t.ok("qa", "/version check portal 3.0.1").await;
    let previous = t.ok("qa", "/version check portal 2.5.0").await;
    let old = t.ok("qa", "/version check portal 1.4.2").await;

    // Assert: 3.x and 2.x supported, 1.x told to upgrade; notes went out twice
    assert!(n.contains("3.x is n") && n.contains("supported"), "{n}");
    assert!(
        previous.contains("2.x is n-1 of 3.x: supported"),
        "{previous}"
    );
    assert!(
        old.contains("1.x is not supported: upgrade to 3.2.15"),
        "{old}"
    );
    let posted = t.posted("#partners").await;
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(
        posted[1].contains("3.2.15") && posted[1].contains("https://example.com/portal/3.2.15")
    );
    let list = t.ok("qa", "/version list portal").await;
    for line in [
        "3.2.15 · 3.x is n",
        "2.5.56 · 2.x is n-1",
        "1.4.2 · 1.x is not supported",
    ] {
        assert!(list.contains(line), "{line} missing from {list}");
    }
}

#[tokio::test]
async fn bad_or_unauthorised_version_commands_change_nothing() {
    let t = spawn_app_at(&[PARTNERS], start()).await;
    three_majors(&t).await;

    let not_rm = t.refused("qa", "/version release portal 3.2.16").await;
    assert!(not_rm.contains("release-manager"), "{not_rm}");
    let bad = t.refused("rm", "/version release portal 3.2").await;
    assert!(bad.contains("MAJOR.MINOR.PATCH"), "{bad}");
    let twice = t.refused("rm", "/version release portal 3.2.15").await;
    assert!(twice.contains("recorded already"), "{twice}");
    let notes = t
        .refused("rm", "/version release portal 3.2.16 notes:readme.txt")
        .await;
    assert!(notes.contains("http(s) URL"), "{notes}");
    let past = t
        .refused("rm", "/version eosl portal 2 date:2026-11-30")
        .await;
    assert!(past.contains("not after today"), "{past}");
    let missing = t
        .refused("rm", "/version eosl portal 7 date:2027-06-30")
        .await;
    assert!(missing.contains("no 7.x release"), "{missing}");
    let unknown = t.refused("qa", "/version check billing 1.0.0").await;
    assert!(unknown.contains("no release recorded"), "{unknown}");

    let list = t.ok("qa", "/version list").await;
    assert!(!list.contains("3.2.16"), "{list}");
    assert_eq!(t.posted("#partners").await.len(), 2, "no notes posted");
}

#[tokio::test]
async fn eosl_notices_fire_at_their_offsets_and_support_ends_on_the_day() {
    // Arrange: EOSL of 2.x on 2027-06-30 (midnight IST = 2027-06-29 18:30 UTC)
    let t = spawn_app_at(&[PARTNERS], start()).await;
    three_majors(&t).await;
    let scheduled = t.ok("rm", "/version eosl portal 2 date:2027-06-30").await;
    assert!(
        scheduled.contains("180d before, 90d before, 30d before, 1w before, on the day"),
        "{scheduled}"
    );
    let ends = Utc.with_ymd_and_hms(2027, 6, 29, 18, 30, 0).unwrap();
    let mut now = start();

    // Act / Assert: each offset fires once, at its time
    for (i, before) in [180, 90, 30, 7].into_iter().enumerate() {
        let due = ends - TimeDelta::days(before);
        t.advance(due - TimeDelta::minutes(1) - now).await;
        assert_eq!(notices(&t).await.len(), i, "nothing before {before}d");
        t.advance(TimeDelta::minutes(1)).await;
        now = due;
        let sent = notices(&t).await;
        assert_eq!(sent.len(), i + 1, "the {before}d notice: {sent:?}");
        assert!(
            sent[i].contains("2.x reaches its end of service life on 2027-06-30")
                && sent[i].contains("upgrade to 3.2.15"),
            "{}",
            sent[i]
        );
    }
    let still = t.ok("qa", "/version check portal 2.5.56").await;
    assert!(
        still.contains("supported until EOSL on 2027-06-30"),
        "{still}"
    );

    // the day: a last notice, and 2.x is no longer supported
    t.advance(ends - now).await;
    let sent = notices(&t).await;
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert!(sent[4].contains("no longer supported"), "{}", sent[4]);
    let ended = t.ok("qa", "/version check portal 2.5.56").await;
    assert!(
        ended.contains("not supported since its EOSL on 2027-06-30: upgrade to 3.2.15"),
        "{ended}"
    );
    assert!(
        t.ok("qa", "/version check portal 3.2.15")
            .await
            .contains("supported"),
        "3.x is unaffected"
    );
}

#[tokio::test]
async fn a_moved_eosl_voids_the_old_notices() {
    // Arrange: EOSL of 2.x on 2027-06-30, then moved to 2027-12-31
    let t = spawn_app_at(&[PARTNERS], start()).await;
    three_majors(&t).await;
    t.ok("rm", "/version eosl portal 2 date:2027-06-30").await;
    let moved = t.ok("rm", "/version eosl portal 2 date:2027-12-31").await;
    assert!(moved.contains("support ends on 2027-12-31"), "{moved}");

    // Act: past the old date's 180d notice (2027-01-01 IST), not the new one's
    t.advance(TimeDelta::days(40)).await;

    // Assert: only the new date's notices remain; 2.x is supported until then
    assert!(notices(&t).await.is_empty(), "{:?}", notices(&t).await);
    let still = t.ok("qa", "/version check portal 2.5.56").await;
    assert!(still.contains("until EOSL on 2027-12-31"), "{still}");
    t.advance(TimeDelta::days(200)).await;
    let sent = notices(&t).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("on 2027-12-31 (in 180d)"), "{}", sent[0]);
}

#[tokio::test]
async fn a_new_minor_without_notes_reminds_the_product_role_and_notes_can_follow() {
    // Arrange
    let t = spawn_app_at(&[PARTNERS], start()).await;
    t.ok("rm", "/version release portal 3.2.15").await;

    // Act: a new minor without notes, then a patch of it without notes
    let minor = t.ok("rm", "/version release portal 3.3.0").await;
    t.ok("rm", "/version release portal 3.3.1").await;

    // Assert: one reminder for 3.3.0 (and the first release), none for the patch
    assert!(minor.contains("the product role is reminded"), "{minor}");
    let reminders = t.posted("#product").await;
    assert_eq!(reminders.len(), 2, "{reminders:?}");
    assert!(
        reminders[1].contains("`portal` 3.3.0 is recorded without release notes: @product"),
        "{}",
        reminders[1]
    );
    // the notes follow: posted to partners once; a second time is refused
    let added = t
        .ok(
            "rm",
            "/version release portal 3.3.0 notes:https://example.com/portal/3.3.0",
        )
        .await;
    assert!(added.contains("posted to partners"), "{added}");
    let again = t
        .refused(
            "rm",
            "/version release portal 3.3.0 notes:https://example.com/other",
        )
        .await;
    assert!(
        again.contains("recorded already with its release notes"),
        "{again}"
    );
    let partners = t.posted("#partners").await;
    assert_eq!(partners.len(), 1, "{partners:?}");
}

#[tokio::test]
async fn the_roadmap_reminder_goes_to_the_product_role_each_quarter() {
    // Arrange: Tuesday 2026-12-01; the next quarter starts on 1 January
    let t = spawn_app_at(&[PARTNERS], start()).await;

    // Act: to 2 January, then to 2 April
    t.advance(TimeDelta::days(32)).await;
    let january = t.posted("#product").await;
    t.advance(TimeDelta::days(90)).await;
    let april = t.posted("#product").await;

    // Assert
    assert_eq!(january.len(), 1, "{january:?}");
    assert!(
        january[0].contains("@product: the roadmap for Q1 2027 is due to partners"),
        "{}",
        january[0]
    );
    assert_eq!(april.len(), 2, "{april:?}");
    assert!(april[1].contains("Q2 2027"), "{}", april[1]);
}

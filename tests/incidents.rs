//! The support desk end to end (`/incident`): a partner's incident with its
//! response SLA counted in business hours (9:00–18:00 IST, Mon–Fri), the
//! escalation matrix firing once per level, the first response cancelling
//! the rest, waits pausing the clock, a breach in `report` and `/metrics`,
//! the version policy on open, back-ports closing on release, and a restart
//! between opening and the first escalation. The whole app on a manual clock.

mod common;

use chrono::{DateTime, Utc};
use common::{TestApp, ist, spawn_app_at};

const ACME: &str = "console:#acme";
const ENV: &[(&str, &str)] = &[
    ("SHIPMATE__PARTNERS__ACME__CHANNELS", ACME),
    ("SHIPMATE__SUPPORT__CHANNELS", "console:#support"),
];

/// Moves the clock to `to`, firing what falls due.
async fn until(t: &TestApp, to: DateTime<Utc>) {
    let now = t.app.clock.now();
    t.advance(to - now).await;
}

async fn support_posts(t: &TestApp) -> Vec<String> {
    t.posted("#support").await
}

#[tokio::test]
async fn a_p1_opened_friday_afternoon_is_due_monday_and_escalates_once_per_level() {
    // Arrange: Friday 2026-12-04, 16:00 IST
    let t = spawn_app_at(ENV, ist(2026, 12, 4, 16, 0)).await;

    // Act: the partner opens a P1 from their shared channel
    let opened = t
        .ok_in(
            "pat",
            ACME,
            "/incident open severity:P1 summary:\"nobody can log in\"",
        )
        .await;

    // Assert: INC-1 for acme, due Monday 11:00 (2h on Friday + 2h on Monday)
    assert!(opened.contains("INC-1 (P1, acme)"), "{opened}");
    assert!(
        opened.contains("First response due 2026-12-07 11:00"),
        "{opened}"
    );
    t.record("INC-1").expect_state("open").await;
    assert_eq!(
        support_posts(&t).await.len(),
        1,
        "the card reaches #support"
    );

    // 50 % (2h) is Friday 18:00: the support role, as nobody is assigned
    until(&t, ist(2026, 12, 4, 18, 1)).await;
    let posts = support_posts(&t).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(
        posts[1].contains("⏫ INC-1 (P1, acme): no first response after 2h of the 4h SLA")
            && posts[1].contains("@support"),
        "{}",
        posts[1]
    );

    // nothing over the weekend; 80 % (3h 12m) is Monday 10:12
    until(&t, ist(2026, 12, 7, 10, 0)).await;
    assert_eq!(support_posts(&t).await.len(), 2, "quiet over the weekend");
    until(&t, ist(2026, 12, 7, 10, 13)).await;
    let posts = support_posts(&t).await;
    assert_eq!(posts.len(), 3);
    assert!(posts[2].contains("@support-lead"), "{}", posts[2]);

    // the first response cancels the rest: no 100 % level, no breach
    t.ok("support", "/incident assign INC-1 @support").await;
    let ack = t.ok("support", "/incident ack INC-1").await;
    assert!(ack.contains("within the SLA"), "{ack}");
    until(&t, ist(2026, 12, 8, 12, 0)).await;
    assert_eq!(support_posts(&t).await.len(), 3, "nothing after the ack");
    let report = t.ok("support", "/incident report month:2026-12").await;
    assert!(
        report.contains("P1 (SLA 4h): 1 incident; first response median 3h 13m, worst 3h 13m; SLA met 1 of 1 (100%)"),
        "{report}"
    );
}

#[tokio::test]
async fn a_breach_is_recorded_once_and_shows_in_report_and_metrics() {
    // Arrange: Monday 09:00 IST, a P3 nobody answers (P3 escalates at 80 %)
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 9, 0)).await;
    t.ok(
        "pat",
        "/incident open severity:P3 summary:\"export is slow\" partner:acme",
    )
    .await;

    // Act: two working days pass (18h of business time)
    until(&t, ist(2026, 12, 9, 12, 0)).await;

    // Assert: one breach, in #support, in the report, on /metrics
    let posts = support_posts(&t).await;
    let breaches: Vec<&String> = posts.iter().filter(|p| p.contains("🔥")).collect();
    assert_eq!(breaches.len(), 1, "{posts:?}");
    assert!(
        breaches[0].contains("INC-1 (P3, acme) breached its response SLA (2 working days)"),
        "{}",
        breaches[0]
    );
    let report = t.ok("support", "/incident report month:2026-12").await;
    assert!(
        report.contains("P3 (SLA 2 working days): 1 incident; SLA met 0 of 1 (0%); 1 breach"),
        "{report}"
    );
    let metrics = reqwest::get(t.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("shipmate_incident_sla_breaches{severity=\"P3\"} 1"),
        "{metrics}"
    );
    let show = t.ok("support", "/incident show INC-1").await;
    assert!(show.contains("SLA breached"), "{show}");
}

#[tokio::test]
async fn waiting_on_the_partner_pauses_the_clock_and_moves_the_escalations() {
    // Arrange: a P1 opened Monday 10:00; its 50 % level would be at 12:00
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 10, 0)).await;
    t.ok_in(
        "pat",
        ACME,
        "/incident open severity:P1 summary:\"500 on upload\"",
    )
    .await;

    // Act: waiting from 11:00 to Tuesday 10:00
    until(&t, ist(2026, 12, 7, 11, 0)).await;
    let wait = t
        .ok(
            "support",
            "/incident wait INC-1 reason:\"need the request id\"",
        )
        .await;
    assert!(wait.contains("the SLA clock is paused"), "{wait}");
    until(&t, ist(2026, 12, 8, 10, 0)).await;
    assert_eq!(
        support_posts(&t).await.len(),
        1,
        "no escalation while waiting"
    );
    let resumed = t.ok("support", "/incident resume INC-1").await;

    // Assert: 1h used, so due Tuesday 13:00; the 50 % level fires at 11:00, once
    assert!(
        resumed.contains("first response due 2026-12-08 13:00"),
        "{resumed}"
    );
    until(&t, ist(2026, 12, 8, 11, 1)).await;
    let posts = support_posts(&t).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[1].contains("after 2h of the 4h SLA"), "{}", posts[1]);
    let show = t.ok("support", "/incident show INC-1").await;
    // the timeline reads in words, not in the commands' keywords
    assert!(
        show.contains("waiting on the partner: need the request id"),
        "{show}"
    );
    assert!(show.contains("resumed: the partner answered"), "{show}");
    assert!(
        !show.contains("resume:") && !show.contains("wait:"),
        "{show}"
    );
}

#[tokio::test]
async fn updates_reach_the_partner_notes_do_not_and_only_support_acts() {
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 10, 0)).await;
    t.ok_in(
        "pat",
        ACME,
        "/incident open severity:P2 summary:\"reports empty\"",
    )
    .await;

    let refused = t.refused("pat", "/incident ack INC-1").await;
    assert!(refused.contains("only `support` members"), "{refused}");
    t.ok(
        "support",
        "/incident note INC-1 text:\"looks like the cache\"",
    )
    .await;
    t.ok(
        "support",
        "/incident update INC-1 text:\"We are on it; next update at 14:00.\"",
    )
    .await;
    let resolved = t
        .ok(
            "support",
            "/incident resolve INC-1 resolution:workaround text:\"Clear the report cache.\"",
        )
        .await;
    assert!(resolved.contains("resolved (workaround)"), "{resolved}");
    t.record("INC-1").expect_state("resolved").await;

    let partner = t.posted("#acme").await;
    assert_eq!(partner.len(), 2, "{partner:?}");
    assert!(partner[0].contains("📣 INC-1 (P2, acme) update: We are on it"));
    assert!(
        partner[1]
            .contains("📣 INC-1 (P2, acme) resolved with a workaround: Clear the report cache."),
        "{}",
        partner[1]
    );
    assert!(
        partner
            .iter()
            .all(|p| !p.contains("cache\"") && !p.contains("looks like")),
        "internal notes stay internal"
    );
    let refused = t.refused("support", "/incident resume INC-1").await;
    assert!(refused.contains("INC-1 cannot resume"), "{refused}");

    // a reopening tells the partner in words, once
    t.ok("support", "/incident reopen INC-1").await;
    let partner = t.posted("#acme").await;
    assert_eq!(partner.len(), 3, "{partner:?}");
    assert!(
        partner[2].contains("📣 INC-1 (P2, acme) reopened: we are working on it again"),
        "{}",
        partner[2]
    );
    assert!(!partner[2].contains("reopened: reopened"), "{}", partner[2]);
    let unknown = t
        .refused("pat", "/incident open severity:P2 summary:x partner:globex")
        .await;
    assert!(unknown.contains("`globex` is not configured"), "{unknown}");
}

#[tokio::test]
async fn the_version_is_checked_on_open_and_back_ports_close_on_release() {
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 10, 0)).await;
    for v in ["1.4.2", "2.5.56", "3.2.15"] {
        t.ok("rm", &format!("/version release portal {v}")).await;
    }

    // an unsupported version is answered with the upgrade
    let old = t
        .ok_in(
            "pat",
            ACME,
            "/incident open severity:P3 summary:\"old bug\" service:portal version:1.4.2",
        )
        .await;
    assert!(
        old.contains("1.x is not supported: upgrade to 3.2.15"),
        "{old}"
    );
    let supported = t
        .ok_in(
            "pat",
            ACME,
            "/incident open severity:P2 summary:\"new bug\" service:portal version:2.5.56",
        )
        .await;
    assert!(
        supported.contains("2.x is n-1 of 3.x: supported"),
        "{supported}"
    );

    // a planned patch in two versions: back-port items until each is released
    t.ok(
        "support",
        "/incident resolve INC-2 resolution:patch-planned fix-in:3.2.16,2.5.57 text:\"Fixed in the next patches.\"",
    )
    .await;
    // the partner reads the versions, in words
    let partner = t.posted("#acme").await;
    let resolution = partner.last().expect("the resolution reaches the partner");
    assert!(
        resolution.contains(
            "📣 INC-2 (P2, acme) resolved — a fix is planned in 3.2.16 and 2.5.57: Fixed in the next patches."
        ),
        "{resolution}"
    );
    assert!(!resolution.contains("patch-planned"), "{resolution}");
    let show = t.ok("support", "/incident show INC-2").await;
    assert!(
        show.contains("Back-ports: 3.2.16 open, 2.5.57 open"),
        "{show}"
    );
    t.ok("rm", "/version release portal 3.2.16").await;
    let show = t.ok("support", "/incident show INC-2").await;
    assert!(
        show.contains("Back-ports: 3.2.16 released, 2.5.57 open"),
        "{show}"
    );

    // the weekly reminder (Mondays 10:00) names what is still open, then stops
    until(&t, ist(2026, 12, 14, 10, 1)).await;
    let reminders: Vec<String> = support_posts(&t)
        .await
        .into_iter()
        .filter(|p| p.contains("Back-ports still open"))
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].contains("INC-2")
            && reminders[0].contains("2.5.57")
            && !reminders[0].contains("3.2.16"),
        "{}",
        reminders[0]
    );
    t.ok("rm", "/version release portal 2.5.57").await;
    until(&t, ist(2026, 12, 21, 10, 1)).await;
    let after: usize = support_posts(&t)
        .await
        .iter()
        .filter(|p| p.contains("Back-ports still open"))
        .count();
    assert_eq!(after, 1, "no reminder once every back-port is released");

    let bad = t
        .refused(
            "support",
            "/incident resolve INC-1 resolution:patch-planned text:\"soon\"",
        )
        .await;
    assert!(bad.contains("fix-in"), "{bad}");
}

#[tokio::test]
async fn a_restart_between_open_and_the_first_escalation_still_escalates_once() {
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 10, 0)).await;
    t.ok_in("pat", ACME, "/incident open severity:P1 summary:\"down\"")
        .await;

    let t = t.restart(ENV).await;
    until(&t, ist(2026, 12, 7, 12, 1)).await;
    until(&t, ist(2026, 12, 7, 12, 30)).await;

    let escalations = support_posts(&t)
        .await
        .iter()
        .filter(|p| p.contains("⏫"))
        .count();
    assert_eq!(escalations, 1);
}

#[tokio::test]
async fn a_partners_shared_channel_opens_incidents_for_that_partner_only() {
    let mut env = ENV.to_vec();
    env.push(("SHIPMATE__PARTNERS__GLOBEX__CHANNELS", "console:#globex"));
    let t = spawn_app_at(&env, ist(2026, 12, 7, 10, 0)).await;

    let reply = t
        .cmd_in(
            "pat",
            ACME,
            "/incident open severity:P2 summary:x partner:globex",
        )
        .await;
    let text = reply.message.plain(t.app.config.tz);
    assert!(
        text.contains("this channel is shared with `acme`"),
        "{text}"
    );
    t.refused("pat", "/incident show INC-1").await;
    // from the team's own channel, naming the partner is how it is done
    let own = t
        .ok(
            "support",
            "/incident open severity:P2 summary:\"phoned in\" partner:globex",
        )
        .await;
    assert!(own.contains("INC-1 (P2, globex)"), "{own}");
}

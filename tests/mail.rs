//! E-mail as a delivery channel, end to end: the whole app with its outbox
//! worker sending to a real SMTP server on loopback (`mail_server`, the
//! `mailin` protocol state machine), each received mail read back with an
//! independent MIME parser (`mail-parser`) and its invitation with an
//! independent iCalendar parser (`ical`). Each test checks what a partner
//! reading the mailbox (or their calendar) would notice.

mod common;
mod mail_server;

use std::io::BufReader;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_at};
use mail_parser::{MessageParser, MimeHeaders};
use mail_server::{Answer, MailServer};
use std::time::{Duration, Instant};

const OPS: &str = "ops@partner.example";

/// Monday 2026-11-02 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn app(server: &MailServer, extra: &[(&str, &str)]) -> TestApp {
    let mut env = server.env();
    env.push(("SHIPMATE__OUTBOX__RETRY_BASE".into(), "1s".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_at(&pairs, t0()).await
}

/// One received mail, parsed.
struct Mail {
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    subject: String,
    to: Vec<String>,
    text: String,
    html: String,
    /// `(method, iCalendar text)` of its `text/calendar` part.
    calendar: Option<(String, String)>,
}

fn parse(raw: &[u8]) -> Mail {
    let m = MessageParser::default().parse(raw).expect("a MIME message");
    let first = |v: &mail_parser::HeaderValue| match v {
        mail_parser::HeaderValue::Text(t) => Some(format!("<{t}>")),
        mail_parser::HeaderValue::TextList(l) => l.first().map(|t| format!("<{t}>")),
        _ => None,
    };
    let calendar = m.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        (ct.ctype() == "text" && ct.subtype() == Some("calendar")).then(|| {
            (
                ct.attribute("method").unwrap_or_default().to_string(),
                p.text_contents().unwrap_or_default().to_string(),
            )
        })
    });
    Mail {
        message_id: format!("<{}>", m.message_id().expect("a Message-ID")),
        in_reply_to: first(m.in_reply_to()),
        references: first(m.references()),
        subject: m.subject().unwrap_or_default().to_string(),
        to: mail_server::recipients(&m),
        text: m.body_text(0).unwrap_or_default().to_string(),
        html: m.body_html(0).unwrap_or_default().to_string(),
        calendar,
    }
}

/// The one event of an invitation: (UID, SEQUENCE, STATUS, DTSTART).
fn event(ics: &str) -> (String, u32, String, String) {
    let mut parser = ical::IcalParser::new(BufReader::new(ics.as_bytes()));
    let calendar = parser
        .next()
        .expect("one calendar")
        .expect("valid iCalendar");
    assert!(parser.next().is_none(), "exactly one calendar");
    assert_eq!(calendar.events.len(), 1, "{ics}");
    let e = &calendar.events[0];
    let prop = |name: &str| {
        e.properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_else(|| panic!("{name} missing from {ics}"))
    };
    (
        prop("UID"),
        prop("SEQUENCE").parse().expect("a number"),
        prop("STATUS"),
        prop("DTSTART"),
    )
}

#[tokio::test]
async fn a_downtime_announced_postponed_and_cancelled_is_one_thread_whose_invitation_updates() {
    // Arrange: downtime notices go to the console and to a partner's address
    let server = MailServer::start().await;
    let channels = format!("console:#partners,email:{OPS}");
    let t = app(&server, &[("SHIPMATE__DOWNTIME__CHANNELS", &channels)]).await;
    let start = t0() + TimeDelta::days(3);

    // Act: announce, postpone by a day, cancel
    t.ok(
        "rm",
        &format!(
            "/downtime announce env:production start:{} duration:2h reason:\"database upgrade\" audience:\"partner portals\"",
            rfc(start)
        ),
    )
    .await;
    t.ok(
        "rm",
        &format!(
            "/downtime postpone DT-1 to:{} reason:\"vendor delay\"",
            rfc(start + TimeDelta::days(1))
        ),
    )
    .await;
    t.ok(
        "rm",
        "/downtime cancel DT-1 reason:\"not needed after all\"",
    )
    .await;
    let mails: Vec<Mail> = server
        .wait_for(3)
        .await
        .iter()
        .map(|m| parse(&m.raw))
        .collect();

    // Assert: three mails to the partner, one thread headed by the announcement
    assert_eq!(mails.len(), 3);
    let (announced, postponed, cancelled) = (&mails[0], &mails[1], &mails[2]);
    for m in &mails {
        assert_eq!(m.to, vec![OPS.to_string()]);
        assert_eq!(m.subject, "DT-1: downtime of production");
    }
    assert_eq!(announced.in_reply_to, None);
    for reply in [postponed, cancelled] {
        assert_eq!(
            reply.in_reply_to.as_deref(),
            Some(announced.message_id.as_str())
        );
        assert_eq!(
            reply.references.as_deref(),
            Some(announced.message_id.as_str())
        );
        assert_ne!(reply.message_id, announced.message_id);
    }
    // the same words as the chat message, times in the configured zone (IST)
    assert!(
        announced
            .text
            .contains("DT-1 downtime of production announced"),
        "{}",
        announced.text
    );
    assert!(
        announced.text.contains("Window: 2026-11-05 14:30 IST"),
        "{}",
        announced.text
    );
    assert!(
        announced.html.contains("<strong>DT-1</strong>"),
        "{}",
        announced.html
    );
    assert!(
        postponed.text.contains("Why: vendor delay"),
        "{}",
        postponed.text
    );
    // what the partner reads, both alternatives
    insta::assert_snapshot!(format!("{}\n── html\n{}", postponed.text, postponed.html), @r#"
    📅 DT-1 downtime of production postponed
    Was: 2026-11-05 14:30 IST → 2026-11-05 16:30 IST
    Now: 2026-11-06 14:30 IST → 2026-11-06 16:30 IST (2h)
    Why: vendor delay
    Reason: database upgrade
    Affects: partner portals

    -- 
    shipmate: https://shipmate.example.com

    ── html
    <!DOCTYPE html>
    <html><body style="font-family: sans-serif">
    <p>📅 <strong>DT-1</strong> downtime of <code>production</code> postponed</p>
    <p>Was: <time datetime="2026-11-05T09:00:00+00:00">2026-11-05 14:30 IST</time> → <time datetime="2026-11-05T11:00:00+00:00">2026-11-05 16:30 IST</time></p>
    <p>Now: <time datetime="2026-11-06T09:00:00+00:00">2026-11-06 14:30 IST</time> → <time datetime="2026-11-06T11:00:00+00:00">2026-11-06 16:30 IST</time> (2h)</p>
    <p>Why: vendor delay</p>
    <p>Reason: database upgrade</p>
    <p>Affects: partner portals</p>
    <hr>
    <p style="font-size: small; color: #555"><a href="https://shipmate.example.com">shipmate</a></p>
    </body></html>
    "#);
    // an invitation that calendars add, move, then strike
    let methods: Vec<&str> = mails
        .iter()
        .map(|m| m.calendar.as_ref().expect("an invitation").0.as_str())
        .collect();
    assert_eq!(methods, ["REQUEST", "REQUEST", "CANCEL"]);
    let events: Vec<_> = mails
        .iter()
        .map(|m| event(&m.calendar.as_ref().unwrap().1))
        .collect();
    assert!(
        events.iter().all(|e| e.0 == events[0].0),
        "one UID: {events:?}"
    );
    assert!(
        events[0].1 < events[1].1 && events[1].1 < events[2].1,
        "SEQUENCE rises: {events:?}"
    );
    assert_eq!(events[0].3, "20261105T090000Z");
    assert_eq!(events[1].3, "20261106T090000Z");
    assert_eq!(
        [
            events[0].2.as_str(),
            events[1].2.as_str(),
            events[2].2.as_str()
        ],
        ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    );
    // and the same UID as the subscribed calendar's event
    let ics = reqwest::get(t.url("/calendar.ics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ics.contains(&format!("UID:{}", events[0].0)), "{ics}");
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Row {
    state: String,
    attempts: i64,
    last_error: Option<String>,
}

/// The outbox rows of an `email:` channel, oldest first.
async fn mail_rows(t: &TestApp) -> Vec<Row> {
    sqlx::query_as(
        "SELECT state, attempts, last_error FROM outbox WHERE channel LIKE 'email:%' ORDER BY id",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap()
}

/// Waits (at most 20 s) until the mail rows satisfy `done`; returns them.
async fn rows_until(t: &TestApp, done: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = mail_rows(t).await;
        if !rows.is_empty() && done(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never got there: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Moves the manual clock on and wakes the outbox worker.
fn later(t: &TestApp, by: TimeDelta) {
    t.clock.as_ref().expect("a manual clock").advance(by);
    t.app.wake.outbox.notify_one();
}

async fn announce_to_ops(t: &TestApp) {
    let start = t0() + TimeDelta::days(3);
    t.ok(
        "rm",
        &format!(
            "/downtime announce env:staging start:{} duration:1h reason:\"upgrade\"",
            rfc(start)
        ),
    )
    .await;
}

fn ops_only() -> (&'static str, String) {
    ("SHIPMATE__DOWNTIME__CHANNELS", format!("email:{OPS}"))
}

#[tokio::test]
async fn a_busy_mail_server_is_tried_again_later_and_the_mail_arrives_once() {
    // Arrange: the server answers the first mail 451
    let server = MailServer::start().await;
    server.script(&[Answer::Busy]);
    let (key, value) = ops_only();
    let t = app(&server, &[(key, &value)]).await;

    // Act: announce; after the first refusal, the backoff passes
    announce_to_ops(&t).await;
    let rows = rows_until(&t, |r| r[0].attempts == 1).await;
    assert_eq!(rows[0].state, "pending", "a 4xx is temporary: {rows:?}");
    assert!(
        rows[0].last_error.as_deref().unwrap().contains("451"),
        "{rows:?}"
    );
    later(&t, TimeDelta::seconds(2));
    let mails = server.wait_for(1).await;
    let rows = rows_until(&t, |r| r[0].state == "delivered").await;

    // Assert: delivered once, on the second try (attempts count both)
    assert_eq!(mails.len(), 1);
    assert_eq!(server.answered(), [Answer::Busy, Answer::Accept]);
    assert_eq!(rows[0].attempts, 2);
}

#[tokio::test]
async fn a_mail_the_server_refuses_for_good_is_parked_with_its_reason() {
    // Arrange: the server answers 550
    let server = MailServer::start().await;
    server.script(&[Answer::Refuse]);
    let (key, value) = ops_only();
    let t = app(&server, &[(key, &value)]).await;

    // Act
    announce_to_ops(&t).await;
    let rows = rows_until(&t, |r| r[0].state != "pending").await;

    // Assert: parked after one try, the server's words kept, nothing retried
    assert_eq!(rows[0].state, "parked", "{rows:?}");
    assert_eq!(rows[0].attempts, 1);
    let reason = rows[0].last_error.as_deref().unwrap();
    assert!(reason.contains("550") && reason.contains(OPS), "{reason}");
    assert_eq!(server.answered(), [Answer::Refuse]);
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn a_wrong_relay_password_is_parked_not_retried_and_never_logged() {
    // Arrange: the app has the wrong password
    let server = MailServer::start().await;
    let (key, value) = ops_only();
    let t = app(
        &server,
        &[
            (key, &value),
            ("SHIPMATE__MAIL__PASSWORD", "not-the-password"),
        ],
    )
    .await;

    // Act
    announce_to_ops(&t).await;
    let rows = rows_until(&t, |r| r[0].state != "pending").await;

    // Assert: 535 is permanent; the reason does not carry the password
    assert_eq!(rows[0].state, "parked", "{rows:?}");
    let reason = rows[0].last_error.as_deref().unwrap();
    assert!(reason.contains("535"), "{reason}");
    assert!(!reason.contains("not-the-password"), "{reason}");
    assert!(!format!("{:?}", t.app.config).contains("not-the-password"));
    assert_eq!(server.refused_logins(), 1);
}

#[tokio::test]
async fn a_crash_after_the_server_took_the_mail_sends_it_at_most_once_more_with_the_same_message_id()
 {
    // Arrange: the server keeps the first mail and never answers
    let server = MailServer::start().await;
    server.script(&[Answer::AcceptAndHang]);
    let (key, value) = ops_only();
    let env = [(key, value.as_str())];
    let t = app(&server, &env).await;
    announce_to_ops(&t).await;
    server.wait_for(1).await;

    // Act: the process dies before it learns the mail arrived; after the
    // restart the row's lease runs out
    let mut env = server.env();
    env.push((key.to_string(), value.clone()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let t = t.restart(&pairs).await;
    later(&t, TimeDelta::seconds(31));
    let mails = server.wait_for(2).await;
    let rows = rows_until(&t, |r| r[0].state == "delivered").await;

    // Assert: one more copy, the same message to the receiving side, then no more
    assert_eq!(mails.len(), 2);
    let (first, second) = (parse(&mails[0].raw), parse(&mails[1].raw));
    assert_eq!(first.message_id, second.message_id);
    assert_eq!(rows.len(), 1);
    assert_eq!(server.mails().len(), 2);
}

#[tokio::test]
async fn a_list_or_partner_reads_times_in_its_own_zone_and_else_in_the_default() {
    // Arrange: demo users in Berlin, partner acme's people (default zone,
    // IST), and partner globex's in New York
    let server = MailServer::start().await;
    let t = app(
        &server,
        &[
            (
                "SHIPMATE__MAIL__LISTS__DEMO__ADDRESSES",
                "alice@lab.example,bob@lab.example",
            ),
            ("SHIPMATE__MAIL__LISTS__DEMO__TIMEZONE", "Europe/Berlin"),
            (
                "SHIPMATE__PARTNERS__ACME__EMAILS",
                "ops@acme.example,cto@acme.example",
            ),
            ("SHIPMATE__PARTNERS__GLOBEX__EMAILS", "it@globex.example"),
            ("SHIPMATE__PARTNERS__GLOBEX__TIMEZONE", "America/New_York"),
            (
                "SHIPMATE__DOWNTIME__CHANNELS",
                "email:demo,email:acme,email:globex",
            ),
        ],
    )
    .await;

    // Act
    announce_to_ops(&t).await;
    let received = server.wait_for(3).await;
    let mails: Vec<Mail> = received.iter().map(|m| parse(&m.raw)).collect();

    // Assert: one mail per list, in its zone
    let demo = mails
        .iter()
        .find(|m| m.text.contains("CET"))
        .expect("the demo list's mail");
    assert!(
        demo.text.contains("Window: 2026-11-05 10:00 CET"),
        "{}",
        demo.text
    );
    let acme = mails
        .iter()
        .find(|m| m.to.contains(&"ops@acme.example".to_string()))
        .expect("acme's mail");
    assert!(
        acme.text.contains("Window: 2026-11-05 14:30 IST"),
        "{}",
        acme.text
    );
    let globex = mails
        .iter()
        .find(|m| m.to == ["it@globex.example"])
        .expect("globex's mail");
    assert!(
        globex.text.contains("Window: 2026-11-05 04:00 EST"),
        "{}",
        globex.text
    );
}

#[tokio::test]
async fn a_lists_members_never_see_each_others_addresses_but_a_partners_people_do() {
    // Arrange: demo users of two organisations on one list, and partner
    // acme's two people
    let server = MailServer::start().await;
    let t = app(
        &server,
        &[
            (
                "SHIPMATE__MAIL__LISTS__DEMO__ADDRESSES",
                "alice@lab.example,bob@uni.example",
            ),
            (
                "SHIPMATE__PARTNERS__ACME__EMAILS",
                "ops@acme.example,cto@acme.example",
            ),
            ("SHIPMATE__DOWNTIME__CHANNELS", "email:demo,email:acme"),
        ],
    )
    .await;

    // Act: the announcement (with its invitation) goes to both
    announce_to_ops(&t).await;
    let received = server.wait_for(2).await;

    // Assert: the list's one mail reaches both members as envelope
    // recipients, addressed to the sender, and names neither member anywhere
    let members = ["alice@lab.example", "bob@uni.example"];
    let demo = received
        .iter()
        .find(|m| m.envelope_to.iter().any(|a| a == "alice@lab.example"))
        .expect("the demo list's mail");
    assert_eq!(demo.envelope_to, members);
    let mail = parse(&demo.raw);
    assert_eq!(mail.to, ["shipmate@ops.example"]);
    assert!(mail.calendar.is_some(), "the invitation is still there");
    let raw = String::from_utf8_lossy(&demo.raw);
    for member in members {
        assert!(!raw.contains(member), "{member} is disclosed in:\n{raw}");
    }
    // a partner's people are one organisation: they read each other in To
    let acme = received
        .iter()
        .find(|m| m.envelope_to.iter().any(|a| a == "ops@acme.example"))
        .expect("acme's mail");
    assert_eq!(
        parse(&acme.raw).to,
        ["ops@acme.example", "cto@acme.example"]
    );
    assert_eq!(acme.envelope_to, ["ops@acme.example", "cto@acme.example"]);
    // still one outbox row and one Message-ID per channel
    let rows = mail_rows(&t).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(received.len(), 2);
}

#[tokio::test]
async fn every_mail_is_dkim_signed_over_its_thread_and_unsubscribe_headers() {
    // Arrange: a sender that signs with the test key under selector `shipmate`
    let server = MailServer::start().await;
    let (key, value) = ops_only();
    let t = app(
        &server,
        &[
            (key, &value),
            ("SHIPMATE__MAIL__DKIM_SELECTOR", "shipmate"),
            (
                "SHIPMATE__MAIL__DKIM_PRIVATE_KEY",
                common::dkim::PRIVATE_KEY,
            ),
        ],
    )
    .await;

    // Act
    announce_to_ops(&t).await;
    let mails = server.wait_for(1).await;

    // Assert: a receiver verifies it with the published key; a changed
    // subject no longer verifies
    let signed = common::dkim::verify(&mails[0].raw).expect("a valid DKIM signature");
    assert_eq!(
        (signed.domain.as_str(), signed.selector.as_str()),
        ("ops.example", "shipmate")
    );
    for header in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(
            signed.headers.iter().any(|h| h == header),
            "{header} unsigned"
        );
    }
    let raw = String::from_utf8(mails[0].raw.clone()).expect("text");
    let tampered = raw.replacen("Subject: ", "Subject: FREE ", 1);
    assert_ne!(tampered, raw);
    let refused = common::dkim::verify(tampered.as_bytes()).expect_err("tampering is caught");
    assert!(refused.contains("signature does not verify"), "{refused}");
}

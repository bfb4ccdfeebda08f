//! Status-page subscriptions by e-mail, end to end: the form on `/status`,
//! the confirmation mail and its link (double opt-in), notices to confirmed
//! subscribers only, RFC 8058 one-click unsubscribe, and `/subscribers` in
//! chat; mail arrives at a real SMTP server on loopback (`mail_server`) and
//! is read back with an independent MIME parser.

mod common;
mod mail_server;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_at};
use mail_parser::MessageParser;
use mail_server::MailServer;

const READER: &str = "reader@lab.example";
const LURKER: &str = "lurker@lab.example";

/// Monday 2026-11-02 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

async fn app(server: &MailServer) -> TestApp {
    let mut env = server.env();
    env.push(("SHIPMATE__DOWNTIME__CHANNELS".into(), "console:#ops".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_at(&pairs, t0()).await
}

async fn form(t: &TestApp, path: &str, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(t.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A mail's recipients, text, and its `List-Unsubscribe` URL and `List-Unsubscribe-Post` value.
struct Read {
    to: Vec<String>,
    subject: String,
    text: String,
    unsubscribe: Option<String>,
    one_click: Option<String>,
}

fn read(raw: &[u8]) -> Read {
    let m = MessageParser::default().parse(raw).expect("a MIME message");
    let raw_header = |name: &str| m.header_raw(name).map(|v| v.trim().to_string());
    Read {
        to: mail_server::recipients(&m),
        subject: m.subject().unwrap_or_default().to_string(),
        text: m.body_text(0).unwrap_or_default().to_string(),
        unsubscribe: raw_header("List-Unsubscribe"),
        one_click: raw_header("List-Unsubscribe-Post"),
    }
}

const PUBLIC: &str = "https://shipmate.example.com";

/// The `{PUBLIC}/subscriptions/<what>?token=…` link in `text`.
fn link_in(text: &str, what: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC}/subscriptions/{what}?token="))
        .unwrap_or_else(|| panic!("no {what} link in {text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// The path of a public link (the test app is not at `PUBLIC`).
fn path_of(link: &str) -> &str {
    link.strip_prefix(PUBLIC).expect("a public link")
}

async fn rows_for(t: &TestApp, address: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE channel = ?")
        .bind(format!("email:{address}"))
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn subscribe_confirm_receive_unsubscribe_in_one_click_and_receive_nothing_after() {
    // Arrange: the status page offers the form
    let server = MailServer::start().await;
    let t = app(&server).await;
    let (_, status) = get(&t.url("/status")).await;
    assert!(
        status.contains(r#"<form method="post" action="/subscriptions">"#),
        "{status}"
    );

    // Act: two addresses subscribe; only the reader confirms
    let (ok, page) = form(
        &t,
        "/subscriptions",
        &format!("email={READER}&topics=downtime"),
    )
    .await;
    let (ok2, _) = form(&t, "/subscriptions", &format!("email={LURKER}")).await;
    let mails = server.wait_for(2).await;

    // Assert: each gets a confirmation link, nothing is confirmed yet
    assert_eq!((ok, ok2), (200, 200));
    assert!(page.contains("Check your mailbox"), "{page}");
    let confirmation = mails
        .iter()
        .map(|m| read(&m.raw))
        .find(|m| m.to == [READER])
        .unwrap();
    assert_eq!(confirmation.unsubscribe, None);
    // a short subject that says what to do, the explanation in the text
    assert_eq!(
        confirmation.subject,
        "Confirm your subscription to shipmate.example.com notices"
    );
    assert!(
        confirmation
            .text
            .contains("asked for shipmate's notices (downtime) at reader@"),
        "{}",
        confirmation.text
    );
    let confirm = link_in(&confirmation.text, "confirm");
    // a scanner fetching the link confirms nothing: the page asks for the owner's click
    let (shown, page) = get(&t.url(path_of(&confirm))).await;
    assert_eq!(shown, 200);
    assert!(
        page.contains("<button type=\"submit\">Confirm</button>"),
        "{page}"
    );
    let listed = t.ok("admin", "/subscribers list").await;
    assert!(
        listed.contains(&format!("`{READER}` · downtime · pending")),
        "{listed}"
    );
    let token = confirm.split("token=").nth(1).unwrap().to_string();
    let (confirmed, page) = form(&t, "/subscriptions/confirm", &format!("token={token}")).await;
    assert_eq!(confirmed, 200);
    assert!(page.contains("reader@lab.example will receive"), "{page}");

    // Act: a downtime is announced
    let start = t0() + TimeDelta::days(3);
    t.ok(
        "rm",
        &format!(
            "/downtime announce env:production start:{} duration:2h reason:\"database upgrade\"",
            start.to_rfc3339()
        ),
    )
    .await;
    let mails = server.wait_for(3).await;

    // Assert: the reader gets it with a one-click unsubscribe; the lurker got only its confirmation
    let notice = read(&mails[2].raw);
    assert_eq!(notice.to, [READER]);
    assert!(
        notice
            .text
            .contains("DT-1 downtime of production announced"),
        "{}",
        notice.text
    );
    assert_eq!(
        notice.one_click.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let header = notice.unsubscribe.expect("List-Unsubscribe");
    assert!(
        header.starts_with("<https://shipmate.example.com/subscriptions/unsubscribe?token="),
        "{header}"
    );
    let unsubscribe = link_in(&notice.text, "unsubscribe");
    assert_eq!(
        header,
        format!("<{unsubscribe}>"),
        "the header and the link are one URL"
    );
    assert_eq!(rows_for(&t, LURKER).await, 1, "only the confirmation");

    // Act: the mail client's one-click POST (RFC 8058), then the window is postponed
    let (left, _) = form(&t, path_of(&unsubscribe), "List-Unsubscribe=One-Click").await;
    t.ok(
        "rm",
        &format!(
            "/downtime postpone DT-1 to:{}",
            (start + TimeDelta::days(1)).to_rfc3339()
        ),
    )
    .await;

    // Assert: gone, and nothing more is queued for the reader (the postponement went to chat)
    assert_eq!(left, 200);
    let listed = t.ok("admin", "/subscribers list").await;
    assert!(!listed.contains(READER), "{listed}");
    assert_eq!(
        rows_for(&t, READER).await,
        2,
        "the confirmation and the announcement only"
    );
    assert!(
        t.posted("#ops")
            .await
            .iter()
            .any(|m| m.contains("postponed"))
    );
}

#[tokio::test]
async fn the_form_refuses_a_malformed_address_and_too_many_requests() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;

    // Act
    let (bad, page) = form(&t, "/subscriptions", "email=not-an-address").await;
    let (topic, why) = form(
        &t,
        "/subscriptions",
        &format!("email={READER}&topics=weather"),
    )
    .await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(
            form(&t, "/subscriptions", &format!("email={LURKER}"))
                .await
                .0,
        );
    }

    // Assert: named refusals; the fourth request for one address in an hour is refused
    assert_eq!(bad, 400);
    assert!(
        page.contains("email: `not-an-address` is not an e-mail address"),
        "{page}"
    );
    assert_eq!(topic, 400);
    assert!(why.contains("topics:") && why.contains("weather"), "{why}");
    assert_eq!(answers, [200, 200, 200, 429]);
    // one pending row, re-sent its link, never confirmed
    let listed = t.ok("admin", "/subscribers list").await;
    assert!(
        listed.contains(&format!("`{LURKER}` · downtime, releases · pending")),
        "{listed}"
    );
    assert!(!listed.contains(READER), "{listed}");
}

#[tokio::test]
async fn an_admin_lists_and_removes_subscribers_and_nobody_else_can() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;
    form(&t, "/subscriptions", &format!("email={READER}")).await;

    // Act
    let refused = t.refused("rm", "/subscribers list").await;
    let removed = t
        .ok("admin", &format!("/subscribers remove {READER}"))
        .await;
    let again = t
        .refused("admin", &format!("/subscribers remove {READER}"))
        .await;
    let bad = t.refused("admin", "/subscribers remove nobody").await;

    // Assert
    assert!(refused.contains("only `admin` members"), "{refused}");
    assert!(
        removed.contains("reader@lab.example is removed"),
        "{removed}"
    );
    assert!(again.contains("is not a subscriber"), "{again}");
    assert!(bad.contains("is not an e-mail address"), "{bad}");
}

#[tokio::test]
async fn a_subscription_never_confirmed_is_forgotten_after_the_retention_age() {
    // Arrange: one address confirms, one never does
    let server = MailServer::start().await;
    let t = app(&server).await;
    form(&t, "/subscriptions", &format!("email={READER}")).await;
    form(&t, "/subscriptions", &format!("email={LURKER}")).await;
    let mails = server.wait_for(2).await;
    let confirmation = mails
        .iter()
        .map(|m| read(&m.raw))
        .find(|m| m.to == [READER])
        .unwrap();
    let confirm = link_in(&confirmation.text, "confirm");
    let token = confirm.split("token=").nth(1).unwrap();
    form(&t, "/subscriptions/confirm", &format!("token={token}")).await;

    // Act: past retention.webhook_deliveries (30d), the daily pruning runs
    t.advance(TimeDelta::days(31)).await;

    // Assert
    let listed = t.ok("admin", "/subscribers list").await;
    assert!(
        listed.contains(&format!("`{READER}` · downtime, releases · confirmed")),
        "{listed}"
    );
    assert!(!listed.contains(LURKER), "{listed}");
}

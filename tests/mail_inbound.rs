//! Mail from partners, end to end: the inbound-mail webhook
//! (`POST /webhooks/mail`, shipmate's JSON and Postmark's) opens incidents,
//! adds replies to the incident they answer, and holds mail from unknown
//! senders for support; the partner's mails (its INC-n and SLA, updates)
//! arrive at a real SMTP server on loopback (`mail_server`), in one thread.

mod common;
mod mail_server;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_at};
use mail_parser::MessageParser;
use mail_server::MailServer;
use serde_json::{Value, json};

const TOKEN: &str = "mail-relay-token-0123456789abcdef";
const ACME: &str = "ops@acme.example";

/// Tuesday 2026-11-03 10:00 IST (inside working hours).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 4, 30, 0).unwrap()
}

async fn app(server: &MailServer) -> TestApp {
    let mut env = server.env();
    for (k, v) in [
        ("SHIPMATE__WEBHOOKS__MAIL__TOKEN", TOKEN),
        ("SHIPMATE__PARTNERS__ACME__EMAILS", ACME),
        ("SHIPMATE__SUPPORT__CHANNELS", "console:#support"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_at(&pairs, t0()).await
}

async fn post(t: &TestApp, auth: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(t.url("/webhooks/mail"))
        .json(body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A received mail's Message-ID, In-Reply-To, subject and text.
fn read(raw: &[u8]) -> (String, Option<String>, String, String) {
    let m = MessageParser::default().parse(raw).expect("a MIME message");
    let in_reply_to = match m.in_reply_to() {
        mail_parser::HeaderValue::Text(t) => Some(format!("<{t}>")),
        _ => None,
    };
    (
        format!("<{}>", m.message_id().expect("a Message-ID")),
        in_reply_to,
        m.subject().unwrap_or_default().to_string(),
        m.body_text(0).unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_partner_mail_opens_an_incident_and_its_reply_lands_on_it_in_one_thread() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;

    // Act: the partner writes to the incident address
    let (status, body) = post(
        &t,
        Some(&bearer()),
        &json!({
            "from": "Acme Ops <ops@acme.example>",
            "to": "incidents@ops.example",
            "subject": "[P2] portal login fails",
            "text": "Since 09:00 nobody can log in.",
            "message_id": "<m1@acme.example>"
        }),
    )
    .await;

    // Assert: INC-1 for acme, P2, the mail's text in it; acme is mailed its reference and SLA
    assert_eq!(
        (status, &body),
        (200, &json!({"outcome": "opened", "incident": "INC-1"}))
    );
    t.record("INC-1").expect_state("open").await;
    let show = t.ok("support", "/incident show INC-1").await;
    assert!(show.contains("P2") && show.contains("acme"), "{show}");
    assert!(show.contains("Since 09:00 nobody can log in."), "{show}");
    // support's card says it came by mail, from whom
    let card = t.posted("#support").await.join("\n");
    assert!(
        card.contains(
            "INC-1 (P2, acme) opened by e-mail from ops@acme.example: portal login fails"
        ),
        "{card}"
    );
    assert!(!card.contains("partner API"), "{card}");
    let mails = server.wait_for(1).await;
    assert_eq!(mails[0].envelope_to, vec![ACME.to_string()]);
    let (opened_id, _, subject, text) = read(&mails[0].raw);
    assert_eq!(subject, "INC-1: portal login fails");
    assert!(text.contains("We opened INC-1 (P2, acme)"), "{text}");
    assert!(
        text.contains(
            "Our first response is due by 2026-11-04 10:00 IST (SLA for P2: 1 working day)."
        ),
        "{text}"
    );

    // Act: the partner answers that mail; the relay sends it twice
    let reply = json!({
        "from": ACME,
        "subject": "Re: INC-1: portal login fails",
        "text": "It started after your 08:30 deploy.",
        "message_id": "<m2@acme.example>",
        "in_reply_to": opened_id,
        "references": opened_id,
    });
    let (status, body) = post(&t, Some(&bearer()), &reply).await;
    let (again, replayed) = post(&t, Some(&bearer()), &reply).await;

    // Assert: added to INC-1 once, shown to support
    assert_eq!(
        (status, &body),
        (200, &json!({"outcome": "added", "incident": "INC-1"}))
    );
    assert_eq!(again, 200);
    assert_eq!(
        replayed,
        json!({"outcome": "added", "incident": "INC-1", "replayed": true})
    );
    let show = t.ok("support", "/incident show INC-1").await;
    assert_eq!(
        show.matches("It started after your 08:30 deploy.").count(),
        1,
        "{show}"
    );
    let support = t.posted("#support").await.join("\n");
    assert!(
        support.contains("INC-1 (P2, acme): mail from ops@acme.example"),
        "{support}"
    );

    // Act: support sends an update
    t.ok(
        "support",
        "/incident update INC-1 text:\"rolled back; please retry\"",
    )
    .await;

    // Assert: the partner reads it in the same thread
    let mails = server.wait_for(2).await;
    let (_, in_reply_to, subject, text) = read(&mails[1].raw);
    assert_eq!(in_reply_to.as_deref(), Some(opened_id.as_str()));
    assert_eq!(subject, "INC-1: portal login fails");
    assert!(text.contains("update: rolled back; please retry"), "{text}");
}

#[tokio::test]
async fn a_mail_from_an_unknown_sender_is_held_until_support_accepts_it() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;

    // Act: a stranger writes, through Postmark's inbound webhook (Basic auth in the URL)
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("postmark:{TOKEN}"));
    let (status, body) = post(
        &t,
        Some(&format!("Basic {basic}")),
        &json!({
            "FromName": "New Customer",
            "MessageStream": "inbound",
            "From": "new@customer.example",
            "FromFull": {"Email": "new@customer.example", "Name": "New Customer", "MailboxHash": ""},
            "To": "incidents@ops.example",
            "ToFull": [{"Email": "incidents@ops.example", "Name": "", "MailboxHash": ""}],
            "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [],
            "OriginalRecipient": "incidents@ops.example",
            "Subject": "reports are empty",
            "MessageID": "0f1b5bb6-1f0c-4c47-9a3c-2f3f0d1e2a11",
            "ReplyTo": "", "MailboxHash": "",
            "Date": "Tue, 3 Nov 2026 10:05:00 +0530",
            "TextBody": "Every report since Monday is empty.",
            "HtmlBody": "<p>Every report since Monday is empty.</p>",
            "StrippedTextReply": "",
            "Tag": "",
            "Headers": [
                {"Name": "Message-ID", "Value": "<q1@customer.example>"},
                {"Name": "X-Spam-Status", "Value": "No"}
            ],
            "Attachments": [{
                "Name": "report.pdf", "Content": "JVBERi0xLjQK",
                "ContentType": "application/pdf", "ContentLength": 54321, "ContentID": ""
            }]
        }),
    )
    .await;

    // Assert: held, not dropped, and shown to support; no incident yet
    assert_eq!(
        (status, &body),
        (200, &json!({"outcome": "held", "mail": 1}))
    );
    let support = t.posted("#support").await.join("\n");
    assert!(
        support.contains("Mail 1 from new@customer.example is held"),
        "{support}"
    );
    assert!(
        support.contains("Every report since Monday is empty."),
        "{support}"
    );
    assert!(
        support.contains("📎 1 attachment not kept: report.pdf (application/pdf, 55 KB)"),
        "{support}"
    );
    let r = t.ok("support", "/incident list").await;
    assert!(!r.contains("INC-1"), "{r}");

    // Act: someone without the support role tries, then support accepts
    let refused = t
        .refused("qa", "/incident accept-mail 1 partner:acme")
        .await;
    let accepted = t
        .ok(
            "support",
            "/incident accept-mail 1 partner:acme severity:P2",
        )
        .await;

    // Assert
    assert!(refused.contains("support"), "{refused}");
    assert!(
        accepted.contains("INC-1 (P2, acme)") && accepted.contains("held mail 1"),
        "{accepted}"
    );
    let twice = t.refused("support", "/incident accept-mail 1").await;
    assert!(
        twice.contains("mail 1 is not held: it was accepted (INC-1)"),
        "{twice}"
    );
    // acme's people and the sender are each mailed the reference
    let mails = server.wait_for(2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.envelope_to == vec![ACME.to_string()])
    );
    let to_sender = mails
        .iter()
        .find(|m| m.envelope_to == vec!["new@customer.example".to_string()])
        .expect("the sender is mailed its reference");
    let (_, _, subject, _) = read(&to_sender.raw);
    assert_eq!(subject, "INC-1: reports are empty");
}

#[tokio::test]
async fn a_held_mails_hint_keeps_the_severity_its_subject_asks_for_and_held_mails_can_be_listed() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;

    // Act: a stranger reports an outage, tagged P1
    let (status, body) = post(
        &t,
        Some(&bearer()),
        &json!({
            "from": "new@customer.example",
            "subject": "[P1] portal down",
            "text": "Nothing loads.",
            "message_id": "<q1@customer.example>"
        }),
    )
    .await;

    // Assert: the hint support pastes raises it as the P1 it is
    assert_eq!(
        (status, &body),
        (200, &json!({"outcome": "held", "mail": 1}))
    );
    let support = t.posted("#support").await.join("\n");
    assert!(
        support.contains("/incident accept-mail 1 partner:<name> severity:P1"),
        "{support}"
    );
    assert!(!support.contains("severity:P3"), "{support}");

    // Act: support has lost the number; someone else looks too
    let missing = t.refused("support", "/incident accept-mail 99").await;
    let held = t.ok("support", "/incident held").await;
    let refused = t.refused("qa", "/incident held").await;

    // Assert: the refusal says where the numbers are, and the list has them
    assert!(
        missing.contains("mail 99 does not exist: /incident held lists the held mails"),
        "{missing}"
    );
    assert!(
        held.contains("Mail 1 from new@customer.example: “[P1] portal down”"),
        "{held}"
    );
    assert!(
        held.contains("/incident accept-mail 1 partner:<name> severity:P1"),
        "{held}"
    );
    assert!(refused.contains("support"), "{refused}");

    // Act: support accepts it as the hint says
    let accepted = t
        .ok(
            "support",
            "/incident accept-mail 1 partner:acme severity:P1",
        )
        .await;

    // Assert: a P1, and nothing is held any more
    assert!(accepted.contains("INC-1 (P1, acme)"), "{accepted}");
    let held = t.ok("support", "/incident held").await;
    assert!(held.contains("No mail is held"), "{held}");
}

#[tokio::test]
async fn the_mail_webhook_refuses_a_wrong_token_and_names_a_bad_field() {
    // Arrange
    let server = MailServer::start().await;
    let t = app(&server).await;
    let good = json!({"from": ACME, "subject": "x", "message_id": "<m@acme.example>"});

    // Act
    let (none, _) = post(&t, None, &good).await;
    let (wrong, _) = post(&t, Some("Bearer not-the-token"), &good).await;
    let (bad, why) = post(
        &t,
        Some(&bearer()),
        &json!({"from": "acme", "message_id": "<m@x>"}),
    )
    .await;
    let (unknown, what) = post(
        &t,
        Some(&bearer()),
        &json!({"from": ACME, "message_id": "<m@x>", "cc": "y"}),
    )
    .await;
    let (nameless, file) = post(
        &t,
        Some(&bearer()),
        &json!({"from": ACME, "message_id": "<m@x>", "attachments": [{"size": 3}]}),
    )
    .await;

    // Assert: nothing stored
    assert_eq!(
        (none, wrong, bad, unknown, nameless),
        (401, 401, 400, 400, 400)
    );
    assert_eq!(
        file["error"],
        json!("attachments[0].name: missing: the file's name")
    );
    assert!(
        why["error"]
            .as_str()
            .unwrap()
            .starts_with("from: `acme` is not an e-mail address"),
        "{why}"
    );
    assert!(
        what["error"]
            .as_str()
            .unwrap()
            .starts_with("cc: unknown field"),
        "{what}"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_mail")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn old_inbound_mail_is_pruned_but_mail_still_held_for_support_is_kept() {
    // Arrange: a partner's mail opened INC-1, a stranger's is held
    let server = MailServer::start().await;
    let t = app(&server).await;
    for (from, id) in [
        (ACME, "<p1@acme.example>"),
        ("who@else.example", "<s1@else.example>"),
    ] {
        let (status, _) = post(
            &t,
            Some(&bearer()),
            &json!({"from": from, "subject": "help", "message_id": id}),
        )
        .await;
        assert_eq!(status, 200);
    }

    // Act: past retention.webhook_deliveries (30d), the daily pruning runs
    t.advance(TimeDelta::days(31)).await;

    // Assert
    let left: Vec<String> = sqlx::query_scalar("SELECT state FROM inbound_mail ORDER BY id")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, ["held"]);
}

/// A SendGrid Inbound Parse body (multipart/form-data), as SendGrid posts it.
fn sendgrid_form(boundary: &str, headers: &str, from: &str, subject: &str, text: &str) -> String {
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    [
        field("headers", headers),
        field("dkim", "{@acme.example : pass}"),
        field("to", "incidents@ops.example"),
        field("from", from),
        field("text", text),
        field("sender_ip", "192.0.2.10"),
        field("envelope", r#"{"to":["incidents@ops.example"],"from":"ops@acme.example"}"#),
        field("attachments", "1"),
        field("subject", subject),
        field("charsets", r#"{"to":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}"#),
        field("SPF", "pass"),
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment1\"; filename=\"log.txt\"\r\nContent-Type: text/plain\r\n\r\nsecret log lines\r\n"
        ),
        format!("--{boundary}--\r\n"),
    ]
    .concat()
}

#[tokio::test]
async fn a_reply_through_sendgrid_inbound_parse_lands_on_its_incident() {
    // Arrange: acme's first mail opened INC-1 and acme was mailed about it
    let server = MailServer::start().await;
    let t = app(&server).await;
    post(
        &t,
        Some(&bearer()),
        &json!({"from": ACME, "subject": "[P1] everything is down", "message_id": "<a1@acme.example>"}),
    )
    .await;
    let mails = server.wait_for(1).await;
    let (opened_id, _, _, _) = read(&mails[0].raw);

    // Act: acme's reply arrives through SendGrid (its References folded over two lines)
    let boundary = "xYzZY";
    let headers = format!(
        "Received: by mx.sendgrid.net\nFrom: Acme Ops <ops@acme.example>\nSubject: Re: everything is down\nMessage-ID: <a2@acme.example>\nIn-Reply-To: {opened_id}\nReferences: <a1@acme.example>\n {opened_id}\nMIME-Version: 1.0\n"
    );
    let body = sendgrid_form(
        boundary,
        &headers,
        "Acme Ops <ops@acme.example>",
        "Re: everything is down",
        "Back up since 10:40.",
    );
    let response = reqwest::Client::new()
        .post(t.url("/webhooks/mail"))
        .header("Authorization", bearer())
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();

    // Assert: added to INC-1, the attachment not kept
    assert_eq!(
        (status, &answer),
        (200, &json!({"outcome": "added", "incident": "INC-1"}))
    );
    let show = t.ok("support", "/incident show INC-1").await;
    assert!(show.contains("Back up since 10:40."), "{show}");
    assert!(!show.contains("secret log lines"), "{show}");
    assert!(
        show.contains(
            "📎 1 attachment not kept: log.txt (text/plain, 16 bytes) (ask the sender for a link)"
        ),
        "{show}"
    );
}

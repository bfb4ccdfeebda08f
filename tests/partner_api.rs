//! The partner HTTP intake through the real server: `POST /api/v1/incidents`
//! opens an incident for the partner whose bearer token it carries (201 with
//! the reference and the business-hours deadline, after the commit), the
//! support desk sees it as it sees one opened in chat, `GET
//! /api/v1/incidents/INC-n` shows the partner its own incidents only (and
//! their public timeline only), every refusal stores nothing, and a retry
//! with the same `Idempotency-Key` opens nothing new.

mod common;

use common::{TestApp, ist, spawn_app_at, within};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ACME_TOKEN: &str = "acme-intake-token-0123456789abcdef";
const BETA_TOKEN: &str = "beta-intake-token-0123456789abcdef";
const ENV: &[(&str, &str)] = &[
    ("SHIPMATE__PARTNERS__ACME__CHANNELS", "console:#acme"),
    ("SHIPMATE__PARTNERS__ACME__TOKEN", ACME_TOKEN),
    // beta has no shared channel: it follows its incidents over HTTP only
    ("SHIPMATE__PARTNERS__BETA__TOKEN", BETA_TOKEN),
    ("SHIPMATE__SUPPORT__CHANNELS", "console:#support"),
    ("SHIPMATE__HTTP__MAX_BODY_BYTES", "4096"),
];

/// Friday 2026-12-04, 16:00 IST.
async fn friday_afternoon() -> TestApp {
    spawn_app_at(ENV, ist(2026, 12, 4, 16, 0)).await
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = within(request.send()).await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = within(response.text()).await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(t: &TestApp, token: Option<&str>, key: Option<&str>, body: &Value) -> Answer {
    let mut request = reqwest::Client::new()
        .post(t.url("/api/v1/incidents"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    send(request).await
}

async fn get(t: &TestApp, token: &str, id: &str) -> Answer {
    send(
        reqwest::Client::new()
            .get(t.url(&format!("/api/v1/incidents/{id}")))
            .bearer_auth(token),
    )
    .await
}

async fn count(t: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&t.app.db.pool)
        .await
        .expect("count")
}

fn login_outage() -> Value {
    json!({
        "severity": "P1",
        "summary": "nobody can log in",
        "contact": "Jane Roe <jane@acme.example>",
    })
}

#[tokio::test]
async fn a_partner_opens_an_incident_and_gets_its_reference_and_deadline() {
    let t = friday_afternoon().await;

    let answer = post(&t, Some(ACME_TOKEN), None, &login_outage()).await;

    // 201 with the reference and the deadline: Monday 11:00 IST (2h Friday + 2h Monday)
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "id": "INC-1",
            "severity": "P1",
            "deadline": "2026-12-07T05:30:00Z",
            "state": "open",
            "support": null,
        })
    );
    assert_eq!(
        answer.headers.get("location").map(|v| v.to_str().unwrap()),
        Some("/api/v1/incidents/INC-1")
    );
    assert!(answer.headers.get("idempotent-replayed").is_none());

    // the desk sees it as one opened from acme's channel: listed, carded, audited
    let list = t.ok("support", "/incident list").await;
    assert!(
        list.contains("INC-1 (P1, acme) open — nobody can log in"),
        "{list}"
    );
    let support = t.posted("#support").await;
    assert_eq!(support.len(), 1, "{support:?}");
    assert!(
        support[0].contains(
            "INC-1 (P1, acme) opened through the partner API (contact: Jane Roe <jane@acme.example>): nobody can log in"
        ) && support[0].contains("First response due 2026-12-07 11:00"),
        "{}",
        support[0]
    );
    let (actor, platform, detail): (String, String, String) = sqlx::query_as(
        "SELECT actor, platform, detail FROM audit_log WHERE record = 'INC-1' AND action = 'opened'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .expect("audit row");
    assert_eq!(
        (actor.as_str(), platform.as_str()),
        ("console:api.acme", "api")
    );
    assert_eq!(
        detail,
        "severity=P1 partner=acme via=api contact=Jane Roe <jane@acme.example> summary=nobody can log in"
    );

    // its escalation timers run: 50 % of the 4h SLA is Friday 18:00
    t.advance(ist(2026, 12, 4, 18, 1) - t.app.clock.now()).await;
    let support = t.posted("#support").await;
    assert!(
        support.len() == 2
            && support[1].contains("INC-1 (P1, acme): no first response after 2h of the 4h SLA"),
        "{support:?}"
    );
}

#[tokio::test]
async fn the_version_is_checked_when_a_partner_opens_over_http() {
    let t = spawn_app_at(ENV, ist(2026, 12, 7, 10, 0)).await;
    for v in ["1.4.2", "2.5.56", "3.2.15"] {
        t.ok("rm", &format!("/version release portal {v}")).await;
    }

    let answer = post(
        &t,
        Some(ACME_TOKEN),
        None,
        &json!({"severity": "P3", "summary": "old bug", "service": "portal", "version": "1.4.2"}),
    )
    .await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let support = answer.body["support"].as_str().unwrap_or_default();
    assert!(
        support.contains("1.x is not supported: upgrade to 3.2.15"),
        "{}",
        answer.body
    );
    let seen = get(&t, ACME_TOKEN, "INC-1").await;
    assert_eq!(seen.body["support"], answer.body["support"]);
    assert_eq!(seen.body["version"], "1.4.2");
    assert_eq!(seen.body["service"], "portal");
}

#[tokio::test]
async fn a_partner_sees_its_own_incidents_only() {
    let t = friday_afternoon().await;
    let opened = post(&t, Some(ACME_TOKEN), None, &login_outage()).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);

    let own = get(&t, ACME_TOKEN, "INC-1").await;
    let others = get(&t, BETA_TOKEN, "INC-1").await;
    let unknown = get(&t, BETA_TOKEN, "INC-2").await;
    let malformed = get(&t, BETA_TOKEN, "DR-1").await;

    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["id"], "INC-1");
    assert_eq!(own.body["summary"], "nobody can log in");
    // another partner's incident and an unknown one are answered alike
    for answer in [&others, &unknown, &malformed] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body, json!({"error": "no such incident"}));
    }
    // a chat incident for acme is acme's too; one for nobody is nobody's
    t.ok_in(
        "pat",
        "console:#acme",
        "/incident open severity:P3 summary:\"typo on the invoice\"",
    )
    .await;
    t.ok(
        "pat",
        "/incident open severity:P3 summary:\"internal only\"",
    )
    .await;
    assert_eq!(get(&t, ACME_TOKEN, "INC-2").await.status, StatusCode::OK);
    assert_eq!(
        get(&t, ACME_TOKEN, "INC-3").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&t, "not-a-token", "INC-1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_refusal_is_answered_and_stores_nothing() {
    let t = friday_afternoon().await;
    let before = t.snapshot().await;
    let client = reqwest::Client::new();
    let url = t.url("/api/v1/incidents");
    let valid = login_outage().to_string();

    // 401: no token, a wrong one, Basic instead of Bearer
    let cases = [
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(valid.clone()),
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .bearer_auth("acme-intake-token-0123456789abcdeX")
            .body(valid.clone()),
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .basic_auth("acme", Some(ACME_TOKEN))
            .body(valid.clone()),
    ];
    for case in cases {
        let answer = send(case).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        assert!(
            answer.body["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Authorization: "),
            "{}",
            answer.body
        );
        assert!(answer.headers.get("www-authenticate").is_some());
    }

    // 415: not JSON
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = client
            .post(&url)
            .bearer_auth(ACME_TOKEN)
            .body(valid.clone());
        if let Some(c) = content_type {
            request = request.header("Content-Type", c);
        }
        let answer = send(request).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            answer.body
        );
    }

    // 413: over http.max_body_bytes (4096 here)
    let huge = json!({"severity": "P1", "summary": "x".repeat(5000)});
    let answer = post(&t, Some(ACME_TOKEN), None, &huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // 400, naming the field
    for (body, error) in [
        (
            json!({"severity": "P9", "summary": "down"}),
            "severity: `P9` is not a valid severity: use one of P1, P2, P3",
        ),
        (
            json!({"summary": "down"}),
            "severity: missing: one of P1, P2, P3",
        ),
        (
            json!({"severity": "P1", "summary": "   "}),
            "summary: say what is wrong, e.g. summary:\"login fails for every user\"",
        ),
        (
            json!({"severity": "P1", "summary": 42}),
            "summary: must be a string, not a number",
        ),
        (
            json!({"severity": "P1", "summary": "down", "service": "portal", "version": "2.x"}),
            "version: `2.x` is not a version: write MAJOR.MINOR.PATCH with whole numbers, e.g. 3.2.15",
        ),
        (
            json!({"severity": "P1", "summary": "down", "version": "2.5.56"}),
            "version: say which service runs it too, e.g. service:portal version:2.5.56",
        ),
        (
            json!({"severity": "P1", "summary": "down", "service": "my portal"}),
            "service: `my portal` is not a service name: use letters, digits, -, _ and . (at most 64), e.g. portal",
        ),
        (
            json!({"severity": "P1", "summary": "down", "contact": "jane\nroe"}),
            "contact: write it on one line, without control characters",
        ),
        (
            json!({"severity": "P1", "summary": "down", "partner": "beta"}),
            "partner: unknown field: the fields are severity, summary, service, version, contact",
        ),
        (
            json!(["P1", "down"]),
            "the body must be a JSON object: {\"severity\": \"P1\", \"summary\": \"…\"}",
        ),
    ] {
        let answer = post(&t, Some(ACME_TOKEN), None, &body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.body, json!({ "error": error }), "{body}");
    }
    let answer = send(
        client
            .post(&url)
            .bearer_auth(ACME_TOKEN)
            .header("Content-Type", "application/json")
            .body("{\"severity\": \"P1\","),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("malformed JSON payload: "),
        "{}",
        answer.body
    );
    let answer = post(&t, Some(ACME_TOKEN), Some("has space"), &login_outage()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        json!({"error": "Idempotency-Key: use 1 to 255 visible ASCII characters, e.g. a UUID"})
    );

    // nothing of any of them was stored
    assert_eq!(count(&t, "incidents").await, 0);
    assert_eq!(count(&t, "incident_requests").await, 0);
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_same_incident() {
    let t = friday_afternoon().await;
    // the retry sends the same fields in another order and spacing
    let first = post(&t, Some(ACME_TOKEN), Some("req-7f3a"), &login_outage()).await;
    let retry = send(
        reqwest::Client::new()
            .post(t.url("/api/v1/incidents"))
            .bearer_auth(ACME_TOKEN)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Idempotency-Key", "req-7f3a")
            .body(
                r#"{ "contact": "Jane Roe <jane@acme.example>", "summary": "nobody can log in", "severity": "P1" }"#,
            ),
    )
    .await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(
        retry
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(count(&t, "incidents").await, 1);
    assert_eq!(t.posted("#support").await.len(), 1, "one card");

    // the same key on a different request is refused, and stores nothing
    let before = t.snapshot().await;
    let other = post(
        &t,
        Some(ACME_TOKEN),
        Some("req-7f3a"),
        &json!({"severity": "P2", "summary": "slow reports"}),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        other.body
    );
    assert_eq!(
        other.body["error"],
        "Idempotency-Key: `req-7f3a` was used for another request, which opened INC-1: send a new key with a new incident"
    );
    assert_eq!(t.snapshot().await, before);

    // keys are per partner: beta's request with the same key is beta's own incident
    let beta = post(&t, Some(BETA_TOKEN), Some("req-7f3a"), &login_outage()).await;
    assert_eq!(beta.status, StatusCode::CREATED, "{}", beta.body);
    assert_eq!(beta.body["id"], "INC-2");
    assert!(beta.headers.get("idempotent-replayed").is_none());

    // without a key, every request is a new incident
    let again = post(&t, Some(ACME_TOKEN), None, &login_outage()).await;
    assert_eq!(again.body["id"], "INC-3");
}

#[tokio::test]
async fn retries_sent_at_once_with_one_key_open_one_incident() {
    let t = friday_afternoon().await;
    let body = login_outage();

    let answers = burst_with_one_key(&t, &body).await;

    let ids: Vec<&Value> = answers.iter().map(|a| &a.body["id"]).collect();
    assert!(
        answers.iter().all(|a| a.status == StatusCode::CREATED),
        "{ids:?}"
    );
    assert!(ids.iter().all(|id| **id == json!("INC-1")), "{ids:?}");
    let replayed = answers
        .iter()
        .filter(|a| a.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, answers.len() - 1);
    assert_eq!(count(&t, "incidents").await, 1);
    assert_eq!(count(&t, "incident_requests").await, 1);
}

/// Eight identical requests with one key, sent together.
async fn burst_with_one_key(t: &TestApp, body: &Value) -> Vec<Answer> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = t.url("/api/v1/incidents");
        let body = body.to_string();
        tasks.spawn(async move {
            send(
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(ACME_TOKEN)
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", "burst-1")
                    .body(body),
            )
            .await
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.expect("request task"));
    }
    answers
}

#[tokio::test]
async fn the_partner_reads_updates_and_the_resolution_never_internal_notes() {
    let t = friday_afternoon().await;
    post(&t, Some(ACME_TOKEN), None, &login_outage()).await;
    post(&t, Some(BETA_TOKEN), None, &login_outage()).await;
    let clock = t.clock.as_ref().expect("manual clock");
    for (minutes, command) in [
        (10, "/incident ack INC-1"),
        (
            5,
            "/incident note INC-1 text:\"suspect the SSO certificate rotation\"",
        ),
        (
            5,
            "/incident update INC-1 text:\"We found the cause and are fixing it.\"",
        ),
        (
            5,
            "/incident resolve INC-1 resolution:workaround text:\"Sign in with a password until Monday.\"",
        ),
        (1, "/incident update INC-2 text:\"Looking into it.\""),
    ] {
        clock.advance(chrono::TimeDelta::minutes(minutes));
        t.ok("support", command).await;
    }

    let answer = get(&t, ACME_TOKEN, "INC-1").await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "id": "INC-1",
            "severity": "P1",
            "state": "resolved",
            "summary": "nobody can log in",
            "service": null,
            "version": null,
            "support": null,
            "contact": "Jane Roe <jane@acme.example>",
            "opened_at": "2026-12-04T10:30:00Z",
            "deadline": null,
            "responded_at": "2026-12-04T10:40:00Z",
            "resolution": {
                "kind": "workaround",
                "text": "Sign in with a password until Monday.",
                "fix_in": [],
            },
            "timeline": [
                {"at": "2026-12-04T10:30:00Z", "kind": "opened", "text": "nobody can log in"},
                {"at": "2026-12-04T10:50:00Z", "kind": "update", "text": "We found the cause and are fixing it."},
                {"at": "2026-12-04T10:55:00Z", "kind": "resolve", "text": "resolved with a workaround: Sign in with a password until Monday."},
            ],
        })
    );
    assert!(!answer.body.to_string().contains("SSO certificate"));
    // acme's updates reach its shared channel; beta has none, so they stay in the API
    let acme = t.posted("#acme").await;
    assert_eq!(acme.len(), 2, "{acme:?}");
    assert!(acme[0].contains("We found the cause"), "{}", acme[0]);
    assert_eq!(t.posted("#api").await, Vec::<String>::new());
    let beta = get(&t, BETA_TOKEN, "INC-2").await;
    assert_eq!(beta.body["timeline"][1]["text"], "Looking into it.");
    assert_eq!(beta.body["deadline"], "2026-12-07T05:30:00Z");
}

#[test]
fn the_openapi_document_describes_what_the_endpoint_accepts() {
    use shipmate::domain::incident::{Resolution, Severity, State};
    use shipmate::http::incidents::{FIELDS, parse};

    let doc: Value = serde_json::from_str(include_str!("../config/incidents-api.openapi.json"))
        .expect("the OpenAPI document is JSON");
    let schemas = &doc["components"]["schemas"];
    let request = &schemas["NewIncident"];

    let mut documented: Vec<&str> = request["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut accepted = FIELDS.to_vec();
    accepted.sort_unstable();
    assert_eq!(documented, accepted);
    assert_eq!(request["additionalProperties"], false);
    assert_eq!(request["required"], json!(["severity", "summary"]));
    assert_eq!(schemas["Severity"]["enum"], json!(Severity::NAMES));
    assert_eq!(schemas["State"]["enum"], json!(State::NAMES));
    assert_eq!(
        schemas["Incident"]["properties"]["resolution"]["oneOf"][1]["properties"]["kind"]["enum"],
        json!(Resolution::NAMES)
    );
    let example = &doc["paths"]["/api/v1/incidents"]["post"]["requestBody"]["content"]["application/json"]
        ["example"];
    assert!(
        parse(example.to_string().as_bytes()).is_ok(),
        "the documented example is accepted"
    );
    assert!(doc["paths"]["/api/v1/incidents/{id}"]["get"].is_object());
}

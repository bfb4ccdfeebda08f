//! The partner HTTP intake, documented in `config/incidents-api.openapi.json`:
//! `POST /api/v1/incidents` opens an incident for the partner whose
//! `[partners.<name>] token` the request carries as `Authorization: Bearer`,
//! and `GET /api/v1/incidents/{INC-n}` shows one of that partner's incidents
//! (the use-cases are `app::incident::intake`; the body is read here, at
//! the edge).
//!
//! | outcome | status |
//! |---|---|
//! | no bearer token, or one no partner holds | 401, nothing stored |
//! | body over `http.max_body_bytes` | 413 (the router's limit) |
//! | `Content-Type` not JSON | 415 |
//! | malformed JSON, an unknown field, a bad value, a bad `Idempotency-Key` | 400 naming the field |
//! | an `Idempotency-Key` already used for a different request | 422 |
//! | opened (after the commit) | 201, `Location: /api/v1/incidents/INC-n` |
//! | a retry with the same `Idempotency-Key` | 201 with the same incident, `Idempotent-Replayed: true` |
//! | `GET` of an unknown incident or another partner's | 404, the same body for both |
//! | storing failed | 500, nothing stored |
//!
//! The token is compared in constant time and never logged.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::app::incident::intake::{self, PartnerView, Request};
use crate::app::incident::{Open, Partners};
use crate::app::{App, CommandError};
use crate::domain::incident::{Severity, parse_contact};
use crate::domain::version::{Semver, parse_service};
use crate::domain::{DomainError, RecordId, RecordKind};

/// The fields of the request body, as documented.
pub const FIELDS: [&str; 5] = ["severity", "summary", "service", "version", "contact"];

/// The intake's routes.
pub fn routes(app: App) -> Router {
    Router::new()
        .route("/api/v1/incidents", post(create))
        .route("/api/v1/incidents/{id}", get(show))
        .with_state(app)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// The partner whose token the request carries, or why there is none.
fn partner<'a>(app: &'a App, headers: &HeaderMap) -> Result<&'a str, &'static str> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = given else {
        return Err("Authorization: send your partner token as `Authorization: Bearer <token>`");
    };
    app.config
        .section::<Partners>()
        .by_token(token)
        .ok_or("Authorization: the bearer token is not a partner's")
}

/// The 401 answer (the token itself is never logged).
fn unauthorized(why: &str) -> Response {
    metrics::counter!("shipmate_http_unauthorized_total").increment(1);
    tracing::warn!(why, "partner intake refused");
    let mut response = error(StatusCode::UNAUTHORIZED, why);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"shipmate\""),
    );
    response
}

/// Whether `Content-Type` is JSON (`application/json`, or `application/…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads the body: a JSON object of [`FIELDS`] only; every problem names
/// its field. The request has no idempotency key yet.
pub fn parse(body: &[u8]) -> Result<Request, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON payload: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(
            "the body must be a JSON object: {\"severity\": \"P1\", \"summary\": \"…\"}".into(),
        );
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown field: the fields are {}",
            FIELDS.join(", ")
        ));
    }
    let named = |field: &str, e: DomainError| {
        let text = e.to_string();
        if text.starts_with(&format!("{field}: ")) {
            text
        } else {
            format!("{field}: {text}")
        }
    };
    let severity = text(&fields, "severity")?
        .ok_or("severity: missing: one of P1, P2, P3")?
        .parse::<Severity>()
        .map_err(|e| named("severity", e))?;
    let summary = text(&fields, "summary")?
        .ok_or("summary: missing: say what is wrong, e.g. \"login fails for every user\"")?
        .to_string();
    let service = text(&fields, "service")?
        .map(parse_service)
        .transpose()
        .map_err(|e| named("service", e))?;
    let version = text(&fields, "version")?
        .map(str::parse::<Semver>)
        .transpose()
        .map_err(|e| named("version", e))?;
    let contact = match text(&fields, "contact")? {
        Some(c) => parse_contact(c).map_err(|e| named("contact", e))?,
        None => None,
    };
    Ok(Request {
        open: Open {
            severity,
            summary,
            service,
            version,
            partner: None,
        },
        contact,
        key: None,
    })
}

/// A string field: `None` when absent or `null`.
fn text<'a>(fields: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "{field}: must be a string, not {}",
            match other {
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                _ => "an object",
            }
        )),
    }
}

fn refused(e: CommandError) -> Response {
    match e {
        CommandError::User(e) => {
            let status = match e {
                DomainError::Invalid(_) => StatusCode::BAD_REQUEST,
                DomainError::Conflict(_) => StatusCode::UNPROCESSABLE_ENTITY,
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::NotFound(_) => StatusCode::NOT_FOUND,
            };
            error(status, e.to_string())
        }
        CommandError::Internal(e) => internal(&e),
    }
}

fn internal(e: &anyhow::Error) -> Response {
    let reference = format!("{:x}", Utc::now().timestamp_micros());
    tracing::error!(reference, error = format!("{e:#}"), "partner intake failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("internal error (ref {reference}); nothing was stored"),
    )
}

async fn create(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let partner = match partner(&app, &headers) {
        Ok(p) => p,
        Err(why) => return unauthorized(why),
    };
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: send the body as application/json",
        );
    }
    let key = headers
        .get("idempotency-key")
        .map(|v| intake::parse_key(&String::from_utf8_lossy(v.as_bytes())))
        .transpose();
    let key = match key {
        Ok(key) => key,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let request = match parse(&body) {
        Ok(request) => Request { key, ..request },
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    match intake::open_for_partner(&app, partner, request).await {
        Ok(accepted) => {
            let v = &accepted.view;
            let location = format!("/api/v1/incidents/{}", v.id);
            let mut response = (
                StatusCode::CREATED,
                axum::Json(json!({
                    "id": v.id.to_string(),
                    "severity": v.severity.as_str(),
                    "deadline": v.deadline.map(time),
                    "state": v.state.as_str(),
                    "support": v.support,
                })),
            )
                .into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            if accepted.replayed {
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            response
        }
        Err(e) => refused(e),
    }
}

async fn show(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let partner = match partner(&app, &headers) {
        Ok(p) => p,
        Err(why) => return unauthorized(why),
    };
    // an unknown id and another partner's incident get the same answer
    let not_found = || error(StatusCode::NOT_FOUND, "no such incident");
    let Ok(record) = RecordId::parse_as(RecordKind::Incident, &id) else {
        return not_found();
    };
    match intake::view_for_partner(&app, partner, record).await {
        Ok(Some(view)) => (StatusCode::OK, axum::Json(body(&view))).into_response(),
        Ok(None) => not_found(),
        Err(e) => internal(&e),
    }
}

/// The `GET` body: the incident as its partner reads it.
fn body(v: &PartnerView) -> Value {
    json!({
        "id": v.id.to_string(),
        "severity": v.severity.as_str(),
        "state": v.state.as_str(),
        "summary": v.summary,
        "service": v.service,
        "version": v.version.map(|s| s.to_string()),
        "support": v.support,
        "contact": v.contact,
        "opened_at": time(v.opened_at),
        "deadline": v.deadline.map(time),
        "responded_at": v.responded_at.map(time),
        "resolution": v.resolution.as_ref().map(|r| json!({
            "kind": r.kind.as_str(),
            "text": r.text,
            "fix_in": r.fix_in.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        "timeline": v.timeline.iter().map(|e| json!({
            "at": time(e.at),
            "kind": e.what,
            "text": e.text,
        })).collect::<Vec<_>>(),
    })
}

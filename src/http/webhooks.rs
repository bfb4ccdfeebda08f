//! `POST /webhooks/{github,gitlab,aws,generic}`: authenticate, parse at the
//! edge (provider types stay in [`crate::ci`]), hand the delivery to the
//! pipeline writer, and answer only after it is committed.
//!
//! | outcome | status |
//! |---|---|
//! | bad or missing signature/token (also: secret not configured) | 401, nothing stored |
//! | malformed JSON or a payload missing what its event needs | 400 naming the problem |
//! | applied, or a duplicate of an earlier delivery | 200 |
//! | a valid event shipmate does not track (`ping`, `push`, …) | 202, recorded for dedup |
//! | SNS `SubscriptionConfirmation` / `UnsubscribeConfirmation` | 200, logged (confirmed when enabled) |
//! | storing failed | 500, so the provider retries |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::app::App;
use crate::app::pipeline_intake::{Outcome, PipelineIntake};
use crate::ci::sns::{self, CertSource, Envelope};
use crate::ci::{self, Delivery, Intake, Malformed, auth};
use crate::domain::pipeline::Source;

#[derive(Clone)]
struct Hooks {
    app: App,
    intake: PipelineIntake,
    sns: Arc<dyn CertSource>,
}

/// The webhook routes, with their own writer task (it stops with the router).
pub fn routes(app: App, sns: Arc<dyn CertSource>) -> Router {
    let intake = PipelineIntake::spawn(app.clone());
    Router::new()
        .route("/webhooks/github", post(github))
        .route("/webhooks/gitlab", post(gitlab))
        .route("/webhooks/aws", post(aws))
        .route("/webhooks/generic", post(generic))
        .with_state(Hooks { app, intake, sns })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn unauthorized(source: Source, why: &str) -> Response {
    metrics::counter!("shipmate_webhook_rejected_total", "source" => source.as_str(), "reason" => "unauthorized")
        .increment(1);
    tracing::warn!(%source, why, "webhook refused");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error": why })),
    )
        .into_response();
    if source == Source::Aws {
        // SNS sends Basic credentials only after this challenge.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"shipmate\""),
        );
    }
    response
}

fn malformed(source: Source, e: &Malformed) -> Response {
    metrics::counter!("shipmate_webhook_rejected_total", "source" => source.as_str(), "reason" => "malformed")
        .increment(1);
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.0 }))).into_response()
}

async fn store(hooks: &Hooks, delivery: Delivery) -> Response {
    match hooks.intake.submit(delivery).await {
        Ok(Outcome::Applied { run_key }) => (
            StatusCode::OK,
            axum::Json(json!({ "outcome": "applied", "run": run_key })),
        )
            .into_response(),
        Ok(Outcome::Duplicate) => (
            StatusCode::OK,
            axum::Json(json!({ "outcome": "duplicate" })),
        )
            .into_response(),
        Ok(Outcome::Ignored) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "outcome": "ignored" })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn github(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = h.app.config.settings.webhooks.github.secret.expose();
    if !auth::github_signature_ok(secret, &body, header(&headers, "x-hub-signature-256")) {
        return unauthorized(
            Source::Github,
            "X-Hub-Signature-256 does not match the body",
        );
    }
    let Some(event) = header(&headers, "x-github-event") else {
        return malformed(
            Source::Github,
            &Malformed("missing X-GitHub-Event header".into()),
        );
    };
    let intake = match ci::github::parse(event, &body) {
        Ok(i) => i,
        Err(e) => return malformed(Source::Github, &e),
    };
    let id = header(&headers, "x-github-delivery")
        .map(str::to_string)
        .unwrap_or_else(|| ci::digest(&body));
    store(
        &h,
        Delivery {
            source: Source::Github,
            id,
            kind: event.to_string(),
            intake,
        },
    )
    .await
}

async fn gitlab(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let token = h.app.config.settings.webhooks.gitlab.token.expose();
    if !auth::token_ok(token, header(&headers, "x-gitlab-token")) {
        return unauthorized(Source::Gitlab, "X-Gitlab-Token does not match");
    }
    let Some(event) = header(&headers, "x-gitlab-event") else {
        return malformed(
            Source::Gitlab,
            &Malformed("missing X-Gitlab-Event header".into()),
        );
    };
    let intake = match ci::gitlab::parse(event, &body) {
        Ok(i) => i,
        Err(e) => return malformed(Source::Gitlab, &e),
    };
    let id = header(&headers, "x-gitlab-event-uuid")
        .or_else(|| header(&headers, "idempotency-key"))
        .map(str::to_string)
        .unwrap_or_else(|| ci::digest(&body));
    store(
        &h,
        Delivery {
            source: Source::Gitlab,
            id,
            kind: event.to_string(),
            intake,
        },
    )
    .await
}

async fn generic(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let token = h.app.config.settings.webhooks.generic.token.expose();
    let given = auth::authorization_token(header(&headers, "authorization"));
    if !auth::token_ok(token, given.as_deref()) {
        return unauthorized(Source::Generic, "Authorization bearer token does not match");
    }
    match ci::generic::parse(&body) {
        Ok((id, intake)) => {
            store(
                &h,
                Delivery {
                    source: Source::Generic,
                    id,
                    kind: "generic".into(),
                    intake,
                },
            )
            .await
        }
        Err(e) => malformed(Source::Generic, &e),
    }
}

fn detail_type(value: &Value) -> Option<&str> {
    value
        .get("detail-type")
        .or_else(|| value.get("detailType"))
        .and_then(Value::as_str)
}

async fn aws(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let settings = &h.app.config.settings.webhooks.aws;
    let given = auth::authorization_token(header(&headers, "authorization"));
    if !auth::token_ok(settings.token.expose(), given.as_deref()) {
        return unauthorized(Source::Aws, "Authorization token does not match");
    }
    let value: Value = match ci::from_json(&body) {
        Ok(v) => v,
        Err(e) => return malformed(Source::Aws, &e),
    };
    if !Envelope::looks_like(&value) {
        let Some(kind) = detail_type(&value).map(str::to_string) else {
            return malformed(
                Source::Aws,
                &Malformed(
                    "neither an SNS message nor an EventBridge event: no `detail-type`".into(),
                ),
            );
        };
        // EventBridge ids are unique per event, but AWS's documented examples
        // reuse one: the body digest keeps distinct events apart.
        let digest = ci::digest(&body);
        let id = match value.get("id").and_then(Value::as_str) {
            Some(id) => format!("{id}:{}", &digest[..16]),
            None => digest,
        };
        return match ci::aws::parse_event(value) {
            Ok(intake) => {
                store(
                    &h,
                    Delivery {
                        source: Source::Aws,
                        id,
                        kind,
                        intake,
                    },
                )
                .await
            }
            Err(e) => malformed(Source::Aws, &e),
        };
    }
    let envelope: Envelope = match serde_json::from_value(value) {
        Ok(e) => e,
        Err(e) => {
            return malformed(
                Source::Aws,
                &Malformed(format!("malformed SNS message: {e}")),
            );
        }
    };
    if settings.verify_sns {
        match sns::verify(&envelope, h.sns.as_ref()).await {
            Ok(()) => {}
            Err(sns::Unverified::Invalid(why)) => {
                return unauthorized(Source::Aws, &format!("SNS signature: {why}"));
            }
            Err(sns::Unverified::Unavailable(why)) => {
                // SNS retries a 5xx, never a 4xx: the event must come again
                tracing::warn!(error = %why, "SNS signing certificate unavailable; asking SNS to retry");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(
                        json!({ "error": format!("SNS signing certificate unavailable: {why}") }),
                    ),
                )
                    .into_response();
            }
        }
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => confirm(&h, &envelope).await,
        "UnsubscribeConfirmation" => {
            tracing::warn!(topic = envelope.topic_arn, "SNS unsubscribed this endpoint");
            (StatusCode::OK, axum::Json(json!({ "outcome": "logged" }))).into_response()
        }
        "Notification" => {
            let (kind, intake) = match serde_json::from_str::<Value>(&envelope.message) {
                Ok(inner) if detail_type(&inner).is_some() => {
                    let kind = detail_type(&inner).unwrap_or_default().to_string();
                    match ci::aws::parse_event(inner) {
                        Ok(intake) => (kind, intake),
                        Err(e) => return malformed(Source::Aws, &e),
                    }
                }
                _ => ("sns:other".to_string(), Intake::Ignored),
            };
            let delivery = Delivery {
                source: Source::Aws,
                id: envelope.message_id.clone(),
                kind,
                intake,
            };
            store(&h, delivery).await
        }
        other => malformed(
            Source::Aws,
            &Malformed(format!("unknown SNS message Type `{other}`")),
        ),
    }
}

async fn confirm(h: &Hooks, envelope: &Envelope) -> Response {
    let url = envelope.subscribe_url.as_deref().unwrap_or_default();
    tracing::info!(
        topic = envelope.topic_arn,
        "SNS subscription confirmation received"
    );
    if !h.app.config.settings.webhooks.aws.confirm_subscriptions {
        tracing::info!(
            "not confirming: webhooks.aws.confirm_subscriptions is off; confirm it in the AWS console"
        );
        return (StatusCode::OK, axum::Json(json!({ "outcome": "logged" }))).into_response();
    }
    if !sns::is_sns_url(url) {
        return malformed(
            Source::Aws,
            &Malformed("SubscribeURL is not an SNS URL".into()),
        );
    }
    match h.sns.confirm(url).await {
        Ok(()) => {
            tracing::info!(topic = envelope.topic_arn, "SNS subscription confirmed");
            (
                StatusCode::OK,
                axum::Json(json!({ "outcome": "confirmed" })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = e, "SNS subscription confirmation failed");
            (
                StatusCode::BAD_GATEWAY,
                axum::Json(json!({ "error": "confirmation failed" })),
            )
                .into_response()
        }
    }
}

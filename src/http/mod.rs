//! The HTTP server (axum): health, metrics, the Slack and Discord endpoints
//! ([`slack`], [`discord`]), the CI/CD webhooks ([`webhooks`]), the
//! partners' incident API ([`incidents`]), inbound mail ([`mail`]), e-mail subscriptions ([`subscriptions`]) and the public status feed
//! ([`status`]). Every route shares the body-size limit
//! `http.max_body_bytes` (413 beyond it) and `http.request_timeout` (408);
//! [`serve`] runs the listener with its connection limits.

mod discord;
pub mod incidents;
pub mod mail;
mod reject;
mod replay;
pub mod serve;
mod slack;
mod subscriptions;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router, extract::DefaultBodyLimit};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

mod status;

use crate::app::App;
use crate::ci::sns::{CertSource, HttpSns};
use crate::store;

#[derive(Clone)]
struct HttpState {
    app: App,
    metrics: PrometheusHandle,
}

/// Builds the router.
pub fn router(app: App, metrics: PrometheusHandle) -> Router {
    let pace = crate::delivery::Pace::new(&app.config);
    router_with(app, metrics, Arc::new(HttpSns::default()), pace)
}

/// Builds the router with the given SNS certificate source (tests inject
/// one) and the platforms' per-channel pace, shared with the outbox.
pub fn router_with(
    app: App,
    metrics: PrometheusHandle,
    sns: Arc<dyn CertSource>,
    pace: crate::delivery::Pace,
) -> Router {
    let limit = app.config.settings.http.max_body_bytes;
    let app_timeout = app.config.http_limits.request_timeout;
    let client = reqwest::Client::builder()
        .user_agent(concat!("shipmate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .merge(status::routes())
        .with_state(HttpState {
            app: app.clone(),
            metrics,
        })
        .merge(slack::routes(app.clone(), client.clone(), pace.slack))
        .merge(discord::routes(app.clone(), client, pace.discord))
        .merge(incidents::routes(app.clone()))
        .merge(mail::routes(app.clone()))
        .merge(subscriptions::routes(app.clone()))
        .merge(webhooks::routes(app, sns))
        .layer(Extension(replay::Guard::default()))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            app_timeout,
        ))
}

async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    if s.app.db.ping().await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
    }
}

async fn metrics_text(State(s): State<HttpState>) -> impl IntoResponse {
    if let Ok(mut conn) = s.app.db.pool.acquire().await {
        if let Ok((pending, parked)) = store::outbox::depth(&mut conn).await {
            metrics::gauge!("shipmate_outbox_depth", "state" => "pending").set(pending as f64);
            metrics::gauge!("shipmate_outbox_depth", "state" => "parked").set(parked as f64);
        }
        if let Ok(pending) = store::jobs::count(&mut conn, "pending").await {
            metrics::gauge!("shipmate_jobs_pending").set(pending as f64);
        }
        if let Ok(breaches) = store::incident::breaches(&mut conn).await {
            for (severity, count) in breaches {
                metrics::gauge!("shipmate_incident_sla_breaches", "severity" => severity)
                    .set(count as f64);
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

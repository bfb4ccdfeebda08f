//! `POST /slack/commands`, `/slack/interactions`, `/slack/events`: verify
//! the v0 signature on the raw body, decode the form, and hand the payload
//! to the shared core ([`Inbound`]), whose [`Answer`] becomes the HTTP
//! response (an empty 200 for a bare acknowledgement). `url_verification`
//! is answered here: it only exists over HTTP.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};
use serde_json::json;

use super::reject::Rejection;
use super::replay::Guard;
use crate::app::App;
use crate::platform::signature;
use crate::platform::slack::inbound::{Answer, Inbound};
use crate::platform::slack::wire::{Interaction, InteractionForm, SlashCommand};

/// The Slack routes.
pub fn routes(app: App, client: reqwest::Client) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(Inbound::new(app, client))
}

type Answered = Result<Response, Rejection>;

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Ack => StatusCode::OK.into_response(),
        Answer::Body(body) => Json(body).into_response(),
    }
}

fn verify(s: &Inbound, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let app = s.app();
    let slack = &app.config.settings.slack;
    if !slack.enabled {
        return Err(Rejection::disabled("Slack", "slack.enabled"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify_slack(
        slack.signing_secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        app.clock.now().timestamp(),
    )?;
    Ok(())
}

/// Refuses a replay of a request already run (see [`super::replay`]).
async fn first_time(
    s: &Inbound,
    guard: &Guard,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Rejection> {
    let timestamp = headers
        .get("x-slack-request-timestamp")
        .and_then(|v| v.to_str().ok());
    super::replay::first_time(s.app(), guard, "slack", timestamp, body).await
}

async fn commands(
    State(s): State<Inbound>,
    Extension(guard): Extension<Guard>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    slash_command(&s, &guard, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn slash_command(s: &Inbound, guard: &Guard, headers: &HeaderMap, body: &[u8]) -> Answered {
    verify(s, headers, body)?;
    let cmd: SlashCommand = serde_urlencoded::from_bytes(body)
        .map_err(|e| Rejection::malformed(format!("slash command form: {e}")))?;
    first_time(s, guard, headers, body).await?;
    Ok(respond(s.slash_command(cmd).await?))
}

async fn interactions(
    State(s): State<Inbound>,
    Extension(guard): Extension<Guard>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    interaction(&s, &guard, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn interaction(s: &Inbound, guard: &Guard, headers: &HeaderMap, body: &[u8]) -> Answered {
    verify(s, headers, body)?;
    let form: InteractionForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| Rejection::malformed(format!("interaction form: {e}")))?;
    let payload: Interaction = serde_json::from_str(&form.payload)
        .map_err(|e| Rejection::malformed(format!("interaction payload: {e}")))?;
    first_time(s, guard, headers, body).await?;
    Ok(respond(s.interaction(payload).await?))
}

async fn events(State(s): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    event(&s, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn event(s: &Inbound, headers: &HeaderMap, body: &[u8]) -> Answered {
    verify(s, headers, body)?;
    let event: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Rejection::malformed(format!("event body is not JSON: {e}")))?;
    match event["type"].as_str() {
        Some("url_verification") => {
            let challenge = event["challenge"]
                .as_str()
                .ok_or_else(|| Rejection::malformed("url_verification has no challenge"))?;
            Ok(Json(json!({"challenge": challenge})).into_response())
        }
        Some(_) => Ok(StatusCode::OK.into_response()),
        None => Err(Rejection::malformed("event has no type")),
    }
}

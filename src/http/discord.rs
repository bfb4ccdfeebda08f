//! `POST /discord/interactions`: verify the Ed25519 signature on the raw
//! body, decode the interaction, and hand it to the shared core
//! ([`Inbound`]); the interaction response it returns is the HTTP body, or,
//! when the core answered through the callback endpoint (a reply with
//! follow-ups), 202 with no body, as Discord asks.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};

use std::sync::Arc;

use super::reject::Rejection;
use super::replay::Guard;
use crate::app::App;
use crate::delivery::ChannelLimiter;
use crate::platform::discord::inbound::{Inbound, Response as Answer};
use crate::platform::discord::wire::Interaction;
use crate::platform::signature;

/// The Discord route.
pub fn routes(app: App, client: reqwest::Client, pace: Arc<ChannelLimiter>) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(Inbound::new(app, client, pace))
}

fn verify(s: &Inbound, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let app = s.app();
    let discord = &app.config.settings.discord;
    if !discord.enabled {
        return Err(Rejection::disabled("Discord", "discord.enabled"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify_discord(
        &discord.public_key,
        header("x-signature-timestamp"),
        header("x-signature-ed25519"),
        body,
        app.clock.now().timestamp(),
    )?;
    Ok(())
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

async fn interaction(
    s: &Inbound,
    guard: &Guard,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Rejection> {
    verify(s, headers, body)?;
    let i: Interaction = serde_json::from_slice(body)
        .map_err(|e| Rejection::malformed(format!("interaction: {e}")))?;
    let timestamp = headers
        .get("x-signature-timestamp")
        .and_then(|v| v.to_str().ok());
    super::replay::first_time(s.app(), guard, "discord", timestamp, body).await?;
    Ok(match s.interaction(&i).await? {
        Answer::Body(body) => Json(body).into_response(),
        // answered through the callback endpoint, as Discord asks: 202, no body
        Answer::Answered => StatusCode::ACCEPTED.into_response(),
    })
}

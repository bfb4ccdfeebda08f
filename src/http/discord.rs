//! `POST /discord/interactions`: verify the Ed25519 signature on the raw
//! body, decode the interaction, and hand it to the shared core
//! ([`Inbound`]); the interaction response it returns is the HTTP body.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};

use super::reject::Rejection;
use super::replay::Guard;
use crate::app::App;
use crate::platform::discord::inbound::Inbound;
use crate::platform::discord::wire::Interaction;
use crate::platform::signature;

/// The Discord route.
pub fn routes(app: App, client: reqwest::Client) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(Inbound::new(app, client))
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
    Ok(Json(s.interaction(&i).await?).into_response())
}

//! `POST /discord/interactions`: verify the Ed25519 signature on the raw
//! body, answer PING, and run application commands, button clicks and
//! modal submissions through the one dispatcher. Replies are type 4
//! (flag 64 unless the reply is for the channel); a button whose command
//! leaves a value to fill answers with a modal (type 9). A command still
//! running after 2.5 s is deferred (type 5) and its reply edited in later.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::answer::{ANSWER_WITHIN, Outcome, dispatch_within, finish};
use super::reject::Rejection;
use crate::app::{App, Invocation, Reply};
use crate::platform::command_text::{self, template};
use crate::platform::discord::render::{self, DEFERRED_CHANNEL_MESSAGE, PONG};
use crate::platform::discord::wire::{
    APPLICATION_COMMAND, CommandData, Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, PING,
};
use crate::platform::discord::{command_text as options_text, modal_values};
use crate::platform::signature;

#[derive(Clone)]
struct DiscordState {
    app: App,
    client: reqwest::Client,
}

/// The Discord route.
pub fn routes(app: App, client: reqwest::Client) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(DiscordState { app, client })
}

type Answer = Result<Response, Rejection>;

fn verify(s: &DiscordState, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let discord = &s.app.config.settings.discord;
    if !discord.enabled {
        return Err(Rejection::disabled("Discord", "discord.enabled"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify_discord(
        &discord.public_key,
        header("x-signature-timestamp"),
        header("x-signature-ed25519"),
        body,
        s.app.clock.now().timestamp(),
    )?;
    Ok(())
}

async fn interactions(State(s): State<DiscordState>, headers: HeaderMap, body: Bytes) -> Response {
    interaction(&s, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn private(text: &str) -> Answer {
    Ok(Json(render::note(text)).into_response())
}

async fn interaction(s: &DiscordState, headers: &HeaderMap, body: &[u8]) -> Answer {
    verify(s, headers, body)?;
    let i: Interaction = serde_json::from_slice(body)
        .map_err(|e| Rejection::malformed(format!("interaction: {e}")))?;
    let empty = CommandData::default();
    let data = i.data.as_ref().unwrap_or(&empty);
    match i.kind {
        PING => Ok(Json(json!({"type": PONG})).into_response()),
        APPLICATION_COMMAND => match options_text(data) {
            Ok(text) => run(s, &i, text).await,
            Err(e) => private(&format!("{e}: see /help")),
        },
        MESSAGE_COMPONENT => {
            let raw = data.custom_id.as_deref().unwrap_or_default();
            let Some(command) = super::button_command(&s.app, raw).await else {
                return private(
                    "This button does not carry a shipmate command (it may come from an older message): type the command instead.",
                );
            };
            let custom_id = command.as_str();
            match template(custom_id) {
                Some(form) => match render::modal(&form) {
                    Some(modal) => Ok(Json(modal).into_response()),
                    None => private(&format!(
                        "This form is too long for Discord: type the command instead: {custom_id}"
                    )),
                },
                None => run(s, &i, custom_id.to_string()).await,
            }
        }
        MODAL_SUBMIT => {
            let base = data.custom_id.as_deref().unwrap_or_default();
            if !base.starts_with('/') {
                return Err(Rejection::malformed(
                    "modal submission without a shipmate command",
                ));
            }
            let text = command_text::append(base, &modal_values(&data.components));
            run(s, &i, text).await
        }
        other => Err(Rejection::malformed(format!(
            "interaction type {other} is not handled by shipmate (1 ping, 2 command, 3 button, 5 modal)"
        ))),
    }
}

async fn run(s: &DiscordState, i: &Interaction, text: String) -> Answer {
    let user_id = i.user_id().ok_or_else(|| {
        Rejection::malformed("interaction names no user (member.user.id or user.id)")
    })?;
    let channel_id = i
        .channel_id()
        .ok_or_else(|| Rejection::malformed("interaction names no channel (channel_id)"))?;
    let user = format!("discord:{user_id}")
        .parse()
        .map_err(|_| Rejection::malformed(format!("`{user_id}` is not a Discord user id")))?;
    let channel = format!("discord:{channel_id}")
        .parse()
        .map_err(|_| Rejection::malformed(format!("`{channel_id}` is not a Discord channel id")))?;
    let inv = Invocation {
        user,
        platform_roles: i.roles(),
        channel,
        text,
    };
    let tz = s.app.config.tz;
    Ok(match dispatch_within(&s.app, inv, ANSWER_WITHIN).await {
        Outcome::Done(reply) => Json(render::reply(&reply, tz)).into_response(),
        Outcome::Late(handle) => {
            let s = s.clone();
            let application_id = i
                .application_id
                .clone()
                .unwrap_or_else(|| s.app.config.settings.discord.application_id.clone());
            let token = i.token.clone().unwrap_or_default();
            tokio::spawn(async move {
                let reply = finish(handle).await;
                edit_original(&s, &application_id, &token, &reply).await;
            });
            Json(json!({"type": DEFERRED_CHANNEL_MESSAGE})).into_response()
        }
    })
}

/// Replaces a deferred response with the reply.
async fn edit_original(s: &DiscordState, application_id: &str, token: &str, reply: &Reply) {
    let base = s
        .app
        .config
        .settings
        .discord
        .api_base_url
        .trim_end_matches('/');
    let url = format!("{base}/webhooks/{application_id}/{token}/messages/@original");
    let body = render::message_data(reply, s.app.config.tz);
    match s.client.patch(&url).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "Discord refused a deferred reply"),
        Err(e) => {
            tracing::warn!(error = %e.without_url(), "could not send a deferred Discord reply")
        }
    }
}

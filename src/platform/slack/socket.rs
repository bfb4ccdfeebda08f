//! Slack Socket Mode (`slack.socket_mode = true`): slack-morphism's
//! listener opens a websocket with `apps.connections.open` (app token,
//! through `slack.api_base_url`) and hands us slash commands, interactions
//! and events. Each is turned into the same wire type the HTTP endpoints
//! decode and run through the same core ([`Inbound`]). Every envelope is
//! acknowledged at once and its work runs behind the ack, answering on
//! `response_url`: the library handles a socket's envelopes one at a time,
//! so a slow command must not hold the next one past Slack's 3 seconds.
//! A long reply's pages go to `response_url` one after the other (see
//! [`Inbound::slash_command_acked`]).
//! Only a form the grammar refuses is answered in the ack (field errors).
//! Events are acknowledged: shipmate acts on none yet, like `POST /slack/events`.
//!
//! There are no signatures to check here: the socket itself is
//! authenticated by the app token.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use slack_morphism::prelude::*;

use super::inbound::{Answer, Inbound};
use super::render;
use super::wire::{Interaction, SlashCommand};
use crate::app::App;
use crate::delivery::ChannelLimiter;
use crate::platform::answer::Malformed;

/// slack-morphism's callback error type (its own alias is crate-private).
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Re-reads a payload slack-morphism parsed into the shape the HTTP path decodes.
fn rewire<T: DeserializeOwned>(typed: &impl Serialize, what: &str) -> Result<T, Malformed> {
    serde_json::to_value(typed)
        .and_then(serde_json::from_value)
        .map_err(|e| Malformed(format!("{what}: {e}")))
}

/// A Socket Mode slash command as the HTTP path's [`SlashCommand`].
pub fn slash_command(event: &SlackCommandEvent) -> Result<SlashCommand, Malformed> {
    rewire(event, "slash command")
}

/// A Socket Mode interaction as the HTTP path's [`Interaction`].
pub fn interaction(event: &SlackInteractionEvent) -> Result<Interaction, Malformed> {
    rewire(event, "interaction payload")
}

/// The ack payload of a slash command.
pub fn command_ack(answer: Answer) -> Result<Option<SlackCommandEventResponse>, Malformed> {
    match answer {
        Answer::Ack => Ok(None),
        Answer::Body(body) => serde_json::from_value(body)
            .map(Some)
            .map_err(|e| Malformed(format!("reply does not fit a Slack command response: {e}"))),
    }
}

/// The ack payload of an interaction.
pub fn interaction_ack(answer: Answer) -> Result<SlackInteractionResponse, Malformed> {
    match answer {
        Answer::Ack => Ok(SlackInteractionResponse::Empty),
        Answer::Body(body) => serde_json::from_value::<SlackViewSubmissionResponse>(body)
            .map(SlackInteractionResponse::ViewSubmission)
            .map_err(|e| Malformed(format!("answer does not fit a view response: {e}"))),
    }
}

/// Acknowledges a Socket Mode slash command at once (`None`: a bare ack)
/// and runs it behind the ack; its reply goes to `response_url`.
/// slack-morphism handles one envelope of a socket at a time, so an ack that
/// waited for the command could make the next envelope miss Slack's 3 s.
pub async fn handle_command(
    inbound: &Inbound,
    event: SlackCommandEvent,
) -> Option<SlackCommandEventResponse> {
    match slash_command(&event) {
        Ok(cmd) => {
            let inbound = inbound.clone();
            tokio::spawn(async move { inbound.slash_command_acked(cmd).await });
            None
        }
        // A slash command always deserves an answer the user can read.
        Err(e) => {
            tracing::warn!(error = %e, "a Slack command over Socket Mode could not be read");
            command_ack(Answer::Body(render::note(&e.to_string()))).unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not answer a Slack command over Socket Mode");
                None
            })
        }
    }
}

/// Acknowledges a Socket Mode interaction at once
/// ([`SlackInteractionResponse::Empty`] is a bare ack) and runs it behind
/// the ack; only a form the grammar refuses is answered in the ack.
pub async fn handle_interaction(
    inbound: &Inbound,
    event: SlackInteractionEvent,
) -> SlackInteractionResponse {
    let answer = interaction(&event).map(|payload| inbound.interaction_acked(payload));
    answer.and_then(interaction_ack).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a Slack interaction over Socket Mode was not handled");
        SlackInteractionResponse::Empty
    })
}

/// Answers nothing: ack without payload (slack-morphism's error path with a 2xx).
#[derive(Debug)]
struct NoPayload;

impl std::fmt::Display for NoPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("acknowledged without a payload")
    }
}

impl std::error::Error for NoPayload {}

async fn inbound_of(states: &SlackClientEventsUserState) -> Result<Inbound, BoxError> {
    let storage = states.read().await;
    storage
        .get_user_state::<Inbound>()
        .cloned()
        .ok_or_else(|| Box::new(Malformed::new("Socket Mode listener has no state")) as BoxError)
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let inbound = inbound_of(&states).await?;
    handle_command(&inbound, event)
        .await
        .ok_or_else(|| Box::new(NoPayload) as BoxError)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let inbound = inbound_of(&states).await?;
    Ok(handle_interaction(&inbound, event).await)
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    tracing::debug!(event = ?event.event, "Slack event over Socket Mode acknowledged");
    Ok(())
}

/// Every callback error is acknowledged: Slack redelivering it would not help.
fn on_error(
    err: BoxError,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    if !err.is::<NoPayload>() {
        tracing::warn!(error = %err, "Slack Socket Mode");
    }
    HttpStatusCode::OK
}

/// The Web API connector, pointed at `api_base_url`. TLS always; plain
/// `http://` only when the base URL asks for it (a local proxy or test server).
pub fn connector(api_base_url: &str) -> anyhow::Result<SlackClientHyperHttpsConnector> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?;
    let https = if api_base_url.starts_with("http://") {
        builder.https_or_http().enable_http1().build()
    } else {
        builder.https_only().enable_http1().enable_http2().build()
    };
    Ok(SlackClientHyperConnector::from(https)
        .with_slack_api_url(api_base_url.trim_end_matches('/')))
}

/// Shuts the websocket clients down when the task holding them ends.
struct ShutdownOnDrop(Arc<SlackClientSocketModeListener<SlackClientHyperHttpsConnector>>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let listener = self.0.clone();
            runtime.spawn(async move { listener.shutdown().await });
        }
    }
}

/// Connects and serves until the task is dropped; the library reconnects on its own.
/// `pace`: Slack's per-channel limiter, shared with the outbox.
pub async fn run(
    app: App,
    client: reqwest::Client,
    pace: Arc<ChannelLimiter>,
) -> anyhow::Result<()> {
    let slack = &app.config.settings.slack;
    let token = SlackApiToken::new(SlackApiTokenValue::new(
        slack.app_token.expose().to_string(),
    ));
    let api = Arc::new(SlackClient::new(connector(&slack.api_base_url)?));
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(api)
            .with_error_handler(on_error)
            .with_user_state(Inbound::new(app.clone(), client, pace)),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let listener = Arc::new(SlackClientSocketModeListener::new(
        &SlackClientSocketModeConfig::new(),
        environment,
        callbacks,
    ));
    listener
        .listen_for(&token)
        .await
        .map_err(|e| anyhow::anyhow!("Slack Socket Mode: {e}"))?;
    let _shutdown = ShutdownOnDrop(listener.clone());
    listener.start().await;
    tracing::info!("Slack Socket Mode listener started");
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
#[path = "socket_tests.rs"]
mod tests;

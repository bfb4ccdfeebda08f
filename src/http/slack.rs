//! `POST /slack/commands`, `/slack/interactions`, `/slack/events`: verify
//! the v0 signature on the raw body, decode the form, and hand the payload
//! to the shared core ([`Inbound`]), whose [`Answer`] becomes the HTTP
//! response (an empty 200 for a bare acknowledgement). `url_verification`
//! is answered here: it only exists over HTTP.
//!
//! A slash command's reply longer than one message answers with its first
//! page, and its [`Continuation`] starts once that body has been handed to
//! the connection ([`ThenContinue`]): the pages after it never overtake it.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};
use futures_util::Stream;
use serde_json::{Value, json};

use super::reject::Rejection;
use super::replay::Guard;
use crate::app::App;
use crate::delivery::ChannelLimiter;
use crate::platform::signature;
use crate::platform::slack::inbound::{Answer, Continuation, Inbound};
use crate::platform::slack::wire::{Interaction, InteractionForm, SlashCommand};

/// The Slack routes.
pub fn routes(app: App, client: reqwest::Client, pace: Arc<ChannelLimiter>) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(Inbound::new(app, client, pace))
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
    let (answer, then) = s.slash_command(cmd).await?;
    Ok(match answer {
        Answer::Body(body) if !then.is_empty() => continued(body, then),
        answer => {
            // nothing follows an acknowledgement or a note but what is already on its way
            then.start();
            respond(answer)
        }
    })
}

/// The JSON answer `body`, with `then` started once the body is sent.
fn continued(body: Value, then: Continuation) -> Response {
    let bytes = match serde_json::to_vec(&body) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            tracing::error!(error = %e, "a Slack reply could not be written");
            then.start();
            return StatusCode::OK.into_response();
        }
    };
    let length = HeaderValue::from(bytes.len());
    let stream = ThenContinue {
        bytes: Some(bytes),
        first: Some(body),
        then: Some(then),
    };
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    response
}

/// An answer's body that starts the reply's continuation when it is done
/// with: after its bytes went to the connection, the pages after it; if
/// it is dropped unsent (the connection went away), the whole reply, its
/// first page included, through `response_url`.
struct ThenContinue {
    bytes: Option<Bytes>,
    first: Option<Value>,
    then: Option<Continuation>,
}

impl Stream for ThenContinue {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().bytes.take().map(Ok))
    }
}

impl Drop for ThenContinue {
    fn drop(&mut self) {
        let Some(then) = self.then.take() else {
            return;
        };
        match (self.bytes.is_none(), self.first.take()) {
            (false, Some(first)) => then.after(first).start(),
            _ => then.start(),
        }
    }
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

//! `POST /slack/commands`, `/slack/interactions`, `/slack/events`: verify
//! the v0 signature on the raw body, translate to an
//! [`Invocation`](crate::app::Invocation), dispatch, answer within 3 s.
//!
//! Replies: a slash command's reply is the HTTP body (`in_channel` for state
//! changes, `ephemeral` otherwise). A button click or form submission is
//! acknowledged with an empty 200 once the command has run, and its reply is
//! posted to the interaction's `response_url` (same visibility rule). A
//! button whose command leaves a value to fill (`reason:"…"`), and a bare
//! `/delete-request`, open a form with `views.open`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::answer::{ANSWER_WITHIN, Outcome, dispatch_within, finish};
use super::reject::Rejection;
use crate::app::{App, Invocation, Reply, Status};
use crate::domain::{ChannelRef, UserRef};
use crate::grammar::find_command;
use crate::platform::command_text::{self, NamedValue, Template};
use crate::platform::signature;
use crate::platform::slack::wire::{
    BlockActions, FormMeta, Interaction, InteractionForm, SlashCommand, ViewSubmission,
};
use crate::platform::slack::{FORM_CALLBACK, FORM_INPUT, api, render};

#[derive(Clone)]
struct SlackState {
    app: App,
    client: reqwest::Client,
}

/// The Slack routes.
pub fn routes(app: App, client: reqwest::Client) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(SlackState { app, client })
}

type Answer = Result<Response, Rejection>;

fn verify(s: &SlackState, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let slack = &s.app.config.settings.slack;
    if !slack.enabled {
        return Err(Rejection::disabled("Slack", "slack.enabled"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify_slack(
        slack.signing_secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        s.app.clock.now().timestamp(),
    )?;
    Ok(())
}

fn identities(user_id: &str, channel_id: &str) -> Result<(UserRef, ChannelRef), Rejection> {
    let user = format!("slack:{user_id}")
        .parse()
        .map_err(|_| Rejection::malformed(format!("`{user_id}` is not a Slack user id")))?;
    let channel = format!("slack:{channel_id}")
        .parse()
        .map_err(|_| Rejection::malformed(format!("`{channel_id}` is not a Slack channel id")))?;
    Ok((user, channel))
}

/// Posts a reply to a `response_url` in the background.
fn follow_up(s: &SlackState, response_url: Option<String>, reply: Reply) {
    let Some(url) = response_url else {
        tracing::warn!("a Slack interaction without response_url: its reply is dropped");
        return;
    };
    let client = s.client.clone();
    let body = render::follow_up_body(&reply, s.app.config.tz);
    tokio::spawn(async move {
        if let Err(e) = api::respond(&client, &url, &body).await {
            tracing::warn!(error = %e, "could not answer a Slack interaction");
        }
    });
}

/// Posts the reply of a command that may still be running.
fn follow_up_outcome(s: &SlackState, response_url: Option<String>, outcome: Outcome) {
    match outcome {
        Outcome::Done(reply) => follow_up(s, response_url, reply),
        Outcome::Late(handle) => {
            let s = s.clone();
            tokio::spawn(async move {
                let reply = finish(handle).await;
                follow_up(&s, response_url, reply);
            });
        }
    }
}

async fn open_form(
    s: &SlackState,
    trigger_id: &str,
    template: &Template,
    meta: &FormMeta,
) -> Result<(), String> {
    let slack = &s.app.config.settings.slack;
    let view = render::form_view(template, meta);
    api::open_view(
        &s.client,
        &slack.api_base_url,
        slack.bot_token.expose(),
        trigger_id,
        &view,
    )
    .await
}

async fn commands(State(s): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    slash_command(&s, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn slash_command(s: &SlackState, headers: &HeaderMap, body: &[u8]) -> Answer {
    verify(s, headers, body)?;
    let cmd: SlashCommand = serde_urlencoded::from_bytes(body)
        .map_err(|e| Rejection::malformed(format!("slash command form: {e}")))?;
    let (user, channel) = identities(&cmd.user_id, &cmd.channel_id)?;
    if cmd.text.trim().is_empty()
        && let (Some(form), Some(trigger)) = (
            command_text::form_for_bare(&cmd.command),
            cmd.trigger_id.as_deref(),
        )
    {
        let meta = FormMeta {
            base: form.base.clone(),
            channel: cmd.channel_id.clone(),
            response_url: cmd.response_url.clone(),
        };
        return Ok(match open_form(s, trigger, &form, &meta).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => {
                tracing::warn!(error = %e, "could not open a Slack form");
                let usage = find_command(&cmd.command)
                    .map(|c| c.usage())
                    .unwrap_or_default();
                Json(render::note(&format!(
                    "I could not open the form ({e}). Type the command with its values instead:\n{usage}"
                )))
                .into_response()
            }
        });
    }
    let text = format!("/{} {}", cmd.command.trim_start_matches('/'), cmd.text);
    let inv = Invocation {
        user,
        platform_roles: Vec::new(),
        channel,
        text: text.trim().to_string(),
    };
    let tz = s.app.config.tz;
    Ok(match dispatch_within(&s.app, inv, ANSWER_WITHIN).await {
        Outcome::Done(reply) => Json(render::reply_body(&reply, tz)).into_response(),
        Outcome::Late(handle) => {
            follow_up_outcome(s, cmd.response_url, Outcome::Late(handle));
            Json(render::note(
                "Working on it: the answer follows here in a moment.",
            ))
            .into_response()
        }
    })
}

async fn interactions(State(s): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    interaction(&s, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn interaction(s: &SlackState, headers: &HeaderMap, body: &[u8]) -> Answer {
    verify(s, headers, body)?;
    let form: InteractionForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| Rejection::malformed(format!("interaction form: {e}")))?;
    let payload: Interaction = serde_json::from_str(&form.payload)
        .map_err(|e| Rejection::malformed(format!("interaction payload: {e}")))?;
    match payload {
        Interaction::BlockActions(a) => block_actions(s, a).await,
        Interaction::ViewSubmission(v) => view_submission(s, v).await,
        Interaction::Other => Ok(StatusCode::OK.into_response()),
    }
}

async fn block_actions(s: &SlackState, a: BlockActions) -> Answer {
    let channel_id = a
        .channel_id()
        .ok_or_else(|| Rejection::malformed("block_actions names no channel"))?
        .to_string();
    let (user, channel) = identities(&a.user.id, &channel_id)?;
    let value = a
        .actions
        .iter()
        .find_map(|x| x.value.as_deref())
        .unwrap_or_default();
    let command = super::button_command(&s.app, value).await.ok_or_else(|| {
        Rejection::malformed("the clicked action carries no shipmate command in its value")
    })?;
    if let Some(template) = command_text::template(&command) {
        let trigger = a.trigger_id.as_deref().ok_or_else(|| {
            Rejection::malformed("block_actions has no trigger_id to open the form with")
        })?;
        let meta = FormMeta {
            base: template.base.clone(),
            channel: channel_id,
            response_url: a.response_url.clone(),
        };
        if let Err(e) = open_form(s, trigger, &template, &meta).await {
            tracing::warn!(error = %e, "could not open a Slack form");
            let note = Reply::error(
                Status::Failed,
                format!("I could not open the form ({e}). Type the command instead: {command}"),
            );
            follow_up(s, a.response_url, note);
        }
        return Ok(StatusCode::OK.into_response());
    }
    let inv = Invocation {
        user,
        platform_roles: Vec::new(),
        channel,
        text: command,
    };
    let outcome = dispatch_within(&s.app, inv, ANSWER_WITHIN).await;
    follow_up_outcome(s, a.response_url, outcome);
    Ok(StatusCode::OK.into_response())
}

async fn view_submission(s: &SlackState, v: ViewSubmission) -> Answer {
    if v.view.callback_id.as_deref() != Some(FORM_CALLBACK) {
        return Ok(StatusCode::OK.into_response());
    }
    let meta: FormMeta =
        serde_json::from_str(v.view.private_metadata.as_deref().unwrap_or_default())
            .map_err(|e| Rejection::malformed(format!("form private_metadata: {e}")))?;
    let (user, channel) = identities(&v.user.id, &meta.channel)?;
    let values: Vec<NamedValue> = v
        .view
        .state
        .values
        .iter()
        .filter_map(|(block, actions)| {
            let text = actions.get(FORM_INPUT)?.text()?;
            Some(NamedValue::new(block.clone(), text))
        })
        .collect();
    let inv = Invocation {
        user,
        platform_roles: Vec::new(),
        channel,
        text: command_text::append(&meta.base, &values),
    };
    Ok(match dispatch_within(&s.app, inv, ANSWER_WITHIN).await {
        Outcome::Done(reply) if reply.status != Status::Ok => {
            // keep the form open, with the problem shown on the field it names
            let text = reply.message.plain(s.app.config.tz);
            let field = v
                .view
                .state
                .values
                .keys()
                .find(|k| text.contains(&format!("`{k}`")))
                .or_else(|| v.view.state.values.keys().next())
                .cloned()
                .unwrap_or_default();
            Json(render::form_errors(&field, &text)).into_response()
        }
        outcome => {
            follow_up_outcome(s, meta.response_url, outcome);
            StatusCode::OK.into_response()
        }
    })
}

async fn events(State(s): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    event(&s, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn event(s: &SlackState, headers: &HeaderMap, body: &[u8]) -> Answer {
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

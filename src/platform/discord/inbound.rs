//! The Discord inbound core, shared by `POST /discord/interactions` and the
//! gateway: a decoded interaction is translated into an [`Invocation`],
//! dispatched, and answered with an interaction response (the HTTP body, or
//! the body of `POST /interactions/{id}/{token}/callback` over the gateway).
//!
//! PING → type 1; commands, button clicks and modal submissions → type 4
//! (flag 64 unless the reply is for the channel); a button whose command
//! leaves a value to fill → a modal (type 9). A command still running after
//! 2.5 s is deferred (type 5) and answered later through
//! `discord.api_base_url`.
//!
//! A deferred response's privacy is fixed when it is deferred (Discord
//! ignores flag 64 on a later edit), and the result is not known yet: the
//! deferral is ephemeral, so a refusal stays private. A private result is
//! edited into it; a result for the channel edits it into a short private
//! note and follows up with the result as a public message.
//!
//! A reply longer than one message goes on in follow-ups, which Discord
//! takes only once it has the interaction's response. So such a reply is
//! answered through the callback endpoint (`POST /interactions/{id}/{token}/callback`;
//! the HTTP request is then answered 202 with no body, [`Response::Answered`]),
//! and its follow-ups are sent after Discord took it, each after the one
//! before, paced by the channel's limiter (the one the outbox uses). Every
//! interaction webhook call honours Discord's rate limits: a bucket the
//! answer says is empty (`X-RateLimit-Remaining: 0`) holds the next call for
//! `X-RateLimit-Reset-After`, and a 429 is retried after its `retry_after`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{self, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, EPHEMERAL, PONG};
use super::wire::{
    APPLICATION_COMMAND, CommandData, Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, PING,
};
use super::{command_text as options_text, modal_values};
use crate::app::{App, Invocation, Reply};
use crate::delivery::ChannelLimiter;
use crate::delivery::wire::{bucket_exhausted, retry_after, seconds};
use crate::platform::answer::{
    ANSWER_WITHIN, Malformed, Outcome, button_command, dispatch_within, finish,
};
use crate::platform::command_text::{self, template};

/// How many times one interaction webhook call is made while Discord
/// answers 429 (each time after the wait it asks for).
const RATE_LIMITED_TRIES: u32 = 10;
/// How many times a follow-up is retried while Discord does not know the
/// interaction's webhook yet (10015: its response was answered in the HTTP
/// body because the callback failed, and Discord has not read it yet).
const UNKNOWN_WEBHOOK_TRIES: u32 = 4;
/// The first wait before such a retry (doubled each time).
const UNKNOWN_WEBHOOK_BACKOFF: Duration = Duration::from_millis(250);
/// Discord's "Unknown Webhook" error code.
const UNKNOWN_WEBHOOK: i64 = 10015;

/// How an interaction is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// With this interaction response: the HTTP body, or over the gateway the callback's body.
    Body(Value),
    /// Already, through the callback endpoint: the HTTP request is answered
    /// 202 with no body, and over the gateway nothing more is sent.
    Answered,
}

/// What a decoded interaction asks shipmate to run, before any database work.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Answer at once with this response (PING, or a problem told privately).
    Respond(Value),
    /// Run this command text.
    Run(String),
    /// A button: resolve its custom id (a command or an outbox reference) first.
    Button(String),
}

/// Reads an interaction: what to run, or what to answer straight away.
pub fn request(i: &Interaction) -> Result<Request, Malformed> {
    let empty = CommandData::default();
    let data = i.data.as_ref().unwrap_or(&empty);
    match i.kind {
        PING => Ok(Request::Respond(json!({"type": PONG}))),
        APPLICATION_COMMAND => Ok(match options_text(data) {
            Ok(text) => Request::Run(text),
            Err(e) => Request::Respond(render::note(&format!("{e}: see /help"))),
        }),
        MESSAGE_COMPONENT => Ok(Request::Button(data.custom_id.clone().unwrap_or_default())),
        MODAL_SUBMIT => {
            let base = data.custom_id.as_deref().unwrap_or_default();
            if !base.starts_with('/') {
                return Err(Malformed::new(
                    "modal submission without a shipmate command",
                ));
            }
            Ok(Request::Run(command_text::append(
                base,
                &modal_values(&data.components),
            )))
        }
        other => Err(Malformed(format!(
            "interaction type {other} is not handled by shipmate (1 ping, 2 command, 3 button, 5 modal)"
        ))),
    }
}

/// Who acted, and where, as an invocation of `text`.
pub fn invocation(i: &Interaction, text: String) -> Result<Invocation, Malformed> {
    let user_id = i
        .user_id()
        .ok_or_else(|| Malformed::new("interaction names no user (member.user.id or user.id)"))?;
    let channel_id = i
        .channel_id()
        .ok_or_else(|| Malformed::new("interaction names no channel (channel_id)"))?;
    let user = format!("discord:{user_id}")
        .parse()
        .map_err(|_| Malformed(format!("`{user_id}` is not a Discord user id")))?;
    let channel = format!("discord:{channel_id}")
        .parse()
        .map_err(|_| Malformed(format!("`{channel_id}` is not a Discord channel id")))?;
    Ok(Invocation {
        user,
        platform_roles: i.roles(),
        channel,
        text,
    })
}

/// The application, the HTTP client used for interaction webhooks, and
/// Discord's per-channel pace (shared with the outbox).
#[derive(Clone)]
pub struct Inbound {
    app: App,
    client: reqwest::Client,
    pace: Arc<ChannelLimiter>,
}

/// What Discord says about a refused call.
#[derive(Debug, Default, Deserialize)]
struct Refusal {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<f64>,
}

impl Inbound {
    /// `pace`: Discord's per-channel limiter, the one the outbox transport uses.
    pub fn new(app: App, client: reqwest::Client, pace: Arc<ChannelLimiter>) -> Self {
        Self { app, client, pace }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Answers one interaction: with an interaction response, or through
    /// the callback endpoint when follow-ups come after it.
    pub async fn interaction(&self, i: &Interaction) -> Result<Response, Malformed> {
        match request(i)? {
            Request::Respond(response) => Ok(Response::Body(response)),
            Request::Run(text) => self.run(i, text).await,
            Request::Button(raw) => {
                let Some(command) = button_command(&self.app, &raw).await else {
                    return Ok(Response::Body(render::note(
                        "This button does not carry a shipmate command (it may come from an older message): type the command instead.",
                    )));
                };
                match template(&command) {
                    Some(form) => Ok(Response::Body(render::modal(&form).unwrap_or_else(|| {
                        render::note(&format!(
                            "This form is too long for Discord: type the command instead: {command}"
                        ))
                    }))),
                    None => self.run(i, command).await,
                }
            }
        }
    }

    async fn run(&self, i: &Interaction, text: String) -> Result<Response, Malformed> {
        let inv = invocation(i, text)?;
        let channel = inv.channel.id.clone();
        let tz = self.app.config.tz;
        let webhook = self.webhook(i);
        Ok(match dispatch_within(&self.app, inv, ANSWER_WITHIN).await {
            Outcome::Done(reply) => {
                let mut pages = render::message_pages(&reply, tz).into_iter();
                let first = pages.next().unwrap_or_default();
                let rest: Vec<Value> = pages.collect();
                let response = json!({"type": CHANNEL_MESSAGE, "data": first});
                if rest.is_empty() {
                    return Ok(Response::Body(response));
                }
                // the follow-ups go once Discord has the response: send it ourselves
                let answered = self.callback(i, &response).await;
                self.pace.count(&channel);
                let me = self.clone();
                match answered {
                    Ok(wait) => {
                        tokio::spawn(async move {
                            me.follow_ups(&webhook, &channel, &rest, wait).await;
                        });
                        Response::Answered
                    }
                    Err(e) => {
                        // answered in the body instead: the follow-ups wait
                        // until Discord knows the webhook (10015 is retried)
                        tracing::warn!(error = %e, "could not answer an interaction through its callback");
                        tokio::spawn(async move {
                            me.follow_ups(&webhook, &channel, &rest, None).await;
                        });
                        Response::Body(response)
                    }
                }
            }
            Outcome::Late(handle) => {
                let me = self.clone();
                tokio::spawn(async move {
                    let reply = finish(handle).await;
                    me.answer_deferred(&webhook, &channel, &reply).await;
                });
                Response::Body(
                    json!({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}}),
                )
            }
        })
    }

    /// Answers the interaction through `POST /interactions/{id}/{token}/callback`;
    /// `Ok` once Discord took it, with how long its bucket asks the next call to wait.
    async fn callback(
        &self,
        i: &Interaction,
        response: &Value,
    ) -> Result<Option<Duration>, String> {
        let discord = &self.app.config.settings.discord;
        let (Some(id), Some(token)) = (i.id.as_deref(), i.token.as_deref()) else {
            return Err("the interaction has no id or token".into());
        };
        let url = format!(
            "{}/interactions/{id}/{token}/callback",
            discord.api_base_url.trim_end_matches('/')
        );
        self.send(Method::POST, &url, response).await
    }

    /// The interaction's webhook: `{api}/webhooks/{application id}/{token}`.
    fn webhook(&self, i: &Interaction) -> String {
        let discord = &self.app.config.settings.discord;
        let application_id = i
            .application_id
            .clone()
            .unwrap_or_else(|| discord.application_id.clone());
        format!(
            "{}/webhooks/{application_id}/{}",
            discord.api_base_url.trim_end_matches('/'),
            i.token.as_deref().unwrap_or_default()
        )
    }

    /// Posts follow-up messages, in order, each after the one before it was
    /// taken, paced by `channel`'s limiter and Discord's bucket (`wait`: what
    /// the call before asked for).
    async fn follow_ups(
        &self,
        webhook: &str,
        channel: &str,
        pages: &[Value],
        mut wait: Option<Duration>,
    ) {
        for page in pages {
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            self.pace.acquire(channel).await;
            match self.send(Method::POST, webhook, page).await {
                Ok(next) => wait = next,
                Err(e) => {
                    tracing::warn!(error = %e, "Discord refused an interaction follow-up");
                    return;
                }
            }
        }
    }

    /// Answers an (ephemeral) deferral: a private reply replaces it; a reply
    /// for the channel replaces it with a private note and follows up in
    /// public. Pages after the first follow up.
    async fn answer_deferred(&self, webhook: &str, channel: &str, reply: &Reply) {
        let pages = render::message_pages(reply, self.app.config.tz);
        let original = format!("{webhook}/messages/@original");
        if !reply.in_channel {
            let mut pages = pages.into_iter();
            let mut first = pages.next().unwrap_or_default();
            strip_flags(&mut first);
            match self.send(Method::PATCH, &original, &first).await {
                Ok(wait) => {
                    let rest: Vec<Value> = pages.collect();
                    self.follow_ups(webhook, channel, &rest, wait).await;
                }
                Err(e) => tracing::warn!(error = %e, "Discord refused an interaction reply"),
            }
            return;
        }
        let mut note = render::note("Done: the answer is posted in this channel.")["data"].take();
        strip_flags(&mut note);
        // posted even if the note failed: the result must reach the channel
        let wait = match self.send(Method::PATCH, &original, &note).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "Discord refused an interaction reply");
                None
            }
        };
        self.follow_ups(webhook, channel, &pages, wait).await;
    }

    /// Makes one interaction webhook call, waiting out a 429 (its
    /// `retry_after`) and, a few times, an unknown webhook. `Ok` once Discord
    /// took it, with how long its bucket asks the next call to wait.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Value,
    ) -> Result<Option<Duration>, String> {
        let (mut limited, mut unknown) = (0, 0);
        loop {
            let response = self
                .client
                .request(method.clone(), url)
                .json(body)
                .send()
                .await
                .map_err(|e| format!("no answer: {}", e.without_url()))?;
            let status = response.status();
            let headers = response.headers().clone();
            if status.is_success() {
                return Ok(bucket_exhausted(&headers));
            }
            let refusal: Refusal = response.json().await.unwrap_or_default();
            let wait = match (status.as_u16(), refusal.code) {
                (429, _) if limited + 1 < RATE_LIMITED_TRIES => {
                    limited += 1;
                    refusal
                        .retry_after
                        .and_then(seconds)
                        .or_else(|| retry_after(&headers))
                        .unwrap_or(Duration::from_secs(1))
                }
                (404, Some(UNKNOWN_WEBHOOK)) if unknown < UNKNOWN_WEBHOOK_TRIES => {
                    unknown += 1;
                    UNKNOWN_WEBHOOK_BACKOFF * 2_u32.pow(unknown - 1)
                }
                _ => {
                    return Err(format!(
                        "HTTP {status}: {} (code {})",
                        refusal.message.unwrap_or_default(),
                        refusal.code.unwrap_or_default()
                    ));
                }
            };
            tracing::debug!(%status, ?wait, "Discord asks to wait before this call again");
            tokio::time::sleep(wait).await;
        }
    }
}

/// An edit cannot change a message's privacy: it carries no flags.
fn strip_flags(data: &mut Value) {
    if let Some(fields) = data.as_object_mut() {
        fields.remove("flags");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/discord");

    fn fixture(name: &str) -> Interaction {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture");
        serde_json::from_str(&text).expect("interaction")
    }

    #[test]
    fn ping_is_answered_without_running_anything() {
        let i = fixture("ping.discord-interactions-js.json");
        assert_eq!(request(&i), Ok(Request::Respond(json!({"type": 1}))));
    }

    #[test]
    fn a_button_is_resolved_by_its_custom_id() {
        let mut i = fixture("message_component.button.discord-interactions-js.json");
        if let Some(d) = i.data.as_mut() {
            d.custom_id = Some("/delete-request approve DR-1".into());
        }
        assert_eq!(
            request(&i),
            Ok(Request::Button("/delete-request approve DR-1".into()))
        );
        assert!(
            invocation(&i, "/help".into()).is_err(),
            "the fixture names no user"
        );

        let mut i = fixture("application_command.chat_input.with-options.docs.json");
        i.kind = MESSAGE_COMPONENT;
        let inv = invocation(&i, "/help".into()).expect("invocation");
        assert_eq!(inv.user.to_string(), "discord:53908232506183680");
        assert_eq!(inv.channel.to_string(), "discord:645027906669510667");
    }

    #[test]
    fn a_modal_without_a_command_and_an_unknown_type_are_malformed() {
        let mut i = fixture("ping.discord-interactions-js.json");
        i.kind = MODAL_SUBMIT;
        assert!(request(&i).is_err());
        i.kind = 9;
        assert!(request(&i).is_err_and(|e| e.0.contains("type 9")));
    }
}

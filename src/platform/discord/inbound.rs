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

use serde_json::{Value, json};

use std::time::Duration;

use super::render::{self, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, EPHEMERAL, PONG};
use super::wire::{
    APPLICATION_COMMAND, CommandData, Interaction, MESSAGE_COMPONENT, MODAL_SUBMIT, PING,
};
use super::{command_text as options_text, modal_values};
use crate::app::{App, Invocation, Reply};
use crate::platform::answer::{
    ANSWER_WITHIN, Malformed, Outcome, button_command, dispatch_within, finish,
};
use crate::platform::command_text::{self, template};

/// How long a long reply's follow-ups wait for Discord to have its first page.
const CONTINUE_AFTER: Duration = Duration::from_millis(700);

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

/// The application and the HTTP client used to edit deferred replies.
#[derive(Clone)]
pub struct Inbound {
    app: App,
    client: reqwest::Client,
}

impl Inbound {
    pub fn new(app: App, client: reqwest::Client) -> Self {
        Self { app, client }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Answers one interaction with an interaction response.
    pub async fn interaction(&self, i: &Interaction) -> Result<Value, Malformed> {
        match request(i)? {
            Request::Respond(response) => Ok(response),
            Request::Run(text) => self.run(i, text).await,
            Request::Button(raw) => {
                let Some(command) = button_command(&self.app, &raw).await else {
                    return Ok(render::note(
                        "This button does not carry a shipmate command (it may come from an older message): type the command instead.",
                    ));
                };
                match template(&command) {
                    Some(form) => Ok(render::modal(&form).unwrap_or_else(|| {
                        render::note(&format!(
                            "This form is too long for Discord: type the command instead: {command}"
                        ))
                    })),
                    None => self.run(i, command).await,
                }
            }
        }
    }

    async fn run(&self, i: &Interaction, text: String) -> Result<Value, Malformed> {
        let inv = invocation(i, text)?;
        let tz = self.app.config.tz;
        let webhook = self.webhook(i);
        Ok(match dispatch_within(&self.app, inv, ANSWER_WITHIN).await {
            Outcome::Done(reply) => {
                let mut pages = render::message_pages(&reply, tz).into_iter();
                let first = pages.next().unwrap_or_default();
                let rest: Vec<Value> = pages.collect();
                if !rest.is_empty() {
                    // follow-ups exist once Discord has the response: wait for it
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(CONTINUE_AFTER).await;
                        me.follow_ups(&webhook, &rest).await;
                    });
                }
                json!({"type": CHANNEL_MESSAGE, "data": first})
            }
            Outcome::Late(handle) => {
                let me = self.clone();
                tokio::spawn(async move {
                    let reply = finish(handle).await;
                    me.answer_deferred(&webhook, &reply).await;
                });
                json!({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}})
            }
        })
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

    /// Posts follow-up messages, in order.
    async fn follow_ups(&self, webhook: &str, pages: &[Value]) {
        for page in pages {
            if !self.send(self.client.post(webhook), page).await {
                return;
            }
        }
    }

    /// Answers an (ephemeral) deferral: a private reply replaces it; a reply
    /// for the channel replaces it with a private note and follows up in
    /// public. Pages after the first follow up.
    async fn answer_deferred(&self, webhook: &str, reply: &Reply) {
        let pages = render::message_pages(reply, self.app.config.tz);
        let original = format!("{webhook}/messages/@original");
        if !reply.in_channel {
            let mut pages = pages.into_iter();
            let mut first = pages.next().unwrap_or_default();
            strip_flags(&mut first);
            if self.send(self.client.patch(&original), &first).await {
                self.follow_ups(webhook, &pages.collect::<Vec<_>>()).await;
            }
            return;
        }
        let mut note = render::note("Done: the answer is posted in this channel.")["data"].take();
        strip_flags(&mut note);
        self.send(self.client.patch(&original), &note).await;
        // posted even if the note failed: the result must reach the channel
        self.follow_ups(webhook, &pages).await;
    }

    /// Sends one interaction webhook call; whether Discord took it.
    async fn send(&self, request: reqwest::RequestBuilder, body: &Value) -> bool {
        match request.json(body).send().await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(status = %r.status(), "Discord refused an interaction reply");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "could not send an interaction reply");
                false
            }
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

//! The Slack inbound core, shared by the HTTP endpoints (`POST /slack/*`)
//! and Socket Mode: a decoded slash command or interaction is translated
//! into an [`Invocation`], dispatched, and answered. The transports only
//! verify and decode; what goes back in the 3-second window is an
//! [`Answer`] (the HTTP response body, or the Socket Mode ack payload).
//!
//! Replies: a slash command's reply is the answer itself (`in_channel` for
//! state changes, `ephemeral` otherwise). A button click or form submission
//! is acknowledged once the command has run, and its reply is posted to the
//! interaction's `response_url` (same visibility rule). A button whose
//! command leaves a value to fill (`reason:"…"`), and a bare
//! `/delete-request`, open a form with `views.open`. A failed form
//! submission keeps the form open with the problem on the field it names.

use serde_json::Value;

use super::wire::{BlockActions, FormMeta, Interaction, SlashCommand, ViewSubmission};
use super::{FORM_CALLBACK, FORM_INPUT, api, render};
use crate::app::features::find_command;
use crate::app::{App, Invocation, Reply, Status};
use crate::domain::{ChannelRef, UserRef};
use crate::platform::answer::{
    ANSWER_WITHIN, Malformed, Outcome, button_command, dispatch_within, finish,
};
use crate::platform::command_text::{self, NamedValue, Template};

/// What to send back to Slack inside its 3-second window.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A bare acknowledgement (HTTP 200 with no body; a Socket Mode ack with no payload).
    Ack,
    /// A JSON answer: a slash command's reply, or a form's `response_action`.
    Body(Value),
}

/// The application and the HTTP client used for `views.open` and `response_url`.
#[derive(Clone)]
pub struct Inbound {
    app: App,
    client: reqwest::Client,
}

/// The invoker and channel of a Slack payload, as shipmate addresses.
pub fn identities(user_id: &str, channel_id: &str) -> Result<(UserRef, ChannelRef), Malformed> {
    let user = format!("slack:{user_id}")
        .parse()
        .map_err(|_| Malformed(format!("`{user_id}` is not a Slack user id")))?;
    let channel = format!("slack:{channel_id}")
        .parse()
        .map_err(|_| Malformed(format!("`{channel_id}` is not a Slack channel id")))?;
    Ok((user, channel))
}

/// The command text of a slash command: `/<command> <text>`.
pub fn slash_text(cmd: &SlashCommand) -> String {
    format!("/{} {}", cmd.command.trim_start_matches('/'), cmd.text)
        .trim()
        .to_string()
}

/// The command text of a submitted shipmate form, or `None` for another app's view.
pub fn submission_text(v: &ViewSubmission) -> Result<Option<(FormMeta, String)>, Malformed> {
    if v.view.callback_id.as_deref() != Some(FORM_CALLBACK) {
        return Ok(None);
    }
    let meta: FormMeta =
        serde_json::from_str(v.view.private_metadata.as_deref().unwrap_or_default())
            .map_err(|e| Malformed(format!("form private_metadata: {e}")))?;
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
    let text = command_text::append(&meta.base, &values);
    Ok(Some((meta, text)))
}

impl Inbound {
    pub fn new(app: App, client: reqwest::Client) -> Self {
        Self { app, client }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Posts a reply to a `response_url` in the background.
    fn follow_up(&self, response_url: Option<String>, reply: Reply) {
        let Some(url) = response_url else {
            tracing::warn!("a Slack interaction without response_url: its reply is dropped");
            return;
        };
        let client = self.client.clone();
        let body = render::follow_up_body(&reply, self.app.config.tz);
        tokio::spawn(async move {
            if let Err(e) = api::respond(&client, &url, &body).await {
                tracing::warn!(error = %e, "could not answer a Slack interaction");
            }
        });
    }

    /// Posts the reply of a command that may still be running.
    fn follow_up_outcome(&self, response_url: Option<String>, outcome: Outcome) {
        match outcome {
            Outcome::Done(reply) => self.follow_up(response_url, reply),
            Outcome::Late(handle) => {
                let me = self.clone();
                tokio::spawn(async move {
                    let reply = finish(handle).await;
                    me.follow_up(response_url, reply);
                });
            }
        }
    }

    async fn open_form(
        &self,
        trigger_id: &str,
        template: &Template,
        meta: &FormMeta,
    ) -> Result<(), String> {
        let slack = &self.app.config.settings.slack;
        let view = render::form_view(template, meta);
        api::open_view(
            &self.client,
            &slack.api_base_url,
            slack.bot_token.expose(),
            trigger_id,
            &view,
        )
        .await
    }

    /// A slash command: its reply, a form, or an acknowledgement with the reply to follow.
    pub async fn slash_command(&self, cmd: SlashCommand) -> Result<Answer, Malformed> {
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
            return Ok(match self.open_form(trigger, &form, &meta).await {
                Ok(()) => Answer::Ack,
                Err(e) => {
                    tracing::warn!(error = %e, "could not open a Slack form");
                    let usage = find_command(&cmd.command)
                        .map(|c| c.usage())
                        .unwrap_or_default();
                    Answer::Body(render::note(&format!(
                        "I could not open the form ({e}). Type the command with its values instead:\n{usage}"
                    )))
                }
            });
        }
        let inv = Invocation {
            user,
            platform_roles: Vec::new(),
            channel,
            text: slash_text(&cmd),
        };
        let tz = self.app.config.tz;
        Ok(match dispatch_within(&self.app, inv, ANSWER_WITHIN).await {
            Outcome::Done(reply) => Answer::Body(render::reply_body(&reply, tz)),
            Outcome::Late(handle) => {
                self.follow_up_outcome(cmd.response_url, Outcome::Late(handle));
                Answer::Body(render::note(
                    "Working on it: the answer follows here in a moment.",
                ))
            }
        })
    }

    /// A button click or a form submission.
    pub async fn interaction(&self, payload: Interaction) -> Result<Answer, Malformed> {
        match payload {
            Interaction::BlockActions(a) => self.block_actions(a).await,
            Interaction::ViewSubmission(v) => self.view_submission(v).await,
            Interaction::Other => Ok(Answer::Ack),
        }
    }

    async fn block_actions(&self, a: BlockActions) -> Result<Answer, Malformed> {
        let channel_id = a
            .channel_id()
            .ok_or_else(|| Malformed::new("block_actions names no channel"))?
            .to_string();
        let (user, channel) = identities(&a.user.id, &channel_id)?;
        let value = a
            .actions
            .iter()
            .find_map(|x| x.value.as_deref())
            .unwrap_or_default();
        let command = button_command(&self.app, value).await.ok_or_else(|| {
            Malformed::new("the clicked action carries no shipmate command in its value")
        })?;
        if let Some(template) = command_text::template(&command) {
            let trigger = a.trigger_id.as_deref().ok_or_else(|| {
                Malformed::new("block_actions has no trigger_id to open the form with")
            })?;
            let meta = FormMeta {
                base: template.base.clone(),
                channel: channel_id,
                response_url: a.response_url.clone(),
            };
            if let Err(e) = self.open_form(trigger, &template, &meta).await {
                tracing::warn!(error = %e, "could not open a Slack form");
                let note = Reply::error(
                    Status::Failed,
                    format!("I could not open the form ({e}). Type the command instead: {command}"),
                );
                self.follow_up(a.response_url, note);
            }
            return Ok(Answer::Ack);
        }
        let inv = Invocation {
            user,
            platform_roles: Vec::new(),
            channel,
            text: command,
        };
        let outcome = dispatch_within(&self.app, inv, ANSWER_WITHIN).await;
        self.follow_up_outcome(a.response_url, outcome);
        Ok(Answer::Ack)
    }

    async fn view_submission(&self, v: ViewSubmission) -> Result<Answer, Malformed> {
        let Some((meta, text)) = submission_text(&v)? else {
            return Ok(Answer::Ack);
        };
        let (user, channel) = identities(&v.user.id, &meta.channel)?;
        let inv = Invocation {
            user,
            platform_roles: Vec::new(),
            channel,
            text,
        };
        Ok(match dispatch_within(&self.app, inv, ANSWER_WITHIN).await {
            Outcome::Done(reply) if reply.status != Status::Ok => {
                // keep the form open, with the problem shown on the field it names
                let text = reply.message.plain(self.app.config.tz);
                let field = v
                    .view
                    .state
                    .values
                    .keys()
                    .find(|k| text.contains(&format!("`{k}`")))
                    .or_else(|| v.view.state.values.keys().next())
                    .cloned()
                    .unwrap_or_default();
                Answer::Body(render::form_errors(&field, &text))
            }
            outcome => {
                self.follow_up_outcome(meta.response_url, outcome);
                Answer::Ack
            }
        })
    }
}

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

use std::time::Duration;

use serde_json::Value;

use super::wire::{BlockActions, FormMeta, Interaction, SlashCommand, ViewSubmission};
use super::{FORM_CALLBACK, FORM_INPUT, api, render, text};
use crate::app::features::{find_command, parse_line};
use crate::app::{App, Invocation, Reply, Status};
use crate::domain::{ChannelRef, UserRef};
use crate::platform::answer::{
    ANSWER_WITHIN, Malformed, Outcome, button_command, dispatch_within, finish,
};
use crate::platform::command_text::{self, NamedValue, Template};

/// How long a long reply's continuation waits for its first page, the
/// HTTP answer, to be shown.
const CONTINUE_AFTER: Duration = Duration::from_millis(500);

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

/// The command text of a slash command: `/<command> <text>`, its mentions,
/// links and entities decoded ([`text::decode`]).
pub fn slash_text(cmd: &SlashCommand) -> String {
    format!(
        "/{} {}",
        cmd.command.trim_start_matches('/'),
        text::decode(&cmd.text)
    )
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
            Some(NamedValue::new(block.clone(), text::decode(&text)))
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

    /// Runs `inv`, waiting at most `limit` for its reply (`None`: until it is done).
    async fn dispatch(&self, inv: Invocation, limit: Option<Duration>) -> Outcome {
        match limit {
            Some(limit) => dispatch_within(&self.app, inv, limit).await,
            None => Outcome::Done(self.app.dispatch(&inv).await),
        }
    }

    /// Posts a reply to a `response_url` in the background (all its pages).
    fn follow_up(&self, response_url: Option<String>, reply: Reply) {
        let config = &self.app.config;
        let bodies = render::follow_up_bodies(&reply, config.tz, &config.directory);
        self.post_all(response_url, bodies, Duration::ZERO);
    }

    /// Posts a body to a `response_url` in the background.
    fn post(&self, response_url: Option<String>, body: Value) {
        self.post_all(response_url, vec![body], Duration::ZERO);
    }

    /// Posts bodies to a `response_url` one after the other, after `delay`.
    fn post_all(&self, response_url: Option<String>, bodies: Vec<Value>, delay: Duration) {
        if bodies.is_empty() {
            return;
        }
        let Some(url) = response_url else {
            tracing::warn!("a Slack interaction without response_url: its reply is dropped");
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for body in bodies {
                if let Err(e) = api::respond(&client, &url, &body).await {
                    tracing::warn!(error = %e, "could not answer a Slack interaction");
                    return;
                }
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
        self.slash(cmd, Some(ANSWER_WITHIN)).await
    }

    /// Socket Mode: a slash command whose envelope is already acknowledged.
    /// It runs to the end, and its reply (or a problem) goes to `response_url`.
    pub async fn slash_command_acked(&self, cmd: SlashCommand) {
        let url = cmd.response_url.clone();
        let answer = self.slash(cmd, None).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a Slack command over Socket Mode could not be read");
            Answer::Body(render::note(&e.to_string()))
        });
        if let Answer::Body(body) = answer {
            self.post(url, body);
        }
    }

    /// Runs a slash command, waiting at most `limit` (`None`: to the end).
    async fn slash(&self, cmd: SlashCommand, limit: Option<Duration>) -> Result<Answer, Malformed> {
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
        let config = &self.app.config;
        Ok(match self.dispatch(inv, limit).await {
            Outcome::Done(reply) => {
                let mut bodies = render::reply_bodies(&reply, config.tz, &config.directory);
                let first = bodies.remove(0);
                // a long reply continues on response_url once the answer is shown
                self.post_all(cmd.response_url.clone(), bodies, CONTINUE_AFTER);
                Answer::Body(first)
            }
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
        let Some(command) = button_command(&self.app, value).await else {
            // answered like any click (HTTP 200), so Slack shows no error icon
            let note = Reply::error(
                Status::Invalid,
                "This button does not carry a shipmate command (it may come from an older message): type the command instead.",
            );
            self.follow_up(a.response_url, note);
            return Ok(Answer::Ack);
        };
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
                field_errors(&v, &reply.message.plain(self.app.config.tz))
            }
            outcome => {
                self.follow_up_outcome(meta.response_url, outcome);
                Answer::Ack
            }
        })
    }

    /// Socket Mode: the acknowledgement of an interaction, at once, with its
    /// work started behind it. A form whose values the grammar refuses stays
    /// open with the problem on its field (that check needs no database);
    /// everything else is acknowledged bare and answered on `response_url`.
    pub fn interaction_acked(&self, payload: Interaction) -> Answer {
        let me = self.clone();
        match payload {
            Interaction::ViewSubmission(v) => {
                let (meta, text) = match submission_text(&v) {
                    Ok(Some(found)) => found,
                    Ok(None) => return Answer::Ack,
                    Err(e) => {
                        tracing::warn!(error = %e, "a Slack form over Socket Mode could not be read");
                        return Answer::Ack;
                    }
                };
                if let Err(e) = parse_line(&text) {
                    return field_errors(&v, &e.to_string());
                }
                tokio::spawn(async move { me.submission_acked(v, meta, text).await });
                Answer::Ack
            }
            other => {
                tokio::spawn(async move {
                    if let Err(e) = me.interaction(other).await {
                        tracing::warn!(error = %e, "a Slack interaction over Socket Mode was not handled");
                    }
                });
                Answer::Ack
            }
        }
    }

    /// Runs an acknowledged form submission; its reply goes to `response_url`.
    async fn submission_acked(&self, v: ViewSubmission, meta: FormMeta, text: String) {
        let (user, channel) = match identities(&v.user.id, &meta.channel) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "a Slack form over Socket Mode could not be read");
                return;
            }
        };
        let inv = Invocation {
            user,
            platform_roles: Vec::new(),
            channel,
            text,
        };
        let outcome = self.dispatch(inv, None).await;
        self.follow_up_outcome(meta.response_url, outcome);
    }
}

/// A form kept open with `text` shown on the field it names (else the first).
fn field_errors(v: &ViewSubmission, text: &str) -> Answer {
    let field = v
        .view
        .state
        .values
        .keys()
        .find(|k| text.contains(&format!("`{k}`")))
        .or_else(|| v.view.state.values.keys().next())
        .cloned()
        .unwrap_or_default();
    Answer::Body(render::form_errors(&field, text))
}

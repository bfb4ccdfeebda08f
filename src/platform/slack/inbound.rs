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
//!
//! A reply longer than one message goes on in further messages: a
//! [`Continuation`], started only once the page before it is delivered (the
//! HTTP answer's body handed to the connection, or the previous
//! `response_url` post answered), each page paced by the channel's limiter
//! (the one the outbox uses: Slack takes about one message per second per
//! channel). Slack takes at most [`RESPONSE_URL_USES`] messages on one
//! `response_url` (within 30 minutes); what is left past that, or past a
//! `response_url` that stops taking messages, is posted through the outbox
//! as one message read whole (in parts, in a thread): to the channel for a
//! reply to the channel, to the person's direct messages for a private one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::wire::{BlockActions, FormMeta, Interaction, SlashCommand, ViewSubmission};
use super::{FORM_CALLBACK, FORM_INPUT, api, render, text};
use crate::app::features::{find_command, parse_line};
use crate::app::{App, Invocation, Reply, Status};
use crate::delivery::ChannelLimiter;
use crate::domain::{ChannelRef, UserRef};
use crate::platform::answer::{ANSWER_WITHIN, Malformed, Outcome, button_command, finish, within};
use crate::platform::command_text::{self, NamedValue, Template};
use crate::store;

/// How many messages Slack takes on one `response_url` (within 30 minutes
/// of the command; the HTTP answer is not one of them).
pub const RESPONSE_URL_USES: usize = 5;

/// What to send back to Slack inside its 3-second window.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A bare acknowledgement (HTTP 200 with no body; a Socket Mode ack with no payload).
    Ack,
    /// A JSON answer: a slash command's reply, or a form's `response_action`.
    Body(Value),
}

/// The application, the HTTP client used for `views.open` and
/// `response_url`, and Slack's per-channel pace (shared with the outbox).
#[derive(Clone)]
pub struct Inbound {
    app: App,
    client: reqwest::Client,
    pace: Arc<ChannelLimiter>,
    groups: Arc<Mutex<Option<GroupCache>>>,
}

/// Where a command's reply goes: its `response_url`, and who asked where
/// (for what the `response_url` cannot carry).
#[derive(Debug, Clone)]
struct Recipient {
    response_url: Option<String>,
    user: UserRef,
    channel: ChannelRef,
}

impl Recipient {
    fn new(response_url: Option<String>, user: &UserRef, channel: &ChannelRef) -> Self {
        Self {
            response_url,
            user: user.clone(),
            channel: channel.clone(),
        }
    }
}

/// The pages of a reply still to send after the one before them is
/// delivered (see the module doc). Empty when the reply fitted.
#[must_use = "a continuation sends nothing until it is started"]
pub struct Continuation(Option<Pages>);

struct Pages {
    inbound: Inbound,
    to: Recipient,
    reply: Reply,
    /// Each page's offset in the reply's Slack markup, and its body.
    pages: Vec<(usize, Value)>,
}

impl Continuation {
    /// Nothing follows.
    pub fn none() -> Self {
        Self(None)
    }

    /// Whether nothing follows.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|p| p.pages.is_empty())
    }

    /// The same, with `body` to send first (an answer that could not be
    /// given in place, e.g. over Socket Mode or when the HTTP answer was
    /// never sent).
    pub fn after(self, body: Value) -> Self {
        Self(self.0.map(|mut p| {
            p.pages.insert(0, (0, body));
            p
        }))
    }

    /// Sends the pages in the background: call once the page before them is delivered.
    pub fn start(self) {
        if self.is_empty() {
            return;
        }
        tokio::spawn(self.run());
    }

    /// Sends the pages, in order, each once the one before it is taken.
    pub async fn run(self) {
        let Some(Pages {
            inbound,
            to,
            reply,
            pages,
        }) = self.0
        else {
            return;
        };
        let count = pages.len();
        let mut pages = pages.into_iter().enumerate();
        while let Some((i, (offset, mut body))) = pages.next() {
            let last_use = i + 1 == RESPONSE_URL_USES && i + 1 < count;
            if last_use {
                render::note_rest(&mut body, rest_goes(&reply));
            }
            // at most RESPONSE_URL_USES pages get here: the last use hands the rest on
            let sent = match &to.response_url {
                Some(url) => {
                    inbound.pace.acquire(&to.channel.id).await;
                    api::respond(&inbound.client, url, &body).await
                }
                None => Err("the interaction has no response_url".to_string()),
            };
            match sent {
                Ok(()) if !last_use => {}
                Ok(()) => {
                    if let Some((_, (next, _))) = pages.next() {
                        inbound.post_rest(&to, &reply, next).await;
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, page = i, "a reply page could not go to response_url; the rest is posted instead");
                    inbound.post_rest(&to, &reply, offset).await;
                    return;
                }
            }
        }
    }
}

/// Where the rest of a reply goes when `response_url` cannot carry it.
fn rest_goes(reply: &Reply) -> &'static str {
    if reply.in_channel {
        "The rest of this reply is posted in the channel."
    } else {
        "The rest of this reply is sent to you as a direct message."
    }
}

/// Who is in which Slack user group, as read at `read_at`.
struct GroupCache {
    read_at: Instant,
    of_user: HashMap<String, Vec<String>>,
}

/// How long the user groups read from Slack are trusted.
const GROUPS_FRESH: Duration = Duration::from_secs(60);

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
    /// `pace`: Slack's per-channel limiter, the one the outbox transport uses.
    pub fn new(app: App, client: reqwest::Client, pace: Arc<ChannelLimiter>) -> Self {
        Self {
            app,
            client,
            pace,
            groups: Arc::default(),
        }
    }

    /// Posts the reply from byte `offset` of its Slack markup through the
    /// outbox, as one message read whole: to the channel for a reply to the
    /// channel, else to the person's direct messages.
    async fn post_rest(&self, to: &Recipient, reply: &Reply, offset: usize) {
        let channel = if reply.in_channel {
            to.channel.to_string()
        } else {
            format!("slack:{}", to.user.id)
        };
        let written = match serde_json::to_string(&reply.message) {
            Ok(body) => {
                let now = self.app.clock.now();
                store::outbox::enqueue_from(
                    &mut *self.app.db.lock().await,
                    &channel,
                    &body,
                    offset,
                    now,
                )
                .await
                .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(_) => self.app.notify((true, false)),
            Err(e) => {
                tracing::error!(error = %e, %channel, "the rest of a long reply could not be queued")
            }
        }
    }

    /// The pages of `reply` after the `first` ones, to follow once those are delivered.
    fn continuation(&self, to: Recipient, reply: Reply, first: usize) -> Continuation {
        let config = &self.app.config;
        let mut pages = render::reply_paged(&reply, config.tz, &config.directory);
        for (_, body) in &mut pages {
            // a follow-up never replaces the message it answers (a clicked one)
            body["replace_original"] = Value::Bool(false);
        }
        let pages = pages.split_off(first.min(pages.len()));
        Continuation(Some(Pages {
            inbound: self.clone(),
            to,
            reply,
            pages,
        }))
    }

    /// The Slack user groups `user_id` is in (for `slack-group:` role
    /// members), from `usergroups.list`, read at most once a minute. When
    /// Slack cannot say (no `usergroups:read` scope, an outage), none: the
    /// person then holds only the roles given to them by name.
    async fn groups_of(&self, user_id: &str) -> Vec<String> {
        let mut cache = self.groups.lock().await;
        let fresh = cache
            .as_ref()
            .is_some_and(|c| c.read_at.elapsed() < GROUPS_FRESH);
        if !fresh {
            let slack = &self.app.config.settings.slack;
            let read =
                api::user_groups(&self.client, &slack.api_base_url, slack.bot_token.expose()).await;
            let of_user = match read {
                Ok(of_user) => of_user,
                Err(e) => {
                    // keep what was known (possibly nothing), and ask again in a minute
                    tracing::warn!(error = %e, "cannot read Slack user groups");
                    cache.take().map(|c| c.of_user).unwrap_or_default()
                }
            };
            *cache = Some(GroupCache {
                read_at: Instant::now(),
                of_user,
            });
        }
        cache
            .as_ref()
            .and_then(|c| c.of_user.get(user_id).cloned())
            .unwrap_or_default()
    }

    /// An invocation by Slack user `user`, with the user groups they are in.
    async fn invocation(&self, user: UserRef, channel: ChannelRef, text: String) -> Invocation {
        let platform_roles = self.groups_of(&user.id).await;
        Invocation {
            user,
            platform_roles,
            channel,
            text,
        }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Runs `inv`, waiting at most `limit` for its reply (`None`: until it is done).
    /// Runs `text` as Slack user `user` (with their user groups), waiting at
    /// most `limit` for the reply (`None`: until it is done). Reading the
    /// groups counts against the limit: it happens inside the command's task.
    async fn run_as(
        &self,
        user: UserRef,
        channel: ChannelRef,
        text: String,
        limit: Option<Duration>,
    ) -> Outcome {
        let me = self.clone();
        let task = tokio::spawn(async move {
            let inv = me.invocation(user, channel, text).await;
            me.app.dispatch(&inv).await
        });
        match limit {
            Some(limit) => within(task, limit).await,
            None => Outcome::Done(finish(task).await),
        }
    }

    /// Posts a reply to a `response_url` in the background (all its pages).
    fn follow_up(&self, to: Recipient, reply: Reply) {
        self.continuation(to, reply, 0).start();
    }

    /// Posts the reply of a command that may still be running.
    fn follow_up_outcome(&self, to: Recipient, outcome: Outcome) {
        match outcome {
            Outcome::Done(reply) => self.follow_up(to, reply),
            Outcome::Late(handle) => {
                let me = self.clone();
                tokio::spawn(async move {
                    let reply = finish(handle).await;
                    me.follow_up(to, reply);
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

    /// A slash command: its reply, a form, or an acknowledgement with the
    /// reply to follow; and the pages that follow the answer once it is sent.
    pub async fn slash_command(
        &self,
        cmd: SlashCommand,
    ) -> Result<(Answer, Continuation), Malformed> {
        self.slash(cmd, Some(ANSWER_WITHIN)).await
    }

    /// Socket Mode: a slash command whose envelope is already acknowledged.
    /// It runs to the end, and its reply (or a problem) goes to
    /// `response_url`, every page after the one before it.
    pub async fn slash_command_acked(&self, cmd: SlashCommand) {
        let (answer, then) = self.slash(cmd.clone(), None).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a Slack command over Socket Mode could not be read");
            (
                Answer::Body(render::note(&e.to_string())),
                Continuation::none(),
            )
        });
        let Answer::Body(body) = answer else {
            return then.run().await;
        };
        let then = then.after(body.clone());
        if !then.is_empty() {
            // the reply, every page after the one before it
            return then.run().await;
        }
        // a note, not a reply
        if let Some(url) = cmd.response_url.as_deref()
            && let Err(e) = api::respond(&self.client, url, &body).await
        {
            tracing::warn!(error = %e, "could not answer a Slack command");
        }
    }

    /// Runs a slash command, waiting at most `limit` (`None`: to the end).
    async fn slash(
        &self,
        cmd: SlashCommand,
        limit: Option<Duration>,
    ) -> Result<(Answer, Continuation), Malformed> {
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
            let answer = match self.open_form(trigger, &form, &meta).await {
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
            };
            return Ok((answer, Continuation::none()));
        }
        let to = Recipient::new(cmd.response_url.clone(), &user, &channel);
        let config = &self.app.config;
        Ok(
            match self.run_as(user, channel, slash_text(&cmd), limit).await {
                Outcome::Done(reply) => {
                    let first = render::reply_body(&reply, config.tz, &config.directory);
                    // the answer is a message in the channel: what follows keeps the pace
                    self.pace.count(&to.channel.id);
                    (Answer::Body(first), self.continuation(to, reply, 1))
                }
                Outcome::Late(handle) => {
                    self.follow_up_outcome(to, Outcome::Late(handle));
                    let note = render::note("Working on it: the answer follows here in a moment.");
                    (Answer::Body(note), Continuation::none())
                }
            },
        )
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
        let to = Recipient::new(a.response_url.clone(), &user, &channel);
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
            self.follow_up(to, note);
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
                self.follow_up(to, note);
            }
            return Ok(Answer::Ack);
        }
        let outcome = self
            .run_as(user, channel, command, Some(ANSWER_WITHIN))
            .await;
        self.follow_up_outcome(to, outcome);
        Ok(Answer::Ack)
    }

    async fn view_submission(&self, v: ViewSubmission) -> Result<Answer, Malformed> {
        let Some((meta, text)) = submission_text(&v)? else {
            return Ok(Answer::Ack);
        };
        let (user, channel) = identities(&v.user.id, &meta.channel)?;
        let to = Recipient::new(meta.response_url.clone(), &user, &channel);
        Ok(
            match self.run_as(user, channel, text, Some(ANSWER_WITHIN)).await {
                Outcome::Done(reply) if reply.status != Status::Ok => {
                    // keep the form open, with the problem shown on the field it names
                    field_errors(&v, &reply.message.plain(self.app.config.tz))
                }
                outcome => {
                    self.follow_up_outcome(to, outcome);
                    Answer::Ack
                }
            },
        )
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
        let to = Recipient::new(meta.response_url.clone(), &user, &channel);
        let outcome = self.run_as(user, channel, text, None).await;
        self.follow_up_outcome(to, outcome);
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

//! `/subscribers` and the status page's e-mail subscriptions: the
//! use-cases behind `POST /subscriptions` and its confirmation and
//! unsubscribe links (`http::subscriptions`), each in a transaction of its
//! own, and [`notify`], which features call to mail a notice to every
//! confirmed subscriber of its topic, one mail each, with that subscriber's
//! one-click unsubscribe link. Nothing but the confirmation mail reaches an
//! address its owner has not confirmed. The rules are
//! `domain::subscription`.

mod command;

pub use command::{SUBSCRIBERS, SubscribersCommand};

use super::context::{Handled, run_as};
use super::feature::Feature;
use super::{App, Ctx, Line, Message, Reply};
use crate::domain::subscription::{SubscriptionState, Topic, parse_address, parse_topics};
use crate::domain::{ChannelRef, DomainError, Platform, Role, UserRef};
use crate::grammar::CommandSpec;
use crate::store::{self, subscription::Subscriber};

/// The subscribers feature.
pub struct Subscribers;

impl Feature for Subscribers {
    const COMMANDS: &'static [&'static CommandSpec] = &[&SUBSCRIBERS];
    type Command = SubscribersCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: SubscribersCommand) -> Handled<Reply> {
        ctx.actor
            .require(&Role::ADMIN, "see or remove subscribers")?;
        match command {
            SubscribersCommand::List => list(ctx).await,
            SubscribersCommand::Remove(email) => {
                if !store::subscription::remove(&mut ctx.db, &email).await? {
                    return Err(DomainError::not_found(format!(
                        "{email} is not a subscriber: /subscribers list shows them"
                    ))
                    .into());
                }
                ctx.audit("subscribers", "removed", &email);
                Ok(Reply::in_channel(Message::text(format!(
                    "{email} is removed: it receives no more notices."
                ))))
            }
        }
    }
}

/// The most subscribers `/subscribers list` shows.
const LIST_LIMIT: i64 = 200;

async fn list(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    let all = store::subscription::list(&mut ctx.db, LIST_LIMIT).await?;
    if all.is_empty() {
        return Ok(Reply::private(Message::text(
            "No subscribers: the status page's form takes them (with [mail] set).",
        )));
    }
    let mut m = Message::text(format!("Subscribers ({}):", all.len()));
    for s in &all {
        let topics: Vec<&str> = s.topics.iter().map(|t| t.as_str()).collect();
        m = m.line(
            Line::new()
                .text("  ")
                .code(&s.email)
                .text(format!(" · {} · {} · since ", topics.join(", "), s.state))
                .time(s.created_at),
        );
    }
    Ok(Reply::private(m))
}

/// Who the use-cases act as.
fn intake() -> (UserRef, ChannelRef) {
    (
        UserRef::console("status-page"),
        ChannelRef::new(Platform::Console, "#status"),
    )
}

fn link(app: &App, what: &str, token: &str) -> Option<String> {
    app.config
        .mail
        .as_ref()
        .map(|m| format!("{}/subscriptions/{what}?token={token}", m.public_url))
}

/// The site subscribers know: the host of `mail.public_url`
/// (`shipmate.example.com`).
fn site(app: &App) -> String {
    let url = app
        .config
        .mail
        .as_ref()
        .map_or("", |m| m.public_url.as_str());
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if host.is_empty() {
        "shipmate".to_string()
    } else {
        host.to_string()
    }
}

/// A subscription request from the status page: a new address is stored
/// pending and mailed a confirmation link (`token` is its secret); a pending
/// one gets its topics updated and the link again; a confirmed one changes
/// nothing (the page says the same either way, so it tells nobody who
/// subscribes).
pub async fn subscribe(app: &App, email: &str, topics: &[&str], token: String) -> Handled<()> {
    let email = parse_address(email)?;
    let topics = parse_topics(topics.iter().copied())?;
    let (user, channel) = intake();
    run_as(app, user, channel, "http", async |ctx: &mut Ctx<'_>| {
        let token = match store::subscription::by_email(&mut ctx.db, &email).await? {
            Some(s) if s.state == SubscriptionState::Confirmed => return Ok(()),
            Some(s) => {
                store::subscription::set_topics(&mut ctx.db, &email, &topics).await?;
                s.token
            }
            None => {
                store::subscription::insert_pending(&mut ctx.db, &email, &topics, &token, ctx.now)
                    .await?;
                ctx.audit("subscribers", "asked", &email);
                token
            }
        };
        let Some(url) = link(ctx.app, "confirm", &token) else {
            return Err(DomainError::invalid("subscriptions need [mail]").into());
        };
        let names: Vec<&str> = topics.iter().map(|t| t.as_str()).collect();
        let message =
            Message::text(format!(
                "Someone, we hope you, asked for shipmate's notices ({}) at {email}.",
                names.join(", ")
            ))
            .line(Line::new().text(format!(
                "To confirm, open this link and press Confirm: {url}"
            )))
            .line(Line::new().text(
                "If it was not you, ignore this mail: nothing more is sent unless you confirm.",
            ))
            .link("Confirm your subscription", url)
            .subject(format!(
                "Confirm your subscription to {} notices",
                site(ctx.app)
            ));
        let to = ChannelRef::new(Platform::Email, email.as_str());
        ctx.post(&to, &message, None);
        Ok(())
    })
    .await
}

/// The subscriber a link's `token` names, if any.
pub async fn by_token(app: &App, token: &str) -> anyhow::Result<Option<Subscriber>> {
    let mut conn = app.db.pool.acquire().await?;
    store::subscription::by_token(&mut *conn, token).await
}

/// The owner's click on Confirm: the address is confirmed. `None`: no
/// subscription has that token.
pub async fn confirm(app: &App, token: &str) -> Handled<Option<String>> {
    let (user, channel) = intake();
    run_as(app, user, channel, "http", async |ctx: &mut Ctx<'_>| {
        let Some(s) = store::subscription::by_token(&mut ctx.db, token).await? else {
            return Ok(None);
        };
        if s.state == SubscriptionState::Pending {
            store::subscription::confirm(&mut ctx.db, token, ctx.now).await?;
            ctx.audit("subscribers", "confirmed", &s.email);
        }
        Ok(Some(s.email))
    })
    .await
}

/// Unsubscribes the address `token` names (one-click or the page's button).
/// `None`: no subscription has that token (left already).
pub async fn unsubscribe(app: &App, token: &str) -> Handled<Option<String>> {
    let (user, channel) = intake();
    run_as(app, user, channel, "http", async |ctx: &mut Ctx<'_>| {
        let Some(s) = store::subscription::by_token(&mut ctx.db, token).await? else {
            return Ok(None);
        };
        store::subscription::remove(&mut ctx.db, &s.email).await?;
        ctx.audit("subscribers", "left", &s.email);
        Ok(Some(s.email))
    })
    .await
}

/// Mails `message` to every confirmed subscriber of `topic` (none while
/// e-mail is off), one mail each with its unsubscribe link, in the
/// caller's transaction.
pub async fn notify(ctx: &mut Ctx<'_>, topic: Topic, message: &Message) -> Handled<()> {
    if ctx.app.config.mail.is_none() {
        return Ok(());
    }
    for s in store::subscription::confirmed_for(&mut ctx.db, topic).await? {
        let mut mail = message.clone();
        mail.unsubscribe = link(ctx.app, "unsubscribe", &s.token);
        let to = ChannelRef::new(Platform::Email, s.email.as_str());
        ctx.post(&to, &mail, None);
    }
    Ok(())
}

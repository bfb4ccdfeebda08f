//! Answering inside the platforms' 3-second window: a command runs in its
//! own task; if it is not done after [`ANSWER_WITHIN`] the adapter
//! acknowledges and the result follows later (the task is never cancelled,
//! so the command's transaction completes either way). Shared by the HTTP
//! endpoints, Slack Socket Mode and the Discord gateway, together with
//! [`button_command`], which resolves what a clicked button stands for.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::app::{App, Invocation, Reply, Status};

/// How long an endpoint waits for a command before acknowledging.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// A payload that decoded but cannot be acted on; the reason names the
/// problem (a 400 over HTTP, a logged warning over a socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Malformed {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed request: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// A command's result, or the task still computing it.
pub enum Outcome {
    Done(Reply),
    Late(JoinHandle<Reply>),
}

/// Runs `inv` and waits up to `limit` for its reply.
pub async fn dispatch_within(app: &App, inv: Invocation, limit: Duration) -> Outcome {
    let app = app.clone();
    within(tokio::spawn(async move { app.dispatch(&inv).await }), limit).await
}

/// Waits up to `limit` for a running command.
pub async fn within(mut handle: JoinHandle<Reply>, limit: Duration) -> Outcome {
    match tokio::time::timeout(limit, &mut handle).await {
        Ok(joined) => Outcome::Done(reply_of(joined)),
        Err(_) => Outcome::Late(handle),
    }
}

/// The reply of a late command, once it is done.
pub async fn finish(handle: JoinHandle<Reply>) -> Reply {
    reply_of(handle.await)
}

/// The command a clicked button stands for: its own text, or a
/// `ref:<outbox id>:<index>` into the message that carried it.
pub async fn button_command(app: &App, id: &str) -> Option<String> {
    let mut conn = app.db.pool.acquire().await.ok()?;
    match crate::delivery::buttons::command_for(&mut conn, id).await {
        Ok(command) => command,
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "could not resolve a button");
            None
        }
    }
}

fn reply_of(joined: Result<Reply, tokio::task::JoinError>) -> Reply {
    joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "command task failed");
        Reply::error(Status::Failed, "internal error; nothing was changed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Message;

    #[tokio::test]
    async fn a_slow_command_is_handed_back_and_still_completes() {
        let slow = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Reply::in_channel(Message::text("late but done"))
        });
        let Outcome::Late(handle) = within(slow, Duration::from_millis(20)).await else {
            panic!("should be late");
        };
        let reply = finish(handle).await;
        assert_eq!(reply.message, Message::text("late but done"));

        let quick = tokio::spawn(async { Reply::private(Message::text("quick")) });
        assert!(matches!(
            within(quick, Duration::from_secs(1)).await,
            Outcome::Done(r) if r.message == Message::text("quick")
        ));
    }
}

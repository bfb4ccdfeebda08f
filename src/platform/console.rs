//! The console: commands typed on stdin, in the same grammar as chat.
//!
//! Lines starting with `/` (or a command name) are commands; `:as NAME`
//! switches who you are, `:channel #NAME` where you type, `:quit` leaves.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::app::{App, Invocation};
use crate::domain::{ChannelRef, Platform, UserRef};

/// Reads a console user: `alice` or `console:alice` (any address works too).
pub fn user_arg(s: &str) -> Result<UserRef, String> {
    let full = if s.contains(':') {
        s.to_string()
    } else {
        format!("console:{}", s.trim_start_matches('@'))
    };
    full.parse()
        .map_err(|e: crate::domain::DomainError| e.to_string())
}

/// Reads a console channel: `#bioinfo`, `bioinfo` or `console:#bioinfo`.
pub fn channel_arg(s: &str) -> Result<ChannelRef, String> {
    let full = if s.contains(':') {
        s.to_string()
    } else {
        format!("console:#{}", s.trim_start_matches('#'))
    };
    full.parse()
        .map_err(|e: crate::domain::DomainError| e.to_string())
}

/// Runs the console on stdin until end of input or `:quit`.
pub async fn run(app: App, mut user: UserRef, mut channel: ChannelRef) -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let tz = app.config.tz;
    stdout
        .write_all("shipmate console: type /help for commands; :as NAME to switch user, :channel #NAME to switch channel, :quit to leave.\n".as_bytes())
        .await?;
    loop {
        stdout
            .write_all(format!("{}@{}> ", user.id, channel.id).as_bytes())
            .await?;
        stdout.flush().await?;
        let Some(line) = lines.next_line().await? else {
            return Ok(());
        };
        let line = line.trim();
        let answer = if line.is_empty() {
            continue;
        } else if line == ":quit" || line == ":q" {
            return Ok(());
        } else if let Some(name) = line.strip_prefix(":as ") {
            match user_arg(name.trim()) {
                Ok(u) => {
                    user = u;
                    format!("you are now {user}")
                }
                Err(e) => e,
            }
        } else if let Some(name) = line.strip_prefix(":channel ") {
            match channel_arg(name.trim()) {
                Ok(c) if c.platform == Platform::Console => {
                    channel = c;
                    format!("you are now in {channel}")
                }
                Ok(_) => "the console can only type in console: channels".to_string(),
                Err(e) => e,
            }
        } else {
            let reply = app
                .dispatch(&Invocation::new(user.clone(), channel.clone(), line))
                .await;
            reply.message.plain(tz)
        };
        let answer = crate::delivery::terminal_safe(&answer);
        stdout.write_all(format!("{answer}\n").as_bytes()).await?;
    }
}

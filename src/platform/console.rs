//! The console: commands typed on stdin, in the same grammar as chat.
//!
//! Lines starting with `/` (or a command name) are commands; `:as NAME`
//! switches who you are, `:channel #NAME` where you type, `:help` lists
//! these, `:quit` leaves. On a terminal the line is edited with `rustyline`
//! (arrows, history, Ctrl-R), and messages delivered to console channels
//! while you type are printed above the prompt ([`ConsoleOut`]) without
//! breaking the line being typed. Inside `serve`, leaving the console keeps
//! the bot serving; Ctrl-C asks before stopping it.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

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

/// Where the console runs, which decides what leaving it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `shipmate console`: leaving it ends the program.
    Standalone,
    /// `serve`: leaving it keeps the bot serving.
    InServe,
}

/// How the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// `:quit` or end of input.
    Closed,
    /// The user asked to stop the bot (Ctrl-C, confirmed).
    Stop,
}

/// What printed console-channel messages go through: stdout, or — while
/// the line editor is showing a prompt — its printer, which prints above
/// the line being typed.
#[derive(Clone, Default)]
pub struct ConsoleOut(Arc<Mutex<Option<Box<dyn ExternalPrinter + Send>>>>);

impl ConsoleOut {
    fn install(&self, printer: Box<dyn ExternalPrinter + Send>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(printer);
    }

    fn remove(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Write for ConsoleOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut printer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match printer.as_mut() {
            Some(p) => {
                let text = String::from_utf8_lossy(buf);
                p.print(text.trim_end_matches('\n').to_string())
                    .map_err(std::io::Error::other)?;
            }
            None => std::io::stdout().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

const GREETING: &str = "shipmate console: type /help for commands, :help for the console's own.";

const META_HELP: &str = "console commands:
  :as NAME        switch who you are: `:as alice` (console:alice) or a full address, `:as slack:U024BE7LH`
  :channel #NAME  switch where you type: `:channel #release` (console channels only)
  :help           this list
  :quit           leave the console (inside `serve` the bot keeps serving)
Arrows, Home/End and Ctrl-R edit the line and search the history.";

/// What one typed line asks of the console.
#[derive(Debug, PartialEq, Eq)]
pub enum Typed {
    Nothing,
    Quit,
    /// A console command's answer (the user or channel may have changed).
    Said(String),
    /// A command for the dispatcher.
    Command(String),
}

/// Reads one line: a console command (`:as`, `:channel`, `:help`, `:quit`)
/// changes `user` or `channel` and answers; anything else is a command.
pub fn read_line(line: &str, user: &mut UserRef, channel: &mut ChannelRef) -> Typed {
    let line = line.trim();
    let Some(meta) = line.strip_prefix(':') else {
        return if line.is_empty() {
            Typed::Nothing
        } else {
            Typed::Command(line.to_string())
        };
    };
    let (word, arg) = meta
        .split_once(char::is_whitespace)
        .map(|(w, a)| (w, a.trim()))
        .unwrap_or((meta, ""));
    Typed::Said(match (word, arg) {
        ("quit" | "q" | "exit", _) => return Typed::Quit,
        ("help" | "h" | "?", _) => META_HELP.to_string(),
        ("as", "") => format!(
            "`:as` needs a name: `:as alice` (console:alice) or a full address such as `:as slack:U024BE7LH`; you are {user}"
        ),
        ("as", name) => match user_arg(name) {
            Ok(u) => {
                *user = u;
                format!("you are now {user}")
            }
            Err(e) => e,
        },
        ("channel", "") => {
            format!("`:channel` needs a channel: `:channel #release`; you are in {channel}")
        }
        ("channel", name) => match channel_arg(name) {
            Ok(c) if c.platform == Platform::Console => {
                *channel = c;
                format!("you are now in {channel}")
            }
            Ok(_) => "the console can only type in console: channels, e.g. `:channel #release`"
                .to_string(),
            Err(e) => e,
        },
        (other, _) => format!("`:{other}` is not a console command: type :help for the list"),
    })
}

/// Runs the console until `:quit`, end of input or a confirmed Ctrl-C.
/// `out` is the writer console-channel messages are printed through.
pub async fn run(
    app: App,
    user: UserRef,
    channel: ChannelRef,
    out: ConsoleOut,
    mode: Mode,
) -> anyhow::Result<Leave> {
    if std::io::stdin().is_terminal() {
        run_editor(app, user, channel, out, mode).await
    } else {
        run_plain(app, user, channel).await
    }
}

/// Answers one line: the console's own command, or the dispatcher's reply.
async fn answer(
    app: &App,
    line: &str,
    user: &mut UserRef,
    channel: &mut ChannelRef,
) -> Option<Result<String, Leave>> {
    let text = match read_line(line, user, channel) {
        Typed::Nothing => return None,
        Typed::Quit => return Some(Err(Leave::Closed)),
        Typed::Said(text) => text,
        Typed::Command(command) => {
            let reply = app
                .dispatch(&Invocation::new(user.clone(), channel.clone(), &command))
                .await;
            reply.message.plain(app.config.tz)
        }
    };
    Some(Ok(crate::delivery::terminal_safe(&text).into_owned()))
}

/// Lines from a pipe: no editing, no prompt redraws.
async fn run_plain(app: App, mut user: UserRef, mut channel: ChannelRef) -> anyhow::Result<Leave> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    stdout.write_all(format!("{GREETING}\n").as_bytes()).await?;
    loop {
        stdout
            .write_all(format!("{}@{}> ", user.id, channel.id).as_bytes())
            .await?;
        stdout.flush().await?;
        let Some(line) = lines.next_line().await? else {
            return Ok(Leave::Closed);
        };
        match answer(&app, &line, &mut user, &mut channel).await {
            None => continue,
            Some(Err(leave)) => return Ok(leave),
            Some(Ok(text)) => stdout.write_all(format!("{text}\n").as_bytes()).await?,
        }
    }
}

/// What the editor thread hands the console.
enum Event {
    Line(String, oneshot::Sender<Answer>),
    Leave(Leave),
    Failed(String),
}

/// The console's answer to a line, for the editor thread.
enum Answer {
    Print(String),
    Quiet,
    /// The console is over: no more prompts.
    Leave,
}

/// A terminal: the line editor runs on its own thread (it blocks), hands
/// each line over and prints the answer before the next prompt.
async fn run_editor(
    app: App,
    mut user: UserRef,
    mut channel: ChannelRef,
    out: ConsoleOut,
    mode: Mode,
) -> anyhow::Result<Leave> {
    let (events, mut incoming) = mpsc::channel::<Event>(1);
    let prompt = Arc::new(Mutex::new(format!("{}@{}> ", user.id, channel.id)));
    let editor_prompt = prompt.clone();
    let editor_out = out.clone();
    let editor = std::thread::spawn(move || {
        edit_lines(&events, &editor_prompt, &editor_out, mode);
        editor_out.remove();
    });
    let leave = loop {
        let Some(event) = incoming.recv().await else {
            break Leave::Closed;
        };
        match event {
            Event::Line(line, reply) => {
                let said = match answer(&app, &line, &mut user, &mut channel).await {
                    None => Answer::Quiet,
                    Some(Err(leave)) => {
                        let _ = reply.send(Answer::Leave);
                        break leave;
                    }
                    Some(Ok(text)) => Answer::Print(text),
                };
                *prompt.lock().unwrap_or_else(|e| e.into_inner()) =
                    format!("{}@{}> ", user.id, channel.id);
                let _ = reply.send(said);
            }
            Event::Leave(leave) => break leave,
            Event::Failed(e) => {
                out.remove();
                anyhow::bail!("the console's line editor failed: {e}");
            }
        }
    };
    drop(incoming);
    out.remove();
    // the editor thread has returned (or returns as soon as its line ends)
    if editor.is_finished() {
        let _ = editor.join();
    }
    Ok(leave)
}

/// The editor thread: reads lines until the console ends.
fn edit_lines(events: &mpsc::Sender<Event>, prompt: &Mutex<String>, out: &ConsoleOut, mode: Mode) {
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            let _ = events.blocking_send(Event::Failed(e.to_string()));
            return;
        }
    };
    match editor.create_external_printer() {
        Ok(printer) => out.install(Box::new(printer)),
        Err(e) => tracing::warn!(error = %e, "messages may break the line being typed"),
    }
    println!("{GREETING}");
    loop {
        let shown = prompt.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match editor.readline(&shown) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let (reply, answered) = oneshot::channel();
                if events.blocking_send(Event::Line(line, reply)).is_err() {
                    return;
                }
                match answered.blocking_recv() {
                    Ok(Answer::Print(text)) => println!("{text}"),
                    Ok(Answer::Quiet) => {}
                    Ok(Answer::Leave) | Err(_) => return,
                }
            }
            Err(ReadlineError::Eof) => {
                let _ = events.blocking_send(Event::Leave(Leave::Closed));
                return;
            }
            Err(ReadlineError::Interrupted) => {
                if mode == Mode::Standalone || confirm_stop(&mut editor) {
                    let _ = events.blocking_send(Event::Leave(Leave::Stop));
                    return;
                }
            }
            Err(e) => {
                let _ = events.blocking_send(Event::Failed(e.to_string()));
                return;
            }
        }
    }
}

/// Ctrl-C inside `serve`: stop the bot only when the user says so.
fn confirm_stop(editor: &mut DefaultEditor) -> bool {
    matches!(
        editor.readline("stop shipmate? it keeps serving otherwise [y/N] "),
        Ok(answer) if answer.trim().eq_ignore_ascii_case("y") || answer.trim().eq_ignore_ascii_case("yes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> (UserRef, ChannelRef) {
        (user_arg("rm").unwrap(), channel_arg("#release").unwrap())
    }

    #[test]
    fn console_commands_explain_themselves_and_change_nothing_when_incomplete() {
        let (mut user, mut channel) = here();
        let said = read_line(":as", &mut user, &mut channel);
        assert_eq!(
            said,
            Typed::Said("`:as` needs a name: `:as alice` (console:alice) or a full address such as `:as slack:U024BE7LH`; you are console:rm".into())
        );
        assert_eq!(user, user_arg("rm").unwrap());
        assert!(
            matches!(read_line(":channel  ", &mut user, &mut channel), Typed::Said(s) if s.contains("needs a channel"))
        );
        assert!(
            matches!(read_line(":whoami", &mut user, &mut channel), Typed::Said(s) if s.contains("not a console command"))
        );
        assert!(
            matches!(read_line(":channel slack:C1", &mut user, &mut channel), Typed::Said(s) if s.contains("only type in console"))
        );
        assert_eq!(channel, channel_arg("#release").unwrap());
    }

    #[test]
    fn lines_switch_user_and_channel_or_become_commands() {
        let (mut user, mut channel) = here();
        assert_eq!(
            read_line(":as alice", &mut user, &mut channel),
            Typed::Said("you are now console:alice".into())
        );
        assert_eq!(user, user_arg("alice").unwrap());
        read_line(":channel bioinfo", &mut user, &mut channel);
        assert_eq!(channel, channel_arg("#bioinfo").unwrap());
        assert_eq!(read_line("  ", &mut user, &mut channel), Typed::Nothing);
        assert_eq!(read_line(":q", &mut user, &mut channel), Typed::Quit);
        assert_eq!(
            read_line(" /help ", &mut user, &mut channel),
            Typed::Command("/help".into())
        );
    }

    #[test]
    fn messages_go_through_the_printer_while_a_prompt_is_shown() {
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<String>>>);
        impl ExternalPrinter for Seen {
            fn print(&mut self, msg: String) -> rustyline::Result<()> {
                self.0.lock().unwrap().push(msg);
                Ok(())
            }
        }
        let seen = Seen::default();
        let mut out = ConsoleOut::default();
        out.install(Box::new(seen.clone()));
        out.write_all(b"[10:00] console:#release\n  REL-1 started\n")
            .unwrap();
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["[10:00] console:#release\n  REL-1 started"]
        );
    }
}

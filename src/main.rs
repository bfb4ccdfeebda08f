//! The `shipmate` binary: CLI, configuration, logging; everything else is in
//! the library. Exit codes: 0 success, 1 a command refused or invalid (and
//! `check-config` problems, Discord refusing `register-commands`), 2 usage or
//! configuration errors.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use shipmate::app::{App, Invocation, Status};
use shipmate::domain::timing::SystemClock;
use shipmate::platform::console;
use shipmate::settings::{self, Config};
use shipmate::shutdown::{self, Shutdown};
use shipmate::startup::{Application, Options};
use shipmate::store::Db;
use shipmate::telemetry;

#[derive(Parser)]
#[command(
    name = "shipmate",
    version,
    about = "Self-hosted chat-ops bot for release operations"
)]
struct Cli {
    /// Configuration file (only some keys needed; the rest keep their defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot: HTTP server, scheduler, outbox, platforms, and a console when stdin is a terminal.
    Serve,
    /// Execute one command against the database, print the reply, and exit.
    Run {
        /// Who runs it: `alice` (console:alice) or a full address such as slack:U024BE7LH.
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// Where: `#bioinfo` (console:#bioinfo) or a full address such as slack:C2147483705.
        #[arg(long, value_name = "CHANNEL")]
        channel: String,
        /// The command, e.g. /delete-request approve DR-1
        #[arg(last = true, required = true, value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Interactive console (same grammar as chat); also runs the scheduler and outbox.
    Console {
        /// Who you are (default: console.user).
        #[arg(long = "as", value_name = "USER")]
        user: Option<String>,
        /// Where you type (default: console.channel).
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Write a consistent copy of the database to FILE (safe while `serve` runs).
    ///
    /// The copy is a snapshot holding every change committed before it began;
    /// FILE must not exist. Restore by stopping `serve` and putting the copy in
    /// place of the database file (see the README).
    Backup {
        /// Where to write the copy, e.g. backups/shipmate-2026-12-01.db
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Validate the configuration; every problem is named with its key.
    CheckConfig,
    /// Register the Discord application commands (guild when discord.guild_id
    /// is set, else global) and print the Slack app manifest (YAML) on stdout.
    RegisterCommands {
        /// Public base URL of this server, for the manifest's request URLs
        /// (default: https://shipmate.example.com).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Only print the Slack manifest; do not call Discord.
        #[arg(long)]
        manifest_only: bool,
    },
}

const USAGE_ERROR: u8 = 2;

fn load_config(path: Option<&std::path::Path>) -> Result<Config, ExitCode> {
    let settings = settings::load(path, None).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(USAGE_ERROR)
    })?;
    for w in settings.warnings() {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    let config = settings.validate().map_err(|problems| {
        eprintln!(
            "configuration has {}:",
            shipmate::app::message::count(problems.len() as i64, "problem", "problems")
        );
        for p in problems {
            eprintln!("  {p}");
        }
        eprintln!("run `shipmate check-config` after fixing them");
        ExitCode::from(USAGE_ERROR)
    })?;
    for w in &config.warnings {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging();
    let outcome = shipmate::startup::runtime()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = cli.config.as_deref();
    if let Command::CheckConfig = cli.command {
        return Ok(check_config(path));
    }
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Run {
            user,
            channel,
            text,
        } => run_once(config, &user, &channel, &text.join(" ")).await,
        Command::Console { user, channel } => run_console(config, user, channel).await,
        Command::Migrate => {
            Db::open(&config.settings.database.url).await?;
            println!("migrations applied to {}", config.settings.database.url);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file } => {
            let url = &config.settings.database.url;
            match shipmate::store::backup::backup(url, &file).await {
                Ok(bytes) => {
                    println!("backed up {url} to {} ({bytes} bytes)", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("backup failed: {e:#}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::CheckConfig => Ok(check_config(path)),
        Command::RegisterCommands {
            public_url,
            manifest_only,
        } => Ok(register_commands(&config, public_url, manifest_only).await),
    }
}

async fn register_commands(
    config: &Config,
    public_url: Option<String>,
    manifest_only: bool,
) -> ExitCode {
    use shipmate::platform::discord::commands::{self, RegisterError};
    use shipmate::platform::slack::manifest;
    let public_url = match public_url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => u,
        Some(u) => {
            eprintln!(
                "--public-url: `{u}` is not an http(s) URL, e.g. https://shipmate.example.org"
            );
            return ExitCode::from(USAGE_ERROR);
        }
        None => {
            eprintln!(
                "note: no --public-url given; the manifest's request URLs use {}",
                manifest::EXAMPLE_PUBLIC_URL
            );
            manifest::EXAMPLE_PUBLIC_URL.to_string()
        }
    };
    print!(
        "{}",
        manifest::manifest(&public_url, config.settings.slack.socket_mode)
    );
    let discord = &config.settings.discord;
    if manifest_only {
        return ExitCode::SUCCESS;
    }
    if !discord.enabled {
        eprintln!("discord.enabled is false: no Discord commands were registered");
        return ExitCode::SUCCESS;
    }
    let client = reqwest::Client::new();
    match commands::register(&client, discord).await {
        Ok(n) => {
            let scope = match discord.guild_id.trim() {
                "" => "globally (may take up to an hour to appear)".to_string(),
                guild => format!("in guild {guild}"),
            };
            eprintln!("registered {n} Discord commands {scope}");
            ExitCode::SUCCESS
        }
        Err(e @ RegisterError::Missing(_)) => {
            eprintln!("{e}");
            ExitCode::from(USAGE_ERROR)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn check_config(path: Option<&std::path::Path>) -> ExitCode {
    let settings = match settings::load(path, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut warnings = settings.warnings();
    let checked = settings.validate();
    if let Ok(config) = &checked {
        warnings.extend(config.warnings.iter().cloned());
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    match checked {
        Ok(_) => {
            if warnings.is_empty() {
                println!("configuration is valid");
            } else {
                println!(
                    "configuration is valid, with {}",
                    shipmate::app::message::count(warnings.len() as i64, "warning", "warnings")
                );
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            eprintln!(
                "{}",
                shipmate::app::message::count(
                    problems.len() as i64,
                    "problem found",
                    "problems found"
                )
            );
            ExitCode::from(1)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let console_user =
        console::user_arg(&config.settings.console.user).map_err(anyhow::Error::msg)?;
    let console_channel =
        console::channel_arg(&config.settings.console.channel).map_err(anyhow::Error::msg)?;
    let console_wanted = config.settings.console.enabled && std::io::stdin().is_terminal();
    let grace = config.shutdown_grace;
    // listening before the port is bound: a stop sent once it answers is ours
    let mut signals = shutdown::Signals::new();
    // console-channel messages print above the console's prompt
    let out = console::ConsoleOut::default();
    let options = Options {
        console_out: Box::new(out.clone()),
        ..Options::default()
    };
    let application = Application::build(config, options).await?;
    tracing::info!(port = application.port(), "shipmate is serving");
    let app = application.app().clone();
    let console = async move {
        if console_wanted {
            console::run(
                app,
                console_user,
                console_channel,
                out,
                console::Mode::InServe,
            )
            .await
        } else {
            std::future::pending().await
        }
    };
    let shutdown = Shutdown::new();
    let running = application.run_until(shutdown.clone());
    tokio::pin!(running);
    let why = tokio::select! {
        r = &mut running => {
            r?;
            return Ok(ExitCode::SUCCESS);
        }
        r = console => match r? {
            console::Leave::Stop => "stopped from the console",
            console::Leave::Closed => {
                // leaving the console is not stopping the bot
                println!(
                    "the console is closed; shipmate keeps serving (stop it with Ctrl-C or SIGTERM)"
                );
                tokio::select! {
                    r = &mut running => {
                        r?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    signal = signals.recv() => signal,
                }
            }
        },
        signal = signals.recv() => signal,
    };
    tracing::info!(reason = why, grace = ?grace, "stopping: finishing the work in flight");
    shutdown.trigger();
    // the grace bounds a delivery in flight; a little more for the last writes and closing
    let bound = grace + Duration::from_secs(2);
    tokio::select! {
        r = tokio::time::timeout(bound, &mut running) => match r {
            Ok(r) => {
                r?;
                tracing::info!("stopped");
            }
            Err(_) => tracing::warn!(after = ?bound, "work still running at the end of the grace period was cut off"),
        },
        signal = signals.recv() => tracing::warn!(signal, "stopping at once"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_once(
    config: Config,
    user: &str,
    channel: &str,
    text: &str,
) -> anyhow::Result<ExitCode> {
    let user = match console::user_arg(user) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("--as: {e}");
            return Ok(ExitCode::from(USAGE_ERROR));
        }
    };
    let channel = match console::channel_arg(channel) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("--channel: {e}");
            return Ok(ExitCode::from(USAGE_ERROR));
        }
    };
    let db = Db::open(&config.settings.database.url).await?;
    let tz = config.tz;
    let app = App::new(db, Arc::new(config), Arc::new(SystemClock));
    let reply = app.dispatch(&Invocation::new(user, channel, text)).await;
    let text = reply.message.plain(tz);
    let text = shipmate::delivery::terminal_safe(&text);
    Ok(match reply.status {
        Status::Ok => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Status::Failed => {
            eprintln!("{text}");
            ExitCode::from(USAGE_ERROR)
        }
        Status::Invalid | Status::Refused => {
            eprintln!("{text}");
            ExitCode::from(1)
        }
    })
}

async fn run_console(
    config: Config,
    user: Option<String>,
    channel: Option<String>,
) -> anyhow::Result<ExitCode> {
    let user = console::user_arg(user.as_deref().unwrap_or(&config.settings.console.user))
        .map_err(anyhow::Error::msg)?;
    let channel = console::channel_arg(
        channel
            .as_deref()
            .unwrap_or(&config.settings.console.channel),
    )
    .map_err(anyhow::Error::msg)?;
    let mut config = config;
    // the standalone console serves no HTTP: bind an ephemeral port instead of http.bind
    config.bind = ([127, 0, 0, 1], 0).into();
    let out = console::ConsoleOut::default();
    let options = Options {
        console_out: Box::new(out.clone()),
        ..Options::default()
    };
    let application = Application::build(config, options).await?;
    let app = application.app().clone();
    tokio::select! {
        r = application.run_workers() => r?,
        r = console::run(app, user, channel, out, console::Mode::Standalone) => {
            r?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

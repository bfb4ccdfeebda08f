//! Startup as a library function: [`Application::build`] opens the database,
//! binds the listener and returns a handle; [`Application::run_until_stopped`]
//! runs the HTTP server, the scheduler, the outbox worker and the enabled
//! Slack Socket Mode / Discord gateway connections together.
//! Tests build one per test on port 0 with a temporary database.

use std::io::Write;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::App;
use crate::ci::sns::{CertSource, HttpSns};
use crate::delivery::{self, ConsoleTransport, DiscordTransport, Pace, SlackTransport, Transports};
use crate::domain::Platform;
use crate::domain::timing::{Clock, SystemClock};
use crate::settings::Config;
use crate::shutdown::Shutdown;
use crate::store::{self, Db};
use crate::{http, platform, scheduler, telemetry};

/// The runtime every `shipmate` command runs on: one async thread. SQLite
/// work already runs on sqlx's worker threads (one per connection), so the
/// async side is light; on a 2-core machine one async thread beside the
/// writer's worker thread wakes fewer threads per command than a thread per
/// core, and `benches/dispatch.rs` measured it faster (p99 ~0.4 ms lower at 8
/// clients). The benches build their servers with it too.
///
/// A task woken from another thread (by a SQLite worker: the webhook writer,
/// a command group) runs before the tasks this thread woke itself (HTTP
/// connections), rather than after up to 31 of them: the writer is what
/// every waiting request waits on. `benches/webhooks.rs` measured 6% more
/// deliveries a second at concurrency 16 with this and two SQLite settings
/// together (`store::WRITER_STATEMENTS`, no memory statistics).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .global_queue_interval(1)
        .build()
}

/// How to build the application; tests replace the clock, the console
/// output and where SNS signing certificates come from.
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub console_out: Box<dyn Write + Send>,
    pub sns: Arc<dyn CertSource>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            console_out: Box::new(std::io::stdout()),
            sns: Arc::new(HttpSns::default()),
        }
    }
}

/// A built application, bound and ready to run.
pub struct Application {
    app: App,
    listener: TcpListener,
    transports: Transports,
    pace: Pace,
    sns: Arc<dyn CertSource>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        let db = Db::open(&config.settings.database.url).await?;
        let listener = TcpListener::bind(config.bind).await?;
        let tz = config.tz;
        let pace = Pace::new(&config);
        let mut transports = Transports::default().with(
            Platform::Console,
            Arc::new(ConsoleTransport::new(options.console_out, tz)),
        );
        if config.settings.slack.enabled || config.settings.discord.enabled {
            let client = delivery::wire::client()?;
            if config.settings.slack.enabled {
                transports = transports.with(
                    Platform::Slack,
                    Arc::new(SlackTransport::new(
                        client.clone(),
                        &config,
                        pace.slack.clone(),
                    )),
                );
            }
            if config.settings.discord.enabled {
                transports = transports.with(
                    Platform::Discord,
                    Arc::new(DiscordTransport::new(client, &config, pace.discord.clone())),
                );
            }
        }
        if let Some(mail) = delivery::MailTransport::new(&config)? {
            transports = transports.with(Platform::Email, Arc::new(mail));
        }
        let app = App::new(db, Arc::new(config), options.clock);
        scheduler::register_recurring(&app).await?;
        Ok(Self {
            app,
            listener,
            transports,
            pace,
            sns: options.sns,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Runs everything until one part stops (which only an error does):
    /// the HTTP server, the scheduler, the outbox worker, and the Slack
    /// Socket Mode listener and Discord gateway when they are enabled.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(Shutdown::new()).await
    }

    /// Runs everything until `shutdown` is triggered (or a part fails), then
    /// stops gracefully: the listener closes and requests in flight finish,
    /// the outbox worker finishes or hands back the delivery in flight, the
    /// scheduler finishes the job it is firing, the socket and gateway
    /// connections are dropped, and the database is closed. The caller bounds
    /// the whole with a timeout; `shutdown.grace` bounds a delivery in flight.
    pub async fn run_until(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let config = self.app.config.clone();
        let router = http::router_with(
            self.app.clone(),
            telemetry::metrics(),
            self.sns,
            self.pace.clone(),
        );
        let server = tokio::spawn(http::serve::serve(
            self.listener,
            router,
            config.http_limits,
            shutdown.clone(),
        ));
        let scheduler = tokio::spawn(scheduler::run_until(self.app.clone(), shutdown.clone()));
        let outbox = tokio::spawn(delivery::run_until(
            self.app.clone(),
            self.transports.clone(),
            shutdown.clone(),
            config.shutdown_grace,
        ));
        let connections = tokio::spawn(connections(self.app.clone(), self.pace.clone()));
        let _workers = AbortOnDrop(vec![
            server.abort_handle(),
            scheduler.abort_handle(),
            outbox.abort_handle(),
            connections.abort_handle(),
        ]);
        // any part ending (an error, a panic) stops the others too
        let ended = |part: tokio::task::JoinHandle<()>| {
            let shutdown = shutdown.clone();
            async move {
                let r = part.await;
                shutdown.trigger();
                r.map_err(anyhow::Error::from)
            }
        };
        // the socket and gateway connections hold no work of ours: they are dropped at the stop
        let connections = async {
            let r = tokio::select! {
                r = connections => r.map_err(anyhow::Error::from).and_then(|r| r),
                _ = shutdown.triggered() => Ok(()),
            };
            shutdown.trigger();
            r
        };
        let (server, scheduler, outbox, connections) =
            tokio::join!(ended(server), ended(scheduler), ended(outbox), connections);
        server?;
        scheduler?;
        outbox?;
        connections?;
        store::checkpoint::close(&self.app.db).await?;
        Ok(())
    }

    /// Runs only the background workers (the standalone console).
    pub async fn run_workers(self) -> anyhow::Result<()> {
        let scheduler = tokio::spawn(scheduler::run(self.app.clone()));
        let outbox = tokio::spawn(delivery::run(self.app.clone(), self.transports.clone()));
        let _workers = AbortOnDrop(vec![scheduler.abort_handle(), outbox.abort_handle()]);
        tokio::select! {
            r = scheduler => r.map_err(anyhow::Error::from),
            r = outbox => r.map_err(anyhow::Error::from),
        }
    }
}

/// The outbound connections that receive commands: Slack Socket Mode and
/// the Discord gateway, each when enabled; pending forever when neither is.
async fn connections(app: App, pace: Pace) -> anyhow::Result<()> {
    let settings = &app.config.settings;
    let socket = settings.slack.enabled && settings.slack.socket_mode;
    let gateway = settings.discord.enabled && settings.discord.gateway;
    let client = delivery::wire::client()?;
    let slack = async {
        if socket {
            platform::slack::socket::run(app.clone(), client.clone(), pace.slack.clone()).await
        } else {
            std::future::pending().await
        }
    };
    let discord = async {
        if gateway {
            platform::discord::gateway::run(app.clone(), client.clone(), pace.discord.clone()).await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        r = slack => r,
        r = discord => r,
    }
}

/// Stops the background workers when the future running them is dropped
/// (an aborted task, a test tearing an app down), so no worker outlives its app.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

//! Startup as a library function: [`Application::build`] opens the database,
//! binds the listener and returns a handle; [`Application::run_until_stopped`]
//! runs the HTTP server, the scheduler and the outbox worker together.
//! Tests build one per test on port 0 with a temporary database.

use std::io::Write;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::App;
use crate::ci::sns::{CertSource, HttpSns};
use crate::delivery::{self, ConsoleTransport, Transports};
use crate::domain::Platform;
use crate::domain::timing::{Clock, SystemClock};
use crate::settings::Config;
use crate::store::Db;
use crate::{http, scheduler, telemetry};

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
    sns: Arc<dyn CertSource>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        let db = Db::open(&config.settings.database.url).await?;
        let listener = TcpListener::bind(config.bind).await?;
        let tz = config.tz;
        let app = App::new(db, Arc::new(config), options.clock);
        let transports = Transports::default().with(
            Platform::Console,
            Arc::new(ConsoleTransport::new(options.console_out, tz)),
        );
        Ok(Self {
            app,
            listener,
            transports,
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

    /// Runs everything until one part stops (which only an error does).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let router = http::router_with(self.app.clone(), telemetry::metrics(), self.sns);
        let server = axum::serve(self.listener, router);
        scheduler::register_recurring(&self.app).await?;
        let scheduler = tokio::spawn(scheduler::run(self.app.clone()));
        let outbox = tokio::spawn(delivery::run(self.app.clone(), self.transports.clone()));
        tokio::select! {
            r = server => r.map_err(anyhow::Error::from),
            r = scheduler => r.map_err(anyhow::Error::from),
            r = outbox => r.map_err(anyhow::Error::from),
        }
    }

    /// Runs only the background workers (the standalone console).
    pub async fn run_workers(self) -> anyhow::Result<()> {
        scheduler::register_recurring(&self.app).await?;
        let scheduler = tokio::spawn(scheduler::run(self.app.clone()));
        let outbox = tokio::spawn(delivery::run(self.app.clone(), self.transports.clone()));
        tokio::select! {
            r = scheduler => r.map_err(anyhow::Error::from),
            r = outbox => r.map_err(anyhow::Error::from),
        }
    }
}

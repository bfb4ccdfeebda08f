//! Test harness: the real application on a random port with a temporary
//! database, its console output captured, and helpers to run commands the way
//! a user would.
#![allow(dead_code)]

pub mod aws;
pub mod dkim;
pub mod github;
pub mod gitlab;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;
use shipmate::app::Message;
use shipmate::app::{App, Invocation, Reply, Status};
use shipmate::delivery::SharedBuffer;
use shipmate::domain::Platform;
use shipmate::domain::timing::{Clock, ManualClock, SystemClock};
use shipmate::settings::{self, Config};
use shipmate::startup::{Application, Options};
use tempfile::TempDir;

pub const CHANNEL: &str = "console:#bioinfo";

/// Environment overrides for a test configuration on a temp database.
pub fn test_env(dir: &TempDir, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::from([
        (
            "SHIPMATE__DATABASE__URL".into(),
            format!("sqlite://{}/shipmate.db", dir.path().display()),
        ),
        ("SHIPMATE__HTTP__BIND".into(), "127.0.0.1:0".into()),
        // `posted` reads the outbox as the record of what was sent, so tests
        // that advance past a month keep it (tests/retention.rs sets it)
        (
            "SHIPMATE__RETENTION__DELIVERED_MESSAGES".into(),
            "off".into(),
        ),
    ]);
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

pub fn test_config(dir: &TempDir, overrides: &[(&str, &str)]) -> Config {
    settings::load(None, Some(test_env(dir, overrides)))
        .expect("settings load")
        .validate()
        .expect("settings valid")
}

/// A local time in IST (the default `timezone` and `[calendar]` zone).
pub fn ist(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Kolkata
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a valid IST time")
        .with_timezone(&Utc)
}

/// The app on `clock` (shared with the test's mock services), with a
/// configuration file (for tables the environment cannot set, such as
/// `[[deploy.targets]]`); [`TestApp::restart`] reads the same file again.
pub async fn spawn_app_on(toml: &str, clock: Arc<ManualClock>) -> TestApp {
    let mut t = spawn_app_with(&[], Some(toml), clock.clone(), None).await;
    t.clock = Some(clock);
    t
}

/// A running application.
pub struct TestApp {
    pub app: App,
    pub port: u16,
    pub console: SharedBuffer,
    /// Shared so a second app can be started on the same database (a restart).
    pub dir: Arc<TempDir>,
    /// The manual clock of an app started with [`spawn_app_at`].
    pub clock: Option<Arc<ManualClock>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// How long any one step of a test may take before it fails (no test waits
/// on the wall clock for a cooling-off or a reminder: it advances a manual clock).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `step`, failing the test if it takes longer than [`STEP_TIMEOUT`].
pub async fn within<F: std::future::Future>(step: F) -> F::Output {
    tokio::time::timeout(STEP_TIMEOUT, step)
        .await
        .expect("a test step took longer than STEP_TIMEOUT")
}

/// The app on a manual clock that reads `start` until the test advances it.
pub async fn spawn_app_at(overrides: &[(&str, &str)], start: DateTime<Utc>) -> TestApp {
    let clock = Arc::new(ManualClock::new(start));
    let mut t = spawn_app_with_clock(overrides, clock.clone()).await;
    t.clock = Some(clock);
    t
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_app(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_with_clock(overrides, Arc::new(SystemClock)).await
}

pub async fn spawn_app_with_clock(overrides: &[(&str, &str)], clock: Arc<dyn Clock>) -> TestApp {
    spawn_app_with(overrides, None, clock, None).await
}

/// Starts an application on the database in `dir` (for example after
/// dropping an earlier app on it, to simulate a restart).
pub async fn spawn_app_in(
    dir: Arc<TempDir>,
    overrides: &[(&str, &str)],
    clock: Arc<dyn Clock>,
) -> TestApp {
    build(dir, overrides, None, clock, None).await
}

/// The app with a config file (TOML, for keys the environment cannot set
/// such as `[[pipelines.routes]]`) and its SNS certificate source replaced
/// (`None`: the real one).
pub async fn spawn_app_with(
    overrides: &[(&str, &str)],
    toml: Option<&str>,
    clock: Arc<dyn Clock>,
    sns: Option<Arc<dyn shipmate::ci::sns::CertSource>>,
) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    build(dir, overrides, toml, clock, sns).await
}

async fn build(
    dir: Arc<TempDir>,
    overrides: &[(&str, &str)],
    toml: Option<&str>,
    clock: Arc<dyn Clock>,
    sns: Option<Arc<dyn shipmate::ci::sns::CertSource>>,
) -> TestApp {
    let config = match toml {
        None => test_config(&dir, overrides),
        Some(text) => {
            let file = dir.path().join("test.toml");
            std::fs::write(&file, text).expect("write config");
            settings::load(Some(&file), Some(test_env(&dir, overrides)))
                .expect("settings load")
                .validate()
                .expect("settings valid")
        }
    };
    let console = SharedBuffer::default();
    let application = Application::build(
        config,
        match sns {
            Some(sns) => Options {
                clock,
                console_out: Box::new(console.clone()),
                sns,
            },
            None => Options {
                clock,
                console_out: Box::new(console.clone()),
                ..Options::default()
            },
        },
    )
    .await
    .expect("app builds");
    let port = application.port();
    let app = application.app().clone();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        app,
        port,
        console,
        dir,
        clock: None,
        server,
    }
}

impl TestApp {
    /// Runs `text` as console user `user` in #bioinfo.
    pub async fn cmd(&self, user: &str, text: &str) -> Reply {
        self.cmd_in(user, CHANNEL, text).await
    }

    /// Runs `text` as console user `user` in `channel` (e.g. `console:#acme`).
    pub async fn cmd_in(&self, user: &str, channel: &str, text: &str) -> Reply {
        let inv = Invocation::new(
            format!("console:{user}").parse().expect("user"),
            channel.parse().expect("channel"),
            text,
        );
        within(self.app.dispatch(&inv)).await
    }

    /// Stops this app and starts another on the same database and manual
    /// clock: a restart.
    pub async fn restart(self, overrides: &[(&str, &str)]) -> TestApp {
        let dir = self.dir.clone();
        let clock = self.clock.clone().expect("restart needs spawn_app_at");
        drop(self);
        // the same configuration file, when the app was started with one
        let toml = std::fs::read_to_string(dir.path().join("test.toml")).ok();
        let mut t = build(dir, overrides, toml.as_deref(), clock.clone(), None).await;
        t.clock = Some(clock);
        t
    }

    /// Moves the manual clock on by `by` and fires every job that falls
    /// due; returns how many fired.
    pub async fn advance(&self, by: TimeDelta) -> usize {
        let clock = self
            .clock
            .as_ref()
            .expect("advance needs an app from spawn_app_at");
        clock.advance(by);
        within(shipmate::scheduler::run_due(&self.app))
            .await
            .expect("due jobs fire")
    }

    /// Every message queued for `channel` (e.g. `#bioinfo` on the console,
    /// or a whole address such as `slack:C1`), oldest first.
    pub async fn messages(&self, channel: &str) -> Vec<Message> {
        let address = if channel.contains(':') {
            channel.to_string()
        } else {
            format!("console:{channel}")
        };
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM outbox WHERE channel = ? ORDER BY id")
                .bind(&address)
                .fetch_all(&self.app.db.pool)
                .await
                .expect("outbox");
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).expect("a stored message"))
            .collect()
    }

    /// What the outbox holds for `channel`, as the text people read.
    pub async fn posted(&self, channel: &str) -> Vec<String> {
        let tz = self.app.config.tz;
        self.messages(channel)
            .await
            .iter()
            .map(|m| m.plain(tz))
            .collect()
    }

    /// `message` as `platform` receives it: console text, Slack's
    /// `chat.postMessage` body, Discord's message body.
    pub fn rendered(&self, message: &Message, platform: Platform) -> String {
        let value = shipmate::delivery::preview(
            message,
            platform,
            self.app.config.tz,
            &self.app.config.directory,
        );
        match value {
            serde_json::Value::String(text) => text,
            other => serde_json::to_string_pretty(&other).expect("json"),
        }
    }

    /// A record by its id (`DR-1`, `DT-2`), to check its state.
    pub fn record<'a>(&'a self, id: &'a str) -> RecordCheck<'a> {
        RecordCheck { t: self, id }
    }

    /// Runs a command that must succeed and returns its reply text.
    pub async fn ok(&self, user: &str, text: &str) -> String {
        self.ok_in(user, CHANNEL, text).await
    }

    /// [`TestApp::ok`] in `channel`.
    pub async fn ok_in(&self, user: &str, channel: &str, text: &str) -> String {
        let reply = self.cmd_in(user, channel, text).await;
        let plain = reply.message.plain(self.app.config.tz);
        assert_eq!(reply.status, Status::Ok, "{text} → {plain}");
        plain
    }

    /// Runs a command that must be refused or rejected and returns the reason.
    pub async fn refused(&self, user: &str, text: &str) -> String {
        let reply = self.cmd(user, text).await;
        let plain = reply.message.plain(self.app.config.tz);
        assert!(
            matches!(reply.status, Status::Refused | Status::Invalid),
            "{text} should be refused → {plain}"
        );
        assert!(!reply.in_channel, "refusals are private");
        plain
    }

    /// How many times `needle` has been printed on the console channel.
    pub fn console_count(&self, needle: &str) -> usize {
        self.console.contents().matches(needle).count()
    }

    /// Waits until `needle` has been printed on the console `times` times.
    pub async fn wait_console(&self, needle: &str, times: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.console_count(needle) >= times {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every row of every table, as text: to prove a command changed nothing.
    pub async fn snapshot(&self) -> String {
        dump(&self.app.db.pool).await
    }
}

pub async fn dump(pool: &sqlx::SqlitePool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        // seen_requests is the transport's replay guard (a digest per signed
        // request received), not state a command changes
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' AND name != 'seen_requests' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = String::new();
    for table in tables {
        let mut columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .expect("columns");
        if table == "outbox" {
            // delivery progress moves in the background; what a command wrote is the row itself
            columns.retain(|c| {
                ["id", "channel", "body", "message_key", "created_at"].contains(&c.as_str())
            });
        }
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {row} FROM \"{table}\" ORDER BY rowid"
        )))
        .fetch_all(pool)
        .await
        .expect("rows");
        out.push_str(&format!("{table}:\n  {}\n", rows.join("\n  ")));
    }
    out
}

/// A deletion request (`DR-n`), downtime window (`DT-n`) or incident (`INC-n`) under test.
pub struct RecordCheck<'a> {
    t: &'a TestApp,
    id: &'a str,
}

impl RecordCheck<'_> {
    /// Its stored state, e.g. `cooling-off`.
    pub async fn state(&self) -> String {
        let (table, n) = match self.id.split_once('-') {
            Some(("DR", n)) => ("deletion_requests", n),
            Some(("DT", n)) => ("downtimes", n),
            Some(("INC", n)) => ("incidents", n),
            Some(("DEP", n)) => ("deploy_requests", n),
            _ => panic!("record ids are DR-n, DT-n, INC-n or DEP-n, not {}", self.id),
        };
        let n: i64 = n.parse().expect("record number");
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT state FROM {table} WHERE id = ?"
        )))
        .bind(n)
        .fetch_optional(&self.t.app.db.pool)
        .await
        .expect("state")
        .unwrap_or_else(|| panic!("{} does not exist", self.id))
    }

    /// Waits until the record is in `state`, for work the app does in the
    /// background (a deploy's trigger call); fails after [`STEP_TIMEOUT`].
    pub async fn wait_state(&self, state: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let now = self.state().await;
            if now == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} is {now}, never {state}",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails the test unless the record is in `state`.
    pub async fn expect_state(&self, state: &str) {
        assert_eq!(self.state().await, state, "{}", self.id);
    }
}

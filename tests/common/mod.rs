//! Test harness: the real application on a random port with a temporary
//! database, its console output captured, and helpers to run commands the way
//! a user would.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shipmate::app::{App, Invocation, Reply, Status};
use shipmate::delivery::SharedBuffer;
use shipmate::domain::timing::{Clock, SystemClock};
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

/// A running application.
pub struct TestApp {
    pub app: App,
    pub port: u16,
    pub console: SharedBuffer,
    /// Shared so a second app can be started on the same database (a restart).
    pub dir: Arc<TempDir>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
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
        server,
    }
}

impl TestApp {
    /// Runs `text` as console user `user` in #bioinfo.
    pub async fn cmd(&self, user: &str, text: &str) -> Reply {
        let inv = Invocation::new(
            format!("console:{user}").parse().expect("user"),
            CHANNEL.parse().expect("channel"),
            text,
        );
        self.app.dispatch(&inv).await
    }

    /// Runs a command that must succeed and returns its reply text.
    pub async fn ok(&self, user: &str, text: &str) -> String {
        let reply = self.cmd(user, text).await;
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

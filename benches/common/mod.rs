//! What the bench binaries share: percentiles, a process's RSS, and the
//! app built on a temp database from environment-style overrides, serving
//! on the current runtime (its console output goes to a sink).
#![allow(dead_code)]

use std::time::Duration;

use shipmate::app::App;
use shipmate::settings;
use shipmate::startup::{Application, Options};

/// The `p` quantile of sorted durations (zero for none).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The resident set size of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The configuration for a database in `dir` (`bench.db`), HTTP on a free
/// port, no console, plus `extra` (`SHIPMATE__…` keys).
pub fn config(dir: &tempfile::TempDir, extra: &[(&str, String)]) -> settings::Config {
    let mut env: std::collections::HashMap<String, String> = [
        (
            "SHIPMATE__DATABASE__URL".to_string(),
            format!("sqlite://{}/bench.db", dir.path().display()),
        ),
        ("SHIPMATE__HTTP__BIND".into(), "127.0.0.1:0".into()),
        ("SHIPMATE__CONSOLE__ENABLED".into(), "false".into()),
    ]
    .into_iter()
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    settings::load(None, Some(env))
        .expect("settings")
        .validate()
        .expect("valid")
}

/// The app serving (HTTP, scheduler, outbox worker) on the current runtime.
pub async fn serve(config: settings::Config) -> App {
    let application = Application::build(
        config,
        Options {
            console_out: Box::new(std::io::sink()),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let app = application.app().clone();
    tokio::spawn(application.run_until_stopped());
    app
}

//! Benchmark (a bench binary that prints its figures, not a timed test):
//!
//! 1. create + approve deletion requests through the real dispatcher on a
//!    real SQLite file in WAL mode: role check, state change, audit row,
//!    outbox row, job row, one transaction per command. Prints throughput and
//!    p50/p99 latency per command.
//! 2. The serving process: time from spawn to `/healthz` answering (with
//!    migrations applied to a fresh database) and idle RSS.
//!
//! Run with `cargo bench --bench dispatch`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{percentile, rss_kib};
use shipmate::app::{App, Invocation, Status};
use shipmate::domain::timing::SystemClock;
use shipmate::settings;
use shipmate::store::Db;

const PAIRS: usize = 30_000;

/// The application on a fresh WAL SQLite file (kept while the guard lives).
async fn bench_app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let env = [("SHIPMATE__DATABASE__URL".to_string(), url.clone())]
        .into_iter()
        .collect();
    let config = settings::load(None, Some(env))
        .expect("settings")
        .validate()
        .expect("valid");
    let db = Db::open(&url).await.expect("db");
    (dir, App::new(db, Arc::new(config), Arc::new(SystemClock)))
}

/// The floor: one bare statement through sqlx's SQLite worker thread.
async fn bench_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&format!("sqlite://{}/rt.db", dir.path().display()))
        .await
        .expect("db");
    let mut conn = db.pool.acquire().await.expect("conn");
    let n = 50_000;
    let t = Instant::now();
    for _ in 0..n {
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .expect("select");
    }
    let per = t.elapsed() / n;
    println!(
        "sqlx round trip: one `SELECT 1` on a pooled connection: {:.1} µs",
        per.as_secs_f64() * 1e6
    );
}

/// Create + approve from `clients` concurrent clients (as from several chat
/// users at once): commands that arrive together share a transaction.
async fn bench_concurrent(clients: usize) {
    let (dir, app) = bench_app().await;
    // warm-up: connections, statement caches, page cache
    let warm: shipmate::domain::UserRef = "console:warm".parse().expect("user");
    let channel: shipmate::domain::ChannelRef = "console:#bioinfo".parse().expect("channel");
    for i in 0..200 {
        let inv = Invocation::new(
            warm.clone(),
            channel.clone(),
            format!("/delete-request warm/{i} reason:other warm-up"),
        );
        assert_eq!(app.dispatch(&inv).await.status, Status::Ok);
    }
    let per_client = PAIRS / clients;
    let started = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let user: shipmate::domain::UserRef = format!("console:user{c}").parse().expect("user");
            let steward: shipmate::domain::UserRef = "console:steward".parse().expect("user");
            let channel: shipmate::domain::ChannelRef =
                "console:#bioinfo".parse().expect("channel");
            let tz = app.config.tz;
            let mut latencies = Vec::with_capacity(per_client * 2);
            for i in 0..per_client {
                let create = Invocation::new(
                    user.clone(),
                    channel.clone(),
                    format!("/delete-request c{c}/run-{i} reason:duplicate-run pipeline ran twice"),
                );
                let t = Instant::now();
                let reply = app.dispatch(&create).await;
                latencies.push(t.elapsed());
                assert_eq!(reply.status, Status::Ok);
                let text = reply.message.plain(tz);
                let id = text
                    .split_whitespace()
                    .find(|w| w.starts_with("DR-"))
                    .map(|w| w.trim_end_matches(':').to_string())
                    .expect("the reply names the request");
                let approve = Invocation::new(
                    steward.clone(),
                    channel.clone(),
                    format!("/delete-request approve {id}"),
                );
                let t = Instant::now();
                let reply = app.dispatch(&approve).await;
                latencies.push(t.elapsed());
                assert_eq!(reply.status, Status::Ok, "{:?}", reply.message);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("client"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "dispatch, {clients} concurrent clients: {} commands (create + approve)",
        latencies.len()
    );
    println!(
        "  throughput  {:>10.0} commands/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  p50         {:>10.3} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  p99         {:>10.3} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  p99.9       {:>10.3} ms · max {:.3} ms",
        percentile(&latencies, 0.999).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM audit_log), (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM jobs WHERE kind = 'deletion.expire')",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("counts");
    let wal = std::fs::metadata(dir.path().join("bench.db-wal")).map_or(0, |m| m.len());
    println!(
        "  WAL file at the end: {:.1} MB (checked every 0.5 s; past {} MiB the log starts over)",
        wal as f64 / 1e6,
        shipmate::store::checkpoint::RESTART_PAST_BYTES / (1024 * 1024)
    );
    println!(
        "  rows written: audit {} · outbox {} · jobs {}",
        counts.0, counts.1, counts.2
    );
}

fn healthz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(n) if n > 12 && buf[..n].starts_with(b"HTTP/1.1 200"))
}

fn bench_startup() {
    let mut starts = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_shipmate"))
            .arg("serve")
            .current_dir(dir.path())
            .env("SHIPMATE__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        while !healthz(port) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "serve never became healthy"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        starts.push(t.elapsed());
        std::thread::sleep(Duration::from_secs(2));
        rss.extend(rss_kib(child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }
    starts.sort();
    rss.sort();
    println!("serve: spawn → /healthz 200 on a fresh database (migrations applied), 5 runs");
    println!(
        "  median {:.1} ms · min {:.1} ms · max {:.1} ms",
        percentile(&starts, 0.5).as_secs_f64() * 1e3,
        starts[0].as_secs_f64() * 1e3,
        starts[starts.len() - 1].as_secs_f64() * 1e3
    );
    if let (Some(lo), Some(hi)) = (rss.first(), rss.last()) {
        println!(
            "  idle RSS after 2 s: {:.1}–{:.1} MB",
            *lo as f64 / 1024.0,
            *hi as f64 / 1024.0
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // the runtime `shipmate serve` runs on
    let runtime = shipmate::startup::runtime().expect("runtime");
    runtime.block_on(bench_round_trip());
    // DISPATCH_BENCH_CLIENTS=8,12 runs only those levels (for profiling)
    let levels: Vec<usize> = std::env::var("DISPATCH_BENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 6, 8, 12, 16, 64]);
    for clients in levels {
        runtime.block_on(bench_concurrent(clients));
    }
    bench_startup();
}

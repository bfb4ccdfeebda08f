//! Benchmark (a bench binary that prints its figures, not a timed test):
//!
//! 1. Throughput and latency of `POST /webhooks/github`: signed
//!    `workflow_run` deliveries (~5 KB: the fixture with its API URLs
//!    trimmed, each with a unique delivery id and run id) fired at the real
//!    HTTP endpoint on loopback over keep-alive connections, with 16 and 64
//!    concurrent senders. Every 200 means the delivery, its run and its
//!    outbox row are committed. Prints accepted/s and p50/p99.
//! 2. A burst: 1,000 events over 50 runs within 5 s, routed to a console
//!    channel. Prints posts and edits per run (coalescing) and checks that
//!    every run's final state reached the outbox.
//!
//! Run with `cargo bench --bench webhooks`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use shipmate::ci::auth::github_signature;
use shipmate::settings;
use shipmate::startup::{Application, Options};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SECRET: &str = "bench-secret";
const PER_LEVEL: usize = 40_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The workflow_run fixture with the `*_url` API links of its nested
/// objects removed (html_url kept): about 5 KB, like a typical delivery.
fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/workflow_run.completed.success.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
    fn trim(v: &mut Value, depth: usize) {
        if let Value::Object(map) = v {
            if depth > 0 {
                map.retain(|k, _| !k.ends_with("_url") || k == "html_url");
            }
            for child in map.values_mut() {
                trim(child, depth + 1);
            }
        }
    }
    trim(&mut v, 0);
    v
}

fn delivery(template: &Value, run_id: u64, status: &str, second: u32) -> Vec<u8> {
    let mut v = template.clone();
    v["workflow_run"]["id"] = run_id.into();
    v["workflow_run"]["status"] = status.into();
    v["workflow_run"]["conclusion"] = if status == "completed" {
        "success".into()
    } else {
        Value::Null
    };
    v["workflow_run"]["updated_at"] =
        format!("2026-11-24T05:{:02}:{:02}Z", second / 60, second % 60).into();
    serde_json::to_vec(&v).expect("serialise")
}

fn request(body: &[u8], delivery_id: &str) -> Vec<u8> {
    let sig = github_signature(SECRET, body);
    let mut out = format!(
        "POST /webhooks/github HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         x-github-event: workflow_run\r\nx-github-delivery: {delivery_id}\r\n\
         x-hub-signature-256: {sig}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends one request on a keep-alive connection; returns the status code.
async fn send(conn: &mut BufReader<TcpStream>, req: &[u8]) -> u16 {
    conn.get_mut().write_all(req).await.expect("write");
    let mut line = String::new();
    conn.read_line(&mut line).await.expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await.expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.expect("body");
    status
}

/// `WEBHOOKS_BENCH_ROUTE=none` leaves the throughput runs unrouted (runs
/// stored, no outbox rows), to separate intake from the outbox worker.
async fn start(dir: &tempfile::TempDir, routed: bool) -> (u16, shipmate::app::App) {
    let route = if routed {
        "[[pipelines.routes]]\nsource = \"github\"\nenvironment = \"ci\"\nchannels = [\"console:#ci\"]\n"
    } else {
        ""
    };
    let file = dir.path().join("bench.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[database]
url = "sqlite://{}/bench.db"
[http]
bind = "127.0.0.1:0"
max_body_bytes = 1048576
[webhooks.github]
secret = "{SECRET}"
{route}"#,
            dir.path().display()
        ),
    )
    .expect("config");
    let config = settings::load(Some(&file), Some(Default::default()))
        .expect("settings")
        .validate()
        .expect("valid");
    let application = Application::build(
        config,
        Options {
            console_out: Box::new(std::io::sink()),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let port = application.port();
    let app = application.app().clone();
    tokio::spawn(application.run_until_stopped());
    (port, app)
}

async fn throughput(port: u16, template: &Value, concurrency: usize, base: u64) {
    // Requests are built and signed before the clock starts.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..PER_LEVEL)
            .map(|i| {
                let run = base + i as u64;
                request(
                    &delivery(template, run, "completed", 1),
                    &format!("bench-{run}"),
                )
            })
            .collect(),
    );
    let body_len = delivery(template, base, "completed", 1).len();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let requests = requests.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut conn = BufReader::new(stream);
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    return latencies;
                }
                let t = Instant::now();
                let status = send(&mut conn, &requests[i]).await;
                latencies.push(t.elapsed());
                assert_eq!(status, 200, "request {i}");
            }
        }));
    }
    let mut latencies = Vec::with_capacity(PER_LEVEL);
    for task in tasks {
        latencies.extend(task.await.expect("sender"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "webhooks/github  concurrency {concurrency:>3}: {} deliveries of {body_len} B in {:.2}s = {:.0} accepted/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn burst(port: u16, app: &shipmate::app::App, template: &Value) {
    const RUNS: u64 = 50;
    const EVENTS_PER_RUN: u32 = 20;
    let base = 9_000_000_000u64;
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut conn = BufReader::new(stream);
    let started = Instant::now();
    let pace = Duration::from_millis(4500) / (RUNS as u32 * EVENTS_PER_RUN);
    for step in 0..EVENTS_PER_RUN {
        let status = if step + 1 == EVENTS_PER_RUN {
            "completed"
        } else {
            "in_progress"
        };
        for r in 0..RUNS {
            // on a fixed schedule (event n at n × pace), so latency and timer
            // granularity do not stretch the burst
            let n = step * RUNS as u32 + r as u32;
            tokio::time::sleep_until((started + pace * n).into()).await;
            let run = base + r;
            let body = delivery(template, run, status, step + 1);
            let code = send(&mut conn, &request(&body, &format!("burst-{run}-{step}"))).await;
            assert_eq!(code, 200);
        }
    }
    let sent_in = started.elapsed();
    // Let the outbox drain.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND message_key LIKE 'pipeline:github:9%'",
        )
        .fetch_one(&app.db.pool)
        .await
        .expect("pending");
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut rows_per_run = Vec::new();
    let mut final_ok = 0;
    for r in 0..RUNS {
        let key = format!("pipeline:github:{}:1", base + r);
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT body, state FROM outbox WHERE message_key = ? ORDER BY id")
                .bind(&key)
                .fetch_all(&app.db.pool)
                .await
                .expect("rows");
        if rows
            .last()
            .is_some_and(|(body, state)| body.contains("succeeded") && state == "delivered")
        {
            final_ok += 1;
        }
        rows_per_run.push(rows.len());
    }
    let max = rows_per_run.iter().max().copied().unwrap_or(0);
    let total: usize = rows_per_run.iter().sum();
    println!(
        "burst: {} events over {RUNS} runs sent in {:.2}s → {total} outbox rows: 1 post + {:.1} edits per run on average (max {} edits); final state delivered for {final_ok}/{RUNS} runs",
        RUNS * EVENTS_PER_RUN as u64,
        sent_in.as_secs_f64(),
        total as f64 / RUNS as f64 - 1.0,
        max.saturating_sub(1),
    );
    assert_eq!(final_ok, RUNS, "every run's final state is in the outbox");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let routed = std::env::var("WEBHOOKS_BENCH_ROUTE").map_or(true, |v| v != "none");
        println!(
            "throughput runs {}",
            if routed {
                "routed to console:#ci (every run gets an outbox row; the worker delivers them to a sink meanwhile)"
            } else {
                "unrouted (runs stored, no outbox rows)"
            }
        );
        let (port, app) = start(&dir, routed).await;
        let template = template();
        // Warm-up: connections, statement caches, page cache.
        throughput_quiet(port, &template).await;
        throughput(port, &template, 16, 1_000_000).await;
        throughput(port, &template, 64, 2_000_000).await;
        drop(app);
        // The burst on a fresh instance, so its messages do not queue behind
        // the 80,000 above (the console sink delivers them one by one).
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, app) = start(&dir, true).await;
        burst(port, &app, &template).await;
    });
}

async fn throughput_quiet(port: u16, template: &Value) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut conn = BufReader::new(stream);
    for i in 0..500u64 {
        let body = delivery(template, 500_000 + i, "completed", 1);
        assert_eq!(
            send(&mut conn, &request(&body, &format!("warm-{i}"))).await,
            200
        );
    }
}

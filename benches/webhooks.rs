//! Benchmark (a bench binary that prints its figures, not a timed test):
//!
//! 1. Throughput and latency of `POST /webhooks/github`: signed
//!    `workflow_run` deliveries (~5 KB: the fixture with its API URLs
//!    trimmed, each with a unique delivery id and run id) fired at the real
//!    HTTP endpoint on loopback over keep-alive connections, with 16 and 64
//!    concurrent senders. Every 200 means the delivery, its run and its
//!    outbox row are committed. Prints accepted/s and p50/p99. The runs are
//!    routed to a Slack channel on a local mock of the Web API.
//! 2. A burst: 1,000 events over 50 runs within 5 s, routed by repository to
//!    ten Slack channels on a mock that answers 429 whenever a channel gets
//!    more than Slack's one message per second. Prints 429s, posts and edits
//!    per run, and how long after the burst every run's final state was
//!    accepted by the mock.
//!
//! The server runs on the runtime `shipmate serve` runs on (one async
//! thread, `startup::runtime`), in a thread of its own; the senders run on a
//! 2-worker runtime of their own, as another process would.
//!
//! `WEBHOOKS_BENCH_ROUTE=console` routes the throughput runs to a console
//! channel instead (the outbox worker then delivers every message at once,
//! competing with intake for the 2 cores); `none` leaves them unrouted.
//!
//! After each level it prints the CPU time per delivery of the server thread,
//! SQLite's worker threads and the senders (from `/proc/self/task`).
//!
//! 3. Growth: 100,000 deliveries (25,000 runs of four events each, queued,
//!    in progress twice, completed) on a fresh instance routed to a console
//!    channel, so every run gets its message and edits, delivered meanwhile.
//!    Prints the database file's growth (with its WAL, after a checkpoint)
//!    and the rows behind it; then prunes as the retention job would 91 days
//!    later (the default `[retention]` ages) and prints what is left live.
//!
//! `WEBHOOKS_BENCH=growth` runs only the growth part, `throughput` only 1
//! and 2; the default runs all three.
//!
//! Run with `cargo bench --bench webhooks`.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::percentile;
use serde_json::Value;
use shipmate::ci::auth::github_signature;
use shipmate::settings;
use shipmate::startup::{Application, Options};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "bench-secret";
const PER_LEVEL: usize = 40_000;
/// Slack's limit: one message a second per channel ("short bursts" allowed;
/// the mock allows 10% timing slack, no burst).
const SLACK_GAP: Duration = Duration::from_millis(900);

/// A Slack Web API that answers 429 (`Retry-After: 1`) to a message that
/// comes less than [`SLACK_GAP`] after the previous one in its channel, and
/// records the ones it accepted.
#[derive(Clone, Default)]
struct LimitedSlack(Arc<Mutex<SlackLog>>);

#[derive(Default)]
struct SlackLog {
    last: HashMap<String, Instant>,
    limited: usize,
    accepted: usize,
    next_ts: u64,
}

impl Respond for LimitedSlack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path().ends_with("conversations.history") {
            return ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": true, "messages": [], "has_more": false}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let channel = body["channel"].as_str().unwrap_or_default().to_string();
        let now = Instant::now();
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log
            .last
            .get(&channel)
            .is_some_and(|last| now - *last < SLACK_GAP)
        {
            log.limited += 1;
            return ResponseTemplate::new(429).insert_header("Retry-After", "1");
        }
        log.last.insert(channel.clone(), now);
        log.accepted += 1;
        log.next_ts += 1;
        let ts = body["ts"]
            .as_str()
            .map_or_else(|| format!("1700000000.{:06}", log.next_ts), str::to_string);
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"ok": true, "channel": channel, "ts": ts}))
    }
}

async fn limited_slack() -> (MockServer, LimitedSlack) {
    let server = MockServer::start().await;
    let slack = LimitedSlack::default();
    Mock::given(method("POST"))
        .respond_with(slack.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(slack.clone())
        .mount(&server)
        .await;
    (server, slack)
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
    // ten repositories, so the burst's runs spread over ten channels
    v["repository"]["full_name"] = format!("acme/svc-{}", run_id % 10).into();
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

/// A keep-alive connection to the server.
async fn connect(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    BufReader::new(stream)
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

/// Where the throughput runs go (`WEBHOOKS_BENCH_ROUTE`).
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// One Slack channel on the mock (the default).
    Slack,
    /// The repository's own Slack channel, one of ten (the burst).
    SlackPerRepository,
    /// A console channel: every message delivered at once.
    Console,
    /// Nowhere: runs stored, no outbox rows.
    None,
}

async fn start(
    dir: &tempfile::TempDir,
    route: Route,
    slack: &MockServer,
) -> (u16, shipmate::app::App) {
    let one = |channel: &str| {
        format!(
            "[[pipelines.routes]]\nsource = \"github\"\nenvironment = \"ci\"\nchannels = [\"{channel}\"]\n"
        )
    };
    let route = match route {
        Route::Slack => one("slack:C0"),
        Route::Console => one("console:#ci"),
        Route::None => String::new(),
        Route::SlackPerRepository => (0..10)
            .map(|n| {
                format!(
                    "[[pipelines.routes]]\nrepository = \"acme/svc-{n}\"\nenvironment = \"ci\"\nchannels = [\"slack:C{n}\"]\n"
                )
            })
            .collect(),
    };
    let api = format!("{}/api/", slack.uri());
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
[slack]
enabled = true
bot_token = "xoxb-bench"
signing_secret = "bench-signing-secret"
api_base_url = "{api}"
{route}"#,
            dir.path().display()
        ),
    )
    .expect("config");
    let config = settings::load(Some(&file), Some(Default::default()))
        .expect("settings")
        .validate()
        .expect("valid");
    // its own thread and runtime (see the module doc)
    let (started, ready) = tokio::sync::oneshot::channel();
    let server = std::thread::Builder::new().name("server".into());
    let _ = server
        .spawn(move || {
            let runtime = shipmate::startup::runtime().expect("server runtime");
            runtime.block_on(async move {
                let application = Application::build(
                    config,
                    Options {
                        console_out: Box::new(std::io::sink()),
                        ..Options::default()
                    },
                )
                .await
                .expect("app");
                let _ = started.send((application.port(), application.app().clone()));
                application.run_until_stopped().await
            })
        })
        .expect("server thread");
    ready.await.expect("the server started")
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
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let requests = requests.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(port).await;
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
    let cpu = cpu_per_delivery(&cpu_before, &thread_cpu(), latencies.len());
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
    println!("  CPU per delivery: {cpu}");
}

/// CPU time (user + system, in clock ticks) used so far by each group of
/// this process's threads, by thread name: the server thread, SQLite's
/// worker threads, the senders.
fn thread_cpu() -> HashMap<&'static str, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: utime and stime are fields 14 and 15
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = match &stat[open + 1..close] {
            "server" => "server",
            n if n.starts_with("sqlx-sqlite") => "sqlite",
            "sender" => "senders",
            _ => continue,
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let ticks = field(11) + field(12);
        *out.entry(name).or_default() += ticks;
    }
    out
}

/// "server 52 µs, sqlite 30 µs, senders 8 µs" (clock ticks are 10 ms, so
/// this is exact to a few µs over 40,000 deliveries).
fn cpu_per_delivery(
    before: &HashMap<&'static str, u64>,
    after: &HashMap<&'static str, u64>,
    n: usize,
) -> String {
    ["server", "sqlite", "senders"]
        .iter()
        .map(|name| {
            // (a thread that ended meanwhile takes its time with it)
            let ticks = after
                .get(name)
                .copied()
                .unwrap_or(0)
                .saturating_sub(before.get(name).copied().unwrap_or(0));
            // 100 ticks a second on Linux
            format!("{name} {:.0} µs", ticks as f64 * 1e4 / n.max(1) as f64)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn burst(port: u16, app: &shipmate::app::App, template: &Value, slack: &LimitedSlack) {
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
    let burst_end_ms = chrono::Utc::now().timestamp_millis();
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
    let mut last_final_ms = burst_end_ms;
    for r in 0..RUNS {
        let key = format!("pipeline:github:{}:1", base + r);
        let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT body, state, delivered_at FROM outbox WHERE message_key = ? ORDER BY id",
        )
        .bind(&key)
        .fetch_all(&app.db.pool)
        .await
        .expect("rows");
        if let Some((_, _, Some(at))) = rows
            .last()
            .filter(|(body, state, _)| body.contains("succeeded") && state == "delivered")
        {
            final_ok += 1;
            last_final_ms = last_final_ms.max(*at);
        }
        rows_per_run.push(rows.len());
    }
    let max = rows_per_run.iter().max().copied().unwrap_or(0);
    let total: usize = rows_per_run.iter().sum();
    let (limited, accepted) = {
        let log = slack.0.lock().unwrap_or_else(|e| e.into_inner());
        (log.limited, log.accepted)
    };
    println!(
        "burst: {} events over {RUNS} runs in 10 Slack channels, sent in {:.2}s → {total} outbox rows: 1 post + {:.1} edits per run on average (max {} edits)",
        RUNS * EVENTS_PER_RUN as u64,
        sent_in.as_secs_f64(),
        total as f64 / RUNS as f64 - 1.0,
        max.saturating_sub(1),
    );
    println!(
        "  Slack mock: {accepted} messages accepted, {limited} answered 429; final state delivered for {final_ok}/{RUNS} runs, the last {:.1} s after the burst's end",
        (last_final_ms - burst_end_ms) as f64 / 1e3
    );
    assert_eq!(final_ok, RUNS, "every run's final state is delivered");
}

/// The database file and its WAL, in bytes, after copying the WAL back.
async fn file_bytes(app: &shipmate::app::App, dir: &tempfile::TempDir) -> u64 {
    let _: Vec<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_all(&app.db.pool)
        .await
        .expect("checkpoint");
    ["bench.db", "bench.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len()))
        .sum()
}

/// Bytes in use (pages not on the free list).
async fn live_bytes(app: &shipmate::app::App) -> u64 {
    let (pages, free, size): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count), (SELECT page_size FROM pragma_page_size)",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("pages");
    ((pages - free) * size).unsigned_abs()
}

async fn counts(app: &shipmate::app::App) -> String {
    let mut out = Vec::new();
    for table in [
        "pipeline_deliveries",
        "pipeline_runs",
        "outbox",
        "jobs",
        "audit_log",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&app.db.pool)
                .await
                .expect("count");
        out.push(format!("{table} {n}"));
    }
    out.join(", ")
}

async fn growth(template: &Value) {
    const DELIVERIES: u64 = 100_000;
    const STEPS: [&str; 4] = ["queued", "in_progress", "in_progress", "completed"];
    let dir = tempfile::tempdir().expect("tempdir");
    let (mock, _slack) = limited_slack().await;
    let (port, app) = start(&dir, Route::Console, &mock).await;
    let before = file_bytes(&app, &dir).await;
    let next = Arc::new(AtomicUsize::new(0));
    let template = Arc::new(template.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (next, template) = (next.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(port).await;
            loop {
                // delivery i is step i / runs of run i % runs: each run's
                // events in order, a quarter of the deliveries apart
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= DELIVERIES {
                    return;
                }
                let runs = DELIVERIES / STEPS.len() as u64;
                let (run, step) = (20_000_000 + i % runs, (i / runs) as usize);
                let body = delivery(&template, run, STEPS[step], step as u32 + 1);
                let code = send(&mut conn, &request(&body, &format!("growth-{i}"))).await;
                assert_eq!(code, 200, "delivery {i}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
    let sent = started.elapsed();
    // let the outbox deliver for a while (one console channel drains slower
    // than intake fills it; a waiting row is the size of a delivered one)
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: i64 = 0;
    while Instant::now() < deadline {
        pending = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&app.db.pool)
            .await
            .expect("pending");
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = file_bytes(&app, &dir).await;
    println!(
        "growth: {DELIVERIES} deliveries ({} runs, routed; {pending} messages still waiting) sent in {:.1}s; the database grew {:.1} MB ({} → {} bytes with its WAL, after a checkpoint)",
        DELIVERIES / STEPS.len() as u64,
        sent.as_secs_f64(),
        (after - before) as f64 / 1e6,
        before,
        after
    );
    println!("  rows: {}", counts(&app).await);
    // what the retention job does 91 days on, at the default ages
    let later = chrono::Utc::now() + chrono::TimeDelta::days(91);
    let cut = shipmate::app::retention::cutoffs(&app.config.retention, later);
    let started = Instant::now();
    let (mut steps, mut longest) = (0, Duration::ZERO);
    loop {
        let step = Instant::now();
        let mut tx = app.db.begin().await.expect("begin");
        let pruned =
            shipmate::store::retention::prune(&mut *tx, &cut, shipmate::app::retention::BATCH)
                .await
                .expect("prune");
        tx.commit().await.expect("commit");
        steps += 1;
        longest = longest.max(step.elapsed());
        if !pruned.more(shipmate::app::retention::BATCH) {
            break;
        }
    }
    let file = file_bytes(&app, &dir).await;
    println!(
        "  retention 91 days on (default ages): {steps} transactions in {:.1}s (longest {:.0} ms); live data {:.1} MB of a {:.1} MB file (the rest is free pages SQLite reuses)",
        started.elapsed().as_secs_f64(),
        longest.as_secs_f64() * 1e3,
        live_bytes(&app).await as f64 / 1e6,
        file as f64 / 1e6
    );
    println!("  rows: {}", counts(&app).await);
}

fn main() {
    // the senders (the server has a runtime of its own, see `start`)
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sender")
        .enable_all()
        .build()
        .expect("runtime");
    let parts = std::env::var("WEBHOOKS_BENCH").unwrap_or_default();
    if parts.is_empty() || parts == "growth" {
        runtime.block_on(growth(&template()));
    }
    if parts == "growth" {
        return;
    }
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let route = match std::env::var("WEBHOOKS_BENCH_ROUTE").as_deref() {
            Ok("none") => Route::None,
            Ok("console") => Route::Console,
            _ => Route::Slack,
        };
        println!(
            "throughput runs {}",
            match route {
                Route::None => "unrouted (runs stored, no outbox rows)",
                Route::Console =>
                    "routed to console:#ci (every run gets an outbox row; the worker delivers them all to a sink meanwhile)",
                _ => "routed to one Slack channel on a mock (every run gets an outbox row; the worker sends one a second)",
            }
        );
        let (mock, slack) = limited_slack().await;
        let (port, _first) = start(&dir, route, &mock).await;
        let template = template();
        // Warm-up: connections, statement caches, page cache.
        throughput_quiet(port, &template).await;
        throughput(port, &template, 16, 1_000_000).await;
        throughput(port, &template, 64, 2_000_000).await;
        if route == Route::Slack {
            let log = slack.0.lock().unwrap_or_else(|e| e.into_inner());
            println!(
                "  Slack mock meanwhile: {} messages accepted, {} answered 429",
                log.accepted, log.limited
            );
        }
        // The burst on a fresh instance and mock, so its messages do not
        // queue behind the 80,000 above. The first instance stays up, idle
        // but for its outbox sending one message a second to its own mock.
        let dir = tempfile::tempdir().expect("tempdir");
        let (mock, slack) = limited_slack().await;
        let (port, app) = start(&dir, Route::SlackPerRepository, &mock).await;
        burst(port, &app, &template, &slack).await;
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

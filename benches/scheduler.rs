//! Benchmark (a bench binary that prints its figures, not a timed test) of
//! the durable scheduler, each on a fresh app with a temp WAL database on the
//! wall clock, the app running on `serve`'s one-thread runtime:
//!
//! 1. Burst: 20,000 jobs due at the same moment. Prints how long after that
//!    moment the last one fired (the issue's bar: within 5 s).
//! 2. Spread: 100,000 pending jobs due evenly over 10 minutes. Prints the
//!    lateness (fired − due) p50, p99 and max (bar: p99 under 1 s).
//!    `SCHEDULER_BENCH_SPREAD=60s` (any `parse_interval` duration) squeezes
//!    them into a shorter span for a quick run; the default is 10 minutes.
//! 3. Memory: the RSS of the real `shipmate serve` binary with 0, 20,000 and
//!    100,000 jobs pending (due tomorrow), after it has run a few seconds.
//!
//! Every job is an EOSL notice (`version.eosl_notice`) for a major whose
//! EOSL is recorded, so each firing reads the EOSL and the releases and
//! queues a message (to a console channel that the outbox worker delivers to
//! a sink meanwhile). `fired_at` is the scheduler's clock reading for the
//! batch the job fired in. `SCHEDULER_BENCH=burst,spread,memory` picks parts.
//!
//! Run with `cargo bench --bench scheduler`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{percentile, rss_kib};
use shipmate::app::{App, Invocation, Status};
use shipmate::settings;
use shipmate::store::{self, jobs::NewJob};

const BURST: usize = 20_000;
const SPREAD_JOBS: usize = 100_000;

/// The app, serving (scheduler and outbox worker running), with an EOSL
/// recorded for `bench` 1.x so its notices have something to say.
async fn start(dir: &tempfile::TempDir) -> App {
    let channels = [("SHIPMATE__VERSIONS__CHANNELS", "console:#eosl".to_string())];
    let app = common::serve(common::config(dir, &channels)).await;
    for command in [
        "/version release bench 1.0.0",
        "/version eosl bench 1 date:2099-06-30",
    ] {
        let reply = app
            .dispatch(&Invocation::new(
                "console:admin".parse().expect("user"),
                "console:#eosl".parse().expect("channel"),
                command,
            ))
            .await;
        assert_eq!(reply.status, Status::Ok, "{command}: {:?}", reply.message);
    }
    app
}

/// Schedules one EOSL notice per due time, in transactions of 5,000.
async fn schedule(db: &store::Db, due: &[DateTime<Utc>]) {
    let now = Utc::now();
    for (chunk_no, chunk) in due.chunks(5_000).enumerate() {
        let mut tx = db.begin().await.expect("begin");
        for (i, at) in chunk.iter().enumerate() {
            let n = chunk_no * 5_000 + i;
            let job = NewJob {
                kind: "version.eosl_notice".into(),
                payload: format!(
                    r#"{{"service":"bench","major":1,"date":"2099-06-30","before_secs":{n}}}"#
                ),
                due_at: *at,
                cron: None,
                dedup_key: None,
            };
            store::jobs::schedule(&mut tx, &job, now)
                .await
                .expect("schedule");
        }
        tx.commit().await.expect("commit");
    }
}

/// Waits until none of the bench's EOSL notices is pending (or `limit`
/// passes); returns the lateness (fired − due) of every fired one, sorted.
/// The bench's own have no dedup key, unlike the notices `/version eosl`
/// scheduled for 2099 in [`start`], which stay pending.
async fn settle(app: &App, limit: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + limit;
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'version.eosl_notice' AND state = 'pending' AND dedup_key IS NULL",
        )
        .fetch_one(&app.db.pool)
        .await
        .expect("pending");
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let late: Vec<i64> = sqlx::query_scalar(
        "SELECT fired_at - due_at FROM jobs WHERE kind = 'version.eosl_notice' AND state = 'done' ORDER BY 1",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("lateness");
    late.into_iter()
        .map(|ms| Duration::from_millis(ms.max(0).unsigned_abs()))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn burst() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(&dir).await;
    let due = Utc::now() + TimeDelta::seconds(10);
    let started = Instant::now();
    schedule(&app.db, &vec![due; BURST]).await;
    app.wake.jobs.notify_one();
    println!(
        "burst: {BURST} jobs scheduled in {:.2}s, all due at one moment",
        started.elapsed().as_secs_f64()
    );
    let late = settle(&app, Duration::from_secs(120)).await;
    let last = late.last().copied().unwrap_or_default();
    println!(
        "  fired {}/{BURST}; the last {:.0} ms after they fell due (p50 {:.0} ms, p99 {:.0} ms) = {:.0} jobs/s{}",
        late.len(),
        ms(last),
        ms(percentile(&late, 0.5)),
        ms(percentile(&late, 0.99)),
        late.len() as f64 / last.as_secs_f64().max(1e-3),
        if late.len() == BURST && last <= Duration::from_secs(5) {
            "  [target: all within 5 s: met]"
        } else {
            "  [target: all within 5 s: MISSED]"
        }
    );
}

async fn spread() {
    let span = match std::env::var("SCHEDULER_BENCH_SPREAD") {
        Ok(s) => settings::parse_interval(&s).expect("SCHEDULER_BENCH_SPREAD is a duration"),
        Err(_) => TimeDelta::minutes(10),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(&dir).await;
    // the first falls due once all are written (~1 s per 20,000)
    let first = Utc::now() + TimeDelta::seconds(15);
    let step = span / SPREAD_JOBS as i32;
    let due: Vec<DateTime<Utc>> = (0..SPREAD_JOBS).map(|i| first + step * i as i32).collect();
    let started = Instant::now();
    schedule(&app.db, &due).await;
    app.wake.jobs.notify_one();
    println!(
        "spread: {SPREAD_JOBS} jobs scheduled in {:.2}s, due evenly over {}s ({:.0} a second)",
        started.elapsed().as_secs_f64(),
        span.num_seconds(),
        SPREAD_JOBS as f64 / span.as_seconds_f64()
    );
    let wait = (span + TimeDelta::seconds(120))
        .to_std()
        .unwrap_or_default();
    let late = settle(&app, wait).await;
    let p99 = percentile(&late, 0.99);
    println!(
        "  fired {}/{SPREAD_JOBS}; lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms  [target: p99 under 1 s: {}]",
        late.len(),
        ms(percentile(&late, 0.5)),
        ms(p99),
        ms(late.last().copied().unwrap_or_default()),
        if late.len() == SPREAD_JOBS && p99 < Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        }
    );
}

/// The RSS of `shipmate serve` on a database holding `pending` jobs due tomorrow.
fn serve_rss(runtime: &tokio::runtime::Runtime, pending: usize) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.block_on(async {
        let db = store::Db::open(&format!("sqlite://{}/bench.db", dir.path().display()))
            .await
            .expect("db");
        let tomorrow = Utc::now() + TimeDelta::days(1);
        schedule(&db, &vec![tomorrow; pending]).await;
        drop(db);
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipmate"))
        .arg("serve")
        .current_dir(dir.path())
        .env(
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
        )
        .env("SHIPMATE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("SHIPMATE__CONSOLE__ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    // a few scheduler passes (it looks at the table at least every 500 ms)
    std::thread::sleep(Duration::from_secs(5));
    let rss = rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    rss
}

fn memory(runtime: &tokio::runtime::Runtime) {
    let mut line = Vec::new();
    for pending in [0, 20_000, 100_000] {
        let rss = serve_rss(runtime, pending);
        line.push(format!("{pending} pending: {:.1} MiB", rss as f64 / 1024.0));
    }
    println!(
        "memory: RSS of `shipmate serve` after 5 s with {}",
        line.join(", ")
    );
}

fn main() {
    let parts = std::env::var("SCHEDULER_BENCH").unwrap_or_else(|_| "burst,spread,memory".into());
    let runtime = shipmate::startup::runtime().expect("runtime");
    for part in parts.split(',') {
        match part.trim() {
            "burst" => runtime.block_on(burst()),
            "spread" => runtime.block_on(spread()),
            "memory" => memory(&runtime),
            other => eprintln!("SCHEDULER_BENCH: unknown part `{other}` (burst, spread, memory)"),
        }
    }
}

//! Benchmark (a bench binary that prints its figures, not a timed test) of
//! per-channel delivery lanes: one Slack channel is in a 429 storm (every
//! post answered `429 Retry-After: 1` for [`STORM`]) with [`STORM_QUEUE`]
//! messages waiting, while five healthy channels get a message every 300 ms
//! (each channel one per 1.5 s, inside Slack's one a second). Prints the
//! time from each healthy message's commit to the mock's receipt of it, p50,
//! p99 and max (the bar: within 1 s), the 429s the storm channel
//! got, and whether its messages all arrived, in order, once it ended.
//!
//! The app runs on `serve`'s one-thread runtime against a wiremock Slack
//! Web API on loopback; messages are queued the way features queue them
//! (an outbox row committed, then the worker woken).
//!
//! Run with `cargo bench --bench lanes`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::percentile;
use serde_json::Value;
use shipmate::app::{App, Message};
use shipmate::store;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const STORM: Duration = Duration::from_secs(30);
const STORM_QUEUE: usize = 20;
const HEALTHY: [&str; 5] = ["C1", "C2", "C3", "C4", "C5"];

/// Slack: `CSTORM` answers 429 while the storm lasts; every post is recorded.
#[derive(Clone, Default)]
struct Slack(Arc<SlackLog>);

#[derive(Default)]
struct SlackLog {
    storming: AtomicBool,
    /// (when, channel, outbox id, status)
    seen: Mutex<Vec<(Instant, String, i64, u16)>>,
}

impl Respond for Slack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path().ends_with("conversations.history") {
            return ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": true, "messages": [], "has_more": false}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let channel = body["channel"].as_str().unwrap_or_default().to_string();
        let id = body["metadata"]["event_payload"]["outbox_id"]
            .as_i64()
            .unwrap_or(-1);
        let limited = channel == "CSTORM" && self.0.storming.load(Ordering::SeqCst);
        let status = if limited { 429 } else { 200 };
        self.0.seen.lock().unwrap_or_else(|e| e.into_inner()).push((
            Instant::now(),
            channel.clone(),
            id,
            status,
        ));
        if limited {
            ResponseTemplate::new(429).insert_header("Retry-After", "1")
        } else {
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"ok": true, "channel": channel, "ts": format!("1700000000.{id:06}")}),
            )
        }
    }
}

async fn queue(app: &App, channel: &str, text: &str) -> (i64, Instant) {
    let body = serde_json::to_string(&Message::text(text)).expect("json");
    let id = {
        let mut w = app.db.lock().await;
        store::outbox::enqueue(&mut w, &format!("slack:{channel}"), &body, None, Utc::now())
            .await
            .expect("enqueue")
    };
    let at = Instant::now();
    app.wake.outbox.notify_one();
    (id, at)
}

/// Messages (pending, parked).
async fn depth(app: &App) -> (i64, i64) {
    let mut conn = app.db.pool.acquire().await.expect("conn");
    store::outbox::depth(&mut conn).await.expect("depth")
}

fn main() {
    let runtime = shipmate::startup::runtime().expect("runtime");
    runtime.block_on(async {
        let mock = MockServer::start().await;
        let slack = Slack::default();
        Mock::given(method("POST"))
            .respond_with(slack.clone())
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .respond_with(slack.clone())
            .mount(&mock)
            .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let slack_env = [
            ("SHIPMATE__SLACK__ENABLED", "true".to_string()),
            ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-bench".into()),
            ("SHIPMATE__SLACK__SIGNING_SECRET", "bench-secret".into()),
            ("SHIPMATE__SLACK__API_BASE_URL", format!("{}/api/", mock.uri())),
        ];
        let app = common::serve(common::config(&dir, &slack_env)).await;

        // the storm starts with its channel's queue full
        slack.0.storming.store(true, Ordering::SeqCst);
        let storm_started = Instant::now();
        let mut storm_ids = Vec::new();
        for n in 0..STORM_QUEUE {
            storm_ids.push(queue(&app, "CSTORM", &format!("storm {n}")).await.0);
        }
        let mut healthy = Vec::new();
        let mut n = 0;
        while storm_started.elapsed() < STORM {
            let channel = HEALTHY[n % HEALTHY.len()];
            healthy.push(queue(&app, channel, &format!("healthy {n}")).await);
            n += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        slack.0.storming.store(false, Ordering::SeqCst);
        // the storm channel drains at its one a second once the storm is over
        let deadline = Instant::now() + Duration::from_secs(STORM_QUEUE as u64 * 2 + 10);
        loop {
            let (pending, _) = depth(&app).await;
            if pending == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let seen = slack.0.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut waits: Vec<Duration> = healthy
            .iter()
            .map(|(id, queued)| {
                seen.iter()
                    .find(|(_, ch, sid, status)| ch != "CSTORM" && sid == id && *status == 200)
                    .map_or(Duration::MAX, |(at, ..)| at.saturating_duration_since(*queued))
            })
            .collect();
        waits.sort();
        let max = waits.last().copied().unwrap_or_default();
        let storm_posts: Vec<&(Instant, String, i64, u16)> =
            seen.iter().filter(|(_, ch, ..)| ch == "CSTORM").collect();
        let limited = storm_posts.iter().filter(|p| p.3 == 429).count();
        let accepted: Vec<i64> = storm_posts
            .iter()
            .filter(|p| p.3 == 200)
            .map(|p| p.2)
            .collect();
        let (_, parked) = depth(&app).await;
        println!(
            "lanes: one Slack channel in a {}s 429 storm with {STORM_QUEUE} queued; {} messages to 5 healthy channels meanwhile",
            STORM.as_secs(),
            healthy.len()
        );
        println!(
            "  healthy: commit → received p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms  [target: within 1 s: {}]",
            percentile(&waits, 0.5).as_secs_f64() * 1e3,
            percentile(&waits, 0.99).as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            if max < Duration::from_secs(1) { "met" } else { "MISSED" }
        );
        println!(
            "  storm channel: {limited} posts answered 429 (about one a second: Retry-After honoured for the channel); after it, {}/{STORM_QUEUE} delivered, {}; {parked} parked",
            accepted.len(),
            if accepted == storm_ids { "in order, once each" } else { "NOT in order or not once each" }
        );
    });
}

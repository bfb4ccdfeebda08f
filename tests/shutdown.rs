//! Stopping the real `shipmate serve` binary: SIGTERM and SIGINT stop it
//! gracefully (requests and the delivery in flight finish, the database is
//! closed, exit 0, promptly), and any stop during a send that the platform
//! already accepted (SIGKILL too) leaves exactly one copy in the channel after
//! the restart. Slack and Discord are played by local mocks that behave as
//! the platforms do: Slack keeps every post and shows it in
//! `conversations.history` with its metadata; Discord answers a resent nonce
//! with the message it already created.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// RFC 8032 test vector 1 public key: well-formed for config validation.
const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The messages a channel holds, keyed by the outbox id they carry.
#[derive(Clone, Default)]
struct Channel(Arc<Mutex<Vec<(i64, String)>>>);

impl Channel {
    fn copies(&self, outbox_id: i64) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| *id == outbox_id)
            .count()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Slack: every post is kept (the first one answered only after `hold`);
/// history lists them with their metadata.
struct SlackPost {
    channel: Channel,
    hold: Duration,
}

impl Respond for SlackPost {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let id = body["metadata"]["event_payload"]["outbox_id"]
            .as_i64()
            .unwrap_or(-1);
        let mut messages = self.channel.0.lock().unwrap();
        let ts = format!("1700000000.{:06}", messages.len() + 1);
        messages.push((id, ts.clone()));
        let answer = ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "channel": "C1", "ts": ts}));
        if messages.len() == 1 {
            answer.set_delay(self.hold)
        } else {
            answer
        }
    }
}

struct SlackHistory(Channel);

impl Respond for SlackHistory {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let messages: Vec<Value> = self
            .0
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(id, ts)| {
                json!({"type": "message", "ts": ts,
                       "metadata": {"event_type": "shipmate_outbox", "event_payload": {"outbox_id": id}}})
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "messages": messages, "has_more": false}))
    }
}

/// Discord: a new nonce creates a message (the first answered only after
/// `hold`); a nonce seen before is answered with the message it created.
struct DiscordPost {
    channel: Channel,
    hold: Duration,
}

impl Respond for DiscordPost {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let nonce: i64 = body["nonce"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1);
        let mut messages = self.channel.0.lock().unwrap();
        let enforced = body["enforce_nonce"] == json!(true);
        if enforced && let Some((_, id)) = messages.iter().find(|(n, _)| *n == nonce) {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"id": id, "channel_id": "123"}));
        }
        let id = format!("{}", 5000 + messages.len() + 1);
        messages.push((nonce, id.clone()));
        let answer =
            ResponseTemplate::new(200).set_body_json(json!({"id": id, "channel_id": "123"}));
        if messages.len() == 1 {
            answer.set_delay(self.hold)
        } else {
            answer
        }
    }
}

struct Mocks {
    slack: MockServer,
    discord: MockServer,
    slack_channel: Channel,
    discord_channel: Channel,
}

async fn mocks(hold: Duration) -> Mocks {
    let (slack, discord) = (MockServer::start().await, MockServer::start().await);
    let (slack_channel, discord_channel) = (Channel::default(), Channel::default());
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(SlackPost {
            channel: slack_channel.clone(),
            hold,
        })
        .mount(&slack)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/conversations.history"))
        .respond_with(SlackHistory(slack_channel.clone()))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v10/channels/123/messages"))
        .respond_with(DiscordPost {
            channel: discord_channel.clone(),
            hold,
        })
        .mount(&discord)
        .await;
    Mocks {
        slack,
        discord,
        slack_channel,
        discord_channel,
    }
}

fn env(dir: &Path, port: u16, mocks: &Mocks, channel: &str) -> HashMap<String, String> {
    [
        (
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/shipmate.db", dir.display()),
        ),
        ("SHIPMATE__HTTP__BIND", format!("127.0.0.1:{port}")),
        ("SHIPMATE__DELETION__CHANNELS", channel.to_string()),
        ("SHIPMATE__SLACK__ENABLED", "true".into()),
        ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-test".into()),
        ("SHIPMATE__SLACK__SIGNING_SECRET", "signing-secret".into()),
        (
            "SHIPMATE__SLACK__API_BASE_URL",
            format!("{}/api/", mocks.slack.uri()),
        ),
        ("SHIPMATE__DISCORD__ENABLED", "true".into()),
        ("SHIPMATE__DISCORD__BOT_TOKEN", "discord-test".into()),
        ("SHIPMATE__DISCORD__PUBLIC_KEY", PUBLIC_KEY.into()),
        (
            "SHIPMATE__DISCORD__API_BASE_URL",
            format!("{}/api/v10", mocks.discord.uri()),
        ),
        ("SHIPMATE__WEBHOOKS__GENERIC__TOKEN", "generic-token".into()),
        ("SHIPMATE__SHUTDOWN__GRACE", "500ms".into()),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn shipmate(dir: &Path, env: &HashMap<String, String>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipmate"));
    cmd.current_dir(dir).envs(env);
    cmd
}

fn file_request(dir: &Path, env: &HashMap<String, String>, target: &str) {
    let out = shipmate(dir, env)
        .args(["run", "--as", "alice", "--channel", "#bioinfo", "--"])
        .args(["/delete-request", target, "reason:other", "not", "needed"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn serve(dir: &Path, env: &HashMap<String, String>, port: u16) -> Child {
    let child = shipmate(dir, env)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("serve.log"))
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Waits for the process to exit; `None` if it is still running after `within`.
async fn exited(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn until(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn db(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}/shipmate.db", dir.display()))
        .await
        .unwrap()
}

/// (id, state) of every outbox row.
async fn outbox(dir: &Path) -> Vec<(i64, String)> {
    let pool = db(dir).await;
    let rows = sqlx::query_as("SELECT id, state FROM outbox ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_and_the_delivery_in_flight_finish_then_exits_0() {
    // Arrange: Slack holds the card's post for 300 ms (inside the grace)
    let mocks = mocks(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = env(dir.path(), port, &mocks, "slack:C1");
    file_request(dir.path(), &env, "city-b/run-1");
    let mut child = serve(dir.path(), &env, port).await;
    // a webhook whose body is still arriving
    let body = json!({"id": "d-1", "pipeline": "deploy-web", "run_id": "1", "status": "running"})
        .to_string();
    let mut request = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        request,
        "POST /webhooks/generic HTTP/1.1\r\nhost: x\r\nauthorization: Bearer generic-token\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    until("the post", Duration::from_secs(5), || {
        mocks.slack_channel.len() == 1
    })
    .await;

    // Act: SIGTERM while the post is held and the request half sent
    signal(&child, "TERM");
    // new connections are refused while the work in flight finishes
    until("the listener to close", Duration::from_secs(2), || {
        TcpStream::connect(("127.0.0.1", port)).is_err()
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "waits for the request");
    request.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    request.read_to_string(&mut answer).unwrap();
    let status = exited(&mut child, Duration::from_secs(3)).await;

    // Assert: answered, delivered once, closed cleanly, exit 0
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "exit 0 promptly");
    let rows = outbox(dir.path()).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "delivered", "{rows:?}");
    assert_eq!(mocks.slack_channel.copies(rows[0].0), 1);
    let wal = dir.path().join("shipmate.db-wal");
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        0,
        "the log was copied back on close"
    );
    let pool = db(dir.path()).await;
    let deliveries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pipeline_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 1, "the webhook answered 200 was stored");
}

/// Stops `serve` with each signal while the platform holds an accepted post
/// longer than the grace period, restarts it, and counts the copies.
async fn one_copy_after_each_kind_of_stop(platform: &str) {
    for (i, kill) in ["KILL", "TERM", "INT"].into_iter().enumerate() {
        let mocks = mocks(Duration::from_secs(3)).await;
        let (channel, copies) = match platform {
            "slack" => ("slack:C1", &mocks.slack_channel),
            _ => ("discord:123", &mocks.discord_channel),
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let env = env(dir.path(), port, &mocks, channel);
        file_request(dir.path(), &env, &format!("city-b/run-{i}"));
        let mut first = serve(dir.path(), &env, port).await;
        until(
            &format!("the post before SIG{kill}"),
            Duration::from_secs(5),
            || copies.len() == 1,
        )
        .await;

        signal(&first, kill);
        let status = exited(&mut first, Duration::from_secs(3)).await;
        if kill == "KILL" {
            assert!(status.is_some());
            // the killed process's 30 s lease runs out while it is down
            let pool = db(dir.path()).await;
            sqlx::query("UPDATE outbox SET lease_until = 0 WHERE lease_until IS NOT NULL")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        } else {
            assert_eq!(
                status.and_then(|s| s.code()),
                Some(0),
                "SIG{kill}: exit 0 within the grace"
            );
        }

        let mut second = serve(dir.path(), &env, port).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let rows = loop {
            let rows = outbox(dir.path()).await;
            if rows.iter().all(|(_, state)| state == "delivered") {
                break rows;
            }
            if Instant::now() > deadline {
                let pool = db(dir.path()).await;
                let detail: Vec<(i64, Option<i64>, i64, i64, i64)> = sqlx::query_as(
                    "SELECT id, lease_until, leases, attempts, next_attempt_at FROM outbox",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
                panic!(
                    "SIG{kill}: not delivered: {rows:?} {detail:?} now={}\n{log}",
                    chrono::Utc::now().timestamp_millis()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        signal(&second, "TERM");
        assert_eq!(
            exited(&mut second, Duration::from_secs(3))
                .await
                .and_then(|s| s.code()),
            Some(0)
        );
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            copies.copies(rows[0].0),
            1,
            "{platform} after SIGKILL/TERM/INT: exactly one copy (SIG{kill})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_post_accepted_before_any_stop_is_not_posted_again_after_the_restart() {
    one_copy_after_each_kind_of_stop("slack").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_post_accepted_before_any_stop_is_not_posted_again_after_the_restart() {
    one_copy_after_each_kind_of_stop("discord").await;
}

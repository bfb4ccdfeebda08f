//! Messages that would be too long for a platform are summarised or
//! continued, never refused: a pipeline run with 100 failed jobs on strict
//! Slack and Discord mocks (nothing parked, on-call paged on both), a
//! 150-task runbook's plan as a Slack and a Discord reply (every task
//! shown, continued in further messages, each within the platform's
//! limits), the same plan and a long retro posted to a channel (delivered
//! whole, in order, in parts: a thread on Slack, follow-ups on Discord),
//! and a restart between the parts of a posted message (nothing twice).
//! Long replies keep the platforms' reply rules: on Discord the answer
//! goes through the interaction callback before any follow-up, within the
//! webhook's rate-limit bucket and past a 429; on Slack a `response_url`
//! carries at most 5 pages (over HTTP and Socket Mode) and the rest goes
//! on through the outbox, nothing lost, in order.

mod chat;
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat::rules::*;
use chat::*;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use shipmate::app::Message;
use shipmate::domain::timing::{ManualClock, SystemClock};
use shipmate::store;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DISCORD_CHANNEL: &str = "645027906669510667";

fn env_of(
    slack: &MockServer,
    discord: &MockServer,
    extra: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut env = slack_env(slack);
    env.extend(discord_env(discord));
    env.push(("SHIPMATE__OUTBOX__RETRY_BASE", "100ms".into()));
    env.extend(extra.iter().cloned());
    env
}

/// Waits until no outbox row is pending; returns (state, last_error) of every row.
async fn settled(t: &common::TestApp) -> Vec<(String, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT state, last_error FROM outbox ORDER BY id")
                .fetch_all(&t.app.db.pool)
                .await
                .expect("outbox");
        let attempts: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(attempts), 0) FROM outbox")
            .fetch_one(&t.app.db.pool)
            .await
            .expect("attempts");
        if !rows.is_empty() && (rows.iter().all(|(s, _)| s != "pending") || attempts > 1) {
            return rows;
        }
        assert!(Instant::now() < deadline, "outbox never settled: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_run_with_100_failed_jobs_reaches_both_platforms_within_limits_and_pages_on_call() {
    let (slack, discord) = (strict_slack().await, strict_discord().await);
    let toml = format!(
        r#"
[webhooks.generic]
token = "generic-token"
[pipelines]
min_edit_interval = "1s"
[[pipelines.routes]]
source = "generic"
environment = "production"
channels = ["slack:CDEPLOY", "discord:{DISCORD_CHANNEL}"]
oncall = "devops"
[roles]
devops = ["slack:UDEVOPS", "discord:222333444555"]
"#
    );
    let env = env_of(&slack, &discord, &[]);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = common::spawn_app_with(&pairs, Some(&toml), Arc::new(SystemClock), None).await;
    let jobs: Vec<Value> = (0..100)
        .map(|i| {
            json!({"name": format!("integration-shard-{i:03}"), "status": "failed",
                   "url": format!("https://ci.example.com/job/deploy-web/4711/shard/{i}/console")})
        })
        .collect();
    let event = json!({"id": "jenkins-4711-1", "pipeline": "deploy-web", "run_id": "4711",
        "number": 4711, "status": "failed", "environment": "production", "branch": "main",
        "url": "https://ci.example.com/job/deploy-web/4711/", "jobs": jobs});

    let res = reqwest::Client::new()
        .post(t.url("/webhooks/generic"))
        .bearer_auth("generic-token")
        .json(&event)
        .send()
        .await
        .expect("posted");

    assert_eq!(res.status(), 200);
    let rows = settled(&t).await;
    assert!(
        rows.iter().all(|(state, _)| state == "delivered"),
        "every message delivered, nothing refused or parked: {rows:#?}"
    );
    let slack_posts = received(&slack, "/api/chat.postMessage", 2).await;
    assert!(slack_posts.iter().all(|b| slack_message_error(b).is_none()));
    let page = slack_posts
        .iter()
        .find(|b| b.to_string().contains("<@UDEVOPS>"))
        .expect("on-call paged on Slack");
    let shows = slack_body_shows(page);
    assert!(
        shows.contains("and 80 more failed jobs: https://ci.example.com/job/deploy-web/4711/"),
        "{shows}"
    );
    let at = format!("/api/v10/channels/{DISCORD_CHANNEL}/messages");
    let discord_posts = received(&discord, &at, 2).await;
    assert!(
        discord_posts.iter().any(|b| b["content"]
            .as_str()
            .is_some_and(|c| c.contains("<@222333444555>"))),
        "on-call paged on Discord: {discord_posts:#?}"
    );
}

#[tokio::test]
async fn a_150_task_plan_reaches_slack_whole_in_messages_slack_accepts() {
    let (slack, _dir, t, response_url) = long_release_on_slack(150).await;
    let plan = slash_body("/release", "plan", "W111", "C111", &response_url);

    let res = post_slack(&t, "/slack/commands", &plan, now()).await;

    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    let mut bodies = vec![answer];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let later = received(&slack, "/actions/1", 0).await;
        let shown: String = bodies
            .iter()
            .chain(later.iter())
            .map(slack_body_shows)
            .collect();
        if (0..150).all(|i| shown.contains(&format!("task-{i:03}"))) {
            bodies.extend(later.iter().cloned());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every task was shown: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        bodies.len() > 1,
        "a plan this long continues in further messages"
    );
    for body in &bodies {
        assert_eq!(slack_message_error(body), None, "Slack would refuse {body}");
    }
    let shown: String = bodies.iter().map(slack_body_shows).collect();
    let first = shown.find("task-000").expect("first");
    let last = shown.find("task-149").expect("last");
    assert!(first < last, "in order");
}

/// A strict Slack mock, and a release of an `n`-task runbook (in the
/// directory returned) started there by Slack user W111 in C111,
/// Slack's pace at one message per 100 ms per channel, and a fresh
/// `response_url` for the next command.
async fn long_release_on_slack(
    n: usize,
) -> (MockServer, tempfile::TempDir, common::TestApp, String) {
    let (slack, discord, dir) = (
        strict_slack().await,
        MockServer::start().await,
        runbook_dir(n),
    );
    let env = env_of(
        &slack,
        &discord,
        &[
            (
                "SHIPMATE__RELEASES__RUNBOOKS_DIR",
                dir.path().display().to_string(),
            ),
            ("SHIPMATE__ROLES__RELEASE-MANAGER", "slack:W111".into()),
            ("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "100ms".into()),
        ],
    );
    let t = spawn(&env).await;
    let start = slash_body(
        "/release",
        "start q4 template:big t0:2030-01-07",
        "W111",
        "C111",
        &format!("{}/actions/start", slack.uri()),
    );
    let started = post_slack(&t, "/slack/commands", &start, now()).await;
    assert_eq!(started.status(), 200);
    let response_url = format!("{}/actions/1", slack.uri());
    (slack, dir, t, response_url)
}

/// What a Slack user reads of a reply of `n` tasks once it all arrived:
/// `first` (the HTTP answer, if any), then its `response_url` posts, then
/// what was posted to `channel`, in the order they arrived.
async fn slack_reply_shown(
    slack: &MockServer,
    first: Option<Value>,
    channel: &str,
    n: usize,
) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let later = received(slack, "/actions/1", 0).await;
        let posted: Vec<Value> = received(slack, "/api/chat.postMessage", 0)
            .await
            .into_iter()
            .filter(|b| b["channel"] == channel)
            .collect();
        let shown: String = first
            .iter()
            .chain(&later)
            .chain(&posted)
            .map(slack_body_shows)
            .collect::<Vec<_>>()
            .join("\n");
        if tasks_of(&shown, n).len() == n {
            return (first.into_iter().collect(), later, posted);
        }
        assert!(Instant::now() < deadline, "not every task was shown");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the rest of a reply by W111 in C111 is posted: the channel for a
/// reply to the channel (its first page says), else W111's direct messages.
fn rest_channel(first: Option<&Value>) -> &'static str {
    if first.is_some_and(|b| b["response_type"] == "in_channel") {
        "C111"
    } else {
        "W111"
    }
}

/// Checks a long Slack reply: every task once shown, in order, every
/// message one Slack accepts, `response_url` used at most 5 times (the
/// mock refuses more, and a refused post is counted here too), and the
/// last `response_url` post saying where the rest is.
fn check_long_slack_reply(answered: &[Value], later: &[Value], posted: &[Value], n: usize) {
    assert!(
        later.len() <= SLACK_RESPONSE_URL_USES,
        "response_url used {} times",
        later.len()
    );
    assert!(!posted.is_empty(), "the rest went on through the outbox");
    assert!(
        later
            .last()
            .map(slack_body_shows)
            .is_some_and(|s| s.contains("The rest of this reply is")),
        "the last response_url post says where the rest is"
    );
    for body in answered.iter().chain(later).chain(posted) {
        assert_eq!(slack_message_error(body), None, "Slack would refuse {body}");
    }
    let shown: String = answered
        .iter()
        .chain(later)
        .chain(posted)
        .map(slack_body_shows)
        .collect::<Vec<_>>()
        .join("\n");
    let order = tasks_of(&shown, n);
    assert_eq!(order, (0..n).collect::<Vec<_>>(), "every task, in order");
    for i in [0, n / 2, n - 1] {
        assert_eq!(
            shown.matches(&format!("task-{i:03}")).count(),
            1,
            "task-{i:03} shown once"
        );
    }
}

#[tokio::test]
async fn a_slack_reply_longer_than_its_response_url_takes_goes_on_through_the_outbox() {
    let n = 1000;
    let (slack, _dir, t, response_url) = long_release_on_slack(n).await;
    let plan = slash_body("/release", "plan", "W111", "C111", &response_url);

    let res = post_slack(&t, "/slack/commands", &plan, now()).await;

    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    let channel = rest_channel(Some(&answer));
    let (answered, later, posted) = slack_reply_shown(&slack, Some(answer), channel, n).await;
    check_long_slack_reply(&answered, &later, &posted, n);
    assert_eq!(
        later.len(),
        SLACK_RESPONSE_URL_USES,
        "response_url used to the full"
    );
}

#[tokio::test]
async fn a_long_reply_over_socket_mode_goes_to_response_url_in_order_and_on_through_the_outbox() {
    use shipmate::delivery::Pace;
    use shipmate::platform::slack::inbound::Inbound;
    use shipmate::platform::slack::wire::SlashCommand;

    let n = 1000;
    let (slack, _dir, t, response_url) = long_release_on_slack(n).await;
    let inbound = Inbound::new(
        t.app.clone(),
        reqwest::Client::new(),
        Pace::new(&t.app.config).slack,
    );
    let plan: SlashCommand = serde_urlencoded::from_str(&slash_body(
        "/release",
        "plan",
        "W111",
        "C111",
        &response_url,
    ))
    .expect("slash command");

    // acknowledged at once; everything it says goes to response_url
    inbound.slash_command_acked(plan).await;

    let first = received(&slack, "/actions/1", 1).await;
    let channel = rest_channel(first.first());
    let (answered, later, posted) = slack_reply_shown(&slack, None, channel, n).await;
    check_long_slack_reply(&answered, &later, &posted, n);
}

/// A runbook of `n` tasks in a fresh directory.
fn runbook_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let mut runbook = String::from("title = \"A very long runbook\"\n");
    for i in 0..n {
        runbook.push_str(&format!(
            "[[tasks]]\nid = \"task-{i:03}\"\ntitle = \"Step {i:03}: check the tenant's localisation and reports\"\nowner = \"release-manager\"\noffset = {}\n",
            i / 10
        ));
    }
    std::fs::write(dir.path().join("big.toml"), runbook).expect("runbook");
    dir
}

#[tokio::test]
async fn a_150_task_plan_reaches_discord_whole_in_messages_discord_accepts() {
    let (slack, discord) = (MockServer::start().await, strict_discord().await);
    // a webhook bucket of 2 calls per 300 ms, and one 429 it did not announce
    let replies = DeferredReplies::rate_limited(2, Duration::from_millis(300));
    replies
        .limit_next
        .store(true, std::sync::atomic::Ordering::SeqCst);
    replies.mount(&discord, "775799577604522054").await;
    let dir = runbook_dir(150);
    let rm = "53908232506183680";
    let env = env_of(
        &slack,
        &discord,
        &[
            (
                "SHIPMATE__RELEASES__RUNBOOKS_DIR",
                dir.path().display().to_string(),
            ),
            ("SHIPMATE__ROLES__RELEASE-MANAGER", format!("discord:{rm}")),
            // 5 messages per 500 ms per channel: the follow-ups keep to it
            ("SHIPMATE__DISCORD__PER_CHANNEL_WINDOW", "500ms".into()),
        ],
    );
    let t = spawn(&env).await;
    let release = |sub: &str, options: Value| {
        discord_interaction(
            2,
            rm,
            &[],
            json!({"type": 1, "name": "release", "id": "1",
            "options": [{"type": 1, "name": sub, "options": options}]}),
        )
    };
    let mut start = release(
        "start",
        json!([
        {"type": 3, "name": "name", "value": "q4"},
        {"type": 3, "name": "template", "value": "big"},
        {"type": 3, "name": "t0", "value": "2030-01-07"}]),
    );
    // an interaction of its own: each is answered once
    start["id"] = "786008729715212339".into();
    start["token"] = "START_TOKEN".into();
    let started = post_discord(&t, &start, now()).await;
    assert!(started.status().is_success(), "{}", started.status());

    let res = post_discord(&t, &release("plan", json!([])), now()).await;

    // answered through the callback (which the mock recorded), so the
    // follow-ups can never reach Discord before the answer
    assert_eq!(res.status(), 202, "answered through the callback");
    assert_eq!(
        res.bytes().await.expect("body").len(),
        0,
        "202 with no body"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let shown: String = plan_messages(&replies)
            .iter()
            .map(|b| b["content"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        if shown.contains("task-149") {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "not every task was shown: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let messages = plan_messages(&replies);
    assert!(
        messages.len() > 1,
        "a plan this long continues in follow-ups"
    );
    for body in &messages {
        assert_eq!(
            discord_message_error(body),
            None,
            "Discord would refuse {body}"
        );
    }
    assert!(
        (0..150).all(|i| shown.contains(&format!("task-{i:03}"))),
        "{shown}"
    );
    let order = tasks_in(&shown);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in order: {order:?}");
    let ordering = std::sync::atomic::Ordering::SeqCst;
    assert_eq!(
        replies.overruns.load(ordering),
        0,
        "no call into a bucket Discord said was empty"
    );
    assert_eq!(
        replies.limited.load(ordering),
        1,
        "the one 429 was waited out and the follow-up sent again"
    );
}

/// The messages shown for the `/release plan` interaction (its token), in order.
fn plan_messages(replies: &DeferredReplies) -> Vec<Value> {
    replies
        .shown
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(token, _, _)| token == "A_UNIQUE_TOKEN")
        .map(|(_, body, _)| body.clone())
        .collect()
}

/// Both platforms at the mocks, the runbooks in `dir`, console user `rm`
/// the release manager, and a quick per-channel pace.
fn release_env(
    slack: &MockServer,
    discord: &MockServer,
    dir: &tempfile::TempDir,
) -> Vec<(&'static str, String)> {
    env_of(
        slack,
        discord,
        &[
            (
                "SHIPMATE__RELEASES__RUNBOOKS_DIR",
                dir.path().display().to_string(),
            ),
            ("SHIPMATE__ROLES__RELEASE-MANAGER", "console:rm".into()),
            ("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "50ms".into()),
            ("SHIPMATE__DISCORD__PER_CHANNEL_WINDOW", "50ms".into()),
        ],
    )
}

/// A 150-task release started on the console, and what its plan and retro
/// (as text and as Markdown) say: long messages a channel should read whole.
async fn plan_and_retro(t: &common::TestApp) -> Vec<Message> {
    t.ok("rm", "/release start q4 template:big t0:2030-01-07")
        .await;
    let mut long = Vec::new();
    for command in [
        "/release plan",
        "/release retro",
        "/release retro format:markdown",
    ] {
        let reply = t.cmd("rm", command).await;
        assert_eq!(reply.status, shipmate::app::Status::Ok, "{command}");
        long.push(reply.message);
    }
    long
}

/// Queues messages as a command posting them would (no key: not a living message).
async fn post(t: &common::TestApp, channel: &str, messages: &[Message]) -> Vec<i64> {
    let mut tx = t.app.db.begin().await.expect("begin");
    let mut ids = Vec::new();
    for m in messages {
        let body = serde_json::to_string(m).expect("json");
        let id = store::outbox::enqueue(&mut tx, channel, &body, None, Utc::now())
            .await
            .expect("queued");
        ids.push(id);
    }
    tx.commit().await.expect("commit");
    t.app.wake.outbox.notify_one();
    ids
}

/// Every task id in `shown`, in the order they first appear.
fn tasks_in(shown: &str) -> Vec<usize> {
    tasks_of(shown, 150)
}

/// Which of tasks 0..n `shown` names, in the order it names them first.
fn tasks_of(shown: &str, n: usize) -> Vec<usize> {
    let mut at: Vec<(usize, usize)> = (0..n)
        .filter_map(|i| shown.find(&format!("task-{i:03}")).map(|p| (p, i)))
        .collect();
    at.sort();
    at.into_iter().map(|(_, i)| i).collect()
}

#[tokio::test]
async fn a_long_plan_and_retro_posted_to_a_channel_arrive_whole_and_in_order_on_both_platforms() {
    // Arrange: strict mocks, and the plan and retro of a 150-task release
    let (slack, discord) = (strict_slack().await, strict_discord().await);
    let dir = runbook_dir(150);
    let env = release_env(&slack, &discord, &dir);
    let t = spawn(&env).await;
    let long = plan_and_retro(&t).await;

    // Act: posted to a Slack and a Discord channel
    let on_slack = post(&t, "slack:CRELEASE", &long).await;
    let on_discord = post(&t, &format!("discord:{DISCORD_CHANNEL}"), &long).await;
    let rows = settled(&t).await;

    // Assert: nothing refused or parked
    assert!(
        rows.iter().all(|(state, _)| state == "delivered"),
        "{rows:#?}"
    );
    let slack_posts: Vec<Value> = received(&slack, "/api/chat.postMessage", 0)
        .await
        .into_iter()
        .filter(|b| b["channel"] == "CRELEASE")
        .collect();
    let discord_posts = received(
        &discord,
        &format!("/api/v10/channels/{DISCORD_CHANNEL}/messages"),
        0,
    )
    .await;
    assert!(slack_posts.iter().all(|b| slack_message_error(b).is_none()));
    assert!(
        discord_posts
            .iter()
            .all(|b| discord_message_error(b).is_none())
    );
    // each message whole, in order, in parts that follow one another
    let tz = t.app.config.tz;
    for (n, message) in long.iter().enumerate() {
        let expected = tasks_in(&message.plain(tz));
        assert_eq!(expected.len(), 150, "the message names every task");
        let of_slack: Vec<&Value> = slack_posts
            .iter()
            .filter(|b| b["metadata"]["event_payload"]["outbox_id"] == on_slack[n])
            .collect();
        let parts: Vec<i64> = of_slack
            .iter()
            .map(|b| b["metadata"]["event_payload"]["part"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(
            parts,
            (0..parts.len() as i64).collect::<Vec<_>>(),
            "each part once, in order"
        );
        let shown: String = of_slack.iter().map(|b| slack_body_shows(b)).collect();
        assert_eq!(
            tasks_in(&shown),
            expected,
            "Slack message {n} whole and in order"
        );
        assert!(!shown.contains("not shown"), "{shown}");
        // the parts after the first continue in the first one's thread
        let first_ts = of_slack[0].get("thread_ts");
        assert!(first_ts.is_none(), "{}", of_slack[0]);
        let nonce = |b: &Value| b["nonce"].as_str().unwrap_or_default().to_string();
        let of_discord: Vec<&Value> = discord_posts
            .iter()
            .filter(|b| {
                let id = on_discord[n].to_string();
                let nonce = nonce(b);
                nonce == id || nonce.starts_with(&format!("{id}."))
            })
            .collect();
        let shown: String = of_discord
            .iter()
            .map(|b| b["embeds"][0]["description"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            tasks_in(&shown),
            expected,
            "Discord message {n} whole and in order"
        );
        assert!(of_discord.len() > 1, "too long for one Discord embed");
        assert!(!shown.contains("not shown"), "{shown}");
    }
    let threaded = slack_posts
        .iter()
        .filter(|b| b.get("thread_ts").is_some())
        .count();
    assert!(threaded > 0, "the plan is too long for one Slack message");
    // the messages themselves in the order posted, on both platforms
    let slack_order: Vec<i64> = slack_posts
        .iter()
        .map(|b| {
            b["metadata"]["event_payload"]["outbox_id"]
                .as_i64()
                .unwrap_or(-1)
        })
        .collect();
    assert!(
        slack_order.windows(2).all(|w| w[0] <= w[1]),
        "{slack_order:?}"
    );
}

/// Slack as a channel keeps it: every post is kept with its `ts`, thread and
/// metadata and listed by `conversations.history` / `conversations.replies`.
/// The post of part `hold_part` is kept, but its answer never comes back in
/// time (the process stops while it waits).
#[derive(Clone)]
struct KeptSlack {
    posts: Arc<Mutex<Vec<Value>>>,
    hold_part: Option<i64>,
}

impl Respond for KeptSlack {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut posts = self.posts.lock().unwrap_or_else(|e| e.into_inner());
        if request.method.as_str() == "GET" {
            let thread = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "ts")
                .map(|(_, v)| v.to_string());
            let messages: Vec<Value> = posts
                .iter()
                .filter(|m| match &thread {
                    Some(ts) => m["ts"] == *ts.as_str() || m["thread_ts"] == *ts.as_str(),
                    None => m.get("thread_ts").is_none(),
                })
                .cloned()
                .collect();
            return ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "messages": messages}));
        }
        let mut body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Some(error) = slack_message_error(&body) {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error}));
        }
        let ts = format!("1700000000.{:06}", posts.len() + 1);
        body["ts"] = ts.clone().into();
        let part = body["metadata"]["event_payload"]["part"]
            .as_i64()
            .unwrap_or(0);
        posts.push(body);
        let answer = ResponseTemplate::new(200).set_body_json(json!({"ok": true, "ts": ts}));
        if self.hold_part == Some(part) {
            answer.set_delay(Duration::from_secs(600))
        } else {
            answer
        }
    }
}

#[tokio::test]
async fn a_restart_between_the_parts_of_a_posted_message_posts_nothing_twice() {
    // Arrange: Slack keeps the second part of the plan, but the process stops
    // before it hears so
    let slack = MockServer::start().await;
    let discord = MockServer::start().await;
    let kept = KeptSlack {
        posts: Arc::default(),
        hold_part: Some(1),
    };
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(kept.clone())
        .mount(&slack)
        .await;
    for at in ["/api/conversations.history", "/api/conversations.replies"] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(kept.clone())
            .mount(&slack)
            .await;
    }
    let dir = runbook_dir(150);
    let env = release_env(&slack, &discord, &dir);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = common::spawn_app(&pairs).await;
    let long = plan_and_retro(&first).await;
    // the text retro with its Markdown table after it: long enough for three Slack messages
    let mut whole = long[1].clone();
    whole.lines.extend(long[2].lines.iter().cloned());
    whole.lines.extend(long[0].lines.iter().cloned());
    let ids = post(&first, "slack:CRELEASE", std::slice::from_ref(&whole)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while kept.posts.lock().unwrap_or_else(|e| e.into_inner()).len() < 2 {
        assert!(Instant::now() < deadline, "the second part was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Act: a second process on the same database, once the first one's lease has run out
    let later = Arc::new(ManualClock::new(Utc::now() + TimeDelta::minutes(2)));
    let second = common::spawn_app_in(first.dir.clone(), &pairs, later).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let state = loop {
        let state: String = sqlx::query_scalar("SELECT state FROM outbox WHERE id = ?")
            .bind(ids[0])
            .fetch_one(&second.app.db.pool)
            .await
            .expect("row");
        if state != "pending" {
            break state;
        }
        assert!(Instant::now() < deadline, "the message was never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Assert: every part once, in order, the first part's thread holding the rest
    assert_eq!(state, "delivered");
    let posts = kept.posts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let parts: Vec<i64> = posts
        .iter()
        .filter(|b| b["metadata"]["event_payload"]["outbox_id"] == ids[0])
        .map(|b| b["metadata"]["event_payload"]["part"].as_i64().unwrap_or(0))
        .collect();
    assert!(parts.len() >= 3, "{parts:?}");
    assert_eq!(
        parts,
        (0..parts.len() as i64).collect::<Vec<_>>(),
        "no part twice"
    );
    let first_ts = posts[0]["ts"].clone();
    assert!(posts[1..].iter().all(|b| b["thread_ts"] == first_ts));
    let shown: String = posts.iter().map(slack_body_shows).collect();
    assert_eq!(
        tasks_in(&shown),
        tasks_in(&whole.plain(second.app.config.tz))
    );
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT platform_message_id FROM outbox WHERE id = ?")
            .bind(ids[0])
            .fetch_one(&second.app.db.pool)
            .await
            .expect("row");
    assert_eq!(
        recorded.as_deref(),
        first_ts.as_str(),
        "known by its first part"
    );
}

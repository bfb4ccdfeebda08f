//! Messages that would be too long for a platform are summarised or
//! continued, never refused: a pipeline run with 100 failed jobs on strict
//! Slack and Discord mocks (nothing parked, on-call paged on both), and a
//! 150-task runbook's plan as a Slack and a Discord reply (every task
//! shown, continued in further messages, each within the platform's limits).

mod chat;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::rules::*;
use chat::*;
use serde_json::{Value, json};
use shipmate::domain::timing::SystemClock;
use wiremock::MockServer;

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
    let slack = strict_slack().await;
    let discord = MockServer::start().await;
    let dir = runbook_dir(150);
    let env = env_of(
        &slack,
        &discord,
        &[
            (
                "SHIPMATE__RELEASES__RUNBOOKS_DIR",
                dir.path().display().to_string(),
            ),
            ("SHIPMATE__ROLES__RELEASE-MANAGER", "slack:W111".into()),
        ],
    );
    let t = spawn(&env).await;
    let response_url = format!("{}/actions/1", slack.uri());
    let slash = |text: &str| slash_body("/release", text, "W111", "C111", &response_url);
    let started = post_slack(
        &t,
        "/slack/commands",
        &slash("start q4 template:big t0:2030-01-07"),
        now(),
    )
    .await;
    assert_eq!(started.status(), 200);
    let before = received(&slack, "/actions/1", 0).await.len();

    let res = post_slack(&t, "/slack/commands", &slash("plan"), now()).await;

    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    let mut bodies = vec![answer];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let later = received(&slack, "/actions/1", 0).await;
        let shown: String = bodies
            .iter()
            .chain(later[before..].iter())
            .map(slack_body_shows)
            .collect();
        if (0..150).all(|i| shown.contains(&format!("task-{i:03}"))) {
            bodies.extend(later[before..].iter().cloned());
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
    let replies = DeferredReplies::default();
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
    let start = release(
        "start",
        json!([
        {"type": 3, "name": "name", "value": "q4"},
        {"type": 3, "name": "template", "value": "big"},
        {"type": 3, "name": "t0", "value": "2030-01-07"}]),
    );
    let started: Value = post_discord(&t, &start, now())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(started["type"], 4, "{started}");

    let answer: Value = post_discord(&t, &release("plan", json!([])), now())
        .await
        .json()
        .await
        .expect("json");

    replies.answered("A_UNIQUE_TOKEN", &answer);
    let deadline = Instant::now() + Duration::from_secs(5);
    let shown = loop {
        let shown: String = replies
            .messages()
            .iter()
            .map(|(b, _)| b["content"].as_str().unwrap_or_default().to_string())
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
    let messages = replies.messages();
    assert!(
        messages.len() > 1,
        "a plan this long continues in follow-ups"
    );
    for (body, _) in &messages {
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
}

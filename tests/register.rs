//! `shipmate register-commands`: the Discord commands PUT to a mock Discord,
//! the exit codes, and the committed Slack manifest matching the generator.

use std::process::{Command, Output};

use serde_json::Value;
use shipmate::app::features::COMMANDS;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn register(envs: &[(&str, String)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipmate"));
    cmd.current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .arg("register-commands")
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("shipmate runs")
}

fn discord(mock: &MockServer, guild: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SHIPMATE__DISCORD__ENABLED", "true".into()),
        ("SHIPMATE__DISCORD__BOT_TOKEN", "tok-123".into()),
        (
            "SHIPMATE__DISCORD__APPLICATION_ID",
            "775799577604522054".into(),
        ),
        (
            "SHIPMATE__DISCORD__PUBLIC_KEY",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into(),
        ),
        ("SHIPMATE__DISCORD__GUILD_ID", guild.into()),
        (
            "SHIPMATE__DISCORD__API_BASE_URL",
            format!("{}/api/v10", mock.uri()),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_put_to_the_guild_with_subcommands_and_choices() {
    let mock = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(
            "/api/v10/applications/775799577604522054/guilds/290926798626357999/commands",
        ))
        .and(header("authorization", "Bot tok-123"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .expect(1)
        .mount(&mock)
        .await;
    let envs = discord(&mock, "290926798626357999");

    let out = tokio::task::spawn_blocking(move || {
        register(&envs, &["--public-url", "https://bot.example.org"])
    })
    .await
    .expect("joined");

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "registered {} Discord commands in guild 290926798626357999",
            COMMANDS.len()
        )),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("url: \"https://bot.example.org/slack/commands\""),
        "{stdout}"
    );

    let requests = mock.received_requests().await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json body");
    let commands = body.as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = commands.iter().filter_map(|c| c["name"].as_str()).collect();
    let expected: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(names, expected);
    let dr = &commands[0];
    let subs: Vec<&str> = dr["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["type"] == 1)
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        subs,
        [
            "create", "approve", "object", "resolve", "cancel", "done", "show", "list"
        ]
    );
    let sensitivity = dr["options"][0]["options"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == "sensitivity"))
        .expect("sensitivity option");
    assert_eq!(sensitivity["required"], false);
    let choices: Vec<&str> = sensitivity["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert_eq!(choices, ["low", "medium", "high"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_from_discord_exits_1_and_missing_settings_exit_2() {
    let mock = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/v10/applications/775799577604522054/commands"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"message": "401: Unauthorized", "code": 0}"#),
        )
        .mount(&mock)
        .await;
    let envs = discord(&mock, "");
    let mut no_app = envs.clone();
    no_app.retain(|(k, _)| *k != "SHIPMATE__DISCORD__APPLICATION_ID");

    let (refused, missing, bad_url) = tokio::task::spawn_blocking(move || {
        (
            register(&envs, &[]),
            register(&no_app, &[]),
            register(&[], &["--public-url", "bot.example.org"]),
        )
    })
    .await
    .expect("joined");

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("discord.application_id"), "{stderr}");
    assert_eq!(bad_url.status.code(), Some(2));
}

#[test]
fn the_committed_slack_manifest_is_the_generated_one() {
    let out = register(
        &[],
        &[
            "--manifest-only",
            "--public-url",
            "https://shipmate.example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/slack-manifest.yml"
    ))
    .expect("config/slack-manifest.yml is committed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "regenerate it: shipmate register-commands --manifest-only --public-url https://shipmate.example.com > config/slack-manifest.yml"
    );
}

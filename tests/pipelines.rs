//! Pipeline notifications end to end: real provider payloads from
//! `tests/fixtures` (copies of the shared fixtures, with their PROVENANCE) posted to the running app with real signatures and
//! tokens, then the stored runs, the outbox rows and the console output
//! checked. Offline: SNS certificates come from the test vectors.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use shipmate::app::pipeline_message::RunRecord;
use shipmate::ci::auth::github_signature;
use shipmate::ci::sns::{CertSource, Envelope, PortFuture, verify_with_cert};
use shipmate::domain::pipeline::Status;
use shipmate::domain::timing::SystemClock;

const CONFIG: &str = r#"
[webhooks.github]
secret = "gh-secret"
[webhooks.gitlab]
token = "my-secret-token"
[webhooks.aws]
token = "aws-token"
verify_sns = false
[webhooks.generic]
token = "generic-token"

[pipelines]
release_windows = ["Mon-Thu 10:00-16:00"]
default_channels = ["console:#unrouted"]
min_edit_interval = "1s"

[[pipelines.routes]]
source = "github"
pipeline = "deploy*"
environment = "production"
channels = ["console:#deploys"]
oncall = "devops"

[[pipelines.routes]]
source = "github"
environment = "ci"
channels = ["console:#ci"]
oncall = "qa"

[[pipelines.routes]]
source = "gitlab"
environment = "staging"
channels = ["console:#ci"]

[[pipelines.routes]]
source = "aws"
environment = "production"
channels = ["console:#aws"]
oncall = "devops"

[[pipelines.routes]]
source = "generic"
pipeline = "deploy-*"
branch = "main"
environment = "production"
channels = ["console:#deploys"]
oncall = "devops"
"#;

fn fixtures(provider: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
}

fn fixture(provider: &str, name: &str) -> Vec<u8> {
    std::fs::read(fixtures(provider).join(name)).expect("fixture readable")
}

fn fixture_json(provider: &str, name: &str) -> Value {
    serde_json::from_slice(&fixture(provider, name)).expect("fixture is JSON")
}

/// Every payload file of a provider (not the signature vectors), sorted.
fn payload_files(provider: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures(provider))
        .expect("fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| (n.ends_with(".json") || n.ends_with(".jsonc")) && !n.starts_with("signature"))
        .collect();
    names.sort();
    names
}

async fn spawn(overrides: &[(&str, &str)]) -> TestApp {
    ready(spawn_app_with(overrides, Some(CONFIG), Arc::new(SystemClock), None).await).await
}

/// Waits until the server answers: startup (recurring jobs) is then written,
/// so a snapshot taken afterwards only changes by what the test does.
async fn ready(t: TestApp) -> TestApp {
    let res = reqwest::get(t.url("/healthz")).await.expect("healthz");
    assert_eq!(res.status().as_u16(), 200);
    t
}

async fn post(t: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(t.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn github(t: &TestApp, event: &str, delivery: &str, body: Vec<u8>) -> (u16, Value) {
    let sig = github_signature("gh-secret", &body);
    post(
        t,
        "/webhooks/github",
        &[
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", &sig),
        ],
        body,
    )
    .await
}

async fn gitlab(t: &TestApp, event: &str, uuid: &str, body: Vec<u8>) -> (u16, Value) {
    post(
        t,
        "/webhooks/gitlab",
        &[
            ("x-gitlab-event", event),
            ("x-gitlab-event-uuid", uuid),
            ("x-gitlab-token", "my-secret-token"),
        ],
        body,
    )
    .await
}

async fn aws(t: &TestApp, body: Vec<u8>) -> (u16, Value) {
    post(
        t,
        "/webhooks/aws",
        &[("authorization", "Bearer aws-token")],
        body,
    )
    .await
}

async fn generic(t: &TestApp, body: Value) -> (u16, Value) {
    post(
        t,
        "/webhooks/generic",
        &[("authorization", "Bearer generic-token")],
        body.to_string().into_bytes(),
    )
    .await
}

async fn run(t: &TestApp, key: &str) -> RunRecord {
    let body: String = sqlx::query_scalar("SELECT body FROM pipeline_runs WHERE key = ?")
        .bind(key)
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("run {key}: {e}"));
    serde_json::from_str(&body).expect("run body")
}

/// (channel, body) of every outbox row with this key, oldest first.
async fn outbox(t: &TestApp, key: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT channel, body, state FROM outbox WHERE message_key = ? ORDER BY id")
        .bind(key)
        .fetch_all(&t.app.db.pool)
        .await
        .expect("outbox")
}

async fn count(t: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&t.app.db.pool)
        .await
        .expect("count")
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in fixture")) = value;
}

// ---------------------------------------------------------------- GitHub

#[tokio::test]
async fn every_github_fixture_is_accepted_with_a_real_signature_and_folds_into_its_run() {
    // Arrange
    let t = spawn(&[]).await;

    // Act: replay every payload, event name from the file name
    for (i, name) in payload_files("github").iter().enumerate() {
        let event = name.split('.').next().unwrap_or_default();
        let (status, body) = github(&t, event, &format!("d-{i}"), fixture("github", name)).await;
        let expected = if matches!(event, "ping" | "push") {
            202
        } else {
            200
        };
        assert_eq!(status, expected, "{name}: {body}");
    }

    // Assert: the late `requested` events did not regress the completed run
    let wf = run(&t, "pipeline:github:289782451:1").await;
    assert_eq!(wf.run.status, Status::Succeeded);
    assert_eq!(wf.run.pipeline, "test");
    assert_eq!(wf.run.number, Some(163));
    assert_eq!(wf.environment, "ci");
    // Jobs: the completed job stays completed although in_progress/queued came after it
    let jobs = run(&t, "pipeline:github:2202229078:1").await;
    let job = jobs
        .run
        .jobs
        .iter()
        .find(|j| j.id == "289782451")
        .expect("job");
    assert_eq!(job.status, Status::Succeeded);
    assert_eq!(jobs.run.status, Status::Running);
    assert_eq!(jobs.run.pipeline, "CodeQL");
    let waiting = run(&t, "pipeline:github:4747967848:1").await;
    assert_eq!(waiting.run.jobs[0].status, Status::Waiting);
    // Check suites and deployments
    assert_eq!(
        run(&t, "pipeline:github:suite-118578147:1")
            .await
            .run
            .status,
        Status::Succeeded
    );
    assert_eq!(
        run(&t, "pipeline:github:suite-118578174:1")
            .await
            .run
            .status,
        Status::Queued
    );
    let deploy = run(&t, "pipeline:github:deployment-145988746:1").await;
    assert_eq!(deploy.run.status, Status::Succeeded);
    assert!(deploy.run.deployment);
    // Every delivery is recorded once; ping and push as ignored
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM pipeline_deliveries WHERE outcome = 'ignored'"
        )
        .await,
        6
    );
}

#[tokio::test]
async fn the_github_signature_vectors_verify_and_a_one_byte_change_fails() {
    // Arrange: the published vectors, through the library and the endpoint
    let vectors = fixture_json("github", "signature.octokit-webhooks-methods.json");
    for v in vectors["vectors"].as_array().expect("vectors") {
        let secret = v["secret"].as_str().expect("secret");
        let payload = v["payload"].as_str().expect("payload").as_bytes();
        let header = v["x_hub_signature_256"].as_str().expect("header");
        assert!(shipmate::ci::auth::github_signature_ok(
            secret,
            payload,
            Some(header)
        ));
        let mut changed = payload.to_vec();
        changed[0] ^= 1;
        assert!(!shipmate::ci::auth::github_signature_ok(
            secret,
            &changed,
            Some(header)
        ));
    }
    let t = ready(
        spawn_app_with(
            &[("SHIPMATE__WEBHOOKS__GITHUB__SECRET", "mysecret")],
            None,
            Arc::new(SystemClock),
            None,
        )
        .await,
    )
    .await;
    let v = &vectors["vectors"][0];
    let header = v["x_hub_signature_256"].as_str().expect("header");
    let payload = v["payload"].as_str().expect("payload").as_bytes().to_vec();
    let before = t.snapshot().await;

    // Act + Assert: one changed byte is refused and stores nothing
    let mut tampered = payload.clone();
    tampered[2] = b'g';
    let headers = [("x-github-event", "ping"), ("x-hub-signature-256", header)];
    let (status, _) = post(&t, "/webhooks/github", &headers, tampered).await;
    assert_eq!(status, 401);
    assert_eq!(t.snapshot().await, before);
    let (status, body) = post(&t, "/webhooks/github", &headers, payload).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn the_same_delivery_twice_is_stored_once_and_posts_one_message() {
    // Arrange
    let t = spawn(&[]).await;
    let body = fixture("github", "workflow_run.completed.success.json");

    // Act
    let (first, _) = github(&t, "workflow_run", "same-guid", body.clone()).await;
    let (second, answer) = github(&t, "workflow_run", "same-guid", body).await;

    // Assert
    assert_eq!((first, second), (200, 200));
    assert_eq!(answer["outcome"], "duplicate");
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries").await,
        1
    );
    let run = run(&t, "pipeline:github:289782451:1").await;
    assert_eq!(run.run.events, 1);
    assert_eq!(outbox(&t, "pipeline:github:289782451:1").await.len(), 1);
    assert!(t.wait_console("test #163", 1, Duration::from_secs(3)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.console_count("test #163"), 1);
}

#[tokio::test]
async fn events_out_of_order_end_in_the_right_final_state() {
    // Arrange: completed first, then the earlier queued and in-progress events
    let t = spawn(&[]).await;
    let completed = fixture_json("github", "workflow_run.completed.success.json");
    let mut in_progress = fixture_json("github", "workflow_run.requested.json");
    set(
        &mut in_progress,
        "/workflow_run/status",
        json!("in_progress"),
    );
    set(
        &mut in_progress,
        "/workflow_run/updated_at",
        json!("2020-10-05T16:33:40Z"),
    );
    let queued = fixture_json("github", "workflow_run.requested.json");

    // Act
    for (i, v) in [completed, queued, in_progress].iter().enumerate() {
        let (status, _) = github(
            &t,
            "workflow_run",
            &format!("o-{i}"),
            v.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 200);
    }

    // Assert: still succeeded, and no message regressed it
    let rec = run(&t, "pipeline:github:289782451:1").await;
    assert_eq!(rec.run.status, Status::Succeeded);
    assert_eq!(rec.run.events, 3);
    let rows = outbox(&t, "pipeline:github:289782451:1").await;
    assert_eq!(rows.len(), 1, "stale events change nothing: {rows:?}");
    assert!(rows[0].1.contains("succeeded"));
}

// ---------------------------------------------------------------- auth, size, format

#[tokio::test]
async fn a_wrong_signature_or_token_is_refused_with_401_and_stores_nothing() {
    // Arrange
    let t = spawn(&[]).await;
    let before = t.snapshot().await;
    let gh = fixture("github", "workflow_run.completed.success.json");
    let wrong_sig = github_signature("not-the-secret", &gh);

    // Act
    let answers = [
        post(
            &t,
            "/webhooks/github",
            &[
                ("x-github-event", "workflow_run"),
                ("x-hub-signature-256", &wrong_sig),
            ],
            gh.clone(),
        )
        .await,
        post(
            &t,
            "/webhooks/github",
            &[("x-github-event", "workflow_run")],
            gh,
        )
        .await,
        post(
            &t,
            "/webhooks/gitlab",
            &[
                ("x-gitlab-event", "Pipeline Hook"),
                ("x-gitlab-token", "My-Secret-Token"),
            ],
            fixture("gitlab", "pipeline.success.docs.json"),
        )
        .await,
        post(
            &t,
            "/webhooks/aws",
            &[("authorization", "Bearer nope")],
            fixture("aws", "codepipeline.pipeline-execution.started.json"),
        )
        .await,
        post(
            &t,
            "/webhooks/aws",
            &[],
            fixture("aws", "sns.notification.json"),
        )
        .await,
        post(
            &t,
            "/webhooks/generic",
            &[("authorization", "Bearer generic-tokenX")],
            b"{}".to_vec(),
        )
        .await,
    ];

    // Assert
    for (status, body) in &answers {
        assert_eq!(*status, 401, "{body}");
    }
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn sns_is_challenged_for_basic_credentials_and_basic_auth_carries_the_token() {
    let t = spawn(&[]).await;
    let res = reqwest::Client::new()
        .post(t.url("/webhooks/aws"))
        .body(fixture("aws", "sns.notification.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401);
    assert!(
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic"))
    );
    let res = reqwest::Client::new()
        .post(t.url("/webhooks/aws"))
        .basic_auth("sns", Some("aws-token"))
        .body(fixture("aws", "sns.notification.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.status().as_u16(),
        202,
        "a text notification is acknowledged"
    );
}

#[tokio::test]
async fn malformed_payloads_get_400_naming_the_problem() {
    // Arrange
    let t = spawn(&[]).await;
    let before = t.snapshot().await;
    let truncated = b"{\"workflow_run\": {\"id\": 1".to_vec();

    // Act + Assert
    let (status, body) = github(&t, "workflow_run", "m-1", truncated).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed JSON"),
        "{body}"
    );
    let (status, body) = github(
        &t,
        "workflow_run",
        "m-2",
        br#"{"workflow_run": {}}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("missing field `id`"),
        "{body}"
    );
    let (status, body) = gitlab(
        &t,
        "Job Hook",
        "m-3",
        fixture("gitlab", "job.created.docs.jsonc"),
    )
    .await;
    assert_eq!(status, 400, "GitLab never sends comments: {body}");
    assert!(
        body["error"].as_str().unwrap_or_default().contains("line"),
        "{body}"
    );
    let (status, body) = aws(&t, br#"{"source": "aws.codepipeline"}"#.to_vec()).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("detail-type"),
        "{body}"
    );
    let (status, body) = generic(
        &t,
        json!({"id": "x", "pipeline": "p", "run_id": "1", "status": "running", "colour": "red"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("colour"),
        "{body}"
    );
    let (status, body) = generic(
        &t,
        json!({"id": "x", "pipeline": "p", "run_id": "1", "status": "exploded"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("exploded"),
        "{body}"
    );
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let t = spawn(&[("SHIPMATE__HTTP__MAX_BODY_BYTES", "4096")]).await;
    let body = fixture("github", "workflow_run.completed.success.json");
    assert!(body.len() > 4096);
    let (status, _) = github(&t, "workflow_run", "big", body).await;
    assert_eq!(status, 413);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries").await,
        0
    );
}

// ---------------------------------------------------------------- GitLab

/// The docs' `.jsonc` job example with its comments and trailing comma
/// removed, as PROVENANCE.md describes (GitLab itself never sends comments).
fn strip_jsonc(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if line[..at].trim_end().ends_with(',') => line[..at].trim_end().to_string(),
            _ => line.to_string(),
        })
        .collect();
    let joined = lines.join("\n");
    let end = joined.rfind('}').expect("closing brace");
    let before = joined[..end].trim_end();
    match before.strip_suffix(',') {
        Some(head) => format!("{head}\n}}"),
        None => joined,
    }
}

#[tokio::test]
async fn every_gitlab_fixture_is_accepted_with_the_token_and_folds_into_its_run() {
    // Arrange
    let t = spawn(&[]).await;

    // Act
    for (i, name) in payload_files("gitlab").iter().enumerate() {
        let event = match name.split('.').next().unwrap_or_default() {
            "pipeline" => "Pipeline Hook",
            "job" => "Job Hook",
            "deployment" => "Deployment Hook",
            other => panic!("unexpected fixture {other}"),
        };
        let mut body = fixture("gitlab", name);
        if name.ends_with(".jsonc") {
            body = strip_jsonc(&String::from_utf8_lossy(&body)).into_bytes();
        }
        let (status, answer) = gitlab(&t, event, &format!("uuid-{i}"), body).await;
        assert_eq!(status, 200, "{name}: {answer}");
    }

    // Assert
    let pipeline = run(&t, "pipeline:gitlab:31:1").await;
    assert_eq!(pipeline.run.status, Status::Succeeded);
    assert_eq!(pipeline.environment, "staging");
    assert_eq!(
        pipeline.run.repository.as_deref(),
        Some("gitlab-org/gitlab-test")
    );
    assert_eq!(pipeline.run.jobs.len(), 5);
    let allowed_to_fail = pipeline
        .run
        .jobs
        .iter()
        .find(|j| j.name == "test-build")
        .expect("job");
    assert_eq!(allowed_to_fail.status, Status::Failed);
    let job = run(&t, "pipeline:gitlab:2366:1").await;
    assert_eq!(job.run.jobs[0].name, "test");
    assert_eq!(job.run.jobs[0].status, Status::Queued);
    let deployment = run(&t, "pipeline:gitlab:deployment-15:1").await;
    assert_eq!(deployment.run.status, Status::Succeeded);
    assert_eq!(
        deployment.run.provider_environment.as_deref(),
        Some("staging")
    );
}

#[tokio::test]
async fn the_gitlab_token_cases_match_exactly() {
    let cases = fixture_json("gitlab", "signature.gitlab-token.json");
    let t = spawn_app_with(
        &[("SHIPMATE__WEBHOOKS__GITLAB__TOKEN", "my-secret-token")],
        None,
        Arc::new(SystemClock),
        None,
    )
    .await;
    for (i, case) in cases["cases"].as_array().expect("cases").iter().enumerate() {
        assert_eq!(case["configured_secret_token"], "my-secret-token");
        let given = case["x_gitlab_token"].as_str().expect("token");
        let valid = case["valid"].as_bool().expect("valid");
        assert_eq!(
            shipmate::ci::auth::token_ok("my-secret-token", Some(given)),
            valid
        );
        let (status, _) = post(
            &t,
            "/webhooks/gitlab",
            &[
                ("x-gitlab-event", "Deployment Hook"),
                ("x-gitlab-event-uuid", &format!("case-{i}")),
                ("x-gitlab-token", given),
            ],
            fixture("gitlab", "deployment.success.docs.json"),
        )
        .await;
        assert_eq!(status, if valid { 200 } else { 401 }, "{case}");
    }
}

// ---------------------------------------------------------------- AWS

#[tokio::test]
async fn every_aws_fixture_is_accepted_directly_or_inside_sns() {
    // Arrange
    let t = spawn(&[]).await;

    // Act: EventBridge / CodeStar events directly, the SNS examples as they are
    for name in payload_files("aws") {
        let (status, answer) = aws(&t, fixture("aws", &name)).await;
        let expected = match name.as_str() {
            "sns.notification.json" => 202,
            _ => 200,
        };
        assert_eq!(status, expected, "{name}: {answer}");
    }
    // …and one CodeBuild event wrapped in an SNS Notification envelope
    let mut envelope = fixture_json("aws", "sns.notification.json");
    let mut failed = fixture_json("aws", "codebuild.build-state-change.succeeded.json");
    set(&mut failed, "/detail/build-status", json!("FAILED"));
    set(
        &mut failed,
        "/detail/build-id",
        json!("arn:aws:codebuild:us-west-2:123456789012:build/my-sample-project:failing"),
    );
    set(
        &mut failed,
        "/detail/additional-information/phases/5/phase-status",
        json!("FAILED"),
    );
    set(&mut envelope, "/Message", json!(failed.to_string()));
    set(&mut envelope, "/MessageId", json!("sns-wrapped-1"));
    let (status, answer) = aws(&t, envelope.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{answer}");

    // Assert
    let execution = run(&t, "pipeline:aws:12345678-1234-5678-abcd-12345678abcd:1").await;
    assert_eq!(execution.run.status, Status::Succeeded);
    assert_eq!(execution.run.pipeline, "myPipeline");
    assert_eq!(execution.run.branch.as_deref(), Some("main"));
    let deploy = execution
        .run
        .jobs
        .iter()
        .find(|j| j.id == "Deploy/Deploy")
        .expect("action");
    assert_eq!(deploy.status, Status::Failed);
    assert!(
        deploy
            .url
            .as_deref()
            .unwrap_or_default()
            .contains("codedeploy")
    );
    let go = run(&t, "pipeline:aws:01234567-0123-0123-0123-012345678901:1").await;
    assert_eq!(go.run.status, Status::Running);
    let build = run(
        &t,
        "pipeline:aws:my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX:1",
    )
    .await;
    assert_eq!(build.run.status, Status::Succeeded);
    assert!(
        build
            .run
            .jobs
            .iter()
            .any(|j| j.name == "BUILD" && j.status == Status::Succeeded)
    );
    let failing = run(&t, "pipeline:aws:my-sample-project:failing:1").await;
    assert_eq!(failing.run.status, Status::Failed);
    let names: Vec<&str> = failing.run.failed_jobs().map(|j| j.name.as_str()).collect();
    assert_eq!(names, vec!["BUILD"]);
    // The subscription confirmation is logged, not stored
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM pipeline_deliveries WHERE kind = 'SubscriptionConfirmation'"
        )
        .await,
        0
    );
}

/// SNS certificates from the test vectors; records confirmations.
struct FakeSns {
    pem: String,
    confirmed: Mutex<Vec<String>>,
}

impl CertSource for FakeSns {
    fn certificate<'a>(&'a self, _url: &'a str) -> PortFuture<'a, String> {
        Box::pin(async move { Ok(self.pem.clone()) })
    }
    fn confirm<'a>(&'a self, url: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            self.confirmed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(url.to_string());
            Ok(())
        })
    }
}

#[tokio::test]
async fn sns_signature_vectors_verify_and_altered_messages_are_refused() {
    // Arrange
    let vectors = fixture_json("aws", "signature.sns-notification-no-subject.json");
    let pem = vectors["certificate_pem"]
        .as_str()
        .expect("pem")
        .to_string();
    for v in vectors["vectors"].as_array().expect("vectors") {
        let good: Envelope = serde_json::from_value(v["sns_message"].clone()).expect("envelope");
        assert_eq!(
            good.string_to_sign(),
            v["string_to_sign"].as_str().expect("string")
        );
        assert!(verify_with_cert(&good, &pem).is_ok(), "{v}");
        let bad: Envelope =
            serde_json::from_value(v["negative_case"]["sns_message"].clone()).expect("envelope");
        assert!(verify_with_cert(&bad, &pem).is_err());
    }
    let sns = Arc::new(FakeSns {
        pem,
        confirmed: Mutex::default(),
    });
    let t = ready(
        spawn_app_with(
            &[("SHIPMATE__WEBHOOKS__AWS__VERIFY_SNS", "true")],
            Some(CONFIG),
            Arc::new(SystemClock),
            Some(sns),
        )
        .await,
    )
    .await;
    let before = t.snapshot().await;
    let v = &vectors["vectors"][0];

    // Act + Assert: tampered → 401 and nothing stored; genuine → acknowledged
    let (status, _) = aws(
        &t,
        v["negative_case"]["sns_message"].to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    let mut foreign = v["sns_message"].clone();
    set(
        &mut foreign,
        "/SigningCertURL",
        json!("https://example.com/cert.pem"),
    );
    let (status, _) = aws(&t, foreign.to_string().into_bytes()).await;
    assert_eq!(status, 401);
    assert_eq!(t.snapshot().await, before);
    let (status, answer) = aws(&t, v["sns_message"].to_string().into_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM pipeline_deliveries WHERE delivery_id = '792cda85-518f-5dd3-9163-81d851212f3a'").await,
        1
    );
}

/// An SNS whose certificate host cannot be reached.
struct UnreachableSns;

impl CertSource for UnreachableSns {
    fn certificate<'a>(&'a self, url: &'a str) -> PortFuture<'a, String> {
        Box::pin(async move { Err(format!("fetching {url}: connection timed out")) })
    }
    fn confirm<'a>(&'a self, _url: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move { Err("unreachable".to_string()) })
    }
}

#[tokio::test]
async fn an_unreachable_signing_certificate_asks_sns_to_retry_and_stores_nothing() {
    let vectors = fixture_json("aws", "signature.sns-notification-no-subject.json");
    let t = ready(
        spawn_app_with(
            &[("SHIPMATE__WEBHOOKS__AWS__VERIFY_SNS", "true")],
            Some(CONFIG),
            Arc::new(SystemClock),
            Some(Arc::new(UnreachableSns)),
        )
        .await,
    )
    .await;
    let before = t.snapshot().await;

    let (status, answer) = aws(
        &t,
        vectors["vectors"][0]["sns_message"]
            .to_string()
            .into_bytes(),
    )
    .await;

    assert_eq!(status, 503, "SNS retries a 5xx, never a 4xx: {answer}");
    assert!(answer.to_string().contains("certificate"), "{answer}");
    assert_eq!(
        t.snapshot().await,
        before,
        "nothing stored, so the retry applies"
    );
}

#[tokio::test]
async fn a_subscription_is_confirmed_only_when_enabled() {
    let sns = Arc::new(FakeSns {
        pem: String::new(),
        confirmed: Mutex::default(),
    });
    let body = fixture("aws", "sns.subscription-confirmation.json");
    let off = spawn_app_with(&[], Some(CONFIG), Arc::new(SystemClock), Some(sns.clone())).await;
    let (status, answer) = aws(&off, body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("logged")));
    assert!(
        sns.confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    );

    let on = spawn_app_with(
        &[("SHIPMATE__WEBHOOKS__AWS__CONFIRM_SUBSCRIPTIONS", "true")],
        Some(CONFIG),
        Arc::new(SystemClock),
        Some(sns.clone()),
    )
    .await;
    let (status, answer) = aws(&on, body).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("confirmed"))
    );
    let confirmed = sns
        .confirmed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(confirmed.len(), 1);
    assert!(
        confirmed[0].starts_with("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription")
    );
}

// ---------------------------------------------------------------- messages

#[tokio::test]
async fn a_runs_later_events_edit_its_message_instead_of_posting_new_ones() {
    // Arrange: a deploy workflow routed to #deploys
    let t = spawn(&[]).await;
    let mut queued = fixture_json("github", "workflow_run.requested.json");
    set(&mut queued, "/workflow/name", json!("deploy-web"));
    set(&mut queued, "/workflow_run/id", json!(5001));
    let mut running = queued.clone();
    set(&mut running, "/workflow_run/status", json!("in_progress"));
    set(
        &mut running,
        "/workflow_run/updated_at",
        json!("2020-10-05T16:34:00Z"),
    );
    let mut done = running.clone();
    set(&mut done, "/workflow_run/status", json!("completed"));
    set(&mut done, "/workflow_run/conclusion", json!("success"));
    set(
        &mut done,
        "/workflow_run/updated_at",
        json!("2020-10-05T16:38:00Z"),
    );
    let key = "pipeline:github:5001:1";

    // Act: the post is delivered, then two quick updates
    github(&t, "workflow_run", "e-1", queued.to_string().into_bytes()).await;
    assert!(
        t.wait_console("deploy-web #163", 1, Duration::from_secs(3))
            .await
    );
    github(&t, "workflow_run", "e-2", running.to_string().into_bytes()).await;
    github(&t, "workflow_run", "e-3", done.to_string().into_bytes()).await;

    // Assert: one post, then edits of it, ending in the final state
    assert!(
        t.wait_console("succeeded in 4m", 1, Duration::from_secs(5))
            .await
    );
    let rows = outbox(&t, key).await;
    assert!((2..=3).contains(&rows.len()), "{rows:?}");
    assert!(
        rows.iter()
            .all(|(channel, _, _)| channel == "console:#deploys")
    );
    assert!(
        rows.last()
            .is_some_and(|(_, body, _)| body.contains("succeeded"))
    );
    let console = t.console.contents();
    let blocks: Vec<&str> = console
        .split("\n[")
        .filter(|b| b.contains("deploy-web #163") && !b.contains("Production deploy"))
        .collect();
    assert_eq!(blocks.len(), rows.len(), "{console}");
    assert!(
        !blocks[0].contains("(edit of"),
        "first is a post: {console}"
    );
    assert!(
        blocks[1..].iter().all(|b| b.contains("(edit of console-")),
        "{console}"
    );
}

#[tokio::test]
async fn a_burst_of_events_for_one_run_is_coalesced_into_a_post_and_few_edits() {
    let t = spawn(&[]).await;
    for i in 0..20 {
        let status = if i == 19 { "succeeded" } else { "running" };
        let (code, _) = generic(
            &t,
            json!({
                "id": format!("burst-{i}"), "pipeline": "deploy-api", "run_id": "77",
                "branch": "main", "status": status,
                "timestamp": format!("2026-11-24T05:00:{i:02}Z"),
                "jobs": [{"name": format!("step-{i}"), "status": "succeeded"}]
            }),
        )
        .await;
        assert_eq!(code, 200);
    }
    let key = "pipeline:generic:77:1";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline
        && count(&t, "SELECT COUNT(*) FROM outbox WHERE message_key = 'pipeline:generic:77:1' AND state = 'pending'").await > 0
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&t, key).await;
    assert!(rows.len() <= 4, "20 events → {} rows", rows.len());
    assert!(
        rows.last()
            .is_some_and(|(_, body, state)| body.contains("succeeded") && state == "delivered")
    );
    assert_eq!(run(&t, key).await.run.jobs.len(), 20);
}

#[tokio::test]
async fn a_failed_run_names_the_failed_job_and_mentions_the_oncall_role() {
    // Arrange: the fixture run, failing, with a failed job
    let t = spawn(&[]).await;
    let mut job = fixture_json("github", "workflow_job.completed.success.json");
    set(&mut job, "/workflow_job/run_id", json!(289782451));
    set(&mut job, "/workflow_job/name", json!("unit-tests"));
    set(&mut job, "/workflow_job/conclusion", json!("failure"));
    set(&mut job, "/workflow_job/workflow_name", json!("test"));
    let mut failed = fixture_json("github", "workflow_run.completed.success.json");
    set(&mut failed, "/workflow_run/conclusion", json!("failure"));

    // Act
    github(&t, "workflow_job", "f-1", job.to_string().into_bytes()).await;
    github(&t, "workflow_run", "f-2", failed.to_string().into_bytes()).await;

    // Assert: the run message names the job; a follow-up mentions @qa (the ci
    // route's on-call) when the job fails, once: the run's failure pages no one again
    assert!(
        t.wait_console(
            "test failing in ci: unit-tests — @qa",
            1,
            Duration::from_secs(5)
        )
        .await,
        "{}",
        t.console.contents()
    );
    let key = "pipeline:github:289782451:1";
    let last = outbox(&t, key).await.pop().expect("run message");
    assert!(
        last.1.contains("unit-tests") && last.1.contains("runs/1291536064"),
        "{}",
        last.1
    );
    assert!(
        t.console
            .contents()
            .contains("console:#ci (reply to console-"),
        "the follow-up answers the run message in its thread: {}",
        t.console.contents()
    );
    let follow = outbox(&t, &format!("{key}:failure")).await;
    assert_eq!(follow.len(), 1);
    let message: Value = serde_json::from_str(&follow[0].1).expect("message");
    assert!(message.to_string().contains(r#""role":"qa""#), "{message}");
}

#[tokio::test]
async fn a_job_that_fails_while_its_run_goes_on_is_named_and_pages_on_call_once() {
    let t = spawn(&[]).await;
    let event = |id: &str, status: &str, at: &str, jobs: Value| {
        json!({"id": id, "pipeline": "deploy-web", "run_id": "77", "status": status,
               "branch": "main", "url": "https://ci.example.com/job/deploy-web/77/",
               "timestamp": at, "jobs": jobs})
    };
    let key = "pipeline:generic:77:1";

    // a job fails; the run is still running
    let (status, answer) = generic(
        &t,
        event(
            "e1",
            "running",
            "2026-11-24T10:01:00+05:30",
            json!([
            {"name": "build", "status": "succeeded"},
            {"name": "migrate", "status": "failed", "url": "https://ci.example.com/77/migrate"},
            {"name": "e2e", "status": "running"}]),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        t.wait_console(
            "deploy-web failing in production: migrate — @devops",
            1,
            Duration::from_secs(5)
        )
        .await,
        "{}",
        t.console.contents()
    );
    let message = outbox(&t, key).await.pop().expect("run message");
    assert!(
        message.1.contains("migrate") && message.1.contains("running: e2e"),
        "{}",
        message.1
    );

    // the run then fails as a whole: the message says so, nobody is paged again
    let (status, _) = generic(
        &t,
        event(
            "e2",
            "failed",
            "2026-11-24T10:05:00+05:30",
            json!([
            {"name": "build", "status": "succeeded"},
            {"name": "migrate", "status": "failed"},
            {"name": "e2e", "status": "failed"}]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(run(&t, key).await.run.status, Status::Failed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        outbox(&t, &format!("{key}:failure")).await.len(),
        1,
        "paged once"
    );
}

#[tokio::test]
async fn a_production_deploy_outside_the_release_windows_is_flagged_to_devops() {
    // Arrange: windows Mon-Thu 10:00-16:00 Asia/Kolkata
    let t = spawn(&[]).await;
    let deploy = |id: &str, run: &str, started: &str| {
        json!({"id": id, "pipeline": "deploy-web", "run_id": run, "branch": "main",
               "status": "running", "started_at": started, "timestamp": started})
    };

    // Act: Saturday evening, then Tuesday 11:00
    let (status, _) = generic(&t, deploy("w-1", "100", "2026-11-28T18:00:00+05:30")).await;
    assert_eq!(status, 200);
    let (status, _) = generic(&t, deploy("w-2", "101", "2026-11-24T11:00:00+05:30")).await;
    assert_eq!(status, 200);

    // Assert
    let outside = run(&t, "pipeline:generic:100:1").await;
    assert_eq!(outside.flags.len(), 1);
    assert!(
        t.wait_console(
            "started outside the release windows (Mon-Thu 10:00-16:00) — @devops",
            1,
            Duration::from_secs(3)
        )
        .await,
        "{}",
        t.console.contents()
    );
    assert_eq!(
        outbox(&t, "pipeline:generic:100:1:release-window")
            .await
            .len(),
        1
    );
    let inside = run(&t, "pipeline:generic:101:1").await;
    assert!(inside.flags.is_empty() && inside.flags_checked);
    assert!(
        outbox(&t, "pipeline:generic:101:1:release-window")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn unrouted_events_are_stored_counted_and_sent_to_the_default_channels() {
    let t = spawn(&[]).await;
    let (status, _) = generic(
        &t,
        json!({"id": "u-1", "pipeline": "nightly-backup", "run_id": "9", "status": "succeeded"}),
    )
    .await;
    assert_eq!(status, 200);
    let rec = run(&t, "pipeline:generic:9:1").await;
    assert!(!rec.routed);
    assert_eq!(rec.environment, "unrouted");
    assert!(
        t.wait_console("console:#unrouted", 1, Duration::from_secs(3))
            .await
    );
    let metrics = reqwest::get(t.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("shipmate_pipeline_events_unrouted_total{source=\"generic\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipmate_webhook_deliveries_total"),
        "{metrics}"
    );
}

// ---------------------------------------------------------------- commands

#[tokio::test]
async fn pipeline_status_and_history_show_the_latest_runs() {
    // Arrange: two runs of deploy-web in production, one unrouted
    let t = spawn(&[]).await;
    for (id, run, status) in [("h-1", "200", "failed"), ("h-2", "201", "succeeded")] {
        generic(
            &t,
            json!({"id": id, "pipeline": "deploy-web", "run_id": run, "number": run.parse::<u64>().unwrap_or(0),
                   "branch": "main", "status": status, "timestamp": "2026-11-24T06:00:00Z"}),
        )
        .await;
    }
    generic(
        &t,
        json!({"id": "h-3", "pipeline": "lint", "run_id": "1", "status": "running"}),
    )
    .await;

    // Act
    let all = t.ok("alice", "/pipeline status").await;
    let prod = t.ok("alice", "/pipeline status env:production").await;
    let history = t.ok("alice", "/pipeline history deploy-web").await;
    let unknown = t.ok("alice", "/pipeline history deploy-wbe").await;

    // Assert
    assert!(
        all.contains("✅ production · deploy-web #201") && all.contains("unrouted · lint"),
        "{all}"
    );
    assert!(!all.contains("#200"), "only the latest run: {all}");
    assert!(
        prod.contains("deploy-web #201") && !prod.contains("lint"),
        "{prod}"
    );
    let newest = history.find("#201").expect("201");
    let oldest = history.find("#200").expect("200");
    assert!(newest < oldest, "{history}");
    assert!(
        unknown.contains("known pipelines: deploy-web, lint"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_production_deploy_during_a_code_freeze_of_its_target_is_flagged() {
    // Arrange: a code freeze on `web`, the target of the generic deploy route's repository acme/web
    let t = spawn(&[]).await;
    t.ok(
        "rm",
        "/freeze start web until:7d reason:\"post-release freeze\"",
    )
    .await;
    let now = chrono::Utc::now().to_rfc3339();
    let deploy = |id: &str, run: &str, repository: &str| {
        json!({"id": id, "pipeline": "deploy-web", "run_id": run, "branch": "main", "repository": repository,
               "status": "running", "started_at": now, "timestamp": now})
    };

    // Act
    let (status, _) = generic(&t, deploy("f-1", "200", "acme/web")).await;
    assert_eq!(status, 200);
    let (status, _) = generic(&t, deploy("f-2", "201", "acme/api")).await;
    assert_eq!(status, 200);

    // Assert: the frozen target is flagged, the other one is not
    let frozen = run(&t, "pipeline:generic:200:1").await;
    assert!(
        frozen.flags.iter().any(|f| f
            .to_string()
            .contains("started during the code freeze on `web`")),
        "{:?}",
        frozen.flags
    );
    assert!(
        t.wait_console(
            "started during the code freeze on `web`",
            1,
            Duration::from_secs(3)
        )
        .await,
        "{}",
        t.console.contents()
    );
    let other = run(&t, "pipeline:generic:201:1").await;
    assert!(
        !other
            .flags
            .iter()
            .any(|f| f.to_string().contains("code freeze")),
        "{:?}",
        other.flags
    );
}

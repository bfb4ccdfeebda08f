//! Gated deploys from chat (`/deploy`), the whole app against a GitHub
//! Actions API as strict as the real one (`common::github`): approvals by
//! the shared rules, the release gate, freezes and the admin override, and
//! a trigger made exactly once — across a crash, and after an answer that
//! never came — with the provider's refusals reported and never retried.

mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::aws::CodePipeline;
use common::github::Actions;
use common::gitlab::Project;
use common::{TestApp, ist, spawn_app_on};
use serde_json::json;
use shipmate::ci::auth::github_signature;
use shipmate::domain::Platform;
use shipmate::domain::timing::{Clock, ManualClock};
use std::sync::Arc;

/// The configuration: one production target behind two approvals and the
/// portal release's validation gate, dispatched on `api`.
fn config(api: &str, inputs: &str, requires: bool) -> String {
    let requires = if requires {
        "requires = \"portal-release:validation\""
    } else {
        ""
    };
    format!(
        r#"
[roles]
admin = ["console:admin"]
devops = ["console:ops", "console:ann"]
product = ["console:pm"]
qa = ["console:qa"]
release-manager = ["console:rm"]

[github]
api_base_url = "{api}"
token = "ghp_test_token"

[webhooks.github]
secret = "gh-secret"

[[pipelines.routes]]
source = "github"
repository = "acme/portal"
environment = "production"
channels = ["console:#deploys"]

[[deploy.targets]]
name = "portal-prod"
environment = "production"
provider = "github"
repository = "acme/portal"
workflow = "deploy.yml"
inputs = {inputs}
approvals = 2
approver_roles = ["devops", "release-manager"]
requester_roles = ["devops"]
{requires}
"#
    )
}

const INPUTS: &str = r#"{ environment = "production", version = "{ref}" }"#;

/// 2026-12-01 10:00 IST, a Tuesday.
fn start() -> chrono::DateTime<chrono::Utc> {
    ist(2026, 12, 1, 10, 0)
}

/// The app on a manual clock with the mock GitHub; returns both.
async fn spawn(inputs: &str, requires: bool) -> (TestApp, Actions, wiremock::MockServer) {
    let clock = Arc::new(ManualClock::new(start()));
    let actions = Actions::new(clock.clone());
    let server = actions.start().await;
    let toml = config(&server.uri(), inputs, requires);
    let t = spawn_app_on(&toml, clock).await;
    (t, actions, server)
}

/// The latest version of DEP-n's card, as people read it.
async fn card(t: &TestApp, id: &str) -> String {
    t.posted("#bioinfo")
        .await
        .into_iter()
        .rev()
        .find(|m| m.starts_with(&format!("🚀 {id} ")))
        .unwrap_or_else(|| panic!("no card of {id}"))
}

/// GitHub's `workflow_run` webhook for run 30433642 (#88, `v2.4.0`) of acme/portal.
async fn workflow_run(
    t: &TestApp,
    delivery: &str,
    status: &str,
    conclusion: Option<&str>,
    at: &str,
) {
    let run = Webhook {
        id: 30433642,
        number: 88,
        git_ref: "v2.4.0",
    };
    run.send(t, delivery, status, conclusion, at).await;
}

/// One run's `workflow_run` webhooks: the shipped fixture with this run's
/// fields, signed as GitHub signs it.
struct Webhook<'a> {
    id: u64,
    number: u64,
    git_ref: &'a str,
}

impl Webhook<'_> {
    async fn send(
        &self,
        t: &TestApp,
        delivery: &str,
        status: &str,
        conclusion: Option<&str>,
        at: &str,
    ) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github/workflow_run.completed.success.json"
        );
        let mut body: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
        let run = &mut body["workflow_run"];
        run["id"] = json!(self.id);
        run["name"] = json!("deploy");
        run["event"] = json!("workflow_dispatch");
        run["head_branch"] = json!(self.git_ref);
        run["status"] = json!(status);
        run["conclusion"] = json!(conclusion);
        run["run_number"] = json!(self.number);
        run["html_url"] = json!(format!(
            "https://github.com/acme/portal/actions/runs/{}",
            self.id
        ));
        run["created_at"] = json!("2026-12-01T05:00:00Z");
        run["run_started_at"] = json!("2026-12-01T05:00:00Z");
        run["updated_at"] = json!(at);
        body["repository"]["full_name"] = json!("acme/portal");
        body["action"] = json!(if status == "completed" {
            "completed"
        } else {
            "in_progress"
        });
        let body = serde_json::to_vec(&body).expect("JSON");
        let response = reqwest::Client::new()
            .post(t.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", "workflow_run")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", github_signature("gh-secret", &body))
            .body(body)
            .send()
            .await
            .expect("webhook");
        assert_eq!(response.status().as_u16(), 200);
    }
}

/// Waits until `record`'s audit log has `action` (work done in the background).
async fn wait_audit(t: &TestApp, record: &str, action: &str) {
    let recorded = async {
        while !audit(t, record).await.iter().any(|a| a == action) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    common::within(recorded).await;
}

/// The audit actions recorded for `record`, oldest first.
async fn audit(t: &TestApp, record: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE record = ? ORDER BY id")
        .bind(record)
        .fetch_all(&t.app.db.pool)
        .await
        .expect("audit")
}

#[tokio::test]
async fn a_production_deploy_is_approved_by_the_roles_held_by_its_gate_and_triggered_once() {
    // Arrange: the portal release running in the channel
    let (t, actions, _github) = spawn(INPUTS, true).await;
    t.ok(
        "rm",
        "/release start 2026-12 template:portal-release t0:2026-12-01",
    )
    .await;

    // Act: requested; the requester's own approval, and a role the target does not name, refused
    let filed = t
        .ok(
            "ops",
            "/deploy portal-prod ref:v2.4.0 reason:\"December release\"",
        )
        .await;
    let tz = t.app.config.tz;
    let first_card = t
        .messages("#bioinfo")
        .await
        .into_iter()
        .find(|m| m.plain(tz).starts_with("🚀 DEP-1"))
        .expect("the card");
    let own = t.refused("ops", "/deploy approve DEP-1").await;
    let qa = t.refused("qa", "/deploy approve DEP-1").await;
    let first = t.ok("ann", "/deploy approve DEP-1").await;
    let twice = t.refused("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert: approved, but held by the unsigned gate; nothing dispatched
    assert_eq!(
        filed,
        "Filed DEP-1: deploy `v2.4.0` → portal-prod (production). Waits for 2 more approvals from `devops` or `release-manager` and release gate portal-release:validation (not signed yet)."
    );
    assert!(
        own.contains("you filed this request, so you cannot approve it"),
        "{own}"
    );
    assert!(
        qa.contains(
            "only `devops` or `release-manager` members can approve deploys of `portal-prod`; you hold none of these roles (an admin can grant one: /role grant devops console:qa)"
        ),
        "{qa}"
    );
    assert!(
        first.contains("DEP-1 is still pending-approval. Waits for 1 more approval"),
        "{first}"
    );
    assert!(
        twice.contains("you have already approved this request"),
        "{twice}"
    );
    let slack = t.rendered(&first_card, Platform::Slack);
    assert!(
        slack.contains(r#""value": "/deploy approve DEP-1""#),
        "{slack}"
    );
    assert!(
        slack.contains(r#""value": "/deploy object DEP-1 reason:\"…\"""#),
        "{slack}"
    );
    let discord = t.rendered(&first_card, Platform::Discord);
    assert!(
        discord.contains(r#""label": "Approve""#) && discord.contains(r#""label": "Object""#),
        "{discord}"
    );
    t.record("DEP-1").expect_state("waiting-gate").await;
    t.advance(TimeDelta::minutes(5)).await;
    assert_eq!(
        actions.dispatched(),
        0,
        "nothing runs before the gate is signed"
    );
    insta::assert_snapshot!(card(&t, "DEP-1").await, @r#"
    🚀 DEP-1 deploy `v2.4.0` → portal-prod (production) · waiting-gate · requested by @ops
    Runs: GitHub workflow `deploy.yml` of acme/portal on `v2.4.0` with `environment=production, version=v2.4.0`
    Reason: December release
    Approved by @ann (devops), @rm (release-manager)
    Approved; waits for release gate portal-release:validation (not signed yet).
      ↳ Object: /deploy object DEP-1 reason:"…"
    "#);

    // Act: the gate is signed in the release
    for task in [
        "release-sprint",
        "release-milestone",
        "release-directory",
        "link-cards",
        "chore-cards",
        "consolidate",
    ] {
        t.ok("rm", &format!("/task done {task}")).await;
    }
    t.ok("ops", "/task done rc-staging").await;
    t.ok("pm", "/task done uat").await;
    t.ok("pm", "/signoff validation").await;

    // Assert: triggered once, with the inputs GitHub takes, and the card shows the run
    t.record("DEP-1").wait_state("triggered").await;
    t.advance(TimeDelta::minutes(10)).await;
    let runs = actions.runs();
    assert_eq!(runs.len(), 1, "dispatched exactly once");
    assert_eq!(runs[0].git_ref, "v2.4.0");
    assert_eq!(
        runs[0].inputs,
        json!({"environment": "production", "version": "v2.4.0"})
    );
    let triggered = card(&t, "DEP-1").await;
    assert!(
        triggered.contains("Run 30433642 · https://github.com/acme/portal/actions/runs/30433642"),
        "{triggered}"
    );

    // Act: the run's webhooks arrive
    workflow_run(&t, "d-1", "in_progress", None, "2026-12-01T05:00:30Z").await;
    let running = card(&t, "DEP-1").await;
    workflow_run(
        &t,
        "d-2",
        "completed",
        Some("success"),
        "2026-12-01T05:04:30Z",
    )
    .await;

    // Assert: the same card shows the deploy going through
    assert!(
        running.contains("🔄 production · deploy #88 · `v2.4.0` @ `3484a3f` · running"),
        "{running}"
    );
    let card = card(&t, "DEP-1").await;
    insta::assert_snapshot!(card, @r"
    🚀 DEP-1 deploy `v2.4.0` → portal-prod (production) · triggered · requested by @ops
    Runs: GitHub workflow `deploy.yml` of acme/portal on `v2.4.0` with `environment=production, version=v2.4.0`
    Reason: December release
    Approved by @ann (devops), @rm (release-manager)
    Triggered.
    ✅ production · deploy #88 · `v2.4.0` @ `3484a3f` · succeeded in 4m 30s · https://github.com/acme/portal/actions/runs/30433642
    ");
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "▶️ DEP-1 portal-prod `v2.4.0` triggered: run 30433642 https://github.com/acme/portal/actions/runs/30433642"),
        "{posted:#?}"
    );
    assert_eq!(
        audit(&t, "DEP-1").await,
        [
            "requested",
            "approve",
            "approve",
            "gate.signed",
            "trigger.queued",
            "trigger.call",
            "trigger.started"
        ]
    );
}

#[tokio::test]
async fn a_production_deploy_outside_the_release_windows_says_when_the_next_opens() {
    // Arrange: production deploys on Wednesdays only; it is Tuesday 10:00 IST
    let clock = Arc::new(ManualClock::new(start()));
    let actions = Actions::new(clock.clone());
    let server = actions.start().await;
    let toml = format!(
        "{}\n[pipelines]\nrelease_windows = [\"Wed 10:00-16:00\"]\n",
        config(&server.uri(), INPUTS, false)
    );
    let t = spawn_app_on(&toml, clock).await;

    // Act
    let refused = t.refused("ops", "/deploy portal-prod ref:v2.4.0").await;

    // Assert
    assert!(
        refused.starts_with("`portal-prod` cannot be deployed now: production deploys are taken inside the release windows (Wed 10:00-16:00, Asia/Kolkata); the next opens 2026-12-02 10:00 IST."),
        "{refused}"
    );
}

#[tokio::test]
async fn a_request_for_a_gate_with_no_release_open_says_how_to_start_one() {
    // Arrange: the target requires portal-release:validation; no release runs here
    let (t, _actions, _github) = spawn(INPUTS, true).await;

    // Act
    let filed = t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;

    // Assert
    assert!(
        filed.ends_with("\nNo release is open in this channel: the gate `validation` is signed in a release of `portal-release`, started here with /release start <name> template:portal-release."),
        "{filed}"
    );
}

#[tokio::test]
async fn a_deploy_inside_a_freeze_is_refused_and_an_admin_override_is_audited_and_announced() {
    // Arrange
    let (t, _actions, _github) = spawn(INPUTS, false).await;
    t.ok(
        "rm",
        "/freeze start portal-prod until:3d reason:\"post-release freeze\"",
    )
    .await;
    let before = t.snapshot().await;

    // Act
    let refused = t.refused("ops", "/deploy portal-prod ref:v2.4.1").await;
    let not_admin = t
        .refused("ops", "/deploy portal-prod ref:v2.4.1 override:\"hotfix\"")
        .await;
    let unchanged = t.snapshot().await;
    let filed = t
        .ok(
            "admin",
            "/deploy portal-prod ref:v2.4.1 override:\"hotfix for the login outage\"",
        )
        .await;

    // Assert
    assert!(
        refused.contains("`portal-prod` cannot be deployed now: `portal-prod` is in a code freeze until 2026-12-04 10:00 IST (post-release freeze). An admin can file it anyway with override:\"why\""),
        "{refused}"
    );
    assert!(
        not_admin.contains("only `admin` members can override"),
        "{not_admin}"
    );
    assert_eq!(before, unchanged, "a refusal changes nothing");
    assert!(filed.starts_with("Filed DEP-1"), "{filed}");
    assert_eq!(audit(&t, "DEP-1").await, ["requested", "override"]);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE record = 'DEP-1' AND action = 'override'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        detail,
        "reason=hotfix for the login outage overrode=`portal-prod` is in a code freeze until 2026-12-04 10:00 IST (post-release freeze)"
    );
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m == "⚠️ DEP-1 portal-prod `v2.4.1` filed although `portal-prod` is in a code freeze until 2026-12-04 10:00 IST (post-release freeze): override by @admin — hotfix for the login outage"),
        "{posted:#?}"
    );
}

#[tokio::test]
async fn a_refusal_is_reported_with_githubs_reason_and_never_retried() {
    // Arrange: an input the workflow does not declare
    let (t, actions, github) =
        spawn(r#"{ environment = "production", colour = "blue" }"#, false).await;
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;

    // Act
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert
    t.record("DEP-1").wait_state("refused").await;
    t.advance(TimeDelta::hours(1)).await;
    let calls = github.received_requests().await.expect("recorded").len();
    assert_eq!(calls, 1, "one call, never retried");
    assert_eq!(actions.dispatched(), 0);
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "⛔ DEP-1 portal-prod `v2.4.0` was not triggered: GitHub answered HTTP 422: Unexpected inputs provided: [\"colour\"]"),
        "{posted:#?}"
    );
    t.record("DEP-1").expect_state("refused").await;
}

#[tokio::test]
async fn a_crash_during_the_trigger_call_triggers_exactly_once_after_the_restart() {
    // Arrange: GitHub takes the dispatch but its answer never arrives before the crash
    let (t, actions, github) = spawn(INPUTS, false).await;
    actions.hold_answers(Duration::from_secs(25));
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;
    let received = async {
        while actions.dispatched() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    common::within(received).await;

    // Act: the process dies mid-call; the restarted app picks the trigger up when its lease ends
    let t = t.restart(&[]).await;
    t.record("DEP-1").expect_state("triggering").await;
    t.advance(TimeDelta::minutes(3)).await;

    // Assert: GitHub's runs were looked at, the run found, and no second dispatch made
    t.record("DEP-1").wait_state("triggered").await;
    assert_eq!(actions.dispatched(), 1, "dispatched exactly once");
    let gets = github
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method == wiremock::http::Method::GET)
        .count();
    assert_eq!(gets, 1, "the runs were looked at before any new call");
    let card = card(&t, "DEP-1").await;
    assert!(card.contains("Run 30433642"), "{card}");
    assert_eq!(
        audit(&t, "DEP-1").await[3..],
        [
            "trigger.queued",
            "trigger.call",
            "trigger.check",
            "trigger.started"
        ]
    );
}

#[tokio::test]
async fn an_unanswered_call_is_checked_against_githubs_runs_and_not_repeated() {
    // Arrange: GitHub creates the run but answers 502
    let (t, actions, _github) = spawn(INPUTS, false).await;
    actions.answer_with(502);
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;
    let posted = async {
        loop {
            let posted = t.posted("#bioinfo").await;
            if posted.iter().any(|m| m.contains("trigger unanswered")) {
                return posted;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let posted = common::within(posted).await;

    // Act: the lease ends
    t.advance(TimeDelta::minutes(3)).await;

    // Assert
    t.record("DEP-1").wait_state("triggered").await;
    assert_eq!(actions.dispatched(), 1, "dispatched exactly once");
    assert!(
        posted.iter().any(|m| m
            == "❔ DEP-1 portal-prod `v2.4.0` trigger unanswered (GitHub answered HTTP 502: Server Error); shipmate makes sure it did not run before trying again"),
        "{posted:#?}"
    );
}

#[tokio::test]
async fn a_provider_that_never_got_the_call_is_called_after_the_look_finds_no_run() {
    // Arrange: GitHub unreachable when the trigger is first made
    let clock = Arc::new(ManualClock::new(start()));
    let actions = Actions::new(clock.clone());
    let t = spawn_app_on(&config("http://127.0.0.1:9", INPUTS, false), clock.clone()).await;
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;
    wait_audit(&t, "DEP-1", "trigger.unanswered").await;

    // Act: GitHub is back (a restart onto its address) and the lease ends
    let github = actions.start().await;
    std::fs::write(
        t.dir.path().join("test.toml"),
        config(&github.uri(), INPUTS, false),
    )
    .expect("config");
    let t = t.restart(&[]).await;
    t.advance(TimeDelta::minutes(3)).await;

    // Assert
    t.record("DEP-1").wait_state("triggered").await;
    assert_eq!(actions.dispatched(), 1);
    assert_eq!(
        audit(&t, "DEP-1").await[3..],
        [
            "trigger.queued",
            "trigger.call",
            "trigger.unanswered",
            "trigger.check",
            "trigger.started"
        ]
    );
}

#[tokio::test]
async fn deploy_list_and_show_name_each_request_with_its_history() {
    // Arrange
    let (t, _actions, _github) = spawn(INPUTS, false).await;
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;
    t.ok("ann", "/deploy portal-prod ref:v2.4.1 reason:\"hotfix\"")
        .await;
    t.ok("qa", "/deploy object DEP-2 reason:\"not tested\"")
        .await;

    // Act
    let list = t.ok("rm", "/deploy list").await;
    let show = t.ok("rm", "/deploy show DEP-2").await;
    let unknown = t.refused("ops", "/deploy staging ref:main").await;
    let missing = t.refused("ops", "/deploy show DEP-9").await;

    // Assert
    insta::assert_snapshot!(list, @r"
    Deploy requests (open):
      DEP-2 · on-hold · deploy `v2.4.1` → portal-prod · by @ann
      DEP-1 · pending-approval · deploy `v2.4.0` → portal-prod · by @ops
    ");
    insta::assert_snapshot!(show, @r"
    🚀 DEP-2 deploy `v2.4.1` → portal-prod (production) · on-hold · requested by @ann
    Runs: GitHub workflow `deploy.yml` of acme/portal on `v2.4.1` with `environment=production, version=v2.4.1`
    Reason: hotfix
    ✋ Objection by @qa: not tested
    Held by an objection until an approver resolves it.
    History:
      2026-12-01 10:00 IST  @ann  requested — kind=deploy target=portal-prod environment=production ref=v2.4.1 reason=hotfix
      2026-12-01 10:00 IST  @qa  object — state=on-hold reason=not tested
    ");
    assert_eq!(
        unknown,
        "there is no deploy target `staging`: targets are portal-prod"
    );
    assert!(missing.contains("DEP-9 does not exist"), "{missing}");
    t.record("DEP-2").expect_state("on-hold").await;
}

/// The earlier good deploy (#87, `v2.3.0`) and the failed one (#88, `v2.4.0`) of portal-prod.
async fn a_good_then_a_failed_deploy(t: &TestApp) {
    let good = Webhook {
        id: 30433000,
        number: 87,
        git_ref: "v2.3.0",
    };
    good.send(
        t,
        "g-1",
        "completed",
        Some("success"),
        "2026-11-30T05:00:00Z",
    )
    .await;
    workflow_run(
        t,
        "b-1",
        "completed",
        Some("failure"),
        "2026-12-01T04:00:00Z",
    )
    .await;
}

/// The button `label` on the messages in `channel`, as the command it runs.
async fn button(t: &TestApp, channel: &str, label: &str) -> String {
    t.messages(channel)
        .await
        .iter()
        .flat_map(|m| m.buttons.iter())
        .find(|b| b.label == label)
        .map(|b| b.command.clone())
        .unwrap_or_else(|| panic!("no {label} button in {channel}"))
}

#[tokio::test]
async fn the_failure_messages_roll_back_button_opens_a_rollback_to_the_previous_successful_deploy()
{
    // Arrange
    let (t, actions, _github) = spawn(INPUTS, false).await;
    a_good_then_a_failed_deploy(&t).await;
    let roll_back = button(&t, "#deploys", "Roll back").await;
    assert_eq!(roll_back, "/rollback portal-prod reason:\"…\"");
    assert_eq!(
        button(&t, "#deploys", "Re-run").await,
        "/pipeline rerun 30433642 failed-only"
    );

    // Act: devops clicks it and says why; two approvers approve
    let filed = t
        .ok(
            "ops",
            &roll_back.replace('…', "checkout is broken in v2.4.0"),
        )
        .await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert
    assert_eq!(
        filed,
        "Filed DEP-1: roll back to `v2.3.0` → portal-prod (production), from run #87 (30433000). Waits for 2 more approvals from `devops` or `release-manager`."
    );
    t.record("DEP-1").wait_state("triggered").await;
    let runs = actions.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].git_ref, "v2.3.0");
    assert_eq!(
        runs[0].inputs,
        json!({"environment": "production", "version": "v2.3.0"})
    );
    let no_reason = t.refused("ops", "/rollback portal-prod").await;
    assert!(no_reason.contains("missing `reason`"), "{no_reason}");
}

#[tokio::test]
async fn a_rollback_hands_the_workflow_the_exact_commit_of_the_run_it_goes_back_to() {
    // Arrange: the workflow takes the commit to check out
    let inputs = r#"{ environment = "production", version = "{commit}" }"#;
    let (t, actions, _github) = spawn(inputs, false).await;
    a_good_then_a_failed_deploy(&t).await;
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github/workflow_run.completed.success.json"
        ))
        .expect("fixture"),
    )
    .expect("JSON");
    let sha = fixture["workflow_run"]["head_sha"]
        .as_str()
        .expect("head_sha");

    // Act
    t.ok("ops", "/rollback portal-prod reason:broken").await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert: dispatched on the old tag, with the commit that ran there
    t.record("DEP-1").wait_state("triggered").await;
    let runs = actions.runs();
    assert_eq!(runs[0].git_ref, "v2.3.0");
    assert_eq!(
        runs[0].inputs,
        json!({"environment": "production", "version": sha})
    );
}

#[tokio::test]
async fn a_rerun_of_the_failed_jobs_is_a_gated_request_made_once() {
    // Arrange: GitHub knows the failed run
    let (t, actions, _github) = spawn(INPUTS, false).await;
    actions.seed_run(30433642, "v2.4.0");
    a_good_then_a_failed_deploy(&t).await;

    // Act
    let filed = t.ok("ops", &button(&t, "#deploys", "Re-run").await).await;
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert: one re-run of the failed jobs, linked to the run's second attempt
    assert!(
        filed.starts_with(
            "Filed DEP-1: re-run the failed jobs of run 30433642 → portal-prod (production)."
        ),
        "{filed}"
    );
    t.record("DEP-1").wait_state("triggered").await;
    t.advance(TimeDelta::minutes(10)).await;
    let run = actions.run(30433642).expect("the run");
    assert_eq!(run.reruns, ["rerun-failed-jobs"]);
    assert_eq!(actions.dispatched(), 0, "a re-run dispatches nothing new");
    let key: Option<String> =
        sqlx::query_scalar("SELECT run_key FROM deploy_requests WHERE id = 1")
            .fetch_one(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(key.as_deref(), Some("pipeline:github:30433642:2"));
    let unknown = t.refused("ops", "/pipeline rerun 999").await;
    assert!(unknown.contains("no run 999 has been seen"), "{unknown}");
}

/// A staging target on GitLab that needs no approval.
fn gitlab_config(api: &str) -> String {
    format!(
        r#"
[roles]
devops = ["console:ops", "console:ann"]

[gitlab]
api_base_url = "{api}/api/v4"
token = "glpat-test-token"

[webhooks.gitlab]
token = "gl-hook-token"

[[pipelines.routes]]
source = "gitlab"
repository = "acme/portal"
environment = "staging"
channels = ["console:#deploys"]

[[deploy.targets]]
name = "portal-staging"
environment = "staging"
provider = "gitlab"
project = "acme/portal"
variables = {{ DEPLOY_VERSION = "{{ref}}", SHIPMATE_REQUEST = "{{request}}" }}
approvals = 0
"#
    )
}

/// `gitlab_config` plus `portal-manual`, which plays the manual job
/// `deploy-prod` of the newest pipeline on the ref.
fn manual_job_config(api: &str) -> String {
    format!(
        r#"{}
[[deploy.targets]]
name = "portal-manual"
environment = "staging"
provider = "gitlab"
project = "acme/portal"
job = "deploy-prod"
approvals = 0
"#,
        gitlab_config(api)
    )
}

async fn spawn_gitlab() -> (TestApp, Project, wiremock::MockServer) {
    let clock = Arc::new(ManualClock::new(start()));
    let project = Project::new(clock.clone());
    let server = project.start().await;
    let t = spawn_app_on(&gitlab_config(&server.uri()), clock).await;
    (t, project, server)
}

#[tokio::test]
async fn a_gitlab_pipeline_is_created_once_with_its_variables_and_a_refusal_names_gitlabs_reason() {
    // Arrange
    let (t, project, gitlab) = spawn_gitlab().await;

    // Act: no approval needed, so it is triggered at once
    let filed = t.ok("ops", "/deploy portal-staging ref:v2.4.0").await;
    t.record("DEP-1").wait_state("triggered").await;
    t.ok("ops", "/deploy portal-staging ref:no-such-tag").await;
    t.record("DEP-2").wait_state("refused").await;
    t.advance(TimeDelta::minutes(10)).await;

    // Assert
    assert!(
        filed.starts_with("Filed DEP-1: deploy `v2.4.0` → portal-staging (staging)."),
        "{filed}"
    );
    let pipelines = project.pipelines();
    assert_eq!(pipelines.len(), 1, "created exactly once");
    assert_eq!(pipelines[0].git_ref, "v2.4.0");
    assert_eq!(
        pipelines[0].variables,
        json!([
            {"key": "DEPLOY_VERSION", "value": "v2.4.0", "variable_type": "env_var"},
            {"key": "SHIPMATE_REQUEST", "value": "DEP-1", "variable_type": "env_var"},
        ])
    );
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains("Runs: GitLab pipeline of acme/portal on `v2.4.0` with `DEPLOY_VERSION=v2.4.0, SHIPMATE_REQUEST=DEP-1`"),
        "{card}"
    );
    assert!(
        card.contains("Run 1061 · https://gitlab.example.com/acme/portal/-/pipelines/1061"),
        "{card}"
    );
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "⛔ DEP-2 portal-staging `no-such-tag` was not triggered: GitLab answered HTTP 400: base: Reference not found"),
        "{posted:#?}"
    );
    let posts = gitlab
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method == wiremock::http::Method::POST)
        .count();
    assert_eq!(posts, 2, "one call per request, the refusal never retried");
}

#[tokio::test]
async fn a_gitlab_manual_job_is_played_once_in_the_newest_pipeline_on_the_ref() {
    // Arrange: a production target whose pipeline waits on a manual job
    let clock = Arc::new(ManualClock::new(start()));
    let project = Project::new(clock.clone());
    let gitlab = project.start().await;
    let t = spawn_app_on(&manual_job_config(&gitlab.uri()), clock).await;
    let pipeline = project.pushed("v2.4.0");

    // Act
    t.ok("ops", "/deploy portal-manual ref:v2.4.0").await;
    t.record("DEP-1").wait_state("triggered").await;
    t.ok("ops", "/deploy portal-manual ref:v2.4.0").await;
    t.record("DEP-2").wait_state("refused").await;
    t.ok("ops", "/deploy portal-manual ref:main").await;
    t.record("DEP-3").wait_state("refused").await;

    // Assert: played once, linked to its pipeline; the rest refused with the reason
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains("Runs: GitLab manual job `deploy-prod` of acme/portal, played in the newest pipeline on `v2.4.0`"),
        "{card}"
    );
    assert!(card.contains(&format!("Run {pipeline}")), "{card}");
    let plays = gitlab
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method == wiremock::http::Method::POST && r.url.path().ends_with("/play"))
        .count();
    assert_eq!(plays, 1, "the job is played once");
    let posted = t.posted("#bioinfo").await;
    for reason in [
        "job `deploy-prod` of pipeline 1061 is pending, not waiting to be played",
        "no pipeline of acme/portal runs on `main`: push the ref (or create its pipeline) first",
    ] {
        assert!(
            posted.iter().any(|m| m.contains(reason)),
            "{reason}\n{posted:#?}"
        );
    }
}

#[tokio::test]
async fn an_unanswered_play_of_a_manual_job_is_found_played_and_not_repeated() {
    // Arrange: GitLab plays the job but its answer is lost
    let clock = Arc::new(ManualClock::new(start()));
    let project = Project::new(clock.clone());
    let gitlab = project.start().await;
    let t = spawn_app_on(&manual_job_config(&gitlab.uri()), clock).await;
    project.pushed("v2.4.0");
    project.answer_with(502);
    t.ok("ops", "/deploy portal-manual ref:v2.4.0").await;
    wait_audit(&t, "DEP-1", "trigger.unanswered").await;

    // Act: the lease ends
    t.advance(TimeDelta::minutes(3)).await;

    // Assert: the job is seen played, and not played again
    t.record("DEP-1").wait_state("triggered").await;
    let plays = gitlab
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method == wiremock::http::Method::POST && r.url.path().ends_with("/play"))
        .count();
    assert_eq!(plays, 1);
    assert_eq!(
        audit(&t, "DEP-1").await,
        [
            "requested",
            "trigger.queued",
            "trigger.call",
            "trigger.unanswered",
            "trigger.check",
            "trigger.started"
        ]
    );
}

#[tokio::test]
async fn an_unanswered_gitlab_call_is_found_among_its_pipelines_and_not_repeated() {
    // Arrange: GitLab creates the pipeline but answers 502
    let (t, project, _gitlab) = spawn_gitlab().await;
    project.answer_with(502);
    t.ok("ops", "/deploy portal-staging ref:v2.4.0").await;
    wait_audit(&t, "DEP-1", "trigger.unanswered").await;

    // Act: the lease ends
    t.advance(TimeDelta::minutes(3)).await;

    // Assert
    t.record("DEP-1").wait_state("triggered").await;
    assert_eq!(project.pipelines().len(), 1, "created exactly once");
    assert_eq!(
        audit(&t, "DEP-1").await,
        [
            "requested",
            "trigger.queued",
            "trigger.call",
            "trigger.unanswered",
            "trigger.check",
            "trigger.started"
        ]
    );
}

#[tokio::test]
async fn a_failed_gitlab_pipeline_is_retried_once_through_a_rerun_request() {
    // Arrange: a pipeline shipmate triggered, reported failed by GitLab's webhook
    let (t, project, _gitlab) = spawn_gitlab().await;
    t.ok("ops", "/deploy portal-staging ref:v2.4.0").await;
    t.record("DEP-1").wait_state("triggered").await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gitlab/pipeline.success.docs.json"
    );
    let mut hook: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    hook["object_attributes"]["id"] = json!(1061);
    hook["object_attributes"]["ref"] = json!("v2.4.0");
    hook["object_attributes"]["status"] = json!("failed");
    hook["project"]["path_with_namespace"] = json!("acme/portal");
    let response = reqwest::Client::new()
        .post(t.url("/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Pipeline Hook")
        .header("x-gitlab-token", "gl-hook-token")
        .body(serde_json::to_vec(&hook).expect("JSON"))
        .send()
        .await
        .expect("webhook");
    assert_eq!(response.status().as_u16(), 200);
    assert!(card(&t, "DEP-1").await.contains("❌ staging"));

    // Act
    let filed = t.ok("ops", "/pipeline rerun 1061 failed-only").await;

    // Assert: (no buttons outside production)
    let buttons = t
        .messages("#deploys")
        .await
        .iter()
        .map(|m| m.buttons.len())
        .sum::<usize>();
    assert_eq!(
        buttons, 0,
        "Re-run and Roll back are offered on production failures"
    );
    assert!(
        filed.starts_with(
            "Filed DEP-2: re-run the failed jobs of run 1061 → portal-staging (staging)."
        ),
        "{filed}"
    );
    t.record("DEP-2").wait_state("triggered").await;
    t.advance(TimeDelta::minutes(10)).await;
    assert_eq!(project.pipelines()[0].retries, 1, "retried exactly once");
    assert!(
        card(&t, "DEP-2")
            .await
            .contains("Runs: GitLab retry of the failed jobs of pipeline 1061 in acme/portal"),
    );
}

#[test]
fn the_aws_mocks_signature_check_reproduces_awss_documented_example() {
    // the GET ListUsers example of AWS's Signature Version 4 documentation
    let headers = std::collections::BTreeMap::from([
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("host".to_string(), "iam.amazonaws.com".to_string()),
        ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
    ]);
    let request = common::aws::Canonical {
        method: "GET",
        uri: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: &headers,
        body: b"",
    };
    let signature = common::aws::signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &request,
        "20150830T123600Z",
        ("20150830", "us-east-1", "iam"),
    );
    assert_eq!(
        signature,
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

/// A production target on AWS CodePipeline that needs no approval.
fn aws_config(endpoint: &str, secret: &str) -> String {
    format!(
        r#"
[roles]
devops = ["console:ops"]

[aws]
region = "{region}"
access_key_id = "{key}"
secret_access_key = "{secret}"
endpoint_url = "{endpoint}"

[webhooks.aws]
token = "aws-token"

[[pipelines.routes]]
source = "aws"
pipeline = "portal-deploy"
environment = "staging"
channels = ["console:#deploys"]

[[deploy.targets]]
name = "portal-aws"
environment = "staging"
provider = "aws"
pipeline = "portal-deploy"
stage = "Deploy"
source_action = "Source"
approvals = 0

[[deploy.targets]]
name = "portal-latest"
environment = "staging"
provider = "aws"
pipeline = "portal-deploy"
approvals = 0

[[deploy.targets]]
name = "portal-gone"
environment = "staging"
provider = "aws"
pipeline = "no-such-pipeline"
approvals = 0
"#,
        region = common::aws::REGION,
        key = common::aws::ACCESS_KEY_ID,
    )
}

async fn spawn_aws(secret: &str) -> (TestApp, CodePipeline, wiremock::MockServer) {
    let clock = Arc::new(ManualClock::new(start()));
    let aws = CodePipeline::new(clock.clone());
    let server = aws.start().await;
    let t = spawn_app_on(&aws_config(&server.uri(), secret), clock).await;
    (t, aws, server)
}

#[tokio::test]
async fn an_aws_execution_is_started_once_with_a_signature_aws_accepts_even_after_a_lost_answer() {
    // Arrange: the first answer is lost
    let (t, aws, server) = spawn_aws(common::aws::SECRET_ACCESS_KEY).await;
    aws.answer_with(500);

    // Act
    let filed = t.ok("ops", "/deploy portal-aws ref:v2.4.0").await;
    wait_audit(&t, "DEP-1", "trigger.unanswered").await;
    t.advance(TimeDelta::minutes(3)).await;
    t.ok("ops", "/deploy portal-gone ref:v2.4.0").await;

    // Assert: a tag is no commit: the latest revisions start, and it says so
    assert!(
        filed.ends_with("\nCodePipeline starts the latest revisions of its sources: `v2.4.0` is recorded, not passed (give a whole commit id to start that commit)."),
        "{filed}"
    );
    // two signed calls with the same token, one execution
    t.record("DEP-1").wait_state("triggered").await;
    assert_eq!(
        aws.executions(),
        [(
            "shipmate-DEP-1".to_string(),
            "a1b2c3d4-5678-90ab-cdef-000000000001".to_string()
        )]
    );
    let calls = server.received_requests().await.expect("recorded");
    assert!(calls.len() >= 2, "{}", calls.len());
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains("Run a1b2c3d4-5678-90ab-cdef-000000000001"),
        "{card}"
    );
    t.record("DEP-2").wait_state("refused").await;
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "⛔ DEP-2 portal-gone `v2.4.0` was not triggered: AWS answered HTTP 400: PipelineNotFoundException: Account '123456789012' does not have a pipeline with name 'no-such-pipeline'"),
        "{posted:#?}"
    );
}

#[tokio::test]
async fn a_wrong_aws_secret_is_refused_by_the_signature_check_and_reported() {
    // Arrange
    let (t, aws, _server) = spawn_aws("not-the-secret").await;

    // Act
    t.ok("ops", "/deploy portal-aws ref:v2.4.0").await;

    // Assert
    t.record("DEP-1").wait_state("refused").await;
    assert!(aws.executions().is_empty());
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "⛔ DEP-1 portal-aws `v2.4.0` was not triggered: AWS answered HTTP 403: InvalidSignatureException: The request signature we calculated does not match the signature you provided."),
        "{posted:#?}"
    );
}

/// A Jenkins-like receiver of shipmate's signed webhook: it checks the
/// signature and the timestamp as the README tells receivers to, and starts
/// one run per `Idempotency-Key`, answering a repeat with that run.
#[derive(Clone, Default)]
struct Receiver {
    runs: Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    lose_next_answer: Arc<std::sync::atomic::AtomicBool>,
    clock: Option<Arc<ManualClock>>,
}

impl wiremock::Respond for Receiver {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let Ok(timestamp) = header("x-shipmate-timestamp").parse::<i64>() else {
            return wiremock::ResponseTemplate::new(401)
                .set_body_json(json!({"message": "no timestamp"}));
        };
        let now = self.clock.as_ref().expect("a clock").now().timestamp();
        let expected =
            shipmate::ci::trigger::generic::signature(RECEIVER_SECRET, timestamp, &request.body);
        if (now - timestamp).abs() > 300 || header("x-shipmate-signature") != expected {
            return wiremock::ResponseTemplate::new(401)
                .set_body_json(json!({"message": "bad signature"}));
        }
        let key = header("idempotency-key");
        let mut runs = self.runs.lock().unwrap();
        let n = match runs.iter().position(|(k, _)| *k == key) {
            Some(i) => i + 1,
            None => {
                let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON");
                runs.push((key, body));
                runs.len()
            }
        };
        if self
            .lose_next_answer
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return wiremock::ResponseTemplate::new(503);
        }
        wiremock::ResponseTemplate::new(201).set_body_json(json!({
            "run_id": 700 + n,
            "url": format!("https://jenkins.example.com/job/portal/{}", 700 + n),
        }))
    }
}

const RECEIVER_SECRET: &str = "receiver-secret-0123456789";

#[tokio::test]
async fn a_generic_webhook_is_signed_and_posted_once_under_its_idempotency_key() {
    // Arrange: the receiver's first answer is lost
    let (t, receiver, server) = spawn_generic().await;
    receiver
        .lose_next_answer
        .store(true, std::sync::atomic::Ordering::SeqCst);

    // Act
    t.ok("ops", "/deploy legacy ref:v2.4.0 reason:\"nightly\"")
        .await;
    wait_audit(&t, "DEP-1", "trigger.unanswered").await;
    t.advance(TimeDelta::minutes(3)).await;

    // Assert: two posts, one run
    t.record("DEP-1").wait_state("triggered").await;
    let runs = receiver.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1, "one run per idempotency key");
    assert_eq!(runs[0].0, "shipmate-DEP-1");
    assert_eq!(
        runs[0].1,
        json!({"request": "DEP-1", "kind": "deploy", "target": "legacy", "environment": "staging",
               "ref": "v2.4.0", "commit": null, "reason": "nightly", "requested_by": "console:ops", "rolls_back_to": null, "rerun": null})
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains("Run 701 · https://jenkins.example.com/job/portal/701"),
        "{card}"
    );
}

/// A generic target whose runs report as `portal-jenkins`, and its receiver.
async fn spawn_generic() -> (TestApp, Receiver, wiremock::MockServer) {
    let clock = Arc::new(ManualClock::new(start()));
    let receiver = Receiver {
        clock: Some(clock.clone()),
        ..Receiver::default()
    };
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/shipmate"))
        .respond_with(receiver.clone())
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[roles]
devops = ["console:ops"]

[webhooks.generic]
token = "generic-token"

[[pipelines.routes]]
source = "generic"
pipeline = "portal-jenkins"
environment = "staging"
channels = ["console:#deploys"]

[[deploy.targets]]
name = "legacy"
environment = "staging"
provider = "generic"
url = "{}/shipmate"
secret = "{RECEIVER_SECRET}"
pipeline = "portal-jenkins"
approvals = 0
"#,
        server.uri()
    );
    let t = spawn_app_on(&toml, clock).await;
    (t, receiver, server)
}

/// The receiver reports run `run` of portal-jenkins in staging.
async fn jenkins_run(t: &TestApp, run: u64, status: &str, branch: &str, commit: &str, at: &str) {
    let event = json!({
        "id": format!("jenkins-{run}-{status}"), "pipeline": "portal-jenkins",
        "run_id": run.to_string(), "number": run, "status": status,
        "environment": "staging", "branch": branch, "commit": commit, "timestamp": at,
    });
    let response = reqwest::Client::new()
        .post(t.url("/webhooks/generic"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer generic-token")
        .body(event.to_string())
        .send()
        .await
        .expect("webhook");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_generic_target_rolls_back_to_its_last_good_run_and_re_runs_a_failed_one() {
    // Arrange: a good run of v2.3.0, then a failed one of v2.4.0
    let (t, receiver, _server) = spawn_generic().await;
    jenkins_run(
        &t,
        41,
        "succeeded",
        "v2.3.0",
        GOOD_COMMIT,
        "2026-11-30T05:00:00Z",
    )
    .await;
    jenkins_run(
        &t,
        42,
        "failed",
        "v2.4.0",
        BAD_COMMIT,
        "2026-12-01T04:00:00Z",
    )
    .await;

    // Act
    let rollback = t.ok("ops", "/rollback legacy reason:broken").await;
    t.record("DEP-1").wait_state("triggered").await;
    let rerun = t
        .ok(
            "ops",
            "/pipeline rerun 42 failed-only reason:\"flaky runner\"",
        )
        .await;
    t.record("DEP-2").wait_state("triggered").await;

    // Assert: the receiver is told what to go back to, and what to re-run
    assert!(
        rollback.starts_with(
            "Filed DEP-1: roll back to `v2.3.0` → legacy (staging), from run #41 (41)."
        ),
        "{rollback}"
    );
    assert!(
        rerun.starts_with("Filed DEP-2: re-run the failed jobs of run 42 → legacy (staging)."),
        "{rerun}"
    );
    let runs = receiver.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 2);
    let (back, again) = (&runs[0].1, &runs[1].1);
    assert_eq!(
        (
            back["kind"].clone(),
            back["ref"].clone(),
            back["commit"].clone()
        ),
        (json!("rollback"), json!("v2.3.0"), json!(GOOD_COMMIT))
    );
    assert_eq!(back["rolls_back_to"], json!("run #41 (41)"));
    assert_eq!(again["kind"], json!("rerun"));
    assert_eq!(again["rerun"], json!({"run_id": "42", "failed_only": true}));
    assert_eq!(again["reason"], json!("flaky runner"));
    let card = card(&t, "DEP-2").await;
    assert!(
        card.contains("asking to re-run the failed jobs of run 42"),
        "{card}"
    );
}

#[tokio::test]
async fn a_request_approved_after_a_freeze_began_is_not_triggered() {
    // Arrange: filed before the freeze
    let (t, actions, _github) = spawn(INPUTS, false).await;
    t.ok("ops", "/deploy portal-prod ref:v2.4.0").await;
    t.ok(
        "rm",
        "/freeze start portal-prod until:3d reason:\"post-release freeze\"",
    )
    .await;

    // Act
    t.ok("ann", "/deploy approve DEP-1").await;
    t.ok("rm", "/deploy approve DEP-1").await;

    // Assert
    t.record("DEP-1").wait_state("refused").await;
    assert_eq!(actions.dispatched(), 0);
    let posted = t.posted("#bioinfo").await;
    assert!(
        posted.iter().any(|m| m
            == "⛔ DEP-1 portal-prod `v2.4.0` was not triggered: `portal-prod` is in a code freeze until 2026-12-04 10:00 IST (post-release freeze). File it again when that allows, or an admin may file it with override:\"why\""),
        "{posted:#?}"
    );
    assert!(
        audit(&t, "DEP-1")
            .await
            .contains(&"trigger.blocked".to_string())
    );
}

#[tokio::test]
async fn a_failed_aws_stage_is_retried_once_through_a_rerun_request() {
    // Arrange: an execution AWS reports failed in its Deploy stage
    let (t, aws, _server) = spawn_aws(common::aws::SECRET_ACCESS_KEY).await;
    let execution = "12345678-1234-5678-abcd-12345678abcd";
    aws.fail_stage(execution, "Deploy");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws/codepipeline.pipeline-execution.started.json"
    );
    let mut event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    event["detail"]["pipeline"] = json!("portal-deploy");
    event["detail"]["state"] = json!("FAILED");
    post_aws(&t, &event).await;

    // Act
    let filed = t
        .ok("ops", &format!("/pipeline rerun {execution} failed-only"))
        .await;

    // Assert
    assert!(
        filed.starts_with(&format!(
            "Filed DEP-1: re-run the failed jobs of run {execution} → portal-aws (staging)."
        )),
        "{filed}"
    );
    t.record("DEP-1").wait_state("triggered").await;
    t.advance(TimeDelta::minutes(10)).await;
    assert_eq!(
        aws.retries.lock().unwrap().clone(),
        [(
            execution.to_string(),
            "Deploy".to_string(),
            "FAILED_ACTIONS".to_string()
        )]
    );
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains(&format!(
            "Runs: AWS CodePipeline retry of the failed actions of stage Deploy of portal-deploy in execution {execution}"
        )),
        "{card}"
    );
}

/// CodePipeline tells of execution `id` of portal-deploy reaching `state`
/// at `time`, started from `commit` on main (a CodeStar notification).
async fn execution(t: &TestApp, id: &str, state: &str, time: &str, commit: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws/codepipeline.pipeline-execution.succeeded.notification.json"
    );
    let mut event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    event["time"] = json!(time);
    event["detail"]["pipeline"] = json!("portal-deploy");
    event["detail"]["execution-id"] = json!(id);
    event["detail"]["state"] = json!(state);
    event["additionalAttributes"] = json!({"sourceActions": [{
        "sourceActionName": "Source",
        "sourceActionProvider": "CodeStarSourceConnection",
        "sourceActionVariables": {
            "BranchName": "main",
            "CommitId": commit,
            "RepositoryName": "acme/portal"
        }
    }]});
    post_aws(t, &event).await;
}

/// Posts `event` to `/webhooks/aws` with the token; AWS is answered 200.
async fn post_aws(t: &TestApp, event: &serde_json::Value) {
    let response = reqwest::Client::new()
        .post(t.url("/webhooks/aws"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer aws-token")
        .body(serde_json::to_vec(event).expect("JSON"))
        .send()
        .await
        .expect("webhook");
    assert_eq!(response.status().as_u16(), 200);
}

const GOOD_COMMIT: &str = "9f2c1e0b7a6d5c4b3a29180f7e6d5c4b3a291807";
const BAD_COMMIT: &str = "1234567890abcdef1234567890abcdef12345678";

#[tokio::test]
async fn an_aws_rollback_starts_the_commit_of_the_previous_successful_execution() {
    // Arrange: a good execution of one commit, then a failed one of the next
    let (t, aws, _server) = spawn_aws(common::aws::SECRET_ACCESS_KEY).await;
    let good = "11111111-2222-3333-4444-555555555555";
    execution(&t, good, "SUCCEEDED", "2026-11-30T05:00:00Z", GOOD_COMMIT).await;
    let bad = "66666666-7777-8888-9999-000000000000";
    execution(&t, bad, "FAILED", "2026-12-01T04:00:00Z", BAD_COMMIT).await;

    // Act
    let filed = t
        .ok("ops", "/rollback portal-aws reason:\"checkout broke\"")
        .await;

    // Assert: the earlier commit is started in the source action, once
    assert!(
        filed.starts_with(&format!(
            "Filed DEP-1: roll back to `main` → portal-aws (staging), from run {good}."
        )),
        "{filed}"
    );
    t.record("DEP-1").wait_state("triggered").await;
    let revisions = aws.revisions.lock().unwrap().clone();
    assert_eq!(
        revisions,
        [(
            "a1b2c3d4-5678-90ab-cdef-000000000001".to_string(),
            json!([{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": GOOD_COMMIT}])
        )]
    );
    let card = card(&t, "DEP-1").await;
    assert!(
        card.contains(&format!(
            "Runs: AWS CodePipeline `portal-deploy` (a new execution of commit `{GOOD_COMMIT}` in source action Source"
        )),
        "{card}"
    );
}

#[tokio::test]
async fn aws_deploys_name_a_commit_only_where_codepipeline_can_start_one() {
    // Arrange: one target names its source action, the other does not
    let (t, aws, _server) = spawn_aws(common::aws::SECRET_ACCESS_KEY).await;
    execution(&t, "e-1", "SUCCEEDED", "2026-11-30T05:00:00Z", GOOD_COMMIT).await;
    execution(&t, "e-2", "FAILED", "2026-12-01T04:00:00Z", BAD_COMMIT).await;

    // Act: a rollback and a commit where only the latest revisions can start
    let rollback = t
        .refused("ops", "/rollback portal-latest reason:broken")
        .await;
    let commit = t
        .refused("ops", &format!("/deploy portal-latest ref:{GOOD_COMMIT}"))
        .await;
    // a tag cannot be a source revision: the tag of a rollback is refused too
    let tag = t
        .refused("ops", "/rollback portal-aws to:v2.3.0 reason:broken")
        .await;
    // and a commit named where it can be is started
    t.ok("ops", &format!("/deploy portal-aws ref:{GOOD_COMMIT}"))
        .await;

    // Assert
    assert_eq!(
        rollback,
        "`portal-latest` starts its sources' latest revisions, so it cannot go to `main`: an admin can name its CodePipeline source action (source_action = \"Source\" in its [[deploy.targets]]) so a commit can be started"
    );
    assert!(
        commit.starts_with(
            "`portal-latest` starts its sources' latest revisions, so it cannot go to `9f2c1e0b"
        ),
        "{commit}"
    );
    assert_eq!(
        tag,
        "`v2.3.0` names no commit, and CodePipeline starts a source revision by its commit id: roll back with to:<run> (a run that recorded its commit) or to:<commit id>"
    );
    t.record("DEP-1").wait_state("triggered").await;
    let revisions = aws.revisions.lock().unwrap().clone();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].1[0]["revisionValue"], json!(GOOD_COMMIT));
    let filed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deploy_requests")
        .fetch_one(&t.app.db.pool)
        .await
        .expect("count");
    assert_eq!(filed, 1, "the refusals filed nothing");
}

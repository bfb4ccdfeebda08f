//! The whole application, in-process, on a random port with a temp database:
//! deletion requests walked the way a user would, the scheduler and outbox
//! doing their part, and the guarantees (one transaction per command,
//! append-only audit) checked against the real database.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use common::{spawn_app, spawn_app_at, spawn_app_with_clock};
use shipmate::domain::timing::ManualClock;
use shipmate::{scheduler, store};

/// Monday 2026-11-02, 10:00 IST: the manual clock's start.
fn monday() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 4, 30, 0).unwrap()
}

#[tokio::test]
async fn a_request_walks_from_create_to_done_through_its_cooling_off() {
    // Arrange: a manual clock; cooling-off (low) is a day
    let t = spawn_app_at(&[], monday()).await;

    // Act: alice files, a steward approves
    let filed = t
        .ok(
            "alice",
            "/delete-request city-b/run-42 reason:duplicate-run pipeline ran twice",
        )
        .await;
    assert!(filed.contains("Filed DR-1"), "{filed}");
    assert!(
        t.wait_console("deletion requested by @alice", 1, Duration::from_secs(3))
            .await,
        "card posted"
    );
    let approved = t.ok("steward", "/delete-request approve DR-1").await;
    assert!(approved.contains("cooling-off until"), "{approved}");
    let early = t.refused("ops", "/delete-request done DR-1").await;
    assert!(
        early.contains("cooling-off period has not ended"),
        "{early}"
    );

    // Assert: a day later the scheduler makes it ready, announced with the requester mentioned
    t.advance(TimeDelta::days(1)).await;
    assert!(
        t.wait_console(
            "is ready: cooling-off has ended. Requested by @alice",
            1,
            Duration::from_secs(5)
        )
        .await
    );
    let done = t
        .ok("ops", "/delete-request done DR-1 note:\"rm -r run-42\"")
        .await;
    assert!(done.contains("is now done"), "{done}");
    assert!(
        t.wait_console(
            "deleted; recorded by @ops. Note: rm -r run-42",
            1,
            Duration::from_secs(3)
        )
        .await
    );

    let shown = t.ok("alice", "/delete-request show DR-1").await;
    for action in ["created", "approve", "ready", "done"] {
        assert!(
            shown.contains(&format!("  {action}")),
            "history lacks {action}: {shown}"
        );
    }
    let listed = t.ok("alice", "/delete-request list state:done").await;
    assert!(listed.contains("DR-1 · done"), "{listed}");
    assert_eq!(t.console_count("is ready"), 1);
}

#[tokio::test]
async fn an_objection_stops_the_clock_and_resolve_restarts_the_full_period() {
    let t = spawn_app_at(&[], monday()).await;
    t.ok(
        "alice",
        "/delete-request city-b/run-7 reason:incorrect-input wrong sample sheet",
    )
    .await;
    t.ok("steward", "/delete-request approve DR-1").await;

    let held = t
        .ok(
            "bob",
            "/delete-request object DR-1 reason:\"run-7 is still used\"",
        )
        .await;
    assert!(held.contains("on-hold"), "{held}");
    assert!(
        t.wait_console(
            "bob objected: run-7 is still used",
            1,
            Duration::from_secs(3)
        )
        .await
    );

    // the old expiry passes and nothing happens
    t.advance(TimeDelta::hours(30)).await;
    t.record("DR-1").expect_state("on-hold").await;
    assert_eq!(t.console_count("is ready"), 0, "the clock must be stopped");
    let refused = t.refused("bob", "/delete-request resolve DR-1").await;
    assert!(refused.contains("data-steward"), "{refused}");

    let resolved = t.ok("steward", "/delete-request resolve DR-1").await;
    assert!(resolved.contains("cooling-off until"), "{resolved}");
    assert!(
        t.wait_console("full cooling-off restarts", 1, Duration::from_secs(3))
            .await
    );
    // a full day from the resolve, not what was left before the objection
    t.advance(TimeDelta::hours(23)).await;
    t.record("DR-1").expect_state("cooling-off").await;
    t.advance(TimeDelta::hours(1)).await;
    assert!(
        t.wait_console("is ready", 1, Duration::from_secs(5)).await,
        "ready after the full period"
    );
    t.advance(TimeDelta::days(2)).await;
    t.record("DR-1").expect_state("ready").await;
    assert!(
        !t.wait_console("is ready", 2, Duration::from_millis(300))
            .await
    );
    assert_eq!(t.console_count("is ready"), 1, "announced exactly once");
}

#[tokio::test]
async fn refused_commands_change_nothing() {
    let t = spawn_app(&[]).await;
    t.ok(
        "alice",
        "/delete-request city-a/run-1 reason:other justification:\"wrong tenant\"",
    )
    .await;
    let before = t.snapshot().await;

    for (user, text, expect) in [
        (
            "alice",
            "/delete-request approve DR-1",
            "you filed this request",
        ),
        ("bob", "/delete-request approve DR-1", "data-steward"),
        ("ops", "/delete-request done DR-1", "still needs approval"),
        (
            "alice",
            "/delete-request approve DR-9",
            "DR-9 does not exist",
        ),
        (
            "alice",
            "/delete-request city-b/x justification",
            "missing `reason`",
        ),
        (
            "alice",
            "/delete-request x reason:other y stakeholders:slack:",
            "not a valid",
        ),
        ("alice", "/delete-request object DR-1", "missing `reason`"),
        ("bob", "/role grant qa console:bob", "only `admin`"),
        ("bob", "/delete-request cancel DR-1", "only the requester"),
        ("alice", "/nonsense", "unknown command"),
    ] {
        let why = t.refused(user, text).await;
        assert!(why.contains(expect), "{text}: expected `{expect}` in {why}");
    }
    // protected target: a steward's approval alone is not enough
    t.ok("steward", "/delete-request approve DR-1").await;
    let before_second = t.snapshot().await;
    assert_ne!(before, before_second);
    let why = t.refused("sam", "/delete-request approve DR-1").await;
    assert!(why.contains("data-steward"), "{why}");
    assert_eq!(
        before_second,
        t.snapshot().await,
        "a refused command changed the database"
    );
}

#[tokio::test]
async fn a_failure_midway_rolls_back_every_write_of_the_command() {
    let t = spawn_app(&[]).await;
    // make the outbox insert (the last write of `create`) fail
    sqlx::query("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
        .execute(&t.app.db.pool)
        .await
        .unwrap();
    let reply = t
        .cmd("alice", "/delete-request city-b/run-1 reason:other oops")
        .await;
    let text = reply.message.plain(t.app.config.tz);
    assert!(text.contains("internal error (ref"), "{text}");
    assert!(
        !text.contains("disk on fire"),
        "internal details stay in the log"
    );
    let requests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deletion_requests")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    let audits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        (requests, audits),
        (0, 0),
        "the request and its audit row were rolled back"
    );
}

#[tokio::test]
async fn the_audit_log_cannot_be_updated_or_deleted() {
    let t = spawn_app(&[]).await;
    t.ok(
        "alice",
        "/delete-request city-b/run-1 reason:other justification:x",
    )
    .await;
    let update = sqlx::query("UPDATE audit_log SET actor = 'mallory'")
        .execute(&t.app.db.pool)
        .await;
    let err = update.expect_err("UPDATE must fail").to_string();
    assert!(err.contains("append-only"), "{err}");
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(&t.app.db.pool)
        .await;
    assert!(
        delete
            .expect_err("DELETE must fail")
            .to_string()
            .contains("append-only")
    );
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit_log")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(actor, "console:alice");
}

#[tokio::test]
async fn protected_targets_need_product_and_the_same_person_counts_once() {
    let t = spawn_app(&[
        ("SHIPMATE__PEOPLE__SAM__CONSOLE", "sam"),
        ("SHIPMATE__PEOPLE__SAM__SLACK", "U0SAM"),
        ("SHIPMATE__DELETION__APPROVALS_REQUIRED", "2"),
    ])
    .await;
    t.ok("admin", "/role grant data-steward console:sam").await;
    t.ok("admin", "/role grant data-steward console:sue").await;
    let filed = t
        .ok(
            "alice",
            "/delete-request city-a/run-3 reason:duplicate-run twice sensitivity:high",
        )
        .await;
    assert!(
        filed.contains("2 data-steward approvals and 1 product approval"),
        "{filed}"
    );
    t.ok("sam", "/delete-request approve DR-1").await;
    // sam again, as his Slack identity
    let inv = shipmate::app::Invocation::new(
        "slack:U0SAM".parse().unwrap(),
        "console:#bioinfo".parse().unwrap(),
        "/delete-request approve DR-1",
    );
    let again = t.app.dispatch(&inv).await;
    assert!(
        again
            .message
            .plain(t.app.config.tz)
            .contains("already approved")
    );
    t.ok("sue", "/delete-request approve DR-1").await;
    let waiting = t.ok("alice", "/delete-request show DR-1").await;
    assert!(waiting.contains("pending-approval"), "{waiting}");
    let last = t.ok("pm", "/delete-request approve DR-1").await;
    assert!(last.contains("cooling-off until"), "{last}");
}

#[tokio::test]
async fn roles_are_granted_listed_and_revoked_by_admins_with_an_audit_trail() {
    let t = spawn_app(&[]).await;
    let granted = t.ok("admin", "/role grant devops @bob").await;
    assert!(granted.contains("Granted `devops` to @bob"), "{granted}");
    assert!(
        t.refused("admin", "/role grant devops @bob")
            .await
            .contains("already holds")
    );
    let list = t.ok("bob", "/role list").await;
    assert!(
        list.contains("devops: console:ops (config), console:bob (granted)"),
        "{list}"
    );
    assert!(
        t.refused("admin", "/role revoke devops console:ops")
            .await
            .contains("config file")
    );
    t.ok(
        "alice",
        "/delete-request city-b/run-1 reason:other justification:x",
    )
    .await;
    t.ok("admin", "/role revoke devops console:bob").await;
    let why = t.refused("bob", "/delete-request done DR-1").await;
    assert!(why.contains("only `devops` members"), "{why}");
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE record = 'role:devops' ORDER BY id",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        vec![
            ("grant".into(), "console:bob".into()),
            ("revoke".into(), "console:bob".into())
        ]
    );
}

#[tokio::test]
async fn help_lists_every_command_and_explains_one() {
    let t = spawn_app(&[]).await;
    let all = t.ok("alice", "/help").await;
    assert!(
        all.contains("/delete-request") && all.contains("/role"),
        "{all}"
    );
    let one = t.ok("alice", "/help delete-request").await;
    assert!(
        one.contains("/delete-request object <DR-n> reason:…"),
        "{one}"
    );
    let sub = t.ok("alice", "/help sms balance").await;
    assert!(sub.contains("/sms balance <credits>"), "{sub}");
    assert!(!sub.contains("/sms status"), "one subcommand only: {sub}");
    let wrong = t.refused("alice", "/help sms nope").await;
    assert!(
        wrong.contains("its subcommands are balance, status"),
        "{wrong}"
    );
    // nothing found is an answer, the same for status and history
    let none = t.ok("alice", "/pipeline history nope").await;
    assert!(none.contains("No runs of `nope`"), "{none}");
    t.ok("alice", "/pipeline status env:nope").await;
}

#[tokio::test]
async fn health_and_metrics_answer_over_http() {
    let t = spawn_app(&[]).await;
    t.ok(
        "alice",
        "/delete-request city-b/run-1 reason:other justification:x",
    )
    .await;
    let health = reqwest::get(t.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(t.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("shipmate_commands_total{command=\"delete-request\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shipmate_command_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("shipmate_outbox_depth"), "{metrics}");
    let big = reqwest::Client::new()
        .post(t.url("/healthz"))
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
}

#[tokio::test]
async fn failing_jobs_are_retried_with_backoff_then_given_up() {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let t =
        spawn_app_with_clock(&[("SHIPMATE__SCHEDULER__MAX_ATTEMPTS", "3")], clock.clone()).await;
    let mut conn = t.app.db.pool.acquire().await.unwrap();
    let job = store::jobs::NewJob {
        kind: "no.such.kind".into(),
        payload: "{}".into(),
        due_at: start,
        cron: None,
        dedup_key: None,
    };
    let id = store::jobs::schedule(&mut conn, &job, start)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    scheduler::run_due(&t.app).await.unwrap();
    let (st, attempts, due) = job_state(&t, id).await;
    assert_eq!((st.as_str(), attempts), ("pending", 1));
    assert_eq!(
        store::from_ms(due),
        start + TimeDelta::seconds(5),
        "first retry after retry_base"
    );
    clock.advance(TimeDelta::seconds(5));
    scheduler::run_due(&t.app).await.unwrap();
    let (_, attempts, due) = job_state(&t, id).await;
    assert_eq!(attempts, 2);
    assert_eq!(
        store::from_ms(due),
        start + TimeDelta::seconds(15),
        "backoff doubles"
    );
    clock.advance(TimeDelta::seconds(10));
    scheduler::run_due(&t.app).await.unwrap();
    let (st, attempts, _) = job_state(&t, id).await;
    assert_eq!((st.as_str(), attempts), ("failed", 3));
}

#[tokio::test]
async fn recurring_jobs_fire_on_their_cron_and_remind_devops_of_ready_requests() {
    let t = spawn_app_at(
        &[
            ("SHIPMATE__DELETION__COOLING_OFF__LOW", "1s"),
            ("SHIPMATE__DELETION__READY_REMINDER_CRON", "*/2 * * * * *"),
        ],
        monday(),
    )
    .await;
    t.ok(
        "alice",
        "/delete-request city-b/run-5 reason:other justification:x",
    )
    .await;
    t.ok("steward", "/delete-request approve DR-1").await;
    // two occurrences of the cron pass on the manual clock
    t.advance(TimeDelta::seconds(2)).await;
    t.advance(TimeDelta::seconds(2)).await;
    assert!(
        t.wait_console(
            "1 deletion request ready and waiting for @devops",
            2,
            Duration::from_secs(8)
        )
        .await
    );
    t.ok("ops", "/delete-request done DR-1").await;
    let seen = t.console_count("ready and waiting");
    t.advance(TimeDelta::seconds(2)).await;
    t.advance(TimeDelta::seconds(2)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        t.console_count("ready and waiting"),
        seen,
        "no reminder once nothing is ready"
    );
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deletion.ready_reminder' AND state = 'pending'",
    )
    .fetch_one(&t.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        pending, 1,
        "one recurring row, moved to its next occurrence"
    );
}

async fn job_state(t: &common::TestApp, id: i64) -> (String, i64, i64) {
    sqlx::query_as("SELECT state, attempts, due_at FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn commands_that_arrive_together_run_in_order_in_one_transaction_and_a_refused_one_leaves_nothing()
 {
    let t = Arc::new(spawn_app(&[]).await);
    // Hold the writer so the commands below queue up and run as one group.
    let writer = t.app.db.lock().await;
    let mut running = Vec::new();
    for (user, text) in [
        ("admin", "/role grant data-steward @bob"),
        (
            "alice",
            "/delete-request city-b/run-1 reason:other justification:x",
        ),
        ("alice", "/delete-request approve DR-1"),
        ("bob", "/delete-request approve DR-1"),
        ("carol", "/delete-request approve DR-7"),
        ("carol", "/delete-request show DR-1"),
        ("carol", "/delete-request list"),
    ] {
        let t = t.clone();
        running.push(tokio::spawn(async move { t.cmd(user, text).await }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(writer);
    let mut replies = Vec::new();
    for r in running {
        let reply = r.await.expect("command task");
        replies.push((reply.status, reply.message.plain(t.app.config.tz)));
    }
    use shipmate::app::Status::{Ok as Done, Refused};
    assert_eq!(replies[0].0, Done, "{:?}", replies[0]);
    assert!(replies[1].1.contains("Filed DR-1"), "{:?}", replies[1]);
    assert_eq!(replies[2].0, Refused, "{:?}", replies[2]);
    assert!(
        replies[2].1.contains("you filed this request"),
        "{:?}",
        replies[2]
    );
    // bob's approval sees the grant and the request made earlier in the group
    assert!(
        replies[3].1.contains("cooling-off until"),
        "{:?}",
        replies[3]
    );
    assert!(
        replies[4].1.contains("DR-7 does not exist"),
        "{:?}",
        replies[4]
    );
    // reads later in the group see the writes before them
    let history = &replies[5].1;
    assert!(
        history.contains("cooling-off")
            && history.contains("created")
            && history.contains("approve"),
        "{history}"
    );
    assert!(
        replies[6].1.contains("DR-1 · cooling-off"),
        "{:?}",
        replies[6]
    );
    // the refusals were undone and the rest ran again exactly once
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT record, action FROM audit_log ORDER BY id")
            .fetch_all(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            ("role:data-steward".to_string(), "grant".to_string()),
            ("DR-1".into(), "created".into()),
            ("DR-1".into(), "approve".into()),
        ]
    );
    let state: Vec<String> = sqlx::query_scalar("SELECT state FROM deletion_requests")
        .fetch_all(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(state, ["cooling-off"]);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'deletion.expire'")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "one cooling-off expiry");
}

#[tokio::test]
async fn many_users_at_once_each_get_their_own_request_approved_and_audited_exactly_once() {
    // Commands keep arriving while groups commit, so groups follow each other
    // with the next one's transaction opened by the previous one's commit.
    let t = Arc::new(spawn_app(&[]).await);
    let users = 16;
    let each = 10;
    let mut running = Vec::new();
    for u in 0..users {
        let t = t.clone();
        running.push(tokio::spawn(async move {
            let mut filed = Vec::new();
            for i in 0..each {
                let reply = t
                    .ok(
                        &format!("user{u}"),
                        &format!("/delete-request city-{u}/run-{i} reason:duplicate-run twice"),
                    )
                    .await;
                let id = reply
                    .split_whitespace()
                    .find(|w| w.starts_with("DR-"))
                    .map(|w| w.trim_end_matches([':', '.']).to_string())
                    .expect("the reply names the request");
                let approved = t
                    .ok("steward", &format!("/delete-request approve {id}"))
                    .await;
                assert!(approved.contains("cooling-off until"), "{approved}");
                filed.push(id);
            }
            filed
        }));
    }
    let mut ids = Vec::new();
    for r in running {
        ids.extend(r.await.expect("user task"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), users * each, "every request has its own number");
    let actions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT action, COUNT(DISTINCT record) FROM audit_log GROUP BY action ORDER BY action",
    )
    .fetch_all(&t.app.db.pool)
    .await
    .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [("approve".to_string(), 160), ("created".to_string(), 160)]
    );
    assert_eq!(total, 320, "each command audited once");
    let cooling: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deletion_requests WHERE state = 'cooling-off'")
            .fetch_one(&t.app.db.pool)
            .await
            .unwrap();
    assert_eq!(cooling, 160);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'deletion.expire'")
        .fetch_one(&t.app.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 160, "one cooling-off expiry each");
}

#[tokio::test]
async fn a_misspelled_subcommand_files_nothing_and_says_what_was_meant() {
    // Arrange
    let t = spawn_app(&[]).await;
    t.ok(
        "alice",
        "/delete-request city-a/run-1 reason:other not needed",
    )
    .await;
    let before = t.snapshot().await;

    // Act: `objet` for `object`
    let answer = t
        .refused("bob", "/delete-request objet DR-1 reason:other")
        .await;

    // Assert: no request for a target `objet`, and the usage of `object` alone
    assert!(answer.contains("did you mean `object`?"), "{answer}");
    assert!(
        answer.ends_with("Usage:\n/delete-request object <DR-n> reason:…"),
        "{answer}"
    );
    assert_eq!(t.snapshot().await, before, "nothing changed");
}

//! What people read, snapshotted: `/help`, a deletion card, a release plan,
//! a retro, a pipeline message and a downtime announcement, each as console
//! text, the Slack `chat.postMessage` body and the Discord message body.
//! Time is a manual clock: nothing here waits on the wall clock.

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestApp, spawn_app_at};
use shipmate::app::Message;
use shipmate::domain::Platform;

/// Monday 2026-11-02, 10:00 IST.
fn monday_ten() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 4, 30, 0).unwrap()
}

/// Monday 2026-11-02, 09:00 IST (before the 10:00 ready reminder).
fn monday_nine() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 3, 30, 0).unwrap()
}

/// `message` on the console, on Slack and on Discord, one after another.
fn everywhere(t: &TestApp, message: &Message) -> String {
    [Platform::Console, Platform::Slack, Platform::Discord]
        .into_iter()
        .map(|p| format!("── {p}\n{}", t.rendered(message, p)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn help_lists_every_command_with_its_summary() {
    let t = spawn_app_at(&[], monday_ten()).await;

    let help = t.ok("alice", "/help").await;

    insta::assert_snapshot!(help, @r"
    shipmate commands (`/help <command>` for details):
      /delete-request   File, approve and track data deletion requests
      /release          Run releases and upgrades from runbook templates
      /task             Work through a release's tasks
      /signoff          Sign a release gate (only its owner role, only after what it depends on)
      /freeze           Code-freeze and backport windows
      /pipeline         Show CI/CD pipeline runs
      /downtime         Announce and run planned downtime windows
      /sms              Track SMS credits and forecast when they run out
      /role             Grant, revoke and list roles (admin)
      /version          Version policy: releases, support (n and n-1) and end of service life
      /incident         Partner incidents with response SLAs in business hours
      /subscribers      E-mail subscribers of the status page's notices
      /deploy           Request, approve and follow gated deploys
      /rollback         Request a rollback of a deploy target (a gated deploy request)
      /help             List the commands, or show the usage of one
    ");
}

#[tokio::test]
async fn a_deletion_card_then_its_cooling_off_and_ready_notice() {
    // Arrange
    let t = spawn_app_at(&[], monday_nine()).await;

    // Act: alice files, a steward approves, a day passes
    t.ok(
        "alice",
        "/delete-request city-b/run-42 reason:duplicate-run pipeline ran twice stakeholders:@bob",
    )
    .await;
    let card = t.messages("#bioinfo").await.remove(0);
    t.ok("steward", "/delete-request approve DR-1").await;
    t.record("DR-1").expect_state("cooling-off").await;
    t.advance(TimeDelta::days(1)).await;

    // Assert
    insta::assert_snapshot!(everywhere(&t, &card), @r#"
    ── console
    🗑️ DR-1 `city-b/run-42` deletion requested by @alice
    Reason: duplicate-run · Sensitivity: low (cooling-off 1d)
    Justification: pipeline ran twice
    Stakeholders: @bob
    Needs 1 data-steward approval: @data-steward
      ↳ Approve: /delete-request approve DR-1  |  Object: /delete-request object DR-1 reason:"…"
    ── slack
    {
      "blocks": [
        {
          "text": {
            "text": "🗑️ *DR-1* `city-b/run-42` deletion requested by @alice\nReason: duplicate-run · Sensitivity: low (cooling-off 1d)\nJustification: pipeline ran twice\nStakeholders: @bob\nNeeds 1 data-steward approval: @data-steward",
            "type": "mrkdwn"
          },
          "type": "section"
        },
        {
          "elements": [
            {
              "action_id": "shipmate-0-delete-request-approve-dr-1",
              "text": {
                "emoji": true,
                "text": "Approve",
                "type": "plain_text"
              },
              "type": "button",
              "value": "/delete-request approve DR-1"
            },
            {
              "action_id": "shipmate-1-delete-request-object-dr-1-reason",
              "style": "danger",
              "text": {
                "emoji": true,
                "text": "Object",
                "type": "plain_text"
              },
              "type": "button",
              "value": "/delete-request object DR-1 reason:\"…\""
            }
          ],
          "type": "actions"
        }
      ],
      "channel": "C0",
      "metadata": {
        "event_payload": {
          "outbox_id": 1
        },
        "event_type": "shipmate_outbox"
      },
      "text": "🗑️ *DR-1* `city-b/run-42` deletion requested by @alice\nReason: duplicate-run · Sensitivity: low (cooling-off 1d)\nJustification: pipeline ran twice\nStakeholders: @bob\nNeeds 1 data-steward approval: @data-steward",
      "unfurl_links": false,
      "unfurl_media": false
    }
    ── discord
    {
      "allowed_mentions": {
        "parse": [],
        "replied_user": false,
        "roles": [],
        "users": []
      },
      "components": [
        {
          "components": [
            {
              "custom_id": "/delete-request approve DR-1",
              "label": "Approve",
              "style": 1,
              "type": 2
            },
            {
              "custom_id": "/delete-request object DR-1 reason:\"…\"",
              "label": "Object",
              "style": 4,
              "type": 2
            }
          ],
          "type": 1
        }
      ],
      "content": "",
      "embeds": [
        {
          "color": 5793266,
          "description": "🗑️ **DR-1** `city-b/run-42` deletion requested by @alice\nReason: duplicate-run · Sensitivity: low (cooling-off 1d)\nJustification: pipeline ran twice\nStakeholders: @bob\nNeeds 1 data-steward approval: @data-steward"
        }
      ],
      "enforce_nonce": true,
      "nonce": "1"
    }
    "#);
    t.record("DR-1").expect_state("ready").await;
    let ready = t
        .posted("#bioinfo")
        .await
        .into_iter()
        .find(|m| m.contains("is ready"))
        .expect("the ready notice");
    insta::assert_snapshot!(ready, @r#"
    🟢 DR-1 `city-b/run-42` is ready: cooling-off has ended. Requested by @alice.
    @devops may now delete it and record it with /delete-request done DR-1 note:"…"
    "#);
}

#[tokio::test]
async fn a_release_plan_and_its_retro() {
    let t = spawn_app_at(&[], monday_ten()).await;

    let plan = t
        .cmd(
            "rm",
            "/release start 2026-Q4 template:demo-upgrade t0:2026-11-02",
        )
        .await;
    t.ok(
        "rm",
        "/task done decide-downtime note:\"agreed with City B\"",
    )
    .await;
    t.advance(TimeDelta::days(3)).await;
    t.ok("rm", "/task done backup").await;
    let retro = t.cmd("rm", "/release retro").await;

    insta::assert_snapshot!(everywhere(&t, &plan.message), @r#"
    ── console
    📋 REL-1 `2026-Q4` (demo-upgrade) — T0 Mon 2026-11-02 in console:#bioinfo
      T+0   Mon 2026-11-02 → Fri 2026-11-06 decide-downtime        task    release-manager+partnership pending      Decide the downtime date with the external and internal stakeholders
      T+1   Tue 2026-11-03                  backup                 task    release-manager             pending      Take the backup of the database and images
      T+1   Tue 2026-11-03                  notify-partners        notice  partnership                 pending      E-mail the downtime to everyone who downloaded credentials for the instance
      T+1   Tue 2026-11-03                  website-downtime       task    documentation               pending      Update the website's access page with the downtime
      T+3   Thu 2026-11-05 → Fri 2026-11-06 deploy                 task    release-manager             pending      Deploy the new builds and configurations per the release notes
      T+4   Fri 2026-11-06                  localisation           task    qa                          pending      Load the English and Hindi localisation per the release notes
      T+6   Tue 2026-11-10 → Wed 2026-11-11 testing                task    release-manager+qa          pending      Sanity-test all the applications on City A and City B
      T+8   Thu 2026-11-12 → Fri 2026-11-13 qa                     gate    qa                          pending      QA sign-off: final sanity
      T+12  Wed 2026-11-18 → Mon 2026-11-23 product                gate    product                     pending      Product sign-off: sanity of all modules on City A and City B
      T+13  Thu 2026-11-19                  announce-completion    notice  release-manager             pending      E-mail all stakeholders that the upgrade is complete
      T+13  Thu 2026-11-19                  validate-access        task    release-manager             pending      Validate the access link of the demo environment
      T+13  Thu 2026-11-19                  notify-partners-done   notice  partnership                 pending      E-mail the upgrade completion to everyone who downloaded credentials
      T+13  Thu 2026-11-19                  website-restore        task    documentation               pending      Take the downtime notice off the website
    ── slack
    {
      "blocks": [
        {
          "text": {
            "text": "📋 *REL-1* `2026-Q4` (demo-upgrade) — T0 Mon 2026-11-02 in console:#bioinfo\n  T+0   Mon 2026-11-02 → Fri 2026-11-06 decide-downtime        task    release-manager+partnership pending      Decide the downtime date with the external and internal stakeholders\n  T+1   Tue 2026-11-03                  backup                 task    release-manager             pending      Take the backup of the database and images\n  T+1   Tue 2026-11-03                  notify-partners        notice  partnership                 pending      E-mail the downtime to everyone who downloaded credentials for the instance\n  T+1   Tue 2026-11-03                  website-downtime       task    documentation               pending      Update the website's access page with the downtime\n  T+3   Thu 2026-11-05 → Fri 2026-11-06 deploy                 task    release-manager             pending      Deploy the new builds and configurations per the release notes\n  T+4   Fri 2026-11-06                  localisation           task    qa                          pending      Load the English and Hindi localisation per the release notes\n  T+6   Tue 2026-11-10 → Wed 2026-11-11 testing                task    release-manager+qa          pending      Sanity-test all the applications on City A and City B\n  T+8   Thu 2026-11-12 → Fri 2026-11-13 qa                     gate    qa                          pending      QA sign-off: final sanity\n  T+12  Wed 2026-11-18 → Mon 2026-11-23 product                gate    product                     pending      Product sign-off: sanity of all modules on City A and City B\n  T+13  Thu 2026-11-19                  announce-completion    notice  release-manager             pending      E-mail all stakeholders that the upgrade is complete\n  T+13  Thu 2026-11-19                  validate-access        task    release-manager             pending      Validate the access link of the demo environment\n  T+13  Thu 2026-11-19                  notify-partners-done   notice  partnership                 pending      E-mail the upgrade completion to everyone who downloaded credentials\n  T+13  Thu 2026-11-19                  website-restore        task    documentation               pending      Take the downtime notice off the website",
            "type": "mrkdwn"
          },
          "type": "section"
        }
      ],
      "channel": "C0",
      "metadata": {
        "event_payload": {
          "outbox_id": 1
        },
        "event_type": "shipmate_outbox"
      },
      "text": "📋 *REL-1* `2026-Q4` (demo-upgrade) — T0 Mon 2026-11-02 in console:#bioinfo\n  T+0   Mon 2026-11-02 → Fri 2026-11-06 decide-downtime        task    release-manager+partnership pending      Decide the downtime date with the external and internal stakeholders\n  T+1   Tue 2026-11-03                  backup                 task    release-manager             pending      Take the backup of the database and images\n  T+1   Tue 2026-11-03                  notify-partners        notice  partnership                 pending      E-mail the downtime to everyone who downloaded credentials for the instance\n  T+1   Tue 2026-11-03                  website-downtime       task    documentation               pending      Update the website's access page with the downtime\n  T+3   Thu 2026-11-05 → Fri 2026-11-06 deploy                 task    release-manager             pending      Deploy the new builds and configurations per the release notes\n  T+4   Fri 2026-11-06                  localisation           task    qa                          pending      Load the English and Hindi localisation per the release notes\n  T+6   Tue 2026-11-10 → Wed 2026-11-11 testing                task    release-manager+qa          pending      Sanity-test all the applications on City A and City B\n  T+8   Thu 2026-11-12 → Fri 2026-11-13 qa                     gate    qa                          pending      QA sign-off: final sanity\n  T+12  Wed 2026-11-18 → Mon 2026-11-23 product                gate    product                     pending      Product sign-off: sanity of all modules on City A and City B\n  T+13  Thu 2026-11-19                  announce-completion    notice  release-manager             pending      E-mail all stakeholders that the upgrade is complete\n  T+13  Thu 2026-11-19                  validate-access        task    release-manager             pending      Validate the access link of the demo environment\n  T+13  Thu 2026-11-19                  notify-partners-done   notice  partnership                 pending      E-mail the upgrade completion to everyone who downloaded credentials\n  T+13  Thu 2026-11-19                  website-restore        task    documentation               pending      Take the downtime notice off the website",
      "unfurl_links": false,
      "unfurl_media": false
    }
    ── discord
    {
      "allowed_mentions": {
        "parse": [],
        "replied_user": false,
        "roles": [],
        "users": []
      },
      "components": [],
      "content": "",
      "embeds": [
        {
          "color": 5793266,
          "description": "📋 **REL-1** `2026-Q4` (demo-upgrade) — T0 Mon 2026-11-02 in console:#bioinfo\n  T+0   Mon 2026-11-02 → Fri 2026-11-06 decide-downtime        task    release-manager+partnership pending      Decide the downtime date with the external and internal stakeholders\n  T+1   Tue 2026-11-03                  backup                 task    release-manager             pending      Take the backup of the database and images\n  T+1   Tue 2026-11-03                  notify-partners        notice  partnership                 pending      E-mail the downtime to everyone who downloaded credentials for the instance\n  T+1   Tue 2026-11-03                  website-downtime       task    documentation               pending      Update the website's access page with the downtime\n  T+3   Thu 2026-11-05 → Fri 2026-11-06 deploy                 task    release-manager             pending      Deploy the new builds and configurations per the release notes\n  T+4   Fri 2026-11-06                  localisation           task    qa                          pending      Load the English and Hindi localisation per the release notes\n  T+6   Tue 2026-11-10 → Wed 2026-11-11 testing                task    release-manager+qa          pending      Sanity-test all the applications on City A and City B\n  T+8   Thu 2026-11-12 → Fri 2026-11-13 qa                     gate    qa                          pending      QA sign-off: final sanity\n  T+12  Wed 2026-11-18 → Mon 2026-11-23 product                gate    product                     pending      Product sign-off: sanity of all modules on City A and City B\n  T+13  Thu 2026-11-19                  announce-completion    notice  release-manager             pending      E-mail all stakeholders that the upgrade is complete\n  T+13  Thu 2026-11-19                  validate-access        task    release-manager             pending      Validate the access link of the demo environment\n  T+13  Thu 2026-11-19                  notify-partners-done   notice  partnership                 pending      E-mail the upgrade completion to everyone who downloaded credentials\n  T+13  Thu 2026-11-19                  website-restore        task    documentation               pending      Take the downtime notice off the website"
        }
      ],
      "enforce_nonce": true,
      "nonce": "1"
    }
    "#);
    insta::assert_snapshot!(everywhere(&t, &retro.message), @r#"
    ── console
    📊 Retro REL-1 `2026-Q4` (demo-upgrade): 1 of 13 tasks slipped, 2 working days in all
      task                   planned     actual      slip
      decide-downtime        2026-11-06  2026-11-02  -4d
      backup                 2026-11-03  2026-11-05  +2d
      notify-partners        2026-11-03  —           pending
      website-downtime       2026-11-03  —           pending
      deploy                 2026-11-06  —           pending
      localisation           2026-11-06  —           pending
      testing                2026-11-11  —           pending
      qa                     2026-11-13  —           pending
      product                2026-11-23  —           pending
      announce-completion    2026-11-19  —           pending
      validate-access        2026-11-19  —           pending
      notify-partners-done   2026-11-19  —           pending
      website-restore        2026-11-19  —           pending
    Slipped:
      backup +2d
    Sign-offs:
      qa not signed
      product not signed
    ── slack
    {
      "blocks": [
        {
          "text": {
            "text": "📊 Retro REL-1 `2026-Q4` (demo-upgrade): 1 of 13 tasks slipped, 2 working days in all\n  task                   planned     actual      slip\n  decide-downtime        2026-11-06  2026-11-02  -4d\n  backup                 2026-11-03  2026-11-05  +2d\n  notify-partners        2026-11-03  —           pending\n  website-downtime       2026-11-03  —           pending\n  deploy                 2026-11-06  —           pending\n  localisation           2026-11-06  —           pending\n  testing                2026-11-11  —           pending\n  qa                     2026-11-13  —           pending\n  product                2026-11-23  —           pending\n  announce-completion    2026-11-19  —           pending\n  validate-access        2026-11-19  —           pending\n  notify-partners-done   2026-11-19  —           pending\n  website-restore        2026-11-19  —           pending\nSlipped:\n  backup +2d\nSign-offs:\n  qa not signed\n  product not signed",
            "type": "mrkdwn"
          },
          "type": "section"
        }
      ],
      "channel": "C0",
      "metadata": {
        "event_payload": {
          "outbox_id": 1
        },
        "event_type": "shipmate_outbox"
      },
      "text": "📊 Retro REL-1 `2026-Q4` (demo-upgrade): 1 of 13 tasks slipped, 2 working days in all\n  task                   planned     actual      slip\n  decide-downtime        2026-11-06  2026-11-02  -4d\n  backup                 2026-11-03  2026-11-05  +2d\n  notify-partners        2026-11-03  —           pending\n  website-downtime       2026-11-03  —           pending\n  deploy                 2026-11-06  —           pending\n  localisation           2026-11-06  —           pending\n  testing                2026-11-11  —           pending\n  qa                     2026-11-13  —           pending\n  product                2026-11-23  —           pending\n  announce-completion    2026-11-19  —           pending\n  validate-access        2026-11-19  —           pending\n  notify-partners-done   2026-11-19  —           pending\n  website-restore        2026-11-19  —           pending\nSlipped:\n  backup +2d\nSign-offs:\n  qa not signed\n  product not signed",
      "unfurl_links": false,
      "unfurl_media": false
    }
    ── discord
    {
      "allowed_mentions": {
        "parse": [],
        "replied_user": false,
        "roles": [],
        "users": []
      },
      "components": [],
      "content": "",
      "embeds": [
        {
          "color": 5793266,
          "description": "📊 Retro REL-1 `2026-Q4` (demo-upgrade): 1 of 13 tasks slipped, 2 working days in all\n  task                   planned     actual      slip\n  decide-downtime        2026-11-06  2026-11-02  -4d\n  backup                 2026-11-03  2026-11-05  +2d\n  notify-partners        2026-11-03  —           pending\n  website-downtime       2026-11-03  —           pending\n  deploy                 2026-11-06  —           pending\n  localisation           2026-11-06  —           pending\n  testing                2026-11-11  —           pending\n  qa                     2026-11-13  —           pending\n  product                2026-11-23  —           pending\n  announce-completion    2026-11-19  —           pending\n  validate-access        2026-11-19  —           pending\n  notify-partners-done   2026-11-19  —           pending\n  website-restore        2026-11-19  —           pending\nSlipped:\n  backup +2d\nSign-offs:\n  qa not signed\n  product not signed"
        }
      ],
      "enforce_nonce": true,
      "nonce": "1"
    }
    "#);
}

#[tokio::test]
async fn a_failed_pipeline_run_message() {
    let t = spawn_app_at(
        &[
            ("SHIPMATE__WEBHOOKS__GENERIC__TOKEN", "generic-token"),
            ("SHIPMATE__PIPELINES__DEFAULT_CHANNELS", "console:#ci"),
        ],
        monday_ten(),
    )
    .await;
    let run = serde_json::json!({
        "id": "delivery-1",
        "pipeline": "build-portal",
        "run_id": "41",
        "status": "failed",
        "repository": "acme/portal",
        "branch": "main",
        "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        "actor": "priya",
        "url": "https://ci.example/runs/41",
        "started_at": "2026-11-02T04:20:00Z",
        "finished_at": "2026-11-02T04:29:00Z",
        "jobs": [
            {"name": "unit", "status": "succeeded"},
            {"name": "e2e <chromium>", "status": "failed", "url": "https://ci.example/runs/41/e2e"}
        ]
    });

    let status = reqwest::Client::new()
        .post(t.url("/webhooks/generic"))
        .bearer_auth("generic-token")
        .json(&run)
        .send()
        .await
        .expect("delivered")
        .status();

    assert_eq!(status, 200);
    let message = t.messages("#ci").await.remove(0);
    insta::assert_snapshot!(everywhere(&t, &message), @r#"
    ── console
    ❌ unrouted · build-portal · `main` @ `9fceb02` · failed in 9m 0s · https://ci.example/runs/41
      acme/portal · generic by priya
      ❌ `e2e <chromium>` failed · https://ci.example/runs/41/e2e
    ── slack
    {
      "blocks": [
        {
          "text": {
            "text": "❌ *unrouted* · *build-portal* · `main` @ `9fceb02` · failed in 9m 0s · https://ci.example/runs/41\n  acme/portal · generic by priya\n  ❌ `e2e &lt;chromium&gt;` failed · https://ci.example/runs/41/e2e",
            "type": "mrkdwn"
          },
          "type": "section"
        }
      ],
      "channel": "C0",
      "metadata": {
        "event_payload": {
          "outbox_id": 1
        },
        "event_type": "shipmate_outbox"
      },
      "text": "❌ *unrouted* · *build-portal* · `main` @ `9fceb02` · failed in 9m 0s · https://ci.example/runs/41\n  acme/portal · generic by priya\n  ❌ `e2e &lt;chromium&gt;` failed · https://ci.example/runs/41/e2e",
      "unfurl_links": false,
      "unfurl_media": false
    }
    ── discord
    {
      "allowed_mentions": {
        "parse": [],
        "replied_user": false,
        "roles": [],
        "users": []
      },
      "components": [],
      "content": "",
      "embeds": [
        {
          "color": 5793266,
          "description": "❌ **unrouted** · **build-portal** · `main` @ `9fceb02` · failed in 9m 0s · https://ci.example/runs/41\n  acme/portal · generic by priya\n  ❌ `e2e <chromium>` failed · https://ci.example/runs/41/e2e"
        }
      ],
      "enforce_nonce": true,
      "nonce": "1"
    }
    "#);
}

#[tokio::test]
async fn a_downtime_announcement_and_its_reminder() {
    let t = spawn_app_at(&[], monday_ten()).await;

    t.ok(
        "rm",
        "/downtime announce env:production start:\"2026-11-04 22:00\" duration:2h reason:\"database upgrade & reindex\" audience:\"partner portals\"",
    )
    .await;
    let announcement = t.messages("#bioinfo").await.remove(0);
    t.advance(TimeDelta::hours(2 * 24 + 12) - TimeDelta::minutes(30))
        .await;

    insta::assert_snapshot!(everywhere(&t, &announcement), @r#"
    ── console
    🛠️ DT-1 downtime of `production` announced
    Window: 2026-11-04 22:00 IST → 2026-11-05 00:00 IST (2h)
    Reason: database upgrade & reindex
    Affects: partner portals
    ── slack
    {
      "blocks": [
        {
          "text": {
            "text": "🛠️ *DT-1* downtime of `production` announced\nWindow: <!date^1793809800^{date_short_pretty} {time}|2026-11-04 22:00 IST> → <!date^1793817000^{date_short_pretty} {time}|2026-11-05 00:00 IST> (2h)\nReason: database upgrade &amp; reindex\nAffects: partner portals",
            "type": "mrkdwn"
          },
          "type": "section"
        }
      ],
      "channel": "C0",
      "metadata": {
        "event_payload": {
          "outbox_id": 1
        },
        "event_type": "shipmate_outbox"
      },
      "text": "🛠️ *DT-1* downtime of `production` announced\nWindow: <!date^1793809800^{date_short_pretty} {time}|2026-11-04 22:00 IST> → <!date^1793817000^{date_short_pretty} {time}|2026-11-05 00:00 IST> (2h)\nReason: database upgrade &amp; reindex\nAffects: partner portals",
      "unfurl_links": false,
      "unfurl_media": false
    }
    ── discord
    {
      "allowed_mentions": {
        "parse": [],
        "replied_user": false,
        "roles": [],
        "users": []
      },
      "components": [],
      "content": "",
      "embeds": [
        {
          "color": 5793266,
          "description": "🛠️ **DT-1** downtime of `production` announced\nWindow: <t:1793809800:f> → <t:1793817000:f> (2h)\nReason: database upgrade & reindex\nAffects: partner portals"
        }
      ],
      "enforce_nonce": true,
      "nonce": "1"
    }
    "#);
    t.record("DT-1").expect_state("announced").await;
    let reminder = t.posted("#bioinfo").await.pop().expect("a reminder");
    insta::assert_snapshot!(reminder, @r"
    ⏰ DT-1 downtime of `production` starts in 1h: 2026-11-04 22:00 IST → 2026-11-05 00:00 IST
    Reason: database upgrade & reindex
    Affects: partner portals
    ");
}

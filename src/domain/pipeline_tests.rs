//! The run state machine: forward-only progress, finished runs and jobs never
//! regress, duplicates change nothing, failures are announced once.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn event(status: Option<Status>, at: i64) -> RunEvent {
    let mut e = RunEvent::new(Source::Github, "7", "deploy");
    e.status = status;
    e.at = Some(t(at));
    e
}

fn job(id: &str, status: Status, at: i64) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        stage: None,
        status,
        url: Some(format!("https://ci/{id}")),
        started_at: None,
        finished_at: None,
        at: Some(t(at)),
    }
}

fn fold(events: &[RunEvent]) -> (Run, Vec<Effect>) {
    let mut run = None;
    let mut all = Vec::new();
    for e in events {
        let (r, effects) = apply(run, e);
        all.extend(effects);
        run = Some(r);
    }
    (run.unwrap(), all)
}

#[test]
fn a_run_moves_forward_through_its_states() {
    let (run, _) = fold(&[
        event(Some(Status::Queued), 0),
        event(Some(Status::Running), 5),
        event(Some(Status::Succeeded), 65),
    ]);
    assert_eq!(run.status, Status::Succeeded);
    assert_eq!(run.started_at, Some(t(5)));
    assert_eq!(run.finished_at, Some(t(65)));
    assert_eq!(run.duration(), Some(chrono::TimeDelta::seconds(60)));
}

#[test]
fn events_out_of_order_end_in_the_same_final_state() {
    let (run, effects) = fold(&[
        event(Some(Status::Succeeded), 65),
        event(Some(Status::Queued), 0),
        event(Some(Status::Running), 5),
    ]);
    assert_eq!(run.status, Status::Succeeded);
    assert_eq!(run.events, 3);
    // The stale events changed nothing after the first.
    assert_eq!(effects, vec![Effect::Changed]);
}

#[test]
fn a_repeated_event_changes_nothing() {
    let e = event(Some(Status::Running), 5);
    let (run, _) = apply(None, &e);
    let (again, effects) = apply(Some(run.clone()), &e);
    assert!(effects.is_empty());
    assert_eq!(again.status, run.status);
}

#[test]
fn a_finished_run_never_goes_back_to_running_even_with_a_newer_time() {
    let (run, _) = fold(&[
        event(Some(Status::Failed), 10),
        event(Some(Status::Running), 20),
    ]);
    assert_eq!(run.status, Status::Failed);
}

#[test]
fn a_newer_different_final_status_replaces_an_older_one_but_not_a_stale_one() {
    let (retried, _) = fold(&[
        event(Some(Status::Failed), 10),
        event(Some(Status::Succeeded), 20),
    ]);
    assert_eq!(retried.status, Status::Succeeded);
    let (stale, _) = fold(&[
        event(Some(Status::Failed), 20),
        event(Some(Status::Succeeded), 10),
    ]);
    assert_eq!(stale.status, Status::Failed);
    let mut undated = event(Some(Status::Succeeded), 0);
    undated.at = None;
    let (kept, _) = fold(&[event(Some(Status::Failed), 20), undated]);
    assert_eq!(kept.status, Status::Failed);
}

#[test]
fn a_finished_job_never_regresses_and_a_running_job_starts_the_run() {
    let mut running = event(None, 1);
    running.jobs = vec![job("build", Status::Running, 1)];
    let mut done = event(None, 9);
    done.jobs = vec![job("build", Status::Succeeded, 9)];
    let mut stale = event(None, 2);
    stale.jobs = vec![job("build", Status::Queued, 0)];
    let (run, _) = fold(&[running, done, stale]);
    assert_eq!(run.jobs.len(), 1);
    assert_eq!(run.jobs[0].status, Status::Succeeded);
    assert_eq!(run.status, Status::Running);
}

#[test]
fn failure_is_announced_once_with_the_failed_jobs_named() {
    let mut failing = event(Some(Status::Failed), 30);
    failing.jobs = vec![
        job("test", Status::Failed, 30),
        job("lint", Status::Succeeded, 20),
    ];
    let (run, effects) = fold(&[event(Some(Status::Running), 0), failing.clone(), failing]);
    assert_eq!(effects.iter().filter(|e| **e == Effect::Failed).count(), 1);
    let failed: Vec<&str> = run.failed_jobs().map(|j| j.name.as_str()).collect();
    assert_eq!(failed, vec!["test"]);
}

#[test]
fn job_events_fill_blanks_but_run_events_override() {
    let mut from_job = RunEvent::new(Source::Gitlab, "9", "acme/portal");
    from_job.authoritative = false;
    from_job.branch = Some("feature".into());
    let mut from_run = RunEvent::new(Source::Gitlab, "9", "deploy");
    from_run.branch = Some("main".into());
    let (run, _) = fold(&[from_job.clone(), from_run, from_job]);
    assert_eq!(run.pipeline, "deploy");
    assert_eq!(run.branch.as_deref(), Some("main"));
}

#[test]
fn statuses_round_trip_through_text() {
    for s in Status::ALL {
        assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
    }
    for s in Source::ALL {
        assert_eq!(s.as_str().parse::<Source>().unwrap(), s);
    }
    assert_eq!(
        RunEvent::new(Source::Aws, "x", "p").run_key(),
        "pipeline:aws:x:1"
    );
}

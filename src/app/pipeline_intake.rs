//! The webhook writer: one task folds accepted deliveries into runs and
//! queues their messages, many deliveries per transaction.
//!
//! Every HTTP handler [`PipelineIntake::submit`]s its parsed [`Delivery`]
//! and waits; the writer takes whatever has queued up (up to
//! [`MAX_BATCH`]), and in one `BEGIN IMMEDIATE` transaction records the
//! deliveries (dedup), folds each new event into its run, routes it, checks
//! the release windows, and writes one outbox row per run and channel
//! ([`store::outbox::enqueue_latest`] merges it into a still-pending
//! row). Every step is one statement per batch, not per delivery, and the
//! whole batch is two round trips to SQLite: the reads go with the `BEGIN`,
//! the writes with the `COMMIT`. A run a deploy request triggered redraws
//! the request's card when its status moves.
//! Only after the commit does each handler get its answer, so a 2xx means
//! the event is stored. One writer means no lock contention between
//! requests, and batching means one commit (one WAL append) for many.

use crate::domain::freeze::FreezeWindow;
use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::App;
use super::deploy::{DeployRules, card_with_run, with_failure_buttons};
use super::pipeline::PipelineRules;
use super::pipeline_message::{RunRecord, failure_message, flag_message, run_message};
use crate::ci::{Delivery, Intake};
use crate::domain::pipeline::{Effect, RunEvent, Status, apply};
use crate::domain::pipeline_route::route_for;
use crate::domain::release_window::deploy_flags;
use crate::domain::{ChannelRef, MemberRef, Role};
use crate::store::{self, Tx, batch::Batch};

/// The most deliveries folded into one transaction.
pub const MAX_BATCH: usize = 256;

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Folded into its run.
    Applied { run_key: String },
    /// Seen before (same source and delivery id): acknowledged, not applied again.
    Duplicate,
    /// A valid event shipmate does not track: recorded and acknowledged.
    Ignored,
}

type Reply = oneshot::Sender<Result<Outcome, String>>;

/// The handle HTTP handlers submit deliveries through.
#[derive(Clone)]
pub struct PipelineIntake {
    tx: mpsc::Sender<(Delivery, Reply)>,
}

impl PipelineIntake {
    /// Starts the writer; it stops when every handle is dropped.
    pub fn spawn(app: App) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(writer(app, rx));
        Self { tx }
    }

    /// Stores a delivery; returns once it is committed.
    pub async fn submit(&self, delivery: Delivery) -> anyhow::Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((delivery, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the pipeline writer has stopped"))?;
        answer
            .await
            .context("the pipeline writer dropped the delivery")?
            .map_err(|e| anyhow::anyhow!(e))
    }
}

async fn writer(app: App, mut rx: mpsc::Receiver<(Delivery, Reply)>) {
    let mut batch: Vec<(Delivery, Reply)> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let deliveries: Vec<&Delivery> = batch.iter().map(|(d, _)| d).collect();
        match write_batch(&app, &deliveries).await {
            Ok(outcomes) => {
                for ((d, reply), outcome) in batch.drain(..).zip(outcomes) {
                    let label = match &outcome {
                        Outcome::Applied { .. } => "applied",
                        Outcome::Duplicate => "duplicate",
                        Outcome::Ignored => "ignored",
                    };
                    metrics::counter!("shipmate_webhook_deliveries_total", "source" => d.source.as_str(), "outcome" => label)
                        .increment(1);
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let reference = format!("{:x}", Utc::now().timestamp_micros());
                tracing::error!(
                    reference,
                    error = format!("{e:#}"),
                    batch = batch.len(),
                    "storing webhook deliveries failed"
                );
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(format!("internal error (ref {reference})")));
                }
            }
        }
    }
}

/// Messages to queue after folding: run keys whose message changed, and follow-ups.
#[derive(Default)]
struct Pending {
    changed: Vec<String>,
    changed_set: HashSet<String>,
    failed: Vec<String>,
    flagged: Vec<String>,
}

impl Pending {
    fn touch(&mut self, key: &str) {
        if self.changed_set.insert(key.to_string()) {
            self.changed.push(key.to_string());
        }
    }
}

/// Stores one batch in one transaction of two round trips to SQLite; one
/// outcome per delivery, in order.
pub async fn write_batch(app: &App, deliveries: &[&Delivery]) -> anyhow::Result<Vec<Outcome>> {
    let now = app.clock.now();

    // 1. Dedup within the batch; everything the fold needs is read with the
    //    `BEGIN`: which deliveries are new, their runs, the freezes around
    //    now, where the runs' messages stand, and the role grants.
    let keys: Vec<Option<String>> = deliveries
        .iter()
        .map(|d| match &d.intake {
            Intake::Event(e) => Some(e.run_key()),
            Intake::Ignored => None,
        })
        .collect();
    let mut seen = HashSet::new();
    let mut first = vec![false; deliveries.len()];
    let mut rows = Vec::with_capacity(deliveries.len());
    let mut candidates: Vec<&str> = Vec::new();
    let mut candidate_set = HashSet::new();
    for (i, d) in deliveries.iter().enumerate() {
        if seen.insert((d.source, d.id.as_str())) {
            first[i] = true;
            rows.push(store::pipeline::NewDelivery {
                source: d.source.as_str(),
                delivery_id: &d.id,
                kind: &d.kind,
                applied: keys[i].is_some(),
                run_key: keys[i].as_deref(),
            });
            if let Some(k) = keys[i].as_deref()
                && candidate_set.insert(k)
            {
                candidates.push(k);
            }
        }
    }
    let channels = pipeline_channels(app);
    let channel_names: Vec<&str> = channels.iter().map(String::as_str).collect();
    let mut reads = Batch::default();
    store::pipeline::record_deliveries(&mut reads, &rows, now);
    store::pipeline::load_runs(&mut reads, &candidates);
    store::freeze::read_since(&mut reads, now - chrono::TimeDelta::days(1));
    store::outbox::read_latest_state(&mut reads, &channel_names, &candidates, now);
    store::roles::read_all(&mut reads);
    let deploys = !app.config.section::<DeployRules>().targets.is_empty();
    if deploys {
        store::deploy::read_by_runs(&mut reads, &candidates);
    }
    let (tx, found) = Tx::begin_with(app.db.lock().await, reads).await?;

    let fresh = store::pipeline::fresh_deliveries(&found)?;
    let accepted: Vec<bool> = deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| first[i] && fresh.contains(&(d.source.as_str().to_string(), d.id.clone())))
        .collect();
    let mut wanted: Vec<&str> = Vec::new();
    let mut wanted_set = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        if let (true, Some(k)) = (accepted[i], key)
            && wanted_set.insert(k.as_str())
        {
            wanted.push(k);
        }
    }
    let mut records: HashMap<String, RunRecord> = HashMap::with_capacity(wanted.len());
    for (key, body) in store::pipeline::runs_from(&found)? {
        if !wanted_set.contains(key.as_str()) {
            continue;
        }
        match serde_json::from_str::<RunRecord>(&body) {
            Ok(rec) => {
                records.insert(key, rec);
            }
            Err(e) => {
                tracing::warn!(run = key, error = %e, "stored run unreadable; starting it afresh")
            }
        }
    }
    let freezes: Vec<FreezeWindow> = store::freeze::since_from(&found)?
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    let grants = store::roles::grants_from(&found)?;
    let latest = store::outbox::latest_state_from(&found)?;
    let linked = if deploys {
        store::deploy::by_runs_from(&found)?
    } else {
        Vec::new()
    };
    // the status each deploy's run had, to redraw its card when it moves
    let before: HashMap<&str, Status> = linked
        .iter()
        .filter_map(|(_, key, _)| Some((key.as_str(), records.get(key)?.run.status)))
        .collect();

    // 2. Fold, route, flag (against the code freezes in force around now).
    let mut pending = Pending::default();
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for (i, d) in deliveries.iter().enumerate() {
        let outcome = match (&d.intake, accepted[i]) {
            (_, false) => Outcome::Duplicate,
            (Intake::Ignored, true) => Outcome::Ignored,
            (Intake::Event(e), true) => {
                fold(app, &mut records, &mut pending, e, &freezes, now);
                Outcome::Applied {
                    run_key: e.run_key(),
                }
            }
        };
        outcomes.push(outcome);
    }

    // 3. Save every touched run and queue messages for the changed ones,
    //    sent with the `COMMIT`.
    let rows: Vec<store::pipeline::RunRow> = wanted
        .iter()
        .filter_map(|k| records.get(*k))
        .map(|rec| store::pipeline::RunRow {
            key: &rec.run.key,
            source: rec.run.source.as_str(),
            pipeline: rec.pipeline_name(),
            environment: &rec.environment,
            routed: rec.routed,
            status: rec.run.status.as_str(),
            body: serde_json::to_string(rec).unwrap_or_default(),
        })
        .collect();
    let mut writes = Batch::default();
    store::pipeline::save_runs(&mut writes, &rows, now);
    let mut posted = queue_messages(app, &mut writes, &records, &pending, &latest, &grants, now)?;
    for (n, key, request) in &linked {
        let Some(rec) = records.get(key) else {
            continue;
        };
        if before.get(key.as_str()) != Some(&rec.run.status) {
            let (channel, card, card_key) = card_with_run(app, *n, request, rec);
            writes.outbox(channel.to_string(), &card, Some(card_key), now);
            posted = true;
        }
    }
    let (sql, args) = writes.into_parts()?;
    tx.commit_with(sql, args)
        .await
        .context("committing webhook deliveries")?;
    if posted {
        app.wake.outbox.notify_one();
    }
    Ok(outcomes)
}

/// Every channel a pipeline message can go to (routes and default), for the look-up
/// of where the runs' messages stand.
fn pipeline_channels(app: &App) -> Vec<String> {
    let rules = &app.config.section::<PipelineRules>();
    let mut out: Vec<String> = Vec::new();
    for channel in rules
        .routes
        .iter()
        .flat_map(|r| r.channels.iter())
        .chain(rules.default_channels.iter())
    {
        let name = channel.to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn fold(
    app: &App,
    records: &mut HashMap<String, RunRecord>,
    pending: &mut Pending,
    e: &RunEvent,
    freezes: &[FreezeWindow],
    now: DateTime<Utc>,
) {
    let rules = &app.config.section::<PipelineRules>();
    let key = e.run_key();
    let previous = records.remove(&key);
    let (flags, flags_checked, paged) = previous
        .as_ref()
        // a run stored as failed was paged when it failed
        .map(|r| {
            let paged = r.paged || r.run.status.is_failure();
            (r.flags.clone(), r.flags_checked, paged)
        })
        .unwrap_or_default();
    let (run, effects) = apply(previous.map(|r| r.run), e);
    let route = route_for(&rules.routes, &run);
    let environment = route
        .map(|r| r.environment.clone())
        .or_else(|| run.provider_environment.clone())
        .unwrap_or_else(|| "unrouted".into());
    if route.is_none() {
        metrics::counter!("shipmate_pipeline_events_unrouted_total", "source" => e.source.as_str())
            .increment(1);
    }
    let mut rec = RunRecord {
        run,
        environment,
        routed: route.is_some(),
        flags,
        flags_checked,
        paged,
    };
    // The release-window check runs once, when a production deploy starts.
    if !rec.flags_checked
        && rec.run.status.rank() >= Status::Running.rank()
        && rec.is_production_deploy()
    {
        let started = rec.run.started_at.or(e.at).unwrap_or(now);
        let target = route.and_then(|r| r.target.clone()).or_else(|| {
            rec.run
                .repository
                .as_deref()
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_string)
        });
        rec.flags = deploy_flags(&rules.deploy, started, target.as_deref(), freezes);
        rec.flags_checked = true;
        if !rec.flags.is_empty() {
            pending.flagged.push(key.clone());
            pending.touch(&key);
        }
    }
    if effects.contains(&Effect::Changed) {
        pending.touch(&key);
    }
    // on-call is paged on the run's first failure, a job's or its own, once
    let failing = effects.contains(&Effect::Failed)
        || rec.run.status.is_failure()
        || rec.run.failed_jobs().next().is_some();
    if failing && !rec.paged {
        rec.paged = true;
        pending.failed.push(key.clone());
        pending.touch(&key);
    }
    records.insert(key, rec);
}

/// Where a run's messages go: its route's channels, or the default channels.
fn channels_for<'a>(app: &'a App, rec: &RunRecord) -> (&'a [ChannelRef], Option<Role>) {
    let rules = &app.config.section::<PipelineRules>();
    match route_for(&rules.routes, &rec.run) {
        Some(route) => (&route.channels, route.oncall.clone()),
        None => (&rules.default_channels, None),
    }
}

fn members(app: &App, grants: &[(String, String)], role: &Role) -> Vec<MemberRef> {
    let mut members = app
        .config
        .directory
        .roles
        .get(role)
        .cloned()
        .unwrap_or_default();
    for (r, m) in grants {
        if r == role.as_str()
            && let Ok(member) = m.parse::<MemberRef>()
            && !members.contains(&member)
        {
            members.push(member);
        }
    }
    members
}

fn queue_messages(
    app: &App,
    writes: &mut Batch,
    records: &HashMap<String, RunRecord>,
    pending: &Pending,
    latest_state: &store::outbox::LatestState,
    grants: &[(String, String)],
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let interval = app.config.section::<PipelineRules>().min_edit_interval;
    let mut latest = Vec::new();
    for key in &pending.changed {
        let Some(rec) = records.get(key) else {
            continue;
        };
        let (channels, _) = channels_for(app, rec);
        if channels.is_empty() {
            continue;
        }
        let body = serde_json::to_string(&run_message(rec))?;
        for channel in channels {
            latest.push(store::outbox::Latest {
                channel: channel.to_string(),
                key,
                body: body.clone(),
            });
        }
    }
    store::outbox::enqueue_latest(writes, &latest, latest_state, now, interval);
    let mut posted = !latest.is_empty();
    // Follow-ups: thread replies to the run's message in each channel.
    let mut reply = |channels: &[ChannelRef], body: &str, follow_up: &str, key: &str| {
        for channel in channels {
            store::outbox::enqueue_reply_later(
                writes,
                &channel.to_string(),
                body,
                follow_up,
                key,
                now,
            );
            posted = true;
        }
    };
    for key in &pending.failed {
        let Some(rec) = records.get(key) else {
            continue;
        };
        let (channels, oncall) = channels_for(app, rec);
        let oncall = oncall.map(|role| {
            let members = members(app, grants, &role);
            (role, members)
        });
        let message = with_failure_buttons(app, rec, failure_message(rec, oncall));
        let body = serde_json::to_string(&message)?;
        reply(channels, &body, &format!("{key}:failure"), key);
    }
    for key in &pending.flagged {
        let Some(rec) = records.get(key) else {
            continue;
        };
        let (channels, _) = channels_for(app, rec);
        let devops = members(app, grants, &Role::DEVOPS);
        let body = serde_json::to_string(&flag_message(rec, devops))?;
        reply(channels, &body, &format!("{key}:release-window"), key);
    }
    Ok(posted)
}

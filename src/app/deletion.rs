//! `/delete-request`: files, approves, objects, resolves, cancels, executes,
//! shows and lists deletion requests; turns the domain's effects into cards
//! in every `deletion.channels` channel and the cooling-off expiry job.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::context::Handled;
use super::mention::parse_users;
use super::message::local;
use super::{Ctx, Line, Message, Reply};
use crate::domain::deletion::{DeletionRequest, Draft, Effect, Event, Notice, Policy, State};
use crate::domain::timing::format_duration;
use crate::domain::{DomainError, RecordId, RecordKind, Role};
use crate::grammar::Parsed;
use crate::store::{self, Tagged, batch::Batch, jobs::NewJob};

/// The job that ends a cooling-off period.
pub const EXPIRE_JOB: &str = "deletion.expire";

/// The recurring nudge about ready requests nobody has executed.
pub const READY_REMINDER_JOB: &str = "deletion.ready_reminder";

/// Payload of [`EXPIRE_JOB`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpirePayload {
    pub id: i64,
    pub until_ms: i64,
}

/// The deletion requests a transaction has read or written, and the highest
/// number given. Commands that run together in one transaction (see
/// `app::group`) read the requests they name once, with the `BEGIN`
/// ([`prefetch`]), see each other's changes here, and write them with the
/// `COMMIT`. Outside a group it starts empty and reads go to the database.
#[derive(Debug, Default)]
pub struct Working {
    /// The highest number given, when it was read in this transaction.
    last: Option<i64>,
    requests: HashMap<i64, DeletionRequest>,
    /// Requests changed and not yet written, with when.
    unsaved: Vec<(i64, DateTime<Utc>)>,
}

impl Working {
    /// The next number, when this transaction knows the highest given.
    fn next_number(&mut self) -> Option<i64> {
        let n = self.last? + 1;
        self.last = Some(n);
        Some(n)
    }

    /// Keeps a request's new state, to be written by [`Working::save_to`].
    fn changed(&mut self, n: i64, r: &DeletionRequest, now: DateTime<Utc>) {
        self.requests.insert(n, r.clone());
        self.unsaved.retain(|(m, _)| *m != n);
        self.unsaved.push((n, now));
    }

    /// Adds the unsaved requests to `batch` (one statement).
    pub fn save_to(&mut self, batch: &mut Batch) -> anyhow::Result<()> {
        let unsaved = std::mem::take(&mut self.unsaved);
        let rows: Vec<(i64, &DeletionRequest, DateTime<Utc>)> = unsaved
            .iter()
            .filter_map(|(n, at)| self.requests.get(n).map(|r| (*n, r, *at)))
            .collect();
        store::deletion::save_later(batch, &rows)
    }
}

/// Adds to `reads` what the `/delete-request` commands among `commands` will read.
pub fn prefetch<'a>(commands: impl Iterator<Item = &'a Parsed>, reads: &mut Batch) {
    let mut any = false;
    let mut ids = Vec::new();
    for p in commands.filter(|p| p.command.name == "delete-request") {
        any = true;
        if let Some(Ok(id)) = p
            .get("id")
            .map(|raw| RecordId::parse_as(RecordKind::DeletionRequest, raw))
            && !ids.contains(&id.n)
        {
            ids.push(id.n);
        }
    }
    if any {
        store::deletion::prefetch(reads, &ids);
    }
}

/// The working set from what [`prefetch`] read.
pub fn working_from(found: &Tagged) -> anyhow::Result<Working> {
    if found.rows("deletion.last").next().is_none() {
        return Ok(Working::default());
    }
    let (last, requests) = store::deletion::prefetched_from(found)?;
    Ok(Working {
        last: Some(last),
        requests: requests.into_iter().collect(),
        unsaved: Vec::new(),
    })
}

pub async fn run(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    match p.sub.name {
        "create" => create(ctx, p).await,
        "approve" => transition(ctx, p, Event::Approve).await,
        "object" => {
            let reason = p.get("reason").unwrap_or_default().to_string();
            transition(ctx, p, Event::Object { reason }).await
        }
        "resolve" => transition(ctx, p, Event::Resolve).await,
        "cancel" => {
            transition(
                ctx,
                p,
                Event::Cancel {
                    reason: p.get("reason").map(str::to_string),
                },
            )
            .await
        }
        "done" => {
            transition(
                ctx,
                p,
                Event::Done {
                    note: p.get("note").map(str::to_string),
                },
            )
            .await
        }
        "show" => show(ctx, p).await,
        _ => list(ctx, p).await,
    }
}

fn policy(ctx: &Ctx<'_>, r: &DeletionRequest) -> Policy {
    let rules = &ctx.app.config.deletion;
    Policy {
        approvals_required: rules.approvals_required,
        cooling_off: rules.cooling_off_for(r.sensitivity),
    }
}

async fn create(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    let target = p.get("target").unwrap_or_default().to_string();
    let stakeholders = match p.get("stakeholders") {
        Some(s) => parse_users(s, ctx.actor.user.platform)?,
        None => Vec::new(),
    };
    let draft = Draft {
        protected: ctx.app.config.deletion.is_protected(target.trim()),
        target,
        reason: p.get("reason").unwrap_or_default().parse()?,
        justification: p.get("justification").unwrap_or_default().to_string(),
        sensitivity: p.get("sensitivity").unwrap_or("low").parse()?,
        stakeholders,
        channel: ctx.channel.clone(),
    };
    let (request, effects) = DeletionRequest::create(draft, &ctx.actor, ctx.now)?;
    let n = match ctx.deletions.next_number() {
        Some(n) => {
            ctx.deletions.changed(n, &request, ctx.now);
            n
        }
        None => store::deletion::insert(ctx.conn, &request, ctx.now).await?,
    };
    let id = RecordId::new(RecordKind::DeletionRequest, n);
    let detail = format!(
        "target={} reason={} sensitivity={} justification={}",
        request.target, request.reason, request.sensitivity, request.justification
    );
    ctx.audit(&id.to_string(), "created", &detail).await?;
    apply_effects(ctx, id, &request, effects).await?;
    let missing = request
        .missing_approvals(&policy(ctx, &request))
        .join(" and ");
    let line = Line::new()
        .text(format!("Filed {id}: delete "))
        .code(&request.target)
        .text(format!(". It needs {missing}; the card is posted to "));
    Ok(Reply::in_channel(
        Message::new().line(channel_list(ctx, line).text(".")),
    ))
}

/// Where the messages go: channels link on their own platform.
fn channel_list(ctx: &Ctx<'_>, line: Line) -> Line {
    let channels = &ctx.app.config.deletion.channels;
    if channels.is_empty() {
        line.text("no channel (deletion.channels is empty)")
    } else {
        line.channels(channels)
    }
}

async fn load(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<(RecordId, DeletionRequest)> {
    let id = RecordId::parse_as(RecordKind::DeletionRequest, p.get("id").unwrap_or_default())?;
    if let Some(r) = ctx.deletions.requests.get(&id.n) {
        return Ok((id, r.clone()));
    }
    match store::deletion::get(ctx.conn, id.n).await? {
        Some(r) => Ok((id, r)),
        None => Err(DomainError::not_found(format!(
            "{id} does not exist: see /delete-request list"
        ))
        .into()),
    }
}

async fn transition(ctx: &mut Ctx<'_>, p: &Parsed, event: Event) -> Handled<Reply> {
    let (id, mut request) = load(ctx, p).await?;
    let policy = policy(ctx, &request);
    let action = p.sub.name;
    let detail = match &event {
        Event::Object { reason } => format!("reason={reason}"),
        Event::Cancel { reason: Some(r) } => format!("reason={r}"),
        Event::Done { note: Some(n) } => format!("note={n}"),
        _ => String::new(),
    };
    let effects = request
        .apply(event, &ctx.actor, &policy, ctx.now)
        .map_err(|e| e.about(id))?;
    ctx.deletions.changed(id.n, &request, ctx.now);
    let detail = format!(
        "state={}{}{detail}",
        request.state,
        if detail.is_empty() { "" } else { " " }
    );
    ctx.audit(&id.to_string(), action, &detail).await?;
    apply_effects(ctx, id, &request, effects).await?;
    Ok(Reply::in_channel(summary(ctx, id, &request)))
}

fn summary(ctx: &Ctx<'_>, id: RecordId, r: &DeletionRequest) -> Message {
    let line = Line::new()
        .bold(id.to_string())
        .text(" ")
        .code(&r.target)
        .text(format!(" is now {}", r.state));
    let line = match (r.state, r.cooling_off_until) {
        (State::CoolingOff, Some(until)) => line.text(" until ").time(until),
        (State::PendingApproval, _) => line.text(format!(
            "; needs {}",
            r.missing_approvals(&policy(ctx, r)).join(" and ")
        )),
        _ => line,
    };
    Message::new().line(line.text("."))
}

/// Turns domain effects into jobs and cards, in the command's transaction.
pub async fn apply_effects(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &DeletionRequest,
    effects: Vec<Effect>,
) -> Handled<()> {
    for effect in effects {
        match effect {
            Effect::ScheduleExpiry(until) => {
                let until_ms = store::ms(until);
                let payload = serde_json::to_string(&ExpirePayload { id: id.n, until_ms })
                    .map_err(anyhow::Error::from)?;
                ctx.schedule(NewJob {
                    kind: EXPIRE_JOB.into(),
                    payload,
                    due_at: until,
                    cron: None,
                    dedup_key: Some(format!("{EXPIRE_JOB}:{id}:{until_ms}")),
                })
                .await?;
            }
            Effect::Announce(notice) => {
                let message = announcement(ctx, id, r, &notice).await?;
                let channels = ctx.app.config.deletion.channels.clone();
                ctx.post_all(&channels, &message).await?;
            }
        }
    }
    Ok(())
}

async fn announcement(
    ctx: &mut Ctx<'_>,
    id: RecordId,
    r: &DeletionRequest,
    notice: &Notice,
) -> Handled<Message> {
    let head = |emoji: &str| {
        Line::new()
            .text(format!("{emoji} "))
            .bold(id.to_string())
            .text(" ")
            .code(&r.target)
    };
    let message = match notice {
        Notice::Created => {
            let stewards = super::roles::members_of(ctx, Role::DataSteward).await?;
            let cooling = format_duration(ctx.app.config.deletion.cooling_off_for(r.sensitivity));
            let mut m = Message::new()
                .line(
                    head("🗑️")
                        .text(" deletion requested by ")
                        .user(&r.requester),
                )
                .line(Line::new().text(format!(
                    "Reason: {} · Sensitivity: {} (cooling-off {cooling})",
                    r.reason, r.sensitivity
                )))
                .line(Line::new().text(format!("Justification: {}", r.justification)));
            if !r.stakeholders.is_empty() {
                m = m.line(Line::new().text("Stakeholders: ").users(&r.stakeholders));
            }
            let mut needs = Line::new()
                .text(format!(
                    "Needs {}: ",
                    r.missing_approvals(&policy(ctx, r)).join(" and ")
                ))
                .role(Role::DataSteward, stewards);
            if r.needs_product {
                let product = super::roles::members_of(ctx, Role::Product).await?;
                needs = needs.text(" ").role(Role::Product, product);
            }
            m.line(needs)
                .button("Approve", format!("/delete-request approve {id}"), false)
                .button(
                    "Object",
                    format!("/delete-request object {id} reason:\"…\""),
                    true,
                )
        }
        Notice::Approved { by, missing } => Message::new().line(
            head("👍")
                .text(" approved by ")
                .user(by)
                .text(format!("; still needs {}.", missing.join(" and "))),
        ),
        Notice::CoolingOffStarted { until } => {
            let mut m = Message::new()
                .line(
                    head("⏳")
                        .text(" approved: cooling-off until ")
                        .time(*until)
                        .text("."),
                )
                .line(Line::new().text(format!(
                    "Anyone may object until then: /delete-request object {id} reason:\"…\""
                )));
            if !r.stakeholders.is_empty() {
                m = m.line(Line::new().text("Stakeholders: ").users(&r.stakeholders));
            }
            m
        }
        Notice::OnHold { by, reason } => {
            let stewards = super::roles::members_of(ctx, Role::DataSteward).await?;
            Message::new()
                .line(
                    head("✋")
                        .text(" is on hold: ")
                        .user(by)
                        .text(format!(" objected: {reason}")),
                )
                .line(
                    Line::new()
                        .text("The clock is stopped. ")
                        .role(Role::DataSteward, stewards)
                        .text(format!(" can resolve it with /delete-request resolve {id}")),
                )
        }
        Notice::Resumed { until: Some(until) } => Message::new().line(
            head("▶️")
                .text(" objections resolved; the full cooling-off restarts, until ")
                .time(*until)
                .text("."),
        ),
        Notice::Resumed { until: None } => {
            Message::new().line(head("▶️").text(" objections resolved; back to pending approval."))
        }
        Notice::Ready => {
            let devops = super::roles::members_of(ctx, Role::Devops).await?;
            Message::new()
                .line(
                    head("🟢")
                        .text(" is ready: cooling-off has ended. Requested by ")
                        .user(&r.requester)
                        .text("."),
                )
                .line(Line::new().role(Role::Devops, devops).text(format!(
                    " may now delete it and record it with /delete-request done {id} note:\"…\""
                )))
        }
        Notice::Cancelled { by } => {
            Message::new().line(head("🚫").text(" cancelled by ").user(by).text("."))
        }
        Notice::Done { by } => {
            let mut line = head("🏁").text(" deleted; recorded by ").user(by).text(".");
            if let Some(note) = &r.closed_note {
                line = line.text(format!(" Note: {note}"));
            }
            Message::new().line(line)
        }
    };
    Ok(message)
}

async fn show(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    let (id, r) = load(ctx, p).await?;
    let tz = ctx.app.config.tz;
    let mut m = Message::new()
        .line(
            Line::new()
                .bold(id.to_string())
                .text(" ")
                .code(&r.target)
                .text(format!(" — {}", r.state)),
        )
        .line(
            Line::new()
                .text("Requested by ")
                .user(&r.requester)
                .text(format!(" at {}", local(r.created_at, tz))),
        )
        .line(Line::new().text(format!(
            "Reason: {} · Sensitivity: {} · Justification: {}",
            r.reason, r.sensitivity, r.justification
        )));
    if let Some(until) = r.cooling_off_until {
        m = m.line(Line::new().text("Cooling-off until ").time(until));
    }
    for a in &r.approvals {
        m = m.line(
            Line::new()
                .text(format!("Approved ({}) by ", a.role))
                .user(&a.by)
                .text(format!(" at {}", local(a.at, tz))),
        );
    }
    for o in &r.objections {
        let status = if o.resolved_by.is_some() {
            "resolved"
        } else {
            "open"
        };
        m = m.line(
            Line::new()
                .text("Objection by ")
                .user(&o.by)
                .text(format!(" ({status}): {}", o.reason)),
        );
    }
    m = m.line(Line::new().text("History:"));
    ctx.flush().await?; // audit rows written earlier in this transaction
    for e in store::audit::for_record(ctx.conn, &id.to_string()).await? {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(" — {}", e.detail)
        };
        m = m.line(Line::new().text(format!(
            "  {}  {}  {}{detail}",
            local(e.at, tz),
            e.actor,
            e.action
        )));
    }
    Ok(Reply::private(m))
}

async fn list(ctx: &mut Ctx<'_>, p: &Parsed) -> Handled<Reply> {
    let filter = p.get("state").unwrap_or("open");
    let states: Vec<State> = match filter {
        "all" => Vec::new(),
        "open" => vec![
            State::PendingApproval,
            State::CoolingOff,
            State::OnHold,
            State::Ready,
        ],
        one => vec![one.parse()?],
    };
    ctx.flush().await?; // requests written earlier in this transaction
    let requests = store::deletion::list(ctx.conn, &states, 50).await?;
    if requests.is_empty() {
        return Ok(Reply::private(Message::text(format!(
            "No deletion requests ({filter})."
        ))));
    }
    let mut m = Message::text(format!("Deletion requests ({filter}):"));
    for (n, r) in requests {
        let id = RecordId::new(RecordKind::DeletionRequest, n);
        m = m.line(
            Line::new()
                .text(format!("  {id} · {} · ", r.state))
                .code(&r.target)
                .text(" · by ")
                .user(&r.requester),
        );
    }
    Ok(Reply::private(m))
}

/// Reminds devops of every request that is ready but not yet executed.
pub async fn remind_ready(ctx: &mut Ctx<'_>) -> Handled<()> {
    ctx.flush().await?;
    let ready = store::deletion::list(ctx.conn, &[State::Ready], 50).await?;
    if ready.is_empty() {
        return Ok(());
    }
    let devops = super::roles::members_of(ctx, Role::Devops).await?;
    let mut m = Message::new().line(
        Line::new()
            .text(format!(
                "⏰ {} deletion request(s) ready and waiting for ",
                ready.len()
            ))
            .role(Role::Devops, devops)
            .text(":"),
    );
    for (n, r) in ready.iter().rev() {
        let id = RecordId::new(RecordKind::DeletionRequest, *n);
        let line = Line::new().text(format!("  {id} ")).code(&r.target);
        let line = match r.cooling_off_until {
            Some(since) => line.text(" ready since ").time(since),
            None => line,
        };
        m = m.line(line);
    }
    let channels = ctx.app.config.deletion.channels.clone();
    ctx.post_all(&channels, &m).await
}

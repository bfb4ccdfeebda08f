//! Deletion requests: one row each, approvals and objections as JSON lists.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::batch::Batch;
use super::session::{Access, Session};
use super::{Tagged, from_ms, ms};
use crate::domain::deletion::{DeletionRequest, State};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    target: String,
    reason: String,
    justification: String,
    sensitivity: String,
    stakeholders: String,
    channel: String,
    requester: String,
    requester_person: String,
    needs_product: bool,
    state: String,
    held_from: Option<String>,
    cooling_off_until: Option<i64>,
    approvals: String,
    objections: String,
    created_at: i64,
    closed_note: Option<String>,
}

const COLUMNS: &str = "id, target, reason, justification, sensitivity, stakeholders, channel, requester, \
     requester_person, needs_product, state, held_from, cooling_off_until, approvals, objections, created_at, closed_note";

fn decode(row: Row) -> anyhow::Result<(i64, DeletionRequest)> {
    let Row {
        id,
        target,
        reason,
        justification,
        sensitivity,
        stakeholders,
        channel,
        requester,
        requester_person,
        needs_product,
        state,
        held_from,
        cooling_off_until,
        approvals,
        objections,
        created_at,
        closed_note,
    } = row;
    let request = DeletionRequest {
        target,
        reason: reason.parse()?,
        justification,
        sensitivity: sensitivity.parse()?,
        stakeholders: serde_json::from_str(&stakeholders)?,
        channel: channel.parse()?,
        requester: requester.parse()?,
        requester_person,
        needs_product,
        state: state.parse()?,
        held_from: held_from.map(|s| s.parse::<State>()).transpose()?,
        cooling_off_until: cooling_off_until.map(from_ms),
        approvals: serde_json::from_str(&approvals)?,
        objections: serde_json::from_str(&objections)?,
        created_at: from_ms(created_at),
        closed_note,
    };
    Ok((id, request))
}

/// Reads, in a batch, the highest request number ever given and these
/// requests (see [`prefetched_from`]).
pub fn prefetch(b: &mut Batch, ids: &[i64]) {
    b.statement(&format!("{LAST_NUMBER}, 'deletion.last' AS tag"));
    if ids.is_empty() {
        return;
    }
    b.statement(&format!(
        "SELECT {COLUMNS}, 'deletion' AS tag FROM deletion_requests WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    ));
    for id in ids {
        b.bind(*id);
    }
}

/// What [`prefetch`] found: the highest number given, and the requests.
fn prefetched_from(rows: &Tagged) -> anyhow::Result<(i64, Vec<(i64, DeletionRequest)>)> {
    let last: Vec<(i64,)> = rows.decode("deletion.last")?;
    let requests: Vec<Row> = rows.decode("deletion")?;
    Ok((
        last.first().map_or(0, |(n,)| *n),
        requests
            .into_iter()
            .map(decode)
            .collect::<anyhow::Result<_>>()?,
    ))
}

/// Saves requests (new ones under the number the caller chose, in a write
/// transaction that read the highest number given, see [`prefetch`]), in a
/// batch, one statement for all: `(number, request, when)`.
fn save_later(
    b: &mut Batch,
    rows: &[(i64, &DeletionRequest, DateTime<Utc>)],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    b.statement(&format!(
        "INSERT INTO deletion_requests (id, target, reason, justification, sensitivity, stakeholders, channel,
             requester, requester_person, needs_product, state, held_from, cooling_off_until, approvals,
             objections, created_at, updated_at, closed_note)
         VALUES {}
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, held_from = excluded.held_from,
             cooling_off_until = excluded.cooling_off_until, approvals = excluded.approvals,
             objections = excluded.objections, closed_note = excluded.closed_note,
             updated_at = excluded.updated_at",
        vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
    ));
    for (id, r, now) in rows {
        b.bind(*id)
            .bind(r.target.clone())
            .bind(r.reason.as_str())
            .bind(r.justification.clone())
            .bind(r.sensitivity.as_str())
            .bind(serde_json::to_string(&r.stakeholders)?)
            .bind(r.channel.to_string())
            .bind(r.requester.to_string())
            .bind(r.requester_person.clone())
            .bind(r.needs_product)
            .bind(r.state.as_str())
            .bind(r.held_from.map(State::as_str))
            .bind(r.cooling_off_until.map(ms))
            .bind(serde_json::to_string(&r.approvals)?)
            .bind(serde_json::to_string(&r.objections)?)
            .bind(ms(r.created_at))
            .bind(ms(*now))
            .bind(r.closed_note.clone());
    }
    Ok(())
}

/// The requests a transaction has read or written, and the highest number
/// given: an identity map, so commands of one group (see `app::group`) see
/// each other's changes, and every change is written once, with the
/// `COMMIT` or before the next statement ([`Session`] sends it).
#[derive(Debug, Default)]
pub struct Working {
    /// The highest number given, once read in this transaction.
    last: Option<i64>,
    requests: HashMap<i64, DeletionRequest>,
    /// Requests changed and not yet written, with when.
    unsaved: Vec<(i64, DateTime<Utc>)>,
}

impl Working {
    /// The working set from what [`prefetch`] read with the `BEGIN`.
    pub(super) fn from_found(found: &Tagged) -> anyhow::Result<Self> {
        if found.rows("deletion.last").next().is_none() {
            return Ok(Self::default());
        }
        let (last, requests) = prefetched_from(found)?;
        Ok(Self {
            last: Some(last),
            requests: requests.into_iter().collect(),
            unsaved: Vec::new(),
        })
    }

    /// Keeps a request's new state, to be written by [`Working::save_to`].
    fn changed(&mut self, n: i64, r: &DeletionRequest, now: DateTime<Utc>) {
        self.requests.insert(n, r.clone());
        self.unsaved.retain(|(m, _)| *m != n);
        self.unsaved.push((n, now));
    }

    /// Adds the unsaved requests to `batch` (one statement).
    pub(super) fn save_to(&mut self, batch: &mut Batch) -> anyhow::Result<()> {
        let unsaved = std::mem::take(&mut self.unsaved);
        let rows: Vec<(i64, &DeletionRequest, DateTime<Utc>)> = unsaved
            .iter()
            .filter_map(|(n, at)| self.requests.get(n).map(|r| (*n, r, *at)))
            .collect();
        save_later(batch, &rows)
    }
}

/// The highest request number ever given (AUTOINCREMENT's, or the largest id).
const LAST_NUMBER: &str =
    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'deletion_requests'), 0),
                    COALESCE((SELECT MAX(id) FROM deletion_requests), 0))";

/// Files a new request; returns its number (the n of DR-n).
pub async fn insert(
    db: &mut Session<'_>,
    r: &DeletionRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let last = match db.deletions().last {
        Some(last) => last,
        None => {
            let conn = super::conn(db).await?;
            sqlx::query_scalar::<_, i64>(LAST_NUMBER)
                .fetch_one(conn)
                .await?
        }
    };
    let n = last + 1;
    let working = db.deletions();
    working.last = Some(n);
    working.changed(n, r, now);
    Ok(n)
}

/// Saves a request's new state.
pub fn update(db: &mut Session<'_>, n: i64, r: &DeletionRequest, now: DateTime<Utc>) {
    db.deletions().changed(n, r, now);
}

/// Loads one request (what this transaction changed, or the stored one).
pub async fn get(db: &mut Session<'_>, n: i64) -> anyhow::Result<Option<DeletionRequest>> {
    if let Some(r) = db.deletions().requests.get(&n) {
        return Ok(Some(r.clone()));
    }
    let sql = format!("SELECT {COLUMNS} FROM deletion_requests WHERE id = ?");
    let conn = super::conn(db).await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(n)
        .fetch_optional(conn)
        .await?;
    let found = row.map(|r| decode(r).map(|(_, req)| req)).transpose()?;
    if let Some(r) = &found {
        db.deletions().requests.insert(n, r.clone());
    }
    Ok(found)
}

/// Lists requests in the given states (all when empty), newest first.
pub async fn list(
    db: &mut impl Access,
    states: &[State],
    limit: i64,
) -> anyhow::Result<Vec<(i64, DeletionRequest)>> {
    let conn = super::conn(db).await?;
    let filter = if states.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("WHERE state IN ({})", names.join(","))
    };
    let sql = format!("SELECT {COLUMNS} FROM deletion_requests {filter} ORDER BY id DESC LIMIT ?");
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

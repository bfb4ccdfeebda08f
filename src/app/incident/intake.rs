//! The partner HTTP intake's use-cases (the HTTP edge is `http::incidents`).
//!
//! - [`open_for_partner`]: opens an incident for the partner whose token the
//!   request carried, through the same [`open`](super::open) as `/incident
//!   open` (version check, row, audit, escalation timers, the card to the
//!   support channels), in one transaction of its own on the writer; the
//!   caller is answered after its commit. The actor is the partner's API
//!   identity ([`api_user`], no role), which may open for that partner only.
//!   With an idempotency key, a retried request gets the incident the first
//!   one opened (the key is kept per partner, with a fingerprint of the
//!   request: the same key on a different request is refused).
//! - [`view_for_partner`]: one of the partner's incidents as the partner may
//!   read it: its state and clock, the resolution, and the public timeline
//!   only (never internal notes, escalations or breaches). Another partner's
//!   incident is `None`, as an unknown one is.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Intake, Open, Partners, SupportRules};
use crate::app::context::{Handled, run_as};
use crate::app::{App, Ctx};
use crate::domain::incident::{Incident, Resolved, Severity, State, api_user};
use crate::domain::version::Semver;
use crate::domain::{ChannelRef, DomainError, Platform, RecordId, RecordKind};
use crate::store;

/// The longest idempotency key.
pub const MAX_KEY: usize = 255;

/// A request to open an incident, as the HTTP edge read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What to open (its `partner` is always the token's: any other is replaced).
    pub open: Open,
    pub contact: Option<String>,
    /// `Idempotency-Key`: a retry with the same key opens nothing new.
    pub key: Option<String>,
}

/// Checks an `Idempotency-Key`: 1 to [`MAX_KEY`] visible ASCII characters.
pub fn parse_key(key: &str) -> Result<String, DomainError> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DomainError::invalid(format!(
            "Idempotency-Key: use 1 to {MAX_KEY} visible ASCII characters, e.g. a UUID"
        )));
    }
    Ok(key.to_string())
}

/// One public line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicEntry {
    pub at: DateTime<Utc>,
    /// `opened`, `update`, `resolve`, `reopen`.
    pub what: String,
    pub text: String,
}

/// An incident as its partner reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerView {
    pub id: RecordId,
    pub severity: Severity,
    pub state: State,
    pub summary: String,
    pub service: Option<String>,
    pub version: Option<Semver>,
    /// Whether the version is supported, in words.
    pub support: Option<String>,
    pub contact: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// The first-response deadline, while the clock runs (open).
    pub deadline: Option<DateTime<Utc>>,
    pub responded_at: Option<DateTime<Utc>>,
    pub resolution: Option<Resolved>,
    pub timeline: Vec<PublicEntry>,
}

/// What became of an intake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub view: PartnerView,
    /// A retry: the incident an earlier request with the same key opened.
    pub replayed: bool,
}

/// Opens an incident for `partner` (the one its token names), or returns the
/// one an earlier request with the same idempotency key opened; answered
/// after the commit. A refusal leaves nothing behind.
pub async fn open_for_partner(app: &App, partner: &str, request: Request) -> Handled<Accepted> {
    // as if opened in the partner's shared channel
    let channel = app
        .config
        .section::<Partners>()
        .get(partner)
        .and_then(|p| p.channels.first().cloned())
        .unwrap_or_else(|| ChannelRef::new(Platform::Console, "#api"));
    run_as(
        app,
        api_user(partner),
        channel,
        "api",
        async |ctx: &mut Ctx<'_>| accept(ctx, partner, request).await,
    )
    .await
}

async fn accept(ctx: &mut Ctx<'_>, partner: &str, request: Request) -> Handled<Accepted> {
    let fingerprint = fingerprint(&request);
    if let Some(key) = &request.key
        && let Some((n, earlier)) =
            store::incident::request_by_key(&mut ctx.db, partner, key).await?
    {
        let id = RecordId::new(RecordKind::Incident, n);
        if earlier != fingerprint {
            return Err(DomainError::conflict(format!(
                "Idempotency-Key: `{key}` was used for another request, which opened {id}: send a new key with a new incident"
            ))
            .into());
        }
        let stored = store::incident::get(&mut ctx.db, n)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{id}, named by an idempotency key, is missing"))?;
        return Ok(Accepted {
            view: view(ctx.app, n, &stored.incident, ctx.now),
            replayed: true,
        });
    }
    let open = Open {
        partner: Some(partner.to_string()),
        ..request.open
    };
    let opened = super::open(
        ctx,
        open,
        Intake::Api {
            contact: request.contact,
        },
    )
    .await?;
    if let Some(key) = &request.key {
        store::incident::remember_request(
            &mut ctx.db,
            partner,
            key,
            &fingerprint,
            opened.id.n,
            ctx.now,
        )
        .await?;
    }
    Ok(Accepted {
        view: view(ctx.app, opened.id.n, &opened.incident, ctx.now),
        replayed: false,
    })
}

/// SHA-256 of the request's fields (not of its bytes: the same request
/// sent again with other spacing or key order is the same request).
fn fingerprint(r: &Request) -> String {
    let fields = serde_json::json!([
        r.open.severity.as_str(),
        r.open.summary,
        r.open.service,
        r.open.version.map(|v| v.to_string()),
        r.contact,
    ]);
    hex::encode(Sha256::digest(fields.to_string().as_bytes()))
}

/// Incident `id` as `partner` may read it: `None` when there is no such
/// incident or it is another partner's (the caller cannot tell which).
pub async fn view_for_partner(
    app: &App,
    partner: &str,
    id: RecordId,
) -> anyhow::Result<Option<PartnerView>> {
    let mut conn = app.db.pool.acquire().await?;
    let stored = store::incident::get(&mut conn, id.n).await?;
    let now = app.clock.now();
    Ok(stored
        .filter(|s| s.incident.partner.as_deref() == Some(partner))
        .map(|s| view(app, s.n, &s.incident, now)))
}

fn view(app: &App, n: i64, i: &Incident, now: DateTime<Utc>) -> PartnerView {
    let sla = &app.config.section::<SupportRules>().sla;
    PartnerView {
        id: RecordId::new(RecordKind::Incident, n),
        severity: i.severity,
        state: i.state,
        summary: i.summary.clone(),
        service: i.service.clone(),
        version: i.version,
        support: i.support.clone(),
        contact: i.contact.clone(),
        opened_at: i.opened_at,
        deadline: match i.state {
            State::Open => i.deadline(&app.config.calendar, sla, now),
            State::Acknowledged | State::Waiting | State::Resolved => None,
        },
        responded_at: i.responded.as_ref().map(|(at, _)| *at),
        resolution: i.resolved.clone(),
        timeline: i
            .public_timeline()
            .map(|e| PublicEntry {
                at: e.at,
                what: e.what.clone(),
                text: e.text.clone(),
            })
            .collect(),
    }
}

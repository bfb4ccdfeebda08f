//! Replay protection for the signed chat endpoints (`/slack/commands`,
//! `/slack/interactions`, `/discord/interactions`): a signature proves who
//! sent a request, not that it is new, and it stays valid for 5 minutes. So
//! each accepted request's digest (platform, signed timestamp, body) is
//! remembered until its signature is stale, and the same signed request again
//! is refused with 401 and runs nothing. Called once the signature is
//! verified and the payload read, so requests refused for those reasons
//! record nothing.
//!
//! The check must not wait for the writer (a busy writer would break the
//! platforms' 3-second rule), so it is a check-and-insert in memory, which is
//! atomic within the process, plus a read of `seen_requests` (a pool read
//! never waits for the writer) for requests received before a restart; the
//! digest is then written to `seen_requests` in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::reject::Rejection;
use crate::app::App;
use crate::store;

/// How long a digest is remembered (see [`store::replay::REMEMBER`]).
const REMEMBER: TimeDelta = store::replay::REMEMBER;

/// The digests this process has accepted, with when they were signed.
#[derive(Clone, Default)]
pub struct Guard(Arc<Mutex<Seen>>);

#[derive(Default)]
struct Seen {
    digests: HashMap<[u8; 32], DateTime<Utc>>,
    pruned_at: Option<DateTime<Utc>>,
}

impl Guard {
    /// Inserts `digest`; false when it was there already.
    fn insert(&self, digest: [u8; 32], signed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            // a panic elsewhere while holding the lock: fall back to the table
            return true;
        };
        // forget stale digests every few seconds, so the map stays as large
        // as the requests of the last few minutes and a check stays O(1)
        if seen
            .pruned_at
            .is_none_or(|at| now - at > TimeDelta::seconds(10))
        {
            seen.digests.retain(|_, at| *at >= now - REMEMBER);
            seen.pruned_at = Some(now);
        }
        seen.digests.insert(digest, signed_at).is_none()
    }
}

/// Refuses a request already received; remembers it otherwise.
pub(super) async fn first_time(
    app: &App,
    guard: &Guard,
    platform: &str,
    timestamp: Option<&str>,
    body: &[u8],
) -> Result<(), Rejection> {
    let now = app.clock.now();
    let timestamp = timestamp.unwrap_or_default();
    let signed_at = timestamp
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or(now);
    let mut digest = Sha256::new();
    for part in [
        platform.as_bytes(),
        b"\n",
        timestamp.as_bytes(),
        b"\n",
        body,
    ] {
        digest.update(part);
    }
    let digest: [u8; 32] = digest.finalize().into();
    let seen_before = !guard.insert(digest, signed_at, now)
        || match app.db.pool.acquire().await {
            Ok(mut conn) => store::replay::seen(&mut conn, &digest)
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
    if seen_before {
        metrics::counter!("shipmate_http_replays_total", "platform" => platform.to_string())
            .increment(1);
        tracing::warn!(platform, "refused a replayed signed request");
        return Err(Rejection {
            status: StatusCode::UNAUTHORIZED,
            reason: "unauthorized: this signed request was already received; a replay is refused"
                .into(),
        });
    }
    let app = app.clone();
    tokio::spawn(async move {
        let recorded = store::replay::record(
            &mut *app.db.lock().await,
            &digest,
            signed_at,
            app.clock.now() - REMEMBER,
        )
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "recording a signed request for replay protection failed");
        }
    });
    Ok(())
}

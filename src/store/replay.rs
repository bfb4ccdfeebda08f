//! Replay protection for signed chat requests: the digest of each accepted
//! request is kept while its signature would still be accepted, so the same
//! signed request sent again in that window (also after a restart) can be
//! refused. Rows past it are pruned by the statement that records a new one.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::SqliteConnection;

use super::ms;

/// How long a signed timestamp is accepted either side of now (5 minutes,
/// `platform::signature::MAX_SKEW_SECS`), plus a margin: a digest signed
/// longer ago than this cannot be replayed, so it is forgotten (here, and by
/// the retention job when no request comes to prune it).
pub const REMEMBER: TimeDelta = TimeDelta::seconds(300 + 60);

/// Whether `digest` was recorded.
pub async fn seen(conn: &mut SqliteConnection, digest: &[u8]) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM seen_requests WHERE digest = ?")
        .bind(digest)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Records `digest` (signed at `signed_at`); returns false when it was
/// recorded before. Forgets digests signed before `forget_before` (their
/// signatures are stale, so they cannot be replayed).
pub async fn record(
    conn: &mut SqliteConnection,
    digest: &[u8],
    signed_at: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let new: Vec<(i64,)> = sqlx::query_as(
        "DELETE FROM seen_requests WHERE signed_at < ?;
         INSERT INTO seen_requests (digest, signed_at) VALUES (?, ?)
             ON CONFLICT (digest) DO NOTHING RETURNING signed_at",
    )
    .bind(ms(forget_before))
    .bind(digest)
    .bind(ms(signed_at))
    .fetch_all(conn)
    .await?;
    Ok(new.len() == 1)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::store::Db;

    #[tokio::test]
    async fn a_digest_is_new_once_and_forgotten_once_stale() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let mut w = db.lock().await;
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let old = t0 - TimeDelta::minutes(10);
        assert!(!seen(&mut w, b"a").await.unwrap());
        assert!(record(&mut w, b"a", t0, old).await.unwrap());
        assert!(seen(&mut w, b"a").await.unwrap());
        assert!(!record(&mut w, b"a", t0, old).await.unwrap());
        assert!(record(&mut w, b"b", t0, old).await.unwrap());
        // once `a` and `b` are stale they are pruned
        let later = t0 + TimeDelta::minutes(10);
        assert!(
            record(&mut w, b"c", later, t0 + TimeDelta::seconds(1))
                .await
                .unwrap()
        );
        assert!(!seen(&mut w, b"a").await.unwrap());
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seen_requests")
            .fetch_one(&mut *w)
            .await
            .unwrap();
        assert_eq!(left, 1);
    }
}

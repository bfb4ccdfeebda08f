//! The version policy's releases and EOSL days.

use chrono::{DateTime, NaiveDate, Utc};

use super::session::Access;
use super::{from_ms, ms};
use crate::domain::version::Semver;

/// One recorded release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub service: String,
    pub version: Semver,
    pub notes: Option<String>,
    pub released_by: String,
    pub released_at: DateTime<Utc>,
}

type Row = (String, i64, i64, i64, Option<String>, String, i64);

fn decode((service, major, minor, patch, notes, released_by, at): Row) -> Release {
    let n = |x: i64| u64::try_from(x).unwrap_or_default();
    Release {
        service,
        version: Semver {
            major: n(major),
            minor: n(minor),
            patch: n(patch),
        },
        notes,
        released_by,
        released_at: from_ms(at),
    }
}

fn int(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// Records a release; `false` when that version of the service is recorded already.
pub async fn insert_release(db: &mut impl Access, r: &Release) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT OR IGNORE INTO version_releases (service, major, minor, patch, notes, released_by, released_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.service)
    .bind(int(r.version.major))
    .bind(int(r.version.minor))
    .bind(int(r.version.patch))
    .bind(&r.notes)
    .bind(&r.released_by)
    .bind(ms(r.released_at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds release notes to a recorded release that has none; `false` when
/// the release is not recorded or has notes already.
pub async fn add_notes(
    db: &mut impl Access,
    service: &str,
    version: Semver,
    notes: &str,
) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "UPDATE version_releases SET notes = ? WHERE service = ? AND major = ? AND minor = ? AND patch = ? AND notes IS NULL",
    )
    .bind(notes)
    .bind(service)
    .bind(int(version.major))
    .bind(int(version.minor))
    .bind(int(version.patch))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The releases of one service (or of all, with `None`), by service then version.
pub async fn releases(db: &mut impl Access, service: Option<&str>) -> anyhow::Result<Vec<Release>> {
    let conn = super::conn(db).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT service, major, minor, patch, notes, released_by, released_at FROM version_releases
         WHERE ?1 IS NULL OR service = ?1 ORDER BY service, major, minor, patch",
    )
    .bind(service)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(decode).collect())
}

/// Sets (or moves) the EOSL day of a service's major version.
pub async fn set_eosl(
    db: &mut impl Access,
    service: &str,
    major: u64,
    day: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "INSERT INTO version_eosl (service, major, eosl_on, set_by, set_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (service, major) DO UPDATE SET eosl_on = excluded.eosl_on, set_by = excluded.set_by, set_at = excluded.set_at",
    )
    .bind(service)
    .bind(int(major))
    .bind(day.format("%Y-%m-%d").to_string())
    .bind(by)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The EOSL days of one service (or of all, with `None`): `(service, major, day)`.
pub async fn eosl(
    db: &mut impl Access,
    service: Option<&str>,
) -> anyhow::Result<Vec<(String, u64, NaiveDate)>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT service, major, eosl_on FROM version_eosl WHERE ?1 IS NULL OR service = ?1 ORDER BY service, major",
    )
    .bind(service)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(service, major, day)| {
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")?;
            Ok((service, u64::try_from(major).unwrap_or_default(), day))
        })
        .collect()
}

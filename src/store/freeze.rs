//! Freeze and backport windows.

use super::session::Access;
use chrono::{DateTime, Utc};

use super::batch::Batch;
use super::{Tagged, from_ms, ms};
use crate::domain::freeze::{FreezeWindow, WindowKind};

type Row = (i64, String, String, i64, i64, String, String, Option<i64>);

fn decode(
    (id, target, kind, starts_at, ends_at, reason, opened_by, ended_at): Row,
) -> anyhow::Result<(i64, FreezeWindow)> {
    Ok((
        id,
        FreezeWindow {
            target,
            kind: kind.parse()?,
            starts_at: from_ms(starts_at),
            ends_at: from_ms(ends_at),
            reason,
            opened_by,
            ended_at: ended_at.map(from_ms),
        },
    ))
}

const COLUMNS: &str = "id, target, kind, starts_at, ends_at, reason, opened_by, ended_at";

pub async fn insert(
    db: &mut impl Access,
    w: &FreezeWindow,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO freeze_windows (target, kind, starts_at, ends_at, reason, opened_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&w.target)
    .bind(w.kind.as_str())
    .bind(ms(w.starts_at))
    .bind(ms(w.ends_at))
    .bind(&w.reason)
    .bind(&w.opened_by)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

pub async fn get(db: &mut impl Access, id: i64) -> anyhow::Result<Option<FreezeWindow>> {
    let conn = super::conn(db).await?;
    let sql = format!("SELECT {COLUMNS} FROM freeze_windows WHERE id = ?");
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(decode).transpose()?.map(|(_, w)| w))
}

/// Windows in force at `at` (optionally for one target and kind).
pub async fn active(
    db: &mut impl Access,
    at: DateTime<Utc>,
    target: Option<&str>,
    kind: Option<WindowKind>,
) -> anyhow::Result<Vec<(i64, FreezeWindow)>> {
    let conn = super::conn(db).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM freeze_windows
         WHERE starts_at <= ?1 AND ends_at > ?1 AND (ended_at IS NULL OR ended_at > ?1)
           AND (?2 IS NULL OR target = ?2) AND (?3 IS NULL OR kind = ?3)
         ORDER BY ends_at"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ms(at))
        .bind(target)
        .bind(kind.map(WindowKind::as_str))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

/// Moves a window's end later (a second opening of the same window).
pub async fn extend(db: &mut impl Access, id: i64, ends_at: DateTime<Utc>) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE freeze_windows SET ends_at = ? WHERE id = ?")
        .bind(ms(ends_at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a window early.
pub async fn end(db: &mut impl Access, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE freeze_windows SET ended_at = ? WHERE id = ?")
        .bind(ms(at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every window that has not ended by `at`, current or upcoming.
pub async fn not_ended(
    db: &mut impl Access,
    at: DateTime<Utc>,
) -> anyhow::Result<Vec<(i64, FreezeWindow)>> {
    let conn = super::conn(db).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM freeze_windows WHERE ends_at > ?1 AND (ended_at IS NULL OR ended_at > ?1) ORDER BY starts_at"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ms(at))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

/// Every window that ended (or ends) after `since`, for the calendar.
pub async fn since(
    db: &mut impl Access,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<(i64, FreezeWindow)>> {
    let conn = super::conn(db).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM freeze_windows WHERE COALESCE(ended_at, ends_at) > ? ORDER BY starts_at LIMIT 500"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ms(since))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(decode).collect()
}

/// Reads every window that ended (or ends) after `since` in a batch (see [`since_from`]).
pub fn read_since(b: &mut Batch, since: DateTime<Utc>) {
    b.statement(&format!(
        "SELECT {COLUMNS}, 'freeze' AS tag FROM freeze_windows WHERE COALESCE(ended_at, ends_at) > ? ORDER BY starts_at LIMIT 500"
    ))
    .bind(ms(since));
}

/// What [`read_since`] found.
pub fn since_from(rows: &Tagged) -> anyhow::Result<Vec<(i64, FreezeWindow)>> {
    let rows: Vec<Row> = rows.decode("freeze")?;
    rows.into_iter().map(decode).collect()
}

//! SMS credits: the balance history (`sms_balances`) and the last alert per
//! condition (`sms_alerts`).

use super::session::Access;
use chrono::{DateTime, Utc};

use super::{from_ms, ms};
use crate::domain::sms::{Condition, Reading, Sent};

/// Where a balance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Command,
    Poller,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Command => "command",
            Source::Poller => "poller",
        }
    }
}

/// Records a balance.
pub async fn record(
    db: &mut impl Access,
    reading: Reading,
    source: Source,
    by: &str,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("INSERT INTO sms_balances (at, credits, source, recorded_by) VALUES (?, ?, ?, ?)")
        .bind(ms(reading.at))
        .bind(i64::try_from(reading.credits)?)
        .bind(source.as_str())
        .bind(by)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every reading from `since` on, plus the latest one before it (so the
/// current balance is known even when the window holds no reading), oldest first.
pub async fn history(db: &mut impl Access, since: DateTime<Utc>) -> anyhow::Result<Vec<Reading>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT at, credits FROM sms_balances WHERE at >= ?1
         UNION
         SELECT at, credits FROM (SELECT at, credits FROM sms_balances WHERE at < ?1 ORDER BY at DESC, id DESC LIMIT 1)
         ORDER BY at",
    )
    .bind(ms(since))
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(at, credits)| {
            Ok(Reading {
                at: from_ms(at),
                credits: u64::try_from(credits)?,
            })
        })
        .collect()
}

fn condition_key(c: Option<Condition>) -> &'static str {
    match c {
        Some(c) => c.as_str(),
        None => "poll-failed",
    }
}

/// The last alerts sent for the forecast conditions.
pub async fn sent(db: &mut impl Access) -> anyhow::Result<Vec<Sent>> {
    let conn = super::conn(db).await?;
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT condition, at, severity FROM sms_alerts")
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, at, severity)| {
            let condition = Condition::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == name)?;
            Some(Sent {
                condition,
                at: from_ms(at),
                severity: u8::try_from(severity).unwrap_or(u8::MAX),
            })
        })
        .collect())
}

/// Remembers an alert (`None`: a failed poll).
pub async fn remember(
    db: &mut impl Access,
    condition: Option<Condition>,
    at: DateTime<Utc>,
    severity: u8,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "INSERT INTO sms_alerts (condition, at, severity) VALUES (?, ?, ?)
         ON CONFLICT (condition) DO UPDATE SET at = excluded.at, severity = excluded.severity",
    )
    .bind(condition_key(condition))
    .bind(ms(at))
    .bind(i64::from(severity))
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets an alert whose condition cleared; returns whether there was one.
pub async fn forget(db: &mut impl Access, condition: Option<Condition>) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query("DELETE FROM sms_alerts WHERE condition = ?")
        .bind(condition_key(condition))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// When the last failed-poll report went out.
pub async fn poll_failure_reported(db: &mut impl Access) -> anyhow::Result<Option<DateTime<Utc>>> {
    let conn = super::conn(db).await?;
    let at: Option<i64> =
        sqlx::query_scalar("SELECT at FROM sms_alerts WHERE condition = 'poll-failed'")
            .fetch_optional(conn)
            .await?;
    Ok(at.map(from_ms))
}

//! Release runs, stored whole as JSON with their channel and state indexed.

use super::session::Access;
use chrono::{DateTime, Utc};

use super::ms;
use crate::domain::release::{Release, ReleaseState};

fn state(r: &Release) -> &'static str {
    match r.state {
        ReleaseState::Open => "open",
        ReleaseState::Closed => "closed",
        ReleaseState::Cancelled => "cancelled",
    }
}

pub async fn insert(db: &mut impl Access, r: &Release, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO releases (name, channel, state, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.name)
    .bind(r.channel.to_string())
    .bind(state(r))
    .bind(serde_json::to_string(r)?)
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

pub async fn update(
    db: &mut impl Access,
    id: i64,
    r: &Release,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE releases SET state = ?, body = ?, updated_at = ? WHERE id = ?")
        .bind(state(r))
        .bind(serde_json::to_string(r)?)
        .bind(ms(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(db: &mut impl Access, id: i64) -> anyhow::Result<Option<Release>> {
    let conn = super::conn(db).await?;
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM releases WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
}

/// The open release bound to a channel.
pub async fn open_in_channel(
    db: &mut impl Access,
    channel: &str,
) -> anyhow::Result<Option<(i64, Release)>> {
    let conn = super::conn(db).await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, body FROM releases WHERE channel = ? AND state = 'open' ORDER BY id DESC LIMIT 1")
            .bind(channel)
            .fetch_optional(conn)
            .await?;
    row.map(|(id, body)| Ok((id, serde_json::from_str(&body)?)))
        .transpose()
}

//! E-mail subscribers (`subscribers`): one row per address, pending until
//! confirmed; leaving deletes it.

use chrono::{DateTime, Utc};

use super::session::Access;
use super::{from_ms, ms};
use crate::domain::subscription::{SubscriptionState, Topic};

/// One subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub email: String,
    pub topics: Vec<Topic>,
    pub state: SubscriptionState,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

type Row = (String, String, String, String, i64);

fn decode((email, topics, state, token, created): Row) -> anyhow::Result<Subscriber> {
    Ok(Subscriber {
        email,
        topics: topics
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?,
        state: state.parse()?,
        token,
        created_at: from_ms(created),
    })
}

const COLUMNS: &str = "email, topics, state, token, created_at";

fn topics(list: &[Topic]) -> String {
    list.iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The subscriber with this address.
pub async fn by_email(db: &mut impl Access, email: &str) -> anyhow::Result<Option<Subscriber>> {
    let conn = super::conn(db).await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscribers WHERE email = ?"
    )))
    .bind(email)
    .fetch_optional(conn)
    .await?;
    row.map(decode).transpose()
}

/// The subscriber whose links carry `token`.
pub async fn by_token(db: &mut impl Access, token: &str) -> anyhow::Result<Option<Subscriber>> {
    let conn = super::conn(db).await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscribers WHERE token = ?"
    )))
    .bind(token)
    .fetch_optional(conn)
    .await?;
    row.map(decode).transpose()
}

/// Adds a pending subscriber.
pub async fn insert_pending(
    db: &mut impl Access,
    email: &str,
    list: &[Topic],
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query(
        "INSERT INTO subscribers (email, topics, state, token, created_at) VALUES (?, ?, 'pending', ?, ?)",
    )
    .bind(email)
    .bind(topics(list))
    .bind(token)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a pending subscriber's topics (asked again before confirming).
pub async fn set_topics(db: &mut impl Access, email: &str, list: &[Topic]) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE subscribers SET topics = ? WHERE email = ?")
        .bind(topics(list))
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

/// Confirms the subscriber with `token`.
pub async fn confirm(db: &mut impl Access, token: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE subscribers SET state = 'confirmed', confirmed_at = ? WHERE token = ?")
        .bind(ms(now))
        .bind(token)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes a subscriber; whether there was one.
pub async fn remove(db: &mut impl Access, email: &str) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query("DELETE FROM subscribers WHERE email = ?")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every subscriber, oldest first (at most `limit`).
pub async fn list(db: &mut impl Access, limit: i64) -> anyhow::Result<Vec<Subscriber>> {
    let conn = super::conn(db).await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscribers ORDER BY id LIMIT ?"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// The confirmed subscribers of `topic`.
pub async fn confirmed_for(db: &mut impl Access, topic: Topic) -> anyhow::Result<Vec<Subscriber>> {
    let conn = super::conn(db).await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscribers
         WHERE state = 'confirmed' AND instr(',' || topics || ',', ?) > 0 ORDER BY id"
    )))
    .bind(format!(",{},", topic.as_str()))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

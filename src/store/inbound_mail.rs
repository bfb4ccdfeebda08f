//! Mail that came in through the inbound-mail webhook, one row per
//! `Message-ID`, with what became of it (`inbound_mail`).

use chrono::{DateTime, Utc};

use super::ms;
use super::session::Access;

/// One received mail.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboundMail {
    pub id: i64,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub body: String,
    pub state: String,
    pub incident: Option<i64>,
}

const COLUMNS: &str = "id, message_id, sender, subject, body, state, incident";

/// The mail with this `Message-ID`, if it came before.
pub async fn by_message_id(
    db: &mut impl Access,
    message_id: &str,
) -> anyhow::Result<Option<InboundMail>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM inbound_mail WHERE message_id = ?"
    )))
    .bind(message_id)
    .fetch_optional(conn)
    .await?)
}

/// Mail number `id`.
pub async fn get(db: &mut impl Access, id: i64) -> anyhow::Result<Option<InboundMail>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM inbound_mail WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The mails still held, oldest first, at most `limit`.
pub async fn held(db: &mut impl Access, limit: i64) -> anyhow::Result<Vec<InboundMail>> {
    let conn = super::conn(db).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM inbound_mail WHERE state = 'held' ORDER BY id LIMIT ?"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Records a mail and what became of it; returns its number.
pub async fn insert(
    db: &mut impl Access,
    mail: &InboundMail,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT INTO inbound_mail (message_id, sender, subject, body, state, incident, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&mail.message_id)
    .bind(&mail.sender)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(&mail.state)
    .bind(mail.incident)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Records that held mail `id` was accepted into incident `n`.
pub async fn accepted(db: &mut impl Access, id: i64, n: i64) -> anyhow::Result<()> {
    let conn = super::conn(db).await?;
    sqlx::query("UPDATE inbound_mail SET state = 'accepted', incident = ? WHERE id = ?")
        .bind(n)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

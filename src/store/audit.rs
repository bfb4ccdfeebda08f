//! The append-only audit log: who did what to which record, when. Rows are
//! written through [`super::batch::Batch::audit`], with their command's COMMIT.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::from_ms;

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub platform: String,
    pub record: String,
    pub action: String,
    pub detail: String,
}

/// The history of one record, oldest first.
pub async fn for_record(
    conn: &mut SqliteConnection,
    record: &str,
) -> sqlx::Result<Vec<AuditEntry>> {
    let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT at, actor, platform, record, action, detail FROM audit_log WHERE record = ? ORDER BY id",
    )
    .bind(record)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, actor, platform, record, action, detail)| AuditEntry {
            at: from_ms(at),
            actor,
            platform,
            record,
            action,
            detail,
        })
        .collect())
}

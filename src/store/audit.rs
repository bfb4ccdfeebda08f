//! The append-only audit log: who did what to which record, when. Rows are
//! written through [`super::batch::Batch::audit`], with their command's COMMIT.

use super::session::Access;
use chrono::{DateTime, Utc};

use super::batch::Batch;
use super::{from_ms, ms};

/// Appends one multi-row `INSERT` of `rows` to `b`.
pub(super) fn insert_rows(b: &mut Batch, rows: &[AuditEntry]) {
    b.statement(&format!(
        "INSERT INTO audit_log (at, actor, platform, record, action, detail) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
    ));
    for e in rows {
        b.bind(ms(e.at))
            .bind(e.actor.clone())
            .bind(e.platform.clone())
            .bind(e.record.clone())
            .bind(e.action.clone())
            .bind(e.detail.clone());
    }
}

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
pub async fn for_record(db: &mut impl Access, record: &str) -> anyhow::Result<Vec<AuditEntry>> {
    let conn = super::conn(db).await?;
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

//! Roles granted at run time with `/role grant` (config roles live in `[roles]`).

use super::session::{Access, Session};
use chrono::{DateTime, Utc};

use super::batch::Batch;
use super::{Tagged, ms};

/// Grants a role; false when it was already granted.
pub async fn grant(
    db: &mut Session<'_>,
    role: &str,
    member: &str,
    by: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query(
        "INSERT OR IGNORE INTO role_grants (role, member, granted_by, granted_at) VALUES (?, ?, ?, ?)",
    )
    .bind(role)
    .bind(member)
    .bind(by)
    .bind(ms(at))
    .execute(conn)
    .await?;
    let granted = done.rows_affected() == 1;
    if granted {
        db.grants_changed(role, member, true);
    }
    Ok(granted)
}

/// Revokes a run-time grant; false when there was none.
pub async fn revoke(db: &mut Session<'_>, role: &str, member: &str) -> anyhow::Result<bool> {
    let conn = super::conn(db).await?;
    let done = sqlx::query("DELETE FROM role_grants WHERE role = ? AND member = ?")
        .bind(role)
        .bind(member)
        .execute(conn)
        .await?;
    let revoked = done.rows_affected() == 1;
    if revoked {
        db.grants_changed(role, member, false);
    }
    Ok(revoked)
}

/// Every run-time grant as (role, member).
pub async fn all(db: &mut impl Access) -> anyhow::Result<Vec<(String, String)>> {
    let conn = super::conn(db).await?;
    Ok(
        sqlx::query_as("SELECT role, member FROM role_grants ORDER BY role, member")
            .fetch_all(conn)
            .await?,
    )
}

/// Reads every run-time grant in a batch (see [`grants_from`]).
pub fn read_all(b: &mut Batch) {
    b.statement("SELECT role, member, 'grant' AS tag FROM role_grants ORDER BY role, member");
}

/// What [`read_all`] found, as (role, member).
pub fn grants_from(rows: &Tagged) -> sqlx::Result<Vec<(String, String)>> {
    rows.decode("grant")
}

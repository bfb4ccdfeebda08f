//! Roles granted at run time with `/role grant` (config roles live in `[roles]`).

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::batch::Batch;
use super::{Tagged, ms};

/// Grants a role; false when it was already granted.
pub async fn grant(
    conn: &mut SqliteConnection,
    role: &str,
    member: &str,
    by: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT OR IGNORE INTO role_grants (role, member, granted_by, granted_at) VALUES (?, ?, ?, ?)",
    )
    .bind(role)
    .bind(member)
    .bind(by)
    .bind(ms(at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a run-time grant; false when there was none.
pub async fn revoke(conn: &mut SqliteConnection, role: &str, member: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM role_grants WHERE role = ? AND member = ?")
        .bind(role)
        .bind(member)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every run-time grant as (role, member).
pub async fn all(conn: &mut SqliteConnection) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT role, member FROM role_grants ORDER BY role, member")
        .fetch_all(conn)
        .await
}

/// Reads every run-time grant in a batch (see [`grants_from`]).
pub fn read_all(b: &mut Batch) {
    b.statement("SELECT role, member, 'grant' AS tag FROM role_grants ORDER BY role, member");
}

/// What [`read_all`] found, as (role, member).
pub fn grants_from(rows: &Tagged) -> sqlx::Result<Vec<(String, String)>> {
    rows.decode("grant")
}

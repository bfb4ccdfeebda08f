//! `shipmate backup`: a consistent copy of the live database, taken with
//! `VACUUM INTO` on a connection of its own that only reads. The copy is one
//! read transaction's snapshot, so it holds every commit made before it
//! began, and `serve` keeps writing meanwhile (WAL: readers and the writer do
//! not block each other). It is written beside the destination, checked with
//! `PRAGMA quick_check`, then renamed into place, so a backup that fails
//! halfway never leaves a file that looks complete.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Copies the database at `url` to `dest` (which must not exist); returns its size in bytes.
pub async fn backup(url: &str, dest: &Path) -> anyhow::Result<u64> {
    if dest.exists() {
        bail!(
            "{} already exists: choose a new file name (a backup never overwrites)",
            dest.display()
        );
    }
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("database.url `{url}` is not a SQLite URL"))?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10));
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    let partial = partial_name(dest);
    let _ = std::fs::remove_file(&partial);
    let copied = sqlx::query("VACUUM INTO ?")
        .bind(partial.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .with_context(|| format!("writing {}", partial.display()));
    conn.close().await.ok();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let check = check(&partial).await;
    match check {
        Ok(()) => {
            std::fs::rename(&partial, dest)
                .with_context(|| format!("renaming {} to {}", partial.display(), dest.display()))?;
            Ok(std::fs::metadata(dest)?.len())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// `PRAGMA quick_check` on a copy.
async fn check(path: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening the copy {}", path.display()))?;
    let verdict: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(&mut conn)
        .await?;
    conn.close().await.ok();
    if verdict != ["ok"] {
        bail!("the copy failed its check: {}", verdict.join("; "));
    }
    Ok(())
}

fn partial_name(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

//! The optional SMS balance poller: `GET sms.balance_url` (bearer
//! `sms.balance_token`), the balance at JSON pointer `sms.balance_pointer`,
//! on `sms.poll_cron`.
//!
//! The cron job only *starts* a poll: the HTTP call runs in its own task,
//! outside the scheduler's write transaction, so a slow vendor never holds
//! the database lock. The result is written in a transaction of its own. A
//! failure is reported to `sms.channels` (first failure, then once a day
//! while it lasts), and the first success after failures says so.

use anyhow::Context;
use chrono::TimeDelta;

use super::config::{BalancePoll, SmsRules};
use super::credits::record_polled;
use crate::app::feature::{Job, NoPayload};
use crate::app::{App, Ctx, Line, Message};
use crate::domain::sms::parse_credits;
use crate::domain::{Actor, ChannelRef, Platform, RoleSet, UserRef};
use crate::settings::Config;
use crate::store::{self, Pending, Session};

/// The recurring poll job (`sms.poll_cron`, only with `sms.balance_url`).
pub struct Poll;

impl Job for Poll {
    const KIND: &'static str = "sms.poll";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        let poll = config.section::<SmsRules>().poll.as_ref()?;
        Some(poll.cron.clone())
    }

    async fn fire(ctx: &mut Ctx<'_>, _: NoPayload) -> anyhow::Result<()> {
        spawn(ctx.app);
        Ok(())
    }
}

/// How often a poller that keeps failing is reported.
const REPORT_EVERY: TimeDelta = TimeDelta::days(1);

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// No `sms.balance_url`: nothing to do.
    Disabled,
    Recorded(u64),
    Failed(String),
}

/// Starts a poll in the background (called when the cron job fires).
pub fn spawn(app: &App) {
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = poll_once(&app).await {
            tracing::error!(
                error = format!("{e:#}"),
                "SMS balance poll could not be stored"
            );
        }
    });
}

/// Polls the balance endpoint once and records the outcome.
pub async fn poll_once(app: &App) -> anyhow::Result<PollOutcome> {
    let Some(poll) = &app.config.section::<SmsRules>().poll else {
        return Ok(PollOutcome::Disabled);
    };
    let fetched = fetch(poll).await;
    let mut tx = app.db.begin().await?;
    let now = app.clock.now();
    let system = Actor {
        user: UserRef::console("shipmate"),
        person: "system".into(),
        roles: RoleSet::default(),
    };
    let mut pending = Pending::default();
    let mut ctx = Ctx::new(
        Session::new(&mut tx, &mut pending),
        app,
        system,
        ChannelRef::new(Platform::Console, "#shipmate"),
        now,
        ("shipmate".into(), "system".into()),
    );
    let channels = app.config.section::<SmsRules>().channels.clone();
    let outcome = match fetched {
        Ok(credits) => {
            record_polled(&mut ctx, credits)
                .await
                .map_err(anyhow::Error::from)?;
            if store::sms::forget(&mut ctx.db, None).await? {
                let m = Message::text(format!(
                    "✅ SMS balance poller recovered: read {} credits.",
                    super::credits::group(credits)
                ));
                ctx.post_all(&channels, &m);
            }
            PollOutcome::Recorded(credits)
        }
        Err(reason) => {
            tracing::warn!(reason = %reason, "SMS balance poll failed");
            let last = store::sms::poll_failure_reported(&mut ctx.db).await?;
            if last.is_none_or(|at| now - at >= REPORT_EVERY) {
                let m = Message::new()
                    .line(Line::new().text(format!("⚠️ SMS balance poll failed: {reason}")))
                    .line(Line::new().text(
                        "Check sms.balance_url / sms.balance_pointer / sms.balance_token, or record the balance by hand with /sms balance <credits>.",
                    ));
                ctx.post_all(&channels, &m);
                store::sms::remember(&mut ctx.db, None, now, 1).await?;
            }
            PollOutcome::Failed(reason)
        }
    };
    ctx.db.flush().await?;
    let effects = ctx.effects();
    drop(ctx);
    tx.commit().await.context("committing the SMS poll")?;
    app.notify(effects);
    Ok(outcome)
}

/// Fetches and reads the balance; the error is a sentence for the channel
/// (it never contains the token).
async fn fetch(poll: &BalancePoll) -> Result<u64, String> {
    let client = crate::delivery::wire::client().map_err(|e| format!("no HTTP client: {e}"))?;
    let mut request = client.get(&poll.url);
    if !poll.token.is_empty() {
        request = request.bearer_auth(poll.token.expose());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("the request failed: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the balance endpoint answered HTTP {status}"));
    }
    let body = response
        .text()
        .await
        .map_err(|e| format!("the response could not be read: {}", e.without_url()))?;
    extract_balance(&body, &poll.pointer)
}

/// Reads the balance at `pointer` (RFC 6901; empty = the whole body) from a JSON body.
pub fn extract_balance(body: &str, pointer: &str) -> Result<u64, String> {
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("the response is not JSON: {e}"))?;
    let value = if pointer.is_empty() {
        &json
    } else {
        json.pointer(pointer)
            .ok_or_else(|| format!("the response has nothing at {pointer}"))?
    };
    let found = || format!("the value at `{pointer}` is {value}, not a credit balance");
    match value {
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(u),
            (None, Some(f)) if (0.0..9.0e15).contains(&f) => Ok(f.floor() as u64),
            _ => Err(found()),
        },
        serde_json::Value::String(s) => parse_credits(s).map_err(|_| found()),
        _ => Err(found()),
    }
}

#[cfg(test)]
mod tests {
    use super::extract_balance;

    #[test]
    fn the_balance_is_read_at_the_pointer_as_number_or_text() {
        assert_eq!(
            extract_balance(r#"{"data":{"balance":1200}}"#, "/data/balance"),
            Ok(1200)
        );
        assert_eq!(
            extract_balance(r#"{"credits":"12,000"}"#, "/credits"),
            Ok(12_000)
        );
        assert_eq!(extract_balance(r#"{"credits":99.7}"#, "/credits"), Ok(99));
        assert_eq!(extract_balance("42", ""), Ok(42));
        assert_eq!(extract_balance(r#"[{"b":5}]"#, "/0/b"), Ok(5));
        let e = extract_balance(r#"{"data":{}}"#, "/data/balance").unwrap_err();
        assert!(e.contains("nothing at /data/balance"), "{e}");
        let e = extract_balance(r#"{"b":-3}"#, "/b").unwrap_err();
        assert!(e.contains("not a credit balance"), "{e}");
        let e = extract_balance(r#"{"b":true}"#, "/b").unwrap_err();
        assert!(e.contains("not a credit balance"), "{e}");
        assert!(
            extract_balance("<html>", "/b")
                .unwrap_err()
                .contains("not JSON")
        );
    }
}

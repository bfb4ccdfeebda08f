//! `/sms balance|status` and the renewal reminder: records readings, the
//! forecast from the domain, and the alerts remembered so each goes out once.

use super::SmsRules;
use crate::app::context::Handled;
use crate::app::message::{Line, Message};
use crate::app::{Ctx, Reply};
use crate::domain::DomainError;
use crate::domain::sms::{self, Alert, Condition, Forecast, Reading, Thresholds};
use crate::store::{self, sms::Source};

/// The audit record of SMS credit changes.
const RECORD: &str = "sms";

pub(super) async fn balance(ctx: &mut Ctx<'_>, credits: u64) -> Handled<Reply> {
    ctx.actor.require(
        &ctx.app.config.section::<SmsRules>().role,
        "record the SMS balance",
    )?;
    if i64::try_from(credits).is_err() {
        return Err(
            DomainError::invalid(format!("{credits} credits is more than can be stored")).into(),
        );
    }
    let reading = Reading {
        at: ctx.now,
        credits,
    };
    let by = ctx.actor.user.to_string();
    store::sms::record(&mut ctx.db, reading, Source::Command, &by).await?;
    ctx.audit(RECORD, "balance", &format!("credits={credits}"));
    let forecast = load_forecast(ctx).await?;
    if let Some(f) = &forecast {
        check_alerts(ctx, f).await?;
    }
    let mut m = Message::text(format!("Recorded {} SMS credits.", group(credits)));
    if let Some(f) = &forecast {
        m = describe(ctx, f, m);
    }
    Ok(Reply::in_channel(m))
}

pub(super) async fn status(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    match load_forecast(ctx).await? {
        Some(f) => Ok(Reply::private(describe(ctx, &f, Message::new()))),
        None => Ok(Reply::private(Message::text(
            "No SMS balance recorded yet: a devops member can record one with /sms balance <credits>.",
        ))),
    }
}

/// The forecast from the history inside `sms.window` (and the latest reading before it).
pub async fn load_forecast(ctx: &mut Ctx<'_>) -> Handled<Option<Forecast>> {
    let window = ctx.app.config.section::<SmsRules>().window;
    let history = store::sms::history(&mut ctx.db, ctx.now - window).await?;
    Ok(sms::forecast(&history, window, ctx.now))
}

fn thresholds(ctx: &Ctx<'_>) -> Thresholds {
    Thresholds {
        warn_days: ctx.app.config.section::<SmsRules>().warn_days,
        min_balance: ctx.app.config.section::<SmsRules>().min_balance,
    }
}

/// `12000` → `12,000`.
pub(super) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Appends the balance, burn rate and forecast lines to `m`.
fn describe(ctx: &Ctx<'_>, f: &Forecast, m: Message) -> Message {
    let window =
        crate::domain::timing::format_duration(ctx.app.config.section::<SmsRules>().window);
    let m = m.line(
        Line::new()
            .text(format!(
                "📱 SMS credits: {} as of ",
                group(f.latest.credits)
            ))
            .time(f.latest.at),
    );
    match (f.per_day, f.run_out) {
        (None, _) => m.line(Line::new().text(format!(
            "Burn rate: not enough history in the last {window} (record at least two balances some time apart)."
        ))),
        (Some(rate), None) => m.line(Line::new().text(format!(
            "Burn rate: {rate:.0} credits/day over the last {window} ({}); no run-out in sight.",
            crate::app::message::count(f.readings as i64, "reading", "readings")
        ))),
        (Some(rate), Some(run_out)) => m
            .line(Line::new().text(format!(
                "Burn rate: {rate:.0} credits/day over the last {window} ({}).",
                crate::app::message::count(f.readings as i64, "reading", "readings")
            )))
            .line(
                Line::new()
                    .text("Forecast run-out: ")
                    .time(run_out)
                    .text(format!(" ({}).", days_phrase(f.days_left(ctx.now)))),
            ),
    }
}

fn days_phrase(days: Option<i64>) -> String {
    match days {
        Some(d) if d < 0 => "already past".into(),
        Some(0) => "within a day".into(),
        Some(1) => "in 1 day".into(),
        Some(d) => format!("in {d} days"),
        None => "no forecast".into(),
    }
}

/// Sends the alerts that are due (at most once a day each, again when worse).
pub async fn check_alerts(ctx: &mut Ctx<'_>, f: &Forecast) -> Handled<()> {
    let sent = store::sms::sent(&mut ctx.db).await?;
    let (due, cleared) = sms::alerts(f, thresholds(ctx), &sent, ctx.now);
    for condition in cleared {
        store::sms::forget(&mut ctx.db, Some(condition)).await?;
    }
    for alert in due {
        let message = alert_message(ctx, f, alert).await?;
        let channels = ctx.app.config.section::<SmsRules>().channels.clone();
        ctx.post_all(&channels, &message);
        store::sms::remember(&mut ctx.db, Some(alert.condition), ctx.now, alert.severity).await?;
        ctx.audit(
            RECORD,
            "alert",
            &format!(
                "condition={} severity={}",
                alert.condition.as_str(),
                alert.severity
            ),
        );
    }
    Ok(())
}

async fn alert_message(ctx: &mut Ctx<'_>, f: &Forecast, alert: Alert) -> Handled<Message> {
    let app = ctx.app;
    let devops = crate::app::roles::members_of(ctx, &app.config.section::<SmsRules>().role).await?;
    let t = thresholds(ctx);
    let line = match alert.condition {
        Condition::LowBalance => Line::new().text(format!(
            "🚨 SMS credits low: {} left, under the minimum of {}. ",
            group(f.latest.credits),
            group(t.min_balance)
        )),
        Condition::RunOut => {
            let line = Line::new().text("🚨 SMS credits run out around ");
            let line = match f.run_out {
                Some(r) => line.time(r),
                None => line.text("soon"),
            };
            line.text(format!(
                " ({}, at {:.0}/day; warning at {}). ",
                days_phrase(f.days_left(ctx.now)),
                f.per_day.unwrap_or_default(),
                crate::app::message::count(i64::from(t.warn_days), "day", "days")
            ))
        }
    };
    Ok(Message::new()
        .line(
            line.role(ctx.app.config.section::<SmsRules>().role.clone(), devops)
                .text(" please renew."),
        )
        .line(Line::new().text(
            "Record the new balance with /sms balance <credits>; /sms status shows the forecast.",
        )))
}

/// The recurring renewal reminder: the status, a nudge to devops, and the alert check.
pub async fn remind(ctx: &mut Ctx<'_>) -> Handled<()> {
    let app = ctx.app;
    let devops = crate::app::roles::members_of(ctx, &app.config.section::<SmsRules>().role).await?;
    let head = Message::new().line(
        Line::new()
            .text("📅 SMS credits renewal check for ")
            .role(ctx.app.config.section::<SmsRules>().role.clone(), devops)
            .text(": please confirm the balance with /sms balance <credits>."),
    );
    let forecast = load_forecast(ctx).await?;
    let message = match &forecast {
        Some(f) => describe(ctx, f, head),
        None => head.line(Line::new().text("No balance has been recorded yet.")),
    };
    let channels = ctx.app.config.section::<SmsRules>().channels.clone();
    ctx.post_all(&channels, &message);
    if let Some(f) = &forecast {
        check_alerts(ctx, f).await?;
    }
    Ok(())
}

/// Records a balance read by the poller, then checks the alerts.
pub async fn record_polled(ctx: &mut Ctx<'_>, credits: u64) -> Handled<()> {
    let reading = Reading {
        at: ctx.now,
        credits,
    };
    store::sms::record(&mut ctx.db, reading, Source::Poller, "poller").await?;
    ctx.audit(RECORD, "polled", &format!("credits={credits}"));
    if let Some(f) = load_forecast(ctx).await? {
        check_alerts(ctx, &f).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn credits_are_grouped_by_thousands() {
        assert_eq!(super::group(0), "0");
        assert_eq!(super::group(999), "999");
        assert_eq!(super::group(12_000), "12,000");
        assert_eq!(super::group(1_234_567), "1,234,567");
    }
}

//! What people read about incidents: the card when one opens, the reply to
//! each change, the partner's update, `show`, `list` and `report`.

use chrono::{Datelike, NaiveDate, TimeDelta};

use super::{SupportRules, head, load, message_of, rules};
use crate::app::context::Handled;
use crate::app::{Ctx, Line, Message, Reply};
use crate::domain::calendar::WorkingCalendar;
use crate::domain::incident::{Entry, Incident, Severity, State, Via, median};
use crate::domain::timing::midnight;
use crate::domain::version::Semver;
use crate::domain::{DomainError, RecordId, RecordKind, UserRef};
use crate::store;

/// Business time as people say it: `4h`, `1h 30m`, `45m`.
pub fn business(d: TimeDelta) -> String {
    let minutes = d.num_minutes().max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// `d` in whole working days of `calendar`, when it is a whole number of them.
fn whole_days(d: TimeDelta, calendar: &WorkingCalendar) -> Option<i64> {
    let day = calendar.working_day().num_seconds();
    (day > 0 && d.num_seconds() >= day && d.num_seconds() % day == 0).then(|| d.num_seconds() / day)
}

/// An SLA target as configured: whole working days as such (`1 working
/// day`, the `1d` of the config), else business hours (`4h`).
pub fn sla_words(d: TimeDelta, calendar: &WorkingCalendar) -> String {
    match whole_days(d, calendar) {
        Some(n) => crate::app::message::count(n, "working day", "working days"),
        None => business(d),
    }
}

/// [`sla_words`] with the unit said: `1 working day`, `4h in business hours`.
fn sla_phrase(d: TimeDelta, calendar: &WorkingCalendar) -> String {
    match whole_days(d, calendar) {
        Some(_) => sla_words(d, calendar),
        None => format!("{} in business hours", business(d)),
    }
}

/// `{opened} by @pat`, `{opened} through the partner API (contact: …)`,
/// or `{opened} by e-mail from ops@acme.example`.
fn opened_by(line: Line, opened: &str, incident: &Incident) -> Line {
    let line = match (incident.via, &incident.contact) {
        (Via::Mail, Some(from)) => return line.text(format!("{opened} by e-mail from {from}")),
        (Via::Mail, None) => return line.text(format!("{opened} by e-mail")),
        (Via::Api, _) => line.text(format!("{opened} through the partner API")),
        (Via::Chat, _) => line.text(format!("{opened} by ")).user(&incident.opened_by),
    };
    match &incident.contact {
        Some(contact) => line.text(format!(" (contact: {contact})")),
        None => line,
    }
}

/// The card posted to the support channels (and replied) when an incident opens.
pub fn opened(ctx: &Ctx<'_>, id: RecordId, incident: &Incident) -> Message {
    let rules = rules(ctx);
    let mut lines = vec![
        opened_by(
            head(Line::new().text("🚨 "), id, incident),
            " opened",
            incident,
        )
        .text(format!(": {}", incident.summary)),
    ];
    if let Some(support) = &incident.support {
        lines.push(Line::new().text(format!("Version: {support}.")));
    }
    if let Some(due) = incident.deadline(&ctx.app.config.calendar, &rules.sla, ctx.now) {
        lines.push(
            Line::new()
                .text("First response due ")
                .time(due)
                .text(format!(
                    " ({} {}).",
                    incident.severity,
                    sla_phrase(rules.sla.of(incident.severity), &ctx.app.config.calendar)
                )),
        );
    }
    message_of(lines)
}

/// The reply to a change.
pub fn changed(ctx: &Ctx<'_>, id: RecordId, incident: &Incident, verb: &str) -> Message {
    let rules = rules(ctx);
    let calendar = &ctx.app.config.calendar;
    let line = head(Line::new(), id, incident);
    let line = match verb {
        "ack" => {
            let used = incident.clock(calendar, ctx.now);
            let sla = rules.sla.of(incident.severity);
            line.text(format!(
                " acknowledged: first response after {} of its {} SLA ({}).",
                business(used),
                sla_words(sla, &ctx.app.config.calendar),
                if used <= sla && incident.breached_at.is_none() {
                    "within the SLA"
                } else {
                    "over the SLA"
                }
            ))
        }
        "assign" => match &incident.assignee {
            Some(u) => line.text(" assigned to ").user(u).text("."),
            None => line.text(" unassigned."),
        },
        "note" => line.text(": internal note added."),
        "update" => line.text(": update sent to the partner."),
        "wait" => line.text(" is waiting on the partner: the SLA clock is paused."),
        "resume" => match incident.deadline(calendar, &rules.sla, ctx.now) {
            Some(due) => line
                .text(" resumed: first response due ")
                .time(due)
                .text("."),
            None => line.text(" resumed."),
        },
        "resolve" => line.text(format!(
            " resolved ({}); the partner is told.",
            incident
                .resolved
                .as_ref()
                .map_or("resolved".to_string(), |r| r.kind.to_string())
        )),
        "reopen" => line.text(" reopened; the partner is told."),
        other => line.text(format!(": {other}.")),
    };
    Message::new().line(line)
}

/// What the partner's channels read for an update, a resolution or a reopening.
pub fn to_partner(id: RecordId, incident: &Incident, verb: &str, text: &str) -> Message {
    // a resolution and a reopening come as whole sentences ("resolved — a
    // fix is planned in 2.5.57: …"); an update is the support role's words
    let said = match verb {
        "resolve" | "reopen" => format!(" {text}"),
        _ => format!(" update: {text}"),
    };
    Message::new()
        .line(head(Line::new().text("📣 "), id, incident).text(said))
        .line(Line::new().text(format!("“{}”", incident.summary)))
        .about(thread_key(id, incident), subject(id, incident), false)
}

/// The incident's matter for e-mail: one conversation per incident (the
/// opening time keeps it unique for the database's life). A mail answering
/// any of its mails names it (see `by_mail::incident_named`).
pub fn thread_key(id: RecordId, incident: &Incident) -> String {
    format!("inc-{}-{}", id.n, incident.opened_at.timestamp_millis())
}

fn subject(id: RecordId, incident: &Incident) -> String {
    format!("{id}: {}", incident.summary)
}

/// What the partner reads when its incident opens (by mail): the reference
/// to quote and when the first response is due under the SLA.
pub fn opened_for_partner(ctx: &Ctx<'_>, id: RecordId, incident: &Incident) -> Message {
    let rules = rules(ctx);
    let mut m = Message::new()
        .line(
            head(Line::new().text("📨 We opened "), id, incident)
                .text(format!(" for your report: “{}”", incident.summary)),
        )
        .line(Line::new().text(format!(
            "Please quote {id} in the subject of anything you send about it, or reply to this mail."
        )));
    if let Some(due) = incident.deadline(&ctx.app.config.calendar, &rules.sla, ctx.now) {
        m = m.line(
            Line::new()
                .text("Our first response is due by ")
                .time(due)
                .text(format!(
                    " (SLA for {}: {}).",
                    incident.severity,
                    sla_phrase(rules.sla.of(incident.severity), &ctx.app.config.calendar)
                )),
        );
    }
    m.about(thread_key(id, incident), subject(id, incident), true)
}

/// The fix-in versions of a resolved incident not yet released.
pub async fn open_backports(ctx: &mut Ctx<'_>, incident: &Incident) -> Handled<Vec<Semver>> {
    let (Some(resolved), Some(service)) = (&incident.resolved, &incident.service) else {
        return Ok(Vec::new());
    };
    let released: Vec<Semver> = store::version::releases(&mut ctx.db, Some(service))
        .await?
        .into_iter()
        .map(|r| r.version)
        .collect();
    Ok(resolved
        .fix_in
        .iter()
        .filter(|v| !released.contains(v))
        .copied()
        .collect())
}

/// `/incident show`: the incident, its clock against the SLA and its timeline.
pub async fn show(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<Reply> {
    let stored = load(ctx, id).await?;
    let i = &stored.incident;
    let rules: &SupportRules = rules(ctx);
    let calendar = &ctx.app.config.calendar;
    let sla = rules.sla.of(i.severity);
    let mut lines = vec![head(Line::new(), id, i).text(format!(" — {}: {}", i.state, i.summary))];
    let mut about = opened_by(Line::new(), "Opened", i)
        .text(" ")
        .time(i.opened_at);
    if let Some(a) = &i.assignee {
        about = about.text("; assigned to ").user(a);
    }
    lines.push(about);
    if let (Some(service), Some(version)) = (&i.service, i.version) {
        lines.push(Line::new().text(format!("Service: `{service}` {version}")));
    }
    if let Some(support) = &i.support {
        lines.push(Line::new().text(format!("Version: {support}.")));
    }
    let used = business(i.clock(calendar, ctx.now));
    let clock = match (&i.responded, i.deadline(calendar, &rules.sla, ctx.now)) {
        (Some((at, by)), _) => Line::new()
            .text(format!(
                "First response after {used} of {} (business hours), by ",
                sla_words(sla, &ctx.app.config.calendar)
            ))
            .user(by)
            .text(" ")
            .time(*at),
        (None, Some(due)) => Line::new()
            .text(format!(
                "SLA {}: {used} used; first response due ",
                sla_words(sla, &ctx.app.config.calendar)
            ))
            .time(due),
        (None, None) => Line::new().text(format!(
            "SLA {}: {used} used; paused while waiting on the partner",
            sla_words(sla, &ctx.app.config.calendar)
        )),
    };
    lines.push(clock);
    if let Some(at) = i.breached_at {
        lines.push(Line::new().text("🔥 SLA breached ").time(at));
    }
    if let Some(r) = &i.resolved {
        lines.push(Line::new().text(format!("Resolution: {} — {}", r.kind, r.text)));
        if !r.fix_in.is_empty() {
            let open = open_backports(ctx, i).await?;
            let items: Vec<String> = r
                .fix_in
                .iter()
                .map(|v| format!("{v} {}", if open.contains(v) { "open" } else { "released" }))
                .collect();
            lines.push(Line::new().text(format!("Back-ports: {}", items.join(", "))));
        }
    }
    lines.push(Line::new().text("Timeline:"));
    for e in &i.timeline {
        let line = Line::new()
            .text(if e.public { "• 📣 " } else { "• " })
            .time(e.at)
            .text(" ");
        let line = match e.by.parse::<UserRef>() {
            Ok(user) => line.user(&user),
            Err(_) => line.text(&e.by),
        };
        lines.push(line.text(format!(" {}", entry_words(e))));
    }
    Ok(Reply::private(message_of(lines)))
}

/// A timeline entry in words: `resumed: the partner answered`, `resolved
/// with a workaround: …` (never the command's keyword).
fn entry_words(e: &Entry) -> String {
    let label = match e.what.as_str() {
        // their text is a whole sentence (older rows: the kind, then the text)
        "resolve" if e.text.starts_with("resolved") => return e.text.clone(),
        "reopen" if e.text.starts_with("reopened") => return e.text.clone(),
        "resolve" => "resolved",
        "reopen" => "reopened",
        "ack" => "acknowledged",
        "assign" => return e.text.clone(),
        "update" => "update to the partner",
        "wait" => "waiting on the partner",
        "resume" => "resumed",
        "breach" => "SLA breached",
        other => other,
    };
    format!("{label}: {}", e.text)
}

/// `/incident list`.
pub async fn list(ctx: &mut Ctx<'_>, filter: &store::incident::Filter) -> Handled<Reply> {
    let found = store::incident::list(&mut ctx.db, filter, 50).await?;
    if found.is_empty() {
        return Ok(Reply::private(Message::text(
            "No incident matches: /incident list state:all shows every one.",
        )));
    }
    let rules = rules(ctx);
    let calendar = &ctx.app.config.calendar;
    let lines = found
        .iter()
        .map(|s| {
            let id = RecordId::new(RecordKind::Incident, s.n);
            let line = head(Line::new().text("• "), id, &s.incident)
                .text(format!(" {} — {}", s.incident.state, s.incident.summary));
            match s.incident.deadline(calendar, &rules.sla, ctx.now) {
                Some(due) if s.incident.state == State::Open => {
                    line.text(" (due ").time(due).text(")")
                }
                _ => line,
            }
        })
        .collect();
    Ok(Reply::private(message_of(lines)))
}

/// `/incident report`: per severity, the month's incidents, median and
/// worst time to first response in business hours, and SLA attainment.
pub async fn report(ctx: &mut Ctx<'_>, month: Option<NaiveDate>) -> Handled<Reply> {
    let tz = ctx.app.config.tz;
    let first = month.unwrap_or_else(|| {
        let today = ctx.now.with_timezone(&tz).date_naive();
        today.with_day(1).unwrap_or(today)
    });
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| DomainError::invalid("month: too far in the future"))?;
    let found =
        store::incident::opened_between(&mut ctx.db, midnight(first, tz)?, midnight(next, tz)?)
            .await?;
    let rules = rules(ctx);
    let calendar = &ctx.app.config.calendar;
    let mut lines = vec![Line::new().text(format!(
        "Incidents opened in {} (first response in business hours):",
        first.format("%B %Y")
    ))];
    for severity in Severity::ALL {
        let of: Vec<&Incident> = found
            .iter()
            .map(|s| &s.incident)
            .filter(|i| i.severity == *severity)
            .collect();
        let mut times: Vec<TimeDelta> = of
            .iter()
            .filter_map(|i| i.responded.as_ref().map(|(at, _)| i.clock(calendar, *at)))
            .collect();
        let verdicts: Vec<bool> = of
            .iter()
            .filter_map(|i| i.met_sla(calendar, &rules.sla))
            .collect();
        let met = verdicts.iter().filter(|m| **m).count();
        let breaches = of.iter().filter(|i| i.breached_at.is_some()).count();
        let worst = times.iter().max().copied();
        let median = median(&mut times);
        let mut text = format!(
            "{severity} (SLA {}): {} incident{}",
            sla_words(rules.sla.of(*severity), calendar),
            of.len(),
            if of.len() == 1 { "" } else { "s" }
        );
        if let (Some(median), Some(worst)) = (median, worst) {
            text.push_str(&format!(
                "; first response median {}, worst {}",
                business(median),
                business(worst)
            ));
        }
        if !verdicts.is_empty() {
            text.push_str(&format!(
                "; SLA met {met} of {} ({}%)",
                verdicts.len(),
                met * 100 / verdicts.len()
            ));
        }
        if breaches > 0 {
            text.push_str(&format!(
                "; {breaches} breach{}",
                if breaches == 1 { "" } else { "es" }
            ));
        }
        lines.push(Line::new().text(format!("• {text}")));
    }
    Ok(Reply::private(message_of(lines)))
}

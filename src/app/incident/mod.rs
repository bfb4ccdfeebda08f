//! `/incident`: partner incidents with a response SLA counted in business
//! hours of `[calendar]`, escalation levels from `[support]`, updates to the
//! partner's shared channels (`[partners.<name>]`), and the version policy
//! checked on open. The state machine and the clock are
//! `domain::incident`; this module turns its effects into posts and timers.
//! Partners also raise and follow incidents over HTTP ([`intake`], served by
//! `http::incidents`), through the same [`open`] as `/incident open`.

pub mod by_mail;
mod command;
mod config;
pub mod intake;
mod jobs;
mod views;

pub use command::{INCIDENT, IncidentCommand, Open};
pub use config::{Partners, SupportRules};
pub use jobs::{BackportReminder, Escalate, EscalatePayload};

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, Runs};
use super::{Ctx, Line, Message, Reply};
use crate::domain::incident::{
    Effect, Event, Incident, Report, Resolution, Resolved, Via, api_user,
};
use crate::domain::version::{Verdict, check as verdict};
use crate::domain::{DomainError, RecordId, RecordKind};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, SectionCheck};
use crate::store;

/// The support-desk feature.
pub struct Incidents;

impl Feature for Incidents {
    const COMMANDS: &'static [&'static CommandSpec] = &[&INCIDENT];
    const JOBS: &'static [&'static dyn JobRunner] =
        &[&Runs::<Escalate>::NEW, &Runs::<BackportReminder>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] =
        &[&Checks::<SupportRules>::NEW, &Checks::<Partners>::NEW];
    type Command = IncidentCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: IncidentCommand) -> Handled<Reply> {
        match command {
            IncidentCommand::Open(o) => {
                let opened = open(ctx, o, Intake::Chat).await?;
                Ok(Reply::in_channel(opened.card))
            }
            IncidentCommand::Ack(id) => change(ctx, id, Event::Ack).await,
            IncidentCommand::Assign { id, user } => change(ctx, id, Event::Assign(user)).await,
            IncidentCommand::Note { id, text } => change(ctx, id, Event::Note(text)).await,
            IncidentCommand::Update { id, text } => change(ctx, id, Event::Update(text)).await,
            IncidentCommand::Wait { id, reason } => change(ctx, id, Event::Wait(reason)).await,
            IncidentCommand::Resume(id) => change(ctx, id, Event::Resume).await,
            IncidentCommand::Resolve {
                id,
                kind,
                fix_in,
                text,
            } => change(ctx, id, Event::Resolve(Resolved { kind, text, fix_in })).await,
            IncidentCommand::Reopen(id) => change(ctx, id, Event::Reopen).await,
            IncidentCommand::AcceptMail {
                mail,
                partner,
                severity,
            } => by_mail::accept(ctx, mail, partner, severity).await,
            IncidentCommand::Held => by_mail::held(ctx).await,
            IncidentCommand::Show(id) => views::show(ctx, id).await,
            IncidentCommand::List {
                severity,
                state,
                all,
                partner,
            } => {
                let filter = store::incident::Filter {
                    severity,
                    state,
                    all_states: all,
                    partner,
                };
                views::list(ctx, &filter).await
            }
            IncidentCommand::Report { month } => views::report(ctx, month).await,
        }
    }
}

fn rules<'a>(ctx: &Ctx<'a>) -> &'a SupportRules {
    ctx.app.config.section::<SupportRules>()
}

/// Where an incident is raised from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// `/incident open` in a channel: for the partner it names, or the
    /// partner whose shared channel it is.
    Chat,
    /// The partner's HTTP intake (`POST /api/v1/incidents`): the actor is the
    /// partner's API identity ([`api_user`]), which opens for that partner only.
    Api { contact: Option<String> },
    /// A mail from one of the partner's `emails` (`by_mail`): the actor is
    /// the partner's API identity, `from` the sender (its contact).
    Mail { from: String },
}

/// An incident just opened: its id, the incident as stored, and its card.
#[derive(Debug, Clone)]
pub struct Opened {
    pub id: RecordId,
    pub incident: Incident,
    pub card: Message,
}

/// Opens an incident (anyone may): the version check, the row, the audit
/// row naming the partner (and contact), the escalation timers and the card
/// to the support channels, all in the caller's transaction. `/incident
/// open` and the HTTP intake both open through here.
pub async fn open(ctx: &mut Ctx<'_>, open: Open, intake: Intake) -> Handled<Opened> {
    let partners = ctx.app.config.section::<Partners>();
    let partner = match &open.partner {
        Some(name) => {
            if partners.get(name).is_none() {
                let names: Vec<&str> = partners.names().collect();
                return Err(DomainError::not_found(format!(
                    "partner: `{name}` is not configured: {}",
                    if names.is_empty() {
                        "add it as [partners.<name>] in the configuration".to_string()
                    } else {
                        format!("the partners are {}", names.join(", "))
                    }
                ))
                .into());
            }
            // in a partner's shared channel, incidents are that partner's
            if let (Intake::Chat, Some(own)) = (&intake, partners.of_channel(&ctx.channel))
                && own != name
            {
                return Err(DomainError::forbidden(format!(
                    "partner: this channel is shared with `{own}`, so its incidents are {own}'s: leave partner: out, or open it from the team's own channel"
                ))
                .into());
            }
            Some(name.clone())
        }
        None => match intake {
            Intake::Chat => partners.of_channel(&ctx.channel).map(str::to_string),
            Intake::Api { .. } | Intake::Mail { .. } => None,
        },
    };
    let (contact, via) = match intake {
        Intake::Chat => (None, Via::Chat),
        Intake::Api { .. } | Intake::Mail { .. } => {
            // a partner's API identity opens for that partner, never another
            if partner.as_deref().map(api_user).as_ref() != Some(&ctx.actor.user) {
                return Err(DomainError::forbidden(format!(
                    "{} opens incidents for its own partner only",
                    ctx.actor.user
                ))
                .into());
            }
            match intake {
                Intake::Mail { from } => (Some(from), Via::Mail),
                Intake::Api { contact } => (contact, Via::Api),
                Intake::Chat => (None, Via::Chat),
            }
        }
    };
    let support = match (&open.service, open.version) {
        (Some(service), Some(version)) => {
            let releases = store::version::releases(&mut ctx.db, Some(service)).await?;
            let eosl = store::version::eosl(&mut ctx.db, Some(service)).await?;
            let today = ctx.now.with_timezone(&ctx.app.config.tz).date_naive();
            let v = verdict(
                &releases.into_iter().map(|r| r.version).collect::<Vec<_>>(),
                &eosl.into_iter().map(|(_, m, d)| (m, d)).collect::<Vec<_>>(),
                version,
                today,
            );
            (v != Verdict::NoReleases).then(|| format!("`{service}` {}", v.describe(version)))
        }
        (None, Some(_)) => {
            return Err(DomainError::invalid(
                "version: say which service runs it too, e.g. service:portal version:2.5.56",
            )
            .into());
        }
        _ => None,
    };
    let report = Report {
        severity: open.severity,
        summary: open.summary,
        service: open.service,
        version: open.version,
        partner,
        support,
        contact,
        via,
    };
    let incident = Incident::open(report, &ctx.actor.user, &ctx.channel, ctx.now)?;
    let n = store::incident::insert(&mut ctx.db, &incident, ctx.now).await?;
    let id = RecordId::new(RecordKind::Incident, n);
    let mut detail = format!(
        "severity={} partner={}",
        incident.severity,
        incident.partner.as_deref().unwrap_or("-")
    );
    match incident.via {
        Via::Chat => {}
        Via::Api => detail.push_str(" via=api"),
        Via::Mail => detail.push_str(" via=mail"),
    }
    if let Some(contact) = &incident.contact {
        detail.push_str(&format!(" contact={contact}"));
    }
    detail.push_str(&format!(" summary={}", incident.summary));
    ctx.audit(&id.to_string(), "opened", &detail);
    schedule_timers(ctx, n, &incident);
    let card = views::opened(ctx, id, &incident);
    let channels = rules(ctx).channels.clone();
    ctx.post_all(&channels, &card);
    // a partner reached by mail learns its reference and the SLA
    if let Some(mail) = incident
        .partner
        .as_deref()
        .and_then(|p| partner_mail(ctx, p))
    {
        let notice = views::opened_for_partner(ctx, id, &incident);
        ctx.post(&mail, &notice, None);
    }
    Ok(Opened { id, incident, card })
}

/// Applies one change by the support role.
async fn change(ctx: &mut Ctx<'_>, id: RecordId, event: Event) -> Handled<Reply> {
    let role = rules(ctx).role.clone();
    let verb = event.verb();
    ctx.actor.require(&role, &format!("{verb} incidents"))?;
    let mut stored = load(ctx, id).await?;
    if let Event::Resolve(r) = &event
        && r.kind == Resolution::PatchPlanned
        && stored.incident.service.is_none()
    {
        return Err(DomainError::invalid(format!(
            "fix-in: {id} names no service, so its back-ports cannot be tracked: open it with service:<name>, or resolve it with another resolution"
        ))
        .into());
    }
    let detail = match &event {
        Event::Assign(u) => u.to_string(),
        Event::Note(t) | Event::Update(t) | Event::Wait(t) => t.clone(),
        Event::Resolve(r) => format!(
            "{} fix-in={} {}",
            r.kind,
            r.fix_in
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            r.text
        ),
        Event::Ack | Event::Resume | Event::Reopen => String::new(),
    };
    let calendar = ctx.app.config.calendar.clone();
    let effects = stored
        .incident
        .apply(event, &ctx.actor.user, &calendar, ctx.now)
        .map_err(|e| DomainError::conflict(format!("{id} cannot {verb}: {e}")))?;
    store::incident::update(&mut ctx.db, stored.n, &stored.incident, ctx.now).await?;
    ctx.audit(&id.to_string(), verb, &detail);
    for effect in effects {
        match effect {
            Effect::CancelTimers => {
                store::jobs::cancel_for(&mut ctx.db, Escalate::KIND, &jobs::prefix(id)).await?;
            }
            Effect::ScheduleTimers => schedule_timers(ctx, stored.n, &stored.incident),
            Effect::TellPartner(text) => {
                let message = views::to_partner(id, &stored.incident, verb, &text);
                let channels = partner_channels(ctx, &stored.incident);
                ctx.post_all(&channels, &message);
            }
        }
    }
    Ok(Reply::in_channel(views::changed(
        ctx,
        id,
        &stored.incident,
        verb,
    )))
}

/// The partner's shared channels and, with e-mail on, its `emails`
/// (`email:<partner>`); without any, the channel the incident was opened in
/// (none for one raised through the HTTP intake: its partner reads its
/// updates with `GET /api/v1/incidents/INC-n`).
fn partner_channels(ctx: &Ctx<'_>, incident: &Incident) -> Vec<crate::domain::ChannelRef> {
    let shared = incident
        .partner
        .as_deref()
        .map(|name| partner_reach(ctx, name))
        .unwrap_or_default();
    if !shared.is_empty() || incident.via != Via::Chat {
        shared
    } else {
        vec![incident.opened_in.clone()]
    }
}

/// Where partner `name` is reached: its shared channels, then `email:<name>`
/// when it has addresses and e-mail is on.
fn partner_reach(ctx: &Ctx<'_>, name: &str) -> Vec<crate::domain::ChannelRef> {
    let Some(p) = ctx.app.config.section::<Partners>().get(name) else {
        return Vec::new();
    };
    let mut channels = p.channels.clone();
    if let Some(mail) = partner_mail(ctx, name) {
        channels.push(mail);
    }
    channels
}

/// `email:<name>`, when partner `name` has addresses and e-mail is on.
fn partner_mail(ctx: &Ctx<'_>, name: &str) -> Option<crate::domain::ChannelRef> {
    let p = ctx.app.config.section::<Partners>().get(name)?;
    (ctx.app.config.mail.is_some() && !p.emails.is_empty())
        .then(|| crate::domain::ChannelRef::new(crate::domain::Platform::Email, name))
}

async fn load(ctx: &mut Ctx<'_>, id: RecordId) -> Handled<store::incident::Stored> {
    store::incident::get(&mut ctx.db, id.n)
        .await?
        .ok_or_else(|| {
            DomainError::not_found(format!(
                "{id} does not exist: /incident list shows the open ones"
            ))
            .into()
        })
}

/// Schedules every escalation level of the incident's severity, and the
/// breach, on the response clock of its current epoch.
fn schedule_timers(ctx: &mut Ctx<'_>, n: i64, incident: &Incident) {
    let rules = rules(ctx);
    let calendar = &ctx.app.config.calendar;
    let sla = rules.sla.of(incident.severity);
    let mut due = Vec::new();
    for (index, level) in rules.levels(incident.severity) {
        if incident.escalated.contains(&index) {
            continue;
        }
        if let Some(at) = incident.when_clock_reaches(calendar, level.at.offset(sla), ctx.now) {
            due.push((Some(index), at));
        }
    }
    if let Some(at) = incident.when_clock_reaches(calendar, sla, ctx.now) {
        due.push((None, at));
    }
    for (level, at) in due {
        let payload = EscalatePayload {
            n,
            epoch: incident.epoch,
            level,
        };
        Escalate::schedule(ctx, &payload, at);
    }
}

/// Adds the incident's name to `line`: `INC-3 (P1, acme)`.
fn head(line: Line, id: RecordId, incident: &Incident) -> Line {
    let mut line = line
        .bold(id.to_string())
        .text(format!(" ({}", incident.severity));
    if let Some(p) = &incident.partner {
        line = line.text(format!(", {p}"));
    }
    line.text(")")
}

/// A message of these lines.
fn message_of(lines: Vec<Line>) -> Message {
    lines.into_iter().fold(Message::new(), Message::line)
}

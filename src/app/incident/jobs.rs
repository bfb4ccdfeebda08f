//! The incident timers: each escalation level and the breach
//! ([`Escalate`], one job per level per clock epoch), and the weekly
//! reminder of back-ports still unreleased ([`BackportReminder`]).

use serde::{Deserialize, Serialize};

use super::config::{Notify, SupportRules};
use super::views::{business, open_backports};
use super::{head, message_of, rules};
use crate::app::Ctx;
use crate::app::feature::{Job, NoPayload};
use crate::app::message::{Line, Message};
use crate::app::roles::members_of;
use crate::domain::{RecordId, RecordKind};
use crate::settings::Config;
use crate::store;

/// One escalation level (or the breach) of one incident.
pub struct Escalate;

/// Payload of [`Escalate`]: the incident, the clock epoch the timer was set
/// on (an older epoch does nothing), and the level (`None`: the breach).
#[derive(Debug, Serialize, Deserialize)]
pub struct EscalatePayload {
    pub n: i64,
    pub epoch: u32,
    pub level: Option<usize>,
}

/// The dedup-key prefix of every timer of one incident (the trailing `:`
/// keeps INC-1 from matching INC-10).
pub fn prefix(id: RecordId) -> String {
    format!("{}:{id}:", Escalate::KIND)
}

impl Job for Escalate {
    const KIND: &'static str = "incident.escalate";
    type Payload = EscalatePayload;

    fn dedup_key(p: &EscalatePayload) -> Option<String> {
        let id = RecordId::new(RecordKind::Incident, p.n);
        let level = p.level.map_or("breach".to_string(), |l| format!("l{l}"));
        Some(format!("{}e{}:{level}", prefix(id), p.epoch))
    }

    async fn fire(ctx: &mut Ctx<'_>, p: EscalatePayload) -> anyhow::Result<()> {
        let id = RecordId::new(RecordKind::Incident, p.n);
        let Some(mut stored) = store::incident::get(&mut ctx.db, p.n).await? else {
            return Ok(());
        };
        let incident = &mut stored.incident;
        if incident.epoch != p.epoch {
            return Ok(());
        }
        let rules = rules(ctx).clone();
        let sla = rules.sla.of(incident.severity);
        let message = match p.level {
            Some(index) => {
                // the matrix may have changed since the timer was set
                let Some(level) = rules
                    .escalation
                    .get(index)
                    .filter(|l| l.severity == incident.severity)
                else {
                    return Ok(());
                };
                let text = format!(
                    "no first response after {} of the {} SLA",
                    business(level.at.offset(sla)),
                    super::views::sla_words(sla, &ctx.app.config.calendar)
                );
                if !incident.escalate(index, ctx.now, text.clone()) {
                    return Ok(());
                }
                ctx.audit(&id.to_string(), "escalated", &format!("level={index}"));
                let mut line =
                    head(Line::new().text("⏫ "), id, incident).text(format!(": {text} — "));
                for (i, who) in level.notify.iter().enumerate() {
                    if i > 0 {
                        line = line.text(", ");
                    }
                    line = mention(ctx, &rules, line, who, incident.assignee.as_ref()).await?;
                }
                Message::new()
                    .line(line)
                    .line(Line::new().text(format!("“{}”", incident.summary)))
            }
            None => {
                if !incident.breach(ctx.now) {
                    return Ok(());
                }
                ctx.audit(
                    &id.to_string(),
                    "breach",
                    &format!(
                        "sla={}",
                        super::views::sla_words(sla, &ctx.app.config.calendar)
                    ),
                );
                let members = members_of(ctx, &rules.role).await?;
                Message::new().line(
                    head(Line::new().text("🔥 "), id, incident)
                        .text(format!(
                            " breached its response SLA ({}): ",
                            super::views::sla_words(sla, &ctx.app.config.calendar)
                        ))
                        .role(rules.role.clone(), members),
                )
            }
        };
        store::incident::update(&mut ctx.db, stored.n, &stored.incident, ctx.now).await?;
        ctx.post_all(&rules.channels, &message);
        Ok(())
    }
}

/// Adds who a level tells to `line`.
async fn mention(
    ctx: &mut Ctx<'_>,
    rules: &SupportRules,
    line: Line,
    who: &Notify,
    assignee: Option<&crate::domain::UserRef>,
) -> anyhow::Result<Line> {
    Ok(match (who, assignee) {
        (Notify::Assignee, Some(user)) | (Notify::User(user), _) => {
            line.users(std::slice::from_ref(user))
        }
        (Notify::Assignee, None) => {
            let members = members_of(ctx, &rules.role).await?;
            line.role(rules.role.clone(), members)
        }
        (Notify::Role(role), _) => {
            let members = members_of(ctx, role).await?;
            line.role(role.clone(), members)
        }
    })
}

/// Reminds the support channels of back-ports not yet released
/// (`support.backport_reminder_cron`).
pub struct BackportReminder;

impl Job for BackportReminder {
    const KIND: &'static str = "incident.backports";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        Some(
            config
                .section::<SupportRules>()
                .backport_reminder_cron
                .clone(),
        )
    }

    async fn fire(ctx: &mut Ctx<'_>, _: NoPayload) -> anyhow::Result<()> {
        let mut lines =
            vec![Line::new().text("🩹 Back-ports still open (released with /version release):")];
        for stored in store::incident::patches_planned(&mut ctx.db).await? {
            let id = RecordId::new(RecordKind::Incident, stored.n);
            let open = open_backports(ctx, &stored.incident).await?;
            if open.is_empty() {
                continue;
            }
            let versions: Vec<String> = open.iter().map(ToString::to_string).collect();
            lines.push(
                head(Line::new().text("• "), id, &stored.incident).text(format!(
                    " `{}` {} not released yet",
                    stored.incident.service.as_deref().unwrap_or("?"),
                    versions.join(", ")
                )),
            );
        }
        if lines.len() > 1 {
            let channels = rules(ctx).channels.clone();
            ctx.post_all(&channels, &message_of(lines));
        }
        Ok(())
    }
}

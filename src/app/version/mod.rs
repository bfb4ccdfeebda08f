//! `/version release|check|eosl|list`: the version policy. Releases of each
//! service are recorded (their notes posted to `versions.channels`); `n`, the
//! latest major, and `n-1` are supported until their EOSL day; EOSL notices
//! go to `versions.channels` at the `versions.eosl_notice` offsets and on the
//! day support ends. The rules are in `domain::version`.

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

mod command;
mod config;

pub use command::{VERSION, VersionCommand};
pub use config::VersionRules;

use super::context::Handled;
use super::feature::{Feature, Job, JobRunner, NoPayload, Runs};
use super::roles;
use super::{Ctx, Line, Message, Reply};
use crate::domain::DomainError;
use crate::domain::subscription::Topic;
use crate::domain::timing::{format_duration, midnight};
use crate::domain::version::{Semver, Verdict, check as verdict};
use crate::grammar::CommandSpec;
use crate::settings::{Checks, Config, SectionCheck};
use crate::store;
use crate::store::version::Release;

/// The version feature.
pub struct Versions;

impl Feature for Versions {
    const COMMANDS: &'static [&'static CommandSpec] = &[&VERSION];
    const JOBS: &'static [&'static dyn JobRunner] =
        &[&Runs::<EoslNotice>::NEW, &Runs::<RoadmapReminder>::NEW];
    const SECTIONS: &'static [&'static dyn SectionCheck] = &[&Checks::<VersionRules>::NEW];
    type Command = VersionCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: VersionCommand) -> Handled<Reply> {
        match command {
            VersionCommand::Release {
                service,
                version,
                notes,
            } => release(ctx, &service, version, notes).await,
            VersionCommand::Check { service, version } => check(ctx, &service, version).await,
            VersionCommand::Eosl {
                service,
                major,
                date,
            } => eosl(ctx, &service, major, date).await,
            VersionCommand::List { service } => list(ctx, service.as_deref()).await,
        }
    }
}

fn today(ctx: &Ctx<'_>) -> NaiveDate {
    ctx.now.with_timezone(&ctx.app.config.tz).date_naive()
}

/// The releases and EOSL days of one service, for [`verdict`].
async fn policy(ctx: &mut Ctx<'_>, service: &str) -> Handled<(Vec<Semver>, Vec<(u64, NaiveDate)>)> {
    let releases = store::version::releases(&mut ctx.db, Some(service)).await?;
    let eosl = store::version::eosl(&mut ctx.db, Some(service)).await?;
    Ok((
        releases.into_iter().map(|r| r.version).collect(),
        eosl.into_iter()
            .map(|(_, major, day)| (major, day))
            .collect(),
    ))
}

async fn release(
    ctx: &mut Ctx<'_>,
    service: &str,
    version: Semver,
    notes: Option<String>,
) -> Handled<Reply> {
    let manager = &ctx.app.config.section::<VersionRules>().manager;
    ctx.actor.require(manager, "record releases")?;
    let release = Release {
        service: service.to_string(),
        version,
        notes: notes.clone(),
        released_by: ctx.actor.user.to_string(),
        released_at: ctx.now,
    };
    if !store::version::insert_release(&mut ctx.db, &release).await? {
        // recorded already: release notes may still be added, once
        return match &notes {
            Some(url) if store::version::add_notes(&mut ctx.db, service, version, url).await? => {
                ctx.audit(
                    &format!("version:{service}"),
                    "notes",
                    &format!("version={version} notes={url}"),
                );
                post_notes(ctx, service, version, url).await?;
                Ok(Reply::in_channel(Message::text(format!(
                    "Release notes of `{service}` {version} posted to partners."
                ))))
            }
            _ => Err(DomainError::conflict(format!(
                "`{service}` {version} is recorded already{}: record the next version instead",
                if notes.is_some() {
                    " with its release notes"
                } else {
                    ""
                }
            ))
            .into()),
        };
    }
    ctx.audit(
        &format!("version:{service}"),
        "release",
        &format!(
            "version={version} notes={}",
            notes.as_deref().unwrap_or("-")
        ),
    );
    let (releases, eosl) = policy(ctx, service).await?;
    let standing = verdict(&releases, &eosl, version, today(ctx)).describe(version);
    let mut reply = format!("Recorded `{service}` {version}: {standing}.");
    // a new major moves n-1 on: say which major just lost its support
    let prior_n = releases
        .iter()
        .filter(|v| **v != version)
        .map(|v| v.major)
        .max();
    if let Some(prior_n) = prior_n.filter(|n| *n < version.major) {
        let mut dropped: Vec<u64> = releases
            .iter()
            .map(|v| v.major)
            .filter(|m| m + 1 >= prior_n && m + 1 < version.major)
            .collect();
        dropped.dedup();
        for m in dropped {
            reply.push_str(&format!(" {m}.x is no longer supported."));
        }
    }
    match &notes {
        Some(url) => {
            post_notes(ctx, service, version, url).await?;
            reply.push_str(" Release notes posted to partners.");
        }
        // a new major or minor owes partners its notes: remind the product role
        None if !releases
            .iter()
            .any(|v| *v != version && (v.major, v.minor) == (version.major, version.minor)) =>
        {
            let rules = ctx.app.config.section::<VersionRules>();
            let (role, channels) = (rules.product.clone(), rules.team_channels.clone());
            let members = roles::members_of(ctx, &role).await?;
            let message = Message::new().line(
                Line::new()
                    .text(format!("📝 `{service}` {version} is recorded without release notes: "))
                    .role(role, members)
                    .text(format!(
                        ", add them with /version release {service} {version} notes:<url> so partners get them."
                    )),
            );
            ctx.post_all(&channels, &message);
            reply.push_str(" No release notes yet: the product role is reminded.");
        }
        None => {}
    }
    Ok(Reply::in_channel(Message::text(reply)))
}

/// Posts a release's notes to the partner channels and the subscribers of releases.
async fn post_notes(ctx: &mut Ctx<'_>, service: &str, version: Semver, url: &str) -> Handled<()> {
    let message = Message::new()
        .line(Line::new().text(format!(
            "📦 `{service}` {version} is released. Release notes: {url}"
        )))
        .about(
            format!("release-{service}-{version}"),
            format!("{service} {version} is released"),
            true,
        )
        .link("Release notes", url);
    let channels = ctx.app.config.section::<VersionRules>().channels.clone();
    ctx.post_all(&channels, &message);
    super::subscribers::notify(ctx, Topic::Releases, &message).await
}

/// Reminds the product role, each quarter, to send partners the roadmap
/// (`versions.roadmap_cron`).
pub struct RoadmapReminder;

impl Job for RoadmapReminder {
    const KIND: &'static str = "version.roadmap";
    type Payload = NoPayload;

    fn cron(config: &Config) -> Option<String> {
        Some(config.section::<VersionRules>().roadmap_cron.clone())
    }

    async fn fire(ctx: &mut Ctx<'_>, _: NoPayload) -> anyhow::Result<()> {
        let local = ctx.now.with_timezone(&ctx.app.config.tz);
        let quarter = (local.month() - 1) / 3 + 1;
        let rules = ctx.app.config.section::<VersionRules>();
        let (role, channels) = (rules.product.clone(), rules.team_channels.clone());
        let members = roles::members_of(ctx, &role).await?;
        let message = Message::new().line(
            Line::new()
                .text("🗺️ ")
                .role(role, members)
                .text(format!(
                    ": the roadmap for Q{quarter} {} is due to partners; send it with the release notes of the quarter.",
                    local.year()
                )),
        );
        ctx.post_all(&channels, &message);
        Ok(())
    }
}

async fn check(ctx: &mut Ctx<'_>, service: &str, version: Semver) -> Handled<Reply> {
    let (releases, eosl) = policy(ctx, service).await?;
    let v = verdict(&releases, &eosl, version, today(ctx));
    if v == Verdict::NoReleases {
        return Err(DomainError::not_found(format!(
            "`{service}` has no release recorded: record one with /version release {service} <semver>"
        ))
        .into());
    }
    Ok(Reply::private(Message::text(format!(
        "`{service}` {version}: {}.",
        v.describe(version)
    ))))
}

async fn eosl(ctx: &mut Ctx<'_>, service: &str, major: u64, date: NaiveDate) -> Handled<Reply> {
    let manager = &ctx.app.config.section::<VersionRules>().manager;
    ctx.actor.require(manager, "schedule end of service life")?;
    let today = today(ctx);
    if date <= today {
        return Err(DomainError::invalid(format!(
            "date: {date} is not after today ({today}): give the future day support ends, e.g. date:{}",
            today + TimeDelta::days(180)
        ))
        .into());
    }
    let (releases, _) = policy(ctx, service).await?;
    if !releases.iter().any(|v| v.major == major) {
        return Err(DomainError::not_found(format!(
            "`{service}` has no {major}.x release recorded: record one with /version release, or check the major"
        ))
        .into());
    }
    let by = ctx.actor.user.to_string();
    store::version::set_eosl(&mut ctx.db, service, major, date, &by, ctx.now).await?;
    ctx.audit(
        &format!("version:{service}"),
        "eosl",
        &format!("major={major} date={date}"),
    );
    let ends = midnight(date, ctx.app.config.tz)?;
    let mut offsets = ctx.app.config.section::<VersionRules>().eosl_notice.clone();
    offsets.push(TimeDelta::zero());
    let mut scheduled = Vec::new();
    for before in offsets {
        let at = ends - before;
        if at <= ctx.now {
            continue;
        }
        let payload = EoslPayload {
            service: service.to_string(),
            major,
            date: date.to_string(),
            before_secs: before.num_seconds(),
        };
        EoslNotice::schedule(ctx, &payload, at);
        scheduled.push(if before.is_zero() {
            "on the day".to_string()
        } else {
            format!("{} before", format_duration(before))
        });
    }
    Ok(Reply::in_channel(Message::text(format!(
        "`{service}` {major}.x: support ends on {date} (EOSL). Notices to partners: {}.",
        scheduled.join(", ")
    ))))
}

async fn list(ctx: &mut Ctx<'_>, service: Option<&str>) -> Handled<Reply> {
    let releases = store::version::releases(&mut ctx.db, service).await?;
    if releases.is_empty() {
        return Ok(Reply::private(Message::text(match service {
            Some(s) => format!(
                "`{s}` has no release recorded: record one with /version release {s} <semver>"
            ),
            None => "No release is recorded: record one with /version release <service> <semver>"
                .to_string(),
        })));
    }
    let eosl = store::version::eosl(&mut ctx.db, service).await?;
    let today = today(ctx);
    let mut m = Message::text("Versions:");
    let mut services: Vec<&str> = releases.iter().map(|r| r.service.as_str()).collect();
    services.dedup();
    for s in services {
        let versions: Vec<Semver> = releases
            .iter()
            .filter(|r| r.service == s)
            .map(|r| r.version)
            .collect();
        let days: Vec<(u64, NaiveDate)> = eosl
            .iter()
            .filter(|(name, _, _)| name == s)
            .map(|(_, major, day)| (*major, *day))
            .collect();
        m = m.line(Line::new().text(format!("`{s}`")));
        // the newest release of each major, newest major first
        let mut newest: Vec<Semver> = Vec::new();
        for v in versions.iter().rev() {
            if newest.last().is_none_or(|n| n.major != v.major) {
                newest.push(*v);
            }
        }
        for v in newest {
            let text = verdict(&versions, &days, v, today).describe(v);
            m = m.line(Line::new().text(format!("  {v} · {text}")));
        }
    }
    Ok(Reply::private(m))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EoslPayload {
    pub service: String,
    pub major: u64,
    /// The EOSL day (`YYYY-MM-DD`) this notice is for: moved EOSL voids it.
    pub date: String,
    /// How long before the day it goes out (0: the day support ends).
    pub before_secs: i64,
}

/// An EOSL notice to `versions.channels`, ahead of the day or on it.
pub struct EoslNotice;

impl Job for EoslNotice {
    const KIND: &'static str = "version.eosl_notice";
    type Payload = EoslPayload;

    fn dedup_key(p: &EoslPayload) -> Option<String> {
        Some(format!(
            "{}:{}:{}:{}:{}",
            Self::KIND,
            p.service,
            p.major,
            p.date,
            p.before_secs
        ))
    }

    async fn fire(ctx: &mut Ctx<'_>, payload: EoslPayload) -> anyhow::Result<()> {
        notice(ctx, payload).await.map_err(anyhow::Error::from)
    }
}

async fn notice(ctx: &mut Ctx<'_>, p: EoslPayload) -> Handled<()> {
    let days = store::version::eosl(&mut ctx.db, Some(&p.service)).await?;
    let current = days
        .iter()
        .find(|(_, major, _)| *major == p.major)
        .map(|(_, _, day)| day.to_string());
    if current.as_deref() != Some(p.date.as_str()) {
        return Ok(());
    }
    let releases = store::version::releases(&mut ctx.db, Some(&p.service)).await?;
    let upgrade = releases
        .iter()
        .map(|r| r.version)
        .max()
        .map(|v| format!("upgrade to {v}"))
        .unwrap_or_else(|| "upgrade".to_string());
    let (service, major, date) = (&p.service, p.major, &p.date);
    let text = if p.before_secs > 0 {
        format!(
            "📅 `{service}` {major}.x reaches its end of service life on {date} (in {}): support ends that day; {upgrade} before then.",
            format_duration(TimeDelta::seconds(p.before_secs))
        )
    } else {
        format!(
            "⛔ `{service}` {major}.x has reached its end of service life today ({date}): it is no longer supported; {upgrade}."
        )
    };
    // every notice of one major's end of life is one mail thread
    let message = Message::text(text).about(
        format!("eosl-{service}-{major}"),
        format!("{service} {major}.x: end of service life on {date}"),
        false,
    );
    let channels = ctx.app.config.section::<VersionRules>().channels.clone();
    ctx.post_all(&channels, &message);
    super::subscribers::notify(ctx, Topic::Releases, &message).await?;
    Ok(())
}

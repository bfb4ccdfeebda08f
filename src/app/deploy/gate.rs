//! What a deploy request waits for besides approvals: the release gate its
//! target requires (signed in the channel's open release of that runbook),
//! and what refuses filing: a code freeze of the target, or — for
//! production — a time outside the release windows (`pipelines.release_windows`,
//! the same rules the pipeline runs are flagged by).

use super::{DeployRules, Target, apply_effects};
use crate::app::Ctx;
use crate::app::context::Handled;
use crate::app::pipeline::PipelineRules;
use crate::domain::deploy::{DeployRequest, GateRef, State};
use crate::domain::freeze::WindowKind;
use crate::domain::release::{Release, TaskState};
use crate::domain::release_window::{Flag, deploy_flags, is_production, next_opening};
use crate::domain::{RecordId, RecordKind};
use crate::store;

/// Why `target` cannot be deployed now (empty: nothing in the way).
pub async fn blocks(ctx: &mut Ctx<'_>, target: &Target) -> Handled<Vec<String>> {
    let freezes: Vec<_> = store::freeze::active(
        &mut ctx.db,
        ctx.now,
        Some(&target.name),
        Some(WindowKind::Freeze),
    )
    .await?
    .into_iter()
    .map(|(_, w)| w)
    .collect();
    let rules = &ctx.app.config.section::<PipelineRules>().deploy;
    let production = is_production(&target.environment);
    Ok(deploy_flags(rules, ctx.now, Some(&target.name), &freezes)
        .into_iter()
        .filter(|f| production || !matches!(f, Flag::OutsideReleaseWindow { .. }))
        .map(|f| match f {
            Flag::OutsideReleaseWindow { windows } => format!(
                "production deploys are taken inside the release windows ({}, {}){}",
                windows.join(", "),
                ctx.app.config.tz,
                next_opening(rules, ctx.now)
                    .map(|t| format!(
                        "; the next opens {}",
                        crate::app::message::local(t, ctx.app.config.tz)
                    ))
                    .unwrap_or_default()
            ),
            Flag::DuringFreeze {
                target,
                until,
                reason,
            } => format!(
                "`{target}` is in a code freeze until {} ({reason})",
                crate::app::message::local(until, ctx.app.config.tz)
            ),
        })
        .collect())
}

/// Whether `gate` is signed in `release`.
fn signed_in(release: &Release, gate: &GateRef) -> bool {
    release.template == gate.runbook
        && release
            .tasks
            .iter()
            .any(|t| t.spec.id == gate.gate && t.state == TaskState::Done)
}

/// Whether the gate `r` requires is signed (no gate required: signed).
pub async fn is_signed(ctx: &mut Ctx<'_>, r: &DeployRequest) -> Handled<bool> {
    let Some(gate) = &r.requires else {
        return Ok(true);
    };
    let release = store::release::open_in_channel(&mut ctx.db, &r.channel.to_string()).await?;
    Ok(release.is_some_and(|(_, release)| signed_in(&release, gate)))
}

/// When the gate `r` waits for has no release to be signed in (none of its
/// runbook open in the request's channel), what to do about it.
pub async fn no_release_to_sign(
    ctx: &mut Ctx<'_>,
    r: &DeployRequest,
    signed: bool,
) -> Handled<Option<String>> {
    let Some(gate) = r.requires.as_ref().filter(|_| !signed) else {
        return Ok(None);
    };
    let open = store::release::open_in_channel(&mut ctx.db, &r.channel.to_string()).await?;
    let hint = match open {
        Some((_, release)) if release.template == gate.runbook => return Ok(None),
        Some((_, release)) => format!(
            "No `{}` release is open in this channel (its open release runs `{}`): the gate `{}` is signed in a release of `{}`, started here with /release start <name> template:{}.",
            gate.runbook, release.template, gate.gate, gate.runbook, gate.runbook
        ),
        None => format!(
            "No release is open in this channel: the gate `{}` is signed in a release of `{}`, started here with /release start <name> template:{}.",
            gate.gate, gate.runbook, gate.runbook
        ),
    };
    Ok(Some(hint))
}

/// A gate of `release` was signed: every request in its channel waiting
/// for that gate moves on (called by the sign-off, in its transaction).
pub async fn gate_signed(ctx: &mut Ctx<'_>, release: &Release) -> Handled<()> {
    if ctx.app.config.section::<DeployRules>().targets.is_empty() {
        return Ok(());
    }
    let waiting = store::deploy::list(&mut ctx.db, &[State::WaitingGate], 200).await?;
    for (n, mut r) in waiting {
        let ready = r.channel == release.channel
            && r.requires.as_ref().is_some_and(|g| signed_in(release, g));
        if !ready {
            continue;
        }
        let id = RecordId::new(RecordKind::DeployRequest, n);
        let effects = r.gate_signed();
        store::deploy::update(&mut ctx.db, n, &r, ctx.now).await?;
        let gate = r
            .requires
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        ctx.audit(
            &id.to_string(),
            "gate.signed",
            &format!("gate={gate} state={}", r.state),
        );
        apply_effects(ctx, id, &r, effects).await?;
    }
    Ok(())
}

//! Deploy requests (`DEP-n`): a deployment asked for in chat, approved by
//! the roles its target names, held by objections, waiting for a release
//! gate when the target requires one, then triggered once on the CI.
//!
//! ```text
//! file ─▶ pending-approval ──(enough approvals)──▶ waiting-gate ──(gate signed)──▶ triggering
//!           │  ▲                 │ (gate already signed, or none required) ─────────▲   │
//!     object│  │resolve          └──────────────────────────────────────────────────┘   │
//!           ▼  │                                                                        ├─(provider started it)──▶ triggered
//!          on-hold (from pending-approval or waiting-gate)                              ├─(provider refused)────▶ refused
//!                                                                                       └─(never confirmed)─────▶ unconfirmed
//! cancel (requester or an approver role): any state before triggering ─▶ cancelled
//! ```
//!
//! Filing is refused inside a code freeze of the target, or (production)
//! outside the release windows, unless an admin overrides with a reason;
//! a request approved later is checked again before its first trigger
//! attempt ([`DeployRequest::blocked`]).
//!
//! The trigger is made at most once, across restarts: each attempt is
//! recorded (with a lease) before the provider is called, and an attempt
//! that may have reached the provider is followed by a look at the
//! provider's runs ([`Attempt::Check`]) before any new call.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::approval::{Approval, Objection, objection, refuse_uncountable, resolve_all};
use super::pipeline::{Run, Source, Status, run_key};
use super::{Actor, ChannelRef, DomainError, Role, UserRef};
use crate::text_enum;

text_enum!(
    /// Where a deploy request stands.
    State, "state" {
        PendingApproval = "pending-approval",
        OnHold = "on-hold",
        WaitingGate = "waiting-gate",
        Triggering = "triggering",
        Triggered = "triggered",
        Refused = "refused",
        Unconfirmed = "unconfirmed",
        Cancelled = "cancelled",
    }
);

text_enum!(
    /// What a request runs: a deploy of a ref, a rollback to an earlier
    /// one, or a re-run of a run.
    Kind, "kind" {
        Deploy = "deploy",
        Rollback = "rollback",
        Rerun = "rerun",
    }
);

/// A request stored before kinds existed is a deploy.
fn deploy_kind() -> Kind {
    Kind::Deploy
}

/// What a re-run repeats: a run (its attempt when asked for), all of its
/// jobs or only the failed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rerun {
    pub run_id: String,
    pub attempt: u32,
    pub failed_only: bool,
}

impl State {
    /// Still open to approvals, objections and cancelling.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            State::PendingApproval | State::OnHold | State::WaitingGate
        )
    }
}

/// A release gate a target requires: `runbook:gate` (`portal-release:validation`),
/// the gate of that runbook's open release in the request's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRef {
    pub runbook: String,
    pub gate: String,
}

impl fmt::Display for GateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.runbook, self.gate)
    }
}

impl FromStr for GateRef {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((runbook, gate)) if !runbook.trim().is_empty() && !gate.trim().is_empty() => {
                Ok(Self {
                    runbook: runbook.trim().to_string(),
                    gate: gate.trim().to_string(),
                })
            }
            _ => Err(DomainError::invalid(format!(
                "`{s}` is not a release gate: write runbook:gate, e.g. portal-release:validation"
            ))),
        }
    }
}

/// Who may do what with a target's requests (from its configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Approvals needed (0: none).
    pub approvals: u32,
    /// An approval counts when its author holds one of these.
    pub approver_roles: Vec<Role>,
    /// Who may file (empty: anyone).
    pub requester_roles: Vec<Role>,
    pub requires: Option<GateRef>,
}

impl Policy {
    fn roles_text(roles: &[Role]) -> String {
        roles
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    fn may_approve(&self, by: &Actor) -> Option<Role> {
        self.approver_roles.iter().find(|r| by.has(r)).cloned()
    }
}

/// What the requester supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: Kind,
    pub target: String,
    pub environment: String,
    pub git_ref: String,
    pub reason: Option<String>,
    pub channel: ChannelRef,
    /// A rollback: the run it goes back to, in words (`run #87`).
    pub rolls_back_to: Option<String>,
    /// The exact commit asked for (a rollback to a run that recorded it, or
    /// a ref that is a full commit id): what `{commit}` inputs and a
    /// CodePipeline source override start.
    pub commit: Option<String>,
    pub rerun: Option<Rerun>,
}

/// An admin's decision to file a request despite a freeze or the release windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub by: UserRef,
    pub reason: String,
    /// What it overrode, as the refusal named it.
    pub blocks: Vec<String>,
    pub at: DateTime<Utc>,
}

/// The run the trigger started, as the provider names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLink {
    /// Whose run it is (the webhooks of the same source report it).
    #[serde(default = "github")]
    pub source: Source,
    pub id: String,
    /// The run's attempt the trigger started (a re-run is the next one).
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn github() -> Source {
    Source::Github
}

fn first_attempt() -> u32 {
    1
}

impl RunLink {
    /// The pipeline run's key, as its webhooks file it.
    pub fn run_key(&self) -> String {
        run_key(self.source, &self.id, self.attempt)
    }
}

/// The trigger's progress: every attempt is recorded before the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// Attempts begun (each one a call or a look at the provider's runs).
    pub attempts: u32,
    /// When the first call that may have reached the provider began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The attempt in flight holds the trigger until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunLink>,
    /// The provider's last word (its refusal, or why it is unconfirmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A deploy request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRequest {
    #[serde(default = "deploy_kind")]
    pub kind: Kind,
    pub target: String,
    pub environment: String,
    pub git_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub channel: ChannelRef,
    pub requester: UserRef,
    pub requester_person: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_from: Option<State>,
    pub approvals_needed: u32,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub objections: Vec<Objection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolls_back_to: Option<String>,
    /// See [`Draft::commit`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<GateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Override>,
    #[serde(default)]
    pub trigger: Trigger,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_note: Option<String>,
}

/// What happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Approve,
    Object { reason: String },
    Resolve,
    Cancel { reason: Option<String> },
}

/// What the application must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Make the trigger call (a durable job).
    Trigger,
    /// Tell the request's channel.
    Announce(Notice),
}

/// The announcements a request makes beside its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Overridden,
    Triggered,
    Refused,
    /// An attempt ended without the provider's answer: its runs are looked at before any retry.
    Unanswered {
        reason: String,
    },
    Unconfirmed,
}

/// One attempt at the trigger, begun by [`DeployRequest::begin_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing can have reached the provider yet: call it.
    Call { number: u32 },
    /// An earlier call may have reached it: look at its runs since `since` first.
    Check { number: u32, since: DateTime<Utc> },
}

impl Attempt {
    pub fn number(self) -> u32 {
        match self {
            Attempt::Call { number } | Attempt::Check { number, .. } => number,
        }
    }

    /// Since when the provider's runs are looked at (a first call: never, so `MAX`).
    pub fn since(self) -> DateTime<Utc> {
        match self {
            Attempt::Check { since, .. } => since,
            Attempt::Call { .. } => DateTime::<Utc>::MAX_UTC,
        }
    }
}

/// What [`DeployRequest::begin_attempt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Not triggering, or another attempt holds the lease.
    Nothing,
    /// Every attempt is spent: the request is left unconfirmed.
    GaveUp(Vec<Effect>),
    Attempt(Attempt),
}

/// What one attempt found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider started a run (its id, when the provider says).
    Started(Option<RunLink>),
    /// The provider refused the call, with its reason: nothing ran.
    Refused(String),
    /// No answer (a timeout, a 5xx, a dropped connection): it may have run.
    Unanswered(String),
}

/// Attempts before a request is left unconfirmed.
pub const MAX_ATTEMPTS: u32 = 5;
const MAX_TEXT: usize = 500;

impl DeployRequest {
    /// Files a request; `blocks` are the freezes and release windows in the
    /// way now (refused unless an admin `override`s them with a reason).
    pub fn file(
        draft: Draft,
        by: &Actor,
        policy: &Policy,
        blocks: Vec<String>,
        override_reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        if !policy.requester_roles.is_empty() && !policy.requester_roles.iter().any(|r| by.has(r)) {
            return Err(by.not_member(
                &policy.requester_roles,
                &format!("request a deploy of `{}`", draft.target),
            ));
        }
        let git_ref = draft.git_ref.trim().to_string();
        if git_ref.is_empty() || git_ref.len() > 250 || git_ref.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(
                "name what to deploy with ref:<branch|tag|sha>, e.g. ref:v2.4.0",
            ));
        }
        let reason = draft
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if draft.kind == Kind::Rollback && reason.is_none() {
            return Err(DomainError::invalid(
                "a rollback needs its reason: add reason:\"…\"",
            ));
        }
        if reason.as_ref().is_some_and(|r| r.len() > MAX_TEXT) {
            return Err(DomainError::invalid(format!(
                "the reason is too long: keep it under {MAX_TEXT} characters"
            )));
        }
        let overridden = match (blocks.is_empty(), override_reason) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(DomainError::invalid(format!(
                    "nothing to override: `{}` is not frozen and the release windows allow it now; file it without override:",
                    draft.target
                )));
            }
            (false, None) => {
                return Err(DomainError::forbidden(format!(
                    "`{}` cannot be deployed now: {}. An admin can file it anyway with override:\"why\"",
                    draft.target,
                    blocks.join("; ")
                )));
            }
            (false, Some(why)) => {
                by.require(&Role::ADMIN, "override a freeze or the release windows")?;
                let why = why.trim().to_string();
                if why.is_empty() || why.len() > MAX_TEXT {
                    return Err(DomainError::invalid(format!(
                        "an override needs its reason (under {MAX_TEXT} characters): override:\"why\""
                    )));
                }
                Some(Override {
                    by: by.user.clone(),
                    reason: why,
                    blocks,
                    at: now,
                })
            }
        };
        Ok(Self {
            kind: draft.kind,
            target: draft.target,
            environment: draft.environment,
            git_ref,
            reason,
            channel: draft.channel,
            requester: by.user.clone(),
            requester_person: by.person.clone(),
            state: State::PendingApproval,
            held_from: None,
            approvals_needed: policy.approvals,
            approvals: Vec::new(),
            objections: Vec::new(),
            rolls_back_to: draft.rolls_back_to,
            commit: draft.commit,
            rerun: draft.rerun,
            requires: policy.requires.clone(),
            overridden,
            trigger: Trigger::default(),
            created_at: now,
            closed_note: None,
        })
    }

    /// The effects of filing: an override is announced, and a request that
    /// needs no approval moves on at once (`gate_signed`: its gate, if any).
    pub fn filed(&mut self, gate_signed: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.overridden.is_some() {
            effects.push(Effect::Announce(Notice::Overridden));
        }
        if self.approvals_needed == 0 {
            effects.extend(self.approved(gate_signed));
        }
        effects
    }

    /// Approvals still missing.
    pub fn missing(&self) -> u32 {
        self.approvals_needed
            .saturating_sub(self.approvals.len() as u32)
    }

    /// Applies one event by one actor; on error nothing changed.
    pub fn apply(
        &mut self,
        event: Event,
        by: &Actor,
        policy: &Policy,
        gate_signed: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        match event {
            Event::Approve => self.approve(by, policy, gate_signed, now),
            Event::Object { reason } => self.object(by, &reason, now),
            Event::Resolve => self.resolve(by, policy, gate_signed),
            Event::Cancel { reason } => self.cancel(by, policy, reason),
        }
    }

    fn approve(
        &mut self,
        by: &Actor,
        policy: &Policy,
        gate_signed: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        match self.state {
            State::PendingApproval => {}
            State::OnHold => {
                return Err(DomainError::conflict(format!(
                    "this request is on hold after an objection: a {} member must resolve it before approvals continue",
                    Policy::roles_text(&policy.approver_roles)
                )));
            }
            other => {
                return Err(DomainError::conflict(format!(
                    "this request is {other}: approvals are only taken while it is pending-approval"
                )));
            }
        }
        let roles = Policy::roles_text(&policy.approver_roles);
        refuse_uncountable(&self.approvals, &self.requester_person, by, &roles)?;
        let Some(role) = policy.may_approve(by) else {
            return Err(by.not_member(
                &policy.approver_roles,
                &format!("approve deploys of `{}`", self.target),
            ));
        };
        self.approvals.push(Approval {
            by: by.user.clone(),
            person: by.person.clone(),
            role,
            at: now,
        });
        Ok(if self.missing() == 0 {
            self.approved(gate_signed)
        } else {
            Vec::new()
        })
    }

    /// Every approval is in: on to the gate, or to the trigger.
    fn approved(&mut self, gate_signed: bool) -> Vec<Effect> {
        if self.requires.is_some() && !gate_signed {
            self.state = State::WaitingGate;
            Vec::new()
        } else {
            self.state = State::Triggering;
            vec![Effect::Trigger]
        }
    }

    /// The required gate was signed: a request waiting for it moves on.
    pub fn gate_signed(&mut self) -> Vec<Effect> {
        if self.state == State::WaitingGate {
            self.approved(true)
        } else {
            Vec::new()
        }
    }

    fn object(
        &mut self,
        by: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        let objection = objection(by, reason, now)?;
        match self.state {
            State::PendingApproval | State::WaitingGate => {
                self.held_from = Some(self.state);
                self.state = State::OnHold;
            }
            State::OnHold => {}
            other => {
                return Err(DomainError::conflict(format!(
                    "this request is already {other}: objections are taken until it is triggered"
                )));
            }
        }
        self.objections.push(objection);
        Ok(Vec::new())
    }

    fn resolve(
        &mut self,
        by: &Actor,
        policy: &Policy,
        gate_signed: bool,
    ) -> Result<Vec<Effect>, DomainError> {
        if policy.may_approve(by).is_none() {
            return Err(by.not_member(&policy.approver_roles, "resolve objections"));
        }
        if self.state != State::OnHold {
            return Err(DomainError::conflict(format!(
                "this request is {}, not on-hold: there is no objection to resolve",
                self.state
            )));
        }
        resolve_all(&mut self.objections, &by.user);
        self.state = State::PendingApproval;
        match self.held_from.take() {
            Some(State::WaitingGate) => Ok(self.approved(gate_signed)),
            _ if self.missing() == 0 => Ok(self.approved(gate_signed)),
            _ => Ok(Vec::new()),
        }
    }

    fn cancel(
        &mut self,
        by: &Actor,
        policy: &Policy,
        reason: Option<String>,
    ) -> Result<Vec<Effect>, DomainError> {
        if by.person != self.requester_person && policy.may_approve(by).is_none() {
            return Err(DomainError::forbidden(format!(
                "only the requester ({}) or a {} member can cancel this request",
                self.requester,
                Policy::roles_text(&policy.approver_roles)
            )));
        }
        if !self.state.is_open() {
            return Err(DomainError::conflict(format!(
                "this request is already {}: it can no longer be cancelled",
                self.state
            )));
        }
        self.state = State::Cancelled;
        self.held_from = None;
        self.closed_note = reason.filter(|r| !r.trim().is_empty());
        Ok(Vec::new())
    }

    /// The key of the pipeline run the trigger started, once known.
    pub fn run_key(&self) -> Option<String> {
        self.trigger.run.as_ref().map(RunLink::run_key)
    }

    /// A freeze or the release windows stand in the way now, before the
    /// first attempt, of a request no admin overrode: refused, nothing runs.
    pub fn blocked(&mut self, blocks: &[String]) -> Vec<Effect> {
        if self.state != State::Triggering
            || self.trigger.attempts > 0
            || self.overridden.is_some()
            || blocks.is_empty()
        {
            return Vec::new();
        }
        self.state = State::Refused;
        self.trigger.note = Some(format!(
            "{}. File it again when that allows, or an admin may file it with override:\"why\"",
            blocks.join("; ")
        ));
        vec![Effect::Announce(Notice::Refused)]
    }

    /// Begins an attempt at the trigger, holding it for `lease`.
    pub fn begin_attempt(&mut self, now: DateTime<Utc>, lease: TimeDelta) -> Begun {
        if self.state != State::Triggering
            || self.trigger.lease_until.is_some_and(|until| now < until)
        {
            return Begun::Nothing;
        }
        if self.trigger.attempts >= MAX_ATTEMPTS {
            self.state = State::Unconfirmed;
            self.trigger.lease_until = None;
            return Begun::GaveUp(vec![Effect::Announce(Notice::Unconfirmed)]);
        }
        self.trigger.attempts += 1;
        self.trigger.lease_until = Some(now + lease);
        let number = self.trigger.attempts;
        Begun::Attempt(match self.trigger.sent_at {
            Some(since) => Attempt::Check { number, since },
            None => {
                self.trigger.sent_at = Some(now);
                Attempt::Call { number }
            }
        })
    }

    /// Records what attempt `number` found; an outcome of an attempt that
    /// is no longer the latest (or of a request no longer triggering) changes nothing.
    pub fn record(&mut self, number: u32, outcome: Outcome) -> Vec<Effect> {
        if self.state != State::Triggering || self.trigger.attempts != number {
            return Vec::new();
        }
        match outcome {
            Outcome::Started(run) => {
                self.state = State::Triggered;
                self.trigger.lease_until = None;
                self.trigger.run = run;
                self.trigger.note = None;
                vec![Effect::Announce(Notice::Triggered)]
            }
            Outcome::Refused(reason) => {
                self.state = State::Refused;
                self.trigger.lease_until = None;
                self.trigger.note = Some(reason);
                vec![Effect::Announce(Notice::Refused)]
            }
            Outcome::Unanswered(reason) => {
                // the lease stands: the next attempt, when it ends, looks first
                self.trigger.note = Some(reason.clone());
                if self.trigger.attempts >= MAX_ATTEMPTS {
                    self.state = State::Unconfirmed;
                    self.trigger.lease_until = None;
                    vec![Effect::Announce(Notice::Unconfirmed)]
                } else {
                    vec![Effect::Announce(Notice::Unanswered { reason })]
                }
            }
        }
    }
}

/// Where a rollback of a target goes: among its runs, newest first, the
/// latest that succeeded after the newest one (whatever became of that:
/// the deploy being rolled back) and recorded a branch, tag or commit to
/// go back to. `None`: no earlier success is known.
pub fn rollback_point(runs: &[Run]) -> Option<&Run> {
    runs.iter()
        .skip(1)
        .find(|r| r.status == Status::Succeeded && (r.branch.is_some() || r.commit.is_some()))
}

/// Whether `s` is a whole commit id (40 hex digits, or 64 in a SHA-256
/// repository): what a provider can start exactly.
pub fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
#[path = "deploy_tests.rs"]
mod tests;

//! Data deletion requests: the whole state machine of SPEC §5.
//!
//! ```text
//! create ─▶ pending-approval ──(enough approvals)──▶ cooling-off ──(expiry)──▶ ready ──(done, devops)──▶ done
//!                │   ▲                                   │   ▲                    │
//!           object│   │resolve                     object │   │ resolve (full period again)
//!                ▼   │                                   ▼   │                    │
//!              on-hold (from pending) ◀───────────── on-hold (from cooling-off/ready) ◀┘ object
//! cancel (requester or steward): any state before done ─▶ cancelled
//! ```
//!
//! Every rule takes `now`; [`DeletionRequest::apply`] returns the effects
//! (announcements, the expiry timer) that the application turns into outbox
//! rows and jobs in the same transaction as the new state.

use chrono::{DateTime, TimeDelta, Utc};

pub use super::approval::{Approval, Objection};
use super::approval::{objection, refuse_uncountable, resolve_all};
use super::{Actor, ChannelRef, DomainError, Role, UserRef};
use crate::text_enum;

text_enum!(
    /// Why the data should go.
    Reason, "reason" {
        IncorrectInput = "incorrect-input",
        DuplicateRun = "duplicate-run",
        Other = "other",
    }
);

text_enum!(
    /// How sensitive the data is; picks the cooling-off period.
    Sensitivity, "sensitivity" {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
);

text_enum!(
    /// Where a request stands.
    State, "state" {
        PendingApproval = "pending-approval",
        CoolingOff = "cooling-off",
        OnHold = "on-hold",
        Ready = "ready",
        Done = "done",
        Cancelled = "cancelled",
    }
);

/// The rules that come from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub approvals_required: u32,
    pub cooling_off: TimeDelta,
    /// Approves requests and resolves objections (`deletion.approver_role`).
    pub approver: Role,
    /// Also approves a protected target (`deletion.product_role`).
    pub product: Role,
    /// Executes ready requests (`deletion.executor_role`).
    pub executor: Role,
}

/// What a requester supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub target: String,
    pub reason: Reason,
    pub justification: String,
    pub sensitivity: Sensitivity,
    pub stakeholders: Vec<UserRef>,
    pub channel: ChannelRef,
    /// The target matches a `deletion.protected` glob: a `product` approval is needed too.
    pub protected: bool,
}

/// A deletion request and its history of approvals and objections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRequest {
    pub target: String,
    pub reason: Reason,
    pub justification: String,
    pub sensitivity: Sensitivity,
    pub stakeholders: Vec<UserRef>,
    pub channel: ChannelRef,
    pub requester: UserRef,
    pub requester_person: String,
    pub needs_product: bool,
    pub state: State,
    /// While on hold: the state an objection interrupted.
    pub held_from: Option<State>,
    pub cooling_off_until: Option<DateTime<Utc>>,
    pub approvals: Vec<Approval>,
    pub objections: Vec<Objection>,
    pub created_at: DateTime<Utc>,
    pub closed_note: Option<String>,
}

/// What happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Approve,
    Object { reason: String },
    Resolve,
    Cancel { reason: Option<String> },
    Done { note: Option<String> },
}

/// What the application must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fire [`DeletionRequest::expire`] at this time.
    ScheduleExpiry(DateTime<Utc>),
    /// Tell the deletion channels.
    Announce(Notice),
}

/// The announcements a request makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Created,
    Approved { by: UserRef, missing: Vec<String> },
    CoolingOffStarted { until: DateTime<Utc> },
    OnHold { by: UserRef, reason: String },
    Resumed { until: Option<DateTime<Utc>> },
    Ready,
    Cancelled { by: UserRef },
    Done { by: UserRef },
}

const MAX_TARGET: usize = 300;
const MAX_TEXT: usize = 2_000;

impl DeletionRequest {
    /// Files a new request in `pending-approval`.
    pub fn create(
        draft: Draft,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Self, Vec<Effect>), DomainError> {
        let target = draft.target.trim().to_string();
        if target.is_empty() {
            return Err(DomainError::invalid(
                "the target is empty: name the data to delete, e.g. city-a/run-42",
            ));
        }
        if target.len() > MAX_TARGET {
            return Err(DomainError::invalid(format!(
                "the target is {} characters long: keep it under {MAX_TARGET}",
                target.len()
            )));
        }
        let justification = draft.justification.trim().to_string();
        if justification.is_empty() {
            return Err(DomainError::invalid(
                "the justification is empty: say why the data must go, e.g. justification:\"pipeline ran twice\"",
            ));
        }
        if justification.len() > MAX_TEXT {
            return Err(DomainError::invalid(format!(
                "the justification is {} characters long: keep it under {MAX_TEXT}",
                justification.len()
            )));
        }
        let request = Self {
            target,
            reason: draft.reason,
            justification,
            sensitivity: draft.sensitivity,
            stakeholders: draft.stakeholders,
            channel: draft.channel,
            requester: by.user.clone(),
            requester_person: by.person.clone(),
            needs_product: draft.protected,
            state: State::PendingApproval,
            held_from: None,
            cooling_off_until: None,
            approvals: Vec::new(),
            objections: Vec::new(),
            created_at: now,
            closed_note: None,
        };
        Ok((request, vec![Effect::Announce(Notice::Created)]))
    }

    /// Applies one event by one actor; on error nothing changed.
    pub fn apply(
        &mut self,
        event: Event,
        by: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        match event {
            Event::Approve => self.approve(by, policy, now),
            Event::Object { reason } => self.object(by, reason, now),
            Event::Resolve => self.resolve(by, policy, now),
            Event::Cancel { reason } => self.cancel(by, policy, reason),
            Event::Done { note } => self.done(by, policy, note),
        }
    }

    /// The scheduled end of cooling-off. Returns the effects, or nothing when
    /// the timer is stale (an objection or a restart of the period moved it).
    pub fn expire(&mut self, scheduled_for: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Effect> {
        let current =
            self.state == State::CoolingOff && self.cooling_off_until == Some(scheduled_for);
        if !current || now < scheduled_for {
            return Vec::new();
        }
        self.state = State::Ready;
        vec![Effect::Announce(Notice::Ready)]
    }

    /// Approvals still missing, as readable phrases.
    pub fn missing_approvals(&self, policy: &Policy) -> Vec<String> {
        let stewards = self.count_approvals(&policy.approver);
        let mut missing = Vec::new();
        if stewards < policy.approvals_required as usize {
            let n = policy.approvals_required as usize - stewards;
            missing.push(format!(
                "{n} {} approval{}",
                policy.approver,
                if n == 1 { "" } else { "s" }
            ));
        }
        if self.needs_product && self.count_approvals(&policy.product) == 0 {
            missing.push(format!("1 {} approval (protected target)", policy.product));
        }
        missing
    }

    fn count_approvals(&self, role: &Role) -> usize {
        self.approvals.iter().filter(|a| a.role == *role).count()
    }

    fn approve(
        &mut self,
        by: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        match self.state {
            State::PendingApproval => {}
            State::OnHold => {
                return Err(DomainError::conflict(format!(
                    "this request is on hold after an objection: a {} must `resolve` it before approvals continue",
                    policy.approver
                )));
            }
            other => {
                return Err(DomainError::conflict(format!(
                    "this request is {other}: approvals are only taken while it is pending-approval"
                )));
            }
        }
        refuse_uncountable(
            &self.approvals,
            &self.requester_person,
            by,
            policy.approver.as_str(),
        )?;
        let (approver, product) = (&policy.approver, &policy.product);
        let stewards_short = self.count_approvals(approver) < policy.approvals_required as usize;
        let product_short = self.needs_product && self.count_approvals(product) == 0;
        // one approval counts toward every role still needed that the person holds
        let mut roles = Vec::new();
        if stewards_short && by.has(approver) {
            roles.push(approver.clone());
        }
        if product_short && by.has(product) {
            roles.push(product.clone());
        }
        if roles.is_empty() {
            if !(by.has(approver) || self.needs_product && by.has(product)) {
                let who = if self.needs_product {
                    vec![approver.clone(), product.clone()]
                } else {
                    vec![approver.clone()]
                };
                return Err(by.not_member(&who, "approve this request"));
            }
            return Err(DomainError::conflict(format!(
                "no approval of your role is still needed; missing: {}",
                self.missing_approvals(policy).join(", ")
            )));
        }
        for role in roles {
            self.approvals.push(Approval {
                by: by.user.clone(),
                person: by.person.clone(),
                role,
                at: now,
            });
        }
        let missing = self.missing_approvals(policy);
        if missing.is_empty() {
            Ok(self.start_cooling_off(policy, now))
        } else {
            Ok(vec![Effect::Announce(Notice::Approved {
                by: by.user.clone(),
                missing,
            })])
        }
    }

    fn start_cooling_off(&mut self, policy: &Policy, now: DateTime<Utc>) -> Vec<Effect> {
        let until = now + policy.cooling_off;
        self.state = State::CoolingOff;
        self.cooling_off_until = Some(until);
        vec![
            Effect::ScheduleExpiry(until),
            Effect::Announce(Notice::CoolingOffStarted { until }),
        ]
    }

    fn object(
        &mut self,
        by: &Actor,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        let objection = objection(by, &reason, now)?;
        match self.state {
            State::PendingApproval | State::CoolingOff | State::Ready => {
                self.held_from = Some(self.state);
                self.state = State::OnHold;
                self.cooling_off_until = None;
            }
            State::OnHold => {}
            State::Done | State::Cancelled => {
                return Err(DomainError::conflict(format!(
                    "this request is already {}: there is nothing left to object to",
                    self.state
                )));
            }
        }
        let reason = objection.reason.clone();
        self.objections.push(objection);
        Ok(vec![Effect::Announce(Notice::OnHold {
            by: by.user.clone(),
            reason,
        })])
    }

    fn resolve(
        &mut self,
        by: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.approver, "resolve objections")?;
        if self.state != State::OnHold {
            return Err(DomainError::conflict(format!(
                "this request is {}, not on-hold: there is no objection to resolve",
                self.state
            )));
        }
        resolve_all(&mut self.objections, &by.user);
        match self.held_from.take() {
            Some(State::PendingApproval) | None => {
                self.state = State::PendingApproval;
                Ok(vec![Effect::Announce(Notice::Resumed { until: None })])
            }
            Some(_) => {
                let mut effects = self.start_cooling_off(policy, now);
                effects.retain(|e| !matches!(e, Effect::Announce(_)));
                effects.push(Effect::Announce(Notice::Resumed {
                    until: self.cooling_off_until,
                }));
                Ok(effects)
            }
        }
    }

    fn cancel(
        &mut self,
        by: &Actor,
        policy: &Policy,
        reason: Option<String>,
    ) -> Result<Vec<Effect>, DomainError> {
        if by.person != self.requester_person && !by.has(&policy.approver) {
            return Err(DomainError::forbidden(format!(
                "only the requester ({}) or a `{}` can cancel this request",
                self.requester, policy.approver
            )));
        }
        if matches!(self.state, State::Done | State::Cancelled) {
            return Err(DomainError::conflict(format!(
                "this request is already {}",
                self.state
            )));
        }
        self.state = State::Cancelled;
        self.cooling_off_until = None;
        self.held_from = None;
        self.closed_note = reason.filter(|r| !r.trim().is_empty());
        Ok(vec![Effect::Announce(Notice::Cancelled {
            by: by.user.clone(),
        })])
    }

    fn done(
        &mut self,
        by: &Actor,
        policy: &Policy,
        note: Option<String>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.executor, "mark deletions done")?;
        if self.state != State::Ready {
            let why = match self.state {
                State::CoolingOff => "its cooling-off period has not ended yet".to_string(),
                State::PendingApproval => "it still needs approval".to_string(),
                State::OnHold => "it is on hold after an objection".to_string(),
                other => format!("it is already {other}"),
            };
            return Err(DomainError::conflict(format!(
                "this request cannot be executed: {why}"
            )));
        }
        self.state = State::Done;
        self.closed_note = note.filter(|n| !n.trim().is_empty());
        Ok(vec![Effect::Announce(Notice::Done {
            by: by.user.clone(),
        })])
    }
}

#[cfg(test)]
#[path = "deletion_tests.rs"]
mod tests;

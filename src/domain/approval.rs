//! The approval rules requests share (deletion requests, deploy requests):
//! one approval per person, the requester's own never counts, and an open
//! objection holds the request until someone entitled resolves it.
//!
//! Each request keeps its own quota (how many of which roles) and its own
//! state machine; these are the checks and records they have in common.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Actor, DomainError, Role, UserRef};

/// One approval, counted once per person (toward `role`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: UserRef,
    pub person: String,
    pub role: Role,
    pub at: DateTime<Utc>,
}

/// One objection; open until someone entitled resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub by: UserRef,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub resolved_by: Option<UserRef>,
}

/// The longest objection reason taken.
pub const MAX_REASON: usize = 2_000;

/// Refuses the approvals the rules never count: the requester's own
/// (`another` says who must approve instead) and a second one by a person
/// who approved already.
pub fn refuse_uncountable(
    approvals: &[Approval],
    requester_person: &str,
    by: &Actor,
    another: &str,
) -> Result<(), DomainError> {
    if by.person == requester_person {
        return Err(DomainError::forbidden(format!(
            "you filed this request, so you cannot approve it: another {another} must"
        )));
    }
    if approvals.iter().any(|a| a.person == by.person) {
        return Err(DomainError::conflict(
            "you have already approved this request",
        ));
    }
    Ok(())
}

/// An objection by `by`, its reason checked (given, not too long).
pub fn objection(by: &Actor, reason: &str, now: DateTime<Utc>) -> Result<Objection, DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid(
            "an objection needs a reason: add reason:\"…\"",
        ));
    }
    if reason.len() > MAX_REASON {
        return Err(DomainError::invalid(format!(
            "the reason is too long: keep it under {MAX_REASON} characters"
        )));
    }
    Ok(Objection {
        by: by.user.clone(),
        reason: reason.to_string(),
        at: now,
        resolved_by: None,
    })
}

/// Marks every open objection resolved by `by`.
pub fn resolve_all(objections: &mut [Objection], by: &UserRef) {
    for objection in objections.iter_mut().filter(|o| o.resolved_by.is_none()) {
        objection.resolved_by = Some(by.clone());
    }
}

//! Planned downtime windows (`DT-n`): the whole state machine of SPEC §5.
//!
//! ```text
//! announce ─▶ announced ──(start by hand, or the start timer)──▶ in-progress ──(complete)──▶ completed
//!               │  ▲                                                  │
//!       postpone│  │ (new window, version+1:                          └─(planned end passes)─▶ overrun notice
//!               ▼  │  old timers are void)
//!             announced
//! cancel (announced only) ─▶ cancelled
//! ```
//!
//! Every rule takes `now`. [`Downtime::announce`] and [`Downtime::apply`]
//! return effects: announcements, and timers to schedule. Each timer carries
//! the window's `version`; [`Downtime::on_timer`] ignores a timer from an
//! older version (a postponed or cancelled window), so a stale reminder can
//! never speak. Two live windows of one environment may not overlap.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Actor, DomainError, RecordId, Role, UserRef};

/// Where a window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum State {
    Announced,
    InProgress,
    Completed,
    Cancelled,
}

impl State {
    pub const ALL: &'static [State] = &[
        State::Announced,
        State::InProgress,
        State::Completed,
        State::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::Announced => "announced",
            State::InProgress => "in-progress",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
        }
    }
    /// Announced or in progress: the window still blocks its environment.
    pub fn is_live(self) -> bool {
        matches!(self, State::Announced | State::InProgress)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        State::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "`{s}` is not a downtime state: use one of announced, in-progress, completed, cancelled"
                ))
            })
    }
}

impl TryFrom<String> for State {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        s.parse()
    }
}

impl From<State> for String {
    fn from(s: State) -> String {
        s.as_str().to_string()
    }
}

/// The rules that come from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `downtime.remind_before`: reminders this long before the start.
    pub remind_before: Vec<TimeDelta>,
    /// The configured zone, for times in refusals.
    pub tz: Tz,
    /// Announces and runs windows (`downtime.manager_role`).
    pub manager: Role,
}

/// What an announcer supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub environment: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub audience: Option<String>,
}

/// Another live window, for the overlap rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub id: RecordId,
    pub environment: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: State,
}

/// A downtime window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downtime {
    pub environment: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub audience: Option<String>,
    pub state: State,
    /// Bumped on every postpone and on cancel: the calendar's SEQUENCE and the timers' guard.
    pub version: u32,
    pub announced_by: UserRef,
    pub started_at: Option<DateTime<Utc>>,
    /// Who started it by hand; `None` when the start timer did.
    pub started_by: Option<UserRef>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What happens to a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Move the window to start at `to`, keeping its length.
    Postpone {
        to: DateTime<Utc>,
        reason: Option<String>,
    },
    /// Start now; the window ends at `end` when given, else it keeps its
    /// length (a window started early ends early too).
    Start {
        end: Option<DateTime<Utc>>,
    },
    Complete,
    Cancel {
        reason: String,
    },
}

/// The timers a window sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum Timer {
    /// A reminder `before_secs` before the start.
    Reminder { before_secs: i64 },
    /// The planned start: the window begins unless it was started by hand.
    Start,
    /// The planned end: an overrun notice if the window is still in progress.
    Overrun,
}

impl Timer {
    /// A short stable name, for dedup keys.
    pub fn key(self) -> String {
        match self {
            Timer::Reminder { before_secs } => format!("remind-{before_secs}s"),
            Timer::Start => "start".into(),
            Timer::Overrun => "overrun".into(),
        }
    }
}

/// What the application must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Void every pending timer of this window (a postpone, cancel or completion).
    CancelTimers,
    /// Fire [`Downtime::on_timer`] with this timer and version at `at`.
    Schedule {
        timer: Timer,
        version: u32,
        at: DateTime<Utc>,
    },
    /// Tell the downtime channels.
    Announce(Notice),
}

/// The announcements a window makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Announced,
    Postponed {
        from_start: DateTime<Utc>,
        from_end: DateTime<Utc>,
        reason: Option<String>,
    },
    Reminder {
        before: TimeDelta,
    },
    /// Begun; `by` is `None` when it began on its planned time.
    Started {
        by: Option<UserRef>,
    },
    Overrun,
    Completed {
        by: UserRef,
    },
    Cancelled {
        by: UserRef,
        reason: String,
    },
}

const MAX_ENV: usize = 64;
const MAX_TEXT: usize = 1_000;
/// The longest window that can be announced.
pub const MAX_LENGTH: TimeDelta = TimeDelta::days(30);

fn clean_text(what: &str, s: &str, example: &str) -> Result<String, DomainError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DomainError::invalid(format!(
            "the {what} is empty: add {what}:\"{example}\""
        )));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(DomainError::invalid(format!(
            "the {what} is too long: keep it under {MAX_TEXT} characters"
        )));
    }
    Ok(s.to_string())
}

fn clean_env(s: &str) -> Result<String, DomainError> {
    let s = s.trim().to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.len() <= MAX_ENV
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(s)
    } else {
        Err(DomainError::invalid(format!(
            "`{s}` is not an environment name: use letters, digits, - _ . / (up to {MAX_ENV}), e.g. env:production"
        )))
    }
}

fn check_window(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if end <= start {
        return Err(DomainError::invalid(
            "the window ends before it starts: give an end after the start, or a positive duration",
        ));
    }
    if end - start > MAX_LENGTH {
        return Err(DomainError::invalid(
            "the window is longer than 30 days: announce shorter windows",
        ));
    }
    if end <= now {
        return Err(DomainError::invalid(
            "that window is already over: give a start and end in the future",
        ));
    }
    Ok(())
}

/// Refuses a window of `env` from `start` to `end` that overlaps a live neighbour.
pub fn check_overlap(
    env: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    neighbours: &[Neighbour],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let show = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
    let clash = neighbours.iter().find(|n| {
        // A window still in progress past its planned end blocks until it is completed.
        let n_end = if n.state == State::InProgress {
            n.end.max(now)
        } else {
            n.end
        };
        n.environment == env && n.state.is_live() && n.start < end && start < n_end
    });
    match clash {
        Some(n) => Err(DomainError::conflict(format!(
            "{} already covers {env} from {} to {} ({}): windows of one environment may not overlap; postpone or cancel {} first, or pick another time",
            n.id,
            show(n.start),
            show(n.end),
            n.state,
            n.id
        ))),
        None => Ok(()),
    }
}

impl Downtime {
    /// Announces a new window.
    pub fn announce(
        draft: Draft,
        by: &Actor,
        policy: &Policy,
        neighbours: &[Neighbour],
        now: DateTime<Utc>,
    ) -> Result<(Self, Vec<Effect>), DomainError> {
        by.require(&policy.manager, "announce downtime")?;
        let environment = clean_env(&draft.environment)?;
        let reason = clean_text("reason", &draft.reason, "database upgrade")?;
        let audience = match draft.audience {
            Some(a) => Some(clean_text("audience", &a, "partners")?),
            None => None,
        };
        check_window(draft.start, draft.end, now)?;
        check_overlap(
            &environment,
            draft.start,
            draft.end,
            neighbours,
            policy.tz,
            now,
        )?;
        let downtime = Self {
            environment,
            start: draft.start,
            end: draft.end,
            reason,
            audience,
            state: State::Announced,
            version: 0,
            announced_by: by.user.clone(),
            started_at: None,
            started_by: None,
            completed_at: None,
            cancel_reason: None,
            created_at: now,
        };
        let mut effects = vec![Effect::Announce(Notice::Announced)];
        effects.extend(downtime.timers(policy, now));
        Ok((downtime, effects))
    }

    /// Applies one event by one actor; on error nothing changed.
    pub fn apply(
        &mut self,
        event: Event,
        by: &Actor,
        policy: &Policy,
        neighbours: &[Neighbour],
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        match event {
            Event::Postpone { to, reason } => {
                self.postpone(by, to, reason, policy, neighbours, now)
            }
            Event::Start { end } => self.start_by_hand(by, policy, end, now),
            Event::Complete => self.complete(by, policy, now),
            Event::Cancel { reason } => self.cancel(by, policy, reason),
        }
    }

    /// A timer of `version` fell due. Returns nothing when it is stale or moot.
    pub fn on_timer(&mut self, timer: Timer, version: u32, now: DateTime<Utc>) -> Vec<Effect> {
        if version != self.version {
            return Vec::new();
        }
        match timer {
            Timer::Reminder { before_secs } if self.state == State::Announced => {
                vec![Effect::Announce(Notice::Reminder {
                    before: TimeDelta::seconds(before_secs),
                })]
            }
            Timer::Start if self.state == State::Announced && now >= self.start => {
                self.state = State::InProgress;
                self.started_at = Some(now);
                self.started_by = None;
                vec![Effect::Announce(Notice::Started { by: None })]
            }
            Timer::Overrun if self.state == State::InProgress && now >= self.end => {
                vec![Effect::Announce(Notice::Overrun)]
            }
            _ => Vec::new(),
        }
    }

    /// The timers for the current window: reminders still ahead, start, end.
    fn timers(&self, policy: &Policy, now: DateTime<Utc>) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut offsets = policy.remind_before.clone();
        offsets.sort_by(|a, b| b.cmp(a));
        offsets.dedup();
        for before in offsets {
            let at = self.start - before;
            if at > now {
                effects.push(Effect::Schedule {
                    timer: Timer::Reminder {
                        before_secs: before.num_seconds(),
                    },
                    version: self.version,
                    at,
                });
            }
        }
        effects.push(Effect::Schedule {
            timer: Timer::Start,
            version: self.version,
            at: self.start.max(now),
        });
        effects.push(Effect::Schedule {
            timer: Timer::Overrun,
            version: self.version,
            at: self.end,
        });
        effects
    }

    fn postpone(
        &mut self,
        by: &Actor,
        to: DateTime<Utc>,
        reason: Option<String>,
        policy: &Policy,
        neighbours: &[Neighbour],
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.manager, "postpone downtime")?;
        match self.state {
            State::Announced => {}
            State::InProgress => {
                return Err(DomainError::conflict(
                    "this window is already in progress: complete it when service is back, then announce a new one",
                ));
            }
            other => {
                return Err(DomainError::conflict(format!(
                    "this window is {other}: only an announced window can be postponed"
                )));
            }
        }
        if to <= now {
            return Err(DomainError::invalid(
                "the new start is not in the future: give to:<time> after now",
            ));
        }
        if to == self.start {
            return Err(DomainError::invalid(
                "the window already starts then: give a different to:<time>",
            ));
        }
        let reason = match reason {
            Some(r) => Some(clean_text("reason", &r, "vendor delay")?),
            None => None,
        };
        let length = self.end - self.start;
        let (new_start, new_end) = (to, to + length);
        check_window(new_start, new_end, now)?;
        check_overlap(
            &self.environment,
            new_start,
            new_end,
            neighbours,
            policy.tz,
            now,
        )?;
        let (from_start, from_end) = (self.start, self.end);
        self.start = new_start;
        self.end = new_end;
        self.version += 1;
        let mut effects = vec![
            Effect::CancelTimers,
            Effect::Announce(Notice::Postponed {
                from_start,
                from_end,
                reason,
            }),
        ];
        effects.extend(self.timers(policy, now));
        Ok(effects)
    }

    fn start_by_hand(
        &mut self,
        by: &Actor,
        policy: &Policy,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.manager, "start downtime")?;
        if self.state != State::Announced {
            return Err(DomainError::conflict(format!(
                "this window is {}: only an announced window can be started",
                self.state
            )));
        }
        if let Some(end) = end
            && end <= now
        {
            return Err(DomainError::invalid(format!(
                "end: {} is not after now ({}): give the time the window will end, or leave end: out to keep its length",
                super::timing::format_local(end, policy.tz),
                super::timing::format_local(now, policy.tz)
            )));
        }
        let mut effects = Vec::new();
        // started early: the window keeps its length, so its end moves too,
        // unless an end is given (a new version voids the timers set for the
        // planned times)
        let new_end = match end {
            Some(end) => Some(end),
            None if now < self.start => Some(now + (self.end - self.start)),
            None => None,
        };
        if let Some(new_end) = new_end {
            self.start = self.start.min(now);
            self.end = new_end;
            self.version += 1;
            effects.push(Effect::CancelTimers);
            effects.push(Effect::Schedule {
                timer: Timer::Overrun,
                version: self.version,
                at: self.end,
            });
        }
        self.state = State::InProgress;
        self.started_at = Some(now);
        self.started_by = Some(by.user.clone());
        effects.push(Effect::Announce(Notice::Started {
            by: Some(by.user.clone()),
        }));
        Ok(effects)
    }

    fn complete(
        &mut self,
        by: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.manager, "complete downtime")?;
        match self.state {
            State::InProgress => {}
            State::Announced => {
                return Err(DomainError::conflict(
                    "this window has not started: start it first, or cancel it if it is not needed",
                ));
            }
            other => {
                return Err(DomainError::conflict(format!(
                    "this window is already {other}"
                )));
            }
        }
        self.state = State::Completed;
        self.completed_at = Some(now);
        Ok(vec![
            Effect::CancelTimers,
            Effect::Announce(Notice::Completed {
                by: by.user.clone(),
            }),
        ])
    }

    fn cancel(
        &mut self,
        by: &Actor,
        policy: &Policy,
        reason: String,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&policy.manager, "cancel downtime")?;
        let reason = clean_text("reason", &reason, "no longer needed")?;
        match self.state {
            State::Announced => {}
            State::InProgress => {
                return Err(DomainError::conflict(
                    "this window is in progress: complete it when service is back",
                ));
            }
            other => {
                return Err(DomainError::conflict(format!(
                    "this window is already {other}"
                )));
            }
        }
        self.state = State::Cancelled;
        self.cancel_reason = Some(reason.clone());
        self.version += 1;
        Ok(vec![
            Effect::CancelTimers,
            Effect::Announce(Notice::Cancelled {
                by: by.user.clone(),
                reason,
            }),
        ])
    }

    /// Whether the window is in progress past its planned end.
    pub fn is_overrunning(&self, now: DateTime<Utc>) -> bool {
        self.state == State::InProgress && now >= self.end
    }

    /// This window as a neighbour of others.
    pub fn as_neighbour(&self, id: RecordId) -> Neighbour {
        Neighbour {
            id,
            environment: self.environment.clone(),
            start: self.start,
            end: self.end,
            state: self.state,
        }
    }
}

#[cfg(test)]
#[path = "downtime_tests.rs"]
mod tests;

//! Partner incidents (`/incident`): the state machine and the response SLA,
//! counted in business time of the working calendar.
//!
//! ```text
//!  open ──ack──► acknowledged ──resolve──► resolved ──reopen──► acknowledged
//!   │ ▲            │ ▲                        ▲
//!  wait│resume   wait│resume                   │
//!   ▼ │            ▼ │                         │
//!  waiting ─────────────────────resolve────────┘
//! ```
//!
//! The response clock runs from opening (an incident opened out of hours
//! starts at the next opening) until the first response (`ack`); waiting on
//! the partner pauses it. Escalation levels fire at a share of the SLA or a
//! business-time offset on that clock; every change that moves the clock
//! bumps [`Incident::epoch`], so timers scheduled for an older clock do
//! nothing. Pure: `now` and the calendar are passed in.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::WorkingCalendar;
use super::version::Semver;
use super::{ChannelRef, DomainError, UserRef};
use crate::text_enum;

text_enum!(
    /// How badly the partner's business is hit.
    Severity, "severity" {
        /// Business halted: an outage with no workaround.
        P1 = "P1",
        /// Business slowed: a key component degraded, some users affected.
        P2 = "P2",
        /// Business unaffected: a workaround exists.
        P3 = "P3",
    }
);

text_enum!(
    /// Where an incident stands.
    State, "state" {
        Open = "open",
        Acknowledged = "acknowledged",
        Waiting = "waiting",
        Resolved = "resolved",
    }
);

text_enum!(
    /// How an incident was resolved.
    Resolution, "resolution" {
        Clarification = "clarification",
        Workaround = "workaround",
        PatchPlanned = "patch-planned",
    }
);

/// How an incident was raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `/incident open` (or `/incident accept-mail`) in a channel.
    #[default]
    Chat,
    /// The partner's HTTP intake (`POST /api/v1/incidents`).
    Api,
    /// A mail from one of the partner's `emails` (`POST /webhooks/mail`).
    Mail,
}

impl Via {
    fn is_chat(&self) -> bool {
        *self == Via::Chat
    }
}

/// `via` as stored: `"api"`, `"mail"`, or the older `"via_api": true`.
fn via_or_api_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Via, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Via(Via),
        ApiFlag(bool),
    }
    Ok(match Stored::deserialize(d)? {
        Stored::Via(via) => via,
        Stored::ApiFlag(true) => Via::Api,
        Stored::ApiFlag(false) => Via::Chat,
    })
}

/// The response SLA of each severity, in business time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    pub p1: TimeDelta,
    pub p2: TimeDelta,
    pub p3: TimeDelta,
}

impl Sla {
    pub fn of(&self, severity: Severity) -> TimeDelta {
        match severity {
            Severity::P1 => self.p1,
            Severity::P2 => self.p2,
            Severity::P3 => self.p3,
        }
    }
}

/// When an escalation level fires, on the response clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// This percentage of the SLA (100: the breach).
    Percent(u32),
    /// This much business time after opening.
    After(TimeDelta),
}

impl At {
    /// Business time on the response clock at which the level fires.
    pub fn offset(self, sla: TimeDelta) -> TimeDelta {
        match self {
            At::Percent(p) => sla * p.min(1_000) as i32 / 100,
            At::After(d) => d,
        }
    }
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub by: String,
    pub what: String,
    pub text: String,
    /// Sent to the partner (an `update`, the resolution).
    pub public: bool,
}

/// The resolution, once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub kind: Resolution,
    pub text: String,
    /// The versions the fix is planned in (back-port items).
    pub fix_in: Vec<Semver>,
}

impl Resolved {
    /// The resolution as the partner reads it, in plain words: `resolved
    /// with a workaround: …`, `resolved with an answer: …`, `resolved — a
    /// fix is planned in 3.2.16 and 2.5.57: …`.
    pub fn words(&self) -> String {
        let how = match self.kind {
            Resolution::Clarification => "resolved with an answer".to_string(),
            Resolution::Workaround => "resolved with a workaround".to_string(),
            Resolution::PatchPlanned => {
                let versions: Vec<String> = self.fix_in.iter().map(ToString::to_string).collect();
                match versions.split_last() {
                    None => "resolved — a fix is planned".to_string(),
                    Some((last, [])) => format!("resolved — a fix is planned in {last}"),
                    Some((last, rest)) => {
                        format!(
                            "resolved — a fix is planned in {} and {last}",
                            rest.join(", ")
                        )
                    }
                }
            }
        };
        format!("{how}: {}", self.text)
    }
}

/// What the partner reads when a resolved incident is reopened.
pub const REOPENED: &str = "reopened: we are working on it again";

/// What opening an incident takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub severity: Severity,
    pub summary: String,
    pub service: Option<String>,
    pub version: Option<Semver>,
    pub partner: Option<String>,
    /// Whether the version is supported, in words (checked on open).
    pub support: Option<String>,
    /// Whom the partner names to talk to (given through the HTTP intake,
    /// or the sender of the mail that raised it).
    pub contact: Option<String>,
    /// Raised in a channel, through the partner's HTTP intake or by mail.
    pub via: Via,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub severity: Severity,
    pub summary: String,
    pub service: Option<String>,
    pub version: Option<Semver>,
    pub partner: Option<String>,
    pub support: Option<String>,
    /// Whom the partner names to talk to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// How it was raised: through the partner's HTTP intake or by mail,
    /// `opened_in` is only where its partner's channels would be. (Rows
    /// stored before it said `"via_api": true`, which reads as [`Via::Api`].)
    #[serde(
        default,
        alias = "via_api",
        deserialize_with = "via_or_api_flag",
        skip_serializing_if = "Via::is_chat"
    )]
    pub via: Via,
    pub opened_in: ChannelRef,
    pub opened_by: UserRef,
    pub opened_at: DateTime<Utc>,
    pub state: State,
    pub assignee: Option<UserRef>,
    /// The first response: when, by whom.
    pub responded: Option<(DateTime<Utc>, UserRef)>,
    /// Waiting on the partner since (the clock is paused).
    pub waiting_since: Option<DateTime<Utc>>,
    /// Business time spent waiting before the first response.
    pub paused: TimeDelta,
    pub breached_at: Option<DateTime<Utc>>,
    pub resolved: Option<Resolved>,
    /// Bumped whenever the response clock moves (timers check it).
    pub epoch: u32,
    /// The escalation levels that have fired (by index in the matrix).
    #[serde(default)]
    pub escalated: Vec<usize>,
    pub timeline: Vec<Entry>,
}

/// A change asked of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Ack,
    Assign(UserRef),
    Note(String),
    Update(String),
    Wait(String),
    Resume,
    Resolve(Resolved),
    Reopen,
}

impl Event {
    /// The verb, as the audit log and the timeline name it.
    pub fn verb(&self) -> &'static str {
        match self {
            Event::Ack => "ack",
            Event::Assign(_) => "assign",
            Event::Note(_) => "note",
            Event::Update(_) => "update",
            Event::Wait(_) => "wait",
            Event::Resume => "resume",
            Event::Resolve(_) => "resolve",
            Event::Reopen => "reopen",
        }
    }
}

/// What the app must do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Cancel every pending timer of the incident.
    CancelTimers,
    /// (Re)schedule the escalation timers on the clock of this epoch.
    ScheduleTimers,
    /// Tell the partner (an update, the resolution, a reopening), in the
    /// words the partner reads.
    TellPartner(String),
}

impl Incident {
    /// Opens an incident.
    pub fn open(
        report: Report,
        by: &UserRef,
        channel: &ChannelRef,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let summary = report.summary.trim().to_string();
        if summary.is_empty() {
            return Err(DomainError::invalid(
                "summary: say what is wrong, e.g. summary:\"login fails for every user\"",
            ));
        }
        Ok(Self {
            severity: report.severity,
            summary: summary.clone(),
            service: report.service,
            version: report.version,
            partner: report.partner,
            support: report.support,
            contact: report.contact,
            via: report.via,
            opened_in: channel.clone(),
            opened_by: by.clone(),
            opened_at: now,
            state: State::Open,
            assignee: None,
            responded: None,
            waiting_since: None,
            paused: TimeDelta::zero(),
            breached_at: None,
            resolved: None,
            epoch: 0,
            escalated: Vec::new(),
            timeline: vec![Entry {
                at: now,
                by: by.to_string(),
                what: "opened".into(),
                text: summary,
                public: true,
            }],
        })
    }

    /// The timeline entries the partner reads (the opening, updates, the
    /// resolution, reopenings): never internal notes, escalations or breaches.
    pub fn public_timeline(&self) -> impl Iterator<Item = &Entry> {
        self.timeline.iter().filter(|e| e.public)
    }

    /// Business time the response clock has run by `now` (frozen at the
    /// first response; waiting excluded).
    pub fn clock(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> TimeDelta {
        let end = match (&self.responded, self.waiting_since) {
            (Some((at, _)), _) => *at,
            (None, Some(since)) => since,
            (None, None) => now,
        };
        (calendar.business_between(self.opened_at, end) - self.paused).max(TimeDelta::zero())
    }

    /// When the response clock reaches `offset`, if it is running (`None`
    /// once responded or while waiting).
    pub fn when_clock_reaches(
        &self,
        calendar: &WorkingCalendar,
        offset: TimeDelta,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if self.responded.is_some() || self.waiting_since.is_some() {
            return None;
        }
        let used = self.clock(calendar, now);
        if offset <= used {
            return Some(now);
        }
        // business time from now on: the clock has run `used` of it already
        Some(calendar.add_business(now.max(self.opened_at), offset - used))
    }

    /// The response deadline under `sla`, while the clock runs.
    pub fn deadline(
        &self,
        calendar: &WorkingCalendar,
        sla: &Sla,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.when_clock_reaches(calendar, sla.of(self.severity), now)
    }

    /// Whether the first response came within the SLA (`None`: no response yet
    /// and not breached).
    pub fn met_sla(&self, calendar: &WorkingCalendar, sla: &Sla) -> Option<bool> {
        if self.breached_at.is_some() {
            return Some(false);
        }
        let (at, _) = self.responded.as_ref()?;
        Some(self.clock(calendar, *at) <= sla.of(self.severity))
    }

    /// Applies `event` by `by` at `now`.
    pub fn apply(
        &mut self,
        event: Event,
        by: &UserRef,
        calendar: &WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        let verb = event.verb();
        let refuse = |why: &str| Err(DomainError::conflict(why.to_string()));
        let mut effects = Vec::new();
        let text = match event {
            Event::Ack => {
                if self.responded.is_some() {
                    return refuse(
                        "it has had its first response already: add a note or an update instead",
                    );
                }
                if self.state == State::Resolved {
                    return refuse("it is resolved: reopen it first");
                }
                self.end_wait(calendar, now);
                self.responded = Some((now, by.clone()));
                self.state = State::Acknowledged;
                self.epoch += 1;
                effects.push(Effect::CancelTimers);
                "first response".to_string()
            }
            Event::Assign(user) => {
                let text = format!("assigned to {user}");
                self.assignee = Some(user);
                text
            }
            Event::Note(text) => text,
            Event::Update(text) => {
                effects.push(Effect::TellPartner(text.clone()));
                text
            }
            Event::Wait(reason) => {
                match self.state {
                    State::Waiting => {
                        return refuse("it is waiting already: resume it when the partner answers");
                    }
                    State::Resolved => return refuse("it is resolved: reopen it first"),
                    State::Open | State::Acknowledged => {}
                }
                self.waiting_since = Some(now);
                self.state = State::Waiting;
                if self.responded.is_none() {
                    self.epoch += 1;
                    effects.push(Effect::CancelTimers);
                }
                reason
            }
            Event::Resume => {
                if self.state != State::Waiting {
                    return refuse("it is not waiting: only a waiting incident resumes");
                }
                self.end_wait(calendar, now);
                self.state = self.active_state();
                if self.responded.is_none() {
                    self.epoch += 1;
                    effects.push(Effect::ScheduleTimers);
                }
                "the partner answered".to_string()
            }
            Event::Resolve(resolved) => {
                if self.state == State::Resolved {
                    return refuse("it is resolved already: reopen it to change the resolution");
                }
                if resolved.kind == Resolution::PatchPlanned && resolved.fix_in.is_empty() {
                    return Err(DomainError::invalid(
                        "fix-in: a planned patch names the versions it will ship in, e.g. fix-in:3.2.16,2.5.57",
                    ));
                }
                if resolved.kind != Resolution::PatchPlanned && !resolved.fix_in.is_empty() {
                    return Err(DomainError::invalid(
                        "fix-in: only resolution:patch-planned names versions to ship a fix in",
                    ));
                }
                self.end_wait(calendar, now);
                let text = resolved.words();
                self.resolved = Some(resolved);
                self.state = State::Resolved;
                self.epoch += 1;
                effects.push(Effect::CancelTimers);
                effects.push(Effect::TellPartner(text.clone()));
                text
            }
            Event::Reopen => {
                if self.state != State::Resolved {
                    return refuse("it is not resolved: only a resolved incident reopens");
                }
                self.resolved = None;
                self.state = self.active_state();
                if self.responded.is_none() {
                    self.epoch += 1;
                    effects.push(Effect::ScheduleTimers);
                }
                effects.push(Effect::TellPartner(REOPENED.into()));
                REOPENED.to_string()
            }
        };
        self.timeline.push(Entry {
            at: now,
            by: by.to_string(),
            what: verb.to_string(),
            public: matches!(verb, "update" | "resolve" | "reopen"),
            text,
        });
        Ok(effects)
    }

    /// Records the breach (once), at `now`; `false` when already recorded or
    /// the clock is not running.
    pub fn breach(&mut self, now: DateTime<Utc>) -> bool {
        if self.breached_at.is_some()
            || self.responded.is_some()
            || self.waiting_since.is_some()
            || self.state == State::Resolved
        {
            return false;
        }
        self.breached_at = Some(now);
        self.timeline.push(Entry {
            at: now,
            by: "shipmate".into(),
            what: "breach".into(),
            text: "the response SLA was breached".into(),
            public: false,
        });
        true
    }

    /// Records that escalation `level` fired (once: `false` when it had, or
    /// when the clock no longer runs).
    pub fn escalate(&mut self, level: usize, now: DateTime<Utc>, text: String) -> bool {
        if self.escalated.contains(&level)
            || self.responded.is_some()
            || self.waiting_since.is_some()
            || self.state == State::Resolved
        {
            return false;
        }
        self.escalated.push(level);
        self.timeline.push(Entry {
            at: now,
            by: "shipmate".into(),
            what: "escalated".into(),
            text,
            public: false,
        });
        true
    }

    fn end_wait(&mut self, calendar: &WorkingCalendar, now: DateTime<Utc>) {
        if let Some(since) = self.waiting_since.take()
            && self.responded.is_none()
        {
            self.paused += calendar.business_between(since, now);
        }
    }

    fn active_state(&self) -> State {
        if self.responded.is_some() {
            State::Acknowledged
        } else {
            State::Open
        }
    }
}

/// The identity a partner's HTTP intake acts as: `console:api.<partner>`, a
/// name no chat platform gives a person, holding no role.
pub fn api_user(partner: &str) -> UserRef {
    UserRef::console(&format!("api.{partner}"))
}

/// The longest partner name (so that [`api_user`] stays a valid console id).
pub const MAX_PARTNER_NAME: usize = 32;

/// The longest `contact`.
pub const MAX_CONTACT: usize = 200;

/// A contact as given (an e-mail address, a name, a phone number): trimmed,
/// at most [`MAX_CONTACT`] characters, one line; empty is none.
pub fn parse_contact(s: &str) -> Result<Option<String>, DomainError> {
    let t = s.trim();
    if t.chars().count() > MAX_CONTACT {
        return Err(DomainError::invalid(format!(
            "contact: is {} characters: give at most {MAX_CONTACT}, e.g. \"Jane Roe <jane@acme.example>\"",
            t.chars().count()
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "contact: write it on one line, without control characters",
        ));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

/// The median of `values` (the lower middle of an even count).
pub fn median(values: &mut [TimeDelta]) -> Option<TimeDelta> {
    values.sort_unstable();
    let len = values.len();
    (len > 0).then(|| values[(len - 1) / 2])
}

#[cfg(test)]
#[path = "incident_tests.rs"]
mod tests;

//! Release runs: a runbook template started at T0 and worked through task by
//! task. Gates are signed only by their owner role and only when everything
//! they depend on is done; revoking a sign-off reopens what depends on it.
//! Notices publish their text when done; tasks may open freeze windows.
//!
//! Dates come from the working calendar: T+N is the N-th working day after
//! T0 (calendar days when the template says so), a task is planned from the
//! opening of its day and its duration counts working time. Owners are
//! pinged when a task can start — its dependencies done and its planned day
//! reached — at the opening of working hours; overdue work is gathered into
//! one digest per working morning.
//!
//! ```text
//! task:  pending ──start──▶ in-progress ──done──▶ done        (owner role or release-manager)
//!           └───────────────done───────────────▶ done
//!           └──skip (release-manager, reason)──▶ skipped
//! gate:  pending ──sign (owner role, deps done)──▶ done ──revoke (reason)──▶ pending (+ dependents reopened)
//! release: open ──close (release-manager, nothing unfinished)──▶ closed
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::calendar::WorkingCalendar;
use super::runbook::{Runbook, TaskKind, TaskSpec, WindowEnd, WindowSpec};
use super::{Actor, ChannelRef, DomainError, Role, UserRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    Pending,
    InProgress,
    Done,
    Skipped,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::InProgress => "in-progress",
            TaskState::Done => "done",
            TaskState::Skipped => "skipped",
        }
    }
    pub fn finished(self) -> bool {
        matches!(self, TaskState::Done | TaskState::Skipped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    Open,
    Closed,
    /// Ended by the manager before it could finish (`cancel_reason` says why).
    Cancelled,
}

/// One task of a running release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRun {
    pub spec: TaskSpec,
    pub state: TaskState,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub by: Option<UserRef>,
    pub note: Option<String>,
    /// When it is planned, from the calendar at the start (older runs lack
    /// it: T0 plus the offset in days).
    #[serde(default)]
    pub planned: Option<Planned>,
}

/// A task's planned start (the opening of its day) and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Planned {
    /// The span of `spec` for a run whose T0 is `t0`.
    pub fn of(spec: &TaskSpec, t0: DateTime<Utc>, cal: &WorkingCalendar) -> Self {
        let first = t0.with_timezone(&cal.tz()).date_naive();
        let day = if spec.calendar_days {
            let date = first + chrono::Days::new(spec.offset_days.max(0) as u64);
            cal.working_day_from(date)
        } else {
            cal.add_working_days(first, spec.offset_days)
        };
        let start = cal
            .opening(day)
            .unwrap_or(t0 + TimeDelta::days(spec.offset_days));
        let whole_days = spec.duration.num_days();
        let rest = spec.duration - TimeDelta::days(whole_days);
        let end = if spec.calendar_days {
            let last = day + chrono::Days::new((whole_days - 1).max(0) as u64);
            let close = cal.closing(last).unwrap_or(start);
            if whole_days > 0 {
                close + rest
            } else {
                start + rest
            }
        } else {
            cal.add_business(start, cal.working_days(whole_days) + rest)
        };
        Self { start, end }
    }
}

/// A release run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub name: String,
    pub template: String,
    pub channel: ChannelRef,
    pub t0: DateTime<Utc>,
    pub state: ReleaseState,
    pub tasks: Vec<TaskRun>,
    pub started_by: UserRef,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The role that manages it (starts, skips, closes; works any task),
    /// from its runbook when it started.
    #[serde(default = "default_manager")]
    pub manager: Role,
    /// Why it was cancelled, if it was.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Every revoked sign-off, oldest first (the retro lists them).
    #[serde(default)]
    pub revocations: Vec<Revocation>,
}

/// A sign-off taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub gate: String,
    /// Who had signed it, and when.
    pub signed: Option<(UserRef, DateTime<Utc>)>,
    pub by: UserRef,
    pub at: DateTime<Utc>,
    pub reason: String,
}

fn default_manager() -> Role {
    Role::RELEASE_MANAGER
}

/// What the application must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Announce(Notice),
    /// The task can start once it is `not_before` (its planned start): ping
    /// its owners then, at the opening of working hours.
    Ready {
        task: String,
        not_before: DateTime<Utc>,
    },
    /// Gather what is overdue at `at` (a working morning).
    ScheduleDigest {
        at: DateTime<Utc>,
    },
    /// Open a freeze or backport window now.
    OpenWindow(WindowSpec),
    /// End a window now, if it is in force.
    EndWindow(WindowEnd),
}

/// The announcements a release makes in its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Started,
    TaskReady {
        task: String,
    },
    TaskStarted {
        task: String,
        by: UserRef,
    },
    TaskDone {
        task: String,
        by: UserRef,
    },
    TaskSkipped {
        task: String,
        by: UserRef,
        reason: String,
    },
    Published {
        task: String,
        text: String,
    },
    Signed {
        gate: String,
        by: UserRef,
    },
    Revoked {
        gate: String,
        by: UserRef,
        reason: String,
        reopened: Vec<String>,
    },
    /// What is overdue, in one message: unblocked tasks with their working
    /// days late, and how many late ones wait on others.
    Overdue {
        late: Vec<(String, i64)>,
        waiting: Vec<String>,
    },
    Closed {
        by: UserRef,
    },
    Cancelled {
        by: UserRef,
        reason: String,
    },
}

/// Planned versus actual for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetroRow {
    pub id: String,
    pub title: String,
    /// Its owner roles, as `qa` or `release-manager+partnership`.
    pub owner: String,
    pub kind: TaskKind,
    pub state: TaskState,
    pub planned_start: NaiveDate,
    pub planned_end: NaiveDate,
    pub actual_start: Option<NaiveDate>,
    pub actual_end: Option<NaiveDate>,
    /// Working days late (positive) or early (negative) against the
    /// planned end; `None` while unfinished.
    pub slip_days: Option<i64>,
    pub by: Option<UserRef>,
    pub finished_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

impl Release {
    /// Starts a release from a template (release-manager).
    pub fn start(
        name: &str,
        runbook: &Runbook,
        t0: DateTime<Utc>,
        channel: ChannelRef,
        by: &Actor,
        now: DateTime<Utc>,
        cal: &WorkingCalendar,
    ) -> Result<(Self, Vec<Effect>), DomainError> {
        by.require(&runbook.manager, "start releases")?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(DomainError::invalid(
                "give the release a name of up to 100 characters, e.g. 2026-Q4",
            ));
        }
        let release = Self {
            name: name.to_string(),
            template: runbook.name.clone(),
            channel,
            t0,
            state: ReleaseState::Open,
            cancel_reason: None,
            revocations: Vec::new(),
            tasks: runbook
                .tasks
                .iter()
                .map(|spec| TaskRun {
                    spec: spec.clone(),
                    state: TaskState::Pending,
                    started_at: None,
                    finished_at: None,
                    by: None,
                    note: None,
                    planned: Some(Planned::of(spec, t0, cal)),
                })
                .collect(),
            started_by: by.user.clone(),
            created_at: now,
            closed_at: None,
            manager: runbook.manager.clone(),
        };
        let mut effects = vec![Effect::Announce(Notice::Started)];
        // a T0 in the past: one summary of what is late, and no separate
        // ping for a task the summary already names
        let digest = release.overdue_digest(now, cal);
        let summarised: BTreeSet<String> = digest
            .iter()
            .flat_map(|e| match e {
                Effect::Announce(Notice::Overdue { late, .. }) => {
                    late.iter().map(|(t, _)| t.clone()).collect()
                }
                _ => Vec::new(),
            })
            .collect();
        effects.extend(release.ready_effects(release.ready_pending().difference(&summarised)));
        effects.extend(digest);
        Ok((release, effects))
    }

    fn planned(&self, spec: &TaskSpec) -> Planned {
        self.tasks
            .iter()
            .find(|t| t.spec.id == spec.id)
            .and_then(|t| t.planned)
            .unwrap_or_else(|| {
                let start = self.t0 + TimeDelta::days(spec.offset_days);
                Planned {
                    start,
                    end: start + spec.duration,
                }
            })
    }

    pub fn planned_start(&self, spec: &TaskSpec) -> DateTime<Utc> {
        self.planned(spec).start
    }

    pub fn planned_end(&self, spec: &TaskSpec) -> DateTime<Utc> {
        self.planned(spec).end
    }

    fn ready_effects<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> Vec<Effect> {
        ids.into_iter()
            .filter_map(|id| self.tasks.iter().find(|t| &t.spec.id == id))
            .map(|t| Effect::Ready {
                task: t.spec.id.clone(),
                not_before: self.planned_start(&t.spec),
            })
            .collect()
    }

    /// Whether `task` still waits to be started: the release open, the task
    /// pending and nothing it depends on unfinished.
    pub fn can_start(&self, task: &str) -> bool {
        self.state == ReleaseState::Open
            && self
                .task(task)
                .is_ok_and(|t| t.state == TaskState::Pending && self.blockers(&t.spec).is_empty())
    }

    /// The task with this id, or a refusal listing the ids there are.
    /// The task (or gate) `id`; a different case matches when only one
    /// task has that name in any case (`QA` finds `qa`).
    pub fn task(&self, id: &str) -> Result<&TaskRun, DomainError> {
        let exact = self.tasks.iter().find(|t| t.spec.id == id);
        let mut folded = self
            .tasks
            .iter()
            .filter(|t| t.spec.id.eq_ignore_ascii_case(id));
        let unique = match (folded.next(), folded.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        };
        exact.or(unique).ok_or_else(|| {
            let ids: Vec<&str> = self.tasks.iter().map(|t| t.spec.id.as_str()).collect();
            DomainError::not_found(format!(
                "this release has no task `{id}`; its tasks are {}",
                ids.join(", ")
            ))
        })
    }

    fn index(&self, id: &str) -> Result<usize, DomainError> {
        let task = self.task(id)?;
        Ok(self
            .tasks
            .iter()
            .position(|t| t.spec.id == task.spec.id)
            .unwrap_or_default())
    }

    /// Unfinished dependencies of a task, with their states.
    pub fn blockers(&self, spec: &TaskSpec) -> Vec<String> {
        spec.depends_on
            .iter()
            .filter_map(|d| self.tasks.iter().find(|t| &t.spec.id == d))
            .filter(|t| !t.state.finished())
            .map(|t| format!("{} ({})", t.spec.id, t.state.as_str()))
            .collect()
    }

    /// Pending tasks whose dependencies are all finished.
    pub fn ready_pending(&self) -> BTreeSet<String> {
        self.tasks
            .iter()
            .filter(|t| t.state == TaskState::Pending && self.blockers(&t.spec).is_empty())
            .map(|t| t.spec.id.clone())
            .collect()
    }

    fn require_open(&self) -> Result<(), DomainError> {
        match self.state {
            ReleaseState::Open => Ok(()),
            ReleaseState::Closed => Err(DomainError::conflict("this release is closed")),
            ReleaseState::Cancelled => Err(DomainError::conflict("this release was cancelled")),
        }
    }

    fn require_worker(&self, spec: &TaskSpec, by: &Actor) -> Result<(), DomainError> {
        if spec.owners().any(|o| by.has(o)) || by.has(&self.manager) {
            return Ok(());
        }
        Err(DomainError::forbidden(format!(
            "`{}` belongs to `{}`: only its members or a {} can work on it; {} is neither",
            spec.id,
            spec.owner_label(),
            self.manager,
            by.user
        )))
    }

    fn require_unblocked(&self, spec: &TaskSpec, verb: &str) -> Result<(), DomainError> {
        let blockers = self.blockers(spec);
        if blockers.is_empty() {
            Ok(())
        } else {
            Err(DomainError::conflict(format!(
                "cannot {verb} `{}` yet: waiting for {}",
                spec.id,
                blockers.join(", ")
            )))
        }
    }

    fn newly_ready(&self, before: &BTreeSet<String>) -> Vec<Effect> {
        self.ready_effects(self.ready_pending().difference(before))
    }

    /// The index and spec of a task (not a gate) that `by` may work on.
    fn workable(&self, id: &str, by: &Actor) -> Result<(usize, TaskSpec), DomainError> {
        self.require_open()?;
        let i = self.index(id)?;
        let spec = self.tasks[i].spec.clone();
        if spec.kind == TaskKind::Gate {
            return Err(DomainError::conflict(format!(
                "`{id}` is a gate: sign it with /signoff {id}"
            )));
        }
        self.require_worker(&spec, by)?;
        Ok((i, spec))
    }

    fn refuse_if_finished(&self, i: usize) -> Result<(), DomainError> {
        let task = &self.tasks[i];
        if task.state.finished() {
            let noun = if task.spec.kind == TaskKind::Gate {
                "signed"
            } else {
                task.state.as_str()
            };
            let who = task
                .by
                .as_ref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            return Err(DomainError::conflict(format!(
                "`{}` is already {noun}{who}",
                task.spec.id
            )));
        }
        Ok(())
    }

    /// Finishes task `i` and returns the tasks that became ready through it.
    fn finish(
        &mut self,
        i: usize,
        state: TaskState,
        by: &Actor,
        at: DateTime<Utc>,
        note: Option<String>,
    ) -> Vec<Effect> {
        let before = self.ready_pending();
        let task = &mut self.tasks[i];
        task.state = state;
        if state == TaskState::Done {
            task.started_at.get_or_insert(at);
        }
        task.finished_at = Some(at);
        task.by = Some(by.user.clone());
        task.note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        self.newly_ready(&before)
    }

    /// Marks a task (not a gate) in progress.
    pub fn start_task(
        &mut self,
        id: &str,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        let (i, spec) = self.workable(id, by)?;
        if self.tasks[i].state != TaskState::Pending {
            return Err(DomainError::conflict(format!(
                "`{id}` is already {}",
                self.tasks[i].state.as_str()
            )));
        }
        self.require_unblocked(&spec, "start")?;
        let task = &mut self.tasks[i];
        task.state = TaskState::InProgress;
        task.started_at = Some(at);
        task.by = Some(by.user.clone());
        Ok(vec![Effect::Announce(Notice::TaskStarted {
            task: spec.id,
            by: by.user.clone(),
        })])
    }

    /// What finishing `spec` publishes, if it says.
    fn publication(spec: &TaskSpec) -> Option<Effect> {
        spec.publishes.as_ref().map(|text| {
            Effect::Announce(Notice::Published {
                task: spec.id.clone(),
                text: text.clone(),
            })
        })
    }

    /// Marks a task or notice done; it publishes what it says it publishes
    /// (a notice always does), and may open or end windows.
    pub fn complete_task(
        &mut self,
        id: &str,
        by: &Actor,
        at: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<Vec<Effect>, DomainError> {
        let (i, spec) = self.workable(id, by)?;
        self.refuse_if_finished(i)?;
        self.require_unblocked(&spec, "finish")?;
        let ready = self.finish(i, TaskState::Done, by, at, note);
        let mut effects = vec![Effect::Announce(Notice::TaskDone {
            task: spec.id.clone(),
            by: by.user.clone(),
        })];
        effects.extend(Self::publication(&spec));
        effects.extend(spec.opens.iter().cloned().map(Effect::OpenWindow));
        effects.extend(spec.ends.iter().cloned().map(Effect::EndWindow));
        effects.extend(ready);
        Ok(effects)
    }

    /// Skips a task that is not needed (release-manager, with a reason).
    pub fn skip_task(
        &mut self,
        id: &str,
        by: &Actor,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&self.manager, "skip tasks")?;
        let i = self.index(id)?;
        if self.tasks[i].spec.kind == TaskKind::Gate {
            return Err(DomainError::conflict(format!(
                "`{id}` is a gate and cannot be skipped: a `{}` member must sign it",
                self.tasks[i].spec.owner
            )));
        }
        let (i, spec) = self.workable(id, by)?;
        if reason.trim().is_empty() {
            return Err(DomainError::invalid(
                "skipping needs a reason: add reason:\"…\"",
            ));
        }
        self.refuse_if_finished(i)?;
        let ready = self.finish(i, TaskState::Skipped, by, at, Some(reason.to_string()));
        let mut effects = vec![Effect::Announce(Notice::TaskSkipped {
            task: spec.id,
            by: by.user.clone(),
            reason: reason.trim().to_string(),
        })];
        effects.extend(ready);
        Ok(effects)
    }

    /// Signs a gate: only its owner role, only when its dependencies are done.
    pub fn sign(
        &mut self,
        gate: &str,
        by: &Actor,
        at: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<Vec<Effect>, DomainError> {
        self.require_open()?;
        let i = self.gate_index(gate)?;
        let spec = self.tasks[i].spec.clone();
        if !by.has(&spec.owner) {
            return Err(by.not_member(
                std::slice::from_ref(&spec.owner),
                &format!("sign the `{gate}` gate"),
            ));
        }
        self.refuse_if_finished(i)?;
        self.require_unblocked(&spec, "sign")?;
        let ready = self.finish(i, TaskState::Done, by, at, note);
        let mut effects = vec![Effect::Announce(Notice::Signed {
            gate: spec.id.clone(),
            by: by.user.clone(),
        })];
        effects.extend(Self::publication(&spec));
        effects.extend(spec.opens.iter().cloned().map(Effect::OpenWindow));
        effects.extend(spec.ends.iter().cloned().map(Effect::EndWindow));
        effects.extend(ready);
        Ok(effects)
    }

    /// Revokes a sign-off (its owner role or a release-manager, with a reason);
    /// every task that depends on the gate, directly or not, reopens.
    pub fn revoke(
        &mut self,
        gate: &str,
        by: &Actor,
        at: DateTime<Utc>,
        reason: &str,
        cal: &WorkingCalendar,
    ) -> Result<Vec<Effect>, DomainError> {
        self.require_open()?;
        let i = self.gate_index(gate)?;
        let spec = self.tasks[i].spec.clone();
        if !(by.has(&spec.owner) || by.has(&self.manager)) {
            return Err(DomainError::forbidden(format!(
                "only `{}` members or a release-manager can revoke the `{gate}` sign-off",
                spec.owner
            )));
        }
        if reason.trim().is_empty() {
            return Err(DomainError::invalid(
                "revoking needs a reason: add reason:\"…\"",
            ));
        }
        if self.tasks[i].state != TaskState::Done {
            return Err(DomainError::conflict(format!(
                "`{gate}` is not signed, so there is nothing to revoke"
            )));
        }
        let signed = self.tasks[i].by.clone().zip(self.tasks[i].finished_at);
        self.revocations.push(Revocation {
            gate: spec.id.clone(),
            signed,
            by: by.user.clone(),
            at,
            reason: reason.trim().to_string(),
        });
        let mut reopen: BTreeSet<String> = BTreeSet::from([spec.id.clone()]);
        // tasks are in dependency order, so one pass finds every transitive dependent
        for t in &self.tasks {
            if t.spec.depends_on.iter().any(|d| reopen.contains(d)) {
                reopen.insert(t.spec.id.clone());
            }
        }
        let mut reopened = Vec::new();
        let mut effects = Vec::new();
        for t in self
            .tasks
            .iter_mut()
            .filter(|t| reopen.contains(&t.spec.id))
        {
            if matches!(t.state, TaskState::Done | TaskState::InProgress) {
                if t.spec.id != spec.id {
                    reopened.push(t.spec.id.clone());
                }
                t.state = TaskState::Pending;
                t.started_at = None;
                t.finished_at = None;
                t.by = None;
                t.note = None;
            }
        }
        // the reopened work is late or will be: the digest watches it again
        if !reopened.is_empty() || self.tasks[i].state == TaskState::Pending {
            effects.push(Effect::ScheduleDigest {
                at: self.next_digest(at, cal),
            });
        }
        effects.insert(
            0,
            Effect::Announce(Notice::Revoked {
                gate: spec.id,
                by: by.user.clone(),
                reason: reason.trim().to_string(),
                reopened,
            }),
        );
        Ok(effects)
    }

    fn gate_index(&self, gate: &str) -> Result<usize, DomainError> {
        let gates: Vec<&str> = self
            .tasks
            .iter()
            .filter(|t| t.spec.kind == TaskKind::Gate)
            .map(|t| t.spec.id.as_str())
            .collect();
        match self.tasks.iter().position(|t| t.spec.id == gate) {
            Some(i) if self.tasks[i].spec.kind == TaskKind::Gate => Ok(i),
            Some(_) => Err(DomainError::invalid(format!(
                "`{gate}` is a task, not a gate (finish it with /task done {gate}); gates: {}",
                gates.join(", ")
            ))),
            None => Err(DomainError::not_found(format!(
                "this release has no gate `{gate}`; gates: {}",
                gates.join(", ")
            ))),
        }
    }

    /// Closes the release (release-manager) once nothing is unfinished.
    pub fn close(&mut self, by: &Actor, now: DateTime<Utc>) -> Result<Vec<Effect>, DomainError> {
        by.require(&self.manager, "close releases")?;
        self.require_open()?;
        let open: Vec<&str> = self
            .tasks
            .iter()
            .filter(|t| !t.state.finished())
            .map(|t| t.spec.id.as_str())
            .collect();
        if !open.is_empty() {
            return Err(DomainError::conflict(format!(
                "cannot close: unfinished tasks {} (finish them, or skip them with /task skip <task> reason:…)",
                open.join(", ")
            )));
        }
        self.state = ReleaseState::Closed;
        self.closed_at = Some(now);
        Ok(vec![Effect::Announce(Notice::Closed {
            by: by.user.clone(),
        })])
    }

    /// Cancels the release (its manager), whatever is unfinished: it ends,
    /// its reminders stop, and its channel may start another.
    pub fn cancel(
        &mut self,
        by: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, DomainError> {
        by.require(&self.manager, "cancel releases")?;
        self.require_open()?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DomainError::invalid(
                "reason: say why the release is cancelled, e.g. reason:\"superseded by 3.3\"",
            ));
        }
        self.state = ReleaseState::Cancelled;
        self.closed_at = Some(now);
        self.cancel_reason = Some(reason.to_string());
        Ok(vec![Effect::Announce(Notice::Cancelled {
            by: by.user.clone(),
            reason: reason.to_string(),
        })])
    }

    /// The overdue digest at `now`: one notice naming every unfinished,
    /// unblocked task past its planned end (with its working days late) and
    /// the late ones that wait on others, then the next digest. Nothing once
    /// the release has ended.
    pub fn overdue_digest(&self, now: DateTime<Utc>, cal: &WorkingCalendar) -> Vec<Effect> {
        if self.state != ReleaseState::Open {
            return Vec::new();
        }
        let tz = cal.tz();
        let today = local_date(now, tz);
        let mut late = Vec::new();
        let mut waiting = Vec::new();
        for t in self.tasks.iter().filter(|t| !t.state.finished()) {
            let due = self.planned_end(&t.spec);
            if due > now {
                continue;
            }
            if self.blockers(&t.spec).is_empty() {
                let last_day = local_date(due - TimeDelta::seconds(1), tz);
                let days = cal.working_days_between(last_day, today).max(0);
                late.push((t.spec.id.clone(), days));
            } else {
                waiting.push(t.spec.id.clone());
            }
        }
        let mut effects = Vec::new();
        if !late.is_empty() {
            effects.push(Effect::Announce(Notice::Overdue { late, waiting }));
        }
        if self.tasks.iter().any(|t| !t.state.finished()) {
            effects.push(Effect::ScheduleDigest {
                at: self.next_digest(now, cal),
            });
        }
        effects
    }

    /// When the next digest is due after `now`: the next working morning
    /// while anything is late, else the morning after the first planned end.
    fn next_digest(&self, now: DateTime<Utc>, cal: &WorkingCalendar) -> DateTime<Utc> {
        let unfinished = self.tasks.iter().filter(|t| !t.state.finished());
        let first_due = unfinished.map(|t| self.planned_end(&t.spec)).min();
        match first_due {
            Some(due) if due > now => cal.next_working_morning(due - TimeDelta::seconds(1)),
            _ => cal.next_working_morning(now),
        }
    }

    /// Planned versus actual for every task: dates in `tz`, slips in
    /// working days of `cal`.
    pub fn retro(&self, tz: Tz, cal: &WorkingCalendar) -> Vec<RetroRow> {
        self.tasks
            .iter()
            .map(|t| {
                let planned_end = local_date(self.planned_end(&t.spec) - TimeDelta::seconds(1), tz);
                let actual_end = t.finished_at.map(|f| local_date(f, tz));
                RetroRow {
                    id: t.spec.id.clone(),
                    title: t.spec.title.clone(),
                    owner: t.spec.owner_label(),
                    kind: t.spec.kind,
                    state: t.state,
                    planned_start: local_date(self.planned_start(&t.spec), tz),
                    planned_end,
                    actual_start: t.started_at.map(|s| local_date(s, tz)),
                    actual_end,
                    slip_days: actual_end
                        .filter(|_| t.state == TaskState::Done)
                        .map(|a| cal.working_days_between(planned_end, a)),
                    by: t.by.clone(),
                    finished_at: t.finished_at,
                    note: t.note.clone(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;

//! What pipeline runs look like in chat: one compact status message per run
//! (edited in place), a follow-up naming failed jobs with the on-call role
//! mentioned, and a follow-up for a production deploy outside the release
//! windows. Also the one-line form `/pipeline status|history` use.

use serde::{Deserialize, Serialize};

use super::message::{Line, Message};
use crate::domain::pipeline::{Run, Status};
use crate::domain::release_window::{Flag, is_production};
use crate::domain::{MemberRef, Role};

/// A run as stored: the folded run plus what routing and the rules decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub run: Run,
    /// The route's environment, else the provider's, else `unrouted`.
    pub environment: String,
    pub routed: bool,
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// The release-window check ran (once, when the run started).
    #[serde(default)]
    pub flags_checked: bool,
}

impl RunRecord {
    /// A deployment to production, by the route's environment or the provider's marking.
    pub fn is_production_deploy(&self) -> bool {
        is_production(&self.environment) || self.run.production
    }

    /// The name shown for the run's pipeline.
    pub fn pipeline_name(&self) -> &str {
        if self.run.pipeline.is_empty() {
            self.run.repository.as_deref().unwrap_or(&self.run.run_id)
        } else {
            &self.run.pipeline
        }
    }
}

/// `1h 2m`, `4m 18s`, `45s`.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// `✅ production · deploy #163 · main @ 3484a3f · succeeded in 4m 18s · <url>`
pub fn summary(rec: &RunRecord) -> Line {
    let run = &rec.run;
    let mut line = Line::new()
        .text(format!("{} ", run.status.emoji()))
        .bold(rec.environment.clone())
        .text(" · ")
        .bold(rec.pipeline_name().to_string());
    if let Some(n) = run.number {
        line = line.text(format!(" #{n}"));
    }
    if run.attempt > 1 {
        line = line.text(format!(" (attempt {})", run.attempt));
    }
    match (&run.branch, run.short_commit()) {
        (Some(b), Some(c)) => {
            line = line
                .text(" · ")
                .code(b.clone())
                .text(" @ ")
                .code(c.to_string())
        }
        (Some(b), None) => line = line.text(" · ").code(b.clone()),
        (None, Some(c)) => line = line.text(" · ").code(c.to_string()),
        (None, None) => {}
    }
    let mut state = format!(" · {}", run.status.as_str().replace('_', " "));
    if let Some(d) = run.duration() {
        let verb = if run.status.is_finished() {
            "in"
        } else {
            "for"
        };
        state.push_str(&format!(" {verb} {}", human_duration(d)));
    }
    line = line.text(state);
    if let Some(url) = &run.url {
        line = line.text(format!(" · {url}"));
    }
    line
}

/// The run's living message, edited in place as events arrive.
pub fn run_message(rec: &RunRecord) -> Message {
    let mut m = Message::new().line(summary(rec));
    let run = &rec.run;
    if let Some(actor) = &run.actor {
        let repo = run
            .repository
            .as_deref()
            .map(|r| format!("{r} · "))
            .unwrap_or_default();
        m = m.line(Line::new().text(format!("  {repo}{} by {actor}", run.source)));
    }
    for flag in &rec.flags {
        m = m.line(Line::new().text(format!("  ⚠️ {flag}")));
    }
    if run.status.is_failure() {
        for job in run.failed_jobs() {
            m = m.line(failed_job_line(job));
        }
    } else if !run.status.is_finished() {
        let running: Vec<&str> = run
            .jobs
            .iter()
            .filter(|j| j.status == Status::Running)
            .map(|j| j.name.as_str())
            .collect();
        if !running.is_empty() {
            m = m.line(Line::new().text(format!("  running: {}", running.join(", "))));
        }
    }
    m
}

fn failed_job_line(job: &crate::domain::pipeline::Job) -> Line {
    let stage = job
        .stage
        .as_deref()
        .map(|s| format!(" (stage {s})"))
        .unwrap_or_default();
    let url = job
        .url
        .as_deref()
        .map(|u| format!(" · {u}"))
        .unwrap_or_default();
    Line::new()
        .text(format!("  {} ", job.status.emoji()))
        .code(job.name.clone())
        .text(format!(
            "{stage} {}{url}",
            job.status.as_str().replace('_', " ")
        ))
}

/// The failure follow-up: what failed, and the on-call role mentioned.
pub fn failure_message(rec: &RunRecord, oncall: Option<(Role, Vec<MemberRef>)>) -> Message {
    let run = &rec.run;
    let failed: Vec<&str> = run.failed_jobs().map(|j| j.name.as_str()).collect();
    let what = if failed.is_empty() {
        String::new()
    } else {
        format!(": {}", failed.join(", "))
    };
    let mut line = Line::new().text(format!(
        "{} {} {} in {}{what}",
        run.status.emoji(),
        rec.pipeline_name(),
        run.status.as_str().replace('_', " "),
        rec.environment
    ));
    if let Some((role, members)) = oncall {
        line = line.text(" — ").role(role, members);
    }
    let mut m = Message::new().line(line);
    for job in run.failed_jobs() {
        m = m.line(failed_job_line(job));
    }
    if let Some(url) = &run.url {
        m = m.line(Line::new().text(format!("  run: {url}")));
    }
    m
}

/// The release-window follow-up, to `devops`.
pub fn flag_message(rec: &RunRecord, devops: Vec<MemberRef>) -> Message {
    let mut m = Message::new();
    for flag in &rec.flags {
        m = m.line(
            Line::new()
                .text(format!(
                    "⚠️ Production deploy {}{}: ",
                    rec.pipeline_name(),
                    rec.run.number.map(|n| format!(" #{n}")).unwrap_or_default()
                ))
                .text(flag.to_string())
                .text(" — ")
                .role(Role::DEVOPS, devops.clone()),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pipeline::{RunEvent, Source, apply};
    use chrono::TimeZone;

    #[test]
    fn a_finished_run_reads_as_one_compact_line() {
        let mut e = RunEvent::new(Source::Github, "289782451", "test");
        e.number = Some(163);
        e.branch = Some("master".into());
        e.commit = Some("3484a3fb816e0859fd6e1cea078d76385ff50625".into());
        e.url = Some("https://github.com/octo-org/octo-repo/actions/runs/289782451".into());
        e.status = Some(Status::Succeeded);
        e.started_at = Some(
            chrono::Utc
                .with_ymd_and_hms(2020, 10, 5, 16, 33, 0)
                .unwrap(),
        );
        e.finished_at = Some(
            chrono::Utc
                .with_ymd_and_hms(2020, 10, 5, 16, 37, 18)
                .unwrap(),
        );
        let rec = RunRecord {
            run: apply(None, &e).0,
            environment: "production".into(),
            routed: true,
            flags: vec![],
            flags_checked: true,
        };
        assert_eq!(
            run_message(&rec).plain(chrono_tz::UTC),
            "✅ production · test #163 · `master` @ `3484a3f` · succeeded in 4m 18s · https://github.com/octo-org/octo-repo/actions/runs/289782451"
        );
    }
}

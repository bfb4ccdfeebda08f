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
    /// On-call was paged: on the run's first failure (a job's or its own), once.
    #[serde(default)]
    pub paged: bool,
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
        m = m.line(flag_text(Line::new().text("  ⚠️ "), flag));
    }
    // failed jobs are named as soon as they fail, while the run goes on
    m = failed_job_lines(m, rec);
    if !run.status.is_finished() {
        let running: Vec<&str> = run
            .jobs
            .iter()
            .filter(|j| j.status == Status::Running)
            .map(|j| j.name.as_str())
            .collect();
        if !running.is_empty() {
            m = m.line(Line::new().text(format!("  running: {}", names(&running))));
        }
    }
    m
}

/// At most this many jobs are listed one per line; the rest are counted,
/// with the run's link, so a message fits every platform however many fail.
pub const JOBS_LISTED: usize = 20;
/// At most this many job names are written in a line.
const NAMES_LISTED: usize = 10;

/// Names, comma-separated: the first [`NAMES_LISTED`], then how many more.
fn names(all: &[&str]) -> String {
    let mut text = all
        .iter()
        .take(NAMES_LISTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > NAMES_LISTED {
        text.push_str(&format!(" and {} more", all.len() - NAMES_LISTED));
    }
    text
}

/// One line per failed job, the first [`JOBS_LISTED`], then how many more and where.
fn failed_job_lines(mut m: Message, rec: &RunRecord) -> Message {
    let failed: Vec<_> = rec.run.failed_jobs().collect();
    for job in failed.iter().take(JOBS_LISTED) {
        m = m.line(failed_job_line(job));
    }
    if failed.len() > JOBS_LISTED {
        let more = failed.len() - JOBS_LISTED;
        let link = rec
            .run
            .url
            .as_deref()
            .map(|u| format!(": {u}"))
            .unwrap_or_default();
        m = m.line(Line::new().text(format!("  … and {more} more failed jobs{link}")));
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
/// Sent once per run, on its first failure: a failed job while the run is
/// still going, or the run itself.
pub fn failure_message(rec: &RunRecord, oncall: Option<(Role, Vec<MemberRef>)>) -> Message {
    let run = &rec.run;
    let failed: Vec<&str> = run.failed_jobs().map(|j| j.name.as_str()).collect();
    let what = if failed.is_empty() {
        String::new()
    } else {
        format!(": {}", names(&failed))
    };
    let mut line = if run.status.is_failure() {
        Line::new().text(format!(
            "{} {} {} in {}{what}",
            run.status.emoji(),
            rec.pipeline_name(),
            run.status.as_str().replace('_', " "),
            rec.environment
        ))
    } else {
        // a job failed while the run goes on
        Line::new().text(format!(
            "❌ {} failing in {}{what}",
            rec.pipeline_name(),
            rec.environment
        ))
    };
    if let Some((role, members)) = oncall {
        line = line.text(" — ").role(role, members);
    }
    let mut m = failed_job_lines(Message::new().line(line), rec);
    if let Some(url) = &run.url {
        m = m.line(Line::new().text(format!("  run: {url}")));
    }
    m
}

/// A flag's words, its time as a time (each reader's own zone), never as UTC text.
fn flag_text(line: Line, flag: &Flag) -> Line {
    match flag {
        Flag::DuringFreeze {
            target,
            until,
            reason,
        } => line
            .text(format!(
                "started during the code freeze on `{target}` (until "
            ))
            .time(*until)
            .text(format!(", {reason})")),
        other => line.text(other.to_string()),
    }
}

/// The release-window follow-up, to `devops`.
pub fn flag_message(rec: &RunRecord, devops: Vec<MemberRef>) -> Message {
    let mut m = Message::new();
    for flag in &rec.flags {
        let line = Line::new().text(format!(
            "⚠️ Production deploy {}{}: ",
            rec.pipeline_name(),
            rec.run.number.map(|n| format!(" #{n}")).unwrap_or_default()
        ));
        m = m.line(
            flag_text(line, flag)
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
            paged: false,
        };
        assert_eq!(
            run_message(&rec).plain(chrono_tz::UTC),
            "✅ production · test #163 · `master` @ `3484a3f` · succeeded in 4m 18s · https://github.com/octo-org/octo-repo/actions/runs/289782451"
        );
    }

    #[test]
    fn a_freeze_flag_shows_its_end_in_the_readers_zone_never_in_utc() {
        let mut e = RunEvent::new(Source::Github, "1", "deploy-web");
        e.status = Some(Status::Running);
        let until = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 4, 30, 0).unwrap();
        let rec = RunRecord {
            run: apply(None, &e).0,
            environment: "production".into(),
            routed: true,
            flags: vec![Flag::DuringFreeze {
                target: "web".into(),
                until,
                reason: "release".into(),
            }],
            flags_checked: true,
            paged: false,
        };
        let m = flag_message(&rec, vec![]);
        let tz = chrono_tz::Asia::Kolkata;
        let plain = m.plain(tz);
        assert!(
            plain.contains("(until 2026-12-01 10:00 IST, release)"),
            "{plain}"
        );
        assert!(!plain.contains("UTC"), "{plain}");
        let slack = m.markup(crate::domain::Platform::Slack, tz);
        assert!(slack.contains("<!date^1796099400^"), "{slack}");
        let discord = run_message(&rec).markup(crate::domain::Platform::Discord, tz);
        assert!(discord.contains("<t:1796099400:f>"), "{discord}");
    }
}

//! Checks every key and builds the typed [`Config`]. Each [`Problem`] names
//! its key, so `check-config` can report all of them at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use chrono::TimeDelta;
use chrono_tz::Tz;

use super::Settings;
use super::section::{Check, Section, SectionCheck, Sections};
use crate::domain::calendar::{
    WorkingCalendar, WorkingHours, parse_holiday, parse_ics_holidays, parse_weekday,
};
use crate::domain::timing::parse_duration;
use crate::domain::{ChannelRef, MemberRef, Platform, Role, UserRef};

/// One configuration problem, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Who holds which role, and which platform identities are one person.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub roles: BTreeMap<Role, Vec<MemberRef>>,
    /// identity → person name, from `[people.<name>]`.
    pub people: BTreeMap<UserRef, String>,
}

impl Directory {
    /// The key under which one person's approvals are counted.
    pub fn person_of(&self, user: &UserRef) -> String {
        match self.people.get(user) {
            Some(name) => format!("person:{name}"),
            None => user.to_string(),
        }
    }

    /// Every identity of the person `user` belongs to (at least `user`).
    pub fn identities_of(&self, user: &UserRef) -> Vec<UserRef> {
        match self.people.get(user) {
            Some(name) => self
                .people
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(u, _)| u.clone())
                .collect(),
            None => vec![user.clone()],
        }
    }

    /// Roles from `[roles]` for these identities and the groups the invoker
    /// is in on their platform (Discord role ids, Slack user group ids).
    pub fn configured_roles(&self, identities: &[UserRef], groups: &[String]) -> BTreeSet<Role> {
        self.roles
            .iter()
            .filter(|(_, members)| {
                members.iter().any(|m| match m {
                    MemberRef::User(u) => identities.contains(u),
                    // Discord's ids are digits, Slack's start with S: they never collide
                    MemberRef::DiscordRole(id) | MemberRef::SlackGroup(id) => groups.contains(id),
                })
            })
            .map(|(role, _)| role.clone())
            .collect()
    }
}

/// How long rows that grow without bound are kept (`[retention]`; `None`:
/// forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRules {
    pub webhook_deliveries: Option<TimeDelta>,
    pub pipeline_runs: Option<TimeDelta>,
    pub delivered_messages: Option<TimeDelta>,
    pub finished_jobs: Option<TimeDelta>,
}

/// The typed configuration the app runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// What the sections found valid but likely not meant (printed by
    /// `check-config` and logged at start).
    pub warnings: Vec<Problem>,
    pub tz: Tz,
    /// The working calendar (`[calendar]`) business time runs on.
    pub calendar: WorkingCalendar,
    pub bind: SocketAddr,
    pub directory: Directory,
    /// Every feature's section, checked (read with [`Config::section`]).
    pub sections: Sections,
    pub scheduler_retry_base: TimeDelta,
    pub outbox_retry_base: TimeDelta,
    pub slack_rate: ChannelRate,
    pub discord_rate: ChannelRate,
    pub http_limits: HttpLimits,
    /// How long a stop waits for work in flight (`shutdown.grace`).
    pub shutdown_grace: std::time::Duration,
    pub retention: RetentionRules,
    /// `[mail]`, when e-mail is on (`mail.url` set).
    pub mail: Option<super::MailConfig>,
}

impl Config {
    /// The rules of a feature's section.
    ///
    /// # Panics
    /// If no feature in the features list owns `S`: every listed feature's
    /// section is checked before a `Config` exists, so this is a feature
    /// asking for a section it never listed (a test of each feature catches it).
    pub fn section<S: Section>(&self) -> &S {
        match self.sections.get::<S>() {
            Some(rules) => rules,
            None => panic!("section [{}] is not in the features list", S::NAME),
        }
    }
}

/// What the HTTP listener allows one client (`http.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: std::time::Duration,
    pub request_timeout: std::time::Duration,
}

/// At most `limit` messages per `window` to one channel of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRate {
    pub limit: u32,
    pub window: std::time::Duration,
}

/// Parses a configured interval: a duration (`90s`, `45m`, …) or milliseconds (`250ms`).
pub fn parse_interval(s: &str) -> Result<TimeDelta, String> {
    match s.trim().strip_suffix("ms") {
        Some(n) => match n.parse::<i64>() {
            Ok(ms) if ms > 0 => Ok(TimeDelta::milliseconds(ms)),
            _ => Err(format!(
                "`{s}` is not a duration: write a whole number and a unit ms, s, m, h, d or w, e.g. 500ms or 2s"
            )),
        },
        None => parse_duration(s).map_err(|e| e.to_string()),
    }
}

/// What the core reads of a `[partners.<name>]` table: whether
/// `email:<name>` reaches anyone (the feature checks the rest).
#[derive(serde::Deserialize)]
struct PartnerEmails {
    #[serde(default, deserialize_with = "super::list")]
    emails: Vec<String>,
}

/// Where the problems found so far go.
pub(super) struct Checker {
    problems: Vec<Problem>,
    /// The names an `email:<name>` channel may use: `[mail.lists]` and the
    /// `[partners]` with `emails`.
    mail_names: BTreeSet<String>,
    /// The `[partners]` without `emails` (an `email:<name>` reaches nobody).
    partners_without_emails: BTreeSet<String>,
    /// Whether `mail.url` is set (an `email:` channel needs it).
    mail_on: bool,
}

impl Checker {
    /// Records a problem with `key`. A key reading found missing keeps that
    /// one problem, not what checking its stand-in value then says.
    pub(super) fn problem(&mut self, key: impl Into<String>, message: impl fmt::Display) {
        let key = key.into();
        if self
            .problems
            .iter()
            .any(|p| p.key == key && p.message.starts_with("missing:"))
        {
            return;
        }
        self.problems.push(Problem {
            key,
            message: message.to_string(),
        });
    }

    pub(super) fn parse<T: FromStr>(&mut self, key: &str, value: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        match value.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, key: &str, value: &str) -> Option<TimeDelta> {
        match parse_duration(value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    fn interval(&mut self, key: &str, value: &str) -> Option<TimeDelta> {
        match parse_interval(value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    fn rate(&mut self, section: &str, limit: u32, window: &str) -> ChannelRate {
        if limit == 0 {
            self.problem(format!("{section}.per_channel_limit"), "must be at least 1");
        }
        let window = self
            .interval(&format!("{section}.per_channel_window"), window)
            .and_then(|w| w.to_std().ok())
            .unwrap_or(std::time::Duration::from_secs(1));
        ChannelRate {
            limit: limit.max(1),
            window,
        }
    }

    pub(super) fn channels(&mut self, key: &str, values: &[String]) -> Vec<ChannelRef> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let key = format!("{key}[{i}]");
                let channel = self.parse::<ChannelRef>(&key, v)?;
                if channel.platform == Platform::Email && !self.mail_on {
                    self.problem(key, format!("`{v}` is an e-mail channel, but e-mail is off: set mail.url (see [mail])"));
                    return None;
                }
                if channel.platform == Platform::Email
                    && self.partners_without_emails.contains(&channel.id)
                {
                    self.problem(key, format!("`{v}` names partner [partners.{0}], which has no emails: set partners.{0}.emails (e.g. emails = [\"ops@{0}.example\"]), or write an address, e.g. email:ops@partner.example", channel.id));
                    return None;
                }
                if channel.platform == Platform::Email
                    && !channel.id.contains('@')
                    && !self.mail_names.contains(&channel.id)
                {
                    self.problem(key, format!("`{v}` names no mail list: add [mail.lists.{0}] (or a partner [partners.{0}] with emails), or write an address, e.g. email:ops@partner.example", channel.id));
                    return None;
                }
                Some(channel)
            })
            .collect()
    }

    /// A retention age: `off` (kept forever) or an interval of at least a day.
    fn retention(&mut self, key: &str, value: &str) -> Option<TimeDelta> {
        if value.trim().eq_ignore_ascii_case("off") {
            return None;
        }
        match parse_interval(value) {
            Ok(age) if age >= TimeDelta::days(1) => Some(age),
            Ok(_) => {
                self.problem(
                    key,
                    format!(
                        "`{value}` is too short: keep at least 1d, or write \"off\" to keep forever"
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(key, format!("{e}; or \"off\" to keep forever"));
                None
            }
        }
    }

    pub(super) fn cron(&mut self, key: &str, value: &str) {
        if let Err(e) = crate::scheduler::parse_cron(value) {
            self.problem(key, e);
        }
    }

    /// A role that `[roles]` configures.
    pub(super) fn role(&mut self, key: &str, name: &str, directory: &Directory) -> Option<Role> {
        let role = self.parse::<Role>(key, name)?;
        if directory.roles.contains_key(&role) {
            return Some(role);
        }
        let known: Vec<&str> = directory.roles.keys().map(Role::as_str).collect();
        self.problem(
            key,
            format!(
                "unknown role `{name}`: add it under [roles], or use one of {}",
                known.join(", ")
            ),
        );
        None
    }
}

impl Settings {
    /// What is allowed but probably not meant: with Slack or Discord
    /// enabled, every notice list whose channels are all console channels
    /// (no one in chat would see those notices).
    pub fn warnings(&self) -> Vec<Problem> {
        if !(self.slack.enabled || self.discord.enabled) {
            return Vec::new();
        }
        let platforms = match (self.slack.enabled, self.discord.enabled) {
            (true, true) => "Slack and Discord",
            (true, false) => "Slack",
            _ => "Discord",
        };
        let mut warnings = Vec::new();
        let mut visit = |key: String, value: &config::Value| {
            let channels: Vec<String> = match &value.kind {
                config::ValueKind::Array(items) => items.iter().map(|v| v.to_string()).collect(),
                config::ValueKind::String(s) => s.split(',').map(str::to_string).collect(),
                _ => return,
            };
            if !channels.is_empty() && channels.iter().all(|c| c.trim().starts_with("console:")) {
                warnings.push(Problem {
                    message: format!(
                        "every channel here is a console channel, so {platforms} users will not see these notices: add one, e.g. slack:C0123456789 or discord:123456789012345678"
                    ),
                    key,
                });
            }
        };
        for (name, table) in &self.sections.0 {
            let config::ValueKind::Table(keys) = &table.kind else {
                continue;
            };
            let mut keys: Vec<(&String, &config::Value)> = keys.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            for (key, value) in keys {
                if key.ends_with("channels") {
                    visit(format!("{name}.{key}"), value);
                }
            }
        }
        warnings
    }

    /// Checks every key of the core and of each section in `checks` (the
    /// features list's: `Settings::validate` in `app::features` passes them);
    /// returns the typed config or every problem found.
    pub fn validate_with(&self, checks: &[&dyn SectionCheck]) -> Result<Config, Vec<Problem>> {
        let mut c = Checker {
            problems: self.load_problems.clone(),
            mail_names: self.mail.lists.keys().cloned().collect(),
            partners_without_emails: BTreeSet::new(),
            mail_on: !self.mail.url.trim().is_empty(),
        };
        // a partner's `emails` is reached as `email:<partner>`, and only
        // they: a list of the same name would make `email:<name>` ambiguous
        if let Some(Ok(partners)) = self
            .sections
            .0
            .get("partners")
            .map(|v| v.clone().into_table())
        {
            for (name, partner) in partners {
                if self.mail.lists.contains_key(&name) {
                    c.problem(format!("mail.lists.{name}"), format!("is named like partner [partners.{name}], so `email:{name}` could mean either: rename the list, e.g. [mail.lists.{name}-users], or list the addresses in partners.{name}.emails"));
                }
                // a partner the feature cannot read is its section's problem:
                // here it counts as reachable, so it is refused only once
                match partner.try_deserialize::<PartnerEmails>() {
                    Ok(p) if !p.emails.iter().any(|e| !e.trim().is_empty()) => {
                        c.partners_without_emails.insert(name);
                    }
                    _ => {
                        c.mail_names.insert(name);
                    }
                }
            }
        }
        let tz = match self.timezone.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                c.problem(
                    "timezone",
                    format!(
                        "unknown time zone `{}`: use an IANA name such as Asia/Kolkata",
                        self.timezone
                    ),
                );
                Tz::UTC
            }
        };
        let calendar = self.check_calendar(&mut c, tz);
        let bind = c
            .parse::<SocketAddr>("http.bind", &self.http.bind)
            .unwrap_or_else(|| ([127, 0, 0, 1], 8080).into());
        if self.http.max_body_bytes == 0 {
            c.problem("http.max_body_bytes", "must be above zero, e.g. 1048576");
        }
        if !self.database.url.starts_with("sqlite:") {
            c.problem(
                "database.url",
                format!(
                    "`{}` is not a SQLite URL: write sqlite://path/to/file.db",
                    self.database.url
                ),
            );
        }
        c.parse::<UserRef>("console.user", &format!("console:{}", self.console.user));
        c.parse::<ChannelRef>(
            "console.channel",
            &format!("console:{}", self.console.channel),
        );

        let mut directory = Directory::default();
        for (role_name, members) in &self.roles {
            let key = format!("roles.{role_name}");
            let Some(role) = c.parse::<Role>(&key, role_name) else {
                continue;
            };
            let parsed = members
                .iter()
                .enumerate()
                .filter_map(|(i, m)| c.parse::<MemberRef>(&format!("{key}[{i}]"), m))
                .collect();
            directory.roles.insert(role, parsed);
        }
        for (name, person) in &self.people {
            for (platform, id) in [
                (Platform::Slack, &person.slack),
                (Platform::Discord, &person.discord),
                (Platform::Console, &person.console),
            ] {
                let Some(id) = id else { continue };
                let key = format!("people.{name}.{platform}");
                if let Some(user) = c.parse::<UserRef>(&key, &format!("{platform}:{id}"))
                    && let Some(other) = directory.people.insert(user.clone(), name.clone())
                {
                    c.problem(key, format!("{user} is already person `{other}`"));
                }
            }
        }

        if self.slack.enabled {
            if self.slack.bot_token.is_empty() {
                c.problem(
                    "slack.bot_token",
                    "is required when slack.enabled is true (set SHIPMATE__SLACK__BOT_TOKEN)",
                );
            }
            if self.slack.socket_mode && self.slack.app_token.is_empty() {
                c.problem(
                    "slack.app_token",
                    "is required for socket_mode (set SHIPMATE__SLACK__APP_TOKEN)",
                );
            }
            if !self.slack.socket_mode && self.slack.signing_secret.is_empty() {
                c.problem(
                    "slack.signing_secret",
                    "is required for the HTTP endpoints (set SHIPMATE__SLACK__SIGNING_SECRET)",
                );
            }
        }
        if self.discord.enabled {
            if self.discord.bot_token.is_empty() {
                c.problem(
                    "discord.bot_token",
                    "is required when discord.enabled is true (set SHIPMATE__DISCORD__BOT_TOKEN)",
                );
            }
            if !self.discord.gateway && self.discord.public_key.len() != 64 {
                c.problem("discord.public_key", "must be the application's 64-hex-digit public key for the interactions endpoint");
            }
            if self.discord.gateway
                && !self
                    .discord
                    .api_base_url
                    .trim_end_matches('/')
                    .ends_with("/api/v10")
            {
                c.problem(
                    "discord.api_base_url",
                    "must end with /api/v10 when discord.gateway is true (the gateway client's REST calls are sent to it as a proxy)",
                );
            }
        }
        for (key, url) in [
            ("slack.api_base_url", &self.slack.api_base_url),
            ("discord.api_base_url", &self.discord.api_base_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                c.problem(key, format!("`{url}` is not an http(s) URL"));
            }
        }
        let scheduler_retry_base = c.duration("scheduler.retry_base", &self.scheduler.retry_base);
        let outbox_retry_base = c.interval("outbox.retry_base", &self.outbox.retry_base);
        let mut std_interval = |key: &str, value: &str, default: u64| {
            c.interval(key, value)
                .and_then(|d| d.to_std().ok())
                .unwrap_or(std::time::Duration::from_secs(default))
        };
        let http_limits = HttpLimits {
            max_connections: self.http.max_connections,
            header_timeout: std_interval("http.header_timeout", &self.http.header_timeout, 10),
            request_timeout: std_interval("http.request_timeout", &self.http.request_timeout, 30),
        };
        let shutdown_grace = std_interval("shutdown.grace", &self.shutdown.grace, 8);
        let r = &self.retention;
        let retention = RetentionRules {
            webhook_deliveries: c.retention("retention.webhook_deliveries", &r.webhook_deliveries),
            pipeline_runs: c.retention("retention.pipeline_runs", &r.pipeline_runs),
            delivered_messages: c.retention("retention.delivered_messages", &r.delivered_messages),
            finished_jobs: c.retention("retention.finished_jobs", &r.finished_jobs),
        };
        c.cron("retention.schedule", &r.schedule);
        if self.http.max_connections == 0 {
            c.problem("http.max_connections", "must be at least 1");
        }
        let slack_rate = c.rate(
            "slack",
            self.slack.per_channel_limit,
            &self.slack.per_channel_window,
        );
        let discord_rate = c.rate(
            "discord",
            self.discord.per_channel_limit,
            &self.discord.per_channel_window,
        );

        let mail = self.mail.check(&mut c, tz);
        let sections = self.check_sections(&mut c, checks, tz, &calendar, &directory);
        for check in checks {
            for (key, message) in check.check_across(&sections) {
                c.problem(key, message);
            }
        }
        if !c.problems.is_empty() {
            return Err(c.problems);
        }
        let warnings = checks
            .iter()
            .flat_map(|check| check.warnings(&sections))
            .map(|(key, message)| Problem { key, message })
            .collect();
        Ok(Config {
            warnings,
            sections,
            settings: self.clone(),
            tz,
            calendar,
            bind,
            directory,
            scheduler_retry_base: scheduler_retry_base.unwrap_or(TimeDelta::seconds(5)),
            outbox_retry_base: outbox_retry_base.unwrap_or(TimeDelta::seconds(2)),
            http_limits,
            shutdown_grace,
            retention,
            slack_rate,
            discord_rate,
            mail,
        })
    }
}

impl Settings {
    fn check_calendar(&self, c: &mut Checker, default_tz: Tz) -> WorkingCalendar {
        let cal = &self.calendar;
        let tz = match cal.timezone.as_deref().map(str::trim) {
            None | Some("") => default_tz,
            Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
                c.problem(
                    "calendar.timezone",
                    format!("unknown time zone `{name}`: use an IANA name such as Asia/Kolkata"),
                );
                default_tz
            }),
        };
        let mut days = Vec::new();
        for (i, d) in cal.working_days.iter().enumerate() {
            match parse_weekday(d) {
                Ok(day) if days.contains(&day) => c.problem(
                    format!("calendar.working_days[{i}]"),
                    format!("`{d}` is listed twice: list each day once"),
                ),
                Ok(day) => days.push(day),
                Err(e) => c.problem(format!("calendar.working_days[{i}]"), e),
            }
        }
        let hours = c
            .parse::<WorkingHours>("calendar.working_hours", &cal.working_hours)
            .unwrap_or(WorkingHours {
                open: chrono::NaiveTime::MIN,
                close: chrono::NaiveTime::MIN + TimeDelta::hours(9),
            });
        let holidays: Vec<_> = cal
            .holidays
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match parse_holiday(h) {
                Ok(date) => Some(date),
                Err(e) => {
                    c.problem(format!("calendar.holidays[{i}]"), e);
                    None
                }
            })
            .collect();
        let mut holidays = holidays;
        let file = cal.holidays_file.trim();
        if !file.is_empty() {
            match std::fs::read_to_string(file) {
                Ok(text) => match parse_ics_holidays(&text) {
                    Ok(days) => holidays.extend(days),
                    Err(e) => c.problem("calendar.holidays_file", format!("{file}: {e}")),
                },
                Err(e) => c.problem(
                    "calendar.holidays_file",
                    format!("cannot read `{file}`: {e} (give the path of an .ics file, or leave it empty)"),
                ),
            }
        }
        match WorkingCalendar::new(tz, days.iter().copied(), hours, holidays.iter().copied()) {
            Ok(calendar) => calendar,
            Err(e) => {
                if cal.working_days.is_empty() {
                    c.problem("calendar.working_days", e);
                }
                // a placeholder: the problems above fail the validation
                WorkingCalendar::default()
            }
        }
    }

    /// Checks each feature's section, and names every top-level table that
    /// no feature owns.
    fn check_sections(
        &self,
        c: &mut Checker,
        checks: &[&dyn SectionCheck],
        tz: Tz,
        calendar: &WorkingCalendar,
        directory: &Directory,
    ) -> Sections {
        let mut sections = Sections::default();
        for unknown in self
            .sections
            .0
            .keys()
            .filter(|name| !checks.iter().any(|s| s.name() == name.as_str()))
        {
            let known: Vec<&str> = checks.iter().map(|s| s.name()).collect();
            let hint = super::nearest(unknown, known.iter().copied())
                .map(|n| format!(": did you mean [{n}]?"))
                .unwrap_or_default();
            c.problem(
                unknown.clone(),
                format!(
                    "unknown section [{unknown}]{hint} (the feature sections are {}, beside the core ones in config/default.toml)",
                    known.join(", ")
                ),
            );
        }
        for section in checks {
            let mut check = Check {
                checker: c,
                section: section.name(),
                tz,
                calendar,
                directory,
            };
            if let Some(checked) = section.check(self.sections.0.get(section.name()), &mut check) {
                sections.insert(section.name(), checked);
            }
        }
        sections
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeDelta;

    use super::super::load;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn embedded_defaults_are_valid() {
        let config = load(None, env(&[])).unwrap().validate().unwrap();
        assert_eq!(config.tz, chrono_tz::Asia::Kolkata);
        assert_eq!(config.settings.http.bind, "127.0.0.1:8080");
        let deletion = config.section::<crate::app::deletion::DeletionRules>();
        assert_eq!(deletion.approvals_required, 1);
        assert_eq!(
            (config.slack_rate.limit, config.slack_rate.window.as_secs()),
            (1, 1),
            "Slack: one message per second per channel"
        );
        assert_eq!(
            (
                config.discord_rate.limit,
                config.discord_rate.window.as_secs()
            ),
            (5, 5),
            "Discord: five messages per five seconds per channel"
        );
    }

    #[test]
    fn intervals_accept_milliseconds_but_not_nonsense() {
        use super::parse_interval;
        assert_eq!(parse_interval("250ms").unwrap().num_milliseconds(), 250);
        assert_eq!(parse_interval("2s").unwrap().num_milliseconds(), 2000);
        for bad in ["0ms", "-5ms", "ms", "1.5s", "fast"] {
            assert!(parse_interval(bad).is_err(), "{bad} accepted");
        }
        let s = load(
            None,
            env(&[
                ("SHIPMATE__OUTBOX__RETRY_BASE", "100ms"),
                ("SHIPMATE__SLACK__PER_CHANNEL_WINDOW", "soon"),
                ("SHIPMATE__DISCORD__PER_CHANNEL_LIMIT", "0"),
            ]),
        )
        .unwrap();
        let keys: Vec<String> = s
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            ["slack.per_channel_window", "discord.per_channel_limit"]
        );
    }

    #[test]
    fn socket_and_gateway_modes_need_their_own_keys_only() {
        let problems = |pairs: &[(&str, &str)]| -> Vec<String> {
            match load(None, env(pairs)).unwrap().validate() {
                Ok(_) => Vec::new(),
                Err(problems) => problems.into_iter().map(|p| p.key).collect(),
            }
        };
        let slack = [
            ("SHIPMATE__SLACK__ENABLED", "true"),
            ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-1"),
            ("SHIPMATE__SLACK__SOCKET_MODE", "true"),
        ];
        assert_eq!(problems(&slack), ["slack.app_token"]);
        let mut with_token = slack.to_vec();
        with_token.push(("SHIPMATE__SLACK__APP_TOKEN", "xapp-1"));
        assert!(problems(&with_token).is_empty(), "no signing secret needed");

        let discord = [
            ("SHIPMATE__DISCORD__ENABLED", "true"),
            ("SHIPMATE__DISCORD__BOT_TOKEN", "t"),
            ("SHIPMATE__DISCORD__GATEWAY", "true"),
        ];
        assert!(problems(&discord).is_empty(), "no public key needed");
        let mut proxied = discord.to_vec();
        proxied.push((
            "SHIPMATE__DISCORD__API_BASE_URL",
            "http://127.0.0.1:9/discord",
        ));
        assert_eq!(problems(&proxied), ["discord.api_base_url"]);
    }

    #[test]
    fn environment_overrides_with_double_underscores() {
        let s = load(
            None,
            env(&[
                ("SHIPMATE__SLACK__BOT_TOKEN", "xoxb-1"),
                ("SHIPMATE__DELETION__CHANNELS", "slack:C1,console:#ops"),
                ("SHIPMATE__DELETION__APPROVALS_REQUIRED", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(s.slack.bot_token.expose(), "xoxb-1");
        assert_eq!(format!("{:?}", s.slack.bot_token), "***");
        let config = s.validate().unwrap();
        let deletion = config.section::<crate::app::deletion::DeletionRules>();
        assert_eq!(
            deletion.channels,
            ["slack:C1".parse().unwrap(), "console:#ops".parse().unwrap()]
        );
        assert_eq!(deletion.approvals_required, 2);
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("partial.toml");
        // roles are data: `wizard` is a role; `Wizard!` is no role name, and
        // a permission naming a role that [roles] lacks is a problem
        std::fs::write(
            &file,
            "[roles]\nwizard = [\"console:merlin\"]\n\"Wizard!\" = [\"console:x\"]\n[deletion]\napprover_role = \"stewards\"\n",
        )
        .unwrap();
        let s = load(
            Some(&file),
            env(&[
                ("SHIPMATE__TIMEZONE", "Mars/Olympus"),
                ("SHIPMATE__DELETION__COOLING_OFF__LOW", "soon"),
                ("SHIPMATE__DELETION__CHANNELS", "bioinfo"),
                ("SHIPMATE__ROLES__QA", "console:ok,nobody"),
                ("SHIPMATE__SMS__REMINDER_CRON", "every day"),
                ("SHIPMATE__VERSIONS__EOSL_NOTICE", "180d,someday"),
                ("SHIPMATE__VERSIONS__CHANNELS", "partners"),
                ("SHIPMATE__VERSIONS__MANAGER_ROLE", "shippers"),
                ("SHIPMATE__PARTNERS__ACME__TIMEZONE", "Gotham/Central"),
            ]),
        )
        .unwrap();
        let problems = s.validate().unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "timezone",
            "deletion.cooling_off.low",
            "deletion.channels[0]",
            "roles.Wizard!",
            "deletion.approver_role",
            "roles.qa[1]",
            "sms.reminder_cron",
            "versions.eosl_notice[1]",
            "versions.channels[0]",
            "versions.manager_role",
            "partners.acme.timezone",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert!(!keys.contains(&"roles.wizard"), "{keys:?}");
    }

    #[test]
    fn downtime_and_sms_keys_are_checked_by_name() {
        let s = load(
            None,
            env(&[
                ("SHIPMATE__DOWNTIME__REMIND_BEFORE", "24h,soon"),
                ("SHIPMATE__DOWNTIME__CHANNELS", "partners"),
                ("SHIPMATE__SMS__WINDOW", "a month"),
                ("SHIPMATE__SMS__BALANCE_URL", "ftp://vendor/balance"),
                ("SHIPMATE__SMS__BALANCE_POINTER", "data.balance"),
                ("SHIPMATE__SMS__POLL_CRON", "hourly"),
            ]),
        )
        .unwrap();
        let keys: Vec<String> = s
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            [
                "downtime.channels[0]",
                "downtime.remind_before[1]",
                "sms.window",
                "sms.balance_url",
                "sms.poll_cron",
                "sms.balance_pointer",
            ]
        );
        let token_only = load(None, env(&[("SHIPMATE__SMS__BALANCE_TOKEN", "t0ken")])).unwrap();
        let problems = token_only.validate().unwrap_err();
        assert_eq!(problems[0].key, "sms.balance_token");
        assert!(
            !problems[0].to_string().contains("t0ken"),
            "secrets stay out"
        );
        let ok = load(
            None,
            env(&[("SHIPMATE__DOWNTIME__REMIND_BEFORE", "2h,15m")]),
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(
            ok.section::<crate::app::downtime::DowntimeRules>()
                .remind_before,
            [TimeDelta::hours(2), TimeDelta::minutes(15)]
        );
        assert!(ok.section::<crate::app::sms::SmsRules>().poll.is_none());
    }

    #[test]
    fn calendar_keys_are_checked_by_name() {
        let s = load(
            None,
            env(&[
                ("SHIPMATE__CALENDAR__TIMEZONE", "Mars/Olympus"),
                ("SHIPMATE__CALENDAR__WORKING_DAYS", "Mon,Funday,Mon"),
                ("SHIPMATE__CALENDAR__WORKING_HOURS", "18:00-09:00"),
                ("SHIPMATE__CALENDAR__HOLIDAYS", "2026-12-25,25/12/2026"),
            ]),
        )
        .unwrap();
        let keys: Vec<String> = s
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            [
                "calendar.timezone",
                "calendar.working_days[1]",
                "calendar.working_days[2]",
                "calendar.working_hours",
                "calendar.holidays[1]",
            ]
        );
        let ok = load(None, env(&[("SHIPMATE__CALENDAR__HOLIDAYS", "2026-12-25")]))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(
            ok.calendar.tz(),
            chrono_tz::Asia::Kolkata,
            "the top-level zone"
        );
        assert_eq!(ok.calendar.working_day(), TimeDelta::hours(9));
        let christmas = chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        assert!(!ok.calendar.is_working_day(christmas));

        let dir = tempfile::tempdir().unwrap();
        let ics = dir.path().join("holidays.ics");
        std::fs::write(
            &ics,
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20270126\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .unwrap();
        let path = ics.display().to_string();
        let from_file = load(None, env(&[("SHIPMATE__CALENDAR__HOLIDAYS_FILE", &path)]))
            .unwrap()
            .validate()
            .unwrap();
        let republic_day = chrono::NaiveDate::from_ymd_opt(2027, 1, 26).unwrap();
        assert!(!from_file.calendar.is_working_day(republic_day));
        let missing = dir.path().join("none.ics").display().to_string();
        let problems = load(
            None,
            env(&[("SHIPMATE__CALENDAR__HOLIDAYS_FILE", &missing)]),
        )
        .unwrap()
        .validate()
        .unwrap_err();
        assert_eq!(problems[0].key, "calendar.holidays_file");
    }

    #[test]
    fn pipeline_problems_are_named_with_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipelines.toml");
        std::fs::write(
            &file,
            r#"
[pipelines]
release_windows = ["Mon-Thu 10:00-16:00", "Someday 10:00-12:00"]
[[pipelines.routes]]
source = "jenkins"
repository = "acme/[portal"
environment = "production"
channels = ["console:#deploys"]
oncall = "wizard"
"#,
        )
        .unwrap();
        let problems = load(Some(&file), env(&[])).unwrap().validate().unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "pipelines.release_windows[1]",
            "pipelines.routes[0].source",
            "pipelines.routes[0].repository",
            "pipelines.routes[0].oncall",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert!(!keys.contains(&"pipelines.release_windows[0]"));
    }

    #[test]
    fn a_table_no_feature_owns_and_a_missing_section_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("typo.toml");
        std::fs::write(&file, "[delettion]\nchannels = [\"console:#bioinfo\"]\n").unwrap();
        let problems = load(Some(&file), env(&[])).unwrap().validate().unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "delettion");
        assert!(
            problems[0].message.contains("deletion"),
            "names the known sections: {}",
            problems[0].message
        );

        let mut without = load(None, env(&[])).unwrap();
        without.sections.0.remove("sms");
        let problems = without.validate().unwrap_err();
        // each required key is named, with the default as an example
        assert!(
            problems.iter().all(|p| p.key.starts_with("sms.")),
            "{problems:?}"
        );
        let channels = problems.iter().find(|p| p.key == "sms.channels");
        assert_eq!(
            channels.map(|p| p.message.as_str()),
            Some("missing: this key is required, e.g. channels = [\"console:#bioinfo\"]")
        );

        let mut misspelt = load(None, env(&[])).unwrap();
        let file = dir.path().join("key.toml");
        std::fs::write(&file, "[freeze]\nremind_befor = \"2d\"\n").unwrap();
        misspelt.sections = load(Some(&file), env(&[])).unwrap().sections;
        let problems = misspelt.validate().unwrap_err();
        assert_eq!(problems[0].key, "freeze.remind_befor");
        assert!(
            problems[0]
                .message
                .contains("did you mean `remind_before`?"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn any_list_key_takes_commas_from_the_environment_even_a_new_role() {
        let config = load(
            None,
            env(&[
                ("SHIPMATE__ROLES__SECURITY", "console:ana, console:bo"),
                (
                    "SHIPMATE__FREEZE__CHANNELS",
                    "console:#ops,console:#deploys",
                ),
                ("SHIPMATE__FREEZE__MANAGER_ROLE", "security"),
            ]),
        )
        .unwrap()
        .validate()
        .unwrap();
        let security: crate::domain::Role = "security".parse().unwrap();
        assert_eq!(config.directory.roles[&security].len(), 2);
        let freeze = config.section::<crate::app::freeze::FreezeRules>();
        assert_eq!(freeze.channels.len(), 2);
        assert_eq!(freeze.manager, security);
    }
}

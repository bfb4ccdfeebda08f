//! The raw settings, one struct per section, mirroring `config/default.toml`.
//! Secrets are [`Secret`]s so that no `Debug` or log line ever prints them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// A secret string: prints as `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// The core sections, and each feature's table as read (checked by the
/// feature's own [`super::Section`]; a table no feature owns is a problem).
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub timezone: String,
    pub calendar: CalendarSettings,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub console: ConsoleSettings,
    pub slack: SlackSettings,
    pub discord: DiscordSettings,
    #[serde(default, deserialize_with = "super::list_map")]
    pub roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub people: BTreeMap<String, PersonSettings>,
    pub webhooks: WebhookSettings,
    pub scheduler: SchedulerSettings,
    pub outbox: OutboxSettings,
    pub shutdown: ShutdownSettings,
    pub retention: RetentionSettings,
    #[serde(default)]
    pub mail: super::MailSettings,
    /// Every other table: the features' sections.
    #[serde(flatten)]
    pub sections: super::RawSections,
    /// What was wrong in the core tables as read (the keys at fault were
    /// patched with their defaults so the rest could be checked).
    #[serde(skip)]
    pub load_problems: Vec<super::Problem>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: String,
    pub max_body_bytes: usize,
    pub max_connections: usize,
    pub header_timeout: String,
    pub request_timeout: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    pub enabled: bool,
    pub user: String,
    pub channel: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub enabled: bool,
    #[serde(default)]
    pub bot_token: Secret,
    #[serde(default)]
    pub signing_secret: Secret,
    #[serde(default)]
    pub app_token: Secret,
    pub socket_mode: bool,
    pub api_base_url: String,
    /// At most this many messages per `per_channel_window` to one channel.
    pub per_channel_limit: u32,
    pub per_channel_window: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    pub enabled: bool,
    #[serde(default)]
    pub bot_token: Secret,
    #[serde(default)]
    pub application_id: String,
    #[serde(default)]
    pub public_key: String,
    pub gateway: bool,
    #[serde(default)]
    pub guild_id: String,
    pub api_base_url: String,
    /// At most this many messages per `per_channel_window` to one channel.
    pub per_channel_limit: u32,
    pub per_channel_window: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonSettings {
    pub slack: Option<String>,
    pub discord: Option<String>,
    pub console: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub github: GithubWebhook,
    pub gitlab: GitlabWebhook,
    pub aws: AwsWebhook,
    pub generic: GenericWebhook,
    #[serde(default)]
    pub mail: MailWebhook,
}

/// `[webhooks.mail]`: the inbound-mail webhook (`POST /webhooks/mail`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailWebhook {
    #[serde(default)]
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubWebhook {
    #[serde(default)]
    pub secret: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabWebhook {
    #[serde(default)]
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsWebhook {
    #[serde(default)]
    pub token: Secret,
    pub verify_sns: bool,
    pub confirm_subscriptions: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericWebhook {
    #[serde(default)]
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    pub max_attempts: u32,
    pub retry_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub max_attempts: u32,
    pub retry_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    pub grace: String,
}

/// How long rows that grow without bound are kept (`off`: forever).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub webhook_deliveries: String,
    pub pipeline_runs: String,
    pub delivered_messages: String,
    pub finished_jobs: String,
    /// When the pruning job runs (cron with seconds, in `timezone`).
    pub schedule: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// IANA zone of the working hours (default: the top-level `timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(deserialize_with = "super::list")]
    pub working_days: Vec<String>,
    pub working_hours: String,
    #[serde(default, deserialize_with = "super::list")]
    pub holidays: Vec<String>,
    /// An iCalendar (.ics) file of more holidays (empty: none).
    #[serde(default)]
    pub holidays_file: String,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub timezone: String,
    pub calendar: CalendarSettings,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub console: ConsoleSettings,
    pub slack: SlackSettings,
    pub discord: DiscordSettings,
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub people: BTreeMap<String, PersonSettings>,
    pub deletion: DeletionSettings,
    pub webhooks: WebhookSettings,
    pub pipelines: PipelineSettings,
    pub downtime: DowntimeSettings,
    pub sms: SmsSettings,
    pub releases: ReleaseSettings,
    pub freeze: FreezeSettings,
    pub versions: VersionSettings,
    pub scheduler: SchedulerSettings,
    pub outbox: OutboxSettings,
    pub shutdown: ShutdownSettings,
    pub retention: RetentionSettings,
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
pub struct DeletionSettings {
    pub channels: Vec<String>,
    pub approvals_required: u32,
    pub protected: Vec<String>,
    pub max_stakeholders: usize,
    pub ready_reminder_cron: String,
    pub cooling_off: CoolingOffSettings,
    /// Approves requests and resolves objections.
    #[serde(default = "data_steward")]
    pub approver_role: String,
    /// Also approves requests for protected targets.
    #[serde(default = "product")]
    pub product_role: String,
    /// Executes ready requests.
    #[serde(default = "devops")]
    pub executor_role: String,
}

fn data_steward() -> String {
    "data-steward".into()
}
fn product() -> String {
    "product".into()
}
fn devops() -> String {
    "devops".into()
}
fn release_manager() -> String {
    "release-manager".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoolingOffSettings {
    pub low: String,
    pub medium: String,
    pub high: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub github: GithubWebhook,
    pub gitlab: GitlabWebhook,
    pub aws: AwsWebhook,
    pub generic: GenericWebhook,
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
pub struct PipelineSettings {
    pub release_windows: Vec<String>,
    pub default_channels: Vec<String>,
    /// Edits of one run's message are held back at least this long, so a
    /// burst of events becomes one post and a few edits.
    pub min_edit_interval: String,
    #[serde(default)]
    pub routes: Vec<RouteSettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    pub source: Option<String>,
    pub repository: Option<String>,
    pub pipeline: Option<String>,
    pub branch: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub channels: Vec<String>,
    pub oncall: Option<String>,
    /// What the route deploys, as `/freeze` names it (default: the repository's last path segment).
    pub target: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DowntimeSettings {
    pub channels: Vec<String>,
    pub remind_before: Vec<String>,
    /// Announces and runs downtime windows.
    #[serde(default = "release_manager")]
    pub manager_role: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub channels: Vec<String>,
    /// Records the balance, and is reminded to renew.
    #[serde(default = "devops")]
    pub role: String,
    pub reminder_cron: String,
    pub warn_days: u32,
    pub min_balance: u64,
    pub window: String,
    #[serde(default)]
    pub balance_url: String,
    #[serde(default)]
    pub balance_pointer: String,
    #[serde(default)]
    pub balance_token: Secret,
    /// How often the poller reads `balance_url` (cron with seconds, in `timezone`).
    pub poll_cron: String,
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
pub struct ReleaseSettings {
    pub runbooks_dir: String,
    /// Manages releases (a template's `manager` overrides it).
    #[serde(default = "release_manager")]
    pub manager_role: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeSettings {
    pub channels: Vec<String>,
    pub remind_before: String,
    /// Opens and ends freeze windows by hand.
    #[serde(default = "release_manager")]
    pub manager_role: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// IANA zone of the working hours (default: the top-level `timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
    pub working_days: Vec<String>,
    pub working_hours: String,
    #[serde(default)]
    pub holidays: Vec<String>,
    /// An iCalendar (.ics) file of more holidays (empty: none).
    #[serde(default)]
    pub holidays_file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSettings {
    /// Where release notes and EOSL notices go (partner channels).
    pub channels: Vec<String>,
    /// EOSL notices this long before support ends.
    pub eosl_notice: Vec<String>,
    /// Records releases and schedules EOSL.
    #[serde(default = "release_manager")]
    pub manager_role: String,
}

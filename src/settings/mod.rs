//! Configuration: embedded defaults → `config/default.toml` (or `--config FILE`)
//! → environment `SHIPMATE__SECTION__KEY`.
//!
//! [`Settings`] is the raw, serde form of every key; [`Settings::validate`]
//! turns it into the typed [`Config`] the app runs on, or lists every problem
//! with its key (that list is what `shipmate check-config` prints).

mod raw;
pub mod runbooks;
mod validate;

use std::collections::HashMap;
use std::path::Path;

pub use raw::*;
pub use validate::{
    ChannelRate, Config, DeletionRules, Directory, DowntimeRules, HttpLimits, PipelineRules,
    Problem, RetentionRules, SmsRules, VersionRules, parse_interval,
};

/// The embedded defaults: the same file that documents every key.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../../config/default.toml");

/// List-valued keys that an environment variable may set as `a,b,c`.
const LIST_KEYS: &[&str] = &[
    "calendar.working_days",
    "calendar.holidays",
    "versions.channels",
    "versions.eosl_notice",
    "deletion.channels",
    "freeze.channels",
    "deletion.protected",
    "pipelines.release_windows",
    "pipelines.default_channels",
    "downtime.channels",
    "downtime.remind_before",
    "sms.channels",
    "roles.release-manager",
    "roles.qa",
    "roles.product",
    "roles.devops",
    "roles.data-steward",
    "roles.support",
    "roles.partnership",
    "roles.documentation",
    "roles.admin",
];

/// Loads the layered settings. `env` replaces the process environment (tests).
pub fn load(file: Option<&Path>, env: Option<HashMap<String, String>>) -> Result<Settings, String> {
    use config::{Config as Layers, Environment, File, FileFormat};
    let mut builder =
        Layers::builder().add_source(File::from_str(EMBEDDED_DEFAULTS, FileFormat::Toml));
    builder = match file {
        Some(path) => {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            builder.add_source(File::from(path).format(FileFormat::Toml).required(true))
        }
        None => {
            builder.add_source(File::new("config/default.toml", FileFormat::Toml).required(false))
        }
    };
    let mut environment = Environment::with_prefix("SHIPMATE")
        .separator("__")
        .try_parsing(true)
        .list_separator(",");
    for key in LIST_KEYS {
        environment = environment.with_list_parse_key(key);
    }
    if let Some(vars) = env {
        environment = environment.source(Some(vars));
    }
    builder
        .add_source(environment)
        .build()
        .and_then(|layers| layers.try_deserialize::<Settings>())
        .map_err(|e| format!("configuration error: {e}"))
}

//! Configuration: embedded defaults → `config/default.toml` (or `--config FILE`)
//! → environment `SHIPMATE__SECTION__KEY`.
//!
//! [`Settings`] is the raw, serde form of the core keys, and keeps every
//! other table as read: those are the features' sections, each owned and
//! checked by its feature ([`Section`]). `Settings::validate` (defined with
//! the features list, `app::features`) checks the core and every section into
//! the typed [`Config`] the app runs on, or lists every problem with its key
//! (that list is what `shipmate check-config` prints). A list-valued key
//! may be set from the environment as `a,b,c` ([`list`]).

mod every_problem;
mod mail;
mod raw;
mod section;
mod validate;

use std::collections::HashMap;
use std::path::Path;

pub use every_problem::{nearest, unknown_message};
pub use mail::{MailConfig, MailList, MailListSettings, MailSettings, bare_address};
pub use raw::*;
pub use section::{
    Check, Checked, Checks, RawSections, Section, SectionCheck, Sections, list, list_map,
};
pub use validate::{
    ChannelRate, Config, Directory, HttpLimits, Problem, RetentionRules, parse_interval,
};

/// The embedded defaults: the same file that documents every key.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../../config/default.toml");

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
    // list-valued keys accept `a,b,c` as one string (see `section::list`)
    let mut environment = Environment::with_prefix("SHIPMATE")
        .separator("__")
        .try_parsing(true);
    if let Some(vars) = env {
        environment = environment.source(Some(vars));
    }
    let layers = builder
        .add_source(environment)
        .build()
        .map_err(|e| format!("configuration error: {e}"))?;
    // every problem of the core tables at once; the features' sections are
    // read the same way when they are checked
    match every_problem::read_all::<Settings>(&layers.cache, "") {
        (Some(mut settings), problems) => {
            settings.load_problems = problems;
            Ok(settings)
        }
        (None, problems) => Err(problems
            .iter()
            .map(|p| format!("configuration error: {p}"))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

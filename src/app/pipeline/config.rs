//! `[pipelines]`: where each pipeline's runs are posted (routes), who is
//! paged, release windows, and how often a run's message is edited.

use chrono::TimeDelta;
use serde::Deserialize;

use crate::domain::pipeline::Source;
use crate::domain::pipeline_route::Route;
use crate::domain::release_window::{DeployRules, ReleaseWindow};
use crate::domain::{ChannelRef, Role};
use crate::settings::{Check, Section, list};

/// The keys as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    #[serde(deserialize_with = "list")]
    release_windows: Vec<String>,
    #[serde(deserialize_with = "list")]
    default_channels: Vec<String>,
    /// Edits of one run's message are held back at least this long, so a
    /// burst of events becomes one post and a few edits.
    min_edit_interval: String,
    #[serde(default)]
    routes: Vec<RouteSettings>,
}

/// One `[[pipelines.routes]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSettings {
    source: Option<String>,
    repository: Option<String>,
    pipeline: Option<String>,
    branch: Option<String>,
    environment: String,
    #[serde(default, deserialize_with = "list")]
    channels: Vec<String>,
    oncall: Option<String>,
    /// What the route deploys, as `/freeze` names it (default: the repository's last path segment).
    target: Option<String>,
}

/// Pipeline notification rules.
#[derive(Debug, Clone)]
pub struct PipelineRules {
    pub routes: Vec<Route>,
    pub default_channels: Vec<ChannelRef>,
    pub deploy: DeployRules,
    pub min_edit_interval: TimeDelta,
}

impl Section for PipelineRules {
    const NAME: &'static str = "pipelines";
    type Raw = PipelineSettings;

    fn check(p: PipelineSettings, c: &mut Check<'_>) -> Self {
        let default_channels = c.channels("default_channels", &p.default_channels);
        let windows = p
            .release_windows
            .iter()
            .enumerate()
            .filter_map(|(i, w)| c.parse::<ReleaseWindow>(&format!("release_windows[{i}]"), w))
            .collect();
        let min_edit_interval = c
            .duration("min_edit_interval", &p.min_edit_interval)
            .unwrap_or(TimeDelta::seconds(1));
        let routes = p
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, route)| check_route(c, &format!("routes[{i}]"), route))
            .collect();
        PipelineRules {
            routes,
            default_channels,
            deploy: DeployRules {
                windows,
                tz: Some(c.tz),
            },
            min_edit_interval,
        }
    }
}

fn check_route(c: &mut Check<'_>, key: &str, route: RouteSettings) -> Route {
    let mut glob = |name: &str, value: &Option<String>| -> Option<glob::Pattern> {
        let value = value.as_deref()?;
        match glob::Pattern::new(value) {
            Ok(p) => Some(p),
            Err(e) => {
                c.problem(
                    &format!("{key}.{name}"),
                    format!("`{value}` is not a glob pattern: {e}"),
                );
                None
            }
        }
    };
    let repository = glob("repository", &route.repository);
    let pipeline = glob("pipeline", &route.pipeline);
    let branch = glob("branch", &route.branch);
    let source = route
        .source
        .as_deref()
        .and_then(|s| c.parse::<Source>(&format!("{key}.source"), s));
    let channels = c.channels(&format!("{key}.channels"), &route.channels);
    let oncall = route
        .oncall
        .as_deref()
        .map(|o| c.role(&format!("{key}.oncall"), Some(o), Role::DEVOPS));
    if route.environment.trim().is_empty() {
        c.problem(
            &format!("{key}.environment"),
            "is empty: name the environment, e.g. production",
        );
    }
    Route {
        source,
        repository,
        pipeline,
        branch,
        environment: route.environment.trim().to_string(),
        channels,
        oncall,
        target: route.target.filter(|t| !t.trim().is_empty()),
    }
}

//! Routing of pipeline runs (`[[pipelines.routes]]`): the first route whose
//! match keys all fit the run gives its environment, channels and on-call
//! role. Match keys are globs; a missing key matches everything, and a key
//! set on the route never matches a run that lacks the field.

use glob::Pattern;

use super::pipeline::{Run, Source};
use super::{ChannelRef, Role};

/// One configured route.
#[derive(Debug, Clone)]
pub struct Route {
    pub source: Option<Source>,
    pub repository: Option<Pattern>,
    pub pipeline: Option<Pattern>,
    pub branch: Option<Pattern>,
    pub environment: String,
    pub channels: Vec<ChannelRef>,
    pub oncall: Option<Role>,
    /// The name code freezes use for what this route deploys (default: the repository's last path segment).
    pub target: Option<String>,
}

fn fits(pattern: &Option<Pattern>, value: Option<&str>) -> bool {
    match (pattern, value) {
        (None, _) => true,
        (Some(p), Some(v)) => p.matches(v),
        (Some(_), None) => false,
    }
}

impl Route {
    /// Whether every match key of the route fits the run.
    pub fn matches(&self, run: &Run) -> bool {
        self.source.is_none_or(|s| s == run.source)
            && fits(&self.repository, run.repository.as_deref())
            && fits(&self.pipeline, Some(run.pipeline.as_str()))
            && fits(&self.branch, run.branch.as_deref())
    }
}

/// The first route that matches, in configuration order.
pub fn route_for<'a>(routes: &'a [Route], run: &Run) -> Option<&'a Route> {
    routes.iter().find(|r| r.matches(run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pipeline::{RunEvent, apply};

    fn run(source: Source, repo: &str, pipeline: &str, branch: Option<&str>) -> Run {
        let mut e = RunEvent::new(source, "1", pipeline);
        e.repository = Some(repo.into());
        e.branch = branch.map(Into::into);
        apply(None, &e).0
    }

    fn route(env: &str) -> Route {
        Route {
            source: None,
            repository: None,
            pipeline: None,
            branch: None,
            environment: env.into(),
            channels: vec![],
            oncall: None,
            target: None,
        }
    }

    #[test]
    fn the_first_matching_route_wins_and_missing_keys_match_everything() {
        let prod = Route {
            source: Some(Source::Github),
            repository: Some(Pattern::new("acme/*").unwrap()),
            pipeline: Some(Pattern::new("deploy*").unwrap()),
            branch: Some(Pattern::new("main").unwrap()),
            ..route("production")
        };
        let routes = [prod, route("catch-all")];
        let r = |s, repo, p, b| {
            route_for(&routes, &run(s, repo, p, b))
                .unwrap()
                .environment
                .clone()
        };
        assert_eq!(
            r(Source::Github, "acme/portal", "deploy-web", Some("main")),
            "production"
        );
        assert_eq!(
            r(Source::Gitlab, "acme/portal", "deploy-web", Some("main")),
            "catch-all"
        );
        assert_eq!(
            r(Source::Github, "other/portal", "deploy-web", Some("main")),
            "catch-all"
        );
        assert_eq!(
            r(Source::Github, "acme/portal", "test", Some("main")),
            "catch-all"
        );
        assert_eq!(
            r(Source::Github, "acme/portal", "deploy", None),
            "catch-all"
        );
        assert!(route_for(&routes[..1], &run(Source::Aws, "x", "y", None)).is_none());
    }
}

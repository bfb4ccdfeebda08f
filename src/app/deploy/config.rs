//! `[deploy]` (its `[[deploy.targets]]`: what each target runs, where, and
//! who requests and approves it), `[github]` and `[gitlab]` (the APIs the
//! targets are triggered through, and their tokens).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::app::release::ReleaseRules;
use crate::domain::deploy::{DeployRequest, GateRef, Policy};
use crate::domain::pipeline::{Run, Source};
use crate::domain::runbook::TaskKind;
use crate::domain::{RecordId, Role};
use crate::settings::{Check, Secret, Section, Sections, list};

/// `[deploy]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySettings {
    #[serde(default)]
    targets: Vec<TargetSettings>,
}

/// One `[[deploy.targets]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSettings {
    name: String,
    environment: String,
    provider: String,
    /// GitHub: `owner/repo`.
    repository: Option<String>,
    /// GitHub: the workflow file (`deploy.yml`) or id.
    workflow: Option<String>,
    /// GitHub: the workflow's inputs (`{ref}`, `{commit}` and `{request}` are replaced).
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    /// GitLab: the project's path (`acme/portal`) or id.
    project: Option<String>,
    /// GitLab: the ref the pipeline runs on (default: the requested ref).
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    /// GitLab: the pipeline's variables (`{ref}`, `{commit}` and `{request}` are replaced).
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// GitLab: a manual job to play in the newest pipeline on the ref,
    /// instead of creating a pipeline.
    job: Option<String>,
    /// AWS: the CodePipeline pipeline's name. Generic: the `pipeline` its
    /// runs report to `/webhooks/generic`.
    pipeline: Option<String>,
    /// AWS: the stage a re-run retries.
    stage: Option<String>,
    /// AWS: the pipeline's source action, whose revision a rollback or a
    /// deploy of a commit id overrides (`sourceRevisions`).
    source_action: Option<String>,
    /// Generic: where the signed webhook is posted.
    url: Option<String>,
    /// Generic: the webhook's HMAC-SHA256 key.
    #[serde(default)]
    secret: Secret,
    #[serde(default = "one")]
    approvals: u32,
    #[serde(default = "devops", deserialize_with = "list")]
    approver_roles: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    requester_roles: Vec<String>,
    requires: Option<String>,
}

fn one() -> u32 {
    1
}

fn devops() -> Vec<String> {
    vec![Role::DEVOPS.to_string()]
}

/// How a target is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// A `workflow_dispatch` of `workflow` in `repository`.
    Github {
        repository: String,
        workflow: String,
        inputs: BTreeMap<String, String>,
    },
    /// A pipeline of `project` (on `git_ref`, else the requested ref); or,
    /// with `job`, that manual job played in the newest pipeline on the ref.
    Gitlab {
        project: String,
        git_ref: Option<String>,
        variables: BTreeMap<String, String>,
        job: Option<String>,
    },
    /// An execution of CodePipeline `pipeline`: its sources' latest
    /// revisions, or, with `source_action`, the request's commit there.
    Aws {
        pipeline: String,
        stage: Option<String>,
        source_action: Option<String>,
    },
    /// A signed webhook to `url` (Jenkins and the like); its runs, when
    /// they report to `/webhooks/generic`, are those of `pipeline`.
    Generic {
        url: String,
        secret: Secret,
        pipeline: Option<String>,
    },
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Github { .. } => "github",
            Provider::Gitlab { .. } => "gitlab",
            Provider::Aws { .. } => "aws",
            Provider::Generic { .. } => "generic",
        }
    }

    /// The runs' source (their webhooks').
    pub fn source(&self) -> Source {
        match self {
            Provider::Github { .. } => Source::Github,
            Provider::Gitlab { .. } => Source::Gitlab,
            Provider::Aws { .. } => Source::Aws,
            Provider::Generic { .. } => Source::Generic,
        }
    }

    /// Whether `run` is one of this provider's (its source, and its GitHub
    /// repository, GitLab project or CodePipeline pipeline).
    pub fn started(&self, run: &Run) -> bool {
        let same = |a: Option<&str>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
        run.source == self.source()
            && match self {
                Provider::Github { repository, .. } => same(run.repository.as_deref(), repository),
                Provider::Gitlab { project, .. } => same(run.repository.as_deref(), project),
                Provider::Aws { pipeline, .. } => same(Some(&run.pipeline), pipeline),
                Provider::Generic { pipeline, .. } => pipeline
                    .as_deref()
                    .is_some_and(|p| same(Some(&run.pipeline), p)),
            }
    }
}

/// One deploy target, checked.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its index among `[[deploy.targets]]` in the file (for check-config).
    pub at: usize,
    pub name: String,
    pub environment: String,
    pub provider: Provider,
    pub policy: Policy,
}

/// The deploy targets.
#[derive(Debug, Clone, Default)]
pub struct DeployRules {
    pub targets: Vec<Target>,
}

impl DeployRules {
    /// The target named `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The targets' names, for a message that names the choices.
    pub fn names(&self) -> String {
        if self.targets.is_empty() {
            "none is configured ([[deploy.targets]])".to_string()
        } else {
            self.targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// A target's inputs for one request: `{ref}`, `{commit}` (the exact
/// commit when known, else the ref) and `{request}` (DEP-n) replaced.
pub fn inputs_for(
    inputs: &BTreeMap<String, String>,
    request: &DeployRequest,
    id: RecordId,
) -> BTreeMap<String, String> {
    inputs
        .iter()
        .map(|(k, v)| {
            let value = v
                .replace("{ref}", &request.git_ref)
                .replace(
                    "{commit}",
                    request.commit.as_deref().unwrap_or(&request.git_ref),
                )
                .replace("{request}", &id.to_string());
            (k.clone(), value)
        })
        .collect()
}

/// GitHub caps a dispatch's inputs at 25.
const MAX_GITHUB_INPUTS: usize = 25;

impl Section for DeployRules {
    const NAME: &'static str = "deploy";
    type Raw = DeploySettings;

    fn check(d: DeploySettings, c: &mut Check<'_>) -> Self {
        let mut targets: Vec<Target> = Vec::new();
        for (i, t) in d.targets.into_iter().enumerate() {
            let key = format!("targets[{i}]");
            let name = t.name.trim().to_string();
            let well_formed = !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
            if !well_formed {
                c.problem(
                    &format!("{key}.name"),
                    format!("`{name}` is not a target name: use letters, digits, `-`, `_` or `.`, e.g. portal-prod"),
                );
            } else if targets.iter().any(|other| other.name == name) {
                c.problem(
                    &format!("{key}.name"),
                    format!("`{name}` names two targets: give each its own name"),
                );
            }
            if t.environment.trim().is_empty() {
                c.problem(
                    &format!("{key}.environment"),
                    "is empty: name the environment, e.g. production",
                );
            }
            let Some(provider) = provider(c, &key, &t) else {
                continue;
            };
            let roles = |c: &mut Check<'_>, field: &str, names: &[String]| -> Vec<Role> {
                names
                    .iter()
                    .enumerate()
                    .map(|(j, r)| c.role(&format!("{key}.{field}[{j}]"), Some(r), Role::DEVOPS))
                    .collect()
            };
            let approver_roles = roles(c, "approver_roles", &t.approver_roles);
            let requester_roles = roles(c, "requester_roles", &t.requester_roles);
            if t.approvals > 0 && approver_roles.is_empty() {
                c.problem(
                    &format!("{key}.approver_roles"),
                    "is empty while approvals are needed: name the roles that approve, e.g. [\"devops\"]",
                );
            }
            let requires = t
                .requires
                .as_deref()
                .and_then(|r| c.parse::<GateRef>(&format!("{key}.requires"), r));
            targets.push(Target {
                at: i,
                name,
                environment: t.environment.trim().to_string(),
                provider,
                policy: Policy {
                    approvals: t.approvals,
                    approver_roles,
                    requester_roles,
                    requires,
                },
            });
        }
        DeployRules { targets }
    }

    /// A target whose provider has no credentials: every request of it
    /// would be refused.
    fn warnings(&self, sections: &Sections) -> Vec<(String, String)> {
        let missing = |t: &Target| {
            match &t.provider {
            Provider::Github { .. } => sections
                .get::<GithubApi>()
                .is_none_or(|a| a.token.is_empty())
                .then_some("github.token (SHIPMATE__GITHUB__TOKEN)"),
            Provider::Gitlab { .. } => sections
                .get::<GitlabApi>()
                .is_none_or(|a| a.token.is_empty())
                .then_some("gitlab.token (SHIPMATE__GITLAB__TOKEN)"),
            Provider::Aws { .. } => sections
                .get::<AwsApi>()
                .is_none_or(|a| !a.is_configured())
                .then_some("aws.region, aws.access_key_id and aws.secret_access_key (SHIPMATE__AWS__SECRET_ACCESS_KEY)"),
            Provider::Generic { .. } => None,
        }
        };
        self.targets
            .iter()
            .filter_map(|t| {
                missing(t).map(|what| {
                    (
                        format!("deploy.targets[{}].provider", t.at),
                        format!(
                            "`{}` deploys through {}, but {what} is not set: every /deploy of it will be refused until it is",
                            t.name,
                            t.provider.name()
                        ),
                    )
                })
            })
            .collect()
    }

    /// A target's `requires` must name a gate of a runbook `[releases]` has.
    fn check_across(&self, sections: &Sections) -> Vec<(String, String)> {
        let Some(releases) = sections.get::<ReleaseRules>() else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for t in &self.targets {
            let Some(gate) = &t.policy.requires else {
                continue;
            };
            let key = format!("deploy.targets[{}].requires", t.at);
            let Some(runbook) = releases.runbooks.get(&gate.runbook) else {
                let known: Vec<&str> = releases.runbooks.keys().map(String::as_str).collect();
                problems.push((
                    key,
                    format!(
                        "`{gate}` names no runbook: the runbooks are {} (see releases.runbooks_dir)",
                        known.join(", ")
                    ),
                ));
                continue;
            };
            let gates: Vec<&str> = runbook
                .tasks
                .iter()
                .filter(|task| task.kind == TaskKind::Gate)
                .map(|task| task.id.as_str())
                .collect();
            if !gates.contains(&gate.gate.as_str()) {
                let which = if gates.is_empty() {
                    "it has no gates".to_string()
                } else {
                    format!("its gates are {}", gates.join(", "))
                };
                problems.push((
                    key,
                    format!("`{}` has no gate `{}`: {which}", gate.runbook, gate.gate),
                ));
            }
        }
        problems
    }
}

/// Refuses the keys of another provider than the target's.
fn foreign_keys(c: &mut Check<'_>, key: &str, t: &TargetSettings) {
    let set = [
        ("repository", "github", t.repository.is_some()),
        ("workflow", "github", t.workflow.is_some()),
        ("inputs", "github", !t.inputs.is_empty()),
        ("project", "gitlab", t.project.is_some()),
        ("ref", "gitlab", t.git_ref.is_some()),
        ("variables", "gitlab", !t.variables.is_empty()),
        ("job", "gitlab", t.job.is_some()),
        ("pipeline", "aws and generic", t.pipeline.is_some()),
        ("stage", "aws", t.stage.is_some()),
        ("source_action", "aws", t.source_action.is_some()),
        ("url", "generic", t.url.is_some()),
        ("secret", "generic", !t.secret.is_empty()),
    ];
    for (name, owner, given) in set {
        if given && !owner.split(" and ").any(|o| o == t.provider) {
            c.problem(
                &format!("{key}.{name}"),
                format!(
                    "is a key of {owner} targets, and this one's provider is `{}`",
                    t.provider
                ),
            );
        }
    }
}

/// GitLab's variable keys: letters, digits and `_`.
fn variable_key_ok(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// The placeholders a target's inputs and variables may hold.
const PLACEHOLDERS: [&str; 3] = ["{ref}", "{commit}", "{request}"];

/// Refuses a `{word}` in an input or variable that is no placeholder
/// (`{reff}`): it would be sent as written.
fn placeholders(c: &mut Check<'_>, key: &str, values: &BTreeMap<String, String>) {
    for (name, value) in values {
        let mut rest = value.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let word = &rest[open..open + close + 1];
            if !PLACEHOLDERS.contains(&word) {
                c.problem(
                    &format!("{key}.{name}"),
                    format!(
                        "`{word}` is not a placeholder: use {}",
                        PLACEHOLDERS.join(", ")
                    ),
                );
            }
            rest = &rest[open + close + 1..];
        }
    }
}

fn provider(c: &mut Check<'_>, key: &str, t: &TargetSettings) -> Option<Provider> {
    foreign_keys(c, key, t);
    placeholders(c, &format!("{key}.inputs"), &t.inputs);
    placeholders(c, &format!("{key}.variables"), &t.variables);
    match t.provider.as_str() {
        "github" => {
            let mut field = |name: &str, value: &Option<String>, example: &str| {
                let value = value.as_deref().map(str::trim).unwrap_or_default();
                if value.is_empty() {
                    c.problem(
                        &format!("{key}.{name}"),
                        format!("missing: a github target names its {name}, e.g. {example}"),
                    );
                }
                value.to_string()
            };
            let repository = field("repository", &t.repository, "\"acme/portal\"");
            let workflow = field("workflow", &t.workflow, "\"deploy.yml\"");
            if !repository.is_empty()
                && repository.split('/').filter(|p| !p.is_empty()).count() != 2
            {
                c.problem(
                    &format!("{key}.repository"),
                    format!("`{repository}` is not owner/repo, e.g. acme/portal"),
                );
            }
            if t.inputs.len() > MAX_GITHUB_INPUTS {
                c.problem(
                    &format!("{key}.inputs"),
                    format!(
                        "has {} inputs: GitHub takes at most {MAX_GITHUB_INPUTS}",
                        t.inputs.len()
                    ),
                );
            }
            Some(Provider::Github {
                repository,
                workflow,
                inputs: t.inputs.clone(),
            })
        }
        "gitlab" => {
            let project = t.project.as_deref().map(str::trim).unwrap_or_default();
            if project.is_empty() {
                c.problem(
                    &format!("{key}.project"),
                    "missing: a gitlab target names its project, e.g. \"acme/portal\"",
                );
            }
            for k in t.variables.keys().filter(|k| !variable_key_ok(k)) {
                c.problem(
                    &format!("{key}.variables"),
                    format!("`{k}` is not a GitLab variable key: use letters, digits and `_`"),
                );
            }
            Some(Provider::Gitlab {
                project: project.to_string(),
                git_ref: t
                    .git_ref
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                variables: t.variables.clone(),
                job: t
                    .job
                    .as_deref()
                    .map(str::trim)
                    .filter(|j| !j.is_empty())
                    .map(str::to_string),
            })
        }
        "aws" => {
            let pipeline = t.pipeline.as_deref().map(str::trim).unwrap_or_default();
            if pipeline.is_empty() {
                c.problem(
                    &format!("{key}.pipeline"),
                    "missing: an aws target names its CodePipeline pipeline, e.g. \"portal-deploy\"",
                );
            }
            let source_action = t
                .source_action
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty());
            if let Some(action) = source_action
                && (action.len() > 100
                    || !action
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ".@-_".contains(ch)))
            {
                // CodePipeline's pattern for action names: [A-Za-z0-9.@\-_]+, 1 to 100
                c.problem(
                    &format!("{key}.source_action"),
                    format!("`{action}` is not a CodePipeline action name: letters, digits, . @ - _ (at most 100), e.g. \"Source\""),
                );
            }
            Some(Provider::Aws {
                pipeline: pipeline.to_string(),
                stage: t.stage.clone(),
                source_action: source_action.map(str::to_string),
            })
        }
        "generic" => {
            let url = t.url.as_deref().map(str::trim).unwrap_or_default();
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => c.problem(
                    &format!("{key}.url"),
                    format!(
                        "`{url}` is not an http(s) URL, e.g. https://jenkins.example.com/shipmate"
                    ),
                ),
            }
            if t.secret.expose().len() < 16 {
                c.problem(
                    &format!("{key}.secret"),
                    "is shorter than 16 characters: the webhook's signing key must be at least 16",
                );
            }
            Some(Provider::Generic {
                url: url.to_string(),
                secret: t.secret.clone(),
                pipeline: t
                    .pipeline
                    .as_deref()
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            })
        }
        other => {
            c.problem(
                &format!("{key}.provider"),
                format!("`{other}` is not a provider shipmate can trigger: use github, gitlab, aws or generic"),
            );
            None
        }
    }
}

/// `[github]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    #[serde(default)]
    token: Secret,
    api_base_url: String,
}

/// The GitHub API the github targets are triggered through.
#[derive(Debug, Clone)]
pub struct GithubApi {
    /// Without a trailing `/`.
    pub base_url: String,
    pub token: Secret,
}

impl Section for GithubApi {
    const NAME: &'static str = "github";
    type Raw = GithubSettings;

    fn check(g: GithubSettings, c: &mut Check<'_>) -> Self {
        GithubApi {
            base_url: base_url(c, &g.api_base_url, "https://api.github.com"),
            token: g.token,
        }
    }
}

/// `[gitlab]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSettings {
    #[serde(default)]
    token: Secret,
    api_base_url: String,
}

/// The GitLab API the gitlab targets are triggered through.
#[derive(Debug, Clone)]
pub struct GitlabApi {
    /// Without a trailing `/` (`https://gitlab.com/api/v4`).
    pub base_url: String,
    pub token: Secret,
}

impl Section for GitlabApi {
    const NAME: &'static str = "gitlab";
    type Raw = GitlabSettings;

    fn check(g: GitlabSettings, c: &mut Check<'_>) -> Self {
        GitlabApi {
            base_url: base_url(c, &g.api_base_url, "https://gitlab.com/api/v4"),
            token: g.token,
        }
    }
}

/// An API's base URL without its trailing `/`, checked as http(s).
fn base_url(c: &mut Check<'_>, value: &str, example: &str) -> String {
    base_url_at(c, "api_base_url", value, example)
}

/// [`base_url`] of `key`.
fn base_url_at(c: &mut Check<'_>, key: &str, value: &str, example: &str) -> String {
    let url = value.trim().trim_end_matches('/').to_string();
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => c.problem(
            key,
            format!("`{url}` is not an http(s) URL, e.g. {example}"),
        ),
    }
    url
}

/// `[aws]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    #[serde(default)]
    region: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: Secret,
    #[serde(default)]
    endpoint_url: String,
}

/// Where and as whom the aws targets are started.
#[derive(Debug, Clone)]
pub struct AwsApi {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// `aws.endpoint_url`, else `https://codepipeline.{region}.amazonaws.com`.
    pub endpoint: String,
}

impl AwsApi {
    /// Whether credentials and a region are set.
    pub fn is_configured(&self) -> bool {
        !(self.region.is_empty()
            || self.access_key_id.is_empty()
            || self.secret_access_key.is_empty())
    }
}

impl Section for AwsApi {
    const NAME: &'static str = "aws";
    type Raw = AwsSettings;

    fn check(a: AwsSettings, c: &mut Check<'_>) -> Self {
        let region = a.region.trim().to_string();
        if !region
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        {
            c.problem(
                "region",
                format!("`{region}` is not an AWS region, e.g. eu-west-1"),
            );
        }
        let endpoint = if a.endpoint_url.trim().is_empty() {
            format!("https://codepipeline.{region}.amazonaws.com")
        } else {
            base_url_at(
                c,
                "endpoint_url",
                &a.endpoint_url,
                "https://codepipeline.eu-west-1.amazonaws.com",
            )
        };
        AwsApi {
            region,
            access_key_id: a.access_key_id.trim().to_string(),
            secret_access_key: a.secret_access_key,
            endpoint,
        }
    }
}

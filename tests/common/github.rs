//! A GitHub Actions API as strict as the real one, for the deploy tests:
//! `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` and
//! `GET …/workflows/{workflow}/runs`, and a run's `…/actions/runs/{id}`,
//! `…/rerun` and `…/rerun-failed-jobs`, as GitHub documents them
//! (docs.github.com/rest/actions/workflows, /rest/actions/workflow-runs).
//!
//! It refuses what GitHub refuses: a missing or wrong token (401 "Bad
//! credentials"), a request without `User-Agent` (403), an API version it
//! does not serve (400), an unknown workflow (404), a missing `ref` or one
//! that names no branch or tag, inputs the workflow does not declare,
//! required inputs left out, non-string values or more than 25 inputs
//! (422). A dispatch it takes creates a run, dated by the test's clock, and
//! answers 200 with `workflow_run_id`, `run_url` and `html_url` when
//! `return_run_details` is true (204 otherwise).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use shipmate::domain::timing::{Clock, ManualClock};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One run the mock created.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    pub attempt: u32,
    /// Known to GitHub before the test (not dispatched by it).
    pub seeded: bool,
    /// Re-runs asked for: `rerun` or `rerun-failed-jobs`.
    pub reruns: Vec<String>,
    pub git_ref: String,
    pub inputs: Value,
    pub created_at: DateTime<Utc>,
}

/// What the repository's workflow is and what has been dispatched.
#[derive(Clone)]
pub struct Actions {
    pub token: String,
    pub repository: String,
    pub workflow: String,
    /// Declared inputs: name → required.
    pub inputs: BTreeMap<String, bool>,
    /// Branches and tags that exist.
    pub refs: Vec<String>,
    pub runs: Arc<Mutex<Vec<Run>>>,
    clock: Arc<ManualClock>,
    /// Dispatches answered with this status after creating the run (a lost answer).
    answer: Arc<Mutex<Option<u16>>>,
    delay: Arc<Mutex<Option<Duration>>>,
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event",
        "status": status.to_string(),
    }))
}

impl Actions {
    pub fn new(clock: Arc<ManualClock>) -> Self {
        Self {
            token: "ghp_test_token".into(),
            repository: "acme/portal".into(),
            workflow: "deploy.yml".into(),
            inputs: BTreeMap::from([("environment".into(), true), ("version".into(), false)]),
            refs: vec![
                "main".into(),
                "v2.3.0".into(),
                "v2.4.0".into(),
                "v2.4.1".into(),
            ],
            runs: Arc::default(),
            clock,
            answer: Arc::default(),
            delay: Arc::default(),
        }
    }

    /// Starts the mock server.
    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        let base = format!(
            "/repos/{}/actions/workflows/{}",
            self.repository, self.workflow
        );
        Mock::given(method("POST"))
            .and(path(format!("{base}/dispatches")))
            .respond_with(Dispatches(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{base}/runs")))
            .respond_with(ListRuns(self.clone()))
            .mount(&server)
            .await;
        let runs = format!("^/repos/{}/actions/runs/[0-9]+", self.repository);
        Mock::given(method("GET"))
            .and(path_regex(format!("{runs}$")))
            .respond_with(GetRun(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(format!("{runs}/(rerun|rerun-failed-jobs)$")))
            .respond_with(Reruns(self.clone()))
            .mount(&server)
            .await;
        server
    }

    /// From now on a dispatch creates its run but answers `status` (the answer is lost).
    pub fn answer_with(&self, status: u16) {
        *self.answer.lock().unwrap() = Some(status);
    }

    /// From now on a dispatch creates its run and answers only after `delay`.
    pub fn hold_answers(&self, delay: Duration) {
        *self.delay.lock().unwrap() = Some(delay);
    }

    /// A finished run GitHub knows of (one shipmate did not dispatch).
    pub fn seed_run(&self, id: u64, git_ref: &str) {
        self.runs.lock().unwrap().push(Run {
            id,
            attempt: 1,
            seeded: true,
            reruns: Vec::new(),
            git_ref: git_ref.to_string(),
            inputs: json!({}),
            created_at: self.clock.now(),
        });
    }

    /// How many runs were dispatched.
    pub fn dispatched(&self) -> usize {
        self.runs().len()
    }

    /// The runs dispatched.
    pub fn runs(&self) -> Vec<Run> {
        let runs = self.runs.lock().unwrap();
        runs.iter().filter(|r| !r.seeded).cloned().collect()
    }

    /// Run `id` as GitHub holds it.
    pub fn run(&self, id: u64) -> Option<Run> {
        let runs = self.runs.lock().unwrap();
        runs.iter().find(|r| r.id == id).cloned()
    }

    fn authenticate(&self, request: &Request) -> Option<ResponseTemplate> {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if header("user-agent").is_none_or(|ua| ua.is_empty()) {
            return Some(error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            ));
        }
        if header("authorization") != Some(format!("Bearer {}", self.token)) {
            return Some(error(401, "Bad credentials"));
        }
        if let Some(version) = header("x-github-api-version")
            && version != "2022-11-28"
        {
            return Some(error(
                400,
                &format!("API version {version} is not supported."),
            ));
        }
        None
    }

    fn dispatch(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.authenticate(request) {
            return refusal;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return error(400, "Problems parsing JSON");
        };
        let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
            return error(422, "Invalid request.\n\n\"ref\" wasn't supplied.");
        };
        if let Some(unknown) = body.as_object().and_then(|o| {
            o.keys()
                .find(|k| !["ref", "inputs", "return_run_details"].contains(&k.as_str()))
        }) {
            return error(
                422,
                &format!("Invalid request.\n\n{unknown} is not a permitted key."),
            );
        }
        let inputs = body.get("inputs").cloned().unwrap_or(json!({}));
        let Some(given) = inputs.as_object() else {
            return error(
                422,
                "Invalid request.\n\nFor 'properties/inputs', is not an object.",
            );
        };
        if given.len() > 25 {
            return error(
                422,
                "Invalid request.\n\nFor 'properties/inputs', too many properties (maximum 25).",
            );
        }
        if let Some((k, _)) = given.iter().find(|(_, v)| !v.is_string()) {
            return error(
                422,
                &format!("Invalid request.\n\nFor 'properties/{k}', is not a string."),
            );
        }
        let unexpected: Vec<&String> = given
            .keys()
            .filter(|k| !self.inputs.contains_key(*k))
            .collect();
        if !unexpected.is_empty() {
            return error(
                422,
                &format!(
                    "Unexpected inputs provided: {}",
                    serde_json::to_string(&unexpected).unwrap()
                ),
            );
        }
        if let Some((missing, _)) = self
            .inputs
            .iter()
            .find(|(k, required)| **required && !given.contains_key(*k))
        {
            return error(422, &format!("Required input '{missing}' not provided"));
        }
        let short = git_ref
            .trim_start_matches("refs/heads/")
            .trim_start_matches("refs/tags/");
        if !self.refs.iter().any(|r| r == short) {
            return error(422, &format!("No ref found for: {git_ref}"));
        }
        let run = {
            let mut runs = self.runs.lock().unwrap();
            let run = Run {
                id: 30433642 + runs.len() as u64,
                attempt: 1,
                seeded: false,
                reruns: Vec::new(),
                git_ref: short.to_string(),
                inputs,
                created_at: self.clock.now(),
            };
            runs.push(run.clone());
            run
        };
        let answer = match *self.answer.lock().unwrap() {
            Some(status) => error(status, "Server Error"),
            None if body.get("return_run_details") == Some(&Value::Bool(true)) => {
                ResponseTemplate::new(200).set_body_json(json!({
                    "workflow_run_id": run.id,
                    "run_url": format!("https://api.github.com/repos/{}/actions/runs/{}", self.repository, run.id),
                    "html_url": format!("https://github.com/{}/actions/runs/{}", self.repository, run.id),
                }))
            }
            None => ResponseTemplate::new(204),
        };
        match *self.delay.lock().unwrap() {
            Some(delay) => answer.set_delay(delay),
            None => answer,
        }
    }

    /// The run a path names (`/repos/o/r/actions/runs/{id}[/…]`).
    fn run_of(&self, request: &Request) -> Option<u64> {
        let mut segments = request.url.path_segments()?;
        segments.find(|s| *s == "runs")?;
        segments.next()?.parse().ok()
    }

    fn get_run(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.authenticate(request) {
            return refusal;
        }
        let runs = self.runs.lock().unwrap();
        match self
            .run_of(request)
            .and_then(|id| runs.iter().find(|r| r.id == id))
        {
            Some(run) => ResponseTemplate::new(200).set_body_json(json!({
                "id": run.id,
                "run_attempt": run.attempt,
                "head_branch": run.git_ref,
                "event": "workflow_dispatch",
                "status": "completed",
            })),
            None => error(404, "Not Found"),
        }
    }

    fn rerun(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.authenticate(request) {
            return refusal;
        }
        let kind = request
            .url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_string();
        let mut runs = self.runs.lock().unwrap();
        let Some(run) = self
            .run_of(request)
            .and_then(|id| runs.iter_mut().find(|r| r.id == id))
        else {
            return error(404, "Not Found");
        };
        run.attempt += 1;
        run.reruns.push(kind);
        ResponseTemplate::new(201).set_body_json(json!({}))
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.authenticate(request) {
            return refusal;
        }
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let since = match query.get("created").map(|c| c.strip_prefix(">=")) {
            None => None,
            Some(Some(date)) => match DateTime::parse_from_rfc3339(date) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => return error(422, "Invalid created date"),
            },
            Some(None) => return error(422, "this mock reads created=>=<date> only"),
        };
        let all = self.runs.lock().unwrap().clone();
        let runs: Vec<Value> = all
            .iter()
            .rev()
            .filter(|r| query.get("branch").is_none_or(|b| *b == r.git_ref))
            .filter(|_| query.get("event").is_none_or(|e| e == "workflow_dispatch"))
            .filter(|r| since.is_none_or(|s| r.created_at >= s))
            .map(|r| {
                json!({
                    "id": r.id,
                    "name": "deploy",
                    "head_branch": r.git_ref,
                    "event": "workflow_dispatch",
                    "status": "queued",
                    "html_url": format!("https://github.com/{}/actions/runs/{}", self.repository, r.id),
                    "created_at": r.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "total_count": runs.len(),
            "workflow_runs": runs,
        }))
    }
}

struct Dispatches(Actions);

impl Respond for Dispatches {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.dispatch(request)
    }
}

struct GetRun(Actions);

impl Respond for GetRun {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.get_run(request)
    }
}

struct Reruns(Actions);

impl Respond for Reruns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.rerun(request)
    }
}

struct ListRuns(Actions);

impl Respond for ListRuns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.list(request)
    }
}

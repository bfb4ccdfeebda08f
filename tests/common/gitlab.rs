//! A GitLab API as strict as the real one, for the deploy tests:
//! `POST /projects/:id/pipeline`, `GET /projects/:id/pipelines`,
//! `GET /projects/:id/pipelines/:pipeline_id` and
//! `POST /projects/:id/pipelines/:pipeline_id/retry`, as GitLab documents
//! them (docs.gitlab.com/api/pipelines), and for manual jobs
//! `GET /projects/:id/pipelines/:pipeline_id/jobs` and
//! `POST /projects/:id/jobs/:job_id/play` (docs.gitlab.com/api/jobs): a job
//! that is not `manual` is refused 400 "Unplayable Job".
//!
//! It refuses what GitLab refuses: a missing or wrong `PRIVATE-TOKEN` (401),
//! an unknown project (404), a pipeline without `ref` (400 "ref is
//! missing"), a ref that names no branch or tag (400 "Reference not
//! found"), malformed variables (400). A pipeline it creates is dated by
//! the test's clock and answered 201 with its `id` and `web_url`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use shipmate::domain::timing::{Clock, ManualClock};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One pipeline the mock created.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: u64,
    pub git_ref: String,
    pub variables: Value,
    pub status: String,
    pub retries: u32,
    pub created_at: DateTime<Utc>,
    /// `api` (created through the API) or `push`.
    pub source: String,
    /// Its jobs: id, name, status.
    pub jobs: Vec<(u64, String, String)>,
}

/// The project and what was asked of it.
#[derive(Clone)]
pub struct Project {
    pub token: String,
    /// The project's path, as the URL carries it encoded.
    pub path: String,
    pub refs: Vec<String>,
    pub pipelines: Arc<Mutex<Vec<Pipeline>>>,
    clock: Arc<ManualClock>,
    answer: Arc<Mutex<Option<u16>>>,
}

fn error(status: u16, message: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message }))
}

impl Project {
    pub fn new(clock: Arc<ManualClock>) -> Self {
        Self {
            token: "glpat-test-token".into(),
            path: "acme/portal".into(),
            refs: vec!["main".into(), "v2.4.0".into()],
            pipelines: Arc::default(),
            clock,
            answer: Arc::default(),
        }
    }

    /// Starts the mock server; the API's base is `{uri}/api/v4`.
    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        let base = format!("/api/v4/projects/{}", self.path.replace('/', "%2F"));
        Mock::given(method("POST"))
            .and(path(format!("{base}/pipeline")))
            .respond_with(Creates(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{base}/pipelines")))
            .respond_with(Lists(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^{base}/pipelines/[0-9]+/retry$")))
            .respond_with(Retries(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(format!("^{base}/pipelines/[0-9]+/jobs$")))
            .respond_with(Jobs(self.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^{base}/jobs/[0-9]+/play$")))
            .respond_with(Plays(self.clone()))
            .mount(&server)
            .await;
        server
    }

    /// A push to `git_ref` ran a pipeline whose `deploy-prod` job waits
    /// to be played by hand; returns the pipeline's id.
    pub fn pushed(&self, git_ref: &str) -> u64 {
        let mut pipelines = self.pipelines.lock().unwrap();
        let id = 1061 + pipelines.len() as u64;
        pipelines.push(Pipeline {
            id,
            git_ref: git_ref.to_string(),
            variables: json!([]),
            status: "manual".into(),
            retries: 0,
            created_at: self.clock.now(),
            source: "push".into(),
            jobs: vec![
                (id * 10, "build".into(), "success".into()),
                (id * 10 + 1, "deploy-prod".into(), "manual".into()),
            ],
        });
        id
    }

    /// The number in the path segment `back` from the end.
    fn id_in_path(request: &Request, back: usize) -> Option<u64> {
        request
            .url
            .path_segments()
            .and_then(|s| s.rev().nth(back))
            .and_then(|id| id.parse().ok())
    }

    fn jobs(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.refuse(request) {
            return refusal;
        }
        let id = Self::id_in_path(request, 1);
        match self.pipelines().iter().find(|p| Some(p.id) == id) {
            Some(p) => ResponseTemplate::new(200).set_body_json(
                p.jobs
                    .iter()
                    .map(|(id, name, status)| json!({"id": id, "name": name, "status": status, "stage": "deploy"}))
                    .collect::<Vec<_>>(),
            ),
            None => error(404, json!("404 Not found")),
        }
    }

    fn play(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.refuse(request) {
            return refusal;
        }
        let id = Self::id_in_path(request, 1);
        let mut pipelines = self.pipelines.lock().unwrap();
        let job = pipelines
            .iter_mut()
            .flat_map(|p| p.jobs.iter_mut())
            .find(|(j, _, _)| Some(*j) == id);
        match job {
            Some((j, name, status)) if status == "manual" => {
                *status = "pending".into();
                match *self.answer.lock().unwrap() {
                    Some(lost) => error(lost, json!("502 Bad Gateway")),
                    None => ResponseTemplate::new(200)
                        .set_body_json(json!({"id": j, "name": name, "status": "pending"})),
                }
            }
            Some(_) => error(400, json!("400 Bad request - Unplayable Job")),
            None => error(404, json!("404 Job Not Found")),
        }
    }

    /// From now on a pipeline is created (or a job played) but answered
    /// `status` (the answer is lost).
    pub fn answer_with(&self, status: u16) {
        *self.answer.lock().unwrap() = Some(status);
    }

    pub fn pipelines(&self) -> Vec<Pipeline> {
        self.pipelines.lock().unwrap().clone()
    }

    fn refuse(&self, request: &Request) -> Option<ResponseTemplate> {
        let token = request
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok());
        (token != Some(self.token.as_str())).then(|| error(401, json!("401 Unauthorized")))
    }

    fn json(p: &Pipeline) -> Value {
        json!({
            "id": p.id,
            "iid": p.id - 1000,
            "project_id": 7,
            "status": p.status,
            "source": "api",
            "ref": p.git_ref,
            "web_url": format!("https://gitlab.example.com/acme/portal/-/pipelines/{}", p.id),
            "created_at": p.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "updated_at": p.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        })
    }

    fn create(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.refuse(request) {
            return refusal;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "400 Bad request"}));
        };
        let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "ref is missing"}));
        };
        let variables = body.get("variables").cloned().unwrap_or(json!([]));
        let well_formed = variables.as_array().is_some_and(|vars| {
            vars.iter().all(|v| {
                let key_ok = v.get("key").and_then(Value::as_str).is_some_and(|k| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                let value_ok = v.get("value").is_some_and(Value::is_string);
                let type_ok = v
                    .get("variable_type")
                    .is_none_or(|t| t == "env_var" || t == "file");
                key_ok && value_ok && type_ok
            })
        });
        if !well_formed {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "variables is invalid"}));
        }
        if !self.refs.iter().any(|r| r == git_ref) {
            return error(400, json!({"base": ["Reference not found"]}));
        }
        let pipeline = {
            let mut pipelines = self.pipelines.lock().unwrap();
            let p = Pipeline {
                id: 1061 + pipelines.len() as u64,
                git_ref: git_ref.to_string(),
                variables,
                status: "created".into(),
                retries: 0,
                created_at: self.clock.now(),
                source: "api".into(),
                jobs: Vec::new(),
            };
            pipelines.push(p.clone());
            p
        };
        match *self.answer.lock().unwrap() {
            Some(status) => error(status, json!("502 Bad Gateway")),
            None => ResponseTemplate::new(201).set_body_json(Self::json(&pipeline)),
        }
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.refuse(request) {
            return refusal;
        }
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let after = match query
            .get("updated_after")
            .map(|a| DateTime::parse_from_rfc3339(a))
        {
            None => None,
            Some(Ok(t)) => Some(t.with_timezone(&Utc)),
            Some(Err(_)) => {
                return ResponseTemplate::new(400)
                    .set_body_json(json!({"error": "updated_after is invalid"}));
            }
        };
        let found: Vec<Value> = self
            .pipelines()
            .iter()
            .rev()
            .filter(|p| query.get("ref").is_none_or(|r| *r == p.git_ref))
            .filter(|p| query.get("source").is_none_or(|s| *s == p.source))
            .filter(|p| after.is_none_or(|a| p.created_at >= a))
            .take(
                query
                    .get("per_page")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(20),
            )
            .map(Self::json)
            .collect();
        ResponseTemplate::new(200).set_body_json(found)
    }

    fn retry(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.refuse(request) {
            return refusal;
        }
        let id: Option<u64> = request
            .url
            .path_segments()
            .and_then(|s| s.rev().nth(1))
            .and_then(|id| id.parse().ok());
        let mut pipelines = self.pipelines.lock().unwrap();
        match pipelines.iter_mut().find(|p| Some(p.id) == id) {
            Some(p) => {
                p.retries += 1;
                p.status = "pending".into();
                ResponseTemplate::new(201).set_body_json(Self::json(p))
            }
            None => error(404, json!("404 Not found")),
        }
    }
}

struct Creates(Project);

impl Respond for Creates {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.create(request)
    }
}

struct Lists(Project);

impl Respond for Lists {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.list(request)
    }
}

struct Jobs(Project);

impl Respond for Jobs {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.jobs(request)
    }
}

struct Plays(Project);

impl Respond for Plays {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.play(request)
    }
}

struct Retries(Project);

impl Respond for Retries {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.retry(request)
    }
}

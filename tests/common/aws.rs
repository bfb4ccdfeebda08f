//! AWS CodePipeline's `StartPipelineExecution`, `RetryStageExecution` and
//! `GetPipelineState` as strict as AWS: the JSON
//! 1.1 protocol (`POST /`, `Content-Type: application/x-amz-json-1.1`,
//! `X-Amz-Target: CodePipeline_20150709.StartPipelineExecution`), and every
//! request's Signature Version 4 checked with a known key — computed here
//! from AWS's documented algorithm (docs.aws.amazon.com/IAM/latest/UserGuide/
//! create-signed-request.html), not by the crate shipmate signs with.
//!
//! It refuses an unknown access key (403 UnrecognizedClientException), a
//! signature that does not match or a request dated more than 15 minutes
//! from its clock (403 InvalidSignatureException), an unknown operation,
//! a malformed `clientRequestToken` (400 ValidationException) and an
//! unknown pipeline (400 PipelineNotFoundException), and a retry of a stage
//! that has not failed (400 StageNotRetryableException). The same
//! `clientRequestToken` answers with the execution it started.
//! `sourceRevisions` are held to the API reference's `SourceRevisionOverride`
//! (an `actionName` of 1–100 of `[A-Za-z0-9.@\-_]`, a `revisionType` of
//! COMMIT_ID, IMAGE_DIGEST, S3_OBJECT_VERSION_ID or S3_OBJECT_KEY, a
//! `revisionValue` of 1–1500 characters) and must name a source action of
//! the pipeline (ValidationException).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDateTime, TimeDelta};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shipmate::domain::timing::{Clock, ManualClock};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const ACCESS_KEY_ID: &str = "AKIDSHIPMATETEST";
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSHIPMATE";
pub const REGION: &str = "eu-west-1";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What a signature covers: `headers` are the signed ones, lowercase names.
pub struct Canonical<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub query: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub body: &'a [u8],
}

/// A SigV4 signature as AWS documents it: the canonical request, the string
/// to sign, the derived key; `scope` is (date, region, service).
pub fn signature(
    secret: &str,
    c: &Canonical<'_>,
    amz_date: &str,
    scope: (&str, &str, &str),
) -> String {
    let Canonical {
        method,
        uri,
        query,
        headers,
        body,
    } = c;
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = headers.keys().map(String::as_str).collect();
    let canonical_request = format!(
        "{method}\n{uri}\n{query}\n{canonical_headers}\n{}\n{}",
        signed.join(";"),
        sha256_hex(body)
    );
    let (date, region, service) = scope;
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        });
    hex::encode(hmac(&key, &string_to_sign))
}

/// The pipelines and what was started.
#[derive(Clone)]
pub struct CodePipeline {
    pub pipelines: Vec<String>,
    /// The pipelines' source actions.
    pub source_actions: Vec<String>,
    /// Execution id → the `sourceRevisions` it was started with.
    pub revisions: Arc<Mutex<Vec<(String, Value)>>>,
    /// clientRequestToken → execution id, in order.
    pub executions: Arc<Mutex<Vec<(String, String)>>>,
    clock: Arc<ManualClock>,
    answer: Arc<Mutex<Option<u16>>>,
    /// (execution, stage) → status, and the retries asked for.
    pub stages: Arc<Mutex<BTreeMap<(String, String), String>>>,
    pub retries: Arc<Mutex<Vec<(String, String, String)>>>,
}

fn error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-ErrorType", kind)
        .set_body_json(json!({ "__type": kind, "message": message }))
}

impl CodePipeline {
    pub fn new(clock: Arc<ManualClock>) -> Self {
        Self {
            pipelines: vec!["portal-deploy".into()],
            source_actions: vec!["Source".into()],
            revisions: Arc::default(),
            executions: Arc::default(),
            clock,
            answer: Arc::default(),
            stages: Arc::default(),
            retries: Arc::default(),
        }
    }

    /// What AWS would answer to `sourceRevisions` it refuses.
    fn refuse_revisions(&self, revisions: &Value) -> Option<ResponseTemplate> {
        let invalid = |why: String| Some(error(400, "ValidationException", &why));
        let Some(list) = revisions.as_array().filter(|l| !l.is_empty()) else {
            return invalid("sourceRevisions must be a non-empty list".into());
        };
        for r in list {
            let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let action = field("actionName");
            if action.is_empty()
                || action.len() > 100
                || !action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c))
            {
                return invalid(format!(
                    "Value '{action}' at 'sourceRevisions.1.member.actionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+"
                ));
            }
            let kinds = [
                "COMMIT_ID",
                "IMAGE_DIGEST",
                "S3_OBJECT_VERSION_ID",
                "S3_OBJECT_KEY",
            ];
            if !kinds.contains(&field("revisionType")) {
                return invalid("Value at 'sourceRevisions.1.member.revisionType' failed to satisfy constraint: Member must satisfy enum value set: [COMMIT_ID, IMAGE_DIGEST, S3_OBJECT_VERSION_ID, S3_OBJECT_KEY]".into());
            }
            let value = field("revisionValue");
            if value.is_empty() || value.len() > 1500 {
                return invalid("Value at 'sourceRevisions.1.member.revisionValue' failed to satisfy constraint: Member must have length between 1 and 1500".into());
            }
            if !self.source_actions.iter().any(|a| a == action) {
                return invalid(format!(
                    "The action '{action}' is not a source action of the pipeline"
                ));
            }
        }
        None
    }

    /// A stage of an execution failed.
    pub fn fail_stage(&self, execution: &str, stage: &str) {
        let key = (execution.to_string(), stage.to_string());
        self.stages.lock().unwrap().insert(key, "Failed".into());
    }

    fn retry_stage(&self, body: &Value) -> ResponseTemplate {
        let field = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (pipeline, stage, execution, mode) = (
            field("pipelineName"),
            field("stageName"),
            field("pipelineExecutionId"),
            field("retryMode"),
        );
        if !self.pipelines.contains(&pipeline) {
            return error(400, "PipelineNotFoundException", "no such pipeline");
        }
        if mode != "FAILED_ACTIONS" && mode != "ALL_ACTIONS" {
            return error(
                400,
                "ValidationException",
                "retryMode must be FAILED_ACTIONS or ALL_ACTIONS",
            );
        }
        let mut stages = self.stages.lock().unwrap();
        match stages.get_mut(&(execution.clone(), stage.clone())) {
            Some(status) if status == "Failed" => {
                *status = "InProgress".into();
                self.retries
                    .lock()
                    .unwrap()
                    .push((execution.clone(), stage, mode));
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "pipelineExecutionId": execution }))
            }
            Some(_) => error(
                400,
                "StageNotRetryableException",
                "The stage is not in a retryable state",
            ),
            None => error(400, "StageNotFoundException", "no such stage execution"),
        }
    }

    fn pipeline_state(&self, body: &Value) -> ResponseTemplate {
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
        if !self.pipelines.iter().any(|p| p == name) {
            return error(400, "PipelineNotFoundException", "no such pipeline");
        }
        let stages: Vec<Value> = self
            .stages
            .lock()
            .unwrap()
            .iter()
            .map(|((execution, stage), status)| {
                json!({
                    "stageName": stage,
                    "latestExecution": {"pipelineExecutionId": execution, "status": status},
                })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({ "pipelineName": name, "stageStates": stages }))
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/"))
            .respond_with(Api(self.clone()))
            .mount(&server)
            .await;
        server
    }

    /// From now on an execution is started but answered `status` (the answer is lost).
    pub fn answer_with(&self, status: u16) {
        *self.answer.lock().unwrap() = Some(status);
    }

    pub fn executions(&self) -> Vec<(String, String)> {
        self.executions.lock().unwrap().clone()
    }

    /// Checks the request's SigV4 signature; the refusal AWS would send, if any.
    fn verify(&self, request: &Request) -> Option<ResponseTemplate> {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let invalid = |why: &str| Some(error(403, "InvalidSignatureException", why));
        let Some(auth) = header("authorization") else {
            return Some(error(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        };
        let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return Some(error(
                400,
                "IncompleteSignatureException",
                "Unsupported algorithm",
            ));
        };
        let fields: BTreeMap<&str, &str> = fields
            .split(", ")
            .filter_map(|f| f.split_once('='))
            .collect();
        let (Some(credential), Some(signed), Some(given)) = (
            fields.get("Credential"),
            fields.get("SignedHeaders"),
            fields.get("Signature"),
        ) else {
            return Some(error(
                400,
                "IncompleteSignatureException",
                "Authorization header requires Credential, SignedHeaders and Signature",
            ));
        };
        let parts: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, "aws4_request"] = parts[..] else {
            return Some(error(
                400,
                "IncompleteSignatureException",
                "Credential is malformed",
            ));
        };
        if key_id != ACCESS_KEY_ID {
            return Some(error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
        if region != REGION || service != "codepipeline" {
            return invalid("Credential should be scoped to a valid region and service");
        }
        let Some(amz_date) = header("x-amz-date") else {
            return invalid("X-Amz-Date is missing");
        };
        let Ok(at) = NaiveDateTime::parse_from_str(&amz_date, "%Y%m%dT%H%M%SZ") else {
            return invalid("X-Amz-Date is malformed");
        };
        let at = at.and_utc();
        if (at - self.clock.now()).abs() > TimeDelta::minutes(15) || !amz_date.starts_with(date) {
            return invalid("Signature expired: the request time is too far from the server's");
        }
        let names: Vec<&str> = signed.split(';').collect();
        if !names.contains(&"host") || !names.contains(&"x-amz-date") {
            return invalid("host and x-amz-date must be signed");
        }
        let mut headers = BTreeMap::new();
        for name in names {
            let Some(value) = header(name) else {
                return invalid("a signed header is missing");
            };
            headers.insert(name.to_string(), value);
        }
        let canonical = Canonical {
            method: request.method.as_str(),
            uri: request.url.path(),
            query: request.url.query().unwrap_or_default(),
            headers: &headers,
            body: &request.body,
        };
        let expected = signature(
            SECRET_ACCESS_KEY,
            &canonical,
            &amz_date,
            (date, region, service),
        );
        (expected != *given).then(|| {
            error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        })
    }

    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Some(refusal) = self.verify(request) {
            return refusal;
        }
        let content = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        if content != Some("application/x-amz-json-1.1") {
            return error(
                400,
                "SerializationException",
                "expected application/x-amz-json-1.1",
            );
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return error(400, "SerializationException", "the body is not JSON");
        };
        let target = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        match target {
            Some("CodePipeline_20150709.StartPipelineExecution") => {}
            Some("CodePipeline_20150709.RetryStageExecution") => return self.retry_stage(&body),
            Some("CodePipeline_20150709.GetPipelineState") => return self.pipeline_state(&body),
            _ => return error(400, "UnknownOperationException", ""),
        }
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
        let token = body.get("clientRequestToken").and_then(Value::as_str);
        if let Some(token) = token
            && (token.is_empty()
                || token.len() > 128
                || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return error(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$",
            );
        }
        if !self.pipelines.iter().any(|p| p == name) {
            return error(
                400,
                "PipelineNotFoundException",
                &format!("Account '123456789012' does not have a pipeline with name '{name}'"),
            );
        }
        let revisions = body.get("sourceRevisions").cloned();
        if let Some(refusal) = revisions.as_ref().and_then(|r| self.refuse_revisions(r)) {
            return refusal;
        }
        let id = {
            let mut executions = self.executions.lock().unwrap();
            let known = token.and_then(|t| {
                executions
                    .iter()
                    .find(|(k, _)| k == t)
                    .map(|(_, id)| id.clone())
            });
            match known {
                Some(id) => id,
                None => {
                    let id = format!("a1b2c3d4-5678-90ab-cdef-{:012}", executions.len() + 1);
                    executions.push((token.unwrap_or_default().to_string(), id.clone()));
                    if let Some(r) = revisions {
                        self.revisions.lock().unwrap().push((id.clone(), r));
                    }
                    id
                }
            }
        };
        match self.answer.lock().unwrap().take() {
            Some(status) => error(
                status,
                "InternalFailure",
                "We encountered an internal error.",
            ),
            None => ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.1")
                .set_body_json(json!({ "pipelineExecutionId": id })),
        }
    }
}

struct Api(CodePipeline);

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

//! The platforms' published rules, as the mocks enforce them: what Slack
//! refuses in a message (Block Kit limits: 50 blocks, 3,000 characters per
//! section, about 12,000 characters of block text per message
//! (`msg_blocks_too_long`), 25 buttons of 75-character labels and
//! 2,000-character values, 40,000 characters of `text`), and what a Slack
//! reader sees of a mrkdwn text (control sequences and the three entities,
//! <https://api.slack.com/reference/surfaces/formatting#escaping>).
//! Discord: content up to 2,000 characters, embeds (10; title 256,
//! description 4,096, 25 fields of 256/1,024, 6,000 in all), 5 rows of 5
//! buttons (labels 80, custom ids 100); and a deferred interaction's
//! privacy is fixed when it is deferred: an edit cannot change it
//! ([`DeferredReplies`]); an interaction is answered once (HTTP body or
//! callback), its webhook is unknown until then (10015), and its calls
//! keep to a rate-limit bucket announced in `X-RateLimit-*` headers (429
//! past it). Slack: a `response_url` takes at most 5 messages
//! (<https://api.slack.com/interactivity/handling#message_responses>).
//! A test that posts through [`strict_slack`] fails whenever shipmate sends
//! what the real API would refuse.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Block Kit: at most 50 blocks in a message.
pub const SLACK_MAX_BLOCKS: usize = 50;
/// Block Kit: a section's text is at most 3,000 characters.
pub const SLACK_SECTION_MAX: usize = 3000;
/// The text of all blocks of one message together (`msg_blocks_too_long` above it).
pub const SLACK_BLOCKS_TEXT_MAX: usize = 12_000;
/// `chat.postMessage`: a `text` over 40,000 characters is refused (`msg_too_long`).
pub const SLACK_TEXT_MAX: usize = 40_000;

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// The text of every text object in a block tree.
fn texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(kind)), Some(Value::String(text))) =
                (map.get("type"), map.get("text"))
                && (kind == "mrkdwn" || kind == "plain_text")
            {
                out.push(text.clone());
            }
            for (k, child) in map {
                if k != "value" {
                    texts(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| texts(i, out)),
        _ => {}
    }
}

/// The `error` Slack answers a message body with, or `None` when it is accepted.
pub fn slack_message_error(body: &Value) -> Option<String> {
    let blocks = body["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.is_empty() && chars(&body["text"]) == 0 {
        return Some("no_text".into());
    }
    if chars(&body["text"]) > SLACK_TEXT_MAX {
        return Some("msg_too_long".into());
    }
    if blocks.len() > SLACK_MAX_BLOCKS {
        return Some(format!("invalid_blocks: {} blocks", blocks.len()));
    }
    for (i, b) in blocks.iter().enumerate() {
        match b["type"].as_str() {
            Some("section") => {
                let n = chars(&b["text"]["text"]);
                if n == 0 || n > SLACK_SECTION_MAX {
                    return Some(format!("invalid_blocks: section {i} has {n} characters"));
                }
            }
            Some("actions") => {
                let elements = b["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 25 {
                    return Some(format!("invalid_blocks: {} buttons", elements.len()));
                }
                for e in &elements {
                    if chars(&e["text"]["text"]) > 75
                        || chars(&e["value"]) > 2000
                        || chars(&e["action_id"]) > 255
                    {
                        return Some(format!("invalid_blocks: button {e}"));
                    }
                }
            }
            Some("context") | Some("divider") | Some("header") => {}
            other => return Some(format!("invalid_blocks: block type {other:?}")),
        }
    }
    let mut all = Vec::new();
    texts(&Value::Array(blocks), &mut all);
    let total: usize = all.iter().map(|t| t.chars().count()).sum();
    if total > SLACK_BLOCKS_TEXT_MAX {
        return Some("msg_blocks_too_long".into());
    }
    None
}

/// What a Slack reader sees of a mrkdwn text: `<@U1>` as `@U1`, `<#C1>` as
/// `#C1`, `<!subteam^S1>` as `@S1`, a date as its fallback, a link as its
/// label (any other `<…>` is read as a link too, so unescaped `<target>`
/// shows as `target`), and `&amp;` `&lt;` `&gt;` as the characters.
pub fn slack_shows(mrkdwn: &str) -> String {
    let mut out = String::new();
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        out.push_str(&unescape(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&unescape(after));
            return out;
        };
        let inner = &after[..end];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let shown = if let Some(id) = target.strip_prefix('@') {
            format!("@{id}")
        } else if let Some(id) = target.strip_prefix('#') {
            format!("#{id}")
        } else if let Some(special) = target.strip_prefix('!') {
            match (special.strip_prefix("subteam^"), label) {
                (Some(id), _) => format!("@{id}"),
                (None, Some(l)) => l.to_string(),
                (None, None) => format!("@{special}"),
            }
        } else {
            label.unwrap_or(target).to_string()
        };
        out.push_str(&unescape(&shown));
        rest = &after[end + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// All the text a Slack message body shows, block by block.
pub fn slack_body_shows(body: &Value) -> String {
    let mut all = Vec::new();
    texts(&body["blocks"], &mut all);
    if all.is_empty() {
        all.push(body["text"].as_str().unwrap_or_default().to_string());
    }
    all.iter()
        .map(|t| slack_shows(t))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How many messages Slack takes on one `response_url`.
pub const SLACK_RESPONSE_URL_USES: usize = 5;

/// Answers `chat.postMessage` / `chat.update` (and `response_url` posts,
/// which Slack refuses with HTTP 400, and past their 5 uses with 404
/// `used_url`) as Slack would.
struct StrictSlack {
    next_ts: AtomicU64,
    response_url: bool,
    uses: Mutex<HashMap<String, usize>>,
}

impl Respond for StrictSlack {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if self.response_url {
            let mut uses = self.uses.lock().unwrap_or_else(|e| e.into_inner());
            let used = uses.entry(request.url.path().to_string()).or_default();
            *used += 1;
            if *used > SLACK_RESPONSE_URL_USES {
                return ResponseTemplate::new(404).set_body_string("used_url");
            }
        }
        match (slack_message_error(&body), self.response_url) {
            (Some(error), true) => ResponseTemplate::new(400).set_body_string(error),
            (Some(error), false) => {
                ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error}))
            }
            (None, true) => ResponseTemplate::new(200).set_body_string("ok"),
            (None, false) => {
                let n = self.next_ts.fetch_add(1, Ordering::SeqCst);
                let ts = body["ts"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("1700000000.{n:06}"));
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "channel": body["channel"], "ts": ts}))
            }
        }
    }
}

/// A mock Slack that enforces the message rules on `chat.postMessage`,
/// `chat.update` and `response_url` posts (`/actions/…`), accepts
/// `views.open`, and has an empty channel history.
pub async fn strict_slack() -> MockServer {
    let mock = MockServer::start().await;
    for at in ["/api/chat.postMessage", "/api/chat.update"] {
        Mock::given(method("POST"))
            .and(path(at))
            .respond_with(StrictSlack {
                next_ts: AtomicU64::new(100),
                response_url: false,
                uses: Mutex::default(),
            })
            .mount(&mock)
            .await;
    }
    Mock::given(method("POST"))
        .and(path_regex("^/actions/"))
        .respond_with(StrictSlack {
            next_ts: AtomicU64::new(0),
            response_url: true,
            uses: Mutex::default(),
        })
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/views.open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&mock)
        .await;
    for at in ["/api/conversations.history", "/api/conversations.replies"] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "messages": []})),
            )
            .mount(&mock)
            .await;
    }
    mock
}

/// Why Discord would refuse a message body (`50035 Invalid Form Body`), or `None`.
pub fn discord_message_error(body: &Value) -> Option<String> {
    let content = chars(&body["content"]);
    if content > 2000 {
        return Some(format!("content: {content} characters, at most 2000"));
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Some(format!("{} embeds, at most 10", embeds.len()));
    }
    let mut total = 0;
    for e in &embeds {
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        let checks = [
            ("title", chars(&e["title"]), 256),
            ("description", chars(&e["description"]), 4096),
            ("footer", chars(&e["footer"]["text"]), 2048),
            ("author", chars(&e["author"]["name"]), 256),
            ("fields", fields.len(), 25),
        ];
        for (what, n, max) in checks {
            if n > max {
                return Some(format!("embed {what}: {n}, at most {max}"));
            }
        }
        total += chars(&e["title"])
            + chars(&e["description"])
            + chars(&e["footer"]["text"])
            + chars(&e["author"]["name"]);
        for f in &fields {
            if chars(&f["name"]) > 256 || chars(&f["value"]) > 1024 {
                return Some(format!("embed field too long: {f}"));
            }
            total += chars(&f["name"]) + chars(&f["value"]);
        }
    }
    if total > 6000 {
        return Some(format!("embeds hold {total} characters, at most 6000"));
    }
    if content == 0 && embeds.is_empty() && body.get("components").is_none() {
        return Some("Cannot send an empty message".into());
    }
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    if rows.len() > 5 {
        return Some(format!("{} action rows, at most 5", rows.len()));
    }
    for row in &rows {
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        if buttons.is_empty() || buttons.len() > 5 {
            return Some(format!("{} buttons in a row, 1 to 5", buttons.len()));
        }
        for b in &buttons {
            if chars(&b["label"]) > 80 || chars(&b["custom_id"]) > 100 {
                return Some(format!("button too long: {b}"));
            }
        }
    }
    None
}

/// Answers channel message posts and edits as Discord would.
struct StrictDiscord {
    next_id: AtomicU64,
}

impl Respond for StrictDiscord {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Some(why) = discord_message_error(&body) {
            return discord_refusal(&why);
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({"id": id.to_string()}))
    }
}

/// A mock Discord that enforces the message rules on channel messages
/// (`POST` and `PATCH /api/v10/channels/{id}/messages…`).
pub async fn strict_discord() -> MockServer {
    let mock = MockServer::start().await;
    for verb in ["POST", "PATCH"] {
        Mock::given(method(verb))
            .and(path_regex("^/api/v10/channels/[0-9]+/messages"))
            .respond_with(StrictDiscord {
                next_id: AtomicU64::new(5000),
            })
            .mount(&mock)
            .await;
    }
    mock
}

fn discord_refusal(why: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(
        json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": [{"message": why}]}}),
    )
}

/// A deferred interaction as Discord keeps it.
#[derive(Debug, Clone, Copy)]
struct Original {
    ephemeral: bool,
    edited: bool,
}

/// Discord's interaction webhooks (`/webhooks/{app}/{token}…`) with the
/// rule the platform applies: a deferred response's privacy is the
/// deferral's. An edit of `@original` whose `flags` would change it, or a
/// first follow-up of another privacy while the response still shows
/// "thinking", is refused (400) instead of being silently ignored, so a
/// test fails where a user would see the wrong privacy.
#[derive(Clone, Default)]
pub struct DeferredReplies {
    originals: Arc<Mutex<HashMap<String, Original>>>,
    /// (token, body, ephemeral) of every message that was shown.
    pub shown: Arc<Mutex<Vec<(String, Value, bool)>>>,
    /// The webhook rate limit, when one is set: calls per window, per token.
    limit: Option<(usize, Duration)>,
    buckets: Arc<Mutex<HashMap<String, (Instant, usize)>>>,
    /// Calls made into a bucket the headers had said was empty (answered 429).
    pub overruns: Arc<AtomicUsize>,
    /// 429s answered in all.
    pub limited: Arc<AtomicUsize>,
    /// Answer the next follow-up 429, though its bucket is not empty (as
    /// Discord may, e.g. for a shared or global limit).
    pub limit_next: Arc<AtomicBool>,
}

fn ephemeral(flags: &Value) -> bool {
    flags.as_u64().unwrap_or(0) & 64 != 0
}

impl DeferredReplies {
    /// Webhooks that take `calls` per `window` for each interaction token.
    pub fn rate_limited(calls: usize, window: Duration) -> Self {
        Self {
            limit: Some((calls, window)),
            ..Self::default()
        }
    }

    /// Takes one call from `token`'s bucket: the headers to answer with, or
    /// the 429 to answer instead.
    fn take(
        &self,
        token: &str,
        follow_up: bool,
    ) -> Result<Vec<(String, String)>, Box<ResponseTemplate>> {
        let limited = |wait: Duration| {
            self.limited.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(429)
                .insert_header("retry-after", format!("{}", wait.as_secs_f64().ceil()))
                .set_body_json(json!({"message": "You are being rate limited.", "retry_after": wait.as_secs_f64(), "global": false}))
        };
        if follow_up && self.limit_next.swap(false, Ordering::SeqCst) {
            return Err(Box::new(limited(Duration::from_millis(200))));
        }
        let Some((calls, window)) = self.limit else {
            return Ok(Vec::new());
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(token.to_string()).or_insert((now, 0));
        if now.duration_since(bucket.0) >= window {
            *bucket = (now, 0);
        }
        let reset = window.saturating_sub(now.duration_since(bucket.0));
        if bucket.1 >= calls {
            self.overruns.fetch_add(1, Ordering::SeqCst);
            return Err(Box::new(limited(reset)));
        }
        bucket.1 += 1;
        Ok(vec![
            ("x-ratelimit-limit".into(), calls.to_string()),
            (
                "x-ratelimit-remaining".into(),
                (calls - bucket.1).to_string(),
            ),
            (
                "x-ratelimit-reset-after".into(),
                format!("{:.3}", reset.as_secs_f64()),
            ),
        ])
    }

    /// Records the deferral the app answered an interaction with.
    pub fn deferred(&self, token: &str, response: &Value) {
        assert_eq!(response["type"], 5, "not a deferral: {response}");
        let original = Original {
            ephemeral: ephemeral(&response["data"]["flags"]),
            edited: false,
        };
        self.originals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), original);
    }

    /// Records an immediate answer (type 4) the app gave an interaction:
    /// follow-ups are then messages of their own.
    pub fn answered(&self, token: &str, response: &Value) {
        assert_eq!(response["type"], 4, "not a message response: {response}");
        let e = ephemeral(&response["data"]["flags"]);
        self.originals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.to_string(),
                Original {
                    ephemeral: e,
                    edited: true,
                },
            );
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).push((
            token.to_string(),
            response["data"].clone(),
            e,
        ));
    }

    /// The messages shown so far: (body, seen by the invoker only).
    pub fn messages(&self) -> Vec<(Value, bool)> {
        self.shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, b, e)| (b.clone(), *e))
            .collect()
    }

    /// Serves the webhooks of `application_id`, and the interaction
    /// callback endpoint, on `mock`.
    pub async fn mount(&self, mock: &MockServer, application_id: &str) {
        Mock::given(method("POST"))
            .and(path_regex("^/api/v10/interactions/[0-9]+/[^/]+/callback$"))
            .respond_with(Callback {
                replies: self.clone(),
            })
            .mount(mock)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex(format!(
                "^/api/v10/webhooks/{application_id}/[^/]+/messages/@original$"
            )))
            .respond_with(Webhook {
                replies: self.clone(),
                edit: true,
            })
            .mount(mock)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(format!(
                "^/api/v10/webhooks/{application_id}/[^/]+$"
            )))
            .respond_with(Webhook {
                replies: self.clone(),
                edit: false,
            })
            .mount(mock)
            .await;
    }
}

/// The interaction token in a webhook or callback path
/// (`/api/v10/{webhooks/{app}|interactions/{id}}/{token}…`), and the JSON body.
fn token_and_body(request: &Request) -> Option<(String, Value)> {
    let token = request.url.path().split('/').nth(5)?.to_string();
    let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    Some((token, body))
}

/// `POST /interactions/{id}/{token}/callback`: the interaction's response,
/// taken once (40060 after that), 204.
struct Callback {
    replies: DeferredReplies,
}

impl Respond for Callback {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some((token, body)) = token_and_body(request) else {
            return ResponseTemplate::new(404);
        };
        if let Some(why) = discord_message_error(&body["data"]) {
            return discord_refusal(&why);
        }
        let known = self
            .replies
            .originals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&token);
        if known {
            return ResponseTemplate::new(400).set_body_json(
                json!({"code": 40060, "message": "Interaction has already been acknowledged."}),
            );
        }
        match body["type"].as_u64() {
            Some(4) => self.replies.answered(&token, &body),
            Some(5) => self.replies.deferred(&token, &body),
            _ => return discord_refusal("not a response this mock knows"),
        }
        ResponseTemplate::new(204)
    }
}

struct Webhook {
    replies: DeferredReplies,
    edit: bool,
}

impl Respond for Webhook {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some((token, body)) = token_and_body(request) else {
            return ResponseTemplate::new(404);
        };
        if let Some(why) = discord_message_error(&body) {
            return discord_refusal(&why);
        }
        let headers = match self.replies.take(&token, !self.edit) {
            Ok(headers) => headers,
            Err(limited) => return *limited,
        };
        let mut originals = self
            .replies
            .originals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(original) = originals.get_mut(&token) else {
            return ResponseTemplate::new(404)
                .set_body_json(json!({"code": 10015, "message": "Unknown Webhook"}));
        };
        let asked = body.get("flags").map(ephemeral);
        let shown_ephemeral = if self.edit {
            if asked.is_some_and(|e| e != original.ephemeral) {
                return discord_refusal("an edit cannot change whether a response is ephemeral");
            }
            original.edited = true;
            original.ephemeral
        } else if !original.edited {
            // the first follow-up of a deferral becomes the deferred response
            if asked.unwrap_or(false) != original.ephemeral {
                return discord_refusal(
                    "the first follow-up of a deferral keeps the deferral's privacy",
                );
            }
            original.edited = true;
            original.ephemeral
        } else {
            asked.unwrap_or(false)
        };
        drop(originals);
        self.replies
            .shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((token, body, shown_ephemeral));
        headers.into_iter().fold(
            ResponseTemplate::new(200).set_body_json(json!({"id": "9001"})),
            |r, (name, value)| r.insert_header(name.as_str(), value.as_str()),
        )
    }
}

#[test]
fn the_discord_rules_refuse_what_discord_refuses() {
    assert_eq!(
        discord_message_error(&json!({"content": "x".repeat(2000)})),
        None
    );
    assert!(discord_message_error(&json!({"content": "x".repeat(2001)})).is_some());
    let field = json!({"name": "n", "value": "v".repeat(1000)});
    let fields: Vec<Value> = (0..7).map(|_| field.clone()).collect();
    assert!(
        discord_message_error(&json!({"embeds": [{"description": "d", "fields": fields}]}))
            .is_some_and(|e| e.contains("6000"))
    );
}

#[test]
fn the_slack_rules_refuse_what_slack_refuses() {
    let section =
        |n: usize| json!({"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(n)}});
    assert_eq!(
        slack_message_error(&json!({"text": "hi", "blocks": [section(3000)]})),
        None
    );
    assert!(slack_message_error(&json!({"text": "hi", "blocks": [section(3001)]})).is_some());
    let five: Vec<Value> = (0..5).map(|_| section(2500)).collect();
    assert_eq!(
        slack_message_error(&json!({"text": "hi", "blocks": five})).as_deref(),
        Some("msg_blocks_too_long")
    );
    let many: Vec<Value> = (0..51).map(|_| section(10)).collect();
    assert!(slack_message_error(&json!({"text": "hi", "blocks": many})).is_some());
    assert_eq!(
        slack_message_error(&json!({"text": ""})).as_deref(),
        Some("no_text")
    );
}

#[test]
fn a_slack_reader_sees_entities_as_characters_and_bare_angle_brackets_as_links() {
    assert_eq!(slack_shows("a &amp; b &lt;c&gt;"), "a & b <c>");
    assert_eq!(slack_shows("a &amp;amp; b"), "a &amp; b");
    assert_eq!(slack_shows("usage /x <target>"), "usage /x target");
    assert_eq!(
        slack_shows("<@U1> <#C1> <!subteam^S1> <!date^1^{date}|Dec 1> <https://x.y|docs>"),
        "@U1 #C1 @S1 Dec 1 docs"
    );
}

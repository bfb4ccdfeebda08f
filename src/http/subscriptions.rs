//! E-mail subscriptions of the status page (`app::subscribers` holds the
//! use-cases): `POST /subscriptions` (form fields `email` and `topics`,
//! repeated or comma-separated) asks for a confirmation mail; its link
//! `GET /subscriptions/confirm?token=…` shows a Confirm button whose POST
//! confirms (a mail scanner fetching the link confirms nothing); every
//! subscriber's mail carries `/subscriptions/unsubscribe?token=…`, which
//! shows a button, and takes RFC 8058's one-click `POST` (body
//! `List-Unsubscribe=One-Click`). All 404 while `[mail]` is off.
//!
//! The form is rate-limited (per address and overall) and refuses a
//! malformed address or topic with 400 naming it; its answer is the same
//! whether the address was new, pending or confirmed.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use crate::app::{App, CommandError, subscribers};
use crate::delivery::escape_html as escape;

/// Confirmation mails one address may ask for per hour.
const PER_ADDRESS_PER_HOUR: u32 = 3;
/// Subscription requests the form takes per minute, from everyone.
const PER_MINUTE: u32 = 30;

/// The subscribe form on `/status` (when `[mail]` is set).
pub const FORM: &str = r#"<h2>Get notices by e-mail</h2>
<form method="post" action="/subscriptions">
<label>E-mail <input type="email" name="email" required maxlength="254"></label>
<label><input type="checkbox" name="topics" value="downtime" checked> downtime</label>
<label><input type="checkbox" name="topics" value="releases" checked> releases and end of support</label>
<button type="submit">Subscribe</button>
</form>
<p>We mail you a link to confirm; nothing else is sent until you do. Every mail has a link to leave.</p>
<h2>Embed the banner</h2>"#;

#[derive(Clone)]
struct Subscriptions {
    app: App,
    per_address: Arc<DefaultKeyedRateLimiter<String>>,
    overall: Arc<DefaultDirectRateLimiter>,
}

pub fn routes(app: App) -> Router {
    let per_hour = NonZeroU32::new(PER_ADDRESS_PER_HOUR).unwrap_or(NonZeroU32::MIN);
    let per_minute = NonZeroU32::new(PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    let state = Subscriptions {
        app,
        per_address: Arc::new(RateLimiter::keyed(Quota::per_hour(per_hour))),
        overall: Arc::new(RateLimiter::direct(Quota::per_minute(per_minute))),
    };
    Router::new()
        .route("/subscriptions", post(subscribe))
        .route("/subscriptions/confirm", get(confirm_page).post(confirm))
        .route(
            "/subscriptions/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .with_state(state)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }}</style>\
         </head><body><h1>{t}</h1>\n{body}\n<p><a href=\"/status\">Service status</a></p></body></html>\n",
        t = escape(title)
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn off() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<p>E-mail notices are not offered here.</p>",
    )
}

fn failed(e: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{e:#}"), "subscription request failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "<p>Nothing was changed: please try again later.</p>",
    )
}

/// A fresh link secret: 32 random bytes, hex.
fn new_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

fn valid_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The form's fields, or why it cannot be read.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    if !is_form(headers) {
        return Err(Box::new(page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not a form",
            "<p>Send the form as application/x-www-form-urlencoded.</p>",
        )));
    }
    serde_urlencoded::from_bytes(body).map_err(|e| {
        Box::new(page(
            StatusCode::BAD_REQUEST,
            "Not a form",
            &format!(
                "<p>The form could not be read: {}</p>",
                escape(&e.to_string())
            ),
        ))
    })
}

async fn subscribe(State(s): State<Subscriptions>, headers: HeaderMap, body: Bytes) -> Response {
    if s.app.config.mail.is_none() {
        return off();
    }
    let fields = match fields(&headers, &body) {
        Ok(f) => f,
        Err(response) => return *response,
    };
    if let Some((unknown, _)) = fields.iter().find(|(k, _)| k != "email" && k != "topics") {
        return page(
            StatusCode::BAD_REQUEST,
            "Not subscribed",
            &format!(
                "<p>{}: unknown field: the form has email and topics.</p>",
                escape(unknown)
            ),
        );
    }
    let email = fields
        .iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let topics: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "topics")
        .map(|(_, v)| v.as_str())
        .collect();
    if s.overall.check().is_err() || s.per_address.check_key(&email).is_err() {
        metrics::counter!("shipmate_subscriptions_rate_limited_total").increment(1);
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "<p>Too many subscription requests: try again in an hour.</p>",
        );
    }
    let Some(token) = new_token() else {
        return failed(&anyhow::anyhow!("no random bytes for a token"));
    };
    match subscribers::subscribe(&s.app, &email, &topics, token).await {
        Ok(()) => page(
            StatusCode::OK,
            "Check your mailbox",
            &format!(
                "<p>If {} is not subscribed yet, a mail with a link to confirm is on its way. Nothing else is sent until you confirm.</p>",
                escape(&email)
            ),
        ),
        Err(CommandError::User(e)) => page(
            StatusCode::BAD_REQUEST,
            "Not subscribed",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
        Err(CommandError::Internal(e)) => failed(&e),
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The token of the query, else of the form.
fn token_of(query: &TokenQuery, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let token = query.token.clone().or_else(|| {
        if !is_form(headers) {
            return None;
        }
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    })?;
    valid_token(&token).then_some(token)
}

fn unknown_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Unknown link",
        "<p>This link is not, or no longer, a subscription's.</p>",
    )
}

/// A page with one button that POSTs the token back.
fn button_page(title: &str, text: &str, action: &str, token: &str, label: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        &format!(
            "<p>{text}</p>\n<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
            escape(token)
        ),
    )
}

/// The page a link opens: what pressing its one button does, never done
/// by opening it (mail scanners open links).
async fn link_page(s: &Subscriptions, q: TokenQuery, confirming: bool) -> Response {
    if s.app.config.mail.is_none() {
        return off();
    }
    let Some(token) = q.token.filter(|t| valid_token(t)) else {
        return unknown_link();
    };
    let sub = match subscribers::by_token(&s.app, &token).await {
        Ok(sub) => sub,
        Err(e) => return failed(&e),
    };
    match (sub, confirming) {
        (Some(sub), true) => button_page(
            "Confirm your subscription",
            &format!("Send shipmate's notices to {}?", escape(&sub.email)),
            "/subscriptions/confirm",
            &token,
            "Confirm",
        ),
        (Some(sub), false) => button_page(
            "Unsubscribe",
            &format!("Stop sending shipmate's notices to {}?", escape(&sub.email)),
            "/subscriptions/unsubscribe",
            &token,
            "Unsubscribe",
        ),
        (None, true) => unknown_link(),
        (None, false) => left(),
    }
}

fn left() -> Response {
    page(
        StatusCode::OK,
        "Unsubscribed",
        "<p>This address receives no notices.</p>",
    )
}

async fn confirm_page(State(s): State<Subscriptions>, Query(q): Query<TokenQuery>) -> Response {
    link_page(&s, q, true).await
}

async fn unsubscribe_page(State(s): State<Subscriptions>, Query(q): Query<TokenQuery>) -> Response {
    link_page(&s, q, false).await
}

async fn confirm(
    State(s): State<Subscriptions>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    press(&s, &q, &headers, &body, true).await
}

/// The page's button, or RFC 8058's one-click POST (token in the URL, body
/// `List-Unsubscribe=One-Click`): either way the address leaves at once.
async fn unsubscribe(
    State(s): State<Subscriptions>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    press(&s, &q, &headers, &body, false).await
}

/// A button pressed (or a one-click POST): confirms, or unsubscribes.
async fn press(
    s: &Subscriptions,
    q: &TokenQuery,
    headers: &HeaderMap,
    body: &[u8],
    confirming: bool,
) -> Response {
    if s.app.config.mail.is_none() {
        return off();
    }
    let Some(token) = token_of(q, headers, body) else {
        return unknown_link();
    };
    let done = if confirming {
        subscribers::confirm(&s.app, &token).await
    } else {
        subscribers::unsubscribe(&s.app, &token).await
    };
    match (done, confirming) {
        (Ok(Some(email)), true) => page(
            StatusCode::OK,
            "Subscribed",
            &format!(
                "<p>{} will receive the notices it asked for. Every mail has a link to leave.</p>",
                escape(&email)
            ),
        ),
        (Ok(Some(email)), false) => page(
            StatusCode::OK,
            "Unsubscribed",
            &format!("<p>{} receives no more notices.</p>", escape(&email)),
        ),
        (Ok(None), true) => unknown_link(),
        // left already: one-click senders may POST again
        (Ok(None), false) => left(),
        (Err(CommandError::User(e)), _) => page(
            StatusCode::BAD_REQUEST,
            "Nothing changed",
            &escape(&e.to_string()),
        ),
        (Err(CommandError::Internal(e)), _) => failed(&e),
    }
}

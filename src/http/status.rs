//! The public status feed (no auth): `GET /status.json` for a website banner
//! to poll, `GET /status` (a small self-contained page with the banner
//! snippet to embed) and `GET /calendar.ics` (RFC 5545, for subscriptions).
//! All three may be fetched from any origin and cached briefly.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::HttpState;
use crate::app::freeze::FreezeRules;
use crate::app::status::{
    FeedWindow, StatusFeed, calendar_windows, internal_calendar_windows, status_feed,
};
use crate::app::{calendar, message::local};

/// How long browsers and proxies may cache the feed.
const FEED_CACHE: &str = "public, max-age=30";
/// How long calendar clients may cache the calendar.
const CALENDAR_CACHE: &str = "public, max-age=300";

pub(super) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/status.json", get(status_json))
        .route("/status", get(status_page))
        .route("/calendar.ics", get(calendar_ics))
        .route("/internal/calendar.ics", get(internal_calendar_ics))
}

fn public(content_type: &'static str, cache: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}

fn unavailable(e: anyhow::Error) -> Response {
    tracing::error!(error = format!("{e:#}"), "status feed failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, "no-store")],
        "status unavailable\n",
    )
        .into_response()
}

async fn status_json(State(s): State<HttpState>) -> Response {
    match status_feed(&s.app).await {
        Ok(feed) => match serde_json::to_string_pretty(&feed) {
            Ok(body) => public("application/json", FEED_CACHE, body),
            Err(e) => unavailable(e.into()),
        },
        Err(e) => unavailable(e),
    }
}

async fn calendar_ics(State(s): State<HttpState>) -> Response {
    match calendar_windows(&s.app).await {
        Ok(windows) => public(
            "text/calendar; charset=utf-8",
            CALENDAR_CACHE,
            calendar::ics(&windows),
        ),
        Err(e) => unavailable(e),
    }
}

/// The key of the internal feed, from `?token=`.
#[derive(serde::Deserialize)]
struct FeedKey {
    token: Option<String>,
}

/// The team's freeze and backport windows, for a calendar subscription
/// URL that carries `freeze.calendar_token`.
async fn internal_calendar_ics(
    State(s): State<HttpState>,
    axum::extract::Query(key): axum::extract::Query<FeedKey>,
) -> Response {
    let configured = &s.app.config.section::<FreezeRules>().calendar_token;
    if configured.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            "the internal calendar is off: set freeze.calendar_token to serve it\n",
        )
            .into_response();
    }
    if !crate::ci::auth::token_ok(configured, key.token.as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CACHE_CONTROL, "no-store")],
            "give the internal calendar's key: /internal/calendar.ics?token=<freeze.calendar_token>\n",
        )
            .into_response();
    }
    match internal_calendar_windows(&s.app).await {
        Ok(windows) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/calendar; charset=utf-8"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=300"),
                ),
            ],
            calendar::named_ics(calendar::INTERNAL_NAME, &windows),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

async fn status_page(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    match status_feed(&s.app).await {
        Ok(feed) => {
            let feed_url = feed_url(&headers);
            let mut body = page(&feed, &snippet(&feed_url), s.app.config.tz);
            if s.app.config.mail.is_some() {
                body = body.replace("<h2>Embed the banner</h2>", super::subscriptions::FORM);
            }
            public("text/html; charset=utf-8", FEED_CACHE, body)
        }
        Err(e) => unavailable(e),
    }
}

/// The absolute feed URL as the client reached us, or a relative one when
/// the `Host` header is odd (it is never echoed unchecked).
fn feed_url(headers: &HeaderMap) -> String {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.len() <= 255
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    let scheme = match value("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    match value("x-forwarded-host").or(value("host")) {
        Some(host) if host_ok(host) => format!("{scheme}://{host}/status.json"),
        _ => "/status.json".into(),
    }
}

/// Escapes text for HTML element content and attribute values.
pub use crate::delivery::escape_html as escape;

/// The banner a website embeds: polls the feed and shows the current or
/// next window. It writes only `textContent`, so feed text cannot inject markup.
pub fn snippet(feed_url: &str) -> String {
    SNIPPET.replace("{FEED}", feed_url)
}

const SNIPPET: &str = r##"<div id="shipmate-downtime" role="status" hidden></div>
<script>
(function () {
  var feed = "{FEED}";
  var box = document.getElementById("shipmate-downtime");
  function when(t) { return new Date(t).toLocaleString(); }
  function show() {
    fetch(feed, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        var now = s.active.length > 0, w = s.active[0] || s.upcoming[0];
        if (!w) { box.hidden = true; return; }
        box.textContent = (now ? "Maintenance in progress on " : "Planned maintenance on ") +
          w.environment + ": " + when(w.starts_at) + " \u2013 " + when(w.ends_at) + ". " + w.reason;
        box.style.cssText = "padding:.6em 1em;font:15px/1.4 system-ui,sans-serif;color:#1b1b1b;background:" +
          (now ? "#ffd7d5" : "#fff3c4");
        box.hidden = false;
      })
      .catch(function () {});
  }
  show();
  setInterval(show, 60000);
})();
</script>"##;

fn rows(windows: &[FeedWindow], tz: chrono_tz::Tz) -> String {
    if windows.is_empty() {
        return "<p class=\"none\">None.</p>".into();
    }
    let mut out = String::from("<ul>");
    for w in windows {
        let state = if w.overrunning {
            "in progress, overrunning".to_string()
        } else {
            w.state.to_string()
        };
        out.push_str(&format!(
            "<li><b>{}</b> <code>{}</code> {} → {} <i>({})</i><br>{}{}</li>",
            escape(&w.id),
            escape(&w.environment),
            escape(&local(w.starts_at, tz)),
            escape(&local(w.ends_at, tz)),
            escape(&state),
            escape(&w.reason),
            w.audience
                .as_ref()
                .map(|a| format!(" · affects {}", escape(a)))
                .unwrap_or_default()
        ));
    }
    out.push_str("</ul>");
    out
}

fn page(feed: &StatusFeed, snippet: &str, tz: chrono_tz::Tz) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service status</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #1b1b1b; }}
code, pre {{ background: #f3f3f3; }} pre {{ padding: 1em; overflow-x: auto; font-size: 13px; }}
.none {{ color: #666; }}
</style>
</head>
<body>
{snippet}
<h1>Service status</h1>
<h2>Now</h2>
{active}
<h2>Upcoming</h2>
{upcoming}
<p>Times in {tz}. Machine-readable: <a href="/status.json">status.json</a> ·
subscribe: <a href="/calendar.ics">calendar.ics</a></p>
<h2>Embed the banner</h2>
<p>Paste this into any page; it polls the feed every minute and shows the current or next window.</p>
<pre><code>{escaped}</code></pre>
</body>
</html>
"#,
        snippet = snippet,
        active = rows(&feed.active, tz),
        upcoming = rows(&feed.upcoming, tz),
        tz = escape(&tz.to_string()),
        escaped = escape(snippet),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    #[test]
    fn the_feed_url_follows_a_sane_host_and_never_echoes_a_hostile_one() {
        let mut h = HeaderMap::new();
        h.insert("host", "status.example.org:8080".parse().unwrap());
        assert_eq!(feed_url(&h), "http://status.example.org:8080/status.json");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(feed_url(&h), "https://status.example.org:8080/status.json");
        h.insert("host", "evil\";alert(1)//".parse().unwrap());
        assert_eq!(feed_url(&h), "/status.json");
    }

    #[test]
    fn the_readme_shows_the_snippet_that_is_served() {
        let readme = include_str!("../../README.md");
        assert!(readme.contains(&snippet("https://shipmate.example.org/status.json")));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<b a=\"1\">&'"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
        assert!(snippet("/status.json").contains("var feed = \"/status.json\";"));
    }
}

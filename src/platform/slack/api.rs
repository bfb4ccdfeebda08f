//! The Slack Web API calls made while answering a user: `views.open` (forms)
//! and posts to an interaction's `response_url`. Channel messages go through
//! the outbox, not here.

use std::time::Duration;

use serde_json::Value;

/// How long a call may take: Slack expects answers within 3 s.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `POST {api_base}views.open` with the bot token.
pub async fn open_view(
    client: &reqwest::Client,
    api_base: &str,
    bot_token: &str,
    trigger_id: &str,
    view: &Value,
) -> Result<(), String> {
    let url = format!("{}/views.open", api_base.trim_end_matches('/'));
    let response = client
        .post(&url)
        .bearer_auth(bot_token)
        .timeout(CALL_TIMEOUT)
        .json(&serde_json::json!({"trigger_id": trigger_id, "view": view}))
        .send()
        .await
        .map_err(|e| format!("views.open failed: {}", e.without_url()))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| {
        format!(
            "views.open answered {status} with no JSON: {}",
            e.without_url()
        )
    })?;
    if body["ok"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(format!(
            "views.open answered {status}: {}",
            body["error"].as_str().unwrap_or("unknown error")
        ))
    }
}

/// Posts a message to an interaction's `response_url`.
pub async fn respond(
    client: &reqwest::Client,
    response_url: &str,
    body: &Value,
) -> Result<(), String> {
    let response = client
        .post(response_url)
        .timeout(CALL_TIMEOUT)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("response_url post failed: {}", e.without_url()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("response_url answered {}", response.status()))
    }
}

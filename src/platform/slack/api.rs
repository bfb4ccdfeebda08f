//! The Slack Web API calls made while answering a user: `views.open` (forms),
//! `usergroups.list` (which user groups the invoker is in, for roles held by
//! `slack-group:S…`), and posts to an interaction's `response_url`. Channel
//! messages go through the outbox, not here.

use std::collections::HashMap;
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

/// `GET {api_base}usergroups.list?include_users=true`: user id → the ids of
/// the user groups they are in.
pub async fn user_groups(
    client: &reqwest::Client,
    api_base: &str,
    bot_token: &str,
) -> Result<HashMap<String, Vec<String>>, String> {
    let url = format!("{}/usergroups.list", api_base.trim_end_matches('/'));
    let response = client
        .get(&url)
        .bearer_auth(bot_token)
        .query(&[("include_users", "true")])
        .timeout(GROUPS_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("usergroups.list failed: {}", e.without_url()))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| {
        format!(
            "usergroups.list answered {status} with no JSON: {}",
            e.without_url()
        )
    })?;
    if body["ok"].as_bool() != Some(true) {
        return Err(format!(
            "usergroups.list answered {status}: {}",
            body["error"].as_str().unwrap_or("unknown error")
        ));
    }
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for group in body["usergroups"].as_array().into_iter().flatten() {
        let Some(id) = group["id"].as_str() else {
            continue;
        };
        for user in group["users"].as_array().into_iter().flatten() {
            if let Some(user) = user.as_str() {
                groups
                    .entry(user.to_string())
                    .or_default()
                    .push(id.to_string());
            }
        }
    }
    Ok(groups)
}

/// `usergroups.list` runs before a command inside Slack's 3 s (once a
/// minute at most): keep it short.
const GROUPS_TIMEOUT: Duration = Duration::from_millis(400);

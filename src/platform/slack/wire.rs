//! Incoming Slack payloads, as far as shipmate reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A slash command (`application/x-www-form-urlencoded` fields).
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommand {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    #[serde(default)]
    pub response_url: Option<String>,
    #[serde(default)]
    pub trigger_id: Option<String>,
}

/// The form of an interaction request: one field holding JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionForm {
    pub payload: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Id {
    pub id: String,
}

/// An interaction payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interaction {
    BlockActions(BlockActions),
    ViewSubmission(ViewSubmission),
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub channel_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    #[serde(default)]
    pub value: Option<String>,
}

/// A button click.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockActions {
    pub user: Id,
    #[serde(default)]
    pub channel: Option<Id>,
    #[serde(default)]
    pub container: Option<Container>,
    #[serde(default)]
    pub trigger_id: Option<String>,
    #[serde(default)]
    pub response_url: Option<String>,
    pub actions: Vec<Action>,
}

impl BlockActions {
    /// The channel the clicked message is in.
    pub fn channel_id(&self) -> Option<&str> {
        self.channel
            .as_ref()
            .map(|c| c.id.as_str())
            .or_else(|| self.container.as_ref()?.channel_id.as_deref())
    }
}

/// A submitted form.
#[derive(Debug, Clone, Deserialize)]
pub struct ViewSubmission {
    pub user: Id,
    pub view: View,
}

#[derive(Debug, Clone, Deserialize)]
pub struct View {
    #[serde(default)]
    pub callback_id: Option<String>,
    #[serde(default)]
    pub private_metadata: Option<String>,
    pub state: ViewState,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ViewState {
    /// block id → action id → input state.
    pub values: BTreeMap<String, BTreeMap<String, InputState>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SelectedOption {
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputState {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub selected_option: Option<SelectedOption>,
    /// A `users_select`: the chosen user's id.
    #[serde(default)]
    pub selected_user: Option<String>,
    /// A `multi_users_select`: the chosen users' ids.
    #[serde(default)]
    pub selected_users: Option<Vec<String>>,
}

impl InputState {
    /// The value as command text; users as `slack:U…` addresses, comma-separated.
    pub fn text(&self) -> Option<String> {
        if let Some(users) = &self.selected_users {
            let list: Vec<String> = users.iter().map(|u| format!("slack:{u}")).collect();
            return (!list.is_empty()).then(|| list.join(","));
        }
        if let Some(user) = &self.selected_user {
            return Some(format!("slack:{user}"));
        }
        self.value
            .clone()
            .or_else(|| self.selected_option.as_ref().map(|o| o.value.clone()))
    }
}

/// What a form carries through Slack in `private_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormMeta {
    /// The command text so far, e.g. `/delete-request object DR-1`.
    pub base: String,
    /// Where the command runs.
    pub channel: String,
    /// Where to tell the user how it went.
    #[serde(default)]
    pub response_url: Option<String>,
}

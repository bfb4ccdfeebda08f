//! Incoming Discord interactions, as far as shipmate reads them.

use serde::Deserialize;

/// Interaction types.
pub const PING: u8 = 1;
pub const APPLICATION_COMMAND: u8 = 2;
pub const MESSAGE_COMPONENT: u8 = 3;
pub const AUTOCOMPLETE: u8 = 4;
pub const MODAL_SUBMIT: u8 = 5;

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user: User,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    pub id: String,
}

/// One option of an application command (a subcommand holds more).
#[derive(Debug, Clone, Deserialize)]
pub struct CommandOption {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

/// A component of a submitted modal (rows hold inputs).
#[derive(Debug, Clone, Deserialize)]
pub struct Component {
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub components: Vec<Component>,
}

/// `data` of any interaction: commands use name/options, buttons and modals custom_id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CommandData {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub components: Vec<Component>,
}

/// An interaction request.
#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub application_id: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub data: Option<CommandData>,
    #[serde(default)]
    pub member: Option<Member>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub channel: Option<Channel>,
}

impl Interaction {
    /// Who acted: the guild member's user, or the user in a DM.
    pub fn user_id(&self) -> Option<&str> {
        self.member
            .as_ref()
            .map(|m| m.user.id.as_str())
            .or_else(|| self.user.as_ref().map(|u| u.id.as_str()))
    }

    /// The guild role ids of the member (none in a DM).
    pub fn roles(&self) -> Vec<String> {
        self.member
            .as_ref()
            .map(|m| m.roles.clone())
            .unwrap_or_default()
    }

    pub fn channel_id(&self) -> Option<&str> {
        self.channel_id
            .as_deref()
            .or_else(|| self.channel.as_ref().map(|c| c.id.as_str()))
    }
}

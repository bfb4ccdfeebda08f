//! Slack: the wire shapes of slash commands, interactions and events, the
//! inbound core shared by HTTP and Socket Mode ([`inbound`]), the Socket
//! Mode listener ([`socket`]), how a [`Reply`](crate::app::Reply) and a form
//! look in Block Kit, the few Web API calls the inbound side makes
//! (`views.open`, `response_url`), Slack's text escaping both ways
//! ([`text`]), and the app manifest generated from the grammar. Nothing outside `platform` and
//! `http` sees these types.

pub mod api;
pub mod inbound;
pub mod manifest;
pub mod render;
pub mod socket;
pub mod text;
pub mod wire;

/// The `callback_id` of every form shipmate opens.
pub const FORM_CALLBACK: &str = "shipmate.form";
/// The `action_id` of every input in a form (the block id names the field).
pub const FORM_INPUT: &str = "value";

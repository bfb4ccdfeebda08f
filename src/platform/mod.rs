//! Platform adapters: they turn Slack, Discord or console input into an
//! [`Invocation`](crate::app::Invocation) and render the reply.

pub mod answer;
pub mod command_text;
pub mod console;
pub mod discord;
pub mod signature;
pub mod slack;

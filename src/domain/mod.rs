//! The domain: plain Rust rules with no Slack, Discord, HTTP or SQL types.
//!
//! Each feature owns one module with its state machine in one place; every
//! rule takes `now` explicitly so it can be tested without a clock or I/O.

pub mod address;
pub mod approval;
pub mod calendar;
pub mod choice;
pub mod deletion;
pub mod deploy;
pub mod downtime;
pub mod error;
pub mod freeze;
pub mod incident;
pub mod pipeline;
pub mod pipeline_route;
pub mod record;
pub mod release;
pub mod release_window;
pub mod role;
pub mod runbook;
pub mod sms;
pub mod subscription;
pub mod timing;
pub mod version;

pub use address::{ChannelRef, MemberRef, Platform, UserRef, valid_email};
pub use error::DomainError;
pub use record::{RecordId, RecordKind};
pub use role::{Actor, Role, RoleSet};

//! shipmate: a self-hosted chat-ops bot for release operations.
//!
//! # Layout
//! - [`domain`]: plain rules (deletion requests, roles, addresses, time); no I/O.
//! - [`grammar`]: the one command grammar and its table of commands.
//! - [`settings`]: layered configuration and `check-config`'s validation.
//! - [`store`]: SQLite persistence, the only place with SQL; embedded migrations.
//! - [`app`]: use-cases: `dispatch(Invocation) -> Reply`, job handlers, the reply model.
//! - [`scheduler`]: durable jobs (one table), fired exactly once.
//! - [`delivery`]: the outbox worker and the per-platform `Transport` trait.
//! - [`platform`]: adapters from platforms (console today) to invocations.
//! - [`ci`]: CI/CD provider payloads (GitHub, GitLab, AWS, generic) → pipeline events; webhook auth.
//! - [`http`]: the axum router (health, metrics, webhooks).
//! - [`startup`]: builds and runs the whole application.
//! - [`telemetry`]: logging and metrics.

pub mod app;
pub mod ci;
pub mod delivery;
pub mod domain;
pub mod grammar;
pub mod http;
pub mod platform;
pub mod scheduler;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;

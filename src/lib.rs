//! shipmate: a self-hosted chat-ops bot for release operations.
//!
//! # Layout
//! - [`domain`]: plain rules (deletion requests, releases and runbooks, freeze windows, downtime, SMS credits, roles, addresses, time); no I/O.
//! - [`grammar`]: the one command grammar and its table of commands.
//! - [`settings`]: layered configuration and `check-config`'s validation.
//! - [`store`]: SQLite persistence, the only place with SQL; embedded migrations.
//! - [`app`]: use-cases: `dispatch(Invocation) -> Reply`, job handlers, the reply model.
//! - [`scheduler`]: durable jobs (one table), fired exactly once.
//! - [`delivery`]: the outbox worker and the per-platform `Transport` trait.
//! - [`platform`]: adapters from platforms (console, Slack, Discord) to invocations:
//!   one inbound core per platform shared by the HTTP endpoints, Slack Socket
//!   Mode and the Discord gateway; request signatures; Slack manifest and
//!   Discord command registration.
//! - [`ci`]: CI/CD provider payloads (GitHub, GitLab, AWS, generic) → pipeline events; webhook auth.
//! - [`http`]: the axum router (health, metrics, Slack and Discord endpoints, CI/CD webhooks, the public status feed and calendar).
//! - [`startup`]: builds and runs the whole application.
//! - [`shutdown`]: the stop signal every long-running part watches (SIGTERM, SIGINT).
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
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;

/// mimalloc instead of the system allocator: a webhook delivery allocates
/// and frees buffers of a few KB (its body, its parsed event, its rows), and
/// glibc's allocator spent a fifth of the server thread's time on them
/// (`malloc_consolidate`); `benches/webhooks.rs` measured 16% more
/// deliveries a second at concurrency 16 with mimalloc. Built without
/// transparent huge pages (`no_thp`): with them an idle `shipmate serve`
/// held 10 MB more (2 MB pages for a few KB of heap).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

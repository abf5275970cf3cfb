//! wiredesk: a streaming news-enrichment worker.
//!
//! # Layout
//! - [`article`]: input ([`article::Article`]) and output ([`article::Enriched`]) types, parsing and
//!   text normalization.
//! - [`stage`]: the [`stage::Stage`] trait, the [`stage::Pipeline`] and the stages (entities, tags).
//! - [`dedupe`]: wire-story fingerprints and the stores (memory, Redis) that remember them.
//! - [`kafka`]: consumer loop, producer, dead-letter records: the only Kafka code.
//! - [`outcome`]: the one decision per article (publish, route, drop, dead-letter), shared by both modes.
//! - [`app`]: wiring for `wiredesk run`; [`enrich`]: the same pipeline over files.
//! - [`settings`], [`metrics`], [`health`], [`http`], [`telemetry`], [`shutdown`], [`events`],
//!   [`error`], [`schema`], [`probe`].
#![deny(clippy::unwrap_used)]

pub mod app;
pub mod article;
pub mod dedupe;
pub mod enrich;
pub mod error;
pub mod events;
pub mod harness;
pub mod health;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod outcome;
pub mod probe;
pub mod schema;
pub mod settings;
pub mod shutdown;
pub mod stage;
pub mod telemetry;

/// Git revision the binary was built from (see build.rs).
pub const GIT_REVISION: &str = env!("WIREDESK_GIT_REVISION");

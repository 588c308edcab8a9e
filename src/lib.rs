//! mailscore: the Mail Score System.
//!
//! Every morning it reads the day's job feed, scores every job, picks the 40 best jobs for
//! each job seeker and sends them a personalised newsletter. See `docs/ARCHITECTURE.md`.

pub mod api;
pub mod bounces;
pub mod cache;
pub mod cli;
pub mod client;
pub mod columnar;
pub mod config;
pub mod credentials;
pub mod delivery;
pub(crate) mod der;
pub mod domain;
pub mod generate;
pub mod ingest;
pub mod masters;
pub mod matching;
pub mod pipeline;
pub mod render;
pub mod schedule;
pub mod scoring;
pub mod service;
pub mod store;
pub mod subject_llm;
pub mod telemetry;
pub mod templates;
pub mod threads;
pub mod tokens;

//! Integration tests: the importers against the real store, and the binary as a user runs it.

mod api;
mod auth;
mod bad_mornings;
mod batch;
mod bounces;
mod cli;
mod cli_server;
mod crash;
mod delivery;
mod dkim;
mod helpers;
mod import;
mod llm;
mod logs;
mod matching;
mod metrics;
mod pure_core;
mod render;
mod resources;
mod runs_api;
mod service;
mod stale_masters;
mod store_contract;
mod tls;
mod tracking;

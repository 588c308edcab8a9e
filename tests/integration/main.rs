//! Integration tests: the importers against the real store, and the binary as a user runs it.

mod api;
mod bad_mornings;
mod batch;
mod cli;
mod crash;
mod helpers;
mod import;
mod llm;
mod matching;
mod pure_core;
mod render;
mod runs_api;
mod service;
mod stale_masters;
mod store_contract;
mod tracking;

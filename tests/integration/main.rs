//! Integration tests: the importers against the real store, and the binary as a user runs it.

mod batch;
mod cli;
mod crash;
mod helpers;
mod import;
mod llm;
mod matching;
mod render;

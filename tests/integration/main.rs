//! Integration tests: the importers against the real store, and the binary as a user runs it.

mod crash;
mod helpers;
mod import;

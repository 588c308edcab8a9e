//! mailscore: the Mail Score System.
//!
//! Every morning it reads the day's job feed, scores every job, picks the 40 best jobs for
//! each job seeker and sends them a personalised newsletter. See `docs/ARCHITECTURE.md`.

pub mod cli;
pub mod columnar;
pub mod config;
pub mod domain;
pub mod generate;
pub mod ingest;
pub mod masters;
pub mod matching;
pub mod pipeline;
pub mod render;
pub mod schedule;
pub mod scoring;
pub mod store;
pub mod telemetry;
pub mod tokens;

/// mimalloc instead of the C library's allocator: the batch, the importers and the renderer
/// allocate many small strings from several threads, where glibc's (and musl's, for the
/// static build) allocator spends a large share of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

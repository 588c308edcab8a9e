//! Logs: human-readable or JSON lines on stderr, filtered by level (`RUST_LOG` overrides).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Starts logging. Call once, at start-up.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}

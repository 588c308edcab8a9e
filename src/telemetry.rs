//! Logs: human-readable or JSON lines on stderr, filtered by level (`RUST_LOG` overrides).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Starts logging. Call once, at start-up.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A log line that cannot be written (stderr is a pipe whose reader went away) is lost
    // quietly: by default the subscriber would report that on stderr with `eprintln!`, which
    // panics on the same closed pipe and so ends the run midway.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Human => builder
            .with_target(false)
            .with_ansi(wants_colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}

/// Whether human log lines are coloured: only on a terminal (a file or a log collector gets
/// the escape codes as text), and never when `NO_COLOR` is set to anything but the empty
/// string (<https://no-color.org>).
fn wants_colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(wants_colour(true, None));
        assert!(wants_colour(true, empty));
        assert!(!wants_colour(true, set));
        assert!(!wants_colour(false, None));
        assert!(!wants_colour(false, set));
    }
}

//! Logs: human-readable or JSON lines on the console (standard error for the commands, so
//! that their standard output stays theirs; standard output for `serve`, where a
//! container's log collector reads), filtered by level (`RUST_LOG` overrides); for the
//! server also daily rotated JSON files ([`Logging::write_files`]); and, for every
//! process, the ring of its recent warnings and errors that the log viewer reads
//! (`ring.rs`).
//!
//! The subscriber is process-wide and installed once ([`init`]); what it installed is the
//! [`Logging`] handle, which `main` keeps until the command has ended.

pub mod ring;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use thiserror::Error;
use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, EitherWriter};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

pub use ring::{LogEntry, LogLevel, LogRing, RING_CAPACITY};

use crate::config::LogFormat;

/// The log files' names: `mailscore.YYYY-MM-DD.log`, one per UTC day.
pub const LOG_FILE_PREFIX: &str = "mailscore";
pub const LOG_FILE_SUFFIX: &str = "log";

/// Where the console lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// `serve`: a container's log collector reads standard output.
    Stdout,
    /// Every other command: its standard output is its result (an export, a table).
    Stderr,
}

/// The hint of every error of the log files.
const FILES_HINT: &str = "hint: make the directory writable, choose another with log.dir \
     (MAILSCORE_LOG_DIR, serve --log-dir), or turn the files off with log.files = false \
     (MAILSCORE_LOG_FILES=false)";

#[derive(Debug, Error)]
pub enum TelemetryError {
    #[error("cannot create the log directory {}: {source}\n{FILES_HINT}", dir.display())]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the log files in {}: {source}\n{FILES_HINT}", dir.display())]
    Files {
        dir: PathBuf,
        source: tracing_appender::rolling::InitError,
    },
}

/// What [`init`] installed: the ring of recent warnings and errors, and the switch of the
/// file log, which is off until [`Logging::write_files`].
pub struct Logging {
    ring: Arc<LogRing>,
    files: FileSwitch,
}

/// Starts logging: console lines in `format` on `console`, the file log (off until
/// [`Logging::write_files`]) and the ring of recent warnings and errors. Call once, at
/// start-up; a later call (a test process that already has a subscriber) installs nothing
/// and its ring stays empty.
pub fn init(format: LogFormat, level: &str, console: Console) -> Logging {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ring = Arc::new(LogRing::new(RING_CAPACITY));
    let files = FileSwitch::default();
    // A log line that cannot be written (the console is a pipe whose reader went away) is
    // lost quietly: by default the subscriber would report that on stderr with
    // `eprintln!`, which panics on the same closed pipe and so ends the run midway.
    let file_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(files.clone())
        .log_internal_errors(false)
        .with_filter(files.clone());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(console_layer(format, console))
        .with(file_layer)
        .with(ring::RingLayer::new(Arc::clone(&ring)))
        .try_init();
    Logging { ring, files }
}

fn console_layer<S>(format: LogFormat, console: Console) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let (writer, is_terminal) = match console {
        Console::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
        Console::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .log_internal_errors(false);
    match format {
        LogFormat::Human => layer
            .with_target(false)
            .with_ansi(wants_colour(
                is_terminal,
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .boxed(),
        LogFormat::Json => layer.json().with_current_span(false).boxed(),
    }
}

impl Logging {
    /// The process's recent warnings and errors.
    pub fn ring(&self) -> Arc<LogRing> {
        Arc::clone(&self.ring)
    }

    /// From now on also writes every log line as JSON to `dir/mailscore.YYYY-MM-DD.log`
    /// (the directory is created when missing), a new file each UTC day, keeping the
    /// newest `retention_days` files (older ones are deleted as a new one starts, and now).
    /// The lines are written by a thread of their own, so a slow disk never holds up a
    /// request; they stop, flushed, when the returned [`FileLog`] is dropped.
    pub fn write_files(&self, dir: &Path, retention_days: u32) -> Result<FileLog, TelemetryError> {
        // Made here rather than by the appender, which looks for old files to delete
        // before it creates the directory.
        std::fs::create_dir_all(dir).map_err(|source| TelemetryError::Directory {
            dir: dir.to_path_buf(),
            source,
        })?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(LOG_FILE_PREFIX)
            .filename_suffix(LOG_FILE_SUFFIX)
            .max_log_files(retention_days.max(1) as usize)
            .build(dir)
            .map_err(|source| TelemetryError::Files {
                dir: dir.to_path_buf(),
                source,
            })?;
        // Lossless: when the disk falls behind by the buffer's 128,000 lines, a request
        // waits rather than a line being dropped from the record.
        let (writer, worker) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("log-files")
            .finish(appender);
        self.files.attach(writer);
        Ok(FileLog {
            files: self.files.clone(),
            _worker: worker,
        })
    }
}

/// The file log while it is written; dropping it stops the file log and waits (up to a
/// second) for the lines not yet written.
#[must_use = "the file log stops when this is dropped"]
pub struct FileLog {
    files: FileSwitch,
    /// Dropped after [`Drop::drop`] has detached the writer: flushes what is queued.
    _worker: WorkerGuard,
}

impl Drop for FileLog {
    fn drop(&mut self) {
        self.files.detach();
    }
}

/// The file log's writer, when it is on. Both the writer of the file layer and its
/// filter: while it is off, no line is even formatted for it.
#[derive(Clone, Default)]
struct FileSwitch {
    on: Arc<AtomicBool>,
    writer: Arc<RwLock<Option<NonBlocking>>>,
}

impl FileSwitch {
    fn attach(&self, writer: NonBlocking) {
        *self.writer.write().unwrap_or_else(PoisonError::into_inner) = Some(writer);
        self.on.store(true, Ordering::SeqCst);
    }

    fn detach(&self) {
        self.on.store(false, Ordering::SeqCst);
        *self.writer.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl<'a> MakeWriter<'a> for FileSwitch {
    type Writer = EitherWriter<NonBlocking, std::io::Sink>;

    fn make_writer(&'a self) -> Self::Writer {
        match &*self.writer.read().unwrap_or_else(PoisonError::into_inner) {
            Some(writer) => EitherWriter::A(writer.clone()),
            None => EitherWriter::B(std::io::sink()),
        }
    }
}

/// Asked on every event (never cached per call site, as the switch changes at run time).
impl<S> Filter<S> for FileSwitch {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn callsite_enabled(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
}

/// An error and its causes as one text, `error: cause: cause`, for a log field
/// (`error = %ErrorChain(&error)`). A cause whose text is already shown (a message that
/// names its `{source}`, as most of ours do) is not repeated.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(": ");
                shown.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
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

    #[derive(Debug, Error)]
    #[error("the import failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, Error)]
    #[error("reading jobs.csv: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_every_cause_once() {
        let error = Outer(Middle(std::io::Error::other("disk full")));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "the import failed: reading jobs.csv: disk full"
        );
        let alone = std::io::Error::other("broken pipe");
        assert_eq!(ErrorChain(&alone).to_string(), "broken pipe");
    }
}

//! The application services: what the command line (and the HTTP API after it) asks of
//! mailscore, one function per use, on a [`Store`](crate::store::Store) and the settings
//! it needs.
//!
//! A service decides and computes; it prints nothing and reads no terminal. Its caller
//! (`cli.rs`, a handler) parses the input, calls one service and shows the typed result.
//! Every failure is a [`ServiceError`] whose message says what, where and what to do.

pub mod accounts;
pub mod actions;
pub mod bounces;
pub mod delivery;
pub mod demo;
pub mod dkim;
pub mod emails;
pub mod explain;
pub mod exports;
pub mod hot_reads;
pub mod imports;
pub mod jobs;
pub mod local_server;
pub mod logs;
pub mod picks;
pub mod run_manager;
pub mod runs;
pub mod stats;
pub mod status;
pub mod suppressions;
pub mod tracking;
pub mod users;

use jiff::civil::Date;
use thiserror::Error;

use crate::config::{ConfigError, Settings};
use crate::domain::{EmailAddress, JobId, UserId};
use crate::ingest::IngestError;
use crate::pipeline::PipelineError;
use crate::render::UnpackError;
use crate::render::message::MessageError;
use crate::schedule::ScheduleError;
use crate::store::StoreError;
use crate::store::redb::RedbStore;

/// How a service fails. The wrapped errors of the layers below keep their own message
/// (and their sources), so the command line says exactly what it said before the services
/// existed.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A value given by the caller does not parse (`what` names the argument).
    #[error("{what} {value:?}: {message}")]
    InvalidValue {
        what: &'static str,
        value: String,
        message: String,
    },
    /// A command that reads the store found none in the data directory.
    #[error(
        "{error}\nhint: check --data-dir / MAILSCORE_DATA_DIR (or data_dir in the \
         configuration file), or create a store with `mailscore import …` or `mailscore demo`"
    )]
    MissingStore { error: StoreError },
    /// The store is open in another process; `holder` says which when the data directory's
    /// `server.json` names one.
    #[error("{error}{holder}\nhint: {hint}")]
    StoreInUse {
        error: StoreError,
        holder: String,
        hint: String,
    },
    /// What was asked for is not stored; the message explains why and what to do.
    #[error("{explanation}")]
    NotFound { explanation: String },
    /// What was asked for conflicts with the stored state (an email already sent, …).
    #[error("{explanation}")]
    Conflict { explanation: String },
    #[error("no input files found in {paths}")]
    NoInputFiles { paths: String },
    #[error("writing {}", path.display())]
    Generate {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the schedule {expression:?} never fires")]
    ScheduleNeverFires { expression: String },
    /// A tracking or unsubscribe link that is refused (tampered, expired, unknown user).
    #[error(transparent)]
    Link(#[from] tracking::LinkError),
    /// A file that could not be imported at all (its header, its encoding, the snapshot
    /// guard): nothing was written. The message never names a path of the data directory.
    #[error("the file was not imported: {message}")]
    ImportRejected { message: String },
    /// A batch (of actions) refused as a whole: nothing was written.
    #[error("the batch was not stored: {message}")]
    BatchRejected { message: String, hint: String },
    /// The server is shutting down and takes no more work.
    #[error("mailscore is shutting down")]
    ShuttingDown,
    /// A run was asked to start while another executes (only one at a time).
    #[error("{}", run_in_progress_message(*.run_id, *.date))]
    RunInProgress { run_id: Option<u64>, date: Date },
    /// A cancel named a run that is not executing.
    #[error(
        "run #{run_id} is not executing (it is {status}); only an executing run can be cancelled"
    )]
    RunNotExecuting { run_id: u64, status: &'static str },
    /// A retry named a run that left nothing to retry.
    #[error(
        "run #{run_id} {status} and no user fell back to the day before's picks: there is nothing to retry"
    )]
    NothingToRetry { run_id: u64, status: &'static str },
    /// A bounce or complaint input refused as a whole: nothing was stored.
    #[error("the bounce input was not stored: {0}")]
    BadBounceInput(#[from] crate::bounces::BounceInputError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The SMTP settings do not make a transport (no server, a bad URL, an unreadable CA).
    #[error(transparent)]
    Smtp(#[from] crate::delivery::SmtpError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Work moved off the async runtime (a computation over the store's data) panicked.
    #[error("a background computation failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ServiceError {
    /// Whether the error is a write to a reader that went away (`| head`): the caller
    /// stopped reading, which is not a fault of the service.
    pub fn is_broken_pipe(&self) -> bool {
        let broken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
        match self {
            Self::Io(error) => broken(error),
            Self::Csv(error) => matches!(error.kind(), csv::ErrorKind::Io(io) if broken(io)),
            Self::Json(error) => error.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe),
            _ => false,
        }
    }
}

fn run_in_progress_message(run_id: Option<u64>, date: Date) -> String {
    match run_id {
        Some(id) => format!("run #{id} for {date} is executing; only one run executes at a time"),
        None => format!("a run for {date} is starting; only one run executes at a time"),
    }
}

/// Parses a batch date (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Result<Date, ServiceError> {
    crate::domain::time::parse_date(text).map_err(|e| invalid("date", text, e))
}

/// Parses a user id.
pub fn parse_user(text: &str) -> Result<UserId, ServiceError> {
    UserId::parse(text).map_err(|e| invalid("user", text, e))
}

/// Parses a job id.
pub fn parse_job_id(text: &str) -> Result<JobId, ServiceError> {
    JobId::parse(text).map_err(|e| invalid("job id", text, e))
}

/// Parses an import's id (the number `imports list` shows).
pub fn parse_import_id(text: &str) -> Result<u64, ServiceError> {
    text.parse::<u64>()
        .map_err(|_| invalid("import id", text, "expected a whole number such as 12"))
}

/// Parses a run's id (the number `batch list` shows).
pub fn parse_run_id(text: &str) -> Result<u64, ServiceError> {
    text.parse::<u64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| invalid("run id", text, "expected a whole number such as 12"))
}

/// Parses a phase of the daily run (`profiles`, `scores`, `picks`, `render`).
pub fn parse_phase(text: &str) -> Result<crate::domain::batch::Phase, ServiceError> {
    crate::domain::batch::Phase::parse(text).map_err(|e| invalid("until", text, e))
}

/// Parses an email address.
pub fn parse_address(text: &str) -> Result<EmailAddress, ServiceError> {
    EmailAddress::parse(text).map_err(|e| invalid("address", text, e))
}

fn invalid(what: &'static str, value: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidValue {
        what,
        value: value.to_owned(),
        message: error.to_string(),
    }
}

/// Opens the data directory's store for a use that reads it or runs on it. A missing
/// store is an error and nothing is created: a mistyped `--data-dir` must not become a new,
/// empty store whose daily run "succeeds" with no email.
pub fn open_store(settings: &Settings) -> Result<RedbStore, ServiceError> {
    RedbStore::open_existing(&settings.data_dir, cache_bytes(settings)).map_err(|error| match error
    {
        StoreError::Missing { .. } => ServiceError::MissingStore { error },
        StoreError::InUse { .. } => in_use(settings, error),
        other => other.into(),
    })
}

/// The store is in use: by the server the data directory's `server.json` names, when its
/// process still runs (the command line found it did not answer, or it started since).
fn in_use(settings: &Settings, error: StoreError) -> ServiceError {
    let file = settings.data_dir.join(local_server::SERVER_FILE);
    let (holder, hint) = match local_server::read_server_file(&settings.data_dir) {
        Some(server) if local_server::process_is_alive(server.pid) != Some(false) => (
            format!(
                ": the server at {} (PID {}, started {}) that {} names",
                server.url,
                server.pid,
                server.started_at,
                file.display()
            ),
            format!(
                "a command next to a live server is sent to it; this one did not answer \
                 {}/health/live: wait for it, or stop it (kill {}) and run the command again",
                server.url, server.pid
            ),
        ),
        Some(server) => (
            format!(
                " ({} names PID {}, which is not running: another process has the store open)",
                file.display(),
                server.pid
            ),
            "let the other mailscore command finish and run this one again".to_owned(),
        ),
        None => (
            String::new(),
            "let the other mailscore command finish, or stop the server on this data \
             directory, and run this one again"
                .to_owned(),
        ),
    };
    ServiceError::StoreInUse {
        error,
        holder,
        hint,
    }
}

/// Opens the data directory's store, creating the directory, the database and the key
/// that signs links when they are missing: for the uses that fill a store (`import`,
/// `demo`).
pub fn create_store(settings: &Settings) -> Result<RedbStore, ServiceError> {
    let store =
        RedbStore::open_with_cache(&settings.data_dir, cache_bytes(settings)).map_err(|error| {
            match error {
                StoreError::InUse { .. } => in_use(settings, error),
                other => other.into(),
            }
        })?;
    settings.create_secret_key_bytes()?;
    Ok(store)
}

fn cache_bytes(settings: &Settings) -> usize {
    settings.storage_cache_mb.saturating_mul(1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_error_says_what_the_layer_below_said() {
        let below = StoreError::Engine {
            action: "reading picks",
            message: "disk full".to_owned(),
        };
        let text = below.to_string();
        assert_eq!(ServiceError::from(below).to_string(), text);
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_the_service_error() {
        let pipe = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(ServiceError::from(pipe()).is_broken_pipe());
        assert!(ServiceError::from(csv::Error::from(pipe())).is_broken_pipe());
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!ServiceError::from(other).is_broken_pipe());
    }

    #[test]
    fn a_bad_value_names_the_argument_and_the_value() {
        let error = parse_date("2025-13-01").unwrap_err().to_string();
        assert!(error.starts_with("date \"2025-13-01\": "), "{error}");
    }
}

//! The command line's side of a server (docs/ARCHITECTURE.md, "The command line next to a
//! server"): where a command's work goes ([`locate`]: the server `--server` names, or the
//! live server whose `server.json` is in the data directory, or this process), and a small
//! blocking HTTP client of the API (ureq) whose typed calls return what the local services
//! return, so that `cli.rs` prints a forwarded command through the same code. The command
//! line knows HTTP only through this module.
//!
//! The calls block: `main` runs the command's future on its own thread (`block_on`), so a
//! call waits there without holding up the runtime's workers.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use serde::Deserialize;
use thiserror::Error;
use ureq::http::{Method, Request};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::domain::batch::{Phase, PhaseRecord, RunRecord, RunStatus, RunTrigger};
use crate::domain::time::Micros;
use crate::domain::{
    EmailAddress, ImportReport, ImportStatus, JobId, JobRecord, RowIssue, Suppression,
    SuppressionReason, UserId,
};
use crate::ingest::{CodeColumn, EncodingChoice, ImportKind, ProgressFactory, UnknownCodeUse};
use crate::service::local_server::{self, ServerFile};
use crate::service::status::{MasterCounts, StatusCounts};
use crate::store::{ImportSummary, JobCounts, StorageStats};

/// The variable that holds the API token a forwarded command sends (never a flag: the
/// process list shows those).
pub const TOKEN_ENV: &str = "MAILSCORE_TOKEN";

/// How long the probe of a data directory's server (`GET /health/live`) may take before
/// the server counts as not answering and the command runs alone.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one ordinary call may take (the server answers within its own 30 s).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long connecting to a server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a run's event stream that broke off while the run goes on is followed
/// again.
const STREAM_RETRIES: usize = 3;

/// How long an upload and its import may take, with a margin over the server's own limit.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(crate::api::UPLOAD_TIMEOUT.as_secs() + 60);

/// How long a run's event stream may be silent (it sends progress every 500 ms) before the
/// command stops following it.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest answer read (an import's report lists at most 10,000 issues).
const MAX_ANSWER_BYTES: u64 = 256 * 1024 * 1024;

/// A server a command's work goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRef {
    pub url: String,
    /// The process, when the data directory's `server.json` named it.
    pub pid: Option<u32>,
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "the server at {} (PID {pid})", self.url),
            None => write!(f, "the server at {}", self.url),
        }
    }
}

/// Where a client's token came from, for the message of a refused one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    File(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => write!(f, "in {TOKEN_ENV}"),
            Self::File(path) => write!(f, "of {}", path.display()),
        }
    }
}

/// How a forwarded command fails on the way, or how the server refused it.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "--server {url:?} is not a server's URL\nhint: give http://HOST:PORT or \
         https://HOST:PORT, as `serve` prints it"
    )]
    BadServerUrl { url: String },
    #[error(
        "--server {url} needs an API token in {TOKEN_ENV}\nhint: an admin creates one with \
         POST /api/tokens (role operator for imports and runs, viewer to read)"
    )]
    MissingToken { url: String },
    #[error(
        "{server} holds this data directory, but {} cannot be read: {source}\nhint: run \
         the command as the server's user, or set {TOKEN_ENV} to an API token of that server",
        path.display()
    )]
    TokenFile {
        server: ServerRef,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the certificate {} that {server} serves: {message}", path.display())]
    CaFile {
        server: ServerRef,
        path: PathBuf,
        message: String,
    },
    #[error("cannot reach {server}: {message}\nhint: {hint}")]
    Unreachable {
        server: ServerRef,
        message: String,
        hint: String,
    },
    #[error("{server} refused the token {token} (401 unauthenticated): {message}\nhint: {hint}")]
    Unauthorized {
        server: ServerRef,
        token: TokenSource,
        message: String,
        hint: String,
    },
    /// The server's own error answer, `{code, message, hint}`.
    #[error("{message}\nhint: {hint}")]
    Api {
        status: u16,
        code: String,
        message: String,
        hint: String,
    },
    #[error(
        "{server} answered what this mailscore cannot read ({message})\nhint: use the same \
         version of mailscore as the server"
    )]
    Answer { server: ServerRef, message: String },
    #[error("`mailscore {command}` cannot be sent to {server}, which {holds}\nhint: {hint}")]
    NotForwardable {
        command: String,
        server: ServerRef,
        holds: &'static str,
        hint: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a command's work goes.
pub enum Location {
    /// This process opens the store.
    Local,
    /// The work is sent to a server.
    Server(ApiClient),
}

/// Decides where the work of a command on `data_dir` goes: to `server` (`--server`,
/// `MAILSCORE_SERVER`) with `env_token` (`MAILSCORE_TOKEN`); else to the live server the
/// data directory's `server.json` names (its PID alive and `GET /health/live` answering
/// within [`PROBE_TIMEOUT`]), with the token of `server.token` (or `env_token` when that
/// cannot be read); else to this process. A stale `server.json` is ignored, never removed.
pub fn locate(
    data_dir: &Path,
    server: Option<&str>,
    env_token: Option<String>,
) -> Result<Location, ClientError> {
    if let Some(url) = server {
        let url = url.trim().trim_end_matches('/').to_owned();
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        if host.is_none_or(str::is_empty) {
            return Err(ClientError::BadServerUrl { url });
        }
        let Some(token) = env_token.filter(|token| !token.trim().is_empty()) else {
            return Err(ClientError::MissingToken { url });
        };
        let server = ServerRef { url, pid: None };
        return Ok(Location::Server(ApiClient::new(
            server,
            token.trim().to_owned(),
            TokenSource::Environment,
            RootCerts::WebPki,
        )));
    }
    let Some(file) = local_server::read_server_file(data_dir) else {
        return Ok(Location::Local);
    };
    if local_server::process_is_alive(file.pid) == Some(false) {
        tracing::debug!(
            pid = file.pid,
            "the server file names a process that is gone"
        );
        return Ok(Location::Local);
    }
    let server = ServerRef {
        url: file.url.trim_end_matches('/').to_owned(),
        pid: Some(file.pid),
    };
    let roots = roots_of(data_dir, &file, &server)?;
    let prober = ApiClient::new(
        server.clone(),
        String::new(),
        TokenSource::Environment,
        roots.clone(),
    );
    if let Err(error) = prober.probe() {
        tracing::debug!(%error, "the server the server file names does not answer");
        return Ok(Location::Local);
    }
    let token_path = data_dir.join(local_server::TOKEN_FILE);
    let (token, source) = match local_server::read_token(data_dir) {
        Ok(token) => (token, TokenSource::File(token_path)),
        Err(source) => match env_token.filter(|token| !token.trim().is_empty()) {
            Some(token) => (token.trim().to_owned(), TokenSource::Environment),
            None => {
                return Err(ClientError::TokenFile {
                    server,
                    path: token_path,
                    source,
                });
            }
        },
    };
    Ok(Location::Server(ApiClient::new(
        server, token, source, roots,
    )))
}

/// The roots a client of the data directory's server trusts: the certificate file
/// `server.json` names (the self-signed one), else the WebPKI roots.
fn roots_of(
    data_dir: &Path,
    file: &ServerFile,
    server: &ServerRef,
) -> Result<RootCerts, ClientError> {
    let Some(ca_file) = &file.ca_file else {
        return Ok(RootCerts::WebPki);
    };
    let path = data_dir.join(ca_file);
    let ca_error = |message: String| ClientError::CaFile {
        server: server.clone(),
        path: path.clone(),
        message,
    };
    let pem = std::fs::read(&path).map_err(|error| ca_error(error.to_string()))?;
    let certificates: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(Ok(certificate)),
            Ok(_) => None,
            Err(error) => Some(Err(error)),
        })
        .collect::<Result<_, _>>()
        .map_err(|error| ca_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(ca_error("it holds no certificate".to_owned()));
    }
    Ok(RootCerts::Specific(Arc::new(certificates)))
}

/// A client of one server's API, with the token it sends.
#[derive(Clone)]
pub struct ApiClient {
    agent: ureq::Agent,
    server: ServerRef,
    token: String,
    token_source: TokenSource,
}

/// What an upload imports: one group of [`crate::service::imports::plan_imports`].
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    pub kind: ImportKind,
    /// One file, or the files of one job feed (one snapshot).
    pub files: &'a [PathBuf],
    /// Sent when the command line says (`--encoding`); else the server's setting.
    pub encoding: Option<EncodingChoice>,
    /// Sent when the command line says (`--max-shrink-percent`); else the server's.
    pub max_shrink_percent: Option<u32>,
    pub allow_shrink: bool,
}

/// How one upload ended, as [`crate::service::imports::ImportOutcome`] says of a local
/// import.
#[derive(Debug)]
pub struct UploadOutcome {
    /// The stored report; for a rejected file, a report with status `rejected` and the
    /// server's reason (nothing was stored).
    pub report: ImportReport,
    /// Why the server rejected the file, when it did.
    pub error: Option<String>,
    /// From the start of the upload to the answer.
    pub elapsed: Duration,
}

/// What a forwarded `batch run` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRun {
    pub date: Date,
    pub until: Phase,
    pub chunk_users: u32,
}

/// One progress sample of a run the server executes: the phase going on, and how far it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSample {
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

impl ApiClient {
    fn new(server: ServerRef, token: String, token_source: TokenSource, roots: RootCerts) -> Self {
        let tls = TlsConfig::builder().root_certs(roots).build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .tls_config(tls)
            .user_agent(format!("mailscore-cli/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            server,
            token,
            token_source,
        }
    }

    /// The server the calls go to.
    pub fn server(&self) -> &ServerRef {
        &self.server
    }

    /// The error of a command that has no operation in the API, naming the server.
    pub fn refuse(&self, command: &str) -> ClientError {
        let (holds, hint) = match self.server.pid {
            Some(pid) => (
                "holds this data directory's store",
                format!(
                    "stop the server (kill {pid}, or Ctrl-C where it runs) and run the \
                     command again, or use its API ({}/api/docs)",
                    self.server.url
                ),
            ),
            None => (
                "the command line names",
                format!(
                    "run it where the server's data directory is, with the server stopped, \
                     or use its API ({}/api/docs)",
                    self.server.url
                ),
            ),
        };
        ClientError::NotForwardable {
            command: command.to_owned(),
            server: self.server.clone(),
            holds,
            hint,
        }
    }

    /// `GET /health/live` within [`PROBE_TIMEOUT`].
    fn probe(&self) -> Result<(), ClientError> {
        let request = self
            .agent
            .get(format!("{}/health/live", self.server.url))
            .config()
            .timeout_global(Some(PROBE_TIMEOUT))
            .build();
        let response = request.call().map_err(|error| self.unreachable(&error))?;
        if response.status().as_u16() == 200 {
            Ok(())
        } else {
            Err(ClientError::Unreachable {
                server: self.server.clone(),
                message: format!("/health/live answered {}", response.status()),
                hint: "wait for it to start".to_owned(),
            })
        }
    }

    /// What the store holds (`GET /api/status`).
    pub fn status(&self) -> Result<StatusCounts, ClientError> {
        let status: wire::Status = self.get("/api/status")?;
        Ok(status.into())
    }

    /// The most recent imports, newest first (`GET /api/imports`).
    pub fn list_imports(&self, limit: usize) -> Result<Vec<ImportSummary>, ClientError> {
        let list: Vec<wire::ImportSummary> =
            self.get(&format!("/api/imports?limit={}", clamp_limit(limit)))?;
        list.into_iter()
            .map(|summary| summary.into_domain().map_err(|e| self.unreadable(e)))
            .collect()
    }

    /// One import's full report (`GET /api/imports/{id}`).
    pub fn show_import(&self, id: u64) -> Result<ImportReport, ClientError> {
        let report: wire::ImportReport = self.get(&format!("/api/imports/{id}"))?;
        report.into_domain().map_err(|e| self.unreadable(e))
    }

    /// One stored job with every column (`GET /api/jobs/{id}`).
    pub fn show_job(&self, id: JobId) -> Result<JobRecord, ClientError> {
        let job: wire::Job = self.get(&format!("/api/jobs/{id}"))?;
        job.into_domain().map_err(|e| self.unreadable(e))
    }

    /// Every suppressed address (`GET /api/suppressions`).
    pub fn list_suppressions(&self) -> Result<Vec<Suppression>, ClientError> {
        let list: Vec<wire::Suppression> = self.get("/api/suppressions")?;
        list.into_iter()
            .map(|entry| entry.into_domain().map_err(|e| self.unreadable(e)))
            .collect()
    }

    /// Suppresses `address` (`POST /api/suppressions`); how many of its queued emails were
    /// marked suppressed.
    pub fn suppress(
        &self,
        address: &EmailAddress,
        reason: SuppressionReason,
        note: Option<&str>,
    ) -> Result<u64, ClientError> {
        let body = serde_json::json!({
            "address": address.as_str(),
            "reason": reason.as_str(),
            "note": note,
        });
        let added: wire::SuppressionAdded = self.send(Method::POST, "/api/suppressions", &body)?;
        Ok(added.emails_suppressed)
    }

    /// Lifts the suppression of `address` (`DELETE /api/suppressions/{address}`).
    pub fn unsuppress(&self, address: &EmailAddress) -> Result<(), ClientError> {
        let path = format!("/api/suppressions/{}", encode_segment(address.as_str()));
        let _: serde_json::Value = self.call(Method::DELETE, &path, None)?;
        Ok(())
    }

    /// The most recent runs, newest first (`GET /api/runs`).
    pub fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, ClientError> {
        let list: Vec<wire::Run> = self.get(&format!("/api/runs?limit={}", clamp_limit(limit)))?;
        list.into_iter()
            .map(|run| run.into_domain().map_err(|e| self.unreadable(e)))
            .collect()
    }

    /// Starts a run in the server for the command line (`POST /api/runs`, `trigger: cli`);
    /// its id.
    pub fn start_run(&self, run: &StartRun) -> Result<u64, ClientError> {
        let body = serde_json::json!({
            "date": run.date.to_string(),
            "until": run.until.as_str(),
            "chunk_users": run.chunk_users,
            "trigger": "cli",
        });
        let started: wire::RunStarted = self.send(Method::POST, "/api/runs", &body)?;
        started
            .id
            .parse()
            .map_err(|_| self.unreadable(format!("run id {:?}", started.id)))
    }

    /// Asks run `id` to stop at its next boundary (`POST /api/runs/{id}/cancel`).
    pub fn cancel_run(&self, id: u64) -> Result<(), ClientError> {
        let _: serde_json::Value =
            self.call(Method::POST, &format!("/api/runs/{id}/cancel"), None)?;
        Ok(())
    }

    /// Follows run `id`'s event stream (`GET /api/runs/{id}/events`), telling `progress`
    /// each sample, until its outcome; returns its final record. When the stream breaks
    /// off before the outcome, the stored record answers if it is final (the server
    /// stopped the run as it shut down), else the stream is followed again, up to
    /// [`STREAM_RETRIES`] times.
    pub fn follow_run(
        &self,
        id: u64,
        progress: &mut dyn FnMut(&ProgressSample),
    ) -> Result<RunRecord, ClientError> {
        for _ in 0..=STREAM_RETRIES {
            if let Some(run) = self.follow_stream(id, progress)? {
                return Ok(run);
            }
            let run: wire::Run = self.get(&format!("/api/runs/{id}"))?;
            let run = run.into_domain().map_err(|e| self.unreadable(e))?;
            if run.status.is_final() {
                return Ok(run);
            }
        }
        Err(ClientError::Unreachable {
            server: self.server.clone(),
            message: format!("the event stream of run #{id} keeps ending before the run does"),
            hint: format!(
                "the run goes on in the server: `mailscore batch list` or GET \
                 {}/api/runs/{id} shows how it ends",
                self.server.url
            ),
        })
    }

    /// One reading of run `id`'s event stream: its outcome, or `None` when the stream ended
    /// without one.
    fn follow_stream(
        &self,
        id: u64,
        progress: &mut dyn FnMut(&ProgressSample),
    ) -> Result<Option<RunRecord>, ClientError> {
        let path = format!("/api/runs/{id}/events");
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.url(&path))
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", "text/event-stream")
            .body(())
            .expect("a request of valid parts");
        let request = self
            .agent
            .configure_request(request)
            .timeout_per_read(Some(STREAM_IDLE_TIMEOUT))
            .build();
        let response = self
            .agent
            .run(request)
            .map_err(|error| self.unreachable(&error))?;
        let response = self.check(response)?;
        let reader = BufReader::new(response.into_body().into_reader());
        let (mut kind, mut data) = (String::new(), String::new());
        for line in reader.lines() {
            let Ok(line) = line else {
                break;
            };
            if let Some(value) = line.strip_prefix("event:") {
                kind = value.trim().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            } else if line.is_empty() && !data.is_empty() {
                match kind.as_str() {
                    "progress" => {
                        if let Ok(live) = serde_json::from_str::<wire::RunProgress>(&data) {
                            progress(&live.sample());
                        }
                    }
                    "outcome" => {
                        let run: wire::Run = serde_json::from_str(&data)
                            .map_err(|e| self.unreadable(e.to_string()))?;
                        return run.into_domain().map(Some).map_err(|e| self.unreadable(e));
                    }
                    _ => {}
                }
                kind.clear();
                data.clear();
            }
        }
        Ok(None)
    }

    /// Uploads `upload`'s files as one import (`POST /api/imports`): a multipart body of
    /// one `file` field per file, each streamed from its file (never read whole), with
    /// the body's length known up front; the server names each file as the command line
    /// does (its path as given). `progress` makes a callback per file, told the bytes sent.
    pub fn upload_import(
        &self,
        upload: &Upload<'_>,
        progress: Option<&ProgressFactory>,
    ) -> Result<UploadOutcome, ClientError> {
        let started = Instant::now();
        let boundary = format!("mailscore-{:032x}", rand::random::<u128>());
        let mut parts: Vec<Box<dyn Read + Send>> = Vec::new();
        let mut length = 0u64;
        for path in upload.files {
            let read_error = |source| ClientError::Read {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(path).map_err(read_error)?;
            let size = file.metadata().map_err(read_error)?.len();
            let head = format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{}\"; \
                 filename=\"{}\"\r\ncontent-type: text/csv\r\n\r\n",
                crate::api::uploads::FILE_FIELD,
                quoted_file_name(&path.display().to_string())
            );
            length += head.len() as u64 + size + 2;
            parts.push(Box::new(std::io::Cursor::new(head.into_bytes())));
            let told = progress.map(|factory| factory(path, size));
            parts.push(Box::new(Counted {
                inner: file,
                read: 0,
                progress: told,
            }));
            parts.push(Box::new(std::io::Cursor::new(b"\r\n".to_vec())));
        }
        let tail = format!("--{boundary}--\r\n");
        length += tail.len() as u64;
        parts.push(Box::new(std::io::Cursor::new(tail.into_bytes())));
        let body = parts
            .into_iter()
            .reduce(|first, next| Box::new(first.chain(next)))
            .expect("the body has its closing boundary");
        let mut query = format!("/api/imports?kind={}", upload.kind.as_str());
        if upload.allow_shrink {
            query.push_str("&allow_shrink=true");
        }
        if let Some(encoding) = upload.encoding {
            query.push_str("&encoding=");
            query.push_str(match encoding {
                EncodingChoice::Auto => "auto",
                EncodingChoice::Utf8 => "utf-8",
                EncodingChoice::ShiftJis => "shift_jis",
            });
        }
        if let Some(percent) = upload.max_shrink_percent {
            query.push_str(&format!("&max_shrink_percent={percent}"));
        }
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url(&query))
            .header("authorization", format!("Bearer {}", self.token))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("content-length", length.to_string())
            .body(ureq::SendBody::from_owned_reader(body))
            .expect("a request of valid parts");
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(UPLOAD_TIMEOUT))
            .build();
        let response = self
            .agent
            .run(request)
            .map_err(|error| self.unreachable(&error))?;
        match self.check(response) {
            Ok(mut response) => {
                let report: wire::ImportReport = self.read_json(&mut response)?;
                Ok(UploadOutcome {
                    report: report.into_domain().map_err(|e| self.unreadable(e))?,
                    error: None,
                    elapsed: started.elapsed(),
                })
            }
            Err(ClientError::Api { code, message, .. }) if code == "import_rejected" => {
                let names: Vec<String> = upload
                    .files
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect();
                let mut report =
                    ImportReport::new(upload.kind.as_str(), &names.join(", "), now_micros());
                report.status = ImportStatus::Rejected;
                report.error = Some(message.clone());
                Ok(UploadOutcome {
                    report,
                    error: Some(message),
                    elapsed: started.elapsed(),
                })
            }
            Err(error) => Err(error),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None)
    }

    fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        self.call(method, path, Some(body.to_string()))
    }

    /// One call of [`CALL_TIMEOUT`] at most; its JSON answer, or the error it carries.
    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<T, ClientError> {
        let builder = Request::builder()
            .method(method.clone())
            .uri(self.url(path))
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", "application/json");
        // A change without a body still says its length: the server takes no body of
        // unknown length.
        let body = body.or_else(|| (method == Method::POST).then(String::new));
        let result = match body {
            Some(body) => {
                let request = builder
                    .header("content-type", "application/json")
                    .body(body)
                    .expect("a request of valid parts");
                let request = self
                    .agent
                    .configure_request(request)
                    .timeout_global(Some(CALL_TIMEOUT))
                    .build();
                self.agent.run(request)
            }
            None => {
                let request = builder.body(()).expect("a request of valid parts");
                let request = self
                    .agent
                    .configure_request(request)
                    .timeout_global(Some(CALL_TIMEOUT))
                    .build();
                self.agent.run(request)
            }
        };
        let response = result.map_err(|error| self.unreachable(&error))?;
        let mut response = self.check(response)?;
        self.read_json(&mut response)
    }

    /// The response when it succeeded; else the error its body says.
    fn check(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body: wire::ErrorBody =
            serde_json::from_str(&text).unwrap_or_else(|_| wire::ErrorBody {
                code: format!("http_{status}"),
                message: format!("HTTP {status}: {}", text.trim()),
                hint: "see the server's log".to_owned(),
            });
        if status == 401 {
            let hint = match &self.token_source {
                TokenSource::Environment => format!(
                    "set {TOKEN_ENV} to an API token of that server (an admin creates one \
                     with POST /api/tokens)"
                ),
                TokenSource::File(path) => format!(
                    "{} is not the token of the server that answers; restart the server, or \
                     set {TOKEN_ENV}",
                    path.display()
                ),
            };
            return Err(ClientError::Unauthorized {
                server: self.server.clone(),
                token: self.token_source.clone(),
                message: body.message,
                hint,
            });
        }
        Err(ClientError::Api {
            status,
            code: body.code,
            message: body.message,
            hint: body.hint,
        })
    }

    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|error| self.unreachable(&error))?;
        serde_json::from_str(&text).map_err(|error| self.unreadable(error.to_string()))
    }

    fn unreachable(&self, error: &ureq::Error) -> ClientError {
        let hint = match self.server.pid {
            Some(_) => "the server may be stopping; run the command again".to_owned(),
            None => "check the URL of --server (or MAILSCORE_SERVER) and that the server runs"
                .to_owned(),
        };
        ClientError::Unreachable {
            server: self.server.clone(),
            message: error.to_string(),
            hint,
        }
    }

    fn unreadable(&self, message: impl Into<String>) -> ClientError {
        ClientError::Answer {
            server: self.server.clone(),
            message: message.into(),
        }
    }
}

/// A list's `limit` as the API takes it (1 to 1000).
fn clamp_limit(limit: usize) -> usize {
    limit.clamp(1, 1000)
}

/// A file's name inside the quotes of `filename="…"`: quotes escaped, line breaks (which
/// cannot be in a header) replaced.
fn quoted_file_name(name: &str) -> String {
    name.replace(['\r', '\n'], " ").replace('"', "\\\"")
}

/// `text` as one segment of a URL path: every byte but the unreserved ones and `@`
/// percent-encoded.
fn encode_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn now_micros() -> Micros {
    jiff::Timestamp::now().as_microsecond()
}

/// A file read into the upload body, its bytes told to a progress callback.
struct Counted {
    inner: std::fs::File,
    read: u64,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
}

impl Read for Counted {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.read += n as u64;
        if let Some(progress) = &mut self.progress {
            progress(self.read);
        }
        Ok(n)
    }
}

/// The API's answers as they come over the wire, and how each becomes the type the local
/// service returns. Only the fields the command line shows are read.
mod wire {
    use super::*;

    fn instant(text: &str) -> Result<Micros, String> {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|e| format!("time {text:?}: {e}"))
    }

    fn number(what: &str, text: &str) -> Result<u64, String> {
        text.parse().map_err(|_| format!("{what} {text:?}"))
    }

    #[derive(Deserialize)]
    pub struct ErrorBody {
        pub code: String,
        pub message: String,
        #[serde(default)]
        pub hint: String,
    }

    #[derive(Deserialize)]
    pub struct Status {
        jobs: JobCountsWire,
        users: u64,
        actions: u64,
        masters: MastersWire,
        storage: StorageWire,
        unknown_codes: Vec<UnknownCode>,
    }

    #[derive(Deserialize)]
    struct JobCountsWire {
        active: u64,
        total: u64,
    }

    #[derive(Deserialize)]
    struct MastersWire {
        prefectures: u64,
        cities: u64,
        adjacency: u64,
        occupations: u64,
        employment_types: u64,
        salary_types: u64,
        features: u64,
        keywords: u64,
    }

    #[derive(Deserialize)]
    struct StorageWire {
        file_bytes: u64,
        stored_bytes: u64,
        metadata_bytes: u64,
        fragmented_bytes: u64,
    }

    #[derive(Deserialize)]
    struct UnknownCode {
        column: String,
        code: u32,
        jobs: u64,
    }

    impl From<Status> for StatusCounts {
        fn from(status: Status) -> Self {
            let masters = status.masters;
            StatusCounts {
                space: StorageStats {
                    file_bytes: status.storage.file_bytes,
                    stored_bytes: status.storage.stored_bytes,
                    metadata_bytes: status.storage.metadata_bytes,
                    fragmented_bytes: status.storage.fragmented_bytes,
                },
                jobs: JobCounts {
                    active: status.jobs.active,
                    total: status.jobs.total,
                },
                users: status.users,
                actions: status.actions,
                masters: MasterCounts {
                    prefectures: masters.prefectures,
                    cities: masters.cities,
                    adjacency: masters.adjacency,
                    occupations: masters.occupations,
                    employment_types: masters.employment_types,
                    salary_types: masters.salary_types,
                    features: masters.features,
                    keywords: masters.keywords,
                },
                // A column this binary does not know is left out rather than misnamed.
                unknown_codes: status
                    .unknown_codes
                    .into_iter()
                    .filter_map(|unknown| {
                        Some(UnknownCodeUse {
                            column: CodeColumn::parse(&unknown.column)?,
                            code: unknown.code,
                            jobs: unknown.jobs,
                        })
                    })
                    .collect(),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct ImportSummary {
        id: String,
        kind: String,
        file: String,
        started_at: String,
        rows_read: u64,
        rows_imported: u64,
        rows_skipped: u64,
        warnings: u64,
    }

    impl ImportSummary {
        pub fn into_domain(self) -> Result<crate::store::ImportSummary, String> {
            Ok(crate::store::ImportSummary {
                id: number("import id", &self.id)?,
                kind: self.kind,
                file: self.file,
                started_at: instant(&self.started_at)?,
                rows_read: self.rows_read,
                rows_imported: self.rows_imported,
                rows_skipped: self.rows_skipped,
                warnings: self.warnings,
            })
        }
    }

    #[derive(Deserialize)]
    pub struct ImportReport {
        id: String,
        kind: String,
        file: String,
        encoding: String,
        status: ImportStatus,
        started_at: String,
        duration_ms: u64,
        rows_read: u64,
        rows_imported: u64,
        rows_skipped: u64,
        blank_rows: u64,
        warnings: u64,
        counts: BTreeMap<String, u64>,
        unknown_columns: Vec<String>,
        issues: Vec<RowIssue>,
        issues_omitted: u64,
        #[serde(default)]
        error: Option<String>,
    }

    impl ImportReport {
        pub fn into_domain(self) -> Result<crate::domain::ImportReport, String> {
            let mut report = crate::domain::ImportReport::new(
                &self.kind,
                &self.file,
                instant(&self.started_at)?,
            );
            report.id = number("import id", &self.id)?;
            report.encoding = self.encoding;
            report.status = self.status;
            report.duration_ms = self.duration_ms;
            report.rows_read = self.rows_read;
            report.rows_imported = self.rows_imported;
            report.rows_skipped = self.rows_skipped;
            report.blank_rows = self.blank_rows;
            report.warnings = self.warnings;
            report.counts = self.counts;
            report.unknown_columns = self.unknown_columns;
            report.issues = self.issues;
            report.issues_omitted = self.issues_omitted;
            report.error = self.error;
            Ok(report)
        }
    }

    #[derive(Deserialize)]
    pub struct Job {
        job_id: String,
        active: bool,
        columns: Vec<JobColumn>,
    }

    #[derive(Deserialize)]
    struct JobColumn {
        name: String,
        #[serde(default)]
        value: Option<String>,
    }

    impl Job {
        pub fn into_domain(self) -> Result<JobRecord, String> {
            Ok(JobRecord {
                job_id: JobId::parse(&self.job_id).map_err(|e| format!("job id: {e}"))?,
                active: self.active,
                columns: self
                    .columns
                    .into_iter()
                    .map(|column| (column.name, column.value))
                    .collect(),
            })
        }
    }

    #[derive(Deserialize)]
    pub struct Suppression {
        address: String,
        reason: SuppressionReason,
        created_at: String,
        #[serde(default)]
        note: Option<String>,
    }

    impl Suppression {
        pub fn into_domain(self) -> Result<crate::domain::Suppression, String> {
            Ok(crate::domain::Suppression {
                address: EmailAddress::parse(&self.address).map_err(|e| format!("address: {e}"))?,
                reason: self.reason,
                created_at: instant(&self.created_at)?,
                note: self.note,
            })
        }
    }

    #[derive(Deserialize)]
    pub struct SuppressionAdded {
        pub emails_suppressed: u64,
    }

    #[derive(Deserialize)]
    pub struct RunStarted {
        pub id: String,
    }

    #[derive(Deserialize)]
    pub struct Run {
        id: String,
        date: String,
        started_at: String,
        #[serde(default)]
        finished_at: Option<String>,
        status: RunStatus,
        until: Phase,
        #[serde(default)]
        trigger: Option<RunTrigger>,
        #[serde(default)]
        users: Option<Vec<UserId>>,
        #[serde(default)]
        retry_of: Option<String>,
        #[serde(default)]
        phases: Vec<PhaseWire>,
        #[serde(default)]
        skipped_keywords: Vec<String>,
        #[serde(default)]
        failed_users: Vec<UserId>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        warnings: Vec<String>,
    }

    #[derive(Deserialize)]
    struct PhaseWire {
        name: String,
        started_at: String,
        #[serde(default)]
        finished_at: Option<String>,
        duration_ms: u64,
        #[serde(default)]
        counts: BTreeMap<String, u64>,
        #[serde(default)]
        errors: Vec<String>,
    }

    impl Run {
        pub fn into_domain(self) -> Result<RunRecord, String> {
            let phases = self
                .phases
                .into_iter()
                .map(|phase| {
                    Ok(PhaseRecord {
                        name: phase.name,
                        started_at: instant(&phase.started_at)?,
                        finished_at: phase.finished_at.as_deref().map(instant).transpose()?,
                        duration_ms: phase.duration_ms,
                        counts: phase.counts,
                        errors: phase.errors,
                    })
                })
                .collect::<Result<_, String>>()?;
            Ok(RunRecord {
                id: number("run id", &self.id)?,
                date: self
                    .date
                    .parse::<Date>()
                    .map_err(|e| format!("date {:?}: {e}", self.date))?,
                started_at: instant(&self.started_at)?,
                finished_at: self.finished_at.as_deref().map(instant).transpose()?,
                status: self.status,
                until: self.until,
                phases,
                skipped_keywords: self.skipped_keywords,
                failed_users: self.failed_users,
                error: self.error,
                warnings: self.warnings,
                trigger: self.trigger,
                users: self.users,
                retry_of: self
                    .retry_of
                    .as_deref()
                    .map(|id| number("run id", id))
                    .transpose()?,
            })
        }
    }

    #[derive(Deserialize)]
    pub struct RunProgress {
        #[serde(default)]
        phase: Option<String>,
        #[serde(default)]
        phases: Vec<PhaseProgress>,
    }

    #[derive(Deserialize)]
    struct PhaseProgress {
        name: String,
        done: u64,
        total: u64,
    }

    impl RunProgress {
        pub fn sample(&self) -> ProgressSample {
            let phase = self.phase.clone().unwrap_or_default();
            let (done, total) = self
                .phases
                .iter()
                .rev()
                .find(|p| p.name == phase)
                .map_or((0, 0), |p| (p.done, p.total));
            ProgressSample { phase, done, total }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_one_path_segment() {
        assert_eq!(encode_segment("a.b+c@example.jp"), "a.b%2Bc@example.jp");
        assert_eq!(encode_segment("x/y z"), "x%2Fy%20z");
    }

    #[test]
    fn a_file_name_stays_inside_its_quotes() {
        assert_eq!(quoted_file_name("data/jobs.csv"), "data/jobs.csv");
        assert_eq!(quoted_file_name("a\"b\nc.csv"), "a\\\"b c.csv");
    }

    #[test]
    fn a_server_url_must_be_http_or_https_and_needs_a_token() {
        let dir = tempfile::tempdir().unwrap();
        for url in ["localhost:8080", "http://", "ftp://example.jp"] {
            let located = locate(dir.path(), Some(url), Some("msk_x".into()));
            assert!(
                matches!(located, Err(ClientError::BadServerUrl { .. })),
                "{url}"
            );
        }
        let located = locate(dir.path(), Some("http://127.0.0.1:9/"), None);
        assert!(matches!(located, Err(ClientError::MissingToken { .. })));
        let Ok(Location::Server(client)) = locate(
            dir.path(),
            Some("http://127.0.0.1:9/"),
            Some("msk_x".into()),
        ) else {
            panic!("--server with a token is that server");
        };
        assert_eq!(client.server().url, "http://127.0.0.1:9");
    }

    #[test]
    fn a_data_dir_without_a_server_file_or_with_a_dead_pid_is_local() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            locate(dir.path(), None, None),
            Ok(Location::Local)
        ));
        // A process id above Linux's pid_max, so certainly not running.
        let file = ServerFile {
            url: "http://127.0.0.1:9".into(),
            pid: 4_194_305,
            started_at: "2025-07-02T00:00:00Z".into(),
            ca_file: None,
        };
        std::fs::write(
            dir.path().join(local_server::SERVER_FILE),
            serde_json::to_string(&file).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            locate(dir.path(), None, None),
            Ok(Location::Local)
        ));
    }

    #[test]
    fn a_progress_sample_is_the_current_phase_and_its_counts() {
        let progress: wire::RunProgress = serde_json::from_value(serde_json::json!({
            "run_id": "3", "date": "2025-07-02", "phase": "picks", "elapsed_ms": 5,
            "phases": [
                {"name": "load", "done": 0, "total": 0, "elapsed_ms": 1, "finished": true},
                {"name": "picks", "unit": "users", "done": 4, "total": 10, "elapsed_ms": 2,
                 "finished": false}
            ],
            "cancel_requested": false
        }))
        .unwrap();
        assert_eq!(
            progress.sample(),
            ProgressSample {
                phase: "picks".into(),
                done: 4,
                total: 10
            }
        );
    }
}

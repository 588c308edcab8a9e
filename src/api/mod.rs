//! The HTTP server (`mailscore serve`): the JSON API with its OpenAPI document, health
//! probes and metrics. The only module that knows HTTP and poem.
//!
//! A handler parses the request, calls one application service (`crate::service`) and maps
//! the result into a response type of its own module; no business rule lives here. Errors
//! take one shape and get their status in one place (`error.rs`); every request passes the
//! layers of `middleware.rs`.

pub mod error;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod metrics;
pub mod middleware;
pub mod runs;
pub mod status;
pub mod tracking;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::http::HeaderValue;
use poem::http::header::CONTENT_SECURITY_POLICY;
use poem::listener::TcpAcceptor;
use poem::middleware::SetHeader;
use poem::{Endpoint, EndpointExt, Response, Route, Server};
use poem_openapi::{ExtraHeader, OpenApi, OpenApiService, Tags};
use thiserror::Error;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::domain::TimeZoneSetting;
use crate::domain::time::Micros;
use crate::service::ServiceError;
use crate::service::run_manager::{RunManager, RunSettings};
use crate::service::tracking::TrackingRecorder;
use crate::store::Store;
use crate::tokens::TokenSigner;
use middleware::{Policy, RouteTemplates};

/// The largest request body any route takes, in bytes. The routes of the API so far read
/// their path and query and at most a small JSON body (`POST /api/runs`); uploads will
/// have a limit of their own.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// How long a request may take before it is answered `503 request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a shutdown waits for the requests in flight before it closes their
/// connections (below Kubernetes' default grace period of 30 s).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// How often the store gauges of `/metrics` are refreshed from the store's status.
pub const STORE_GAUGES_INTERVAL: Duration = Duration::from_secs(60);

/// How many records a list returns when the request does not say (`limit`); at most 1000.
pub const DEFAULT_LIST_LIMIT: u32 = 20;

/// The explorer's page inlines its script and style (they are embedded in the binary,
/// nothing is loaded from elsewhere), so it needs a policy of its own; still nothing from
/// another origin and no framing.
const EXPLORER_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/// Routes outside the OpenAPI document.
const OPENAPI_JSON: &str = "/api/openapi.json";
const EXPLORER: &str = "/api/docs";
const METRICS: &str = "/metrics";

fn default_list_limit() -> u32 {
    DEFAULT_LIST_LIMIT
}

/// An instant as RFC 3339 (UTC, `Z`).
fn rfc3339(instant: Micros) -> String {
    jiff::Timestamp::from_microsecond(instant)
        .map_or_else(|_| format!("invalid instant {instant}"), |t| t.to_string())
}

#[derive(Tags)]
enum ApiTags {
    /// Liveness and readiness probes.
    Health,
    /// What the store holds.
    Status,
    /// Daily runs.
    Runs,
    /// Imports and their reports.
    Imports,
    /// Stored jobs.
    Jobs,
}

type Api = (
    health::HealthApi,
    status::StatusApi,
    runs::RunsApi,
    imports::ImportsApi,
    jobs::JobsApi,
);

/// What the handlers share: the one open store (redb allows one process per file), the
/// key that signs email links, the group commit of tracked actions, the runs of this
/// process, and whether the server is shutting down.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub signer: TokenSigner,
    pub tracking: TrackingRecorder,
    /// Every run of the server (schedule, API, CLI through the API), one at a time.
    pub runs: Arc<RunManager>,
    shutting_down: AtomicBool,
}

impl AppState {
    /// The state of a server on `store`; starts the tracking recorder on the current
    /// runtime.
    pub fn new(store: Arc<dyn Store>, signer: TokenSigner, time_zone: TimeZoneSetting) -> Self {
        let run_settings = RunSettings::new(time_zone.clone(), signer.clone());
        let tracking = TrackingRecorder::start(Arc::clone(&store), time_zone, |committed| {
            metrics::record_tracking_commit(committed.actions)
        });
        let runs = RunManager::new(
            Arc::clone(&store),
            run_settings,
            Arc::new(metrics::RunMetrics),
        );
        Self {
            store,
            signer,
            tracking,
            runs,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// The same state with runs run as `settings` say (the server's settings, its schedule).
    pub fn with_runs(mut self, settings: RunSettings) -> Self {
        self.runs = RunManager::new(
            Arc::clone(&self.store),
            settings,
            Arc::new(metrics::RunMetrics),
        );
        self
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// From now on readiness answers 503.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

fn openapi_service() -> OpenApiService<Api, ()> {
    let api = (
        health::HealthApi,
        status::StatusApi,
        runs::RunsApi,
        imports::ImportsApi,
        jobs::JobsApi,
    );
    OpenApiService::new(api, "mailscore", env!("CARGO_PKG_VERSION"))
        .description(
            "The Mail Score System's JSON API. Every error answers `{code, message, hint}` \
             with a stable snake_case `code`; ids are strings, times RFC 3339, dates \
             YYYY-MM-DD.",
        )
        .extra_response_header::<String, _>(ExtraHeader::new("x-request-id").description(
            "The request's id: the client's own when it sent a sane one, else a new one; \
             the access log and every log line of the request carry it.",
        ))
}

/// The OpenAPI document, as `GET /api/openapi.json` answers it.
pub fn openapi_document() -> String {
    openapi_service().spec()
}

/// Every route template the server answers, for the route label of metrics and logs.
fn route_templates() -> RouteTemplates {
    let documented: Vec<String> = <Api as OpenApi>::meta()
        .into_iter()
        .flat_map(|api| api.paths.into_iter().map(|path| path.path))
        .collect();
    let explorer_receiver = format!("{EXPLORER}/oauth-receiver.html");
    RouteTemplates::new(
        documented
            .iter()
            .map(String::as_str)
            .chain([OPENAPI_JSON, EXPLORER, explorer_receiver.as_str(), METRICS])
            .chain(tracking::ROUTES.iter().copied()),
    )
}

/// The whole application: every route, with the middleware around it.
pub fn app(state: Arc<AppState>, policy: Policy) -> impl Endpoint + 'static {
    let service = openapi_service();
    let explorer = service.swagger_ui().with(SetHeader::new().overriding(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(EXPLORER_CSP),
    ));
    let routes = Route::new()
        .at(OPENAPI_JSON, service.spec_endpoint())
        .nest(EXPLORER, explorer)
        .at(METRICS, poem::get(make_sync(|_| metrics_response())))
        .nest("/t", tracking::routes_t())
        .nest("/u", tracking::routes_u())
        .nest("/", service)
        .data(state);
    middleware::wrap(routes, policy)
}

fn metrics_response() -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render())
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address and port to listen on; port 0 takes any free port.
    pub listen: SocketAddr,
    /// Verifies the tokens of email links (the key the daily run signed them with).
    pub signer: TokenSigner,
    pub time_zone: TimeZoneSetting,
    /// How the server's runs are run, and the schedule it starts them on.
    pub runs: RunSettings,
}

impl ServeOptions {
    /// The options the settings give; reads (or creates) the secret key.
    pub fn from_settings(settings: &Settings) -> Result<Self, ServiceError> {
        let signer = TokenSigner::new(&settings.create_secret_key_bytes()?);
        Ok(Self {
            listen: settings.listen,
            runs: RunSettings::from_settings(settings, signer.clone())?,
            signer,
            time_zone: settings.time_zone.clone(),
        })
    }
}

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {addr}: {source}\nhint: another process may hold the port; choose \
         another with --listen, MAILSCORE_LISTEN or server.listen"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot wait for the shutdown signals: {0}")]
    Signal(std::io::Error),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A server that is accepting connections.
pub struct RunningServer {
    local_addr: SocketAddr,
    state: Arc<AppState>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    gauges: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

/// Binds `options.listen` and starts serving on the current runtime; returns once the
/// socket accepts connections, with the address it is bound to (the port chosen when
/// `options.listen` asked for port 0).
pub async fn start(
    store: Arc<dyn Store>,
    options: &ServeOptions,
) -> Result<RunningServer, ServeError> {
    metrics::recorder();
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let state = Arc::new(
        AppState::new(store, options.signer.clone(), options.time_zone.clone())
            .with_runs(options.runs.clone()),
    );
    let policy = Policy {
        max_body_bytes: MAX_BODY_BYTES,
        request_timeout: REQUEST_TIMEOUT,
        // Set once the server terminates TLS itself (a later change): HSTS is only true
        // of a TLS listener.
        hsts: None,
        routes: route_templates(),
    };
    let endpoint = app(Arc::clone(&state), policy);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            endpoint,
            async {
                let _ = stopped.await;
            },
            Some(SHUTDOWN_DEADLINE),
        ),
    );
    let gauges = tokio::spawn(refresh_store_gauges(Arc::clone(&state.store)));
    let scheduler = tokio::spawn(Arc::clone(&state.runs).run_schedule());
    tracing::info!(addr = %local_addr, "serving");
    Ok(RunningServer {
        local_addr,
        state,
        stop,
        server,
        gauges,
        scheduler,
    })
}

/// Binds, serves until SIGTERM or SIGINT, then shuts down gracefully. `on_ready` is told
/// the bound address once connections are accepted.
pub async fn serve(
    store: Arc<dyn Store>,
    options: &ServeOptions,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let server = start(store, options).await?;
    on_ready(server.local_addr());
    server.run_until_signal().await
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for SIGTERM or SIGINT, then shuts down ([`Self::shutdown`]). Returns early
    /// when the server stops by itself (an accept error).
    pub async fn run_until_signal(mut self) -> Result<(), ServeError> {
        tokio::select! {
            signal = shutdown_signal() => {
                signal.map_err(ServeError::Signal)?;
                tracing::info!("shutdown signal received");
                self.shutdown().await
            }
            ended = &mut self.server => {
                self.gauges.abort();
                self.scheduler.abort();
                ended??;
                Ok(())
            }
        }
    }

    /// Shuts down gracefully: readiness turns 503, no run starts any more and the
    /// executing one is asked to stop at its next phase or chunk boundary (it resumes on
    /// the next start) and given up to
    /// [`RUN_STOP_DEADLINE`](crate::service::run_manager::RUN_STOP_DEADLINE); then the
    /// listener stops accepting, and the requests in flight (a run's event stream has
    /// ended with its outcome by then) get up to [`SHUTDOWN_DEADLINE`] to finish before
    /// their connections are closed. Returns when the server has stopped.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.state.begin_shutdown();
        self.scheduler.abort();
        self.state.runs.shutdown().await;
        self.gauges.abort();
        let _ = self.stop.send(());
        let stopped = self.server.await;
        // No request is left: what the tracked opens and clicks queued is committed now.
        self.state.tracking.flush().await;
        stopped??;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// SIGINT (Ctrl-C), or SIGTERM where there is one (what `docker stop` and Kubernetes send).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Sets the store gauges from the store's status now and every [`STORE_GAUGES_INTERVAL`]
/// (the status reads every user and the job columns: too much for every scrape).
async fn refresh_store_gauges(store: Arc<dyn Store>) {
    loop {
        match crate::service::status::store_status(store.as_ref()).await {
            Ok(status) => metrics::record_store_status(&status),
            Err(error) => tracing::warn!(%error, "the store gauges were not refreshed"),
        }
        tokio::time::sleep(STORE_GAUGES_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::RedbStore;

    fn test_app() -> (tempfile::TempDir, Arc<AppState>, impl Endpoint) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let state = Arc::new(AppState::new(
            Arc::new(store),
            TokenSigner::new(b"test key"),
            TimeZoneSetting::tokyo(),
        ));
        let policy = Policy {
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: REQUEST_TIMEOUT,
            hsts: None,
            routes: route_templates(),
        };
        let app = app(Arc::clone(&state), policy);
        (dir, state, app)
    }

    /// `GET path` through the whole application, without a socket.
    async fn get(app: &impl Endpoint, path: &'static str) -> (u16, String) {
        let request = poem::Request::builder()
            .uri(poem::http::Uri::from_static(path))
            .finish();
        let response = app.get_response(request).await;
        let status = response.status().as_u16();
        (status, response.into_body().into_string().await.unwrap())
    }

    #[tokio::test]
    async fn readiness_turns_503_once_the_shutdown_begins_and_liveness_stays_200() {
        let (_dir, state, app) = test_app();
        assert_eq!(get(&app, "/health/ready").await.0, 200);
        state.begin_shutdown();
        let (status, body) = get(&app, "/health/ready").await;
        assert_eq!(status, 503, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "shutting_down", "{body}");
        assert_eq!(get(&app, "/health/live").await.0, 200);
    }

    #[test]
    fn every_documented_path_and_the_fixed_routes_have_a_template() {
        let routes = route_templates();
        for (path, template) in [
            ("/api/jobs/5", "/api/jobs/{id}"),
            ("/api/imports/2", "/api/imports/{id}"),
            ("/api/imports", "/api/imports"),
            ("/health/ready", "/health/ready"),
            ("/api/openapi.json", OPENAPI_JSON),
            ("/api/docs/", EXPLORER),
            ("/metrics", METRICS),
        ] {
            assert_eq!(routes.template_of(path), template, "{path}");
        }
    }

    #[test]
    fn a_time_is_rfc3339_in_utc() {
        assert_eq!(rfc3339(1_751_382_000_000_000), "2025-07-01T15:00:00Z");
    }
}

//! The HTTP server (`mailscore serve`): the JSON API with its OpenAPI document, health
//! probes and metrics. The only module that knows HTTP and poem.
//!
//! A handler parses the request, calls one application service (`crate::service`) and maps
//! the result into a response type of its own module; no business rule lives here. Errors
//! take one shape and get their status in one place (`error.rs`); every request passes the
//! layers of `middleware.rs`.

pub mod accounts;
pub mod actions;
pub mod auth;
pub mod bounces;
pub mod delivery;
pub mod emails;
pub mod error;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod middleware;
pub mod picks;
pub mod runs;
pub mod session;
pub mod stats;
pub mod status;
pub mod suppressions;
pub mod tls;
pub mod tracking;
pub mod uploads;
pub mod users;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::http::HeaderValue;
use poem::http::header::CONTENT_SECURITY_POLICY;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::middleware::SetHeader;
use poem::{Endpoint, EndpointExt, Response, Route, Server};
use poem_openapi::{ExtraHeader, OpenApi, OpenApiService, Tags};
use thiserror::Error;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cache::MokaCache;
use crate::config::Settings;
use crate::domain::TimeZoneSetting;
use crate::domain::time::Micros;
use crate::ingest::EncodingChoice;
use crate::render::EmailSettings;
use crate::scoring::ScoringConfig;
use crate::service::ServiceError;
use crate::service::accounts::{
    Bootstrap, FirstAdmin, SetupToken, TOKEN_USE_FLUSH_INTERVAL, TokenCache, bootstrap,
};
use crate::service::emails::Messages;
use crate::service::hot_reads::HotReads;
use crate::service::imports::UploadProgress;
use crate::service::local_server::{self, LocalAccess, LocalServerError, ServerFile};
use crate::service::run_manager::{RunManager, RunSettings};
use crate::service::tracking::TrackingRecorder;
use crate::store::Store;
use crate::telemetry::{ErrorChain, LogRing};
use crate::tokens::TokenSigner;
use middleware::{Policy, RouteTemplates};

/// The largest request body a route takes, in bytes: the routes of the API read their path
/// and query and at most a small JSON body (`POST /api/runs`); uploads
/// ([`MAX_UPLOAD_BYTES`]) and batches ([`BATCH_ROUTES`]) have limits of their own.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// The largest file `POST /api/imports` takes (the reference feed is 210 MB); the body is
/// streamed to a file in the data directory, never held in memory.
pub const MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// How long an upload and its import may take.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The routes that take uploads (with `POST`).
const UPLOAD_ROUTES: &[&str] = &["/api/imports"];

/// The routes whose `POST` takes a JSON batch larger than [`MAX_BODY_BYTES`], with their
/// limit.
const BATCH_ROUTES: &[(&str, u64)] = &[("/api/actions", actions::MAX_ACTIONS_BODY_BYTES)];

/// How long a request may take before it is answered `503 request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a shutdown waits for the requests in flight before it closes their
/// connections (below Kubernetes' default grace period of 30 s).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// How often the store gauges of `/metrics` are refreshed from the store's status.
pub const STORE_GAUGES_INTERVAL: Duration = Duration::from_secs(60);

/// How many picks recomputations on demand run at once: each holds a year of actions
/// (compressed) and the day's job scores, and takes the cores for seconds at reference
/// size; further requests wait their turn (within the request timeout).
pub const MAX_CONCURRENT_RECOMPUTES: usize = 1;

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
    /// The dashboard's figures: counts, distributions, activity, hit rates.
    Stats,
    /// Daily runs.
    Runs,
    /// Imports and their reports.
    Imports,
    /// Stored jobs.
    Jobs,
    /// Job seekers.
    Users,
    /// What users did: batches of actions.
    Actions,
    /// Each user's picks of a date.
    Picks,
    /// The email queue.
    Emails,
    /// Addresses that get no email.
    Suppressions,
    /// Sending over SMTP: its state, pause, resume, cancel.
    Delivery,
    /// Bounces and complaints, and the suppressions they cause.
    Bounces,
    /// Signing in and out, and the first admin.
    Session,
    /// The accounts people sign in with (admins only).
    Accounts,
    /// API tokens for automation (admins only).
    Tokens,
    /// The server's recent warnings and errors.
    Logs,
}

/// Every API of the document, as a type and as a value (each is a unit struct), listed once.
macro_rules! apis {
    ($($api:path),* $(,)?) => {
        type Api = ($($api,)*);

        fn all_apis() -> Api {
            ($($api,)*)
        }
    };
}

/// The mail that goes out and comes back, one entry of [`Api`]: poem-openapi implements
/// `OpenApi` for tuples of 16 at most. The type and the value share the name, as a unit
/// struct's do.
type MailApis = (delivery::DeliveryApi, bounces::BouncesApi);
#[allow(non_upper_case_globals)]
const MailApis: MailApis = (delivery::DeliveryApi, bounces::BouncesApi);

apis!(
    health::HealthApi,
    status::StatusApi,
    stats::StatsApi,
    runs::RunsApi,
    imports::ImportsApi,
    jobs::JobsApi,
    users::UsersApi,
    actions::ActionsApi,
    picks::PicksApi,
    emails::EmailsApi,
    suppressions::SuppressionsApi,
    MailApis,
    session::SessionApi,
    accounts::AccountsApi,
    accounts::TokensApi,
    logs::LogsApi,
);

/// What the handlers share: the one open store (redb allows one process per file), the
/// key that signs email links, the group commit of tracked actions, the runs of this
/// process, and whether the server is shutting down.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Sessions, the login throttle and the pending first-admin setup.
    pub auth: auth::AuthState,
    /// Renders stored emails (and holds the key that signs and verifies their links).
    pub messages: Messages,
    pub tracking: TrackingRecorder,
    pub scoring: ScoringConfig,
    /// The data directory: uploads are written to its `uploads/`.
    pub data_dir: PathBuf,
    pub import_encoding: EncodingChoice,
    pub max_shrink_percent: u32,
    /// One upload at a time; its progress while it runs.
    pub upload: tokio::sync::Mutex<()>,
    pub upload_progress: std::sync::Mutex<Option<UploadProgress>>,
    /// Recomputations of picks on demand, [`MAX_CONCURRENT_RECOMPUTES`] at a time.
    pub recompute: tokio::sync::Semaphore,
    /// Every run of the server (schedule, API, CLI through the API), one at a time.
    pub runs: Arc<RunManager>,
    /// The copies of hot reads (picks, jobs), told of every change this process makes.
    pub hot: Arc<HotReads>,
    /// The process's recent warnings and errors (`GET /api/logs`).
    pub logs: Arc<LogRing>,
    /// How bounces count (`[bounces]`).
    pub bounces: crate::bounces::BounceSettings,
    /// The provider webhooks' shared secret; `None`: they answer 403.
    pub webhooks_secret: Option<webhooks::WebhookSecret>,
    shutting_down: AtomicBool,
}

impl AppState {
    /// The state of a server on `store`; starts the tracking recorder on the current
    /// runtime.
    pub fn new(store: Arc<dyn Store>, options: &ServeOptions) -> Self {
        let tracking =
            TrackingRecorder::start(Arc::clone(&store), options.time_zone.clone(), |committed| {
                metrics::record_tracking_commit(committed.actions)
            });
        let messages = Messages {
            signer: options.signer.clone(),
            renderer: crate::templates::load_renderer(&options.email),
            email: options.email.clone(),
            time_zone: options.time_zone.clone(),
        };
        let hot = Arc::new(HotReads::new(metrics::record_cache_lookup));
        let runs = RunManager::new(
            Arc::clone(&store),
            options.runs.clone(),
            Arc::new(metrics::RunMetrics),
            Arc::clone(&hot),
        );
        Self {
            store,
            auth: auth::AuthState::default(),
            messages,
            tracking,
            scoring: options.scoring.clone(),
            data_dir: options.data_dir.clone(),
            import_encoding: options.import_encoding,
            max_shrink_percent: options.max_shrink_percent,
            upload: tokio::sync::Mutex::new(()),
            upload_progress: std::sync::Mutex::new(None),
            recompute: tokio::sync::Semaphore::new(MAX_CONCURRENT_RECOMPUTES),
            runs,
            hot,
            logs: Arc::clone(&options.logs),
            bounces: options.bounces,
            webhooks_secret: options.webhooks_secret.clone(),
            shutting_down: AtomicBool::new(false),
        }
    }

    pub fn with_auth(self, auth: auth::AuthState) -> Self {
        Self { auth, ..self }
    }

    /// The same state with runs run as `settings` say (the server's settings, its schedule).
    pub fn with_runs(mut self, settings: RunSettings) -> Self {
        self.runs = RunManager::new(
            Arc::clone(&self.store),
            settings,
            Arc::new(metrics::RunMetrics),
            Arc::clone(&self.hot),
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

fn openapi_service() -> OpenApiService<auth::Secured<Api>, ()> {
    let api = all_apis();
    OpenApiService::new(auth::Secured(api), "mailscore", env!("CARGO_PKG_VERSION"))
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
            .chain(tracking::ROUTES.iter().copied())
            .chain(webhooks::ROUTES.iter().copied()),
    )
}

/// The whole application: every route, behind the access rule (`auth.rs`), with the
/// middleware around it.
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
        .nest("/webhooks", webhooks::routes())
        .nest("/", service)
        .data(Arc::clone(&state));
    let routes = auth::authorize(routes, state, policy.routes.clone());
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
    /// What stored emails are rendered with (templates, sender, base URL of the links).
    pub email: EmailSettings,
    /// The scoring settings (eligibility of a job on a date).
    pub scoring: ScoringConfig,
    /// Where uploads are written (`uploads/`).
    pub data_dir: PathBuf,
    /// How uploaded files are read (`import.encoding`, `import.max_shrink_percent`).
    pub import_encoding: EncodingChoice,
    pub max_shrink_percent: u32,
    /// TLS on that listener, when the settings name a certificate source; `None` serves
    /// plain HTTP (behind a proxy that terminates TLS, or on this machine only).
    pub tls: Option<tls::TlsOptions>,
    /// Whether the session cookie is `Secure`: true when clients reach the server over
    /// TLS (its own, or a proxy's); the server's own TLS sets it too.
    pub secure_cookies: bool,
    /// The first admin, created at start when no account exists.
    pub first_admin: Option<FirstAdmin>,
    /// The server's public URL, for the setup link.
    pub base_url: String,
    /// How the server's runs are run, and the schedule it starts them on.
    pub runs: RunSettings,
    /// The ring `GET /api/logs` reads: the one `telemetry::init` fills with the process's
    /// warnings and errors. The default is a ring of its own that nothing fills.
    pub logs: Arc<LogRing>,
    /// Whether the server writes `server.json` and a local admin token into `data_dir`
    /// once it accepts connections, so that the command line on this machine sends its
    /// work here (`service::local_server`); `mailscore serve` does, tests that start a
    /// server in their own process need not.
    pub local_access: bool,
    /// How bounces count and how often the DSN drop folder is read (`[bounces]`).
    pub bounces: crate::bounces::BounceSettings,
    /// The provider webhooks' shared secret (`webhooks.secret`).
    pub webhooks_secret: Option<webhooks::WebhookSecret>,
}

impl ServeOptions {
    /// Serving `data_dir` on `listen` with links checked by `signer` and every other
    /// setting at its default: Tokyo time, the built-in email settings and scoring, plain
    /// HTTP.
    pub fn new(listen: SocketAddr, data_dir: PathBuf, signer: TokenSigner) -> Self {
        Self {
            listen,
            runs: RunSettings::new(TimeZoneSetting::tokyo(), signer.clone()),
            signer,
            time_zone: TimeZoneSetting::tokyo(),
            email: EmailSettings::default(),
            scoring: ScoringConfig::default(),
            data_dir,
            import_encoding: EncodingChoice::Auto,
            max_shrink_percent: crate::ingest::DEFAULT_MAX_SHRINK_PERCENT,
            tls: None,
            secure_cookies: false,
            first_admin: None,
            base_url: format!("http://{listen}"),
            logs: Arc::new(LogRing::new(crate::telemetry::RING_CAPACITY)),
            local_access: false,
            bounces: crate::bounces::BounceSettings::default(),
            webhooks_secret: None,
        }
    }

    /// The options the settings give; reads (or creates) the secret key.
    pub fn from_settings(settings: &Settings) -> Result<Self, ServiceError> {
        let signer = TokenSigner::new(&settings.create_secret_key_bytes()?);
        Ok(Self {
            listen: settings.listen,
            runs: RunSettings::from_settings(settings, signer.clone())?,
            signer,
            time_zone: settings.time_zone.clone(),
            email: settings.email.clone(),
            scoring: settings.scoring.clone(),
            data_dir: settings.data_dir.clone(),
            import_encoding: settings.import_encoding,
            max_shrink_percent: settings.import_max_shrink_percent,
            tls: tls::TlsOptions::from_settings(settings),
            secure_cookies: settings.secure_cookies,
            first_admin: settings
                .admin_email
                .clone()
                .zip(settings.admin_password.clone())
                .map(|(email, password)| FirstAdmin { email, password }),
            base_url: settings.email.base_url.clone(),
            logs: Arc::new(LogRing::new(crate::telemetry::RING_CAPACITY)),
            local_access: true,
            bounces: settings.bounces,
            webhooks_secret: settings
                .webhooks_secret
                .clone()
                .map(webhooks::WebhookSecret::new),
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
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot wait for the shutdown signals: {0}")]
    Signal(std::io::Error),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "cannot create the first admin: {0}\nhint: check MAILSCORE_ADMIN_EMAIL and \
         MAILSCORE_ADMIN_PASSWORD (at least 12 characters), or unset both to get a setup link"
    )]
    FirstAdmin(crate::service::accounts::AccountError),
    #[error(transparent)]
    LocalAccess(#[from] LocalServerError),
}

/// A server that is accepting connections.
pub struct RunningServer {
    local_addr: SocketAddr,
    state: Arc<AppState>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    gauges: JoinHandle<()>,
    /// Ends when told to through `stop_token_uses`, after writing what is noted.
    token_uses: JoinHandle<()>,
    stop_token_uses: tokio::sync::oneshot::Sender<()>,
    /// Imports the DSN drop folder every `bounces.scan_interval`.
    bounce_folder: JoinHandle<()>,
    /// What runs beside a TLS listener (certificate watcher or renewal, redirect listener).
    tls: Option<tls::TlsRuntime>,
    scheduler: JoinHandle<()>,
    /// `server.json` and the local token, when the options asked for them.
    local_access: Option<LocalAccess>,
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
    // The certificate is loaded (or made) before anything is served, so a missing or
    // broken file stops the start with an error naming it.
    let prepared_tls = match &options.tls {
        Some(tls_options) => Some(tls::prepare(tls_options).await?),
        None => None,
    };
    let is_tls = prepared_tls.is_some();
    let setup = first_admin_setup(store.as_ref(), options, local_addr).await?;
    let sessions = Arc::new(MokaCache::new(
        auth::SESSION_CACHE,
        auth::SESSION_CACHE_CAPACITY,
    ));
    let state = Arc::new(
        AppState::new(store, options).with_auth(auth::AuthState::new(
            sessions,
            setup,
            options.secure_cookies || is_tls,
        )),
    );
    let policy = Policy {
        max_body_bytes: MAX_BODY_BYTES,
        request_timeout: REQUEST_TIMEOUT,
        max_upload_bytes: MAX_UPLOAD_BYTES,
        upload_timeout: UPLOAD_TIMEOUT,
        upload_routes: UPLOAD_ROUTES.to_vec(),
        batch_routes: BATCH_ROUTES.to_vec(),
        // HSTS is only true of a TLS listener.
        hsts: is_tls.then(|| HeaderValue::from_static(tls::HSTS_VALUE)),
        tls: is_tls,
        routes: route_templates(),
    };
    let endpoint = app(Arc::clone(&state), policy);
    let (stop, stopped) = oneshot::channel::<()>();
    let (server, tls_runtime) = match prepared_tls {
        Some(prepared) => {
            let server = spawn_server(prepared.acceptor(acceptor), endpoint, stopped);
            let redirect = options
                .tls
                .as_ref()
                .and_then(|tls_options| tls_options.http_redirect_listen);
            match prepared.start(redirect, local_addr.port()).await {
                Ok(runtime) => (server, Some(runtime)),
                Err(error) => {
                    server.abort();
                    return Err(error.into());
                }
            }
        }
        None => (spawn_server(acceptor, endpoint, stopped), None),
    };
    let local_access = if options.local_access {
        let announced = announce_locally(&state, options, local_addr).await;
        match announced {
            Ok(access) => Some(access),
            Err(error) => {
                server.abort();
                if let Some(tls) = tls_runtime {
                    tls.shutdown().await;
                }
                return Err(error.into());
            }
        }
    } else {
        None
    };
    let gauges = tokio::spawn(refresh_store_gauges(Arc::clone(&state.store)));
    let (stop_token_uses, token_uses_stopped) = tokio::sync::oneshot::channel();
    let token_uses = tokio::spawn(write_token_uses(
        Arc::clone(&state.store),
        state.auth.tokens.clone(),
        token_uses_stopped,
    ));
    let bounce_folder = tokio::spawn(import_bounce_folder(
        Arc::clone(&state),
        crate::service::bounces::drop_dir(&options.data_dir),
    ));
    let scheduler = tokio::spawn(Arc::clone(&state.runs).run_schedule());
    tracing::info!(addr = %local_addr, tls = is_tls, "serving");
    Ok(RunningServer {
        local_addr,
        state,
        stop,
        server,
        gauges,
        token_uses,
        stop_token_uses,
        bounce_folder,
        scheduler,
        tls: tls_runtime,
        local_access,
    })
}

/// Writes `server.json` (the address this machine reaches the server on, the PID, and
/// with a self-signed certificate the file to trust) and the local admin token into the
/// data directory.
async fn announce_locally(
    state: &AppState,
    options: &ServeOptions,
    local_addr: SocketAddr,
) -> Result<LocalAccess, LocalServerError> {
    let ca_file = options.tls.as_ref().and_then(|tls_options| {
        matches!(tls_options.source, crate::config::TlsSource::SelfSigned)
            .then(|| PathBuf::from(tls::TLS_DIR).join(tls::SELF_SIGNED_CERT_FILE))
    });
    let file = ServerFile::for_this_process(local_addr, options.tls.is_some(), ca_file);
    let access = local_server::announce(state.store.as_ref(), &options.data_dir, &file).await?;
    tracing::info!(
        file = %options.data_dir.join(local_server::SERVER_FILE).display(),
        url = %file.url,
        "commands on this data directory are sent to this server"
    );
    Ok(access)
}

/// Serves `endpoint` on `acceptor` until `stopped` fires, then drains for
/// [`SHUTDOWN_DEADLINE`].
fn spawn_server(
    acceptor: impl Acceptor + 'static,
    endpoint: impl Endpoint + 'static,
    stopped: oneshot::Receiver<()>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(
        Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            endpoint,
            async {
                let _ = stopped.await;
            },
            Some(SHUTDOWN_DEADLINE),
        ),
    )
}

/// Creates the first admin from the options when no account exists, or else, when none
/// exists either, a one-time setup token whose link goes to the log (standard error).
async fn first_admin_setup(
    store: &dyn Store,
    options: &ServeOptions,
    local_addr: SocketAddr,
) -> Result<SetupToken, ServeError> {
    let outcome = bootstrap(store, options.first_admin.as_ref())
        .await
        .map_err(ServeError::FirstAdmin)?;
    Ok(match outcome {
        Bootstrap::AccountsExist => SetupToken::used(),
        Bootstrap::Created(account) => {
            tracing::info!(email = %account.email, "created the first admin from MAILSCORE_ADMIN_EMAIL");
            SetupToken::used()
        }
        Bootstrap::SetupRequired(setup) => {
            let token = setup.pending().unwrap_or_default();
            // The default base URL names the default port; a server listening on a
            // particular other address is more likely reached there.
            let base = if options.base_url == crate::render::DEFAULT_BASE_URL
                && !local_addr.ip().is_unspecified()
            {
                format!("http://{local_addr}")
            } else {
                options.base_url.trim_end_matches('/').to_owned()
            };
            tracing::warn!(
                "no account exists: create the first admin at {base}/setup?token={token} \
                 (or: curl -X POST http://{local_addr}/api/setup -H 'content-type: application/json' \
                 -d '{{\"token\":\"{token}\",\"email\":\"…\",\"password\":\"…\"}}'); \
                 the link works once, and only until this process stops"
            );
            setup
        }
    })
}

/// Binds, serves until SIGTERM or SIGINT, then shuts down gracefully. `on_ready` is told
/// the bound address once connections are accepted.
pub async fn serve(
    store: Arc<dyn Store>,
    options: &ServeOptions,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    // Listening before the server says it is ready: a SIGTERM from then on is a clean
    // shutdown (which removes `server.json`), never the default end of the process.
    let signals = ShutdownSignals::listen().map_err(ServeError::Signal)?;
    let server = start(store, options).await?;
    on_ready(server.local_addr());
    server.run_until_signal(signals).await
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the plain HTTP listener that redirects to HTTPS, if there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(tls::TlsRuntime::redirect_addr)
    }

    /// The first admin's setup token, while the setup is pending.
    pub fn setup_token(&self) -> Option<String> {
        self.state.auth.setup.pending()
    }

    /// Waits for SIGTERM or SIGINT on `signals`, then shuts down ([`Self::shutdown`]).
    /// Returns early when the server stops by itself (an accept error).
    pub async fn run_until_signal(
        mut self,
        mut signals: ShutdownSignals,
    ) -> Result<(), ServeError> {
        tokio::select! {
            () = signals.next() => {
                tracing::info!("shutdown signal received");
                self.shutdown().await
            }
            ended = &mut self.server => {
                self.gauges.abort();
                let _ = self.stop_token_uses.send(());
                let _ = (&mut self.token_uses).await;
                self.bounce_folder.abort();
                if let Some(tls) = self.tls.take() {
                    tls.shutdown().await;
                }
                self.scheduler.abort();
                if let Some(access) = self.local_access.take() {
                    local_server::withdraw(self.state.store.as_ref(), access).await;
                }
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
    /// their connections are closed; last, `server.json` and the local token are removed
    /// (and the token revoked). Returns when the server has stopped.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.state.begin_shutdown();
        self.scheduler.abort();
        self.state.runs.shutdown().await;
        self.gauges.abort();
        self.bounce_folder.abort();
        let _ = self.stop.send(());
        if let Some(tls) = self.tls {
            tls.shutdown().await;
        }
        let stopped = self.server.await;
        // No request is left: what the tracked opens and clicks queued is committed now,
        // and the token uses noted.
        self.state.tracking.stop().await;
        let _ = self.stop_token_uses.send(());
        let _ = self.token_uses.await;
        // The command line opens the store itself from now on.
        if let Some(access) = self.local_access {
            local_server::withdraw(self.state.store.as_ref(), access).await;
        }
        stopped??;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// SIGINT (Ctrl-C), or SIGTERM where there is one (what `docker stop` and Kubernetes send),
/// listened to from [`ShutdownSignals::listen`] on.
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Takes both signals over from now on (on the current runtime).
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// The next of them.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Writes the API tokens' noted uses every [`TOKEN_USE_FLUSH_INTERVAL`], off the requests'
/// path, and once more when `stop` fires (or its sender is dropped); then ends, letting go
/// of the store.
async fn write_token_uses(
    store: Arc<dyn Store>,
    tokens: TokenCache,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut interval = tokio::time::interval(TOKEN_USE_FLUSH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let last = tokio::select! {
            _ = interval.tick() => false,
            _ = &mut stop => true,
        };
        if let Err(error) =
            crate::service::accounts::flush_token_uses(store.as_ref(), &tokens).await
        {
            tracing::warn!(error = %ErrorChain(&error), "the API tokens' last uses were not written");
        }
        if last {
            return;
        }
    }
}

/// Sets the store gauges from the store's status and the latest run's date now and every
/// [`STORE_GAUGES_INTERVAL`] (they read every user, the job columns and the date's picks
/// and emails: too much for every scrape).
async fn refresh_store_gauges(store: Arc<dyn Store>) {
    use crate::service::status::{latest_day_status, store_status};
    loop {
        match store_status(store.as_ref()).await {
            Ok(status) => metrics::record_store_status(&status),
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "the store gauges were not refreshed")
            }
        }
        match latest_day_status(store.as_ref()).await {
            Ok(day) => metrics::record_day_status(day.as_ref()),
            Err(error) => tracing::warn!(
                error = %ErrorChain(&error),
                "the picks and emails gauges were not refreshed"
            ),
        }
        tokio::time::sleep(STORE_GAUGES_INTERVAL).await;
    }
}

/// Imports the DSN files dropped into `dir` now and every `bounces.scan_interval`; each
/// file imported or rejected is logged, a rejected one as a warning with its reason.
async fn import_bounce_folder(state: Arc<AppState>, dir: PathBuf) {
    use crate::service::bounces::{DsnFileOutcome, import_dsn_dir};
    loop {
        let now = jiff::Timestamp::now().as_microsecond();
        match import_dsn_dir(state.store.as_ref(), &dir, state.bounces.soft_rule, now).await {
            Ok(import) => {
                metrics::record_dsn_import(&import);
                let mut suppressed = false;
                for file in &import.files {
                    match &file.outcome {
                        DsnFileOutcome::Imported(report) => {
                            suppressed |= report.suppressed().next().is_some();
                            tracing::info!(
                                file = %file.name,
                                events = report.stored.len(),
                                duplicates = report.duplicates,
                                "imported a DSN from the bounce folder"
                            );
                        }
                        DsnFileOutcome::Rejected(error) => tracing::warn!(
                            file = %file.name,
                            error = %error,
                            hint = error.hint,
                            "rejected a file of the bounce folder: moved to rejected/"
                        ),
                    }
                }
                if suppressed {
                    state.hot.data_changed();
                }
            }
            Err(error) => tracing::warn!(
                error = %ErrorChain(&error),
                dir = %dir.display(),
                "the bounce folder was not read"
            ),
        }
        tokio::time::sleep(state.bounces.scan_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::RedbStore;

    fn test_app() -> (tempfile::TempDir, Arc<AppState>, impl Endpoint) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let options = ServeOptions::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().to_path_buf(),
            TokenSigner::new(b"test key"),
        );
        let state = Arc::new(AppState::new(Arc::new(store), &options));
        let policy = Policy {
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: REQUEST_TIMEOUT,
            max_upload_bytes: MAX_UPLOAD_BYTES,
            upload_timeout: UPLOAD_TIMEOUT,
            upload_routes: UPLOAD_ROUTES.to_vec(),
            batch_routes: BATCH_ROUTES.to_vec(),
            hsts: None,
            tls: false,
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

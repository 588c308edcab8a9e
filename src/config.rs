//! Settings: command-line flags, then `MAILSCORE_*` environment variables, then an optional
//! TOML file, then the documented defaults below, in that order of precedence.
//!
//! Every key, its environment variable and its default is listed in `mailscore.example.toml`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::delivery::dkim::{DkimSettings, check_dns_name};
use crate::domain::TimeZoneSetting;
use crate::domain::time::DEFAULT_TIME_ZONE;
use crate::ingest::EncodingChoice;

/// Default data directory (`data_dir`, `MAILSCORE_DATA_DIR`, `--data-dir`).
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default log format (`log.format`, `MAILSCORE_LOG_FORMAT`, `--log-format`) of every
/// command but `serve`: lines for a person at a terminal.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Human;
/// Default log format of `serve`, which logs to standard output: JSON lines, for the log
/// collector that reads a container's standard output.
pub const DEFAULT_SERVE_LOG_FORMAT: LogFormat = LogFormat::Json;
/// Whether `serve` also writes its log to daily files (`log.files`, `MAILSCORE_LOG_FILES`,
/// `serve --log-files`).
pub const DEFAULT_LOG_FILES: bool = true;
/// The directory of the data directory that holds the log files unless `log.dir`
/// (`MAILSCORE_LOG_DIR`, `serve --log-dir`) names another.
pub const LOG_DIR_NAME: &str = "logs";
/// How many daily log files are kept, the newest (`log.retention_days`,
/// `MAILSCORE_LOG_RETENTION_DAYS`, `serve --log-retention-days`).
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 14;
/// The most daily log files that may be kept (ten years).
pub const MAX_LOG_RETENTION_DAYS: u32 = 3650;
/// Default log level (`log.level`, `MAILSCORE_LOG_LEVEL`, `--log-level`).
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default page cache of the embedded store in MiB (`storage.cache_mb`, `MAILSCORE_STORAGE_CACHE_MB`).
pub const DEFAULT_STORAGE_CACHE_MB: usize = 16;
/// Default address the server listens on (`server.listen`, `MAILSCORE_LISTEN`,
/// `serve --listen`): loopback only, so that a server started by hand is not reachable
/// from the network until the operator says so (`0.0.0.0:8080`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Whether the session cookie is `Secure` (`server.secure_cookies`,
/// `MAILSCORE_SECURE_COOKIES`, `serve --secure-cookies`): off, since a server started by
/// hand speaks plain HTTP; on behind a TLS proxy.
pub const DEFAULT_SECURE_COOKIES: bool = false;
/// The environment variable of the first admin's password (environment only: a flag or a
/// file would leave it in the process list or on disk).
pub const ADMIN_PASSWORD_ENV: &str = "MAILSCORE_ADMIN_PASSWORD";
/// The environment variable of the SMTP password (environment only, like the admin's;
/// `smtp.password_file` names a file instead).
pub const SMTP_PASSWORD_ENV: &str = "MAILSCORE_SMTP_PASSWORD";
/// File in the data directory holding the generated secret key when none is configured.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Default ACME directory (`server.acme_directory`): Let's Encrypt's production service.
/// Its staging directory, for trying a setup without its rate limits, is
/// `https://acme-staging-v02.api.letsencrypt.org/directory`.
pub const DEFAULT_ACME_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Default ACME challenge (`server.acme_challenge`): TLS-ALPN-01, answered on the TLS
/// listener itself, so it needs no second port.
pub const DEFAULT_ACME_CHALLENGE: AcmeChallenge = AcmeChallenge::TlsAlpn01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// How the ACME server checks that this server answers for its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AcmeChallenge {
    /// A special certificate on the TLS listener (`acme-tls/1`); the CA connects to port 443
    /// of each domain, which must reach `server.listen`.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// A token under `/.well-known/acme-challenge/` on the plain HTTP listener; the CA
    /// connects to port 80 of each domain, which must reach `server.http_redirect_listen`.
    #[serde(rename = "http-01")]
    Http01,
}

impl AcmeChallenge {
    pub fn name(self) -> &'static str {
        match self {
            Self::TlsAlpn01 => "tls-alpn-01",
            Self::Http01 => "http-01",
        }
    }
}

/// Where the server's certificate comes from, when it speaks TLS itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files (`server.tls_cert`, `server.tls_key`), reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate for this machine made and kept in the data directory
    /// (`server.tls_self_signed`).
    SelfSigned,
    /// Certificates from an ACME CA (`server.acme_domains`).
    Acme(AcmeSettings),
}

/// The ACME account and order (`server.acme_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The names of the certificate, lower case, each a DNS name without a wildcard.
    pub domains: Vec<String>,
    /// The account's contact, as a `mailto:` URL.
    pub contact: String,
    pub directory: String,
    /// Roots to trust for the directory's HTTPS instead of the built-in ones (a test CA
    /// such as pebble's, or a private CA).
    pub ca_file: Option<PathBuf>,
    pub challenge: AcmeChallenge,
}

/// TLS as the server terminates it (`[server]`); no source means plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub source: Option<TlsSource>,
    /// A plain HTTP listener that redirects to HTTPS (and answers HTTP-01 challenges).
    pub http_redirect_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("setting time_zone: {0}")]
    TimeZone(String),
    #[error("the configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A setting's value is unusable; `origin` says where it was given.
    #[error("setting {key} ({origin}): {message}")]
    Value {
        key: &'static str,
        origin: String,
        message: String,
    },
    #[error(
        "no secret key: {} does not exist and none is configured; \
         restore the file, or set --secret-key / MAILSCORE_SECRET_KEY / secret_key \
         (emails are signed with the key of the run that queued them)",
        path.display()
    )]
    MissingSecretKey { path: PathBuf },
}

/// Checks `email.base_url`: an absolute `http` or `https` URL with a host and neither a
/// query nor a fragment (links are built by appending paths to it). A hand check rather
/// than the `url` crate: these few rules are all the links need.
pub fn check_base_url(text: &str) -> Result<(), String> {
    let example = "example: base_url = \"https://mail.example.jp\"";
    let fail = |what: &str| Err(format!("{text:?} {what}; {example}"));
    let Some((scheme, rest)) = text.split_once("://") else {
        return fail("is not an absolute URL (it needs http:// or https://)");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return fail("has a scheme other than http or https");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("contains a space or a control character");
    }
    if text.contains('?') || text.contains('#') {
        return fail("has a query or a fragment (links are built by appending a path)");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return fail("carries a user name or password");
    }
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal ("[::1]") holds colons of its own.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return fail("has a port that is not a number from 0 to 65535");
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            })
    };
    if !host_ok {
        return fail("has no valid host name");
    }
    Ok(())
}

/// The TOML file's shape; every key optional. No `Debug`: it holds the secrets as read.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    time_zone: Option<String>,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    storage: FileStorage,
    #[serde(default)]
    import: FileImport,
    #[serde(default)]
    email: FileEmail,
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    scoring: crate::scoring::ScoringConfig,
    #[serde(default)]
    dkim: FileDkim,
    #[serde(default)]
    smtp: FileSmtp,
    #[serde(default)]
    bounces: FileBounces,
    #[serde(default)]
    webhooks: FileWebhooks,
    #[serde(default)]
    delivery: FileDelivery,
    /// Key that signs the links in emails (hex or any text of 32+ characters).
    secret_key: Option<String>,
    schedule: Option<String>,
}

/// No `Debug`: it holds the LLM API key as read.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEmail {
    base_url: Option<String>,
    sender_name: Option<String>,
    sender_email: Option<String>,
    sender_address: Option<String>,
    newsletter_name: Option<String>,
    templates_dir: Option<PathBuf>,
    title_max_chars: Option<usize>,
    llm_url: Option<String>,
    llm_model: Option<String>,
    llm_api_key: Option<String>,
    llm_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<LogFormat>,
    level: Option<String>,
    files: Option<bool>,
    dir: Option<PathBuf>,
    retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_self_signed: Option<bool>,
    acme_domains: Option<Vec<String>>,
    acme_contact: Option<String>,
    acme_directory: Option<String>,
    acme_ca_file: Option<PathBuf>,
    acme_challenge: Option<AcmeChallenge>,
    http_redirect_listen: Option<String>,
    secure_cookies: Option<bool>,
    admin_email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDkim {
    domain: Option<String>,
    selector: Option<String>,
    key_file: Option<PathBuf>,
}

/// No `Debug`: its URL may hold the password.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSmtp {
    url: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    pool_size: Option<u32>,
    concurrency: Option<usize>,
    timeout_secs: Option<u64>,
    rate_per_second: Option<u32>,
    rate_per_hour: Option<u32>,
    max_attempts: Option<u32>,
    retry_base_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    pause_window: Option<usize>,
    pause_threshold_percent: Option<f64>,
    at_least_once: Option<bool>,
    deadline_minutes: Option<u64>,
    return_path: Option<String>,
    reply_to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBounces {
    soft_limit: Option<u32>,
    soft_window_days: Option<u32>,
    scan_interval_seconds: Option<u64>,
}

/// No `Debug`: it holds the webhook secret as read.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhooks {
    secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDelivery {
    require_consent: Option<bool>,
}

/// The shortest webhook secret taken: it is all that keeps strangers from suppressing
/// addresses.
pub const MIN_WEBHOOK_SECRET_CHARS: usize = 16;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStorage {
    cache_mb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileImport {
    encoding: Option<EncodingChoice>,
    max_shrink_percent: Option<u32>,
}

/// Values given on the command line or in the environment (clap reads both); `None` where
/// neither gave one. `Debug` shows whether a secret is set, never the secret.
#[derive(Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub time_zone: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub log_files: Option<bool>,
    pub log_dir: Option<PathBuf>,
    pub log_retention_days: Option<u32>,
    pub storage_cache_mb: Option<usize>,
    pub import_encoding: Option<EncodingChoice>,
    pub import_max_shrink_percent: Option<u32>,
    pub secret_key: Option<String>,
    pub base_url: Option<String>,
    pub schedule: Option<String>,
    pub llm_api_key: Option<String>,
    pub webhooks_secret: Option<String>,
    pub require_consent: Option<bool>,
    pub dkim_domain: Option<String>,
    pub dkim_selector: Option<String>,
    pub dkim_key_file: Option<PathBuf>,
    /// `--smtp-url`, `MAILSCORE_SMTP_URL`.
    pub smtp_url: Option<String>,
    /// `--smtp-rate-per-second`, `MAILSCORE_SMTP_RATE_PER_SECOND`.
    pub smtp_rate_per_second: Option<u32>,
    /// Only from [`SMTP_PASSWORD_ENV`].
    pub smtp_password: Option<String>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--tls-self-signed`: true when given; false leaves the file's choice.
    pub tls_self_signed: bool,
    pub secure_cookies: Option<bool>,
    pub admin_email: Option<String>,
    /// Only from [`ADMIN_PASSWORD_ENV`].
    pub admin_password: Option<String>,
}

/// The settings in force. `Debug` shows whether a secret is set, never the secret.
#[derive(Clone)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub time_zone: TimeZoneSetting,
    /// The log format when one is given; else it depends on the command
    /// ([`Settings::log_format_for`]).
    pub log_format: Option<LogFormat>,
    pub log_level: String,
    /// Where `serve` writes its daily log files (`log.dir`, default `DATA_DIR/logs`);
    /// `None` when `log.files` is off.
    pub log_dir: Option<PathBuf>,
    /// How many daily log files are kept.
    pub log_retention_days: u32,
    pub storage_cache_mb: usize,
    pub import_encoding: EncodingChoice,
    /// The snapshot guard: a job feed that would deactivate more than this percentage of
    /// the active jobs is refused (`import jobs --allow-shrink` forces one).
    pub import_max_shrink_percent: u32,
    pub email: crate::render::EmailSettings,
    /// The configured secret key, if any (else one is generated in the data directory).
    pub secret_key: Option<String>,
    /// Cron expression of the daily run.
    pub schedule: String,
    /// The subject endpoint, when `email.llm_url` is set.
    pub llm: Option<crate::subject_llm::LlmSettings>,
    /// Every number of the scoring and the picks (`[scoring]`).
    pub scoring: crate::scoring::ScoringConfig,
    /// Who signs the outgoing messages (`[dkim]`), when all three keys are set. The key
    /// file is only named here; [`DkimSettings::signer`] reads it.
    pub dkim: Option<DkimSettings>,
    /// How emails are sent (`[smtp]`); `Debug` masks the password.
    pub smtp: crate::delivery::SmtpSettings,
    /// How bounces count and how often `serve` reads the drop folder (`[bounces]`).
    pub bounces: crate::bounces::BounceSettings,
    /// The shared secret of the provider webhooks (`webhooks.secret`); `None` turns them off.
    pub webhooks_secret: Option<String>,
    /// Users without a consent record get no email (`delivery.require_consent`).
    pub require_consent: bool,
    /// Where `serve` listens (`server.listen`).
    pub listen: std::net::SocketAddr,
    /// Whether and how `serve` speaks TLS (`server.tls_*`, `server.acme_*`).
    pub tls: TlsSettings,
    /// Whether the session cookie is `Secure` (`server.secure_cookies`).
    pub secure_cookies: bool,
    /// The first admin, created by `serve` when no account exists (`server.admin_email`
    /// and [`ADMIN_PASSWORD_ENV`], both or neither).
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
}

/// What `Debug` prints in place of a secret that is set.
const REDACTED: &str = "<redacted>";

/// A secret for `Debug`: whether it is set, never its text.
fn redact(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

/// Written by hand so that a logged or printed `{:?}` never shows the secret key; the LLM
/// settings redact their own API key. The destructuring makes a new field a compile error here.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            config_file,
            data_dir,
            time_zone,
            log_format,
            log_level,
            log_dir,
            log_retention_days,
            storage_cache_mb,
            import_encoding,
            import_max_shrink_percent,
            email,
            secret_key,
            schedule,
            llm,
            scoring,
            dkim,
            smtp,
            bounces,
            webhooks_secret,
            require_consent,
            listen,
            tls,
            secure_cookies,
            admin_email,
            admin_password,
        } = self;
        f.debug_struct("Settings")
            .field("config_file", config_file)
            .field("data_dir", data_dir)
            .field("time_zone", time_zone)
            .field("log_format", log_format)
            .field("log_level", log_level)
            .field("log_dir", log_dir)
            .field("log_retention_days", log_retention_days)
            .field("storage_cache_mb", storage_cache_mb)
            .field("import_encoding", import_encoding)
            .field("import_max_shrink_percent", import_max_shrink_percent)
            .field("email", email)
            .field("secret_key", &redact(secret_key))
            .field("schedule", schedule)
            .field("llm", llm)
            .field("scoring", scoring)
            .field("dkim", dkim)
            .field("smtp", smtp)
            .field("bounces", bounces)
            .field("webhooks_secret", &redact(webhooks_secret))
            .field("require_consent", require_consent)
            .field("listen", listen)
            .field("tls", tls)
            .field("secure_cookies", secure_cookies)
            .field("admin_email", admin_email)
            .field("admin_password", &redact(admin_password))
            .finish()
    }
}

/// Written by hand for the same reason as `Settings`: the flags carry the secrets too.
impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            config,
            data_dir,
            time_zone,
            log_format,
            log_level,
            log_files,
            log_dir,
            log_retention_days,
            storage_cache_mb,
            import_encoding,
            import_max_shrink_percent,
            secret_key,
            base_url,
            schedule,
            llm_api_key,
            webhooks_secret,
            require_consent,
            dkim_domain,
            dkim_selector,
            dkim_key_file,
            smtp_url,
            smtp_rate_per_second,
            smtp_password,
            listen,
            tls_cert,
            tls_key,
            tls_self_signed,
            secure_cookies,
            admin_email,
            admin_password,
        } = self;
        f.debug_struct("Overrides")
            .field("config", config)
            .field("data_dir", data_dir)
            .field("time_zone", time_zone)
            .field("log_format", log_format)
            .field("log_level", log_level)
            .field("log_files", log_files)
            .field("log_dir", log_dir)
            .field("log_retention_days", log_retention_days)
            .field("storage_cache_mb", storage_cache_mb)
            .field("import_encoding", import_encoding)
            .field("import_max_shrink_percent", import_max_shrink_percent)
            .field("secret_key", &redact(secret_key))
            .field("base_url", base_url)
            .field("schedule", schedule)
            .field("llm_api_key", &redact(llm_api_key))
            .field("webhooks_secret", &redact(webhooks_secret))
            .field("require_consent", require_consent)
            .field("dkim_domain", dkim_domain)
            .field("dkim_selector", dkim_selector)
            .field("dkim_key_file", dkim_key_file)
            .field(
                "smtp_url",
                &smtp_url.as_deref().map(crate::delivery::smtp::mask_url),
            )
            .field("smtp_rate_per_second", smtp_rate_per_second)
            .field("smtp_password", &redact(smtp_password))
            .field("listen", listen)
            .field("tls_cert", tls_cert)
            .field("tls_key", tls_key)
            .field("tls_self_signed", tls_self_signed)
            .field("secure_cookies", secure_cookies)
            .field("admin_email", admin_email)
            .field("admin_password", &redact(admin_password))
            .finish()
    }
}

impl Settings {
    pub fn load(overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match &overrides.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let listen = parse_listen(
            overrides.listen.as_deref(),
            file.server.listen.as_deref(),
            overrides.config.as_deref(),
        )?;
        let tls = parse_tls(&overrides, &file.server, listen)?;
        let dkim = parse_dkim(&overrides, &file.dkim)?;
        let smtp = parse_smtp(&overrides, &file.smtp)?;
        let bounces = parse_bounces(&file.bounces, overrides.config.as_deref())?;
        let webhooks_secret = overrides
            .webhooks_secret
            .clone()
            .or(file.webhooks.secret)
            .map(|secret| secret.trim().to_owned());
        if let Some(secret) = &webhooks_secret
            && secret.chars().count() < MIN_WEBHOOK_SECRET_CHARS
        {
            return Err(ConfigError::Value {
                key: "webhooks.secret",
                origin: server_origin(
                    overrides.webhooks_secret.is_some(),
                    "MAILSCORE_WEBHOOKS_SECRET",
                    overrides.config.as_deref(),
                ),
                message: format!(
                    "the secret has fewer than {MIN_WEBHOOK_SECRET_CHARS} characters; \
                     give a long random one (openssl rand -hex 24)"
                ),
            });
        }
        let require_consent = overrides
            .require_consent
            .or(file.delivery.require_consent)
            .unwrap_or(DEFAULT_REQUIRE_CONSENT);
        let time_zone_name = overrides
            .time_zone
            .or(file.time_zone)
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
        let time_zone = TimeZoneSetting::parse(&time_zone_name)
            .map_err(|e| ConfigError::TimeZone(e.to_string()))?;
        let (base_url, base_url_origin) = match (&overrides.base_url, &file.email.base_url) {
            (Some(url), _) => (
                url.clone(),
                "from --base-url or MAILSCORE_BASE_URL".to_owned(),
            ),
            (None, Some(url)) => (
                url.clone(),
                match &overrides.config {
                    Some(path) => format!("from {}", path.display()),
                    None => "from the configuration file".to_owned(),
                },
            ),
            (None, None) => (
                crate::render::DEFAULT_BASE_URL.to_owned(),
                "the default".to_owned(),
            ),
        };
        check_base_url(&base_url).map_err(|message| ConfigError::Value {
            key: "email.base_url",
            origin: base_url_origin,
            message,
        })?;
        if let (Some(path), Err(message)) = (&overrides.config, file.scoring.validate()) {
            return Err(ConfigError::Invalid {
                path: path.clone(),
                message,
            });
        }
        let admin_email = overrides.admin_email.or(file.server.admin_email);
        if admin_email.is_none() && overrides.admin_password.is_some() {
            return Err(first_admin_incomplete());
        }
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let log_retention_days = match overrides.log_retention_days.or(file.log.retention_days) {
            Some(days) if !(1..=MAX_LOG_RETENTION_DAYS).contains(&days) => {
                return Err(ConfigError::Value {
                    key: "log.retention_days",
                    origin: server_origin(
                        overrides.log_retention_days.is_some(),
                        "--log-retention-days or MAILSCORE_LOG_RETENTION_DAYS",
                        overrides.config.as_deref(),
                    ),
                    message: format!(
                        "{days} is not a number of days to keep; give 1 to \
                         {MAX_LOG_RETENTION_DAYS} (or turn the files off with log.files = false)"
                    ),
                });
            }
            Some(days) => days,
            None => DEFAULT_LOG_RETENTION_DAYS,
        };
        let log_dir = overrides
            .log_files
            .or(file.log.files)
            .unwrap_or(DEFAULT_LOG_FILES)
            .then(|| {
                overrides
                    .log_dir
                    .or(file.log.dir)
                    .unwrap_or_else(|| data_dir.join(LOG_DIR_NAME))
            });
        Ok(Self {
            dkim,
            smtp,
            bounces,
            webhooks_secret,
            require_consent,
            listen,
            tls,
            secure_cookies: overrides
                .secure_cookies
                .or(file.server.secure_cookies)
                .unwrap_or(DEFAULT_SECURE_COOKIES),
            admin_email,
            admin_password: overrides.admin_password,
            config_file: overrides.config,
            data_dir,
            time_zone,
            log_format: overrides.log_format.or(file.log.format),
            log_level: overrides
                .log_level
                .or(file.log.level)
                .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned()),
            log_dir,
            log_retention_days,
            storage_cache_mb: overrides
                .storage_cache_mb
                .or(file.storage.cache_mb)
                .unwrap_or(DEFAULT_STORAGE_CACHE_MB),
            import_encoding: overrides
                .import_encoding
                .or(file.import.encoding)
                .unwrap_or_default(),
            import_max_shrink_percent: match overrides
                .import_max_shrink_percent
                .or(file.import.max_shrink_percent)
            {
                Some(percent) if percent > 100 => {
                    return Err(ConfigError::Value {
                        key: "import.max_shrink_percent",
                        origin: if overrides.import_max_shrink_percent.is_some() {
                            "from --max-shrink-percent or MAILSCORE_IMPORT_MAX_SHRINK_PERCENT"
                                .to_owned()
                        } else {
                            "from the configuration file".to_owned()
                        },
                        message: format!(
                            "{percent} is not a percentage; give 0 to 100 (100 lets any feed through)"
                        ),
                    });
                }
                Some(percent) => percent,
                None => crate::ingest::DEFAULT_MAX_SHRINK_PERCENT,
            },
            email: {
                let defaults = crate::render::EmailSettings::default();
                crate::render::EmailSettings {
                    base_url,
                    sender_name: file.email.sender_name.unwrap_or(defaults.sender_name),
                    sender_email: file.email.sender_email.unwrap_or(defaults.sender_email),
                    sender_address: file.email.sender_address.unwrap_or(defaults.sender_address),
                    newsletter_name: file
                        .email
                        .newsletter_name
                        .unwrap_or(defaults.newsletter_name),
                    title_max_chars: file
                        .email
                        .title_max_chars
                        .unwrap_or(defaults.title_max_chars),
                    templates_dir: file.email.templates_dir,
                }
            },
            secret_key: overrides.secret_key.or(file.secret_key),
            schedule: overrides
                .schedule
                .or(file.schedule)
                .unwrap_or_else(|| crate::schedule::DEFAULT_SCHEDULE.to_owned()),
            scoring: file.scoring,
            llm: file
                .email
                .llm_url
                .map(|url| crate::subject_llm::LlmSettings {
                    url,
                    model: file
                        .email
                        .llm_model
                        .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
                    api_key: overrides.llm_api_key.or(file.email.llm_api_key),
                    timeout: std::time::Duration::from_millis(
                        file.email
                            .llm_timeout_ms
                            .unwrap_or(crate::subject_llm::DEFAULT_LLM_TIMEOUT_MS),
                    ),
                }),
        })
    }

    /// The log format of a command: the one given, else JSON for `serve` (`serving`) and
    /// human lines for the others.
    pub fn log_format_for(&self, serving: bool) -> LogFormat {
        self.log_format.unwrap_or(if serving {
            DEFAULT_SERVE_LOG_FORMAT
        } else {
            DEFAULT_LOG_FORMAT
        })
    }

    /// For `serve`: the first admin is both an address and a password, or neither. Only
    /// `serve` reads the password, so an address in the file is no error for the other
    /// commands.
    pub fn check_first_admin(&self) -> Result<(), ConfigError> {
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(first_admin_incomplete());
        }
        Ok(())
    }

    /// The key that signs email links: the configured one, else the one stored in the data
    /// directory. Never creates one: a command that only reads must leave no file behind.
    pub fn secret_key_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        match self.read_secret_key()? {
            Some(key) => Ok(key),
            None => Err(ConfigError::MissingSecretKey {
                path: self.data_dir.join(SECRET_KEY_FILE),
            }),
        }
    }

    /// Like [`Self::secret_key_bytes`], but a missing key file is created (random,
    /// owner-readable only). For the commands that create or run a deployment's store.
    pub fn create_secret_key_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(key) = self.read_secret_key()? {
            return Ok(key);
        }
        let path = self.data_dir.join(SECRET_KEY_FILE);
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::create_dir_all(&self.data_dir).map_err(|source| ConfigError::Read {
            path: self.data_dir.clone(),
            source,
        })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write;
        let mut file = options.open(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        file.write_all(key.as_bytes())
            .map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
        Ok(key.into_bytes())
    }

    /// The configured key, else the key file's, else `None`.
    fn read_secret_key(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        if let Some(key) = &self.secret_key {
            return Ok(Some(key.trim().as_bytes().to_vec()));
        }
        let path = self.data_dir.join(SECRET_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().as_bytes().to_vec())),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// The settings as TOML, for `mailscore config check`: every table in force. Secrets
    /// are shown as comments saying only whether they are set, so that the output stays a
    /// valid configuration file that sets no placeholder secret.
    pub fn to_toml(&self) -> String {
        use std::fmt::Write;
        let text = |value: &str| toml::Value::String(value.to_owned()).to_string();
        let secret = |key: &str, value: &Option<String>| match value {
            Some(_) => format!("# {key} is set (hidden)\n"),
            None => format!("# {key} is not set\n"),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "data_dir = {}",
            text(&self.data_dir.display().to_string())
        );
        let _ = writeln!(out, "time_zone = {}", text(self.time_zone.name()));
        let _ = writeln!(out, "schedule = {}", text(&self.schedule));
        out.push_str(&match &self.secret_key {
            Some(_) => secret("secret_key", &self.secret_key),
            None => format!(
                "# secret_key is not set: links are signed with the key in {}\n",
                self.data_dir.join(SECRET_KEY_FILE).display()
            ),
        });
        out.push_str("\n[log]\n");
        match self.log_format {
            Some(format) => {
                let name = match format {
                    LogFormat::Human => "human",
                    LogFormat::Json => "json",
                };
                let _ = writeln!(out, "format = {}", text(name));
            }
            None => out.push_str(
                "# format is not set: json lines for serve, human lines for the other commands\n",
            ),
        }
        let _ = writeln!(out, "level = {}", text(&self.log_level));
        let _ = writeln!(out, "files = {}", self.log_dir.is_some());
        if let Some(dir) = &self.log_dir {
            let _ = writeln!(out, "dir = {}", text(&dir.display().to_string()));
        }
        let _ = writeln!(out, "retention_days = {}", self.log_retention_days);
        let _ = writeln!(out, "\n[storage]\ncache_mb = {}", self.storage_cache_mb);
        let _ = writeln!(
            out,
            "\n[server]\nlisten = {}",
            text(&self.listen.to_string())
        );
        out.push_str(&self.tls.to_toml());
        let _ = writeln!(out, "secure_cookies = {}", self.secure_cookies);
        match &self.admin_email {
            Some(email) => {
                let _ = writeln!(out, "admin_email = {}", text(email));
            }
            None => out.push_str("# admin_email is not set: a setup link at the first start\n"),
        }
        out.push_str(&secret(ADMIN_PASSWORD_ENV, &self.admin_password));
        let encoding = match self.import_encoding {
            EncodingChoice::Auto => "auto",
            EncodingChoice::Utf8 => "utf-8",
            EncodingChoice::ShiftJis => "shift_jis",
        };
        let _ = writeln!(out, "\n[import]\nencoding = {}", text(encoding));
        let _ = writeln!(
            out,
            "max_shrink_percent = {}",
            self.import_max_shrink_percent
        );
        let email = &self.email;
        let _ = writeln!(out, "\n[email]\nbase_url = {}", text(&email.base_url));
        let _ = writeln!(out, "sender_name = {}", text(&email.sender_name));
        let _ = writeln!(out, "sender_email = {}", text(&email.sender_email));
        let _ = writeln!(out, "sender_address = {}", text(&email.sender_address));
        let _ = writeln!(out, "newsletter_name = {}", text(&email.newsletter_name));
        let _ = writeln!(out, "title_max_chars = {}", email.title_max_chars);
        match &email.templates_dir {
            Some(dir) => {
                let _ = writeln!(out, "templates_dir = {}", text(&dir.display().to_string()));
            }
            None => out.push_str("# templates_dir is not set: the built-in templates\n"),
        }
        match &self.llm {
            Some(llm) => {
                let _ = writeln!(out, "llm_url = {}", text(&llm.url));
                let _ = writeln!(out, "llm_model = {}", text(&llm.model));
                let _ = writeln!(out, "llm_timeout_ms = {}", llm.timeout.as_millis());
                out.push_str(&secret("llm_api_key", &llm.api_key));
            }
            None => out.push_str("# llm_url is not set: rule-based subjects\n"),
        }
        match &self.dkim {
            Some(dkim) => {
                let _ = writeln!(out, "\n[dkim]\ndomain = {}", text(&dkim.domain));
                let _ = writeln!(out, "selector = {}", text(&dkim.selector));
                let _ = writeln!(
                    out,
                    "key_file = {}",
                    text(&dkim.key_file.display().to_string())
                );
            }
            None => out.push_str(
                "\n[dkim]\n# domain, selector and key_file are not set: messages are not signed\n",
            ),
        }
        out.push_str(&smtp_toml(&self.smtp));
        let bounces = &self.bounces;
        let _ = writeln!(
            out,
            "\n[bounces]\nsoft_limit = {}\nsoft_window_days = {}\nscan_interval_seconds = {}",
            bounces.soft_rule.limit,
            bounces.soft_rule.window_days,
            bounces.scan_interval.as_secs()
        );
        out.push_str("\n[webhooks]\n");
        out.push_str(&match &self.webhooks_secret {
            Some(_) => "# secret is set (hidden)\n".to_owned(),
            None => "# secret is not set: the provider webhooks answer 403\n".to_owned(),
        });
        let _ = writeln!(
            out,
            "\n[delivery]\nrequire_consent = {}",
            self.require_consent
        );
        let scoring = toml::to_string(&std::collections::BTreeMap::from([(
            "scoring",
            &self.scoring,
        )]))
        .unwrap_or_else(|error| format!("# the scoring settings do not print: {error}\n"));
        format!("{out}\n{scoring}")
    }
}

/// Whether users need a consent record to be emailed (`delivery.require_consent`,
/// `MAILSCORE_DELIVERY_REQUIRE_CONSENT`): off, as the users file may not carry one.
pub const DEFAULT_REQUIRE_CONSENT: bool = false;

fn parse_bounces(
    file: &FileBounces,
    config: Option<&Path>,
) -> Result<crate::bounces::BounceSettings, ConfigError> {
    use crate::bounces::{
        BounceSettings, DEFAULT_SCAN_INTERVAL_SECONDS, DEFAULT_SOFT_LIMIT, DEFAULT_SOFT_WINDOW_DAYS,
    };
    let origin = || server_origin(false, "", config);
    let window_days = file.soft_window_days.unwrap_or(DEFAULT_SOFT_WINDOW_DAYS);
    if !(1..=365).contains(&window_days) {
        return Err(ConfigError::Value {
            key: "bounces.soft_window_days",
            origin: origin(),
            message: format!("{window_days} is not a number of days; give 1 to 365"),
        });
    }
    let scan = file
        .scan_interval_seconds
        .unwrap_or(DEFAULT_SCAN_INTERVAL_SECONDS);
    if scan == 0 {
        return Err(ConfigError::Value {
            key: "bounces.scan_interval_seconds",
            origin: origin(),
            message: "0 is no interval; give the seconds between two reads of the folder"
                .to_owned(),
        });
    }
    Ok(BounceSettings {
        soft_rule: crate::domain::bounce::SoftBounceRule {
            limit: file.soft_limit.unwrap_or(DEFAULT_SOFT_LIMIT),
            window_days,
        },
        scan_interval: std::time::Duration::from_secs(scan),
    })
}

fn first_admin_incomplete() -> ConfigError {
    ConfigError::Value {
        key: "server.admin_email",
        origin: format!("with {ADMIN_PASSWORD_ENV}"),
        message: format!(
            "the first admin needs both an address (MAILSCORE_ADMIN_EMAIL, \
             server.admin_email or serve --admin-email) and {ADMIN_PASSWORD_ENV}; \
             set both, or neither to get a one-time setup link"
        ),
    }
}

/// `server.listen`: the flag or environment, else the file, else [`DEFAULT_LISTEN`]; an
/// IP address and a port (a host name would resolve to addresses nobody chose).
fn parse_listen(
    overridden: Option<&str>,
    in_file: Option<&str>,
    config: Option<&Path>,
) -> Result<std::net::SocketAddr, ConfigError> {
    let (text, origin) = match (overridden, in_file) {
        (Some(text), _) => (text, "from --listen or MAILSCORE_LISTEN".to_owned()),
        (None, Some(text)) => (
            text,
            match config {
                Some(path) => format!("from {}", path.display()),
                None => "from the configuration file".to_owned(),
            },
        ),
        (None, None) => (DEFAULT_LISTEN, "the default".to_owned()),
    };
    text.trim().parse().map_err(|_| ConfigError::Value {
        key: "server.listen",
        origin,
        message: format!(
            "{text:?} is not an IP address with a port; for example \"127.0.0.1:8080\", \
             \"0.0.0.0:8080\" (every IPv4 interface) or \"[::]:8080\""
        ),
    })
}

/// Where a `[server]` key's value came from: the command line (or its environment
/// variable) or the configuration file.
fn server_origin(from_flag: bool, flag: &str, config: Option<&Path>) -> String {
    match (from_flag, config) {
        (true, _) => format!("from {flag}"),
        (false, Some(path)) => format!("from {}", path.display()),
        (false, None) => "from the configuration file".to_owned(),
    }
}

/// The `[smtp]` table for `config check`: the URL with its password masked, the password
/// only as whether it is set.
fn smtp_toml(smtp: &crate::delivery::SmtpSettings) -> String {
    use std::fmt::Write;
    let text = |value: &str| toml::Value::String(value.to_owned()).to_string();
    let mut out = String::from("\n[smtp]\n");
    match &smtp.url {
        Some(url) => {
            let _ = writeln!(out, "url = {}", text(&crate::delivery::smtp::mask_url(url)));
        }
        None => out.push_str("# url is not set: nothing is sent\n"),
    }
    out.push_str(match smtp.password {
        Some(_) => "# the password is set (hidden)\n",
        None => "# no password beside the URL's\n",
    });
    if let Some(path) = &smtp.ca_file {
        let _ = writeln!(out, "ca_file = {}", text(&path.display().to_string()));
    }
    let _ = writeln!(out, "pool_size = {}", smtp.pool_size);
    let _ = writeln!(out, "concurrency = {}", smtp.concurrency);
    let _ = writeln!(out, "timeout_secs = {}", smtp.timeout.as_secs());
    let _ = writeln!(out, "rate_per_second = {}", smtp.rate_per_second);
    let _ = writeln!(out, "rate_per_hour = {}", smtp.rate_per_hour);
    let _ = writeln!(out, "max_attempts = {}", smtp.max_attempts);
    let _ = writeln!(out, "retry_base_ms = {}", smtp.retry_base.as_millis());
    let _ = writeln!(out, "retry_max_ms = {}", smtp.retry_max.as_millis());
    let _ = writeln!(out, "pause_window = {}", smtp.pause_window);
    let _ = writeln!(
        out,
        "pause_threshold_percent = {:?}",
        smtp.pause_threshold_percent
    );
    let _ = writeln!(out, "at_least_once = {}", smtp.at_least_once);
    match smtp.deadline {
        Some(deadline) => {
            let _ = writeln!(out, "deadline_minutes = {}", deadline.as_secs() / 60);
        }
        None => out.push_str("# deadline_minutes is not set: no deadline\n"),
    }
    match &smtp.return_path {
        Some(address) => {
            let _ = writeln!(out, "return_path = {}", text(address));
        }
        None => out.push_str("# return_path is not set: email.sender_email\n"),
    }
    match &smtp.reply_to {
        Some(address) => {
            let _ = writeln!(out, "reply_to = {}", text(address));
        }
        None => out.push_str("# reply_to is not set: no Reply-To header\n"),
    }
    out
}

/// The `[smtp]` keys: the URL from its flag or environment variable or the file; the
/// password from [`SMTP_PASSWORD_ENV`] or `smtp.password_file` (read here, trailing
/// newline dropped); every number checked against its range.
fn parse_smtp(
    overrides: &Overrides,
    file: &FileSmtp,
) -> Result<crate::delivery::SmtpSettings, ConfigError> {
    use crate::delivery::smtp::*;
    use std::time::Duration;
    let config = overrides.config.as_deref();
    let file_origin = || server_origin(false, "", config);
    let url = overrides.smtp_url.clone().or_else(|| file.url.clone());
    if let Some(url) = &url
        && let Err(message) = check_smtp_url(url)
    {
        return Err(ConfigError::Value {
            key: "smtp.url",
            origin: server_origin(
                overrides.smtp_url.is_some(),
                "--smtp-url or MAILSCORE_SMTP_URL",
                config,
            ),
            message,
        });
    }
    let password = match (&overrides.smtp_password, &file.password_file) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Value {
                key: "smtp.password_file",
                origin: file_origin(),
                message: format!(
                    "cannot read {}: {error}; give a readable file holding the password, \
                     or set {SMTP_PASSWORD_ENV}",
                    path.display()
                ),
            })?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => None,
    };
    let positive = |key: &'static str, value: Option<u64>, default: u64| match value {
        Some(0) => Err(ConfigError::Value {
            key,
            origin: file_origin(),
            message: "0 is not allowed here; give 1 or more".to_owned(),
        }),
        Some(value) => Ok(value),
        None => Ok(default),
    };
    let pause_threshold_percent = file
        .pause_threshold_percent
        .unwrap_or(DEFAULT_PAUSE_THRESHOLD_PERCENT);
    if !(0.0..=100.0).contains(&pause_threshold_percent) {
        return Err(ConfigError::Value {
            key: "smtp.pause_threshold_percent",
            origin: file_origin(),
            message: format!(
                "{pause_threshold_percent} is not a percentage; give 0 to 100 (100 never pauses)"
            ),
        });
    }
    Ok(SmtpSettings {
        url,
        password,
        ca_file: file.ca_file.clone(),
        pool_size: positive(
            "smtp.pool_size",
            file.pool_size.map(u64::from),
            u64::from(DEFAULT_POOL_SIZE),
        )? as u32,
        concurrency: positive(
            "smtp.concurrency",
            file.concurrency.map(|n| n as u64),
            DEFAULT_CONCURRENCY as u64,
        )? as usize,
        timeout: Duration::from_secs(positive(
            "smtp.timeout_secs",
            file.timeout_secs,
            DEFAULT_TIMEOUT_SECS,
        )?),
        rate_per_second: overrides
            .smtp_rate_per_second
            .or(file.rate_per_second)
            .unwrap_or(DEFAULT_RATE_PER_SECOND),
        rate_per_hour: file.rate_per_hour.unwrap_or(DEFAULT_RATE_PER_HOUR),
        max_attempts: positive(
            "smtp.max_attempts",
            file.max_attempts.map(u64::from),
            u64::from(DEFAULT_MAX_ATTEMPTS),
        )? as u32,
        retry_base: Duration::from_millis(file.retry_base_ms.unwrap_or(DEFAULT_RETRY_BASE_MS)),
        retry_max: Duration::from_millis(file.retry_max_ms.unwrap_or(DEFAULT_RETRY_MAX_MS)),
        pause_window: positive(
            "smtp.pause_window",
            file.pause_window.map(|n| n as u64),
            DEFAULT_PAUSE_WINDOW as u64,
        )? as usize,
        pause_threshold_percent,
        at_least_once: file.at_least_once.unwrap_or(DEFAULT_AT_LEAST_ONCE),
        deadline: file
            .deadline_minutes
            .map(|minutes| Duration::from_secs(minutes.saturating_mul(60))),
        return_path: file.return_path.clone(),
        reply_to: file.reply_to.clone(),
    })
}

/// The `[dkim]` keys, each from its flag or environment variable or else the file: all
/// three or none, the domain and selector DNS names. The key file is not read here (a
/// command that signs, and `config check`, read it).
fn parse_dkim(overrides: &Overrides, file: &FileDkim) -> Result<Option<DkimSettings>, ConfigError> {
    let config = overrides.config.as_deref();
    let domain = overrides
        .dkim_domain
        .clone()
        .or_else(|| file.domain.clone());
    let selector = overrides
        .dkim_selector
        .clone()
        .or_else(|| file.selector.clone());
    let key_file = overrides
        .dkim_key_file
        .clone()
        .or_else(|| file.key_file.clone());
    let keys = [
        (
            "dkim.domain",
            "--dkim-domain, MAILSCORE_DKIM_DOMAIN",
            domain.is_some(),
            overrides.dkim_domain.is_some(),
        ),
        (
            "dkim.selector",
            "--dkim-selector, MAILSCORE_DKIM_SELECTOR",
            selector.is_some(),
            overrides.dkim_selector.is_some(),
        ),
        (
            "dkim.key_file",
            "--dkim-key-file, MAILSCORE_DKIM_KEY_FILE",
            key_file.is_some(),
            overrides.dkim_key_file.is_some(),
        ),
    ];
    let (Some(domain), Some(selector), Some(key_file)) = (domain, selector, key_file) else {
        let Some(&(key, _, _, from_flag)) = keys.iter().find(|(_, _, set, _)| *set) else {
            return Ok(None);
        };
        let missing: Vec<String> = keys
            .iter()
            .filter(|(_, _, set, _)| !set)
            .map(|(key, flags, _, _)| format!("{key} ({flags})"))
            .collect();
        return Err(ConfigError::Value {
            key,
            origin: server_origin(from_flag, "its flag or environment variable", config),
            message: format!(
                "DKIM signing needs the domain, the selector and the key file together; also \
                 set {}, or remove the DKIM settings to send unsigned",
                missing.join(" and ")
            ),
        });
    };
    let name = |key: &'static str, value: &str, from_flag: bool, flag: &str| {
        check_dns_name(key.trim_start_matches("dkim."), value).map_err(|error| ConfigError::Value {
            key,
            origin: server_origin(from_flag, flag, config),
            message: error.to_string(),
        })
    };
    Ok(Some(DkimSettings {
        domain: name(
            "dkim.domain",
            &domain,
            overrides.dkim_domain.is_some(),
            keys[0].1,
        )?,
        selector: name(
            "dkim.selector",
            &selector,
            overrides.dkim_selector.is_some(),
            keys[1].1,
        )?,
        key_file,
    }))
}

/// The TLS keys of `[server]`, checked together: one certificate source at most (files,
/// self-signed or ACME), each complete, and the redirect listener only beside TLS.
fn parse_tls(
    overrides: &Overrides,
    file: &FileServer,
    listen: std::net::SocketAddr,
) -> Result<TlsSettings, ConfigError> {
    let config = overrides.config.as_deref();
    let value_error = |key: &'static str, origin: String, message: String| ConfigError::Value {
        key,
        origin,
        message,
    };
    let cert = overrides.tls_cert.clone().or_else(|| file.tls_cert.clone());
    let key = overrides.tls_key.clone().or_else(|| file.tls_key.clone());
    let cert_origin = server_origin(
        overrides.tls_cert.is_some(),
        "--tls-cert or MAILSCORE_TLS_CERT",
        config,
    );
    let key_origin = server_origin(
        overrides.tls_key.is_some(),
        "--tls-key or MAILSCORE_TLS_KEY",
        config,
    );
    let self_signed = overrides.tls_self_signed || file.tls_self_signed.unwrap_or(false);
    let self_signed_origin = server_origin(overrides.tls_self_signed, "--tls-self-signed", config);
    let domains = file.acme_domains.clone().unwrap_or_default();
    let acme_origin = server_origin(false, "", config);

    let files = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(_), None) => {
            return Err(value_error(
                "server.tls_cert",
                cert_origin,
                "the certificate is given without its key; also set server.tls_key \
                 (--tls-key, MAILSCORE_TLS_KEY)"
                    .to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(value_error(
                "server.tls_key",
                key_origin,
                "the key is given without its certificate; also set server.tls_cert \
                 (--tls-cert, MAILSCORE_TLS_CERT)"
                    .to_owned(),
            ));
        }
        (None, None) => None,
    };
    if files.is_some() && self_signed {
        return Err(value_error(
            "server.tls_self_signed",
            self_signed_origin,
            "conflicts with the certificate files (server.tls_cert, server.tls_key); use one \
             of the two: the files for a real certificate, --tls-self-signed for local use"
                .to_owned(),
        ));
    }
    if !domains.is_empty() && (files.is_some() || self_signed) {
        let other = if files.is_some() {
            "the certificate files (server.tls_cert, server.tls_key)"
        } else {
            "server.tls_self_signed"
        };
        return Err(value_error(
            "server.acme_domains",
            acme_origin,
            format!(
                "conflicts with {other}; ACME obtains the certificate itself, so remove \
                 one of the two"
            ),
        ));
    }
    let acme = if domains.is_empty() {
        let stray = [
            ("server.acme_contact", file.acme_contact.is_some()),
            ("server.acme_directory", file.acme_directory.is_some()),
            ("server.acme_ca_file", file.acme_ca_file.is_some()),
            ("server.acme_challenge", file.acme_challenge.is_some()),
        ];
        if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(value_error(
                key,
                acme_origin,
                "has no effect without server.acme_domains; list the certificate's domains \
                 there, or remove this key"
                    .to_owned(),
            ));
        }
        None
    } else {
        Some(parse_acme(file, domains, &acme_origin)?)
    };
    let source = match (files, self_signed, acme) {
        (Some((cert, key)), _, _) => Some(TlsSource::Files { cert, key }),
        (None, true, _) => Some(TlsSource::SelfSigned),
        (None, false, Some(acme)) => Some(TlsSource::Acme(acme)),
        (None, false, None) => None,
    };

    let http_redirect_listen = match &file.http_redirect_listen {
        None => None,
        Some(text) => {
            let origin = server_origin(false, "", config);
            let addr: std::net::SocketAddr = text.trim().parse().map_err(|_| {
                value_error(
                    "server.http_redirect_listen",
                    origin.clone(),
                    format!(
                        "{text:?} is not an IP address with a port; for example \
                         \"0.0.0.0:80\""
                    ),
                )
            })?;
            if source.is_none() {
                return Err(value_error(
                    "server.http_redirect_listen",
                    origin,
                    "redirects to HTTPS, but the server does not speak TLS; set \
                     server.tls_cert and server.tls_key, server.tls_self_signed or \
                     server.acme_domains, or remove this key"
                        .to_owned(),
                ));
            }
            if addr == listen {
                return Err(value_error(
                    "server.http_redirect_listen",
                    origin,
                    format!("{addr} is also server.listen; give the redirect another port"),
                ));
            }
            Some(addr)
        }
    };
    if let Some(TlsSource::Acme(acme)) = &source
        && acme.challenge == AcmeChallenge::Http01
        && http_redirect_listen.is_none()
    {
        return Err(value_error(
            "server.acme_challenge",
            acme_origin,
            "http-01 is answered on the plain HTTP listener; set server.http_redirect_listen \
             (port 80 of each domain must reach it), or use \"tls-alpn-01\""
                .to_owned(),
        ));
    }
    Ok(TlsSettings {
        source,
        http_redirect_listen,
    })
}

/// The `server.acme_*` keys once `server.acme_domains` lists at least one domain.
fn parse_acme(
    file: &FileServer,
    domains: Vec<String>,
    origin: &str,
) -> Result<AcmeSettings, ConfigError> {
    let value_error = |key: &'static str, message: String| ConfigError::Value {
        key,
        origin: origin.to_owned(),
        message,
    };
    let mut names = Vec::with_capacity(domains.len());
    for domain in domains {
        let name = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !crate::der::is_dns_name(&name) {
            return Err(value_error(
                "server.acme_domains",
                format!(
                    "{domain:?} is not a DNS name (letters, digits and hyphens between \
                     dots; no wildcard: http-01 and tls-alpn-01 cannot prove one; \
                     internationalised names in their xn-- form)"
                ),
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let Some(contact) = &file.acme_contact else {
        return Err(value_error(
            "server.acme_contact",
            "is not set; the ACME account needs an email address for the CA's notices, \
             for example acme_contact = \"ops@example.jp\""
                .to_owned(),
        ));
    };
    let address = contact.trim();
    let address = address.strip_prefix("mailto:").unwrap_or(address);
    let plausible = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
    }) && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(value_error(
            "server.acme_contact",
            format!("{contact:?} is not an email address; for example \"ops@example.jp\""),
        ));
    }
    let directory = file
        .acme_directory
        .clone()
        .unwrap_or_else(|| DEFAULT_ACME_DIRECTORY.to_owned());
    let is_https = directory
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    if !is_https || check_base_url(&directory).is_err() {
        return Err(value_error(
            "server.acme_directory",
            format!(
                "{directory:?} is not an https URL of an ACME directory; for example \
                 {DEFAULT_ACME_DIRECTORY:?}"
            ),
        ));
    }
    Ok(AcmeSettings {
        domains: names,
        contact: format!("mailto:{address}"),
        directory,
        ca_file: file.acme_ca_file.clone(),
        challenge: file.acme_challenge.unwrap_or(DEFAULT_ACME_CHALLENGE),
    })
}

impl TlsSettings {
    /// The TLS keys of `[server]` as TOML lines, for `mailscore config check`.
    fn to_toml(&self) -> String {
        use std::fmt::Write;
        let text = |value: &str| toml::Value::String(value.to_owned()).to_string();
        let path = |value: &Path| text(&value.display().to_string());
        let mut out = String::new();
        match &self.source {
            None => out.push_str("# no TLS: plain HTTP (set tls_cert and tls_key, tls_self_signed or acme_domains)\n"),
            Some(TlsSource::Files { cert, key }) => {
                let _ = writeln!(out, "tls_cert = {}\ntls_key = {}", path(cert), path(key));
            }
            Some(TlsSource::SelfSigned) => out.push_str("tls_self_signed = true\n"),
            Some(TlsSource::Acme(acme)) => {
                let domains: Vec<String> = acme.domains.iter().map(|d| text(d)).collect();
                let contact = acme.contact.strip_prefix("mailto:").unwrap_or(&acme.contact);
                let _ = writeln!(out, "acme_domains = [{}]", domains.join(", "));
                let _ = writeln!(out, "acme_contact = {}", text(contact));
                let _ = writeln!(out, "acme_directory = {}", text(&acme.directory));
                if let Some(ca_file) = &acme.ca_file {
                    let _ = writeln!(out, "acme_ca_file = {}", path(ca_file));
                }
                let _ = writeln!(out, "acme_challenge = {}", text(acme.challenge.name()));
            }
        }
        if let Some(addr) = self.http_redirect_listen {
            let _ = writeln!(out, "http_redirect_listen = {}", text(&addr.to_string()));
        }
        out
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\ntime_zone = \"UTC\"\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let settings = Settings::load(Overrides {
            config: Some(path),
            data_dir: Some(PathBuf::from("/from/flag")),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(settings.time_zone.name(), "UTC");
        assert_eq!(settings.log_level, "debug");
        assert_eq!(settings.storage_cache_mb, DEFAULT_STORAGE_CACHE_MB);
    }

    #[test]
    fn the_log_files_are_in_the_data_dir_for_two_weeks_unless_the_settings_say_otherwise() {
        let defaults = Settings::load(Overrides {
            data_dir: Some(PathBuf::from("/srv/mailscore")),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(
            defaults.log_dir,
            Some(PathBuf::from("/srv/mailscore").join(LOG_DIR_NAME))
        );
        assert_eq!(defaults.log_retention_days, DEFAULT_LOG_RETENTION_DAYS);
        assert_eq!(defaults.log_format, None);
        assert_eq!(defaults.log_format_for(true), LogFormat::Json);
        assert_eq!(defaults.log_format_for(false), LogFormat::Human);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "[log]\nformat = \"human\"\ndir = \"/var/log/mailscore\"\nretention_days = 30\n",
        )
        .unwrap();
        let from_file = Settings::load(Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(from_file.log_dir, Some(PathBuf::from("/var/log/mailscore")));
        assert_eq!(from_file.log_retention_days, 30);
        assert_eq!(from_file.log_format_for(true), LogFormat::Human);
        // What config check prints reads back as the same settings.
        let printed: FileSettings = toml::from_str(&from_file.to_toml()).unwrap();
        assert_eq!(printed.log.dir, from_file.log_dir);
        assert_eq!(printed.log.retention_days, Some(30));

        let overridden = Settings::load(Overrides {
            config: Some(path.clone()),
            log_dir: Some(PathBuf::from("/elsewhere")),
            log_retention_days: Some(7),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(overridden.log_dir, Some(PathBuf::from("/elsewhere")));
        assert_eq!(overridden.log_retention_days, 7);

        let off = Settings::load(Overrides {
            config: Some(path.clone()),
            log_files: Some(false),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(off.log_dir, None);
        let printed: FileSettings = toml::from_str(&off.to_toml()).unwrap();
        assert_eq!(printed.log.files, Some(false));

        for days in [0, MAX_LOG_RETENTION_DAYS + 1] {
            let error = Settings::load(Overrides {
                log_retention_days: Some(days),
                ..Overrides::default()
            })
            .unwrap_err();
            let message = error.to_string();
            assert!(message.contains("log.retention_days"), "{message}");
            assert!(
                message.contains("MAILSCORE_LOG_RETENTION_DAYS"),
                "{message}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret_key_or_the_api_key() {
        let secret_key = "0123456789abcdef0123456789abcdef-signing";
        let api_key = "sk-test-fedcba9876543210";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "[email]\nllm_url = \"https://llm.example.test/v1/chat/completions\"\n",
        )
        .unwrap();
        let admin_password = "first-admin-passphrase";
        let overrides = Overrides {
            config: Some(path),
            secret_key: Some(secret_key.into()),
            llm_api_key: Some(api_key.into()),
            admin_email: Some("root@example.jp".into()),
            admin_password: Some(admin_password.into()),
            ..Overrides::default()
        };
        let printed_overrides = format!("{overrides:?} {overrides:#?}");
        let settings = Settings::load(overrides).unwrap();
        assert_eq!(settings.secret_key.as_deref(), Some(secret_key));
        assert_eq!(
            settings.llm.as_ref().and_then(|llm| llm.api_key.as_deref()),
            Some(api_key)
        );
        let printed = format!(
            "{settings:?} {settings:#?} {printed_overrides} {}",
            settings.to_toml()
        );
        for secret in [secret_key, api_key, admin_password] {
            assert!(!printed.contains(secret), "{secret} shown in {printed}");
        }
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn an_unknown_key_or_zone_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "data_directory = \"x\"\n").unwrap();
        let error = Settings::load(Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("data_directory"), "{error}");
        let error = Settings::load(Overrides {
            time_zone: Some("Mars/Olympus".into()),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("Mars/Olympus"), "{error}");
    }

    #[test]
    fn a_base_url_must_be_an_absolute_http_url_with_a_host_and_no_query() {
        for good in [
            "http://localhost:8080",
            "https://mail.example.jp",
            "https://mail.example.jp/",
            "HTTPS://mail.example.jp/newsletter",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_base_url(good), Ok(()), "{good}");
        }
        for bad in [
            "not a url",
            "mail.example.jp",
            "ftp://mail.example.jp",
            "https://",
            "https:///path",
            "https://mail.example.jp?utm=1",
            "https://mail.example.jp/#top",
            "https://user:pw@mail.example.jp",
            "https://mail.example.jp:http",
            "https://mail example.jp",
            "https://mail..example.jp",
            "http://[::1",
        ] {
            let error = check_base_url(bad).unwrap_err();
            assert!(error.contains("example: base_url"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_listen_address_comes_from_the_flag_then_the_file_then_the_default() {
        let default = Settings::load(Overrides::default()).unwrap();
        assert_eq!(default.listen.to_string(), DEFAULT_LISTEN);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(&path, "[server]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        let from_file = Settings::load(Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(from_file.listen.to_string(), "0.0.0.0:9000");
        let from_flag = Settings::load(Overrides {
            config: Some(path),
            listen: Some("[::1]:7000".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(from_flag.listen.to_string(), "[::1]:7000");
        let error = Settings::load(Overrides {
            listen: Some("localhost:8080".into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("server.listen"), "{error}");
        assert!(error.contains("--listen"), "{error}");
    }

    #[test]
    fn the_first_admin_needs_both_an_address_and_a_password() {
        // Only serve reads the password: an address alone is an error there only.
        let address_only = Settings::load(Overrides {
            admin_email: Some("root@example.jp".into()),
            ..Overrides::default()
        })
        .unwrap();
        let error = address_only.check_first_admin().unwrap_err().to_string();
        assert!(error.contains(ADMIN_PASSWORD_ENV), "{error}");
        assert!(
            Settings::load(Overrides {
                admin_password: Some("a long passphrase".into()),
                ..Overrides::default()
            })
            .is_err()
        );
        let settings = Settings::load(Overrides {
            admin_email: Some("root@example.jp".into()),
            admin_password: Some("a long passphrase".into()),
            secure_cookies: Some(true),
            ..Overrides::default()
        })
        .unwrap();
        settings.check_first_admin().unwrap();
        assert_eq!(settings.admin_email.as_deref(), Some("root@example.jp"));
        assert!(settings.secure_cookies);
        assert!(!Settings::load(Overrides::default()).unwrap().secure_cookies);
    }

    #[test]
    fn the_example_file_documents_exactly_the_keys_that_parse() {
        let example = include_str!("../mailscore.example.toml");
        let file = toml::from_str::<FileSettings>(example)
            .expect("mailscore.example.toml parses with every key");
        assert_eq!(file.scoring.company_cap, 3);
        // The keys without a default are there as comments.
        for key in [
            "format",
            "dir",
            "tls_cert",
            "tls_key",
            "tls_self_signed",
            "acme_domains",
            "acme_contact",
            "acme_directory",
            "acme_ca_file",
            "acme_challenge",
            "http_redirect_listen",
            "domain",
            "selector",
            "key_file",
            "secret",
        ] {
            assert!(
                example.contains(&format!("{key} = ")),
                "{key} is not documented"
            );
        }
        assert!(example.contains(DEFAULT_ACME_DIRECTORY));
    }

    #[test]
    fn dkim_comes_from_flags_or_the_file_all_three_or_none() {
        let none = Settings::load(Overrides::default()).unwrap();
        assert_eq!(none.dkim, None);
        assert!(
            none.to_toml()
                .contains("[dkim]\n# domain, selector and key_file are not set")
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "[dkim]\ndomain = \"Example.JP\"\nselector = \"file\"\nkey_file = \"/etc/dkim.pem\"\n",
        )
        .unwrap();
        let from_file = Settings::load(Overrides {
            config: Some(path.clone()),
            dkim_selector: Some("flag".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(
            from_file.dkim,
            Some(DkimSettings {
                domain: "example.jp".into(),
                selector: "flag".into(),
                key_file: PathBuf::from("/etc/dkim.pem"),
            })
        );
        // What config check prints reads back as the same settings.
        let printed: FileSettings = toml::from_str(&from_file.to_toml()).unwrap();
        assert_eq!(printed.dkim.domain.as_deref(), Some("example.jp"));
        assert_eq!(printed.dkim.selector.as_deref(), Some("flag"));
        assert_eq!(printed.dkim.key_file, Some(PathBuf::from("/etc/dkim.pem")));

        let error = Settings::load(Overrides {
            dkim_domain: Some("example.jp".into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("setting dkim.domain (from its flag"),
            "{error}"
        );
        assert!(
            error.contains("dkim.selector (--dkim-selector, MAILSCORE_DKIM_SELECTOR)"),
            "{error}"
        );
        assert!(
            error.contains("dkim.key_file (--dkim-key-file, MAILSCORE_DKIM_KEY_FILE)"),
            "{error}"
        );

        let error = Settings::load(Overrides {
            dkim_domain: Some("example.jp".into()),
            dkim_selector: Some("bad selector".into()),
            dkim_key_file: Some(PathBuf::from("/etc/dkim.pem")),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("setting dkim.selector (from --dkim-selector"),
            "{error}"
        );
        assert!(error.contains("is not a DNS name"), "{error}");
    }

    /// The settings of a configuration file holding `server_table` under `[server]`.
    fn load_server(server_table: &str, overrides: Overrides) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(&path, format!("[server]\n{server_table}")).unwrap();
        Settings::load(Overrides {
            config: Some(path),
            ..overrides
        })
    }

    #[test]
    fn tls_comes_from_files_self_signed_or_acme_with_its_defaults() {
        let plain = Settings::load(Overrides::default()).unwrap();
        assert_eq!(plain.tls, TlsSettings::default());
        let files = load_server(
            "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\nhttp_redirect_listen = \"127.0.0.1:8081\"\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            files.tls.source,
            Some(TlsSource::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        assert_eq!(
            files.tls.http_redirect_listen,
            Some("127.0.0.1:8081".parse().unwrap())
        );
        let flag = Settings::load(Overrides {
            tls_self_signed: true,
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(flag.tls.source, Some(TlsSource::SelfSigned));
        let acme = load_server(
            "acme_domains = [\"Mail.Example.JP\", \"mail.example.jp\"]\nacme_contact = \"ops@example.jp\"\n",
            Overrides::default(),
        )
        .unwrap();
        let Some(TlsSource::Acme(acme)) = acme.tls.source.clone() else {
            panic!("{:?}", acme.tls);
        };
        assert_eq!(acme.domains, ["mail.example.jp"]);
        assert_eq!(acme.contact, "mailto:ops@example.jp");
        assert_eq!(acme.directory, DEFAULT_ACME_DIRECTORY);
        assert_eq!(acme.challenge, DEFAULT_ACME_CHALLENGE);
        // What config check prints reads back as the same settings.
        let printed: FileSettings = toml::from_str(&files.to_toml()).unwrap();
        assert_eq!(printed.server.tls_cert, Some(PathBuf::from("/c.pem")));
    }

    #[test]
    fn conflicting_or_incomplete_tls_settings_are_named_with_a_hint() {
        let with_files = Overrides {
            tls_cert: Some("/c.pem".into()),
            tls_key: Some("/k.pem".into()),
            ..Overrides::default()
        };
        for (table, overrides, key, hint) in [
            (
                "tls_self_signed = true\n",
                with_files.clone(),
                "server.tls_self_signed",
                "use one",
            ),
            (
                "",
                Overrides {
                    tls_cert: Some("/c.pem".into()),
                    ..Overrides::default()
                },
                "server.tls_cert",
                "--tls-key",
            ),
            (
                "acme_domains = [\"a.example.jp\"]\nacme_contact = \"o@example.jp\"\n",
                with_files,
                "server.acme_domains",
                "remove",
            ),
            (
                "acme_domains = [\"a.example.jp\"]\n",
                Overrides::default(),
                "server.acme_contact",
                "acme_contact = ",
            ),
            (
                "acme_domains = [\"*.example.jp\"]\nacme_contact = \"o@example.jp\"\n",
                Overrides::default(),
                "server.acme_domains",
                "wildcard",
            ),
            (
                "acme_contact = \"o@example.jp\"\n",
                Overrides::default(),
                "server.acme_contact",
                "acme_domains",
            ),
            (
                "http_redirect_listen = \"127.0.0.1:80\"\n",
                Overrides::default(),
                "server.http_redirect_listen",
                "tls_self_signed",
            ),
            (
                "acme_domains = [\"a.example.jp\"]\nacme_contact = \"o@example.jp\"\nacme_challenge = \"http-01\"\n",
                Overrides::default(),
                "server.acme_challenge",
                "http_redirect_listen",
            ),
            (
                "acme_domains = [\"a.example.jp\"]\nacme_contact = \"o@example.jp\"\nacme_directory = \"http://ca.example\"\n",
                Overrides::default(),
                "server.acme_directory",
                "https",
            ),
        ] {
            let error = load_server(table, overrides).unwrap_err().to_string();
            assert!(error.contains(key), "{table}: {error}");
            assert!(error.contains(hint), "{table}: {error}");
        }
    }

    #[test]
    fn scoring_keys_left_out_keep_their_defaults_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailscore.toml");
        std::fs::write(
            &path,
            "[scoring]\ncompany_cap = 2\nseo_ignored_keywords = [\"バイト\"]\n",
        )
        .unwrap();
        let settings = Settings::load(Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .unwrap();
        let defaults = crate::scoring::ScoringConfig::default();
        assert_eq!(settings.scoring.company_cap, 2);
        assert_eq!(settings.scoring.seo_ignored_keywords, ["バイト"]);
        assert_eq!(settings.scoring.sections, defaults.sections);
        // What config check prints reads back as the same settings.
        let printed: FileSettings = toml::from_str(&settings.to_toml()).unwrap();
        assert_eq!(printed.scoring, settings.scoring);

        for (text, named) in [
            ("[scoring]\ncompany_cap = 0\n", "company_cap"),
            ("[scoring]\nseo_max_job_share = 1.5\n", "seo_max_job_share"),
            ("[scoring]\nhistroy_days = 30\n", "histroy_days"),
            (
                "[[scoring.sections]]\nkind = \"new\"\ncount = 5\n[[scoring.sections]]\nkind = \"new\"\ncount = 3\n",
                "listed twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = Settings::load(Overrides {
                config: Some(path.clone()),
                ..Overrides::default()
            })
            .unwrap_err();
            assert!(error.to_string().contains(named), "{text}: {error}");
        }
    }
}

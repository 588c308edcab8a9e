//! The SMTP side of delivery: [`SmtpSettings`] (`[smtp]`), the lettre transport they make
//! (a pool of connections, STARTTLS or implicit TLS by rustls, AUTH PLAIN/LOGIN, timeouts),
//! and one attempt of one message, reduced to its reply.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{Address, AsyncTransport, Tokio1Executor};

/// Connections kept open to the SMTP server (`smtp.pool_size`).
pub const DEFAULT_POOL_SIZE: u32 = 4;
/// Messages in flight at once (`smtp.concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// How long one SMTP command may wait for its reply, in seconds (`smtp.timeout_secs`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Messages per second (`smtp.rate_per_second`); 0 is no limit.
pub const DEFAULT_RATE_PER_SECOND: u32 = 0;
/// Messages per hour (`smtp.rate_per_hour`); 0 is no limit.
pub const DEFAULT_RATE_PER_HOUR: u32 = 0;
/// Attempts of one email before a transient failure becomes `failed` (`smtp.max_attempts`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The first retry's wait in milliseconds (`smtp.retry_base_ms`); it doubles each attempt.
pub const DEFAULT_RETRY_BASE_MS: u64 = 60_000;
/// The longest wait between attempts in milliseconds (`smtp.retry_max_ms`).
pub const DEFAULT_RETRY_MAX_MS: u64 = 3_600_000;
/// Attempts the automatic pause looks back on (`smtp.pause_window`).
pub const DEFAULT_PAUSE_WINDOW: usize = 500;
/// The share of failed attempts in the window over which sending pauses
/// (`smtp.pause_threshold_percent`).
pub const DEFAULT_PAUSE_THRESHOLD_PERCENT: f64 = 5.0;
/// Whether emails left `sending` by a process that died are sent again
/// (`smtp.at_least_once`): off, at-most-once.
pub const DEFAULT_AT_LEAST_ONCE: bool = false;

/// How mailscore talks to its SMTP server (`[smtp]`). `Debug` masks the password.
#[derive(Clone, PartialEq)]
pub struct SmtpSettings {
    /// lettre's URL form: `smtp://host:port`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`. `None`: nothing is sent.
    pub url: Option<String>,
    /// The password, when not in the URL (`MAILSCORE_SMTP_PASSWORD`, `smtp.password_file`).
    pub password: Option<String>,
    /// Roots to trust for the server's certificate beside the built-in ones (a PEM file).
    pub ca_file: Option<PathBuf>,
    pub pool_size: u32,
    pub concurrency: usize,
    pub timeout: Duration,
    pub rate_per_second: u32,
    pub rate_per_hour: u32,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub pause_window: usize,
    pub pause_threshold_percent: f64,
    pub at_least_once: bool,
    /// Minutes after an email's scheduled time after which it is not sent but
    /// `cancelled` (`smtp.deadline_minutes`); `None`: no deadline.
    pub deadline: Option<Duration>,
    /// The envelope sender (`MAIL FROM`, where bounces go; `smtp.return_path`); `None`:
    /// `email.sender_email`.
    pub return_path: Option<String>,
    /// A `Reply-To` header (`smtp.reply_to`); `None`: none.
    pub reply_to: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            url: None,
            password: None,
            ca_file: None,
            pool_size: DEFAULT_POOL_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            rate_per_hour: DEFAULT_RATE_PER_HOUR,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_base: Duration::from_millis(DEFAULT_RETRY_BASE_MS),
            retry_max: Duration::from_millis(DEFAULT_RETRY_MAX_MS),
            pause_window: DEFAULT_PAUSE_WINDOW,
            pause_threshold_percent: DEFAULT_PAUSE_THRESHOLD_PERCENT,
            at_least_once: DEFAULT_AT_LEAST_ONCE,
            deadline: None,
            return_path: None,
            reply_to: None,
        }
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.url.as_deref().map(mask_url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("rate_per_second", &self.rate_per_second)
            .field("rate_per_hour", &self.rate_per_hour)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .field("pause_window", &self.pause_window)
            .field("pause_threshold_percent", &self.pause_threshold_percent)
            .field("at_least_once", &self.at_least_once)
            .field("deadline", &self.deadline)
            .field("return_path", &self.return_path)
            .field("reply_to", &self.reply_to)
            .finish()
    }
}

/// The URL with its password (if any) replaced by `***`, for logs and `config check`.
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// Whether `url` is an SMTP URL lettre takes: `smtp` or `smtps`, a host, a known `tls`.
pub fn check_smtp_url(url: &str) -> Result<(), String> {
    let hint = "use smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://host:465";
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("{:?} is not a URL ({e}); {hint}", mask_url(url)))?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "{:?} is not smtp:// or smtps://; {hint}",
            mask_url(url)
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{:?} names no host; {hint}", mask_url(url)));
    }
    match parsed.query_pairs().find(|(key, _)| key == "tls") {
        Some((_, value)) if value != "required" && value != "opportunistic" => Err(format!(
            "{:?}: tls={value} is not required or opportunistic; {hint}",
            mask_url(url)
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(
        "no SMTP server is set\nhint: set smtp.url (MAILSCORE_SMTP_URL), for example \
         smtp://localhost:25 or smtp://user@smtp.example.jp:587?tls=required"
    )]
    NoServer,
    #[error(
        "smtp.url {url:?} is not an SMTP URL: {message}\nhint: use smtp://host:port, \
         smtp://user:pass@host:587?tls=required or smtps://host:465"
    )]
    BadUrl { url: String, message: String },
    #[error("reading smtp.ca_file {}: {message}", path.display())]
    CaFile { path: PathBuf, message: String },
    #[error("smtp.return_path {address:?} is not an email address: {message}")]
    BadAddress { address: String, message: String },
}

/// The server's answer to one attempt: its last reply code and text, or `None` and what
/// went wrong when no reply came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Option<u16>,
    pub text: String,
}

/// The pool of connections to the SMTP server, and the envelope sender.
#[derive(Clone)]
pub struct SmtpTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    /// The transport of `settings`: checks the URL and reads the CA file, connects to
    /// nothing yet.
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpError> {
        let url = settings.url.as_deref().ok_or(SmtpError::NoServer)?;
        let bad_url = |message: String| SmtpError::BadUrl {
            url: mask_url(url),
            message,
        };
        check_smtp_url(url).map_err(bad_url)?;
        let parsed = url::Url::parse(url).map_err(|e| bad_url(e.to_string()))?;
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| bad_url("it names no host".to_owned()))?
            .to_owned();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| bad_url(e.to_string()))?;
        if let Some(path) = &settings.ca_file {
            let ca_error = |message: String| SmtpError::CaFile {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
            let parameters = TlsParameters::builder(host.clone())
                .add_root_certificate(certificate)
                .build_rustls()
                .map_err(|e| ca_error(e.to_string()))?;
            let tls_query = parsed
                .query_pairs()
                .find(|(key, _)| key == "tls")
                .map(|(_, value)| value.into_owned());
            let tls = match (parsed.scheme(), tls_query.as_deref()) {
                ("smtps", _) => Tls::Wrapper(parameters),
                (_, Some("required")) => Tls::Required(parameters),
                (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
                _ => Tls::None,
            };
            builder = builder.tls(tls);
        }
        if let Some(password) = &settings.password {
            let user = percent_decode(parsed.username());
            if user.is_empty() {
                return Err(bad_url(
                    "a password is set but the URL names no user (smtp://user@host)".to_owned(),
                ));
            }
            builder = builder.credentials(Credentials::new(user, password.clone()));
        }
        let transport = builder
            .authentication(vec![Mechanism::Plain, Mechanism::Login])
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(settings.pool_size.max(1)))
            .build();
        Ok(Self { transport })
    }

    /// One SMTP transaction of `message` from `from` to `to`.
    pub async fn send(&self, from: &Address, to: &Address, message: &[u8]) -> Reply {
        let envelope = match Envelope::new(Some(from.clone()), vec![to.clone()]) {
            Ok(envelope) => envelope,
            Err(error) => {
                return Reply {
                    code: None,
                    text: format!("no envelope: {error}"),
                };
            }
        };
        match self.transport.send_raw(&envelope, message).await {
            Ok(response) => Reply {
                code: Some(u16::from(response.code())),
                text: response.message().collect::<Vec<_>>().join(" "),
            },
            Err(error) => {
                let text = std::error::Error::source(&error)
                    .map(|source| source.to_string())
                    .unwrap_or_else(|| error.to_string());
                Reply {
                    code: error.status().map(u16::from),
                    text: if error.status().is_some() {
                        text
                    } else {
                        format!("{error}")
                    },
                }
            }
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_url_is_masked() {
        assert_eq!(
            mask_url("smtp://user:secret@host:587?tls=required"),
            "smtp://user:***@host:587?tls=required"
        );
        assert_eq!(mask_url("smtp://host:25"), "smtp://host:25");
    }

    #[test]
    fn a_bad_url_says_what_is_wrong_without_the_password() {
        let settings = SmtpSettings {
            url: Some("http://user:secret@host".into()),
            ..SmtpSettings::default()
        };
        let Err(error) = SmtpTransport::new(&settings) else {
            panic!("http is not smtp");
        };
        let message = error.to_string();
        assert!(message.contains("is not an SMTP URL"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn a_user_is_percent_decoded() {
        assert_eq!(percent_decode("a%40b.jp"), "a@b.jp");
        assert_eq!(percent_decode("plain%4"), "plain%4");
    }
}

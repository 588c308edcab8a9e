//! TLS terminated by the server itself (rustls with the ring provider): where the
//! certificate comes from (PEM files watched for changes, a self-signed certificate kept in
//! the data directory, or ACME in `acme.rs`), the acceptor that wraps the TCP listener, and
//! the plain HTTP listener that redirects to HTTPS.
//!
//! The listener presents whatever [`CertStore`] holds at the moment of each handshake, so a
//! reload or a renewal is one swap of an `Arc`: connections already open keep the
//! certificate they were made with, new ones get the new one, and nothing restarts.

pub mod acme;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::der::der_element;
use poem::http::header::{CONTENT_TYPE, HOST, LOCATION};
use poem::http::uri::Scheme;
use poem::http::{HeaderValue, StatusCode};
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Request, Response, Server};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::server::TlsStream;

use crate::config::{AcmeChallenge, Settings, TlsSource};

/// The `Strict-Transport-Security` value of every answer on a TLS listener: browsers use
/// only HTTPS for this host for a year. No `includeSubDomains` (other hosts under the
/// domain may not speak HTTPS) and no `preload` (a promise for the whole domain that only
/// its owner can make).
pub const HSTS_VALUE: &str = "max-age=31536000";

/// How often the certificate and key files are read to see whether they changed (their
/// contents are compared, not their times: a copy can keep the old modification time).
pub const CERT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long a client may take to finish the TLS handshake before its connection is closed.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the self-signed certificate is valid.
pub const SELF_SIGNED_VALIDITY_DAYS: i64 = 365;

/// A kept certificate (self-signed or from ACME) with fewer days left than this is
/// replaced: at start for the self-signed one, by the renewal task for ACME's.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Where the server keeps its certificates, under the data directory.
pub const TLS_DIR: &str = "tls";
/// The self-signed certificate, under [`TLS_DIR`]; trust this file in a client
/// (`curl --cacert DATA_DIR/tls/self-signed.pem`).
pub const SELF_SIGNED_CERT_FILE: &str = "self-signed.pem";
/// Its private key (mode 0600), under [`TLS_DIR`].
pub const SELF_SIGNED_KEY_FILE: &str = "self-signed.key";

/// The ALPN protocols of an HTTPS connection, preferred first.
const HTTP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// The ALPN protocol of a TLS-ALPN-01 validation connection (RFC 8737).
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The path prefix of HTTP-01 challenges (RFC 8555 §8.3).
pub(crate) const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";

/// What `serve` needs to speak TLS, from the settings.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub source: TlsSource,
    /// A plain HTTP listener answering every request with a redirect to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Where the self-signed and ACME certificates are kept (under [`TLS_DIR`]).
    pub data_dir: PathBuf,
    /// A name the self-signed certificate covers besides this machine's (the host of
    /// `email.base_url`).
    pub public_host: Option<String>,
}

impl TlsOptions {
    /// `None` when the settings name no certificate source: the server speaks plain HTTP.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let source = settings.tls.source.clone()?;
        Some(Self {
            source,
            http_redirect_listen: settings.tls.http_redirect_listen,
            data_dir: settings.data_dir.clone(),
            public_host: host_of_url(&settings.email.base_url),
        })
    }
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error(
        "cannot read the TLS {what} {}: {source}\nhint: check the path and that this user may \
         read it (server.tls_cert / server.tls_key, --tls-cert / --tls-key)",
        path.display()
    )]
    Read {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the TLS {what} {} is not usable: {reason}\nhint: {hint}", path.display())]
    Invalid {
        what: &'static str,
        path: PathBuf,
        reason: String,
        hint: &'static str,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot make a certificate: {0}")]
    Generate(String),
    #[error("cannot set up TLS: {0}")]
    Config(String),
    #[error(
        "cannot listen on {addr} for the HTTP redirect: {source}\nhint: another process may \
         hold the port, or ports below 1024 need privileges; choose another with \
         server.http_redirect_listen"
    )]
    RedirectBind { addr: SocketAddr, source: io::Error },
}

/// The certificate the TLS listener presents, swapped in place by a reload or a renewal,
/// and the TLS-ALPN-01 validation certificates of an ACME order in progress.
#[derive(Debug, Default)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// By domain; presented only to a client that asks for `acme-tls/1`.
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertStore {
    pub fn set(&self, certified: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(certified);
    }

    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_alpn_challenge(&self, domain: &str, certified: Arc<CertifiedKey>) {
        self.alpn_challenges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain.to_owned(), certified);
    }

    pub(crate) fn clear_alpn_challenges(&self) {
        self.alpn_challenges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let wants_acme = client_hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if wants_acme {
            // Only a validation certificate, never the real one, and nothing when no
            // order is waiting for this name.
            let name = client_hello.server_name()?;
            return self
                .alpn_challenges
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
                .cloned();
        }
        self.current()
    }
}

/// HTTP-01 key authorizations by token, answered by the redirect listener.
pub type Http01Tokens = Arc<RwLock<HashMap<String, String>>>;

/// The crypto of every TLS use in the server: ring, as the rest of the tree (ureq) uses.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate as loaded: what the listener presents and how long it is valid.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    pub certified: Arc<CertifiedKey>,
    pub not_after: Option<jiff::Timestamp>,
}

impl LoadedCert {
    /// SHA-256 of the end-entity certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> String {
        self.certified
            .cert
            .first()
            .map(|der| fingerprint(der.as_ref()))
            .unwrap_or_default()
    }

    /// Whether the certificate is valid for every one of `names` (DNS names or IP addresses).
    pub fn covers(&self, names: &[String]) -> bool {
        let Some(der) = self.certified.cert.first() else {
            return false;
        };
        let Ok(cert) = webpki::EndEntityCert::try_from(der) else {
            return false;
        };
        names.iter().all(|name| {
            ServerName::try_from(name.as_str())
                .is_ok_and(|name| cert.verify_is_valid_for_subject_name(&name).is_ok())
        })
    }

    /// Whether it is still valid `days` from now (false when its expiry is unknown).
    pub fn valid_for_days(&self, days: i64) -> bool {
        let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
        self.not_after.is_some_and(|not_after| not_after > horizon)
    }
}

/// SHA-256 of `der` as upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// Parses a PEM certificate chain and its PEM private key into what the listener presents;
/// `cert_path` and `key_path` name the files in the errors.
pub fn parse_cert_pair(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<LoadedCert, TlsError> {
    let invalid_cert = |reason: String| TlsError::Invalid {
        what: "certificate",
        path: cert_path.to_path_buf(),
        reason,
        hint: "give a PEM file with the server's certificate first, then its intermediates",
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid_cert(format!("it does not read as PEM: {e}")))?;
    let Some(end_entity) = chain.first() else {
        return Err(invalid_cert(
            "it holds no \"BEGIN CERTIFICATE\" block".to_owned(),
        ));
    };
    webpki::EndEntityCert::try_from(end_entity)
        .map_err(|e| invalid_cert(format!("its first certificate does not parse: {e:?}")))?;
    let not_after = certificate_validity(end_entity.as_ref()).map(|(_, not_after)| not_after);
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Invalid {
        what: "key",
        path: key_path.to_path_buf(),
        reason: format!("no private key reads from it ({e})"),
        hint: "give the certificate's private key as PEM (PKCS#8, PKCS#1 or SEC1)",
    })?;
    let certified =
        CertifiedKey::from_der(chain, key, &crypto_provider()).map_err(|e| TlsError::Invalid {
            what: "key",
            path: key_path.to_path_buf(),
            reason: format!("it is not the key of {}: {e}", cert_path.display()),
            hint: "the certificate and key files must be replaced together",
        })?;
    Ok(LoadedCert {
        certified: Arc::new(certified),
        not_after,
    })
}

/// Reads and parses a certificate and key file pair.
pub fn load_cert_files(cert_path: &Path, key_path: &Path) -> Result<LoadedCert, TlsError> {
    let (cert_pem, key_pem) = read_pair(cert_path, key_path)?;
    parse_cert_pair(&cert_pem, &key_pem, cert_path, key_path)
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    Ok((read("certificate", cert_path)?, read("key", key_path)?))
}

/// Watches the certificate and key files: every [`CERT_POLL_INTERVAL`] reads both, and when
/// either changed loads the pair and swaps it in. A pair that does not load keeps the
/// certificate in use and is logged once with the file and the reason (a pair caught
/// between its two writes is loaded at the next poll).
/// `loaded` is what the certificate in use was loaded from.
async fn watch_cert_files(
    cert_path: PathBuf,
    key_path: PathBuf,
    loaded: (Vec<u8>, Vec<u8>),
    store: Arc<CertStore>,
) {
    let mut seen = Some(loaded);
    loop {
        tokio::time::sleep(CERT_POLL_INTERVAL).await;
        let (cert, key) = (cert_path.clone(), key_path.clone());
        let read = tokio::task::spawn_blocking(move || read_pair(&cert, &key)).await;
        let contents = match read {
            Ok(Ok(contents)) => contents,
            Ok(Err(error)) => {
                if seen.is_some() {
                    tracing::warn!(%error, "the TLS files cannot be read; the current certificate stays");
                    seen = None;
                }
                continue;
            }
            Err(_) => continue,
        };
        if seen.as_ref() == Some(&contents) {
            continue;
        }
        match parse_cert_pair(&contents.0, &contents.1, &cert_path, &key_path) {
            Ok(loaded) => {
                store.set(Arc::clone(&loaded.certified));
                tracing::info!(
                    cert = %cert_path.display(),
                    fingerprint = %loaded.fingerprint(),
                    not_after = ?loaded.not_after.map(|t| t.to_string()),
                    "TLS certificate reloaded"
                );
            }
            Err(error) => tracing::warn!(
                cert = %cert_path.display(),
                key = %key_path.display(),
                %error,
                "the changed TLS files do not load; the current certificate stays"
            ),
        }
        seen = Some(contents);
    }
}

/// The names the self-signed certificate covers: this machine, and `public_host` if any.
pub fn self_signed_names(public_host: Option<&str>) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        Ipv4Addr::LOCALHOST.to_string(),
        Ipv6Addr::LOCALHOST.to_string(),
    ];
    if let Some(host) = public_host
        && !names.iter().any(|name| name == host)
    {
        names.push(host.to_owned());
    }
    names
}

/// The kept self-signed certificate when it still covers `names` for
/// [`RENEW_BEFORE_DAYS`], else a new one (written to the data directory, key 0600).
pub fn ensure_self_signed(data_dir: &Path, names: &[String]) -> Result<LoadedCert, TlsError> {
    let dir = data_dir.join(TLS_DIR);
    let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
    let key_path = dir.join(SELF_SIGNED_KEY_FILE);
    if cert_path.exists() || key_path.exists() {
        match load_cert_files(&cert_path, &key_path) {
            Ok(kept) if kept.covers(names) && kept.valid_for_days(RENEW_BEFORE_DAYS) => {
                return Ok(kept);
            }
            Ok(_) => tracing::info!(
                cert = %cert_path.display(),
                "the kept self-signed certificate expires soon or misses a name; making a new one"
            ),
            Err(error) => {
                tracing::warn!(%error, "the kept self-signed certificate is unusable; making a new one")
            }
        }
    }
    let (cert_pem, key_pem) = generate_self_signed(names, SELF_SIGNED_VALIDITY_DAYS)?;
    std::fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
        path: dir.clone(),
        source,
    })?;
    write_private(&key_path, key_pem.as_bytes(), 0o600)?;
    write_private(&cert_path, cert_pem.as_bytes(), 0o644)?;
    parse_cert_pair(
        cert_pem.as_bytes(),
        key_pem.as_bytes(),
        &cert_path,
        &key_path,
    )
}

/// A new self-signed certificate for `names`, valid from yesterday (clocks differ) for
/// `days`: its PEM and its key's PEM.
pub fn generate_self_signed(names: &[String], days: i64) -> Result<(String, String), TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mailscore self-signed");
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date();
    let (year, month, day) = ymd(today.yesterday().unwrap_or(today));
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let last = today
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(today);
    let (year, month, day) = ymd(last);
    params.not_after = rcgen::date_time_ymd(year, month, day);
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A date as `rcgen::date_time_ymd` takes it.
fn ymd(date: jiff::civil::Date) -> (i32, u8, u8) {
    (
        i32::from(date.year()),
        date.month().unsigned_abs(),
        date.day().unsigned_abs(),
    )
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees
/// half a file, with `mode` (Unix) from the start.
pub(crate) fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    let write_error = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temporary).map_err(write_error)?;
    file.write_all(bytes).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}

/// The validity of a DER certificate (`notBefore`, `notAfter`), read by walking its
/// structure (RFC 5280 §4.1): the few fields a renewal needs, without an X.509 parser.
pub fn certificate_validity(der: &[u8]) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    const SEQUENCE: u8 = 0x30;
    let (tag, certificate, _) = der_element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der_element(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] EXPLICIT version, when not v1.
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest)?.2;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (tag, validity, _) = der_element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, not_before, rest) = der_element(validity)?;
    let not_before = der_time(tag, not_before)?;
    let (tag, not_after, _) = der_element(rest)?;
    Some((not_before, der_time(tag, not_after)?))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950 to 2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn der_time(tag: u8, contents: &[u8]) -> Option<jiff::Timestamp> {
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    let text = std::str::from_utf8(contents).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i16>().ok();
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 12) => {
            let yy = number(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2);
    let date = jiff::civil::Date::new(
        year,
        i8::try_from(field(0)?).ok()?,
        i8::try_from(field(1)?).ok()?,
    )
    .ok()?;
    let time = jiff::civil::Time::new(
        i8::try_from(field(2)?).ok()?,
        i8::try_from(field(3)?).ok()?,
        i8::try_from(field(4)?).ok()?,
        0,
    )
    .ok()?;
    date.to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// The host of an absolute URL (`email.base_url`), without port or IPv6 brackets.
fn host_of_url(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(inner) => inner.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The TLS side of a running server: the acceptor's configuration and what runs beside it.
pub struct PreparedTls {
    acceptor: tokio_rustls::TlsAcceptor,
    tasks: Vec<JoinHandle<()>>,
    http01: Option<Http01Tokens>,
    redirect_host: Option<String>,
    allowed_hosts: Option<Vec<String>>,
}

/// Loads or makes the certificate `options` names, so that a missing or broken file is an
/// error before the server accepts anything, and starts the tasks that keep it current.
pub async fn prepare(options: &TlsOptions) -> Result<PreparedTls, TlsError> {
    let store = Arc::new(CertStore::default());
    let mut tasks = Vec::new();
    let mut http01 = None;
    let mut alpn = HTTP_ALPN.map(<[u8]>::to_vec).to_vec();
    let mut redirect_host = None;
    let mut allowed_hosts = None;
    match &options.source {
        TlsSource::Files { cert, key } => {
            let contents = read_pair(cert, key)?;
            let loaded = parse_cert_pair(&contents.0, &contents.1, cert, key)?;
            tracing::info!(
                cert = %cert.display(),
                fingerprint = %loaded.fingerprint(),
                not_after = ?loaded.not_after.map(|t| t.to_string()),
                "TLS certificate loaded; its files are watched for changes"
            );
            store.set(Arc::clone(&loaded.certified));
            tasks.push(tokio::spawn(watch_cert_files(
                cert.clone(),
                key.clone(),
                contents,
                Arc::clone(&store),
            )));
        }
        TlsSource::SelfSigned => {
            let names = self_signed_names(options.public_host.as_deref());
            let data_dir = options.data_dir.clone();
            let loaded = tokio::task::spawn_blocking(move || ensure_self_signed(&data_dir, &names))
                .await
                .map_err(|e| TlsError::Generate(e.to_string()))??;
            tracing::info!(
                cert = %options.data_dir.join(TLS_DIR).join(SELF_SIGNED_CERT_FILE).display(),
                sha256_fingerprint = %loaded.fingerprint(),
                not_after = ?loaded.not_after.map(|t| t.to_string()),
                "serving a self-signed certificate: trust this file, or check this fingerprint"
            );
            store.set(Arc::clone(&loaded.certified));
        }
        TlsSource::Acme(settings) => {
            let manager = acme::AcmeManager::new(
                settings.clone(),
                options.data_dir.join(TLS_DIR).join(acme::ACME_DIR),
                Arc::clone(&store),
            )?;
            match settings.challenge {
                AcmeChallenge::TlsAlpn01 => alpn.push(ACME_TLS_ALPN.to_vec()),
                AcmeChallenge::Http01 => http01 = Some(manager.http01_tokens()),
            }
            redirect_host = settings.domains.first().cloned();
            allowed_hosts = Some(settings.domains.clone());
            tasks.push(tokio::spawn(manager.run()));
        }
    }
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = alpn;
    Ok(PreparedTls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        tasks,
        http01,
        redirect_host,
        allowed_hosts,
    })
}

impl PreparedTls {
    /// Wraps the TCP listener: every connection it accepts speaks TLS.
    pub fn acceptor(&self, tcp: TcpAcceptor) -> TlsAcceptor<TcpAcceptor> {
        TlsAcceptor {
            inner: tcp,
            tls: self.acceptor.clone(),
        }
    }

    /// Binds the redirect listener when `addr` is given and starts it; from then on this
    /// owns everything that runs beside the TLS listener.
    pub async fn start(
        self,
        redirect: Option<SocketAddr>,
        https_port: u16,
    ) -> Result<TlsRuntime, TlsError> {
        let redirect = match redirect {
            None => None,
            Some(addr) => {
                let bound = async {
                    let listener = tokio::net::TcpListener::bind(addr).await?;
                    let local_addr = listener.local_addr()?;
                    Ok::<_, io::Error>((TcpAcceptor::from_tokio(listener)?, local_addr))
                };
                let (acceptor, local_addr) = match bound.await {
                    Ok(bound) => bound,
                    Err(source) => {
                        for task in &self.tasks {
                            task.abort();
                        }
                        return Err(TlsError::RedirectBind { addr, source });
                    }
                };
                let rules = Arc::new(RedirectRules {
                    https_port,
                    fallback_host: self.redirect_host.clone(),
                    allowed_hosts: self.allowed_hosts.clone(),
                    http01: self.http01.clone(),
                });
                let endpoint = poem::endpoint::make_sync(move |request| rules.answer(&request));
                let (stop, stopped) = oneshot::channel::<()>();
                let server = tokio::spawn(
                    Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                        endpoint,
                        async {
                            let _ = stopped.await;
                        },
                        Some(Duration::from_secs(1)),
                    ),
                );
                tracing::info!(addr = %local_addr, "redirecting plain HTTP to HTTPS");
                Some(RedirectServer {
                    local_addr,
                    stop,
                    server,
                })
            }
        };
        Ok(TlsRuntime {
            tasks: self.tasks,
            redirect,
        })
    }
}

/// What runs beside a TLS listener: the file watcher or the ACME task, and the redirect
/// listener.
pub struct TlsRuntime {
    tasks: Vec<JoinHandle<()>>,
    redirect: Option<RedirectServer>,
}

struct RedirectServer {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<io::Result<()>>,
}

impl TlsRuntime {
    /// The address the redirect listener is bound to, if there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(|redirect| redirect.local_addr)
    }

    /// Stops the background tasks and the redirect listener.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(redirect) = self.redirect {
            let _ = redirect.stop.send(());
            match redirect.server.await {
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the redirect listener stopped with an error")
                }
                Err(error) => tracing::warn!(%error, "the redirect listener ended abnormally"),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// How the plain HTTP listener answers.
struct RedirectRules {
    https_port: u16,
    /// The host to send a request without a usable `Host` to (the first ACME domain).
    fallback_host: Option<String>,
    /// With ACME, only its domains are taken from `Host`; else any well-formed host.
    allowed_hosts: Option<Vec<String>>,
    http01: Option<Http01Tokens>,
}

impl RedirectRules {
    fn answer(&self, request: &Request) -> Response {
        let path = request.uri().path();
        if let (Some(tokens), Some(token)) = (&self.http01, path.strip_prefix(HTTP01_PREFIX)) {
            let key_authorization = tokens
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(token)
                .cloned();
            return match key_authorization {
                Some(body) => Response::builder()
                    .content_type("application/octet-stream")
                    .body(body),
                None => plain(StatusCode::NOT_FOUND, "no such ACME challenge\n"),
            };
        }
        let from_request = request
            .headers()
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(host_of_authority)
            .filter(|host| {
                self.allowed_hosts
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(host))
            });
        let Some(host) = from_request.or_else(|| self.fallback_host.clone()) else {
            return plain(
                StatusCode::BAD_REQUEST,
                "this address only redirects to HTTPS, and the request names no usable host\n",
            );
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |value| value.as_str());
        let location = format!("https://{host}{port}{path_and_query}");
        match HeaderValue::from_str(&location) {
            Ok(value) => {
                let mut response = plain(StatusCode::PERMANENT_REDIRECT, "use HTTPS\n");
                response.headers_mut().insert(LOCATION, value);
                response
            }
            Err(_) => plain(StatusCode::BAD_REQUEST, "unusable request target\n"),
        }
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::builder().status(status).body(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The host of a `Host` header (`name`, `name:port`, `[v6]:port`), lower case, when it is
/// a DNS name or an IP address: nothing else goes into a `Location`.
fn host_of_authority(authority: &str) -> Option<String> {
    let host = match authority.strip_prefix('[') {
        Some(inner) => {
            let (ip, rest) = inner.split_once(']')?;
            if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)) {
                return None;
            }
            return ip.parse::<Ipv6Addr>().ok().map(|ip| ip.to_string());
        }
        None => match authority.split_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => authority,
        },
    };
    if host.parse::<IpAddr>().is_ok() {
        return Some(host.to_owned());
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(host)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.parse::<u16>().is_ok()
}

/// A TCP acceptor whose connections speak TLS. The handshake runs on the connection's own
/// task (at its first read or write), never in the accept loop, so a slow client holds up
/// nobody else; it is bounded by [`TLS_HANDSHAKE_TIMEOUT`].
pub struct TlsAcceptor<A> {
    inner: A,
    tls: tokio_rustls::TlsAcceptor,
}

impl<A: Acceptor> Acceptor for TlsAcceptor<A> {
    type Io = TlsConnection<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local_addr, remote_addr, _) = self.inner.accept().await?;
        let handshake = self.tls.accept(io);
        let handshake = async move {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake timed out",
                )),
            }
        };
        let connection = TlsConnection {
            state: HandshakeState::Handshaking(Box::pin(handshake)),
        };
        Ok((connection, local_addr, remote_addr, Scheme::HTTPS))
    }
}

type Handshake<IO> = Pin<Box<dyn Future<Output = io::Result<TlsStream<IO>>> + Send>>;

/// One accepted connection: its TLS handshake until it completes, then the TLS stream.
pub struct TlsConnection<IO> {
    state: HandshakeState<IO>,
}

enum HandshakeState<IO> {
    Handshaking(Handshake<IO>),
    Ready(Box<TlsStream<IO>>),
    Failed,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsConnection<IO> {
    /// Drives the handshake; the stream once it is done.
    fn poll_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<IO>>> {
        if let HandshakeState::Handshaking(handshake) = &mut self.state {
            match ready!(handshake.as_mut().poll(cx)) {
                Ok(stream) => self.state = HandshakeState::Ready(Box::new(stream)),
                Err(error) => {
                    self.state = HandshakeState::Failed;
                    return Poll::Ready(Err(error));
                }
            }
        }
        match &mut self.state {
            HandshakeState::Ready(stream) => Poll::Ready(Ok(stream)),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the TLS handshake failed",
            ))),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsConnection<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsConnection<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.state {
            HandshakeState::Ready(stream) => stream.is_write_vectored(),
            _ => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_validity_of_a_generated_certificate_reads_back() {
        let (cert_pem, _) = generate_self_signed(&names(&["localhost"]), 30).unwrap();
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let (not_before, not_after) = certificate_validity(der.as_ref()).unwrap();
        assert!(not_before < jiff::Timestamp::now(), "{not_before}");
        // From yesterday to 30 days from today.
        let hours = not_after.duration_since(not_before).as_hours();
        assert_eq!(hours, 31 * 24, "{not_before} {not_after}");
    }

    #[test]
    fn both_der_time_forms_parse_and_junk_does_not() {
        let utc = der_time(0x17, b"250702123456Z").unwrap();
        assert_eq!(utc.to_string(), "2025-07-02T12:34:56Z");
        let old = der_time(0x17, b"990101000000Z").unwrap();
        assert_eq!(old.to_string(), "1999-01-01T00:00:00Z");
        let generalized = der_time(0x18, b"20991231235959Z").unwrap();
        assert_eq!(generalized.to_string(), "2099-12-31T23:59:59Z");
        for junk in [
            &b"2507021234Z"[..],
            b"250702123456",
            b"25070212345aZ",
            b"251302123456Z",
        ] {
            assert!(der_time(0x17, junk).is_none(), "{junk:?}");
        }
        assert!(certificate_validity(b"\x30\x03\x02\x01").is_none());
    }

    #[test]
    fn a_self_signed_certificate_covers_its_names_and_is_kept_while_valid() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = self_signed_names(Some("mail.example.jp"));
        let first = ensure_self_signed(dir.path(), &wanted).unwrap();
        assert!(first.covers(&wanted));
        assert!(!first.covers(&names(&["other.example.jp"])));
        assert!(first.valid_for_days(RENEW_BEFORE_DAYS));
        let again = ensure_self_signed(dir.path(), &wanted).unwrap();
        assert_eq!(again.fingerprint(), first.fingerprint());
        // Another public host: a new certificate.
        let moved =
            ensure_self_signed(dir.path(), &self_signed_names(Some("x.example.jp"))).unwrap();
        assert_ne!(moved.fingerprint(), first.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.path().join(TLS_DIR).join(SELF_SIGNED_KEY_FILE);
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_the_key_file() {
        let (cert_a, _) = generate_self_signed(&names(&["localhost"]), 30).unwrap();
        let (_, key_b) = generate_self_signed(&names(&["localhost"]), 30).unwrap();
        let error = parse_cert_pair(
            cert_a.as_bytes(),
            key_b.as_bytes(),
            Path::new("/etc/a.pem"),
            Path::new("/etc/b.key"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("/etc/b.key"), "{error}");
        let error = parse_cert_pair(
            b"not pem",
            key_b.as_bytes(),
            Path::new("/etc/a.pem"),
            Path::new("/etc/b.key"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("/etc/a.pem"), "{error}");
    }

    #[test]
    fn only_a_well_formed_host_is_taken_from_the_host_header() {
        for (header, host) in [
            ("example.jp", Some("example.jp")),
            ("Example.JP:8080", Some("example.jp")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("[::1]:80", Some("::1")),
            ("[::1]", Some("::1")),
            ("evil.example/path", None),
            ("a b", None),
            ("example.jp:port", None),
            ("", None),
            ("[::1", None),
            ("user@example.jp", None),
        ] {
            assert_eq!(host_of_authority(header).as_deref(), host, "{header:?}");
        }
    }

    #[test]
    fn the_host_of_the_base_url_is_found() {
        assert_eq!(
            host_of_url("https://Mail.example.jp/x").as_deref(),
            Some("mail.example.jp")
        );
        assert_eq!(
            host_of_url("http://localhost:8080").as_deref(),
            Some("localhost")
        );
        assert_eq!(host_of_url("http://[::1]:8080").as_deref(), Some("::1"));
    }

    fn redirect(rules: &RedirectRules, uri: &str, host: Option<&str>) -> (u16, Option<String>) {
        let mut builder = Request::builder().uri(uri.parse::<poem::http::Uri>().unwrap());
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        let response = rules.answer(&builder.finish());
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), location)
    }

    #[test]
    fn a_redirect_keeps_path_and_query_and_takes_only_allowed_hosts() {
        let open = RedirectRules {
            https_port: 8443,
            fallback_host: None,
            allowed_hosts: None,
            http01: None,
        };
        assert_eq!(
            redirect(&open, "/api/jobs?limit=5&x=%20", Some("example.jp:8080")),
            (
                308,
                Some("https://example.jp:8443/api/jobs?limit=5&x=%20".into())
            )
        );
        assert_eq!(
            redirect(&open, "/", Some("[::1]:80")),
            (308, Some("https://[::1]:8443/".into()))
        );
        assert_eq!(redirect(&open, "/", None).0, 400);
        let tokens: Http01Tokens = Arc::default();
        tokens
            .write()
            .unwrap()
            .insert("tok".into(), "tok.thumb".into());
        let acme = RedirectRules {
            https_port: 443,
            fallback_host: Some("mail.example.jp".into()),
            allowed_hosts: Some(vec!["mail.example.jp".into()]),
            http01: Some(tokens),
        };
        assert_eq!(
            redirect(&acme, "/a?b", Some("evil.example")),
            (308, Some("https://mail.example.jp/a?b".into()))
        );
        assert_eq!(
            redirect(&acme, "/.well-known/acme-challenge/tok", None),
            (200, None)
        );
        assert_eq!(
            redirect(&acme, "/.well-known/acme-challenge/other", None).0,
            404
        );
    }
}

//! The server's own TLS as a client sees it: the real server on a loopback port, HTTPS
//! through a client that trusts only the test's roots, the certificate files replaced
//! while it runs, the plain HTTP redirect listener, and ACME against a real ACME server
//! (pebble, started by the test on loopback ports).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailscore::api::tls::{
    CERT_POLL_INTERVAL, HSTS_VALUE, SELF_SIGNED_CERT_FILE, TLS_DIR, TlsOptions,
};
use mailscore::api::{RunningServer, ServeOptions};
use mailscore::config::{AcmeChallenge, AcmeSettings, TlsSource};
use mailscore::store::Store;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::helpers::TestStore;

/// How long any one request or handshake of these tests may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running TLS server over an empty store.
struct TlsApp {
    server: Option<RunningServer>,
    /// The data directory (the self-signed and ACME certificates are kept in it).
    dir: tempfile::TempDir,
}

async fn spawn_tls(
    source: TlsSource,
    listen: SocketAddr,
    redirect: Option<SocketAddr>,
) -> Result<TlsApp, mailscore::api::ServeError> {
    let t = TestStore::new();
    let TestStore { dir, store } = t;
    spawn_tls_in(dir, Arc::new(store), source, listen, redirect).await
}

async fn spawn_tls_in(
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    source: TlsSource,
    listen: SocketAddr,
    redirect: Option<SocketAddr>,
) -> Result<TlsApp, mailscore::api::ServeError> {
    let options = ServeOptions {
        tls: Some(TlsOptions {
            source,
            http_redirect_listen: redirect,
            data_dir: dir.path().to_path_buf(),
            public_host: None,
        }),
        ..ServeOptions::new(
            listen,
            dir.path().to_path_buf(),
            mailscore::tokens::TokenSigner::new(b"tls test key"),
        )
    };
    let server = mailscore::api::start(store, &options).await?;
    Ok(TlsApp {
        server: Some(server),
        dir,
    })
}

impl TlsApp {
    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("the server stops cleanly");
        }
    }
}

fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A free loopback port, for a process that must be told a port before it starts (the
/// port is free when this returns; nothing else on the machine takes it in between).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A test CA and certificates it signs.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mailscore test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1: its PEM and its key's PEM.
    fn leaf(&self) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

fn roots_of(pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(der.unwrap()).unwrap();
    }
    roots
}

/// Completes a TLS handshake with `addr` as `server_name`, trusting only `roots`; the
/// end-entity certificate the server presented.
async fn served_certificate(
    addr: SocketAddr,
    server_name: &str,
    roots: rustls::RootCertStore,
) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (_, connection) = tls.get_ref();
        connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|der| der.as_ref().to_vec())
            .ok_or_else(|| "no certificate".to_owned())
    };
    tokio::time::timeout(CLIENT_TIMEOUT, handshake)
        .await
        .map_err(|_| "the handshake timed out".to_owned())?
}

/// Waits until `check` holds, at most `limit`; whether it did.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A ureq agent trusting only `roots_pem`'s certificates, following no redirect.
fn https_agent(roots_pem: &str) -> ureq::Agent {
    let roots: Vec<ureq::tls::Certificate<'static>> =
        CertificateDer::pem_slice_iter(roots_pem.as_bytes())
            .map(|der| ureq::tls::Certificate::from_der(der.unwrap().as_ref()).to_owned())
            .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(CLIENT_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// `GET url` off the runtime: status and headers.
async fn get(agent: &ureq::Agent, url: String) -> Result<(u16, ureq::http::HeaderMap), String> {
    let agent = agent.clone();
    tokio::task::spawn_blocking(move || {
        agent
            .get(&url)
            .call()
            .map(|response| (response.status().as_u16(), response.headers().clone()))
            .map_err(|e| format!("GET {url}: {e}"))
    })
    .await
    .unwrap()
}

fn header<'a>(headers: &'a ureq::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Sends a plain HTTP request on a raw connection; everything the peer answered.
async fn raw_http(addr: SocketAddr, request: String) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn self_signed_serves_https_with_hsts_and_plain_http_on_that_port_fails() {
    let app = spawn_tls(TlsSource::SelfSigned, loopback_any_port(), None)
        .await
        .expect("the server starts");
    let cert_path = app.dir.path().join(TLS_DIR).join(SELF_SIGNED_CERT_FILE);
    let cert_pem = std::fs::read_to_string(&cert_path).expect("the certificate is kept");
    let agent = https_agent(&cert_pem);
    let port = app.addr().port();
    for host in ["localhost", "127.0.0.1"] {
        let (status, headers) = get(&agent, format!("https://{host}:{port}/health/live"))
            .await
            .unwrap();
        assert_eq!(status, 200, "{host}");
        assert_eq!(
            header(&headers, "strict-transport-security"),
            Some(HSTS_VALUE)
        );
    }
    let answer = raw_http(
        app.addr(),
        "GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        String::from_utf8_lossy(&answer)
    );

    // The next start reuses the kept certificate.
    let fingerprint_before = der_of(&cert_pem);
    let TlsApp { server, dir } = app;
    server.unwrap().shutdown().await.unwrap();
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    let again = spawn_tls_in(
        dir,
        Arc::new(store),
        TlsSource::SelfSigned,
        loopback_any_port(),
        None,
    )
    .await
    .expect("the server starts again");
    let served = served_certificate(again.addr(), "localhost", roots_of(&cert_pem))
        .await
        .unwrap();
    assert_eq!(
        served, fingerprint_before,
        "the kept certificate is served again"
    );
    again.stop().await;
}

#[tokio::test]
async fn replaced_certificate_files_are_served_within_the_poll_interval_and_broken_ones_are_not() {
    let ca = TestCa::new();
    let (cert_a, key_a) = ca.leaf();
    let (cert_b, key_b) = ca.leaf();
    let files = tempfile::tempdir().unwrap();
    let cert_path = files.path().join("fullchain.pem");
    let key_path = files.path().join("privkey.pem");
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let app = spawn_tls(
        TlsSource::Files {
            cert: cert_path.clone(),
            key: key_path.clone(),
        },
        loopback_any_port(),
        None,
    )
    .await
    .expect("the server starts");
    let addr = app.addr();
    let served = || async { served_certificate(addr, "localhost", roots_of(&ca.pem)).await };
    assert_eq!(served().await.unwrap(), der_of(&cert_a));

    // Replaced as a certificate tool does it: each file renamed into place.
    replace(&key_path, &key_b);
    replace(&cert_path, &cert_b);
    let limit = CERT_POLL_INTERVAL * 2 + Duration::from_secs(3);
    assert!(
        eventually(limit, || async {
            served().await.ok() == Some(der_of(&cert_b))
        })
        .await,
        "certificate B is not served within {limit:?}"
    );
    let (status, headers) = get(
        &https_agent(&ca.pem),
        format!("https://localhost:{}/health/live", addr.port()),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "strict-transport-security"),
        Some(HSTS_VALUE)
    );

    // A broken certificate, then a key of another certificate: B stays.
    std::fs::write(&cert_path, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    tokio::time::sleep(CERT_POLL_INTERVAL * 2 + Duration::from_millis(500)).await;
    assert_eq!(served().await.unwrap(), der_of(&cert_b));
    replace(&cert_path, &cert_b);
    replace(&key_path, &key_a);
    tokio::time::sleep(CERT_POLL_INTERVAL * 2 + Duration::from_millis(500)).await;
    assert_eq!(served().await.unwrap(), der_of(&cert_b));
    app.stop().await;
}

/// Writes `contents` beside `path` and renames it over `path`.
fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test]
async fn a_missing_or_broken_certificate_file_stops_the_start_naming_it() {
    let files = tempfile::tempdir().unwrap();
    let cert_path = files.path().join("missing.pem");
    let key_path = files.path().join("key.pem");
    std::fs::write(&key_path, "not a key").unwrap();
    let source = |cert: &PathBuf| TlsSource::Files {
        cert: cert.clone(),
        key: key_path.clone(),
    };
    let error = spawn_tls(source(&cert_path), loopback_any_port(), None)
        .await
        .err()
        .expect("no certificate, no start")
        .to_string();
    assert!(error.contains(&cert_path.display().to_string()), "{error}");
    let (cert, _) = TestCa::new().leaf();
    std::fs::write(&cert_path, cert).unwrap();
    let error = spawn_tls(source(&cert_path), loopback_any_port(), None)
        .await
        .err()
        .expect("no key, no start")
        .to_string();
    assert!(error.contains(&key_path.display().to_string()), "{error}");
}

#[tokio::test]
async fn the_redirect_listener_answers_308_to_https_keeping_path_and_query() {
    let app = spawn_tls(
        TlsSource::SelfSigned,
        loopback_any_port(),
        Some(loopback_any_port()),
    )
    .await
    .expect("the server starts");
    let redirect = app
        .server
        .as_ref()
        .unwrap()
        .redirect_addr()
        .expect("a redirect listener");
    let port = app.addr().port();
    let answer = raw_http(
        redirect,
        "GET /api/jobs?limit=5&offset=10 HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n"
            .to_owned(),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    let expected = format!("location: https://localhost:{port}/api/jobs?limit=5&offset=10\r\n");
    assert!(answer.to_ascii_lowercase().contains(&expected), "{answer}");
    let answer = raw_http(
        redirect,
        "GET / HTTP/1.1\r\nHost: bad host\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    app.stop().await;
}

/// A pebble process, stopped when dropped.
struct Pebble {
    child: Child,
    directory: String,
    management: SocketAddr,
    /// The test CA that signed pebble's own HTTPS certificate.
    ca_file: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pebble binary (Debian's `pebble` package), or `None` with a skip message.
fn pebble_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pebble"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: the pebble binary is not installed (apt-get install pebble; \
             .ci/run installs it)"
        );
    }
    found
}

/// Starts pebble on free loopback ports, validating TLS-ALPN-01 on `tls_port` and HTTP-01
/// on `http_port`, without its random validation delays and nonce rejections.
async fn start_pebble(binary: &Path, tls_port: u16, http_port: u16) -> Pebble {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (cert, key) = ca.leaf();
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    let config_path = dir.path().join("pebble-config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let log = std::fs::File::create(dir.path().join("pebble.log")).unwrap();
    let child = Command::new(binary)
        .arg("-config")
        .arg(&config_path)
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("pebble starts");
    let pebble = Pebble {
        child,
        directory: format!("https://{listen}/dir"),
        management,
        ca_file,
        dir,
    };
    let up = eventually(Duration::from_secs(15), || async {
        TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok()
            && TcpStream::connect_timeout(&management, Duration::from_millis(200)).is_ok()
    })
    .await;
    assert!(up, "pebble does not listen on {listen}: {}", pebble.log());
    pebble
}

impl Pebble {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// The root pebble issues under (made anew at each start), from its management port.
    async fn issuing_root(&self) -> String {
        let agent = https_agent(&std::fs::read_to_string(&self.ca_file).unwrap());
        let url = format!("https://{}/roots/0", self.management);
        tokio::task::spawn_blocking(move || {
            agent
                .get(&url)
                .call()
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
                .body_mut()
                .read_to_string()
                .unwrap()
        })
        .await
        .unwrap()
    }

    fn acme(&self, challenge: AcmeChallenge) -> TlsSource {
        TlsSource::Acme(AcmeSettings {
            domains: vec!["localhost".to_owned()],
            contact: "mailto:ops@example.jp".to_owned(),
            directory: self.directory.clone(),
            ca_file: Some(self.ca_file.clone()),
            challenge,
        })
    }
}

/// Issues a certificate from pebble with `challenge` and checks the server serves it and
/// keeps it (and the account) for its next start.
async fn acme_issues_and_serves(challenge: AcmeChallenge) {
    let Some(binary) = pebble_binary() else {
        return;
    };
    let tls_port = free_port();
    let http_port = free_port();
    let pebble = start_pebble(&binary, tls_port, http_port).await;
    let listen: SocketAddr = format!("127.0.0.1:{tls_port}").parse().unwrap();
    let redirect: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let app = spawn_tls(pebble.acme(challenge), listen, Some(redirect))
        .await
        .expect("the server starts before it has a certificate");
    let root = pebble.issuing_root().await;
    let issued = eventually(Duration::from_secs(60), || async {
        served_certificate(listen, "localhost", roots_of(&root))
            .await
            .is_ok()
    })
    .await;
    assert!(
        issued,
        "no certificate from pebble within 60 s; pebble's log:\n{}",
        pebble.log()
    );
    let (status, headers) = get(
        &https_agent(&root),
        format!("https://localhost:{tls_port}/health/live"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "strict-transport-security"),
        Some(HSTS_VALUE)
    );

    let acme_dir = app.dir.path().join(TLS_DIR).join("acme");
    let kept = std::fs::read_to_string(acme_dir.join("cert.pem")).expect("the chain is kept");
    let accounts = std::fs::read_dir(&acme_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("account-"))
        .count();
    assert_eq!(accounts, 1, "one account file in {}", acme_dir.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(acme_dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The next start serves the kept certificate at once, without a new order.
    let TlsApp { server, dir } = app;
    server.unwrap().shutdown().await.unwrap();
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    let again = spawn_tls_in(
        dir,
        Arc::new(store),
        pebble.acme(challenge),
        listen,
        Some(redirect),
    )
    .await
    .expect("the server starts again");
    let served = served_certificate(listen, "localhost", roots_of(&root))
        .await
        .expect("the kept certificate is served at once");
    assert_eq!(served, der_of(&kept));
    again.stop().await;
}

#[tokio::test]
async fn acme_tls_alpn_01_against_pebble_issues_a_certificate_the_server_serves() {
    acme_issues_and_serves(AcmeChallenge::TlsAlpn01).await;
}

#[tokio::test]
async fn acme_http_01_against_pebble_issues_a_certificate_the_server_serves() {
    acme_issues_and_serves(AcmeChallenge::Http01).await;
}

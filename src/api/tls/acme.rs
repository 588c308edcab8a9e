//! Certificates from an ACME CA (RFC 8555) with instant-acme: the account and the
//! certificate kept in `DATA_DIR/tls/acme/`, an order with TLS-ALPN-01 (RFC 8737, answered
//! by the listener's [`CertStore`]) or HTTP-01 (answered by the redirect listener), and a
//! task that renews the certificate [`RENEW_BEFORE_DAYS`] before it expires.
//!
//! instant-acme's HTTP goes through ureq, the client already in the tree, so that
//! `server.acme_ca_file` (pebble's CA in the tests, a private CA in production) is one
//! root store of ureq's and the directory needs no second HTTP stack.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use thiserror::Error;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::sign::CertifiedKey;

use super::{
    CertStore, Http01Tokens, LoadedCert, RENEW_BEFORE_DAYS, TlsError, crypto_provider,
    load_cert_files, parse_cert_pair, write_private,
};
use crate::config::{AcmeChallenge, AcmeSettings};

/// The ACME state, under the TLS directory of the data directory.
pub const ACME_DIR: &str = "acme";
/// The issued certificate chain, under [`ACME_DIR`].
pub const ACME_CERT_FILE: &str = "cert.pem";
/// Its private key (mode 0600), under [`ACME_DIR`].
pub const ACME_KEY_FILE: &str = "key.pem";

/// How often the renewal task looks at the certificate's expiry, at most.
pub const ACME_CHECK_INTERVAL: Duration = Duration::from_secs(12 * 3600);

/// The wait after the first failed order; it doubles with each failure in a row up to
/// [`ACME_RETRY_MAX`], which keeps within Let's Encrypt's limit of 5 failed validations
/// per domain and hour.
pub const ACME_RETRY_FIRST: Duration = Duration::from_secs(120);
pub const ACME_RETRY_MAX: Duration = Duration::from_secs(6 * 3600);

/// How long an order may take from its challenges to the issued certificate.
pub const ACME_ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one request to the ACME directory may take.
pub const ACME_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer taken from the directory (a certificate chain is a few KiB).
const ACME_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum AcmeError {
    #[error("{step}: {source}")]
    Protocol {
        step: &'static str,
        source: instant_acme::Error,
    },
    #[error("{0}")]
    Order(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

fn step(step: &'static str) -> impl FnOnce(instant_acme::Error) -> AcmeError {
    move |source| AcmeError::Protocol { step, source }
}

/// Obtains and renews the certificate of `settings.domains`.
pub struct AcmeManager {
    settings: AcmeSettings,
    dir: PathBuf,
    store: Arc<CertStore>,
    http01: Http01Tokens,
    agent: ureq::Agent,
    account: Option<Account>,
    current: Option<LoadedCert>,
}

impl AcmeManager {
    /// Reads the kept certificate, when it covers the domains, into `store` at once, so a
    /// restart serves without waiting for the CA. Fails when `acme_ca_file` is unusable.
    pub fn new(
        settings: AcmeSettings,
        dir: PathBuf,
        store: Arc<CertStore>,
    ) -> Result<Self, TlsError> {
        let agent = acme_agent(settings.ca_file.as_deref())?;
        let kept = load_cert_files(&dir.join(ACME_CERT_FILE), &dir.join(ACME_KEY_FILE));
        let current = match kept {
            Ok(kept) if kept.covers(&settings.domains) => {
                tracing::info!(
                    domains = ?settings.domains,
                    not_after = ?kept.not_after.map(|t| t.to_string()),
                    "serving the kept ACME certificate"
                );
                store.set(Arc::clone(&kept.certified));
                Some(kept)
            }
            Ok(_) => {
                tracing::info!(domains = ?settings.domains, "the kept ACME certificate misses a domain; ordering a new one");
                None
            }
            Err(TlsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the kept ACME certificate is unusable; ordering a new one");
                None
            }
        };
        Ok(Self {
            settings,
            dir,
            store,
            http01: Http01Tokens::default(),
            agent,
            account: None,
            current,
        })
    }

    /// The HTTP-01 answers the redirect listener serves while an order waits.
    pub fn http01_tokens(&self) -> Http01Tokens {
        Arc::clone(&self.http01)
    }

    /// Orders a certificate when there is none or it is due, then waits; forever.
    pub async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            let wait = match self.renew_if_due().await {
                Ok(wait) => {
                    failures = 0;
                    wait
                }
                Err(error) => {
                    failures += 1;
                    let wait = ACME_RETRY_FIRST
                        .saturating_mul(2u32.saturating_pow(failures - 1))
                        .min(ACME_RETRY_MAX);
                    tracing::warn!(
                        %error,
                        directory = %self.settings.directory,
                        domains = ?self.settings.domains,
                        retry_in_s = wait.as_secs(),
                        "no certificate from the ACME CA"
                    );
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Orders a new certificate unless the current one has more than
    /// [`RENEW_BEFORE_DAYS`] left; returns how long to wait before looking again.
    async fn renew_if_due(&mut self) -> Result<Duration, AcmeError> {
        if let Some(current) = &self.current
            && current.valid_for_days(RENEW_BEFORE_DAYS)
        {
            return Ok(ACME_CHECK_INTERVAL);
        }
        let loaded = self.order().await?;
        tracing::info!(
            domains = ?self.settings.domains,
            fingerprint = %loaded.fingerprint(),
            not_after = ?loaded.not_after.map(|t| t.to_string()),
            "ACME certificate issued and in use"
        );
        self.store.set(Arc::clone(&loaded.certified));
        self.current = Some(loaded);
        Ok(ACME_CHECK_INTERVAL)
    }

    /// The account: kept in the data directory for this directory URL, else created
    /// (agreeing to the CA's terms of service) and kept.
    async fn account(&mut self) -> Result<Account, AcmeError> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let path = self.dir.join(account_file_name(&self.settings.directory));
        let builder = || Account::builder_with_http(Box::new(UreqClient(self.agent.clone())));
        let kept = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<AccountCredentials>(&bytes).ok());
        let account = match kept {
            Some(credentials) => builder()
                .from_credentials(credentials)
                .await
                .map_err(step("cannot use the kept ACME account"))?,
            None => {
                let contact = [self.settings.contact.as_str()];
                let (account, credentials) = builder()
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.settings.directory.clone(),
                        None,
                    )
                    .await
                    .map_err(step("cannot create the ACME account"))?;
                let json = serde_json::to_vec_pretty(&credentials)
                    .map_err(|e| AcmeError::Order(format!("cannot encode the account: {e}")))?;
                create_dir(&self.dir)?;
                write_private(&path, &json, 0o600)?;
                tracing::info!(account = %account.id(), path = %path.display(), "ACME account created");
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    /// One order: its challenges answered, the certificate issued and written.
    async fn order(&mut self) -> Result<LoadedCert, AcmeError> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .settings
            .domains
            .iter()
            .map(|domain| Identifier::Dns(domain.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(step("the CA refused the order"))?;
        let challenge_type = match self.settings.challenge {
            AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            AcmeChallenge::Http01 => ChallengeType::Http01,
        };
        let outcome = async {
            let mut authorizations = order.authorizations();
            while let Some(authorization) = authorizations.next().await {
                let mut authorization =
                    authorization.map_err(step("cannot read an authorization"))?;
                match authorization.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    status => {
                        return Err(AcmeError::Order(format!(
                            "an authorization is {status:?}, neither pending nor valid"
                        )));
                    }
                }
                let mut challenge =
                    authorization
                        .challenge(challenge_type.clone())
                        .ok_or(AcmeError::Order(format!(
                            "the CA offers no {} challenge",
                            self.settings.challenge.name()
                        )))?;
                let domain = challenge.identifier().to_string();
                let key_authorization = challenge.key_authorization();
                match self.settings.challenge {
                    AcmeChallenge::TlsAlpn01 => self.store.set_alpn_challenge(
                        &domain,
                        alpn_challenge_cert(&domain, key_authorization.digest().as_ref())?,
                    ),
                    AcmeChallenge::Http01 => {
                        self.http01
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(
                                challenge.token.clone(),
                                key_authorization.as_str().to_owned(),
                            );
                    }
                }
                challenge
                    .set_ready()
                    .await
                    .map_err(step("cannot tell the CA the challenge is ready"))?;
            }
            let retries = RetryPolicy::new().timeout(ACME_ORDER_TIMEOUT);
            let status = order
                .poll_ready(&retries)
                .await
                .map_err(step("the challenges did not pass"))?;
            if status != OrderStatus::Ready {
                return Err(AcmeError::Order(format!(
                    "the order is {status:?} after its challenges"
                )));
            }
            let key_pem = order
                .finalize()
                .await
                .map_err(step("the CA refused the certificate request"))?;
            let chain_pem = order
                .poll_certificate(&retries)
                .await
                .map_err(step("the certificate was not issued"))?;
            Ok((chain_pem, key_pem))
        }
        .await;
        self.store.clear_alpn_challenges();
        self.http01
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let (chain_pem, key_pem) = outcome?;
        let cert_path = self.dir.join(ACME_CERT_FILE);
        let key_path = self.dir.join(ACME_KEY_FILE);
        let loaded = parse_cert_pair(
            chain_pem.as_bytes(),
            key_pem.as_bytes(),
            &cert_path,
            &key_path,
        )?;
        create_dir(&self.dir)?;
        write_private(&key_path, key_pem.as_bytes(), 0o600)?;
        write_private(&cert_path, chain_pem.as_bytes(), 0o644)?;
        Ok(loaded)
    }
}

fn create_dir(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// One account file per directory URL, so that moving from staging to production (or to
/// another CA) does not reuse an account the new directory does not know.
fn account_file_name(directory: &str) -> String {
    let digest = super::fingerprint(directory.as_bytes()).replace(':', "");
    format!("account-{}.json", &digest[..16].to_ascii_lowercase())
}

/// The TLS-ALPN-01 validation certificate of `domain`: self-signed, for that name only,
/// with the critical `acmeIdentifier` extension holding the key authorization's digest.
fn alpn_challenge_cert(domain: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(generate)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki,
    // which refuses the critical extension that is the point of this one.
    let signing_key = crypto_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing_key,
    )))
}

/// The ureq agent for the directory: `ca_file`'s roots when given, else the built-in ones.
fn acme_agent(ca_file: Option<&Path>) -> Result<ureq::Agent, TlsError> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = ca_file {
        let invalid = |reason: String| TlsError::Invalid {
            what: "ACME CA file",
            path: path.to_path_buf(),
            reason,
            hint: "give the PEM root certificate(s) the ACME directory's HTTPS chains to \
                   (server.acme_ca_file)",
        };
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            what: "ACME CA file",
            path: path.to_path_buf(),
            source,
        })?;
        let roots: Vec<ureq::tls::Certificate<'static>> = CertificateDer::pem_slice_iter(&pem)
            .map(|der| der.map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("it does not read as PEM: {e}")))?;
        if roots.is_empty() {
            return Err(invalid(
                "it holds no \"BEGIN CERTIFICATE\" block".to_owned(),
            ));
        }
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .timeout_global(Some(ACME_REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("mailscore/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// instant-acme's HTTP client, on ureq (blocking, so each request runs on tokio's blocking
/// pool; an order makes a dozen of them).
struct UreqClient(ureq::Agent);

impl HttpClient for UreqClient {
    fn request(
        &self,
        request: ureq::http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let agent = self.0.clone();
        Box::pin(async move {
            let (parts, mut body) = request.into_parts();
            let body = match http_body_util::BodyExt::collect(&mut body).await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let response = tokio::task::spawn_blocking(move || {
                // A GET or HEAD goes without a body (and so without `Content-Length: 0`).
                let response = if body.is_empty() {
                    agent.run(ureq::http::Request::from_parts(parts, ()))?
                } else {
                    agent.run(ureq::http::Request::from_parts(parts, body.to_vec()))?
                };
                let (parts, mut body) = response.into_parts();
                let bytes = body
                    .with_config()
                    .limit(ACME_MAX_RESPONSE_BYTES)
                    .read_to_vec()?;
                Ok::<_, ureq::Error>(ureq::http::Response::from_parts(parts, bytes))
            })
            .await
            .map_err(|e| instant_acme::Error::Other(Box::new(e)))?
            .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let (parts, bytes) = response.into_parts();
            Ok(BytesResponse::from(ureq::http::Response::from_parts(
                parts,
                BodyWrapper::from(bytes),
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_has_its_own_account_file() {
        let production = account_file_name(crate::config::DEFAULT_ACME_DIRECTORY);
        let staging = account_file_name("https://acme-staging-v02.api.letsencrypt.org/directory");
        assert_ne!(production, staging);
        assert!(production.starts_with("account-") && production.ends_with(".json"));
        assert_eq!(
            production,
            account_file_name(crate::config::DEFAULT_ACME_DIRECTORY)
        );
    }

    #[test]
    fn a_validation_certificate_is_made_for_its_domain() {
        let digest = [7u8; 32];
        let certified = alpn_challenge_cert("mail.example.jp", &digest).unwrap();
        let der = certified.cert[0].as_ref();
        let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(contains(b"mail.example.jp"));
        // The acmeIdentifier extension holds the digest as an OCTET STRING.
        assert!(contains(&[&[0x04, 0x20][..], &digest].concat()));
    }
}

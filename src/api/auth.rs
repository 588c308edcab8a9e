//! Who a request comes from and what it may do: the one access rule
//! ([`required_access`]), the layer that enforces it on every route by its template
//! ([`authorize`]), sessions behind the [`Cache`] trait, the CSRF check of cookie-borne
//! changes, and the security schemes of the OpenAPI document ([`Secured`]).
//!
//! A request authenticates with `Authorization: Bearer msk_…` (an API token) or with the
//! `mailscore_session` cookie that `POST /api/session` sets. Roles are read from the store
//! on every request, so a revoked token, a disabled account, a changed role or password
//! take effect at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use poem::http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, TRANSFER_ENCODING};
use poem::http::{HeaderValue, Method};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use poem_openapi::OpenApi;
use poem_openapi::registry::{
    MetaApi, MetaHeader, MetaMediaType, MetaOperation, MetaOperationParam, MetaParamIn,
    MetaResponse, MetaSecurityScheme, Registry,
};
use poem_openapi::types::Type;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{
    ErrorBody, csrf_token_invalid, csrf_token_missing, forbidden, internal_error_response,
    session_store_unavailable, unauthenticated,
};
use super::metrics::record_cache_lookup;
use super::middleware::RouteTemplates;
use crate::cache::{Cache, CacheError, MokaCache};
use crate::credentials;
use crate::domain::account::{Account, AccountId, ApiToken, Role};
use crate::domain::time::Micros;
use crate::service::accounts::{LoginThrottle, SetupToken, TokenCache, authenticate_token, now};
use crate::telemetry::ErrorChain;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mailscore_session";

/// The header a cookie-authenticated change must carry, equal to its session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A session ends after this long without a request.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// A session ends this long after its login, however busy.
pub const SESSION_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How often a session's idle deadline is pushed back: at most one cache write a minute
/// per session, so the idle timeout is exact to within this.
pub const SESSION_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// The most sessions held at once (the least used go first past it).
pub const SESSION_CACHE_CAPACITY: u64 = 100_000;
/// API tokens kept looked up (a deployment has a few).
pub const TOKEN_CACHE_CAPACITY: u64 = 10_000;

/// The session cache's name, in metrics and logs.
pub const SESSION_CACHE: &str = "sessions";

/// The OpenAPI security schemes' names.
pub const BEARER_SCHEME: &str = "bearer";
pub const SESSION_SCHEME: &str = "session";

/// Route prefixes anyone may use: health probes, the tracking and unsubscribe paths
/// that links in emails open (they verify a signed token instead), and the bounce
/// webhooks of the mail providers (they verify the shared `webhooks.secret` instead).
pub const PUBLIC_PREFIXES: &[&str] = &["/health", "/t", "/u", "/webhooks"];

/// Routes anyone may use: the API's own description, the setup of the first admin and
/// the page that will offer it.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/oauth-receiver.html",
    "/api/setup",
    "/setup",
];

/// The login route: `POST` signs in (public), `GET` says who is signed in and `DELETE`
/// signs out (any role).
pub const SESSION_ROUTE: &str = "/api/session";

/// Route prefixes for admins only.
pub const ADMIN_PREFIXES: &[&str] = &["/api/accounts", "/api/tokens", "/api/settings"];

/// What a route asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Authenticated with at least this role.
    Role(Role),
}

/// Whether `route` is `prefix` or below it.
fn under(route: &str, prefix: &str) -> bool {
    route
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// The access rule, the only one: for a request's method and route template.
///
/// - public: `/health/*`, `/t/*`, `/u/*`, `/webhooks/*`, the OpenAPI document and explorer, the setup,
///   and signing in (`POST /api/session`);
/// - admin: `/api/accounts*`, `/api/tokens*`, `/api/settings*`;
/// - any role: the rest of `/api/session` (who am I, sign out);
/// - otherwise `GET` and `HEAD` need a viewer, every other method an operator.
///
/// `/metrics` is not public: SPEC §7 leaves only health and tracking open, and a scraper
/// authenticates with a viewer token. A route the templates do not know (no such route)
/// falls under the last line, so a route added without a template is closed, not open.
pub fn required_access(method: &Method, route: &str) -> Access {
    let public = PUBLIC_PREFIXES.iter().any(|prefix| under(route, prefix))
        || PUBLIC_ROUTES.contains(&route)
        || (route == SESSION_ROUTE && *method == Method::POST);
    if public {
        Access::Public
    } else if ADMIN_PREFIXES.iter().any(|prefix| under(route, prefix)) {
        Access::Role(Role::Admin)
    } else if route == SESSION_ROUTE || is_safe(method) {
        Access::Role(Role::Viewer)
    } else {
        Access::Role(Role::Operator)
    }
}

/// Who a request comes from, for the handlers (`Data<&Principal>`).
#[derive(Debug, Clone)]
pub enum Principal {
    /// Signed in with a password; the session's id and CSRF token.
    Session {
        account: Account,
        session_id: String,
        csrf_token: String,
    },
    Token(ApiToken),
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Self::Session { account, .. } => account.role,
            Self::Token(token) => token.role,
        }
    }
}

/// What the session cache holds for a session, under the SHA-256 of its id (a dump of a
/// shared cache shows no usable session id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SessionRecord {
    account_id: AccountId,
    csrf_token: String,
    created_at: Micros,
    last_seen_at: Micros,
    /// A digest of the account's password hash when the session began: a password change
    /// ends every session of the account.
    credential_stamp: String,
}

fn credential_stamp(account: &Account) -> String {
    credentials::sha256_hex(&account.password_hash)[..16].to_owned()
}

fn micros(duration: Duration) -> Micros {
    duration.as_micros() as Micros
}

/// Sessions, kept in a [`Cache`]. With the default in-process cache, a restart signs
/// everybody out: acceptable for a small team, and what a shared cache will fix.
pub struct Sessions {
    cache: Arc<dyn Cache>,
}

impl Sessions {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self { cache }
    }

    fn key(session_id: &str) -> String {
        format!("session:{}", credentials::sha256_hex(session_id))
    }

    /// Starts a session for `account`; returns its id and CSRF token.
    pub async fn create(&self, account: &Account) -> Result<(String, String), CacheError> {
        let session_id = credentials::new_secret();
        let at = now();
        let record = SessionRecord {
            account_id: account.id,
            csrf_token: credentials::new_secret(),
            created_at: at,
            last_seen_at: at,
            credential_stamp: credential_stamp(account),
        };
        self.store(&session_id, &record, at).await?;
        Ok((session_id, record.csrf_token))
    }

    async fn store(
        &self,
        session_id: &str,
        record: &SessionRecord,
        at: Micros,
    ) -> Result<(), CacheError> {
        let absolute_left = record.created_at + micros(SESSION_ABSOLUTE_TIMEOUT) - at;
        let ttl = SESSION_IDLE_TIMEOUT.min(Duration::from_micros(absolute_left.max(0) as u64));
        let bytes = postcard::to_allocvec(record).expect("a session record encodes");
        self.cache.insert(&Self::key(session_id), bytes, ttl).await
    }

    /// The live session `session_id` names, its idle deadline pushed back; `None` when
    /// there is none, or it timed out.
    async fn find(&self, session_id: &str) -> Result<Option<SessionRecord>, CacheError> {
        let key = Self::key(session_id);
        let found = self.cache.get(&key).await?;
        record_cache_lookup(self.cache.name(), found.is_some());
        let Some(mut record) =
            found.and_then(|bytes| postcard::from_bytes::<SessionRecord>(&bytes).ok())
        else {
            return Ok(None);
        };
        let at = now();
        let idle = at - record.last_seen_at >= micros(SESSION_IDLE_TIMEOUT);
        let over = at - record.created_at >= micros(SESSION_ABSOLUTE_TIMEOUT);
        if idle || over {
            self.cache.remove(&key).await?;
            return Ok(None);
        }
        if at - record.last_seen_at >= micros(SESSION_TOUCH_INTERVAL) {
            record.last_seen_at = at;
            self.store(session_id, &record, at).await?;
        }
        Ok(Some(record))
    }

    /// Ends a session.
    pub async fn remove(&self, session_id: &str) -> Result<(), CacheError> {
        self.cache.remove(&Self::key(session_id)).await
    }
}

/// What authentication keeps across requests.
pub struct AuthState {
    pub sessions: Sessions,
    pub throttle: LoginThrottle,
    /// The API tokens looked up recently.
    pub tokens: TokenCache,
    /// The first admin's setup token while it is pending.
    pub setup: SetupToken,
    /// Whether the session cookie is `Secure` (the server or its proxy speaks TLS).
    pub secure_cookies: bool,
}

impl AuthState {
    pub fn new(cache: Arc<dyn Cache>, setup: SetupToken, secure_cookies: bool) -> Self {
        Self {
            sessions: Sessions::new(cache),
            throttle: LoginThrottle::default(),
            tokens: TokenCache::new(TOKEN_CACHE_CAPACITY, super::metrics::record_cache_lookup),
            setup,
            secure_cookies,
        }
    }

    /// The `Set-Cookie` value of a new session.
    pub fn session_cookie(&self, session_id: &str) -> String {
        format!(
            "{SESSION_COOKIE}={session_id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
            SESSION_ABSOLUTE_TIMEOUT.as_secs(),
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }
}

impl Default for AuthState {
    /// Sessions in a moka cache, no setup pending, cookies without `Secure`.
    fn default() -> Self {
        Self::new(
            Arc::new(MokaCache::new(SESSION_CACHE, SESSION_CACHE_CAPACITY)),
            SetupToken::used(),
            false,
        )
    }
}

/// The session id of the request's `mailscore_session` cookie, if it has the form of one.
fn session_cookie_of(request: &Request) -> Option<String> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| credentials::is_secret_text(value))
}

/// How a request presented itself.
enum Presented {
    Nothing,
    Bearer(String),
    /// An `Authorization` header that is no bearer token.
    OtherAuthorization,
    Cookie(String),
}

fn presented(request: &Request) -> Presented {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        return match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Presented::Bearer(token.trim().to_owned())
            }
            _ => Presented::OtherAuthorization,
        };
    }
    session_cookie_of(request).map_or(Presented::Nothing, Presented::Cookie)
}

/// Why a request was refused before it reached its handler.
enum Refusal {
    Response(Response),
}

impl From<CacheError> for Refusal {
    fn from(error: CacheError) -> Self {
        tracing::error!(error = %ErrorChain(&error), "the session cache failed");
        Refusal::Response(session_store_unavailable())
    }
}

/// Authenticates `request` and checks it against the rule; on success returns it with its
/// [`Principal`] in its extensions.
async fn check(
    mut request: Request,
    state: &AppState,
    routes: &RouteTemplates,
) -> Result<Request, Refusal> {
    let route = routes.template_of(request.uri().path());
    let Access::Role(required) = required_access(request.method(), route) else {
        return Ok(request);
    };
    let principal = match presented(&request) {
        Presented::Nothing => {
            return Err(Refusal::Response(unauthenticated(
                "the request carries no credentials",
            )));
        }
        Presented::OtherAuthorization => {
            return Err(Refusal::Response(unauthenticated(
                "the authorization header is not a bearer token",
            )));
        }
        Presented::Bearer(secret) => {
            match authenticate_token(state.store.as_ref(), &state.auth.tokens, &secret).await {
                Ok(Some(token)) => Principal::Token(token),
                Ok(None) => {
                    return Err(Refusal::Response(unauthenticated(
                        "the token is unknown, revoked or expired",
                    )));
                }
                Err(error) => {
                    tracing::error!(error = %ErrorChain(&error), "a token could not be checked");
                    return Err(Refusal::Response(internal_error_response()));
                }
            }
        }
        Presented::Cookie(session_id) => {
            let auth = &state.auth;
            let ended = || {
                let mut response = unauthenticated("the session has ended; sign in again");
                if let Ok(value) = HeaderValue::from_str(&auth.cleared_cookie()) {
                    response
                        .headers_mut()
                        .insert(poem::http::header::SET_COOKIE, value);
                }
                Refusal::Response(response)
            };
            let Some(record) = auth.sessions.find(&session_id).await? else {
                return Err(ended());
            };
            let account = match state.store.account(record.account_id).await {
                Ok(account) => account,
                Err(error) => {
                    tracing::error!(error = %ErrorChain(&error), "a session's account could not be read");
                    return Err(Refusal::Response(internal_error_response()));
                }
            };
            let Some(account) = account.filter(|account| {
                !account.disabled && credential_stamp(account) == record.credential_stamp
            }) else {
                auth.sessions.remove(&session_id).await?;
                return Err(ended());
            };
            // A change borne by a cookie must prove it comes from our own pages: a
            // cross-site form or script cannot read the token to send it.
            if !is_safe(request.method()) {
                let header = request
                    .headers()
                    .get(CSRF_HEADER)
                    .map(|value| value.to_str().unwrap_or_default().to_owned());
                match header {
                    None => return Err(Refusal::Response(csrf_token_missing())),
                    Some(token) if !credentials::same_secret(&token, &record.csrf_token) => {
                        return Err(Refusal::Response(csrf_token_invalid()));
                    }
                    Some(_) => {}
                }
            }
            Principal::Session {
                account,
                session_id,
                csrf_token: record.csrf_token,
            }
        }
    };
    if principal.role() < required {
        return Err(Refusal::Response(forbidden(required, principal.role())));
    }
    request.extensions_mut().insert(principal);
    Ok(request)
}

/// Whether the request declares a body (a length above 0, or a chunked one).
fn carries_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}

/// `endpoint` behind the access rule: every request is checked by its route template
/// before it reaches a handler, so a route added anywhere is covered.
pub fn authorize<E: Endpoint + 'static>(
    endpoint: E,
    state: Arc<AppState>,
    routes: RouteTemplates,
) -> impl Endpoint + 'static {
    let routes = Arc::new(routes);
    endpoint.around(move |inner, request| {
        let state = Arc::clone(&state);
        let routes = Arc::clone(&routes);
        async move {
            let has_body = carries_body(&request);
            match check(request, &state, &routes).await {
                Ok(request) => inner.call(request).await.map(IntoResponse::into_response),
                Err(Refusal::Response(mut response)) => {
                    // The body of a refused request is never read: the connection cannot
                    // carry another request, and the client must not reuse it.
                    if has_body {
                        response
                            .headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok(response)
                }
            }
        }
    })
}

/// An API whose OpenAPI document states the access rule: each operation that is not
/// public requires the bearer or the session scheme, documents its 401 and 403 answers,
/// and, unless it only reads, the CSRF header of cookie-borne changes (and an operation
/// with a body, its 413 and 415). The rule is
/// [`required_access`] itself, so the document cannot drift from what is enforced.
pub struct Secured<T>(pub T);

const UNAUTHENTICATED_DESCRIPTION: &str = "No credentials, or credentials that are unknown, revoked, expired or of an ended session (`unauthenticated`).";

fn forbidden_description(role: Role, safe: bool) -> &'static str {
    match (role, safe) {
        (Role::Viewer, true) => {
            "The credentials' role is too low: this operation needs the viewer role or above (`forbidden`)."
        }
        (Role::Operator, true) => {
            "The credentials' role is too low: this operation needs the operator role or above (`forbidden`)."
        }
        (Role::Admin, true) => {
            "The credentials' role is too low: this operation needs the admin role (`forbidden`)."
        }
        (Role::Viewer, false) => {
            "The credentials' role is too low: this operation needs the viewer role or above (`forbidden`); or the session cookie came without this session's `x-csrf-token` (`csrf_token_missing`, `csrf_token_invalid`)."
        }
        (Role::Operator, false) => {
            "The credentials' role is too low: this operation needs the operator role or above (`forbidden`); or the session cookie came without this session's `x-csrf-token` (`csrf_token_missing`, `csrf_token_invalid`)."
        }
        (Role::Admin, false) => {
            "The credentials' role is too low: this operation needs the admin role (`forbidden`); or the session cookie came without this session's `x-csrf-token` (`csrf_token_missing`, `csrf_token_invalid`)."
        }
    }
}

fn error_response_meta(
    status: u16,
    description: &'static str,
    headers: Vec<MetaHeader>,
) -> MetaResponse {
    MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: "application/json; charset=utf-8",
            schema: ErrorBody::schema_ref(),
        }],
        headers,
    }
}

/// Sets the operation's answer of `response`'s status: a protected operation's 401 and 403
/// mean what the access layer says, whatever its handler's error type documents for the
/// public operations that share it (a wrong password, a disabled account).
fn set_response(operation: &mut MetaOperation, response: MetaResponse) {
    let responses = &mut operation.responses.responses;
    if let Some(existing) = responses.iter_mut().find(|r| r.status == response.status) {
        *existing = response;
        return;
    }
    let at = responses
        .iter()
        .position(|r| r.status.is_none_or(|s| Some(s) > response.status))
        .unwrap_or(responses.len());
    responses.insert(at, response);
}

fn secure_operation(operation: &mut MetaOperation, route: &str) {
    let Access::Role(role) = required_access(&operation.method, route) else {
        return;
    };
    operation.security = vec![
        HashMap::from([(BEARER_SCHEME, Vec::new())]),
        HashMap::from([(SESSION_SCHEME, Vec::new())]),
    ];
    set_response(
        operation,
        error_response_meta(
            401,
            UNAUTHENTICATED_DESCRIPTION,
            vec![MetaHeader {
                name: "www-authenticate".to_owned(),
                description: Some("`Bearer`: how to authenticate.".to_owned()),
                required: true,
                deprecated: false,
                schema: String::schema_ref(),
            }],
        ),
    );
    set_response(
        operation,
        error_response_meta(
            403,
            forbidden_description(role, is_safe(&operation.method)),
            Vec::new(),
        ),
    );
    if !is_safe(&operation.method) && !operation.params.iter().any(|p| p.name == CSRF_HEADER) {
        operation.params.push(MetaOperationParam {
            name: CSRF_HEADER.to_owned(),
            schema: String::schema_ref(),
            in_type: MetaParamIn::Header,
            description: Some(
                "The session's CSRF token (from `POST /api/session` or `GET /api/session`): \
                 required when the request authenticates with the session cookie, ignored \
                 with a bearer token."
                    .to_owned(),
            ),
            required: false,
            deprecated: false,
            explode: true,
            style: None,
        });
    }
}

/// An operation that takes a body also answers what the server's body handling says
/// before its handler runs: a body over the limit, and a body of another media type (or of
/// none).
fn document_body_errors(operation: &mut MetaOperation) {
    if operation.request.is_none() {
        return;
    }
    for (status, description) in [
        (
            413,
            "The body is larger than the server takes (`payload_too_large`).",
        ),
        (
            415,
            "The body is not of the media type the operation takes, or has no `content-type` (`unsupported_media_type`).",
        ),
    ] {
        if !operation
            .responses
            .responses
            .iter()
            .any(|r| r.status == Some(status))
        {
            set_response(
                operation,
                error_response_meta(status, description, Vec::new()),
            );
        }
    }
}

impl<T: OpenApi> OpenApi for Secured<T> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        for path in apis.iter_mut().flat_map(|api| api.paths.iter_mut()) {
            for operation in &mut path.operations {
                secure_operation(operation, &path.path);
                document_body_errors(operation);
            }
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        ErrorBody::register(registry);
        registry.create_security_scheme(
            BEARER_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An API token (`msk_…`), created by an admin with `POST /api/tokens`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("msk_ followed by 43 base64url characters"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            SESSION_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "The session cookie `POST /api/session` sets; a change (any method but \
                     GET and HEAD) also needs the `x-csrf-token` header.",
                ),
                name: Some(SESSION_COOKIE),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn add_routes(
        self,
        route_table: &mut HashMap<String, HashMap<Method, poem::endpoint::BoxEndpoint<'static>>>,
    ) {
        self.0.add_routes(route_table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_opens_health_tracking_the_document_and_login_and_closes_the_rest() {
        use Access::{Public, Role as Needs};
        for (method, route, access) in [
            (Method::GET, "/health/live", Public),
            (Method::GET, "/health/ready", Public),
            (Method::GET, "/t/{token}", Public),
            (Method::POST, "/u/{token}", Public),
            (Method::GET, "/api/openapi.json", Public),
            (Method::GET, "/api/docs", Public),
            (Method::POST, "/api/setup", Public),
            (Method::POST, "/api/session", Public),
            (Method::GET, "/api/session", Needs(Role::Viewer)),
            (Method::DELETE, "/api/session", Needs(Role::Viewer)),
            (Method::GET, "/metrics", Needs(Role::Viewer)),
            (Method::GET, "/api/jobs/{id}", Needs(Role::Viewer)),
            (Method::HEAD, "/api/runs", Needs(Role::Viewer)),
            (Method::POST, "/api/runs", Needs(Role::Operator)),
            (
                Method::DELETE,
                "/api/suppressions/{address}",
                Needs(Role::Operator),
            ),
            (Method::GET, "/api/delivery", Needs(Role::Viewer)),
            (Method::POST, "/api/delivery/pause", Needs(Role::Operator)),
            (Method::POST, "/api/delivery/resume", Needs(Role::Operator)),
            (Method::POST, "/api/delivery/cancel", Needs(Role::Operator)),
            (Method::GET, "/api/accounts", Needs(Role::Admin)),
            (Method::PATCH, "/api/accounts/{id}", Needs(Role::Admin)),
            (Method::GET, "/api/tokens", Needs(Role::Admin)),
            (Method::PUT, "/api/settings", Needs(Role::Admin)),
            (Method::GET, "/api/settingsx", Needs(Role::Viewer)),
            (Method::GET, "/healthz", Needs(Role::Viewer)),
            (Method::GET, "unmatched", Needs(Role::Viewer)),
            (Method::POST, "unmatched", Needs(Role::Operator)),
        ] {
            assert_eq!(required_access(&method, route), access, "{method} {route}");
        }
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_when_asked() {
        let plain = AuthState::default();
        let cookie = plain.session_cookie("abc");
        assert_eq!(
            cookie,
            "mailscore_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=604800"
        );
        let secure = AuthState::new(
            Arc::new(MokaCache::new(SESSION_CACHE, 10)),
            SetupToken::used(),
            true,
        );
        assert!(secure.session_cookie("abc").ends_with("; Secure"));
        assert!(secure.cleared_cookie().contains("Max-Age=0"));
    }

    #[tokio::test]
    async fn a_session_lives_until_removed_and_a_password_change_ends_it() {
        let sessions = Sessions::new(Arc::new(MokaCache::new(SESSION_CACHE, 10)));
        let account = Account {
            id: AccountId::new(1),
            email: crate::domain::EmailAddress::parse("a@example.jp").unwrap(),
            role: Role::Admin,
            password_hash: "$argon2id$one".to_owned(),
            created_at: 0,
            disabled: false,
        };
        let (id, csrf) = sessions.create(&account).await.unwrap();
        assert!(credentials::is_secret_text(&id) && credentials::is_secret_text(&csrf));
        let record = sessions.find(&id).await.unwrap().unwrap();
        assert_eq!(
            (record.account_id, record.csrf_token.as_str()),
            (account.id, csrf.as_str())
        );
        assert_eq!(record.credential_stamp, credential_stamp(&account));
        let changed = Account {
            password_hash: "$argon2id$two".to_owned(),
            ..account
        };
        assert_ne!(record.credential_stamp, credential_stamp(&changed));
        assert!(sessions.find("x").await.unwrap().is_none());
        sessions.remove(&id).await.unwrap();
        assert!(sessions.find(&id).await.unwrap().is_none());
    }
}

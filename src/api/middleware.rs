//! What every request goes through, outermost first: its request id, the body limit and
//! the request timeout, the JSON form of every error, the security headers, one access-log
//! line and the HTTP metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::header::{
    CONTENT_LENGTH, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    TRANSFER_ENCODING, X_CONTENT_TYPE_OPTIONS,
};
use poem::http::{HeaderName, HeaderValue, Method, StatusCode};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use tracing::Instrument;

use super::error::{framework_error_response, timeout_response};
use super::metrics::{UNMATCHED_ROUTE, record_request};

/// The request id header, read from the client (or a proxy) and always answered.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client; a longer or odder one is replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The content security policy of every response that sets none of its own: nothing but
/// this origin, and no framing at all (`frame-ancestors` replaces `X-Frame-Options`).
pub const DEFAULT_CSP: &str = "default-src 'self'; frame-ancestors 'none'";

/// What the middleware enforces; `start` fills it from the server's options.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
    /// The body limit and timeout of the upload routes (`POST` to one of `upload_routes`).
    pub max_upload_bytes: u64,
    pub upload_timeout: Duration,
    pub upload_routes: Vec<&'static str>,
    /// Routes whose `POST` takes a larger body than `max_body_bytes` (a JSON batch), with
    /// their limit; their timeout is the request timeout.
    pub batch_routes: Vec<(&'static str, u64)>,
    /// `Strict-Transport-Security` value, sent only when the listener speaks TLS (a browser
    /// ignores it over plain HTTP, and sending it there would be a false promise).
    pub hsts: Option<HeaderValue>,
    /// Whether the listener speaks TLS: what the session cookie's `Secure` attribute follows
    /// (a `Secure` cookie is never sent back over plain HTTP).
    pub tls: bool,
    pub routes: RouteTemplates,
}

/// The route templates the server answers (`/api/jobs/{id}`), so that a request's route
/// label is its template, never its raw path. Matched segment by segment: a `{…}` segment
/// takes any one segment, and where two templates match, the one with more literal
/// segments wins (as the router's own rule).
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates {
    templates: Vec<(String, Vec<Segment>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTemplates {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list: Vec<(String, Vec<Segment>)> = templates
            .into_iter()
            .map(|template| {
                let segments = split(template)
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(segment.to_owned())
                        }
                    })
                    .collect();
                (template.to_owned(), segments)
            })
            .collect();
        // Most literal segments first, so that the first match is the most specific.
        list.sort_by_key(|(_, segments)| {
            std::cmp::Reverse(
                segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count(),
            )
        });
        list.dedup_by(|a, b| a.0 == b.0);
        Self { templates: list }
    }

    /// The template `path` matches, or [`UNMATCHED_ROUTE`].
    pub fn template_of(&self, path: &str) -> &str {
        let parts: Vec<&str> = split(path).collect();
        self.templates
            .iter()
            .find(|(_, segments)| {
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(segment, part)| match segment {
                            Segment::Literal(literal) => literal == part,
                            Segment::Parameter => !part.is_empty(),
                        })
            })
            .map_or(UNMATCHED_ROUTE, |(template, _)| template.as_str())
    }
}

/// The segments of a path, ignoring a trailing slash.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// `endpoint` with every layer of this module around it.
pub fn wrap<E: Endpoint + 'static>(endpoint: E, policy: Policy) -> impl Endpoint + 'static {
    let policy = Arc::new(policy);
    endpoint.around(move |inner, request| {
        let policy = Arc::clone(&policy);
        async move { Ok(handle(inner.as_ref(), request, &policy).await) }
    })
}

async fn handle<E: Endpoint>(inner: &E, request: Request, policy: &Policy) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&request);
    let method = method_label(request.method());
    let route = policy.routes.template_of(request.uri().path()).to_owned();
    let span = tracing::info_span!("request", request_id = %request_id);
    let is_upload = request.method() == poem::http::Method::POST
        && policy.upload_routes.contains(&route.as_str());
    let batch_limit = policy
        .batch_routes
        .iter()
        .find(|(batch_route, _)| {
            request.method() == poem::http::Method::POST && *batch_route == route
        })
        .map(|(_, limit)| *limit);
    let (max_body_bytes, timeout) = if is_upload {
        (policy.max_upload_bytes, policy.upload_timeout)
    } else {
        (
            batch_limit.unwrap_or(policy.max_body_bytes),
            policy.request_timeout,
        )
    };
    let mut response = async {
        if let Some(refused) = check_body(&request, max_body_bytes) {
            return refused;
        }
        match tokio::time::timeout(timeout, inner.call(request)).await {
            Ok(Ok(output)) => output.into_response(),
            // An operation's own error already is its JSON answer; poem's errors (no
            // route, a parameter that does not parse) become one here.
            Ok(Err(error)) if error.is_from_response() => error.into_response(),
            Ok(Err(error)) => framework_error_response(&error),
            Err(_elapsed) => {
                tracing::warn!(
                    timeout_s = policy.request_timeout.as_secs_f64(),
                    "request timed out"
                );
                timeout_response()
            }
        }
    }
    .instrument(span)
    .await;
    set_security_headers(&mut response, policy);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    record_request(method, &route, status, elapsed);
    tracing::info!(
        target: "mailscore::access",
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    response
}

/// The method as a label: the standard ones by name, any extension method as `other`
/// (a client can send any token there).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The client's request id when it is sane (1 to 128 characters of letters, digits and
/// `-_.:`), else a new random one: an id goes into logs and headers, so nothing else is
/// taken from a client.
fn request_id_of(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane_request_id(id))
        .map_or_else(new_request_id, str::to_owned)
}

fn is_sane_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A random id in the UUID version 4 layout.
fn new_request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The body limit, checked on the headers before anything reads the body: a declared
/// length over the limit is refused with 413; a body without a declared length (chunked)
/// with 411, since it could not be limited before it is read. A request without a body
/// declares neither and passes.
fn check_body(request: &Request, max_body_bytes: u64) -> Option<Response> {
    let headers = request.headers();
    match headers.get(CONTENT_LENGTH) {
        Some(length) => {
            let length = length
                .to_str()
                .ok()
                .and_then(|text| text.parse::<u64>().ok());
            match length {
                Some(length) if length <= max_body_bytes => None,
                Some(_) => Some(refuse(StatusCode::PAYLOAD_TOO_LARGE)),
                None => Some(refuse(StatusCode::BAD_REQUEST)),
            }
        }
        None if headers.contains_key(TRANSFER_ENCODING) => {
            Some(refuse(StatusCode::LENGTH_REQUIRED))
        }
        None => None,
    }
}

fn refuse(status: StatusCode) -> Response {
    framework_error_response(&poem::Error::from_status(status))
}

fn set_security_headers(response: &mut Response, policy: &Policy) {
    let headers = response.headers_mut();
    // A route with a policy of its own (the API explorer) keeps it.
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(hsts) = &policy.hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_gets_its_template_and_an_unknown_one_the_unmatched_label() {
        let routes = RouteTemplates::new([
            "/api/jobs/{id}",
            "/api/imports",
            "/api/imports/{id}",
            "/api/imports/latest",
            "/health/live",
        ]);
        for (path, template) in [
            ("/api/jobs/12", "/api/jobs/{id}"),
            ("/api/jobs/12/", "/api/jobs/{id}"),
            ("/api/imports", "/api/imports"),
            ("/api/imports/3", "/api/imports/{id}"),
            ("/api/imports/latest", "/api/imports/latest"),
            ("/health/live", "/health/live"),
            ("/api/jobs", UNMATCHED_ROUTE),
            ("/api/jobs/1/2", UNMATCHED_ROUTE),
            ("/", UNMATCHED_ROUTE),
            ("/wp-login.php", UNMATCHED_ROUTE),
        ] {
            assert_eq!(routes.template_of(path), template, "{path}");
        }
    }

    #[test]
    fn only_a_sane_request_id_is_taken_from_the_client() {
        for good in ["abc", "0f8e-12", "trace:span.1_x", &"a".repeat(128)] {
            assert!(is_sane_request_id(good), "{good}");
        }
        for bad in ["", "a b", "x\ny", "ü", "<script>", &"a".repeat(129)] {
            assert!(!is_sane_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_new_request_id_is_a_version_4_uuid() {
        let id = new_request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(is_sane_request_id(&id));
        assert_ne!(id, new_request_id());
    }
}

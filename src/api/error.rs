//! The one error shape of the HTTP API, `{code, message, hint}`, and the one place that
//! chooses an error's HTTP status: from a [`ServiceError`] (what an operation failed
//! with) or from poem's own errors (an unknown route, a parameter that does not parse, a
//! body too large, a request that timed out).
//!
//! A client reads `code`, which is stable and snake_case; `message` and `hint` are for
//! people. A 5xx body never carries the error's own text, which may name files or
//! internals: that goes to the log, under the request id the response carries.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::cache::CacheError;
use crate::domain::account::Role;
use crate::pipeline::PipelineError;
use crate::service::ServiceError;
use crate::service::accounts::AccountError;
use crate::store::StoreError;
use crate::telemetry::ErrorChain;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    /// Stable, machine-readable, snake_case: what went wrong.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl ErrorBody {
    fn new(code: &str, message: impl Into<String>, hint: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            hint: hint.to_owned(),
        }
    }
}

/// How an operation fails: one variant per status, each with the same body.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed: a parameter does not parse or is out of range.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// What the path names is not stored.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the stored state or with what is going on (an email that
    /// is no longer pending, another run executing …).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The uploaded file or the batch cannot be imported; nothing was written.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// An internal error; the log has its details under the response's request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The server cannot answer now: it is shutting down, or its store does not answer.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// The hint of a request the document could have told apart.
const SEE_THE_DOCUMENT: &str = "GET /api/openapi.json documents every operation and parameter";

/// The hint of every 5xx answer: the details are in the log, never in the body.
const SEE_THE_LOG: &str =
    "the server log has the details under the x-request-id header of this response";

impl ApiError {
    /// Readiness once the server is shutting down.
    pub fn shutting_down() -> Self {
        Self::Unavailable(Json(ErrorBody::new(
            "shutting_down",
            "the server is shutting down",
            "retry against another instance, or once this one has restarted",
        )))
    }

    /// Readiness when the store does not answer: 503, whatever the store said (which goes
    /// to the log), so that a load balancer sends the traffic elsewhere.
    pub fn not_ready(error: ServiceError) -> Self {
        log_internal(&error);
        Self::Unavailable(Json(ErrorBody::new(
            "store_unavailable",
            "the store does not answer",
            SEE_THE_LOG,
        )))
    }

    /// The status and body, whichever the variant.
    pub fn parts(&self) -> (StatusCode, &ErrorBody) {
        match self {
            Self::BadRequest(Json(body)) => (StatusCode::BAD_REQUEST, body),
            Self::NotFound(Json(body)) => (StatusCode::NOT_FOUND, body),
            Self::Conflict(Json(body)) => (StatusCode::CONFLICT, body),
            Self::Unprocessable(Json(body)) => (StatusCode::UNPROCESSABLE_ENTITY, body),
            Self::Internal(Json(body)) => (StatusCode::INTERNAL_SERVER_ERROR, body),
            Self::Unavailable(Json(body)) => (StatusCode::SERVICE_UNAVAILABLE, body),
        }
    }

    fn internal() -> Self {
        Self::Internal(Json(ErrorBody::new(
            "internal_error",
            "mailscore could not complete the request",
            SEE_THE_LOG,
        )))
    }
}

/// The status of every service error, chosen here and nowhere else. The match lists every
/// variant, so a new one is a compile error until it has its status.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match &error {
            ServiceError::InvalidValue { .. } => Self::BadRequest(Json(ErrorBody::new(
                "invalid_value",
                error.to_string(),
                SEE_THE_DOCUMENT,
            ))),
            ServiceError::NotFound { explanation } => Self::NotFound(Json(ErrorBody::new(
                "not_found",
                explanation.clone(),
                "check the id; the list operations give the stored ones",
            ))),
            ServiceError::NoInputFiles { .. } => Self::BadRequest(Json(ErrorBody::new(
                "no_input_files",
                "the request names no input file",
                "give at least one CSV file",
            ))),
            ServiceError::Conflict { explanation } => Self::Conflict(Json(ErrorBody::new(
                "conflict",
                explanation.clone(),
                "read the resource again and act on its current state",
            ))),
            ServiceError::ImportRejected { .. } => Self::Unprocessable(Json(ErrorBody::new(
                "import_rejected",
                error.to_string(),
                "fix the file as the message says and upload it again",
            ))),
            ServiceError::BatchRejected { hint, .. } => Self::Unprocessable(Json(ErrorBody::new(
                "batch_rejected",
                error.to_string(),
                hint,
            ))),
            ServiceError::BadBounceInput(input) => Self::BadRequest(Json(ErrorBody::new(
                "bad_bounce_input",
                error.to_string(),
                input.hint,
            ))),
            ServiceError::Link(_) => Self::NotFound(Json(ErrorBody::new(
                "link_not_valid",
                "the link is not valid",
                "use the latest link of an email; links expire",
            ))),
            ServiceError::ShuttingDown => Self::shutting_down(),
            ServiceError::RunInProgress { run_id, .. } => Self::Conflict(Json(ErrorBody::new(
                "run_in_progress",
                error.to_string(),
                &match run_id {
                    Some(id) => format!(
                        "follow it at /api/runs/{id}/events, cancel it with POST \
                         /api/runs/{id}/cancel, or start again once it ended"
                    ),
                    None => "start again once it ended; GET /api/runs/current shows it".to_owned(),
                },
            ))),
            // Another process holds the store's run lease.
            ServiceError::Pipeline(PipelineError::Locked { .. }) => {
                Self::Conflict(Json(ErrorBody::new(
                    "run_in_progress",
                    "another process is running the daily run",
                    "start again once it ended; its lease lapses within minutes if it died",
                )))
            }
            ServiceError::RunNotExecuting { run_id, .. } => Self::Conflict(Json(ErrorBody::new(
                "run_not_running",
                error.to_string(),
                &format!("GET /api/runs/{run_id} shows how it ended"),
            ))),
            ServiceError::NothingToRetry { .. } => Self::Conflict(Json(ErrorBody::new(
                "nothing_to_retry",
                error.to_string(),
                "start a run of the date instead, without retry_of",
            ))),
            ServiceError::MissingStore { .. }
            | ServiceError::StoreInUse { .. }
            | ServiceError::Store(StoreError::Missing { .. }) => {
                log_internal(&error);
                Self::Unavailable(Json(ErrorBody::new(
                    "store_unavailable",
                    "the store is not available",
                    SEE_THE_LOG,
                )))
            }
            // The guard's message names counts and a percentage, never a path.
            ServiceError::Store(StoreError::SnapshotShrink { .. }) => {
                Self::BadRequest(Json(ErrorBody::new(
                    "snapshot_shrink",
                    error.to_string(),
                    "check that the feed is complete; force a real shrink with allow_shrink",
                )))
            }
            ServiceError::Store(_)
            | ServiceError::Generate { .. }
            | ServiceError::ScheduleNeverFires { .. }
            | ServiceError::Ingest(_)
            | ServiceError::Pipeline(_)
            | ServiceError::Config(_)
            | ServiceError::Schedule(_)
            | ServiceError::Unpack(_)
            | ServiceError::Message(_)
            | ServiceError::Smtp(_)
            | ServiceError::Io(_)
            | ServiceError::Csv(_)
            | ServiceError::Json(_)
            | ServiceError::Task(_) => {
                log_internal(&error);
                Self::internal()
            }
        }
    }
}

/// Logs the error the body keeps quiet about, with its cause chain; the request's span
/// adds the request id.
fn log_internal(error: &ServiceError) {
    log_chain(error);
}

/// Logs `error` with its cause chain.
fn log_chain(error: &dyn std::error::Error) {
    tracing::error!(error = %ErrorChain(error), "request failed");
}

/// The JSON answer to an error that poem raised before or instead of an operation: no
/// route matches, a parameter does not parse, the body is too large. The status is poem's;
/// the code says which case it is.
pub fn framework_error_response(error: &poem::Error) -> Response {
    let status = error.status();
    let body = if error.is::<poem::error::NotFoundError>() {
        ErrorBody::new(
            "route_not_found",
            "no such route",
            "GET /api/openapi.json lists every operation; the explorer is at /api/docs",
        )
    } else if error.is::<poem::error::MethodNotAllowedError>() {
        ErrorBody::new(
            "method_not_allowed",
            "the route does not take this method",
            "GET /api/openapi.json lists the methods of every operation",
        )
    } else {
        match status {
            StatusCode::BAD_REQUEST => {
                ErrorBody::new("invalid_request", error.to_string(), SEE_THE_DOCUMENT)
            }
            StatusCode::NOT_FOUND => ErrorBody::new(
                "not_found",
                error.to_string(),
                "check the id; the list operations give the stored ones",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ErrorBody::new(
                "payload_too_large",
                "the request body is larger than this route takes",
                "send a smaller body; GET /api/openapi.json documents what each route takes",
            ),
            StatusCode::LENGTH_REQUIRED => ErrorBody::new(
                "length_required",
                "a request body needs a content-length header",
                "send the body with its content-length rather than chunked",
            ),
            status if status.is_server_error() => {
                tracing::error!(error = %ErrorChain(error), "request failed");
                return error_response(
                    status,
                    &ErrorBody::new(
                        "internal_error",
                        "mailscore could not complete the request",
                        SEE_THE_LOG,
                    ),
                );
            }
            _ => ErrorBody::new(
                status
                    .canonical_reason()
                    .map_or_else(|| "request_error".to_owned(), snake_case)
                    .as_str(),
                error.to_string(),
                SEE_THE_DOCUMENT,
            ),
        }
    };
    error_response(status, &body)
}

/// A request that ran past the request timeout.
pub fn timeout_response() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &ErrorBody::new(
            "request_timeout",
            "the request took longer than the server allows",
            "retry later; if it keeps happening, the server is overloaded",
        ),
    )
}

/// `body` as the JSON answer with `status`.
pub fn error_response(status: StatusCode, body: &ErrorBody) -> Response {
    let mut response = Json(body.clone()).into_response();
    response.set_status(status);
    response
}

/// The JSON answer to a request without usable credentials: 401 `unauthenticated`, with
/// `WWW-Authenticate: Bearer`. `why` says what was wrong with what it presented.
pub fn unauthenticated(why: &str) -> Response {
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        &ErrorBody::new(
            "unauthenticated",
            why,
            "send Authorization: Bearer msk_… (an API token), or sign in with POST /api/session",
        ),
    );
    response.headers_mut().insert(
        poem::http::header::WWW_AUTHENTICATE,
        poem::http::HeaderValue::from_static("Bearer realm=\"mailscore\""),
    );
    response
}

/// The JSON answer to credentials whose role is below the route's: 403 `forbidden`.
pub fn forbidden(required: Role, actual: Role) -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        &ErrorBody::new(
            "forbidden",
            format!("this operation needs the {required} role; these credentials have {actual}"),
            "ask an admin for an account or a token with that role",
        ),
    )
}

/// A change borne by the session cookie without the `x-csrf-token` header.
pub fn csrf_token_missing() -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        &ErrorBody::new(
            "csrf_token_missing",
            "a change authenticated by the session cookie needs the x-csrf-token header",
            "send the csrf_token that POST /api/session or GET /api/session answered",
        ),
    )
}

/// A change borne by the session cookie whose `x-csrf-token` is not its session's.
pub fn csrf_token_invalid() -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        &ErrorBody::new(
            "csrf_token_invalid",
            "the x-csrf-token header is not this session's token",
            "send the csrf_token that POST /api/session or GET /api/session answered",
        ),
    )
}

/// The session cache does not answer.
pub fn session_store_unavailable() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &ErrorBody::new(
            "session_store_unavailable",
            "the sessions cannot be read now",
            SEE_THE_LOG,
        ),
    )
}

/// A 500 whose cause the caller has logged.
pub fn internal_error_response() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody::new(
            "internal_error",
            "mailscore could not complete the request",
            SEE_THE_LOG,
        ),
    )
}

/// How an account, token, session or setup operation fails: one variant per status, each
/// with the one error body.
#[derive(Debug, ApiResponse)]
pub enum AccountApiError {
    /// A value of the request does not parse or breaks a rule (a short password).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The email address or the password is wrong (`invalid_credentials`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The account is disabled, or the setup token is wrong.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// What the path names is not stored.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The address has an account already, the change would leave no enabled admin, or
    /// the first admin exists already.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Too many failed logins from this address or for this account.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds until the next attempt is taken.
        #[oai(header = "retry-after")]
        u64,
    ),
    /// An internal error; the log has its details under the response's request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The store does not answer.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl AccountApiError {
    /// The status and body, whichever the variant.
    pub fn parts(&self) -> (StatusCode, &ErrorBody) {
        match self {
            Self::BadRequest(Json(body)) => (StatusCode::BAD_REQUEST, body),
            Self::Unauthorized(Json(body)) => (StatusCode::UNAUTHORIZED, body),
            Self::Forbidden(Json(body)) => (StatusCode::FORBIDDEN, body),
            Self::NotFound(Json(body)) => (StatusCode::NOT_FOUND, body),
            Self::Conflict(Json(body)) => (StatusCode::CONFLICT, body),
            Self::TooManyRequests(Json(body), _) => (StatusCode::TOO_MANY_REQUESTS, body),
            Self::Internal(Json(body)) => (StatusCode::INTERNAL_SERVER_ERROR, body),
            Self::Unavailable(Json(body)) => (StatusCode::SERVICE_UNAVAILABLE, body),
        }
    }
}

/// The status of every account error, chosen here and nowhere else.
impl From<AccountError> for AccountApiError {
    fn from(error: AccountError) -> Self {
        let body = |code: &str, hint: &str| Json(ErrorBody::new(code, error.to_string(), hint));
        match &error {
            AccountError::Invalid { .. } => {
                Self::BadRequest(body("invalid_value", SEE_THE_DOCUMENT))
            }
            AccountError::InvalidCredentials => Self::Unauthorized(body(
                "invalid_credentials",
                "check the address and the password; after 10 failures in 15 minutes logins wait",
            )),
            AccountError::AccountDisabled => Self::Forbidden(body(
                "account_disabled",
                "ask an admin to enable the account again",
            )),
            AccountError::TooManyAttempts { retry_after } => Self::TooManyRequests(
                body(
                    "too_many_login_attempts",
                    "wait for the retry-after header's seconds, then try again",
                ),
                retry_after.as_secs().max(1),
            ),
            AccountError::AccountExists { .. } => Self::Conflict(body(
                "account_exists",
                "choose another address, or change the existing account",
            )),
            AccountError::LastAdmin => {
                Self::Conflict(body("last_admin", "make another account an admin first"))
            }
            AccountError::NotFound { .. } => Self::NotFound(body(
                "not_found",
                "check the id; the list operations give the stored ones",
            )),
            AccountError::SetupDone => Self::Conflict(body(
                "setup_done",
                "sign in with POST /api/session; an admin creates further accounts",
            )),
            AccountError::SetupTokenInvalid => Self::Forbidden(body(
                "setup_token_invalid",
                "use the token of the setup link the server printed when it started",
            )),
            AccountError::Store(StoreError::Missing { .. }) => {
                log_chain(&error);
                Self::Unavailable(Json(ErrorBody::new(
                    "store_unavailable",
                    "the store is not available",
                    SEE_THE_LOG,
                )))
            }
            AccountError::Store(_) | AccountError::Credential(_) | AccountError::Task(_) => {
                log_chain(&error);
                Self::Internal(Json(ErrorBody::new(
                    "internal_error",
                    "mailscore could not complete the request",
                    SEE_THE_LOG,
                )))
            }
        }
    }
}

/// The session cache does not answer while a session is written or ended.
impl From<CacheError> for AccountApiError {
    fn from(error: CacheError) -> Self {
        tracing::error!(error = %ErrorChain(&error), "the session cache failed");
        Self::Unavailable(Json(ErrorBody::new(
            "session_store_unavailable",
            "the sessions cannot be written now",
            SEE_THE_LOG,
        )))
    }
}

/// "Unsupported Media Type" → "unsupported_media_type".
fn snake_case(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_record_is_a_404_with_its_explanation() {
        let error = ApiError::from(ServiceError::NotFound {
            explanation: "no job 7 is stored".to_owned(),
        });
        let (status, body) = error.parts();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body.code, "not_found");
        assert_eq!(body.message, "no job 7 is stored");
    }

    #[test]
    fn an_internal_error_never_shows_its_text() {
        let error = ApiError::from(ServiceError::Store(StoreError::Open {
            path: "/srv/secret/mailscore.redb".to_owned(),
            message: "permission denied".to_owned(),
        }));
        let (status, body) = error.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.code, "internal_error");
        let shown = format!("{body:?}");
        assert!(!shown.contains("/srv/secret"), "{shown}");
        assert!(!shown.contains("permission denied"), "{shown}");
    }

    #[test]
    fn a_bad_value_is_a_400_naming_the_value() {
        let error = ApiError::from(crate::service::parse_job_id("x1").unwrap_err());
        let (status, body) = error.parts();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.code, "invalid_value");
        assert!(body.message.contains("\"x1\""), "{}", body.message);
    }

    #[test]
    fn a_second_run_is_a_409_that_names_the_executing_one() {
        let error = ApiError::from(ServiceError::RunInProgress {
            run_id: Some(12),
            date: "2025-07-02".parse().unwrap(),
        });
        let (status, body) = error.parts();
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body.code, "run_in_progress");
        assert!(body.message.contains("#12"), "{}", body.message);
        assert!(body.hint.contains("/api/runs/12/events"), "{}", body.hint);
    }

    #[test]
    fn reasons_become_snake_case_codes() {
        assert_eq!(
            snake_case("Unsupported Media Type"),
            "unsupported_media_type"
        );
        assert_eq!(snake_case("I'm a teapot"), "i_m_a_teapot");
    }
}

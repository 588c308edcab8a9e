//! The providers' bounce webhooks, outside the OpenAPI document as the tracking links are
//! (their bodies are the providers' formats): `POST /webhooks/ses` (SNS notifications of
//! SES bounces and complaints), `POST /webhooks/sendgrid` (SendGrid's event webhook) and
//! `POST /webhooks/dsn` (one RFC 3464 delivery-status message, `message/rfc822` or any
//! type, as a mail server's pipe or a forwarding script posts it).
//!
//! The access rule leaves `/webhooks/*` public: providers cannot hold an API token. Each
//! request proves itself with the shared secret `webhooks.secret`, as `?token=SECRET` or as
//! the password of HTTP basic auth (any user name), compared in constant time. Without a
//! configured secret every webhook answers 403; a wrong or missing secret 401; either
//! way nothing is read or stored.

use std::sync::Arc;

use base64::Engine;
use poem::http::StatusCode;
use poem::http::header::AUTHORIZATION;
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, Route, handler, post};
use serde::Deserialize;

use super::AppState;
use super::bounces::store_parsed;
use super::error::ApiError;
use crate::bounces::ses::SnsMessage;
use crate::bounces::{BounceInputError, ParsedEvents, dsn, sendgrid, ses};
use crate::domain::bounce::BounceSource;
use crate::service::ServiceError;
use crate::service::bounces::BounceReport;

/// The route templates of this module, for the route label of metrics and logs.
pub const ROUTES: &[&str] = &["/webhooks/ses", "/webhooks/sendgrid", "/webhooks/dsn"];

/// The webhooks' shared secret; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The webhook routes, to nest at `/webhooks`.
pub fn routes() -> Route {
    Route::new()
        .at("/ses", post(ses_webhook))
        .at("/sendgrid", post(sendgrid_webhook))
        .at("/dsn", post(dsn_webhook))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn error_response(status: StatusCode, code: &str, message: &str, hint: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::json!({"code": code, "message": message, "hint": hint}).to_string())
}

/// The secret a request presents: `?token=`, else basic auth's password.
fn presented_secret(request: &Request, query: &TokenQuery) -> Option<String> {
    if let Some(token) = &query.token {
        return Some(token.clone());
    }
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// `None` when the request may go on, else the refusal.
fn refuse_unless_authorized(
    state: &AppState,
    request: &Request,
    query: &TokenQuery,
) -> Option<Response> {
    let Some(expected) = &state.webhooks_secret else {
        return Some(error_response(
            StatusCode::FORBIDDEN,
            "webhooks_disabled",
            "the bounce webhooks are off: no webhooks.secret is configured",
            "set webhooks.secret (or MAILSCORE_WEBHOOKS_SECRET) and give it to the provider as ?token=SECRET or basic auth",
        ));
    };
    let authorized = presented_secret(request, query)
        .is_some_and(|given| crate::credentials::same_secret(&given, &expected.0));
    if authorized {
        None
    } else {
        let mut response = error_response(
            StatusCode::UNAUTHORIZED,
            "webhook_secret_refused",
            "the request does not carry the webhook secret",
            "append ?token=SECRET to the webhook URL, or send it as the basic-auth password",
        );
        response.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Basic realm=\"mailscore webhooks\""),
        );
        Some(response)
    }
}

/// Stores what a parser read, or answers why the body was refused.
async fn answer(
    state: &AppState,
    source: BounceSource,
    parsed: Result<ParsedEvents, BounceInputError>,
) -> Response {
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            super::metrics::record_bounce_input_refused(source);
            return ApiError::from(ServiceError::from(error)).into_response();
        }
    };
    match store_parsed(state, source, parsed).await {
        Ok(report) => summary(&report).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

fn summary(report: &BounceReport) -> Response {
    Response::builder().content_type("application/json").body(
        serde_json::json!({
            "stored": report.stored.len(),
            "duplicates": report.duplicates,
            "ignored": report.ignored,
            "suppressed": report.suppressed().map(|b| b.event.address.as_str()).collect::<Vec<_>>(),
            "emails_suppressed": report.emails_suppressed,
        })
        .to_string(),
    )
}

/// The body of a request that carries the webhook secret, or the answer that refuses it.
async fn authorized_body(
    state: &AppState,
    request: &Request,
    query: &TokenQuery,
    body: poem::Body,
) -> Result<Vec<u8>, Response> {
    if let Some(refused) = refuse_unless_authorized(state, request, query) {
        return Err(refused);
    }
    body.into_vec()
        .await
        .map_err(|error| poem::Error::from(error).into_response())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

#[handler]
async fn ses_webhook(
    state: Data<&Arc<AppState>>,
    request: &Request,
    Query(query): Query<TokenQuery>,
    body: poem::Body,
) -> Response {
    let bytes = match authorized_body(&state, request, &query, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    match ses::parse_sns(&bytes, now()) {
        Ok(SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        }) => {
            // This machine cannot reach SNS: the operator confirms by opening the URL.
            tracing::warn!(
                topic_arn,
                subscribe_url,
                "SNS asks to confirm a subscription to the bounce webhook: open the SubscribeURL to confirm it"
            );
            Response::builder()
                .status(StatusCode::ACCEPTED)
                .content_type("application/json")
                .body(
                    serde_json::json!({
                        "subscription": "pending",
                        "hint": "open the SubscribeURL from the server's log (or the SNS console) to confirm",
                    })
                    .to_string(),
                )
        }
        Ok(SnsMessage::UnsubscribeConfirmation { topic_arn }) => {
            tracing::warn!(topic_arn, "SNS removed the bounce webhook's subscription");
            summary(&BounceReport::default())
        }
        Ok(SnsMessage::Notification(parsed)) => answer(&state, BounceSource::Ses, Ok(parsed)).await,
        Err(error) => answer(&state, BounceSource::Ses, Err(error)).await,
    }
}

#[handler]
async fn sendgrid_webhook(
    state: Data<&Arc<AppState>>,
    request: &Request,
    Query(query): Query<TokenQuery>,
    body: poem::Body,
) -> Response {
    let bytes = match authorized_body(&state, request, &query, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    answer(
        &state,
        BounceSource::Sendgrid,
        sendgrid::parse_sendgrid(&bytes, now()),
    )
    .await
}

#[handler]
async fn dsn_webhook(
    state: Data<&Arc<AppState>>,
    request: &Request,
    Query(query): Query<TokenQuery>,
    body: poem::Body,
) -> Response {
    let bytes = match authorized_body(&state, request, &query, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    answer(&state, BounceSource::Dsn, dsn::parse_dsn(&bytes, now())).await
}

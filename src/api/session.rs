//! `/api/session` (sign in, who am I, sign out) and `/api/setup` (the first admin, with
//! the one-time token the server printed at its first start).
//!
//! Signing in is throttled per client address and per account
//! (`service::accounts::LoginThrottle`). The session cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, and `Secure` when the server is told it is reached over
//! TLS; the answer carries the session's CSRF token, which every change borne by the
//! cookie must send back as `x-csrf-token`.

use std::sync::Arc;
use std::time::Instant;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::accounts::{AccountResponse, RoleBody, TokenResponse};
use super::auth::Principal;
use super::error::AccountApiError;
use super::{ApiTags, AppState};
use crate::service::accounts::{self, AccountError, complete_setup, throttle_keys};

/// Signing in.
#[derive(Debug, Object)]
#[oai(rename = "Login")]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The first admin, with the setup token.
#[derive(Debug, Object)]
#[oai(rename = "Setup")]
pub struct SetupRequest {
    /// The `token` of the setup link the server printed at its first start.
    pub token: String,
    pub email: String,
    /// At least 12 characters.
    pub password: String,
}

/// How the request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "CredentialKind", rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    Token,
}

/// Who is signed in.
#[derive(Debug, Object)]
#[oai(rename = "Session", skip_serializing_if_is_none)]
pub struct SessionResponse {
    pub via: CredentialKind,
    /// The role the request has.
    pub role: RoleBody,
    /// The signed-in account (a session).
    pub account: Option<AccountResponse>,
    /// The token (a bearer token).
    pub token: Option<TokenResponse>,
    /// A session's CSRF token: send it as the `x-csrf-token` header with every change.
    pub csrf_token: Option<String>,
}

impl From<&Principal> for SessionResponse {
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::Session {
                account,
                csrf_token,
                ..
            } => Self {
                via: CredentialKind::Session,
                role: account.role.into(),
                account: Some(account.clone().into()),
                token: None,
                csrf_token: Some(csrf_token.clone()),
            },
            Principal::Token(token) => Self {
                via: CredentialKind::Token,
                role: token.role.into(),
                account: None,
                token: Some(TokenResponse::new(token.clone(), accounts::now())),
                csrf_token: None,
            },
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum LoginAnswer {
    /// Signed in: the session cookie is set, and the answer has the CSRF token.
    #[oai(status = 200)]
    SignedIn(
        Json<SessionResponse>,
        /// `mailscore_session=…; HttpOnly; SameSite=Strict; Path=/` (and `Secure` under TLS).
        #[oai(header = "set-cookie")]
        String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum LogoutAnswer {
    /// Signed out: the session has ended and the cookie is removed.
    #[oai(status = 204)]
    SignedOut(
        /// Removes the session cookie.
        #[oai(header = "set-cookie")]
        String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum SetupAnswer {
    /// The first admin, created; sign in with `POST /api/session`.
    #[oai(status = 201)]
    Created(Json<AccountResponse>),
}

pub struct SessionApi;

#[OpenApi(tag = "ApiTags::Session")]
impl SessionApi {
    /// Signs in with an email address and a password; sets the session cookie. After 10
    /// failures within 15 minutes from one address, or for one account, attempts are
    /// refused (429) until the oldest failure is 15 minutes old.
    #[oai(path = "/api/session", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        request: &Request,
        body: Json<LoginRequest>,
    ) -> Result<LoginAnswer, AccountApiError> {
        let auth = &state.auth;
        let client = request
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_string());
        let keys = throttle_keys(client.as_deref(), &body.email);
        auth.throttle
            .check(&keys, Instant::now())
            .map_err(|retry_after| AccountError::TooManyAttempts { retry_after })?;
        let account = match accounts::authenticate_password(
            state.store.as_ref(),
            &body.email,
            &body.password,
        )
        .await
        {
            Ok(account) => account,
            Err(error @ AccountError::InvalidCredentials) => {
                auth.throttle.record_failure(&keys, Instant::now());
                tracing::warn!(client = client.as_deref().unwrap_or("-"), "a login failed");
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        auth.throttle.clear(&keys[0]);
        let (session_id, csrf_token) = auth.sessions.create(&account).await?;
        tracing::info!(account = %account.id, "signed in");
        let principal = Principal::Session {
            account,
            session_id: session_id.clone(),
            csrf_token,
        };
        Ok(LoginAnswer::SignedIn(
            Json(SessionResponse::from(&principal)),
            auth.session_cookie(&session_id),
        ))
    }

    /// Who the request's credentials are: the account of a session (with its CSRF token),
    /// or the API token.
    #[oai(path = "/api/session", method = "get", operation_id = "get_session")]
    async fn get(&self, principal: Data<&Principal>) -> Json<SessionResponse> {
        Json(SessionResponse::from(*principal))
    }

    /// Signs out: ends the session (with a bearer token there is none, and nothing
    /// changes) and removes the cookie.
    #[oai(path = "/api/session", method = "delete", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&Arc<AppState>>,
        principal: Data<&Principal>,
    ) -> Result<LogoutAnswer, AccountApiError> {
        if let Principal::Session {
            account,
            session_id,
            ..
        } = *principal
        {
            state.auth.sessions.remove(session_id).await?;
            tracing::info!(account = %account.id, "signed out");
        }
        Ok(LogoutAnswer::SignedOut(state.auth.cleared_cookie()))
    }

    /// Creates the first admin with the setup token the server printed at its first start
    /// (when it found no account and none was configured). Works once; afterwards an
    /// admin creates accounts with `POST /api/accounts`.
    #[oai(path = "/api/setup", method = "post", operation_id = "setup")]
    async fn setup(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<SetupRequest>,
    ) -> Result<SetupAnswer, AccountApiError> {
        let body = body.0;
        let account = complete_setup(
            state.store.as_ref(),
            &state.auth.setup,
            &body.token,
            &body.email,
            &body.password,
        )
        .await?;
        tracing::info!(account = %account.id, "the first admin was created through the setup link");
        Ok(SetupAnswer::Created(Json(account.into())))
    }
}

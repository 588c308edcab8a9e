//! `/api/accounts` and `/api/tokens` (admins only, by the access rule of `auth.rs`): the
//! accounts people sign in with, and the API tokens of automation
//! (`service::accounts`). A token's secret is in the answer that creates it, and never
//! again.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::error::AccountApiError;
use super::{ApiTags, AppState, rfc3339};
use crate::domain::account::{Account, ApiToken, Role};
use crate::domain::time::Micros;
use crate::service::accounts::{
    self, AccountChange, AccountError, CreatedToken, parse_account_id, parse_token_id,
};

/// A role: `viewer` reads; `operator` also imports, runs, cancels, retries and
/// suppresses; `admin` also manages accounts, tokens and settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Role", rename_all = "snake_case")]
pub enum RoleBody {
    Viewer,
    Operator,
    Admin,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => Self::Viewer,
            Role::Operator => Self::Operator,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleBody> for Role {
    fn from(role: RoleBody) -> Self {
        match role {
            RoleBody::Viewer => Self::Viewer,
            RoleBody::Operator => Self::Operator,
            RoleBody::Admin => Self::Admin,
        }
    }
}

/// An account (never its password or its hash).
#[derive(Debug, Object)]
#[oai(rename = "Account")]
pub struct AccountResponse {
    pub id: String,
    pub email: String,
    pub role: RoleBody,
    /// RFC 3339.
    pub created_at: String,
    /// A disabled account cannot sign in, and its sessions have ended.
    pub disabled: bool,
}

impl From<Account> for AccountResponse {
    fn from(account: Account) -> Self {
        Self {
            id: account.id.to_string(),
            email: account.email.to_string(),
            role: account.role.into(),
            created_at: rfc3339(account.created_at),
            disabled: account.disabled,
        }
    }
}

/// What a token can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "TokenState", rename_all = "snake_case")]
pub enum TokenStateBody {
    Active,
    Expired,
    Revoked,
}

/// An API token, without its secret.
#[derive(Debug, Object)]
#[oai(rename = "ApiToken", skip_serializing_if_is_none)]
pub struct TokenResponse {
    pub id: String,
    pub name: String,
    pub role: RoleBody,
    pub state: TokenStateBody,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; absent for a token that does not expire.
    pub expires_at: Option<String>,
    /// RFC 3339.
    pub revoked_at: Option<String>,
    /// RFC 3339, to within a minute; absent before the first use.
    pub last_used_at: Option<String>,
}

impl TokenResponse {
    pub fn new(token: ApiToken, now: Micros) -> Self {
        let state = if token.revoked_at.is_some() {
            TokenStateBody::Revoked
        } else if token.is_usable_at(now) {
            TokenStateBody::Active
        } else {
            TokenStateBody::Expired
        };
        Self {
            id: token.id.to_string(),
            name: token.name.as_str().to_owned(),
            role: token.role.into(),
            state,
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
        }
    }
}

/// A new account.
#[derive(Debug, Object)]
#[oai(rename = "NewAccount")]
pub struct CreateAccountRequest {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    pub role: RoleBody,
}

/// What to change about an account; a field left out stays as it is.
#[derive(Debug, Object)]
#[oai(rename = "AccountChange")]
pub struct UpdateAccountRequest {
    /// The last enabled admin cannot be demoted.
    pub role: Option<RoleBody>,
    /// The last enabled admin cannot be disabled.
    pub disabled: Option<bool>,
    /// A new password (at least 12 characters); the account's sessions end.
    pub password: Option<String>,
}

/// A new API token.
#[derive(Debug, Object)]
#[oai(rename = "NewApiToken")]
pub struct CreateTokenRequest {
    /// What the token is for (`ci`, `prometheus`), 1 to 100 characters.
    pub name: String,
    pub role: RoleBody,
    /// RFC 3339, in the future; leave it out for a token that does not expire.
    pub expires_at: Option<String>,
}

/// A token as created, with its secret: shown this once, never again.
#[derive(Debug, Object)]
#[oai(rename = "CreatedApiToken")]
pub struct CreatedTokenResponse {
    /// The bearer secret (`msk_…`): send it as `Authorization: Bearer msk_…`.
    pub secret: String,
    pub token: TokenResponse,
}

impl From<CreatedToken> for CreatedTokenResponse {
    fn from(created: CreatedToken) -> Self {
        Self {
            secret: created.secret,
            token: TokenResponse::new(created.token, accounts::now()),
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum CreatedAccount {
    /// The account, created.
    #[oai(status = 201)]
    Created(Json<AccountResponse>),
}

#[derive(Debug, ApiResponse)]
pub enum CreatedTokenAnswer {
    /// The token, created, with its secret.
    #[oai(status = 201)]
    Created(Json<CreatedTokenResponse>),
}

fn parse_expiry(text: Option<&str>) -> Result<Option<Micros>, AccountError> {
    text.map(|text| {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|error| AccountError::Invalid {
                what: "expires_at",
                message: format!(
                    "{text:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z: {error}"
                ),
            })
    })
    .transpose()
}

pub struct AccountsApi;

#[OpenApi(tag = "ApiTags::Accounts")]
impl AccountsApi {
    /// Every account, disabled ones too, by id.
    #[oai(path = "/api/accounts", method = "get", operation_id = "list_accounts")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<Vec<AccountResponse>>, AccountApiError> {
        let accounts = accounts::list_accounts(state.store.as_ref()).await?;
        Ok(Json(
            accounts.into_iter().map(AccountResponse::from).collect(),
        ))
    }

    /// Creates an account.
    #[oai(
        path = "/api/accounts",
        method = "post",
        operation_id = "create_account"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<CreateAccountRequest>,
    ) -> Result<CreatedAccount, AccountApiError> {
        let body = body.0;
        let account = accounts::create_account(
            state.store.as_ref(),
            &body.email,
            &body.password,
            body.role.into(),
        )
        .await?;
        Ok(CreatedAccount::Created(Json(account.into())))
    }

    /// One account.
    #[oai(
        path = "/api/accounts/:id",
        method = "get",
        operation_id = "get_account"
    )]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        /// The account's id.
        id: Path<String>,
    ) -> Result<Json<AccountResponse>, AccountApiError> {
        let id = parse_account_id(&id.0)?;
        let account = accounts::get_account(state.store.as_ref(), id).await?;
        Ok(Json(account.into()))
    }

    /// Changes an account's role, disabled state or password. Accounts are disabled, never
    /// deleted.
    #[oai(
        path = "/api/accounts/:id",
        method = "patch",
        operation_id = "update_account"
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        /// The account's id.
        id: Path<String>,
        body: Json<UpdateAccountRequest>,
    ) -> Result<Json<AccountResponse>, AccountApiError> {
        let id = parse_account_id(&id.0)?;
        let body = body.0;
        let change = AccountChange {
            role: body.role.map(Role::from),
            disabled: body.disabled,
            password: body.password,
        };
        let account = accounts::change_account(state.store.as_ref(), id, change).await?;
        Ok(Json(account.into()))
    }
}

pub struct TokensApi;

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Every API token, revoked and expired ones too, by id; never a secret.
    #[oai(path = "/api/tokens", method = "get", operation_id = "list_tokens")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<Vec<TokenResponse>>, AccountApiError> {
        let tokens = accounts::list_tokens(state.store.as_ref()).await?;
        let now = accounts::now();
        Ok(Json(
            tokens
                .into_iter()
                .map(|token| TokenResponse::new(token, now))
                .collect(),
        ))
    }

    /// Creates an API token; the answer holds its secret, which is not stored and cannot be
    /// shown again.
    #[oai(path = "/api/tokens", method = "post", operation_id = "create_token")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<CreateTokenRequest>,
    ) -> Result<CreatedTokenAnswer, AccountApiError> {
        let body = body.0;
        let expires_at = parse_expiry(body.expires_at.as_deref())?;
        let created = accounts::create_token(
            state.store.as_ref(),
            &body.name,
            body.role.into(),
            expires_at,
        )
        .await?;
        Ok(CreatedTokenAnswer::Created(Json(created.into())))
    }

    /// Revokes an API token: it stops working at once, and stays listed.
    #[oai(
        path = "/api/tokens/:id",
        method = "delete",
        operation_id = "revoke_token"
    )]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        /// The token's id.
        id: Path<String>,
    ) -> Result<Json<TokenResponse>, AccountApiError> {
        let id = parse_token_id(&id.0)?;
        let token = accounts::revoke_token(state.store.as_ref(), &state.auth.tokens, id).await?;
        Ok(Json(TokenResponse::new(token, accounts::now())))
    }
}

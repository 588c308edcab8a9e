//! `GET /api/users` (a filtered page of job seekers) and `GET /api/users/{id}` (one, with
//! whether the daily run emails them and why not) (`service::users`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::{Suppression, User};
use crate::service::parse_user;
use crate::service::users::{UserDetail, UserFilter, list_users, show_user};

/// A job seeker as imported.
#[derive(Debug, Object)]
#[oai(rename = "User", skip_serializing_if_is_none)]
pub struct UserResponse {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    /// The prefecture code the user gave.
    pub pref_cd: Option<String>,
    /// The city code the user gave.
    pub city_cd: Option<String>,
    pub age_range: Option<String>,
    pub gender: Option<String>,
    pub is_active: bool,
    pub subscribed: bool,
    /// RFC 3339.
    pub created_at: Option<String>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            user_id: user.user_id.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            name: user.name,
            pref_cd: user.pref_cd.map(|c| c.get().to_string()),
            city_cd: user.city_cd.map(|c| c.get().to_string()),
            age_range: user.age_range,
            gender: user.gender,
            is_active: user.is_active,
            subscribed: user.subscribed,
            created_at: user.created_at.map(rfc3339),
        }
    }
}

/// One page of users.
#[derive(Debug, Object)]
#[oai(rename = "UserPage")]
pub struct UserPageResponse {
    pub users: Vec<UserResponse>,
    /// How many users match the filter.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

/// An address's entry on the suppression list.
#[derive(Debug, Object)]
#[oai(rename = "Suppression", skip_serializing_if_is_none)]
pub struct SuppressionResponse {
    pub address: String,
    /// `unsubscribed`, `complained`, `hard_bounce` or `manual`.
    pub reason: String,
    /// RFC 3339.
    pub created_at: String,
    pub note: Option<String>,
}

impl From<Suppression> for SuppressionResponse {
    fn from(suppression: Suppression) -> Self {
        Self {
            address: suppression.address.as_str().to_owned(),
            reason: suppression.reason.as_str().to_owned(),
            created_at: rfc3339(suppression.created_at),
            note: suppression.note,
        }
    }
}

/// One user and whether the daily run emails them.
#[derive(Debug, Object)]
#[oai(rename = "UserDetail", skip_serializing_if_is_none)]
pub struct UserDetailResponse {
    pub user: UserResponse,
    /// Active, subscribed and not suppressed (SPEC §5).
    pub emailed: bool,
    /// The address's entry on the suppression list, when it is on it.
    pub suppression: Option<SuppressionResponse>,
}

impl From<UserDetail> for UserDetailResponse {
    fn from(detail: UserDetail) -> Self {
        Self {
            emailed: detail.is_emailed(),
            suppression: detail.suppression.map(SuppressionResponse::from),
            user: detail.user.into(),
        }
    }
}

pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// The users the filter keeps, in user id order.
    #[oai(path = "/api/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// A part of the user id, the address or the name (case ignored).
        q: Query<Option<String>>,
        /// Only active (`true`) or inactive (`false`) users.
        active: Query<Option<bool>>,
        /// Only subscribed (`true`) or unsubscribed (`false`) users.
        subscribed: Query<Option<bool>>,
        /// How many users to skip.
        #[oai(default)]
        offset: Query<u64>,
        /// How many users to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<UserPageResponse>, ApiError> {
        let filter = UserFilter {
            search: q.0.filter(|q| !q.trim().is_empty()),
            active: active.0,
            subscribed: subscribed.0,
        };
        let page = list_users(
            state.store.as_ref(),
            &filter,
            offset.0 as usize,
            limit.0 as usize,
        )
        .await?;
        Ok(Json(UserPageResponse {
            total: page.total as u64,
            users: page.users.into_iter().map(UserResponse::from).collect(),
            offset: offset.0,
            limit: limit.0,
        }))
    }

    /// One user, with whether the daily run emails them and their suppression entry.
    #[oai(path = "/api/users/:id", method = "get", operation_id = "get_user")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The user's `user_id`.
        id: Path<String>,
    ) -> Result<Json<UserDetailResponse>, ApiError> {
        let user_id = parse_user(&id.0)?;
        let detail = show_user(state.store.as_ref(), &user_id).await?;
        Ok(Json(detail.into()))
    }
}

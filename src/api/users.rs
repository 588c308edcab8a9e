//! `GET /api/users` (a filtered page of job seekers) and `GET /api/users/{id}` (one, with
//! whether the daily run emails them and why not, the profile and location it infers from
//! their history, their applications and latest actions) (`service::users`).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::{Suppression, User};
use crate::service::users::{
    LocationDetail, ProfileSummary, UserAction, UserDetail, UserDetailOptions, UserFilter,
    list_users, show_user,
};
use crate::service::{parse_date, parse_user};

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
    /// When the user agreed to receive the newsletter (RFC 3339): `consented_at` of the
    /// users file, else `created_at`; absent, no consent is recorded.
    pub consented_at: Option<String>,
    /// How they agreed (`consent_source`; `registration` when the file does not say).
    pub consent_source: Option<String>,
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
            consented_at: user.consent.as_ref().map(|c| rfc3339(c.at)),
            consent_source: user.consent.map(|c| c.source),
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
    /// `unsubscribed`, `complained`, `hard_bounce`, `manual` or `soft_bounces`.
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

/// One user and whether the daily run emails them, with what their history says.
#[derive(Debug, Object)]
#[oai(rename = "UserDetail", skip_serializing_if_is_none)]
pub struct UserDetailResponse {
    pub user: UserResponse,
    /// Active, subscribed and not suppressed (SPEC §5).
    pub emailed: bool,
    /// The address's entry on the suppression list, when it is on it.
    pub suppression: Option<SuppressionResponse>,
    /// The date the profile and location are of: their window is the days before it.
    pub date: String,
    /// Where the daily run of `date` places the user (SPEC §3.4).
    pub location: LocationResponse,
    /// What the applications of the window before `date` say (SPEC §3.4).
    pub profile: ProfileResponse,
    /// Every stored action of the user, by type (`applied`, `click`, `open`, `view`,
    /// `favorite`).
    pub actions_by_type: BTreeMap<String, u64>,
    /// How many `applied` actions are stored.
    pub applications_total: u64,
    /// The latest applications, newest first (at most `limit`).
    pub applications: Vec<UserActionResponse>,
    /// The latest actions of any type, newest first (at most `limit`).
    pub recent_actions: Vec<UserActionResponse>,
    /// Days of actions that could not be read, left out as the daily run leaves them.
    pub unreadable_days: Vec<String>,
}

/// A user's location and where it comes from.
#[derive(Debug, Object)]
#[oai(rename = "UserLocation", skip_serializing_if_is_none)]
pub struct LocationResponse {
    pub pref_cd: Option<String>,
    pub pref_name: Option<String>,
    pub city_cd: Option<String>,
    pub city_name: Option<String>,
    /// The prefecture's region.
    pub region: Option<String>,
    /// `given_city`, `given_prefecture`, `applications` (inferred: the most applied city
    /// of the window, ties to the latest application, then the smaller code) or `unknown`.
    pub source: String,
}

impl From<LocationDetail> for LocationResponse {
    fn from(location: LocationDetail) -> Self {
        Self {
            pref_cd: location.pref_cd.map(|c| c.to_string()),
            pref_name: location.pref_name,
            city_cd: location.city_cd.map(|c| c.to_string()),
            city_name: location.city_name,
            region: location.region,
            source: location.source.as_str().to_owned(),
        }
    }
}

/// One value of a profile's frequency map and how many applications had it.
#[derive(Debug, Object)]
#[oai(rename = "ProfileCount")]
pub struct ProfileCountResponse {
    pub value: String,
    pub applications: u32,
}

/// A user's profile: each frequency map's most applied values (at most 10).
#[derive(Debug, Object)]
#[oai(rename = "UserProfile", skip_serializing_if_is_none)]
pub struct ProfileResponse {
    /// `applied` actions in the window.
    pub applications: u32,
    pub prefectures: Vec<ProfileCountResponse>,
    pub cities: Vec<ProfileCountResponse>,
    pub occupations: Vec<ProfileCountResponse>,
    pub employment_types: Vec<ProfileCountResponse>,
    /// Company codes (`endcl_cd`).
    pub companies: Vec<ProfileCountResponse>,
    /// The mean hourly equivalent (yen) of the applications with a wage.
    pub mean_hourly_wage: Option<f64>,
}

impl From<ProfileSummary> for ProfileResponse {
    fn from(profile: ProfileSummary) -> Self {
        let counts = |values: Vec<(String, u32)>| {
            values
                .into_iter()
                .map(|(value, applications)| ProfileCountResponse {
                    value,
                    applications,
                })
                .collect()
        };
        Self {
            applications: profile.n_applications,
            prefectures: counts(profile.prefectures),
            cities: counts(profile.cities),
            occupations: counts(profile.occupations),
            employment_types: counts(profile.employment_types),
            companies: counts(profile.companies),
            mean_hourly_wage: profile.mean_hourly_wage,
        }
    }
}

/// One stored action of a user.
#[derive(Debug, Object)]
#[oai(rename = "UserAction", skip_serializing_if_is_none)]
pub struct UserActionResponse {
    pub job_id: String,
    pub action_type: String,
    /// RFC 3339.
    pub action_at: String,
    /// `email`, `web` or `app`.
    pub source: Option<String>,
    /// The email section it came from.
    pub section: Option<String>,
}

impl From<UserAction> for UserActionResponse {
    fn from(action: UserAction) -> Self {
        Self {
            job_id: action.job_id.to_string(),
            action_type: action
                .action_type
                .map_or("unknown", |t| t.as_str())
                .to_owned(),
            action_at: rfc3339(action.action_at),
            source: action.source.map(|s| s.as_str().to_owned()),
            section: action.section,
        }
    }
}

impl From<UserDetail> for UserDetailResponse {
    fn from(detail: UserDetail) -> Self {
        Self {
            emailed: detail.is_emailed(),
            suppression: detail.suppression.map(SuppressionResponse::from),
            date: detail.date.to_string(),
            location: detail.location.into(),
            profile: detail.profile.into(),
            actions_by_type: detail
                .actions_by_type
                .into_iter()
                .map(|(kind, n)| (kind.as_str().to_owned(), n))
                .collect(),
            applications_total: detail.n_applications,
            applications: detail
                .applications
                .into_iter()
                .map(UserActionResponse::from)
                .collect(),
            recent_actions: detail
                .recent_actions
                .into_iter()
                .map(UserActionResponse::from)
                .collect(),
            unreadable_days: detail.unreadable_days,
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

    /// One user: whether the daily run emails them and their suppression entry; the
    /// location and profile the daily run of `date` infers from their applications; every
    /// stored action counted by type, and the latest applications and actions. Reads
    /// every stored day of actions (the store keeps actions by day, not by user).
    #[oai(path = "/api/users/:id", method = "get", operation_id = "get_user")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The user's `user_id`.
        id: Path<String>,
        /// The date of the profile and location, `YYYY-MM-DD` (their window is the days
        /// before it); default today in the configured zone, the next daily run's.
        date: Query<Option<String>>,
        /// How many applications and recent actions to list (each).
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<UserDetailResponse>, ApiError> {
        let user_id = parse_user(&id.0)?;
        let options = UserDetailOptions {
            date: date.0.as_deref().map(parse_date).transpose()?,
            time_zone: state.messages.time_zone.clone(),
            scoring: state.scoring.clone(),
            limit: limit.0 as usize,
        };
        let detail = show_user(state.store.as_ref(), &user_id, &options).await?;
        Ok(Json(detail.into()))
    }
}

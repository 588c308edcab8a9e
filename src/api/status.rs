//! `GET /api/status`: what the store holds (`service::status::store_status`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use crate::service::status::{StatusCounts, store_status};

/// What the store holds.
#[derive(Debug, Object)]
#[oai(rename = "Status")]
pub struct StatusResponse {
    pub jobs: JobCountsResponse,
    /// Stored users.
    pub users: u64,
    /// Stored actions (applications, clicks, opens …).
    pub actions: u64,
    pub masters: MasterCountsResponse,
    pub storage: StorageResponse,
    /// Codes of the current jobs that no master names, most used first (kept and
    /// matched; nameless until a master names them).
    pub unknown_codes: Vec<UnknownCodeResponse>,
}

#[derive(Debug, Object)]
#[oai(rename = "JobCounts")]
pub struct JobCountsResponse {
    /// Jobs of the current snapshot.
    pub active: u64,
    /// Every job ever imported, active or not.
    pub total: u64,
}

/// Records of each kind of reference data in force (imported, or the built-in default).
#[derive(Debug, Object)]
#[oai(rename = "MasterCounts")]
pub struct MasterCountsResponse {
    pub prefectures: u64,
    pub cities: u64,
    pub adjacency: u64,
    pub occupations: u64,
    pub employment_types: u64,
    pub salary_types: u64,
    pub features: u64,
    pub keywords: u64,
}

/// How the database uses its space, in bytes.
#[derive(Debug, Object)]
#[oai(rename = "Storage")]
pub struct StorageResponse {
    pub file_bytes: u64,
    pub stored_bytes: u64,
    pub metadata_bytes: u64,
    pub fragmented_bytes: u64,
}

#[derive(Debug, Object)]
#[oai(rename = "UnknownCode")]
pub struct UnknownCodeResponse {
    /// The feed column (`pref_cd`, `city_cd`, `occupation_cd1` …).
    pub column: String,
    pub code: u32,
    /// Current jobs carrying it.
    pub jobs: u64,
}

impl From<StatusCounts> for StatusResponse {
    fn from(status: StatusCounts) -> Self {
        let masters = status.masters;
        Self {
            jobs: JobCountsResponse {
                active: status.jobs.active,
                total: status.jobs.total,
            },
            users: status.users,
            actions: status.actions,
            masters: MasterCountsResponse {
                prefectures: masters.prefectures,
                cities: masters.cities,
                adjacency: masters.adjacency,
                occupations: masters.occupations,
                employment_types: masters.employment_types,
                salary_types: masters.salary_types,
                features: masters.features,
                keywords: masters.keywords,
            },
            storage: StorageResponse {
                file_bytes: status.space.file_bytes,
                stored_bytes: status.space.stored_bytes,
                metadata_bytes: status.space.metadata_bytes,
                fragmented_bytes: status.space.fragmented_bytes,
            },
            unknown_codes: status
                .unknown_codes
                .into_iter()
                .map(|unknown| UnknownCodeResponse {
                    column: unknown.column.as_str().to_owned(),
                    code: unknown.code,
                    jobs: unknown.jobs,
                })
                .collect(),
        }
    }
}

pub struct StatusApi;

#[OpenApi(tag = "ApiTags::Status")]
impl StatusApi {
    /// What the store holds.
    ///
    /// Counts of jobs, users, actions and reference data, how the database file's space
    /// is used, and the codes of the current jobs that no master names.
    #[oai(path = "/api/status", method = "get", operation_id = "get_status")]
    async fn status(&self, state: Data<&Arc<AppState>>) -> Result<Json<StatusResponse>, ApiError> {
        let status = store_status(state.store.as_ref()).await?;
        Ok(Json(status.counts().into()))
    }
}

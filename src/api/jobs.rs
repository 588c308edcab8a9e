//! `GET /api/jobs/{id}`: one stored job with every column of its feed row
//! (`service::jobs::show_job`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use crate::domain::JobRecord;
use crate::service::jobs::show_job;
use crate::service::parse_job_id;

/// One stored job as its feed row gave it.
#[derive(Debug, Object)]
#[oai(rename = "Job")]
pub struct JobResponse {
    pub job_id: String,
    /// Whether the job is in the current snapshot (an inactive job is kept for history
    /// and never picked).
    pub active: bool,
    /// Every column of the feed row, in the feed's order.
    pub columns: Vec<JobColumnResponse>,
}

/// One cell of a feed row.
#[derive(Debug, Object)]
#[oai(rename = "JobColumn", skip_serializing_if_is_none)]
pub struct JobColumnResponse {
    /// The feed's header name.
    pub name: String,
    /// The value as written; absent where the cell meant "no value" (empty or `NULL`).
    pub value: Option<String>,
}

impl From<JobRecord> for JobResponse {
    fn from(job: JobRecord) -> Self {
        Self {
            job_id: job.job_id.to_string(),
            active: job.active,
            columns: job
                .columns
                .into_iter()
                .map(|(name, value)| JobColumnResponse { name, value })
                .collect(),
        }
    }
}

pub struct JobsApi;

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// One stored job, active or not, with every column of its feed row.
    #[oai(path = "/api/jobs/:id", method = "get", operation_id = "get_job")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The job's `job_id`.
        id: Path<String>,
    ) -> Result<Json<JobResponse>, ApiError> {
        let id = parse_job_id(&id.0)?;
        let job = show_job(state.store.as_ref(), id).await?;
        Ok(Json(job.into()))
    }
}

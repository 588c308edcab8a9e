//! `GET /api/runs`: the record of past daily runs (`service::runs::list_runs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::batch::{PhaseRecord, RunRecord, RunStatus};
use crate::service::runs::list_runs;

/// One daily run.
#[derive(Debug, Object)]
#[oai(rename = "Run", skip_serializing_if_is_none)]
pub struct RunResponse {
    pub id: String,
    /// The batch date, `YYYY-MM-DD`.
    pub date: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while the run is running.
    pub finished_at: Option<String>,
    pub status: RunStatusResponse,
    /// The last phase the run was asked for (`profiles`, `scores`, `picks`, `render`).
    pub until: String,
    pub phases: Vec<PhaseResponse>,
    /// SEO keywords skipped for matching more than half of the eligible jobs.
    pub skipped_keywords: Vec<String>,
    /// Users whose matching failed (they got the previous day's picks).
    pub failed_users: Vec<String>,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    /// What degraded a run that succeeded with warnings.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "RunStatus", rename_all = "snake_case")]
pub enum RunStatusResponse {
    Running,
    Succeeded,
    /// Finished on degraded input; `warnings` say what.
    SucceededWithWarnings,
    Failed,
    /// Stopped on request at a phase or chunk boundary; the next run of its date resumes
    /// after the chunks it stored.
    Cancelled,
}

/// One phase of a run.
#[derive(Debug, Object)]
#[oai(rename = "Phase", skip_serializing_if_is_none)]
pub struct PhaseResponse {
    pub name: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while the phase runs.
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    /// What the phase counted (`users`, `picks`, `emails` …).
    pub counts: BTreeMap<String, u64>,
    pub errors: Vec<String>,
}

impl From<RunStatus> for RunStatusResponse {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Running => Self::Running,
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::SucceededWithWarnings => Self::SucceededWithWarnings,
            RunStatus::Failed => Self::Failed,
            RunStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<PhaseRecord> for PhaseResponse {
    fn from(phase: PhaseRecord) -> Self {
        Self {
            name: phase.name,
            started_at: rfc3339(phase.started_at),
            finished_at: phase.finished_at.map(rfc3339),
            duration_ms: phase.duration_ms,
            counts: phase.counts,
            errors: phase.errors,
        }
    }
}

impl From<RunRecord> for RunResponse {
    fn from(run: RunRecord) -> Self {
        Self {
            id: run.id.to_string(),
            date: run.date.to_string(),
            started_at: rfc3339(run.started_at),
            finished_at: run.finished_at.map(rfc3339),
            status: run.status.into(),
            until: run.until.as_str().to_owned(),
            phases: run.phases.into_iter().map(PhaseResponse::from).collect(),
            skipped_keywords: run.skipped_keywords,
            failed_users: run
                .failed_users
                .iter()
                .map(|user| user.as_str().to_owned())
                .collect(),
            error: run.error,
            warnings: run.warnings,
        }
    }
}

pub struct RunsApi;

#[OpenApi(tag = "ApiTags::Runs")]
impl RunsApi {
    /// The most recent daily runs, newest first.
    #[oai(path = "/api/runs", method = "get", operation_id = "list_runs")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// How many runs to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<Vec<RunResponse>>, ApiError> {
        let runs = list_runs(state.store.as_ref(), limit.0 as usize).await?;
        Ok(Json(runs.into_iter().map(RunResponse::from).collect()))
    }
}

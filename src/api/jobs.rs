//! `GET /api/jobs` (a filtered page of the current snapshot, with a date's scores) and
//! `GET /api/jobs/{id}` (one stored job with every column of its feed row)
//! (`service::jobs`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit};
use crate::domain::JobRecord;
use crate::service::jobs::{JobFilter, JobSummary, list_jobs};
use crate::service::{parse_date, parse_job_id};

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

/// One job of a list.
#[derive(Debug, Object)]
#[oai(rename = "JobSummary", skip_serializing_if_is_none)]
pub struct JobSummaryResponse {
    pub job_id: String,
    pub title: String,
    pub company_name: String,
    pub pref_cd: Option<String>,
    pub city_cd: Option<String>,
    pub occupation_cd1: Option<String>,
    /// The feed's pay text.
    pub salary: String,
    /// Eligible to be picked on the list's date (absent without a date).
    pub eligible: Option<bool>,
    /// The job's scores of the list's date, when a run of that date scored it.
    pub scores: Option<JobScoresResponse>,
}

/// A job's scores of one date (SPEC §3) and what they came from.
#[derive(Debug, Object)]
#[oai(rename = "JobScores")]
pub struct JobScoresResponse {
    pub basic: f64,
    pub wage: f64,
    pub fee: f64,
    pub popularity: f64,
    pub seo: f64,
    /// The needs categories the job belongs to.
    pub needs: Vec<String>,
    /// `keyword(field)`, in the order they counted.
    pub matched_keywords: Vec<String>,
}

impl From<JobSummary> for JobSummaryResponse {
    fn from(job: JobSummary) -> Self {
        let fields = job.fields;
        Self {
            job_id: fields.job_id.map_or_else(String::new, |id| id.to_string()),
            title: fields.application_name,
            company_name: fields.company_name,
            pref_cd: fields.pref_cd.map(|c| c.get().to_string()),
            city_cd: fields.city_cd.map(|c| c.get().to_string()),
            occupation_cd1: fields.occupation_cd1.map(|c| c.to_string()),
            salary: fields.salary_text,
            eligible: job.eligible,
            scores: job.scores.map(|s| JobScoresResponse {
                basic: s.basic,
                wage: s.wage,
                fee: s.fee,
                popularity: s.popularity,
                seo: s.seo,
                needs: s.needs,
                matched_keywords: s.matched_keywords,
            }),
        }
    }
}

/// One page of jobs.
#[derive(Debug, Object)]
#[oai(rename = "JobPage")]
pub struct JobPageResponse {
    pub jobs: Vec<JobSummaryResponse>,
    /// How many jobs the filter keeps.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

pub struct JobsApi;

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// The current snapshot's jobs the filter keeps, in job id order; with `date`, each
    /// with its eligibility and scores of that date.
    #[oai(path = "/api/jobs", method = "get", operation_id = "list_jobs")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// A prefecture code.
        pref_cd: Query<Option<u16>>,
        /// A city code.
        city_cd: Query<Option<u32>>,
        /// An occupation code (any of the job's three).
        occupation_cd: Query<Option<u32>>,
        /// A part of the title, case ignored.
        q: Query<Option<String>>,
        /// A batch date, `YYYY-MM-DD`: adds eligibility and that date's scores.
        date: Query<Option<String>>,
        /// Only jobs eligible (or not) on `date`.
        eligible: Query<Option<bool>>,
        /// Only jobs of this needs category on `date`.
        needs: Query<Option<String>>,
        /// The basic score on `date` at least this.
        min_basic: Query<Option<f64>>,
        /// The basic score on `date` at most this.
        max_basic: Query<Option<f64>>,
        /// How many jobs to skip.
        #[oai(default)]
        offset: Query<u64>,
        /// How many jobs to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<JobPageResponse>, ApiError> {
        let date = date.0.as_deref().map(parse_date).transpose()?;
        if date.is_none() && (eligible.0.is_some() || needs.0.is_some()) {
            return Err(crate::service::ServiceError::InvalidValue {
                what: "date",
                value: String::new(),
                message: "filtering by eligibility or needs takes a date".into(),
            }
            .into());
        }
        let filter = JobFilter {
            pref_cd: pref_cd.0,
            city_cd: city_cd.0,
            occupation_cd: occupation_cd.0,
            search: q.0.filter(|q| !q.trim().is_empty()),
            date,
            eligible: eligible.0,
            needs: needs.0,
            min_basic: min_basic.0,
            max_basic: max_basic.0,
        };
        let page = list_jobs(
            state.store.as_ref(),
            &filter,
            &state.messages.time_zone,
            &state.scoring,
            offset.0 as usize,
            limit.0 as usize,
        )
        .await?;
        Ok(Json(JobPageResponse {
            total: page.total as u64,
            jobs: page
                .jobs
                .into_iter()
                .map(JobSummaryResponse::from)
                .collect(),
            offset: offset.0,
            limit: limit.0,
        }))
    }

    /// One stored job, active or not, with every column of its feed row.
    #[oai(path = "/api/jobs/:id", method = "get", operation_id = "get_job")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The job's `job_id`.
        id: Path<String>,
    ) -> Result<Json<JobResponse>, ApiError> {
        let id = parse_job_id(&id.0)?;
        let job = state.hot.job(state.store.as_ref(), id).await?;
        Ok(Json(JobRecord::clone(&job).into()))
    }
}

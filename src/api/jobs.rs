//! `GET /api/jobs` (a filtered page of the current snapshot, with a date's scores) and
//! `GET /api/jobs/{id}` (one stored job with every column of its feed row, its
//! eligibility and scores of a date) (`service::jobs`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit};
use crate::service::jobs::{
    JobDetail, JobFilter, JobScoreRow, JobSummary, list_jobs, show_job_detail,
};
use crate::service::{parse_date, parse_job_id};

/// One stored job as its feed row gave it, with its scores of a date.
#[derive(Debug, Object)]
#[oai(rename = "Job", skip_serializing_if_is_none)]
pub struct JobResponse {
    pub job_id: String,
    /// Whether the job is in the current snapshot (an inactive job is kept for history
    /// and never picked).
    pub active: bool,
    /// Every column of the feed row, in the feed's order.
    pub columns: Vec<JobColumnResponse>,
    /// The date of `eligible` and `scores`: the one asked for, else the latest date a run
    /// scored; absent before any run scored the jobs.
    pub date: Option<String>,
    /// Whether the job can be picked on `date` (SPEC §3.1; an inactive job cannot).
    pub eligible: Option<bool>,
    /// Its scores of `date` and what they came from; absent when that date's run did not
    /// score it (it was not in the snapshot then).
    pub scores: Option<JobScoresResponse>,
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

impl From<JobDetail> for JobResponse {
    fn from(detail: JobDetail) -> Self {
        let job = detail.record;
        Self {
            job_id: job.job_id.to_string(),
            active: job.active,
            columns: job
                .columns
                .into_iter()
                .map(|(name, value)| JobColumnResponse { name, value })
                .collect(),
            date: detail.date.map(|date| date.to_string()),
            eligible: detail.eligible,
            scores: detail.scores.map(JobScoresResponse::from),
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
#[oai(rename = "JobScores", skip_serializing_if_is_none)]
pub struct JobScoresResponse {
    /// 0.40 × wage + 0.30 × fee + 0.30 × popularity.
    pub basic: f64,
    /// The wage component: the hourly equivalent against its area's mean and deviation.
    pub wage: f64,
    /// The fee component.
    pub fee: f64,
    /// The popularity component: the company's applicants per action.
    pub popularity: f64,
    /// The SEO score: the first keywords that match, by volume.
    pub seo: f64,
    /// The needs categories the job belongs to.
    pub needs: Vec<String>,
    /// `keyword(field)`, in the order they counted.
    pub matched_keywords: Vec<String>,
    /// The occupation category (`occupation_cd1` by hundreds: `100` … `1200`).
    pub occupation_category: Option<String>,
}

impl From<JobScoreRow> for JobScoresResponse {
    fn from(s: JobScoreRow) -> Self {
        Self {
            basic: s.basic,
            wage: s.wage,
            fee: s.fee,
            popularity: s.popularity,
            seo: s.seo,
            needs: s.needs,
            matched_keywords: s.matched_keywords,
            occupation_category: s.occupation_category.map(|c| c.to_string()),
        }
    }
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
            scores: job.scores.map(JobScoresResponse::from),
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

    /// One stored job, active or not, with every column of its feed row, and its
    /// eligibility and scores of a date (score components, needs categories, matched
    /// keywords) as that date's run stored them.
    #[oai(path = "/api/jobs/:id", method = "get", operation_id = "get_job")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The job's `job_id`.
        id: Path<String>,
        /// The batch date of the scores, `YYYY-MM-DD`; default: the latest date a run
        /// scored.
        date: Query<Option<String>>,
    ) -> Result<Json<JobResponse>, ApiError> {
        let id = parse_job_id(&id.0)?;
        let date = date.0.as_deref().map(parse_date).transpose()?;
        let job = show_job_detail(
            state.store.as_ref(),
            id,
            date,
            &state.messages.time_zone,
            &state.scoring,
        )
        .await?;
        Ok(Json(job.into()))
    }
}

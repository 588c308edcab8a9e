//! The stored jobs: one with every column and its scores of a date, or a filtered page of
//! the current snapshot.

use jiff::civil::Date;

use super::ServiceError;
use crate::domain::batch::JobScoreTable;
use crate::domain::{JobFields, JobId, JobRecord, TimeZoneSetting};
use crate::scoring::{DayWindows, ScoringConfig};
use crate::store::Store;

/// Every stored column of one job (active or left behind by a later snapshot).
pub async fn show_job(store: &dyn Store, id: JobId) -> Result<JobRecord, ServiceError> {
    store
        .jobs(&[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ServiceError::NotFound {
            explanation: format!("no job {id} is stored"),
        })
}

/// One stored job with its scores of a date, as an operator inspects it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub record: JobRecord,
    /// The date whose scores these are: the one asked for, else the latest date a run
    /// scored (`None`: no run scored any date yet).
    pub date: Option<Date>,
    /// Eligible to be picked on `date` (SPEC §3.1): active in the current snapshot and
    /// passing every rule; `None` without a date.
    pub eligible: Option<bool>,
    /// The job's scores of `date`, when that date's run scored it (`None` for a job that
    /// was not in the snapshot it scored).
    pub scores: Option<JobScoreRow>,
}

/// How many recent run records are looked through for the latest scored date.
const RUNS_FOR_LATEST_SCORES: usize = 50;

/// The latest date whose job scores a run stored, among the recent runs.
async fn latest_scored_date(store: &dyn Store) -> Result<Option<Date>, ServiceError> {
    let runs = store.runs(RUNS_FOR_LATEST_SCORES).await?;
    let mut dates: Vec<Date> = runs
        .iter()
        .filter(|run| run.until >= crate::domain::batch::Phase::Scores)
        .map(|run| run.date)
        .collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    for date in dates {
        if store.job_scores(date).await?.is_some() {
            return Ok(Some(date));
        }
    }
    Ok(None)
}

/// Every stored column of one job, with its eligibility and scores of `date` (default:
/// the latest date a run scored): the score components, the needs categories and the
/// matched keywords, as that date's run stored them.
pub async fn show_job_detail(
    store: &dyn Store,
    id: JobId,
    date: Option<Date>,
    zone: &TimeZoneSetting,
    config: &ScoringConfig,
) -> Result<JobDetail, ServiceError> {
    let record = show_job(store, id).await?;
    let date = match date {
        Some(date) => Some(date),
        None => latest_scored_date(store).await?,
    };
    let Some(date) = date else {
        return Ok(JobDetail {
            record,
            date: None,
            eligible: None,
            scores: None,
        });
    };
    let jobs = store.job_columns().await?;
    let windows = DayWindows::new(date, zone, config);
    let eligible = jobs
        .position(id)
        .is_some_and(|index| crate::scoring::jobs::is_eligible(&jobs, index, &windows, config));
    let scores = store.job_scores(date).await?.and_then(|table| {
        let index = table.job_id.binary_search(&id.get()).ok()?;
        Some(score_row(&table, index))
    });
    Ok(JobDetail {
        record,
        date: Some(date),
        eligible: Some(eligible),
        scores,
    })
}

/// Which jobs a list shows. Every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    pub pref_cd: Option<u16>,
    pub city_cd: Option<u32>,
    /// Any of the job's three occupation codes.
    pub occupation_cd: Option<u32>,
    /// A part of the title (`application_name`), case ignored.
    pub search: Option<String>,
    /// The date whose scores, needs categories and eligibility the list shows and filters by.
    pub date: Option<Date>,
    /// Only jobs eligible (or not) on `date` (SPEC §3.1).
    pub eligible: Option<bool>,
    /// Only jobs of this needs category on `date`.
    pub needs: Option<String>,
    /// The basic score of `date` at least / at most this.
    pub min_basic: Option<f64>,
    pub max_basic: Option<f64>,
}

/// One job of a list: what an operator scans, and its scores of the filter's date.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub fields: JobFields,
    /// Eligible on the filter's date (absent without a date).
    pub eligible: Option<bool>,
    /// The job's scores of the filter's date, when that date ran and scored it.
    pub scores: Option<JobScoreRow>,
}

/// One row of a date's [`JobScoreTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobScoreRow {
    pub basic: f64,
    pub wage: f64,
    pub fee: f64,
    pub popularity: f64,
    pub seo: f64,
    pub needs: Vec<String>,
    /// `keyword(field)`, in the order they counted.
    pub matched_keywords: Vec<String>,
    /// The occupation category (`occupation_cd1` by hundreds; SPEC §3.3), if any.
    pub occupation_category: Option<u16>,
}

fn score_row(table: &JobScoreTable, index: usize) -> JobScoreRow {
    let split = |text: &str| -> Vec<String> {
        text.split('|')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    JobScoreRow {
        basic: table.basic[index],
        wage: table.wage[index],
        fee: table.fee[index],
        popularity: table.popularity[index],
        seo: table.seo[index],
        needs: split(table.needs.get(index)),
        matched_keywords: split(table.matched_keywords.get(index)),
        occupation_category: table
            .occupation_category
            .get(index)
            .copied()
            .filter(|&category| category != 0),
    }
}

/// A page of the current snapshot's jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// In job id order.
    pub jobs: Vec<JobSummary>,
    /// How many jobs the filter keeps.
    pub total: usize,
}

/// The active jobs `filter` keeps, `limit` of them from `offset` on, in job id order.
pub async fn list_jobs(
    store: &dyn Store,
    filter: &JobFilter,
    zone: &TimeZoneSetting,
    config: &ScoringConfig,
    offset: usize,
    limit: usize,
) -> Result<JobPage, ServiceError> {
    let jobs = store.job_columns().await?;
    let (windows, scores) = match filter.date {
        Some(date) => (
            Some(DayWindows::new(date, zone, config)),
            store.job_scores(date).await?,
        ),
        None => (None, None),
    };
    let needs_scores =
        filter.needs.is_some() || filter.min_basic.is_some() || filter.max_basic.is_some();
    if needs_scores && scores.is_none() {
        return Err(ServiceError::InvalidValue {
            what: "date",
            value: filter.date.map_or_else(String::new, |d| d.to_string()),
            message: "filtering by needs or score takes the date of a run that scored the jobs"
                .into(),
        });
    }
    let score_index: std::collections::HashMap<u64, usize> = scores
        .as_ref()
        .map(|t| {
            t.job_id
                .iter()
                .enumerate()
                .map(|(i, &id)| (id, i))
                .collect()
        })
        .unwrap_or_default();
    let search = filter.search.as_deref().map(str::to_lowercase);
    let mut kept = Vec::new();
    for index in 0..jobs.len() {
        let code_matches = filter.pref_cd.is_none_or(|c| jobs.pref_cd[index] == c)
            && filter.city_cd.is_none_or(|c| jobs.city_cd[index] == c)
            && filter.occupation_cd.is_none_or(|c| {
                [
                    &jobs.occupation_cd1,
                    &jobs.occupation_cd2,
                    &jobs.occupation_cd3,
                ]
                .iter()
                .any(|column| column[index] == c)
            })
            && search.as_deref().is_none_or(|needle| {
                jobs.application_name
                    .get(index)
                    .to_lowercase()
                    .contains(needle)
            });
        if !code_matches {
            continue;
        }
        let eligible = windows
            .as_ref()
            .map(|w| crate::scoring::jobs::is_eligible(&jobs, index, w, config));
        if filter.eligible.is_some() && filter.eligible != eligible {
            continue;
        }
        let score = score_index
            .get(&jobs.job_id[index])
            .map(|&i| score_row(scores.as_ref().expect("indexed above"), i));
        let score_matches = filter.needs.as_deref().is_none_or(|n| {
            score
                .as_ref()
                .is_some_and(|s| s.needs.iter().any(|x| x == n))
        }) && filter
            .min_basic
            .is_none_or(|m| score.as_ref().is_some_and(|s| s.basic >= m))
            && filter
                .max_basic
                .is_none_or(|m| score.as_ref().is_some_and(|s| s.basic <= m));
        if score_matches {
            kept.push((index, eligible, score));
        }
    }
    let total = kept.len();
    let jobs_page = kept
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(index, eligible, scores)| JobSummary {
            fields: jobs.fields(index),
            eligible,
            scores,
        })
        .collect();
    Ok(JobPage {
        jobs: jobs_page,
        total,
    })
}

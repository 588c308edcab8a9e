//! `GET /api/stats`: the dashboard's figures of a date (`service::stats`): counts, score
//! distributions, section fill by tier, activity by day and section over a window, and
//! the pick hit rates.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, rfc3339};
use crate::matching::Tier;
use crate::service::hot_reads::StatsAt;
use crate::service::parse_date;
use crate::service::stats::compute::{
    Activity, Counts, DayActivity, EMAIL_STATUSES, Histogram, HitRate, SUPPRESSION_REASONS,
    ScoreDistributions, SectionFill, SectionSlot,
};
use crate::service::stats::{DEFAULT_WINDOW_DAYS, StatsOptions};

fn default_window_days() -> u32 {
    DEFAULT_WINDOW_DAYS as u32
}

/// The dashboard's figures of a date.
#[derive(Debug, Object)]
#[oai(rename = "Stats")]
pub struct StatsResponse {
    pub date: String,
    /// The window's first date; the window ends with `date`.
    pub window_from: String,
    pub window_days: u32,
    pub counts: CountsResponse,
    /// Of `date`: its job scores and its picks.
    pub scores: ScoresResponse,
    /// Of `date`'s picks, in the email's section order.
    pub section_fill: Vec<SectionFillResponse>,
    /// Per window date, oldest first: opens, clicks, applications, unsubscribes.
    pub days: Vec<DayActivityResponse>,
    /// The window's opens, clicks and applications by section (`other`: a section name
    /// mailscore does not know; `none`: no section, as every open).
    pub sections: Vec<SectionActivityResponse>,
    /// How well `date`'s picks predicted the applications of the 7 days after it.
    pub hit_rate: HitRateResponse,
    /// The same for each window date, oldest first (the last is `hit_rate`).
    pub hit_rates: Vec<HitRateResponse>,
    /// Days of actions that could not be read (left out of the figures).
    pub unreadable_days: Vec<String>,
    /// When these figures were computed: they are kept for up to a minute, and until the
    /// next change or run, so the newest clicks may not be in them yet.
    pub computed_at: String,
}

/// A count per name.
#[derive(Debug, Object)]
#[oai(rename = "NamedCount")]
pub struct NamedCountResponse {
    pub name: String,
    pub count: u64,
}

/// What the store holds.
#[derive(Debug, Object)]
#[oai(rename = "StatsCounts")]
pub struct CountsResponse {
    pub jobs_active: u64,
    pub jobs_total: u64,
    pub users: u64,
    pub users_active: u64,
    pub users_subscribed: u64,
    /// Users whose address is on the suppression list.
    pub users_suppressed: u64,
    /// Users the daily run emails: active, subscribed and not suppressed.
    pub users_emailable: u64,
    /// Users with at least one pick on `date`.
    pub users_picked: u64,
    /// `date`'s emails by status (`pending`, `sending`, `sent`, `failed`, `cancelled`,
    /// `suppressed`); `sent` is the users emailed.
    pub emails: Vec<NamedCountResponse>,
    pub emails_total: u64,
    /// The suppression list by reason.
    pub suppressions: Vec<NamedCountResponse>,
    pub suppressions_total: u64,
}

impl From<&Counts> for CountsResponse {
    fn from(counts: &Counts) -> Self {
        let named = |names: Vec<&str>, values: &[u64]| {
            names
                .into_iter()
                .zip(values)
                .map(|(name, &count)| NamedCountResponse {
                    name: name.to_owned(),
                    count,
                })
                .collect()
        };
        Self {
            jobs_active: counts.jobs_active,
            jobs_total: counts.jobs_total,
            users: counts.users,
            users_active: counts.users_active,
            users_subscribed: counts.users_subscribed,
            users_suppressed: counts.users_suppressed,
            users_emailable: counts.users_emailable,
            users_picked: counts.users_picked,
            emails: named(
                EMAIL_STATUSES.iter().map(|s| s.as_str()).collect(),
                &counts.emails,
            ),
            emails_total: counts.emails.iter().sum(),
            suppressions: named(
                SUPPRESSION_REASONS.iter().map(|r| r.as_str()).collect(),
                &counts.suppressions,
            ),
            suppressions_total: counts.suppressions.iter().sum(),
        }
    }
}

/// A histogram of scores over 0–100 in 10 buckets of width 10.
#[derive(Debug, Object)]
#[oai(rename = "ScoreHistogram", skip_serializing_if_is_none)]
pub struct HistogramResponse {
    /// Scores in `[i × 10, (i + 1) × 10)` at index `i`; the last bucket takes 100 too.
    pub buckets: Vec<u64>,
    pub count: u64,
    pub mean: Option<f64>,
}

impl From<&Histogram> for HistogramResponse {
    fn from(histogram: &Histogram) -> Self {
        Self {
            buckets: histogram.counts.to_vec(),
            count: histogram.n,
            mean: histogram.mean,
        }
    }
}

/// The score distributions of a date.
#[derive(Debug, Object)]
#[oai(rename = "StatsScores")]
pub struct ScoresResponse {
    /// The basic score of the date's eligible jobs (basic above 0: an ineligible job
    /// scores 0 throughout).
    pub jobs_basic: HistogramResponse,
    /// The SEO score of the same jobs.
    pub jobs_seo: HistogramResponse,
    /// Jobs the date's run scored that were not eligible.
    pub jobs_ineligible: u64,
    pub picks_total: HistogramResponse,
    pub picks_personalized: HistogramResponse,
    pub picks_editorial: HistogramResponse,
}

impl From<&ScoreDistributions> for ScoresResponse {
    fn from(scores: &ScoreDistributions) -> Self {
        Self {
            jobs_basic: (&scores.jobs_basic).into(),
            jobs_seo: (&scores.jobs_seo).into(),
            jobs_ineligible: scores.jobs_ineligible,
            picks_total: (&scores.picks_total).into(),
            picks_personalized: (&scores.picks_personalized).into(),
            picks_editorial: (&scores.picks_editorial).into(),
        }
    }
}

/// How one section of a date's emails was filled, tier by tier.
#[derive(Debug, Object)]
#[oai(rename = "SectionFill")]
pub struct SectionFillResponse {
    pub section: String,
    /// The section's size times the users picked: a full fill.
    pub slots: u64,
    pub picks: u64,
    /// Users with fewer picks in the section than its size.
    pub users_short: u64,
    /// Picks per tier: `city`, `prefecture`, `region`, `anywhere`, `all`.
    pub tiers: Vec<NamedCountResponse>,
}

impl From<&SectionFill> for SectionFillResponse {
    fn from(fill: &SectionFill) -> Self {
        Self {
            section: fill.section.as_str().to_owned(),
            slots: fill.slots,
            picks: fill.picks,
            users_short: fill.users_short,
            tiers: Tier::ALL
                .iter()
                .zip(fill.tiers)
                .map(|(tier, count)| NamedCountResponse {
                    name: tier.as_str().to_owned(),
                    count,
                })
                .collect(),
        }
    }
}

/// Opens, clicks and applications of a section.
#[derive(Debug, Object)]
#[oai(rename = "SectionActivity")]
pub struct SectionActivityResponse {
    /// A section (`editorial` … `new`), `other` or `none`.
    pub section: String,
    pub opens: u64,
    pub clicks: u64,
    pub applications: u64,
}

fn section_activity(slot: SectionSlot, activity: &Activity) -> SectionActivityResponse {
    SectionActivityResponse {
        section: slot.as_str().to_owned(),
        opens: activity.opens,
        clicks: activity.clicks,
        applications: activity.applications,
    }
}

/// What users did on one local day.
#[derive(Debug, Object)]
#[oai(rename = "DayActivity")]
pub struct DayActivityResponse {
    pub date: String,
    pub opens: u64,
    pub clicks: u64,
    pub applications: u64,
    /// Addresses suppressed as unsubscribed that day (still on the list).
    pub unsubscribes: u64,
    /// The day's activity by section; sections with nothing are left out.
    pub sections: Vec<SectionActivityResponse>,
}

impl From<&DayActivity> for DayActivityResponse {
    fn from(day: &DayActivity) -> Self {
        Self {
            date: day.date.to_string(),
            opens: day.total.opens,
            clicks: day.total.clicks,
            applications: day.total.applications,
            unsubscribes: day.unsubscribes,
            sections: day
                .sections
                .iter()
                .map(|(slot, activity)| section_activity(*slot, activity))
                .collect(),
        }
    }
}

/// How well a date's picks predicted the applications of the 7 days after it: from local
/// midnight of the next day to local midnight 8 days after (the date itself is not in it).
#[derive(Debug, Object)]
#[oai(rename = "HitRate", skip_serializing_if_is_none)]
pub struct HitRateResponse {
    pub date: String,
    /// RFC 3339: the 7 days counted; applications stored later change the figures until
    /// `horizon_end` has passed.
    pub horizon_start: String,
    pub horizon_end: String,
    /// Whether picks of the date are stored (when not, there are no rates).
    pub picks_stored: bool,
    pub users_picked: u64,
    pub picks: u64,
    /// `applied` actions in the 7 days, by anyone (a user with no picks on the date counts
    /// too, and never hits).
    pub applications: u64,
    /// Of those, the ones to a job picked for the same user on the date.
    pub hits: u64,
    /// `hits / applications`; absent without applications or picks.
    pub rate: Option<f64>,
    /// Picks whose user applied to their job in the 7 days.
    pub picks_applied: u64,
    /// `picks_applied / picks`.
    pub precision: Option<f64>,
}

impl From<&HitRate> for HitRateResponse {
    fn from(hit: &HitRate) -> Self {
        Self {
            date: hit.date.to_string(),
            horizon_start: rfc3339(hit.horizon_start),
            horizon_end: rfc3339(hit.horizon_end),
            picks_stored: hit.picks_stored,
            users_picked: hit.users_picked,
            picks: hit.picks,
            applications: hit.applications,
            hits: hit.hits,
            rate: hit.rate,
            picks_applied: hit.picks_applied,
            precision: hit.precision,
        }
    }
}

impl From<&StatsAt> for StatsResponse {
    fn from(at: &StatsAt) -> Self {
        let stats = &at.stats;
        Self {
            date: stats.date.to_string(),
            window_from: stats.window[0].to_string(),
            window_days: stats.window.len() as u32,
            counts: (&stats.counts).into(),
            scores: (&stats.scores).into(),
            section_fill: stats.section_fill.iter().map(Into::into).collect(),
            days: stats.days.iter().map(Into::into).collect(),
            sections: stats
                .sections
                .iter()
                .map(|(slot, activity)| section_activity(*slot, activity))
                .collect(),
            hit_rate: (&stats.hit_rate).into(),
            hit_rates: stats.hit_rates.iter().map(Into::into).collect(),
            unreadable_days: stats.unreadable_days.clone(),
            computed_at: at.computed_at.to_string(),
        }
    }
}

pub struct StatsApi;

#[OpenApi(tag = "ApiTags::Stats")]
impl StatsApi {
    /// The dashboard's figures of a date: counts (jobs, users, the date's emails by
    /// status, suppressions); the score distributions of the date's jobs and picks; the
    /// fill of each section by tier; opens, clicks, applications and unsubscribes by day
    /// and by section over the window ending with the date; and the pick hit rate (the
    /// share of the applications of the 7 days after a date that went to jobs picked for
    /// that user on that date), for the date and for each day of the window.
    #[oai(path = "/api/stats", method = "get", operation_id = "get_stats")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The date, `YYYY-MM-DD`; default today in the configured zone.
        date: Query<Option<String>>,
        /// The days of the window, ending with `date`.
        #[oai(
            default = "default_window_days",
            validator(minimum(value = "1"), maximum(value = "90"))
        )]
        days: Query<u32>,
    ) -> Result<Json<StatsResponse>, ApiError> {
        let options = StatsOptions {
            date: date.0.as_deref().map(parse_date).transpose()?,
            window_days: days.0 as usize,
            time_zone: state.messages.time_zone.clone(),
            sections: state.scoring.sections.clone(),
        };
        let stats = state.hot.stats(state.store.as_ref(), &options).await?;
        Ok(Json(stats.as_ref().into()))
    }
}

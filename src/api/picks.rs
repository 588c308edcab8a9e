//! `GET /api/picks/{date}/{user_id}`: one user's stored picks of a date, in section order
//! and rank, with tiers, scores and the reasons they were picked (`service::exports`),
//! through the server's copies of hot reads (`service::hot_reads`); and `POST …/recompute`:
//! the same computed now, as a run would, and not stored (`service::picks`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use crate::domain::batch::{StoredPick, UserPicks};
use crate::matching::Tier;
use crate::matching::reasons::Reason;
use crate::scoring::SectionKind;
use crate::service::picks::recompute_picks;
use crate::service::{parse_date, parse_user};

/// One pick.
#[derive(Debug, Object)]
#[oai(rename = "Pick")]
pub struct PickResponse {
    pub rank: u8,
    pub job_id: String,
    /// The candidate tier the job came from (SPEC §4): `city` (the user's city and its
    /// neighbours), `prefecture`, `region`, `anywhere` (the section's own filter, any
    /// place) or `all` (any remaining eligible job).
    pub tier: String,
    pub personalized: f64,
    pub basic: f64,
    pub seo: f64,
    pub total: f64,
    pub editorial: f64,
    /// Why the job was picked, as the email says it (`お住まいの地域`, `高時給` …).
    pub reasons: Vec<String>,
}

/// One section of a user's email and its picks in rank order.
#[derive(Debug, Object)]
#[oai(rename = "PickSection")]
pub struct SectionResponse {
    /// `editorial`, `top5`, `regional`, `nearby`, `high_income` or `new`.
    pub section: String,
    pub picks: Vec<PickResponse>,
}

/// A user's picks of a date.
#[derive(Debug, Object)]
#[oai(rename = "UserPicks")]
pub struct UserPicksResponse {
    pub date: String,
    pub user_id: String,
    /// Matching failed for the user and these are the previous day's picks.
    pub fallback: bool,
    /// In the email's order.
    pub sections: Vec<SectionResponse>,
}

fn pick_response(pick: &StoredPick) -> PickResponse {
    PickResponse {
        rank: pick.rank,
        job_id: pick.job_id.to_string(),
        tier: Tier::from_code(pick.tier)
            .map_or("unknown", |t| t.as_str())
            .to_owned(),
        personalized: pick.personalized,
        basic: pick.basic,
        seo: pick.seo,
        total: pick.total,
        editorial: pick.editorial,
        reasons: Reason::labels(pick.reasons)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// The response of a user's picks, in the email's section order and by rank.
fn user_picks_response(date: jiff::civil::Date, stored: &UserPicks) -> UserPicksResponse {
    let sections = SectionKind::ALL
        .iter()
        .filter_map(|&kind| {
            let mut picks: Vec<&StoredPick> = stored
                .picks
                .iter()
                .filter(|p| SectionKind::from_code(p.section) == Some(kind))
                .collect();
            picks.sort_by_key(|p| p.rank);
            (!picks.is_empty()).then(|| SectionResponse {
                section: kind.as_str().to_owned(),
                picks: picks.into_iter().map(pick_response).collect(),
            })
        })
        .collect();
    UserPicksResponse {
        date: date.to_string(),
        user_id: stored.user_id.as_str().to_owned(),
        fallback: stored.fallback,
        sections,
    }
}

pub struct PicksApi;

#[OpenApi(tag = "ApiTags::Picks")]
impl PicksApi {
    /// One user's stored picks of a date, by section.
    #[oai(
        path = "/api/picks/:date/:user_id",
        method = "get",
        operation_id = "get_user_picks"
    )]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Path<String>,
        /// The user's `user_id`.
        user_id: Path<String>,
    ) -> Result<Json<UserPicksResponse>, ApiError> {
        let date = parse_date(&date.0)?;
        let user = parse_user(&user_id.0)?;
        let stored = state
            .hot
            .user_picks(state.store.as_ref(), date, &user)
            .await?;
        Ok(Json(user_picks_response(date, &stored)))
    }

    /// One user's picks of a date computed now from the stored data, exactly as a run of
    /// that user would compute them (the server's scoring settings, every user's actions
    /// for the job scores, the picks of the two days before), and stored nowhere: the
    /// stored picks, the emails and the runs are left as they are, and no write is made,
    /// so it may go on beside a run. The same shape as the stored picks; right after a
    /// run on the same data, the same picks. Takes seconds at reference size (a run's
    /// load, profiles and job scores), so one is computed at a time; others wait.
    #[oai(
        path = "/api/picks/:date/:user_id/recompute",
        method = "post",
        operation_id = "recompute_user_picks"
    )]
    async fn recompute(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Path<String>,
        /// The user's `user_id`.
        user_id: Path<String>,
    ) -> Result<Json<UserPicksResponse>, ApiError> {
        let date = parse_date(&date.0)?;
        let user = parse_user(&user_id.0)?;
        let _turn = state
            .recompute
            .acquire()
            .await
            .expect("the recompute semaphore is never closed");
        let base = &state.runs.settings().base;
        let picks = recompute_picks(state.store.as_ref(), base, date, &user).await?;
        Ok(Json(user_picks_response(date, &picks)))
    }
}

//! `GET /api/picks/{date}/{user_id}`: one user's stored picks of a date, in section order
//! and rank, with tiers, scores and the reasons they were picked (`service::exports`),
//! through the server's copies of hot reads (`service::hot_reads`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use crate::domain::batch::StoredPick;
use crate::matching::Tier;
use crate::matching::reasons::Reason;
use crate::scoring::SectionKind;
use crate::service::{parse_date, parse_user};

/// One pick.
#[derive(Debug, Object)]
#[oai(rename = "Pick")]
pub struct PickResponse {
    pub rank: u8,
    pub job_id: String,
    /// How well the job fits the user's place: `local`, `nearby`, `regional`, `national`.
    pub tier: String,
    pub personalized: f64,
    pub basic: f64,
    pub seo: f64,
    pub total: f64,
    pub editorial: f64,
    /// Why the job was picked (`same_city`, `wage_above_area` …).
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
        Ok(Json(UserPicksResponse {
            date: date.to_string(),
            user_id: stored.user_id.as_str().to_owned(),
            fallback: stored.fallback,
            sections,
        }))
    }
}

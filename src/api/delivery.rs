//! Sending, as an operator steers it: `GET /api/delivery` (a date's emails by status and
//! whether sending is paused), `POST /api/delivery/pause`, `POST /api/delivery/resume`
//! and `POST /api/delivery/cancel` (`service::delivery`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, rfc3339};
use crate::service::delivery::{DeliveryState, cancel, delivery_state, pause, resume};
use crate::service::parse_date;

/// A date's delivery: its emails by status, and the pause of sending.
#[derive(Debug, Object)]
#[oai(rename = "Delivery", skip_serializing_if_is_none)]
pub struct DeliveryResponse {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Whether sending is paused (automatically or by an operator) until resumed.
    pub paused: bool,
    /// Why it is paused.
    pub paused_reason: Option<String>,
    /// When it paused, RFC 3339.
    pub paused_at: Option<String>,
    pub sent: u64,
    /// Emails still to go out (pending), of which `due` are past their scheduled time.
    pub pending: u64,
    pub due: u64,
    pub failed: u64,
    /// Left `sending` by a sender that stopped mid-transaction: outcome unknown, not sent
    /// again unless retried.
    pub unknown: u64,
    pub cancelled: u64,
    pub suppressed: u64,
    /// SMTP attempts that did not end in `sent`.
    pub failed_attempts: u64,
}

impl From<DeliveryState> for DeliveryResponse {
    fn from(state: DeliveryState) -> Self {
        Self {
            date: state.date.map(|date| date.to_string()).unwrap_or_default(),
            paused: state.paused.is_some(),
            paused_reason: state.paused.as_ref().map(|pause| pause.reason.clone()),
            paused_at: state.paused.as_ref().map(|pause| rfc3339(pause.paused_at)),
            sent: state.sent,
            pending: state.pending,
            due: state.due,
            failed: state.failed,
            unknown: state.sending_unknown,
            cancelled: state.cancelled,
            suppressed: state.suppressed,
            failed_attempts: state.failed_attempts,
        }
    }
}

/// Why sending is paused by hand.
#[derive(Debug, Object)]
#[oai(rename = "DeliveryPauseRequest")]
pub struct PauseRequest {
    /// `paused by an operator` when not given.
    pub reason: Option<String>,
}

/// What a cancel did.
#[derive(Debug, Object)]
#[oai(rename = "DeliveryCancelled")]
pub struct CancelResponse {
    pub date: String,
    /// The date's pending emails now `cancelled`.
    pub cancelled: u64,
}

pub struct DeliveryApi;

impl DeliveryApi {
    fn date(state: &AppState, text: Option<String>) -> Result<jiff::civil::Date, ApiError> {
        match text {
            Some(text) => Ok(parse_date(&text)?),
            None => Ok(jiff::Timestamp::now()
                .to_zoned(state.messages.time_zone.zone().clone())
                .date()),
        }
    }
}

#[OpenApi(tag = "ApiTags::Delivery")]
impl DeliveryApi {
    /// A date's delivery (today's by default): emails by status, unknown outcomes, the
    /// pause.
    #[oai(path = "/api/delivery", method = "get", operation_id = "get_delivery")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD` [default: today in the configured zone].
        date: Query<Option<String>>,
    ) -> Result<Json<DeliveryResponse>, ApiError> {
        let date = Self::date(&state, date.0)?;
        Ok(Json(
            delivery_state(state.store.as_ref(), date).await?.into(),
        ))
    }

    /// Pauses sending until resumed.
    #[oai(
        path = "/api/delivery/pause",
        method = "post",
        operation_id = "pause_delivery"
    )]
    async fn pause(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<PauseRequest>,
    ) -> Result<Json<DeliveryResponse>, ApiError> {
        let reason = body
            .0
            .reason
            .unwrap_or_else(|| "paused by an operator".to_owned());
        pause(state.store.as_ref(), reason).await?;
        let date = Self::date(&state, None)?;
        Ok(Json(
            delivery_state(state.store.as_ref(), date).await?.into(),
        ))
    }

    /// Resumes sending after a pause, automatic or by hand.
    #[oai(
        path = "/api/delivery/resume",
        method = "post",
        operation_id = "resume_delivery"
    )]
    async fn resume(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<DeliveryResponse>, ApiError> {
        resume(state.store.as_ref()).await?;
        let date = Self::date(&state, None)?;
        Ok(Json(
            delivery_state(state.store.as_ref(), date).await?.into(),
        ))
    }

    /// Cancels a date's sending: its pending emails become `cancelled`.
    #[oai(
        path = "/api/delivery/cancel",
        method = "post",
        operation_id = "cancel_delivery"
    )]
    async fn cancel(
        &self,
        state: Data<&Arc<AppState>>,
        /// The batch date, `YYYY-MM-DD`.
        date: Query<String>,
    ) -> Result<Json<CancelResponse>, ApiError> {
        let date = parse_date(&date.0)?;
        let cancelled = cancel(state.store.as_ref(), date).await?;
        Ok(Json(CancelResponse {
            date: date.to_string(),
            cancelled,
        }))
    }
}

//! The suppression list: `GET /api/suppressions`, `POST /api/suppressions` (add an
//! address; its pending emails stop), `DELETE /api/suppressions/{address}`
//! (`service::suppressions`).

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::error::ApiError;
use super::users::SuppressionResponse;
use super::{ApiTags, AppState};
use crate::domain::SuppressionReason;
use crate::service::parse_address;
use crate::service::suppressions::{list_suppressions, suppress_address, unsuppress_address};

/// Why an address is put on the list by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SuppressionReason", rename_all = "snake_case")]
pub enum SuppressionReasonRequest {
    Unsubscribed,
    Complained,
    HardBounce,
    Manual,
    SoftBounces,
}

impl From<SuppressionReasonRequest> for SuppressionReason {
    fn from(reason: SuppressionReasonRequest) -> Self {
        match reason {
            SuppressionReasonRequest::Unsubscribed => Self::Unsubscribed,
            SuppressionReasonRequest::Complained => Self::Complained,
            SuppressionReasonRequest::HardBounce => Self::HardBounce,
            SuppressionReasonRequest::Manual => Self::Manual,
            SuppressionReasonRequest::SoftBounces => Self::SoftBounces,
        }
    }
}

/// An address to put on the suppression list.
#[derive(Debug, Object)]
#[oai(rename = "NewSuppression")]
pub struct NewSuppression {
    pub address: String,
    /// `manual` when not given.
    pub reason: Option<SuppressionReasonRequest>,
    pub note: Option<String>,
}

/// What adding an address did.
#[derive(Debug, Object)]
#[oai(rename = "SuppressionAdded")]
pub struct SuppressionAdded {
    pub address: String,
    /// Its queued `pending` or `failed` emails marked `suppressed`.
    pub emails_suppressed: u64,
}

/// The address taken off the list.
#[derive(Debug, Object)]
#[oai(rename = "SuppressionRemoved")]
pub struct SuppressionRemoved {
    pub address: String,
}

pub struct SuppressionsApi;

#[OpenApi(tag = "ApiTags::Suppressions")]
impl SuppressionsApi {
    /// Every suppressed address, by address.
    #[oai(
        path = "/api/suppressions",
        method = "get",
        operation_id = "list_suppressions"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<Vec<SuppressionResponse>>, ApiError> {
        let list = list_suppressions(state.store.as_ref()).await?;
        Ok(Json(
            list.into_iter().map(SuppressionResponse::from).collect(),
        ))
    }

    /// Puts an address on the suppression list at once: its pending emails stop.
    #[oai(
        path = "/api/suppressions",
        method = "post",
        operation_id = "add_suppression"
    )]
    async fn add(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<NewSuppression>,
    ) -> Result<Json<SuppressionAdded>, ApiError> {
        let address = parse_address(&body.0.address)?;
        let emails_suppressed = suppress_address(
            state.store.as_ref(),
            address.clone(),
            body.0.reason.map_or(SuppressionReason::Manual, Into::into),
            body.0.note,
            jiff::Timestamp::now().as_microsecond(),
        )
        .await?;
        state.hot.data_changed();
        Ok(Json(SuppressionAdded {
            address: address.as_str().to_owned(),
            emails_suppressed,
        }))
    }

    /// Takes an address off the suppression list (emails already suppressed stay so; the
    /// next daily run queues new ones).
    #[oai(
        path = "/api/suppressions/:address",
        method = "delete",
        operation_id = "remove_suppression"
    )]
    async fn remove(
        &self,
        state: Data<&Arc<AppState>>,
        /// The suppressed address.
        address: Path<String>,
    ) -> Result<Json<SuppressionRemoved>, ApiError> {
        let address = parse_address(&address.0)?;
        unsuppress_address(state.store.as_ref(), &address).await?;
        state.hot.data_changed();
        Ok(Json(SuppressionRemoved {
            address: address.as_str().to_owned(),
        }))
    }
}

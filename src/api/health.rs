//! `GET /health/live` and `GET /health/ready`, for probes and load balancers.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use crate::service::status::check_store;

/// A probe's answer.
#[derive(Debug, Object)]
#[oai(rename = "Health")]
pub struct HealthResponse {
    /// `live` or `ready`.
    pub status: String,
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// The process runs.
    ///
    /// Always 200 while the process answers at all.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> Json<HealthResponse> {
        Json(HealthResponse {
            status: "live".to_owned(),
        })
    }

    /// The server takes traffic.
    ///
    /// 200 when the store answers and the server is not shutting down, else 503.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> Result<Json<HealthResponse>, ApiError> {
        if state.is_shutting_down() {
            return Err(ApiError::shutting_down());
        }
        check_store(state.store.as_ref())
            .await
            .map_err(ApiError::not_ready)?;
        Ok(Json(HealthResponse {
            status: "ready".to_owned(),
        }))
    }
}

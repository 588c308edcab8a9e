//! Bounces and complaints as an operator or a script sends them: `POST /api/bounces` (the
//! generic JSON event, one or an array) and `GET /api/bounces` (the stored events, newest
//! first, filtered). The providers' webhooks are in `webhooks.rs`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::bounces::json::parse_events;
use crate::domain::bounce::{BounceKind, BounceSource, StoredBounce};
use crate::service::ServiceError;
use crate::service::bounces::{BounceReport, list_bounces, record_events};
use crate::service::parse_address;
use crate::store::BounceFilter;

/// One stored bounce or complaint.
#[derive(Debug, Object)]
#[oai(rename = "Bounce", skip_serializing_if_is_none)]
pub struct BounceResponse {
    pub id: String,
    pub address: String,
    /// `hard-bounce`, `soft-bounce` or `complaint`.
    pub kind: String,
    /// `api`, `ses`, `sendgrid` or `dsn`.
    pub source: String,
    /// The Message-ID of the email it answers, without angle brackets.
    pub message_id: Option<String>,
    /// The email it answers, when the Message-ID names a stored one: its user.
    pub user_id: Option<String>,
    /// … and its date, `YYYY-MM-DD`.
    pub email_date: Option<String>,
    pub reason: Option<String>,
    /// RFC 3339.
    pub occurred_at: String,
    /// RFC 3339.
    pub received_at: String,
    /// The input's own id of the event.
    pub source_id: Option<String>,
    /// The suppression reason it caused (`hard_bounce`, `complained`, `soft_bounces`).
    pub suppressed: Option<String>,
}

impl From<StoredBounce> for BounceResponse {
    fn from(bounce: StoredBounce) -> Self {
        Self {
            id: bounce.id.to_string(),
            address: bounce.event.address.as_str().to_owned(),
            kind: bounce.event.kind.as_str().to_owned(),
            source: bounce.event.source.as_str().to_owned(),
            message_id: bounce.event.message_id,
            user_id: bounce.email.as_ref().map(|e| e.user_id.as_str().to_owned()),
            email_date: bounce.email.as_ref().map(|e| e.date.to_string()),
            reason: bounce.event.reason,
            occurred_at: rfc3339(bounce.event.occurred_at),
            received_at: rfc3339(bounce.received_at),
            source_id: bounce.event.source_id,
            suppressed: bounce.suppressed.map(|r| r.as_str().to_owned()),
        }
    }
}

/// What storing a batch did.
#[derive(Debug, Object)]
#[oai(rename = "BouncesRecorded")]
pub struct BouncesRecordedResponse {
    /// The events stored, in the order sent.
    pub stored: Vec<BounceResponse>,
    /// Events already stored under the same `id`.
    pub duplicates: u64,
    /// Entries that are not bounces or complaints.
    pub ignored: u64,
    /// The addresses this batch put on the suppression list.
    pub suppressed: Vec<String>,
    /// Queued emails marked `suppressed`.
    pub emails_suppressed: u64,
}

impl From<BounceReport> for BouncesRecordedResponse {
    fn from(report: BounceReport) -> Self {
        Self {
            suppressed: report
                .suppressed()
                .map(|b| b.event.address.as_str().to_owned())
                .collect(),
            duplicates: report.duplicates,
            ignored: report.ignored,
            emails_suppressed: report.emails_suppressed,
            stored: report.stored.into_iter().map(Into::into).collect(),
        }
    }
}

/// A page of stored events.
#[derive(Debug, Object)]
#[oai(rename = "BouncePage")]
pub struct BouncePageResponse {
    pub bounces: Vec<BounceResponse>,
    /// How many stored events match the filter.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

/// Stores a batch that a parser read, counts it and tells the hot reads; the one path of
/// every input.
pub async fn store_parsed(
    state: &AppState,
    source: BounceSource,
    parsed: crate::bounces::ParsedEvents,
) -> Result<BounceReport, ServiceError> {
    let report = record_events(
        state.store.as_ref(),
        parsed,
        state.bounces.soft_rule,
        jiff::Timestamp::now().as_microsecond(),
    )
    .await?;
    super::metrics::record_bounce_report(source, &report);
    if report.suppressed().next().is_some() {
        state.hot.data_changed();
    }
    Ok(report)
}

fn bad_value(what: &'static str, value: &str, message: &str) -> ServiceError {
    ServiceError::InvalidValue {
        what,
        value: value.to_owned(),
        message: message.to_owned(),
    }
}

fn parse_instant(what: &'static str, raw: Option<String>) -> Result<Option<i64>, ServiceError> {
    raw.map(|text| {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|e| bad_value(what, &text, &format!("not an RFC 3339 time ({e})")))
    })
    .transpose()
}

pub struct BouncesApi;

#[OpenApi(tag = "ApiTags::Bounces")]
impl BouncesApi {
    /// Stores bounce and complaint events: one object `{address, kind, message_id?,
    /// reason?, occurred_at?, id?}` or an array of them (at most 10,000), `kind` one of
    /// `hard-bounce`, `soft-bounce`, `complaint`, `occurred_at` RFC 3339 (default: now).
    /// A hard bounce or a complaint suppresses the address at once; soft bounces after
    /// `bounces.soft_limit` within `bounces.soft_window_days`. An event whose `id` is
    /// stored already is a duplicate. A malformed batch stores nothing (400).
    #[oai(
        path = "/api/bounces",
        method = "post",
        operation_id = "record_bounces"
    )]
    async fn record(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<serde_json::Value>,
    ) -> Result<Json<BouncesRecordedResponse>, ApiError> {
        let now = jiff::Timestamp::now().as_microsecond();
        let parsed = parse_events(&body.0, now).map_err(|error| {
            super::metrics::record_bounce_input_refused(BounceSource::Api);
            ServiceError::from(error)
        })?;
        let report = store_parsed(&state, BounceSource::Api, parsed).await?;
        Ok(Json(report.into()))
    }

    /// The stored bounce and complaint events, newest first.
    #[oai(path = "/api/bounces", method = "get", operation_id = "list_bounces")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Only this address's (case ignored).
        address: Query<Option<String>>,
        /// Only this kind: `hard-bounce`, `soft-bounce` or `complaint`.
        kind: Query<Option<String>>,
        /// Only from this input: `api`, `ses`, `sendgrid` or `dsn`.
        source: Query<Option<String>>,
        /// Only events that occurred at or after this time (RFC 3339).
        since: Query<Option<String>>,
        /// Only events that occurred before this time (RFC 3339).
        until: Query<Option<String>>,
        /// How many events to skip.
        #[oai(default)]
        offset: Query<u64>,
        /// How many events to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<BouncePageResponse>, ApiError> {
        let filter = BounceFilter {
            address: address.0.as_deref().map(parse_address).transpose()?,
            kind: kind
                .0
                .as_deref()
                .map(|text| {
                    BounceKind::parse(text).ok_or_else(|| {
                        bad_value("kind", text, "give hard-bounce, soft-bounce or complaint")
                    })
                })
                .transpose()?,
            source: source
                .0
                .as_deref()
                .map(|text| {
                    BounceSource::parse(text)
                        .ok_or_else(|| bad_value("source", text, "give api, ses, sendgrid or dsn"))
                })
                .transpose()?,
            since: parse_instant("since", since.0)?,
            until: parse_instant("until", until.0)?,
        };
        let (bounces, total) =
            list_bounces(state.store.as_ref(), &filter, offset.0, u64::from(limit.0)).await?;
        Ok(Json(BouncePageResponse {
            bounces: bounces.into_iter().map(Into::into).collect(),
            total,
            offset: offset.0,
            limit: limit.0,
        }))
    }
}

//! `GET /api/logs`: the server's recent warnings and errors, newest first, for the log
//! viewer (`service::logs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::service::logs::{LogFilter, recent_logs};
use crate::telemetry::{LogEntry, LogLevel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "LogLevel", rename_all = "snake_case")]
pub enum LogLevelResponse {
    Warn,
    Error,
}

impl From<LogLevel> for LogLevelResponse {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Warn => Self::Warn,
            LogLevel::Error => Self::Error,
        }
    }
}

fn level_of(level: LogLevelResponse) -> LogLevel {
    match level {
        LogLevelResponse::Warn => LogLevel::Warn,
        LogLevelResponse::Error => LogLevel::Error,
    }
}

/// One logged warning or error.
#[derive(Debug, Object)]
#[oai(rename = "LogEntry", skip_serializing_if_is_none)]
pub struct LogEntryResponse {
    /// RFC 3339.
    pub at: String,
    pub level: LogLevelResponse,
    /// The module that logged it.
    pub target: String,
    pub message: String,
    /// The event's other fields, as text.
    pub fields: BTreeMap<String, String>,
    /// The request it was logged in (its `x-request-id`).
    pub request_id: Option<String>,
}

impl From<LogEntry> for LogEntryResponse {
    fn from(entry: LogEntry) -> Self {
        Self {
            at: rfc3339(entry.at),
            level: entry.level.into(),
            target: entry.target,
            message: entry.message,
            fields: entry
                .fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            request_id: entry.request_id,
        }
    }
}

/// One page of log entries.
#[derive(Debug, Object)]
#[oai(rename = "LogPage")]
pub struct LogPageResponse {
    pub entries: Vec<LogEntryResponse>,
    /// How many kept entries match the filter.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

pub struct LogsApi;

#[OpenApi(tag = "ApiTags::Logs")]
impl LogsApi {
    /// The last 1,000 warnings and errors this server process logged (since it started),
    /// newest first, filtered by level and text.
    #[oai(path = "/api/logs", method = "get", operation_id = "list_logs")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Only entries of this level.
        level: Query<Option<LogLevelResponse>>,
        /// A part of the message, the target, the request id or a field (case ignored).
        q: Query<Option<String>>,
        /// How many entries to skip.
        #[oai(default)]
        offset: Query<u64>,
        /// How many entries to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<LogPageResponse>, ApiError> {
        let filter = LogFilter {
            level: level.0.map(level_of),
            search: q.0,
        };
        let page = recent_logs(
            &state.logs,
            &filter,
            usize::try_from(offset.0).unwrap_or(usize::MAX),
            limit.0 as usize,
        );
        // The errors are those of the parameters (a 400), answered before this runs.
        Ok(Json(LogPageResponse {
            total: page.total as u64,
            entries: page
                .entries
                .into_iter()
                .map(LogEntryResponse::from)
                .collect(),
            offset: offset.0,
            limit: limit.0,
        }))
    }
}

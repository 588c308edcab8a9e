//! Imports over HTTP: `POST /api/imports` (a CSV upload, streamed to a file in the data
//! directory and imported as `mailscore import` would), `GET /api/imports/progress` (the
//! upload going on), `GET /api/imports` and `GET /api/imports/{id}` (past imports and
//! their full reports) (`service::imports`).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::{ImportReport, ImportStatus, RowIssue, Severity};
use crate::ingest::EncodingChoice;
use crate::service::imports::{list_imports, show_import};
use crate::service::parse_import_id;
use crate::store::ImportSummary;

/// One past import, in short.
#[derive(Debug, Object)]
#[oai(rename = "ImportSummary")]
pub struct ImportSummaryResponse {
    pub id: String,
    /// `jobs`, `users`, `actions`, `keywords` or a master's kind.
    pub kind: String,
    /// The file (or files, comma-separated) as given to the import.
    pub file: String,
    /// RFC 3339.
    pub started_at: String,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_skipped: u64,
    pub warnings: u64,
}

/// One import's full report: every skipped row and warning with line, column and value.
#[derive(Debug, Object)]
#[oai(rename = "ImportReport", skip_serializing_if_is_none)]
pub struct ImportReportResponse {
    pub id: String,
    pub kind: String,
    pub file: String,
    /// The encoding the file was read in.
    pub encoding: String,
    pub status: ImportStatusResponse,
    /// RFC 3339.
    pub started_at: String,
    /// Time spent reading and checking the file, before the store committed it.
    pub duration_ms: u64,
    /// Data rows read (blank rows excluded).
    pub rows_read: u64,
    /// Rows that took effect (for actions: rows new to the store).
    pub rows_imported: u64,
    pub rows_skipped: u64,
    pub blank_rows: u64,
    pub warnings: u64,
    /// Kind-specific counts: `jobs_deactivated`, `duplicates_in_file`, `already_stored` …
    pub counts: BTreeMap<String, u64>,
    /// Columns of the header that mailscore keeps but does not interpret.
    pub unknown_columns: Vec<String>,
    pub issues: Vec<RowIssueResponse>,
    /// Issues beyond those listed, counted only.
    pub issues_omitted: u64,
    /// Why the file was rejected, when it was.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ImportStatus", rename_all = "snake_case")]
pub enum ImportStatusResponse {
    Imported,
    Rejected,
}

/// One problem of one row.
#[derive(Debug, Object)]
#[oai(rename = "RowIssue", skip_serializing_if_is_none)]
pub struct RowIssueResponse {
    /// The file, when the report covers several.
    pub file: Option<String>,
    /// Line where the row starts (1-based).
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub severity: SeverityResponse,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Severity", rename_all = "snake_case")]
pub enum SeverityResponse {
    /// The row was skipped.
    Error,
    /// The row was imported; the named cell was treated as "no value".
    Warning,
}

impl From<ImportSummary> for ImportSummaryResponse {
    fn from(summary: ImportSummary) -> Self {
        Self {
            id: summary.id.to_string(),
            kind: summary.kind,
            file: summary.file,
            started_at: rfc3339(summary.started_at),
            rows_read: summary.rows_read,
            rows_imported: summary.rows_imported,
            rows_skipped: summary.rows_skipped,
            warnings: summary.warnings,
        }
    }
}

impl From<RowIssue> for RowIssueResponse {
    fn from(issue: RowIssue) -> Self {
        Self {
            file: issue.file,
            line: issue.line,
            column: issue.column,
            value: issue.value,
            severity: match issue.severity {
                Severity::Error => SeverityResponse::Error,
                Severity::Warning => SeverityResponse::Warning,
            },
            message: issue.message,
        }
    }
}

impl From<ImportReport> for ImportReportResponse {
    fn from(report: ImportReport) -> Self {
        Self {
            id: report.id.to_string(),
            kind: report.kind,
            file: report.file,
            encoding: report.encoding,
            status: match report.status {
                ImportStatus::Imported => ImportStatusResponse::Imported,
                ImportStatus::Rejected => ImportStatusResponse::Rejected,
            },
            started_at: rfc3339(report.started_at),
            duration_ms: report.duration_ms,
            rows_read: report.rows_read,
            rows_imported: report.rows_imported,
            rows_skipped: report.rows_skipped,
            blank_rows: report.blank_rows,
            warnings: report.warnings,
            counts: report.counts,
            unknown_columns: report.unknown_columns,
            issues: report
                .issues
                .into_iter()
                .map(RowIssueResponse::from)
                .collect(),
            issues_omitted: report.issues_omitted,
            error: report.error,
        }
    }
}

/// The encoding of an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Encoding")]
pub enum EncodingParam {
    /// UTF-8 when the start of the file is valid UTF-8 (or has a BOM), else Shift_JIS.
    #[oai(rename = "auto")]
    Auto,
    #[oai(rename = "utf-8")]
    Utf8,
    /// Shift_JIS with the Windows (CP932) extensions.
    #[oai(rename = "shift_jis")]
    ShiftJis,
}

impl From<EncodingParam> for EncodingChoice {
    fn from(encoding: EncodingParam) -> Self {
        match encoding {
            EncodingParam::Auto => Self::Auto,
            EncodingParam::Utf8 => Self::Utf8,
            EncodingParam::ShiftJis => Self::ShiftJis,
        }
    }
}

/// The upload going on.
#[derive(Debug, Object)]
#[oai(rename = "UploadProgress")]
pub struct UploadProgressResponse {
    pub file: String,
    pub kind: String,
    /// `receiving` the body, then `importing` it.
    pub stage: String,
    /// RFC 3339.
    pub started_at: String,
    pub bytes_received: u64,
    pub bytes_imported: u64,
}

pub struct ImportsApi;

#[OpenApi(tag = "ApiTags::Imports")]
impl ImportsApi {
    /// The most recent imports, newest first.
    #[oai(path = "/api/imports", method = "get", operation_id = "list_imports")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// How many imports to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<Vec<ImportSummaryResponse>>, ApiError> {
        let imports = list_imports(state.store.as_ref(), limit.0 as usize).await?;
        Ok(Json(
            imports
                .into_iter()
                .map(ImportSummaryResponse::from)
                .collect(),
        ))
    }

    /// Uploads one CSV file and imports it: a `multipart/form-data` body whose `file` field
    /// is the file (job feed, users, actions, a master or keywords); a job feed split over
    /// files may come as several `file` fields, imported as one snapshot. The files are
    /// streamed to the data directory, never held in memory, and removed once imported.
    /// Answers the stored report (rows skipped and warnings with line, column and value); a
    /// file that cannot be imported at all answers `422 import_rejected` and changes
    /// nothing.
    #[oai(path = "/api/imports", method = "post", operation_id = "upload_import")]
    async fn upload(
        &self,
        state: Data<&Arc<AppState>>,
        /// What the file holds: `jobs`, `users`, `actions`, `keywords`, a master's kind
        /// (`prefectures`, `cities`, `adjacency`, `occupations`, `employment-types`,
        /// `salary-types`, `features`), or `masters` to recognise it by its header.
        kind: Query<String>,
        /// Take a job feed even when it deactivates more than `import.max_shrink_percent`
        /// of the active jobs.
        #[oai(default)]
        allow_shrink: Query<bool>,
        /// The file's encoding; default the server's `import.encoding`.
        encoding: Query<Option<EncodingParam>>,
        /// Refuse a job feed that deactivates more than this percentage of the active
        /// jobs; default the server's `import.max_shrink_percent`.
        #[oai(validator(maximum(value = "100")))]
        max_shrink_percent: Query<Option<u32>>,
        body: super::uploads::UploadBody,
    ) -> Result<Json<ImportReportResponse>, ApiError> {
        let kind = crate::ingest::ImportKind::parse(&kind.0).ok_or_else(|| {
            crate::service::ServiceError::InvalidValue {
                what: "kind",
                value: kind.0.clone(),
                message: "not a kind of file mailscore imports".into(),
            }
        })?;
        let upload = super::uploads::UploadOptions {
            allow_shrink: allow_shrink.0,
            encoding: encoding.0.map(EncodingChoice::from),
            max_shrink_percent: max_shrink_percent.0,
        };
        let report = super::uploads::upload_and_import(&state, kind, upload, body.0).await?;
        Ok(Json(report.into()))
    }

    /// The upload going on, if any.
    #[oai(
        path = "/api/imports/progress",
        method = "get",
        operation_id = "get_upload_progress"
    )]
    async fn progress(
        &self,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<UploadProgressResponse>, ApiError> {
        let progress = state
            .upload_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let progress = progress.ok_or_else(|| crate::service::ServiceError::NotFound {
            explanation: "no upload is going on".into(),
        })?;
        Ok(Json(UploadProgressResponse {
            file: progress.file,
            kind: progress.kind,
            stage: progress.stage.to_owned(),
            started_at: rfc3339(progress.started_at),
            bytes_received: progress.bytes_received,
            bytes_imported: progress.bytes_imported,
        }))
    }

    /// One import's full report.
    #[oai(path = "/api/imports/:id", method = "get", operation_id = "get_import")]
    async fn show(
        &self,
        state: Data<&Arc<AppState>>,
        /// The import's id, as the list gives it.
        id: Path<String>,
    ) -> Result<Json<ImportReportResponse>, ApiError> {
        let id = parse_import_id(&id.0)?;
        let report = show_import(state.store.as_ref(), id).await?;
        Ok(Json(report.into()))
    }
}

//! `POST /api/actions`: a JSON batch of actions, checked and stored as an import of
//! `actions.csv` is (`service::actions`), answered with its report.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

use super::error::ApiError;
use super::imports::SeverityResponse;
use super::{ApiTags, AppState, rfc3339};
use crate::domain::{ImportReport, Severity};
use crate::ingest::actions::{ActionCells, ActionField};
use crate::service::actions::ingest_action_batch;

/// The largest body `POST /api/actions` takes: room for
/// [`MAX_ACTIONS_PER_BATCH`](crate::service::actions::MAX_ACTIONS_PER_BATCH) actions with
/// every field and a few other columns each.
pub const MAX_ACTIONS_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// One cell of an action: the text `actions.csv` would hold, given as a JSON string, or
/// as a number (read as its decimal text) or a list of numbers (for `feature_codes`: read
/// as the comma-separated list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCell(pub String);

impl Type for ActionCell {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "ActionCell".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let integer_list = MetaSchema {
            items: Some(Box::new(i64::schema_ref())),
            ..MetaSchema::new("array")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "The cell as actions.csv writes it (a string), or a number, or for \
                 feature_codes a list of numbers; null or absent: no value.",
            ),
            any_of: vec![
                String::schema_ref(),
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("number"))),
                MetaSchemaRef::Inline(Box::new(integer_list)),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for ActionCell {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let text = |value: &Value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        };
        match value.unwrap_or_default() {
            Value::Array(items) => items
                .iter()
                .map(text)
                .collect::<Option<Vec<String>>>()
                .map(|items| Self(items.join(",")))
                .ok_or_else(|| ParseError::custom("a list cell holds only numbers or strings")),
            other => text(&other).map(Self).ok_or_else(|| {
                ParseError::custom("a cell is a string, a number or a list of numbers")
            }),
        }
    }
}

impl ToJSON for ActionCell {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// One action, with the columns of `actions.csv` (SPEC §2.3). Every field is optional in
/// the document so that a missing one is reported for its action, as a missing cell of a
/// file is: `user_id`, `job_id`, `action_type` and `action_at` are required of a usable
/// action.
#[derive(Debug, Object)]
#[oai(rename = "ActionInput")]
pub struct ActionRequest {
    pub user_id: Option<ActionCell>,
    /// An integer; a string is safest above 2^53.
    pub job_id: Option<ActionCell>,
    /// `applied`, `click`, `open`, `view` or `favorite`.
    pub action_type: Option<ActionCell>,
    /// `2025-07-02 00:00:00+09` or RFC 3339; without an offset, in the configured zone.
    pub action_at: Option<ActionCell>,
    /// `email`, `web` or `app`.
    pub source: Option<ActionCell>,
    /// The email section the action came from (`top5` …).
    pub section: Option<ActionCell>,
    /// The job's snapshot at the time; an empty cell is filled from the job's record.
    pub endcl_cd: Option<ActionCell>,
    pub pref_cd: Option<ActionCell>,
    pub city_cd: Option<ActionCell>,
    pub occupation_cd1: Option<ActionCell>,
    pub employment_type_cd: Option<ActionCell>,
    pub salary_type_cd: Option<ActionCell>,
    pub min_salary: Option<ActionCell>,
    pub max_salary: Option<ActionCell>,
    pub fee: Option<ActionCell>,
    /// `100,103`, or `[100, 103]`.
    pub feature_codes: Option<ActionCell>,
    /// Other columns, kept with the action as the importer keeps a file's unknown columns.
    pub extra: Option<BTreeMap<String, String>>,
}

impl From<ActionRequest> for ActionCells {
    fn from(action: ActionRequest) -> Self {
        let mut cells = ActionCells::default();
        let fields = [
            (ActionField::UserId, action.user_id),
            (ActionField::JobId, action.job_id),
            (ActionField::ActionType, action.action_type),
            (ActionField::ActionAt, action.action_at),
            (ActionField::Source, action.source),
            (ActionField::Section, action.section),
            (ActionField::EndclCd, action.endcl_cd),
            (ActionField::PrefCd, action.pref_cd),
            (ActionField::CityCd, action.city_cd),
            (ActionField::OccupationCd1, action.occupation_cd1),
            (ActionField::EmploymentTypeCd, action.employment_type_cd),
            (ActionField::SalaryTypeCd, action.salary_type_cd),
            (ActionField::MinSalary, action.min_salary),
            (ActionField::MaxSalary, action.max_salary),
            (ActionField::Fee, action.fee),
            (ActionField::FeatureCodes, action.feature_codes),
        ];
        for (field, cell) in fields {
            cells.cells[field as usize] = cell.map(|cell| cell.0);
        }
        cells.extra = action
            .extra
            .filter(|extra| !extra.is_empty())
            .map(|extra| serde_json::to_string(&extra).expect("a map of strings encodes"));
        cells
    }
}

/// A batch of actions.
#[derive(Debug, Object)]
#[oai(rename = "ActionBatch")]
pub struct ActionBatchRequest {
    /// At most 10,000 actions (and a body of at most 8 MiB).
    pub actions: Vec<ActionRequest>,
}

/// What a batch did, in the import report's shape: counts, and every skipped action and
/// warning by its position in the batch.
#[derive(Debug, Object)]
#[oai(rename = "ActionBatchReport")]
pub struct ActionBatchReportResponse {
    /// The stored import report's id (`GET /api/imports/{id}`).
    pub id: String,
    /// RFC 3339.
    pub started_at: String,
    /// Time spent checking the batch, before the store committed it.
    pub duration_ms: u64,
    /// Actions in the batch.
    pub rows_read: u64,
    /// Actions that were usable (stored now, or stored before).
    pub accepted: u64,
    /// Accepted actions that were new to the store.
    pub rows_imported: u64,
    /// Accepted actions whose identity (user, job, type, instant) was stored already, or
    /// came earlier in the batch: stored once.
    pub duplicates: u64,
    /// Actions skipped as unusable (`rejected`).
    pub rows_skipped: u64,
    pub warnings: u64,
    /// As an import report's: `already_stored` …
    pub counts: BTreeMap<String, u64>,
    pub issues: Vec<ActionIssueResponse>,
    /// Issues beyond those listed, counted only.
    pub issues_omitted: u64,
}

/// One problem of one action of a batch.
#[derive(Debug, Object)]
#[oai(rename = "ActionIssue", skip_serializing_if_is_none)]
pub struct ActionIssueResponse {
    /// The action's position in `actions`, from 0 (for an unknown code: its first action).
    pub index: u64,
    /// The field at fault (an import report's `column`).
    pub field: Option<String>,
    pub value: Option<String>,
    /// `error`: the action was skipped; `warning`: it was stored, the field read as no
    /// value (or, for an unknown code, kept as it is).
    pub severity: SeverityResponse,
    pub message: String,
}

impl From<ImportReport> for ActionBatchReportResponse {
    fn from(report: ImportReport) -> Self {
        let duplicates = report.count("already_stored");
        Self {
            id: report.id.to_string(),
            started_at: rfc3339(report.started_at),
            duration_ms: report.duration_ms,
            rows_read: report.rows_read,
            accepted: report.rows_read - report.rows_skipped,
            rows_imported: report.rows_imported,
            duplicates,
            rows_skipped: report.rows_skipped,
            warnings: report.warnings,
            counts: report.counts,
            issues: report
                .issues
                .into_iter()
                .map(|issue| ActionIssueResponse {
                    index: issue.line.saturating_sub(1),
                    field: issue.column,
                    value: issue.value,
                    severity: match issue.severity {
                        Severity::Error => SeverityResponse::Error,
                        Severity::Warning => SeverityResponse::Warning,
                    },
                    message: issue.message,
                })
                .collect(),
            issues_omitted: report.issues_omitted,
        }
    }
}

pub struct ActionsApi;

#[OpenApi(tag = "ApiTags::Actions")]
impl ActionsApi {
    /// Stores a batch of actions (at most 10,000, a body of at most 8 MiB), checked as
    /// `mailscore import actions` checks a file's rows: an action without a usable user,
    /// job, type or time is skipped and reported by its index; any other bad field is a
    /// warning and reads as no value; empty snapshot fields are filled from the job's
    /// record. An action is stored once per identity (user, job, type, instant), so
    /// sending a batch again stores nothing new. One transaction, with an import report
    /// (`GET /api/imports/{id}`, where `line` is the action's position from 1). An empty
    /// or too large batch answers `422 batch_rejected` and changes nothing.
    #[oai(
        path = "/api/actions",
        method = "post",
        operation_id = "ingest_actions"
    )]
    async fn ingest(
        &self,
        state: Data<&Arc<AppState>>,
        batch: Json<ActionBatchRequest>,
    ) -> Result<Json<ActionBatchReportResponse>, ApiError> {
        let cells: Vec<ActionCells> = batch.0.actions.into_iter().map(Into::into).collect();
        let report =
            ingest_action_batch(state.store.as_ref(), &cells, &state.messages.time_zone).await?;
        state.hot.actions_recorded();
        Ok(Json(report.into()))
    }
}

//! `/api/runs`: the daily runs. Start one (a date, one user, or the retry of an earlier
//! run's failures), cancel the executing one, list them, show one with its live progress,
//! follow one as server-sent events; each operation calls the server's
//! [`RunManager`](crate::service::run_manager::RunManager) or `service::runs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Union};

use super::error::ApiError;
use super::{ApiTags, AppState, default_list_limit, rfc3339};
use crate::domain::batch::{Phase, PhaseRecord, RunRecord, RunStatus, RunTrigger};
use crate::service::run_manager::{LivePhase, LiveRun, RunEvent, RunHandle, RunRequest};
use crate::service::runs::{RunFilter, list_runs_page};
use crate::service::{parse_date, parse_run_id, parse_user};

/// One daily run: its stored record, and while it executes, its live progress.
#[derive(Debug, Object)]
#[oai(rename = "Run", skip_serializing_if_is_none)]
pub struct RunResponse {
    pub id: String,
    /// The batch date, `YYYY-MM-DD`.
    pub date: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while the run is running.
    pub finished_at: Option<String>,
    pub status: RunStatusResponse,
    /// The last phase the run was asked for (`profiles`, `scores`, `picks`, `render`).
    pub until: String,
    /// Who started it; absent for runs recorded before runs said so.
    pub trigger: Option<RunTriggerResponse>,
    /// The users a run of only some users computed (one user, or the failures of the run
    /// `retry_of`); absent for a run of every user.
    pub users: Option<Vec<String>>,
    /// The run whose failures this one retried.
    pub retry_of: Option<String>,
    /// The phases as the run recorded them when it ended (empty while it runs: see
    /// `progress`).
    pub phases: Vec<PhaseResponse>,
    /// SEO keywords skipped for matching more than half of the eligible jobs.
    pub skipped_keywords: Vec<String>,
    /// Users whose matching failed (they got the previous day's picks).
    pub failed_users: Vec<String>,
    /// Why the run failed, or where it was cancelled.
    pub error: Option<String>,
    /// What degraded a run that succeeded with warnings.
    pub warnings: Vec<String>,
    /// The live progress, while the run executes in this server.
    pub progress: Option<RunProgressResponse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "RunStatus", rename_all = "snake_case")]
pub enum RunStatusResponse {
    Running,
    Succeeded,
    /// Finished on degraded input; `warnings` say what.
    SucceededWithWarnings,
    Failed,
    /// Stopped on request at a phase or chunk boundary; the next run of its date resumes
    /// after the chunks it stored.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "RunTrigger", rename_all = "snake_case")]
pub enum RunTriggerResponse {
    /// The cron schedule.
    Schedule,
    /// An HTTP client.
    Api,
    /// The command line.
    Cli,
}

/// One phase of a run, as its record timed it.
#[derive(Debug, Object)]
#[oai(rename = "Phase", skip_serializing_if_is_none)]
pub struct PhaseResponse {
    pub name: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while the phase runs.
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    /// What the phase counted (`users`, `picks`, `emails` …).
    pub counts: BTreeMap<String, u64>,
    pub errors: Vec<String>,
}

/// An executing run's progress, phase by phase.
#[derive(Debug, Object)]
#[oai(rename = "RunProgress", skip_serializing_if_is_none)]
pub struct RunProgressResponse {
    pub run_id: String,
    /// The batch date, `YYYY-MM-DD`.
    pub date: String,
    /// The phase going on (the last one begun).
    pub phase: Option<String>,
    /// Since the run started.
    pub elapsed_ms: u64,
    /// Every phase begun so far, in the order each began.
    pub phases: Vec<PhaseProgressResponse>,
    /// Chunks of users stored, once the run picks.
    pub chunks_done: Option<u64>,
    /// The date's chunks of users.
    pub chunks_total: Option<u64>,
    /// A cancel was asked for: the run stops at its next phase or chunk boundary.
    pub cancel_requested: bool,
}

/// One phase of an executing run.
#[derive(Debug, Object)]
#[oai(rename = "PhaseProgress", skip_serializing_if_is_none)]
pub struct PhaseProgressResponse {
    /// `load`, `profiles`, `scores`, `picks`, `render`.
    pub name: String,
    /// What `done` and `total` count: `users`, `jobs` or `emails`; absent when the phase
    /// counts nothing.
    pub unit: Option<String>,
    pub done: u64,
    pub total: u64,
    /// `done / total`, from 0 to 1.
    pub ratio: Option<f64>,
    /// Since the phase began, or until it ended.
    pub elapsed_ms: u64,
    pub finished: bool,
}

/// What `POST /api/runs` starts: a run of a date (by default today in the configured time
/// zone), optionally only up to a phase or for one user; or, with `retry_of` alone, the
/// retry of an earlier run.
#[derive(Debug, Object)]
#[oai(rename = "StartRun")]
pub struct StartRunRequest {
    /// The batch date, `YYYY-MM-DD`; default today in the configured time zone.
    pub date: Option<String>,
    /// The last phase to run; default `render` (the whole run).
    pub until: Option<PhaseName>,
    /// Only this user: their picks and email are computed and stored, nothing else of the
    /// date changes (`until` must be `picks` or `render`).
    pub user_id: Option<String>,
    /// Retry run N: a run that failed or was cancelled runs again (resuming after the
    /// chunks it stored), a finished one for the users whose matching failed. Takes no
    /// other field.
    pub retry_of: Option<String>,
    /// Who asks: `cli` when the command line forwards its `batch run`; default `api`.
    pub trigger: Option<StartTrigger>,
    /// Users per chunk: each chunk's picks and emails are stored together, and a run
    /// stopped midway resumes after its last stored chunk when rerun with the same size;
    /// default the server's (`batch run --chunk-users` sends its own).
    #[oai(validator(minimum(value = "1")))]
    pub chunk_users: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PhaseName", rename_all = "snake_case")]
pub enum PhaseName {
    Profiles,
    Scores,
    Picks,
    Render,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "StartTrigger", rename_all = "snake_case")]
pub enum StartTrigger {
    Api,
    Cli,
}

/// A run that started.
#[derive(Debug, Object)]
#[oai(rename = "RunStarted", skip_serializing_if_is_none)]
pub struct RunStartedResponse {
    pub id: String,
    pub date: String,
    pub until: String,
    pub trigger: RunTriggerResponse,
    pub users: Option<Vec<String>>,
    pub retry_of: Option<String>,
    /// Its progress as server-sent events.
    pub events: String,
}

#[derive(Debug, ApiResponse)]
pub enum StartRunResponse {
    /// The run started and executes in the server; `Location` is the run, and its
    /// `/events` follow it.
    #[oai(status = 202)]
    Accepted(
        Json<RunStartedResponse>,
        /// The run: `/api/runs/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum CancelRunResponse {
    /// The run was asked to stop: it does at its next phase or chunk boundary, and ends
    /// `cancelled`; the next run of its date resumes after the chunks it stored.
    #[oai(status = 202)]
    Accepted(Json<RunProgressResponse>),
}

/// One event of a run's stream: `progress` about every 500 ms while it executes, then one
/// `outcome` with its final record, which ends the stream. The SSE event type is the
/// `event` field.
#[derive(Debug, Union)]
#[oai(rename = "RunEvent", discriminator_name = "event")]
#[allow(
    clippy::large_enum_variant,
    reason = "one event is held at a time; a union's variant must be an object, not a Box"
)]
pub enum RunEventResponse {
    #[oai(mapping = "progress")]
    Progress(RunProgressResponse),
    #[oai(mapping = "outcome")]
    Outcome(RunResponse),
}

impl From<RunStatus> for RunStatusResponse {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Running => Self::Running,
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::SucceededWithWarnings => Self::SucceededWithWarnings,
            RunStatus::Failed => Self::Failed,
            RunStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<RunStatusResponse> for RunStatus {
    fn from(status: RunStatusResponse) -> Self {
        match status {
            RunStatusResponse::Running => Self::Running,
            RunStatusResponse::Succeeded => Self::Succeeded,
            RunStatusResponse::SucceededWithWarnings => Self::SucceededWithWarnings,
            RunStatusResponse::Failed => Self::Failed,
            RunStatusResponse::Cancelled => Self::Cancelled,
        }
    }
}

impl From<RunTrigger> for RunTriggerResponse {
    fn from(trigger: RunTrigger) -> Self {
        match trigger {
            RunTrigger::Schedule => Self::Schedule,
            RunTrigger::Api => Self::Api,
            RunTrigger::Cli => Self::Cli,
        }
    }
}

impl From<PhaseName> for Phase {
    fn from(phase: PhaseName) -> Self {
        match phase {
            PhaseName::Profiles => Self::Profiles,
            PhaseName::Scores => Self::Scores,
            PhaseName::Picks => Self::Picks,
            PhaseName::Render => Self::Render,
        }
    }
}

impl From<StartTrigger> for RunTrigger {
    fn from(trigger: StartTrigger) -> Self {
        match trigger {
            StartTrigger::Api => Self::Api,
            StartTrigger::Cli => Self::Cli,
        }
    }
}

impl From<PhaseRecord> for PhaseResponse {
    fn from(phase: PhaseRecord) -> Self {
        Self {
            name: phase.name,
            started_at: rfc3339(phase.started_at),
            finished_at: phase.finished_at.map(rfc3339),
            duration_ms: phase.duration_ms,
            counts: phase.counts,
            errors: phase.errors,
        }
    }
}

fn user_ids(users: &[crate::domain::UserId]) -> Vec<String> {
    users.iter().map(|user| user.as_str().to_owned()).collect()
}

impl From<RunRecord> for RunResponse {
    fn from(run: RunRecord) -> Self {
        Self {
            id: run.id.to_string(),
            date: run.date.to_string(),
            started_at: rfc3339(run.started_at),
            finished_at: run.finished_at.map(rfc3339),
            status: run.status.into(),
            until: run.until.as_str().to_owned(),
            trigger: run.trigger.map(RunTriggerResponse::from),
            users: run.users.as_deref().map(user_ids),
            retry_of: run.retry_of.map(|id| id.to_string()),
            phases: run.phases.into_iter().map(PhaseResponse::from).collect(),
            skipped_keywords: run.skipped_keywords,
            failed_users: user_ids(&run.failed_users),
            error: run.error,
            warnings: run.warnings,
            progress: None,
        }
    }
}

impl From<LivePhase> for PhaseProgressResponse {
    fn from(phase: LivePhase) -> Self {
        Self {
            name: phase.name.to_owned(),
            unit: phase.unit.map(str::to_owned),
            done: phase.done,
            total: phase.total,
            ratio: phase.ratio(),
            elapsed_ms: phase.elapsed.as_millis() as u64,
            finished: phase.finished,
        }
    }
}

impl From<LiveRun> for RunProgressResponse {
    fn from(run: LiveRun) -> Self {
        Self {
            run_id: run.run_id.to_string(),
            date: run.plan.date.to_string(),
            phase: run.phase.map(str::to_owned),
            elapsed_ms: run.elapsed.as_millis() as u64,
            phases: run
                .phases
                .into_iter()
                .map(PhaseProgressResponse::from)
                .collect(),
            chunks_done: run.chunks.map(|(done, _)| done),
            chunks_total: run.chunks.map(|(_, total)| total),
            cancel_requested: run.cancel_requested,
        }
    }
}

impl From<RunEvent> for RunEventResponse {
    fn from(event: RunEvent) -> Self {
        match event {
            RunEvent::Progress(run) => Self::Progress(run.into()),
            RunEvent::Outcome(record) => Self::Outcome(record.into()),
        }
    }
}

/// The path of run `id`.
fn run_path(id: u64) -> String {
    format!("/api/runs/{id}")
}

impl From<RunHandle> for RunStartedResponse {
    fn from(handle: RunHandle) -> Self {
        let plan = handle.plan;
        Self {
            id: handle.run_id.to_string(),
            date: plan.date.to_string(),
            until: plan.until.as_str().to_owned(),
            trigger: plan.trigger.into(),
            users: plan.users.as_deref().map(user_ids),
            retry_of: plan.retry_of.map(|id| id.to_string()),
            events: format!("{}/events", run_path(handle.run_id)),
        }
    }
}

impl StartRunRequest {
    /// The request as the service takes it; a value that does not parse is a 400.
    fn parse(self) -> Result<RunRequest, ApiError> {
        Ok(RunRequest {
            date: self.date.as_deref().map(parse_date).transpose()?,
            until: self.until.map(Phase::from),
            user: self.user_id.as_deref().map(parse_user).transpose()?,
            retry_of: self.retry_of.as_deref().map(parse_run_id).transpose()?,
            trigger: self.trigger.map_or(RunTrigger::Api, RunTrigger::from),
            chunk_users: self.chunk_users.map(|n| n as usize),
        })
    }
}

pub struct RunsApi;

#[OpenApi(tag = "ApiTags::Runs")]
impl RunsApi {
    /// The daily runs, newest first (by id, a stable order while runs are added).
    #[oai(path = "/api/runs", method = "get", operation_id = "list_runs")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// How many runs to return.
        #[oai(
            default = "default_list_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
        /// How many runs (of those the filter keeps) to skip.
        #[oai(default)]
        offset: Query<u32>,
        /// Only the runs with this status.
        status: Query<Option<RunStatusResponse>>,
    ) -> Result<Json<Vec<RunResponse>>, ApiError> {
        let filter = RunFilter {
            limit: limit.0 as usize,
            offset: offset.0 as usize,
            status: status.0.map(RunStatus::from),
        };
        let runs = list_runs_page(state.store.as_ref(), filter).await?;
        Ok(Json(runs.into_iter().map(RunResponse::from).collect()))
    }

    /// Starts a run in the server: a date (default today), optionally up to a phase or
    /// for one user, or the retry of an earlier run. One run executes at a time: while
    /// another does, the answer is 409 `run_in_progress`, naming it.
    #[oai(path = "/api/runs", method = "post", operation_id = "start_run")]
    async fn start(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<StartRunRequest>,
    ) -> Result<StartRunResponse, ApiError> {
        let request = body.0.parse()?;
        let handle = state.runs.start(request).await?;
        let location = run_path(handle.run_id);
        Ok(StartRunResponse::Accepted(Json(handle.into()), location))
    }

    /// The run executing now, with its live progress; 404 when none is.
    #[oai(
        path = "/api/runs/current",
        method = "get",
        operation_id = "get_current_run"
    )]
    async fn current(&self, state: Data<&Arc<AppState>>) -> Result<Json<RunResponse>, ApiError> {
        let live = state
            .runs
            .current()
            .ok_or_else(|| crate::service::ServiceError::NotFound {
                explanation: "no run is executing; POST /api/runs starts one".to_owned(),
            })?;
        let (record, live) = state.runs.show(live.run_id).await?;
        Ok(Json(with_progress(record, live)))
    }

    /// One run: its stored record and, while it executes, its live progress phase by
    /// phase.
    #[oai(path = "/api/runs/:id", method = "get", operation_id = "get_run")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        /// The run's id.
        id: Path<String>,
    ) -> Result<Json<RunResponse>, ApiError> {
        let id = parse_run_id(&id.0)?;
        let (record, live) = state.runs.show(id).await?;
        Ok(Json(with_progress(record, live)))
    }

    /// Asks the executing run to stop at its next phase or chunk boundary; it ends
    /// `cancelled`, and the next run of its date resumes after the chunks it stored.
    #[oai(
        path = "/api/runs/:id/cancel",
        method = "post",
        operation_id = "cancel_run"
    )]
    async fn cancel(
        &self,
        state: Data<&Arc<AppState>>,
        /// The run's id.
        id: Path<String>,
    ) -> Result<CancelRunResponse, ApiError> {
        let id = parse_run_id(&id.0)?;
        let live = state.runs.cancel(id).await?;
        Ok(CancelRunResponse::Accepted(Json(live.into())))
    }

    /// The run's progress as server-sent events (`text/event-stream`): a `progress` event
    /// about every 500 ms while it executes, then one `outcome` event with its final
    /// record, which ends the stream; a run that is not executing gives its outcome at
    /// once.
    #[oai(
        path = "/api/runs/:id/events",
        method = "get",
        operation_id = "run_events"
    )]
    async fn events(
        &self,
        state: Data<&Arc<AppState>>,
        /// The run's id.
        id: Path<String>,
    ) -> Result<EventStream<futures_util::stream::BoxStream<'static, RunEventResponse>>, ApiError>
    {
        let id = parse_run_id(&id.0)?;
        let watch = state.runs.watch(id).await?;
        let stream = futures_util::stream::unfold(watch, |mut watch| async move {
            let event = watch.next().await?;
            Some((RunEventResponse::from(event), watch))
        });
        Ok(
            EventStream::new(futures_util::StreamExt::boxed(stream)).to_event(|event| {
                let kind = match &event {
                    RunEventResponse::Progress(_) => "progress",
                    RunEventResponse::Outcome(_) => "outcome",
                };
                Event::message(event.to_json_string()).event_type(kind)
            }),
        )
    }
}

/// The record, with the live progress of a run that executes.
fn with_progress(record: RunRecord, live: Option<LiveRun>) -> RunResponse {
    RunResponse {
        progress: live.map(RunProgressResponse::from),
        ..RunResponse::from(record)
    }
}

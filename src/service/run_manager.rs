//! The runs of a server process (SPEC §6): whatever starts one (the schedule, the API, the
//! command line through the server) goes through the one [`RunManager`], which executes at
//! most one run at a time (the store's run lease keeps other processes out), shows its live
//! progress, cancels it at its next phase or chunk boundary and tells its outcome.
//!
//! No HTTP here: `api/runs.rs` maps these types, and metrics are a [`RunObserver`]'s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use tokio::sync::{oneshot, watch};

use super::ServiceError;
use super::hot_reads::HotReads;
use super::runs::{batch_options, show_run, today, wait_for_next_fire};
use crate::config::Settings;
use crate::domain::ImportReport;
use crate::domain::batch::{Phase, PhaseRecord, RunRecord, RunStatus, RunTrigger};
use crate::domain::{TimeZoneSetting, UserId};
use crate::pipeline::{
    BatchOptions, CancelSignal, ImportListener, PipelineError, RunProgress, run_batch,
};
use crate::schedule::Schedule;
use crate::store::Store;
use crate::telemetry::ErrorChain;
use crate::tokens::TokenSigner;

/// How often an executing run's progress is sampled: each event of its progress stream,
/// and its gauges.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// How long a shutdown waits for the executing run to stop at its next phase or chunk
/// boundary. With [`crate::api::SHUTDOWN_DEADLINE`] after it, below Kubernetes' default
/// grace period of 30 s. A run still going then is left to the process's end: it resumes
/// after its last stored chunk all the same.
pub const RUN_STOP_DEADLINE: Duration = Duration::from_secs(15);

/// How often [`RunManager::start`] looks whether the run it started has its id yet (the
/// store gives it once the run holds the lease and recorded its start: milliseconds).
const START_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How the server's runs are run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Everything of a run that is not its own (scoring, email, inbox, subject endpoint,
    /// retention, chunk size): each run replaces the date, `until`, the users, who asked,
    /// and its progress and cancel signal.
    pub base: BatchOptions,
    /// When runs start by themselves; `None`: only when asked.
    pub schedule: Option<Schedule>,
}

impl RunSettings {
    /// The settings' runs: `batch_options` and the cron schedule.
    pub fn from_settings(settings: &Settings, signer: TokenSigner) -> Result<Self, ServiceError> {
        let schedule = Schedule::parse(&settings.schedule)?;
        let base = batch_options(settings, today(settings.time_zone.zone()), signer);
        Ok(Self {
            base,
            schedule: Some(schedule),
        })
    }

    /// Every default, no inbox and no schedule: runs start only when asked.
    pub fn new(time_zone: TimeZoneSetting, signer: TokenSigner) -> Self {
        let base = BatchOptions::new(today(time_zone.zone()), time_zone, signer);
        Self {
            base,
            schedule: None,
        }
    }
}

/// What a start asks for. Either a run (a date, default today in the configured zone; an
/// `until`, default the whole run; one user, default every user) or the retry of an earlier
/// run, which takes nothing else ([`retry_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub date: Option<Date>,
    pub until: Option<Phase>,
    pub user: Option<UserId>,
    pub retry_of: Option<u64>,
    pub trigger: RunTrigger,
    /// Users per chunk ([`BatchOptions::chunk_users`]); default the server's.
    pub chunk_users: Option<usize>,
}

impl RunRequest {
    /// Today's whole run of every user.
    pub fn new(trigger: RunTrigger) -> Self {
        Self {
            date: None,
            until: None,
            user: None,
            retry_of: None,
            trigger,
            chunk_users: None,
        }
    }
}

/// What a run executes, as decided from its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    pub date: Date,
    pub until: Phase,
    /// Only these users ([`BatchOptions::users`]); `None`: every user.
    pub users: Option<Vec<UserId>>,
    pub retry_of: Option<u64>,
    pub trigger: RunTrigger,
    /// Users per chunk; `None`: the server's.
    pub chunk_users: Option<usize>,
}

/// A run that started: its id, and what it executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHandle {
    pub run_id: u64,
    pub plan: RunPlan,
}

/// What the retry of `run` executes. A run that did not finish (failed, cancelled, or left
/// `running` by a process that died) runs again as it was asked, which resumes after the
/// chunks it stored when nothing it depends on changed since. A finished run whose
/// matching failed for some users (they got the day before's picks) runs again for those
/// users only. Anything else left nothing to retry: an inbox file that was refused is in
/// `inbox/failed/` and needs a corrected upload, not a rerun.
pub fn retry_plan(run: &RunRecord, trigger: RunTrigger) -> Result<RunPlan, ServiceError> {
    let again = |users| RunPlan {
        date: run.date,
        until: run.until,
        users,
        retry_of: Some(run.id),
        trigger,
        chunk_users: None,
    };
    match run.status {
        RunStatus::Failed | RunStatus::Cancelled | RunStatus::Running => {
            Ok(again(run.users.clone()))
        }
        RunStatus::Succeeded | RunStatus::SucceededWithWarnings if !run.failed_users.is_empty() => {
            Ok(again(Some(run.failed_users.clone())))
        }
        status => Err(ServiceError::NothingToRetry {
            run_id: run.id,
            status: status.as_str(),
        }),
    }
}

/// An executing run as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRun {
    pub run_id: u64,
    pub plan: RunPlan,
    pub started_at: Timestamp,
    pub elapsed: Duration,
    /// The phase going on: the last one begun.
    pub phase: Option<&'static str>,
    /// Every phase begun so far, in the order each began.
    pub phases: Vec<LivePhase>,
    /// Chunks of users stored out of the date's, once the run is that far.
    pub chunks: Option<(u64, u64)>,
    /// Whether a cancel was asked for: the run stops at its next phase or chunk boundary.
    pub cancel_requested: bool,
}

/// One phase of an executing run.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePhase {
    pub name: &'static str,
    /// What `done` and `total` count (`users`, `jobs`, `emails`); `None` when the phase
    /// counts nothing.
    pub unit: Option<&'static str>,
    pub done: u64,
    pub total: u64,
    /// Since it began, or until it ended.
    pub elapsed: Duration,
    pub finished: bool,
}

impl LivePhase {
    /// `done / total` between 0 and 1; a finished phase that counts nothing is 1.
    pub fn ratio(&self) -> Option<f64> {
        if self.total > 0 {
            Some((self.done as f64 / self.total as f64).min(1.0))
        } else {
            self.finished.then_some(1.0)
        }
    }
}

/// What the phases of the daily run count ([`crate::pipeline::RunProgress`]).
fn phase_unit(phase: &str) -> Option<&'static str> {
    match phase {
        "profiles" | "picks" => Some("users"),
        "scores" => Some("jobs"),
        "render" => Some("emails"),
        _ => None,
    }
}

/// What a run's progress stream says: its progress every [`PROGRESS_INTERVAL`] while it
/// executes, then once its stored record, which ends the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Progress(LiveRun),
    Outcome(RunRecord),
}

/// Told what the runs do, for metrics. Every method has a default that does nothing.
pub trait RunObserver: Send + Sync {
    /// Every [`PROGRESS_INTERVAL`] while a run executes, and once as it ends.
    fn progress(&self, _run: &LiveRun) {}
    /// A run ended with `status` (`failed` also for a run that failed before its record),
    /// its phases as its record timed them.
    fn finished(&self, _trigger: RunTrigger, _status: RunStatus, _phases: &[PhaseRecord]) {}
    /// A run of `trigger` was not started because another was executing.
    fn skipped(&self, _trigger: RunTrigger) {}
    /// A run imported a file of its inbox, or rejected it.
    fn imported(&self, _report: &ImportReport) {}
}

/// An observer that is told nothing.
pub struct NoObserver;

impl RunObserver for NoObserver {}

/// The run executing in this process, or the last one.
struct ActiveRun {
    plan: RunPlan,
    progress: Arc<RunProgress>,
    cancel: CancelSignal,
    started_at: Timestamp,
    /// Becomes `true` once the run ended (its record, when it has one, is final then).
    ended: watch::Sender<bool>,
}

impl ActiveRun {
    fn is_ended(&self) -> bool {
        *self.ended.borrow()
    }

    /// The run now; `None` until the store gave it its id.
    fn live(&self) -> Option<LiveRun> {
        let run_id = self.progress.run_id()?;
        let now = Timestamp::now().as_microsecond();
        let since =
            |from: i64, to: i64| Duration::from_micros(to.saturating_sub(from).max(0) as u64);
        let phases: Vec<LivePhase> = self
            .progress
            .phases()
            .into_iter()
            .map(|phase| LivePhase {
                name: phase.phase,
                unit: phase_unit(phase.phase),
                done: phase.done,
                total: phase.total,
                elapsed: since(phase.started_at, phase.finished_at.unwrap_or(now)),
                finished: phase.finished_at.is_some(),
            })
            .collect();
        let (current, _, _) = self.progress.snapshot();
        Some(LiveRun {
            run_id,
            plan: self.plan.clone(),
            started_at: self.started_at,
            elapsed: since(self.started_at.as_microsecond(), now),
            phase: (!current.is_empty()).then_some(current),
            phases,
            chunks: self.progress.chunks(),
            cancel_requested: self.cancel.is_cancelled(),
        })
    }
}

/// Marks the run ended when its task ends, however it ends (a panic too), so that the
/// next start is not refused for ever.
struct EndOnDrop(Arc<ActiveRun>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.ended.send_replace(true);
    }
}

/// The runs of one server process; see the module's documentation.
pub struct RunManager {
    store: Arc<dyn Store>,
    settings: RunSettings,
    observer: Arc<dyn RunObserver>,
    /// Told before a run's first write and after its last, so that no copy of what it
    /// changes outlives it.
    hot: Arc<HotReads>,
    /// The run executing, or the last one once it ended.
    current: Mutex<Option<Arc<ActiveRun>>>,
    /// Set by [`Self::shutdown`]: no run starts any more.
    closed: AtomicBool,
}

impl RunManager {
    pub fn new(
        store: Arc<dyn Store>,
        settings: RunSettings,
        observer: Arc<dyn RunObserver>,
        hot: Arc<HotReads>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            settings,
            observer,
            hot,
            current: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    /// Starts the run `request` asks for in this process and returns once the store gave it
    /// its id (the run goes on in a task of its own). Refused while another run executes
    /// (`RunInProgress`, naming it) and once the server is shutting down; a request that
    /// does not make sense is refused before anything runs.
    pub async fn start(self: &Arc<Self>, request: RunRequest) -> Result<RunHandle, ServiceError> {
        refuse_when_busy(&self.lock(), &self.closed)?;
        let plan = self.plan(request).await?;
        let options = self.options_for(&plan);
        let active = Arc::new(ActiveRun {
            plan: plan.clone(),
            progress: Arc::clone(&options.progress),
            cancel: options.cancel.clone(),
            started_at: Timestamp::now(),
            ended: watch::Sender::new(false),
        });
        {
            let mut current = self.lock();
            refuse_when_busy(&current, &self.closed)?;
            *current = Some(Arc::clone(&active));
        }
        tracing::info!(
            date = %plan.date,
            until = plan.until.as_str(),
            trigger = plan.trigger.as_str(),
            users = plan.users.as_ref().map(Vec::len),
            retry_of = plan.retry_of,
            "starting a run"
        );
        let (failed_early, mut early_error) = oneshot::channel();
        tokio::spawn(Arc::clone(self).execute(Arc::clone(&active), options, failed_early));
        loop {
            if let Some(run_id) = active.progress.run_id() {
                return Ok(RunHandle { run_id, plan });
            }
            match early_error.try_recv() {
                Ok(error) => return Err(error),
                Err(oneshot::error::TryRecvError::Closed) => {
                    return active.progress.run_id().map_or_else(
                        || {
                            Err(ServiceError::Io(std::io::Error::other(
                                "the run ended before its start was recorded",
                            )))
                        },
                        |run_id| Ok(RunHandle { run_id, plan }),
                    );
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            tokio::time::sleep(START_POLL_INTERVAL).await;
        }
    }

    /// Asks the executing run `run_id` to stop at its next phase or chunk boundary; it ends
    /// `cancelled` and the next run of its date resumes after the chunks it stored. A run
    /// that is not executing is `RunNotExecuting`; one that is not stored, `NotFound`.
    pub async fn cancel(&self, run_id: u64) -> Result<LiveRun, ServiceError> {
        if let Some(active) = self.executing(run_id) {
            active.cancel.cancel();
            tracing::info!(
                run = run_id,
                "cancel asked for: the run stops at its next phase or chunk boundary"
            );
            if let Some(live) = active.live() {
                return Ok(live);
            }
        }
        let record = show_run(self.store.as_ref(), run_id).await?;
        Err(ServiceError::RunNotExecuting {
            run_id,
            status: record.status.as_str(),
        })
    }

    /// The run executing now, if any (and once it has its id).
    pub fn current(&self) -> Option<LiveRun> {
        self.lock()
            .as_ref()
            .filter(|active| !active.is_ended())
            .and_then(|active| active.live())
    }

    /// The stored record of run `run_id` and, while it executes, its live progress.
    pub async fn show(&self, run_id: u64) -> Result<(RunRecord, Option<LiveRun>), ServiceError> {
        let live = self.executing(run_id).and_then(|active| active.live());
        let record = show_run(self.store.as_ref(), run_id).await?;
        // Read after the live view: a run that ended meanwhile has its final record.
        let live = live.filter(|_| record.status == RunStatus::Running);
        Ok((record, live))
    }

    /// The progress stream of run `run_id`: for the executing run, its progress every
    /// [`PROGRESS_INTERVAL`] and then its outcome; for any other stored run, its outcome
    /// at once.
    pub async fn watch(&self, run_id: u64) -> Result<RunWatch, ServiceError> {
        let active = self.executing(run_id);
        show_run(self.store.as_ref(), run_id).await?;
        let ended = active.as_ref().map(|active| active.ended.subscribe());
        Ok(RunWatch {
            store: Arc::clone(&self.store),
            run_id,
            active,
            ended,
            interval: None,
            done: false,
        })
    }

    /// Starts a run each time the schedule fires, for ever (nothing without a schedule).
    /// A scheduled run while another executes is skipped, with a warning and
    /// [`RunObserver::skipped`]; a run that cannot start is logged, and the next waits for
    /// its time.
    pub async fn run_schedule(self: Arc<Self>) {
        let Some(schedule) = self.settings.schedule.clone() else {
            return;
        };
        let zone = self.settings.base.time_zone.zone().clone();
        tracing::info!(
            schedule = schedule.expression(),
            zone = self.settings.base.time_zone.name(),
            "scheduler started"
        );
        loop {
            let date = match wait_for_next_fire(&schedule, &zone).await {
                Ok(date) => date,
                Err(error) => {
                    tracing::error!(error = %ErrorChain(&error), "the scheduler stopped");
                    return;
                }
            };
            let request = RunRequest {
                date: Some(date),
                ..RunRequest::new(RunTrigger::Schedule)
            };
            match self.start(request).await {
                Ok(handle) => {
                    tracing::info!(run = handle.run_id, date = %date, "scheduled run started")
                }
                Err(ServiceError::RunInProgress {
                    run_id,
                    date: running,
                }) => {
                    tracing::warn!(
                        date = %date,
                        running_run = run_id,
                        running_date = %running,
                        "scheduled run skipped: another run is executing"
                    );
                    self.observer.skipped(RunTrigger::Schedule);
                }
                Err(ServiceError::ShuttingDown) => return,
                Err(error) => {
                    tracing::error!(error = %ErrorChain(&error), date = %date, "the scheduled run did not start")
                }
            }
        }
    }

    /// Refuses new runs from now on, asks the executing run to stop at its next phase or
    /// chunk boundary, and waits up to [`RUN_STOP_DEADLINE`] for it. Returns whether no run
    /// is executing any more.
    pub async fn shutdown(&self) -> bool {
        self.closed.store(true, Ordering::SeqCst);
        let Some(active) = self.lock().clone().filter(|active| !active.is_ended()) else {
            return true;
        };
        active.cancel.cancel();
        tracing::info!(
            run = active.progress.run_id(),
            "shutting down: the executing run stops at its next phase or chunk boundary"
        );
        let mut ended = active.ended.subscribe();
        let stopped = tokio::time::timeout(RUN_STOP_DEADLINE, ended.wait_for(|ended| *ended))
            .await
            .is_ok();
        if !stopped {
            tracing::warn!(
                deadline_s = RUN_STOP_DEADLINE.as_secs(),
                "the run did not stop in time; its next run resumes after its last stored chunk"
            );
        }
        stopped
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<ActiveRun>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The run `run_id` when it is the one executing.
    fn executing(&self, run_id: u64) -> Option<Arc<ActiveRun>> {
        self.lock()
            .clone()
            .filter(|active| !active.is_ended() && active.progress.run_id() == Some(run_id))
    }

    /// What `request` runs, checked against the store: the run a retry names must be
    /// stored, and so must the user of a run of one user.
    async fn plan(&self, request: RunRequest) -> Result<RunPlan, ServiceError> {
        let store = self.store.as_ref();
        if let Some(retry_of) = request.retry_of {
            if request.date.is_some()
                || request.until.is_some()
                || request.user.is_some()
                || request.chunk_users.is_some()
            {
                return Err(ServiceError::InvalidValue {
                    what: "retry_of",
                    value: retry_of.to_string(),
                    message: "a retry runs again what that run did: give it no date, until, \
                              user_id or chunk_users"
                        .to_owned(),
                });
            }
            let run = show_run(store, retry_of).await?;
            return retry_plan(&run, request.trigger);
        }
        let date = request
            .date
            .unwrap_or_else(|| today(self.settings.base.time_zone.zone()));
        let until = request.until.unwrap_or(self.settings.base.until);
        let users = match request.user {
            None => None,
            Some(user) => {
                if until < Phase::Picks {
                    return Err(ServiceError::InvalidValue {
                        what: "until",
                        value: until.as_str().to_owned(),
                        message: "a run of one user stores only that user's picks and email: \
                                  until must be picks or render"
                            .to_owned(),
                    });
                }
                if store.user(&user).await?.is_none() {
                    return Err(ServiceError::NotFound {
                        explanation: format!("no user {user} is stored"),
                    });
                }
                Some(vec![user])
            }
        };
        Ok(RunPlan {
            date,
            until,
            users,
            retry_of: None,
            trigger: request.trigger,
            chunk_users: request.chunk_users,
        })
    }

    /// The pipeline's options for `plan`, with a progress and a cancel signal of its own.
    fn options_for(&self, plan: &RunPlan) -> BatchOptions {
        BatchOptions {
            date: plan.date,
            until: plan.until,
            users: plan.users.clone(),
            trigger: Some(plan.trigger),
            retry_of: plan.retry_of,
            chunk_users: plan.chunk_users.unwrap_or(self.settings.base.chunk_users),
            progress: Arc::default(),
            cancel: CancelSignal::default(),
            on_import: Some(ImportListener(Arc::new({
                let observer = Arc::clone(&self.observer);
                let hot = Arc::clone(&self.hot);
                // Told after the inbox's import committed: the jobs and users it changed
                // are read anew from now on.
                move |report: &ImportReport| {
                    hot.data_changed();
                    observer.imported(report)
                }
            }))),
            ..self.settings.base.clone()
        }
    }

    /// The run's task: the pipeline, its progress told to the observer meanwhile, then its
    /// end. An error before the run had its record goes back to `start`.
    async fn execute(
        self: Arc<Self>,
        active: Arc<ActiveRun>,
        options: BatchOptions,
        failed_early: oneshot::Sender<ServiceError>,
    ) {
        let _ended = EndOnDrop(Arc::clone(&active));
        let ticker = tokio::spawn(tell_progress(
            Arc::clone(&self.observer),
            Arc::clone(&active),
        ));
        self.hot.run_started(options.date);
        // On the batch runtime, whose threads yield to the requests (`crate::threads`).
        let store = Arc::clone(&self.store);
        let run_options = options.clone();
        let outcome = crate::threads::batch_runtime()
            .spawn(async move { run_batch(store.as_ref(), &run_options).await })
            .await
            .unwrap_or_else(|error| {
                Err(PipelineError::Stopped {
                    date: options.date,
                    message: error.to_string(),
                })
            });
        self.hot.run_ended(options.date);
        ticker.abort();
        if let Some(live) = active.live() {
            self.observer.progress(&live);
        }
        let trigger = active.plan.trigger;
        match outcome {
            Ok(run) => {
                tracing::info!(
                    run = run.id,
                    date = %run.date,
                    status = run.status.code(),
                    trigger = trigger.as_str(),
                    "run ended"
                );
                self.observer.finished(trigger, run.status, &run.phases);
            }
            Err(error) => {
                self.observer.finished(trigger, RunStatus::Failed, &[]);
                if active.progress.run_id().is_none() {
                    tracing::warn!(error = %ErrorChain(&error), date = %options.date, "the run did not start");
                    active.ended.send_replace(true);
                    let _ = failed_early.send(error.into());
                }
            }
        }
    }
}

/// `RunInProgress` while a run executes, `ShuttingDown` once the manager is closed.
fn refuse_when_busy(
    current: &Option<Arc<ActiveRun>>,
    closed: &AtomicBool,
) -> Result<(), ServiceError> {
    if closed.load(Ordering::SeqCst) {
        return Err(ServiceError::ShuttingDown);
    }
    match current {
        Some(active) if !active.is_ended() => Err(ServiceError::RunInProgress {
            run_id: active.progress.run_id(),
            date: active.plan.date,
        }),
        _ => Ok(()),
    }
}

/// Tells the observer the run's progress every [`PROGRESS_INTERVAL`] (until aborted).
async fn tell_progress(observer: Arc<dyn RunObserver>, active: Arc<ActiveRun>) {
    let mut interval = tokio::time::interval(PROGRESS_INTERVAL);
    loop {
        interval.tick().await;
        if let Some(live) = active.live() {
            observer.progress(&live);
        }
    }
}

/// One run's progress stream ([`RunManager::watch`]).
pub struct RunWatch {
    store: Arc<dyn Store>,
    run_id: u64,
    /// The run, when it was executing as the stream began.
    active: Option<Arc<ActiveRun>>,
    ended: Option<watch::Receiver<bool>>,
    interval: Option<tokio::time::Interval>,
    done: bool,
}

impl RunWatch {
    /// The next event: at once for the first, then every [`PROGRESS_INTERVAL`] while the
    /// run executes; its outcome as soon as it ends; `None` after the outcome.
    pub async fn next(&mut self) -> Option<RunEvent> {
        if self.done {
            return None;
        }
        if let (Some(active), Some(ended)) = (&self.active, &mut self.ended)
            && !*ended.borrow()
        {
            let interval = self.interval.get_or_insert_with(|| {
                let mut interval = tokio::time::interval(PROGRESS_INTERVAL);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval
            });
            tokio::select! {
                _ = interval.tick() => {}
                _ = ended.changed() => {}
            }
            if !*ended.borrow()
                && let Some(live) = active.live()
            {
                return Some(RunEvent::Progress(live));
            }
        }
        self.done = true;
        match show_run(self.store.as_ref(), self.run_id).await {
            Ok(record) => Some(RunEvent::Outcome(record)),
            Err(error) => {
                tracing::warn!(run = self.run_id, error = %ErrorChain(&error), "the run's outcome could not be read");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: RunStatus, failed_users: &[&str]) -> RunRecord {
        RunRecord {
            id: 7,
            date: "2025-07-02".parse().unwrap(),
            started_at: 0,
            finished_at: None,
            status,
            until: Phase::Render,
            phases: Vec::new(),
            skipped_keywords: Vec::new(),
            failed_users: failed_users
                .iter()
                .map(|u| UserId::parse(u).unwrap())
                .collect(),
            error: None,
            warnings: Vec::new(),
            trigger: None,
            users: None,
            retry_of: None,
        }
    }

    #[test]
    fn a_run_that_did_not_finish_is_retried_whole_for_its_date() {
        for status in [RunStatus::Failed, RunStatus::Cancelled, RunStatus::Running] {
            let plan = retry_plan(&record(status, &[]), RunTrigger::Api).unwrap();
            assert_eq!(plan.date.to_string(), "2025-07-02");
            assert_eq!(plan.until, Phase::Render);
            assert_eq!(plan.users, None, "{status:?}");
            assert_eq!(plan.retry_of, Some(7));
        }
    }

    #[test]
    fn a_finished_run_is_retried_for_the_users_whose_matching_failed() {
        let run = record(RunStatus::SucceededWithWarnings, &["u2", "u9"]);
        let plan = retry_plan(&run, RunTrigger::Cli).unwrap();
        let users: Vec<&str> = plan.users.iter().flatten().map(UserId::as_str).collect();
        assert_eq!(users, ["u2", "u9"]);
        assert_eq!(plan.trigger, RunTrigger::Cli);
    }

    #[test]
    fn a_finished_run_without_failures_has_nothing_to_retry() {
        for status in [RunStatus::Succeeded, RunStatus::SucceededWithWarnings] {
            let error = retry_plan(&record(status, &[]), RunTrigger::Api).unwrap_err();
            assert!(
                matches!(error, ServiceError::NothingToRetry { run_id: 7, .. }),
                "{error}"
            );
        }
    }

    #[test]
    fn a_phase_ratio_is_done_over_total_and_a_finished_uncounted_phase_is_whole() {
        let phase = |done, total, finished| LivePhase {
            name: "picks",
            unit: Some("users"),
            done,
            total,
            elapsed: Duration::ZERO,
            finished,
        };
        assert_eq!(phase(25, 100, false).ratio(), Some(0.25));
        assert_eq!(phase(0, 0, false).ratio(), None);
        assert_eq!(phase(0, 0, true).ratio(), Some(1.0));
    }
}

//! The daily run: one date on demand, the record of past runs, and the scheduler that
//! runs each date when its cron schedule fires (the command line's `scheduler`; a server
//! starts its runs through its [`super::run_manager::RunManager`]).

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;

use super::ServiceError;
use crate::config::Settings;
use crate::domain::batch::{RunRecord, RunStatus, RunTrigger};
use crate::pipeline::{BatchOptions, run_batch};
use crate::schedule::Schedule;
use crate::store::Store;
use crate::telemetry::ErrorChain;
use crate::tokens::TokenSigner;

/// The daily run of `date` as the settings configure it: scoring, email, the subject
/// endpoint, and the inbox of the data directory.
pub fn batch_options(settings: &Settings, date: Date, signer: TokenSigner) -> BatchOptions {
    BatchOptions {
        config: settings.scoring.clone(),
        email: settings.email.clone(),
        inbox: Some(settings.data_dir.join("inbox")),
        max_shrink_percent: settings.import_max_shrink_percent,
        import_encoding: settings.import_encoding,
        llm: settings.llm.clone(),
        require_consent: settings.require_consent,
        ..BatchOptions::new(date, settings.time_zone.clone(), signer)
    }
}

/// Runs the date `options` names and returns its record; watch `options.progress` while
/// it runs.
pub async fn run_date(
    store: &dyn Store,
    options: &BatchOptions,
) -> Result<RunRecord, ServiceError> {
    Ok(run_batch(store, options).await?)
}

/// The most recent runs, newest first.
pub async fn list_runs(store: &dyn Store, limit: usize) -> Result<Vec<RunRecord>, ServiceError> {
    Ok(store.runs(limit).await?)
}

/// Which run records a page of the list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunFilter {
    pub limit: usize,
    /// Records skipped (after the status filter), newest first.
    pub offset: usize,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
}

/// A page of the run records, newest first (by id: a later run has a larger one, so the
/// order is stable while runs are added). A status filter reads every record: they are
/// few (one a day and the runs by hand, deleted after `Retention::run_days`).
pub async fn list_runs_page(
    store: &dyn Store,
    filter: RunFilter,
) -> Result<Vec<RunRecord>, ServiceError> {
    let runs = match filter.status {
        None => {
            store
                .runs(filter.offset.saturating_add(filter.limit))
                .await?
        }
        Some(status) => store
            .runs(usize::MAX)
            .await?
            .into_iter()
            .filter(|run| run.status == status)
            .collect(),
    };
    Ok(runs
        .into_iter()
        .skip(filter.offset)
        .take(filter.limit)
        .collect())
}

/// The run record `id`.
pub async fn show_run(store: &dyn Store, id: u64) -> Result<RunRecord, ServiceError> {
    store
        .run_record(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound {
            explanation: format!(
                "no run #{id} is stored (run records are kept {} days)",
                crate::pipeline::Retention::default().run_days
            ),
        })
}

/// Today's date in `zone`, from the system clock: the default date of a run.
pub fn today(zone: &jiff::tz::TimeZone) -> Date {
    Timestamp::now().to_zoned(zone.clone()).date()
}

/// Waits until `schedule` next fires and returns the date it fires on, in `zone`.
pub async fn wait_for_next_fire(
    schedule: &Schedule,
    zone: &jiff::tz::TimeZone,
) -> Result<Date, ServiceError> {
    let now = Timestamp::now();
    let Some(next) = schedule.next_after(now, zone) else {
        return Err(ServiceError::ScheduleNeverFires {
            expression: schedule.expression().to_owned(),
        });
    };
    tracing::info!(next = %next.to_zoned(zone.clone()), "next daily run");
    tokio::time::sleep(next.duration_since(now).unsigned_abs()).await;
    Ok(next.to_zoned(zone.clone()).date())
}

/// The next `n` times the schedule fires after `after` (fewer when it stops firing).
pub fn next_runs(
    schedule: &Schedule,
    zone: &jiff::tz::TimeZone,
    after: Timestamp,
    n: usize,
) -> Vec<Timestamp> {
    let mut times = Vec::with_capacity(n);
    let mut after = after;
    for _ in 0..n {
        let Some(next) = schedule.next_after(after, zone) else {
            break;
        };
        times.push(next);
        after = next;
    }
    times
}

/// Runs the daily batch every time `schedule` fires, forever; returns only on an error
/// that no later run can get past (a schedule that never fires, a store that cannot be
/// had). A failed run is logged and the next one waits for its time.
///
/// `store_for_run` gives the store of each run: the command line opens the data directory
/// again each time, so that the commands in between can use it (the embedded store is one
/// process's at a time).
pub async fn run_scheduler<F>(
    schedule: &Schedule,
    settings: &Settings,
    signer: TokenSigner,
    mut store_for_run: F,
) -> Result<(), ServiceError>
where
    F: FnMut() -> Result<Arc<dyn Store>, ServiceError>,
{
    let zone = settings.time_zone.zone().clone();
    tracing::info!(
        schedule = schedule.expression(),
        zone = settings.time_zone.name(),
        "scheduler started"
    );
    loop {
        let date = wait_for_next_fire(schedule, &zone).await?;
        let store = store_for_run()?;
        let options = BatchOptions {
            trigger: Some(RunTrigger::Schedule),
            ..batch_options(settings, date, signer.clone())
        };
        match run_batch(store.as_ref(), &options).await {
            Ok(run) => tracing::info!(
                run = run.id,
                date = %date,
                status = run.status.as_str(),
                warnings = run.warnings.len(),
                "scheduled run finished"
            ),
            Err(error) => {
                tracing::error!(error = %ErrorChain(&error), date = %date, "scheduled run failed")
            }
        }
        drop(store);
    }
}

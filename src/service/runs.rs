//! The daily run: one date on demand, the record of past runs, and the scheduler that
//! runs each date when its cron schedule fires (the command line's `scheduler`, and a
//! server's background task).

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;

use super::ServiceError;
use crate::config::Settings;
use crate::domain::batch::RunRecord;
use crate::pipeline::{BatchOptions, run_batch};
use crate::schedule::Schedule;
use crate::store::Store;
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
/// `store_for_run` gives the store of each run: a server passes its shared store, the
/// command line opens the data directory again each time, so that the commands in between
/// can use it (the embedded store is one process's at a time).
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
        let now = Timestamp::now();
        let Some(next) = schedule.next_after(now, &zone) else {
            return Err(ServiceError::ScheduleNeverFires {
                expression: schedule.expression().to_owned(),
            });
        };
        tracing::info!(next = %next.to_zoned(zone.clone()), "next daily run");
        let wait = next.duration_since(now).unsigned_abs();
        tokio::time::sleep(wait).await;
        let date = next.to_zoned(zone.clone()).date();
        let store = store_for_run()?;
        let options = batch_options(settings, date, signer.clone());
        match run_batch(store.as_ref(), &options).await {
            Ok(run) => tracing::info!(
                run = run.id,
                date = %date,
                status = run.status.as_str(),
                warnings = run.warnings.len(),
                "scheduled run finished"
            ),
            Err(error) => tracing::error!(%error, date = %date, "scheduled run failed"),
        }
        drop(store);
    }
}

//! The daily run (SPEC §6): load the day's inputs from the store, compute profiles, job
//! scores and picks with the pure core, and store the results with a run record.

pub mod compute;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use jiff::civil::Date;
use thiserror::Error;

use crate::domain::TimeZoneSetting;
use crate::domain::batch::{PhaseRecord, RunRecord, RunStatus};
use crate::scoring::{DayWindows, ScoringConfig};
use crate::store::{Store, StoreError};
pub use compute::{DayInputs, DayResults, compute_day};

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("the daily run for {date} failed while {action}: {source}")]
    Store {
        date: Date,
        action: &'static str,
        source: StoreError,
    },
}

/// The phases of the daily run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Phase {
    Profiles,
    Scores,
    Picks,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profiles => "profiles",
            Self::Scores => "scores",
            Self::Picks => "picks",
        }
    }
}

/// How to run a date.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub date: Date,
    pub until: Phase,
    pub config: ScoringConfig,
    pub time_zone: TimeZoneSetting,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn phase(name: &str, started_at: i64, clock: Instant, counts: &[(&str, u64)]) -> PhaseRecord {
    PhaseRecord {
        name: name.to_owned(),
        started_at,
        finished_at: Some(now()),
        duration_ms: clock.elapsed().as_millis() as u64,
        counts: counts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>(),
        errors: Vec::new(),
    }
}

/// Runs the date up to `options.until` and stores its results atomically: re-running a date
/// replaces that date's job scores and picks.
pub async fn run_batch(
    store: &dyn Store,
    options: &BatchOptions,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    let fail = |action: &'static str| {
        move |source| PipelineError::Store {
            date,
            action,
            source,
        }
    };
    let mut run = RunRecord {
        id: 0,
        date: date.to_string(),
        started_at: now(),
        finished_at: None,
        status: RunStatus::Running,
        until: options.until.as_str().to_owned(),
        phases: Vec::new(),
        skipped_keywords: Vec::new(),
        failed_users: Vec::new(),
        error: None,
    };
    run = store
        .save_run(run)
        .await
        .map_err(fail("recording the run's start"))?;
    tracing::info!(date = %date, run = run.id, "daily run started");

    let windows = DayWindows::new(date, &options.time_zone, &options.config);
    let load_started = now();
    let clock = Instant::now();
    let masters = store.masters().await.map_err(fail("loading masters"))?;
    let jobs = store.job_columns().await.map_err(fail("loading jobs"))?;
    let users = store.users().await.map_err(fail("loading users"))?;
    let action_days = store
        .action_days(windows.history_start, windows.day_start)
        .await
        .map_err(fail("loading actions"))?;
    let day = |n: i64| {
        date.checked_sub(jiff::Span::new().days(n))
            .expect("date in range")
    };
    let previous: HashMap<String, (Vec<u64>, Vec<u64>)> = {
        let mut previous: HashMap<String, (Vec<u64>, Vec<u64>)> = HashMap::new();
        for user in store
            .picks(day(1), None)
            .await
            .map_err(fail("loading yesterday's picks"))?
        {
            previous.entry(user.user_id).or_default().0 =
                user.picks.iter().map(|p| p.job_id).collect();
        }
        for user in store
            .picks(day(2), None)
            .await
            .map_err(fail("loading picks of two days ago"))?
        {
            previous.entry(user.user_id).or_default().1 =
                user.picks.iter().map(|p| p.job_id).collect();
        }
        previous
    };
    let n_actions: usize = action_days.iter().map(|d| d.len()).sum();
    run.phases.push(phase(
        "load",
        load_started,
        clock,
        &[
            ("jobs", jobs.len() as u64),
            ("users", users.len() as u64),
            ("action_rows", n_actions as u64),
        ],
    ));

    let inputs = DayInputs {
        jobs: &jobs,
        masters: &masters,
        users: &users,
        action_days: &action_days,
        previous: &previous,
        windows,
        config: &options.config,
    };
    let results = tokio::task::block_in_place(|| compute_day(&inputs, options.until));
    drop(action_days);
    run.phases.extend(results.phases.iter().cloned());
    run.skipped_keywords = results.skipped_keywords.clone();
    run.failed_users = results.failed_users.clone();

    let store_started = now();
    let clock = Instant::now();
    let n_picks: usize = results
        .picks
        .as_ref()
        .map_or(0, |p| p.iter().map(|u| u.picks.len()).sum());
    let mut stored_phase = phase("store", store_started, clock, &[("picks", n_picks as u64)]);
    run.status = RunStatus::Succeeded;
    run.finished_at = Some(now());
    run.phases.push(stored_phase.clone());
    if options.until >= Phase::Scores {
        let scores = results.score_table.clone().unwrap_or_default();
        run = store
            .replace_day_results(date, scores, results.picks.unwrap_or_default(), run)
            .await
            .map_err(fail("storing the day's results"))?;
        stored_phase.duration_ms = clock.elapsed().as_millis() as u64;
        stored_phase.finished_at = Some(now());
        if let Some(last) = run.phases.last_mut() {
            *last = stored_phase;
        }
        run.finished_at = Some(now());
        run = store
            .save_run(run)
            .await
            .map_err(fail("recording the run's end"))?;
    } else {
        run = store
            .save_run(run)
            .await
            .map_err(fail("recording the run's end"))?;
    }
    tracing::info!(date = %date, run = run.id, picks = n_picks, "daily run finished");
    Ok(run)
}

//! The daily run (SPEC §6): load the day's inputs from the store, compute profiles, job
//! scores and picks with the pure core, and store the results with a run record.

pub mod compute;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use jiff::civil::Date;
use thiserror::Error;

use crate::domain::TimeZoneSetting;
use crate::domain::batch::{PhaseRecord, RunRecord, RunStatus};
use crate::render::{EmailSettings, Renderer};
use crate::scoring::{DayWindows, ScoringConfig};
use crate::store::{Store, StoreError};
use crate::tokens::TokenSigner;
pub use compute::{
    DayInputs, DayResults, RunProgress, compute_day, compute_day_with_progress, render_emails,
};

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(
        "another daily run holds the run lock; only one runs at a time (a crashed run's lock lapses after {minutes} minutes)"
    )]
    Locked { minutes: i64 },
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
    /// Render every email and queue it.
    Render,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profiles => "profiles",
            Self::Scores => "scores",
            Self::Picks => "picks",
            Self::Render => "render",
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
    pub email: EmailSettings,
    /// Signs the links of the emails.
    pub signer: TokenSigner,
    /// Local time at which the emails are scheduled (hour, minute).
    pub send_at: (i8, i8),
    /// A directory whose waiting input files are imported first (`DATA_DIR/inbox`).
    pub inbox: Option<std::path::PathBuf>,
    /// What is deleted at the end of a complete run; `None` keeps everything.
    pub retention: Option<Retention>,
    /// Updated while the run goes on, for whoever watches it.
    pub progress: std::sync::Arc<RunProgress>,
    /// When set, an OpenAI-compatible endpoint writes each subject (rule subject on failure).
    pub llm: Option<crate::render::llm::LlmSettings>,
}

/// Default local send time of the daily emails (SPEC §5).
pub const DEFAULT_SEND_AT: (i8, i8) = (6, 0);

/// How long the run lock holds without being released (a crashed run's lapses then).
pub const RUN_LOCK_MINUTES: i64 = 120;

/// Retention in days (SPEC §6 defaults): actions 365, picks 30, email bodies 7, runs 90.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub action_days: i64,
    pub pick_days: i64,
    pub email_days: i64,
    pub run_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            action_days: 365,
            pick_days: 30,
            email_days: 7,
            run_days: 90,
        }
    }
}

impl BatchOptions {
    /// Options with every default: the whole run, the spec's scoring, built-in templates.
    pub fn new(date: Date, time_zone: TimeZoneSetting, signer: TokenSigner) -> Self {
        Self {
            date,
            until: Phase::Render,
            config: ScoringConfig::default(),
            time_zone,
            email: EmailSettings::default(),
            signer,
            send_at: DEFAULT_SEND_AT,
            inbox: None,
            retention: Some(Retention::default()),
            progress: std::sync::Arc::default(),
            llm: None,
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether a process of this host is alive (Linux: its `/proc` entry exists and is not a zombie).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// How many subjects are asked for at once.
const LLM_CONCURRENCY: usize = 8;

/// Replaces each email's subject with the endpoint's, where it answers usably. Returns the
/// number of failures and the first error.
fn llm_subjects(
    emails: &mut [crate::domain::batch::QueuedEmail],
    llm: &crate::render::llm::LlmSettings,
    signer: &crate::tokens::TokenSigner,
    settings: &crate::render::EmailSettings,
) -> (usize, Option<String>) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let subjects: Vec<Mutex<Option<String>>> = emails.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..LLM_CONCURRENCY.min(emails.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(email) = emails.get(index) else {
                        break;
                    };
                    let outcome = crate::render::unpack_view(
                        &email.content,
                        signer,
                        settings,
                        &email.user_id,
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|view| {
                        crate::render::llm::ask(llm, &view, &email.subject)
                            .map_err(|e| e.to_string())
                    });
                    match outcome {
                        Ok(subject) => {
                            *subjects[index]
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(subject)
                        }
                        Err(error) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            first_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get_or_insert(error);
                        }
                    }
                }
            });
        }
    });
    for (email, subject) in emails.iter_mut().zip(subjects) {
        if let Some(subject) = subject
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            email.subject = subject;
        }
    }
    (
        failures.into_inner(),
        first_error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Runs CPU-bound work from async code without stalling the runtime's other tasks
/// (`block_in_place` on a multi-threaded runtime; directly on a current-thread one).
fn cpu_bound<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
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

/// Imports every `.csv` file waiting in `inbox` (in name order; each file's kind from its
/// header) and moves it to `inbox/done/` once imported, or to `inbox/failed/` when rejected.
/// Returns the reports and the rejections.
pub async fn import_inbox(
    store: &dyn Store,
    inbox: &std::path::Path,
    time_zone: &TimeZoneSetting,
) -> (Vec<crate::domain::ImportReport>, Vec<String>) {
    use crate::ingest::{ImportKind, ImportOptions, expand_paths, import_file};
    let (mut reports, mut errors) = (Vec::new(), Vec::new());
    if !inbox.is_dir() {
        return (reports, errors);
    }
    let files = match expand_paths(&[inbox.to_path_buf()]) {
        Ok(files) => files,
        Err(error) => return (reports, vec![error.to_string()]),
    };
    let options = ImportOptions::new(time_zone.clone());
    for file in files {
        let outcome = import_file(store, ImportKind::Masters, &file, &options).await;
        let folder = if outcome.is_ok() { "done" } else { "failed" };
        match outcome {
            Ok(report) => reports.push(report),
            Err(error) => errors.push(error.to_string()),
        }
        let target_dir = inbox.join(folder);
        let moved = std::fs::create_dir_all(&target_dir).and_then(|()| {
            std::fs::rename(&file, target_dir.join(file.file_name().unwrap_or_default()))
        });
        if let Err(error) = moved {
            errors.push(format!(
                "{}: imported but not moved to {folder}/: {error}",
                file.display()
            ));
        }
    }
    (reports, errors)
}

/// Runs the date up to `options.until` and stores its results atomically: re-running a date
/// replaces that date's job scores and picks.
pub async fn run_batch(
    store: &dyn Store,
    options: &BatchOptions,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    let host = host_name();
    let holder = format!("{host}:{}:{}:{}", std::process::id(), date, now());
    let lock_error = |source| PipelineError::Store {
        date,
        action: "taking the run lock",
        source,
    };
    let expires_at = now() + RUN_LOCK_MINUTES * 60 * 1_000_000;
    if !store
        .acquire_run_lock(&holder, now(), expires_at)
        .await
        .map_err(lock_error)?
    {
        // A holder on this host whose process is gone crashed: its lock is taken over.
        let current = store.run_lock_holder().await.map_err(lock_error)?;
        let dead = current.as_ref().is_some_and(|(owner, _)| {
            let mut parts = owner.split(':');
            parts.next() == Some(host.as_str())
                && parts
                    .next()
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| !process_alive(pid))
        });
        let taken = dead
            && store
                .acquire_run_lock(&holder, i64::MAX, expires_at)
                .await
                .map_err(lock_error)?;
        if !taken {
            return Err(PipelineError::Locked {
                minutes: RUN_LOCK_MINUTES,
            });
        }
        tracing::warn!(previous = ?current, "took over the run lock of a process that is gone");
    }
    let outcome = run_batch_locked(store, options).await;
    let released = store.release_run_lock(&holder).await;
    let run = outcome?;
    released.map_err(|source| PipelineError::Store {
        date,
        action: "releasing the run lock",
        source,
    })?;
    Ok(run)
}

async fn run_batch_locked(
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

    if let Some(inbox) = &options.inbox {
        let (started_at, clock) = (now(), Instant::now());
        tracing::info!(phase = "import", "phase started");
        let mut record = phase("import", started_at, clock, &[]);
        let (imported, errors) = import_inbox(store, inbox, &options.time_zone).await;
        record.duration_ms = clock.elapsed().as_millis() as u64;
        record.finished_at = Some(now());
        record.counts.insert("files".into(), imported.len() as u64);
        record.counts.insert(
            "rows".into(),
            imported.iter().map(|r| r.rows_imported).sum(),
        );
        record.errors = errors;
        run.phases.push(record);
    }

    let windows = DayWindows::new(date, &options.time_zone, &options.config);
    let load_started = now();
    tracing::info!(phase = "load", "phase started");
    options.progress.start("load", 0);
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
    let packed_bytes: usize = action_days.iter().map(|d| d.bytes.len()).sum();
    run.phases.push(phase(
        "load",
        load_started,
        clock,
        &[
            ("jobs", jobs.len() as u64),
            ("users", users.len() as u64),
            ("action_days", action_days.len() as u64),
            ("action_bytes", packed_bytes as u64),
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
    let compute_until = options.until.min(Phase::Picks);
    let results =
        cpu_bound(|| compute_day_with_progress(&inputs, compute_until, &options.progress));
    // The year of actions is no longer needed: free it before rendering.
    drop(action_days);
    let inputs = DayInputs {
        jobs: &jobs,
        masters: &masters,
        users: &users,
        action_days: &[],
        previous: &previous,
        windows,
        config: &options.config,
    };
    let (emails, render_phase) = if options.until >= Phase::Render {
        let (started_at, clock) = (now(), Instant::now());
        tracing::info!(phase = "render", "phase started");
        options.progress.start(
            "render",
            results.picks.as_ref().map_or(0, |p| p.len() as u64),
        );
        let renderer = Renderer::new(&options.email);
        let send_at = jiff::civil::DateTime::new(
            date.year(),
            date.month(),
            date.day(),
            options.send_at.0,
            options.send_at.1,
            0,
            0,
        )
        .ok()
        .and_then(|local| local.to_zoned(options.time_zone.zone().clone()).ok())
        .map_or(windows.day_start, |zoned| {
            zoned.timestamp().as_microsecond()
        });
        let (emails, errors) = cpu_bound(|| {
            render_emails(
                &inputs,
                &results,
                &renderer,
                &options.signer,
                &options.email,
                send_at,
                &options.progress,
            )
        });
        let (mut emails, mut errors) = (emails, errors);
        if let Some(llm) = &options.llm {
            let (failed, first_error) =
                cpu_bound(|| llm_subjects(&mut emails, llm, &options.signer, &options.email));
            if failed > 0 {
                errors.push(format!(
                    "the subject endpoint failed for {failed} of {} emails (rule subjects used); first error: {}",
                    emails.len(),
                    first_error.unwrap_or_default()
                ));
            }
        }
        let bytes: usize = emails
            .iter()
            .map(|e| e.content.len() + e.subject.len() + e.to.len())
            .sum();
        let mut record = phase(
            "render",
            started_at,
            clock,
            &[
                ("emails", emails.len() as u64),
                ("stored_bytes", bytes as u64),
            ],
        );
        record.errors = errors;
        (Some(emails), Some(record))
    } else {
        (None, None)
    };
    run.phases.extend(results.phases.iter().cloned());
    run.phases.extend(render_phase);
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
            .replace_day_results(date, scores, results.picks.unwrap_or_default(), emails, run)
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
    if let (Some(retention), Phase::Render) = (options.retention, options.until) {
        let (started_at, clock) = (now(), Instant::now());
        let days_before = |n: i64| {
            date.checked_sub(jiff::Span::new().days(n))
                .expect("date in range")
        };
        let limits = crate::store::RetentionLimits {
            actions_before: options
                .time_zone
                .start_of_day(days_before(retention.action_days)),
            picks_before: days_before(retention.pick_days),
            emails_before: days_before(retention.email_days),
            runs_before: options
                .time_zone
                .start_of_day(days_before(retention.run_days)),
        };
        let purged = store
            .purge(limits)
            .await
            .map_err(fail("purging old data"))?;
        run.phases.push(phase(
            "retention",
            started_at,
            clock,
            &[
                ("action_days", purged.action_days),
                ("pick_dates", purged.pick_dates),
                ("email_dates", purged.email_dates),
                ("runs", purged.runs),
            ],
        ));
        run = store
            .save_run(run)
            .await
            .map_err(fail("recording the run's end"))?;
    }
    tracing::info!(date = %date, run = run.id, picks = n_picks, "daily run finished");
    Ok(run)
}

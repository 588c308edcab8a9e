//! The daily run (SPEC §6): load the day's inputs from the store, compute profiles and job
//! scores once with the pure core, then the picks and emails chunk by chunk of users, each
//! chunk stored with a checkpoint, so that a run killed midway resumes after the last stored
//! chunk; the run record ends the date.

pub mod compute;

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::civil::Date;
use thiserror::Error;

pub use crate::domain::batch::Phase;
pub use crate::domain::batch::RunTrigger;
use crate::domain::batch::{DayCheckpoint, PhaseRecord, RunRecord, RunStatus};
use crate::domain::{ImportReport, TimeZoneSetting};
use crate::render::EmailSettings;
use crate::scoring::{DayWindows, ScoringConfig};
use crate::store::{Store, StoreError};
use crate::telemetry::ErrorChain;
use crate::tokens::TokenSigner;
pub use compute::{
    ChunkPicks, DayInputs, DayResults, EmailQueueing, PhaseProgress, RunProgress, match_context,
    picks_for_users, render_emails,
};

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(
        "another daily run holds the run lease ({holder}); only one runs at a time; a run that \
         stops renewing its lease loses it within {} minutes",
        RUN_LEASE_SECONDS / 60
    )]
    Locked { holder: String },
    #[error(
        "the daily run for {date} lost its run lease (it went {} minutes without renewing it, \
         and another run took it over); it stopped, and what it stored is kept: run the date \
         again to resume",
        RUN_LEASE_SECONDS / 60
    )]
    LeaseLost { date: Date },
    #[error("the daily run for {date} failed while {action}: {source}")]
    Store {
        date: Date,
        action: &'static str,
        source: StoreError,
    },
    #[error(
        "the daily run for {date} failed while storing chunk {chunk} of {chunks} (users from {first_user}); \
         the next run of the date resumes from the chunks stored before it: {source}"
    )]
    Chunk {
        date: Date,
        /// Counted from 1.
        chunk: usize,
        chunks: usize,
        first_user: String,
        source: StoreError,
    },
    #[error(
        "the daily run for {date} stopped unexpectedly ({message}); what it stored is kept: run          the date again to resume"
    )]
    Stopped { date: Date, message: String },
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
    /// The snapshot guard of the inbox's job feed ([`crate::ingest::ImportOptions`]).
    pub max_shrink_percent: u32,
    /// The encoding the inbox's files are read in (`import.encoding`).
    pub import_encoding: crate::ingest::EncodingChoice,
    /// What is deleted at the end of a complete run; `None` keeps everything.
    pub retention: Option<Retention>,
    /// Updated while the run goes on, for whoever watches it.
    pub progress: std::sync::Arc<RunProgress>,
    /// When set, an OpenAI-compatible endpoint writes each subject (rule subject on failure).
    pub llm: Option<crate::subject_llm::LlmSettings>,
    /// A run that purges compacts the storage when at least this many bytes, and at least
    /// half the file, are unused; `None` never compacts.
    pub compact_above: Option<u64>,
    /// Users per chunk (in user id order): the picks and emails of a chunk are stored
    /// together, and a run killed midway resumes after the last stored chunk.
    pub chunk_users: usize,
    /// Asks the run to stop at its next phase or chunk boundary: it ends `cancelled`,
    /// keeping the chunks it stored and the date's checkpoint, so the next run of the date
    /// resumes after them.
    pub cancel: CancelSignal,
    /// Only these users (one user on demand, the failures of an earlier run): their picks
    /// and emails are computed and stored, and nothing else of the date changes (its job
    /// scores, the other users' picks and emails, its checkpoint); no inbox import and no
    /// retention either. A user's picks are the same as a run of every user would store,
    /// as chunks are independent. `None`: every user, the daily run.
    pub users: Option<Vec<crate::domain::UserId>>,
    /// Who started the run, for its record.
    pub trigger: Option<RunTrigger>,
    /// The run whose failures this one retries, for its record.
    pub retry_of: Option<u64>,
    /// Told the report of every import the run makes from its inbox.
    pub on_import: Option<ImportListener>,
    /// `delivery.require_consent`: users without a consent record are left out like
    /// suppressed ones (no picks, no email) and counted as `users_without_consent`.
    pub require_consent: bool,
}

/// Told an import's report as the import ends, imported or rejected (a server counts
/// them in its metrics).
#[derive(Clone)]
pub struct ImportListener(pub std::sync::Arc<dyn Fn(&ImportReport) + Send + Sync>);

impl std::fmt::Debug for ImportListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportListener")
    }
}

/// A request to stop a run at its next phase or chunk boundary, shared between the run and
/// whoever may cancel it.
#[derive(Debug, Clone, Default)]
pub struct CancelSignal(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl CancelSignal {
    /// Asks the run to stop; it does at its next phase or chunk boundary.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How many of the latest run records a run checks for earlier runs that never finished.
const STALE_RUNS_CHECKED: usize = 100;

/// Default of [`BatchOptions::compact_above`].
pub const COMPACT_ABOVE_BYTES: u64 = 256 * 1024 * 1024;

/// Default users per chunk of the daily run.
pub const DEFAULT_CHUNK_USERS: usize = 1_000;

/// Default local send time of the daily emails (SPEC §5).
pub const DEFAULT_SEND_AT: (i8, i8) = (6, 0);

/// How long a run's lease lasts unless renewed: a run that stops renewing it (killed, hung,
/// its machine gone) loses it after this long, and another run may take it over.
pub const RUN_LEASE_SECONDS: i64 = 300;

/// A run renews its lease at its next phase or chunk boundary once this much of it passed.
const RUN_LEASE_RENEW_AFTER_SECONDS: i64 = RUN_LEASE_SECONDS / 3;

/// The run lease of one run: renewed at phase and chunk boundaries while the run lives.
struct RunLease<'a> {
    store: &'a dyn Store,
    holder: String,
    date: Date,
    renewed_at: std::sync::Mutex<i64>,
}

impl RunLease<'_> {
    /// Renews the lease when a third of it has passed; fails when another run took it.
    async fn keep(&self) -> Result<(), PipelineError> {
        let now = now();
        let due = {
            let renewed_at = self
                .renewed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            now - *renewed_at >= RUN_LEASE_RENEW_AFTER_SECONDS * 1_000_000
        };
        if !due {
            return Ok(());
        }
        let held = self
            .store
            .renew_run_lock(&self.holder, now + RUN_LEASE_SECONDS * 1_000_000)
            .await
            .map_err(|source| PipelineError::Store {
                date: self.date,
                action: "renewing the run lease",
                source,
            })?;
        if !held {
            return Err(PipelineError::LeaseLost { date: self.date });
        }
        *self
            .renewed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
        Ok(())
    }
}

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
            max_shrink_percent: crate::ingest::DEFAULT_MAX_SHRINK_PERCENT,
            import_encoding: crate::ingest::EncodingChoice::Auto,
            retention: Some(Retention::default()),
            progress: std::sync::Arc::default(),
            llm: None,
            chunk_users: DEFAULT_CHUNK_USERS,
            compact_above: Some(COMPACT_ABOVE_BYTES),
            cancel: CancelSignal::default(),
            users: None,
            trigger: None,
            retry_of: None,
            on_import: None,
            require_consent: false,
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// How many subjects are asked for at once.
const LLM_CONCURRENCY: usize = 8;

/// Replaces each email's subject with the endpoint's, where it answers usably. Returns the
/// number of failures and the first error.
fn llm_subjects(
    emails: &mut [crate::domain::batch::QueuedEmail],
    llm: &crate::subject_llm::LlmSettings,
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
                        email.user_id.as_str(),
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|view| {
                        crate::subject_llm::ask(llm, &view, &email.subject)
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
pub(crate) fn cpu_bound<R>(work: impl FnOnce() -> R) -> R {
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

/// The part of a date every user's picks read, computed once and each phase timed:
/// profiles, then (when `until` is past profiles) the job scores. The picks are left to
/// [`picks_for_users`] (`picks` is `None`).
pub fn prepare_day(inputs: &DayInputs<'_>, until: Phase, progress: &RunProgress) -> DayResults {
    let (started_at, clock) = (now(), Instant::now());
    tracing::info!(phase = "profiles", "phase started");
    progress.start("profiles", inputs.users.len() as u64, started_at);
    let mut results = compute::profile_day(inputs);
    let with_history = results
        .profiles
        .iter()
        .filter(|p| p.n_applications > 0)
        .count();
    let mut profiles_phase = phase(
        "profiles",
        started_at,
        clock,
        &[
            ("users", inputs.users.len() as u64),
            ("users_with_applications", with_history as u64),
            ("applications", results.stats.applications.len() as u64),
            ("actions", results.stats.rows_in_window),
        ],
    );
    profiles_phase
        .errors
        .clone_from(&results.stats.unreadable_days);
    results.phases.push(profiles_phase);
    progress.finish("profiles", now());
    if until == Phase::Profiles {
        return results;
    }

    let (started_at, clock) = (now(), Instant::now());
    tracing::info!(phase = "scores", "phase started");
    progress.start("scores", inputs.jobs.len() as u64, started_at);
    compute::score_day(inputs, &mut results);
    let n_eligible = results.scores.as_ref().map_or(0, |s| s.n_eligible);
    let scores_phase = phase(
        "scores",
        started_at,
        clock,
        &[
            ("jobs", inputs.jobs.len() as u64),
            ("eligible_jobs", n_eligible as u64),
            ("skipped_keywords", results.skipped_keywords.len() as u64),
        ],
    );
    results.phases.push(scores_phase);
    progress.finish("scores", now());
    results
}

/// Computes a date up to `until` in one pass over every user ([`prepare_day`], then
/// [`picks_for_users`]), each phase timed; for tests and benchmarks, as the daily run goes
/// chunk by chunk. Deterministic: the same inputs give the same results (but the timings).
pub fn compute_day(inputs: &DayInputs<'_>, until: Phase) -> DayResults {
    let progress = &RunProgress::default();
    let mut results = prepare_day(inputs, until, progress);
    if until < Phase::Picks {
        return results;
    }
    let (started_at, clock) = (now(), Instant::now());
    tracing::info!(phase = "picks", "phase started");
    progress.start("picks", inputs.users.len() as u64, started_at);
    let context = match_context(inputs, &results).expect("prepare_day scored the jobs");
    let chunk = picks_for_users(inputs, &results, &context, 0..inputs.users.len(), progress);
    let n_picks: usize = chunk.picks.iter().map(|u| u.picks.len()).sum();
    let mut picks_phase = phase(
        "picks",
        started_at,
        clock,
        &[
            ("users_picked", chunk.picks.len() as u64),
            ("picks", n_picks as u64),
            ("eligible_jobs", context.n_eligible() as u64),
            ("failed_users", chunk.failed_users.len() as u64),
        ],
    );
    picks_phase.errors = compute::failure_messages(&chunk.failed_users);
    results.phases.push(picks_phase);
    results.picks = Some(chunk.picks);
    results.failed_users = chunk.failed_users;
    results
}

pub use crate::domain::batch::PreviousPicks;

/// The [`PreviousPicks`] of `date`, from the store.
pub async fn previous_picks(store: &dyn Store, date: Date) -> Result<PreviousPicks, PipelineError> {
    let mut previous = PreviousPicks::default();
    for (days, action) in [
        (1, "loading yesterday's picks"),
        (2, "loading picks of two days ago"),
    ] {
        let day = date
            .checked_sub(jiff::Span::new().days(days))
            .expect("date in range");
        let stored = store
            .picks(day, None)
            .await
            .map_err(|source| PipelineError::Store {
                date,
                action,
                source,
            })?;
        for user in stored {
            let ids = user.picks.iter().map(|p| p.job_id).collect();
            previous.insert(user.user_id, days, ids);
        }
    }
    Ok(previous)
}

/// A stable fingerprint of what a date's chunks depend on besides the imported data: the
/// settings, the signing key (through a token it signs), the suppression list (sorted) and
/// the picks of the two days before. A resumed run must match the run it continues in all of them.
pub fn fingerprint(options: &BatchOptions, previous: &PreviousPicks, suppressed: &[String]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let key_probe = options.signer.sign(&crate::tokens::Claims {
        purpose: crate::tokens::Purpose::Open,
        user_id: "checkpoint fingerprint".to_owned(),
        job_id: 0,
        date: String::new(),
        expires_at: 0,
    });
    let llm = options
        .llm
        .as_ref()
        .map(|llm| format!("{llm:?}"))
        .unwrap_or_default();
    for part in [
        format!("{:?}", options.config),
        format!("{:?}", options.email),
        format!("{:?}", options.send_at),
        options
            .time_zone
            .zone()
            .iana_name()
            .unwrap_or("")
            .to_owned(),
        key_probe,
        llm,
        format!("require_consent={}", options.require_consent),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    for address in suppressed {
        hash.update(address.as_bytes());
        hash.update([0]);
    }
    for (user, recent) in previous.sorted() {
        hash.update(user.as_str().as_bytes());
        for ids in [&recent.day_before, &recent.two_days_before] {
            hash.update((ids.len() as u64).to_le_bytes());
            for id in ids {
                hash.update(id.to_le_bytes());
            }
        }
    }
    let digest = hash.finalize();
    u64::from_le_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    )
}

/// A phase done in pieces (one per chunk of users): when the first piece began and the
/// time all of them took.
#[derive(Default)]
struct Pieces {
    started_at: Option<i64>,
    elapsed: std::time::Duration,
}

impl Pieces {
    fn begin(&mut self) -> Instant {
        self.started_at.get_or_insert_with(now);
        Instant::now()
    }

    fn end(&mut self, clock: Instant) {
        self.elapsed += clock.elapsed();
    }

    fn began(&self) -> bool {
        self.started_at.is_some()
    }

    fn elapsed_ms(&self) -> u64 {
        self.elapsed.as_millis() as u64
    }

    fn record(&self, name: &str, counts: &[(&str, u64)]) -> PhaseRecord {
        PhaseRecord {
            name: name.to_owned(),
            started_at: self.started_at.unwrap_or_else(now),
            finished_at: Some(now()),
            duration_ms: self.elapsed_ms(),
            counts: counts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
            errors: Vec::new(),
        }
    }
}

/// The picks (and emails) of a date, chunk by chunk from `resume_from`, each chunk stored
/// with the checkpoint that says it is done.
struct ChunkRun<'r> {
    store: &'r dyn Store,
    lease: &'r RunLease<'r>,
    options: &'r BatchOptions,
    inputs: &'r DayInputs<'r>,
    results: &'r DayResults,
    chunk_users: usize,
    n_chunks: usize,
    resume_from: usize,
}

/// What the chunks of a run did.
struct ChunksDone {
    /// Picks stored by this run.
    n_picks: usize,
    /// The chunks stored when the run was cancelled before the next one, if it was.
    cancelled_after: Option<usize>,
    n_chunks: usize,
    /// `picks`, then `render` when the run renders.
    phases: Vec<PhaseRecord>,
    failed_users: Vec<crate::domain::UserId>,
}

/// The picks phase so far: its time and what the chunks of this run picked.
#[derive(Default)]
struct PicksPhase {
    pieces: Pieces,
    users_picked: u64,
    /// Users picked from no eligible job: they get no email.
    users_without_picks: u64,
    n_picks: usize,
    failed_users: Vec<crate::domain::UserId>,
}

impl PicksPhase {
    /// Adds a chunk's picks to the counts; returns how many picks the chunk has.
    fn count(&mut self, chunk: &ChunkPicks) -> usize {
        self.users_picked += chunk.picks.len() as u64;
        self.users_without_picks +=
            chunk.picks.iter().filter(|p| p.picks.is_empty()).count() as u64;
        let chunk_picks: usize = chunk.picks.iter().map(|u| u.picks.len()).sum();
        self.n_picks += chunk_picks;
        self.failed_users.extend(chunk.failed_users.iter().cloned());
        chunk_picks
    }
}

/// The render phase so far: its time, what the chunks of this run rendered, and the
/// progress shown, which counts the users resumed too.
struct RenderPhase {
    pieces: Pieces,
    /// Users rendered, those of the chunks resumed after included.
    render_done: u64,
    /// The users who get picks (active and subscribed, as `picks_for_user` decides): the
    /// progress's total until the count replaces it at the end.
    render_total: u64,
    n_emails: u64,
    email_bytes: u64,
    /// Each distinct error once, in the order met.
    errors: Vec<String>,
    /// Whether an email was rendered in full, which reports template errors once a run.
    templates_checked: bool,
    llm_failed: usize,
    llm_asked: usize,
    /// The subject endpoint's first error.
    llm_error: Option<String>,
}

impl RenderPhase {
    fn new(users: &[crate::domain::User], users_resumed: usize) -> Self {
        let gets_email = |users: &[crate::domain::User]| {
            users.iter().filter(|u| u.is_active && u.subscribed).count() as u64
        };
        Self {
            pieces: Pieces::default(),
            render_done: gets_email(&users[..users_resumed]),
            render_total: gets_email(users),
            n_emails: 0,
            email_bytes: 0,
            errors: Vec::new(),
            templates_checked: false,
            llm_failed: 0,
            llm_asked: 0,
            llm_error: None,
        }
    }

    /// The phase's record; a failing subject endpoint is one error with the first failure.
    fn record(mut self) -> PhaseRecord {
        let mut record = self.pieces.record(
            "render",
            &[
                ("emails", self.n_emails),
                ("stored_bytes", self.email_bytes),
            ],
        );
        if self.llm_failed > 0 {
            self.errors.push(format!(
                "the subject endpoint failed for {} of {} emails (rule subjects used); first error: {}",
                self.llm_failed,
                self.llm_asked,
                self.llm_error.unwrap_or_default()
            ));
        }
        record.errors = self.errors;
        record
    }
}

impl ChunkRun<'_> {
    /// Picks, renders and stores the chunks from `resume_from` on, each stored with
    /// `checkpoint` counting it (a run of some users has none); the time the store takes
    /// goes into `storing`. Stops before a chunk once the run is cancelled.
    async fn run(
        &self,
        mut checkpoint: Option<&mut DayCheckpoint>,
        storing: &mut Pieces,
    ) -> Result<ChunksDone, PipelineError> {
        let Self {
            lease,
            options,
            inputs,
            results,
            chunk_users,
            n_chunks,
            resume_from,
            ..
        } = *self;
        let users = inputs.users;
        let context = match_context(inputs, results).expect("the day's job scores are computed");
        let users_resumed = (resume_from * chunk_users).min(users.len());
        let renderer = (options.until >= Phase::Render)
            .then(|| crate::templates::load_renderer(&options.email));
        let mut rendering = renderer.as_ref().map(|renderer| {
            let queueing = EmailQueueing {
                renderer,
                signer: &options.signer,
                settings: &options.email,
                scheduled_at: self.scheduled_send_at(),
                // Read from the clock for each chunk, in `render_chunk`.
                queued_at: 0,
                check_templates: true,
            };
            (queueing, RenderPhase::new(users, users_resumed))
        });

        tracing::info!(phase = "picks", "phase started");
        options
            .progress
            .resume("picks", users_resumed as u64, users.len() as u64, now());
        options
            .progress
            .set_chunks(resume_from as u64, n_chunks as u64);
        let mut picks = PicksPhase::default();
        let mut cancelled_after = None;
        for k in resume_from..n_chunks {
            if options.cancel.is_cancelled() {
                cancelled_after = Some(k);
                break;
            }
            lease.keep().await?;
            let range = self.chunk_range(k);
            options
                .progress
                .resume("picks", range.start as u64, users.len() as u64, now());
            let chunk = self.pick_chunk(&context, range, &mut picks.pieces).await?;
            let chunk_picks = picks.count(&chunk);
            let emails = rendering
                .as_mut()
                .map(|(queueing, render)| self.render_chunk(queueing, &chunk, render));
            if let Some(checkpoint) = checkpoint.as_deref_mut() {
                checkpoint.chunks_done = (k + 1) as u32;
            }
            self.store_chunk(
                k,
                chunk.picks,
                emails,
                checkpoint.as_deref(),
                storing,
                chunk_picks,
            )
            .await?;
            options.progress.set_chunks((k + 1) as u64, n_chunks as u64);
        }

        let ended = now();
        if let Some((_, render)) = &rendering {
            if cancelled_after.is_none() {
                // Done: the estimate of who gets an email gives way to the count.
                options
                    .progress
                    .resume("render", render.render_done, render.render_done, ended);
            }
            options.progress.finish("render", ended);
        }
        options.progress.finish("picks", ended);

        let mut phases = Vec::with_capacity(2);
        phases.push(self.record_picks_phase(&picks, context.n_eligible(), users_resumed));
        phases.extend(rendering.map(|(_, render)| render.record()));
        Ok(ChunksDone {
            n_picks: picks.n_picks,
            cancelled_after,
            n_chunks,
            phases,
            failed_users: picks.failed_users,
        })
    }

    /// The picks phase's record: what this run's chunks picked, how the date was chunked
    /// and where this run resumed it; one error per user whose matching failed.
    fn record_picks_phase(
        &self,
        picks: &PicksPhase,
        eligible_jobs: usize,
        users_resumed: usize,
    ) -> PhaseRecord {
        let mut record = picks.pieces.record(
            "picks",
            &[
                ("users_picked", picks.users_picked),
                ("users_without_picks", picks.users_without_picks),
                ("picks", picks.n_picks as u64),
                ("eligible_jobs", eligible_jobs as u64),
                ("failed_users", picks.failed_users.len() as u64),
                ("chunks", self.n_chunks as u64),
                ("chunk_users", self.chunk_users as u64),
                ("resumed_from_chunk", self.resume_from as u64),
                ("users_resumed", users_resumed as u64),
            ],
        );
        record.errors = compute::failure_messages(&picks.failed_users);
        record
    }

    /// The positions in [`DayInputs::users`] of chunk `k`'s users.
    fn chunk_range(&self, k: usize) -> std::ops::Range<usize> {
        k * self.chunk_users..((k + 1) * self.chunk_users).min(self.inputs.users.len())
    }

    /// When the date's emails are scheduled (µs): the configured local send time on the
    /// date, or the start of the day where that time does not exist in the zone.
    fn scheduled_send_at(&self) -> i64 {
        let (date, options) = (self.options.date, self.options);
        jiff::civil::DateTime::new(
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
        .map_or(self.inputs.windows.day_start, |zoned| {
            zoned.timestamp().as_microsecond()
        })
    }

    /// The picks of the users at `range`, timed into `picking`. A user whose matching failed
    /// gets yesterday's picks in yesterday's sections (those still eligible), read from the
    /// store.
    async fn pick_chunk(
        &self,
        context: &crate::matching::MatchContext<'_>,
        range: std::ops::Range<usize>,
        picking: &mut Pieces,
    ) -> Result<ChunkPicks, PipelineError> {
        let (inputs, options) = (self.inputs, self.options);
        let clock = picking.begin();
        let mut chunk =
            cpu_bound(|| picks_for_users(inputs, self.results, context, range, &options.progress));
        fall_back_to_yesterday(self.store, options.date, inputs, context, &mut chunk).await?;
        picking.end(clock);
        Ok(chunk)
    }

    /// The emails of a chunk's picks, queued now, with the endpoint's subjects when an LLM
    /// is configured; timed and counted into `render`.
    fn render_chunk(
        &self,
        queueing: &EmailQueueing<'_>,
        chunk: &ChunkPicks,
        render: &mut RenderPhase,
    ) -> Vec<crate::domain::batch::QueuedEmail> {
        let options = self.options;
        if !render.pieces.began() {
            tracing::info!(phase = "render", "phase started");
        }
        let clock = render.pieces.begin();
        options.progress.resume(
            "render",
            render.render_done,
            render.render_total.max(render.render_done),
            now(),
        );
        let queueing = EmailQueueing {
            queued_at: now(),
            check_templates: !render.templates_checked,
            ..*queueing
        };
        let (mut emails, errors) = cpu_bound(|| {
            render_emails(
                self.inputs,
                self.results,
                chunk,
                &queueing,
                &options.progress,
            )
        });
        render.templates_checked |= !emails.is_empty();
        render.render_done += emails.len() as u64;
        for error in errors {
            if !render.errors.contains(&error) {
                render.errors.push(error);
            }
        }
        if let Some(llm) = &options.llm {
            let (failed, first_error) =
                cpu_bound(|| llm_subjects(&mut emails, llm, &options.signer, &options.email));
            render.llm_failed += failed;
            render.llm_asked += emails.len();
            if render.llm_error.is_none() {
                render.llm_error = first_error;
            }
        }
        render.n_emails += emails.len() as u64;
        render.email_bytes += emails
            .iter()
            .map(|e| (e.content.len() + e.subject.len() + e.to.as_str().len()) as u64)
            .sum::<u64>();
        render.pieces.end(clock);
        emails
    }

    /// Stores chunk `k`'s picks and emails with `checkpoint` (which counts the chunk), in
    /// one transaction, timed into `storing`; without a checkpoint (a run of some users),
    /// the date's checkpoint is left as it is.
    async fn store_chunk(
        &self,
        k: usize,
        picks: Vec<crate::domain::batch::UserPicks>,
        emails: Option<Vec<crate::domain::batch::QueuedEmail>>,
        checkpoint: Option<&DayCheckpoint>,
        storing: &mut Pieces,
        chunk_picks: usize,
    ) -> Result<(), PipelineError> {
        let date = self.options.date;
        let range = self.chunk_range(k);
        let clock = storing.begin();
        let stored = match checkpoint {
            Some(checkpoint) => {
                self.store
                    .save_chunk(date, picks, emails, checkpoint.clone())
                    .await
            }
            None => self.store.save_users_results(date, picks, emails).await,
        };
        stored.map_err(|source| PipelineError::Chunk {
            date,
            chunk: k + 1,
            chunks: self.n_chunks,
            first_user: self.inputs.users[range.start].user_id.as_str().to_owned(),
            source,
        })?;
        storing.end(clock);
        tracing::info!(
            chunk = k + 1,
            chunks = self.n_chunks,
            users = range.len(),
            picks = chunk_picks,
            "chunk stored"
        );
        Ok(())
    }
}

/// Gives each user of `chunk` whose matching failed yesterday's picks in yesterday's
/// sections (those still eligible), read from the store.
async fn fall_back_to_yesterday(
    store: &dyn Store,
    date: Date,
    inputs: &DayInputs<'_>,
    context: &crate::matching::MatchContext<'_>,
    chunk: &mut ChunkPicks,
) -> Result<(), PipelineError> {
    for user in &chunk.failed_users {
        let yesterday = date
            .checked_sub(jiff::Span::new().days(1))
            .expect("date in range");
        let stored = store
            .picks(yesterday, Some(user))
            .await
            .map_err(fail_while(
                date,
                "loading yesterday's picks of a user whose matching failed",
            ))?;
        if let (Some(stored), Some(slot)) = (
            stored.first(),
            chunk.picks.iter_mut().find(|p| &p.user_id == user),
        ) {
            *slot = compute::fallback_from_yesterday(stored, inputs.jobs, context.scores);
        }
    }
    Ok(())
}

/// One user's picks of `options.date` computed on demand exactly as a run of that user
/// would compute them ([`BatchOptions::users`]: the same load, profiles, job scores of
/// every user's actions, matching and fallback), but stored nowhere: no run record, no
/// lease, no write at all, so it can go on beside a daily run. `None` when a run would give
/// the user no pick list: not stored, suppressed, inactive or unsubscribed. Only
/// `options.date`, `config`, `time_zone` count; the rest of `options` is not used.
pub async fn recompute_user_picks(
    store: &dyn Store,
    options: &BatchOptions,
    user: &crate::domain::UserId,
) -> Result<Option<crate::domain::batch::UserPicks>, PipelineError> {
    let options = BatchOptions {
        until: Phase::Picks,
        users: Some(vec![user.clone()]),
        progress: std::sync::Arc::new(RunProgress::default()),
        inbox: None,
        retention: None,
        llm: None,
        ..options.clone()
    };
    let mut scratch = new_run_record(&options);
    let (loaded, action_days) = load_day(store, &options, &mut scratch).await?;
    let Some(position) = loaded.users.iter().position(|u| &u.user_id == user) else {
        return Ok(None);
    };
    let results = prepare_loaded_day(&loaded, action_days, &options, &mut scratch);
    let inputs = loaded.inputs(&[], &options.config);
    let context = match_context(&inputs, &results).expect("the day's job scores are computed");
    let mut chunk = cpu_bound(|| {
        picks_for_users(
            &inputs,
            &results,
            &context,
            position..position + 1,
            &options.progress,
        )
    });
    fall_back_to_yesterday(store, options.date, &inputs, &context, &mut chunk).await?;
    Ok(chunk.picks.pop())
}

/// What the inbox import did with its files.
#[derive(Debug, Default)]
pub struct InboxOutcome {
    /// The reports of the files imported (one for all job files: they form one snapshot).
    pub imported: Vec<ImportReport>,
    /// The reports of the files refused or rejected (not stored: a rejected file writes
    /// nothing).
    pub rejected: Vec<ImportReport>,
    /// One line per file refused or rejected (moved to `inbox/failed/`), or not moved.
    pub errors: Vec<String>,
}

/// Imports every `.csv` file waiting in `inbox` (in name order; each file's kind from its
/// header; all job files together as one snapshot, so a feed split over files works), and
/// moves each to `inbox/done/` once imported or to `inbox/failed/` when refused, under a
/// name stamped with the time, beside its report (`NAME.STAMP.report.json`): nothing there
/// is ever overwritten.
pub async fn import_inbox(
    store: &dyn Store,
    inbox: &std::path::Path,
    options: &crate::ingest::ImportOptions,
) -> InboxOutcome {
    use crate::ingest::{ImportKind, expand_paths, import_file, import_jobs, source::CsvSource};
    let mut outcome = InboxOutcome::default();
    if !inbox.is_dir() {
        return outcome;
    }
    let files = match expand_paths(&[inbox.to_path_buf()]) {
        Ok(files) => files,
        Err(error) => {
            outcome.errors.push(error.to_string());
            return outcome;
        }
    };
    let (mut job_files, mut other_files) = (Vec::new(), Vec::new());
    for file in files {
        let is_jobs = CsvSource::open(&file, options.encoding, None)
            .is_ok_and(|source| ImportKind::detect(&source.header) == Some(ImportKind::Jobs));
        if is_jobs {
            job_files.push(file);
        } else {
            other_files.push(file);
        }
    }
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    // (is a job feed, its files)
    let mut groups: Vec<(bool, Vec<std::path::PathBuf>)> = Vec::new();
    if !job_files.is_empty() {
        groups.push((true, job_files));
    }
    groups.extend(other_files.into_iter().map(|file| (false, vec![file])));
    for (is_jobs, group) in groups {
        let result = if is_jobs {
            import_jobs(store, &group, options).await
        } else {
            import_file(store, ImportKind::Masters, &group[0], options).await
        };
        let (folder, report) = match result {
            Ok(report) => {
                outcome.imported.push(report.clone());
                ("done", report)
            }
            Err(error) => {
                let names: Vec<String> = group.iter().map(|p| p.display().to_string()).collect();
                outcome.errors.push(error.to_string());
                let kind = if is_jobs {
                    ImportKind::Jobs
                } else {
                    ImportKind::Masters
                };
                let mut report = ImportReport::new(
                    kind.as_str(),
                    &names.join(", "),
                    crate::ingest::now_micros(),
                );
                report.status = crate::domain::ImportStatus::Rejected;
                report.error = Some(error.to_string());
                outcome.rejected.push(report.clone());
                ("failed", report)
            }
        };
        for file in &group {
            if let Err(error) = file_away(inbox, folder, file, &stamp, &report) {
                outcome.errors.push(format!(
                    "{}: not moved to inbox/{folder}/: {error}",
                    file.display()
                ));
            }
        }
    }
    outcome
}

/// Moves `file` into `inbox/FOLDER/` as `STEM.STAMP.EXT` with `STEM.STAMP.report.json`
/// beside it; a name already taken gets a counter, so nothing is overwritten.
fn file_away(
    inbox: &std::path::Path,
    folder: &str,
    file: &std::path::Path,
    stamp: &str,
    report: &ImportReport,
) -> std::io::Result<()> {
    let target_dir = inbox.join(folder);
    std::fs::create_dir_all(&target_dir)?;
    let stem = file
        .file_stem()
        .map_or_else(|| "input".into(), |s| s.to_string_lossy().into_owned());
    let extension = file
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    for attempt in 0..1000 {
        let name = if attempt == 0 {
            format!("{stem}.{stamp}")
        } else {
            format!("{stem}.{stamp}-{attempt}")
        };
        let target = target_dir.join(format!("{name}{extension}"));
        let report_path = target_dir.join(format!("{name}.report.json"));
        if target.exists() || report_path.exists() {
            continue;
        }
        let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
        std::fs::write(&report_path, json)?;
        return std::fs::rename(file, &target);
    }
    Err(std::io::Error::other(
        "a thousand files of that name and time are there already",
    ))
}

/// Runs the date up to `options.until` and stores its results: the job scores with the
/// beginning of the date, then each chunk of users' picks and emails in one transaction
/// with the checkpoint that counts it, then the run record. Re-running a date replaces its
/// job scores, picks and unsent emails; a rerun after a run was killed with chunks stored,
/// on the same data, chunk size and `until`, resumes after them instead, and ends with
/// the same stored results as an uninterrupted run.
pub async fn run_batch(
    store: &dyn Store,
    options: &BatchOptions,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    let holder = format!("{}:{}:{}:{}", host_name(), std::process::id(), date, now());
    let lock_error = |source| PipelineError::Store {
        date,
        action: "taking the run lease",
        source,
    };
    let taken_at = now();
    if !store
        .acquire_run_lock(&holder, taken_at, taken_at + RUN_LEASE_SECONDS * 1_000_000)
        .await
        .map_err(lock_error)?
    {
        let current = store.run_lock_holder().await.map_err(lock_error)?;
        return Err(PipelineError::Locked {
            holder: current.map_or_else(|| "gone meanwhile".to_owned(), |(owner, _)| owner),
        });
    }
    let lease = RunLease {
        store,
        holder,
        date,
        renewed_at: std::sync::Mutex::new(taken_at),
    };
    let outcome = run_batch_locked(store, options, &lease).await;
    let released = store.release_run_lock(&lease.holder).await;
    let run = outcome?;
    released.map_err(|source| PipelineError::Store {
        date,
        action: "releasing the run lease",
        source,
    })?;
    Ok(run)
}

/// The daily run once it holds the lease: the record of its start, then the run itself
/// ([`run_day`]) in a span that names the run, so every line it logs carries its id. A run
/// that fails says so in its record (as far as the store still takes it).
async fn run_batch_locked(
    store: &dyn Store,
    options: &BatchOptions,
    lease: &RunLease<'_>,
) -> Result<RunRecord, PipelineError> {
    use tracing::Instrument;
    let run = record_run_start(store, options).await?;
    options.progress.set_run_id(run.id);
    let started = run.clone();
    let span = tracing::info_span!("run", run = run.id, date = %options.date);
    match run_day(store, options, lease, run).instrument(span).await {
        Ok(run) => Ok(run),
        Err(error) => {
            record_run_failure(store, started, &error).await;
            Err(error)
        }
    }
}

/// The run after its start is recorded: the inbox import, the load, the profiles and job
/// scores, the date's results chunk by chunk, the record of its end, then retention. A run
/// cancelled at a phase or chunk boundary ends there ([`cancel_run`]).
async fn run_day(
    store: &dyn Store,
    options: &BatchOptions,
    lease: &RunLease<'_>,
    mut run: RunRecord,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    if let (Some(inbox), None) = (&options.inbox, &options.users) {
        run_inbox_import(store, options, inbox, &mut run).await;
    }
    if options.cancel.is_cancelled() {
        return cancel_run(store, run, "before loading the day").await;
    }

    lease.keep().await?;
    let (loaded, action_days) = load_day(store, options, &mut run).await?;
    if options.cancel.is_cancelled() {
        return cancel_run(store, run, "after loading the day").await;
    }
    let mut results = prepare_loaded_day(&loaded, action_days, options, &mut run);
    if options.cancel.is_cancelled() {
        return cancel_run(store, run, "after the profiles and job scores").await;
    }

    let mut storing = Pieces::default();
    let mut n_picks = 0usize;
    let chunks_done = store_day_results(
        store,
        lease,
        options,
        run.id,
        &loaded,
        &mut results,
        &mut storing,
    )
    .await?;
    if let Some(done) = chunks_done {
        n_picks = done.n_picks;
        run.phases.extend(done.phases);
        run.failed_users = done.failed_users;
        if let Some(stored) = done.cancelled_after {
            run.phases
                .push(storing.record("store", &[("picks", n_picks as u64)]));
            let at = format!("after chunk {stored} of {}", done.n_chunks);
            return cancel_run(store, run, &at).await;
        }
    }

    let mut run = finish_run(store, options, run, &mut storing, n_picks).await?;
    lease.keep().await?;
    if let (Some(retention), Phase::Render, None) =
        (options.retention, options.until, &options.users)
    {
        run = apply_retention(store, options, retention, run).await?;
    }
    tracing::info!(
        date = %date,
        run = run.id,
        picks = n_picks,
        status = run.status.code(),
        "daily run finished"
    );
    Ok(run)
}

/// Ends a cancelled run: its record says where it stopped, and the date's checkpoint stays
/// (no `finish_day`), so the next run of the date resumes after the chunks it stored.
async fn cancel_run(
    store: &dyn Store,
    mut run: RunRecord,
    at: &str,
) -> Result<RunRecord, PipelineError> {
    run.status = RunStatus::Cancelled;
    run.finished_at = Some(now());
    run.error = Some(format!(
        "cancelled {at}; what it stored is kept, and the next run of the date resumes from it"
    ));
    tracing::warn!(date = %run.date, run = run.id, at, "daily run cancelled");
    let date = run.date;
    store
        .save_run(run)
        .await
        .map_err(fail_while(date, "recording the run's cancellation"))
}

/// Marks the record of a run that failed: `failed`, with the error. Best effort: the store
/// may be what failed, and the next run marks a record left `running` failed anyway.
async fn record_run_failure(store: &dyn Store, mut run: RunRecord, error: &PipelineError) {
    run.status = RunStatus::Failed;
    run.finished_at = Some(now());
    run.error = Some(error.to_string());
    tracing::error!(date = %run.date, run = run.id, error = %ErrorChain(error), "daily run failed");
    if let Err(store_error) = store.save_run(run).await {
        tracing::warn!(error = %ErrorChain(&store_error), "the failed run's record was not updated");
    }
}

/// The error of a store call that failed while the run of `date` was doing `action`.
fn fail_while(date: Date, action: &'static str) -> impl FnOnce(StoreError) -> PipelineError {
    move |source| PipelineError::Store {
        date,
        action,
        source,
    }
}

/// The record of a run of `options` that starts now, `running`, without an id.
fn new_run_record(options: &BatchOptions) -> RunRecord {
    RunRecord {
        id: 0,
        date: options.date,
        started_at: now(),
        finished_at: None,
        status: RunStatus::Running,
        until: options.until,
        phases: Vec::new(),
        skipped_keywords: Vec::new(),
        failed_users: Vec::new(),
        error: None,
        warnings: Vec::new(),
        trigger: options.trigger,
        users: options.users.clone(),
        retry_of: options.retry_of,
    }
}

/// Records the run's start, which gives it its id, and marks failed every earlier record
/// still `running`: this run holds the lease, so such a run was killed or failed before it
/// could say so.
async fn record_run_start(
    store: &dyn Store,
    options: &BatchOptions,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    let run = store
        .save_run(new_run_record(options))
        .await
        .map_err(fail_while(date, "recording the run's start"))?;
    tracing::info!(date = %date, run = run.id, "daily run started");
    for mut stale in store
        .runs(STALE_RUNS_CHECKED)
        .await
        .map_err(fail_while(date, "reading earlier run records"))?
        .into_iter()
        .filter(|r| r.status == RunStatus::Running && r.id != run.id)
    {
        stale.status = RunStatus::Failed;
        stale.error = Some(format!(
            "the run ended before it finished (killed, crashed or failed); run #{} ran the date {} after it",
            run.id, run.date
        ));
        tracing::warn!(run = stale.id, date = %stale.date, "an earlier run never finished");
        store
            .save_run(stale)
            .await
            .map_err(fail_while(date, "marking an unfinished earlier run"))?;
    }
    Ok(run)
}

/// The import phase: imports the files waiting in `inbox` and adds the phase to `run`. A
/// file refused or rejected does not stop the run, which uses the stored data and says so
/// in a warning.
async fn run_inbox_import(
    store: &dyn Store,
    options: &BatchOptions,
    inbox: &std::path::Path,
    run: &mut RunRecord,
) {
    let (started_at, clock) = (now(), Instant::now());
    tracing::info!(phase = "import", "phase started");
    let mut record = phase("import", started_at, clock, &[]);
    let import_options = crate::ingest::ImportOptions {
        max_shrink_percent: Some(options.max_shrink_percent),
        encoding: options.import_encoding,
        ..crate::ingest::ImportOptions::new(options.time_zone.clone())
    };
    let inbox_outcome = import_inbox(store, inbox, &import_options).await;
    if let Some(listener) = &options.on_import {
        for report in inbox_outcome.imported.iter().chain(&inbox_outcome.rejected) {
            (listener.0)(report);
        }
    }
    record.duration_ms = clock.elapsed().as_millis() as u64;
    record.finished_at = Some(now());
    record
        .counts
        .insert("files".into(), inbox_outcome.imported.len() as u64);
    record.counts.insert(
        "rows".into(),
        inbox_outcome.imported.iter().map(|r| r.rows_imported).sum(),
    );
    for error in &inbox_outcome.errors {
        tracing::error!(phase = "import", error = %error, "an inbox file was not imported");
        run.warnings.push(format!(
            "inbox: {error}; the run used the data stored before it (the file is in inbox/failed/)"
        ));
    }
    record.errors = inbox_outcome.errors;
    run.phases.push(record);
}

/// The day's inputs as loaded from the store, held for the rest of the run (the year of
/// actions apart: it is freed once the job scores are computed).
struct LoadedDay {
    /// The store's data version, read before the inputs.
    data_version: u64,
    windows: DayWindows,
    masters: crate::domain::Masters,
    jobs: crate::domain::JobColumns,
    /// The users, without those whose address is suppressed.
    users: Vec<crate::domain::User>,
    /// The suppressed addresses in ASCII lower case, sorted.
    suppressed: Vec<String>,
    previous: PreviousPicks,
}

impl LoadedDay {
    /// The inputs of the pure core, with `action_days` (all of them for the profiles and
    /// the job scores, none after).
    fn inputs<'a>(
        &'a self,
        action_days: &'a [Box<dyn crate::domain::action::ActionDay>],
        config: &'a ScoringConfig,
    ) -> DayInputs<'a> {
        DayInputs {
            jobs: &self.jobs,
            masters: &self.masters,
            users: &self.users,
            action_days,
            previous: &self.previous,
            windows: self.windows,
            config,
        }
    }
}

/// The load phase: reads the day's inputs and the year of actions before it from the
/// store, leaves out the users whose address is suppressed (they get no picks and no
/// email), and adds the phase to `run`.
async fn load_day(
    store: &dyn Store,
    options: &BatchOptions,
    run: &mut RunRecord,
) -> Result<(LoadedDay, Vec<Box<dyn crate::domain::action::ActionDay>>), PipelineError> {
    let date = options.date;
    let windows = DayWindows::new(date, &options.time_zone, &options.config);
    let load_started = now();
    tracing::info!(phase = "load", "phase started");
    options.progress.start("load", 0, load_started);
    let clock = Instant::now();
    // Read before the inputs: an import that commits while they load makes the version
    // older than the data, so a later run does not resume from this one.
    let data_version = store
        .data_version()
        .await
        .map_err(fail_while(date, "reading the data version"))?;
    let masters = store
        .masters()
        .await
        .map_err(fail_while(date, "loading masters"))?;
    let jobs = store
        .job_columns()
        .await
        .map_err(fail_while(date, "loading jobs"))?;
    let (mut users, suppressed, n_loaded) =
        load_unsuppressed_users(store, date, options.users.as_deref()).await?;
    let n_unsuppressed = users.len();
    if options.require_consent {
        users.retain(|user| user.consent.is_some());
    }
    let without_consent = (n_unsuppressed - users.len()) as u64;
    let action_days = store
        .action_days(windows.history_start, windows.day_start)
        .await
        .map_err(fail_while(date, "loading actions"))?;
    let previous = previous_picks(store, date).await?;
    let packed_bytes: usize = action_days.iter().map(|d| d.held_bytes()).sum();
    run.phases.push(phase(
        "load",
        load_started,
        clock,
        &[
            ("jobs", jobs.len() as u64),
            ("users", users.len() as u64),
            ("suppressed_users", (n_loaded - n_unsuppressed) as u64),
            ("users_without_consent", without_consent),
            // Of the others, who gets no picks (as `picks_for_user` decides), for the record.
            (
                "inactive_users",
                users.iter().filter(|u| !u.is_active).count() as u64,
            ),
            (
                "unsubscribed_users",
                users
                    .iter()
                    .filter(|u| u.is_active && !u.subscribed)
                    .count() as u64,
            ),
            ("action_days", action_days.len() as u64),
            ("action_bytes", packed_bytes as u64),
        ],
    ));
    options.progress.finish("load", now());
    let loaded = LoadedDay {
        data_version,
        windows,
        masters,
        jobs,
        users,
        suppressed,
        previous,
    };
    Ok((loaded, action_days))
}

/// The users whose address is not suppressed (unsubscribed, complained, hard-bounced: they
/// get no picks and no email), with the suppressed addresses in ASCII lower case, sorted,
/// and how many users are stored; only those of `only` when given.
async fn load_unsuppressed_users(
    store: &dyn Store,
    date: Date,
    only: Option<&[crate::domain::UserId]>,
) -> Result<(Vec<crate::domain::User>, Vec<String>, usize), PipelineError> {
    let mut users = store
        .users()
        .await
        .map_err(fail_while(date, "loading users"))?;
    if let Some(only) = only {
        let only: std::collections::HashSet<&crate::domain::UserId> = only.iter().collect();
        users.retain(|user| only.contains(&user.user_id));
    }
    let mut suppressed: Vec<String> = store
        .suppressions()
        .await
        .map_err(fail_while(date, "loading the suppression list"))?
        .into_iter()
        .map(|s| s.address.as_str().to_ascii_lowercase())
        .collect();
    suppressed.sort_unstable();
    let n_loaded = users.len();
    let users: Vec<crate::domain::User> = users
        .into_iter()
        .filter(|u| {
            suppressed
                .binary_search(&u.email.as_str().to_ascii_lowercase())
                .is_err()
        })
        .collect();
    Ok((users, suppressed, n_loaded))
}

/// The profiles and (up to `options.until`) the job scores, their phases and the skipped
/// keywords added to `run`; takes the year of actions and frees it before matching.
fn prepare_loaded_day(
    loaded: &LoadedDay,
    action_days: Vec<Box<dyn crate::domain::action::ActionDay>>,
    options: &BatchOptions,
    run: &mut RunRecord,
) -> DayResults {
    let inputs = loaded.inputs(&action_days, &options.config);
    let mut results =
        cpu_bound(|| prepare_day(&inputs, options.until.min(Phase::Scores), &options.progress));
    drop(action_days);
    run.phases.append(&mut results.phases);
    run.skipped_keywords = results.skipped_keywords.clone();
    results
}

/// The date's results in the store, for a run that goes on to scores: begins the date (or
/// resumes it), then, when the run goes on to picks, the chunks; `None` when it does not
/// pick.
async fn store_day_results(
    store: &dyn Store,
    lease: &RunLease<'_>,
    options: &BatchOptions,
    run_id: u64,
    loaded: &LoadedDay,
    results: &mut DayResults,
    storing: &mut Pieces,
) -> Result<Option<ChunksDone>, PipelineError> {
    if options.until < Phase::Scores {
        return Ok(None);
    }
    let chunk_users = options.chunk_users.clamp(1, u32::MAX as usize);
    let n_chunks = loaded.users.len().div_ceil(chunk_users);
    // A run of some users begins no date and keeps no checkpoint: it stores their picks
    // (and emails) and nothing else.
    let (mut checkpoint, resume_from) = if options.users.is_some() {
        (None, 0)
    } else {
        let checkpoint = DayCheckpoint {
            run_id,
            data_version: loaded.data_version,
            chunk_users: chunk_users as u32,
            chunks_done: 0,
            until: options.until,
            settings: fingerprint(options, &loaded.previous, &loaded.suppressed),
        };
        let resume_from =
            begin_or_resume_day(store, options, &checkpoint, n_chunks, results, storing).await?;
        (Some(checkpoint), resume_from)
    };
    if options.until < Phase::Picks {
        return Ok(None);
    }
    let inputs = loaded.inputs(&[], &options.config);
    let chunks = ChunkRun {
        store,
        lease,
        options,
        inputs: &inputs,
        results,
        chunk_users,
        n_chunks,
        resume_from,
    };
    Ok(Some(chunks.run(checkpoint.as_mut(), storing).await?))
}

/// The chunk this run of the date starts at: the one after the chunks an unfinished earlier
/// run stored, when its checkpoint matches `checkpoint` (same data version, chunk size,
/// `until` and settings, at least one chunk done and no more than there are) and the run
/// picks; else 0, the date starts over.
fn choose_resume_chunk(
    stored: Option<&DayCheckpoint>,
    checkpoint: &DayCheckpoint,
    n_chunks: usize,
) -> usize {
    match stored {
        Some(previous)
            if checkpoint.until >= Phase::Picks
                && previous.data_version == checkpoint.data_version
                && previous.chunk_users == checkpoint.chunk_users
                && previous.until == checkpoint.until
                && previous.settings == checkpoint.settings
                && previous.chunks_done > 0
                && previous.chunks_done as usize <= n_chunks =>
        {
            previous.chunks_done as usize
        }
        _ => 0,
    }
}

/// Begins the date (its job scores written, its earlier picks and unsent emails removed,
/// `checkpoint` stored) unless an unfinished run's checkpoint lets this run resume it;
/// returns the chunk to start at. Timed into `storing`.
async fn begin_or_resume_day(
    store: &dyn Store,
    options: &BatchOptions,
    checkpoint: &DayCheckpoint,
    n_chunks: usize,
    results: &mut DayResults,
    storing: &mut Pieces,
) -> Result<usize, PipelineError> {
    let date = options.date;
    let stored = store
        .day_checkpoint(date)
        .await
        .map_err(fail_while(date, "reading the date's checkpoint"))?;
    let resume_from = choose_resume_chunk(stored.as_ref(), checkpoint, n_chunks);
    let clock = storing.begin();
    if resume_from == 0 {
        if let Some(previous) = &stored {
            tracing::info!(
                date = %date,
                previous_run = previous.run_id,
                chunks_done = previous.chunks_done,
                "an unfinished run of the date does not match this one (other data, settings, chunk size or phase): the date starts over"
            );
        }
        store
            .begin_day(date, results.score_table.take(), checkpoint.clone())
            .await
            .map_err(fail_while(date, "beginning the date's results"))?;
    } else {
        tracing::info!(
            date = %date,
            previous_run = stored.as_ref().map_or(0, |c| c.run_id),
            chunk = resume_from,
            chunks = n_chunks,
            "resuming the date after the last chunk an earlier run stored"
        );
    }
    storing.end(clock);
    Ok(resume_from)
}

/// The run's status: `succeeded`, or `succeeded_with_warnings` when its input degraded
/// (an inbox file not imported, users who fell back to the day before's picks).
fn settle_run_status(run: &mut RunRecord) {
    if !run.failed_users.is_empty() {
        run.warnings.push(format!(
            "matching failed for {} users; they got their picks of the day before",
            run.failed_users.len()
        ));
    }
    run.status = if run.warnings.is_empty() {
        RunStatus::Succeeded
    } else {
        for warning in &run.warnings {
            tracing::warn!(date = %run.date, warning = %warning, "the daily run degraded");
        }
        RunStatus::SucceededWithWarnings
    };
}

/// Ends the run: its store phase and status; for a run that stored results, the date
/// finished in the store (checkpoint deleted, record saved, in one transaction), that time
/// counted in the store phase; then the record saved.
async fn finish_run(
    store: &dyn Store,
    options: &BatchOptions,
    mut run: RunRecord,
    storing: &mut Pieces,
    n_picks: usize,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
    let mut stored_phase = storing.record("store", &[("picks", n_picks as u64)]);
    settle_run_status(&mut run);
    run.finished_at = Some(now());
    run.phases.push(stored_phase.clone());
    // A run of some users began no date: there is no checkpoint to delete.
    if options.until >= Phase::Scores && options.users.is_none() {
        let clock = storing.begin();
        run = store
            .finish_day(date, run)
            .await
            .map_err(fail_while(date, "finishing the date's results"))?;
        storing.end(clock);
        stored_phase.duration_ms = storing.elapsed_ms();
        stored_phase.finished_at = Some(now());
        if let Some(last) = run.phases.last_mut() {
            *last = stored_phase;
        }
        run.finished_at = Some(now());
    }
    store
        .save_run(run)
        .await
        .map_err(fail_while(date, "recording the run's end"))
}

/// The retention phase of a complete run: purges what is older than `retention` keeps,
/// compacts the storage when that is worth it, and saves the record with those phases.
async fn apply_retention(
    store: &dyn Store,
    options: &BatchOptions,
    retention: Retention,
    mut run: RunRecord,
) -> Result<RunRecord, PipelineError> {
    let date = options.date;
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
        .map_err(fail_while(date, "purging old data"))?;
    run.phases.push(phase(
        "retention",
        started_at,
        clock,
        &[
            ("action_days", purged.action_days),
            ("pick_dates", purged.pick_dates),
            ("email_dates", purged.email_dates),
            ("runs", purged.runs),
            ("checkpoints", purged.checkpoints),
        ],
    ));
    compact_when_worth_it(store, options, &mut run).await?;
    store
        .save_run(run)
        .await
        .map_err(fail_while(date, "recording the run's end"))
}

/// Gives the space freed by the day's rewrites and the purge back when the store finds it
/// worth it ([`crate::store::Maintenance::reclaim_space`], at least `options.compact_above` unused), adding the
/// compact phase to `run`.
async fn compact_when_worth_it(
    store: &dyn Store,
    options: &BatchOptions,
    run: &mut RunRecord,
) -> Result<(), PipelineError> {
    let Some(at_least) = options.compact_above else {
        return Ok(());
    };
    let (started_at, clock) = (now(), Instant::now());
    let reclaimed = store
        .reclaim_space(at_least)
        .await
        .map_err(fail_while(options.date, "giving unused storage space back"))?;
    if let Some((before, after)) = reclaimed {
        run.phases.push(phase(
            "compact",
            started_at,
            clock,
            &[("file_bytes_before", before), ("file_bytes_after", after)],
        ));
    }
    Ok(())
}

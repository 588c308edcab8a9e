//! The pure part of the daily run: from the day's inputs to profiles, job scores and picks.
//!
//! Nothing here reads the clock: the phases are timed and recorded by the caller
//! ([`super::prepare_day`], [`super::compute_day`], the daily run), and the instant an email
//! is queued at comes in with [`EmailQueueing`].

use std::collections::HashMap;

use rayon::prelude::*;

use crate::columnar::StrColumn;
use crate::domain::action::{ActionColumnsBuilder, ActionDay, DecodedActionDay};
use crate::domain::batch::{JobScoreTable, PhaseRecord, StoredPick, UserPicks};
use crate::domain::{JobColumns, Masters, User};
use crate::matching::{MatchContext, Pick, picks_for_user};
use crate::scoring::actions::{ActionStats, Interner, aggregate, job_companies};
use crate::scoring::jobs::{JobScores, score_jobs};
use crate::scoring::profile::{Geography, UserProfile};
use crate::scoring::seo::SeoMatcher;
use crate::scoring::{DayWindows, ScoringConfig, round6};

/// Everything a date's computation reads.
#[derive(Clone, Copy)]
pub struct DayInputs<'a> {
    /// The current snapshot (active jobs), sorted by job id.
    pub jobs: &'a JobColumns,
    pub masters: &'a Masters,
    pub users: &'a [User],
    /// Days of actions covering the history window (rows outside it are ignored).
    pub action_days: &'a [Box<dyn ActionDay>],
    /// Per user id: the job ids picked on D−1 and on D−2.
    pub previous: &'a crate::domain::batch::PreviousPicks,
    pub windows: DayWindows,
    pub config: &'a ScoringConfig,
}

/// What a date's computation produces.
pub struct DayResults {
    /// The records of the phases computed, filled by the caller that timed them.
    pub phases: Vec<PhaseRecord>,
    pub stats: ActionStats,
    pub geography: Geography,
    pub profiles: Vec<UserProfile>,
    pub job_company: Vec<u32>,
    pub scores: Option<JobScores>,
    pub score_table: Option<JobScoreTable>,
    /// Per user with picks, sorted by user id (`None` when the run stopped earlier).
    pub picks: Option<Vec<UserPicks>>,
    pub skipped_keywords: Vec<String>,
    pub failed_users: Vec<crate::domain::UserId>,
}

/// Profiles of every user, in the order of `users`.
pub fn build_profiles(
    users: &[User],
    stats: &ActionStats,
    geography: &Geography,
) -> Vec<UserProfile> {
    let applications = &stats.applications;
    let mut ranges: HashMap<u32, (usize, usize)> = HashMap::new();
    let mut start = 0;
    while start < applications.len() {
        let user = applications[start].user;
        let mut end = start;
        while end < applications.len() && applications[end].user == user {
            end += 1;
        }
        ranges.insert(user, (start, end));
        start = end;
    }
    users
        .par_iter()
        .map(|user| {
            let own = stats
                .users
                .get(user.user_id.as_str())
                .and_then(|id| ranges.get(&id))
                .map_or(&applications[0..0], |&(s, e)| &applications[s..e]);
            UserProfile::new(user, own, geography)
        })
        .collect()
}

/// The job scores as stored and exported.
pub fn score_table(
    jobs: &JobColumns,
    scores: &JobScores,
    seo: &SeoMatcher,
    config: &ScoringConfig,
) -> JobScoreTable {
    let n = jobs.len();
    let mut needs = StrColumn::with_capacity(n, n * 8);
    let mut matched = StrColumn::with_capacity(n, n * 16);
    let rounded = |values: &[f64]| {
        values
            .iter()
            .map(|v| round6(*v) as f64 / 1e6)
            .collect::<Vec<_>>()
    };
    for i in 0..n {
        let names: Vec<&str> = config
            .needs
            .iter()
            .enumerate()
            .filter(|(bit, _)| scores.needs[i] & (1 << bit) != 0)
            .map(|(_, category)| category.name.as_str())
            .collect();
        needs.push(&names.join("|"));
        let keywords: Vec<String> = scores.seo_matches[i]
            .iter()
            .map(|m| {
                format!(
                    "{}({})",
                    seo.keywords[m.rank as usize].keyword,
                    m.field.as_str()
                )
            })
            .collect();
        matched.push(&keywords.join("|"));
    }
    JobScoreTable {
        job_id: jobs.job_id.clone(),
        basic: rounded(&scores.basic),
        wage: rounded(&scores.wage_score),
        fee: rounded(&scores.fee_score),
        popularity: rounded(&scores.popularity),
        seo: rounded(&scores.seo),
        needs,
        occupation_category: scores.occupation_category.clone(),
        matched_keywords: matched,
    }
}

fn stored(pick: &Pick, jobs: &JobColumns, scores: &JobScores) -> StoredPick {
    let row = pick.job_index as usize;
    StoredPick {
        section: pick.section.code(),
        rank: pick.rank,
        job_id: jobs.job_id[row],
        tier: pick.tier.code(),
        personalized: pick.personalized,
        basic: round6(scores.basic[row]) as f64 / 1e6,
        seo: round6(scores.seo[row]) as f64 / 1e6,
        total: pick.total,
        editorial: pick.editorial,
        reasons: pick.reasons,
    }
}

/// How far a run is, readable from another thread while it runs: the run's id once it has
/// one, every phase begun so far with the users (or jobs, or emails) done out of its total
/// and when it began and ended, and the chunks of users stored. The instants are the
/// caller's (µs since the epoch): this type reads no clock.
#[derive(Debug, Default)]
pub struct RunProgress {
    state: std::sync::Mutex<ProgressState>,
    /// The current phase's count, apart so that [`Self::advance`] takes no lock.
    done: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
    /// 0 until the run's record is stored.
    run_id: std::sync::atomic::AtomicU64,
    chunks_done: std::sync::atomic::AtomicU64,
    chunks_total: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct ProgressState {
    /// The phase the counters count: the last one started or resumed (`""` before any).
    current: &'static str,
    /// Every phase begun so far, in the order each first began; the current one's counts
    /// are in the counters.
    phases: Vec<PhaseProgress>,
}

/// One phase of a run as [`RunProgress::phases`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseProgress {
    pub phase: &'static str,
    /// Users, jobs or emails done (as the phase counts) out of `total`.
    pub done: u64,
    /// 0 when the phase counts nothing (`load`).
    pub total: u64,
    /// When the phase began (µs).
    pub started_at: i64,
    /// When it ended (µs); `None` while it runs.
    pub finished_at: Option<i64>,
}

impl RunProgress {
    /// Begins `phase` at `at` with nothing of `total` done.
    pub fn start(&self, phase: &'static str, total: u64, at: i64) {
        self.resume(phase, 0, total, at);
    }

    /// Shows `phase` with `done` of `total` already done (a phase that goes on chunk by
    /// chunk, or that an earlier run partly did); the phase began at `at` unless it had
    /// begun before.
    pub fn resume(&self, phase: &'static str, done: u64, total: u64, at: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut state = self.lock();
        self.store_current(&mut state);
        match state.phases.iter_mut().find(|p| p.phase == phase) {
            Some(entry) => entry.finished_at = None,
            None => state.phases.push(PhaseProgress {
                phase,
                done,
                total,
                started_at: at,
                finished_at: None,
            }),
        }
        state.current = phase;
        self.done.store(done, Relaxed);
        self.total.store(total, Relaxed);
    }

    pub fn advance(&self) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ends `phase` at `at` (its counts stay as they are).
    pub fn finish(&self, phase: &'static str, at: i64) {
        let mut state = self.lock();
        self.store_current(&mut state);
        if let Some(entry) = state.phases.iter_mut().find(|p| p.phase == phase) {
            entry.finished_at = Some(at);
        }
    }

    /// `(phase, done, total)` of the current phase.
    pub fn snapshot(&self) -> (&'static str, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let phase = self.lock().current;
        (phase, self.done.load(Relaxed), self.total.load(Relaxed))
    }

    /// Every phase begun so far, in the order each began.
    pub fn phases(&self) -> Vec<PhaseProgress> {
        let mut state = self.lock();
        self.store_current(&mut state);
        state.phases.clone()
    }

    /// Records the id the store gave the run.
    pub fn set_run_id(&self, run_id: u64) {
        self.run_id
            .store(run_id, std::sync::atomic::Ordering::Release);
    }

    /// The run's id, once its record is stored.
    pub fn run_id(&self) -> Option<u64> {
        Some(self.run_id.load(std::sync::atomic::Ordering::Acquire)).filter(|&id| id != 0)
    }

    /// Records that `done` of the date's `total` chunks of users are stored.
    pub fn set_chunks(&self, done: u64, total: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.chunks_total.store(total, Relaxed);
        self.chunks_done.store(done, Relaxed);
    }

    /// `(done, total)` chunks of users, once the run knows how many there are.
    pub fn chunks(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        let total = self.chunks_total.load(Relaxed);
        (total > 0).then(|| (self.chunks_done.load(Relaxed), total))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Copies the counters into the current phase's entry.
    fn store_current(&self, state: &mut ProgressState) {
        use std::sync::atomic::Ordering::Relaxed;
        let current = state.current;
        if let Some(entry) = state.phases.iter_mut().find(|p| p.phase == current) {
            entry.done = self.done.load(Relaxed);
            entry.total = self.total.load(Relaxed);
        }
    }
}

/// The errors a picks phase records for the users whose matching failed.
pub fn failure_messages(failed_users: &[crate::domain::UserId]) -> Vec<String> {
    failed_users
        .iter()
        .map(|u| format!("matching failed for user {u}; yesterday's picks used"))
        .collect()
}

/// The first part of a date every user's picks read, computed once: the year of actions
/// aggregated, the geography and every user's profile (no job scores yet, no picks; no
/// phase recorded).
pub fn profile_day(inputs: &DayInputs<'_>) -> DayResults {
    let mut companies = Interner::default();
    let job_company = job_companies(inputs.jobs, &mut companies);
    let stats = aggregate(inputs.action_days, inputs.jobs, companies, &inputs.windows);
    let geography = Geography::new(inputs.masters, inputs.config);
    let profiles = build_profiles(inputs.users, &stats, &geography);
    DayResults {
        phases: Vec::new(),
        stats,
        geography,
        profiles,
        job_company,
        scores: None,
        score_table: None,
        picks: None,
        skipped_keywords: Vec::new(),
        failed_users: Vec::new(),
    }
}

/// The actions of one user out of days of everybody's, day by day in the order given (each
/// day keeps its identity order), only the days where the user acted; and the days that
/// could not be read, each with why. Days are opened in parallel, one at a time each.
pub fn actions_of_user(
    days: &[Box<dyn ActionDay>],
    user_id: &str,
) -> (Vec<Box<dyn ActionDay>>, Vec<String>) {
    let parts: Vec<Result<Option<DecodedActionDay>, String>> = days
        .par_iter()
        .map(|stored| {
            let day = stored.columns()?;
            let Some(reference) = (0..day.users.len()).find(|&i| day.users.get(i) == user_id)
            else {
                return Ok(None);
            };
            let mut own = ActionColumnsBuilder::new();
            for row in 0..day.len() {
                if day.user[row] as usize == reference {
                    own.push(&day.row(row));
                }
            }
            Ok(Some(DecodedActionDay {
                day: stored.day(),
                columns: own.finish(),
            }))
        })
        .collect();
    let mut own_days: Vec<Box<dyn ActionDay>> = Vec::new();
    let mut unreadable = Vec::new();
    for part in parts {
        match part {
            Ok(Some(day)) => own_days.push(Box::new(day)),
            Ok(None) => {}
            Err(error) => unreadable.push(error),
        }
    }
    (own_days, unreadable)
}

/// One user's profile (SPEC §3.4) of the date `windows` names, as the daily run builds it
/// ([`profile_day`] over that user alone): `own_days` are the user's own actions
/// ([`actions_of_user`]), which are all a profile reads besides the jobs and the masters.
/// Returns the profile with the day's action statistics (their company ids name the
/// profile's companies) and geography.
pub fn profile_of_user(
    user: &User,
    own_days: &[Box<dyn ActionDay>],
    jobs: &JobColumns,
    masters: &Masters,
    windows: DayWindows,
    config: &ScoringConfig,
) -> (UserProfile, ActionStats, Geography) {
    let previous = crate::domain::batch::PreviousPicks::default();
    let inputs = DayInputs {
        jobs,
        masters,
        users: std::slice::from_ref(user),
        action_days: own_days,
        previous: &previous,
        windows,
        config,
    };
    let mut results = profile_day(&inputs);
    let profile = results.profiles.pop().expect("one profile per user");
    (profile, results.stats, results.geography)
}

/// The job scores of a day [`profile_day`] profiled, and their stored table.
pub fn score_day(inputs: &DayInputs<'_>, results: &mut DayResults) {
    let seo = SeoMatcher::new(&inputs.masters.keywords);
    let scores = score_jobs(
        inputs.jobs,
        inputs.masters,
        &results.stats,
        &results.job_company,
        &seo,
        &inputs.windows,
        inputs.config,
    );
    results.skipped_keywords = scores.skipped_keywords.clone();
    results.score_table = Some(score_table(inputs.jobs, &scores, &seo, inputs.config));
    results.scores = Some(scores);
}

/// The day's eligible jobs prepared for matching, from a day [`score_day`] scored (`None`
/// when it stopped before the job scores).
pub fn match_context<'r>(
    inputs: &DayInputs<'r>,
    results: &'r DayResults,
) -> Option<MatchContext<'r>> {
    let scores = results.scores.as_ref()?;
    Some(MatchContext::new(
        inputs.jobs,
        scores,
        &results.job_company,
        &results.stats.recent_applications,
        &results.geography,
        inputs.windows,
        inputs.config,
    ))
}

/// The picks of a run of consecutive users of [`DayInputs::users`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPicks {
    /// The users' positions in [`DayInputs::users`] (and in [`DayResults::profiles`]).
    pub users: std::ops::Range<usize>,
    /// Per user with picks (active and subscribed), sorted by user id.
    pub picks: Vec<UserPicks>,
    /// Users whose matching failed and who got yesterday's picks instead, in user order.
    pub failed_users: Vec<crate::domain::UserId>,
}

/// The picks of the users at `users` (positions in [`DayInputs::users`]), in parallel; one
/// user's failure falls back to their previous picks without stopping the others. A user's
/// picks read only the day's shared context, their own profile and their own picks of D−1
/// and D−2, so any split of the users into chunks gives the same picks as one pass.
/// `results` is the day [`score_day`] scored; `users` must lie within its users.
pub fn picks_for_users(
    inputs: &DayInputs<'_>,
    results: &DayResults,
    context: &MatchContext<'_>,
    users: std::ops::Range<usize>,
    progress: &RunProgress,
) -> ChunkPicks {
    let scores = context.scores;
    let chunk_users = &inputs.users[users.clone()];
    let chunk_profiles = &results.profiles[users.clone()];
    let empty = crate::domain::batch::RecentPicks::default();
    let outcomes: Vec<Option<Result<Vec<Pick>, ()>>> = chunk_users
        .par_iter()
        .zip(chunk_profiles.par_iter())
        .map(|(user, profile)| {
            progress.advance();
            let recent = inputs.previous.get(&user.user_id).unwrap_or(&empty);
            let (day1, day2) = (&recent.day_before, &recent.two_days_before);
            // A failure for one user must not stop the others: catch it and fall back.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                picks_for_user(context, user, profile, (day1, day2))
            }))
            .map_or(Some(Err(())), |picks| picks.map(Ok))
        })
        .collect();
    let mut picks = Vec::new();
    let mut failed_users = Vec::new();
    for (user, outcome) in chunk_users.iter().zip(outcomes) {
        match outcome {
            None => {}
            Some(Ok(user_picks)) => picks.push(UserPicks {
                user_id: user.user_id.clone(),
                picks: user_picks
                    .iter()
                    .map(|p| stored(p, inputs.jobs, scores))
                    .collect(),
                fallback: false,
            }),
            Some(Err(())) => {
                failed_users.push(user.user_id.clone());
                picks.push(fallback_picks(user, inputs, context));
            }
        }
    }
    picks.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    ChunkPicks {
        users,
        picks,
        failed_users,
    }
}

/// Yesterday's picks of a user whose matching failed, minus jobs no longer eligible; their
/// stored scores are kept as they were.
fn fallback_picks(user: &User, inputs: &DayInputs<'_>, context: &MatchContext<'_>) -> UserPicks {
    let yesterday = inputs
        .previous
        .get(&user.user_id)
        .map(|recent| recent.day_before.as_slice())
        .unwrap_or(&[]);
    let picks = yesterday
        .iter()
        .filter_map(|job_id| {
            let row = inputs.jobs.position(crate::domain::JobId::new(*job_id))?;
            context.scores.eligible[row].then_some(*job_id)
        })
        .enumerate()
        .map(|(rank, job_id)| StoredPick {
            section: 0,
            rank: (rank + 1) as u8,
            job_id,
            tier: crate::matching::Tier::All.code(),
            personalized: 0.0,
            basic: 0.0,
            seo: 0.0,
            total: 0.0,
            editorial: 0.0,
            reasons: 0,
        })
        .collect();
    UserPicks {
        user_id: user.user_id.clone(),
        picks,
        fallback: true,
    }
}

/// The fallback of a user whose matching failed, from their full stored picks of yesterday:
/// the ones still eligible, in yesterday's sections and order with ranks renumbered within
/// each section, their stored scores kept, marked `fallback`. ([`picks_for_users`] knows
/// only yesterday's job ids and puts its fallback in the first section, unscored; the daily
/// run, which reads the store, replaces it with this.)
pub fn fallback_from_yesterday(
    yesterday: &UserPicks,
    jobs: &JobColumns,
    scores: &JobScores,
) -> UserPicks {
    let mut kept: Vec<StoredPick> = yesterday
        .picks
        .iter()
        .filter(|pick| {
            jobs.position(crate::domain::JobId::new(pick.job_id))
                .is_some_and(|row| scores.eligible[row])
        })
        .cloned()
        .collect();
    kept.sort_by_key(|p| (p.section, p.rank));
    let mut previous_section = None;
    let mut rank = 0u8;
    for pick in &mut kept {
        if previous_section != Some(pick.section) {
            previous_section = Some(pick.section);
            rank = 0;
        }
        rank += 1;
        pick.rank = rank;
    }
    UserPicks {
        user_id: yesterday.user_id.clone(),
        picks: kept,
        fallback: true,
    }
}

/// How a run queues its emails.
#[derive(Clone, Copy)]
pub struct EmailQueueing<'a> {
    pub renderer: &'a crate::render::Renderer,
    /// Signs the links of the emails.
    pub signer: &'a crate::tokens::TokenSigner,
    pub settings: &'a crate::render::EmailSettings,
    /// When the emails are scheduled (µs).
    pub scheduled_at: i64,
    /// When they are queued (µs): their `created_at` and `updated_at`.
    pub queued_at: i64,
    /// Whether the first email is rendered in full, to report template errors.
    pub check_templates: bool,
}

/// Renders and queues the email of every user of `chunk` with picks (SPEC §5), in parallel.
/// Returns the emails, sorted by user id, and the template errors met (each once).
pub fn render_emails(
    inputs: &DayInputs<'_>,
    results: &DayResults,
    chunk: &ChunkPicks,
    queueing: &EmailQueueing<'_>,
    progress: &RunProgress,
) -> (Vec<crate::domain::batch::QueuedEmail>, Vec<String>) {
    use crate::domain::batch::{EmailStatus, QueuedEmail};
    use crate::render::{EmailInputs, build_view};
    let EmailQueueing {
        renderer,
        signer,
        settings,
        scheduled_at,
        queued_at,
        check_templates,
    } = *queueing;
    let picks = &chunk.picks;
    let users: HashMap<&str, (&User, &UserProfile)> = inputs.users[chunk.users.clone()]
        .iter()
        .zip(&results.profiles[chunk.users.clone()])
        .map(|(user, profile)| (user.user_id.as_str(), (user, profile)))
        .collect();
    let feature_names: HashMap<u32, String> = inputs
        .masters
        .features
        .iter()
        .filter(|f| f.is_enabled)
        .map(|f| (f.feature_cd, f.name.clone()))
        .collect();
    let date = inputs.windows.date;
    let Some(first) = picks.iter().find(|p| !p.picks.is_empty()) else {
        return (Vec::new(), Vec::new());
    };
    let rendered: Vec<(QueuedEmail, Vec<String>)> = picks
        .par_iter()
        .filter(|user_picks| !user_picks.picks.is_empty())
        .filter_map(|user_picks| {
            progress.advance();
            let (user, profile) = users.get(user_picks.user_id.as_str())?;
            let view = build_view(&EmailInputs {
                user,
                location: profile.location,
                date,
                picks: &user_picks.picks,
                jobs: inputs.jobs,
                masters: inputs.masters,
                geography: &results.geography,
                feature_names: &feature_names,
                signer,
                settings,
            });
            // The bodies are rendered at send time from the stored view; here the subject is
            // decided and the templates are checked on the first email.
            let template_errors = if check_templates && std::ptr::eq(user_picks, first) {
                let mut linked = view.clone();
                crate::render::fill_links(&mut linked, signer, settings);
                renderer
                    .render(&linked, user.user_id.as_str())
                    .template_errors
            } else {
                Vec::new()
            };
            Some((
                QueuedEmail {
                    user_id: user.user_id.clone(),
                    date,
                    to: user.email.clone(),
                    subject: crate::render::subject::rule_subject(&view, user.user_id.as_str()),
                    scheduled_at,
                    status: EmailStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    created_at: queued_at,
                    updated_at: queued_at,
                    sent_at: None,
                    content: crate::render::pack_view(&view),
                },
                template_errors,
            ))
        })
        .collect();
    let mut errors: Vec<String> = Vec::new();
    let mut emails = Vec::with_capacity(rendered.len());
    for (email, template_errors) in rendered {
        for error in template_errors {
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
        emails.push(email);
    }
    (emails, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_keeps_every_phase_with_its_counts_and_the_callers_instants() {
        let progress = RunProgress::default();
        assert_eq!(progress.run_id(), None);
        assert_eq!(progress.chunks(), None);
        progress.start("profiles", 3, 10);
        progress.advance();
        progress.advance();
        progress.finish("profiles", 20);
        // Picks and render take turns, chunk by chunk.
        progress.resume("picks", 1, 4, 30);
        progress.advance();
        progress.resume("render", 0, 2, 35);
        progress.advance();
        progress.resume("picks", 2, 4, 40);
        let phase = |phase, done, total, started_at, finished_at| PhaseProgress {
            phase,
            done,
            total,
            started_at,
            finished_at,
        };
        assert_eq!(
            progress.phases(),
            [
                phase("profiles", 2, 3, 10, Some(20)),
                phase("picks", 2, 4, 30, None),
                phase("render", 1, 2, 35, None),
            ]
        );
        assert_eq!(progress.snapshot(), ("picks", 2, 4));
        progress.set_run_id(7);
        progress.set_chunks(1, 5);
        assert_eq!(progress.run_id(), Some(7));
        assert_eq!(progress.chunks(), Some((1, 5)));
    }
}

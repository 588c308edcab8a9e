//! [`HotReads`]: the server's in-process copies of what it reads most (a user's picks of a
//! date, a job), so that a busy morning's requests seldom reach the store.
//!
//! A copy is stale once what it copies changes. Everything that changes stored data in a
//! server process goes through it (the store's one writer is this process): the runs, the
//! imports, the actions and suppressions changed over the API. They tell `HotReads`, which
//! starts a new **generation**: entries are keyed by the generation they were read in, so
//! a read that raced with a change is filed under an old generation that no lookup asks
//! for again. A change bumps the generation *after* it committed, so a read under the new
//! generation always sees it.
//!
//! A run changes only its date's picks, chunk by chunk: it moves on that date's own
//! generation as it starts and as it ends, and while it executes that date's picks are read
//! from the store and not kept. The other dates' picks and the jobs stay cached.
//!
//! The statistics of a date (seconds of work over the whole window) are kept for
//! [`STATS_MAX_AGE`] at most, and until any change or any run's start or end: the tracking
//! endpoints add actions all the time without telling, so a dashboard's figures may be
//! that much behind the clicks, and each says when it was computed. One computation runs at
//! a time; requests that arrive meanwhile wait for it and take its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::civil::Date;

use super::ServiceError;
use super::exports::load_picks;
use super::jobs::show_job;
use super::stats::compute::Stats;
use super::stats::{StatsOptions, date_stats};
use crate::cache::{LocalCache, LookupObserver};
use crate::domain::batch::UserPicks;
use crate::domain::{JobId, JobRecord, UserId};
use crate::store::Store;

/// Every user's picks of a date or two (about 3 KB each).
pub const PICKS_CAPACITY: u64 = 20_000;
/// The jobs clicked and shown most (a few KB each).
pub const JOBS_CAPACITY: u64 = 20_000;
/// A copy is dropped after this even when nothing said it changed: a bound on the harm of
/// a change made outside this process's knowledge (there should be none).
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// How long the statistics of a date are kept at most: they include the actions the
/// tracking endpoints record, which do not start a generation.
pub const STATS_MAX_AGE: Duration = Duration::from_secs(60);
/// The statistics of a few (date, window) pairs: a dashboard asks for one or two.
const STATS_CAPACITY: u64 = 16;

#[derive(Debug, Clone, Default)]
struct Epoch {
    /// Moves on with every change but a run's.
    generation: u64,
    /// Moves on as a run of the date starts and ends: only its date's picks change.
    dates: HashMap<Date, u64>,
    /// The date whose picks a run of this process is writing.
    writing: Option<Date>,
    /// Moves on as any run starts and ends.
    runs: u64,
    /// Moves on as actions are recorded through the API (not by the tracking endpoints).
    actions: u64,
}

impl Epoch {
    fn of_date(&self, date: Date) -> u64 {
        self.dates.get(&date).copied().unwrap_or(0)
    }

    fn run_of(&mut self, date: Date, writing: bool) {
        *self.dates.entry(date).or_default() += 1;
        self.runs += 1;
        self.writing = writing.then_some(date);
    }
}

/// Statistics and when they were computed.
#[derive(Debug)]
pub struct StatsAt {
    pub stats: Stats,
    pub computed_at: jiff::Timestamp,
}

/// See the module documentation.
#[derive(Debug)]
pub struct HotReads {
    epoch: Mutex<Epoch>,
    /// By (generation, the date's generation, date, user).
    picks: LocalCache<(u64, u64, Date, UserId), Arc<UserPicks>>,
    jobs: LocalCache<(u64, JobId), Arc<JobRecord>>,
    /// By (generation, runs, actions, date, window days).
    stats: LocalCache<(u64, u64, u64, Date, usize), Arc<StatsAt>>,
    /// Held while the statistics are computed.
    computing_stats: tokio::sync::Mutex<()>,
}

impl HotReads {
    /// `observe` is told of every lookup (the hit and miss metrics).
    pub fn new(observe: LookupObserver) -> Self {
        Self {
            epoch: Mutex::default(),
            picks: LocalCache::new("picks", PICKS_CAPACITY, MAX_AGE, observe),
            jobs: LocalCache::new("jobs", JOBS_CAPACITY, MAX_AGE, observe),
            stats: LocalCache::new("stats", STATS_CAPACITY, STATS_MAX_AGE, observe),
            computing_stats: tokio::sync::Mutex::new(()),
        }
    }

    fn epoch(&self) -> std::sync::MutexGuard<'_, Epoch> {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation of the data read now; changes whenever stored data other than a
    /// run's picks changed.
    pub fn generation(&self) -> u64 {
        self.epoch().generation
    }

    /// A run of `date` is about to write. Call before its first write.
    pub fn run_started(&self, date: Date) {
        self.epoch().run_of(date, true);
    }

    /// The run of `date` ended (however it ended). Call after its last write.
    pub fn run_ended(&self, date: Date) {
        self.epoch().run_of(date, false);
    }

    /// Stored data changed (an import, actions, suppressions). Call after the commit.
    pub fn data_changed(&self) {
        self.epoch().generation += 1;
        // The old generation's entries are unreachable now; this frees their memory.
        self.picks.clear();
        self.jobs.clear();
        self.stats.clear();
    }

    /// Actions were recorded (a batch over the API). Call after the commit. The picks and
    /// jobs do not depend on them; the statistics do.
    pub fn actions_recorded(&self) {
        self.epoch().actions += 1;
        self.stats.clear();
    }

    /// `user`'s stored picks of `date`, as [`load_picks`] reads them.
    pub async fn user_picks(
        &self,
        store: &dyn Store,
        date: Date,
        user: &UserId,
    ) -> Result<Arc<UserPicks>, ServiceError> {
        let (key, cacheable) = {
            let epoch = self.epoch();
            let key = (epoch.generation, epoch.of_date(date), date, user.clone());
            (key, epoch.writing != Some(date))
        };
        if cacheable && let Some(picks) = self.picks.get(&key) {
            return Ok(picks);
        }
        let picks = load_picks(store, date, Some(user))
            .await?
            .users
            .into_iter()
            .next()
            .map(Arc::new)
            .ok_or_else(|| ServiceError::NotFound {
                explanation: format!("no picks stored for {user} on {date}"),
            })?;
        if cacheable {
            self.picks.insert(key, Arc::clone(&picks));
        }
        Ok(picks)
    }

    /// The statistics of `options`' date, as [`date_stats`] computes them (with the date
    /// resolved: `None` is today in the options' zone).
    pub async fn stats(
        &self,
        store: &dyn Store,
        options: &StatsOptions,
    ) -> Result<Arc<StatsAt>, ServiceError> {
        let date = options
            .date
            .unwrap_or_else(|| super::runs::today(options.time_zone.zone()));
        let key = || {
            let epoch = self.epoch();
            let Epoch {
                generation,
                runs,
                actions,
                ..
            } = *epoch;
            (generation, runs, actions, date, options.window_days)
        };
        if let Some(stats) = self.stats.get(&key()) {
            return Ok(stats);
        }
        let _computing = self.computing_stats.lock().await;
        // Whoever held the lock may have computed these very figures.
        let key = key();
        if let Some(stats) = self.stats.get(&key) {
            return Ok(stats);
        }
        let options = StatsOptions {
            date: Some(date),
            ..options.clone()
        };
        let stats = Arc::new(StatsAt {
            stats: date_stats(store, &options).await?,
            computed_at: jiff::Timestamp::now(),
        });
        self.stats.insert(key, Arc::clone(&stats));
        Ok(stats)
    }

    /// The job `id` with every feed column, as [`show_job`] reads it.
    pub async fn job(&self, store: &dyn Store, id: JobId) -> Result<Arc<JobRecord>, ServiceError> {
        let key = (self.generation(), id);
        if let Some(job) = self.jobs.get(&key) {
            return Ok(job);
        }
        let job = Arc::new(show_job(store, id).await?);
        self.jobs.insert(key, Arc::clone(&job));
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_starts_a_generation_and_a_run_s_date_is_not_kept_while_it_runs() {
        let hot = HotReads::new(crate::cache::no_observer);
        let date = Date::constant(2025, 11, 24);
        let other = Date::constant(2025, 11, 25);
        hot.run_started(date);
        assert_eq!(hot.epoch().writing, Some(date));
        assert_eq!(hot.generation(), 0, "a run changes only its date's picks");
        hot.data_changed();
        assert_eq!(hot.epoch().writing, Some(date), "an import during a run");
        hot.run_ended(date);
        let epoch = hot.epoch().clone();
        assert_eq!(epoch.writing, None);
        assert_eq!((epoch.generation, epoch.of_date(date)), (1, 2));
        assert_eq!(epoch.of_date(other), 0);
    }
}

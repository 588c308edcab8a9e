//! The figures of an operator's dashboard (SPEC §7), from plain inputs: counts, score
//! distributions, section fill by tier, activity by day and section, and how well each
//! day's picks predicted the applications of the week after. Pure: no store, no clock; the
//! caller (`service::stats`) loads the inputs and hands them over.
//!
//! Every input is read once. A window's action days are opened one at a time each (in
//! parallel) and reduced to counts and the applications of the window, before any picks
//! are read; then each date's picks are added and dropped, so a month of picks (~350,000 a
//! day at reference size) is never held at once ([`StatsBuilder`]).

use std::collections::HashMap;

use jiff::civil::Date;
use rayon::prelude::*;

use crate::domain::action::{ActionColumns, ActionDay, NO_REF};
use crate::domain::batch::{EmailStatus, JobScoreTable, UserPicks};
use crate::domain::time::Micros;
use crate::domain::{ActionType, Suppression, SuppressionReason, TimeZoneSetting, User};
use crate::matching::Tier;
use crate::scoring::{SectionKind, SectionSpec};

/// The hit rate of a date's picks counts the applications of this many days after it.
pub const HIT_HORIZON_DAYS: usize = 7;

/// Score histograms have this many buckets of equal width over 0–100 (the last one takes
/// 100 too).
pub const HISTOGRAM_BUCKETS: usize = 10;

/// Every email status, in the order the queue moves through them.
pub const EMAIL_STATUSES: [EmailStatus; 6] = [
    EmailStatus::Pending,
    EmailStatus::Sending,
    EmailStatus::Sent,
    EmailStatus::Failed,
    EmailStatus::Cancelled,
    EmailStatus::Suppressed,
];

/// Every reason an address is suppressed.
pub const SUPPRESSION_REASONS: [SuppressionReason; 5] = [
    SuppressionReason::Unsubscribed,
    SuppressionReason::Complained,
    SuppressionReason::HardBounce,
    SuppressionReason::Manual,
    SuppressionReason::SoftBounces,
];

/// Where an action came from in an email, as the statistics group it: one of the six
/// sections, a section mailscore does not know (an imported file's own names), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionSlot {
    Section(SectionKind),
    Other,
    None,
}

impl SectionSlot {
    /// Every slot, in the email's section order, then `other`, then `none`.
    pub const ALL: [SectionSlot; 8] = [
        Self::Section(SectionKind::Editorial),
        Self::Section(SectionKind::Top5),
        Self::Section(SectionKind::Regional),
        Self::Section(SectionKind::Nearby),
        Self::Section(SectionKind::HighIncome),
        Self::Section(SectionKind::New),
        Self::Other,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Section(kind) => kind.as_str(),
            Self::Other => "other",
            Self::None => "none",
        }
    }

    /// The slot of an action's `section` cell (a section's name, ASCII case ignored).
    pub fn of(section: Option<&str>) -> Self {
        match section {
            None => Self::None,
            Some(name) => SectionKind::ALL
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
                .map_or(Self::Other, Self::Section),
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|slot| *slot == self)
            .expect("every slot is in ALL")
    }
}

const N_SLOTS: usize = SectionSlot::ALL.len();

/// The dates the statistics of `date` cover, with their local day bounds: the window (its
/// last day is `date`) for the activity series and the hit rates, and the
/// [`HIT_HORIZON_DAYS`] after it, whose applications the last hit rates count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsPeriod {
    pub date: Date,
    /// The window's dates, oldest first; the last is `date`.
    pub window: Vec<Date>,
    /// Local midnight of the window's first date and of every date after it, up to the
    /// midnight that ends the last date's horizon: `window.len() + HIT_HORIZON_DAYS + 1`
    /// instants.
    starts: Vec<Micros>,
}

impl StatsPeriod {
    /// The `window_days` dates up to `date` (at least one), in `zone`.
    pub fn new(date: Date, window_days: usize, zone: &TimeZoneSetting) -> Self {
        let n = window_days.max(1);
        let first = date
            .checked_sub(jiff::Span::new().days(n as i64 - 1))
            .expect("date in range");
        let dates: Vec<Date> = (0..n + HIT_HORIZON_DAYS + 1)
            .map(|i| {
                first
                    .checked_add(jiff::Span::new().days(i as i64))
                    .expect("date in range")
            })
            .collect();
        Self {
            date,
            window: dates[..n].to_vec(),
            starts: dates.iter().map(|&day| zone.start_of_day(day)).collect(),
        }
    }

    /// The instants whose actions the statistics read: from the window's first midnight
    /// to the end of the last date's horizon.
    pub fn actions_range(&self) -> (Micros, Micros) {
        (
            self.starts[0],
            *self.starts.last().expect("at least two midnights"),
        )
    }

    /// Local midnight of the `i`-th date from the window's first.
    pub fn start_of(&self, i: usize) -> Micros {
        self.starts[i]
    }

    /// The horizon of the window's `i`-th date: the [`HIT_HORIZON_DAYS`] days after it,
    /// `[midnight of D+1, midnight of D+8)`.
    pub fn horizon_of(&self, i: usize) -> (Micros, Micros) {
        (self.starts[i + 1], self.starts[i + 1 + HIT_HORIZON_DAYS])
    }

    /// How many dates the period's midnights bound (the window and the last horizon).
    fn n_days(&self) -> usize {
        self.starts.len() - 1
    }

    /// The position (from the window's first date) of the local date `at` falls on, when
    /// it is in the period.
    fn day_of(&self, at: Micros) -> Option<usize> {
        let after = self.starts.partition_point(|&start| start <= at);
        (after >= 1 && after < self.starts.len()).then(|| after - 1)
    }
}

/// Opens, clicks and applications of one day and section slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub opens: u64,
    pub clicks: u64,
    pub applications: u64,
}

impl Activity {
    fn add(&mut self, other: &Activity) {
        self.opens += other.opens;
        self.clicks += other.clicks;
        self.applications += other.applications;
    }

    fn count(&mut self, kind: u8) {
        if kind == ActionType::Open as u8 {
            self.opens += 1;
        } else if kind == ActionType::Click as u8 {
            self.clicks += 1;
        } else if kind == ActionType::Applied as u8 {
            self.applications += 1;
        }
    }

    fn is_empty(&self) -> bool {
        *self == Activity::default()
    }
}

/// One day of the window: what users did, and the picks of that date.
#[derive(Debug, Clone, PartialEq)]
pub struct DayActivity {
    pub date: Date,
    /// Every action of the day, whatever its section.
    pub total: Activity,
    /// Addresses suppressed as unsubscribed that day (and still on the list).
    pub unsubscribes: u64,
    /// The day's activity by section slot, in [`SectionSlot::ALL`] order, slots with
    /// nothing left out.
    pub sections: Vec<(SectionSlot, Activity)>,
}

/// How well a date's picks predicted the applications of the [`HIT_HORIZON_DAYS`] days
/// after it (`[midnight of D+1, midnight of D+8)`; the date itself is not in it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HitRate {
    pub date: Date,
    pub horizon_start: Micros,
    pub horizon_end: Micros,
    /// Whether picks of the date are stored (when not, the rates are `None`).
    pub picks_stored: bool,
    pub users_picked: u64,
    pub picks: u64,
    /// `applied` actions in the horizon, by anyone (a user with no picks on the date
    /// counts too, and never hits).
    pub applications: u64,
    /// Of those, the ones to a job picked for the same user on the date.
    pub hits: u64,
    /// `hits / applications`.
    pub rate: Option<f64>,
    /// Picks whose user applied to their job in the horizon.
    pub picks_applied: u64,
    /// `picks_applied / picks`.
    pub precision: Option<f64>,
}

/// A histogram of scores over 0–100 in [`HISTOGRAM_BUCKETS`] equal buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Per bucket `[i × width, (i + 1) × width)`, the last one closed.
    pub counts: [u64; HISTOGRAM_BUCKETS],
    pub n: u64,
    pub mean: Option<f64>,
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; HISTOGRAM_BUCKETS],
            n: 0,
            mean: None,
            sum: 0.0,
        }
    }
}

impl Histogram {
    /// The width of each bucket.
    pub const WIDTH: f64 = 100.0 / HISTOGRAM_BUCKETS as f64;

    fn add(&mut self, score: f64) {
        let bucket = (score / Self::WIDTH).floor();
        let bucket = if bucket.is_nan() || bucket < 0.0 {
            0
        } else {
            (bucket as usize).min(HISTOGRAM_BUCKETS - 1)
        };
        self.counts[bucket] += 1;
        self.n += 1;
        self.sum += score;
    }

    fn finish(mut self) -> Self {
        self.mean = (self.n > 0).then(|| self.sum / self.n as f64);
        self
    }
}

/// The score distributions of a date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreDistributions {
    /// The basic score of the date's eligible jobs (those with a basic score above 0: every
    /// score of an ineligible job is 0, and an eligible one's popularity alone gives it
    /// more).
    pub jobs_basic: Histogram,
    /// Their SEO score.
    pub jobs_seo: Histogram,
    /// Scored jobs that were not eligible.
    pub jobs_ineligible: u64,
    /// The scores of the date's picks.
    pub picks_total: Histogram,
    pub picks_personalized: Histogram,
    pub picks_editorial: Histogram,
}

/// How one section of the date's emails was filled.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionFill {
    pub section: SectionKind,
    /// The section's size (settings) times the users picked: what a full fill would be.
    pub slots: u64,
    pub picks: u64,
    /// Users with fewer picks in the section than its size.
    pub users_short: u64,
    /// Picks per tier, in [`Tier::ALL`] order.
    pub tiers: [u64; Tier::ALL.len()],
}

/// Counts of what the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub jobs_active: u64,
    pub jobs_total: u64,
    pub users: u64,
    pub users_active: u64,
    pub users_subscribed: u64,
    /// Users whose address is on the suppression list.
    pub users_suppressed: u64,
    /// Users the daily run emails: active, subscribed, not suppressed.
    pub users_emailable: u64,
    /// Users with picks on the date.
    pub users_picked: u64,
    /// The date's emails by status, in [`EMAIL_STATUSES`] order.
    pub emails: [u64; EMAIL_STATUSES.len()],
    /// The suppression list by reason, in [`SUPPRESSION_REASONS`] order.
    pub suppressions: [u64; SUPPRESSION_REASONS.len()],
}

/// Everything the dashboard shows of a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub date: Date,
    pub window: Vec<Date>,
    pub counts: Counts,
    pub scores: ScoreDistributions,
    /// In the order of the settings' sections.
    pub section_fill: Vec<SectionFill>,
    /// One per window date, oldest first.
    pub days: Vec<DayActivity>,
    /// The window's activity by section slot, in [`SectionSlot::ALL`] order.
    pub sections: Vec<(SectionSlot, Activity)>,
    /// The hit rate of the date's picks.
    pub hit_rate: HitRate,
    /// One per window date, oldest first (the last is `hit_rate`).
    pub hit_rates: Vec<HitRate>,
    /// Days of actions that could not be read, left out.
    pub unreadable_days: Vec<String>,
}

/// What the statistics read besides the actions and the picks: the store's state now.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    pub jobs_active: u64,
    pub jobs_total: u64,
    pub users: &'a [User],
    pub suppressions: &'a [Suppression],
    /// The statuses of the date's queued emails.
    pub emails: &'a [EmailStatus],
    /// The date's job scores, when a run stored them.
    pub job_scores: Option<&'a JobScoreTable>,
    /// The sections of an email and their sizes (settings).
    pub sections: &'a [SectionSpec],
}

/// Everything [`compute`] reads, at once (the service streams the picks through a
/// [`StatsBuilder`] instead).
#[derive(Clone, Copy)]
pub struct StatsInputs<'a> {
    pub period: &'a StatsPeriod,
    /// Days of actions covering [`StatsPeriod::actions_range`] (rows outside it are
    /// ignored).
    pub action_days: &'a [Box<dyn ActionDay>],
    /// The stored picks of the window's dates (a date without any may be left out).
    pub picks: &'a [(Date, Vec<UserPicks>)],
    pub snapshot: Snapshot<'a>,
}

/// The statistics of `inputs.period.date`.
pub fn compute(inputs: &StatsInputs<'_>) -> Stats {
    let mut builder = StatsBuilder::new(inputs.period, inputs.action_days, inputs.snapshot);
    for (date, picks) in inputs.picks {
        builder.add_picks(*date, picks);
    }
    builder.finish(inputs.snapshot)
}

/// One application of the period: its job and instant.
#[derive(Debug, Clone, Copy)]
struct Application {
    job_id: u64,
    at: Micros,
}

/// What one day of actions contributes.
struct DayPart {
    /// Per period day: activity per slot.
    activity: Vec<(usize, [Activity; N_SLOTS])>,
    /// Applications after the window's first date, with their user.
    applications: Vec<(String, Application)>,
}

/// The activity and applications of one stored day of actions.
fn reduce_day(period: &StatsPeriod, day: &ActionColumns) -> DayPart {
    let slot_of_reference: Vec<usize> = (0..day.sections.len())
        .map(|i| SectionSlot::of(Some(day.sections.get(i))).index())
        .collect();
    let none = SectionSlot::None.index();
    let mut activity: Vec<(usize, [Activity; N_SLOTS])> = Vec::new();
    let mut applications = Vec::new();
    let first_horizon_start = period.start_of(1);
    for row in 0..day.len() {
        let at = day.action_at[row];
        let Some(day_index) = period.day_of(at) else {
            continue;
        };
        let slot = match day.section[row] {
            NO_REF => none,
            reference => slot_of_reference[reference as usize],
        };
        // A stored day is one UTC day: it meets at most two local days.
        let counts = match activity.iter_mut().find(|(i, _)| *i == day_index) {
            Some((_, counts)) => counts,
            None => {
                activity.push((day_index, [Activity::default(); N_SLOTS]));
                &mut activity.last_mut().expect("just pushed").1
            }
        };
        let kind = day.action_type[row];
        counts[slot].count(kind);
        if kind == ActionType::Applied as u8 && at >= first_horizon_start {
            applications.push((
                day.user_id(row).to_owned(),
                Application {
                    job_id: day.job_id[row],
                    at,
                },
            ));
        }
    }
    DayPart {
        activity,
        applications,
    }
}

/// The statistics of a date, built from its inputs one at a time: the action days when
/// it is made, then each date's picks ([`StatsBuilder::add_picks`]), then the rest
/// ([`StatsBuilder::finish`]).
pub struct StatsBuilder<'p> {
    period: &'p StatsPeriod,
    /// Per period day and slot.
    activity: Vec<[Activity; N_SLOTS]>,
    /// Applications per period day (every slot).
    applications_per_day: Vec<u64>,
    /// Each user's applications after the window's first date, by instant.
    applications: HashMap<String, Vec<Application>>,
    hit_rates: Vec<HitRate>,
    scores: ScoreDistributions,
    section_fill: Vec<SectionFill>,
    /// The size of each section of `section_fill`.
    section_sizes: Vec<u64>,
    users_picked: u64,
    unreadable_days: Vec<String>,
}

impl<'p> StatsBuilder<'p> {
    /// Reads the action days (those covering [`StatsPeriod::actions_range`]; rows outside
    /// it are ignored), each opened once, in parallel. `snapshot` gives the sections'
    /// sizes.
    pub fn new(
        period: &'p StatsPeriod,
        action_days: &[Box<dyn ActionDay>],
        snapshot: Snapshot<'_>,
    ) -> Self {
        let n_days = period.n_days();
        let parts: Vec<Result<DayPart, String>> = action_days
            .par_iter()
            .map(|stored| Ok(reduce_day(period, stored.columns()?.as_ref())))
            .collect();
        let mut activity = vec![[Activity::default(); N_SLOTS]; n_days];
        let mut applications: HashMap<String, Vec<Application>> = HashMap::new();
        let mut unreadable_days = Vec::new();
        for part in parts {
            match part {
                Ok(part) => {
                    for (day, counts) in part.activity {
                        for (total, count) in activity[day].iter_mut().zip(&counts) {
                            total.add(count);
                        }
                    }
                    for (user, application) in part.applications {
                        applications.entry(user).or_default().push(application);
                    }
                }
                Err(error) => unreadable_days.push(error),
            }
        }
        for own in applications.values_mut() {
            own.sort_unstable_by_key(|a| (a.at, a.job_id));
        }
        let applications_per_day = activity
            .iter()
            .map(|slots| slots.iter().map(|a| a.applications).sum())
            .collect();
        let hit_rates = (0..period.window.len())
            .map(|i| {
                let (horizon_start, horizon_end) = period.horizon_of(i);
                HitRate {
                    date: period.window[i],
                    horizon_start,
                    horizon_end,
                    picks_stored: false,
                    users_picked: 0,
                    picks: 0,
                    applications: 0,
                    hits: 0,
                    rate: None,
                    picks_applied: 0,
                    precision: None,
                }
            })
            .collect();
        let section_fill = snapshot
            .sections
            .iter()
            .map(|spec| SectionFill {
                section: spec.kind,
                slots: 0,
                picks: 0,
                users_short: 0,
                tiers: [0; Tier::ALL.len()],
            })
            .collect();
        Self {
            period,
            activity,
            applications_per_day,
            applications,
            hit_rates,
            scores: ScoreDistributions::default(),
            section_fill,
            section_sizes: snapshot
                .sections
                .iter()
                .map(|spec| spec.count as u64)
                .collect(),
            users_picked: 0,
            unreadable_days,
        }
    }

    /// Adds the stored picks of a window date (others are ignored): its hit rate, and for
    /// the period's date its score distributions and section fill. Call it once per date.
    pub fn add_picks(&mut self, date: Date, picks: &[UserPicks]) {
        let Some(i) = self.period.window.iter().position(|&d| d == date) else {
            return;
        };
        let (horizon_start, horizon_end) = self.period.horizon_of(i);
        let hit = &mut self.hit_rates[i];
        hit.picks_stored |= !picks.is_empty();
        let mut picked: Vec<u64> = Vec::with_capacity(64);
        let mut applied: Vec<u64> = Vec::with_capacity(64);
        for user in picks {
            if user.picks.is_empty() {
                continue;
            }
            hit.users_picked += 1;
            hit.picks += user.picks.len() as u64;
            let Some(own) = self.applications.get(user.user_id.as_str()) else {
                continue;
            };
            let from = own.partition_point(|a| a.at < horizon_start);
            let to = own.partition_point(|a| a.at < horizon_end);
            if from == to {
                continue;
            }
            picked.clear();
            picked.extend(user.picks.iter().map(|p| p.job_id));
            picked.sort_unstable();
            applied.clear();
            for application in &own[from..to] {
                if picked.binary_search(&application.job_id).is_ok() {
                    hit.hits += 1;
                    applied.push(application.job_id);
                }
            }
            applied.sort_unstable();
            applied.dedup();
            hit.picks_applied += applied.len() as u64;
        }
        if date == self.period.date {
            self.add_date_picks(picks);
        }
    }

    /// The score distributions and the section fill of the period date's picks.
    fn add_date_picks(&mut self, picks: &[UserPicks]) {
        let mut per_section: Vec<u64> = vec![0; self.section_fill.len()];
        for user in picks {
            if user.picks.is_empty() {
                continue;
            }
            self.users_picked += 1;
            per_section.iter_mut().for_each(|n| *n = 0);
            for pick in &user.picks {
                self.scores.picks_total.add(pick.total);
                self.scores.picks_personalized.add(pick.personalized);
                self.scores.picks_editorial.add(pick.editorial);
                let section = SectionKind::from_code(pick.section);
                if let Some(position) = self
                    .section_fill
                    .iter()
                    .position(|fill| Some(fill.section) == section)
                {
                    let fill = &mut self.section_fill[position];
                    fill.picks += 1;
                    per_section[position] += 1;
                    if let Some(tier) = Tier::from_code(pick.tier) {
                        fill.tiers[tier.code() as usize] += 1;
                    }
                }
            }
            for ((fill, &n), &size) in self
                .section_fill
                .iter_mut()
                .zip(&per_section)
                .zip(&self.section_sizes)
            {
                fill.slots += size;
                fill.users_short += u64::from(n < size);
            }
        }
    }

    /// The statistics, with the counts and the job scores of `snapshot`.
    pub fn finish(mut self, snapshot: Snapshot<'_>) -> Stats {
        let period = self.period;
        for hit in &mut self.hit_rates {
            let i = period
                .window
                .iter()
                .position(|&d| d == hit.date)
                .expect("a window date");
            hit.applications = self.applications_per_day[i + 1..=i + HIT_HORIZON_DAYS]
                .iter()
                .sum();
            if hit.picks_stored {
                hit.rate =
                    (hit.applications > 0).then(|| hit.hits as f64 / hit.applications as f64);
                hit.precision =
                    (hit.picks > 0).then(|| hit.picks_applied as f64 / hit.picks as f64);
            }
        }
        if let Some(table) = snapshot.job_scores {
            for (&basic, &seo) in table.basic.iter().zip(&table.seo) {
                if basic > 0.0 {
                    self.scores.jobs_basic.add(basic);
                    self.scores.jobs_seo.add(seo);
                } else {
                    self.scores.jobs_ineligible += 1;
                }
            }
        }
        let scores = ScoreDistributions {
            jobs_basic: self.scores.jobs_basic.finish(),
            jobs_seo: self.scores.jobs_seo.finish(),
            jobs_ineligible: self.scores.jobs_ineligible,
            picks_total: self.scores.picks_total.finish(),
            picks_personalized: self.scores.picks_personalized.finish(),
            picks_editorial: self.scores.picks_editorial.finish(),
        };
        let unsubscribes = unsubscribes_per_day(period, snapshot.suppressions);
        let mut window_sections = [Activity::default(); N_SLOTS];
        let days = period
            .window
            .iter()
            .enumerate()
            .map(|(i, &date)| {
                let mut total = Activity::default();
                let mut sections = Vec::new();
                for (slot_index, counts) in self.activity[i].iter().enumerate() {
                    total.add(counts);
                    window_sections[slot_index].add(counts);
                    if !counts.is_empty() {
                        sections.push((SectionSlot::ALL[slot_index], *counts));
                    }
                }
                DayActivity {
                    date,
                    total,
                    unsubscribes: unsubscribes[i],
                    sections,
                }
            })
            .collect();
        let counts = counts_of(snapshot, self.users_picked);
        let hit_rate = *self
            .hit_rates
            .last()
            .expect("a window of at least one date");
        Stats {
            date: period.date,
            window: period.window.clone(),
            counts,
            scores,
            section_fill: self.section_fill,
            days,
            sections: SectionSlot::ALL.into_iter().zip(window_sections).collect(),
            hit_rate,
            hit_rates: self.hit_rates,
            unreadable_days: self.unreadable_days,
        }
    }
}

/// Addresses suppressed as unsubscribed per window day.
fn unsubscribes_per_day(period: &StatsPeriod, suppressions: &[Suppression]) -> Vec<u64> {
    let mut per_day = vec![0; period.window.len()];
    for suppression in suppressions {
        if suppression.reason != SuppressionReason::Unsubscribed {
            continue;
        }
        if let Some(day) = period
            .day_of(suppression.created_at)
            .filter(|&day| day < per_day.len())
        {
            per_day[day] += 1;
        }
    }
    per_day
}

fn counts_of(snapshot: Snapshot<'_>, users_picked: u64) -> Counts {
    let mut suppressed: Vec<String> = snapshot
        .suppressions
        .iter()
        .map(|s| s.address.as_str().to_ascii_lowercase())
        .collect();
    suppressed.sort_unstable();
    let mut counts = Counts {
        jobs_active: snapshot.jobs_active,
        jobs_total: snapshot.jobs_total,
        users: snapshot.users.len() as u64,
        users_picked,
        ..Counts::default()
    };
    for user in snapshot.users {
        let is_suppressed = suppressed
            .binary_search(&user.email.as_str().to_ascii_lowercase())
            .is_ok();
        counts.users_active += u64::from(user.is_active);
        counts.users_subscribed += u64::from(user.subscribed);
        counts.users_suppressed += u64::from(is_suppressed);
        counts.users_emailable += u64::from(user.is_active && user.subscribed && !is_suppressed);
    }
    for status in snapshot.emails {
        let i = EMAIL_STATUSES
            .iter()
            .position(|s| s == status)
            .expect("every status is listed");
        counts.emails[i] += 1;
    }
    for suppression in snapshot.suppressions {
        let i = SUPPRESSION_REASONS
            .iter()
            .position(|r| *r == suppression.reason)
            .expect("every reason is listed");
        counts.suppressions[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columnar::StrColumn;
    use crate::domain::action::{ActionColumnsBuilder, ActionRow, DecodedActionDay};
    use crate::domain::batch::StoredPick;
    use crate::domain::{EmailAddress, UserId};

    const D: &str = "2025-07-10";

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    /// `days` after D (before, when negative), at `hh:mm:ss` Tokyo time, plus `micros`.
    fn at(days: i64, time: &str, micros: i64) -> Micros {
        let day = date(D).checked_add(jiff::Span::new().days(days)).unwrap();
        TimeZoneSetting::tokyo()
            .parse_timestamp(&format!("{day} {time}+09"))
            .unwrap()
            + micros
    }

    fn user(id: &str, active: bool, subscribed: bool) -> User {
        User {
            user_id: UserId::parse(id).unwrap(),
            email: EmailAddress::parse(&format!("{id}@example.jp")).unwrap(),
            name: None,
            pref_cd: None,
            city_cd: None,
            age_range: None,
            gender: None,
            is_active: active,
            subscribed,
            created_at: None,
            extra: Vec::new(),
            consent: None,
        }
    }

    fn pick(section: SectionKind, tier: Tier, job_id: u64, total: f64) -> StoredPick {
        StoredPick {
            section: section.code(),
            rank: 1,
            job_id,
            tier: tier.code(),
            personalized: 50.0,
            basic: 0.0,
            seo: 0.0,
            total,
            editorial: 0.0,
            reasons: 0,
        }
    }

    fn picks_of(user: &str, picks: Vec<StoredPick>) -> UserPicks {
        UserPicks {
            user_id: UserId::parse(user).unwrap(),
            picks,
            fallback: false,
        }
    }

    /// One stored day holding `actions` (user, job, type, instant, section).
    fn day_of(actions: &[(&str, u64, ActionType, Micros, Option<&str>)]) -> Box<dyn ActionDay> {
        let mut builder = ActionColumnsBuilder::new();
        for &(user, job_id, kind, action_at, section) in actions {
            builder.push(&ActionRow {
                user_id: user,
                job_id,
                action_type: Some(kind),
                action_at,
                section,
                ..ActionRow::default()
            });
        }
        Box::new(DecodedActionDay {
            day: 0,
            columns: builder.finish(),
        })
    }

    fn sections() -> Vec<SectionSpec> {
        vec![
            SectionSpec {
                kind: SectionKind::Editorial,
                count: 2,
            },
            SectionSpec {
                kind: SectionKind::Top5,
                count: 1,
            },
        ]
    }

    struct Fixture {
        users: Vec<User>,
        suppressions: Vec<Suppression>,
        emails: Vec<EmailStatus>,
        scores: JobScoreTable,
        sections: Vec<SectionSpec>,
        period: StatsPeriod,
        days: Vec<Box<dyn ActionDay>>,
        picks: Vec<(Date, Vec<UserPicks>)>,
    }

    impl Fixture {
        fn stats(&self) -> Stats {
            compute(&StatsInputs {
                period: &self.period,
                action_days: &self.days,
                picks: &self.picks,
                snapshot: Snapshot {
                    jobs_active: 3,
                    jobs_total: 4,
                    users: &self.users,
                    suppressions: &self.suppressions,
                    emails: &self.emails,
                    job_scores: Some(&self.scores),
                    sections: &self.sections,
                },
            })
        }
    }

    /// D's picks: a gets jobs 1 and 2, b job 3; D−1's: a gets job 5; D−2 has none stored.
    fn fixture(actions: &[(&str, u64, ActionType, Micros, Option<&str>)]) -> Fixture {
        use SectionKind::{Editorial, Top5};
        let d = date(D);
        let day_before = d.checked_sub(jiff::Span::new().days(1)).unwrap();
        Fixture {
            users: vec![
                user("a", true, true),
                user("b", false, true),
                user("c", true, true),
            ],
            suppressions: vec![
                Suppression {
                    address: EmailAddress::parse("C@example.jp").unwrap(),
                    reason: SuppressionReason::Unsubscribed,
                    created_at: at(0, "09:00:00", 0),
                    note: None,
                },
                Suppression {
                    address: EmailAddress::parse("x@example.jp").unwrap(),
                    reason: SuppressionReason::Complained,
                    created_at: at(0, "09:00:00", 0),
                    note: None,
                },
            ],
            emails: vec![EmailStatus::Pending, EmailStatus::Sent, EmailStatus::Sent],
            scores: JobScoreTable {
                job_id: vec![1, 2, 3],
                basic: vec![0.0, 55.5, 100.0],
                wage: vec![0.0; 3],
                fee: vec![0.0; 3],
                popularity: vec![0.0; 3],
                seo: vec![0.0, 5.0, 95.0],
                needs: StrColumn::new(),
                occupation_category: vec![0; 3],
                matched_keywords: StrColumn::new(),
            },
            sections: sections(),
            period: StatsPeriod::new(d, 3, &TimeZoneSetting::tokyo()),
            days: vec![day_of(actions)],
            picks: vec![
                (
                    d,
                    vec![
                        picks_of(
                            "a",
                            vec![
                                pick(Editorial, Tier::City, 1, 0.0),
                                pick(Editorial, Tier::All, 2, 9.99),
                            ],
                        ),
                        picks_of("b", vec![pick(Top5, Tier::Prefecture, 3, 100.0)]),
                        picks_of("d", vec![]),
                    ],
                ),
                (
                    day_before,
                    vec![picks_of("a", vec![pick(Editorial, Tier::City, 5, 10.0)])],
                ),
            ],
        }
    }

    use ActionType::{Applied, Click, Open};

    #[test]
    fn the_hit_rate_counts_the_seven_days_after_the_date_and_not_the_date_itself() {
        let stats = fixture(&[
            // On D itself: not after D, so not in D's hit rate (but in D−1's).
            ("a", 1, Applied, at(0, "12:00:00", 0), None),
            // The first and the last instant of the seven days after D.
            ("a", 1, Applied, at(1, "00:00:00", 0), None),
            ("a", 2, Applied, at(7, "23:59:59", 999_999), None),
            // The midnight that ends them: outside.
            ("a", 2, Applied, at(8, "00:00:00", 0), None),
            // A user with no picks on D: counted, never a hit.
            ("c", 1, Applied, at(2, "10:00:00", 0), None),
            // A job not picked for the user.
            ("b", 4, Applied, at(3, "10:00:00", 0), None),
            // The same pick applied to again: two hits, one pick applied.
            ("a", 1, Applied, at(4, "10:00:00", 0), None),
            // A click is no application.
            ("a", 1, Click, at(2, "10:00:00", 0), Some("top5")),
        ])
        .stats();
        let hit = stats.hit_rate;
        assert_eq!(hit.date, date(D));
        assert_eq!(
            (hit.horizon_start, hit.horizon_end),
            (at(1, "00:00:00", 0), at(8, "00:00:00", 0))
        );
        assert!(hit.picks_stored);
        assert_eq!(
            hit.users_picked, 2,
            "a user with an empty list is not picked"
        );
        assert_eq!(hit.picks, 3);
        assert_eq!(hit.applications, 5);
        assert_eq!(hit.hits, 3);
        assert_eq!(hit.rate, Some(3.0 / 5.0));
        assert_eq!(hit.picks_applied, 2);
        assert_eq!(hit.precision, Some(2.0 / 3.0));

        let [two_before, day_before, on_d] = &stats.hit_rates[..] else {
            panic!("{:?}", stats.hit_rates)
        };
        assert_eq!(on_d, &hit);
        // D−1's seven days are D … D+6: the application on D counts, D+7's does not.
        assert_eq!(day_before.applications, 5);
        assert_eq!(day_before.hits, 0, "a's pick of D−1 was job 5");
        assert_eq!(day_before.rate, Some(0.0));
        // No picks stored for D−2: no rate, though its applications are counted.
        assert!(!two_before.picks_stored);
        assert_eq!(two_before.applications, 5);
        assert_eq!((two_before.rate, two_before.precision), (None, None));
    }

    #[test]
    fn no_application_after_the_date_leaves_its_rate_undefined_and_its_precision_zero() {
        let stats = fixture(&[("a", 1, Applied, at(0, "12:00:00", 0), None)]).stats();
        assert_eq!(stats.hit_rate.applications, 0);
        assert_eq!(stats.hit_rate.rate, None);
        assert_eq!(stats.hit_rate.precision, Some(0.0));
    }

    #[test]
    fn activity_is_counted_by_local_day_and_section() {
        let stats = fixture(&[
            ("a", 1, Click, at(-1, "23:59:59", 0), Some("top5")),
            ("a", 1, Click, at(0, "00:00:00", 0), Some("Weird")),
            ("a", 1, Open, at(0, "10:00:00", 0), None),
            ("a", 1, Applied, at(0, "12:00:00", 0), Some("TOP5")),
            // Before the window, and after the date: not in the series.
            ("a", 1, Open, at(-3, "23:00:00", 0), None),
            ("a", 1, Open, at(1, "01:00:00", 0), None),
        ])
        .stats();
        let days: Vec<(String, Activity, u64)> = stats
            .days
            .iter()
            .map(|d| (d.date.to_string(), d.total, d.unsubscribes))
            .collect();
        let activity = |opens, clicks, applications| Activity {
            opens,
            clicks,
            applications,
        };
        assert_eq!(
            days,
            [
                ("2025-07-08".to_owned(), activity(0, 0, 0), 0),
                ("2025-07-09".to_owned(), activity(0, 1, 0), 0),
                ("2025-07-10".to_owned(), activity(1, 1, 1), 1),
            ]
        );
        let top5 = SectionSlot::Section(SectionKind::Top5);
        assert_eq!(stats.days[1].sections, [(top5, activity(0, 1, 0))]);
        assert_eq!(
            stats.days[2].sections,
            [
                (top5, activity(0, 0, 1)),
                (SectionSlot::Other, activity(0, 1, 0)),
                (SectionSlot::None, activity(1, 0, 0)),
            ]
        );
        let window: Vec<(&str, Activity)> = stats
            .sections
            .iter()
            .filter(|(_, a)| !a.is_empty())
            .map(|(slot, a)| (slot.as_str(), *a))
            .collect();
        assert_eq!(
            window,
            [
                ("top5", activity(0, 1, 1)),
                ("other", activity(0, 1, 0)),
                ("none", activity(1, 0, 0))
            ]
        );
    }

    #[test]
    fn scores_fall_into_ten_buckets_and_ineligible_jobs_are_counted_apart() {
        let stats = fixture(&[]).stats();
        let scores = &stats.scores;
        assert_eq!(scores.jobs_ineligible, 1);
        assert_eq!(scores.jobs_basic.n, 2);
        assert_eq!(scores.jobs_basic.counts, [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(scores.jobs_basic.mean, Some((55.5 + 100.0) / 2.0));
        assert_eq!(scores.jobs_seo.counts, [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        // D's picks only: 0, 9.99 and 100 (D−1's 10 is not in them).
        assert_eq!(scores.picks_total.counts, [2, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(scores.picks_personalized.counts[5], 3);
    }

    #[test]
    fn sections_are_filled_by_tier_against_their_size() {
        let stats = fixture(&[]).stats();
        let [editorial, top5] = &stats.section_fill[..] else {
            panic!("{:?}", stats.section_fill)
        };
        assert_eq!(editorial.section, SectionKind::Editorial);
        assert_eq!((editorial.slots, editorial.picks), (4, 2));
        assert_eq!(editorial.users_short, 1, "b has no editorial pick");
        assert_eq!(editorial.tiers, [1, 0, 0, 0, 1]);
        assert_eq!((top5.slots, top5.picks, top5.users_short), (2, 1, 1));
        assert_eq!(top5.tiers, [0, 1, 0, 0, 0]);
    }

    #[test]
    fn counts_follow_the_users_the_suppressions_and_the_queue() {
        let counts = fixture(&[]).stats().counts;
        assert_eq!((counts.jobs_active, counts.jobs_total), (3, 4));
        assert_eq!(counts.users, 3);
        assert_eq!(counts.users_active, 2);
        assert_eq!(counts.users_subscribed, 3);
        assert_eq!(counts.users_suppressed, 1, "c's address, case ignored");
        assert_eq!(counts.users_emailable, 1, "a alone");
        assert_eq!(counts.users_picked, 2);
        assert_eq!(counts.emails, [1, 0, 2, 0, 0, 0]);
        assert_eq!(counts.suppressions, [1, 1, 0, 0, 0]);
    }

    #[test]
    fn a_period_bounds_local_days_and_the_week_after_its_date() {
        let period = StatsPeriod::new(date(D), 30, &TimeZoneSetting::tokyo());
        assert_eq!(period.window.len(), 30);
        assert_eq!(period.window[0], date("2025-06-11"));
        assert_eq!(*period.window.last().unwrap(), date(D));
        assert_eq!(
            period.actions_range(),
            (at(-29, "00:00:00", 0), at(8, "00:00:00", 0))
        );
        assert_eq!(period.day_of(at(-29, "00:00:00", 0)), Some(0));
        assert_eq!(period.day_of(at(-29, "00:00:00", -1)), None);
        assert_eq!(period.day_of(at(7, "23:59:59", 999_999)), Some(36));
        assert_eq!(period.day_of(at(8, "00:00:00", 0)), None);
    }
}

//! The 40 picks (SPEC §4): for each user, six sections filled tier by tier from the day's
//! eligible jobs, under the exclusions and the company cap. Pure and deterministic.
//!
//! Per user, one pass over the eligible jobs computes the personalised, total and editorial
//! scores and keeps, for each (ordering, tier) list a section can read, the best few
//! candidates; the sections then take from those short lists. A list that runs out because
//! its best candidates were taken or capped is rebuilt in full, so the result is exactly
//! what a full sort would give.

pub mod reasons;

use std::collections::HashMap;

use crate::domain::JobColumns;
use crate::domain::User;
use crate::domain::job::none;
use crate::scoring::actions::NO_COMPANY;
use crate::scoring::jobs::{JobScores, is_high_income};
use crate::scoring::profile::{Geography, UserProfile, salary_score, share_score};
use crate::scoring::{DAILY_PAY, DayWindows, HIGH_WAGE, ScoringConfig, SectionKind, round6};
use reasons::Reason;

/// Where a pick came from within its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The user's city and its adjacent cities.
    City,
    Prefecture,
    Region,
    /// The section's own filter, any place.
    Anywhere,
    /// Any remaining eligible job.
    All,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::City => "city",
            Self::Prefecture => "prefecture",
            Self::Region => "region",
            Self::Anywhere => "anywhere",
            Self::All => "all",
        }
    }

    pub const ALL: [Tier; 5] = [
        Self::City,
        Self::Prefecture,
        Self::Region,
        Self::Anywhere,
        Self::All,
    ];

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    pub fn code(self) -> u8 {
        Self::ALL
            .iter()
            .position(|t| *t == self)
            .expect("every tier is in ALL") as u8
    }
}

/// One of a user's picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    pub section: SectionKind,
    /// 1-based rank within the section.
    pub rank: u8,
    /// Row of the job in the day's [`JobColumns`].
    pub job_index: u32,
    pub tier: Tier,
    pub personalized: f64,
    pub total: f64,
    pub editorial: f64,
    pub reasons: u16,
}

/// Which candidates a list holds, and in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Order {
    /// Editorial score, then total.
    Editorial,
    /// Personalised score, then total.
    Personal,
    /// Total.
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Filter {
    None,
    HighIncome,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ListSpec {
    order: Order,
    filter: Filter,
    tier: Tier,
}

/// Properties of a job for one user, as bits: which lists it may enter.
const ALL_JOBS: u8 = 1;
const IN_CITY_TIER: u8 = 2;
const IN_PREFECTURE: u8 = 4;
const IN_REGION: u8 = 8;
const HIGH_INCOME: u8 = 16;
const NEW: u8 = 32;

impl ListSpec {
    /// The job properties this list requires.
    fn required_properties(self) -> u8 {
        let tier = match self.tier {
            Tier::City => IN_CITY_TIER,
            Tier::Prefecture => IN_PREFECTURE,
            Tier::Region => IN_REGION,
            Tier::Anywhere | Tier::All => ALL_JOBS,
        };
        let filter = match self.filter {
            Filter::None => ALL_JOBS,
            Filter::HighIncome => HIGH_INCOME,
            Filter::New => NEW,
        };
        tier | filter
    }
}

/// The tiers of each section, in order (SPEC §4).
fn section_tiers(kind: SectionKind) -> (Order, Filter, &'static [Tier]) {
    match kind {
        SectionKind::Editorial => (Order::Editorial, Filter::None, &[Tier::All]),
        SectionKind::Top5 => (Order::Personal, Filter::None, &[Tier::All]),
        SectionKind::Regional => (
            Order::Total,
            Filter::None,
            &[Tier::Prefecture, Tier::Region, Tier::All],
        ),
        SectionKind::Nearby => (
            Order::Total,
            Filter::None,
            &[Tier::City, Tier::Prefecture, Tier::Region, Tier::All],
        ),
        SectionKind::HighIncome => (
            Order::Total,
            Filter::HighIncome,
            &[Tier::Prefecture, Tier::Region, Tier::Anywhere, Tier::All],
        ),
        SectionKind::New => (
            Order::Total,
            Filter::New,
            &[Tier::Prefecture, Tier::Region, Tier::Anywhere, Tier::All],
        ),
    }
}

/// The day's eligible jobs, prepared once for every user.
pub struct MatchContext<'a> {
    pub jobs: &'a JobColumns,
    pub scores: &'a JobScores,
    pub config: &'a ScoringConfig,
    pub geography: &'a Geography,
    pub windows: DayWindows,
    /// Eligible job rows, ascending (so ascending `job_id`).
    pub eligible: Vec<u32>,
    company: Vec<u32>,
    pref: Vec<u16>,
    city: Vec<u32>,
    region: Vec<u16>,
    /// Dense ids for the per-user look-up tables.
    pref_slot: Vec<u16>,
    city_slot: Vec<u32>,
    occupation_slot: Vec<u32>,
    employment_slot: Vec<u16>,
    /// Jobs with the same place, occupation and employment type share the personalised
    /// score but for the salary component: their group, and each group's slots.
    group_of: Vec<u32>,
    group_slots: Vec<(u16, u32, u32, u16)>,
    /// The eligible positions of each group: `group_members[group_start[g]..group_start[g + 1]]`.
    group_start: Vec<u32>,
    group_members: Vec<u32>,
    wage: Vec<f64>,
    /// 0.3 × basic + 0.2 × SEO.
    job_part: Vec<f64>,
    /// 0.5 × fee score + 0.5 × min(100, 2 × recent applications).
    editorial_base: Vec<f64>,
    high_income: Vec<bool>,
    new: Vec<bool>,
    pref_values: Vec<u16>,
    city_values: Vec<u32>,
    occupation_values: Vec<u32>,
    employment_values: Vec<u16>,
    by_company: HashMap<u32, Vec<u32>>,
    position_of_job: HashMap<u64, u32>,
    /// Candidate orders for the pruned lists (eligible positions, best upper bound first).
    orders: CandidateOrders,
}

/// Eligible positions sorted by the user-independent part of a score, so that a user's scan
/// can stop once no later job can enter a list: by `job_part` (total = 0.5 × personalised
/// + job part) per filter and place, and by `editorial_base`.
#[derive(Default)]
struct CandidateOrders {
    /// `[filter]` (none, high income, new) → positions by job part, descending.
    all: [Vec<u32>; 3],
    by_pref: [HashMap<u16, Vec<u32>>; 3],
    by_region: [HashMap<u16, Vec<u32>>; 3],
    by_city: HashMap<u32, Vec<u32>>,
    editorial_all: Vec<u32>,
    editorial_by_pref: HashMap<u16, Vec<u32>>,
}

fn filter_index(filter: Filter) -> usize {
    match filter {
        Filter::None => 0,
        Filter::HighIncome => 1,
        Filter::New => 2,
    }
}

const NO_REGION: u16 = u16::MAX;

fn slot_of<T: Copy + Eq + std::hash::Hash>(
    values: &mut Vec<T>,
    index: &mut HashMap<T, usize>,
    value: T,
) -> usize {
    *index.entry(value).or_insert_with(|| {
        values.push(value);
        values.len() - 1
    })
}

impl<'a> MatchContext<'a> {
    pub fn new(
        jobs: &'a JobColumns,
        scores: &'a JobScores,
        job_company: &[u32],
        recent_applications: &HashMap<u64, u32>,
        geography: &'a Geography,
        windows: DayWindows,
        config: &'a ScoringConfig,
    ) -> Self {
        let eligible: Vec<u32> = (0..jobs.len() as u32)
            .filter(|&i| scores.eligible[i as usize])
            .collect();
        let n = eligible.len();
        let mut context = Self {
            jobs,
            scores,
            config,
            geography,
            windows,
            company: Vec::with_capacity(n),
            pref: Vec::with_capacity(n),
            city: Vec::with_capacity(n),
            region: Vec::with_capacity(n),
            pref_slot: Vec::with_capacity(n),
            city_slot: Vec::with_capacity(n),
            occupation_slot: Vec::with_capacity(n),
            employment_slot: Vec::with_capacity(n),
            group_of: Vec::with_capacity(n),
            group_slots: Vec::new(),
            group_start: Vec::new(),
            group_members: Vec::new(),
            wage: Vec::with_capacity(n),
            job_part: Vec::with_capacity(n),
            editorial_base: Vec::with_capacity(n),
            high_income: Vec::with_capacity(n),
            new: Vec::with_capacity(n),
            pref_values: Vec::new(),
            city_values: Vec::new(),
            occupation_values: Vec::new(),
            employment_values: Vec::new(),
            by_company: HashMap::new(),
            position_of_job: HashMap::with_capacity(n),
            eligible: Vec::new(),
            orders: CandidateOrders::default(),
        };
        let (mut pref_index, mut city_index, mut occupation_index, mut employment_index) = (
            HashMap::new(),
            HashMap::new(),
            HashMap::new(),
            HashMap::new(),
        );
        for (position, &row) in eligible.iter().enumerate() {
            let i = row as usize;
            let pref = jobs.pref_cd[i];
            context.company.push(job_company[i]);
            context.pref.push(pref);
            context.city.push(jobs.city_cd[i]);
            context
                .region
                .push(geography.region_of(pref).unwrap_or(NO_REGION));
            context
                .pref_slot
                .push(slot_of(&mut context.pref_values, &mut pref_index, pref) as u16);
            context.city_slot.push(slot_of(
                &mut context.city_values,
                &mut city_index,
                jobs.city_cd[i],
            ) as u32);
            context.occupation_slot.push(slot_of(
                &mut context.occupation_values,
                &mut occupation_index,
                jobs.occupation_cd1[i],
            ) as u32);
            context.employment_slot.push(slot_of(
                &mut context.employment_values,
                &mut employment_index,
                jobs.employment_type_cd[i],
            ) as u16);
            context.wage.push(scores.wage[i]);
            context
                .job_part
                .push(0.3 * scores.basic[i] + 0.2 * scores.seo[i]);
            let recent = recent_applications
                .get(&jobs.job_id[i])
                .copied()
                .unwrap_or(0);
            context
                .editorial_base
                .push(0.5 * scores.fee_score[i] + 0.5 * (2.0 * f64::from(recent)).min(100.0));
            context.high_income.push(is_high_income(scores, i, config));
            context
                .new
                .push(jobs.start_at[i] != none::START && jobs.start_at[i] >= windows.new_start);
            if job_company[i] != NO_COMPANY {
                context
                    .by_company
                    .entry(job_company[i])
                    .or_default()
                    .push(position as u32);
            }
            context
                .position_of_job
                .insert(jobs.job_id[i], position as u32);
        }
        context.eligible = eligible;
        let mut group_index: HashMap<(u16, u32, u32, u16), u32> = HashMap::new();
        for e in 0..n {
            let slots = (
                context.pref_slot[e],
                context.city_slot[e],
                context.occupation_slot[e],
                context.employment_slot[e],
            );
            let next = group_index.len() as u32;
            let group = *group_index.entry(slots).or_insert_with(|| {
                context.group_slots.push(slots);
                next
            });
            context.group_of.push(group);
        }
        let n_groups = context.group_slots.len();
        let mut counts = vec![0u32; n_groups + 1];
        for &group in &context.group_of {
            counts[group as usize + 1] += 1;
        }
        for g in 0..n_groups {
            counts[g + 1] += counts[g];
        }
        context.group_start = counts.clone();
        context.group_members = vec![0; n];
        for (e, &group) in context.group_of.iter().enumerate() {
            let slot = &mut counts[group as usize];
            context.group_members[*slot as usize] = e as u32;
            *slot += 1;
        }
        context.orders = context.candidate_orders();
        context
    }

    fn candidate_orders(&self) -> CandidateOrders {
        let n = self.eligible.len() as u32;
        let by_job_part = |a: &u32, b: &u32| {
            self.job_part[*b as usize]
                .total_cmp(&self.job_part[*a as usize])
                .then(a.cmp(b))
        };
        let by_editorial = |a: &u32, b: &u32| {
            self.editorial_base[*b as usize]
                .total_cmp(&self.editorial_base[*a as usize])
                .then(a.cmp(b))
        };
        let mut orders = CandidateOrders::default();
        for (index, filter) in [Filter::None, Filter::HighIncome, Filter::New]
            .into_iter()
            .enumerate()
        {
            let passes = |e: u32| match filter {
                Filter::None => true,
                Filter::HighIncome => self.high_income[e as usize],
                Filter::New => self.new[e as usize],
            };
            let mut all: Vec<u32> = (0..n).filter(|&e| passes(e)).collect();
            all.sort_unstable_by(by_job_part);
            for &e in &all {
                orders.by_pref[index]
                    .entry(self.pref[e as usize])
                    .or_default()
                    .push(e);
                if self.region[e as usize] != NO_REGION {
                    orders.by_region[index]
                        .entry(self.region[e as usize])
                        .or_default()
                        .push(e);
                }
            }
            orders.all[index] = all;
        }
        for e in 0..n {
            if self.city[e as usize] != none::CODE {
                orders
                    .by_city
                    .entry(self.city[e as usize])
                    .or_default()
                    .push(e);
            }
        }
        let mut editorial: Vec<u32> = (0..n).collect();
        editorial.sort_unstable_by(by_editorial);
        for &e in &editorial {
            orders
                .editorial_by_pref
                .entry(self.pref[e as usize])
                .or_default()
                .push(e);
        }
        orders.editorial_all = editorial;
        orders
    }

    pub fn n_eligible(&self) -> usize {
        self.eligible.len()
    }
}

/// Per-user look-up tables: the score of each value of each attribute.
struct UserTables {
    has_applications: bool,
    pref: Vec<u8>,
    city: Vec<u8>,
    occupation: Vec<u8>,
    employment: Vec<u8>,
    /// Integer weights (percent) of the present components.
    weight_pref: u32,
    weight_city: u32,
    weight_occupation: u32,
    weight_employment: u32,
    weight_salary: u32,
    weight_company: u32,
    denominator: u32,
    mean_wage: f64,
    /// Per job group: the numerator without the salary component.
    group_numerator: Vec<u32>,
    /// Per job group: an upper bound of 0.5 × personalised (salary component at its best).
    group_half_bound: Vec<f64>,
}

impl UserTables {
    fn new(context: &MatchContext<'_>, profile: &UserProfile) -> Self {
        fn table<T: Copy + Eq>(values: &[T], counts: &[(T, u32)]) -> Vec<u8> {
            let total: u32 = counts.iter().map(|(_, n)| n).sum();
            values
                .iter()
                .map(|value| {
                    share_score(
                        counts
                            .iter()
                            .find(|(v, _)| v == value)
                            .map_or(0, |(_, n)| *n),
                        total,
                    )
                })
                .collect()
        }
        let present = |counts_empty: bool, weight: u32| if counts_empty { 0 } else { weight };
        let weight_pref = present(profile.prefectures.is_empty(), 20);
        let weight_city = present(profile.cities.is_empty(), 15);
        let weight_occupation = present(profile.occupations.is_empty(), 20);
        let weight_employment = present(profile.employment_types.is_empty(), 15);
        let weight_salary = present(profile.mean_wage.is_none(), 15);
        let weight_company = present(profile.companies.is_empty(), 15);
        let mut tables = Self {
            has_applications: profile.n_applications > 0,
            pref: table(&context.pref_values, &profile.prefectures),
            city: table(&context.city_values, &profile.cities),
            occupation: table(&context.occupation_values, &profile.occupations),
            employment: table(&context.employment_values, &profile.employment_types),
            weight_pref,
            weight_city,
            weight_occupation,
            weight_employment,
            weight_salary,
            weight_company,
            denominator: weight_pref
                + weight_city
                + weight_occupation
                + weight_employment
                + weight_salary
                + weight_company,
            mean_wage: profile.mean_wage.unwrap_or(f64::NAN),
            group_numerator: Vec::new(),
            group_half_bound: Vec::new(),
        };
        tables.group_numerator = context
            .group_slots
            .iter()
            .map(|&(pref, city, occupation, employment)| {
                tables.weight_pref * u32::from(tables.pref[pref as usize])
                    + tables.weight_city * u32::from(tables.city[city as usize])
                    + tables.weight_occupation * u32::from(tables.occupation[occupation as usize])
                    + tables.weight_employment * u32::from(tables.employment[employment as usize])
                    + tables.weight_company * 50
            })
            .collect();
        let denominator = f64::from(tables.denominator.max(1));
        tables.group_half_bound = tables
            .group_numerator
            .iter()
            .map(|&numerator| {
                if tables.has_applications && tables.denominator > 0 {
                    0.5 * (f64::from(numerator + tables.weight_salary * 100) / denominator)
                } else {
                    25.0
                }
            })
            .collect();
        tables
    }

    /// The smallest numerator `n` with `round6(n / denominator) >= floor`.
    fn minimum_numerator(&self, floor: i64) -> u32 {
        let denominator = f64::from(self.denominator);
        let mut n = ((floor as f64 / 1e6) * denominator).floor().max(0.0) as u32;
        n = n.saturating_sub(2);
        while round6(f64::from(n) / denominator) < floor {
            n += 1;
        }
        n
    }

    /// The largest personalised score any job can have for this user.
    fn max_personalized(&self) -> f64 {
        if !self.has_applications || self.denominator == 0 {
            return 50.0;
        }
        let max = |table: &[u8]| u32::from(table.iter().copied().max().unwrap_or(20));
        let numerator = self.weight_pref * max(&self.pref)
            + self.weight_city * max(&self.city)
            + self.weight_occupation * max(&self.occupation)
            + self.weight_employment * max(&self.employment)
            + self.weight_salary * 100
            + self.weight_company * 50;
        f64::from(numerator) / f64::from(self.denominator)
    }

    /// The personalised numerator of job `e` without the salary component.
    #[inline]
    fn numerator_without_salary(&self, context: &MatchContext<'_>, e: usize) -> u32 {
        self.group_numerator[context.group_of[e] as usize]
    }

    /// The full personalised numerator of job `e` (company component 50: the job is not
    /// excluded); the score is this over `denominator`.
    #[inline]
    fn numerator(&self, context: &MatchContext<'_>, e: usize) -> u32 {
        let mut numerator = self.numerator_without_salary(context, e);
        if self.weight_salary > 0 {
            let wage = context.wage[e];
            numerator += self.weight_salary
                * u32::from(salary_score(
                    (!wage.is_nan()).then_some(wage),
                    self.mean_wage,
                ));
        }
        numerator
    }

    /// The personalised score of eligible job `e` (SPEC §3.5), for a job not excluded
    /// (so its company was not applied to within the recent window: company component 50).
    #[inline]
    fn personalized(&self, context: &MatchContext<'_>, e: usize, recent_company: bool) -> f64 {
        if !self.has_applications || self.denominator == 0 {
            return 50.0;
        }
        let mut numerator = self.numerator(context, e);
        if recent_company {
            numerator -= self.weight_company * 40;
        }
        f64::from(numerator) / f64::from(self.denominator)
    }
}

/// The user's place, resolved against the geography.
#[derive(Debug, Clone, Default)]
struct Place {
    known: bool,
    pref: Option<u16>,
    city: Option<u32>,
    region: Option<u16>,
    adjacent: Vec<u32>,
}

impl Place {
    fn location_weight(&self, pref: u16, city: u32) -> f64 {
        if !self.known {
            return 1.0;
        }
        if self.city == Some(city) && city != none::CODE {
            1.0
        } else if city != none::CODE && self.adjacent.contains(&city) {
            0.7
        } else if self.pref == Some(pref) && pref != none::SMALL_CODE {
            0.5
        } else {
            0.3
        }
    }

    fn in_city_tier(&self, city: u32) -> bool {
        city != none::CODE && (self.city == Some(city) || self.adjacent.contains(&city))
    }
}

/// Keeps the `k` largest keys seen (a min-heap: its top is the k-th best so far).
#[derive(Debug, Clone)]
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(u128, u32)>>,
    /// Set when a candidate was dropped or never looked at.
    truncated: bool,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
            truncated: false,
        }
    }

    fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The primary score of the k-th best key, once there are k.
    fn floor_primary(&self) -> Option<i64> {
        if self.is_full() {
            self.heap.peek().map(|top| (top.0.0 >> 70) as i64)
        } else {
            None
        }
    }

    #[inline]
    fn push(&mut self, key: u128, e: u32) {
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse((key, e)));
            return;
        }
        self.truncated = true;
        if let Some(mut top) = self.heap.peek_mut()
            && key > top.0.0
        {
            *top = std::cmp::Reverse((key, e));
        }
    }

    /// The kept candidates, best first, and whether others were left out.
    fn into_sorted(self) -> (Vec<u32>, bool) {
        let mut items: Vec<(u128, u32)> = self.heap.into_iter().map(|r| r.0).collect();
        items.sort_unstable_by_key(|item| std::cmp::Reverse(item.0));
        (items.into_iter().map(|(_, e)| e).collect(), self.truncated)
    }
}

fn key(primary: i64, secondary: i64, e: u32) -> u128 {
    // Scores are 0..=100 in millionths (< 2^27); the smaller job id wins ties.
    ((primary.max(0) as u128) << 70) | ((secondary.max(0) as u128) << 35) | u128::from(u32::MAX - e)
}

/// Scores of one eligible job for one user.
#[derive(Debug, Clone, Copy)]
struct PairScores {
    personalized: f64,
    total: f64,
    editorial: f64,
}

/// A user's picks for the day, and the lists they were taken from.
pub struct UserMatcher<'c, 'a> {
    context: &'c MatchContext<'a>,
    tables: UserTables,
    place: Place,
    excluded: Vec<bool>,
    recent_companies: Vec<u32>,
    /// Personalised scores computed so far (NaN: not yet), shared by the lists of one user.
    personalized_cache: std::cell::RefCell<Vec<f64>>,
}

impl<'c, 'a> UserMatcher<'c, 'a> {
    /// `previous` holds the job ids picked for the user on D−1 and on D−2.
    pub fn new(
        context: &'c MatchContext<'a>,
        user: &User,
        profile: &UserProfile,
        previous: (&[u64], &[u64]),
    ) -> Self {
        let _ = user;
        let location = profile.location;
        let region = location
            .pref_cd
            .and_then(|p| context.geography.region_of(p));
        let place = Place {
            known: location.pref_cd.is_some() || location.city_cd.is_some(),
            pref: location.pref_cd,
            city: location.city_cd,
            region,
            adjacent: location
                .city_cd
                .and_then(|c| context.geography.adjacent.get(&c).cloned())
                .unwrap_or_default(),
        };
        let mut excluded = vec![false; context.eligible.len()];
        for job_id in &profile.applied_jobs {
            if let Some(&e) = context.position_of_job.get(job_id) {
                excluded[e as usize] = true;
            }
        }
        let recent_companies: Vec<u32> = profile
            .last_applied
            .iter()
            .filter(|(_, at)| {
                *at >= context.windows.recent_company_start && *at < context.windows.day_start
            })
            .map(|(company, _)| *company)
            .collect();
        for company in &recent_companies {
            for &e in context
                .by_company
                .get(company)
                .map_or(&[][..], Vec::as_slice)
            {
                excluded[e as usize] = true;
            }
        }
        let (day1, day2) = previous;
        for job_id in day1.iter().filter(|id| day2.contains(id)) {
            if let Some(&e) = context.position_of_job.get(job_id) {
                excluded[e as usize] = true;
            }
        }
        Self {
            context,
            tables: UserTables::new(context, profile),
            place,
            excluded,
            recent_companies,
            personalized_cache: std::cell::RefCell::new(vec![f64::NAN; context.eligible.len()]),
        }
    }

    #[inline]
    fn scores(&self, e: usize) -> PairScores {
        let context = self.context;
        let recent_company =
            context.company[e] != NO_COMPANY && self.recent_companies.contains(&context.company[e]);
        let personalized = self.tables.personalized(context, e, recent_company);
        let total = 0.5 * personalized + context.job_part[e];
        let editorial = context.editorial_base[e]
            * self.place.location_weight(context.pref[e], context.city[e]);
        PairScores {
            personalized,
            total,
            editorial,
        }
    }

    fn tier_known(&self, tier: Tier) -> bool {
        match tier {
            Tier::City => self.place.city.is_some(),
            Tier::Prefecture => self.place.pref.is_some(),
            Tier::Region => self.place.region.is_some(),
            Tier::Anywhere | Tier::All => true,
        }
    }

    /// Builds one list, scanning candidates best upper bound first and stopping as soon as
    /// no later candidate can enter it. Gives the same list as a full scan ([`Self::build_lists`]).
    fn pruned_list(&self, spec: ListSpec, k: usize, max_personalized: f64) -> (Vec<u32>, bool) {
        let context = self.context;
        let orders = &context.orders;
        let mut list = TopK::new(k);
        let user_pref = self.place.pref.unwrap_or(u16::MAX);
        let city_set: Vec<(u32, f64)> = match self.place.city {
            Some(city) if city != none::CODE => std::iter::once((city, 1.0))
                .chain(self.place.adjacent.iter().map(|c| (*c, 0.7)))
                .collect(),
            _ => Vec::new(),
        };
        let in_city_set = |e: usize| city_set.iter().any(|(c, _)| *c == context.city[e]);
        let personalized = |e: usize| {
            let mut cache = self.personalized_cache.borrow_mut();
            if cache[e].is_nan() {
                cache[e] = self.tables.personalized(context, e, false);
            }
            cache[e]
        };
        let total6 = |e: usize| round6(0.5 * personalized(e) + context.job_part[e]);
        match spec.order {
            Order::Total => {
                let filter = filter_index(spec.filter);
                let passes = |e: usize| match spec.filter {
                    Filter::None => true,
                    Filter::HighIncome => context.high_income[e],
                    Filter::New => context.new[e],
                };
                let order: &[u32] = match spec.tier {
                    Tier::All | Tier::Anywhere => &orders.all[filter],
                    Tier::Prefecture => orders.by_pref[filter]
                        .get(&user_pref)
                        .map_or(&[], Vec::as_slice),
                    Tier::Region => match self.place.region {
                        Some(region) => orders.by_region[filter]
                            .get(&region)
                            .map_or(&[], Vec::as_slice),
                        None => &[],
                    },
                    Tier::City => {
                        for (city, _) in &city_set {
                            for &e in orders.by_city.get(city).map_or(&[][..], Vec::as_slice) {
                                let eu = e as usize;
                                if !self.excluded[eu] && passes(eu) {
                                    list.push(key(total6(eu), 0, e), e);
                                }
                            }
                        }
                        return list.into_sorted();
                    }
                };
                let bound = 0.5 * max_personalized;
                let tables = &self.tables;
                let mut floor_seen = None;
                // Below this, a value surely rounds under the floor (margin for float error).
                let mut below_floor = f64::NEG_INFINITY;
                for &e in order {
                    let eu = e as usize;
                    if self.excluded[eu] {
                        continue;
                    }
                    if let Some(floor) = list.floor_primary() {
                        if floor_seen != Some(floor) {
                            floor_seen = Some(floor);
                            below_floor = (floor as f64 - 0.5 - 1e-3) / 1e6;
                        }
                        if bound + context.job_part[eu] < below_floor {
                            list.truncated = true;
                            break;
                        }
                        // This job's own bound, with the salary component at its best.
                        if tables.group_half_bound[context.group_of[eu] as usize]
                            + context.job_part[eu]
                            < below_floor
                        {
                            list.truncated = true;
                            continue;
                        }
                    }
                    list.push(key(total6(eu), 0, e), e);
                }
            }
            Order::Editorial => {
                let scan =
                    |order: &[u32], weight: f64, skip: &dyn Fn(usize) -> bool, list: &mut TopK| {
                        for &e in order {
                            let eu = e as usize;
                            if self.excluded[eu] || skip(eu) {
                                continue;
                            }
                            let editorial6 = round6(context.editorial_base[eu] * weight);
                            if let Some(floor) = list.floor_primary()
                                && editorial6 < floor
                            {
                                list.truncated = true;
                                break;
                            }
                            list.push(key(editorial6, total6(eu), e), e);
                        }
                    };
                if !self.place.known {
                    scan(&orders.editorial_all, 1.0, &|_| false, &mut list);
                } else {
                    for (city, weight) in &city_set {
                        for &e in orders.by_city.get(city).map_or(&[][..], Vec::as_slice) {
                            let eu = e as usize;
                            if !self.excluded[eu] {
                                let editorial6 = round6(context.editorial_base[eu] * weight);
                                list.push(key(editorial6, total6(eu), e), e);
                            }
                        }
                    }
                    let in_pref_order = orders
                        .editorial_by_pref
                        .get(&user_pref)
                        .map_or(&[][..], Vec::as_slice);
                    if self.place.pref.is_some() {
                        scan(in_pref_order, 0.5, &|e| in_city_set(e), &mut list);
                    }
                    scan(
                        &orders.editorial_all,
                        0.3,
                        &|e| in_city_set(e) || context.pref[e] == user_pref,
                        &mut list,
                    );
                }
            }
            Order::Personal => {
                let tables = &self.tables;
                if !(tables.has_applications && tables.denominator > 0) {
                    // Everyone scores 50: the order is the total's.
                    for e in 0..context.eligible.len() {
                        if !self.excluded[e] {
                            let score = personalized(e);
                            let total = round6(0.5 * score + context.job_part[e]);
                            list.push(key(round6(score), total, e as u32), e as u32);
                        }
                    }
                    return list.into_sorted();
                }
                // Groups by their numerator without salary (a multiple of 5), best first:
                // once a group's best possible score is under the floor, so are the rest.
                let top = tables.group_numerator.iter().copied().max().unwrap_or(0) as usize / 5;
                let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); top + 1];
                for (group, &numerator) in tables.group_numerator.iter().enumerate() {
                    // Weights (20, 15) × scores (multiples of 20) and 15 × 50: multiples of 50,
                    // so a bucket holds one numerator and the stop below is exact.
                    debug_assert_eq!(numerator % 5, 0);
                    buckets[numerator as usize / 5].push(group as u32);
                }
                let mut floor_seen = None;
                let mut minimum_numerator = 0u32;
                'buckets: for bucket in buckets.iter().rev() {
                    for &group in bucket {
                        if let Some(floor) = list.floor_primary() {
                            if floor_seen != Some(floor) {
                                floor_seen = Some(floor);
                                minimum_numerator = tables.minimum_numerator(floor);
                            }
                            if tables.group_numerator[group as usize] + tables.weight_salary * 100
                                < minimum_numerator
                            {
                                list.truncated = true;
                                break 'buckets;
                            }
                        }
                        let (start, end) = (
                            context.group_start[group as usize],
                            context.group_start[group as usize + 1],
                        );
                        for &e in &context.group_members[start as usize..end as usize] {
                            let eu = e as usize;
                            if self.excluded[eu] {
                                continue;
                            }
                            let score = personalized(eu);
                            let total = round6(0.5 * score + context.job_part[eu]);
                            list.push(key(round6(score), total, e), e);
                        }
                    }
                }
            }
        }
        list.into_sorted()
    }

    /// Builds every list the sections may read, in one pass over the eligible jobs.
    fn build_lists(&self, specs: &[ListSpec], k: usize) -> Vec<(Vec<u32>, bool)> {
        let context = self.context;
        let mut lists: Vec<TopK> = specs.iter().map(|_| TopK::new(k)).collect();
        let need_editorial = specs.iter().any(|s| s.order == Order::Editorial);
        let need_personal = specs.iter().any(|s| s.order == Order::Personal);
        // Location class of each city slot for this user: 0 home, 1 adjacent, 2 other.
        let mut city_class = vec![2u8; context.city_values.len()];
        for (slot, city) in context.city_values.iter().enumerate() {
            if *city == none::CODE {
                continue;
            }
            if self.place.city == Some(*city) {
                city_class[slot] = 0;
            } else if self.place.adjacent.contains(city) {
                city_class[slot] = 1;
            }
        }
        let requirements: Vec<(u8, Order)> = specs
            .iter()
            .map(|spec| (spec.required_properties(), spec.order))
            .collect();
        let user_pref = self.place.pref.unwrap_or(u16::MAX);
        let user_region = self.place.region.unwrap_or(NO_REGION - 1);
        for e in 0..context.eligible.len() {
            if self.excluded[e] {
                continue;
            }
            let class = city_class[context.city_slot[e] as usize];
            let in_pref = context.pref[e] == user_pref;
            let personalized = self.tables.personalized(context, e, false);
            let total6 = round6(0.5 * personalized + context.job_part[e]);
            let e32 = e as u32;
            let total_key = key(total6, 0, e32);
            let editorial_key = if need_editorial {
                let weight = if !self.place.known {
                    1.0
                } else {
                    match class {
                        0 => 1.0,
                        1 => 0.7,
                        _ if in_pref => 0.5,
                        _ => 0.3,
                    }
                };
                key(round6(context.editorial_base[e] * weight), total6, e32)
            } else {
                0
            };
            let personal_key = if need_personal {
                key(round6(personalized), total6, e32)
            } else {
                0
            };
            let mut properties = ALL_JOBS;
            if class < 2 {
                properties |= IN_CITY_TIER;
            }
            if in_pref {
                properties |= IN_PREFECTURE;
            }
            if context.region[e] == user_region {
                properties |= IN_REGION;
            }
            if context.high_income[e] {
                properties |= HIGH_INCOME;
            }
            if context.new[e] {
                properties |= NEW;
            }
            for ((required, order), list) in requirements.iter().zip(lists.iter_mut()) {
                if properties & required == *required {
                    let key = match order {
                        Order::Editorial => editorial_key,
                        Order::Personal => personal_key,
                        Order::Total => total_key,
                    };
                    list.push(key, e32);
                }
            }
        }
        lists.into_iter().map(TopK::into_sorted).collect()
    }

    /// The user's picks, section by section (SPEC §4).
    pub fn picks(&self) -> Vec<Pick> {
        self.picks_from(true)
    }

    /// The same picks, every list built by a full scan: the reference the pruned lists are
    /// tested against.
    pub fn picks_by_full_scan(&self) -> Vec<Pick> {
        self.picks_from(false)
    }

    fn picks_from(&self, pruned: bool) -> Vec<Pick> {
        let config = self.context.config;
        let mut specs: Vec<ListSpec> = Vec::new();
        for section in &config.sections {
            let (order, filter, tiers) = section_tiers(section.kind);
            for &tier in tiers {
                let filter = if tier == Tier::All {
                    Filter::None
                } else {
                    filter
                };
                let spec = ListSpec {
                    order,
                    filter,
                    tier,
                };
                if self.tier_known(tier) && !specs.contains(&spec) {
                    specs.push(spec);
                }
            }
        }
        let total_count: usize = config.sections.iter().map(|s| s.count).sum();
        let base_k = total_count + 24;
        let max_personalized = self.tables.max_personalized();
        let mut lists: HashMap<ListSpec, (Vec<u32>, bool)> = if pruned {
            specs
                .iter()
                .map(|&spec| (spec, self.pruned_list(spec, base_k, max_personalized)))
                .collect()
        } else {
            specs
                .iter()
                .copied()
                .zip(self.build_lists(&specs, base_k))
                .collect()
        };

        let mut chosen = vec![false; self.context.eligible.len()];
        let mut per_company: HashMap<u32, usize> = HashMap::new();
        let mut picks = Vec::with_capacity(total_count);
        for section in &config.sections {
            let (order, filter, tiers) = section_tiers(section.kind);
            let mut taken = 0usize;
            for &tier in tiers {
                if taken == section.count {
                    break;
                }
                if !self.tier_known(tier) {
                    continue;
                }
                let filter = if tier == Tier::All {
                    Filter::None
                } else {
                    filter
                };
                let spec = ListSpec {
                    order,
                    filter,
                    tier,
                };
                let mut k = base_k;
                loop {
                    let (candidates, truncated) = &lists[&spec];
                    let mut exhausted = true;
                    for &e in candidates {
                        if taken == section.count {
                            exhausted = false;
                            break;
                        }
                        let eu = e as usize;
                        if chosen[eu] {
                            continue;
                        }
                        let company = self.context.company[eu];
                        if company != NO_COMPANY
                            && per_company.get(&company).copied().unwrap_or(0) >= config.company_cap
                        {
                            continue;
                        }
                        chosen[eu] = true;
                        if company != NO_COMPANY {
                            *per_company.entry(company).or_default() += 1;
                        }
                        taken += 1;
                        picks.push(self.pick(section.kind, taken, e, tier));
                    }
                    if !(exhausted && *truncated && taken < section.count) {
                        break;
                    }
                    // Every kept candidate was used or capped: rebuild this list deeper.
                    k *= 4;
                    let rebuilt = self.build_lists(&[spec], k).pop().expect("one list");
                    lists.insert(spec, rebuilt);
                }
            }
        }
        picks
    }

    fn pick(&self, section: SectionKind, rank: usize, e: u32, tier: Tier) -> Pick {
        let scores = self.scores(e as usize);
        Pick {
            section,
            rank: rank as u8,
            job_index: self.context.eligible[e as usize],
            tier,
            personalized: round6(scores.personalized) as f64 / 1e6,
            total: round6(scores.total) as f64 / 1e6,
            editorial: round6(scores.editorial) as f64 / 1e6,
            reasons: self.reasons(section, e as usize, tier),
        }
    }

    fn reasons(&self, section: SectionKind, e: usize, tier: Tier) -> u16 {
        let context = self.context;
        let row = context.eligible[e] as usize;
        let mut bits = 0u16;
        let mut add = |reason: Reason| bits |= reason.bit();
        if self.place.known
            && self.place.city == Some(context.city[e])
            && context.city[e] != none::CODE
        {
            add(Reason::HomeArea);
        } else if self.place.in_city_tier(context.city[e]) {
            add(Reason::NearbyArea);
        } else if self.place.pref == Some(context.pref[e])
            && matches!(tier, Tier::Prefecture | Tier::City)
        {
            add(Reason::HomeArea);
        }
        if context.scores.has_need(row, context.config, HIGH_WAGE) {
            add(Reason::HighWage);
        }
        if context.scores.has_need(row, context.config, DAILY_PAY) {
            add(Reason::DailyPay);
        }
        if context.new[e] {
            add(Reason::New);
        }
        if self.tables.has_applications
            && self.tables.weight_occupation > 0
            && self.tables.occupation[context.occupation_slot[e] as usize] >= 80
        {
            add(Reason::FavouriteOccupation);
        }
        if self.tables.weight_salary > 0 {
            let wage = context.wage[e];
            if salary_score((!wage.is_nan()).then_some(wage), self.tables.mean_wage) >= 80 {
                add(Reason::WageAsWanted);
            }
        }
        if context.scores.popularity[row] >= 80.0 {
            add(Reason::PopularCompany);
        }
        if section == SectionKind::Editorial {
            add(Reason::Featured);
        }
        bits
    }
}

/// Picks for one user; `None` for users who get no email (inactive or unsubscribed).
pub fn picks_for_user(
    context: &MatchContext<'_>,
    user: &User,
    profile: &UserProfile,
    previous: (&[u64], &[u64]),
) -> Option<Vec<Pick>> {
    if !user.is_active || !user.subscribed {
        return None;
    }
    Some(UserMatcher::new(context, user, profile, previous).picks())
}

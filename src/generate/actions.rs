//! `actions.csv`: a window of actions clustered by place and occupation, with the spoiled copies
//! of `--dirty`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::calendar::{Stamp, TOKYO_OFFSET};
use super::postings::Job;
use super::records::{Digits, RecordWriter, concat_columns, csv_writer, finish};
use super::sampling::{Every, Weighted, pick, poisson};
use super::users::User;
use super::world::World;
use super::{
    ACTIONS_PER_USER_PER_DAY, FIRST_JOB_ID, FIRST_UNKNOWN_JOB_ID, FIRST_UNKNOWN_USER_ID, Feed,
    GenerateOptions, rng_for, stream,
};

pub(super) const UNKNOWN_USER_SHARE: f64 = 0.01;
pub(super) const UNKNOWN_JOB_SHARE: f64 = 0.01;
/// Probability that one snapshot cell of an action is left empty, in 64ths (3/64 ≈ 5%).
pub(super) const EMPTY_SNAPSHOT_CELL_IN_64THS: u64 = 3;

/// The importer's columns, required then optional: the generator writes exactly what it reads.
pub(super) const ACTION_COLUMNS: [&str; 16] = concat_columns(
    crate::ingest::actions::REQUIRED_COLUMNS,
    crate::ingest::actions::OPTIONAL_COLUMNS,
);

pub(super) const ACTION_TYPES: [&str; 5] = ["view", "open", "click", "favorite", "applied"];
pub(super) const ACTION_TYPE_WEIGHTS: [f64; 5] = [45.0, 25.0, 18.0, 4.0, 8.0];
pub(super) const SOURCES: [&str; 3] = ["email", "web", "app"];
/// Source weights (email, web, app) per action type, in the order of `ACTION_TYPES`.
pub(super) const SOURCE_WEIGHTS: [[f64; 3]; 5] = [
    [10.0, 50.0, 40.0],
    [100.0, 0.0, 0.0],
    [75.0, 15.0, 10.0],
    [0.0, 50.0, 50.0],
    [15.0, 45.0, 40.0],
];
pub(super) const SECTIONS: [&str; 6] = [
    "editorial",
    "top5",
    "regional",
    "nearby",
    "high_income",
    "new",
];
pub(super) const SECTION_WEIGHTS: [f64; 6] = [20.0, 25.0, 20.0, 15.0, 12.0, 8.0];
/// Activity by local hour: mail goes out at 06:00, evenings are busiest.
pub(super) const HOUR_WEIGHTS: [f64; 24] = [
    2.0, 1.0, 0.5, 0.3, 0.3, 0.5, 3.0, 5.0, 5.0, 4.0, 3.0, 3.0, 5.0, 4.0, 3.0, 3.0, 3.0, 4.0, 5.0,
    6.0, 7.0, 7.0, 6.0, 4.0,
];
pub(super) const NEARBY_KM: f64 = 12.0;
pub(super) const MAX_NEARBY_CITIES: usize = 12;

#[derive(Clone, Copy)]
pub(super) struct Action {
    pub(super) second: u32,
    pub(super) user_id: u32,
    pub(super) job_idx: u32,
    /// A job id the feed does not have, or 0; the snapshot is still `job_idx`'s.
    pub(super) unknown_job_id: u32,
    pub(super) kind: u8,
    pub(super) source: u8,
    pub(super) section: Option<u8>,
    /// Bit `i` set: snapshot cell `i` is left empty.
    pub(super) empty_cells: u16,
}

/// Ways `--dirty` spoils a copy of an action row.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ActionFault {
    None,
    UnknownType,
    BadTimestamp,
    EmptyUser,
    /// The same instant written in UTC.
    UtcOffset,
}

/// Job indices by place and occupation category, for drawing the jobs a user acts on.
pub(super) struct JobIndex {
    pub(super) n_categories: usize,
    pub(super) by_city: Vec<Vec<u32>>,
    pub(super) by_city_category: Vec<Vec<u32>>,
    pub(super) by_prefecture: Vec<Vec<u32>>,
    pub(super) by_prefecture_category: Vec<Vec<u32>>,
    pub(super) by_region: Vec<Vec<u32>>,
    pub(super) by_region_category: Vec<Vec<u32>>,
    pub(super) by_category: Vec<Vec<u32>>,
    pub(super) all: Vec<u32>,
}

impl JobIndex {
    pub(super) fn new(world: &World, jobs: &[Job]) -> Self {
        let n_categories = world.categories.len();
        let n_cities = world.cities.len();
        let n_prefectures = world.prefectures.len();
        let n_regions = world.n_regions;
        let mut index = Self {
            n_categories,
            by_city: vec![Vec::new(); n_cities],
            by_city_category: vec![Vec::new(); n_cities * n_categories],
            by_prefecture: vec![Vec::new(); n_prefectures],
            by_prefecture_category: vec![Vec::new(); n_prefectures * n_categories],
            by_region: vec![Vec::new(); n_regions],
            by_region_category: vec![Vec::new(); n_regions * n_categories],
            by_category: vec![Vec::new(); n_categories],
            all: (0..jobs.len() as u32).collect(),
        };
        for (job_idx, job) in jobs.iter().enumerate() {
            let job_idx = job_idx as u32;
            let city = job.city as usize;
            let category = usize::from(job.category);
            let prefecture = world.cities[city].pref_slot;
            let region = world.prefectures[prefecture].region_slot;
            index.by_city[city].push(job_idx);
            index.by_city_category[city * n_categories + category].push(job_idx);
            index.by_prefecture[prefecture].push(job_idx);
            index.by_prefecture_category[prefecture * n_categories + category].push(job_idx);
            index.by_region[region].push(job_idx);
            index.by_region_category[region * n_categories + category].push(job_idx);
            index.by_category[category].push(job_idx);
        }
        index
    }

    /// A job in the given place (`level` 0 city, 1 prefecture, 2 region, 3 anywhere), of the
    /// category when one is given; widens the place until a job is found.
    pub(super) fn pick(
        &self,
        world: &World,
        rng: &mut ChaCha8Rng,
        city: u32,
        category: Option<usize>,
        level: u8,
    ) -> u32 {
        let city = city as usize;
        let prefecture = world.cities[city].pref_slot;
        let region = world.prefectures[prefecture].region_slot;
        for level in level..=3 {
            let (with_category, without): (Option<&Vec<u32>>, &Vec<u32>) = match level {
                0 => (
                    category.map(|c| &self.by_city_category[city * self.n_categories + c]),
                    &self.by_city[city],
                ),
                1 => (
                    category
                        .map(|c| &self.by_prefecture_category[prefecture * self.n_categories + c]),
                    &self.by_prefecture[prefecture],
                ),
                2 => (
                    category.map(|c| &self.by_region_category[region * self.n_categories + c]),
                    &self.by_region[region],
                ),
                _ => (category.map(|c| &self.by_category[c]), &self.all),
            };
            for list in with_category.into_iter().chain([without]) {
                if !list.is_empty() {
                    return *pick(rng, list);
                }
            }
        }
        unreachable!("the index of a non-empty feed has every job in `all`")
    }
}

/// Up to `MAX_NEARBY_CITIES` other cities within `NEARBY_KM`, nearest first.
pub(super) fn nearby_cities(world: &World, city_idx: u32) -> Vec<u32> {
    let home = &world.cities[city_idx as usize];
    let cos_latitude = home.latitude.to_radians().cos();
    let mut near: Vec<(f64, u32)> = world
        .cities
        .iter()
        .enumerate()
        .filter(|&(other, _)| other as u32 != city_idx)
        .filter_map(|(other, city)| {
            let north_km = (city.latitude - home.latitude) * 111.2;
            let east_km = (city.longitude - home.longitude) * 111.2 * cos_latitude;
            let km = north_km.hypot(east_km);
            (km <= NEARBY_KM).then_some((km, other as u32))
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    near.truncate(MAX_NEARBY_CITIES);
    near.into_iter().map(|(_, city)| city).collect()
}

pub(super) fn write_actions(
    feed: &Feed,
    options: &GenerateOptions,
    users: &[User],
    path: &Path,
) -> io::Result<usize> {
    let world = feed.world;
    let mut csv = csv_writer(path)?;
    csv.write_record(ACTION_COLUMNS)?;
    if feed.jobs.is_empty() || users.is_empty() || options.days == 0 {
        finish(csv)?.flush()?;
        return Ok(0);
    }
    let mut rng = rng_for(options.seed, stream::ACTIONS);
    let index = JobIndex::new(world, feed.jobs);
    let mut nearby: Vec<Option<Vec<u32>>> = vec![None; world.cities.len()];
    for user in users {
        let slot = &mut nearby[user.home_city as usize];
        if slot.is_none() {
            *slot = Some(nearby_cities(world, user.home_city));
        }
    }
    let type_weights = Weighted::new(ACTION_TYPE_WEIGHTS);
    let source_weights: Vec<Weighted> = SOURCE_WEIGHTS
        .iter()
        .map(|w| Weighted::new(w.iter().copied()))
        .collect();
    let section_weights = Weighted::new(SECTION_WEIGHTS);
    let hour_weights = Weighted::new(HOUR_WEIGHTS);
    let unknown_user_pool = (users.len() / 50).max(1) as u32;

    let expected_rows =
        (ACTIONS_PER_USER_PER_DAY * users.len() as f64 * f64::from(options.days)) as usize;
    // With --dirty, a spoiled copy follows some rows; a copy without a fault is an exact duplicate.
    let faults = [
        (
            Every::new(expected_rows, 25, 100, 0.1),
            ActionFault::UnknownType,
        ),
        (
            Every::new(expected_rows, 25, 100, 0.3),
            ActionFault::BadTimestamp,
        ),
        (
            Every::new(expected_rows, 25, 100, 0.5),
            ActionFault::EmptyUser,
        ),
        (Every::new(expected_rows, 1000, 200, 0.7), ActionFault::None),
        (
            Every::new(expected_rows, 100, 300, 0.9),
            ActionFault::UtcOffset,
        ),
    ];

    let mut writer = ActionWriter {
        csv,
        feed,
        digits: Digits::new(),
        stamp: String::new(),
    };
    let mut day_actions: Vec<Action> = Vec::new();
    let mut rows = 0;
    for day_index in 0..options.days {
        let day = day_index as i32 - options.days as i32;
        day_actions.clear();
        for (user_idx, user) in users.iter().enumerate() {
            if day_index < user.active.0 || day_index >= user.active.1 {
                continue;
            }
            let count = poisson(&mut rng, user.rate);
            for _ in 0..count {
                let kind = type_weights.sample(&mut rng) as u8;
                let source = source_weights[usize::from(kind)].sample(&mut rng) as u8;
                let section = (source == 0).then(|| section_weights.sample(&mut rng) as u8);
                let category = rng.random_bool(0.75).then(|| {
                    usize::from(user.occupations[rng.random_range(0..user.n_occupations)])
                });
                let near = nearby[user.home_city as usize].as_deref().unwrap_or(&[]);
                let r = rng.random::<f64>();
                let (city, level) = if r < 0.30 {
                    (user.home_city, 0)
                } else if r < 0.50 {
                    if near.is_empty() {
                        (user.home_city, 0)
                    } else {
                        (*pick(&mut rng, near), 0)
                    }
                } else if r < 0.70 {
                    (user.home_city, 1)
                } else if r < 0.85 {
                    (user.home_city, 2)
                } else {
                    (user.home_city, 3)
                };
                let job_idx = index.pick(world, &mut rng, city, category, level);
                let user_id = if rng.random_bool(UNKNOWN_USER_SHARE) {
                    FIRST_UNKNOWN_USER_ID + user_idx as u32 % unknown_user_pool
                } else {
                    user.user_id
                };
                let unknown_job_id = if rng.random_bool(UNKNOWN_JOB_SHARE) {
                    FIRST_UNKNOWN_JOB_ID
                        + rng.random_range(0..FIRST_JOB_ID - FIRST_UNKNOWN_JOB_ID - 1)
                } else {
                    0
                };
                let hour = hour_weights.sample(&mut rng) as u32;
                let cells = rng.random::<u64>();
                let empty_cells = (0..10)
                    .filter(|&cell| (cells >> (6 * cell)) & 63 < EMPTY_SNAPSHOT_CELL_IN_64THS)
                    .fold(0_u16, |mask, cell| mask | 1 << cell);
                day_actions.push(Action {
                    second: hour * 3600 + rng.random_range(0..3600),
                    user_id,
                    job_idx,
                    unknown_job_id,
                    kind,
                    source,
                    section,
                    empty_cells,
                });
            }
        }
        day_actions.sort_by_key(|a| (a.second, a.user_id, a.job_idx));
        for action in &day_actions {
            writer.write(day, action, ActionFault::None)?;
            rows += 1;
            if options.dirty {
                for (every, fault) in faults {
                    if every.hits(rows) {
                        writer.write(day, action, fault)?;
                        rows += 1;
                    }
                }
            }
        }
    }
    finish(writer.csv)?.flush()?;
    Ok(rows)
}

pub(super) struct ActionWriter<'a> {
    pub(super) csv: csv::Writer<BufWriter<File>>,
    pub(super) feed: &'a Feed<'a>,
    pub(super) digits: Digits,
    pub(super) stamp: String,
}

impl ActionWriter<'_> {
    pub(super) fn write(
        &mut self,
        day: i32,
        action: &Action,
        fault: ActionFault,
    ) -> io::Result<()> {
        let feed = self.feed;
        let world = feed.world;
        let job = &feed.jobs[action.job_idx as usize];
        let mut row = RecordWriter {
            csv: &mut self.csv,
            columns: &ACTION_COLUMNS,
            position: 0,
        };
        let digits = &mut self.digits;
        if fault == ActionFault::EmptyUser {
            row.field("user_id", "")?;
        } else {
            row.field("user_id", digits.format(u64::from(action.user_id)))?;
        }
        let job_id = if action.unknown_job_id != 0 {
            action.unknown_job_id
        } else {
            job.job_id
        };
        row.field("job_id", digits.format(u64::from(job_id)))?;
        row.field(
            "action_type",
            if fault == ActionFault::UnknownType {
                "purchase"
            } else {
                ACTION_TYPES[usize::from(action.kind)]
            },
        )?;
        self.stamp.clear();
        match fault {
            ActionFault::BadTimestamp => self.stamp.push_str("2025/13/45 25:61:00"),
            ActionFault::UtcOffset => {
                let utc = Stamp::new(day, action.second).in_utc();
                feed.calendar.push_stamp(&mut self.stamp, utc, "+00");
            }
            _ => feed.calendar.push_stamp(
                &mut self.stamp,
                Stamp::new(day, action.second),
                TOKYO_OFFSET,
            ),
        }
        row.field("action_at", &self.stamp)?;
        row.field("source", SOURCES[usize::from(action.source)])?;
        row.field(
            "section",
            action.section.map_or("", |s| SECTIONS[usize::from(s)]),
        )?;

        let empty = |cell: u16| action.empty_cells & (1 << cell) != 0;
        let company = &feed.companies[job.company as usize];
        let city = &world.cities[job.city as usize];
        row.field(
            "endcl_cd",
            if empty(0) {
                ""
            } else {
                company.endcl_cd.as_str()
            },
        )?;
        let numbers = [
            (
                "pref_cd",
                u64::from(world.prefectures[city.pref_slot].pref_cd),
            ),
            ("city_cd", u64::from(city.city_cd)),
            ("occupation_cd1", u64::from(job.occupation_cd(world))),
            (
                "employment_type_cd",
                u64::from(job.employment_type_cd(world)),
            ),
            ("salary_type_cd", u64::from(job.salary_type_cd)),
            ("min_salary", u64::from(job.min_salary)),
        ];
        for (cell, (column, value)) in numbers.into_iter().enumerate() {
            if empty(cell as u16 + 1) {
                row.field(column, "")?;
            } else {
                row.field(column, digits.format(value))?;
            }
        }
        match job.max_salary {
            Some(max) if !empty(7) => row.field("max_salary", digits.format(u64::from(max)))?,
            _ => row.field("max_salary", "")?,
        }
        if empty(8) {
            row.field("fee", "")?;
        } else {
            row.field("fee", digits.format(u64::from(job.fee)))?;
        }
        row.field(
            "feature_codes",
            if empty(9) {
                ""
            } else {
                job.feature_codes.as_str()
            },
        )?;
        row.end()
    }
}

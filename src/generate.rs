//! Generates a realistic, deterministic synthetic dataset in the input formats of SPEC §2: the
//! job feed (`jobs.csv`), the users (`users.csv`) and their actions (`actions.csv`).
//!
//! Everything is drawn from ChaCha8 streams seeded by `GenerateOptions::seed`, never from a clock
//! or a hash map's iteration order, so the same options give byte-identical files. Each file (and
//! each job's text) has its own stream, and the bad input of `--dirty` has streams of its own, so a
//! dirty dataset is the clean one with bad rows added or a few cells spoiled.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use jiff::Span;
use jiff::civil::Date;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::masters::builtin::{
    CITIES, EMPLOYMENT_TYPES, FEATURES, KEYWORDS, OCCUPATIONS, PREFECTURES, SALARY_TYPES,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of distinct jobs in `jobs.csv`.
    pub jobs: usize,
    /// Number of users in `users.csv`.
    pub users: usize,
    /// Length of the action history in days.
    pub days: u32,
    pub seed: u64,
    /// Add realistic bad input (repeated ids, invalid values, junk rows) on top of the clean data.
    pub dirty: bool,
    /// The batch date the data leads up to: actions fall in the `days` days before it, postings are around it.
    pub end_date: Date,
}

/// What `generate` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Records written to `jobs.csv`, bad rows of `--dirty` included, header and trailing notes excluded.
    pub jobs_rows: usize,
    /// Records written to `users.csv`, header excluded.
    pub users_rows: usize,
    /// Records written to `actions.csv`, header excluded.
    pub actions_rows: usize,
    /// Total size of the three files.
    pub bytes_written: u64,
}

pub const JOBS_FILE_NAME: &str = "jobs.csv";
pub const USERS_FILE_NAME: &str = "users.csv";
pub const ACTIONS_FILE_NAME: &str = "actions.csv";

const FIRST_JOB_ID: u32 = 1_000_001;
const FIRST_USER_ID: u32 = 500_001;
/// Ids of users who act but are not in `users.csv` (deleted accounts, other sites) start here.
const FIRST_UNKNOWN_USER_ID: u32 = 450_001;
/// Job ids below the feed's first id are unknown to it (postings that ended long ago).
const FIRST_UNKNOWN_JOB_ID: u32 = 900_001;
const ACTIONS_PER_USER_PER_DAY: f64 = 1.4;
const UNKNOWN_USER_SHARE: f64 = 0.01;
const UNKNOWN_JOB_SHARE: f64 = 0.01;
/// Probability that one snapshot cell of an action is left empty, in 64ths (3/64 ≈ 5%).
const EMPTY_SNAPSHOT_CELL_IN_64THS: u64 = 3;
const WRITE_BUFFER_BYTES: usize = 1 << 20;
const TOKYO_OFFSET: &str = "+09";
const SECONDS_PER_DAY: u32 = 86_400;

/// Independent random streams, so that changing one file's size leaves the others unchanged.
mod stream {
    pub const WORLD: u64 = 1;
    pub const COMPANIES: u64 = 2;
    pub const JOBS: u64 = 3;
    pub const USERS: u64 = 4;
    pub const ACTIONS: u64 = 5;
    pub const DIRTY_JOBS: u64 = 6;
    pub const DIRTY_USERS: u64 = 7;
    /// Each job's text has its own stream, `JOB_TEXT + job index`, so a row can be written again.
    pub const JOB_TEXT: u64 = 1 << 32;
    /// The text of a revised (repeated) row of `--dirty`.
    pub const REVISED_JOB_TEXT: u64 = 2 << 32;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Writes `jobs.csv`, `users.csv` and `actions.csv` into `out_dir` (created when missing).
pub fn generate(options: &GenerateOptions, out_dir: &Path) -> io::Result<GenerateSummary> {
    fs::create_dir_all(out_dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create the directory {}: {error}", out_dir.display()),
        )
    })?;
    let world = World::from_builtin(&mut rng_for(options.seed, stream::WORLD))?;
    let calendar = Calendar::new(options.end_date, options.days)?;
    let companies = generate_companies(
        &world,
        options.jobs,
        &mut rng_for(options.seed, stream::COMPANIES),
    );
    let jobs = generate_jobs(&world, &companies, &mut rng_for(options.seed, stream::JOBS));
    let feed = Feed {
        world: &world,
        calendar: &calendar,
        companies: &companies,
        jobs: &jobs,
    };

    let jobs_path = out_dir.join(JOBS_FILE_NAME);
    let jobs_rows = write_jobs(&feed, options, &jobs_path)?;
    let users_path = out_dir.join(USERS_FILE_NAME);
    let (users, users_rows) = write_users(&feed, options, &users_path)?;
    let actions_path = out_dir.join(ACTIONS_FILE_NAME);
    let actions_rows = write_actions(&feed, options, &users, &actions_path)?;

    let mut bytes_written = 0;
    for path in [&jobs_path, &users_path, &actions_path] {
        bytes_written += fs::metadata(path)?.len();
    }
    Ok(GenerateSummary {
        jobs_rows,
        users_rows,
        actions_rows,
        bytes_written,
    })
}

// ---------------------------------------------------------------------------------------------
// Sampling helpers

/// Samples indices in proportion to their weights.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight.max(0.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// Panics when there is nothing to sample: callers only build tables they know are non-empty.
    fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("sampling from no weights");
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// An approximately standard normal number (sum of four uniforms), cheap and deterministic.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let sum: f64 = (0..4).map(|_| rng.random::<f64>()).sum();
    (sum - 2.0) * 3.0_f64.sqrt()
}

/// A Poisson-distributed count; Knuth's method for small means, a normal approximation above.
fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * standard_normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

fn round_to(value: f64, step: f64) -> u32 {
    ((value / step).round() * step).max(0.0) as u32
}

/// Fires once every `period` rows, at row `phase` of each period: spreads a few bad rows evenly,
/// about `wanted` of them in `expected_rows` rows but never more than one in `min_period`.
#[derive(Clone, Copy)]
struct Every {
    period: usize,
    phase: usize,
}

impl Every {
    fn new(expected_rows: usize, wanted: usize, min_period: usize, phase_share: f64) -> Self {
        let period = (expected_rows / wanted.max(1)).max(min_period).max(1);
        let phase = ((period as f64 * phase_share) as usize).min(period - 1);
        Self { period, phase }
    }

    fn hits(self, row: usize) -> bool {
        row % self.period == self.phase
    }
}

// ---------------------------------------------------------------------------------------------
// Reference data derived from the built-in masters

struct City {
    city_cd: u32,
    pref_slot: usize,
    name: &'static str,
    /// The name without its 市/区/町/村, used for branches and stations (`札幌市中央区` → `札幌中央`).
    short_name: String,
    latitude: f64,
    longitude: f64,
}

struct PrefectureSlot {
    pref_cd: u16,
    name: &'static str,
    region_slot: usize,
    cities: Vec<u32>,
    city_weights: Weighted,
}

struct Category {
    occupation_cd: u32,
    name: &'static str,
    details: &'static [(u32, &'static str)],
    vocabulary: &'static Vocabulary,
}

struct Feature {
    feature_cd: u32,
    name: &'static str,
    weight: f64,
    /// What a title or catch copy says when the job has this feature.
    tag: &'static str,
    kind: FeatureKind,
}

/// Features the generated text and pay react to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FeatureKind {
    DailyPay,
    ShortTerm,
    WeekOnce,
    Inexperienced,
    Student,
    HighSchool,
    Homemaker,
    Senior,
    SideJob,
    Commute,
    Remote,
    HighIncome,
    ShiftFree,
    WeekendOnly,
    StartToday,
    Other,
}

struct World {
    cities: Vec<City>,
    city_weights: Weighted,
    prefectures: Vec<PrefectureSlot>,
    /// Number of regions; a prefecture's `region_slot` is below it.
    n_regions: usize,
    categories: Vec<Category>,
    category_weights: Weighted,
    features: Vec<Feature>,
    employment_types: Vec<(u16, &'static str)>,
    employment_weights: Weighted,
    keywords: KeywordIndex,
    /// Feature weights for jobs where remote work is rare (`[0]`) or common (`[1]`).
    feature_weights: [Weighted; 2],
}

impl World {
    fn from_builtin(rng: &mut ChaCha8Rng) -> io::Result<Self> {
        let mut pref_codes: Vec<u16> = CITIES
            .iter()
            .filter(|city| has_coordinates(city.latitude, city.longitude))
            .map(|city| city.pref_cd)
            .collect();
        pref_codes.sort_unstable();
        pref_codes.dedup();
        if pref_codes.is_empty() || OCCUPATIONS.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the built-in masters have no cities with coordinates or no occupations: \
                 generate needs both",
            ));
        }

        let mut region_names: Vec<&'static str> = Vec::new();
        let mut prefectures: Vec<PrefectureSlot> = pref_codes
            .iter()
            .map(|&pref_cd| {
                let master = PREFECTURES.iter().find(|p| p.pref_cd == pref_cd);
                let region = master.map_or("", |p| p.region);
                let region_slot = region_names
                    .iter()
                    .position(|&r| r == region)
                    .unwrap_or_else(|| {
                        region_names.push(region);
                        region_names.len() - 1
                    });
                PrefectureSlot {
                    pref_cd,
                    name: master.map_or("", |p| p.name),
                    region_slot,
                    cities: Vec::new(),
                    city_weights: Weighted::new([]),
                }
            })
            .collect();
        let n_regions = region_names.len();

        let mut cities = Vec::new();
        let mut raw_city_weights = Vec::new();
        for city in CITIES
            .iter()
            .filter(|city| has_coordinates(city.latitude, city.longitude))
        {
            let pref_slot = pref_codes
                .binary_search(&city.pref_cd)
                .expect("city prefecture collected above");
            let lognormal = (0.6 * standard_normal(rng)).exp();
            raw_city_weights
                .push(city_kind_weight(city.name) * hub_boost(city.city_cd) * lognormal);
            prefectures[pref_slot].cities.push(cities.len() as u32);
            cities.push(City {
                city_cd: city.city_cd,
                pref_slot,
                name: city.name,
                short_name: short_city_name(city.name),
                latitude: city.latitude,
                longitude: city.longitude,
            });
        }
        // A city's share of the country is its prefecture's share times its share within it.
        let mut city_weights = vec![0.0; cities.len()];
        for prefecture in &mut prefectures {
            let within: f64 = prefecture
                .cities
                .iter()
                .map(|&c| raw_city_weights[c as usize])
                .sum();
            let share = prefecture_job_weight(prefecture.pref_cd);
            for &c in &prefecture.cities {
                city_weights[c as usize] = share * raw_city_weights[c as usize] / within;
            }
            prefecture.city_weights = Weighted::new(
                prefecture
                    .cities
                    .iter()
                    .map(|&c| raw_city_weights[c as usize]),
            );
        }

        let categories: Vec<Category> = OCCUPATIONS
            .iter()
            .map(|o| Category {
                occupation_cd: o.occupation_cd,
                name: o.name,
                details: o.details,
                vocabulary: vocabulary(o.name),
            })
            .collect();
        let category_weights = Weighted::new(categories.iter().map(|c| c.vocabulary.weight));

        let features: Vec<Feature> = FEATURES
            .iter()
            .filter(|f| f.is_enabled)
            .map(|f| {
                let (kind, tag, weight) = classify_feature(f.name);
                Feature {
                    feature_cd: f.feature_cd,
                    name: f.name,
                    weight,
                    tag,
                    kind,
                }
            })
            .collect();

        let mut employment_types: Vec<(u16, &'static str)> = EMPLOYMENT_TYPE_WEIGHTS
            .iter()
            .filter(|(code, _)| {
                EMPLOYMENT_TYPES.is_empty()
                    || EMPLOYMENT_TYPES
                        .iter()
                        .any(|e| e.employment_type_cd == *code)
            })
            .map(|&(code, _)| {
                let name = EMPLOYMENT_TYPES
                    .iter()
                    .find(|e| e.employment_type_cd == code)
                    .map_or("アルバイト", |e| e.name);
                (code, name)
            })
            .collect();
        if employment_types.is_empty() {
            employment_types.push((1, "アルバイト"));
        }
        let employment_weights = Weighted::new(employment_types.iter().map(|(code, _)| {
            EMPLOYMENT_TYPE_WEIGHTS
                .iter()
                .find(|(c, _)| c == code)
                .map_or(1.0, |(_, w)| *w)
        }));

        let keywords = KeywordIndex::new(&cities, &prefectures, &categories);
        let feature_weights =
            [false, true].map(|remote_friendly| {
                Weighted::new(features.iter().map(|feature| {
                    match (feature.kind, remote_friendly) {
                        (FeatureKind::Remote, true) => feature.weight * 10.0,
                        (FeatureKind::Remote, false) => feature.weight * 0.1,
                        _ => feature.weight,
                    }
                }))
            });

        Ok(Self {
            cities,
            city_weights: Weighted::new(city_weights),
            prefectures,
            n_regions,
            categories,
            category_weights,
            features,
            employment_types,
            employment_weights,
            keywords,
            feature_weights,
        })
    }

    fn prefecture_of(&self, city_idx: u32) -> &PrefectureSlot {
        &self.prefectures[self.cities[city_idx as usize].pref_slot]
    }
}

fn has_coordinates(latitude: f64, longitude: f64) -> bool {
    latitude.is_finite() && longitude.is_finite() && (latitude != 0.0 || longitude != 0.0)
}

fn short_city_name(name: &str) -> String {
    if let Some(ward) = name.strip_suffix('区')
        && let Some((city, ward)) = ward.split_once('市')
        && !city.is_empty()
        && !ward.is_empty()
    {
        return format!("{city}{ward}");
    }
    name.strip_suffix(['市', '区', '町', '村'])
        .filter(|stem| !stem.is_empty())
        .unwrap_or(name)
        .to_owned()
}

/// Wards of big cities are denser than towns and villages.
fn city_kind_weight(name: &str) -> f64 {
    match name.chars().last() {
        Some('区') => 3.0,
        Some('市') => 1.5,
        Some('町') => 0.3,
        Some('村') => 0.1,
        _ => 1.0,
    }
}

/// Business districts with many more postings than their population suggests.
fn hub_boost(city_cd: u32) -> f64 {
    match city_cd {
        13104 | 13113 => 3.0,         // 新宿区, 渋谷区
        13101..=13103 | 13116 => 2.0, // 千代田区, 中央区, 港区, 豊島区
        27127 | 27128 => 3.0,         // 大阪市北区, 中央区
        23105 | 23106 => 2.5,         // 名古屋市中村区, 中区
        40132 | 40133 => 3.0,         // 福岡市博多区, 中央区
        14103 | 1101 | 28110 | 34101 => 2.5,
        4101 | 26104 => 2.0,
        _ => 1.0,
    }
}

/// Population of each prefecture in 10,000s (2020 census, rounded), by `pref_cd`.
const PREFECTURE_POPULATION: [f64; 48] = [
    0.0, 522.0, 124.0, 121.0, 230.0, 96.0, 107.0, 183.0, 287.0, 193.0, 194.0, 734.0, 628.0, 1405.0,
    924.0, 220.0, 103.0, 113.0, 77.0, 81.0, 205.0, 198.0, 363.0, 754.0, 177.0, 141.0, 258.0, 884.0,
    547.0, 132.0, 92.0, 55.0, 67.0, 189.0, 280.0, 134.0, 72.0, 95.0, 133.0, 69.0, 514.0, 81.0,
    131.0, 174.0, 112.0, 107.0, 159.0, 147.0,
];

/// Big urban prefectures have more part-time postings per head than the rest.
fn prefecture_job_weight(pref_cd: u16) -> f64 {
    let population = PREFECTURE_POPULATION
        .get(usize::from(pref_cd))
        .copied()
        .filter(|&p| p > 0.0)
        .unwrap_or(100.0);
    let urban = match pref_cd {
        13 => 1.6,
        27 => 1.4,
        40 => 1.3,
        23 => 1.25,
        14 => 1.15,
        _ => 1.0,
    };
    population * urban
}

/// Typical hourly pay of an ordinary part-time job in the prefecture, in yen.
fn prefecture_base_wage(pref_cd: u16) -> f64 {
    match pref_cd {
        13 => 1300.0,
        14 => 1270.0,
        27 => 1220.0,
        11 => 1190.0,
        12 => 1180.0,
        23 => 1170.0,
        26 | 28 => 1150.0,
        22 | 24 | 25 => 1110.0,
        40 | 34 | 8 | 21 => 1090.0,
        1 | 4 | 9 | 10 | 16 | 20 | 29 | 33 => 1070.0,
        _ => 1040.0,
    }
}

const EMPLOYMENT_TYPE_WEIGHTS: [(u16, f64); 10] = [
    (1, 55.0),
    (3, 20.0),
    (6, 8.0),
    (8, 7.0),
    (2, 2.0),
    (4, 3.0),
    (5, 3.0),
    (7, 1.0),
    (9, 0.5),
    (10, 0.5),
];

fn classify_feature(name: &str) -> (FeatureKind, &'static str, f64) {
    use FeatureKind::*;
    const RULES: [(&str, FeatureKind, &str, f64); 19] = [
        // Before 学生: a feature for foreign students says nothing about students in general.
        ("留学生", Other, "", 0.5),
        ("日払い", DailyPay, "日払いOK", 2.0),
        ("短期", ShortTerm, "短期・単発OK", 1.5),
        ("週１", WeekOnce, "週1日〜OK", 2.5),
        ("週1", WeekOnce, "週1日〜OK", 2.5),
        ("未経験", Inexperienced, "未経験歓迎", 4.0),
        ("高校生", HighSchool, "高校生歓迎", 1.5),
        ("学生", Student, "学生歓迎", 3.0),
        ("主婦", Homemaker, "主婦(夫)活躍中", 2.5),
        ("シルバー", Senior, "シニア歓迎", 1.0),
        ("シニア", Senior, "シニア歓迎", 1.0),
        ("副業", SideJob, "副業・WワークOK", 1.5),
        ("交通費", Commute, "交通費支給", 3.0),
        ("在宅", Remote, "在宅OK", 0.5),
        ("高収入", HighIncome, "高収入", 1.0),
        ("年齢不問", Senior, "年齢不問", 1.5),
        ("シフト自由", ShiftFree, "シフト自由", 2.0),
        ("土日のみ", WeekendOnly, "土日のみOK", 1.0),
        ("即日勤務", StartToday, "即日勤務OK", 1.0),
    ];
    RULES
        .iter()
        .find(|(needle, ..)| name.contains(needle))
        .map(|&(_, kind, tag, weight)| (kind, tag, weight))
        .unwrap_or((Other, "", 1.0))
}

/// Starter SEO keywords (spaces removed) that a catch copy may quote, by the jobs they suit: a
/// keyword names a place (`渋谷 バイト`), a kind of work (`カフェ バイト`) or a need (`日払い バイト`).
#[derive(Default)]
struct KeywordIndex {
    texts: Vec<String>,
    by_city: Vec<Vec<u16>>,
    by_prefecture: Vec<Vec<u16>>,
    by_category: Vec<Vec<u16>>,
    by_kind: Vec<(FeatureKind, Vec<u16>)>,
}

/// Words of keywords that suit jobs with a feature of the kind.
const KIND_KEYWORD_STEMS: [(FeatureKind, &[&str]); 15] = [
    (FeatureKind::DailyPay, &["日払い", "週払い", "日雇い"]),
    (FeatureKind::ShortTerm, &["短期", "単発"]),
    (FeatureKind::WeekOnce, &["週1", "週一"]),
    (FeatureKind::Student, &["大学生"]),
    (FeatureKind::HighSchool, &["高校生"]),
    (FeatureKind::Homemaker, &["主婦", "扶養"]),
    (FeatureKind::Senior, &["シニア", "60代", "50代"]),
    (FeatureKind::Remote, &["在宅", "内職"]),
    (FeatureKind::HighIncome, &["高時給", "高収入", "高額"]),
    (FeatureKind::SideJob, &["副業", "Wワーク", "掛け持ち"]),
    (FeatureKind::Inexperienced, &["未経験"]),
    (FeatureKind::Commute, &["交通費"]),
    (FeatureKind::WeekendOnly, &["土日"]),
    (FeatureKind::StartToday, &["即日"]),
    (FeatureKind::ShiftFree, &["シフト自由"]),
];

/// Keywords about job hunting rather than jobs, or about jobs this generator never makes.
const UNSUITABLE_KEYWORD_WORDS: [&str; 18] = [
    "闇",
    "裏",
    "履歴",
    "面接",
    "辞め",
    "理由",
    "違い",
    "書き方",
    "休む",
    "志望",
    "逃亡",
    "確定申告",
    "探し",
    "楽な",
    "おすすめ",
    "ハローワーク",
    "治験",
    "聞かれる",
];

impl KeywordIndex {
    fn new(cities: &[City], prefectures: &[PrefectureSlot], categories: &[Category]) -> Self {
        let mut index = Self {
            by_city: vec![Vec::new(); cities.len()],
            by_prefecture: vec![Vec::new(); prefectures.len()],
            by_category: vec![Vec::new(); categories.len()],
            by_kind: KIND_KEYWORD_STEMS
                .iter()
                .map(|&(kind, _)| (kind, Vec::new()))
                .collect(),
            ..Self::default()
        };
        for keyword in KEYWORDS {
            let text = keyword.keyword.replace([' ', '　'], "");
            if UNSUITABLE_KEYWORD_WORDS
                .iter()
                .any(|word| text.contains(word))
            {
                continue;
            }
            // What the keyword says beyond "a part-time job".
            let topic = text
                .replace("アルバイト", "")
                .replace("バイト", "")
                .replace("パート", "")
                .replace("求人", "");
            if topic.chars().count() < 2 || index.texts.len() >= usize::from(u16::MAX) {
                continue;
            }
            let id = index.texts.len() as u16;
            let mut suits_some_job = false;
            let mut add = |list: &mut Vec<u16>| {
                list.push(id);
                suits_some_job = true;
            };
            for (city, list) in cities.iter().zip(&mut index.by_city) {
                if city.name.contains(&topic) {
                    add(list);
                }
            }
            for (prefecture, list) in prefectures.iter().zip(&mut index.by_prefecture) {
                if prefecture.name.contains(&topic) {
                    add(list);
                }
            }
            for (category, list) in categories.iter().zip(&mut index.by_category) {
                let stems = category.vocabulary.keyword_stems;
                if stems.iter().any(|stem| topic.contains(stem)) {
                    add(list);
                }
            }
            for ((_, stems), (_, list)) in KIND_KEYWORD_STEMS.iter().zip(&mut index.by_kind) {
                if stems.iter().any(|stem| topic.contains(stem)) {
                    add(list);
                }
            }
            if suits_some_job {
                index.texts.push(text);
            }
        }
        index
    }

    /// Collects into `out` the keywords that suit the job.
    fn collect_for(&self, world: &World, job: &Job, out: &mut Vec<u16>) {
        out.clear();
        let city = job.city as usize;
        out.extend_from_slice(&self.by_city[city]);
        out.extend_from_slice(&self.by_prefecture[world.cities[city].pref_slot]);
        out.extend_from_slice(&self.by_category[usize::from(job.category)]);
        for &feature in &job.features {
            let kind = world.features[usize::from(feature)].kind;
            for (_, list) in self.by_kind.iter().filter(|(k, _)| *k == kind) {
                out.extend_from_slice(list);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary per occupation category

struct Vocabulary {
    /// Words of an occupation category's name that select this vocabulary (`飲食` for
    /// `飲食・フード系`); the last vocabulary, with none, takes every other category.
    markers: &'static [&'static str],
    /// Words of starter SEO keywords that suit a job of this category (`カフェ バイト`).
    keyword_stems: &'static [&'static str],
    /// Whether remote work is common (office and IT work).
    remote_friendly: bool,
    /// Relative share of postings.
    weight: f64,
    wage_factor: f64,
    places: &'static [&'static str],
    roles: &'static [&'static str],
    /// Shop or company names: `{K}` takes a katakana word, `{J}` a Japanese one.
    brands: &'static [&'static str],
    legal_suffixes: &'static [&'static str],
    business: &'static str,
    shifts: &'static [&'static str],
    duties: &'static [&'static str],
}

const VOCABULARIES: [Vocabulary; 12] = [
    Vocabulary {
        markers: &["飲食", "フード"],
        keyword_stems: &[
            "カフェ",
            "居酒屋",
            "飲食",
            "レストラン",
            "ファミレス",
            "ラーメン",
            "寿司",
            "焼肉",
            "パン屋",
            "キッチン",
            "ホール",
        ],
        remote_friendly: false,
        weight: 22.0,
        wage_factor: 1.0,
        places: &[
            "カフェ",
            "レストラン",
            "居酒屋",
            "ファミレス",
            "ラーメン店",
            "焼肉店",
            "回転寿司店",
            "ベーカリー",
            "定食屋",
            "ファストフード店",
        ],
        roles: &[
            "ホールスタッフ",
            "キッチンスタッフ",
            "調理補助",
            "洗い場スタッフ",
            "バリスタ",
            "デリバリースタッフ",
        ],
        brands: &[
            "カフェ・ド・{K}",
            "{J}食堂",
            "らーめん{J}",
            "炭火焼鳥 {J}",
            "回転寿司 {J}丸",
            "ダイニング{K}",
            "ベーカリー{K}",
            "{J}珈琲",
            "焼肉{J}苑",
            "バーガー{K}",
        ],
        legal_suffixes: &["フーズ", "ダイニング", "フードサービス"],
        business: "飲食店の経営",
        shifts: &[
            "11:00〜15:00",
            "17:00〜23:00",
            "10:00〜22:00",
            "7:00〜11:00",
            "18:00〜翌1:00",
        ],
        duties: &[
            "お客様のご案内、オーダー取り、料理の提供などをお願いします。",
            "キッチンでは簡単な調理や盛り付け、仕込みを担当していただきます。",
            "マニュアル完備なので、飲食店が初めての方でもすぐに慣れますよ。",
            "ランチタイムやディナータイムなど、忙しい時間帯だけの勤務も歓迎です。",
            "まかないは人気メニューから選べて、スタッフにも好評です。",
        ],
    },
    Vocabulary {
        markers: &["販売", "アパレル"],
        keyword_stems: &[
            "コンビニ",
            "スーパー",
            "ドラッグストア",
            "アパレル",
            "本屋",
            "書店",
            "品出し",
            "レジ",
            "ガソリンスタンド",
            "ホテル",
            "携帯",
        ],
        remote_friendly: false,
        weight: 20.0,
        wage_factor: 1.0,
        places: &[
            "コンビニ",
            "スーパー",
            "ドラッグストア",
            "アパレルショップ",
            "家電量販店",
            "書店",
            "雑貨店",
            "ホームセンター",
            "ガソリンスタンド",
            "ホテル",
        ],
        roles: &[
            "レジスタッフ",
            "品出しスタッフ",
            "販売スタッフ",
            "接客スタッフ",
            "フロントスタッフ",
            "携帯販売スタッフ",
        ],
        brands: &[
            "{K}マート",
            "ドラッグ{K}",
            "{J}ストア",
            "ファッション{K}",
            "{K}電機",
            "スーパー{J}",
            "ブックス{K}",
            "{J}書店",
            "ホテル{K}",
            "{K}モバイル",
        ],
        legal_suffixes: &["商事", "リテール", "ストアーズ"],
        business: "小売店の運営",
        shifts: &[
            "9:00〜13:00",
            "13:00〜17:00",
            "17:00〜22:00",
            "7:00〜10:00",
            "22:00〜翌7:00",
        ],
        duties: &[
            "レジ打ちや商品の品出し、売り場の整理をお願いします。",
            "お客様からの商品に関するお問い合わせにお答えするお仕事です。",
            "新商品の陳列やPOP作りなど、売り場づくりにも挑戦できます。",
            "検品や在庫管理など、バックヤードでの作業もあります。",
            "最新のレジを導入しているので、操作はすぐに覚えられます。",
        ],
    },
    Vocabulary {
        markers: &["配送", "ドライバー", "引越"],
        keyword_stems: &["配達", "配送", "ドライバー", "引越", "デリバリー"],
        remote_friendly: false,
        weight: 8.0,
        wage_factor: 1.15,
        places: &["配送センター", "引越センター", "宅配営業所", "物流センター"],
        roles: &[
            "配送ドライバー",
            "軽貨物ドライバー",
            "引越しスタッフ",
            "仕分けスタッフ",
            "デリバリースタッフ",
            "助手スタッフ",
        ],
        brands: &[
            "{J}急便",
            "{K}エクスプレス",
            "{J}引越センター",
            "{K}ロジ",
            "{J}運輸",
        ],
        legal_suffixes: &["物流", "運輸", "エクスプレス"],
        business: "貨物の配送・引越サービス",
        shifts: &["8:00〜17:00", "9:00〜18:00", "6:00〜12:00", "18:00〜22:00"],
        duties: &[
            "決められたエリアへ荷物をお届けするお仕事です。",
            "荷物の積み込みや仕分けなど、体を動かす作業が中心です。",
            "引越し作業は先輩と一緒にチームで行うので安心です。",
            "配送ルートはナビで案内されるので、土地勘がなくても大丈夫です。",
            "普通自動車免許をお持ちの方は優遇します。",
        ],
    },
    Vocabulary {
        markers: &["オフィス", "事務"],
        keyword_stems: &["データ入力", "事務", "コールセンター", "受付", "テレアポ"],
        remote_friendly: true,
        weight: 11.0,
        wage_factor: 1.08,
        places: &["オフィス", "コールセンター", "事務所", "本社"],
        roles: &[
            "一般事務",
            "データ入力",
            "受付スタッフ",
            "コールセンタースタッフ",
            "営業アシスタント",
            "テレアポスタッフ",
        ],
        brands: &[
            "{K}コミュニケーションズ",
            "{J}コールセンター",
            "{K}ビジネスサポート",
            "{J}総合事務所",
            "{K}パートナーズ",
        ],
        legal_suffixes: &[
            "ビジネスサービス",
            "コミュニケーションズ",
            "ソリューションズ",
        ],
        business: "コールセンター・事務代行サービス",
        shifts: &["9:00〜18:00", "10:00〜17:00", "9:00〜15:00", "13:00〜21:00"],
        duties: &[
            "パソコンでのデータ入力や書類のファイリングをお願いします。",
            "お客様からのお問い合わせに電話でご対応いただきます。",
            "トークマニュアルがあるので、初めての方でも安心です。",
            "来客対応や電話の取り次ぎなど、オフィスの窓口業務もあります。",
            "文字入力ができれば、専門的なスキルは必要ありません。",
        ],
    },
    Vocabulary {
        markers: &["医療", "介護", "保育", "福祉"],
        keyword_stems: &["介護", "看護", "保育", "病院", "医療事務", "薬局"],
        remote_friendly: false,
        weight: 7.0,
        wage_factor: 1.22,
        places: &[
            "介護施設",
            "病院",
            "クリニック",
            "保育園",
            "デイサービス",
            "調剤薬局",
        ],
        roles: &[
            "介護スタッフ",
            "看護助手",
            "医療事務",
            "保育補助",
            "受付スタッフ",
            "送迎ドライバー",
        ],
        brands: &[
            "{J}介護センター",
            "デイサービス{J}",
            "{J}クリニック",
            "{J}保育園",
            "{K}メディカル",
            "{J}薬局",
        ],
        legal_suffixes: &["ケア", "メディカル", "福祉会"],
        business: "介護・医療・保育施設の運営",
        shifts: &["7:00〜16:00", "9:00〜18:00", "16:00〜翌9:00", "8:30〜17:30"],
        duties: &[
            "利用者様の食事や入浴、移動のお手伝いをお願いします。",
            "病院の受付で患者様のご案内や会計を担当していただきます。",
            "保育士の補助として、子どもたちの見守りや遊びのサポートをお願いします。",
            "資格取得支援制度があり、働きながらスキルアップできます。",
            "無資格・未経験の方も、研修で基本から学べます。",
        ],
    },
    Vocabulary {
        markers: &["工場", "倉庫", "軽作業"],
        keyword_stems: &["倉庫", "工場", "軽作業", "ピッキング", "仕分け", "検品"],
        remote_friendly: false,
        weight: 15.0,
        wage_factor: 1.08,
        places: &["倉庫", "工場", "物流センター", "食品工場", "建設現場"],
        roles: &[
            "ピッキング",
            "検品スタッフ",
            "梱包スタッフ",
            "ライン作業",
            "フォークリフトオペレーター",
            "軽作業スタッフ",
        ],
        brands: &[
            "{K}ロジスティクス",
            "{J}物流センター",
            "{J}食品工場",
            "{K}ファクトリー",
            "{J}工業",
        ],
        legal_suffixes: &["ロジスティクス", "工業", "製作所"],
        business: "物流倉庫・工場の運営",
        shifts: &[
            "9:00〜18:00",
            "8:00〜17:00",
            "22:00〜翌6:00",
            "13:00〜22:00",
        ],
        duties: &[
            "倉庫内でリストを見ながら商品を集めるピッキング作業です。",
            "ベルトコンベアで流れてくる商品の検品や箱詰めをお願いします。",
            "冷暖房完備の倉庫なので、一年中快適に働けます。",
            "黙々と作業できるので、人と話すのが苦手な方にも人気です。",
            "重いものを運ぶ作業はほとんどありません。",
        ],
    },
    Vocabulary {
        markers: &["美容", "エステ", "理容"],
        keyword_stems: &["美容", "ネイル", "エステ", "サロン"],
        remote_friendly: false,
        weight: 2.0,
        wage_factor: 1.12,
        places: &[
            "美容室",
            "ネイルサロン",
            "エステサロン",
            "リラクゼーションサロン",
            "理容室",
        ],
        roles: &[
            "アシスタント",
            "受付スタッフ",
            "セラピスト",
            "ネイリスト",
            "美容師",
        ],
        brands: &[
            "ヘアサロン{K}",
            "{K}ネイル",
            "エステ{K}",
            "リラクゼーション{J}",
            "{J}理容室",
        ],
        legal_suffixes: &["ビューティー", "ヘアメイク", "ウェルネス"],
        business: "美容室・サロンの運営",
        shifts: &["10:00〜19:00", "11:00〜20:00", "9:30〜18:30"],
        duties: &[
            "シャンプーやカラーなど、スタイリストのアシスタント業務をお願いします。",
            "サロンの受付で予約管理やお客様のお出迎えを担当していただきます。",
            "技術研修が充実しているので、ブランクのある方も安心です。",
            "施術は丁寧な研修を受けてからなので、未経験でも大丈夫です。",
            "スタッフ割引でトリートメントや施術が受けられます。",
        ],
    },
    Vocabulary {
        markers: &["教育", "講師"],
        keyword_stems: &["塾講師", "家庭教師", "試験監督", "採点", "講師"],
        remote_friendly: false,
        weight: 4.0,
        wage_factor: 1.45,
        places: &[
            "個別指導塾",
            "学習塾",
            "家庭教師センター",
            "スイミングスクール",
            "英会話教室",
        ],
        roles: &[
            "塾講師",
            "家庭教師",
            "採点スタッフ",
            "試験監督",
            "インストラクター",
            "教室運営スタッフ",
        ],
        brands: &[
            "個別指導{J}塾",
            "{J}ゼミナール",
            "{K}英会話",
            "{J}家庭教師センター",
            "スイミングスクール{K}",
        ],
        legal_suffixes: &["教育", "エデュケーション", "ゼミナール"],
        business: "学習塾・教室の運営",
        shifts: &["16:00〜22:00", "17:00〜21:30", "9:00〜17:00"],
        duties: &[
            "小学生から高校生までの生徒に、得意な科目を教えていただきます。",
            "授業はマニュアルと教材に沿って進めるので、初めての方も安心です。",
            "テストの採点や試験会場での監督業務もあります。",
            "授業の準備時間にも給与が発生します。",
            "大学生講師が多数活躍しており、授業の相談もしやすい環境です。",
        ],
    },
    Vocabulary {
        markers: &["アミューズメント", "エンタメ"],
        keyword_stems: &[
            "カラオケ",
            "映画館",
            "パチンコ",
            "ゲームセンター",
            "ネットカフェ",
        ],
        remote_friendly: false,
        weight: 3.0,
        wage_factor: 1.03,
        places: &[
            "カラオケ店",
            "ゲームセンター",
            "映画館",
            "テーマパーク",
            "ボウリング場",
            "ネットカフェ",
        ],
        roles: &[
            "受付スタッフ",
            "フロアスタッフ",
            "アトラクションスタッフ",
            "ホールスタッフ",
            "清掃スタッフ",
        ],
        brands: &[
            "カラオケ{K}",
            "{K}シネマ",
            "アミューズメント{K}",
            "{K}ボウル",
            "ネットカフェ{K}",
        ],
        legal_suffixes: &["エンタテインメント", "アミューズメント", "レジャー"],
        business: "アミューズメント施設の運営",
        shifts: &["10:00〜18:00", "18:00〜翌0:00", "9:00〜17:00"],
        duties: &[
            "受付でのお客様のご案内や、ドリンクの提供をお願いします。",
            "フロアの巡回や機械の簡単なメンテナンスもあります。",
            "映画やゲームが好きな方にぴったりの職場です。",
            "スタッフ同士の仲が良く、イベント期間はみんなで盛り上がります。",
            "施設を無料や割引で利用できる特典があります。",
        ],
    },
    Vocabulary {
        markers: &["イベント", "キャンペーン"],
        keyword_stems: &["イベント", "ライブ", "試食", "サンプリング", "モニター"],
        remote_friendly: false,
        weight: 3.0,
        wage_factor: 1.12,
        places: &["イベント会場", "ライブ会場", "展示会場", "商業施設"],
        roles: &[
            "イベントスタッフ",
            "設営スタッフ",
            "サンプリングスタッフ",
            "キャンペーンスタッフ",
            "試食販売スタッフ",
            "モニター",
        ],
        brands: &[
            "{K}プロモーション",
            "{J}イベント企画",
            "{K}エージェンシー",
            "{K}キャンペーンズ",
        ],
        legal_suffixes: &["プロモーション", "イベント", "エージェンシー"],
        business: "イベントの企画・運営",
        shifts: &["9:00〜18:00", "10:00〜17:00", "8:00〜20:00"],
        duties: &[
            "コンサートやスポーツイベントの会場でお客様をご案内します。",
            "会場の設営や撤去など、イベントを支える裏方のお仕事です。",
            "街頭や店頭でのサンプリング配布をお願いします。",
            "好きな日だけ働けるので、予定に合わせて無理なく続けられます。",
            "有名アーティストのライブに関われることもあります。",
        ],
    },
    Vocabulary {
        markers: &["IT", "クリエイティブ"],
        keyword_stems: &["プログラミング", "デザイン", "ライター", "在宅", "デバッグ"],
        remote_friendly: true,
        weight: 1.5,
        wage_factor: 1.4,
        places: &["IT企業", "Web制作会社", "ゲーム会社", "デザイン事務所"],
        roles: &[
            "Webデザイナー",
            "プログラマー",
            "デバッガー",
            "ライター",
            "テスター",
            "データ入力スタッフ",
        ],
        brands: &[
            "{K}システムズ",
            "{K}デジタル",
            "{K}ラボ",
            "{K}ソフト",
            "{K}クリエイティブ",
        ],
        legal_suffixes: &["システムズ", "テクノロジーズ", "デジタル"],
        business: "Webサービス・ソフトウェアの開発",
        shifts: &[
            "10:00〜19:00",
            "9:00〜18:00",
            "フレックス（コアタイム11:00〜15:00）",
        ],
        duties: &[
            "発売前のゲームやアプリの動作チェックをお願いします。",
            "Webサイトの更新やバナー制作などを担当していただきます。",
            "記事の執筆や編集など、文章に関わるお仕事です。",
            "慣れてきたらリモートワークも可能です。",
            "最新のIT技術に触れながらスキルアップできます。",
        ],
    },
    Vocabulary {
        markers: &[],
        keyword_stems: &["清掃", "警備", "ポスティング", "農業", "交通誘導"],
        remote_friendly: false,
        weight: 4.0,
        wage_factor: 1.03,
        places: &["オフィスビル", "ホテル", "商業施設", "農園", "マンション"],
        roles: &[
            "清掃スタッフ",
            "警備スタッフ",
            "交通誘導スタッフ",
            "ポスティングスタッフ",
            "農作業スタッフ",
            "ベッドメイク",
        ],
        brands: &[
            "{J}ビルメンテナンス",
            "{J}警備保障",
            "{K}クリーンサービス",
            "{J}農園",
            "{K}ホテルズ",
        ],
        legal_suffixes: &["サービス", "メンテナンス", "警備保障"],
        business: "ビルメンテナンス・警備サービス",
        shifts: &["8:00〜17:00", "6:00〜9:00", "9:00〜18:00", "21:00〜翌6:00"],
        duties: &[
            "オフィスビルや商業施設の共用部分を清掃するお仕事です。",
            "工事現場や駐車場での交通誘導をお願いします。",
            "決められたエリアのポストにチラシを配布します。",
            "ひとりで黙々と進められるので、自分のペースで働けます。",
            "新任研修（有給）があるので、未経験の方も安心です。",
        ],
    },
];

/// The vocabulary of an occupation category, found by its name, so that any numbering of the
/// categories works (the built-in master and the operator's file number them differently).
fn vocabulary(category_name: &str) -> &'static Vocabulary {
    VOCABULARIES
        .iter()
        .find(|v| {
            v.markers
                .iter()
                .any(|marker| category_name.contains(marker))
        })
        .unwrap_or(&VOCABULARIES[VOCABULARIES.len() - 1])
}

const KATAKANA_WORDS: [&str; 30] = [
    "モーニング",
    "サンライズ",
    "ポルト",
    "ルミエール",
    "グラン",
    "ハーベスト",
    "オリーブ",
    "ブルーム",
    "ステラ",
    "リーフ",
    "ソレイユ",
    "フォレスト",
    "マーレ",
    "アトリエ",
    "クローバー",
    "スマイル",
    "ハピネス",
    "ミモザ",
    "ノース",
    "リバー",
    "エール",
    "コスモ",
    "ライフ",
    "ネクスト",
    "ユニオン",
    "アクア",
    "フロンティア",
    "ベスト",
    "プラス",
    "ワールド",
];
const JAPANESE_WORDS: [&str; 30] = [
    "さくら",
    "ひまわり",
    "大黒",
    "福助",
    "一番星",
    "花月",
    "松風",
    "若竹",
    "銀河",
    "日の出",
    "満月",
    "青葉",
    "朝日",
    "富士",
    "彩",
    "結",
    "縁",
    "匠",
    "粋",
    "蔵",
    "あおぞら",
    "みらい",
    "大和",
    "北斗",
    "若葉",
    "光",
    "星野",
    "丸福",
    "千代田",
    "東邦",
];
const SURNAMES: [&str; 12] = [
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
];
/// `(given name, romaji, gender)`.
const GIVEN_NAMES: [(&str, &str, &str); 30] = [
    ("直己", "naoki", "m"),
    ("翔太", "shota", "m"),
    ("陽菜", "hina", "f"),
    ("結衣", "yui", "f"),
    ("大翔", "hiroto", "m"),
    ("美咲", "misaki", "f"),
    ("健太", "kenta", "m"),
    ("彩花", "ayaka", "f"),
    ("拓海", "takumi", "m"),
    ("さくら", "sakura", "f"),
    ("蓮", "ren", "m"),
    ("葵", "aoi", "f"),
    ("悠真", "yuma", "m"),
    ("凛", "rin", "f"),
    ("颯太", "sota", "m"),
    ("美月", "mizuki", "f"),
    ("優奈", "yuna", "f"),
    ("大輔", "daisuke", "m"),
    ("由美", "yumi", "f"),
    ("恵子", "keiko", "f"),
    ("誠", "makoto", "m"),
    ("浩二", "koji", "m"),
    ("智子", "tomoko", "f"),
    ("隆", "takashi", "m"),
    ("花子", "hanako", "f"),
    ("太郎", "taro", "m"),
    ("真由美", "mayumi", "f"),
    ("亮", "ryo", "m"),
    ("千尋", "chihiro", "f"),
    ("芽依", "mei", "f"),
];
const GENERIC_TAGS: [&str; 8] = [
    "急募",
    "高時給",
    "駅チカ",
    "好条件",
    "週2〜OK",
    "シフト制",
    "扶養内OK",
    "大量募集",
];
const GENERIC_DUTIES: [&str; 14] = [
    "先輩スタッフが丁寧に教えるので、初めての方も安心してスタートできます。",
    "シフトは2週間ごとの提出制で、学校や家庭の予定にも柔軟に対応します。",
    "20代から50代まで、幅広い年代のスタッフが活躍中です。",
    "長期で働ける方を歓迎しますが、期間限定の勤務もご相談ください。",
    "服装や髪型の規定はゆるめなので、自分らしく働けます。",
    "応募後、担当者より面接日時のご連絡をいたします。",
    "面接では履歴書は不要です。お気軽にお越しください。",
    "頑張りはしっかり評価し、昇給のチャンスもあります。",
    "休憩室にはウォーターサーバーや電子レンジを完備しています。",
    "子育て中のスタッフも多く、急なお休みにも協力し合える職場です。",
    "Wワークや掛け持ちの方も多数活躍しています。",
    "土日だけ、平日だけなど、ライフスタイルに合わせて働けます。",
    "オープニングメンバーも在籍しており、職場の雰囲気はとても明るいです。",
    "仕事に慣れたら、リーダーやトレーナーとして活躍することもできます。",
];
const CLOSINGS: [&str; 4] = [
    "ご応募お待ちしております！",
    "まずはお気軽にご応募ください。",
    "皆さんと一緒に働けることを楽しみにしています。",
    "見学だけでもOKです。お気軽にお問い合わせください。",
];
const WELFARE_ITEMS: [&str; 12] = [
    "交通費支給（規定あり）",
    "制服貸与",
    "社員割引あり",
    "まかない付き",
    "社会保険完備（条件あり）",
    "有給休暇",
    "昇給あり",
    "車・バイク通勤OK",
    "研修制度あり",
    "社員登用制度あり",
    "従業員用駐車場あり",
    "資格取得支援",
];
const REQUIREMENT_ITEMS: [&str; 9] = [
    "未経験OK",
    "学生・フリーター歓迎",
    "18歳以上（高校生不可）",
    "週2日以上勤務できる方",
    "土日どちらか勤務できる方",
    "ブランクのある方もOK",
    "経験者優遇",
    "要普通自動車免許",
    "長期で働ける方歓迎",
];
const WEEK_PHRASES: [(&str, f64); 6] = [
    ("週2日〜OK", 30.0),
    ("週3日以上歓迎", 15.0),
    ("シフト自由", 18.0),
    ("土日のみOK", 8.0),
    ("1日4h〜OK", 15.0),
    ("週2〜3日、1日4h〜", 14.0),
];
const IMAGE_CAPTIONS: [&str; 6] = [
    "店内の様子",
    "スタッフ集合写真",
    "働く仲間たち",
    "職場の雰囲気",
    "休憩室",
    "制服はこちら",
];
const FREE_FIELD_ITEMS: [&str; 10] = [
    "未経験歓迎",
    "制服貸与",
    "髪型自由",
    "ブランクOK",
    "駅から近い",
    "昇給あり",
    "車通勤OK",
    "友達と応募OK",
    "オープニング",
    "WEB面接OK",
];

/// Railway lines by prefecture, for the `traffic` column.
fn railway_lines(pref_cd: u16) -> &'static [&'static str] {
    match pref_cd {
        13 => &[
            "JR山手線",
            "JR中央線",
            "東京メトロ丸ノ内線",
            "都営新宿線",
            "東急東横線",
            "京王線",
            "小田急線",
            "西武池袋線",
        ],
        27 => &[
            "大阪メトロ御堂筋線",
            "JR大阪環状線",
            "阪急京都線",
            "京阪本線",
            "南海本線",
        ],
        14 => &[
            "JR東海道線",
            "京急本線",
            "相鉄本線",
            "東急田園都市線",
            "横浜市営地下鉄ブルーライン",
        ],
        23 => &["名古屋市営地下鉄東山線", "名鉄名古屋本線", "JR東海道本線"],
        40 => &["福岡市地下鉄空港線", "西鉄天神大牟田線", "JR鹿児島本線"],
        1 => &["札幌市営地下鉄南北線", "JR函館本線"],
        26 => &["京都市営地下鉄烏丸線", "阪急京都線", "京阪本線"],
        28 => &["JR神戸線", "阪急神戸線", "阪神本線"],
        11 => &["JR埼京線", "東武東上線", "西武池袋線"],
        12 => &["JR総武線", "京成本線", "東武野田線"],
        _ => &["JR線", "私鉄線"],
    }
}

fn salary_type_name(salary_type_cd: u8) -> &'static str {
    SALARY_TYPES
        .iter()
        .find(|s| s.salary_type_cd == u16::from(salary_type_cd))
        .map(|s| s.name)
        .unwrap_or(match salary_type_cd {
            2 => "日給",
            3 => "週給",
            4 => "月給",
            _ => "時給",
        })
}

// ---------------------------------------------------------------------------------------------
// Dates and timestamps

/// A local instant in Asia/Tokyo: a day relative to the end date and a second of that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp {
    day: i32,
    second: u32,
}

impl Stamp {
    fn new(day: i32, second: u32) -> Self {
        Self { day, second }
    }

    /// The same instant as a UTC wall-clock time (Tokyo is UTC+9 all year).
    fn in_utc(self) -> Self {
        let seconds_per_day = i64::from(SECONDS_PER_DAY);
        let utc = i64::from(self.day) * seconds_per_day + i64::from(self.second) - 9 * 3600;
        Self::new(
            utc.div_euclid(seconds_per_day) as i32,
            utc.rem_euclid(seconds_per_day) as u32,
        )
    }
}

/// The formatted dates of every day the generator can name, relative to the end date.
struct Calendar {
    first_day: i32,
    dates: Vec<String>,
}

/// How far after the end date postings and plans may reach.
const LAST_CALENDAR_DAY: i32 = 400;
/// How far before the action window accounts and postings may reach.
const HISTORY_BEFORE_WINDOW_DAYS: i32 = 1_200;

impl Calendar {
    fn new(end_date: Date, days: u32) -> io::Result<Self> {
        let window = i32::try_from(days).unwrap_or(i32::MAX / 2);
        let first_day = -(window.max(HISTORY_BEFORE_WINDOW_DAYS) + 10);
        let out_of_range = |error: jiff::Error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the end date {end_date} with {days} days is out of range: {error}"),
            )
        };
        let mut date = end_date
            .checked_sub(Span::new().days(i64::from(-first_day)))
            .map_err(out_of_range)?;
        let mut dates = Vec::with_capacity((LAST_CALENDAR_DAY - first_day + 1) as usize);
        for _ in first_day..=LAST_CALENDAR_DAY {
            dates.push(date.to_string());
            date = date.tomorrow().map_err(out_of_range)?;
        }
        Ok(Self { first_day, dates })
    }

    fn date(&self, day: i32) -> &str {
        let index = (day - self.first_day).clamp(0, self.dates.len() as i32 - 1);
        &self.dates[index as usize]
    }

    /// Appends `YYYY-MM-DD HH:MM:SS` and the given offset.
    fn push_stamp(&self, out: &mut String, stamp: Stamp, offset: &str) {
        out.push_str(self.date(stamp.day));
        out.push(' ');
        push_two_digits(out, stamp.second / 3600);
        out.push(':');
        push_two_digits(out, stamp.second / 60 % 60);
        out.push(':');
        push_two_digits(out, stamp.second % 60);
        out.push_str(offset);
    }
}

fn push_two_digits(out: &mut String, value: u32) {
    out.push(char::from(b'0' + (value / 10 % 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

/// Formats integers without allocating.
struct Digits {
    buffer: [u8; 20],
}

impl Digits {
    fn new() -> Self {
        Self { buffer: [0; 20] }
    }

    fn format(&mut self, mut value: u64) -> &[u8] {
        let mut start = self.buffer.len();
        loop {
            start -= 1;
            self.buffer[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        &self.buffer[start..]
    }
}

fn csv_writer(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create {}: {error}", path.display()),
        )
    })?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)))
}

fn finish(writer: csv::Writer<BufWriter<File>>) -> io::Result<BufWriter<File>> {
    writer.into_inner().map_err(|error| error.into_error())
}

// ---------------------------------------------------------------------------------------------
// Companies and jobs

struct Company {
    endcl_cd: String,
    client_cd: String,
    legal_name: String,
    brand: String,
    kana: &'static str,
    category: usize,
    home_city: u32,
    size: usize,
    phone: String,
    /// Whether the feed carries the company's address, URL and profile.
    detailed_profile: bool,
}

impl Company {
    /// Companies with many postings are chains whose postings name the branch.
    fn is_chain(&self) -> bool {
        self.size >= 15
    }
}

/// Company sizes follow a Pareto law (shape 0.95), softly capped so that the largest chains have a
/// few hundred postings: most companies post 1–5 jobs, and the mean is about 8.
fn generate_companies(world: &World, n_jobs: usize, rng: &mut ChaCha8Rng) -> Vec<Company> {
    let cap = (n_jobs / 125).clamp(20, 800) as f64;
    let mut companies = Vec::with_capacity(n_jobs / 7 + 1);
    let mut remaining = n_jobs;
    let mut code = 1_000_u32;
    while remaining > 0 {
        let uniform = rng.random::<f64>().max(1e-12);
        // A soft cap, so that the largest chains differ in size instead of piling up at the cap.
        let pareto = uniform.powf(-1.0 / 0.95);
        let size = ((cap * (1.0 - (-pareto / cap).exp())).round() as usize).clamp(1, remaining);
        remaining -= size;
        code += rng.random_range(1..=40);
        let category = world.category_weights.sample(rng);
        let vocabulary = world.categories[category].vocabulary;
        let katakana = *pick(rng, &KATAKANA_WORDS);
        let japanese = *pick(rng, &JAPANESE_WORDS);
        let brand = pick(rng, vocabulary.brands)
            .replace("{K}", katakana)
            .replace("{J}", japanese);
        let core = if rng.random_bool(0.5) {
            katakana
        } else {
            japanese
        };
        let suffix = *pick(rng, vocabulary.legal_suffixes);
        let legal_name = match rng.random_range(0..20) {
            0..=13 => format!("株式会社{core}{suffix}"),
            14..=16 => format!("{core}{suffix}株式会社"),
            17..=18 => format!("有限会社{core}{suffix}"),
            _ => format!("合同会社{core}{suffix}"),
        };
        let phone = if rng.random_bool(0.2) {
            format!(
                "0120-{:03}-{:03}",
                rng.random_range(0..1000),
                rng.random_range(0..1000)
            )
        } else {
            format!(
                "0{}-{:04}-{:04}",
                rng.random_range(3..=99),
                rng.random_range(1000..10000),
                rng.random_range(0..10000)
            )
        };
        companies.push(Company {
            endcl_cd: format!("EC{code:07}"),
            client_cd: format!("CL{:06}", code / 3 + rng.random_range(0..3)),
            legal_name,
            brand,
            kana: katakana,
            category,
            home_city: world.city_weights.sample(rng) as u32,
            size,
            phone,
            detailed_profile: rng.random_bool(0.3),
        });
    }
    companies
}

#[derive(Clone)]
struct Job {
    job_id: u32,
    company: u32,
    city: u32,
    category: u16,
    detail: Option<u16>,
    employment: u16,
    salary_type_cd: u8,
    min_salary: u32,
    max_salary: Option<u32>,
    fee: u32,
    /// Indices into `World::features`, in ascending feature-code order.
    features: Vec<u16>,
    feature_codes: String,
    start_at: Option<Stamp>,
    end_at: Option<Stamp>,
    created_at: Stamp,
    updated_at: Stamp,
    is_delivery: bool,
    deleted: bool,
}

impl Job {
    fn has_feature(&self, world: &World, kind: FeatureKind) -> bool {
        self.features
            .iter()
            .any(|&f| world.features[usize::from(f)].kind == kind)
    }

    fn employment_type_cd(&self, world: &World) -> u16 {
        world.employment_types[usize::from(self.employment)].0
    }

    fn occupation_cd(&self, world: &World) -> u32 {
        world.categories[usize::from(self.category)].occupation_cd
    }
}

fn generate_jobs(world: &World, companies: &[Company], rng: &mut ChaCha8Rng) -> Vec<Job> {
    let mut owners: Vec<u32> = companies
        .iter()
        .enumerate()
        .flat_map(|(index, company)| std::iter::repeat_n(index as u32, company.size))
        .collect();
    owners.shuffle(rng);

    let mut jobs = Vec::with_capacity(owners.len());
    let mut job_id = FIRST_JOB_ID;
    for (job_idx, &company_idx) in owners.iter().enumerate() {
        if job_idx > 0 {
            job_id += match rng.random_range(0..100) {
                0..=84 => 1,
                85..=94 => 2,
                _ => rng.random_range(3..=20),
            };
        }
        let company = &companies[company_idx as usize];
        let city = place_job(world, company, rng);
        let category = if rng.random_bool(0.92) {
            company.category
        } else {
            world.category_weights.sample(rng)
        };
        let details = world.categories[category].details;
        let detail = (!details.is_empty()).then(|| rng.random_range(0..details.len()) as u16);
        let employment = world.employment_weights.sample(rng) as u16;
        let features = draw_features(world, world.categories[category].vocabulary, rng);
        let mut feature_codes = String::new();
        for (position, &feature) in features.iter().enumerate() {
            if position > 0 {
                feature_codes.push(',');
            }
            let _ = write!(
                feature_codes,
                "{}",
                world.features[usize::from(feature)].feature_cd
            );
        }
        let mut job = Job {
            job_id,
            company: company_idx,
            city,
            category: category as u16,
            detail,
            employment,
            salary_type_cd: 1,
            min_salary: 0,
            max_salary: None,
            fee: draw_fee(rng),
            features,
            feature_codes,
            start_at: None,
            end_at: None,
            created_at: Stamp::new(0, 0),
            updated_at: Stamp::new(0, 0),
            is_delivery: rng.random_bool(0.98),
            deleted: rng.random_bool(0.01),
        };
        draw_pay(world, &mut job, rng);
        draw_posting_period(&mut job, rng);
        jobs.push(job);
    }
    jobs
}

fn place_job(world: &World, company: &Company, rng: &mut ChaCha8Rng) -> u32 {
    let home = world.prefecture_of(company.home_city);
    let local = |rng: &mut ChaCha8Rng| home.cities[home.city_weights.sample(rng)];
    if company.size >= 100 {
        world.city_weights.sample(rng) as u32
    } else if company.size >= 15 {
        if rng.random_bool(0.6) {
            local(rng)
        } else {
            world.city_weights.sample(rng) as u32
        }
    } else if rng.random_bool(0.6) {
        company.home_city
    } else {
        local(rng)
    }
}

fn draw_features(world: &World, vocabulary: &Vocabulary, rng: &mut ChaCha8Rng) -> Vec<u16> {
    if world.features.is_empty() {
        return Vec::new();
    }
    let weights = &world.feature_weights[usize::from(vocabulary.remote_friendly)];
    const COUNT_WEIGHTS: [f64; 7] = [10.0, 20.0, 22.0, 18.0, 13.0, 9.0, 8.0];
    let wanted = (2 + Weighted::new(COUNT_WEIGHTS).sample(rng)).min(world.features.len());
    let mut chosen: Vec<u16> = Vec::with_capacity(wanted);
    let mut attempts = 0;
    while chosen.len() < wanted && attempts < 64 {
        attempts += 1;
        let feature = weights.sample(rng) as u16;
        if !chosen.contains(&feature) {
            chosen.push(feature);
        }
    }
    chosen.sort_unstable_by_key(|&f| world.features[usize::from(f)].feature_cd);
    chosen
}

/// Fees are skewed low: a quarter at or below 500 yen (never picked), a few at the 5,000 cap.
fn draw_fee(rng: &mut ChaCha8Rng) -> u32 {
    let r = rng.random::<f64>();
    if r < 0.25 {
        *pick(rng, &[0, 0, 100, 200, 300, 300, 500, 500, 500])
    } else if r < 0.28 {
        5000
    } else {
        let skewed = rng.random::<f64>().powf(2.2);
        (550 + round_to(4450.0 * skewed, 50.0)).min(5000)
    }
}

fn draw_pay(world: &World, job: &mut Job, rng: &mut ChaCha8Rng) {
    let employment_type_cd = job.employment_type_cd(world);
    job.salary_type_cd = if matches!(employment_type_cd, 4 | 5) && rng.random_bool(0.7) {
        4
    } else {
        [1, 2, 3, 4][Weighted::new([85.0, 9.0, 2.0, 4.0]).sample(rng)]
    };
    let pref_cd = world.prefecture_of(job.city).pref_cd;
    let vocabulary = world.categories[usize::from(job.category)].vocabulary;
    let mut hourly = prefecture_base_wage(pref_cd)
        * vocabulary.wage_factor
        * (1.0 + 0.08 * standard_normal(rng));
    if job.has_feature(world, FeatureKind::HighIncome) {
        hourly *= 1.3;
    }
    if employment_type_cd == 6 {
        hourly *= 1.1;
    }
    let hourly = hourly.max(1000.0);
    let (min_salary, step) = match job.salary_type_cd {
        2 => (
            round_to(hourly * 8.0 * rng.random_range(0.95..1.1), 500.0).clamp(8000, 16000),
            500,
        ),
        3 => (round_to(hourly * 40.0, 1000.0), 2000),
        4 => (
            round_to(hourly * 165.0, 5000.0).clamp(180_000, 320_000),
            10_000,
        ),
        _ => (round_to(hourly, 10.0), 50),
    };
    job.min_salary = min_salary;
    let r = rng.random::<f64>();
    job.max_salary = if r < 0.35 {
        None
    } else if r < 0.55 {
        Some(min_salary)
    } else {
        Some(min_salary + step * rng.random_range(1..=8))
    };
}

fn draw_posting_period(job: &mut Job, rng: &mut ChaCha8Rng) {
    let start_second = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.8) {
            0
        } else {
            rng.random_range(6..22) * 3600
        }
    };
    let r = rng.random::<f64>();
    job.start_at = if r < 0.03 {
        None
    } else if r < 0.05 {
        Some(Stamp::new(rng.random_range(1..=14), start_second(rng)))
    } else if r < 0.15 {
        Some(Stamp::new(-rng.random_range(1..=7), start_second(rng)))
    } else if r < 0.90 {
        Some(Stamp::new(-rng.random_range(8..=60), start_second(rng)))
    } else {
        Some(Stamp::new(-rng.random_range(61..=300), start_second(rng)))
    };
    let end_second = if rng.random_bool(0.7) {
        SECONDS_PER_DAY - 1
    } else {
        0
    };
    let r = rng.random::<f64>();
    job.end_at = if r < 0.05 && job.start_at.is_none_or(|s| s.day < 0) {
        let end = Stamp::new(-rng.random_range(1..=30), end_second);
        if let Some(start) = job.start_at.filter(|s| s.day >= end.day) {
            job.start_at = Some(Stamp::new(
                end.day - rng.random_range(14..=60),
                start.second,
            ));
        }
        Some(end)
    } else if r < 0.12 {
        None
    } else {
        Some(Stamp::new(rng.random_range(30..=120), end_second))
    };
    let anchor = job.start_at.map_or(-30, |s| s.day);
    job.created_at = Stamp::new(
        anchor - rng.random_range(0..=20),
        rng.random_range(9 * 3600..20 * 3600),
    );
    let updated_day = rng.random_range(job.created_at.day..=job.created_at.day.max(-1));
    job.updated_at = Stamp::new(updated_day, rng.random_range(0..SECONDS_PER_DAY));
}

// ---------------------------------------------------------------------------------------------
// jobs.csv

const JOB_COLUMNS: [&str; 120] = [
    "job_id",
    "endcl_cd",
    "client_cd",
    "company_name",
    "company_name_kana",
    "application_name",
    "catch_copy",
    "pref_cd",
    "city_cd",
    "area",
    "work_address",
    "work_zip",
    "latitude",
    "longitude",
    "station_name_eki",
    "traffic",
    "station_name_eki_2",
    "traffic_2",
    "occupation_cd1",
    "occupation_cd2",
    "occupation_cd3",
    "jobtype_detail",
    "employment_type_cd",
    "salary_type_cd",
    "min_salary",
    "max_salary",
    "salary",
    "salary_note",
    "fee",
    "feature_codes",
    "hours",
    "min_days_per_week",
    "min_hours_per_day",
    "shift_type",
    "work_period",
    "holiday",
    "job_contents",
    "welfare",
    "requirement",
    "transportation_fee",
    "pay_cycle",
    "trial_period",
    "dress_code",
    "recruit_count",
    "age_min",
    "age_max",
    "selection_process",
    "interview_place",
    "application_method",
    "apply_url",
    "url",
    "start_at",
    "end_at",
    "published_at",
    "created_at",
    "updated_at",
    "is_delivery",
    "del_flg",
    "is_pickup",
    "is_new",
    "is_urgent",
    "is_featured",
    "is_remote_ok",
    "is_student_ok",
    "is_senior_ok",
    "is_inexperienced_ok",
    "is_daily_pay",
    "is_short_term",
    "is_weekend_only",
    "image_url_1",
    "image_url_2",
    "image_url_3",
    "image_url_4",
    "image_url_5",
    "image_caption_1",
    "image_caption_2",
    "image_caption_3",
    "image_caption_4",
    "image_caption_5",
    "movie_url",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_hours",
    "company_address",
    "company_zip",
    "company_url",
    "company_description",
    "company_employees",
    "company_established",
    "capital",
    "business_description",
    "posting_plan",
    "plan_start_date",
    "plan_end_date",
    "media_code",
    "campaign_code",
    "ad_group_id",
    "sort_order",
    "view_count",
    "apply_count",
    "search_keywords",
    "seo_title",
    "tags",
    "job_code",
    "internal_memo",
    "free_field_1",
    "free_field_2",
    "free_field_3",
    "free_field_4",
    "free_field_5",
    "free_field_6",
    "free_field_7",
    "free_field_8",
    "free_field_9",
    "free_field_10",
    "status",
    "approval_status",
    "last_editor",
    "source_system",
];

/// Bad values `--dirty` puts into one row of `jobs.csv`.
#[derive(Default, Clone, Copy)]
struct JobRowFaults {
    job_id: Option<&'static str>,
    fee: Option<&'static str>,
    min_salary: Option<&'static str>,
    start_at: Option<&'static str>,
    pref_cd: Option<&'static str>,
}

/// The generated data that every writer reads.
struct Feed<'a> {
    world: &'a World,
    calendar: &'a Calendar,
    companies: &'a [Company],
    jobs: &'a [Job],
}

/// Writes one CSV record field by field; in debug builds it checks each field against the header.
struct RecordWriter<'w> {
    csv: &'w mut csv::Writer<BufWriter<File>>,
    columns: &'static [&'static str],
    position: usize,
}

impl RecordWriter<'_> {
    fn field(&mut self, column: &str, value: impl AsRef<[u8]>) -> io::Result<()> {
        debug_assert_eq!(self.columns[self.position], column, "column out of order");
        self.position += 1;
        self.csv.write_field(value).map_err(io::Error::from)
    }

    fn end(&mut self) -> io::Result<()> {
        debug_assert_eq!(self.position, self.columns.len(), "record is incomplete");
        self.position = 0;
        self.csv
            .write_record(None::<&[u8]>)
            .map_err(io::Error::from)
    }
}

/// `value` with the given probability, else the empty string: most extra columns of a real
/// export are sparse.
fn sometimes<'v>(rng: &mut ChaCha8Rng, probability: f64, value: &'v str) -> &'v str {
    if rng.random_bool(probability) {
        value
    } else {
        ""
    }
}

fn flag(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

fn write_jobs(feed: &Feed, options: &GenerateOptions, path: &Path) -> io::Result<usize> {
    let mut csv = csv_writer(path)?;
    csv.write_record(JOB_COLUMNS)?;
    let mut composer = JobComposer::default();
    let mut dirt_rng = rng_for(options.seed, stream::DIRTY_JOBS);
    let n_jobs = feed.jobs.len();
    let revisions = Every::new(n_jobs, n_jobs / 200, 50, 0.5);
    let few = |phase| Every::new(n_jobs, 5, 8, phase);
    let (empty_ids, bad_ids, bad_fees) = (few(0.1), few(0.2), few(0.3));
    let (bad_salaries, bad_starts, bad_prefs) = (few(0.4), few(0.6), few(0.7));
    let mut rows = 0;
    for (job_idx, job) in feed.jobs.iter().enumerate() {
        let mut faults = JobRowFaults::default();
        if options.dirty {
            if bad_fees.hits(job_idx) {
                faults.fee = Some(*pick(&mut dirt_rng, &["無料", "応相談", "1,000円"]));
            }
            if bad_salaries.hits(job_idx) {
                faults.min_salary = Some(*pick(&mut dirt_rng, &["応相談", "1,200円", "時給"]));
            }
            if bad_starts.hits(job_idx) {
                faults.start_at = Some(*pick(&mut dirt_rng, &["2025/13/45", "近日公開"]));
            }
            if bad_prefs.hits(job_idx) {
                faults.pref_cd = Some("99");
            }
        }
        let mut text_rng = rng_for(options.seed, stream::JOB_TEXT + job_idx as u64);
        composer.write_row(&mut csv, feed, job, faults, &mut text_rng)?;
        rows += 1;
        if !options.dirty {
            continue;
        }
        // A repeated job id later in the file, with changed values: the last row wins on import.
        if revisions.hits(job_idx) {
            let earlier = dirt_rng.random_range(0..=job_idx);
            let mut revised = feed.jobs[earlier].clone();
            revised.fee = draw_fee(&mut dirt_rng);
            revised.min_salary += 50;
            revised.max_salary = revised.max_salary.map(|max| max.max(revised.min_salary));
            revised.updated_at = Stamp::new(-1, dirt_rng.random_range(0..SECONDS_PER_DAY));
            let mut revised_rng = rng_for(options.seed, stream::REVISED_JOB_TEXT + earlier as u64);
            composer.write_row(
                &mut csv,
                feed,
                &revised,
                JobRowFaults::default(),
                &mut revised_rng,
            )?;
            rows += 1;
        }
        // Rows without a usable job id: a copy of this job with the id missing or not an integer.
        for (every, id) in [
            (empty_ids, ""),
            (bad_ids, *pick(&mut dirt_rng, &["ABC123", "12O45", "1.5e6"])),
        ] {
            if every.hits(job_idx) {
                let faults = JobRowFaults {
                    job_id: Some(id),
                    ..JobRowFaults::default()
                };
                let mut text_rng = rng_for(options.seed, stream::JOB_TEXT + job_idx as u64);
                composer.write_row(&mut csv, feed, job, faults, &mut text_rng)?;
                rows += 1;
            }
        }
    }
    let mut file = finish(csv)?;
    if options.dirty {
        file.write_all("\r\n備考,このファイルは求人システムから自動出力されたものです。取り扱いに注意してください。\r\n".as_bytes())?;
    }
    file.flush()?;
    Ok(rows)
}

/// Reusable buffers for the text of one job row.
#[derive(Default)]
struct JobComposer {
    tags: Vec<&'static str>,
    keyword_candidates: Vec<u16>,
    company_name: String,
    title: String,
    catch_copy: String,
    salary: String,
    hours: String,
    station: String,
    traffic: String,
    station_2: String,
    traffic_2: String,
    area: String,
    contents: String,
    welfare: String,
    requirement: String,
    scratch: String,
}

/// The parts of a job's text that later parts refer to.
struct JobWords<'a> {
    place: &'static str,
    role: &'static str,
    employment_name: &'static str,
    city: &'a City,
    prefecture: &'a PrefectureSlot,
    company: &'a Company,
    vocabulary: &'static Vocabulary,
    walk_minutes: u32,
    week_phrase: &'static str,
    keywords: &'a KeywordIndex,
}

impl JobComposer {
    fn write_row(
        &mut self,
        csv: &mut csv::Writer<BufWriter<File>>,
        feed: &Feed,
        job: &Job,
        faults: JobRowFaults,
        rng: &mut ChaCha8Rng,
    ) -> io::Result<()> {
        let world = feed.world;
        let company = &feed.companies[job.company as usize];
        let city = &world.cities[job.city as usize];
        let category = &world.categories[usize::from(job.category)];
        let vocabulary = category.vocabulary;
        let mut words = JobWords {
            place: pick::<&str>(rng, vocabulary.places),
            role: pick::<&str>(rng, vocabulary.roles),
            employment_name: world.employment_types[usize::from(job.employment)].1,
            city,
            prefecture: &world.prefectures[city.pref_slot],
            company,
            vocabulary,
            walk_minutes: rng.random_range(1..=15),
            week_phrase: "",
            keywords: &world.keywords,
        };
        words.week_phrase = if job.has_feature(world, FeatureKind::WeekOnce) {
            "週1日〜OK"
        } else if job.has_feature(world, FeatureKind::ShiftFree) {
            "シフト自由"
        } else if job.has_feature(world, FeatureKind::WeekendOnly) {
            "土日のみOK"
        } else {
            WEEK_PHRASES[Weighted::new(WEEK_PHRASES.iter().map(|w| w.1)).sample(rng)].0
        };
        self.compose_tags(world, job, rng);
        words
            .keywords
            .collect_for(world, job, &mut self.keyword_candidates);
        self.compose_names(job, &words, rng);
        self.compose_pay_and_hours(job, &words, rng);
        self.compose_contents(world, job, &words, rng);

        let calendar = feed.calendar;
        let mut row = RecordWriter {
            csv,
            columns: &JOB_COLUMNS,
            position: 0,
        };
        let mut digits = Digits::new();
        let scratch = &mut self.scratch;
        let id_text = job.job_id.to_string();
        row.field("job_id", faults.job_id.unwrap_or(&id_text))?;
        row.field("endcl_cd", &company.endcl_cd)?;
        row.field("client_cd", &company.client_cd)?;
        row.field("company_name", &self.company_name)?;
        row.field("company_name_kana", sometimes(rng, 0.2, company.kana))?;
        row.field("application_name", &self.title)?;
        row.field("catch_copy", &self.catch_copy)?;
        let pref_text = words.prefecture.pref_cd.to_string();
        row.field("pref_cd", faults.pref_cd.unwrap_or(&pref_text))?;
        row.field("city_cd", digits.format(u64::from(city.city_cd)))?;
        row.field("area", &self.area)?;
        let with_address = rng.random_bool(0.4);
        scratch.clear();
        if with_address {
            let _ = write!(
                scratch,
                "{}{}{}-{}-{}",
                words.prefecture.name,
                city.name,
                pick(rng, &["本町", "中央", "駅前", "栄町", "緑町", "旭町"]),
                rng.random_range(1..=5),
                rng.random_range(1..=30)
            );
        }
        row.field("work_address", &*scratch)?;
        scratch.clear();
        if with_address {
            let _ = write!(
                scratch,
                "{:03}-{:04}",
                rng.random_range(0..1000),
                rng.random_range(0..10000)
            );
        }
        row.field("work_zip", &*scratch)?;
        scratch.clear();
        let _ = write!(
            scratch,
            "{:.6}",
            city.latitude + rng.random_range(-0.025..0.025)
        );
        row.field("latitude", &*scratch)?;
        scratch.clear();
        let _ = write!(
            scratch,
            "{:.6}",
            city.longitude + rng.random_range(-0.03..0.03)
        );
        row.field("longitude", &*scratch)?;
        row.field("station_name_eki", &self.station)?;
        row.field("traffic", &self.traffic)?;
        row.field("station_name_eki_2", &self.station_2)?;
        row.field("traffic_2", &self.traffic_2)?;
        let occupation_cd = category.occupation_cd.to_string();
        row.field("occupation_cd1", &occupation_cd)?;
        row.field("occupation_cd2", &occupation_cd)?;
        row.field("occupation_cd3", &occupation_cd)?;
        let detail = job.detail.map(|d| category.details[usize::from(d)].0);
        row.field(
            "jobtype_detail",
            detail.map_or(String::new(), |code| code.to_string()),
        )?;
        row.field(
            "employment_type_cd",
            digits.format(u64::from(job.employment_type_cd(world))),
        )?;
        row.field(
            "salary_type_cd",
            digits.format(u64::from(job.salary_type_cd)),
        )?;
        let min_salary = job.min_salary.to_string();
        row.field("min_salary", faults.min_salary.unwrap_or(&min_salary))?;
        row.field(
            "max_salary",
            job.max_salary.map_or(String::new(), |max| max.to_string()),
        )?;
        row.field("salary", &self.salary)?;
        scratch.clear();
        if job.salary_type_cd == 1 && rng.random_bool(0.15) {
            let _ = write!(
                scratch,
                "※研修期間（1ヶ月）は時給{}円",
                job.min_salary.saturating_sub(50)
            );
        }
        row.field("salary_note", &*scratch)?;
        let fee = job.fee.to_string();
        row.field("fee", faults.fee.unwrap_or(&fee))?;
        row.field("feature_codes", &job.feature_codes)?;
        row.field("hours", &self.hours)?;
        row.field("min_days_per_week", digits.format(rng.random_range(1..=3)))?;
        row.field("min_hours_per_day", digits.format(rng.random_range(2..=6)))?;
        row.field(
            "shift_type",
            *pick(rng, &["シフト制", "シフト制", "固定シフト", "自由シフト"]),
        )?;
        row.field(
            "work_period",
            if job.has_feature(world, FeatureKind::ShortTerm) {
                *pick(rng, &["短期（1ヶ月以内）", "単発（1日のみ）"])
            } else {
                sometimes(rng, 0.4, "長期（3ヶ月以上）")
            },
        )?;
        let holiday = *pick(
            rng,
            &["シフト制", "週休2日制", "土日祝休み", "年末年始休暇あり"],
        );
        row.field("holiday", sometimes(rng, 0.5, holiday))?;
        row.field("job_contents", &self.contents)?;
        row.field("welfare", &self.welfare)?;
        row.field("requirement", &self.requirement)?;
        row.field(
            "transportation_fee",
            if job.has_feature(world, FeatureKind::Commute) {
                *pick(rng, &["規定支給", "全額支給", "一部支給（上限1日1000円）"])
            } else {
                *pick(rng, &["", "なし", "規定支給"])
            },
        )?;
        row.field(
            "pay_cycle",
            if job.has_feature(world, FeatureKind::DailyPay) {
                *pick(rng, &["日払い", "週払い"])
            } else {
                *pick(rng, &["月払い", "月払い", "週払い"])
            },
        )?;
        row.field("trial_period", *pick(rng, &["あり（1ヶ月）", "なし", ""]))?;
        row.field(
            "dress_code",
            *pick(rng, &["制服貸与", "私服OK", "動きやすい服装", ""]),
        )?;
        row.field(
            "recruit_count",
            *pick(rng, &["1名", "2〜3名", "5名以上", "10名以上"]),
        )?;
        let with_ages = rng.random_bool(0.15);
        row.field("age_min", if with_ages { "18" } else { "" })?;
        row.field(
            "age_max",
            if with_ages && rng.random_bool(0.3) {
                "64"
            } else {
                ""
            },
        )?;
        let selection = *pick(
            rng,
            &[
                "応募→面接→採用",
                "Web応募→書類選考→面接（1回）→採用",
                "応募→電話連絡→面接→採用",
            ],
        );
        row.field("selection_process", sometimes(rng, 0.3, selection))?;
        let interview = *pick(rng, &["勤務先にて", "オンライン面接可", "本社にて"]);
        row.field("interview_place", sometimes(rng, 0.4, interview))?;
        let method = *pick(rng, &["Web応募", "電話応募・Web応募"]);
        row.field("application_method", sometimes(rng, 0.5, method))?;
        scratch.clear();
        if rng.random_bool(0.15) {
            let _ = write!(scratch, "https://example.jp/apply/{}", job.job_id);
        }
        row.field("apply_url", &*scratch)?;
        scratch.clear();
        let _ = write!(scratch, "https://example.jp/job/{}", job.job_id);
        row.field("url", &*scratch)?;

        scratch.clear();
        match (faults.start_at, job.start_at) {
            (Some(bad), _) => scratch.push_str(bad),
            (None, Some(start)) => calendar.push_stamp(scratch, start, TOKYO_OFFSET),
            (None, None) => {}
        }
        row.field("start_at", &*scratch)?;
        scratch.clear();
        if let Some(end) = job.end_at {
            calendar.push_stamp(scratch, end, TOKYO_OFFSET);
        }
        row.field("end_at", &*scratch)?;
        scratch.clear();
        if let Some(start) = job.start_at {
            calendar.push_stamp(scratch, start, TOKYO_OFFSET);
        }
        row.field("published_at", &*scratch)?;
        scratch.clear();
        calendar.push_stamp(scratch, job.created_at, TOKYO_OFFSET);
        row.field("created_at", &*scratch)?;
        scratch.clear();
        calendar.push_stamp(scratch, job.updated_at, TOKYO_OFFSET);
        row.field("updated_at", &*scratch)?;

        row.field("is_delivery", flag(job.is_delivery))?;
        row.field("del_flg", flag(job.deleted))?;
        row.field("is_pickup", flag(rng.random_bool(0.05)))?;
        row.field(
            "is_new",
            flag(job.start_at.is_some_and(|s| (-7..=0).contains(&s.day))),
        )?;
        row.field("is_urgent", flag(rng.random_bool(0.08)))?;
        row.field("is_featured", flag(rng.random_bool(0.03)))?;
        let has_tag = |tag: &str| self.tags.iter().any(|t| t.contains(tag));
        row.field("is_remote_ok", flag(has_tag("在宅") || has_tag("リモート")))?;
        row.field("is_student_ok", flag(has_tag("学生")))?;
        row.field(
            "is_senior_ok",
            flag(has_tag("シニア") || has_tag("年齢不問")),
        )?;
        row.field("is_inexperienced_ok", flag(has_tag("未経験")))?;
        row.field(
            "is_daily_pay",
            flag(job.has_feature(world, FeatureKind::DailyPay)),
        )?;
        row.field(
            "is_short_term",
            flag(job.has_feature(world, FeatureKind::ShortTerm)),
        )?;
        row.field(
            "is_weekend_only",
            flag(words.week_phrase.contains("土日のみ")),
        )?;

        let images = *pick(rng, &[0, 0, 0, 1, 1, 1, 2, 3]);
        for (k, column) in [
            "image_url_1",
            "image_url_2",
            "image_url_3",
            "image_url_4",
            "image_url_5",
        ]
        .into_iter()
        .enumerate()
        {
            scratch.clear();
            if k < images {
                let _ = write!(
                    scratch,
                    "https://img.example.jp/j/{}_{}.jpg",
                    job.job_id,
                    k + 1
                );
            }
            row.field(column, &*scratch)?;
        }
        for (k, column) in [
            "image_caption_1",
            "image_caption_2",
            "image_caption_3",
            "image_caption_4",
            "image_caption_5",
        ]
        .into_iter()
        .enumerate()
        {
            let caption = if k < images && rng.random_bool(0.25) {
                *pick(rng, &IMAGE_CAPTIONS)
            } else {
                ""
            };
            row.field(column, caption)?;
        }
        scratch.clear();
        if rng.random_bool(0.03) {
            let _ = write!(scratch, "https://video.example.jp/job/{}.mp4", job.job_id);
        }
        row.field("movie_url", &*scratch)?;

        // Contact and company details are filled for some companies only, consistently per company.
        let detailed = company.detailed_profile;
        scratch.clear();
        if detailed || rng.random_bool(0.2) {
            let _ = write!(scratch, "{}（採用担当）", pick(rng, &SURNAMES));
        }
        row.field("contact_name", &*scratch)?;
        row.field("contact_phone", &company.phone)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "recruit-{}@example.co.jp",
                company.endcl_cd.to_ascii_lowercase()
            );
        }
        row.field("contact_email", &*scratch)?;
        let contact_hours = *pick(rng, &["平日10:00〜18:00", "9:00〜17:00（土日祝除く）"]);
        row.field("contact_hours", sometimes(rng, 0.3, contact_hours))?;
        let home = &world.cities[company.home_city as usize];
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{}{}中央{}-{}-{}",
                world.prefectures[home.pref_slot].name,
                home.name,
                company.size % 5 + 1,
                company.size % 17 + 1,
                company.size % 9 + 1
            );
        }
        row.field("company_address", &*scratch)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{:03}-{:04}",
                home.city_cd % 1000,
                company.size % 10_000
            );
        }
        row.field("company_zip", &*scratch)?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "https://example.co.jp/{}/",
                company.endcl_cd.to_ascii_lowercase()
            );
        }
        row.field("company_url", &*scratch)?;
        scratch.clear();
        if detailed && company.size >= 5 {
            let _ = write!(
                scratch,
                "{}を中心に{}を展開しています。",
                if company.size >= 100 {
                    "全国"
                } else {
                    words.prefecture.name
                },
                vocabulary.business
            );
        }
        row.field("company_description", &*scratch)?;
        let employees = match company.size {
            0..=4 => "1〜9名",
            5..=19 => "10〜49名",
            20..=99 => "50〜299名",
            _ => "300名以上",
        };
        row.field("company_employees", if detailed { employees } else { "" })?;
        scratch.clear();
        if detailed {
            let _ = write!(
                scratch,
                "{}年{}月",
                1960 + company.size % 60,
                company.size % 12 + 1
            );
        }
        row.field("company_established", &*scratch)?;
        let capital = match company.size {
            0..=4 => "300万円",
            5..=19 => "1,000万円",
            20..=99 => "5,000万円",
            _ => "1億円",
        };
        row.field("capital", if detailed { capital } else { "" })?;
        row.field(
            "business_description",
            if detailed { vocabulary.business } else { "" },
        )?;

        row.field(
            "posting_plan",
            *pick(
                rng,
                &[
                    "スタンダード",
                    "スタンダード",
                    "ライト",
                    "プレミアム",
                    "無料掲載",
                ],
            ),
        )?;
        scratch.clear();
        if let Some(start) = job.start_at {
            scratch.push_str(calendar.date(start.day));
        }
        row.field("plan_start_date", &*scratch)?;
        scratch.clear();
        if let Some(end) = job.end_at {
            scratch.push_str(calendar.date(end.day));
        }
        row.field("plan_end_date", &*scratch)?;
        scratch.clear();
        let _ = write!(scratch, "M{:02}", rng.random_range(1..=5));
        row.field("media_code", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.2) {
            let _ = write!(scratch, "CP{:03}", rng.random_range(1..=120));
        }
        row.field("campaign_code", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.6) {
            let _ = write!(scratch, "{}", rng.random_range(10_000..100_000));
        }
        row.field("ad_group_id", &*scratch)?;
        row.field("sort_order", digits.format(rng.random_range(0..100)))?;
        let views = (20.0 * (1.2 * standard_normal(rng)).exp()) as u64;
        row.field("view_count", digits.format(views))?;
        row.field("apply_count", digits.format(views / 30))?;
        scratch.clear();
        if rng.random_bool(0.25) {
            for (position, tag) in self.tags.iter().take(3).enumerate() {
                if position > 0 {
                    scratch.push(' ');
                }
                scratch.push_str(tag);
            }
        }
        row.field("search_keywords", &*scratch)?;
        scratch.clear();
        if rng.random_bool(0.25) {
            let _ = write!(scratch, "{}の{}バイト・パート求人", city.name, words.role);
        }
        row.field("seo_title", &*scratch)?;
        scratch.clear();
        for (position, tag) in self.tags.iter().take(3).enumerate() {
            if position > 0 {
                scratch.push(',');
            }
            scratch.push_str(tag);
        }
        row.field("tags", &*scratch)?;
        scratch.clear();
        let _ = write!(scratch, "J{}-{}", job.job_id, rng.random_range(1..=3));
        row.field("job_code", &*scratch)?;
        row.field(
            "internal_memo",
            if rng.random_bool(0.05) {
                *pick(
                    rng,
                    &[
                        "掲載内容確認済み",
                        "写真差し替え予定",
                        "次回更新時に給与見直し",
                    ],
                )
            } else {
                ""
            },
        )?;
        for (k, column) in [
            "free_field_1",
            "free_field_2",
            "free_field_3",
            "free_field_4",
            "free_field_5",
            "free_field_6",
            "free_field_7",
            "free_field_8",
            "free_field_9",
            "free_field_10",
        ]
        .into_iter()
        .enumerate()
        {
            let value = if rng.random_bool(0.35 / (k + 1) as f64) {
                *pick(rng, &FREE_FIELD_ITEMS)
            } else {
                ""
            };
            row.field(column, value)?;
        }
        let ended = job.end_at.is_some_and(|end| end.day < 0);
        row.field(
            "status",
            if job.deleted || ended {
                "掲載終了"
            } else {
                "掲載中"
            },
        )?;
        row.field("approval_status", "承認済")?;
        scratch.clear();
        let _ = write!(scratch, "staff{:03}", rng.random_range(1..=40));
        row.field("last_editor", &*scratch)?;
        row.field("source_system", "baito-cms")?;
        row.end()
    }

    fn compose_tags(&mut self, world: &World, job: &Job, rng: &mut ChaCha8Rng) {
        self.tags.clear();
        for &feature in &job.features {
            let feature = &world.features[usize::from(feature)];
            let tag = match feature.kind {
                FeatureKind::DailyPay => *pick(rng, &["日払いOK", "週払いOK", "日払い・週払いOK"]),
                FeatureKind::Other => feature.name,
                _ => feature.tag,
            };
            self.tags.push(tag);
        }
        let vocabulary = world.categories[usize::from(job.category)].vocabulary;
        if vocabulary.remote_friendly && rng.random_bool(0.3) {
            self.tags
                .push(*pick(rng, &["リモートOK", "在宅勤務あり", "テレワーク可"]));
        }
        if rng.random_bool(0.06) {
            self.tags.push("即日勤務OK");
        }
        if rng.random_bool(0.04) {
            self.tags.push(*pick(rng, &["副業OK", "Wワーク歓迎"]));
        }
        // The tags a title shows first are the attractive ones, not the order of feature codes.
        self.tags.shuffle(rng);
    }

    fn compose_names(&mut self, job: &Job, words: &JobWords, rng: &mut ChaCha8Rng) {
        let company = words.company;
        let city = words.city;
        // A company posting outside its own line of business does so under its legal name.
        let brand_fits = usize::from(job.category) == company.category;
        self.company_name.clear();
        if brand_fits && company.is_chain() {
            let _ = write!(self.company_name, "{} {}店", company.brand, city.short_name);
        } else if brand_fits && rng.random_bool(0.5) {
            self.company_name.push_str(&company.brand);
        } else {
            self.company_name.push_str(&company.legal_name);
        }

        self.station.clear();
        match rng.random_range(0..10) {
            0 => {
                let _ = write!(self.station, "東{}駅", city.short_name);
            }
            1 if !city.short_name.ends_with("中央") => {
                let _ = write!(self.station, "{}中央駅", city.short_name);
            }
            2 => {
                let _ = write!(self.station, "新{}駅", city.short_name);
            }
            _ => {
                let _ = write!(self.station, "{}駅", city.short_name);
            }
        }
        let lines = railway_lines(words.prefecture.pref_cd);
        self.traffic.clear();
        match rng.random_range(0..20) {
            0..=13 => {
                let _ = write!(
                    self.traffic,
                    "{} {} 徒歩{}分",
                    pick(rng, lines),
                    self.station,
                    words.walk_minutes
                );
            }
            14..=16 => {
                let _ = write!(
                    self.traffic,
                    "{}よりバス{}分",
                    self.station,
                    rng.random_range(5..=25)
                );
            }
            _ => {
                let _ = write!(
                    self.traffic,
                    "{}から車で{}分（車通勤OK）",
                    self.station,
                    rng.random_range(5..=20)
                );
            }
        }
        self.station_2.clear();
        self.traffic_2.clear();
        if rng.random_bool(0.2) {
            let _ = write!(self.station_2, "{}本町駅", city.short_name);
            let _ = write!(
                self.traffic_2,
                "{} {} 徒歩{}分",
                pick(rng, lines),
                self.station_2,
                rng.random_range(5..=20)
            );
        }
        self.area.clear();
        let _ = write!(self.area, "{}{}", words.prefecture.name, city.name);

        let first_tag = self.tags.first().copied().unwrap_or(GENERIC_TAGS[0]);
        let second_tag = self
            .tags
            .get(1)
            .copied()
            .unwrap_or_else(|| *pick(rng, &GENERIC_TAGS));
        let (place, role) = (words.place, words.role);
        self.title.clear();
        let _ = match rng.random_range(0..6) {
            0 => write!(self.title, "【{first_tag}】{place}の{role}／{second_tag}"),
            1 => write!(self.title, "{place}の{role}＜{first_tag}＞"),
            2 => write!(
                self.title,
                "{role}＜{words_week}＞",
                words_week = words.week_phrase
            ),
            3 if brand_fits => write!(self.title, "★{first_tag}★{}の{role}", company.brand),
            3 => write!(self.title, "★{first_tag}★{place}の{role}"),
            4 => write!(self.title, "{role}募集！{first_tag}・{second_tag}"),
            _ => write!(
                self.title,
                "【{}】{place}での{role}（{}）",
                city.short_name, words.employment_name
            ),
        };
        if job.fee >= 3000 && rng.random_bool(0.3) {
            self.title.insert_str(0, "【急募】");
        }

        self.catch_copy.clear();
        let _ = match rng.random_range(0..7) {
            0 => write!(
                self.catch_copy,
                "{first_tag}！{}から徒歩{}分の好立地です",
                self.station, words.walk_minutes
            ),
            1 => write!(self.catch_copy, "未経験でも安心の研修制度あり！{first_tag}"),
            2 => write!(
                self.catch_copy,
                "{first_tag}＆{second_tag}で働きやすさ抜群！"
            ),
            // Keywords of the starter SEO list, so that the SEO score has something to find.
            3 if !self.keyword_candidates.is_empty() => write!(
                self.catch_copy,
                "{}をお探しの方にピッタリのお仕事です",
                words.keywords.texts[usize::from(*pick(rng, &self.keyword_candidates))]
            ),
            3 => write!(self.catch_copy, "{place}デビューにもぴったり！{first_tag}"),
            4 => write!(self.catch_copy, "仲間と楽しく働けるアットホームな職場です♪"),
            5 => write!(
                self.catch_copy,
                "しっかり稼ぎたい方必見！{}{}円以上",
                salary_type_name(job.salary_type_cd),
                job.min_salary
            ),
            _ => write!(
                self.catch_copy,
                "{first_tag}だから、学校や家庭と両立しやすい！"
            ),
        };
    }

    fn compose_pay_and_hours(&mut self, job: &Job, words: &JobWords, rng: &mut ChaCha8Rng) {
        let name = salary_type_name(job.salary_type_cd);
        self.salary.clear();
        let monthly = job.salary_type_cd == 4;
        let _ = write!(self.salary, "{name}");
        push_yen(&mut self.salary, job.min_salary, monthly);
        match job.max_salary {
            Some(max) if max > job.min_salary => {
                self.salary.push('～');
                push_yen(&mut self.salary, max, monthly);
            }
            _ => self.salary.push('～'),
        }
        let daily_pay = self.tags.iter().any(|t| t.contains("日払い"));
        let weekly_pay = self.tags.iter().any(|t| t.starts_with("週払い"));
        if daily_pay {
            self.salary.push_str("（日払いOK）");
        } else if weekly_pay {
            self.salary.push_str("（週払いOK）");
        } else if rng.random_bool(0.4) {
            self.salary.push_str("（月払い）");
        }
        if rng.random_bool(0.2) {
            self.salary.push_str("＋交通費");
        }

        let shifts = words.vocabulary.shifts;
        self.hours.clear();
        match rng.random_range(0..4) {
            0 if shifts.len() > 1 => {
                let first = rng.random_range(0..shifts.len());
                let second = (first + rng.random_range(1..shifts.len())) % shifts.len();
                let _ = write!(
                    self.hours,
                    "①{}<br>②{}<br>{}",
                    shifts[first], shifts[second], words.week_phrase
                );
            }
            1 => {
                let _ = write!(
                    self.hours,
                    "{}（実働{}h）<br>{}",
                    pick(rng, shifts),
                    rng.random_range(3..=8),
                    words.week_phrase
                );
            }
            _ => {
                let _ = write!(self.hours, "{}<br>{}", pick(rng, shifts), words.week_phrase);
            }
        }
        if rng.random_bool(0.2) {
            self.hours.push_str("<br>※休憩あり");
        }
    }

    fn compose_contents(
        &mut self,
        world: &World,
        job: &Job,
        words: &JobWords,
        rng: &mut ChaCha8Rng,
    ) {
        // Most texts are short, a few long: 200–500 characters, about 280 on average.
        let target_chars = 200 + (260.0 * rng.random::<f64>().powf(2.6)) as usize;
        let closing = *pick(rng, &CLOSINGS);
        self.contents.clear();
        let _ = match rng.random_range(0..4) {
            0 => write!(
                self.contents,
                "{}で{}として働くスタッフを募集しています。",
                self.company_name, words.role
            ),
            1 => write!(
                self.contents,
                "{}にある{}でのお仕事です。",
                self.area, words.place
            ),
            2 => write!(
                self.contents,
                "{}から徒歩{}分、通いやすい{}で一緒に働きませんか？",
                self.station, words.walk_minutes, words.place
            ),
            _ => write!(
                self.contents,
                "地域のお客様に愛されて{}年。{}の{}を大募集！",
                rng.random_range(3..=40),
                self.company_name,
                words.role
            ),
        };
        let category = &world.categories[usize::from(job.category)];
        let _ = write!(self.contents, "\n【職種】{}", category.name);
        if let Some(d) = job.detail {
            let _ = write!(self.contents, "／{}", category.details[usize::from(d)].1);
        }
        self.contents.push('\n');
        let mut kinds_told = 0_u32;
        for &feature in &job.features {
            let kind = world.features[usize::from(feature)].kind;
            if kinds_told & (1 << kind as u32) != 0 {
                continue;
            }
            kinds_told |= 1 << kind as u32;
            let sentence = match kind {
                FeatureKind::DailyPay => "給与は日払い・週払いにも対応しています（規定あり）。",
                FeatureKind::ShortTerm => "1日だけの単発や短期のお仕事もあります。",
                FeatureKind::Inexperienced => "未経験の方も大歓迎です。",
                FeatureKind::Student => "学生スタッフが多数活躍中！テスト期間のお休みもOKです。",
                FeatureKind::Homemaker => "主婦(夫)の方も扶養内で働けます。",
                FeatureKind::Senior => "60歳以上のシニアの方も活躍しています。",
                FeatureKind::Commute => "交通費は規定により支給します。",
                _ => continue,
            };
            self.contents.push_str(sentence);
        }
        let mut sentences: Vec<&str> = words
            .vocabulary
            .duties
            .iter()
            .chain(GENERIC_DUTIES.iter())
            .copied()
            .collect();
        sentences.shuffle(rng);
        let mut chars = self.contents.chars().count() + 1 + closing.chars().count();
        for sentence in sentences {
            if chars >= target_chars {
                break;
            }
            if rng.random_bool(0.15) {
                self.contents.push_str("<br>");
            }
            self.contents.push_str(sentence);
            chars += sentence.chars().count();
        }
        self.contents.push('\n');
        self.contents.push_str(closing);

        self.welfare.clear();
        let mut items: Vec<&str> = WELFARE_ITEMS.to_vec();
        items.shuffle(rng);
        let n_items = rng.random_range(2..=4);
        for (position, item) in items.iter().take(n_items).enumerate() {
            if position > 0 {
                self.welfare.push('、');
            }
            self.welfare.push_str(item);
        }

        self.requirement.clear();
        let welcomes_students = job.has_feature(world, FeatureKind::Student)
            || job.has_feature(world, FeatureKind::HighSchool);
        for tag in self.tags.iter().take(1) {
            let _ = write!(self.requirement, "{tag}！");
        }
        let n_requirements = 1;
        let mut added = 0;
        while added < n_requirements {
            let item = *pick(rng, &REQUIREMENT_ITEMS);
            if welcomes_students && item.contains("不可") {
                continue;
            }
            if added > 0 || !self.requirement.is_empty() {
                self.requirement.push_str("<br>");
            }
            self.requirement.push_str(item);
            added += 1;
        }
    }
}

/// Appends an amount in yen; monthly pay is written with thousands separators (`200,000円`).
fn push_yen(out: &mut String, amount: u32, with_separators: bool) {
    if with_separators && amount >= 1000 {
        let _ = write!(out, "{},{:03}円", amount / 1000, amount % 1000);
    } else {
        let _ = write!(out, "{amount}円");
    }
}

// ---------------------------------------------------------------------------------------------
// users.csv

/// `a` then `b`; a wrong `N` fails at compile time.
const fn concat_columns<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    assert!(A + B == N, "column counts do not add up");
    out
}

/// The importer's columns, required then optional: the generator writes exactly what it reads.
const USER_COLUMNS: [&str; 10] = concat_columns(
    crate::ingest::users::REQUIRED_COLUMNS,
    crate::ingest::users::OPTIONAL_COLUMNS,
);

const AGE_RANGES: [&str; 11] = [
    "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65-",
];
const AGE_RANGE_WEIGHTS: [f64; 11] = [10.0, 22.0, 14.0, 10.0, 9.0, 9.0, 8.0, 6.0, 5.0, 4.0, 3.0];
const EMAIL_DOMAINS: [&str; 6] = [
    "example.com",
    "example.jp",
    "example.net",
    "mail.example.com",
    "mobile.example.jp",
    "ezweb.example.net",
];

/// What the action generator knows about a user, including what `users.csv` does not say.
struct User {
    user_id: u32,
    home_city: u32,
    occupations: [u16; 2],
    n_occupations: usize,
    /// Expected actions per active day.
    rate: f64,
    /// Active days of the window, as day indices `[first, last)`.
    active: (u32, u32),
}

fn write_users(
    feed: &Feed,
    options: &GenerateOptions,
    path: &Path,
) -> io::Result<(Vec<User>, usize)> {
    let world = feed.world;
    let calendar = feed.calendar;
    let mut rng = rng_for(options.seed, stream::USERS);
    let mut dirt_rng = rng_for(options.seed, stream::DIRTY_USERS);
    let mut csv = csv_writer(path)?;
    csv.write_record(USER_COLUMNS)?;
    let n_users = options.users;
    let bad_emails = Every::new(n_users, 6, 4, 0.3);
    let repeated_ids = Every::new(n_users, 2, 5, 0.7);
    let window = options.days;
    let age_weights = Weighted::new(AGE_RANGE_WEIGHTS);
    let mut users = Vec::with_capacity(n_users);
    let mut digits = Digits::new();
    let mut email = String::new();
    let mut created = String::new();
    let mut rows = 0;
    for user_idx in 0..n_users {
        let user_id = FIRST_USER_ID + user_idx as u32;
        let home_city = world.city_weights.sample(&mut rng) as u32;
        let named = rng.random_bool(0.4);
        let (given_name, romaji, name_gender) = *pick(&mut rng, &GIVEN_NAMES);
        email.clear();
        let domain =
            EMAIL_DOMAINS[Weighted::new([50.0, 25.0, 15.0, 4.0, 3.0, 3.0]).sample(&mut rng)];
        let _ = match rng.random_range(0..4) {
            0 => write!(email, "user{user_id}@{domain}"),
            1 => write!(email, "{romaji}{user_id}@{domain}"),
            2 => write!(email, "{romaji}.{user_id}@{domain}"),
            _ => write!(email, "{romaji}_{user_id}@{domain}"),
        };
        let location = rng.random::<f64>();
        let city = &world.cities[home_city as usize];
        let pref_cd = world.prefectures[city.pref_slot].pref_cd;
        let age_range = if rng.random_bool(0.85) {
            AGE_RANGES[age_weights.sample(&mut rng)]
        } else {
            ""
        };
        let gender = match rng.random_range(0..20) {
            0..=1 => "",
            _ if named && rng.random_bool(0.9) => name_gender,
            2..=10 => "m",
            _ => "f",
        };
        let is_active = rng.random_bool(0.95);
        let subscribed = rng.random_bool(0.92);
        let created_days_ago = rng.random_range(1..=1095);
        calendar_stamp(
            calendar,
            &mut created,
            Stamp::new(-created_days_ago, rng.random_range(0..SECONDS_PER_DAY)),
        );

        if options.dirty && bad_emails.hits(user_idx) {
            email.clear();
            email.push_str(pick::<&str>(
                &mut dirt_rng,
                &[
                    "not-an-email",
                    "a@b",
                    "",
                    "user@@example.com",
                    "test@example",
                ],
            ));
        }
        let write_row = |csv: &mut csv::Writer<BufWriter<File>>,
                         digits: &mut Digits,
                         user_id: u32,
                         email: &str|
         -> io::Result<()> {
            let mut row = RecordWriter {
                csv,
                columns: &USER_COLUMNS,
                position: 0,
            };
            row.field("user_id", digits.format(u64::from(user_id)))?;
            row.field("email", email)?;
            row.field("name", if named { given_name } else { "" })?;
            let pref_text = pref_cd.to_string();
            row.field(
                "pref_cd",
                if location < 0.4 {
                    pref_text.as_str()
                } else {
                    ""
                },
            )?;
            let city_text = city.city_cd.to_string();
            row.field(
                "city_cd",
                if location < 0.3 {
                    city_text.as_str()
                } else {
                    ""
                },
            )?;
            row.field("age_range", age_range)?;
            row.field("gender", gender)?;
            row.field("is_active", flag(is_active))?;
            row.field("subscribed", flag(subscribed))?;
            row.field("created_at", &created)?;
            row.end()
        };
        write_row(&mut csv, &mut digits, user_id, &email)?;
        rows += 1;
        if options.dirty && repeated_ids.hits(user_idx) && user_idx > 0 {
            // The same user id again, as an export that lists a changed address a second time.
            let earlier = FIRST_USER_ID + dirt_rng.random_range(0..user_idx as u32);
            let changed = format!("changed{earlier}@example.org");
            write_row(&mut csv, &mut digits, earlier, &changed)?;
            rows += 1;
        }

        let n_occupations = if rng.random_bool(0.6) { 1 } else { 2 };
        let occupations = [
            world.category_weights.sample(&mut rng) as u16,
            world.category_weights.sample(&mut rng) as u16,
        ];
        // Heavy-tailed activity: a Pareto weight, with a third of the users only occasional.
        let mut weight = rng.random::<f64>().max(1e-9).powf(-1.0 / 1.3).min(100.0);
        if rng.random_bool(0.35) {
            weight *= 0.15;
        }
        let joined_in_window = window.saturating_sub(created_days_ago as u32);
        let first = joined_in_window.min(window.saturating_sub(1));
        let last = if rng.random_bool(0.2) && window > first + 1 {
            rng.random_range(first + 1..=window)
        } else {
            window
        };
        users.push(User {
            user_id,
            home_city,
            occupations,
            n_occupations,
            rate: weight,
            active: (first, last),
        });
    }
    let mut file = finish(csv)?;
    file.flush()?;

    // Scale the weights so that the expected total is the wanted actions per user and day.
    let expected: f64 = users
        .iter()
        .map(|u| u.rate * f64::from(u.active.1 - u.active.0))
        .sum();
    if expected > 0.0 {
        let scale = ACTIONS_PER_USER_PER_DAY * n_users as f64 * f64::from(window) / expected;
        for user in &mut users {
            user.rate *= scale;
        }
    }
    Ok((users, rows))
}

fn calendar_stamp(calendar: &Calendar, out: &mut String, stamp: Stamp) {
    out.clear();
    calendar.push_stamp(out, stamp, TOKYO_OFFSET);
}

// ---------------------------------------------------------------------------------------------
// actions.csv

/// The importer's columns, required then optional: the generator writes exactly what it reads.
const ACTION_COLUMNS: [&str; 16] = concat_columns(
    crate::ingest::actions::REQUIRED_COLUMNS,
    crate::ingest::actions::OPTIONAL_COLUMNS,
);

const ACTION_TYPES: [&str; 5] = ["view", "open", "click", "favorite", "applied"];
const ACTION_TYPE_WEIGHTS: [f64; 5] = [45.0, 25.0, 18.0, 4.0, 8.0];
const SOURCES: [&str; 3] = ["email", "web", "app"];
/// Source weights (email, web, app) per action type, in the order of `ACTION_TYPES`.
const SOURCE_WEIGHTS: [[f64; 3]; 5] = [
    [10.0, 50.0, 40.0],
    [100.0, 0.0, 0.0],
    [75.0, 15.0, 10.0],
    [0.0, 50.0, 50.0],
    [15.0, 45.0, 40.0],
];
const SECTIONS: [&str; 6] = [
    "editorial",
    "top5",
    "regional",
    "nearby",
    "high_income",
    "new",
];
const SECTION_WEIGHTS: [f64; 6] = [20.0, 25.0, 20.0, 15.0, 12.0, 8.0];
/// Activity by local hour: mail goes out at 06:00, evenings are busiest.
const HOUR_WEIGHTS: [f64; 24] = [
    2.0, 1.0, 0.5, 0.3, 0.3, 0.5, 3.0, 5.0, 5.0, 4.0, 3.0, 3.0, 5.0, 4.0, 3.0, 3.0, 3.0, 4.0, 5.0,
    6.0, 7.0, 7.0, 6.0, 4.0,
];
const NEARBY_KM: f64 = 12.0;
const MAX_NEARBY_CITIES: usize = 12;

#[derive(Clone, Copy)]
struct Action {
    second: u32,
    user_id: u32,
    job_idx: u32,
    /// A job id the feed does not have, or 0; the snapshot is still `job_idx`'s.
    unknown_job_id: u32,
    kind: u8,
    source: u8,
    section: Option<u8>,
    /// Bit `i` set: snapshot cell `i` is left empty.
    empty_cells: u16,
}

/// Ways `--dirty` spoils a copy of an action row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ActionFault {
    None,
    UnknownType,
    BadTimestamp,
    EmptyUser,
    /// The same instant written in UTC.
    UtcOffset,
}

/// Job indices by place and occupation category, for drawing the jobs a user acts on.
struct JobIndex {
    n_categories: usize,
    by_city: Vec<Vec<u32>>,
    by_city_category: Vec<Vec<u32>>,
    by_prefecture: Vec<Vec<u32>>,
    by_prefecture_category: Vec<Vec<u32>>,
    by_region: Vec<Vec<u32>>,
    by_region_category: Vec<Vec<u32>>,
    by_category: Vec<Vec<u32>>,
    all: Vec<u32>,
}

impl JobIndex {
    fn new(world: &World, jobs: &[Job]) -> Self {
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
    fn pick(
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
fn nearby_cities(world: &World, city_idx: u32) -> Vec<u32> {
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

fn write_actions(
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

struct ActionWriter<'a> {
    csv: csv::Writer<BufWriter<File>>,
    feed: &'a Feed<'a>,
    digits: Digits,
    stamp: String,
}

impl ActionWriter<'_> {
    fn write(&mut self, day: i32, action: &Action, fault: ActionFault) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn small_options(dirty: bool) -> GenerateOptions {
        GenerateOptions {
            jobs: 300,
            users: 50,
            days: 10,
            seed: 42,
            dirty,
            end_date: jiff::civil::date(2025, 7, 2),
        }
    }

    fn read(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .expect("open csv");
        let headers = reader
            .headers()
            .expect("headers")
            .iter()
            .map(str::to_owned)
            .collect();
        let records = reader.records().map(|r| r.expect("record")).collect();
        (headers, records)
    }

    fn column(headers: &[String], name: &str) -> usize {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("missing column {name}"))
    }

    /// `YYYY-MM-DD HH:MM:SS+09`, a valid local date and time.
    fn parse_tokyo_stamp(text: &str) -> Option<jiff::civil::DateTime> {
        let local = text.strip_suffix("+09")?;
        if local.len() != 19 || local.as_bytes()[10] != b' ' {
            return None;
        }
        local.replacen(' ', "T", 1).parse().ok()
    }

    #[test]
    fn same_options_give_byte_identical_files() {
        for dirty in [false, true] {
            let first = tempfile::tempdir().unwrap();
            let second = tempfile::tempdir().unwrap();
            let options = small_options(dirty);
            let a = generate(&options, first.path()).unwrap();
            let b = generate(&options, second.path()).unwrap();
            assert_eq!(a, b);
            for name in [JOBS_FILE_NAME, USERS_FILE_NAME, ACTIONS_FILE_NAME] {
                let left = fs::read(first.path().join(name)).unwrap();
                let right = fs::read(second.path().join(name)).unwrap();
                assert!(left == right, "{name} differs between two runs");
            }
        }
    }

    #[test]
    fn another_seed_gives_other_data() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        generate(&small_options(false), first.path()).unwrap();
        let options = GenerateOptions {
            seed: 7,
            ..small_options(false)
        };
        generate(&options, second.path()).unwrap();
        let left = fs::read(first.path().join(JOBS_FILE_NAME)).unwrap();
        let right = fs::read(second.path().join(JOBS_FILE_NAME)).unwrap();
        assert_ne!(left, right);
    }

    #[test]
    fn headers_contain_every_required_column_and_jobs_have_at_least_110_columns() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small_options(false), dir.path()).unwrap();
        let (jobs, _) = read(&dir.path().join(JOBS_FILE_NAME));
        assert!(jobs.len() >= 110, "jobs.csv has {} columns", jobs.len());
        let unique: BTreeSet<&String> = jobs.iter().collect();
        assert_eq!(unique.len(), jobs.len(), "duplicate column names");
        // The importers' own column lists: the generator writes what they read.
        for required in crate::ingest::jobs::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::jobs::OPTIONAL_COLUMNS)
        {
            column(&jobs, required);
        }
        let (users, _) = read(&dir.path().join(USERS_FILE_NAME));
        for required in crate::ingest::users::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::users::OPTIONAL_COLUMNS)
        {
            column(&users, required);
        }
        let (actions, _) = read(&dir.path().join(ACTIONS_FILE_NAME));
        for required in crate::ingest::actions::REQUIRED_COLUMNS
            .iter()
            .chain(&crate::ingest::actions::OPTIONAL_COLUMNS)
        {
            column(&actions, required);
        }
    }

    #[test]
    fn clean_rows_have_unique_ids_valid_codes_fees_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&small_options(false), dir.path()).unwrap();
        let (headers, records) = read(&dir.path().join(JOBS_FILE_NAME));
        assert_eq!(records.len(), 300);
        assert_eq!(summary.jobs_rows, 300);
        let [job_id, pref_cd, city_cd, fee, features] =
            ["job_id", "pref_cd", "city_cd", "fee", "feature_codes"]
                .map(|name| column(&headers, name));
        let mut ids = BTreeSet::new();
        for record in &records {
            assert_eq!(record.len(), headers.len());
            let id: u64 = record[job_id].parse().expect("integer job_id");
            assert!(ids.insert(id), "job_id {id} repeats");
            let pref: u32 = record[pref_cd].parse().unwrap();
            let city: u32 = record[city_cd].parse().unwrap();
            assert_eq!(pref, city / 1000);
            let fee: u32 = record[fee].parse().unwrap();
            assert!(fee <= 5000);
            let stamps = headers
                .iter()
                .zip(record)
                .filter(|(name, _)| name.ends_with("_at"))
                .map(|(_, value)| value);
            for stamp in stamps {
                assert!(
                    stamp.is_empty() || parse_tokyo_stamp(stamp).is_some(),
                    "bad timestamp {stamp:?}"
                );
            }
            let codes: Vec<&str> = record[features].split(',').collect();
            if !FEATURES.is_empty() {
                assert!((2..=8).contains(&codes.len()), "{codes:?}");
            }
        }
        let (headers, users) = read(&dir.path().join(USERS_FILE_NAME));
        let created_at = column(&headers, "created_at");
        let end = jiff::civil::date(2025, 7, 2).at(0, 0, 0, 0);
        for user in &users {
            let created = parse_tokyo_stamp(&user[created_at]).expect("created_at parses");
            assert!(created < end);
        }
    }

    #[test]
    fn action_rows_fall_in_the_window_and_reference_the_feed() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_options(false);
        let summary = generate(&options, dir.path()).unwrap();
        let (job_headers, jobs) = read(&dir.path().join(JOBS_FILE_NAME));
        let job_ids: BTreeSet<&str> = jobs
            .iter()
            .map(|r| &r[column(&job_headers, "job_id")])
            .collect();
        let (headers, actions) = read(&dir.path().join(ACTIONS_FILE_NAME));
        assert_eq!(actions.len(), summary.actions_rows);
        let expected = ACTIONS_PER_USER_PER_DAY * 50.0 * 10.0;
        assert!(
            (actions.len() as f64) > expected * 0.5 && (actions.len() as f64) < expected * 1.6,
            "{} actions",
            actions.len()
        );
        let first = jiff::civil::date(2025, 6, 22).at(0, 0, 0, 0);
        let end = jiff::civil::date(2025, 7, 2).at(0, 0, 0, 0);
        let [action_at, job_id, action_type] =
            ["action_at", "job_id", "action_type"].map(|name| column(&headers, name));
        let mut known = 0;
        let mut types = BTreeMap::new();
        for record in &actions {
            let at = parse_tokyo_stamp(&record[action_at]).expect("action_at parses");
            assert!(first <= at && at < end, "{at} outside the window");
            known += usize::from(job_ids.contains(&record[job_id]));
            *types.entry(record[action_type].to_owned()).or_insert(0) += 1;
        }
        assert!(known as f64 > actions.len() as f64 * 0.95);
        assert!(types.keys().all(|t| ACTION_TYPES.contains(&t.as_str())));
    }

    #[test]
    fn dirty_data_contains_the_listed_problems() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small_options(true), dir.path()).unwrap();

        let (headers, jobs) = read(&dir.path().join(JOBS_FILE_NAME));
        let job_id = column(&headers, "job_id");
        let mut seen = BTreeSet::new();
        let repeated = jobs
            .iter()
            .filter(|r| r.len() > 2 && !r[job_id].is_empty())
            .filter(|r| !seen.insert(r[job_id].to_owned()))
            .count();
        assert!(repeated >= 1, "no repeated job_id");
        assert!(jobs.iter().any(|r| r.len() > 2 && r[job_id].is_empty()));
        assert!(
            jobs.iter()
                .any(|r| r.len() > 2 && !r[job_id].is_empty() && r[job_id].parse::<u64>().is_err())
        );
        let fee = column(&headers, "fee");
        assert!(
            jobs.iter()
                .any(|r| r.len() > fee && r[fee].parse::<u32>().is_err())
        );
        let pref = column(&headers, "pref_cd");
        assert!(jobs.iter().any(|r| r.len() > pref && &r[pref] == "99"));
        let last = jobs.last().unwrap();
        assert!(last.len() == 2 && &last[0] == "備考");
        let raw = fs::read_to_string(dir.path().join(JOBS_FILE_NAME)).unwrap();
        assert!(
            raw.contains("\r\n\r\n備考,"),
            "no blank line before the notes row"
        );

        let (headers, users) = read(&dir.path().join(USERS_FILE_NAME));
        let email = column(&headers, "email");
        assert!(
            users
                .iter()
                .any(|r| !r[email].contains('@') || r[email] == *"a@b")
        );
        let user_id = column(&headers, "user_id");
        let mut seen = BTreeSet::new();
        assert!(users.iter().any(|r| !seen.insert(r[user_id].to_owned())));

        let (headers, actions) = read(&dir.path().join(ACTIONS_FILE_NAME));
        let [user_id, action_type, action_at] =
            ["user_id", "action_type", "action_at"].map(|name| column(&headers, name));
        assert!(actions.iter().any(|r| &r[action_type] == "purchase"));
        assert!(actions.iter().any(|r| r[user_id].is_empty()));
        assert!(
            actions
                .iter()
                .any(|r| parse_tokyo_stamp(&r[action_at]).is_none()
                    && !r[action_at].ends_with("+00"))
        );
        assert!(actions.iter().any(|r| r[action_at].ends_with("+00")));
        let mut seen = BTreeSet::new();
        assert!(
            actions
                .iter()
                .any(|r| !seen.insert(r.iter().collect::<Vec<_>>().join("\u{1f}"))),
            "no exact duplicate action row"
        );
    }

    #[test]
    fn utc_copies_name_the_same_instant() {
        let calendar = Calendar::new(jiff::civil::date(2025, 7, 2), 10).unwrap();
        let mut tokyo = String::new();
        let afternoon = Stamp::new(-1, 13 * 3600 + 45 * 60 + 12);
        calendar.push_stamp(&mut tokyo, afternoon, TOKYO_OFFSET);
        assert_eq!(tokyo, "2025-07-01 13:45:12+09");
        let mut utc = String::new();
        calendar.push_stamp(&mut utc, afternoon.in_utc(), "+00");
        assert_eq!(utc, "2025-07-01 04:45:12+00");
        utc.clear();
        calendar.push_stamp(&mut utc, Stamp::new(-1, 3 * 3600).in_utc(), "+00");
        assert_eq!(utc, "2025-06-30 18:00:00+00");
    }

    #[test]
    fn empty_sizes_write_headers_only() {
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            jobs: 0,
            users: 0,
            days: 0,
            ..small_options(true)
        };
        let summary = generate(&options, &dir.path().join("new")).unwrap();
        assert_eq!(
            (summary.users_rows, summary.actions_rows),
            (0, 0),
            "{summary:?}"
        );
        let (headers, _) = read(&dir.path().join("new").join(ACTIONS_FILE_NAME));
        assert_eq!(headers, ACTION_COLUMNS);
    }

    #[test]
    fn short_city_names_drop_the_municipality_suffix() {
        assert_eq!(short_city_name("渋谷区"), "渋谷");
        assert_eq!(short_city_name("四日市市"), "四日市");
        assert_eq!(short_city_name("札幌市中央区"), "札幌中央");
        assert_eq!(short_city_name("市川市"), "市川");
    }

    #[test]
    fn weighted_sampling_follows_the_weights() {
        let weights = Weighted::new([1.0, 0.0, 3.0]);
        let mut rng = rng_for(1, 1);
        let mut counts = [0; 3];
        for _ in 0..4000 {
            counts[weights.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 2);
    }

    #[test]
    #[ignore = "reference size: run with --release -- --ignored --nocapture"]
    fn reference_size_generation_runs() {
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions {
            jobs: 100_000,
            users: 10_000,
            days: 365,
            seed: 1,
            dirty: false,
            end_date: jiff::civil::date(2025, 7, 2),
        };
        let started = std::time::Instant::now();
        let summary = generate(&options, dir.path()).unwrap();
        let elapsed = started.elapsed();
        println!("generated in {:.2} s: {summary:?}", elapsed.as_secs_f64());
        for name in [JOBS_FILE_NAME, USERS_FILE_NAME, ACTIONS_FILE_NAME] {
            let bytes = fs::metadata(dir.path().join(name)).unwrap().len();
            println!("{name}: {:.1} MB", bytes as f64 / 1e6);
        }
    }
}

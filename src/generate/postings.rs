//! The jobs themselves before any text: owner, place, category, features, fee, pay and posting
//! period.

use std::fmt::Write as _;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::FIRST_JOB_ID;
use super::calendar::{SECONDS_PER_DAY, Stamp};
use super::companies::Company;
use super::sampling::{Weighted, pick, round_to, standard_normal};
use super::vocabulary::Vocabulary;
use super::world::{FeatureKind, World, prefecture_base_wage};

#[derive(Clone)]
pub(super) struct Job {
    pub(super) job_id: u32,
    pub(super) company: u32,
    pub(super) city: u32,
    pub(super) category: u16,
    pub(super) detail: Option<u16>,
    pub(super) employment: u16,
    pub(super) salary_type_cd: u8,
    pub(super) min_salary: u32,
    pub(super) max_salary: Option<u32>,
    pub(super) fee: u32,
    /// Indices into `World::features`, in ascending feature-code order.
    pub(super) features: Vec<u16>,
    pub(super) feature_codes: String,
    pub(super) start_at: Option<Stamp>,
    pub(super) end_at: Option<Stamp>,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
    pub(super) is_delivery: bool,
    pub(super) deleted: bool,
}

impl Job {
    pub(super) fn has_feature(&self, world: &World, kind: FeatureKind) -> bool {
        self.features
            .iter()
            .any(|&f| world.features[usize::from(f)].kind == kind)
    }

    pub(super) fn employment_type_cd(&self, world: &World) -> u16 {
        world.employment_types[usize::from(self.employment)].0
    }

    pub(super) fn occupation_cd(&self, world: &World) -> u32 {
        world.categories[usize::from(self.category)].occupation_cd
    }
}

pub(super) fn generate_jobs(
    world: &World,
    companies: &[Company],
    rng: &mut ChaCha8Rng,
) -> Vec<Job> {
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

pub(super) fn place_job(world: &World, company: &Company, rng: &mut ChaCha8Rng) -> u32 {
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

pub(super) fn draw_features(
    world: &World,
    vocabulary: &Vocabulary,
    rng: &mut ChaCha8Rng,
) -> Vec<u16> {
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
pub(super) fn draw_fee(rng: &mut ChaCha8Rng) -> u32 {
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

pub(super) fn draw_pay(world: &World, job: &mut Job, rng: &mut ChaCha8Rng) {
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

pub(super) fn draw_posting_period(job: &mut Job, rng: &mut ChaCha8Rng) {
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

//! The companies that post the jobs: sizes, names, codes and home cities.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::sampling::pick;
use super::vocabulary::{JAPANESE_WORDS, KATAKANA_WORDS};
use super::world::World;

pub(super) struct Company {
    pub(super) endcl_cd: String,
    pub(super) client_cd: String,
    pub(super) legal_name: String,
    pub(super) brand: String,
    pub(super) kana: &'static str,
    pub(super) category: usize,
    pub(super) home_city: u32,
    pub(super) size: usize,
    pub(super) phone: String,
    /// Whether the feed carries the company's address, URL and profile.
    pub(super) detailed_profile: bool,
}

impl Company {
    /// Companies with many postings are chains whose postings name the branch.
    pub(super) fn is_chain(&self) -> bool {
        self.size >= 15
    }
}

/// Company sizes follow a Pareto law (shape 0.95), softly capped so that the largest chains have a
/// few hundred postings: most companies post 1–5 jobs, and the mean is about 8.
pub(super) fn generate_companies(
    world: &World,
    n_jobs: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Company> {
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

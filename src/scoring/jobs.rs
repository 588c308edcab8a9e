//! Job scores (SPEC §3.1–3.3): eligibility, hourly wage and area statistics, wage, fee,
//! popularity, basic and SEO scores, needs categories and occupation category.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;

use super::actions::{ActionStats, NO_COMPANY};
use super::seo::{KeywordMatch, SeoField, SeoMatcher};
use super::text::normalize;
use super::{DAILY_PAY, DayWindows, HIGH_WAGE, ScoringConfig};
use crate::domain::job::{flags, none};
use crate::domain::{JobColumns, Masters};

/// Hourly equivalent of a job's pay (SPEC §3.2): the mean of min and max when both are
/// positive, else whichever is; ÷8 for daily, ÷40 for weekly, ÷160 for monthly pay.
pub fn hourly_wage(salary_type_cd: u16, min_salary: u32, max_salary: u32) -> Option<f64> {
    let pay = match (min_salary > 0, max_salary > 0) {
        (true, true) => (f64::from(min_salary) + f64::from(max_salary)) / 2.0,
        (true, false) => f64::from(min_salary),
        (false, true) => f64::from(max_salary),
        (false, false) => return None,
    };
    Some(match salary_type_cd {
        2 => pay / 8.0,
        3 => pay / 40.0,
        4 => pay / 160.0,
        _ => pay,
    })
}

/// Fee score: 0 at or below 500 yen, 100 at 5,000 yen or more, linear between.
pub fn fee_score(fee: i32) -> f64 {
    if fee <= 500 {
        0.0
    } else if fee >= 5000 {
        100.0
    } else {
        f64::from(fee - 500) / 4500.0 * 100.0
    }
}

/// Popularity of a company from its application rate; 30 without actions.
pub fn popularity_score(applicants: u32, actions: u32) -> f64 {
    if actions == 0 {
        return 30.0;
    }
    let rate = f64::from(applicants) / f64::from(actions);
    if rate >= 0.15 {
        100.0
    } else if rate >= 0.10 {
        80.0
    } else if rate >= 0.05 {
        60.0
    } else if rate >= 0.02 {
        40.0
    } else {
        20.0
    }
}

/// Wage score from the z-score against the area: clamp((z + 2) × 25, 0, 100).
pub fn wage_score(wage: Option<f64>, area: MeanStd) -> f64 {
    let Some(wage) = wage else { return 0.0 };
    let z = if area.std == 0.0 {
        0.0
    } else {
        (wage - area.mean) / area.std
    };
    ((z + 2.0) * 25.0).clamp(0.0, 100.0)
}

/// The occupation category of `occupation_cd1`: grouped by hundreds, 1200 and above → 1200.
pub fn occupation_category(occupation_cd1: u32) -> Option<u16> {
    (occupation_cd1 >= 100).then(|| (occupation_cd1 / 100 * 100).min(1200) as u16)
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    /// Mean and population standard deviation (two passes, for accuracy).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        Self {
            mean,
            std: variance.sqrt(),
        }
    }
}

/// Area statistics of hourly wages (SPEC §3.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaStats {
    pub nationwide: MeanStd,
    /// Prefectures with enough jobs; the others use `nationwide`.
    pub by_prefecture: HashMap<u16, MeanStd>,
}

impl AreaStats {
    pub fn for_prefecture(&self, pref_cd: u16) -> MeanStd {
        self.by_prefecture
            .get(&pref_cd)
            .copied()
            .unwrap_or(self.nationwide)
    }
}

/// Whether job `index` can be picked on the batch date (SPEC §3.1). The columns hold only
/// the current snapshot, so every row is active.
pub fn is_eligible(
    jobs: &JobColumns,
    index: usize,
    windows: &DayWindows,
    config: &ScoringConfig,
) -> bool {
    jobs.flags[index] & (flags::DELETED | flags::NOT_DELIVERABLE) == 0
        && (jobs.start_at[index] == none::START || jobs.start_at[index] < windows.day_end)
        && (jobs.end_at[index] == none::END || jobs.end_at[index] >= windows.day_start)
        && config
            .eligible_employment_types
            .contains(&jobs.employment_type_cd[index])
        && jobs.fee[index] != none::FEE
        && jobs.fee[index] > config.min_fee_exclusive
}

/// Every job's scores for one batch date, in the order of the job columns.
#[derive(Debug, Clone, Default)]
pub struct JobScores {
    pub eligible: Vec<bool>,
    /// Hourly equivalent; NaN where the job has no wage.
    pub wage: Vec<f64>,
    pub wage_score: Vec<f64>,
    pub fee_score: Vec<f64>,
    pub popularity: Vec<f64>,
    pub basic: Vec<f64>,
    pub seo: Vec<f64>,
    /// Bit `i` set: the job is in needs category `i` of the configuration.
    pub needs: Vec<u16>,
    pub occupation_category: Vec<u16>,
    /// The counted SEO keywords with their fields.
    pub seo_matches: Vec<Vec<KeywordMatch>>,
    /// Keywords skipped because they matched more than the configured share of eligible jobs.
    pub skipped_keywords: Vec<String>,
    pub area: AreaStats,
    pub n_eligible: usize,
}

impl JobScores {
    /// Whether job `index` is in the needs category named `name`.
    pub fn has_need(&self, index: usize, config: &ScoringConfig, name: &str) -> bool {
        config
            .needs
            .iter()
            .position(|n| n.name == name)
            .is_some_and(|bit| self.needs[index] & (1 << bit) != 0)
    }
}

struct NormalizedJob {
    title: String,
    company: String,
    catch_copy: String,
    station: String,
    salary: String,
    hours: String,
}

impl NormalizedJob {
    /// The normalised texts of job `index` that SEO keywords and needs words are looked for in.
    fn of(jobs: &JobColumns, index: usize) -> Self {
        Self {
            title: normalize(jobs.application_name.get(index)),
            company: normalize(jobs.company_name.get(index)),
            catch_copy: normalize(jobs.catch_copy.get(index)),
            station: normalize(jobs.station_name_eki.get(index)),
            salary: normalize(jobs.salary_text.get(index)),
            hours: normalize(jobs.hours.get(index)),
        }
    }
}

/// The words of the configured needs categories in one automaton, each pattern with the bit
/// of its category, and the bit of the high-wage category, which is decided by the wage.
struct NeedsMatcher {
    /// Normalised, non-empty words and their category bits, in automaton pattern order.
    words: Vec<(String, usize)>,
    automaton: AhoCorasick,
    high_wage_bit: Option<usize>,
}

impl NeedsMatcher {
    fn new(config: &ScoringConfig) -> Self {
        let words: Vec<(String, usize)> = config
            .needs
            .iter()
            .enumerate()
            .flat_map(|(bit, category)| {
                category
                    .keywords
                    .iter()
                    .map(move |word| (normalize(word), bit))
            })
            .filter(|(word, _)| !word.is_empty())
            .collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(words.iter().map(|(word, _)| word))
            .expect("needs words build an automaton");
        let high_wage_bit = config.needs.iter().position(|c| c.name == HIGH_WAGE);
        Self {
            words,
            automaton,
            high_wage_bit,
        }
    }
}

/// Every job's hourly equivalent, NaN where the job has no wage.
fn compute_hourly_wages(jobs: &JobColumns) -> Vec<f64> {
    (0..jobs.len())
        .map(|i| {
            hourly_wage(
                jobs.salary_type_cd[i],
                jobs.min_salary[i],
                jobs.max_salary[i],
            )
            .unwrap_or(f64::NAN)
        })
        .collect()
}

/// Area statistics over eligible jobs with a wage: nationwide, and per prefecture where it
/// has at least `config.min_area_jobs` of them.
fn compute_area_stats(
    jobs: &JobColumns,
    eligible: &[bool],
    wage: &[f64],
    config: &ScoringConfig,
) -> AreaStats {
    let mut all_wages = Vec::new();
    let mut by_pref: HashMap<u16, Vec<f64>> = HashMap::new();
    for i in (0..jobs.len()).filter(|&i| eligible[i] && !wage[i].is_nan()) {
        all_wages.push(wage[i]);
        if jobs.pref_cd[i] != none::SMALL_CODE {
            by_pref.entry(jobs.pref_cd[i]).or_default().push(wage[i]);
        }
    }
    AreaStats {
        nationwide: MeanStd::of(&all_wages),
        by_prefecture: by_pref
            .into_iter()
            .filter(|(_, wages)| wages.len() >= config.min_area_jobs)
            .map(|(pref, wages)| (pref, MeanStd::of(&wages)))
            .collect(),
    }
}

/// The day's shared inputs of [`match_job_texts`], built once before the parallel pass.
struct TextMatching<'a> {
    jobs: &'a JobColumns,
    /// Normalised names of the enabled features.
    feature_names: HashMap<u32, String>,
    seo: &'a SeoMatcher,
    needs: NeedsMatcher,
    wage: &'a [f64],
    area: &'a AreaStats,
    config: &'a ScoringConfig,
}

/// Every SEO keyword match of eligible job `index` (before any keyword is skipped) and the
/// bits of its needs categories: words in its title, catch copy, hours and feature names,
/// and the high-wage category when its wage reaches the configured ratio of its area's mean.
fn match_job_texts(matching: &TextMatching<'_>, index: usize) -> (Vec<KeywordMatch>, u16) {
    let TextMatching {
        jobs,
        feature_names,
        seo,
        needs: needs_matcher,
        wage,
        area,
        config,
    } = matching;
    let text = NormalizedJob::of(jobs, index);
    let features: Vec<&str> = jobs
        .feature_codes
        .get(index)
        .iter()
        .filter_map(|code| feature_names.get(code).map(String::as_str))
        .collect();
    let fields = [
        (SeoField::ApplicationName, text.title.as_str()),
        (SeoField::CompanyName, text.company.as_str()),
        (SeoField::CatchCopy, text.catch_copy.as_str()),
        (SeoField::Station, text.station.as_str()),
        (SeoField::Salary, text.salary.as_str()),
        (SeoField::Hours, text.hours.as_str()),
    ]
    .into_iter()
    .chain(features.iter().map(|name| (SeoField::FeatureName, *name)));
    let matches = seo.matches(fields);
    let mut needs = 0u16;
    for haystack in [
        text.title.as_str(),
        text.catch_copy.as_str(),
        text.hours.as_str(),
    ]
    .into_iter()
    .chain(features.iter().copied())
    {
        for found in needs_matcher.automaton.find_overlapping_iter(haystack) {
            needs |= 1 << needs_matcher.words[found.pattern().as_usize()].1;
        }
    }
    if let Some(bit) = needs_matcher.high_wage_bit
        && !wage[index].is_nan()
        && wage[index] >= config.high_wage_ratio * area.for_prefecture(jobs.pref_cd[index]).mean
    {
        needs |= 1 << bit;
    }
    (matches, needs)
}

/// Which SEO keywords (by rank) say nothing and are not counted: the ignored ones and those
/// matching more than `config.seo_max_job_share` of the eligible jobs; with the names of the
/// latter, which the run record lists.
fn choose_skipped_keywords(
    per_job: &[Option<(Vec<KeywordMatch>, u16)>],
    seo: &SeoMatcher,
    n_eligible: usize,
    config: &ScoringConfig,
) -> (Vec<bool>, Vec<String>) {
    let mut match_counts = vec![0usize; seo.keywords.len()];
    for (matches, _) in per_job.iter().flatten() {
        for m in matches {
            match_counts[m.rank as usize] += 1;
        }
    }
    let ignored: HashSet<String> = config
        .seo_ignored_keywords
        .iter()
        .map(|k| normalize(k))
        .collect();
    let skip: Vec<bool> = seo
        .keywords
        .iter()
        .enumerate()
        .map(|(rank, keyword)| {
            ignored.contains(&keyword.normalized)
                || match_counts[rank] as f64 > config.seo_max_job_share * n_eligible as f64
        })
        .collect();
    let skipped_keywords = seo
        .keywords
        .iter()
        .enumerate()
        .filter(|(rank, keyword)| skip[*rank] && !ignored.contains(&keyword.normalized))
        .map(|(_, keyword)| keyword.keyword.clone())
        .collect();
    (skip, skipped_keywords)
}

/// The SEO score of a job from its matches in rank order: the first
/// `config.seo_max_keywords` keywords not skipped, each worth its points times its field's
/// weight, capped at 100; with the matches counted.
fn score_seo(
    matches: Vec<KeywordMatch>,
    skip: &[bool],
    seo: &SeoMatcher,
    config: &ScoringConfig,
) -> (f64, Vec<KeywordMatch>) {
    let counted: Vec<KeywordMatch> = matches
        .into_iter()
        .filter(|m| !skip[m.rank as usize])
        .take(config.seo_max_keywords)
        .collect();
    let sum: f64 = counted
        .iter()
        .map(|m| seo.keywords[m.rank as usize].points * m.field.weight())
        .sum();
    (sum.min(100.0), counted)
}

/// Fills eligible job `index`'s wage, fee, popularity and basic scores into `scores`, whose
/// wages and area statistics are already computed.
fn fill_component_scores(
    scores: &mut JobScores,
    index: usize,
    jobs: &JobColumns,
    stats: &ActionStats,
    job_company: &[u32],
) {
    let wage = (!scores.wage[index].is_nan()).then_some(scores.wage[index]);
    scores.wage_score[index] = wage_score(wage, scores.area.for_prefecture(jobs.pref_cd[index]));
    scores.fee_score[index] = fee_score(jobs.fee[index]);
    let company = job_company[index];
    scores.popularity[index] = if company == NO_COMPANY {
        30.0
    } else {
        popularity_score(
            stats.company_applicants[company as usize],
            stats.company_actions[company as usize],
        )
    };
    scores.basic[index] = 0.40 * scores.wage_score[index]
        + 0.30 * scores.fee_score[index]
        + 0.30 * scores.popularity[index];
}

/// Scores every job of the snapshot for the batch date.
pub fn score_jobs(
    jobs: &JobColumns,
    masters: &Masters,
    stats: &ActionStats,
    job_company: &[u32],
    seo: &SeoMatcher,
    windows: &DayWindows,
    config: &ScoringConfig,
) -> JobScores {
    let n = jobs.len();
    let eligible: Vec<bool> = (0..n)
        .map(|i| is_eligible(jobs, i, windows, config))
        .collect();
    let wage = compute_hourly_wages(jobs);
    let area = compute_area_stats(jobs, &eligible, &wage, config);

    let matching = TextMatching {
        jobs,
        feature_names: masters
            .features
            .iter()
            .filter(|f| f.is_enabled)
            .map(|f| (f.feature_cd, normalize(&f.name)))
            .collect(),
        seo,
        needs: NeedsMatcher::new(config),
        wage: &wage,
        area: &area,
        config,
    };
    // Per eligible job: normalised texts, SEO matches and needs (in parallel).
    let per_job: Vec<Option<(Vec<KeywordMatch>, u16)>> = (0..n)
        .into_par_iter()
        .map(|i| eligible[i].then(|| match_job_texts(&matching, i)))
        .collect();
    // Ends the borrows of the wages and area statistics, which the scores take over.
    drop(matching);

    let n_eligible = eligible.iter().filter(|e| **e).count();
    let (skip, skipped_keywords) = choose_skipped_keywords(&per_job, seo, n_eligible, config);

    let mut scores = JobScores {
        eligible,
        wage,
        wage_score: vec![0.0; n],
        fee_score: vec![0.0; n],
        popularity: vec![0.0; n],
        basic: vec![0.0; n],
        seo: vec![0.0; n],
        needs: vec![0; n],
        occupation_category: vec![0; n],
        seo_matches: vec![Vec::new(); n],
        skipped_keywords,
        area,
        n_eligible,
    };
    for (i, job) in per_job.into_iter().enumerate() {
        let Some((matches, needs)) = job else {
            continue;
        };
        fill_component_scores(&mut scores, i, jobs, stats, job_company);
        (scores.seo[i], scores.seo_matches[i]) = score_seo(matches, &skip, seo, config);
        scores.needs[i] = needs;
        scores.occupation_category[i] = occupation_category(jobs.occupation_cd1[i]).unwrap_or(0);
    }
    scores
}

/// Whether the job is in the 高時給 or 日払い・週払い category (the high-income section's filter).
pub fn is_high_income(scores: &JobScores, index: usize, config: &ScoringConfig) -> bool {
    scores.has_need(index, config, HIGH_WAGE) || scores.has_need(index, config, DAILY_PAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_equivalents_divide_by_the_pay_period() {
        let cases = [
            (1, 1000, 1400, Some(1200.0)),
            (1, 1000, 0, Some(1000.0)),
            (1, 0, 1300, Some(1300.0)),
            (2, 9600, 0, Some(1200.0)),
            (3, 48_000, 0, Some(1200.0)),
            (4, 192_000, 0, Some(1200.0)),
            (9, 1100, 0, Some(1100.0)),
            (0, 1100, 0, Some(1100.0)),
            (1, 0, 0, None),
        ];
        for (kind, min, max, expected) in cases {
            assert_eq!(hourly_wage(kind, min, max), expected, "{kind} {min} {max}");
        }
    }

    #[test]
    fn fee_breakpoints() {
        for (fee, expected) in [
            (0, 0.0),
            (500, 0.0),
            (501, 1.0 / 45.0),
            (2750, 50.0),
            (4999, 4499.0 / 45.0),
            (5000, 100.0),
        ] {
            assert!(
                (fee_score(fee) - expected).abs() < 1e-9,
                "{fee}: {}",
                fee_score(fee)
            );
        }
    }

    #[test]
    fn popularity_tiers() {
        for (applicants, actions, expected) in [
            (0, 0, 30.0),
            (15, 100, 100.0),
            (14, 100, 80.0),
            (10, 100, 80.0),
            (9, 100, 60.0),
            (5, 100, 60.0),
            (4, 100, 40.0),
            (2, 100, 40.0),
            (1, 100, 20.0),
            (0, 100, 20.0),
        ] {
            assert_eq!(
                popularity_score(applicants, actions),
                expected,
                "{applicants}/{actions}"
            );
        }
    }

    #[test]
    fn wage_score_clamps_the_z_score() {
        let area = MeanStd {
            mean: 1000.0,
            std: 100.0,
        };
        for (wage, expected) in [
            (Some(1000.0), 50.0),
            (Some(1100.0), 75.0),
            (Some(1200.0), 100.0),
            (Some(1500.0), 100.0),
            (Some(800.0), 0.0),
            (Some(500.0), 0.0),
            (Some(950.0), 37.5),
            (None, 0.0),
        ] {
            assert_eq!(wage_score(wage, area), expected, "{wage:?}");
        }
        assert_eq!(
            wage_score(
                Some(3000.0),
                MeanStd {
                    mean: 1000.0,
                    std: 0.0
                }
            ),
            50.0,
            "z is 0 when std is 0"
        );
    }

    #[test]
    fn occupation_codes_group_by_hundreds() {
        assert_eq!(occupation_category(100), Some(100));
        assert_eq!(occupation_category(199), Some(100));
        assert_eq!(occupation_category(1100), Some(1100));
        assert_eq!(occupation_category(1200), Some(1200));
        assert_eq!(occupation_category(1500), Some(1200));
        assert_eq!(occupation_category(42), None);
    }

    use crate::domain::{Fee, JobFields, JobId, Keyword, PrefCode};
    use crate::scoring::actions::{ActionStats, Interner, job_companies};

    fn seo_day(
        titles: &[&str],
        keywords: &[(&str, &str, u64)],
        config: &ScoringConfig,
    ) -> JobScores {
        let zone = crate::domain::TimeZoneSetting::tokyo();
        let date = crate::domain::time::parse_date("2025-11-25").unwrap();
        let windows = DayWindows::new(date, &zone, config);
        let mut jobs = JobColumns::new();
        for (i, title) in titles.iter().enumerate() {
            let fields = JobFields {
                job_id: Some(JobId::new(i as u64 + 1)),
                application_name: (*title).to_owned(),
                pref_cd: Some(PrefCode::new(13)),
                salary_type_cd: Some(1),
                min_salary: Some(1200),
                fee: Fee::new(1000),
                employment_type_cd: Some(1),
                is_delivery: true,
                ..JobFields::default()
            };
            jobs.push(JobId::new(i as u64 + 1), &fields);
        }
        let mut masters = crate::masters::builtin_masters();
        masters.keywords = keywords
            .iter()
            .map(|(text, intent, volume)| Keyword {
                keyword: (*text).to_owned(),
                intents: vec![(*intent).to_owned()],
                volume: *volume,
                keyword_difficulty: None,
                cpc_usd: None,
            })
            .collect();
        let mut companies = Interner::default();
        let job_company = job_companies(&jobs, &mut companies);
        let stats = ActionStats {
            companies,
            ..ActionStats::default()
        };
        let seo = SeoMatcher::new(&masters.keywords);
        score_jobs(
            &jobs,
            &masters,
            &stats,
            &job_company,
            &seo,
            &windows,
            config,
        )
    }

    #[test]
    fn seo_counts_the_first_seven_matching_keywords_in_rank_order_not_the_largest() {
        // Nine keywords match the title, ranked by volume; the last two have the largest
        // points (Commercial × 1.5) and are still left out.
        let keywords = [
            ("a1", "Informational", 400),
            ("a2", "Informational", 390),
            ("a3", "Informational", 380),
            ("a4", "Informational", 370),
            ("a5", "Informational", 360),
            ("a6", "Informational", 350),
            ("a7", "Informational", 340),
            ("a8", "Commercial", 330),
            ("a9", "Commercial", 320),
        ];
        let title = "a1 a2 a3 a4 a5 a6 a7 a8 a9";
        let scores = seo_day(&[title, "x", "y"], &keywords, &ScoringConfig::default());
        // The first 7 by rank: 7 × base 3 × intent 1.0 × field 1.5 = 31.5 (the 7 largest
        // contributions would have been 36).
        assert!((scores.seo[0] - 31.5).abs() < 1e-9, "{}", scores.seo[0]);
        assert_eq!(scores.seo_matches[0].len(), 7);
        assert!(scores.seo_matches[0].iter().all(|m| m.rank < 7));
    }

    #[test]
    fn seo_sums_base_times_intent_times_field_weight_capped_at_100() {
        let keywords = [
            ("カフェ", "Commercial", 12_000),
            ("渋谷", "Navigational", 600),
        ];
        let scores = seo_day(
            &["渋谷のカフェ", "q", "r"],
            &keywords,
            &ScoringConfig::default(),
        );
        // 15 × 1.5 × 1.5 + 5 × 0.8 × 1.5
        assert!(
            (scores.seo[0] - (15.0 * 1.5 * 1.5 + 5.0 * 0.8 * 1.5)).abs() < 1e-9,
            "{}",
            scores.seo[0]
        );
    }

    #[test]
    fn a_keyword_matching_more_than_half_of_the_eligible_jobs_is_skipped_and_listed() {
        let keywords = [
            ("バイト", "Commercial", 246_000),
            ("カフェ", "Commercial", 12_000),
        ];
        let titles = [
            "カフェのアルバイト",
            "倉庫のアルバイト",
            "工場のアルバイト",
            "塾の講師",
        ];
        let scores = seo_day(&titles, &keywords, &ScoringConfig::default());
        assert_eq!(scores.skipped_keywords, ["バイト"]);
        assert!(
            (scores.seo[0] - 15.0 * 1.5 * 1.5).abs() < 1e-9,
            "only カフェ counts: {}",
            scores.seo[0]
        );
        assert_eq!(scores.seo[1], 0.0);
        // Exactly half is not "more than half".
        let scores = seo_day(
            &titles[..2]
                .iter()
                .chain(&["塾", "駅"])
                .copied()
                .collect::<Vec<_>>(),
            &keywords,
            &ScoringConfig::default(),
        );
        assert!(scores.skipped_keywords.is_empty());
    }

    #[test]
    fn ignored_keywords_never_count() {
        let config = ScoringConfig {
            seo_ignored_keywords: vec!["カフェ".into()],
            ..ScoringConfig::default()
        };
        let scores = seo_day(
            &["カフェ", "a", "b"],
            &[("カフェ", "Commercial", 12_000)],
            &config,
        );
        assert_eq!(scores.seo[0], 0.0);
        assert!(
            scores.skipped_keywords.is_empty(),
            "ignored keywords are not listed as skipped"
        );
    }

    #[test]
    fn population_standard_deviation() {
        let stats = MeanStd::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((stats.mean, stats.std), (5.0, 2.0));
    }
}

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
    let wage: Vec<f64> = (0..n)
        .map(|i| {
            hourly_wage(
                jobs.salary_type_cd[i],
                jobs.min_salary[i],
                jobs.max_salary[i],
            )
            .unwrap_or(f64::NAN)
        })
        .collect();

    // Area statistics over eligible jobs with a wage.
    let mut all_wages = Vec::new();
    let mut by_pref: HashMap<u16, Vec<f64>> = HashMap::new();
    for i in (0..n).filter(|&i| eligible[i] && !wage[i].is_nan()) {
        all_wages.push(wage[i]);
        if jobs.pref_cd[i] != none::SMALL_CODE {
            by_pref.entry(jobs.pref_cd[i]).or_default().push(wage[i]);
        }
    }
    let area = AreaStats {
        nationwide: MeanStd::of(&all_wages),
        by_prefecture: by_pref
            .into_iter()
            .filter(|(_, wages)| wages.len() >= config.min_area_jobs)
            .map(|(pref, wages)| (pref, MeanStd::of(&wages)))
            .collect(),
    };

    let feature_names: HashMap<u32, String> = masters
        .features
        .iter()
        .filter(|f| f.is_enabled)
        .map(|f| (f.feature_cd, normalize(&f.name)))
        .collect();
    let needs_words: Vec<(String, usize)> = config
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
    let needs_automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(needs_words.iter().map(|(word, _)| word))
        .expect("needs words build an automaton");
    let high_wage_bit = config.needs.iter().position(|c| c.name == HIGH_WAGE);

    // Per eligible job: normalised texts, SEO matches and needs (in parallel).
    let per_job: Vec<Option<(Vec<KeywordMatch>, u16)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            if !eligible[i] {
                return None;
            }
            let text = NormalizedJob {
                title: normalize(jobs.application_name.get(i)),
                company: normalize(jobs.company_name.get(i)),
                catch_copy: normalize(jobs.catch_copy.get(i)),
                station: normalize(jobs.station_name_eki.get(i)),
                salary: normalize(jobs.salary_text.get(i)),
                hours: normalize(jobs.hours.get(i)),
            };
            let features: Vec<&str> = jobs
                .feature_codes
                .get(i)
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
                for found in needs_automaton.find_overlapping_iter(haystack) {
                    needs |= 1 << needs_words[found.pattern().as_usize()].1;
                }
            }
            if let Some(bit) = high_wage_bit
                && !wage[i].is_nan()
                && wage[i] >= config.high_wage_ratio * area.for_prefecture(jobs.pref_cd[i]).mean
            {
                needs |= 1 << bit;
            }
            Some((matches, needs))
        })
        .collect();

    // Keywords matching more than the configured share of eligible jobs say nothing.
    let n_eligible = eligible.iter().filter(|e| **e).count();
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
        let wage = (!scores.wage[i].is_nan()).then_some(scores.wage[i]);
        scores.wage_score[i] = wage_score(wage, scores.area.for_prefecture(jobs.pref_cd[i]));
        scores.fee_score[i] = fee_score(jobs.fee[i]);
        let company = job_company[i];
        scores.popularity[i] = if company == NO_COMPANY {
            30.0
        } else {
            popularity_score(
                stats.company_applicants[company as usize],
                stats.company_actions[company as usize],
            )
        };
        scores.basic[i] =
            0.40 * scores.wage_score[i] + 0.30 * scores.fee_score[i] + 0.30 * scores.popularity[i];
        let counted: Vec<KeywordMatch> = matches
            .into_iter()
            .filter(|m| !skip[m.rank as usize])
            .take(config.seo_max_keywords)
            .collect();
        let sum: f64 = counted
            .iter()
            .map(|m| seo.keywords[m.rank as usize].points * m.field.weight())
            .sum();
        scores.seo[i] = sum.min(100.0);
        scores.seo_matches[i] = counted;
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

//! Scoring (SPEC §3): job scores, user profiles and the personalised score. Pure: no I/O,
//! no clock; the batch date and every input are arguments.

pub mod actions;
pub mod jobs;
pub mod profile;
pub mod seo;
pub mod text;

use serde::{Deserialize, Serialize};

/// Scores are compared after rounding to 6 decimal places (SPEC §3.0): this is that
/// rounding, as an integer number of millionths.
///
/// Ties round away from zero, like `f64::round`, without its library call (this runs for
/// every user × job pair): `y - trunc(y)` is exact for the magnitudes of scores.
#[inline]
pub fn round6(score: f64) -> i64 {
    let scaled = score * 1e6;
    let whole = scaled as i64;
    let fraction = scaled - whole as f64;
    if fraction >= 0.5 {
        whole + 1
    } else if fraction <= -0.5 {
        whole - 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::round6;

    #[test]
    fn rounding_to_six_decimals_matches_f64_round() {
        for value in [
            0.0,
            12.3456785,
            12.3456784999,
            99.9999995,
            100.0,
            33.333333333,
            66.6666665,
            0.0000005,
            -1.2345675,
        ] {
            assert_eq!(round6(value), (value * 1e6).round() as i64, "{value}");
        }
    }
}

/// One "needs" category: a name and the words whose presence in a job's text marks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedsCategory {
    pub name: String,
    pub keywords: Vec<String>,
}

/// Name of the needs category decided by pay rather than words.
pub const HIGH_WAGE: &str = "高時給";
/// Name of the needs category of daily or weekly pay.
pub const DAILY_PAY: &str = "日払い・週払い";

/// The 14 needs categories of SPEC §3.3, in order; 高時給 has no words (pay decides it).
pub fn default_needs() -> Vec<NeedsCategory> {
    let category = |name: &str, words: &[&str]| NeedsCategory {
        name: name.to_owned(),
        keywords: words.iter().map(|w| (*w).to_owned()).collect(),
    };
    vec![
        category(DAILY_PAY, &["日払い", "週払い", "即日払い", "当日払い"]),
        category("短期・単発OK", &["短期", "単発", "1日のみ"]),
        category(HIGH_WAGE, &[]),
        category("シフト自由", &["シフト自由", "自由シフト", "週1", "週2"]),
        category("未経験歓迎", &["未経験"]),
        category("在宅・リモート", &["在宅", "リモート", "テレワーク"]),
        category("学生歓迎", &["学生"]),
        category("高校生歓迎", &["高校生"]),
        category("主婦・主夫歓迎", &["主婦", "主夫"]),
        category("シニア歓迎", &["シニア", "60歳", "年齢不問"]),
        category("土日のみOK", &["土日のみ"]),
        category("副業・WワークOK", &["副業", "wワーク", "ダブルワーク"]),
        category("交通費支給", &["交通費"]),
        category("即日勤務OK", &["即日勤務", "即勤務"]),
    ]
}

/// Every number of SPEC §3 and §4 that an operator can change, with the spec's defaults
/// (the `[scoring]` table of the configuration file; keys left out keep their default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// Employment types a pickable job must have.
    pub eligible_employment_types: Vec<u16>,
    /// A pickable job's fee must be above this (yen).
    pub min_fee_exclusive: i32,
    /// Days of actions behind profiles and company popularity.
    pub history_days: i64,
    /// A company applied to within this many days is not picked.
    pub recent_company_days: i64,
    /// Days of applications counted by the editorial score.
    pub editorial_days: i64,
    /// A job started within this many days is "new".
    pub new_days: i64,
    /// SEO: at most this many matching keywords count per job.
    pub seo_max_keywords: usize,
    /// SEO: a keyword matching more than this share of eligible jobs is skipped.
    pub seo_max_job_share: f64,
    /// SEO keywords never counted (normalised before comparison).
    pub seo_ignored_keywords: Vec<String>,
    /// 高時給: hourly equivalent at least this many times the area mean.
    pub high_wage_ratio: f64,
    pub needs: Vec<NeedsCategory>,
    /// Area statistics use the nationwide figures below this many jobs with a wage.
    pub min_area_jobs: usize,
    /// Derived adjacency: neighbours within this distance …
    pub adjacency_radius_km: f64,
    /// … at most this many, nearest first.
    pub adjacency_max: usize,
    /// At most this many jobs of one company in one email.
    pub company_cap: usize,
    /// The sections of an email, in order, with their sizes.
    pub sections: Vec<SectionSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Editorial,
    Top5,
    Regional,
    Nearby,
    HighIncome,
    New,
}

impl SectionKind {
    pub const ALL: [SectionKind; 6] = [
        Self::Editorial,
        Self::Top5,
        Self::Regional,
        Self::Nearby,
        Self::HighIncome,
        Self::New,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editorial => "editorial",
            Self::Top5 => "top5",
            Self::Regional => "regional",
            Self::Nearby => "nearby",
            Self::HighIncome => "high_income",
            Self::New => "new",
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    pub fn code(self) -> u8 {
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .expect("every kind is in ALL") as u8
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionSpec {
    pub kind: SectionKind,
    pub count: usize,
}

impl ScoringConfig {
    /// Checks what the scoring and matching rely on; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive_days = [
            ("history_days", self.history_days),
            ("editorial_days", self.editorial_days),
            ("new_days", self.new_days),
        ];
        for (key, days) in positive_days {
            if days < 1 {
                return Err(format!("scoring.{key} must be at least 1 day, not {days}"));
            }
        }
        if self.recent_company_days < 0 || self.recent_company_days > self.history_days {
            return Err(format!(
                "scoring.recent_company_days must be between 0 and history_days ({}), not {}",
                self.history_days, self.recent_company_days
            ));
        }
        // Written so that NaN fails too.
        let share_ok = self.seo_max_job_share > 0.0 && self.seo_max_job_share <= 1.0;
        if !share_ok {
            return Err(format!(
                "scoring.seo_max_job_share must be a share in (0, 1], not {}",
                self.seo_max_job_share
            ));
        }
        let ratio_ok = self.high_wage_ratio > 0.0;
        let radius_ok = self.adjacency_radius_km >= 0.0;
        if !ratio_ok || !radius_ok {
            return Err(
                "scoring.high_wage_ratio must be above 0 and scoring.adjacency_radius_km at least 0"
                    .to_owned(),
            );
        }
        if self.company_cap < 1 {
            return Err("scoring.company_cap must be at least 1".to_owned());
        }
        if self.sections.is_empty() {
            return Err("scoring.sections must name at least one section".to_owned());
        }
        for (i, section) in self.sections.iter().enumerate() {
            if section.count < 1 {
                return Err(format!(
                    "scoring.sections: the {} section must hold at least 1 job",
                    section.kind.as_str()
                ));
            }
            if self.sections[..i].iter().any(|s| s.kind == section.kind) {
                return Err(format!(
                    "scoring.sections: the {} section is listed twice",
                    section.kind.as_str()
                ));
            }
        }
        let total: usize = self.sections.iter().map(|s| s.count).sum();
        if total > 255 {
            return Err(format!(
                "scoring.sections hold {total} jobs in all; at most 255 fit an email"
            ));
        }
        Ok(())
    }
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            eligible_employment_types: vec![1, 3, 6, 8],
            min_fee_exclusive: 500,
            history_days: 360,
            recent_company_days: 14,
            editorial_days: 30,
            new_days: 7,
            seo_max_keywords: 7,
            seo_max_job_share: 0.5,
            seo_ignored_keywords: Vec::new(),
            high_wage_ratio: 1.2,
            needs: default_needs(),
            min_area_jobs: 10,
            adjacency_radius_km: 10.0,
            adjacency_max: 12,
            company_cap: 3,
            sections: vec![
                SectionSpec {
                    kind: SectionKind::Editorial,
                    count: 5,
                },
                SectionSpec {
                    kind: SectionKind::Top5,
                    count: 5,
                },
                SectionSpec {
                    kind: SectionKind::Regional,
                    count: 10,
                },
                SectionSpec {
                    kind: SectionKind::Nearby,
                    count: 8,
                },
                SectionSpec {
                    kind: SectionKind::HighIncome,
                    count: 7,
                },
                SectionSpec {
                    kind: SectionKind::New,
                    count: 5,
                },
            ],
        }
    }
}

/// The instants that cut the batch date's windows (SPEC §3.0): `midnight(D − n)` for every
/// window, so that actions made on D itself are never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindows {
    /// The batch date D.
    pub date: jiff::civil::Date,
    /// Local midnight starting D.
    pub day_start: i64,
    /// Local midnight starting D + 1.
    pub day_end: i64,
    pub history_start: i64,
    pub recent_company_start: i64,
    pub editorial_start: i64,
    pub new_start: i64,
}

impl DayWindows {
    pub fn new(
        date: jiff::civil::Date,
        zone: &crate::domain::TimeZoneSetting,
        config: &ScoringConfig,
    ) -> Self {
        let midnight = |days_before: i64| {
            let day = date
                .checked_sub(jiff::Span::new().days(days_before))
                .expect("date in range");
            zone.start_of_day(day)
        };
        let next = date
            .checked_add(jiff::Span::new().days(1))
            .expect("date in range");
        Self {
            date,
            day_start: midnight(0),
            day_end: zone.start_of_day(next),
            history_start: midnight(config.history_days),
            recent_company_start: midnight(config.recent_company_days),
            editorial_start: midnight(config.editorial_days),
            new_start: midnight(config.new_days),
        }
    }
}

//! SEO keyword matching (SPEC §3.3): one Aho-Corasick automaton over every keyword variant.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};

use super::text::normalize;
use crate::domain::Keyword;

/// The fields a keyword can match, in the order a tie between equal weights is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SeoField {
    ApplicationName = 0,
    CompanyName = 1,
    CatchCopy = 2,
    FeatureName = 3,
    Station = 4,
    Salary = 5,
    Hours = 6,
}

impl SeoField {
    pub fn weight(self) -> f64 {
        match self {
            Self::ApplicationName | Self::CompanyName => 1.5,
            Self::CatchCopy => 1.0,
            Self::FeatureName => 0.7,
            Self::Station => 0.5,
            Self::Salary | Self::Hours => 0.3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApplicationName => "application_name",
            Self::CompanyName => "company_name",
            Self::CatchCopy => "catch_copy",
            Self::FeatureName => "feature",
            Self::Station => "station_name_eki",
            Self::Salary => "salary",
            Self::Hours => "hours",
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        [
            Self::ApplicationName,
            Self::CompanyName,
            Self::CatchCopy,
            Self::FeatureName,
            Self::Station,
            Self::Salary,
            Self::Hours,
        ]
        .get(code as usize)
        .copied()
    }
}

/// Base points by monthly search volume.
pub fn volume_points(volume: u64) -> f64 {
    match volume {
        10_000.. => 15.0,
        5_000.. => 10.0,
        1_000.. => 7.0,
        500.. => 5.0,
        _ => 3.0,
    }
}

/// The highest multiplier among a keyword's intents; 1.0 for none or unknown ones.
pub fn intent_multiplier(intents: &[String]) -> f64 {
    intents
        .iter()
        .map(|intent| match intent.trim().to_ascii_lowercase().as_str() {
            "commercial" => 1.5,
            "transactional" => 1.3,
            "navigational" => 0.8,
            _ => 1.0,
        })
        .fold(None, |best: Option<f64>, m| {
            Some(best.map_or(m, |b| b.max(m)))
        })
        .unwrap_or(1.0)
}

/// One keyword, in rank order (volume descending, then keyword text by code point).
#[derive(Debug, Clone, PartialEq)]
pub struct RankedKeyword {
    pub keyword: String,
    pub normalized: String,
    /// base points × intent multiplier.
    pub points: f64,
}

/// A keyword a job matched, with its best field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordMatch {
    /// Rank of the keyword (index into [`SeoMatcher::keywords`]).
    pub rank: u32,
    pub field: SeoField,
}

pub struct SeoMatcher {
    pub keywords: Vec<RankedKeyword>,
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, the ranks of the keywords it is a variant of.
    pattern_keywords: Vec<Vec<u32>>,
}

impl SeoMatcher {
    /// Ranks the keywords and builds the automaton. A keyword that normalises to the same
    /// text as a higher-ranked one is the same keyword and is dropped.
    pub fn new(keywords: &[Keyword]) -> Self {
        let mut ranked: Vec<(&Keyword, String)> = keywords
            .iter()
            .map(|k| (k, normalize(&k.keyword)))
            .filter(|(_, normalized)| !normalized.is_empty())
            .collect();
        ranked.sort_by(|(a, _), (b, _)| {
            b.volume
                .cmp(&a.volume)
                .then_with(|| a.keyword.trim().cmp(b.keyword.trim()))
        });
        let mut seen = HashSet::new();
        ranked.retain(|(_, normalized)| seen.insert(normalized.clone()));
        let keywords: Vec<RankedKeyword> = ranked
            .into_iter()
            .map(|(k, normalized)| RankedKeyword {
                keyword: k.keyword.trim().to_owned(),
                points: volume_points(k.volume) * intent_multiplier(&k.intents),
                normalized,
            })
            .collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_index: HashMap<String, usize> = HashMap::new();
        let mut pattern_keywords: Vec<Vec<u32>> = Vec::new();
        for (rank, keyword) in keywords.iter().enumerate() {
            let without_spaces: String = keyword.normalized.chars().filter(|c| *c != ' ').collect();
            let mut variants = vec![keyword.normalized.clone(), without_spaces];
            variants.dedup();
            for variant in variants {
                let index = *pattern_index.entry(variant.clone()).or_insert_with(|| {
                    patterns.push(variant);
                    pattern_keywords.push(Vec::new());
                    patterns.len() - 1
                });
                if !pattern_keywords[index].contains(&(rank as u32)) {
                    pattern_keywords[index].push(rank as u32);
                }
            }
        }
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .expect("keyword patterns build an automaton")
        });
        Self {
            keywords,
            automaton,
            pattern_keywords,
        }
    }

    /// Every keyword matching the job's normalised fields, once each with its best field,
    /// sorted by rank. `fields` are `(field, normalised text)`.
    pub fn matches<'a>(
        &self,
        fields: impl IntoIterator<Item = (SeoField, &'a str)>,
    ) -> Vec<KeywordMatch> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut best: HashMap<u32, SeoField> = HashMap::new();
        for (field, text) in fields {
            if text.is_empty() {
                continue;
            }
            for found in automaton.find_overlapping_iter(text) {
                for &rank in &self.pattern_keywords[found.pattern().as_usize()] {
                    best.entry(rank)
                        .and_modify(|current| {
                            let better = field.weight() > current.weight()
                                || (field.weight() == current.weight() && field < *current);
                            if better {
                                *current = field;
                            }
                        })
                        .or_insert(field);
                }
            }
        }
        let mut matches: Vec<KeywordMatch> = best
            .into_iter()
            .map(|(rank, field)| KeywordMatch { rank, field })
            .collect();
        matches.sort_unstable_by_key(|m| m.rank);
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyword(text: &str, intent: &str, volume: u64) -> Keyword {
        Keyword {
            keyword: text.into(),
            intents: intent
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            volume,
            keyword_difficulty: None,
            cpc_usd: None,
        }
    }

    #[test]
    fn volume_tiers_have_their_base_points() {
        for (volume, points) in [
            (10_000, 15.0),
            (9_999, 10.0),
            (5_000, 10.0),
            (4_999, 7.0),
            (1_000, 7.0),
            (999, 5.0),
            (500, 5.0),
            (499, 3.0),
            (0, 3.0),
        ] {
            assert_eq!(volume_points(volume), points, "{volume}");
        }
    }

    #[test]
    fn the_highest_intent_wins_and_unknown_counts_as_one() {
        let intents = |s: &str| {
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            intent_multiplier(&intents("Informational, Commercial")),
            1.5
        );
        assert_eq!(intent_multiplier(&intents("Transactional")), 1.3);
        assert_eq!(intent_multiplier(&intents("Navigational")), 0.8);
        assert_eq!(intent_multiplier(&intents("")), 1.0);
        assert_eq!(intent_multiplier(&intents("Navigational, Other")), 1.0);
    }

    #[test]
    fn a_keyword_matches_once_with_its_best_field_and_spaces_may_be_missing() {
        let matcher = SeoMatcher::new(&[
            keyword("カフェ バイト", "Commercial", 12_000),
            keyword("渋谷", "", 600),
        ]);
        let matches = matcher.matches([
            (SeoField::Hours, "カフェバイト"),
            (SeoField::CatchCopy, "渋谷のカフェ バイト"),
            (SeoField::Station, "渋谷駅"),
        ]);
        assert_eq!(matches.len(), 2);
        assert_eq!(
            matches[0],
            KeywordMatch {
                rank: 0,
                field: SeoField::CatchCopy
            }
        );
        assert_eq!(
            matches[1],
            KeywordMatch {
                rank: 1,
                field: SeoField::CatchCopy
            }
        );
        assert_eq!(matcher.keywords[0].points, 15.0 * 1.5);
    }

    #[test]
    fn keywords_rank_by_volume_then_text() {
        let matcher = SeoMatcher::new(&[
            keyword("b", "", 100),
            keyword("a", "", 100),
            keyword("c", "", 200),
        ]);
        let order: Vec<&str> = matcher
            .keywords
            .iter()
            .map(|k| k.keyword.as_str())
            .collect();
        assert_eq!(order, ["c", "a", "b"]);
    }
}

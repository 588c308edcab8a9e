//! The starter SEO keywords a catch copy may quote, indexed by the jobs they suit.

use super::postings::Job;
use super::world::{Category, City, FeatureKind, PrefectureSlot, World};
use crate::masters::builtin::KEYWORDS;

/// Starter SEO keywords (spaces removed) that a catch copy may quote, by the jobs they suit: a
/// keyword names a place (`渋谷 バイト`), a kind of work (`カフェ バイト`) or a need (`日払い バイト`).
#[derive(Default)]
pub(super) struct KeywordIndex {
    pub(super) texts: Vec<String>,
    pub(super) by_city: Vec<Vec<u16>>,
    pub(super) by_prefecture: Vec<Vec<u16>>,
    pub(super) by_category: Vec<Vec<u16>>,
    pub(super) by_kind: Vec<(FeatureKind, Vec<u16>)>,
}

/// Words of keywords that suit jobs with a feature of the kind.
pub(super) const KIND_KEYWORD_STEMS: [(FeatureKind, &[&str]); 15] = [
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
pub(super) const UNSUITABLE_KEYWORD_WORDS: [&str; 18] = [
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
    pub(super) fn new(
        cities: &[City],
        prefectures: &[PrefectureSlot],
        categories: &[Category],
    ) -> Self {
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
    pub(super) fn collect_for(&self, world: &World, job: &Job, out: &mut Vec<u16>) {
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

//! The reference data the generator draws from, derived from the built-in masters: cities with
//! their weights, prefectures, regions, occupation categories, features and employment types.

use std::io;

use rand_chacha::ChaCha8Rng;

use super::keywords::KeywordIndex;
use super::sampling::{Weighted, standard_normal};
use super::vocabulary::{Vocabulary, vocabulary};
use crate::masters::builtin::{CITIES, EMPLOYMENT_TYPES, FEATURES, OCCUPATIONS, PREFECTURES};

pub(super) struct City {
    pub(super) city_cd: u32,
    pub(super) pref_slot: usize,
    pub(super) name: &'static str,
    /// The name without its 市/区/町/村, used for branches and stations (`札幌市中央区` → `札幌中央`).
    pub(super) short_name: String,
    pub(super) latitude: f64,
    pub(super) longitude: f64,
}

pub(super) struct PrefectureSlot {
    pub(super) pref_cd: u16,
    pub(super) name: &'static str,
    pub(super) region_slot: usize,
    pub(super) cities: Vec<u32>,
    pub(super) city_weights: Weighted,
}

pub(super) struct Category {
    pub(super) occupation_cd: u32,
    pub(super) name: &'static str,
    pub(super) details: &'static [(u32, &'static str)],
    pub(super) vocabulary: &'static Vocabulary,
}

pub(super) struct Feature {
    pub(super) feature_cd: u32,
    pub(super) name: &'static str,
    pub(super) weight: f64,
    /// What a title or catch copy says when the job has this feature.
    pub(super) tag: &'static str,
    pub(super) kind: FeatureKind,
}

/// Features the generated text and pay react to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FeatureKind {
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

pub(super) struct World {
    pub(super) cities: Vec<City>,
    pub(super) city_weights: Weighted,
    pub(super) prefectures: Vec<PrefectureSlot>,
    /// Number of regions; a prefecture's `region_slot` is below it.
    pub(super) n_regions: usize,
    pub(super) categories: Vec<Category>,
    pub(super) category_weights: Weighted,
    pub(super) features: Vec<Feature>,
    pub(super) employment_types: Vec<(u16, &'static str)>,
    pub(super) employment_weights: Weighted,
    pub(super) keywords: KeywordIndex,
    /// Feature weights for jobs where remote work is rare (`[0]`) or common (`[1]`).
    pub(super) feature_weights: [Weighted; 2],
}

impl World {
    pub(super) fn from_builtin(rng: &mut ChaCha8Rng) -> io::Result<Self> {
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

    pub(super) fn prefecture_of(&self, city_idx: u32) -> &PrefectureSlot {
        &self.prefectures[self.cities[city_idx as usize].pref_slot]
    }
}

pub(super) fn has_coordinates(latitude: f64, longitude: f64) -> bool {
    latitude.is_finite() && longitude.is_finite() && (latitude != 0.0 || longitude != 0.0)
}

pub(super) fn short_city_name(name: &str) -> String {
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
pub(super) fn city_kind_weight(name: &str) -> f64 {
    match name.chars().last() {
        Some('区') => 3.0,
        Some('市') => 1.5,
        Some('町') => 0.3,
        Some('村') => 0.1,
        _ => 1.0,
    }
}

/// Business districts with many more postings than their population suggests.
pub(super) fn hub_boost(city_cd: u32) -> f64 {
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
pub(super) const PREFECTURE_POPULATION: [f64; 48] = [
    0.0, 522.0, 124.0, 121.0, 230.0, 96.0, 107.0, 183.0, 287.0, 193.0, 194.0, 734.0, 628.0, 1405.0,
    924.0, 220.0, 103.0, 113.0, 77.0, 81.0, 205.0, 198.0, 363.0, 754.0, 177.0, 141.0, 258.0, 884.0,
    547.0, 132.0, 92.0, 55.0, 67.0, 189.0, 280.0, 134.0, 72.0, 95.0, 133.0, 69.0, 514.0, 81.0,
    131.0, 174.0, 112.0, 107.0, 159.0, 147.0,
];

/// Big urban prefectures have more part-time postings per head than the rest.
pub(super) fn prefecture_job_weight(pref_cd: u16) -> f64 {
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
pub(super) fn prefecture_base_wage(pref_cd: u16) -> f64 {
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

pub(super) const EMPLOYMENT_TYPE_WEIGHTS: [(u16, f64); 10] = [
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

pub(super) fn classify_feature(name: &str) -> (FeatureKind, &'static str, f64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_city_names_drop_the_municipality_suffix() {
        assert_eq!(short_city_name("渋谷区"), "渋谷");
        assert_eq!(short_city_name("四日市市"), "四日市");
        assert_eq!(short_city_name("札幌市中央区"), "札幌中央");
        assert_eq!(short_city_name("市川市"), "市川");
    }
}

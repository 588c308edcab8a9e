//! The built-in default masters, so that mailscore runs with no reference files at all.

pub mod builtin;

use crate::domain::master::{MasterKind, MasterSet};
use crate::domain::{
    City, CityCode, EmploymentType, Feature, Keyword, Masters, Occupation, PrefCode, Prefecture,
    SalaryType,
};

/// Every kind's built-in default set.
pub fn builtin_masters() -> Masters {
    let mut masters = Masters::default();
    for kind in MasterKind::ALL {
        masters.replace(builtin_set(kind));
    }
    masters
}

/// The built-in default set of one kind (empty for adjacency: it is derived from cities).
pub fn builtin_set(kind: MasterKind) -> MasterSet {
    match kind {
        MasterKind::Prefectures => MasterSet::Prefectures(builtin_prefectures()),
        MasterKind::Cities => MasterSet::Cities(builtin_cities()),
        MasterKind::Adjacency => MasterSet::Adjacency(Vec::new()),
        MasterKind::Occupations => MasterSet::Occupations(builtin_occupations()),
        MasterKind::EmploymentTypes => MasterSet::EmploymentTypes(
            builtin::EMPLOYMENT_TYPES
                .iter()
                .map(|row| EmploymentType {
                    employment_type_cd: row.employment_type_cd,
                    group_cd: row.group_cd.to_owned(),
                    json_ld_type: row.json_ld_type.to_owned(),
                    name: row.name.to_owned(),
                })
                .collect(),
        ),
        MasterKind::SalaryTypes => MasterSet::SalaryTypes(
            builtin::SALARY_TYPES
                .iter()
                .map(|row| SalaryType {
                    salary_type_cd: row.salary_type_cd,
                    json_ld_type: row.json_ld_type.to_owned(),
                    name: row.name.to_owned(),
                })
                .collect(),
        ),
        MasterKind::Features => MasterSet::Features(
            builtin::FEATURES
                .iter()
                .map(|row| Feature {
                    feature_cd: row.feature_cd,
                    name: row.name.to_owned(),
                    group_name: row.group_name.to_owned(),
                    is_enabled: row.is_enabled,
                    match_keywords: row.match_keywords.iter().map(|s| (*s).to_owned()).collect(),
                    ng_keywords: row.ng_keywords.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
        ),
        MasterKind::Keywords => MasterSet::Keywords(
            builtin::KEYWORDS
                .iter()
                .map(|row| Keyword {
                    keyword: row.keyword.to_owned(),
                    intents: row
                        .intent
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    volume: row.volume,
                    keyword_difficulty: None,
                    cpc_usd: None,
                })
                .collect(),
        ),
    }
}

fn builtin_prefectures() -> Vec<Prefecture> {
    builtin::PREFECTURES
        .iter()
        .map(|row| Prefecture {
            pref_cd: PrefCode::new(row.pref_cd),
            url_segment: row.url_segment.to_owned(),
            name: row.name.to_owned(),
            region: row.region.to_owned(),
            category_id: None,
            latitude: Some(row.latitude),
            longitude: Some(row.longitude),
        })
        .collect()
}

fn builtin_cities() -> Vec<City> {
    builtin::CITIES
        .iter()
        .map(|row| {
            let pref_name = builtin::PREFECTURES
                .iter()
                .find(|p| p.pref_cd == row.pref_cd)
                .map_or("", |p| p.name);
            City {
                city_cd: CityCode::new(row.city_cd),
                pref_cd: PrefCode::new(row.pref_cd),
                pref_name: pref_name.to_owned(),
                name: row.name.to_owned(),
                name_with_gun: row.name.to_owned(),
                kana: row.kana.to_owned(),
                latitude: Some(row.latitude),
                longitude: Some(row.longitude),
                is_conflicted_name: false,
                is_special_city: false,
                is_special_city_top: false,
                special_city_top_city_cd: None,
            }
        })
        .collect()
}

fn builtin_occupations() -> Vec<Occupation> {
    builtin::OCCUPATIONS
        .iter()
        .flat_map(|category| {
            category
                .details
                .iter()
                .map(move |(detail_cd, detail_name)| Occupation {
                    occupation_cd1: category.occupation_cd,
                    occupation_cd2: Some(category.occupation_cd),
                    occupation_cd3: Some(category.occupation_cd),
                    occupation_cd_name: category.name.to_owned(),
                    jobtype_detail: Some(*detail_cd),
                    jobtype_detail_name: (*detail_name).to_owned(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_masters_cover_every_prefecture_and_the_twelve_occupation_categories() {
        let masters = builtin_masters();
        assert_eq!(masters.prefectures.len(), 47);
        let mut categories: Vec<u32> = masters
            .occupations
            .iter()
            .map(|o| o.occupation_cd1)
            .collect();
        categories.dedup();
        assert_eq!(categories.len(), 12);
        assert!(
            masters
                .cities
                .iter()
                .all(|c| masters.prefecture(c.pref_cd).is_some())
        );
        assert!(!masters.keywords.is_empty());
        assert_eq!(masters.employment_types.len(), 10);
    }
}

//! Reference data (masters, SPEC §2.4) and the SEO keyword list.

use serde::{Deserialize, Serialize};

use super::ids::{CityCode, PrefCode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prefecture {
    pub pref_cd: PrefCode,
    pub url_segment: String,
    pub name: String,
    pub region: String,
    pub category_id: Option<u32>,
    /// Centroid, known for the built-in list; the operator's export has none.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct City {
    pub city_cd: CityCode,
    pub pref_cd: PrefCode,
    pub pref_name: String,
    pub name: String,
    pub name_with_gun: String,
    pub kana: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub is_conflicted_name: bool,
    pub is_special_city: bool,
    pub is_special_city_top: bool,
    pub special_city_top_city_cd: Option<CityCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjacency {
    pub city_cd: CityCode,
    pub adjacent_city_cd: CityCode,
    pub distance_km: Option<f64>,
}

/// One row of the occupation master: a job-type detail within an occupation category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occupation {
    pub occupation_cd1: u32,
    pub occupation_cd2: Option<u32>,
    pub occupation_cd3: Option<u32>,
    pub occupation_cd_name: String,
    pub jobtype_detail: Option<u32>,
    pub jobtype_detail_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmploymentType {
    pub employment_type_cd: u16,
    pub group_cd: String,
    pub json_ld_type: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalaryType {
    pub salary_type_cd: u16,
    pub json_ld_type: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub feature_cd: u32,
    pub name: String,
    pub group_name: String,
    pub is_enabled: bool,
    pub match_keywords: Vec<String>,
    pub ng_keywords: Vec<String>,
}

/// One SEO keyword (a row of a Semrush export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    pub keyword: String,
    /// The intents as written, e.g. `["Informational", "Commercial"]`.
    pub intents: Vec<String>,
    pub volume: u64,
    pub keyword_difficulty: Option<f64>,
    pub cpc_usd: Option<f64>,
}

/// The kinds of reference data an operator can import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MasterKind {
    Prefectures,
    Cities,
    Adjacency,
    Occupations,
    EmploymentTypes,
    SalaryTypes,
    Features,
    Keywords,
}

impl MasterKind {
    pub const ALL: [MasterKind; 8] = [
        Self::Prefectures,
        Self::Cities,
        Self::Adjacency,
        Self::Occupations,
        Self::EmploymentTypes,
        Self::SalaryTypes,
        Self::Features,
        Self::Keywords,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefectures => "prefectures",
            Self::Cities => "cities",
            Self::Adjacency => "adjacency",
            Self::Occupations => "occupations",
            Self::EmploymentTypes => "employment-types",
            Self::SalaryTypes => "salary-types",
            Self::Features => "features",
            Self::Keywords => "keywords",
        }
    }
}

/// All reference data in force: the imported sets, or the built-in defaults where a kind
/// was never imported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Masters {
    pub prefectures: Vec<Prefecture>,
    pub cities: Vec<City>,
    pub adjacency: Vec<Adjacency>,
    pub occupations: Vec<Occupation>,
    pub employment_types: Vec<EmploymentType>,
    pub salary_types: Vec<SalaryType>,
    pub features: Vec<Feature>,
    pub keywords: Vec<Keyword>,
    /// The kinds that were imported by the operator (the others are built-in defaults).
    pub imported: Vec<MasterKind>,
}

/// One kind's complete set, as an import replaces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MasterSet {
    Prefectures(Vec<Prefecture>),
    Cities(Vec<City>),
    Adjacency(Vec<Adjacency>),
    Occupations(Vec<Occupation>),
    EmploymentTypes(Vec<EmploymentType>),
    SalaryTypes(Vec<SalaryType>),
    Features(Vec<Feature>),
    Keywords(Vec<Keyword>),
}

impl MasterSet {
    pub fn kind(&self) -> MasterKind {
        match self {
            Self::Prefectures(_) => MasterKind::Prefectures,
            Self::Cities(_) => MasterKind::Cities,
            Self::Adjacency(_) => MasterKind::Adjacency,
            Self::Occupations(_) => MasterKind::Occupations,
            Self::EmploymentTypes(_) => MasterKind::EmploymentTypes,
            Self::SalaryTypes(_) => MasterKind::SalaryTypes,
            Self::Features(_) => MasterKind::Features,
            Self::Keywords(_) => MasterKind::Keywords,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Prefectures(rows) => rows.len(),
            Self::Cities(rows) => rows.len(),
            Self::Adjacency(rows) => rows.len(),
            Self::Occupations(rows) => rows.len(),
            Self::EmploymentTypes(rows) => rows.len(),
            Self::SalaryTypes(rows) => rows.len(),
            Self::Features(rows) => rows.len(),
            Self::Keywords(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Masters {
    /// Puts one kind's set in place of the current one.
    pub fn replace(&mut self, set: MasterSet) {
        match set {
            MasterSet::Prefectures(rows) => self.prefectures = rows,
            MasterSet::Cities(rows) => self.cities = rows,
            MasterSet::Adjacency(rows) => self.adjacency = rows,
            MasterSet::Occupations(rows) => self.occupations = rows,
            MasterSet::EmploymentTypes(rows) => self.employment_types = rows,
            MasterSet::SalaryTypes(rows) => self.salary_types = rows,
            MasterSet::Features(rows) => self.features = rows,
            MasterSet::Keywords(rows) => self.keywords = rows,
        }
    }

    pub fn prefecture(&self, pref_cd: PrefCode) -> Option<&Prefecture> {
        self.prefectures.iter().find(|p| p.pref_cd == pref_cd)
    }

    pub fn city(&self, city_cd: CityCode) -> Option<&City> {
        self.cities.iter().find(|c| c.city_cd == city_cd)
    }
}

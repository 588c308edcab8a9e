//! Codes the masters do not know (SPEC §2.1): kept, compared by equality, reported once.
//!
//! A well-formed code that no master names (a city created after the master was exported,
//! such as the wards Hamamatsu got in 2024) is kept on the job, user or action: dropping it
//! would silently stop matching everyone who lives there. Each column and distinct value
//! is reported once per import, with the number of rows that carry it, not once per row.

use std::collections::{BTreeMap, HashSet};

use crate::domain::job::none;
use crate::domain::master::MasterKind;
use crate::domain::{ImportReport, JobColumns, JobFields, Masters};

/// A code column that the masters name values of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeColumn {
    PrefCd,
    CityCd,
    OccupationCd1,
    EmploymentTypeCd,
    SalaryTypeCd,
    FeatureCodes,
}

impl CodeColumn {
    pub const ALL: [Self; 6] = [
        Self::PrefCd,
        Self::CityCd,
        Self::OccupationCd1,
        Self::EmploymentTypeCd,
        Self::SalaryTypeCd,
        Self::FeatureCodes,
    ];

    /// The column's name in the input files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrefCd => "pref_cd",
            Self::CityCd => "city_cd",
            Self::OccupationCd1 => "occupation_cd1",
            Self::EmploymentTypeCd => "employment_type_cd",
            Self::SalaryTypeCd => "salary_type_cd",
            Self::FeatureCodes => "feature_codes",
        }
    }

    /// The column named `name` in the input files.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|column| column.as_str() == name)
    }

    /// What one of its codes is, in a message.
    fn noun(self) -> &'static str {
        match self {
            Self::PrefCd => "prefecture",
            Self::CityCd => "city",
            Self::OccupationCd1 => "occupation",
            Self::EmploymentTypeCd => "employment type",
            Self::SalaryTypeCd => "salary type",
            Self::FeatureCodes => "feature",
        }
    }

    /// The master that names this column's codes.
    fn master(self) -> MasterKind {
        match self {
            Self::PrefCd => MasterKind::Prefectures,
            Self::CityCd => MasterKind::Cities,
            Self::OccupationCd1 => MasterKind::Occupations,
            Self::EmploymentTypeCd => MasterKind::EmploymentTypes,
            Self::SalaryTypeCd => MasterKind::SalaryTypes,
            Self::FeatureCodes => MasterKind::Features,
        }
    }
}

/// The coded values of one job or action, in the stored form: `none::SMALL_CODE` /
/// `none::CODE` where a value is missing.
pub struct CodedValues<'a> {
    pub pref_cd: u16,
    pub city_cd: u32,
    pub occupation_cd1: u32,
    pub employment_type_cd: u16,
    pub salary_type_cd: u16,
    pub feature_codes: &'a [u32],
}

impl<'a> CodedValues<'a> {
    pub fn of_fields(fields: &'a JobFields) -> Self {
        Self {
            pref_cd: fields.pref_cd.map_or(none::SMALL_CODE, |c| c.get()),
            city_cd: fields.city_cd.map_or(none::CODE, |c| c.get()),
            occupation_cd1: fields.occupation_cd1.unwrap_or(none::CODE),
            employment_type_cd: fields.employment_type_cd.unwrap_or(none::SMALL_CODE),
            salary_type_cd: fields.salary_type_cd.unwrap_or(none::SMALL_CODE),
            feature_codes: &fields.feature_codes,
        }
    }

    pub fn of_row(jobs: &'a JobColumns, row: usize) -> Self {
        Self {
            pref_cd: jobs.pref_cd[row],
            city_cd: jobs.city_cd[row],
            occupation_cd1: jobs.occupation_cd1[row],
            employment_type_cd: jobs.employment_type_cd[row],
            salary_type_cd: jobs.salary_type_cd[row],
            feature_codes: jobs.feature_codes.get(row),
        }
    }

    /// Calls `each` with every value present, by column (feature codes as given, repeats
    /// included).
    pub fn for_each(&self, mut each: impl FnMut(CodeColumn, u32)) {
        let small = |code: u16| (code != none::SMALL_CODE).then_some(u32::from(code));
        let large = |code: u32| (code != none::CODE).then_some(code);
        for (column, code) in [
            (CodeColumn::PrefCd, small(self.pref_cd)),
            (CodeColumn::CityCd, large(self.city_cd)),
            (CodeColumn::OccupationCd1, large(self.occupation_cd1)),
            (CodeColumn::EmploymentTypeCd, small(self.employment_type_cd)),
            (CodeColumn::SalaryTypeCd, small(self.salary_type_cd)),
        ] {
            if let Some(code) = code {
                each(column, code);
            }
        }
        for &code in self.feature_codes {
            each(CodeColumn::FeatureCodes, code);
        }
    }
}

/// The codes the masters know, to check input values against.
pub struct CodeCheck {
    /// `None` for a column that is not checked: the built-in city, occupation and feature
    /// lists are starter sets in our own numbering, so a real feed names many codes they do
    /// not hold; those columns are checked only once the operator imported that master.
    known: [Option<HashSet<u32>>; 6],
}

impl CodeCheck {
    pub fn new(masters: &Masters) -> Self {
        let known = CodeColumn::ALL.map(|column| {
            let codes: HashSet<u32> = match column {
                CodeColumn::PrefCd => masters
                    .prefectures
                    .iter()
                    .map(|p| u32::from(p.pref_cd.get()))
                    .collect(),
                CodeColumn::CityCd => masters.cities.iter().map(|c| c.city_cd.get()).collect(),
                CodeColumn::OccupationCd1 => masters
                    .occupations
                    .iter()
                    .map(|o| o.occupation_cd1)
                    .collect(),
                CodeColumn::EmploymentTypeCd => masters
                    .employment_types
                    .iter()
                    .map(|e| u32::from(e.employment_type_cd))
                    .collect(),
                CodeColumn::SalaryTypeCd => masters
                    .salary_types
                    .iter()
                    .map(|s| u32::from(s.salary_type_cd))
                    .collect(),
                CodeColumn::FeatureCodes => masters.features.iter().map(|f| f.feature_cd).collect(),
            };
            let builtin_is_authoritative = matches!(
                column,
                CodeColumn::PrefCd | CodeColumn::EmploymentTypeCd | CodeColumn::SalaryTypeCd
            );
            let checked = builtin_is_authoritative || masters.imported.contains(&column.master());
            (checked && !codes.is_empty()).then_some(codes)
        });
        Self { known }
    }

    /// Whether the masters name `code` (an unchecked column knows every code).
    pub fn knows(&self, column: CodeColumn, code: u32) -> bool {
        self.known[column as usize]
            .as_ref()
            .is_none_or(|codes| codes.contains(&code))
    }

    /// Notes every code of `values` (of the row at `line`) that the masters do not know.
    pub fn note_unknown(&self, values: &CodedValues<'_>, line: u64, unknown: &mut UnknownCodes) {
        values.for_each(|column, code| {
            if !self.knows(column, code) {
                unknown.note(column, code, line);
            }
        });
    }
}

/// Where a code was first seen.
#[derive(Debug)]
struct FirstSeen {
    file: Option<String>,
    line: u64,
    rows: u64,
}

/// Unknown codes seen in an import: per column and value, where it was first seen and the
/// row count.
#[derive(Debug, Default)]
pub struct UnknownCodes {
    seen: BTreeMap<(CodeColumn, u32), FirstSeen>,
    current_file: Option<String>,
}

impl UnknownCodes {
    pub fn note(&mut self, column: CodeColumn, code: u32, line: u64) {
        let entry = self
            .seen
            .entry((column, code))
            .or_insert_with(|| FirstSeen {
                file: self.current_file.clone(),
                line,
                rows: 0,
            });
        entry.rows += 1;
    }

    /// Names the file the lines noted from now on are in (an import of several files).
    pub fn set_current_file(&mut self, file: Option<&str>) {
        self.current_file = file.map(str::to_owned);
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// One warning per column and value, at the first line that has it; counts the distinct
    /// values as `unknown_codes`.
    pub fn report_into(self, report: &mut ImportReport) {
        if self.seen.is_empty() {
            return;
        }
        report.add_count("unknown_codes", self.seen.len() as u64);
        for ((column, code), first) in self.seen {
            let rows = first.rows;
            report.set_current_file(first.file.as_deref());
            let rows_text = if rows == 1 {
                "1 row".to_owned()
            } else {
                format!("{rows} rows (this is the first)")
            };
            let effect = match column {
                CodeColumn::FeatureCodes => {
                    "it has no name, so it adds no tag and no SEO or needs match"
                }
                _ => "it matches by equality and has no name",
            };
            report.warn(
                first.line,
                column.as_str(),
                &code.to_string(),
                format!(
                    "unknown {} code in {rows_text}; kept: {effect} until the {} master names it",
                    column.noun(),
                    column.master().as_str()
                ),
            );
        }
        report.set_current_file(None);
    }
}

/// One code of the current jobs that the masters do not know, and how many jobs carry it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnknownCodeUse {
    pub column: CodeColumn,
    pub code: u32,
    pub jobs: u64,
}

/// The codes of the current snapshot's jobs that the masters do not know, by column and
/// then by code.
pub fn unknown_codes_in_use(masters: &Masters, jobs: &JobColumns) -> Vec<UnknownCodeUse> {
    let check = CodeCheck::new(masters);
    let mut counts: BTreeMap<(CodeColumn, u32), u64> = BTreeMap::new();
    let mut count = |column: CodeColumn, code: u32| {
        if !check.knows(column, code) {
            *counts.entry((column, code)).or_default() += 1;
        }
    };
    let mut seen: Vec<(CodeColumn, u32)> = Vec::new();
    for row in 0..jobs.len() {
        // A job counts once per code, though its feature list may repeat one.
        seen.clear();
        CodedValues::of_row(jobs, row).for_each(|column, code| seen.push((column, code)));
        seen.sort_unstable();
        seen.dedup();
        for &(column, code) in &seen {
            count(column, code);
        }
    }
    counts
        .into_iter()
        .map(|((column, code), jobs)| UnknownCodeUse { column, code, jobs })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master::City;
    use crate::domain::{CityCode, JobId, PrefCode};

    fn masters_with_cities(codes: &[u32]) -> Masters {
        let mut masters = crate::masters::builtin_masters();
        masters.cities = codes
            .iter()
            .map(|&code| City {
                city_cd: CityCode::new(code),
                pref_cd: PrefCode::new(22),
                pref_name: "静岡県".into(),
                name: format!("市{code}"),
                name_with_gun: String::new(),
                kana: String::new(),
                latitude: None,
                longitude: None,
                is_conflicted_name: false,
                is_special_city: false,
                is_special_city_top: false,
                special_city_top_city_cd: None,
            })
            .collect();
        masters.imported.push(MasterKind::Cities);
        masters
    }

    #[test]
    fn cities_are_checked_only_once_a_city_master_was_imported() {
        let builtin = crate::masters::builtin_masters();
        assert!(CodeCheck::new(&builtin).knows(CodeColumn::CityCd, 22138));
        let imported = masters_with_cities(&[22131]);
        let check = CodeCheck::new(&imported);
        assert!(check.knows(CodeColumn::CityCd, 22131));
        assert!(!check.knows(CodeColumn::CityCd, 22138));
        assert!(!check.knows(CodeColumn::PrefCd, 99));
        assert!(check.knows(CodeColumn::PrefCd, 22));
    }

    #[test]
    fn an_unknown_code_is_one_warning_with_its_row_count() {
        let check = CodeCheck::new(&masters_with_cities(&[22131]));
        let mut unknown = UnknownCodes::default();
        for line in 2..=5 {
            let fields = JobFields {
                pref_cd: Some(PrefCode::new(22)),
                city_cd: Some(CityCode::new(22138)),
                ..JobFields::default()
            };
            check.note_unknown(&CodedValues::of_fields(&fields), line, &mut unknown);
        }
        let mut report = ImportReport::new("jobs", "jobs.csv", 0);
        unknown.report_into(&mut report);
        assert_eq!(report.warnings, 1);
        assert_eq!(report.count("unknown_codes"), 1);
        let issue = &report.issues[0];
        assert_eq!(
            (issue.line, issue.column.as_deref(), issue.value.as_deref()),
            (2, Some("city_cd"), Some("22138"))
        );
        assert!(issue.message.contains("4 rows"), "{}", issue.message);
    }

    #[test]
    fn codes_in_use_are_counted_per_job() {
        let masters = masters_with_cities(&[22131]);
        let mut jobs = JobColumns::new();
        for (id, city) in [(1, 22138), (2, 22138), (3, 22131)] {
            let fields = JobFields {
                pref_cd: Some(PrefCode::new(22)),
                city_cd: Some(CityCode::new(city)),
                ..JobFields::default()
            };
            jobs.push(JobId::new(id), &fields);
        }
        assert_eq!(
            unknown_codes_in_use(&masters, &jobs),
            vec![UnknownCodeUse {
                column: CodeColumn::CityCd,
                code: 22138,
                jobs: 2
            }]
        );
    }
}

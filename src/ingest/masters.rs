//! Importers of the reference data (SPEC §2.4) and the Semrush keyword export.
//!
//! Real exports carry junk: blank rows, a trailing row of notes in place of codes, an empty
//! first column and a blank first line. Blank rows are counted; a row whose key code is not
//! a number is skipped and reported; exact repeats of a row are counted, not reported. Any
//! other cell that does not parse is a warning with its line, column and value, and is
//! treated as no value, as in the job feed (SPEC §2.1): the row is still imported.

use std::cell::RefCell;
use std::collections::HashSet;

use super::source::{CsvSource, Row};
use super::{ImportKind, IngestError, report_row_warnings, row_is_usable, unknown_columns};
use crate::domain::master::MasterSet;
use crate::domain::value::{ValueError, is_null, parse_bool, parse_f64, parse_int_in};
use crate::domain::{
    Adjacency, City, CityCode, EmploymentType, Feature, ImportReport, Keyword, Occupation,
    PrefCode, Prefecture, SalaryType,
};

/// The columns each kind needs, and the ones it reads when present.
pub fn columns_of(kind: ImportKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        ImportKind::Prefectures => (
            &["pref_cd", "name", "region"],
            &["url_segment", "category_id", "latitude", "longitude"],
        ),
        ImportKind::Cities => (
            &["city_cd", "pref_cd", "name"],
            &[
                "pref_name",
                "name_with_gun",
                "kana",
                "latitude",
                "longitude",
                "is_conflicted_name",
                "is_special_city",
                "is_special_city_top",
                "special_city_top_city_cd",
            ],
        ),
        ImportKind::Adjacency => (&["city_cd", "adjacent_city_cd"], &["distance_km"]),
        ImportKind::Occupations => (
            &["occupation_cd1_v2", "occupation_cd_name"],
            &[
                "occupation_cd2_v2",
                "occupation_cd3_v2",
                "jobtype_detail_v2",
                "jobtype_detail_name",
            ],
        ),
        ImportKind::EmploymentTypes => (
            &["employment_type_cd", "name"],
            &["group_cd", "json_ld_type"],
        ),
        ImportKind::SalaryTypes => (&["salary_type_cd", "name"], &["json_ld_type"]),
        ImportKind::Features => (
            &["feature_cd", "name"],
            &["group_name", "is_enabled", "match_keywords", "ng_keywords"],
        ),
        ImportKind::Keywords => (
            &["Keyword", "Volume"],
            &[
                "Intent",
                "Potential Traffic",
                "Personal Keyword Difficulty",
                "Keyword Difficulty",
                "CPC (USD)",
                "SERP Features",
                "Positions",
            ],
        ),
        _ => (&[], &[]),
    }
}

/// Reads cells of one row by column name and reports unusable values.
struct Cells<'a> {
    source_header: &'a super::source::Header,
    row: &'a Row,
    /// Cells that did not parse and were taken as no value, as (column, value, reason); they
    /// are reported only when the row is imported, since a skipped row is reported once.
    warnings: RefCell<Vec<(String, String, String)>>,
}

impl Cells<'_> {
    fn raw(&self, name: &str) -> String {
        String::from_utf8_lossy(self.row.bytes(self.source_header.position(name)))
            .trim()
            .to_owned()
    }

    fn text(&self, name: &str) -> String {
        let raw = self.raw(name);
        if is_null(&raw) { String::new() } else { raw }
    }

    /// The cell parsed with `parse`; `Ok(None)` when empty; `Err` names the column and value.
    fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, ValueError>,
    ) -> Result<Option<T>, (String, String, String)> {
        let raw = self.raw(name);
        if is_null(&raw) {
            return Ok(None);
        }
        parse(&raw)
            .map(Some)
            .map_err(|error| (name.to_owned(), raw, error.to_string()))
    }

    /// The cell parsed with `parse`, or `None` when it is empty or does not parse; a cell that
    /// does not parse is noted as a warning, so a bad optional value never drops the row.
    fn optional<T>(&self, name: &str, parse: impl Fn(&str) -> Result<T, ValueError>) -> Option<T> {
        self.parsed(name, parse).unwrap_or_else(|warning| {
            self.warnings.borrow_mut().push(warning);
            None
        })
    }
}

/// Splits a multi-keyword cell (one keyword per line).
fn keyword_lines(cell: &str) -> Vec<String> {
    cell.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && *line != "NULL")
        .map(str::to_owned)
        .collect()
}

type RowResult<T> = Result<T, (String, String, String)>;

/// A row's record and its key, or `None` when the row has no key code (a notes row).
type KeyedRecord<T> = RowResult<Option<(T, String)>>;

fn read_prefecture(cells: &Cells<'_>) -> KeyedRecord<Prefecture> {
    let Some(pref_cd) = cells.parsed("pref_cd", PrefCode::parse)? else {
        return Ok(None);
    };
    let prefecture = Prefecture {
        pref_cd,
        url_segment: cells.text("url_segment"),
        name: cells.text("name"),
        region: cells.text("region"),
        category_id: cells.optional("category_id", |s| parse_int_in::<u32>(s, "category_id")),
        latitude: cells.optional("latitude", parse_f64),
        longitude: cells.optional("longitude", parse_f64),
    };
    Ok(Some((prefecture, pref_cd.to_string())))
}

/// A city needs its prefecture: a row without one is unusable.
fn read_city(cells: &Cells<'_>) -> KeyedRecord<City> {
    let Some(city_cd) = cells.parsed("city_cd", CityCode::parse)? else {
        return Ok(None);
    };
    let Some(pref_cd) = cells.parsed("pref_cd", PrefCode::parse)? else {
        return Err(("pref_cd".into(), String::new(), "pref_cd is missing".into()));
    };
    let flag = |name: &str| cells.optional(name, parse_bool).unwrap_or(false);
    let city = City {
        city_cd,
        pref_cd,
        pref_name: cells.text("pref_name"),
        name: cells.text("name"),
        name_with_gun: cells.text("name_with_gun"),
        kana: cells.text("kana"),
        latitude: cells.optional("latitude", parse_f64),
        longitude: cells.optional("longitude", parse_f64),
        is_conflicted_name: flag("is_conflicted_name"),
        is_special_city: flag("is_special_city"),
        is_special_city_top: flag("is_special_city_top"),
        special_city_top_city_cd: cells.optional("special_city_top_city_cd", CityCode::parse),
    };
    Ok(Some((city, city_cd.to_string())))
}

/// Keyed by both cities: a pair needs its second city.
fn read_adjacency(cells: &Cells<'_>) -> KeyedRecord<Adjacency> {
    let Some(city_cd) = cells.parsed("city_cd", CityCode::parse)? else {
        return Ok(None);
    };
    let Some(adjacent_city_cd) = cells.parsed("adjacent_city_cd", CityCode::parse)? else {
        return Err((
            "adjacent_city_cd".into(),
            String::new(),
            "adjacent_city_cd is missing".into(),
        ));
    };
    let adjacency = Adjacency {
        city_cd,
        adjacent_city_cd,
        distance_km: cells.optional("distance_km", parse_f64),
    };
    Ok(Some((adjacency, format!("{city_cd}-{adjacent_city_cd}"))))
}

/// Keyed by the first-level code and the job type detail, which several rows share.
fn read_occupation(cells: &Cells<'_>) -> KeyedRecord<Occupation> {
    let code = |s: &str| parse_int_in::<u32>(s, "occupation code");
    let Some(occupation_cd1) = cells.parsed("occupation_cd1_v2", code)? else {
        return Ok(None);
    };
    let jobtype_detail = cells.optional("jobtype_detail_v2", code);
    let occupation = Occupation {
        occupation_cd1,
        occupation_cd2: cells.optional("occupation_cd2_v2", code),
        occupation_cd3: cells.optional("occupation_cd3_v2", code),
        occupation_cd_name: cells.text("occupation_cd_name"),
        jobtype_detail,
        jobtype_detail_name: cells.text("jobtype_detail_name"),
    };
    let key = format!(
        "{occupation_cd1}-{}",
        jobtype_detail.map_or(String::new(), |d| d.to_string())
    );
    Ok(Some((occupation, key)))
}

fn read_employment_type(cells: &Cells<'_>) -> KeyedRecord<EmploymentType> {
    let Some(code) = cells.parsed("employment_type_cd", |s| {
        parse_int_in::<u16>(s, "employment_type_cd")
    })?
    else {
        return Ok(None);
    };
    let employment_type = EmploymentType {
        employment_type_cd: code,
        group_cd: cells.text("group_cd"),
        json_ld_type: cells.text("json_ld_type"),
        name: cells.text("name"),
    };
    Ok(Some((employment_type, code.to_string())))
}

fn read_salary_type(cells: &Cells<'_>) -> KeyedRecord<SalaryType> {
    let Some(code) = cells.parsed("salary_type_cd", |s| {
        parse_int_in::<u16>(s, "salary_type_cd")
    })?
    else {
        return Ok(None);
    };
    let salary_type = SalaryType {
        salary_type_cd: code,
        json_ld_type: cells.text("json_ld_type"),
        name: cells.text("name"),
    };
    Ok(Some((salary_type, code.to_string())))
}

/// A feature is enabled unless its row says otherwise.
fn read_feature(cells: &Cells<'_>) -> KeyedRecord<Feature> {
    let Some(code) = cells.parsed("feature_cd", |s| parse_int_in::<u32>(s, "feature_cd"))? else {
        return Ok(None);
    };
    let feature = Feature {
        feature_cd: code,
        name: cells.text("name"),
        group_name: cells.text("group_name"),
        is_enabled: cells.optional("is_enabled", parse_bool).unwrap_or(true),
        match_keywords: keyword_lines(&cells.raw("match_keywords")),
        ng_keywords: keyword_lines(&cells.raw("ng_keywords")),
    };
    Ok(Some((feature, code.to_string())))
}

/// Keyed by the keyword itself; its intents are a comma-separated list.
fn read_keyword(cells: &Cells<'_>) -> KeyedRecord<Keyword> {
    let keyword = cells.text("Keyword");
    if keyword.is_empty() {
        return Ok(None);
    }
    // A volume that is not a count is no volume, which weighs as 0.
    let volume = cells
        .optional("Volume", |s| parse_int_in::<u64>(s, "Volume"))
        .unwrap_or(0);
    let intents = cells
        .text("Intent")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let record = Keyword {
        keyword: keyword.clone(),
        intents,
        volume,
        keyword_difficulty: cells.optional("Keyword Difficulty", parse_f64),
        cpc_usd: cells.optional("CPC (USD)", parse_f64),
    };
    Ok(Some((record, keyword)))
}

/// The empty set of master `kind` that its file's rows are appended to.
fn empty_set_of(kind: ImportKind) -> MasterSet {
    match kind {
        ImportKind::Prefectures => MasterSet::Prefectures(Vec::new()),
        ImportKind::Cities => MasterSet::Cities(Vec::new()),
        ImportKind::Adjacency => MasterSet::Adjacency(Vec::new()),
        ImportKind::Occupations => MasterSet::Occupations(Vec::new()),
        ImportKind::EmploymentTypes => MasterSet::EmploymentTypes(Vec::new()),
        ImportKind::SalaryTypes => MasterSet::SalaryTypes(Vec::new()),
        ImportKind::Features => MasterSet::Features(Vec::new()),
        ImportKind::Keywords => MasterSet::Keywords(Vec::new()),
        other => unreachable!("{other:?} is not a master kind"),
    }
}

/// Reads one row's cells as a record of `set`'s kind and appends it, returning its key;
/// `Ok(None)` when its key code is empty and `Err` when a cell it cannot do without does not
/// parse, both with nothing appended. The key code decides whether a row is data at all (a
/// notes row is not).
fn append_master_row(set: &mut MasterSet, cells: &Cells<'_>) -> RowResult<Option<String>> {
    fn append<T>(rows: &mut Vec<T>, read: KeyedRecord<T>) -> RowResult<Option<String>> {
        Ok(read?.map(|(record, key)| {
            rows.push(record);
            key
        }))
    }
    match set {
        MasterSet::Prefectures(rows) => append(rows, read_prefecture(cells)),
        MasterSet::Cities(rows) => append(rows, read_city(cells)),
        MasterSet::Adjacency(rows) => append(rows, read_adjacency(cells)),
        MasterSet::Occupations(rows) => append(rows, read_occupation(cells)),
        MasterSet::EmploymentTypes(rows) => append(rows, read_employment_type(cells)),
        MasterSet::SalaryTypes(rows) => append(rows, read_salary_type(cells)),
        MasterSet::Features(rows) => append(rows, read_feature(cells)),
        MasterSet::Keywords(rows) => append(rows, read_keyword(cells)),
    }
}

/// Parses a master file of `kind` into the set that replaces the current one.
pub fn parse_master(
    kind: ImportKind,
    mut source: CsvSource,
    mut report: ImportReport,
) -> Result<(MasterSet, ImportReport), IngestError> {
    let (required, optional) = columns_of(kind);
    source.require(kind.as_str(), required)?;
    let mut known: Vec<&str> = required.to_vec();
    known.extend_from_slice(optional);
    report.unknown_columns = unknown_columns(&source.header, &known);
    report.blank_rows += source.leading_blank_rows;

    let header = source.header.clone();
    let mut row = Row::default();
    let mut seen_rows: HashSet<Vec<u8>> = HashSet::new();
    let mut set = empty_set_of(kind);
    let mut seen_keys: HashSet<String> = HashSet::new();
    while source.next_row(&mut row)? {
        if row.is_blank() {
            report.blank_rows += 1;
            continue;
        }
        report.rows_read += 1;
        if !row_is_usable(&row, &mut report) {
            continue;
        }
        let line = row.line;
        let identical: Vec<u8> = row
            .record
            .iter()
            .flat_map(|cell| cell.iter().copied().chain([0u8]))
            .collect();
        if !seen_rows.insert(identical) {
            report.add_count("duplicates_in_file", 1);
            continue;
        }
        let cells = Cells {
            source_header: &header,
            row: &row,
            warnings: RefCell::new(Vec::new()),
        };
        let key_column = required[0];
        match append_master_row(&mut set, &cells) {
            Ok(Some(key)) => {
                report_row_warnings(&row, header.names(), &mut report);
                for (column, value, reason) in cells.warnings.take() {
                    report.warn(line, &column, &value, reason);
                }
                if !seen_keys.insert(key.clone()) {
                    report.add_count("duplicates_in_file", 1);
                    report.warn(
                        line,
                        key_column,
                        &key,
                        "the key repeats an earlier row; both rows are kept",
                    );
                }
            }
            Ok(None) => report.skip_row(
                line,
                Some(key_column),
                Some(""),
                format!("unusable row: {key_column} is missing"),
            ),
            Err((column, value, reason)) => report.skip_row(
                line,
                Some(&column),
                Some(&value),
                format!("unusable row (not a {} row?): {reason}", kind.as_str()),
            ),
        }
    }
    report.rows_imported = set.len() as u64;
    Ok((set, report))
}

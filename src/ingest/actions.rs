//! The actions importer (SPEC §2.3): append, idempotent on re-ingest. A CSV file and a JSON
//! batch of the API are checked by the same [`ActionChecker`], cell by cell, so both take
//! and refuse exactly the same rows.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::jobs::parse_job_fields;
use super::source::{CsvSource, Row};
use super::{
    CodeCheck, CodedValues, IngestError, UnknownCodes, report_row_warnings, row_is_usable,
    unknown_columns,
};
use crate::domain::action::{ActionColumns, ActionColumnsBuilder, ActionRow, NO_REF, flags};
use crate::domain::job::none;
use crate::domain::value::{is_null, parse_code_list, parse_int_in};
use crate::domain::{
    ActionSource, ActionType, Fee, ImportReport, JobColumns, JobFields, JobId, Masters,
    TimeZoneSetting,
};
use crate::store::{Store, StoreError};

pub const REQUIRED_COLUMNS: [&str; 4] = ["user_id", "job_id", "action_type", "action_at"];
pub const OPTIONAL_COLUMNS: [&str; 12] = [
    "source",
    "section",
    "endcl_cd",
    "pref_cd",
    "city_cd",
    "occupation_cd1",
    "employment_type_cd",
    "salary_type_cd",
    "min_salary",
    "max_salary",
    "fee",
    "feature_codes",
];

/// The columns of an action (SPEC §2.3), in the order of [`REQUIRED_COLUMNS`] then
/// [`OPTIONAL_COLUMNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionField {
    UserId,
    JobId,
    ActionType,
    ActionAt,
    Source,
    Section,
    EndclCd,
    PrefCd,
    CityCd,
    OccupationCd1,
    EmploymentTypeCd,
    SalaryTypeCd,
    MinSalary,
    MaxSalary,
    Fee,
    FeatureCodes,
}

impl ActionField {
    pub const ALL: [ActionField; 16] = [
        Self::UserId,
        Self::JobId,
        Self::ActionType,
        Self::ActionAt,
        Self::Source,
        Self::Section,
        Self::EndclCd,
        Self::PrefCd,
        Self::CityCd,
        Self::OccupationCd1,
        Self::EmploymentTypeCd,
        Self::SalaryTypeCd,
        Self::MinSalary,
        Self::MaxSalary,
        Self::Fee,
        Self::FeatureCodes,
    ];

    /// The column's name in `actions.csv` (and the field's in the API's JSON).
    pub fn name(self) -> &'static str {
        let index = self as usize;
        if index < REQUIRED_COLUMNS.len() {
            REQUIRED_COLUMNS[index]
        } else {
            OPTIONAL_COLUMNS[index - REQUIRED_COLUMNS.len()]
        }
    }
}

/// Checks actions one row at a time, whatever they come from (a CSV file, a JSON batch),
/// and collects the usable ones: a row is unusable when its user, job, type or time is
/// missing or invalid (skipped and reported with its column and value); any other bad
/// cell is reported as a warning and read as no value; codes no master names are kept and
/// reported once per column and value.
pub struct ActionChecker<'a> {
    zone: &'a TimeZoneSetting,
    codes: CodeCheck,
    unknown_codes: UnknownCodes,
    builder: ActionColumnsBuilder,
}

impl<'a> ActionChecker<'a> {
    pub fn new(masters: &Masters, zone: &'a TimeZoneSetting) -> Self {
        Self {
            zone,
            codes: CodeCheck::new(masters),
            unknown_codes: UnknownCodes::default(),
            builder: ActionColumnsBuilder::new(),
        }
    }

    /// Checks the row at `line` (a file's line, a batch's position) whose cells `cell`
    /// gives as written (empty where the row has none), and keeps it when it is usable;
    /// returns whether it was. `extra` is the row's other columns as a JSON object, kept
    /// with the action. `usable` is called once the required cells are found good, before
    /// the optional cells are checked, so that the report lists a row's problems in the
    /// order a reader meets them.
    pub fn check_row<'c>(
        &mut self,
        line: u64,
        cell: impl Fn(ActionField) -> Cow<'c, str>,
        extra: Option<&str>,
        report: &mut ImportReport,
        usable: impl FnOnce(&mut ImportReport),
    ) -> bool {
        let user_id = cell(ActionField::UserId);
        if is_null(&user_id) {
            report.skip_row(
                line,
                Some("user_id"),
                Some(&user_id),
                "unusable row: user_id is missing",
            );
            return false;
        }
        let raw_job = cell(ActionField::JobId);
        let job_id = match JobId::parse(&raw_job) {
            Ok(id) => id,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("job_id"),
                    Some(&raw_job),
                    format!("unusable row: {error}"),
                );
                return false;
            }
        };
        let raw_type = cell(ActionField::ActionType);
        let action_type = match ActionType::parse(&raw_type) {
            Ok(kind) => kind,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("action_type"),
                    Some(&raw_type),
                    format!("unusable row: {error}"),
                );
                return false;
            }
        };
        let raw_at = cell(ActionField::ActionAt);
        let action_at = match self.zone.parse_timestamp(&raw_at) {
            Ok(at) => at,
            Err(error) => {
                let message = if is_null(&raw_at) {
                    "action_at is missing".to_owned()
                } else {
                    error.to_string()
                };
                report.skip_row(
                    line,
                    Some("action_at"),
                    Some(&raw_at),
                    format!("unusable row: {message}"),
                );
                return false;
            }
        };
        usable(report);
        let mut warnings: Vec<(&'static str, String, String)> = Vec::new();
        macro_rules! optional {
            ($field:expr, $parse:expr) => {{
                let raw = cell($field);
                if is_null(&raw) {
                    None
                } else {
                    match $parse(raw.trim()) {
                        Ok(value) => Some(value),
                        Err(error) => {
                            warnings.push(($field.name(), raw.into_owned(), error.to_string()));
                            None
                        }
                    }
                }
            }};
        }
        use ActionField as F;
        let source_value = optional!(F::Source, ActionSource::parse);
        let section = cell(F::Section);
        let endcl = cell(F::EndclCd);
        let features = optional!(F::FeatureCodes, parse_code_list);
        let action = ActionRow {
            user_id: user_id.trim(),
            job_id: job_id.get(),
            action_type: Some(action_type),
            action_at,
            source: source_value,
            section: (!is_null(&section)).then(|| section.trim()),
            endcl_cd: (!is_null(&endcl)).then(|| endcl.trim()),
            pref_cd: optional!(F::PrefCd, |s| parse_int_in::<u16>(s, "pref_cd"))
                .unwrap_or(none::SMALL_CODE),
            city_cd: optional!(F::CityCd, |s| parse_int_in::<u32>(s, "city_cd"))
                .unwrap_or(none::CODE),
            occupation_cd1: optional!(F::OccupationCd1, |s| parse_int_in::<u32>(
                s,
                "occupation_cd1"
            ))
            .unwrap_or(none::CODE),
            employment_type_cd: optional!(F::EmploymentTypeCd, |s| parse_int_in::<u16>(
                s,
                "employment_type_cd"
            ))
            .unwrap_or(none::SMALL_CODE),
            salary_type_cd: optional!(F::SalaryTypeCd, |s| parse_int_in::<u16>(
                s,
                "salary_type_cd"
            ))
            .unwrap_or(none::SMALL_CODE),
            min_salary: optional!(F::MinSalary, |s| parse_int_in::<u32>(s, "salary"))
                .unwrap_or(none::SALARY),
            max_salary: optional!(F::MaxSalary, |s| parse_int_in::<u32>(s, "salary"))
                .unwrap_or(none::SALARY),
            fee: optional!(F::Fee, Fee::parse).map_or(none::FEE, |fee| i32::from(fee.get())),
            feature_codes: features.as_deref(),
            extra,
        };
        let values = CodedValues {
            pref_cd: action.pref_cd,
            city_cd: action.city_cd,
            occupation_cd1: action.occupation_cd1,
            employment_type_cd: action.employment_type_cd,
            salary_type_cd: action.salary_type_cd,
            feature_codes: action.feature_codes.unwrap_or_default(),
        };
        self.codes
            .note_unknown(&values, line, &mut self.unknown_codes);
        self.builder.push(&action);
        for (column, value, reason) in warnings {
            report.warn(line, column, &value, reason);
        }
        true
    }

    /// The usable actions, in the order checked; the unknown codes go into `report`, and
    /// its `rows_imported` counts the actions.
    pub fn finish(self, report: &mut ImportReport) -> ActionColumns {
        self.unknown_codes.report_into(report);
        let actions = self.builder.finish();
        report.rows_imported = actions.len() as u64;
        actions
    }
}

pub fn parse_actions(
    mut source: CsvSource,
    masters: &Masters,
    zone: &TimeZoneSetting,
    mut report: ImportReport,
) -> Result<(ActionColumns, ImportReport), IngestError> {
    let mut checker = ActionChecker::new(masters, zone);
    source.require("actions", &REQUIRED_COLUMNS)?;
    let mut known: Vec<&str> = REQUIRED_COLUMNS.to_vec();
    known.extend(OPTIONAL_COLUMNS);
    report.unknown_columns = unknown_columns(&source.header, &known);
    report.blank_rows += source.leading_blank_rows;
    let names: Vec<String> = source.header.names().to_vec();
    let extra_positions: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty() && !known.contains(&name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let positions: Vec<Option<usize>> = ActionField::ALL
        .iter()
        .map(|field| source.header.position(field.name()))
        .collect();

    let mut row = Row::default();
    let mut extra_json = String::new();
    while source.next_row(&mut row)? {
        if row.is_blank() {
            report.blank_rows += 1;
            continue;
        }
        report.rows_read += 1;
        if !row_is_usable(&row, &mut report) {
            continue;
        }
        let text = |p: Option<usize>| -> Cow<'_, str> { String::from_utf8_lossy(row.bytes(p)) };
        extra_json.clear();
        if !extra_positions.is_empty() {
            let extras: serde_json::Map<String, serde_json::Value> = extra_positions
                .iter()
                .filter_map(|&p| {
                    let value = text(Some(p));
                    (!is_null(&value)).then(|| {
                        (
                            names[p].clone(),
                            serde_json::Value::String(value.trim().to_owned()),
                        )
                    })
                })
                .collect();
            if !extras.is_empty() {
                extra_json = serde_json::Value::Object(extras).to_string();
            }
        }
        checker.check_row(
            row.line,
            |field| text(positions[field as usize]),
            (!extra_json.is_empty()).then_some(extra_json.as_str()),
            &mut report,
            |report| report_row_warnings(&row, &names, report),
        );
    }
    let actions = checker.finish(&mut report);
    Ok((actions, report))
}

/// One action of a batch that is no file (the API's JSON): the cell of each
/// [`ActionField`] as `actions.csv` would hold it (`None`: no value), and its other
/// columns as a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionCells {
    /// Indexed by [`ActionField`].
    pub cells: [Option<String>; ActionField::ALL.len()],
    pub extra: Option<String>,
}

/// Checks a batch of actions as [`parse_actions`] checks a file's rows, with the same
/// [`ActionChecker`]: the report's `line` of a row is its 1-based position in the batch.
pub fn check_action_batch(
    batch: &[ActionCells],
    masters: &Masters,
    zone: &TimeZoneSetting,
    mut report: ImportReport,
) -> (ActionColumns, ImportReport) {
    let mut checker = ActionChecker::new(masters, zone);
    for (index, action) in batch.iter().enumerate() {
        report.rows_read += 1;
        checker.check_row(
            index as u64 + 1,
            |field| Cow::Borrowed(action.cells[field as usize].as_deref().unwrap_or("")),
            action.extra.as_deref(),
            &mut report,
            |_| {},
        );
    }
    let actions = checker.finish(&mut report);
    (actions, report)
}

/// The snapshot fields of a job that an action copies.
struct Snapshot<'a> {
    endcl_cd: Option<&'a str>,
    pref_cd: u16,
    city_cd: u32,
    occupation_cd1: u32,
    employment_type_cd: u16,
    salary_type_cd: u16,
    min_salary: u32,
    max_salary: u32,
    fee: i32,
    feature_codes: &'a [u32],
}

fn snapshot_of(fields: &JobFields) -> Snapshot<'_> {
    Snapshot {
        endcl_cd: fields.endcl_cd.as_deref(),
        pref_cd: fields.pref_cd.map_or(none::SMALL_CODE, |c| c.get()),
        city_cd: fields.city_cd.map_or(none::CODE, |c| c.get()),
        occupation_cd1: fields.occupation_cd1.unwrap_or(none::CODE),
        employment_type_cd: fields.employment_type_cd.unwrap_or(none::SMALL_CODE),
        salary_type_cd: fields.salary_type_cd.unwrap_or(none::SMALL_CODE),
        min_salary: fields.min_salary.unwrap_or(none::SALARY),
        max_salary: fields.max_salary.unwrap_or(none::SALARY),
        fee: fields.fee.map_or(none::FEE, |f| i32::from(f.get())),
        feature_codes: &fields.feature_codes,
    }
}

/// The snapshot fields of row `index` of the current job columns, borrowing, not copying.
fn snapshot_of_columns(columns: &JobColumns, index: usize) -> Snapshot<'_> {
    Snapshot {
        endcl_cd: Some(columns.endcl_cd.get(index)).filter(|code| !code.is_empty()),
        pref_cd: columns.pref_cd[index],
        city_cd: columns.city_cd[index],
        occupation_cd1: columns.occupation_cd1[index],
        employment_type_cd: columns.employment_type_cd[index],
        salary_type_cd: columns.salary_type_cd[index],
        min_salary: columns.min_salary[index],
        max_salary: columns.max_salary[index],
        fee: columns.fee[index],
        feature_codes: columns.feature_codes.get(index),
    }
}

fn needs_fill(actions: &ActionColumns, row: usize) -> bool {
    actions.endcl_cd[row] == NO_REF
        || actions.pref_cd[row] == none::SMALL_CODE
        || actions.city_cd[row] == none::CODE
        || actions.occupation_cd1[row] == none::CODE
        || actions.employment_type_cd[row] == none::SMALL_CODE
        || actions.salary_type_cd[row] == none::SMALL_CODE
        || actions.min_salary[row] == none::SALARY
        || actions.max_salary[row] == none::SALARY
        || actions.fee[row] == none::FEE
        || actions.flags[row] & flags::HAS_FEATURES == 0
}

/// Fills each empty snapshot cell from the job's stored record, where the job is known
/// (SPEC §2.3). The current snapshot is consulted first, then inactive jobs' rows.
pub async fn fill_snapshots(
    store: &dyn Store,
    actions: &mut ActionColumns,
    zone: &TimeZoneSetting,
) -> Result<(), StoreError> {
    let rows: Vec<usize> = (0..actions.len())
        .filter(|&row| needs_fill(actions, row))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let current = store.job_columns().await?;
    fill_snapshots_with(store, actions, zone, &current).await
}

/// [`fill_snapshots`] with the current job snapshot already loaded (the tracking recorder
/// keeps it between batches).
pub async fn fill_snapshots_with(
    store: &dyn Store,
    actions: &mut ActionColumns,
    zone: &TimeZoneSetting,
    current: &JobColumns,
) -> Result<(), StoreError> {
    let rows: Vec<usize> = (0..actions.len())
        .filter(|&row| needs_fill(actions, row))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let inactive_ids: Vec<JobId> = rows
        .iter()
        .map(|&row| actions.job_id[row])
        .filter(|&id| current.position(JobId::new(id)).is_none())
        .collect::<HashSet<u64>>()
        .into_iter()
        .map(JobId::new)
        .collect();
    let mut inactive: HashMap<u64, JobFields> = HashMap::new();
    for record in store.jobs(&inactive_ids).await?.into_iter().flatten() {
        let cell = |name: &str| record.value(name).unwrap_or("");
        let fields = parse_job_fields(cell, zone, |_, _, _| {});
        inactive.insert(record.job_id.get(), fields);
    }
    let mut features: HashMap<usize, Vec<u32>> = HashMap::new();
    let mut companies: HashMap<String, u32> = actions
        .companies
        .iter()
        .enumerate()
        .map(|(i, s)| (s.to_owned(), i as u32))
        .collect();
    for row in rows {
        let job_id = actions.job_id[row];
        let snapshot = match current.position(JobId::new(job_id)) {
            Some(index) => snapshot_of_columns(current, index),
            None => match inactive.get(&job_id) {
                Some(fields) => snapshot_of(fields),
                None => continue,
            },
        };
        fill_row(actions, row, &snapshot, &mut companies);
        if actions.flags[row] & flags::HAS_FEATURES == 0 {
            features.insert(row, snapshot.feature_codes.to_vec());
        }
    }
    actions.replace_feature_codes(&features);
    Ok(())
}

fn fill_row(
    actions: &mut ActionColumns,
    row: usize,
    job: &Snapshot<'_>,
    companies: &mut HashMap<String, u32>,
) {
    if actions.endcl_cd[row] == NO_REF
        && let Some(code) = job.endcl_cd
    {
        let reference = *companies.entry(code.to_owned()).or_insert_with(|| {
            actions.companies.push(code);
            (actions.companies.len() - 1) as u32
        });
        actions.endcl_cd[row] = reference;
    }
    macro_rules! fill {
        ($column:ident, $none:expr) => {
            if actions.$column[row] == $none {
                actions.$column[row] = job.$column;
            }
        };
    }
    fill!(pref_cd, none::SMALL_CODE);
    fill!(city_cd, none::CODE);
    fill!(occupation_cd1, none::CODE);
    fill!(employment_type_cd, none::SMALL_CODE);
    fill!(salary_type_cd, none::SMALL_CODE);
    fill!(min_salary, none::SALARY);
    fill!(max_salary, none::SALARY);
    fill!(fee, none::FEE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RowIssue;
    use crate::ingest::EncodingChoice;

    const HEADER: &str =
        "user_id,job_id,action_type,action_at,source,section,pref_cd,fee,feature_codes";

    /// Rows with every kind of problem the checker knows, and good ones.
    const ROWS: [&str; 8] = [
        "u1,101,applied,2025-07-01 10:00:00+09,email,top5,13,800,\"100,103\"",
        ",101,applied,2025-07-01 10:00:00+09,,,,,",
        "u2,x1,click,2025-07-01 10:00:00+09,,,,,",
        "u2,101,purchase,2025-07-01 10:00:00+09,,,,,",
        "u2,101,open,yesterday,,,,,",
        "u3,102,click,2025-07-01T11:00:00+09:00,fax,,99,lots,",
        "u3,102,Applied,2025-07-01 12:00:00,web,,13,,",
        "u3,103,view,NULL,,,,,",
    ];

    fn cells_of(row: &str) -> ActionCells {
        let header: Vec<&str> = HEADER.split(',').collect();
        let record = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(row.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        let mut cells = ActionCells::default();
        for (name, value) in header.iter().zip(record.iter()) {
            let field = ActionField::ALL.iter().find(|f| f.name() == *name).unwrap();
            cells.cells[*field as usize] = (!value.is_empty()).then(|| value.to_owned());
        }
        cells
    }

    #[test]
    fn every_field_names_its_column_in_the_files_order() {
        let names: Vec<&str> = ActionField::ALL.iter().map(|f| f.name()).collect();
        let columns: Vec<&str> = REQUIRED_COLUMNS
            .into_iter()
            .chain(OPTIONAL_COLUMNS)
            .collect();
        assert_eq!(names, columns);
    }

    #[test]
    fn a_batch_is_checked_exactly_as_the_same_rows_of_a_file() {
        let zone = TimeZoneSetting::tokyo();
        let masters = crate::masters::builtin_masters();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.csv");
        std::fs::write(&path, format!("{HEADER}\n{}\n", ROWS.join("\n"))).unwrap();
        let source = CsvSource::open(&path, EncodingChoice::Auto, None).unwrap();
        let (from_file, file_report) = parse_actions(
            source,
            &masters,
            &zone,
            ImportReport::new("actions", "f", 0),
        )
        .unwrap();
        let batch: Vec<ActionCells> = ROWS.iter().map(|row| cells_of(row)).collect();
        let (from_batch, batch_report) = check_action_batch(
            &batch,
            &masters,
            &zone,
            ImportReport::new("actions", "b", 0),
        );

        assert_eq!(from_batch, from_file, "the same actions");
        assert_eq!(from_batch.len(), 3);
        for count in [
            |r: &ImportReport| r.rows_read,
            |r: &ImportReport| r.rows_imported,
            |r: &ImportReport| r.rows_skipped,
            |r: &ImportReport| r.warnings,
        ] {
            assert_eq!(count(&batch_report), count(&file_report));
        }
        assert_eq!(batch_report.rows_skipped, 5);
        // A file's line is its row's position in the batch plus the header's line.
        let moved: Vec<RowIssue> = file_report
            .issues
            .iter()
            .map(|issue| RowIssue {
                line: issue.line - 1,
                ..issue.clone()
            })
            .collect();
        assert_eq!(batch_report.issues, moved);
        let columns: Vec<(u64, Option<&str>)> = batch_report
            .issues
            .iter()
            .map(|i| (i.line, i.column.as_deref()))
            .collect();
        assert_eq!(
            columns,
            [
                (2, Some("user_id")),
                (3, Some("job_id")),
                (4, Some("action_type")),
                (5, Some("action_at")),
                (6, Some("source")),
                (6, Some("fee")),
                (8, Some("action_at")),
                (6, Some("pref_cd")),
            ],
            "{:#?}",
            batch_report.issues
        );
    }
}

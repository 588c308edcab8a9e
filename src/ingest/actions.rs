//! The actions importer (SPEC §2.3): append, idempotent on re-ingest.

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

pub fn parse_actions(
    mut source: CsvSource,
    masters: &Masters,
    zone: &TimeZoneSetting,
    mut report: ImportReport,
) -> Result<(ActionColumns, ImportReport), IngestError> {
    let codes = CodeCheck::new(masters);
    let mut unknown_codes = UnknownCodes::default();
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
    let position = |name: &str| source.header.position(name);
    let [p_user, p_job, p_type, p_at, p_source, p_section] = [
        "user_id",
        "job_id",
        "action_type",
        "action_at",
        "source",
        "section",
    ]
    .map(position);
    let [
        p_endcl,
        p_pref,
        p_city,
        p_occ,
        p_emp,
        p_stype,
        p_min,
        p_max,
        p_fee,
        p_features,
    ] = [
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
    ]
    .map(position);

    let mut builder = ActionColumnsBuilder::new();
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
        let line = row.line;
        let text = |p: Option<usize>| -> std::borrow::Cow<'_, str> {
            String::from_utf8_lossy(row.bytes(p))
        };
        let user_id = text(p_user);
        if is_null(&user_id) {
            report.skip_row(
                line,
                Some("user_id"),
                Some(&user_id),
                "unusable row: user_id is missing",
            );
            continue;
        }
        let raw_job = text(p_job);
        let job_id = match JobId::parse(&raw_job) {
            Ok(id) => id,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("job_id"),
                    Some(&raw_job),
                    format!("unusable row: {error}"),
                );
                continue;
            }
        };
        let raw_type = text(p_type);
        let action_type = match ActionType::parse(&raw_type) {
            Ok(kind) => kind,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("action_type"),
                    Some(&raw_type),
                    format!("unusable row: {error}"),
                );
                continue;
            }
        };
        let raw_at = text(p_at);
        let action_at = match zone.parse_timestamp(&raw_at) {
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
                continue;
            }
        };
        report_row_warnings(&row, &names, &mut report);
        let mut warnings: Vec<(&'static str, String, String)> = Vec::new();
        macro_rules! optional {
            ($p:expr, $name:expr, $parse:expr) => {{
                let raw = text($p);
                if is_null(&raw) {
                    None
                } else {
                    match $parse(raw.trim()) {
                        Ok(value) => Some(value),
                        Err(error) => {
                            warnings.push(($name, raw.into_owned(), error.to_string()));
                            None
                        }
                    }
                }
            }};
        }
        let source_value = optional!(p_source, "source", ActionSource::parse);
        let section = text(p_section);
        let endcl = text(p_endcl);
        let features = optional!(p_features, "feature_codes", parse_code_list);
        let action = ActionRow {
            user_id: user_id.trim(),
            job_id: job_id.get(),
            action_type: Some(action_type),
            action_at,
            source: source_value,
            section: (!is_null(&section)).then(|| section.trim()),
            endcl_cd: (!is_null(&endcl)).then(|| endcl.trim()),
            pref_cd: optional!(p_pref, "pref_cd", |s| parse_int_in::<u16>(s, "pref_cd"))
                .unwrap_or(none::SMALL_CODE),
            city_cd: optional!(p_city, "city_cd", |s| parse_int_in::<u32>(s, "city_cd"))
                .unwrap_or(none::CODE),
            occupation_cd1: optional!(p_occ, "occupation_cd1", |s| parse_int_in::<u32>(
                s,
                "occupation_cd1"
            ))
            .unwrap_or(none::CODE),
            employment_type_cd: optional!(p_emp, "employment_type_cd", |s| parse_int_in::<u16>(
                s,
                "employment_type_cd"
            ))
            .unwrap_or(none::SMALL_CODE),
            salary_type_cd: optional!(p_stype, "salary_type_cd", |s| parse_int_in::<u16>(
                s,
                "salary_type_cd"
            ))
            .unwrap_or(none::SMALL_CODE),
            min_salary: optional!(p_min, "min_salary", |s| parse_int_in::<u32>(s, "salary"))
                .unwrap_or(none::SALARY),
            max_salary: optional!(p_max, "max_salary", |s| parse_int_in::<u32>(s, "salary"))
                .unwrap_or(none::SALARY),
            fee: optional!(p_fee, "fee", Fee::parse).map_or(none::FEE, |fee| i32::from(fee.get())),
            feature_codes: features.as_deref(),
            extra: None,
        };
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
        let action = ActionRow {
            extra: (!extra_json.is_empty()).then_some(extra_json.as_str()),
            ..action
        };
        let values = CodedValues {
            pref_cd: action.pref_cd,
            city_cd: action.city_cd,
            occupation_cd1: action.occupation_cd1,
            employment_type_cd: action.employment_type_cd,
            salary_type_cd: action.salary_type_cd,
            feature_codes: action.feature_codes.unwrap_or_default(),
        };
        codes.note_unknown(&values, line, &mut unknown_codes);
        builder.push(&action);
        for (column, value, reason) in warnings {
            report.warn(line, column, &value, reason);
        }
    }
    unknown_codes.report_into(&mut report);
    let actions = builder.finish();
    report.rows_imported = actions.len() as u64;
    Ok((actions, report))
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

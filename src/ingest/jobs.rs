//! The job feed importer (SPEC §2.1): a full snapshot of the day's jobs.

use std::collections::HashMap;

use super::source::{CsvSource, Row};
use super::{
    CodeCheck, CodedValues, IngestError, UnknownCodes, report_row_warnings, row_is_usable,
    unknown_columns,
};
use crate::domain::job::JobRow;
use crate::domain::value::{is_null, parse_bool, parse_code_list, parse_f64, parse_int_in};
use crate::domain::{
    CityCode, Fee, ImportReport, JobColumns, JobFields, JobId, Masters, PrefCode, TimeZoneSetting,
};
use crate::store::{JobSnapshot, PackedRow, RowPacker};

pub const REQUIRED_COLUMNS: [&str; 15] = [
    "job_id",
    "endcl_cd",
    "company_name",
    "application_name",
    "pref_cd",
    "city_cd",
    "salary_type_cd",
    "min_salary",
    "max_salary",
    "fee",
    "employment_type_cd",
    "occupation_cd1",
    "feature_codes",
    "start_at",
    "end_at",
];

/// Columns read when present; every other column is kept with the row but not read.
pub const OPTIONAL_COLUMNS: [&str; 18] = [
    "occupation_cd2",
    "occupation_cd3",
    "jobtype_detail",
    "salary",
    "hours",
    "catch_copy",
    "station_name_eki",
    "traffic",
    "area",
    "latitude",
    "longitude",
    "url",
    "client_cd",
    "job_contents",
    "welfare",
    "requirement",
    "is_delivery",
    "del_flg",
];

/// Reads the typed fields of one job from its cells (`cell(name)` is the raw text of a
/// column, empty where absent). Cells that cannot be used are reported through `warn` as
/// `(column, value, reason)` and treated as "no value".
pub fn parse_job_fields<'a>(
    cell: impl Fn(&str) -> &'a str,
    zone: &TimeZoneSetting,
    mut warn: impl FnMut(&str, &str, String),
) -> JobFields {
    let text = |name: &str| {
        let value = cell(name);
        if is_null(value) {
            String::new()
        } else {
            value.trim().to_owned()
        }
    };
    let mut fields = JobFields {
        endcl_cd: Some(text("endcl_cd")).filter(|s| !s.is_empty()),
        company_name: text("company_name"),
        application_name: text("application_name"),
        catch_copy: text("catch_copy"),
        station_name_eki: text("station_name_eki"),
        salary_text: text("salary"),
        hours: text("hours"),
        area: text("area"),
        is_delivery: true,
        ..JobFields::default()
    };
    macro_rules! parse_cell {
        ($name:expr, $parse:expr) => {{
            let raw = cell($name);
            if is_null(raw) {
                None
            } else {
                match $parse(raw) {
                    Ok(value) => Some(value),
                    Err(error) => {
                        warn($name, raw, error.to_string());
                        None
                    }
                }
            }
        }};
    }
    // Codes are kept whether or not the masters know them (SPEC §2.1); the importer
    // reports the unknown ones once per value.
    fields.pref_cd = parse_cell!("pref_cd", PrefCode::parse);
    fields.city_cd = parse_cell!("city_cd", CityCode::parse);
    fields.salary_type_cd = parse_cell!("salary_type_cd", |s| parse_int_in::<u16>(
        s,
        "salary_type_cd"
    ));
    fields.employment_type_cd = parse_cell!("employment_type_cd", |s| parse_int_in::<u16>(
        s,
        "employment_type_cd"
    ));
    fields.min_salary = parse_cell!("min_salary", |s| parse_int_in::<u32>(
        s,
        "salary must be 0 or more yen"
    ));
    fields.max_salary = parse_cell!("max_salary", |s| parse_int_in::<u32>(
        s,
        "salary must be 0 or more yen"
    ));
    fields.fee = parse_cell!("fee", Fee::parse);
    fields.occupation_cd1 = parse_cell!("occupation_cd1", |s| parse_int_in::<u32>(
        s,
        "occupation code"
    ));
    fields.occupation_cd2 = parse_cell!("occupation_cd2", |s| parse_int_in::<u32>(
        s,
        "occupation code"
    ));
    fields.occupation_cd3 = parse_cell!("occupation_cd3", |s| parse_int_in::<u32>(
        s,
        "occupation code"
    ));
    fields.jobtype_detail = parse_cell!("jobtype_detail", |s| parse_int_in::<u32>(
        s,
        "job type code"
    ));
    fields.feature_codes = parse_cell!("feature_codes", parse_code_list).unwrap_or_default();
    fields.start_at = parse_cell!("start_at", |s| zone.parse_timestamp(s));
    fields.end_at = parse_cell!("end_at", |s| zone.parse_timestamp(s));
    fields.is_delivery = parse_cell!("is_delivery", parse_bool).unwrap_or(true);
    fields.del_flg = parse_cell!("del_flg", parse_bool).unwrap_or(false);
    let coordinate = |raw: &str| parse_f64(raw).map(|v| v as f32);
    fields.latitude = parse_cell!("latitude", coordinate);
    fields.longitude = parse_cell!("longitude", coordinate);
    fields
}

/// Parses a job feed into a snapshot. A repeated `job_id`: the last row wins, reported.
/// `dictionary` is the stored row dictionary of the feed's header, if one was trained
/// before; otherwise one is trained on the feed's first rows and returned in the snapshot.
///
/// Several sources form one snapshot (one feed split over files, read in the order given):
/// they must share one header, and a `job_id` repeated across them is a repeat like any other.
/// `names` are the sources' names as the report gives them (issues name their file when
/// there are several).
pub fn parse_jobs(
    sources: Vec<CsvSource>,
    names: &[String],
    masters: &Masters,
    zone: &TimeZoneSetting,
    mut report: ImportReport,
    packer: Box<dyn RowPacker>,
) -> Result<(JobSnapshot, ImportReport), IngestError> {
    let Some(first) = sources.first() else {
        return Err(IngestError::NoFiles);
    };
    first.require("job feed", &REQUIRED_COLUMNS)?;
    for other in &sources[1..] {
        if other.header.names() != first.header.names() {
            return Err(IngestError::HeaderMismatch {
                path: other.path.clone(),
                first: first.path.clone(),
            });
        }
    }
    let mut known: Vec<&str> = REQUIRED_COLUMNS.to_vec();
    known.extend(OPTIONAL_COLUMNS);
    report.unknown_columns = unknown_columns(&first.header, &known);
    report.blank_rows += sources.iter().map(|s| s.leading_blank_rows).sum::<u64>();
    // Issues name their file when there are several.
    let file_names: Vec<Option<String>> = sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            (sources.len() > 1).then(|| {
                names
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| source.path.display().to_string())
            })
        })
        .collect();

    let headers: Vec<String> = first.header.names().to_vec();
    let positions: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .map(|(i, n)| (n.as_str(), i))
        .rev()
        .collect();
    let job_id_position = positions.get("job_id").copied();
    let codes = CodeCheck::new(masters);
    let mut unknown_codes = UnknownCodes::default();

    let mut rows: Vec<(u64, PackedRow)> = Vec::new();
    // Job id → (index in `rows`, source, line) of its first row.
    let mut row_of_job: HashMap<u64, (usize, usize, u64)> = HashMap::new();
    let mut columns = JobColumns::new();
    let mut column_row_of_job: Vec<usize> = Vec::new();
    // A reader thread parses CSV and packs each full row (the store compresses it) while
    // this thread checks fields: the two halves of the work take about as long, so both
    // cores stay busy. Blank lines come through without a packed row.
    type Batch = Vec<(usize, Row, Option<PackedRow>)>;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<Batch, IngestError>>(8);
    let n_columns = headers.len();
    let reader = std::thread::spawn(move || -> Option<crate::store::RowPacking> {
        const BATCH: usize = 256;
        let mut packer = packer;
        let mut batch = Vec::with_capacity(BATCH);
        let mut sources = sources;
        let mut source_index = 0;
        loop {
            let mut row = Row::default();
            // The next row of the sources in turn; `false` after the last one's last row.
            let more = loop {
                let Some(source) = sources.get_mut(source_index) else {
                    break Ok(false);
                };
                match source.next_row(&mut row) {
                    Ok(true) => break Ok(true),
                    Ok(false) => source_index += 1,
                    Err(error) => break Err(error),
                }
            };
            let more = match more {
                Ok(more) => more,
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return None;
                }
            };
            if more {
                let packed = (!row.is_blank()).then(|| {
                    let texts: Vec<std::borrow::Cow<'_, str>> =
                        row.record.iter().map(String::from_utf8_lossy).collect();
                    packer.pack(JobRow::from_values(
                        (0..n_columns).map(|p| texts.get(p).map_or("", |t| t.as_ref())),
                    ))
                });
                batch.push((source_index, row, packed));
            }
            if batch.len() >= BATCH || !more {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if sender.send(Ok(full)).is_err() {
                    return None;
                }
            }
            if !more {
                return Some(packer.finish());
            }
        }
    });
    let mut current_source = 0;
    report.set_current_file(file_names[0].as_deref());
    unknown_codes.set_current_file(file_names[0].as_deref());
    for batch in receiver {
        for (source_index, row, packed) in batch? {
            if source_index != current_source {
                current_source = source_index;
                report.set_current_file(file_names[source_index].as_deref());
                unknown_codes.set_current_file(file_names[source_index].as_deref());
            }
            let Some(packed) = packed else {
                report.blank_rows += 1;
                continue;
            };
            report.rows_read += 1;
            if !row_is_usable(&row, &mut report) {
                continue;
            }
            let line = row.line;
            let raw_id = String::from_utf8_lossy(row.bytes(job_id_position)).into_owned();
            let job_id = match JobId::parse(&raw_id) {
                Ok(id) => id,
                Err(error) => {
                    report.skip_row(
                        line,
                        Some("job_id"),
                        Some(&raw_id),
                        format!("unusable row: {error}"),
                    );
                    continue;
                }
            };
            report_row_warnings(&row, &headers, &mut report);
            let mut texts: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(headers.len());
            for bytes in row.record.iter() {
                // A bad cell was reported above; it reads with U+FFFD.
                texts.push(String::from_utf8_lossy(bytes));
            }
            let cell = |name: &str| -> &str {
                positions
                    .get(name)
                    .and_then(|&p| texts.get(p))
                    .map_or("", |t| t.as_ref())
            };
            let mut warnings: Vec<(String, String, String)> = Vec::new();
            let fields = parse_job_fields(cell, zone, |column, value, reason| {
                warnings.push((column.to_owned(), value.to_owned(), reason));
            });
            codes.note_unknown(&CodedValues::of_fields(&fields), line, &mut unknown_codes);
            for (column, value, reason) in warnings {
                report.warn(line, &column, &value, reason);
            }
            columns.push(job_id, &fields);
            match row_of_job.get(&job_id.get()).copied() {
                Some((index, first_source, first_line)) => {
                    report.add_count("duplicates_in_file", 1);
                    let place = match &file_names[first_source] {
                        Some(file) if first_source != source_index => {
                            format!("line {first_line} of {file}")
                        }
                        _ => format!("line {first_line}"),
                    };
                    report.warn(
                        line,
                        "job_id",
                        &raw_id,
                        format!("job_id repeats the row at {place}; the last row wins"),
                    );
                    rows[index].1 = packed;
                    column_row_of_job[index] = columns.len() - 1;
                }
                None => {
                    row_of_job.insert(job_id.get(), (rows.len(), source_index, line));
                    rows.push((job_id.get(), packed));
                    column_row_of_job.push(columns.len() - 1);
                }
            }
        }
    }
    let packing = reader
        .join()
        .expect("the CSV reader thread panicked")
        .expect("the reader ends with the packing when it sent every row");
    report.set_current_file(None);
    unknown_codes.report_into(&mut report);
    report.rows_imported = rows.len() as u64;
    let columns = if column_row_of_job.len() == columns.len() {
        columns.sorted_by_job_id()
    } else {
        columns.select(&column_row_of_job).sorted_by_job_id()
    };
    Ok((
        JobSnapshot {
            headers,
            rows,
            packing,
            columns,
            max_deactivated_percent: None,
        },
        report,
    ))
}

//! The users importer (SPEC §2.2): upsert by `user_id`.

use std::collections::HashMap;

use super::source::{CsvSource, Row};
use super::{
    CodeCheck, CodedValues, IngestError, UnknownCodes, report_row_warnings, row_is_usable,
    unknown_columns,
};
use crate::domain::job::none;
use crate::domain::value::{is_null, parse_bool};
use crate::domain::{
    CityCode, EmailAddress, ImportReport, Masters, PrefCode, TimeZoneSetting, User, UserId,
};

pub const REQUIRED_COLUMNS: [&str; 2] = ["user_id", "email"];
pub const OPTIONAL_COLUMNS: [&str; 8] = [
    "name",
    "pref_cd",
    "city_cd",
    "age_range",
    "gender",
    "is_active",
    "subscribed",
    "created_at",
];

/// The consent record's optional columns (Japan's specified-email act), read when present;
/// the generated dataset has none, its users consent at `created_at`.
pub const CONSENT_COLUMNS: [&str; 2] = ["consented_at", "consent_source"];

pub fn parse_users(
    mut source: CsvSource,
    masters: &Masters,
    zone: &TimeZoneSetting,
    mut report: ImportReport,
) -> Result<(Vec<User>, ImportReport), IngestError> {
    let codes = CodeCheck::new(masters);
    let mut unknown_codes = UnknownCodes::default();
    source.require("users", &REQUIRED_COLUMNS)?;
    let mut known: Vec<&str> = REQUIRED_COLUMNS.to_vec();
    known.extend(OPTIONAL_COLUMNS);
    known.extend(CONSENT_COLUMNS);
    report.unknown_columns = unknown_columns(&source.header, &known);
    report.blank_rows += source.leading_blank_rows;
    let names: Vec<String> = source.header.names().to_vec();
    let position = |name: &str| source.header.position(name);
    let extra_positions: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| !name.is_empty() && !known.contains(&name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let [
        p_user,
        p_email,
        p_name,
        p_pref,
        p_city,
        p_age,
        p_gender,
        p_active,
        p_subscribed,
        p_created,
        p_consented,
        p_consent_source,
    ] = [
        "user_id",
        "email",
        "name",
        "pref_cd",
        "city_cd",
        "age_range",
        "gender",
        "is_active",
        "subscribed",
        "created_at",
        "consented_at",
        "consent_source",
    ]
    .map(position);

    let mut users: Vec<User> = Vec::new();
    let mut index_of: HashMap<String, (usize, u64)> = HashMap::new();
    let mut row = Row::default();
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
        let cell = |p: Option<usize>| String::from_utf8_lossy(row.bytes(p)).into_owned();
        let raw_user = cell(p_user);
        let user_id = match UserId::parse(&raw_user) {
            Ok(id) => id,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("user_id"),
                    Some(&raw_user),
                    format!("unusable row: {error}"),
                );
                continue;
            }
        };
        let raw_email = cell(p_email);
        let email = match EmailAddress::parse(&raw_email) {
            Ok(email) => email,
            Err(error) => {
                report.skip_row(
                    line,
                    Some("email"),
                    Some(&raw_email),
                    format!("invalid email address: {error}"),
                );
                continue;
            }
        };
        report_row_warnings(&row, &names, &mut report);
        let optional = |p: Option<usize>| {
            Some(cell(p))
                .filter(|v| !is_null(v))
                .map(|v| v.trim().to_owned())
        };
        let mut warn_bad =
            |column: &str, value: &str, reason: String| report.warn(line, column, value, reason);
        let pref_cd = optional(p_pref).and_then(|raw| {
            PrefCode::parse(&raw)
                .map_err(|e| warn_bad("pref_cd", &raw, e.to_string()))
                .ok()
        });
        let city_cd = optional(p_city).and_then(|raw| {
            CityCode::parse(&raw)
                .map_err(|e| warn_bad("city_cd", &raw, e.to_string()))
                .ok()
        });
        // Kept whether or not the masters know them (SPEC §2.1), reported once per value.
        let place = CodedValues {
            pref_cd: pref_cd.map_or(none::SMALL_CODE, |c| c.get()),
            city_cd: city_cd.map_or(none::CODE, |c| c.get()),
            occupation_cd1: none::CODE,
            employment_type_cd: none::SMALL_CODE,
            salary_type_cd: none::SMALL_CODE,
            feature_codes: &[],
        };
        codes.note_unknown(&place, line, &mut unknown_codes);
        let is_active = optional(p_active)
            .and_then(|raw| {
                parse_bool(&raw)
                    .map_err(|e| warn_bad("is_active", &raw, e.to_string()))
                    .ok()
            })
            .unwrap_or(true);
        let subscribed = optional(p_subscribed)
            .and_then(|raw| {
                parse_bool(&raw)
                    .map_err(|e| warn_bad("subscribed", &raw, e.to_string()))
                    .ok()
            })
            .unwrap_or(true);
        let created_at = optional(p_created).and_then(|raw| {
            zone.parse_timestamp(&raw)
                .map_err(|e| warn_bad("created_at", &raw, e.to_string()))
                .ok()
        });
        // The consent record (Japan's specified-email act): `consented_at`, else the
        // registration's `created_at`; a bad `consented_at` is a warning and no consent,
        // never the registration's time in its place.
        let consent_source = optional(p_consent_source);
        let consent = match optional(p_consented) {
            Some(raw) => zone
                .parse_timestamp(&raw)
                .map_err(|e| warn_bad("consented_at", &raw, e.to_string()))
                .ok(),
            None => created_at,
        }
        .map(|at| crate::domain::Consent {
            at,
            source: consent_source
                .clone()
                .unwrap_or_else(|| crate::domain::Consent::DEFAULT_SOURCE.to_owned()),
        });
        let extra = extra_positions
            .iter()
            .filter_map(|&p| optional(Some(p)).map(|value| (names[p].clone(), value)))
            .collect();
        let user = User {
            user_id,
            email,
            name: optional(p_name),
            pref_cd,
            city_cd,
            age_range: optional(p_age),
            gender: optional(p_gender),
            is_active,
            subscribed,
            created_at,
            extra,
            consent,
        };
        match index_of.get(user.user_id.as_str()).copied() {
            Some((index, first_line)) => {
                report.add_count("duplicates_in_file", 1);
                report.warn(
                    line,
                    "user_id",
                    &raw_user,
                    format!("user_id repeats the row at line {first_line}; the last row wins"),
                );
                users[index] = user;
            }
            None => {
                index_of.insert(user.user_id.as_str().to_owned(), (users.len(), line));
                users.push(user);
            }
        }
    }
    unknown_codes.report_into(&mut report);
    report.rows_imported = users.len() as u64;
    Ok((users, report))
}

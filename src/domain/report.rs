//! Import reports: what an import read, kept, skipped and why, row by row.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::Micros;

/// At most this many row issues are kept in a report; the rest are counted.
pub const MAX_REPORTED_ISSUES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row was skipped.
    Error,
    /// The row was imported; the named cell was treated as "no value" (or a repeat replaced;
    /// with no column, the row was short and its missing cells are "no value").
    Warning,
}

/// One problem with one row (and usually one cell) of an input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowIssue {
    /// The file, when the report covers several (one snapshot split over files); else the
    /// report's own `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line of the file where the row starts (1-based, the header is line 1 or later).
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Imported,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Assigned by the store when the import is committed; 0 before.
    pub id: u64,
    pub kind: String,
    pub file: String,
    pub encoding: String,
    pub status: ImportStatus,
    pub started_at: Micros,
    /// Time spent reading and checking the file, before the store committed it.
    pub duration_ms: u64,
    /// Data rows read (blank rows excluded).
    pub rows_read: u64,
    /// Rows that took effect (for actions: rows new to the store).
    pub rows_imported: u64,
    pub rows_skipped: u64,
    pub blank_rows: u64,
    pub warnings: u64,
    /// Kind-specific counts: `jobs_deactivated`, `duplicates_in_file`, `already_stored` …
    pub counts: BTreeMap<String, u64>,
    /// Columns of the header that mailscore keeps but does not interpret.
    pub unknown_columns: Vec<String>,
    pub issues: Vec<RowIssue>,
    /// Issues beyond [`MAX_REPORTED_ISSUES`], counted only.
    pub issues_omitted: u64,
    /// Why the file was rejected, when it was.
    pub error: Option<String>,
    /// The file that issues recorded now belong to, when the report covers several.
    #[serde(skip)]
    current_file: Option<String>,
}

impl ImportReport {
    pub fn new(kind: &str, file: &str, started_at: Micros) -> Self {
        Self {
            id: 0,
            kind: kind.to_owned(),
            file: file.to_owned(),
            encoding: String::new(),
            status: ImportStatus::Imported,
            started_at,
            duration_ms: 0,
            rows_read: 0,
            rows_imported: 0,
            rows_skipped: 0,
            blank_rows: 0,
            warnings: 0,
            counts: BTreeMap::new(),
            unknown_columns: Vec::new(),
            issues: Vec::new(),
            issues_omitted: 0,
            error: None,
            current_file: None,
        }
    }

    /// Names the file that the issues recorded from now on are about (a report over several
    /// files of one snapshot).
    pub fn set_current_file(&mut self, file: Option<&str>) {
        self.current_file = file.map(str::to_owned);
    }

    fn push_issue(&mut self, issue: RowIssue) {
        if self.issues.len() < MAX_REPORTED_ISSUES {
            self.issues.push(issue);
        } else {
            self.issues_omitted += 1;
        }
    }

    /// Records a skipped row.
    pub fn skip_row(
        &mut self,
        line: u64,
        column: Option<&str>,
        value: Option<&str>,
        message: impl Into<String>,
    ) {
        self.rows_skipped += 1;
        self.push_issue(RowIssue {
            file: self.current_file.clone(),
            line,
            column: column.map(str::to_owned),
            value: value.map(truncate_value),
            severity: Severity::Error,
            message: message.into(),
        });
    }

    /// Records a cell treated as "no value" (the row is still imported).
    pub fn warn(&mut self, line: u64, column: &str, value: &str, message: impl Into<String>) {
        self.warnings += 1;
        self.push_issue(RowIssue {
            file: self.current_file.clone(),
            line,
            column: Some(column.to_owned()),
            value: Some(truncate_value(value)),
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// Records a problem of a whole row that is still imported (no single cell is at fault).
    pub fn warn_row(&mut self, line: u64, message: impl Into<String>) {
        self.warnings += 1;
        self.push_issue(RowIssue {
            file: self.current_file.clone(),
            line,
            column: None,
            value: None,
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    pub fn add_count(&mut self, name: &str, n: u64) {
        *self.counts.entry(name.to_owned()).or_default() += n;
    }

    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }
}

/// Keeps reported values short: a report shows where the problem is, not the whole cell.
fn truncate_value(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    if value.chars().count() <= MAX_CHARS {
        value.to_owned()
    } else {
        let mut short: String = value.chars().take(MAX_CHARS).collect();
        short.push('…');
        short
    }
}

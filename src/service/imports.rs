//! Importing input files, and the record of past imports.
//!
//! An import of several files is planned first ([`plan_imports`]: which files go
//! together) and then run one group at a time ([`import_group`]), so that the caller can
//! show each group's report as soon as it is stored.

use std::path::PathBuf;
use std::time::Duration;

use super::ServiceError;
use crate::domain::{ImportReport, ImportStatus};
use crate::ingest::{ImportKind, ImportOptions, expand_paths, import_file, import_jobs};
use crate::store::{ImportSummary, Store};
use crate::telemetry::ErrorChain;

/// The files of one import, in the order they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportGroup {
    pub kind: ImportKind,
    pub files: Vec<PathBuf>,
}

impl ImportGroup {
    /// The group's files as one comma-separated list, as the report of a rejected group
    /// names them.
    pub fn names(&self) -> String {
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which files `paths` (files, or directories of .csv files) name, grouped as they are
/// imported: the files of a job feed are one feed split over files, so one snapshot (one
/// group); every other file is imported on its own.
pub fn plan_imports(kind: ImportKind, paths: &[PathBuf]) -> Result<Vec<ImportGroup>, ServiceError> {
    let files = expand_paths(paths)?;
    if files.is_empty() {
        return Err(ServiceError::NoInputFiles {
            paths: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(if kind == ImportKind::Jobs {
        vec![ImportGroup { kind, files }]
    } else {
        files
            .into_iter()
            .map(|file| ImportGroup {
                kind,
                files: vec![file],
            })
            .collect()
    })
}

/// How one group's import ended.
#[derive(Debug)]
pub struct ImportOutcome {
    /// The stored report; for a rejected group, a report with status `rejected` and the
    /// error, which is not stored (a rejected file writes nothing).
    pub report: ImportReport,
    /// Why the group was rejected, when it was.
    pub error: Option<ServiceError>,
    /// From the start of reading to the commit.
    pub elapsed: Duration,
}

/// Imports one group. A rejected group is not an error of the service: its outcome says
/// so, and the other groups of the plan can still be imported.
pub async fn import_group(
    store: &dyn Store,
    group: &ImportGroup,
    options: &ImportOptions,
) -> ImportOutcome {
    let started = std::time::Instant::now();
    let result = match group.kind {
        ImportKind::Jobs => import_jobs(store, &group.files, options).await,
        kind => import_file(store, kind, &group.files[0], options).await,
    };
    let elapsed = started.elapsed();
    match result {
        Ok(report) => ImportOutcome {
            report,
            error: None,
            elapsed,
        },
        Err(error) => {
            // The file's fault, not the server's: a warning, with why.
            tracing::warn!(
                kind = group.kind.as_str(),
                file = options
                    .file_names
                    .as_ref()
                    .map_or_else(|| group.names(), |names| names.join(", ")),
                error = %ErrorChain(&error),
                "import rejected"
            );
            let mut report = ImportReport::new(
                group.kind.as_str(),
                &group.names(),
                crate::ingest::now_micros(),
            );
            report.status = ImportStatus::Rejected;
            report.error = Some(error.to_string());
            ImportOutcome {
                report,
                error: Some(error.into()),
                elapsed,
            }
        }
    }
}

/// The most recent imports, newest first.
pub async fn list_imports(
    store: &dyn Store,
    limit: usize,
) -> Result<Vec<ImportSummary>, ServiceError> {
    Ok(store.import_summaries(limit).await?)
}

/// One import's full report.
pub async fn show_import(store: &dyn Store, id: u64) -> Result<ImportReport, ServiceError> {
    store
        .import_report(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound {
            explanation: format!("no import #{id}; `mailscore imports list` shows the known ones"),
        })
}

/// What an upload is doing, for whoever watches it (`GET /api/imports/progress`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadProgress {
    /// The file's name as the client gave it.
    pub file: String,
    pub kind: String,
    /// `receiving` the body, then `importing` it.
    pub stage: &'static str,
    pub started_at: crate::domain::time::Micros,
    /// Bytes of the file received so far.
    pub bytes_received: u64,
    /// Bytes of the file the importer has read so far.
    pub bytes_imported: u64,
}

/// A file name safe to keep in the data directory: the client's name's last component,
/// with anything but letters, digits, `.`, `-` and `_` replaced.
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "upload.csv".to_owned()
    } else {
        cleaned.chars().take(100).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploaded_name_never_leaves_the_uploads_directory() {
        assert_eq!(safe_file_name("jobs.csv"), "jobs.csv");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\feeds\\求人.csv"), "__.csv");
        assert_eq!(safe_file_name(".."), "upload.csv");
        assert_eq!(safe_file_name(""), "upload.csv");
    }
}

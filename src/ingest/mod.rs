//! Importing input files (SPEC §2): the job feed, users, actions, masters and keywords.
//!
//! Each importer reads a file once, checks every row at the edge into domain types,
//! collects row problems in an [`ImportReport`], and hands the whole result to the
//! [`Store`] in one call, which commits it in one transaction with the report. A file
//! whose header lacks a required column is rejected before anything is written.

pub mod actions;
pub mod codes;
pub mod jobs;
pub mod masters;
pub mod source;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::domain::time::Micros;
use crate::domain::{ImportReport, TimeZoneSetting};
use crate::store::{Store, StoreError};
pub use codes::{
    CodeCheck, CodeColumn, CodedValues, UnknownCodeUse, UnknownCodes, unknown_codes_in_use,
};
pub use source::EncodingChoice;
use source::{CsvSource, Header, Row, RowShape};

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (no header row)")]
    Empty { path: PathBuf },
    #[error("{path}: line {line}: malformed CSV: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path}: the header lacks required {kind} column(s) {}; found: {}; \
         hint: columns are matched by exact header name, in any order",
        missing.join(", "),
        found.join(", ")
    )]
    MissingColumns {
        path: PathBuf,
        kind: String,
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error(
        "{path}: cannot tell what kind of file this is from its header ({}); \
         hint: name the kind, e.g. `mailscore import cities {path}`",
        found.join(", ")
    )]
    UnknownKind { path: PathBuf, found: Vec<String> },
    #[error(
        "{path}: {} % of the text cells ({bad_cells} of {text_cells}) are not valid {encoding} \
         ({how}); {hint}",
        percent(*bad_cells, *text_cells)
    )]
    WrongEncoding {
        path: PathBuf,
        encoding: &'static str,
        how: &'static str,
        bad_cells: u64,
        text_cells: u64,
        /// Which encoding looks right, and what to pass.
        hint: String,
    },
    #[error("{path}: not imported, the store refused it: {source}")]
    Store { path: PathBuf, source: StoreError },
    #[error("{path}: the import task failed: {message}")]
    Task { path: PathBuf, message: String },
    #[error("no input files were given")]
    NoFiles,
    #[error(
        "{path}: its header differs from the header of {first}; the files of one snapshot must \
         share one header; hint: import feeds with different headers on different days"
    )]
    HeaderMismatch { path: PathBuf, first: PathBuf },
    #[error(
        "{path}: refused: this feed would deactivate {deactivated} of the {active} active jobs \
         ({percent:.1} %), more than the {max_percent} % allowed, and leave {remaining} active; \
         nothing was imported; hint: a cut-off or partial file? check it (a feed split over \
         files is imported as one snapshot: `mailscore import jobs part1.csv part2.csv`); if the \
         shrink is real, import it with --allow-shrink or raise import.max_shrink_percent"
    )]
    SnapshotShrink {
        path: PathBuf,
        active: u64,
        deactivated: u64,
        remaining: u64,
        percent: f64,
        max_percent: u32,
    },
}

impl IngestError {
    /// The file a rejection is about.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::Empty { path }
            | Self::Csv { path, .. }
            | Self::MissingColumns { path, .. }
            | Self::UnknownKind { path, .. }
            | Self::WrongEncoding { path, .. }
            | Self::Store { path, .. }
            | Self::Task { path, .. }
            | Self::HeaderMismatch { path, .. }
            | Self::SnapshotShrink { path, .. } => Some(path),
            Self::NoFiles => None,
        }
    }
}

/// `part` of `whole` in whole percent, rounded to nearest.
fn percent(part: u64, whole: u64) -> u64 {
    (part * 100 + whole / 2) / whole.max(1)
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    Jobs,
    Users,
    Actions,
    Keywords,
    Prefectures,
    Cities,
    Adjacency,
    Occupations,
    EmploymentTypes,
    SalaryTypes,
    Features,
    /// Any master or keyword file, recognised by its header (files or directories).
    Masters,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jobs => "jobs",
            Self::Users => "users",
            Self::Actions => "actions",
            Self::Keywords => "keywords",
            Self::Prefectures => "prefectures",
            Self::Cities => "cities",
            Self::Adjacency => "adjacency",
            Self::Occupations => "occupations",
            Self::EmploymentTypes => "employment-types",
            Self::SalaryTypes => "salary-types",
            Self::Features => "features",
            Self::Masters => "masters",
        }
    }

    /// Every kind, in the order of [`ImportKind::as_str`]'s names.
    pub const ALL: [ImportKind; 12] = [
        Self::Jobs,
        Self::Users,
        Self::Actions,
        Self::Keywords,
        Self::Prefectures,
        Self::Cities,
        Self::Adjacency,
        Self::Occupations,
        Self::EmploymentTypes,
        Self::SalaryTypes,
        Self::Features,
        Self::Masters,
    ];

    /// The kind named `text` ([`ImportKind::as_str`]).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Recognises a file's kind from its header.
    pub fn detect(header: &Header) -> Option<Self> {
        let has = |name: &str| header.has(name);
        Some(if has("job_id") && has("action_type") {
            Self::Actions
        } else if has("job_id") && (has("application_name") || has("fee")) {
            Self::Jobs
        } else if has("user_id") && has("email") {
            Self::Users
        } else if has("Keyword") && has("Volume") {
            Self::Keywords
        } else if has("adjacent_city_cd") {
            Self::Adjacency
        } else if has("city_cd") && has("pref_cd") {
            Self::Cities
        } else if has("pref_cd") && (has("url_segment") || has("region")) {
            Self::Prefectures
        } else if has("occupation_cd1_v2") {
            Self::Occupations
        } else if has("employment_type_cd") && has("name") {
            Self::EmploymentTypes
        } else if has("salary_type_cd") && has("name") {
            Self::SalaryTypes
        } else if has("feature_cd") {
            Self::Features
        } else {
            return None;
        })
    }
}

/// Reports bytes read so far; the CLI turns this into a progress bar.
pub type ProgressFactory = Arc<dyn Fn(&Path, u64) -> Box<dyn FnMut(u64) + Send> + Send + Sync>;

/// The snapshot guard's default (SPEC §2.1): a feed that would deactivate more than this
/// share of the active jobs is refused unless forced.
pub const DEFAULT_MAX_SHRINK_PERCENT: u32 = 30;

/// How to import.
#[derive(Clone)]
pub struct ImportOptions {
    pub encoding: EncodingChoice,
    pub time_zone: TimeZoneSetting,
    pub progress: Option<ProgressFactory>,
    /// The snapshot guard: a job feed that would deactivate more than this percentage of the
    /// active jobs is refused; `None` lets any feed through (`--allow-shrink`).
    pub max_shrink_percent: Option<u32>,
    /// The names the report gives the files, one per path read, in the same order (an
    /// upload's names as its client gave them); `None`: the paths read.
    pub file_names: Option<Vec<String>>,
}

impl ImportOptions {
    pub fn new(time_zone: TimeZoneSetting) -> Self {
        Self {
            encoding: EncodingChoice::Auto,
            time_zone,
            progress: None,
            max_shrink_percent: Some(DEFAULT_MAX_SHRINK_PERCENT),
            file_names: None,
        }
    }
}

pub(crate) fn now_micros() -> Micros {
    jiff::Timestamp::now().as_microsecond()
}

/// The name the report gives the file `paths[index]`: its name in
/// [`ImportOptions::file_names`], else its path.
pub(crate) fn display_name(paths: &[PathBuf], index: usize, options: &ImportOptions) -> String {
    options
        .file_names
        .as_ref()
        .and_then(|names| names.get(index).cloned())
        .unwrap_or_else(|| paths[index].display().to_string())
}

/// Expands directories into the CSV files they hold (sorted by name); files are kept as given.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| IngestError::Io {
                path: path.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn open_source(path: &Path, options: &ImportOptions) -> Result<CsvSource, IngestError> {
    let progress = options.progress.as_ref().map(|factory| {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        factory(path, size)
    });
    CsvSource::open(path, options.encoding, progress)
}

/// Imports one file as `kind` (for [`ImportKind::Masters`], the kind its header shows).
/// Returns the stored report; a rejected file is an error and changes nothing.
pub async fn import_file(
    store: &dyn Store,
    kind: ImportKind,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let started_at = now_micros();
    let clock = std::time::Instant::now();
    let source = open_source(path, options)?;
    let kind = match kind {
        ImportKind::Masters => {
            ImportKind::detect(&source.header).ok_or_else(|| IngestError::UnknownKind {
                path: path.to_path_buf(),
                found: source.header.named().map(str::to_owned).collect(),
            })?
        }
        other => other,
    };
    let name = options
        .file_names
        .as_ref()
        .and_then(|names| names.first().cloned())
        .unwrap_or_else(|| path.display().to_string());
    let mut report = ImportReport::new(kind.as_str(), &name, started_at);
    report.encoding = source.encoding_name().to_owned();
    let store_error = |source| IngestError::Store {
        path: path.to_path_buf(),
        source,
    };
    let report = match kind {
        ImportKind::Jobs => import_job_sources(store, vec![source], report, options, clock).await?,
        ImportKind::Users => {
            let masters = store.masters().await.map_err(store_error)?;
            let zone = options.time_zone.clone();
            let (users, report) = run_blocking(path, move || {
                users::parse_users(source, &masters, &zone, report)
            })
            .await??;
            store
                .upsert_users(users, timed(report, clock))
                .await
                .map_err(store_error)?
        }
        ImportKind::Actions => {
            let masters = store.masters().await.map_err(store_error)?;
            let zone = options.time_zone.clone();
            let (mut actions, report) = run_blocking(path, move || {
                actions::parse_actions(source, &masters, &zone, report)
            })
            .await??;
            actions::fill_snapshots(store, &mut actions, &options.time_zone)
                .await
                .map_err(store_error)?;
            store
                .append_actions(actions, timed(report, clock))
                .await
                .map_err(store_error)?
        }
        ImportKind::Masters => unreachable!("resolved above"),
        master_kind => {
            let (set, report) = run_blocking(path, move || {
                masters::parse_master(master_kind, source, report)
            })
            .await??;
            store
                .replace_master(set, timed(report, clock))
                .await
                .map_err(store_error)?
        }
    };
    Ok(report)
}

/// Imports one job feed, split over one or more files read in the order given, as one
/// snapshot with one report (SPEC §2.1). Refused as a whole, with nothing written, when a
/// file is unreadable, the headers differ, or the snapshot guard trips.
pub async fn import_jobs(
    store: &dyn Store,
    paths: &[PathBuf],
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let started_at = now_micros();
    let clock = std::time::Instant::now();
    let sources = paths
        .iter()
        .map(|path| open_source(path, options))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = sources.first() else {
        return Err(IngestError::NoFiles);
    };
    let file = (0..paths.len())
        .map(|index| display_name(paths, index, options))
        .collect::<Vec<_>>()
        .join(", ");
    let mut report = ImportReport::new(ImportKind::Jobs.as_str(), &file, started_at);
    report.encoding = first.encoding_name().to_owned();
    import_job_sources(store, sources, report, options, clock).await
}

async fn import_job_sources(
    store: &dyn Store,
    sources: Vec<CsvSource>,
    report: ImportReport,
    options: &ImportOptions,
    clock: std::time::Instant,
) -> Result<ImportReport, IngestError> {
    let Some(path) = sources.first().map(|s| s.path.clone()) else {
        return Err(IngestError::NoFiles);
    };
    let store_error = |source| IngestError::Store {
        path: path.clone(),
        source,
    };
    let masters = store.masters().await.map_err(store_error)?;
    let packer = store
        .row_packer(sources[0].header.names())
        .await
        .map_err(store_error)?;
    let zone = options.time_zone.clone();
    let paths: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
    let names: Vec<String> = (0..paths.len())
        .map(|index| display_name(&paths, index, options))
        .collect();
    let (mut snapshot, report) = run_blocking(&path, move || {
        jobs::parse_jobs(sources, &names, &masters, &zone, report, packer)
    })
    .await??;
    snapshot.max_deactivated_percent = options.max_shrink_percent;
    match store
        .replace_job_snapshot(snapshot, timed(report, clock))
        .await
    {
        Ok(report) => Ok(report),
        Err(StoreError::SnapshotShrink {
            active,
            deactivated,
            max_percent,
        }) => Err(IngestError::SnapshotShrink {
            path,
            active,
            deactivated,
            remaining: active - deactivated,
            percent: deactivated as f64 * 100.0 / active as f64,
            max_percent,
        }),
        Err(source) => Err(store_error(source)),
    }
}

/// Sets the time spent reading and checking the file (the commit that follows is not in it).
fn timed(mut report: ImportReport, clock: std::time::Instant) -> ImportReport {
    report.duration_ms = clock.elapsed().as_millis() as u64;
    report
}

async fn run_blocking<T: Send + 'static>(
    path: &Path,
    task: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(task)
        .await
        .map_err(|error| IngestError::Task {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
}

/// Checks a non-blank row's shape against the header (SPEC §2.1), at the top of every
/// importer's row loop: a row cut off by the end of the file, or with more fields than the
/// header, is skipped and reported, and `false` says so.
pub(crate) fn row_is_usable(row: &Row, report: &mut ImportReport) -> bool {
    let message = match row.shape {
        RowShape::Complete | RowShape::Short { .. } => return true,
        RowShape::CutOff => "unusable row: cut off by the end of the file (inside a quoted \
                             field, or short of fields with no line break after it); the file \
                             looks truncated"
            .to_owned(),
        RowShape::Long { fields, header } => {
            format!("unusable row: {fields} fields, the header has {header}")
        }
    };
    report.skip_row(row.line, None, None, message);
    false
}

/// Warns about what is wrong with a row that the importer keeps (a skipped row is reported
/// for why it was skipped, not also for this): fewer fields than the header, and each cell
/// that is not valid in the file's encoding (below the share that refuses the whole file).
pub(crate) fn report_row_warnings(row: &Row, names: &[String], report: &mut ImportReport) {
    if let RowShape::Short { fields, header } = row.shape {
        report.warn_row(
            row.line,
            format!("{fields} fields, the header has {header}; the missing cells are no value"),
        );
    }
    for &position in &row.bad_text {
        let column = names.get(position).map_or("?", String::as_str);
        let value = String::from_utf8_lossy(row.bytes(Some(position))).into_owned();
        let message = if report.encoding == encoding_rs::UTF_8.name() {
            "not valid UTF-8 (the bad bytes read as U+FFFD); hint: pass --encoding shift_jis \
             if the file is Shift_JIS"
                .to_owned()
        } else {
            format!(
                "not valid {} (the bad bytes read as U+FFFD); hint: pass --encoding utf-8 if \
                 the file is UTF-8",
                report.encoding
            )
        };
        report.warn(row.line, column, &value, message);
    }
}

/// Lists the header's columns that the importer of `known` does not interpret.
pub(crate) fn unknown_columns(header: &Header, known: &[&str]) -> Vec<String> {
    header
        .named()
        .filter(|name| !known.contains(name))
        .map(str::to_owned)
        .collect()
}

//! The demo's steps: a generated dataset in the data directory, imported once, and what
//! the day's run made of it.

use std::path::{Path, PathBuf};

use super::ServiceError;
use crate::config::Settings;
use crate::domain::batch::RunRecord;
use crate::domain::{ImportReport, Severity};
use crate::generate::{GenerateOptions, GenerateSummary, generate};
use crate::ingest::ImportKind;
use crate::store::Store;

/// Where the demo keeps its dataset: `DATA_DIR/demo-dataset`.
pub fn dataset_dir(settings: &Settings) -> PathBuf {
    settings.data_dir.join("demo-dataset")
}

/// Whether the dataset in `dir` is still to be generated (its last file is missing).
pub fn needs_dataset(dir: &Path) -> bool {
    !dir.join("actions.csv").exists()
}

/// Generates the dataset into `dir`.
pub fn generate_dataset(
    options: &GenerateOptions,
    dir: &Path,
) -> Result<GenerateSummary, ServiceError> {
    generate(options, dir).map_err(|source| ServiceError::Generate {
        path: dir.to_path_buf(),
        source,
    })
}

/// What the demo imports from its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoImports {
    /// True when the store held no job yet: the jobs, users and actions are imported;
    /// otherwise only today's feed, over the stored users and actions.
    pub fresh: bool,
    pub files: Vec<(ImportKind, PathBuf)>,
}

/// Which of the dataset's files in `dir` the demo imports into `store`.
pub async fn plan_demo_imports(store: &dyn Store, dir: &Path) -> Result<DemoImports, ServiceError> {
    let fresh = store.job_counts().await?.total == 0;
    let files: &[(ImportKind, &str)] = if fresh {
        &[
            (ImportKind::Jobs, "jobs.csv"),
            (ImportKind::Users, "users.csv"),
            (ImportKind::Actions, "actions.csv"),
        ]
    } else {
        &[(ImportKind::Jobs, "jobs.csv")]
    };
    Ok(DemoImports {
        fresh,
        files: files
            .iter()
            .map(|(kind, file)| (*kind, dir.join(file)))
            .collect(),
    })
}

/// The rows of a users import skipped for their address.
pub fn invalid_addresses(report: &ImportReport) -> u64 {
    report
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error && i.column.as_deref() == Some("email"))
        .count() as u64
}

/// Who of the stored users got an email from a run, and why the others did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    /// Users stored (the suppressed ones included).
    pub users: u64,
    pub emails: u64,
    pub without_email: u64,
    /// Each reason the run record counts, with its number of users (zeros included).
    pub reasons: Vec<(&'static str, u64)>,
    /// Users without an email that no reason counts (matching or rendering failed).
    pub unexplained: u64,
    /// Rows of the users file skipped for an invalid address, when known.
    pub invalid_addresses: Option<u64>,
}

/// Who got an email from `run` (`emails` queued), from the run record's counts.
pub fn recipients(run: &RunRecord, emails: u64, invalid_addresses: Option<u64>) -> Recipients {
    let count = |phase: &str, key: &str| {
        run.phases
            .iter()
            .find(|p| p.name == phase)
            .and_then(|p| p.counts.get(key).copied())
            .unwrap_or(0)
    };
    let suppressed = count("load", "suppressed_users");
    let users = count("load", "users") + suppressed;
    let reasons = vec![
        ("inactive", count("load", "inactive_users")),
        ("unsubscribed", count("load", "unsubscribed_users")),
        ("on the suppression list", suppressed),
        (
            "no eligible job matched",
            count("picks", "users_without_picks"),
        ),
    ];
    let explained: u64 = reasons.iter().map(|(_, n)| n).sum();
    let without_email = users.saturating_sub(emails);
    Recipients {
        users,
        emails,
        without_email,
        reasons,
        unexplained: without_email.saturating_sub(explained),
        invalid_addresses,
    }
}

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

/// The file of the demo's admin: its address on the first line, its password on the
/// second (mode 0600), made by the first demo of a data directory and read by the next.
pub const DEMO_ADMIN_FILE: &str = "demo-admin.txt";

/// The address of the demo's admin.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.mailscore.invalid";

/// The demo's admin: read from `DATA_DIR/demo-admin.txt`, or made with a random password
/// and written there. `serve` creates the account from it while the store has none.
pub fn demo_admin(
    settings: &Settings,
) -> Result<crate::service::accounts::FirstAdmin, ServiceError> {
    let path = settings.data_dir.join(DEMO_ADMIN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut lines = text.lines();
        if let (Some(email), Some(password)) = (lines.next(), lines.next()) {
            return Ok(crate::service::accounts::FirstAdmin {
                email: email.to_owned(),
                password: password.to_owned(),
            });
        }
    }
    use rand::Rng;
    let password: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let write = |path: &Path| -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        writeln!(file, "{DEMO_ADMIN_EMAIL}\n{password}")
    };
    write(&path).map_err(|source| ServiceError::Generate {
        path: path.clone(),
        source,
    })?;
    Ok(crate::service::accounts::FirstAdmin {
        email: DEMO_ADMIN_EMAIL.to_owned(),
        password,
    })
}

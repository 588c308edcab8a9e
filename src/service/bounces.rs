//! Bounces and complaints: every input's events stored through one use
//! ([`record_events`]), which suppresses what the domain's rule says; the listing; and the
//! drop folder of RFC 3464 DSN files (`DATA_DIR/bounces/`), imported by `serve`
//! periodically and by `mailscore bounces import`.

use std::path::{Path, PathBuf};

use super::ServiceError;
use crate::bounces::{BounceInputError, ParsedEvents, dsn};
use crate::domain::bounce::{SoftBounceRule, StoredBounce};
use crate::domain::time::Micros;
use crate::store::{BounceFilter, Store};

/// The drop folder's name inside the data directory.
pub const DROP_DIR_NAME: &str = "bounces";
/// Where imported files are moved, inside the drop folder.
pub const DONE_DIR_NAME: &str = "done";
/// Where unparseable files are moved, each with a `.reason.txt` beside it.
pub const REJECTED_DIR_NAME: &str = "rejected";
/// The largest DSN file read; a larger one is rejected unread.
pub const MAX_DSN_BYTES: u64 = 10 * 1024 * 1024;

/// What storing a batch of events did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceReport {
    /// The events stored, in the input's order.
    pub stored: Vec<StoredBounce>,
    /// Events already stored under the same source id.
    pub duplicates: u64,
    /// Entries of the input that are not bounces or complaints.
    pub ignored: u64,
    /// Queued emails marked `suppressed`.
    pub emails_suppressed: u64,
}

impl BounceReport {
    /// The addresses this batch put on the suppression list.
    pub fn suppressed(&self) -> impl Iterator<Item = &StoredBounce> {
        self.stored.iter().filter(|b| b.suppressed.is_some())
    }
}

/// Stores what a parser read; see `BounceStore::record_bounces` for the rule.
pub async fn record_events(
    store: &dyn Store,
    parsed: ParsedEvents,
    rule: SoftBounceRule,
    received_at: Micros,
) -> Result<BounceReport, ServiceError> {
    if parsed.events.is_empty() {
        return Ok(BounceReport {
            ignored: parsed.ignored,
            ..BounceReport::default()
        });
    }
    let batch = store
        .record_bounces(parsed.events, rule, received_at)
        .await?;
    Ok(BounceReport {
        stored: batch.stored,
        duplicates: batch.duplicates,
        ignored: parsed.ignored,
        emails_suppressed: batch.emails_suppressed,
    })
}

/// A page of stored events, newest first, and how many the filter keeps.
pub async fn list_bounces(
    store: &dyn Store,
    filter: &BounceFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<StoredBounce>, u64), ServiceError> {
    Ok(store.bounces(filter, offset, limit).await?)
}

/// What became of one file of the drop folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsnFileOutcome {
    /// Stored, and moved to `done/`.
    Imported(BounceReport),
    /// Not a DSN mailscore can read: moved to `rejected/` with the reason beside it.
    Rejected(BounceInputError),
}

/// One file of a drop-folder import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnFile {
    pub name: String,
    pub outcome: DsnFileOutcome,
}

/// What an import of the drop folder did, file by file, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsnImport {
    pub dir: PathBuf,
    pub files: Vec<DsnFile>,
}

impl DsnImport {
    pub fn rejected(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.outcome, DsnFileOutcome::Rejected(_)))
            .count()
    }
}

/// The drop folder of a data directory.
pub fn drop_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DROP_DIR_NAME)
}

/// Imports every `*.eml` file directly in `dir`, in name order: each file's events are
/// stored (one transaction per file) before the file moves to `done/`, so a crash in
/// between imports it again next time, which its DSN's `Message-ID` makes a duplicate. A
/// file that does not parse moves to `rejected/` with `NAME.reason.txt`. A missing `dir`
/// is an empty import.
pub async fn import_dsn_dir(
    store: &dyn Store,
    dir: &Path,
    rule: SoftBounceRule,
    now: Micros,
) -> Result<DsnImport, ServiceError> {
    let mut import = DsnImport {
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(import),
        Err(error) => return Err(io_error(dir, "reading the bounce folder", error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| io_error(dir, "reading the bounce folder", error))?;
        let path = entry.path();
        let is_eml = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("eml"));
        if is_eml && entry.file_type().is_ok_and(|t| t.is_file()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let outcome = match read_dsn_file(&path) {
            Ok(bytes) => match dsn::parse_dsn(&bytes, now) {
                Ok(parsed) => {
                    DsnFileOutcome::Imported(record_events(store, parsed, rule, now).await?)
                }
                Err(error) => DsnFileOutcome::Rejected(error),
            },
            Err(error) => DsnFileOutcome::Rejected(error),
        };
        match &outcome {
            DsnFileOutcome::Imported(_) => move_into(dir, DONE_DIR_NAME, &name, None)?,
            DsnFileOutcome::Rejected(error) => move_into(
                dir,
                REJECTED_DIR_NAME,
                &name,
                Some(format!("{error}\nhint: {}\n", error.hint)),
            )?,
        }
        import.files.push(DsnFile { name, outcome });
    }
    Ok(import)
}

fn read_dsn_file(path: &Path) -> Result<Vec<u8>, BounceInputError> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_DSN_BYTES {
        return Err(BounceInputError::new(
            "file",
            format!("is {size} bytes, more than {MAX_DSN_BYTES}"),
            "a delivery-status notification is a few kilobytes; this is not one",
        ));
    }
    std::fs::read(path).map_err(|error| {
        BounceInputError::new(
            "file",
            format!("cannot be read: {error}"),
            "check the file's permissions",
        )
    })
}

/// Moves `dir/name` into `dir/sub/`, never over a file of the same name there (a suffix
/// keeps both), with `reason` written beside it when given.
fn move_into(
    dir: &Path,
    sub: &str,
    name: &str,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let target_dir = dir.join(sub);
    std::fs::create_dir_all(&target_dir)
        .map_err(|error| io_error(&target_dir, "creating the folder", error))?;
    let mut target = target_dir.join(name);
    let mut n = 1;
    while target.exists() {
        target = target_dir.join(format!("{name}.{n}"));
        n += 1;
    }
    if let Some(reason) = reason {
        let mut reason_path = target.clone().into_os_string();
        reason_path.push(".reason.txt");
        let reason_path = PathBuf::from(reason_path);
        std::fs::write(&reason_path, reason)
            .map_err(|error| io_error(&reason_path, "writing the reason", error))?;
    }
    let source = dir.join(name);
    std::fs::rename(&source, &target).map_err(|error| io_error(&source, "moving the file", error))
}

fn io_error(path: &Path, action: &str, error: std::io::Error) -> ServiceError {
    ServiceError::Io(std::io::Error::new(
        error.kind(),
        format!("{action} {}: {error}", path.display()),
    ))
}

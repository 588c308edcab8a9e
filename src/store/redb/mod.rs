//! The embedded [`Store`](super::Store): one redb database file (`mailscore.redb`) in the data directory.
//!
//! Tables and what they hold:
//! - `meta`: schema version and counters (`snapshot_seq`, `job_total`, `action_count`, `next_report_id`);
//! - `job_rows`: job id → current snapshot sequence number (8 bytes LE) + encoded full row
//!   ([`RowEncoder`]: codec byte, header id, zstd frame); a
//!   job is active exactly when its sequence number is the current one, so a snapshot that
//!   leaves a job out deactivates it without touching it;
//! - `feed_headers`: header id → the feed's column names (postcard);
//! - `job_snapshot`: `"columns"` → the current snapshot's [`JobColumns`] blob;
//! - `users`: user id → [`User`] (postcard);
//! - `action_days`: UTC day number → that day's [`ActionColumns`] blob, sorted by identity;
//! - `masters`: kind → [`MasterSet`] (postcard), present only for imported kinds;
//! - `import_reports`: report id → [`ImportReport`] (JSON);
//! - `job_scores`: date number → that date's [`JobScoreTable`] blob (LZ4);
//! - `picks`: (date number, user id) → that user's [`UserPicks`] (postcard);
//! - `runs`: run id → [`RunRecord`] (JSON);
//! - `emails`: (date number, user id) → [`QueuedEmail`] (postcard, bodies LZ4);
//! - `day_checkpoints`: date number → the [`DayCheckpoint`] of that date's unfinished run
//!   (postcard);
//! - `suppressions`: email address → its [`Suppression`] (postcard);
//! - `row_dictionaries`: feed header id → the zstd dictionary its rows are compressed with;
//! - `accounts`: account id → [`Account`](crate::domain::account::Account) (postcard);
//! - `account_emails`: lower-cased email address → account id (the address index);
//! - `api_tokens`: token id → [`ApiToken`](crate::domain::account::ApiToken) (postcard);
//! - `api_token_hashes`: token hash (hex) → token id (the lookup of a bearer token);
//! - `bounces`: event id → [`StoredBounce`](crate::domain::bounce::StoredBounce) (JSON, so
//!   that fields added later read in older records);
//! - `bounce_source_ids`: `source/source id` → event id (a webhook delivered twice is
//!   stored once);
//! - `soft_bounces`: (lower-cased address, occurred at, event id) → nothing: the window
//!   count of an address's soft bounces is one range;
//! - `user_consents`: user id → the user's [`Consent`](crate::domain::Consent) (postcard;
//!   beside `users`, whose stored form predates it, so older users read unchanged).
//!
//! `meta` also holds `next_account_id`, `next_token_id` and `next_bounce_id`. Tables added after a schema
//! version need no migration: [`RedbStore::initialise`] creates any missing one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};

use super::OperationTimer;
use super::{
    ActionStore, EmailQueue, EmailUpdate, ImportLog, ImportSummary, JobCounts, JobSnapshot,
    JobStore, Maintenance, PackedRow, PurgeCounts, RetentionLimits, RowPacker, RunStore,
    SCHEMA_VERSION, StorageStats, StoreError, UserStore,
};
use crate::domain::action::{ActionColumns, ActionColumnsBuilder, ActionDay};
use crate::domain::batch::{DayCheckpoint, JobScoreTable, QueuedEmail, RunRecord, UserPicks};
use crate::domain::batch::{DeliveryPause, EmailAttempt, EmailStatus};
use crate::domain::job::JobRow;
use crate::domain::master::{MasterKind, MasterSet};
use crate::domain::time::{Micros, days_from_civil, utc_day};
use crate::domain::value::is_null;
use crate::domain::{
    EmailAddress, ImportReport, JobColumns, JobId, JobRecord, Masters, Suppression, User, UserId,
};
use codec::{
    DICTIONARY_SAMPLES, Lz4ActionDay, RowEncoder, ZstdRowPacker, decode_job_columns,
    decode_job_ids, decode_job_row, decode_job_scores, decode_lz4_job_row, encode_job_columns,
    encode_job_scores, header_id, job_row_header_id, job_row_uses_dictionary, pack_action_day,
    train_row_dictionary, unpack_action_day,
};
use jiff::civil::Date;

mod accounts;
mod bounces;
pub mod codec;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const JOB_ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("job_rows");
const FEED_HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("feed_headers");
const JOB_SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("job_snapshot");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const ACTION_DAYS: TableDefinition<i64, &[u8]> = TableDefinition::new("action_days");
const MASTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("masters");
const IMPORT_REPORTS: TableDefinition<u64, &[u8]> = TableDefinition::new("import_reports");
const JOB_SCORES: TableDefinition<i32, &[u8]> = TableDefinition::new("job_scores");
const PICKS: TableDefinition<(i32, &str), &[u8]> = TableDefinition::new("picks");
const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");
const EMAILS: TableDefinition<(i32, &str), &[u8]> = TableDefinition::new("emails");
const DAY_CHECKPOINTS: TableDefinition<i32, &[u8]> = TableDefinition::new("day_checkpoints");
const SUPPRESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("suppressions");
const ROW_DICTIONARIES: TableDefinition<u64, &[u8]> = TableDefinition::new("row_dictionaries");
const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
const ACCOUNT_EMAILS: TableDefinition<&str, u64> = TableDefinition::new("account_emails");
const API_TOKENS: TableDefinition<u64, &[u8]> = TableDefinition::new("api_tokens");
const API_TOKEN_HASHES: TableDefinition<&str, u64> = TableDefinition::new("api_token_hashes");
/// Every SMTP attempt of an email, keyed like `EMAILS`: a postcard `Vec<EmailAttempt>`.
/// Made on first use, so stores made before it need no migration.
const EMAIL_ATTEMPTS: TableDefinition<(i32, &str), &[u8]> = TableDefinition::new("email_attempts");
const BOUNCES: TableDefinition<u64, &[u8]> = TableDefinition::new("bounces");
const USER_CONSENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("user_consents");
const BOUNCE_SOURCE_IDS: TableDefinition<&str, u64> = TableDefinition::new("bounce_source_ids");
const SOFT_BOUNCES: TableDefinition<(&str, i64, u64), ()> = TableDefinition::new("soft_bounces");

/// Every table [`RedbStore::initialise`] creates: a store missing one is brought up to date.
const TABLE_NAMES: &[&str] = &[
    "meta",
    "job_rows",
    "feed_headers",
    "job_snapshot",
    "users",
    "action_days",
    "masters",
    "import_reports",
    "job_scores",
    "picks",
    "runs",
    "emails",
    "day_checkpoints",
    "suppressions",
    "row_dictionaries",
    "accounts",
    "account_emails",
    "api_tokens",
    "api_token_hashes",
    "bounces",
    "bounce_source_ids",
    "soft_bounces",
    "user_consents",
];

const KEY_SCHEMA_VERSION: &str = "schema_version";
const KEY_SNAPSHOT_SEQ: &str = "snapshot_seq";
const KEY_JOB_TOTAL: &str = "job_total";
const KEY_ACTION_COUNT: &str = "action_count";
/// The pause of sending in force (postcard `DeliveryPause`); absent when sending goes on.
const KEY_DELIVERY_PAUSE: &str = "delivery_pause";
const KEY_NEXT_REPORT_ID: &str = "next_report_id";
const KEY_NEXT_RUN_ID: &str = "next_run_id";
const KEY_RUN_LOCK: &str = "run_lock";
const KEY_COLUMNS: &str = "columns";

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "mailscore.redb";

/// Default size of redb's page cache.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Migrations from schema version `n` (the index + 1) to `n + 1`, run in the transaction
/// that opens the store; a new schema appends its step here and bumps [`SCHEMA_VERSION`].
type Migration = fn(&redb::WriteTransaction) -> Result<(), StoreError>;
const MIGRATIONS: &[Migration] = &[migrate_rows_to_zstd];

/// Schema 1 → 2: feed rows were LZ4 with the header id inside; they become zstd with a
/// dictionary per feed header, trained on the stored rows, and the header id outside.
fn migrate_rows_to_zstd(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let corrupt = |job_id: u64| {
        move |source| StoreError::Corrupt {
            what: format!("job {job_id} (migrating to schema 2)"),
            source,
        }
    };
    let split = |job_id: u64, bytes: &[u8]| -> Result<(u64, Vec<String>), StoreError> {
        let encoded = bytes.get(8..).ok_or(StoreError::Corrupt {
            what: format!("job {job_id} (migrating to schema 2)"),
            source: crate::columnar::ColumnarError::Truncated { what: "job row" },
        })?;
        decode_lz4_job_row(encoded).map_err(corrupt(job_id))
    };
    let mut rows = txn.open_table(JOB_ROWS).ctx("opening job_rows")?;
    let mut samples: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    for entry in rows.iter().ctx("listing job rows")? {
        let (key, value) = entry.ctx("reading a job row")?;
        let (header_id, values) = split(key.value(), value.value())?;
        let header_samples = samples.entry(header_id).or_default();
        if header_samples.len() < DICTIONARY_SAMPLES {
            header_samples.push(
                JobRow::from_values(values.iter().map(String::as_str))
                    .as_packed()
                    .to_vec(),
            );
        }
    }
    let mut dictionaries = txn
        .open_table(ROW_DICTIONARIES)
        .ctx("opening row_dictionaries")?;
    let mut encoders: HashMap<u64, RowEncoder> = HashMap::new();
    for (header_id, header_samples) in samples {
        let dictionary = train_row_dictionary(&header_samples);
        if let Some(dictionary) = &dictionary {
            dictionaries
                .insert(header_id, dictionary.as_slice())
                .ctx("writing a row dictionary")?;
        }
        encoders.insert(header_id, RowEncoder::new(header_id, dictionary.as_deref()));
    }
    // Rewritten in slices of keys, so the table is never held in memory whole.
    let mut from = 0u64;
    loop {
        let mut slice: Vec<(u64, Vec<u8>)> = Vec::new();
        for entry in rows.range(from..).ctx("listing job rows")?.take(10_000) {
            let (key, value) = entry.ctx("reading a job row")?;
            let (job_id, bytes) = (key.value(), value.value());
            let (header_id, values) = split(job_id, bytes)?;
            let encoder = encoders
                .get_mut(&header_id)
                .expect("every header was sampled");
            let mut stored = bytes[..8].to_vec();
            stored.extend(encoder.encode(&JobRow::from_values(values.iter().map(String::as_str))));
            slice.push((job_id, stored));
        }
        let Some(&(last, _)) = slice.last() else {
            break;
        };
        for (job_id, stored) in &slice {
            rows.insert(*job_id, stored.as_slice())
                .ctx("rewriting a job row")?;
        }
        match last.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    Ok(())
}

trait Context<T> {
    fn ctx(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Engine {
            action,
            message: error.to_string(),
        })
    }
}

#[derive(Clone)]
pub struct RedbStore {
    /// Shared by every call; held exclusively only while compacting.
    db: Arc<std::sync::RwLock<Database>>,
    path: PathBuf,
    /// The run-lease holders that took their lease through this handle. Only one process
    /// can have the database file open, so a stored lease of any other holder belongs to a
    /// process that is gone (it crashed, or was killed) and is taken over at once.
    lease_holders: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

fn read_u64(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(table
        .get(key)
        .ctx("reading a counter")?
        .and_then(|guard| guard.value().try_into().ok().map(u64::from_le_bytes))
        .unwrap_or(0))
}

fn write_u64(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    key: &str,
    value: u64,
) -> Result<(), StoreError> {
    table
        .insert(key, value.to_le_bytes().as_slice())
        .ctx("writing a counter")?;
    Ok(())
}

fn to_postcard<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|error| StoreError::Decode {
        what: what.to_owned(),
        message: error.to_string(),
    })
}

fn from_postcard<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|error| StoreError::Decode {
        what: what.to_owned(),
        message: error.to_string(),
    })
}

/// Stores `report` under the next report id, sets the id on it and returns it.
/// The stored run lease: holder and expiry (µs). An unreadable one counts as none.
fn read_lease(
    meta: &redb::Table<'_, &'static str, &'static [u8]>,
) -> Result<Option<(String, Micros)>, StoreError> {
    Ok(meta
        .get(KEY_RUN_LOCK)
        .ctx("reading the run lease")?
        .and_then(|guard| postcard::from_bytes(guard.value()).ok()))
}

fn write_lease(
    meta: &mut redb::Table<'_, &'static str, &'static [u8]>,
    holder: &str,
    expires_at: Micros,
) -> Result<(), StoreError> {
    let bytes = to_postcard(&(holder, expires_at), "run lease")?;
    meta.insert(KEY_RUN_LOCK, bytes.as_slice())
        .ctx("writing the run lease")?;
    Ok(())
}

fn insert_report(
    txn: &redb::WriteTransaction,
    mut report: ImportReport,
) -> Result<ImportReport, StoreError> {
    let mut meta = txn.open_table(META).ctx("opening meta")?;
    let id = read_u64(&meta, KEY_NEXT_REPORT_ID)?.max(1);
    write_u64(&mut meta, KEY_NEXT_REPORT_ID, id + 1)?;
    report.id = id;
    let json = serde_json::to_vec(&report).map_err(|error| StoreError::Decode {
        what: "import report".into(),
        message: error.to_string(),
    })?;
    txn.open_table(IMPORT_REPORTS)
        .ctx("opening import_reports")?
        .insert(id, json.as_slice())
        .ctx("writing an import report")?;
    Ok(report)
}

impl RedbStore {
    /// Opens (creating if needed) the database in `data_dir`, migrating an older schema.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(data_dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (creating if needed, with `data_dir`) the database in `data_dir`, with a page
    /// cache of `cache_bytes`.
    pub fn open_with_cache(data_dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = data_dir.join(DATABASE_FILE);
        std::fs::create_dir_all(data_dir).map_err(|error| StoreError::Open {
            path: path.display().to_string(),
            message: format!("cannot create the data directory: {error}"),
        })?;
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path);
        Self::from_database(db, path)
    }

    /// Opens the database that must already be in `data_dir`, migrating an older schema;
    /// [`StoreError::Missing`] when there is none, and then nothing is created: a mistyped
    /// data directory must not become a new, empty store.
    pub fn open_existing(data_dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = data_dir.join(DATABASE_FILE);
        if !path.exists() {
            return Err(StoreError::Missing {
                data_dir: data_dir.to_path_buf(),
                path,
            });
        }
        // `open` (unlike `create`) fails rather than creating a file removed meanwhile.
        let db = Database::builder().set_cache_size(cache_bytes).open(&path);
        Self::from_database(db, path)
    }

    fn from_database(
        db: Result<Database, redb::DatabaseError>,
        path: PathBuf,
    ) -> Result<Self, StoreError> {
        let db = db.map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: path.display().to_string(),
            },
            other => StoreError::Open {
                path: path.display().to_string(),
                message: other.to_string(),
            },
        })?;
        let store = Self {
            db: Arc::new(std::sync::RwLock::new(db)),
            path,
            lease_holders: Arc::default(),
        };
        store.initialise()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store already has the current schema and every table, read without a
    /// write transaction.
    fn is_current(db: &Database) -> Result<bool, StoreError> {
        let txn = db.begin_read().ctx("beginning the schema check")?;
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(error) => return Err(error).ctx("opening meta"),
        };
        let found = meta
            .get(KEY_SCHEMA_VERSION)
            .ctx("reading the schema version")?
            .and_then(|guard| guard.value().try_into().ok().map(u32::from_le_bytes));
        if found != Some(SCHEMA_VERSION) {
            return Ok(false);
        }
        let names: std::collections::HashSet<String> = txn
            .list_tables()
            .ctx("listing tables")?
            .map(|handle| handle.name().to_owned())
            .collect();
        Ok(TABLE_NAMES.iter().all(|name| names.contains(*name)))
    }

    fn initialise(&self) -> Result<(), StoreError> {
        let db = self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Opening a current store writes nothing. A write here would also grow a compacted
        // file (redb doubles a file with no free page for the copy-on-write) until the
        // process ends, and `status` would report that transient size.
        if Self::is_current(&db)? {
            return Ok(());
        }
        let txn = db.begin_write().ctx("beginning the schema check")?;
        {
            let mut meta = txn.open_table(META).ctx("opening meta")?;
            let found = meta
                .get(KEY_SCHEMA_VERSION)
                .ctx("reading the schema version")?
                .and_then(|guard| guard.value().try_into().ok().map(u32::from_le_bytes));
            match found {
                None => {}
                Some(version) if version > SCHEMA_VERSION => {
                    return Err(StoreError::NewerSchema {
                        path: self.path.display().to_string(),
                        found: version,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(version) => {
                    for migration in &MIGRATIONS[(version as usize).saturating_sub(1)..] {
                        migration(&txn)?;
                    }
                }
            }
            meta.insert(KEY_SCHEMA_VERSION, SCHEMA_VERSION.to_le_bytes().as_slice())
                .ctx("writing the schema version")?;
        }
        txn.open_table(JOB_ROWS).ctx("creating job_rows")?;
        txn.open_table(FEED_HEADERS).ctx("creating feed_headers")?;
        txn.open_table(JOB_SNAPSHOT).ctx("creating job_snapshot")?;
        txn.open_table(USERS).ctx("creating users")?;
        txn.open_table(ACTION_DAYS).ctx("creating action_days")?;
        txn.open_table(MASTERS).ctx("creating masters")?;
        txn.open_table(IMPORT_REPORTS)
            .ctx("creating import_reports")?;
        txn.open_table(JOB_SCORES).ctx("creating job_scores")?;
        txn.open_table(PICKS).ctx("creating picks")?;
        txn.open_table(RUNS).ctx("creating runs")?;
        txn.open_table(EMAILS).ctx("creating emails")?;
        txn.open_table(DAY_CHECKPOINTS)
            .ctx("creating day_checkpoints")?;
        txn.open_table(SUPPRESSIONS).ctx("creating suppressions")?;
        txn.open_table(ROW_DICTIONARIES)
            .ctx("creating row_dictionaries")?;
        txn.open_table(ACCOUNTS).ctx("creating accounts")?;
        txn.open_table(ACCOUNT_EMAILS)
            .ctx("creating account_emails")?;
        txn.open_table(API_TOKENS).ctx("creating api_tokens")?;
        txn.open_table(API_TOKEN_HASHES)
            .ctx("creating api_token_hashes")?;
        txn.open_table(BOUNCES).ctx("creating bounces")?;
        txn.open_table(BOUNCE_SOURCE_IDS)
            .ctx("creating bounce_source_ids")?;
        txn.open_table(SOFT_BOUNCES).ctx("creating soft_bounces")?;
        txn.open_table(USER_CONSENTS)
            .ctx("creating user_consents")?;
        txn.commit().ctx("committing the schema")?;
        Ok(())
    }

    /// Runs `task` on the blocking pool; the process's operation timer, when it has one, is
    /// told how long it took as `operation` (the trait method's name).
    async fn run<T, F>(&self, operation: &'static str, task: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let _timed = OperationTimer::start(operation);
        tokio::task::spawn_blocking(move || {
            task(&db.read().unwrap_or_else(std::sync::PoisonError::into_inner))
        })
        .await
        .map_err(|error| StoreError::Engine {
            action: "running a storage task",
            message: error.to_string(),
        })?
    }
}

fn replace_job_snapshot(
    db: &Database,
    snapshot: JobSnapshot,
    mut report: ImportReport,
) -> Result<ImportReport, StoreError> {
    let header_id = snapshot.packing.header_id;
    let txn = db.begin_write().ctx("beginning the job import")?;
    {
        let mut meta = txn.open_table(META).ctx("opening meta")?;
        let seq = read_u64(&meta, KEY_SNAPSHOT_SEQ)? + 1;
        let mut job_total = read_u64(&meta, KEY_JOB_TOTAL)?;

        let mut headers = txn.open_table(FEED_HEADERS).ctx("opening feed_headers")?;
        let encoded_headers = to_postcard(&snapshot.headers, "feed header")?;
        let existing = headers
            .get(header_id)
            .ctx("reading a feed header")?
            .map(|g| g.value().to_vec());
        match existing {
            Some(stored) if stored != encoded_headers => {
                return Err(StoreError::HeaderCollision { header_id });
            }
            Some(_) => {}
            None => {
                headers
                    .insert(header_id, encoded_headers.as_slice())
                    .ctx("writing a feed header")?;
            }
        }

        let mut dictionaries = txn
            .open_table(ROW_DICTIONARIES)
            .ctx("opening row_dictionaries")?;
        if let Some(dictionary) = &snapshot.packing.new_dictionary {
            if dictionaries
                .get(header_id)
                .ctx("reading a row dictionary")?
                .is_some()
            {
                return Err(StoreError::Decode {
                    what: "the job feed".into(),
                    message: format!(
                        "another import stored a row dictionary for its header {:#x} meanwhile; import the file again",
                        header_id
                    ),
                });
            }
            dictionaries
                .insert(header_id, dictionary.as_slice())
                .ctx("writing a row dictionary")?;
        }
        // Rows the packer passed through plain (the ones its dictionary was trained on)
        // are compressed here, with the dictionary of their header.
        let dictionary = dictionaries
            .get(header_id)
            .ctx("reading a row dictionary")?
            .map(|guard| guard.value().to_vec());
        drop(dictionaries);
        let mut encoder = RowEncoder::new(header_id, dictionary.as_deref());

        let mut columns_table = txn.open_table(JOB_SNAPSHOT).ctx("opening job_snapshot")?;
        let previous_ids: Vec<u64> = match columns_table
            .get(KEY_COLUMNS)
            .ctx("reading the previous snapshot")?
        {
            Some(guard) => decode_job_ids(guard.value()).map_err(|source| StoreError::Corrupt {
                what: "job snapshot".into(),
                source,
            })?,
            None => Vec::new(),
        };

        let new_ids = &snapshot.columns.job_id;
        let deactivated = previous_ids
            .iter()
            .filter(|id| new_ids.binary_search(id).is_err())
            .count() as u64;
        let active = previous_ids.len() as u64;
        if let Some(max_percent) = snapshot.max_deactivated_percent
            && deactivated * 100 > u64::from(max_percent) * active
        {
            // Dropping the transaction uncommitted leaves the store as it was.
            return Err(StoreError::SnapshotShrink {
                active,
                deactivated,
                max_percent,
            });
        }
        report.add_count("jobs_deactivated", deactivated);

        let mut rows = txn.open_table(JOB_ROWS).ctx("opening job_rows")?;
        let mut value = Vec::with_capacity(4096);
        // Each row is dropped once written, so the feed is not held twice at the commit.
        for (job_id, row) in snapshot.rows {
            value.clear();
            value.extend_from_slice(&seq.to_le_bytes());
            match row {
                PackedRow::Encoded(encoded) => value.extend_from_slice(&encoded),
                PackedRow::Plain(row) => value.extend_from_slice(&encoder.encode(&row)),
            }
            if rows
                .insert(job_id, value.as_slice())
                .ctx("writing a job")?
                .is_none()
            {
                job_total += 1;
            }
        }

        columns_table
            .insert(
                KEY_COLUMNS,
                encode_job_columns(&snapshot.columns).as_slice(),
            )
            .ctx("writing the job snapshot")?;
        write_u64(&mut meta, KEY_SNAPSHOT_SEQ, seq)?;
        write_u64(&mut meta, KEY_JOB_TOTAL, job_total)?;
    }
    let report = insert_report(&txn, report)?;
    txn.commit().ctx("committing the job import")?;
    Ok(report)
}

fn job_columns(db: &Database) -> Result<JobColumns, StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let table = txn.open_table(JOB_SNAPSHOT).ctx("opening job_snapshot")?;
    match table.get(KEY_COLUMNS).ctx("reading the job snapshot")? {
        Some(guard) => decode_job_columns(guard.value()).map_err(|source| StoreError::Corrupt {
            what: "job snapshot".into(),
            source,
        }),
        None => Ok(JobColumns::new()),
    }
}

fn jobs(db: &Database, ids: &[JobId]) -> Result<Vec<Option<JobRecord>>, StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let seq = read_u64(&txn.open_table(META).ctx("opening meta")?, KEY_SNAPSHOT_SEQ)?;
    let rows = txn.open_table(JOB_ROWS).ctx("opening job_rows")?;
    let headers_table = txn.open_table(FEED_HEADERS).ctx("opening feed_headers")?;
    let dictionaries_table = txn
        .open_table(ROW_DICTIONARIES)
        .ctx("opening row_dictionaries")?;
    let mut headers: HashMap<u64, Vec<String>> = HashMap::new();
    let mut dictionaries: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut records = Vec::with_capacity(ids.len());
    for &job_id in ids {
        let Some(guard) = rows.get(job_id.get()).ctx("reading a job")? else {
            records.push(None);
            continue;
        };
        let bytes = guard.value();
        let corrupt = |source| StoreError::Corrupt {
            what: format!("job {job_id}"),
            source,
        };
        let (row_seq, encoded) = bytes.split_first_chunk::<8>().ok_or(corrupt(
            crate::columnar::ColumnarError::Truncated { what: "job row" },
        ))?;
        let dictionary = if job_row_uses_dictionary(encoded) {
            let header_id = job_row_header_id(encoded).map_err(corrupt)?;
            if let std::collections::hash_map::Entry::Vacant(entry) = dictionaries.entry(header_id)
            {
                let stored = dictionaries_table
                    .get(header_id)
                    .ctx("reading a row dictionary")?
                    .ok_or_else(|| StoreError::Decode {
                        what: format!("job {job_id}"),
                        message: format!(
                            "the row dictionary of its feed header {header_id:#x} is missing"
                        ),
                    })?;
                entry.insert(stored.value().to_vec());
            }
            dictionaries.get(&header_id).map(Vec::as_slice)
        } else {
            None
        };
        let (header_id, values) = decode_job_row(encoded, dictionary).map_err(corrupt)?;
        if let std::collections::hash_map::Entry::Vacant(entry) = headers.entry(header_id) {
            let stored = headers_table
                .get(header_id)
                .ctx("reading a feed header")?
                .ok_or_else(|| StoreError::Decode {
                    what: format!("job {job_id}"),
                    message: format!("its feed header {header_id:#x} is missing"),
                })?;
            entry.insert(from_postcard(stored.value(), "feed header")?);
        }
        let names = &headers[&header_id];
        let columns = names
            .iter()
            .zip(values)
            .map(|(name, value)| (name.clone(), (!is_null(&value)).then_some(value)))
            .collect();
        records.push(Some(JobRecord {
            job_id,
            active: u64::from_le_bytes(*row_seq) == seq,
            columns,
        }));
    }
    Ok(records)
}

fn job_counts(db: &Database) -> Result<JobCounts, StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let total = read_u64(&txn.open_table(META).ctx("opening meta")?, KEY_JOB_TOTAL)?;
    let active = job_columns(db)?.len() as u64;
    Ok(JobCounts { active, total })
}

fn upsert_users(
    db: &Database,
    users: Vec<User>,
    report: ImportReport,
) -> Result<ImportReport, StoreError> {
    let mut report = report;
    let txn = db.begin_write().ctx("beginning the user import")?;
    {
        let mut table = txn.open_table(USERS).ctx("opening users")?;
        let mut consents = txn.open_table(USER_CONSENTS).ctx("opening user_consents")?;
        let (mut inserted, mut updated) = (0u64, 0u64);
        for user in &users {
            match &user.consent {
                Some(consent) => {
                    consents
                        .insert(
                            user.user_id.as_str(),
                            to_postcard(consent, "consent")?.as_slice(),
                        )
                        .ctx("writing a consent")?;
                }
                None => {
                    consents
                        .remove(user.user_id.as_str())
                        .ctx("removing a consent")?;
                }
            }
            let bytes = to_postcard(user, "user")?;
            if table
                .insert(user.user_id.as_str(), bytes.as_slice())
                .ctx("writing a user")?
                .is_some()
            {
                updated += 1;
            } else {
                inserted += 1;
            }
        }
        report.add_count("users_inserted", inserted);
        report.add_count("users_updated", updated);
    }
    let report = insert_report(&txn, report)?;
    txn.commit().ctx("committing the user import")?;
    Ok(report)
}

fn users(db: &Database) -> Result<Vec<User>, StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let table = txn.open_table(USERS).ctx("opening users")?;
    let consents = txn.open_table(USER_CONSENTS).ctx("opening user_consents")?;
    let mut users = Vec::with_capacity(table.len().ctx("counting users")? as usize);
    for entry in table.iter().ctx("listing users")? {
        let (_, value) = entry.ctx("reading a user")?;
        let mut user: User = from_postcard(value.value(), "user")?;
        user.consent = consent_of(&consents, &user.user_id)?;
        users.push(user);
    }
    Ok(users)
}

fn consent_of(
    consents: &impl ReadableTable<&'static str, &'static [u8]>,
    user_id: &UserId,
) -> Result<Option<crate::domain::Consent>, StoreError> {
    consents
        .get(user_id.as_str())
        .ctx("reading a consent")?
        .map(|guard| from_postcard(guard.value(), "consent"))
        .transpose()
}

fn encode_action_day(columns: &ActionColumns) -> Vec<u8> {
    pack_action_day(columns)
}

fn decode_action_day(bytes: &[u8], day: i64) -> Result<ActionColumns, StoreError> {
    unpack_action_day(bytes).map_err(|source| StoreError::Corrupt {
        what: format!("actions of day {day}"),
        source,
    })
}

/// A day after merging: its day number, how many actions were new, its encoded blob.
type MergedDay = (i64, usize, Vec<u8>);

/// How many threads merge and encode days of actions in parallel.
fn merge_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

fn append_actions(
    db: &Database,
    actions: ActionColumns,
    mut report: ImportReport,
) -> Result<ImportReport, StoreError> {
    let txn = db.begin_write().ctx("beginning the action import")?;
    let n_new = merge_actions(&txn, &actions)?;
    report.add_count("already_stored", actions.len() as u64 - n_new);
    report.rows_imported = n_new;
    let report = insert_report(&txn, report)?;
    txn.commit().ctx("committing the action import")?;
    Ok(report)
}

/// Tracked actions: merged like an import's, committed without a report, so the data
/// version stays as it was.
fn record_actions(db: &Database, actions: ActionColumns) -> Result<u64, StoreError> {
    let txn = db.begin_write().ctx("beginning to record actions")?;
    let n_new = merge_actions(&txn, &actions)?;
    txn.commit().ctx("committing recorded actions")?;
    Ok(n_new)
}

/// Merges `actions` into their stored days (each identity once) and counts them in `meta`;
/// returns how many were new.
fn merge_actions(txn: &redb::WriteTransaction, actions: &ActionColumns) -> Result<u64, StoreError> {
    let mut by_day: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (row, &at) in actions.action_at.iter().enumerate() {
        by_day.entry(utc_day(at)).or_default().push(row);
    }
    let mut n_new = 0u64;
    {
        let mut days = txn.open_table(ACTION_DAYS).ctx("opening action_days")?;
        // Reads are sequential (one transaction); merging and encoding run on every core.
        let mut work: Vec<(i64, Vec<usize>, Option<Vec<u8>>)> = Vec::with_capacity(by_day.len());
        for (day, rows) in by_day {
            let stored = days
                .get(day)
                .ctx("reading a day of actions")?
                .map(|guard| guard.value().to_vec());
            work.push((day, rows, stored));
        }
        let n_threads = merge_threads();
        let chunk_len = work.len().div_ceil(n_threads).max(1);
        let merged: Vec<Result<Vec<MergedDay>, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .chunks(chunk_len)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(chunk.len());
                        for (day, rows, stored) in chunk {
                            let mut builder = ActionColumnsBuilder::new();
                            for &row in rows {
                                builder.push(&actions.row(row));
                            }
                            let stored = match stored {
                                Some(bytes) => decode_action_day(bytes, *day)?,
                                None => ActionColumns::default(),
                            };
                            let (merged, added) = stored.merge(&builder.finish());
                            let encoded = if added > 0 {
                                encode_action_day(&merged)
                            } else {
                                Vec::new()
                            };
                            out.push((*day, added, encoded));
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("a merge thread panicked"))
                .collect()
        });
        for chunk in merged {
            for (day, added, encoded) in chunk? {
                n_new += added as u64;
                if added > 0 {
                    days.insert(day, encoded.as_slice())
                        .ctx("writing a day of actions")?;
                }
            }
        }
        let mut meta = txn.open_table(META).ctx("opening meta")?;
        let count = read_u64(&meta, KEY_ACTION_COUNT)?;
        write_u64(&mut meta, KEY_ACTION_COUNT, count + n_new)?;
    }
    Ok(n_new)
}

fn actions_between(db: &Database, from: Micros, to: Micros) -> Result<ActionColumns, StoreError> {
    let mut builder = ActionColumnsBuilder::new();
    if from >= to {
        return Ok(builder.finish());
    }
    let txn = db.begin_read().ctx("beginning a read")?;
    let days = txn.open_table(ACTION_DAYS).ctx("opening action_days")?;
    for entry in days
        .range(utc_day(from)..=utc_day(to - 1))
        .ctx("listing days of actions")?
    {
        let (day, value) = entry.ctx("reading a day of actions")?;
        let columns = decode_action_day(value.value(), day.value())?;
        for row in 0..columns.len() {
            let at = columns.action_at[row];
            if at >= from && at < to {
                builder.push(&columns.row(row));
            }
        }
    }
    Ok(builder.finish())
}

fn replace_master(
    db: &Database,
    set: MasterSet,
    report: ImportReport,
) -> Result<ImportReport, StoreError> {
    let txn = db.begin_write().ctx("beginning the master import")?;
    {
        let bytes = to_postcard(&set, "master")?;
        txn.open_table(MASTERS)
            .ctx("opening masters")?
            .insert(set.kind().as_str(), bytes.as_slice())
            .ctx("writing a master")?;
    }
    let report = insert_report(&txn, report)?;
    txn.commit().ctx("committing the master import")?;
    Ok(report)
}

fn masters(db: &Database) -> Result<Masters, StoreError> {
    let mut masters = crate::masters::builtin_masters();
    let txn = db.begin_read().ctx("beginning a read")?;
    let table = txn.open_table(MASTERS).ctx("opening masters")?;
    for kind in MasterKind::ALL {
        if let Some(guard) = table.get(kind.as_str()).ctx("reading a master")? {
            masters.replace(from_postcard(guard.value(), kind.as_str())?);
            masters.imported.push(kind);
        }
    }
    Ok(masters)
}

fn decode_report(bytes: &[u8]) -> Result<ImportReport, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Decode {
        what: "import report".into(),
        message: error.to_string(),
    })
}

/// The records of one date in a table keyed by (date, user id), sorted by user id; only
/// `user`'s when given.
fn per_user_of_date<T: serde::de::DeserializeOwned>(
    db: &Database,
    table: TableDefinition<(i32, &str), &[u8]>,
    date: Date,
    user: Option<&str>,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    let txn = db.begin_read().ctx("beginning a read")?;
    let table = txn
        .open_table(table)
        .ctx("opening a table of the date's records")?;
    let day = date_key(date);
    let mut out = Vec::new();
    match user {
        Some(user) => {
            if let Some(guard) = table.get((day, user)).ctx("reading a record of the date")? {
                out.push(from_postcard(guard.value(), what)?);
            }
        }
        None => {
            for entry in table
                .range((day, "")..(day + 1, ""))
                .ctx("listing the date's records")?
            {
                let (_, value) = entry.ctx("reading a record of the date")?;
                out.push(from_postcard(value.value(), what)?);
            }
        }
    }
    Ok(out)
}

fn date_key(date: Date) -> i32 {
    days_from_civil(date) as i32
}

fn encode_run(run: &RunRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(run).map_err(|error| StoreError::Decode {
        what: "run record".into(),
        message: error.to_string(),
    })
}

fn decode_run(bytes: &[u8]) -> Result<RunRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Decode {
        what: "run record".into(),
        message: error.to_string(),
    })
}

/// Stores `run` in `txn`, assigning an id when it has none.
fn put_run(txn: &redb::WriteTransaction, mut run: RunRecord) -> Result<RunRecord, StoreError> {
    if run.id == 0 {
        let mut meta = txn.open_table(META).ctx("opening meta")?;
        let id = read_u64(&meta, KEY_NEXT_RUN_ID)?.max(1);
        write_u64(&mut meta, KEY_NEXT_RUN_ID, id + 1)?;
        run.id = id;
    }
    let bytes = encode_run(&run)?;
    txn.open_table(RUNS)
        .ctx("opening runs")?
        .insert(run.id, bytes.as_slice())
        .ctx("writing a run record")?;
    Ok(run)
}

fn put_checkpoint(
    txn: &redb::WriteTransaction,
    day: i32,
    checkpoint: &DayCheckpoint,
) -> Result<(), StoreError> {
    let bytes = to_postcard(checkpoint, "day checkpoint")?;
    txn.open_table(DAY_CHECKPOINTS)
        .ctx("opening day_checkpoints")?
        .insert(day, bytes.as_slice())
        .ctx("writing a day checkpoint")?;
    Ok(())
}

/// The users of the date whose email is `sending` or `sent` (never regenerated).
fn final_emails(
    table: &impl ReadableTable<(i32, &'static str), &'static [u8]>,
    day: i32,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut kept = std::collections::HashSet::new();
    for entry in table
        .range((day, "")..(day + 1, ""))
        .ctx("listing the date's emails")?
    {
        let (key, value) = entry.ctx("reading an email")?;
        let email: QueuedEmail = from_postcard(value.value(), "email")?;
        if email.status.is_final_for_rerun() {
            kept.insert(key.value().1.to_owned());
        }
    }
    Ok(kept)
}

fn begin_day(
    db: &Database,
    date: Date,
    scores: Option<JobScoreTable>,
    checkpoint: DayCheckpoint,
) -> Result<(), StoreError> {
    let day = date_key(date);
    let txn = db.begin_write().ctx("beginning the date's run")?;
    if let Some(scores) = scores {
        let compressed = lz4_flex::compress_prepend_size(&encode_job_scores(&scores));
        txn.open_table(JOB_SCORES)
            .ctx("opening job_scores")?
            .insert(day, compressed.as_slice())
            .ctx("writing job scores")?;
    }
    txn.open_table(PICKS)
        .ctx("opening picks")?
        .retain_in((day, "")..(day + 1, ""), |_, _| false)
        .ctx("removing the date's old picks")?;
    if checkpoint.queues_emails() {
        let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
        let kept = final_emails(&table, day)?;
        table
            .retain_in((day, "")..(day + 1, ""), |key, _| kept.contains(key.1))
            .ctx("removing the date's unsent emails")?;
    }
    put_checkpoint(&txn, day, &checkpoint)?;
    txn.commit()
        .ctx("committing the beginning of the date's run")?;
    Ok(())
}

fn save_chunk(
    db: &Database,
    date: Date,
    picks: Vec<UserPicks>,
    emails: Option<Vec<QueuedEmail>>,
    checkpoint: DayCheckpoint,
) -> Result<(), StoreError> {
    let day = date_key(date);
    let txn = db
        .begin_write()
        .ctx("beginning a chunk of the date's run")?;
    put_picks_and_emails(&txn, day, &picks, emails.as_deref())?;
    put_checkpoint(&txn, day, &checkpoint)?;
    txn.commit().ctx("committing a chunk of the date's run")?;
    Ok(())
}

fn save_users_results(
    db: &Database,
    date: Date,
    picks: Vec<UserPicks>,
    emails: Option<Vec<QueuedEmail>>,
) -> Result<(), StoreError> {
    let day = date_key(date);
    let txn = db.begin_write().ctx("beginning some users' results")?;
    put_picks_and_emails(&txn, day, &picks, emails.as_deref())?;
    txn.commit().ctx("committing some users' results")?;
    Ok(())
}

/// Inserts or replaces each user's picks of `day` and, when given, each email unless the
/// same (date, user) holds one that is `sending` or `sent` (kept, never regenerated).
fn put_picks_and_emails(
    txn: &redb::WriteTransaction,
    day: i32,
    picks: &[UserPicks],
    emails: Option<&[QueuedEmail]>,
) -> Result<(), StoreError> {
    {
        let mut table = txn.open_table(PICKS).ctx("opening picks")?;
        for user in picks {
            let bytes = to_postcard(user, "picks")?;
            table
                .insert((day, user.user_id.as_str()), bytes.as_slice())
                .ctx("writing picks")?;
        }
    }
    if let Some(emails) = emails {
        let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
        for email in emails {
            let key = (day, email.user_id.as_str());
            let stored_is_final = match table.get(key).ctx("reading an email")? {
                Some(guard) => from_postcard::<QueuedEmail>(guard.value(), "email")?
                    .status
                    .is_final_for_rerun(),
                None => false,
            };
            if stored_is_final {
                continue;
            }
            let bytes = to_postcard(email, "email")?;
            table
                .insert(key, bytes.as_slice())
                .ctx("writing an email")?;
        }
    }
    Ok(())
}

fn suppress(db: &Database, suppression: Suppression) -> Result<u64, StoreError> {
    let txn = db.begin_write().ctx("beginning a suppression")?;
    // Matched without regard to case: a mailbox that bounced under one spelling is the
    // same mailbox under another, for every provider that matters.
    let address = suppression.address.as_str().to_ascii_lowercase();
    let bytes = to_postcard(&suppression, "suppression")?;
    txn.open_table(SUPPRESSIONS)
        .ctx("opening suppressions")?
        .insert(address.as_str(), bytes.as_slice())
        .ctx("writing a suppression")?;
    let marked = mark_emails_suppressed(
        &txn,
        &std::collections::HashSet::from([address]),
        suppression.created_at,
    )?;
    txn.commit().ctx("committing a suppression")?;
    Ok(marked)
}

/// Marks the `pending` and `failed` emails of every date addressed to one of `addresses`
/// (lower-cased) `suppressed` at `at`, in `txn`; returns how many.
fn mark_emails_suppressed(
    txn: &redb::WriteTransaction,
    addresses: &std::collections::HashSet<String>,
    at: Micros,
) -> Result<u64, StoreError> {
    if addresses.is_empty() {
        return Ok(0);
    }
    let mut marked = Vec::new();
    {
        let table = txn.open_table(EMAILS).ctx("opening emails")?;
        for entry in table.iter().ctx("listing the queued emails")? {
            let (key, value) = entry.ctx("reading an email")?;
            let mut email: QueuedEmail = from_postcard(value.value(), "email")?;
            if addresses.contains(&email.to.as_str().to_ascii_lowercase())
                && matches!(email.status, EmailStatus::Pending | EmailStatus::Failed)
            {
                email.status = EmailStatus::Suppressed;
                email.updated_at = at;
                let (day, user) = key.value();
                marked.push((day, user.to_owned(), email));
            }
        }
    }
    let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
    for (day, user, email) in &marked {
        let bytes = to_postcard(email, "email")?;
        table
            .insert((*day, user.as_str()), bytes.as_slice())
            .ctx("marking an email suppressed")?;
    }
    Ok(marked.len() as u64)
}

fn finish_day(db: &Database, date: Date, run: RunRecord) -> Result<RunRecord, StoreError> {
    let txn = db
        .begin_write()
        .ctx("beginning the end of the date's run")?;
    txn.open_table(DAY_CHECKPOINTS)
        .ctx("opening day_checkpoints")?
        .remove(date_key(date))
        .ctx("removing the date's checkpoint")?;
    let run = put_run(&txn, run)?;
    txn.commit().ctx("committing the end of the date's run")?;
    Ok(run)
}

#[async_trait]
impl JobStore for RedbStore {
    async fn replace_job_snapshot(
        &self,
        snapshot: JobSnapshot,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError> {
        self.run("replace_job_snapshot", move |db| {
            replace_job_snapshot(db, snapshot, report)
        })
        .await
    }

    async fn job_columns(&self) -> Result<JobColumns, StoreError> {
        self.run("job_columns", job_columns).await
    }

    async fn row_packer(&self, headers: &[String]) -> Result<Box<dyn RowPacker>, StoreError> {
        let header_id = header_id(headers);
        let dictionary = self
            .run("row_packer", move |db| {
                let txn = db.begin_read().ctx("beginning a read")?;
                let table = txn
                    .open_table(ROW_DICTIONARIES)
                    .ctx("opening row_dictionaries")?;
                Ok(table
                    .get(header_id)
                    .ctx("reading a row dictionary")?
                    .map(|guard| guard.value().to_vec()))
            })
            .await?;
        Ok(Box::new(ZstdRowPacker::new(
            header_id,
            dictionary.as_deref(),
        )))
    }

    async fn jobs(&self, ids: &[JobId]) -> Result<Vec<Option<JobRecord>>, StoreError> {
        let ids = ids.to_vec();
        self.run("jobs", move |db| jobs(db, &ids)).await
    }

    async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        self.run("job_counts", job_counts).await
    }

    async fn replace_master(
        &self,
        set: MasterSet,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError> {
        self.run("replace_master", move |db| replace_master(db, set, report))
            .await
    }

    async fn masters(&self) -> Result<Masters, StoreError> {
        self.run("masters", masters).await
    }
}

#[async_trait]
impl UserStore for RedbStore {
    async fn upsert_users(
        &self,
        users: Vec<User>,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError> {
        self.run("upsert_users", move |db| upsert_users(db, users, report))
            .await
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.run("users", users).await
    }

    async fn user(&self, user_id: &UserId) -> Result<Option<User>, StoreError> {
        let key = user_id.as_str().to_owned();
        self.run("user", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(USERS).ctx("opening users")?;
            let consents = txn.open_table(USER_CONSENTS).ctx("opening user_consents")?;
            let found = table.get(key.as_str()).ctx("reading a user")?;
            let mut user: Option<User> = found
                .map(|guard| from_postcard(guard.value(), "user"))
                .transpose()?;
            if let Some(user) = &mut user {
                user.consent = consent_of(&consents, &user.user_id)?;
            }
            Ok(user)
        })
        .await
    }

    async fn suppress(&self, suppression: Suppression) -> Result<u64, StoreError> {
        self.run("suppress", move |db| suppress(db, suppression))
            .await
    }

    async fn unsuppress(&self, address: &EmailAddress) -> Result<bool, StoreError> {
        let address = address.as_str().to_ascii_lowercase();
        self.run("unsuppress", move |db| {
            let txn = db.begin_write().ctx("beginning an unsuppression")?;
            let removed = txn
                .open_table(SUPPRESSIONS)
                .ctx("opening suppressions")?
                .remove(address.as_str())
                .ctx("removing a suppression")?
                .is_some();
            txn.commit().ctx("committing an unsuppression")?;
            Ok(removed)
        })
        .await
    }

    async fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        self.run("suppressions", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(SUPPRESSIONS).ctx("opening suppressions")?;
            let mut found = Vec::new();
            for entry in table.iter().ctx("listing suppressions")? {
                let (_, value) = entry.ctx("reading a suppression")?;
                found.push(from_postcard(value.value(), "suppression")?);
            }
            Ok(found)
        })
        .await
    }
}

#[async_trait]
impl ActionStore for RedbStore {
    async fn record_actions(&self, actions: ActionColumns) -> Result<u64, StoreError> {
        self.run("record_actions", move |db| record_actions(db, actions))
            .await
    }

    async fn append_actions(
        &self,
        actions: ActionColumns,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError> {
        self.run("append_actions", move |db| {
            append_actions(db, actions, report)
        })
        .await
    }

    async fn actions_between(&self, from: Micros, to: Micros) -> Result<ActionColumns, StoreError> {
        self.run("actions_between", move |db| actions_between(db, from, to))
            .await
    }

    async fn action_count(&self) -> Result<u64, StoreError> {
        self.run("action_count", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            read_u64(&txn.open_table(META).ctx("opening meta")?, KEY_ACTION_COUNT)
        })
        .await
    }

    async fn action_days(
        &self,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<Box<dyn ActionDay>>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        self.run("action_days", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let days = txn.open_table(ACTION_DAYS).ctx("opening action_days")?;
            let mut packed: Vec<Box<dyn ActionDay>> = Vec::new();
            for entry in days
                .range(utc_day(from)..=utc_day(to - 1))
                .ctx("listing days of actions")?
            {
                let (day, value) = entry.ctx("reading a day of actions")?;
                packed.push(Box::new(Lz4ActionDay {
                    day: day.value(),
                    bytes: value.value().to_vec(),
                }));
            }
            Ok(packed)
        })
        .await
    }
}

#[async_trait]
impl ImportLog for RedbStore {
    async fn import_summaries(&self, limit: usize) -> Result<Vec<ImportSummary>, StoreError> {
        self.run("import_summaries", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn
                .open_table(IMPORT_REPORTS)
                .ctx("opening import_reports")?;
            let mut summaries = Vec::new();
            for entry in table
                .iter()
                .ctx("listing import reports")?
                .rev()
                .take(limit)
            {
                let (_, value) = entry.ctx("reading an import report")?;
                let report = decode_report(value.value())?;
                summaries.push(ImportSummary {
                    id: report.id,
                    kind: report.kind,
                    file: report.file,
                    started_at: report.started_at,
                    rows_read: report.rows_read,
                    rows_imported: report.rows_imported,
                    rows_skipped: report.rows_skipped,
                    warnings: report.warnings,
                });
            }
            Ok(summaries)
        })
        .await
    }

    async fn import_report(&self, id: u64) -> Result<Option<ImportReport>, StoreError> {
        self.run("import_report", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn
                .open_table(IMPORT_REPORTS)
                .ctx("opening import_reports")?;
            let found = table.get(id).ctx("reading an import report")?;
            found.map(|guard| decode_report(guard.value())).transpose()
        })
        .await
    }

    async fn data_version(&self) -> Result<u64, StoreError> {
        self.run("data_version", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let meta = txn.open_table(META).ctx("opening meta")?;
            // The next report id is one past the last report's (0 or 1 before any import).
            Ok(read_u64(&meta, KEY_NEXT_REPORT_ID)?.saturating_sub(1))
        })
        .await
    }
}

#[async_trait]
impl RunStore for RedbStore {
    async fn begin_day(
        &self,
        date: Date,
        scores: Option<JobScoreTable>,
        checkpoint: DayCheckpoint,
    ) -> Result<(), StoreError> {
        self.run("begin_day", move |db| {
            begin_day(db, date, scores, checkpoint)
        })
        .await
    }

    async fn save_chunk(
        &self,
        date: Date,
        picks: Vec<UserPicks>,
        emails: Option<Vec<QueuedEmail>>,
        checkpoint: DayCheckpoint,
    ) -> Result<(), StoreError> {
        self.run("save_chunk", move |db| {
            save_chunk(db, date, picks, emails, checkpoint)
        })
        .await
    }

    async fn save_users_results(
        &self,
        date: Date,
        picks: Vec<UserPicks>,
        emails: Option<Vec<QueuedEmail>>,
    ) -> Result<(), StoreError> {
        self.run("save_users_results", move |db| {
            save_users_results(db, date, picks, emails)
        })
        .await
    }

    async fn finish_day(&self, date: Date, run: RunRecord) -> Result<RunRecord, StoreError> {
        self.run("finish_day", move |db| finish_day(db, date, run))
            .await
    }

    async fn day_checkpoint(&self, date: Date) -> Result<Option<DayCheckpoint>, StoreError> {
        self.run("day_checkpoint", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn
                .open_table(DAY_CHECKPOINTS)
                .ctx("opening day_checkpoints")?;
            let found = table.get(date_key(date)).ctx("reading a day checkpoint")?;
            found
                .map(|guard| from_postcard(guard.value(), "day checkpoint"))
                .transpose()
        })
        .await
    }

    async fn job_scores(&self, date: Date) -> Result<Option<JobScoreTable>, StoreError> {
        self.run("job_scores", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(JOB_SCORES).ctx("opening job_scores")?;
            let Some(guard) = table.get(date_key(date)).ctx("reading job scores")? else {
                return Ok(None);
            };
            let corrupt = |source| StoreError::Corrupt {
                what: format!("job scores of {date}"),
                source,
            };
            let raw = lz4_flex::decompress_size_prepended(guard.value()).map_err(|_| {
                corrupt(crate::columnar::ColumnarError::Truncated {
                    what: "compressed job scores",
                })
            })?;
            decode_job_scores(&raw).map(Some).map_err(corrupt)
        })
        .await
    }

    async fn picks(&self, date: Date, user: Option<&UserId>) -> Result<Vec<UserPicks>, StoreError> {
        let user = user.map(|user| user.as_str().to_owned());
        self.run("picks", move |db| {
            per_user_of_date(db, PICKS, date, user.as_deref(), "picks")
        })
        .await
    }

    async fn save_run(&self, run: RunRecord) -> Result<RunRecord, StoreError> {
        self.run("save_run", move |db| {
            let txn = db.begin_write().ctx("beginning a run record write")?;
            let run = put_run(&txn, run)?;
            txn.commit().ctx("committing a run record")?;
            Ok(run)
        })
        .await
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.run("runs", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(RUNS).ctx("opening runs")?;
            let mut runs = Vec::new();
            for entry in table.iter().ctx("listing runs")?.rev().take(limit) {
                let (_, value) = entry.ctx("reading a run record")?;
                runs.push(decode_run(value.value())?);
            }
            Ok(runs)
        })
        .await
    }

    async fn run_record(&self, id: u64) -> Result<Option<RunRecord>, StoreError> {
        self.run("run_record", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = txn.open_table(RUNS).ctx("opening runs")?;
            let found = table.get(id).ctx("reading a run record")?;
            found.map(|guard| decode_run(guard.value())).transpose()
        })
        .await
    }

    async fn acquire_run_lock(
        &self,
        holder: &str,
        now: Micros,
        expires_at: Micros,
    ) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        let holders = Arc::clone(&self.lease_holders);
        self.run("acquire_run_lock", move |db| {
            let mut holders = holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let txn = db.begin_write().ctx("beginning the run lease")?;
            let taken = {
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                let free = match read_lease(&meta)? {
                    None => true,
                    Some((owner, until)) => {
                        owner == holder || until < now || !holders.contains(&owner)
                    }
                };
                if free {
                    write_lease(&mut meta, &holder, expires_at)?;
                }
                free
            };
            txn.commit().ctx("committing the run lease")?;
            if taken {
                holders.insert(holder);
            }
            Ok(taken)
        })
        .await
    }

    async fn renew_run_lock(&self, holder: &str, expires_at: Micros) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        self.run("renew_run_lock", move |db| {
            let txn = db.begin_write().ctx("beginning the run lease renewal")?;
            let held = {
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                let held = read_lease(&meta)?.is_some_and(|(owner, _)| owner == holder);
                if held {
                    write_lease(&mut meta, &holder, expires_at)?;
                }
                held
            };
            txn.commit().ctx("committing the run lease renewal")?;
            Ok(held)
        })
        .await
    }

    async fn run_lock_holder(&self) -> Result<Option<(String, Micros)>, StoreError> {
        self.run("run_lock_holder", |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let meta = txn.open_table(META).ctx("opening meta")?;
            let found = meta.get(KEY_RUN_LOCK).ctx("reading the run lease")?;
            Ok(found.and_then(|guard| postcard::from_bytes(guard.value()).ok()))
        })
        .await
    }

    async fn release_run_lock(&self, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_owned();
        let holders = Arc::clone(&self.lease_holders);
        self.run("release_run_lock", move |db| {
            let txn = db.begin_write().ctx("beginning the run lease release")?;
            {
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                if read_lease(&meta)?.is_some_and(|(owner, _)| owner == holder) {
                    meta.remove(KEY_RUN_LOCK).ctx("removing the run lease")?;
                }
            }
            txn.commit().ctx("committing the run lease release")?;
            holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&holder);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl EmailQueue for RedbStore {
    async fn emails(
        &self,
        date: Date,
        user: Option<&UserId>,
    ) -> Result<Vec<QueuedEmail>, StoreError> {
        let user = user.map(|user| user.as_str().to_owned());
        self.run("emails", move |db| {
            per_user_of_date(db, EMAILS, date, user.as_deref(), "email")
        })
        .await
    }

    async fn update_email_status(
        &self,
        date: Date,
        user: &UserId,
        from: &[EmailStatus],
        to: EmailStatus,
        at: Micros,
    ) -> Result<EmailUpdate, StoreError> {
        let (user, from) = (user.as_str().to_owned(), from.to_vec());
        self.run("update_email_status", move |db| {
            let txn = db.begin_write().ctx("beginning an email update")?;
            let update = {
                let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
                let key = (date_key(date), user.as_str());
                let stored = table
                    .get(key)
                    .ctx("reading an email")?
                    .map(|g| g.value().to_vec());
                match stored {
                    None => EmailUpdate::NotFound,
                    Some(bytes) => {
                        let mut email: QueuedEmail = from_postcard(&bytes, "email")?;
                        if from.contains(&email.status) {
                            email.status = to;
                            email.updated_at = at;
                            let bytes = to_postcard(&email, "email")?;
                            table
                                .insert(key, bytes.as_slice())
                                .ctx("writing an email")?;
                            EmailUpdate::Updated(email)
                        } else {
                            EmailUpdate::Refused(email.status)
                        }
                    }
                }
            };
            txn.commit().ctx("committing an email update")?;
            Ok(update)
        })
        .await
    }

    async fn finish_email_attempt(
        &self,
        date: Date,
        user: &UserId,
        attempt: EmailAttempt,
        to: EmailStatus,
    ) -> Result<EmailUpdate, StoreError> {
        let user = user.as_str().to_owned();
        self.run("finish_email_attempt", move |db| {
            let txn = db.begin_write().ctx("beginning an email attempt's end")?;
            let update = {
                let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
                let key = (date_key(date), user.as_str());
                let stored = table
                    .get(key)
                    .ctx("reading an email")?
                    .map(|g| g.value().to_vec());
                match stored {
                    None => EmailUpdate::NotFound,
                    Some(bytes) => {
                        let mut email: QueuedEmail = from_postcard(&bytes, "email")?;
                        if email.status != EmailStatus::Sending {
                            EmailUpdate::Refused(email.status)
                        } else {
                            email.status = to;
                            email.attempts += 1;
                            email.updated_at = attempt.finished_at;
                            if to == EmailStatus::Sent {
                                email.sent_at = Some(attempt.finished_at);
                                email.last_error = None;
                            } else {
                                email.last_error = Some(match attempt.reply_code {
                                    Some(code) => format!("{code} {}", attempt.reply),
                                    None => attempt.reply.clone(),
                                });
                            }
                            let bytes = to_postcard(&email, "email")?;
                            table
                                .insert(key, bytes.as_slice())
                                .ctx("writing an email")?;
                            let mut attempts_table = txn
                                .open_table(EMAIL_ATTEMPTS)
                                .ctx("opening email_attempts")?;
                            let mut attempts: Vec<EmailAttempt> =
                                match attempts_table.get(key).ctx("reading an email's attempts")? {
                                    Some(guard) => from_postcard(guard.value(), "email attempts")?,
                                    None => Vec::new(),
                                };
                            attempts.push(attempt);
                            let bytes = to_postcard(&attempts, "email attempts")?;
                            attempts_table
                                .insert(key, bytes.as_slice())
                                .ctx("writing an email's attempts")?;
                            EmailUpdate::Updated(email)
                        }
                    }
                }
            };
            txn.commit().ctx("committing an email attempt")?;
            Ok(update)
        })
        .await
    }

    async fn email_attempts(
        &self,
        date: Date,
        user: &UserId,
    ) -> Result<Vec<EmailAttempt>, StoreError> {
        let user = user.as_str().to_owned();
        self.run("email_attempts", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let table = match txn.open_table(EMAIL_ATTEMPTS) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(error) => return Err(error).ctx("opening email_attempts"),
            };
            match table
                .get((date_key(date), user.as_str()))
                .ctx("reading an email's attempts")?
            {
                Some(guard) => from_postcard(guard.value(), "email attempts"),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    async fn cancel_pending_emails(&self, date: Date, at: Micros) -> Result<u64, StoreError> {
        self.run("cancel_pending_emails", move |db| {
            let txn = db.begin_write().ctx("beginning a cancel of sending")?;
            let mut n_cancelled = 0u64;
            {
                let mut table = txn.open_table(EMAILS).ctx("opening emails")?;
                let day = date_key(date);
                let mut changed = Vec::new();
                for entry in table
                    .range((day, "")..(day + 1, ""))
                    .ctx("listing the date's emails")?
                {
                    let (_, value) = entry.ctx("reading an email")?;
                    let mut email: QueuedEmail = from_postcard(value.value(), "email")?;
                    if email.status == EmailStatus::Pending {
                        email.status = EmailStatus::Cancelled;
                        email.updated_at = at;
                        changed.push(email);
                    }
                }
                for email in changed {
                    let bytes = to_postcard(&email, "email")?;
                    table
                        .insert((day, email.user_id.as_str()), bytes.as_slice())
                        .ctx("writing an email")?;
                    n_cancelled += 1;
                }
            }
            txn.commit().ctx("committing a cancel of sending")?;
            Ok(n_cancelled)
        })
        .await
    }

    async fn delivery_pause(&self) -> Result<Option<DeliveryPause>, StoreError> {
        self.run("delivery_pause", move |db| {
            let txn = db.begin_read().ctx("beginning a read")?;
            let meta = txn.open_table(META).ctx("opening meta")?;
            match meta.get(KEY_DELIVERY_PAUSE).ctx("reading the pause")? {
                Some(guard) => Ok(Some(from_postcard(guard.value(), "delivery pause")?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_delivery_pause(&self, pause: Option<DeliveryPause>) -> Result<(), StoreError> {
        self.run("set_delivery_pause", move |db| {
            let txn = db.begin_write().ctx("beginning a pause change")?;
            {
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                match &pause {
                    Some(pause) => {
                        let bytes = to_postcard(pause, "delivery pause")?;
                        meta.insert(KEY_DELIVERY_PAUSE, bytes.as_slice())
                            .ctx("writing the pause")?;
                    }
                    None => {
                        meta.remove(KEY_DELIVERY_PAUSE).ctx("removing the pause")?;
                    }
                }
            }
            txn.commit().ctx("committing a pause change")?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Maintenance for RedbStore {
    async fn purge(&self, limits: RetentionLimits) -> Result<PurgeCounts, StoreError> {
        self.run("purge", move |db| {
            let txn = db.begin_write().ctx("beginning the retention purge")?;
            let mut counts = PurgeCounts::default();
            {
                // Whole days of actions strictly before the limit's day; the limit's own day
                // keeps its rows (a day blob is never split).
                let mut days = txn.open_table(ACTION_DAYS).ctx("opening action_days")?;
                let first_kept = utc_day(limits.actions_before);
                let mut removed = 0u64;
                let mut n_actions = 0u64;
                for entry in days
                    .range(..first_kept)
                    .ctx("listing old days of actions")?
                {
                    let (day, value) = entry.ctx("reading a day of actions")?;
                    n_actions += decode_action_day(value.value(), day.value())?.len() as u64;
                    removed += 1;
                }
                days.retain_in(..first_kept, |_, _| false)
                    .ctx("removing old days of actions")?;
                counts.action_days = removed;
                let mut meta = txn.open_table(META).ctx("opening meta")?;
                let total = read_u64(&meta, KEY_ACTION_COUNT)?;
                write_u64(&mut meta, KEY_ACTION_COUNT, total.saturating_sub(n_actions))?;
            }
            {
                let first_kept = date_key(limits.picks_before);
                let mut scores = txn.open_table(JOB_SCORES).ctx("opening job_scores")?;
                let mut dates = 0u64;
                for entry in scores.range(..first_kept).ctx("listing old job scores")? {
                    entry.ctx("reading old job scores")?;
                    dates += 1;
                }
                scores
                    .retain_in(..first_kept, |_, _| false)
                    .ctx("removing old job scores")?;
                let mut picks = txn.open_table(PICKS).ctx("opening picks")?;
                picks
                    .retain_in(..(first_kept, ""), |_, _| false)
                    .ctx("removing old picks")?;
                counts.pick_dates = dates;
                let mut checkpoints = txn
                    .open_table(DAY_CHECKPOINTS)
                    .ctx("opening day_checkpoints")?;
                let mut old = 0u64;
                for entry in checkpoints
                    .range(..first_kept)
                    .ctx("listing old day checkpoints")?
                {
                    entry.ctx("reading an old day checkpoint")?;
                    old += 1;
                }
                checkpoints
                    .retain_in(..first_kept, |_, _| false)
                    .ctx("removing old day checkpoints")?;
                counts.checkpoints = old;
            }
            {
                let first_kept = date_key(limits.emails_before);
                let mut emails = txn.open_table(EMAILS).ctx("opening emails")?;
                let mut dates = std::collections::BTreeSet::new();
                for entry in emails.range(..(first_kept, "")).ctx("listing old emails")? {
                    let (key, _) = entry.ctx("reading an old email")?;
                    dates.insert(key.value().0);
                }
                emails
                    .retain_in(..(first_kept, ""), |_, _| false)
                    .ctx("removing old emails")?;
                counts.email_dates = dates.len() as u64;
            }
            {
                let mut runs = txn.open_table(RUNS).ctx("opening runs")?;
                let mut old = Vec::new();
                for entry in runs.iter().ctx("listing runs")? {
                    let (id, value) = entry.ctx("reading a run record")?;
                    if decode_run(value.value())?.started_at < limits.runs_before {
                        old.push(id.value());
                    }
                }
                for id in &old {
                    runs.remove(*id).ctx("removing an old run record")?;
                }
                counts.runs = old.len() as u64;
            }
            txn.commit().ctx("committing the retention purge")?;
            Ok(counts)
        })
        .await
    }

    async fn compact(&self) -> Result<(u64, u64), StoreError> {
        let db = Arc::clone(&self.db);
        let path = self.path.clone();
        let _timed = OperationTimer::start("compact");
        tokio::task::spawn_blocking(move || {
            let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
            let before = size();
            let mut db = db
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Compacting is repeated until it frees nothing more (redb frees in steps).
            while db.compact().map_err(|error| StoreError::Engine {
                action: "compacting the database",
                message: error.to_string(),
            })? {}
            Ok((before, size()))
        })
        .await
        .map_err(|error| StoreError::Engine {
            action: "running a storage task",
            message: error.to_string(),
        })?
    }

    async fn reclaim_space(&self, at_least: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let stats = self.storage_stats().await?;
        // A rewrite of the whole file pays off only once most of it is unused.
        let worth_it =
            stats.fragmented_bytes >= at_least && stats.fragmented_bytes * 2 >= stats.file_bytes;
        if !worth_it {
            return Ok(None);
        }
        self.compact().await.map(Some)
    }

    async fn storage_stats(&self) -> Result<StorageStats, StoreError> {
        let path = self.path.clone();
        self.run("storage_stats", move |db| {
            // redb reports space only inside a write transaction; this one is never committed.
            let txn = db.begin_write().ctx("beginning a stats read")?;
            let stats = txn.stats().ctx("reading storage stats")?;
            txn.abort().ctx("ending a stats read")?;
            Ok(StorageStats {
                file_bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                stored_bytes: stats.stored_bytes(),
                metadata_bytes: stats.metadata_bytes(),
                fragmented_bytes: stats.fragmented_bytes(),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_an_existing_store_that_is_not_there_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("typo");
        let error = RedbStore::open_existing(&data_dir, DEFAULT_CACHE_BYTES).unwrap_err();
        assert!(matches!(error, StoreError::Missing { .. }), "{error}");
        assert!(
            error.to_string().starts_with("no mailscore store in"),
            "{error}"
        );
        assert!(!data_dir.exists());
    }

    #[test]
    fn a_created_store_has_exactly_the_tables_an_open_checks_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let db = store.db.read().unwrap();
        let txn = db.begin_read().unwrap();
        let mut names: Vec<String> = txn
            .list_tables()
            .unwrap()
            .map(|handle| handle.name().to_owned())
            .collect();
        names.sort();
        let mut expected: Vec<&str> = TABLE_NAMES.to_vec();
        expected.sort();
        assert_eq!(names, expected);
        assert!(RedbStore::is_current(&db).unwrap());
    }

    #[test]
    fn the_file_size_of_a_reopened_compacted_store_is_the_size_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        {
            let store = RedbStore::open(dir.path()).unwrap();
            runtime.block_on(store.compact()).unwrap();
        }
        let closed = std::fs::metadata(dir.path().join(DATABASE_FILE))
            .unwrap()
            .len();
        // A write on opening would have to grow a file compaction left without free pages.
        let store = RedbStore::open_existing(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let stats = runtime.block_on(store.storage_stats()).unwrap();
        assert_eq!(stats.file_bytes, closed);
    }
}

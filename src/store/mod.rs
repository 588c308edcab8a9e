//! Stored data: the [`Store`] trait, the only way the rest of the program reaches it.
//!
//! The default implementation, [`redb::RedbStore`], keeps everything in one crash-safe
//! database file in the data directory. Every write method is one transaction: it either
//! takes effect completely, together with the import report it is given, or not at all.

pub mod redb;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use thiserror::Error;

use crate::columnar::ColumnarError;
use crate::domain::account::{
    Account, AccountId, ApiToken, NewAccount, NewApiToken, Role, TokenHash, TokenId,
};
use crate::domain::action::{ActionColumns, ActionDay};
use crate::domain::batch::{
    DayCheckpoint, DeliveryPause, EmailAttempt, EmailStatus, JobScoreTable, QueuedEmail, RunRecord,
    UserPicks,
};
use crate::domain::bounce::{BounceEvent, BounceKind, BounceSource, SoftBounceRule, StoredBounce};
use crate::domain::job::JobRow;
use crate::domain::master::MasterSet;
use crate::domain::time::Micros;
use crate::domain::{
    EmailAddress, ImportReport, JobColumns, JobId, JobRecord, Masters, Suppression, User, UserId,
};
use jiff::civil::Date;

/// The schema version this binary writes; older files are migrated on open.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A command that reads the store found none: nothing was created.
    #[error("no mailscore store in {}: {} does not exist", data_dir.display(), path.display())]
    Missing { data_dir: PathBuf, path: PathBuf },
    #[error("cannot open the database {path}: {message}")]
    Open { path: String, message: String },
    /// Another process has the database open (the embedded store is one process's).
    #[error("cannot open the database {path}: it is in use by another mailscore process")]
    InUse { path: String },
    #[error(
        "the database {path} has schema version {found}, newer than this binary's {supported}; \
         upgrade mailscore or restore a backup"
    )]
    NewerSchema {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("storage engine error while {action}: {message}")]
    Engine {
        action: &'static str,
        message: String,
    },
    #[error("stored {what} is corrupt: {source}")]
    Corrupt { what: String, source: ColumnarError },
    #[error("stored {what} cannot be decoded: {message}")]
    Decode { what: String, message: String },
    #[error("the feed header list {header_id:#x} collides with a different stored header list")]
    HeaderCollision { header_id: u64 },
    /// The snapshot guard ([`JobSnapshot::max_deactivated_percent`]) refused a feed.
    #[error(
        "the job feed would deactivate {deactivated} of the {active} active jobs, more than \
         {max_percent} %; nothing was written"
    )]
    SnapshotShrink {
        active: u64,
        deactivated: u64,
        max_percent: u32,
    },
    /// An account with this address (ASCII case ignored) is stored already.
    #[error("an account for {email} exists already")]
    AccountExists { email: String },
    /// The change would leave no enabled admin account.
    #[error("the change would leave no enabled admin account")]
    LastAdmin,
}

/// One imported job feed: the full rows, packed by the store's own [`RowPacker`], and the
/// scoring fields of the same jobs as columns. Job ids are unique in both.
#[derive(Debug)]
pub struct JobSnapshot {
    /// The feed's column names, in its order: every row's values are in this order.
    pub headers: Vec<String>,
    /// `(job_id, packed row)`, one per job.
    pub rows: Vec<(u64, PackedRow)>,
    /// What the packer handed over when the feed ended ([`RowPacker::finish`]).
    pub packing: RowPacking,
    /// The same jobs' scoring fields, sorted by `job_id`.
    pub columns: JobColumns,
    /// The snapshot guard, checked in the import's transaction: when the snapshot would
    /// deactivate more than this percentage of the active jobs, nothing is written and the
    /// import fails with [`StoreError::SnapshotShrink`]. `None`: any snapshot is taken.
    pub max_deactivated_percent: Option<u32>,
}

/// Turns the rows of one feed into the store's stored form. The importer runs it on its
/// reader thread, so a store that compresses rows does so beside the parsing instead of
/// inside the commit, and the feed is never held uncompressed whole.
pub trait RowPacker: Send {
    /// One row of the feed (never a blank line), in the order of the file.
    fn pack(&mut self, row: JobRow) -> PackedRow;

    /// Called after the last row: what the store keeps beside the rows.
    fn finish(self: Box<Self>) -> RowPacking;
}

/// A feed row as a [`RowPacker`] left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackedRow {
    /// As imported: the store encodes it when it writes the snapshot.
    Plain(JobRow),
    /// In the store's own encoding, ready to write.
    Encoded(Vec<u8>),
}

/// What a [`RowPacker`] hands over when a feed ends, for the store that made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowPacking {
    /// The store's id of the feed's header list.
    pub header_id: u64,
    /// A compression dictionary trained on this feed, to keep for its header: set when the
    /// header had none.
    pub new_dictionary: Option<Vec<u8>>,
}

/// What [`EmailQueue::update_email_status`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailUpdate {
    /// The email, with its new status.
    Updated(QueuedEmail),
    /// No email of that user and date is queued.
    NotFound,
    /// The email's status is not one the change starts from; it is left as it was.
    Refused(EmailStatus),
}

/// Counts describing the stored jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub active: u64,
    pub total: u64,
}

/// How the storage engine uses its space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Size of the database file(s) on disk.
    pub file_bytes: u64,
    /// Bytes of keys and values stored.
    pub stored_bytes: u64,
    /// Bytes of the engine's own structures (tree pages, allocator state).
    pub metadata_bytes: u64,
    /// Bytes allocated but not used (partly filled pages, freed space).
    pub fragmented_bytes: u64,
}

/// What retention keeps (SPEC §6): everything at or after these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionLimits {
    pub actions_before: Micros,
    pub picks_before: Date,
    pub emails_before: Date,
    pub runs_before: Micros,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub action_days: u64,
    pub pick_dates: u64,
    pub email_dates: u64,
    pub runs: u64,
    /// Checkpoints of unfinished runs of dates before the picks limit.
    pub checkpoints: u64,
}

/// A short line per import, for listings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportSummary {
    pub id: u64,
    pub kind: String,
    pub file: String,
    pub started_at: Micros,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_skipped: u64,
    pub warnings: u64,
}

/// Access to stored data: every focused trait below, which a backend implements one by one
/// (redb now; PostgreSQL later) and [`Store`] gathers. Implementations are cheap to share
/// (`Arc<dyn Store>`), safe to call from many tasks, and never block the async runtime.
/// Every backend must pass the contract suite (`tests/integration/store_contract.rs`).
pub trait Store:
    JobStore
    + UserStore
    + ActionStore
    + ImportLog
    + RunStore
    + EmailQueue
    + Maintenance
    + AccountStore
    + BounceStore
{
}

impl<T> Store for T where
    T: JobStore
        + UserStore
        + ActionStore
        + ImportLog
        + RunStore
        + EmailQueue
        + Maintenance
        + AccountStore
        + BounceStore
{
}

/// The job feed and the reference data: the current snapshot, every job's full row, the masters.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Makes `snapshot` the current job set, in one transaction with `report`: every job of
    /// the snapshot is written (a job seen before is overwritten), jobs stored before but
    /// absent from the snapshot become inactive (kept, never deleted), and the snapshot's
    /// columns become what [`JobStore::job_columns`] returns. Adds `jobs_deactivated` to the
    /// report's counts. Returns the report with its id. On error nothing changes.
    async fn replace_job_snapshot(
        &self,
        snapshot: JobSnapshot,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError>;

    /// The scoring fields of every active job, sorted by `job_id` (empty before any import).
    async fn job_columns(&self) -> Result<JobColumns, StoreError>;

    /// A packer for the rows of a feed with these column names, for
    /// [`JobStore::replace_job_snapshot`] of this store only.
    async fn row_packer(&self, headers: &[String]) -> Result<Box<dyn RowPacker>, StoreError>;

    /// The full rows of the given jobs, active or not, in the order asked (`None`: unknown).
    async fn jobs(&self, ids: &[JobId]) -> Result<Vec<Option<JobRecord>>, StoreError>;

    async fn job_counts(&self) -> Result<JobCounts, StoreError>;

    /// Replaces one kind of reference data (built-in defaults included), in one transaction
    /// with `report`.
    async fn replace_master(
        &self,
        set: MasterSet,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError>;

    /// The reference data in force: each kind's imported set, or its built-in default.
    async fn masters(&self) -> Result<Masters, StoreError>;
}

/// Job seekers and the suppression list.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts or replaces users by `user_id`, in one transaction with `report`; adds
    /// `users_inserted` and `users_updated` to its counts.
    async fn upsert_users(
        &self,
        users: Vec<User>,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError>;

    /// Every user, sorted by `user_id`.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    async fn user(&self, user_id: &UserId) -> Result<Option<User>, StoreError>;

    /// Puts an address on the suppression list (replacing its earlier entry; addresses are
    /// matched without regard to ASCII case, here and in the daily run) and marks its
    /// `pending` and `failed` queued emails of every date `suppressed`, in one transaction.
    /// Returns how many emails were marked. Emails `sending` or `sent` are left as they are.
    async fn suppress(&self, suppression: Suppression) -> Result<u64, StoreError>;

    /// Takes an address off the suppression list; returns whether it was on it. Emails
    /// already marked `suppressed` stay so (the next daily run queues new ones).
    async fn unsuppress(&self, address: &EmailAddress) -> Result<bool, StoreError>;

    /// The suppression list, by address.
    async fn suppressions(&self) -> Result<Vec<Suppression>, StoreError>;
}

/// Bounces and complaints, and the suppressions they cause.
#[async_trait]
pub trait BounceStore: Send + Sync {
    /// Stores `events` in one transaction, in order, received at `received_at`:
    /// - an event whose `(source, source_id)` is stored already is a duplicate and changes
    ///   nothing (a webhook delivered twice counts once);
    /// - its `email` is the queued email its `message_id` names
    ///   ([`email_of_message_id`](crate::domain::bounce::email_of_message_id)) when that
    ///   email exists and was addressed to the event's address (ASCII case ignored);
    /// - [`suppression_for`](crate::domain::bounce::suppression_for) decides, with the
    ///   address's soft bounces whose `occurred_at` lies in `rule`'s window ending at the
    ///   event's (this one included), whether it suppresses the address; an address on the
    ///   list already keeps its entry. A suppression marks the address's `pending` and
    ///   `failed` emails `suppressed`, as [`UserStore::suppress`] does, in the same
    ///   transaction.
    async fn record_bounces(
        &self,
        events: Vec<BounceEvent>,
        rule: SoftBounceRule,
        received_at: Micros,
    ) -> Result<BounceBatch, StoreError>;

    /// The stored events that `filter` keeps, newest (highest id) first: `limit` of them
    /// after skipping `offset`, and how many it keeps in all.
    async fn bounces(
        &self,
        filter: &BounceFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredBounce>, u64), StoreError>;
}

/// What [`BounceStore::record_bounces`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceBatch {
    /// The events stored, in the order given.
    pub stored: Vec<StoredBounce>,
    /// Events already stored under their source id.
    pub duplicates: u64,
    /// Queued emails marked `suppressed` by the suppressions.
    pub emails_suppressed: u64,
}

/// Which stored events a listing keeps; `None` keeps any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceFilter {
    /// Matched without regard to ASCII case.
    pub address: Option<EmailAddress>,
    pub kind: Option<BounceKind>,
    pub source: Option<BounceSource>,
    /// `occurred_at` at or after.
    pub since: Option<Micros>,
    /// `occurred_at` before.
    pub until: Option<Micros>,
}

impl BounceFilter {
    pub fn keeps(&self, bounce: &StoredBounce) -> bool {
        let event = &bounce.event;
        self.address
            .as_ref()
            .is_none_or(|a| a.as_str().eq_ignore_ascii_case(event.address.as_str()))
            && self.kind.is_none_or(|kind| kind == event.kind)
            && self.source.is_none_or(|source| source == event.source)
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.until.is_none_or(|until| event.occurred_at < until)
    }
}

/// What users did: imported actions, and the tracked ones recorded as they happen.
#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Records actions that are no import (the opens, clicks and unsubscribes the tracking
    /// endpoints see), in one transaction, each identity once as in
    /// [`ActionStore::append_actions`]; returns how many were new. No report is written and the
    /// [`ImportLog::data_version`] stays as it was: a daily run of an earlier date, which never
    /// reads actions of its own day or later, resumes across them.
    async fn record_actions(&self, actions: ActionColumns) -> Result<u64, StoreError>;

    /// Appends actions, in one transaction with `report`. An action whose identity (user,
    /// job, type, instant) is already stored is not stored again: re-ingesting a file changes
    /// nothing. Adds `already_stored` to the report's counts and sets `rows_imported` to the
    /// number of actions that were new.
    async fn append_actions(
        &self,
        actions: ActionColumns,
        report: ImportReport,
    ) -> Result<ImportReport, StoreError>;

    /// Every stored action with `from <= action_at < to`, sorted by identity.
    async fn actions_between(&self, from: Micros, to: Micros) -> Result<ActionColumns, StoreError>;

    async fn action_count(&self) -> Result<u64, StoreError>;

    /// Every stored day of actions overlapping `[from, to)`, in day order, each opened by
    /// the caller when it needs it (rows outside the range are not removed: callers filter
    /// by instant).
    async fn action_days(
        &self,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<Box<dyn ActionDay>>, StoreError>;
}

/// The reports of past imports, and the data version they make.
#[async_trait]
pub trait ImportLog: Send + Sync {
    /// The most recent imports, newest first.
    async fn import_summaries(&self, limit: usize) -> Result<Vec<ImportSummary>, StoreError>;

    async fn import_report(&self, id: u64) -> Result<Option<ImportReport>, StoreError>;

    /// A number that changes whenever an import commits (jobs, users, actions or masters):
    /// the id of the last import report (0 before any import). A daily run computed from
    /// the same data version read the same inputs.
    async fn data_version(&self) -> Result<u64, StoreError>;
}

/// The daily run: its records, its per-date checkpoint, picks and job scores, and the lease that lets one run at a time.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Begins (or begins again) the daily run of `date`, in one transaction: writes the
    /// date's job scores when given (`None` keeps the stored ones), removes every pick of the
    /// date, and, when the checkpoint's run queues emails ([`DayCheckpoint::queues_emails`]),
    /// removes the date's emails except those already `sending` or `sent`
    /// ([`crate::domain::batch::EmailStatus::is_final_for_rerun`]), which are kept as they
    /// are; then writes `checkpoint` as the date's. On error nothing changes.
    async fn begin_day(
        &self,
        date: Date,
        scores: Option<JobScoreTable>,
        checkpoint: DayCheckpoint,
    ) -> Result<(), StoreError>;

    /// Stores one chunk of users of the date's run, in one transaction: inserts or replaces
    /// each user's picks; when `emails` is given, inserts each email unless the same (date,
    /// user) already holds one that is `sending` or `sent` (that one is kept, never
    /// regenerated); writes `checkpoint` (its `chunks_done` counting this chunk) as the
    /// date's. On error nothing changes, and the previous checkpoint stays.
    async fn save_chunk(
        &self,
        date: Date,
        picks: Vec<UserPicks>,
        emails: Option<Vec<QueuedEmail>>,
        checkpoint: DayCheckpoint,
    ) -> Result<(), StoreError>;

    /// Stores some users' picks (and emails) of `date` outside a run of the whole date (one
    /// user on demand, the failures of an earlier run), in one transaction: as
    /// [`RunStore::save_chunk`] (picks inserted or replaced, an email never over one that
    /// is `sending` or `sent`), but the date's checkpoint, its job scores and every other
    /// user's picks and emails are left as they are. On error nothing changes.
    async fn save_users_results(
        &self,
        date: Date,
        picks: Vec<UserPicks>,
        emails: Option<Vec<QueuedEmail>>,
    ) -> Result<(), StoreError>;

    /// Ends the daily run of `date`, in one transaction: deletes the date's checkpoint and
    /// inserts (`id` 0) or replaces `run`. Returns the run with its id.
    async fn finish_day(&self, date: Date, run: RunRecord) -> Result<RunRecord, StoreError>;

    /// The checkpoint of a daily run of `date` that began and did not finish, if any.
    async fn day_checkpoint(&self, date: Date) -> Result<Option<DayCheckpoint>, StoreError>;

    /// The job scores of a date, if a run computed them.
    async fn job_scores(&self, date: Date) -> Result<Option<JobScoreTable>, StoreError>;

    /// The picks of a date, sorted by user id; only `user`'s when given.
    async fn picks(&self, date: Date, user: Option<&UserId>) -> Result<Vec<UserPicks>, StoreError>;

    /// Inserts (`id` 0) or replaces a run record; returns it with its id.
    async fn save_run(&self, run: RunRecord) -> Result<RunRecord, StoreError>;

    /// The most recent runs, newest first.
    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;

    /// The run record with `id`, if it is stored (retention deletes old ones).
    async fn run_record(&self, id: u64) -> Result<Option<RunRecord>, StoreError>;

    /// Takes the daily-run lease for `holder` until `expires_at` (µs), unless another holder
    /// has it and it has neither expired nor been proven gone. Returns whether the lease is
    /// now `holder`'s. Only one run holds it at a time, across every process that shares the
    /// store; a holder keeps it by renewing it ([`RunStore::renew_run_lock`]) well before it
    /// expires, and a holder that stops (crashed, killed, its machine lost) loses it at
    /// expiry. A store that can prove a holder gone may take its lease over at once: the
    /// embedded store does for every holder of an earlier process, as only one process can
    /// have its file open.
    async fn acquire_run_lock(
        &self,
        holder: &str,
        now: Micros,
        expires_at: Micros,
    ) -> Result<bool, StoreError>;

    /// Extends `holder`'s lease to `expires_at`. Returns `false`, changing nothing, when the
    /// lease is no longer `holder`'s (it lapsed and another run took it): the run must stop.
    async fn renew_run_lock(&self, holder: &str, expires_at: Micros) -> Result<bool, StoreError>;

    /// Who holds the daily-run lease, and until when.
    async fn run_lock_holder(&self) -> Result<Option<(String, Micros)>, StoreError>;

    /// Gives the daily-run lease back, if `holder` has it.
    async fn release_run_lock(&self, holder: &str) -> Result<(), StoreError>;
}

/// The queued emails of each date.
#[async_trait]
pub trait EmailQueue: Send + Sync {
    /// The emails of a date, sorted by user id; only `user`'s when given.
    async fn emails(
        &self,
        date: Date,
        user: Option<&UserId>,
    ) -> Result<Vec<QueuedEmail>, StoreError>;

    /// Sets the status of `user`'s email of `date` to `to` (and `updated_at` to `at`), in
    /// one transaction, when its status is one of `from`; otherwise changes nothing and
    /// says why.
    async fn update_email_status(
        &self,
        date: Date,
        user: &UserId,
        from: &[EmailStatus],
        to: EmailStatus,
        at: Micros,
    ) -> Result<EmailUpdate, StoreError>;

    /// Ends an attempt of `user`'s email of `date`, which must be `sending`: in one
    /// transaction, appends `attempt` to its attempts, counts it, sets the status to `to`,
    /// `last_error` (the reply, unless `to` is `sent`), `updated_at` and, for `sent`,
    /// `sent_at` (all to `attempt.finished_at`). Refused (nothing changes) from any other
    /// status.
    async fn finish_email_attempt(
        &self,
        date: Date,
        user: &UserId,
        attempt: EmailAttempt,
        to: EmailStatus,
    ) -> Result<EmailUpdate, StoreError>;

    /// Every attempt of `user`'s email of `date`, oldest first (empty when none).
    async fn email_attempts(
        &self,
        date: Date,
        user: &UserId,
    ) -> Result<Vec<EmailAttempt>, StoreError>;

    /// Marks every `pending` email of `date` `cancelled` at `at`, in one transaction;
    /// returns how many.
    async fn cancel_pending_emails(&self, date: Date, at: Micros) -> Result<u64, StoreError>;

    /// The pause of sending in force, if any; it lasts until [`Self::set_delivery_pause`]
    /// with `None`.
    async fn delivery_pause(&self) -> Result<Option<DeliveryPause>, StoreError>;

    /// Pauses sending (`Some`) or resumes it (`None`), committed before it returns.
    async fn set_delivery_pause(&self, pause: Option<DeliveryPause>) -> Result<(), StoreError>;
}

/// Retention, space and statistics: what keeps the store healthy, in its own terms.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Deletes what is older than the retention limits (SPEC §6): actions before
    /// `actions_before` (an implementation may keep those of the UTC day the limit falls
    /// in: retention is by day), picks and job scores of dates before `picks_before`, emails of dates
    /// before `emails_before`, run records started before `runs_before`, and the checkpoints
    /// of dates before `picks_before` (their runs cannot resume without the picks). Returns
    /// the counts.
    async fn purge(&self, limits: RetentionLimits) -> Result<PurgeCounts, StoreError>;

    /// Rewrites the storage so that space freed by updates and deletions goes back to the
    /// file system; other calls wait meanwhile. Returns the file size before and after.
    async fn compact(&self) -> Result<(u64, u64), StoreError>;

    /// Gives unused space back to the file system when this engine finds it worth the
    /// cost, and at least `at_least` bytes are unused; returns the storage's size before and
    /// after when it did, `None` when it did nothing. The embedded store rewrites its file
    /// ([`Maintenance::compact`], about 2 s per GB) once at least half of it is unused too.
    async fn reclaim_space(&self, at_least: u64) -> Result<Option<(u64, u64)>, StoreError>;

    /// How much space the data takes, for `status` and metrics.
    async fn storage_stats(&self) -> Result<StorageStats, StoreError>;
}

/// The server's accounts and API tokens. Addresses are unique without regard to ASCII case.
/// Accounts are disabled, never deleted, and tokens revoked, never deleted: both stay
/// listed, so that who could do what remains on record.
///
/// The last-admin rule is kept here, inside the transaction of the change: there is always
/// at least one enabled admin once one exists, however many requests race.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores a new account under the next account id, in one transaction; fails with
    /// [`StoreError::AccountExists`], changing nothing, when an account has the same address
    /// (ASCII case ignored). Returns the account with its id.
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError>;

    /// Like [`AccountStore::create_account`], but only while no account at all is stored:
    /// the first admin. Returns `None`, changing nothing, when one is; the check and the
    /// insert are one transaction, so two first starts or setup requests cannot both
    /// create an account.
    async fn create_first_account(
        &self,
        account: NewAccount,
    ) -> Result<Option<Account>, StoreError>;

    /// Every account, disabled ones too, by id.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// The account with this address, ASCII case ignored.
    async fn account_by_email(
        &self,
        email: &crate::domain::EmailAddress,
    ) -> Result<Option<Account>, StoreError>;

    /// Replaces an account's password hash; returns the account as stored now, `None` when
    /// there is no such account.
    async fn update_password(
        &self,
        id: AccountId,
        password_hash: String,
    ) -> Result<Option<Account>, StoreError>;

    /// Sets an account's role; returns the account as stored now, `None` when there is no
    /// such account. Fails with [`StoreError::LastAdmin`], changing nothing, when it would
    /// demote the last enabled admin.
    async fn set_role(&self, id: AccountId, role: Role) -> Result<Option<Account>, StoreError>;

    /// Disables (or enables again) an account; returns the account as stored now, `None`
    /// when there is no such account. Fails with [`StoreError::LastAdmin`], changing
    /// nothing, when it would disable the last enabled admin.
    async fn set_disabled(
        &self,
        id: AccountId,
        disabled: bool,
    ) -> Result<Option<Account>, StoreError>;

    /// How many accounts are enabled admins.
    async fn count_admins(&self) -> Result<u64, StoreError>;

    /// Stores a new API token under the next token id; returns it with its id. Fails, changing
    /// nothing, when a token with the same hash is stored (a 256-bit collision: a bug).
    async fn create_token(&self, token: NewApiToken) -> Result<ApiToken, StoreError>;

    /// Every token, revoked and expired ones too, by id.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// The token whose secret hashes to `hash`, whatever its state (the caller checks
    /// [`ApiToken::is_usable_at`]).
    async fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError>;

    /// Revokes a token at `at`; a token revoked before keeps its first revocation time.
    /// Returns the token as stored now, `None` when there is no such token.
    async fn revoke_token(&self, id: TokenId, at: Micros) -> Result<Option<ApiToken>, StoreError>;

    /// Records that a token was used at `at` (a later instant only: an earlier one changes
    /// nothing). An unknown token is no error.
    async fn record_token_use(&self, id: TokenId, at: Micros) -> Result<(), StoreError>;
}

/// Every store trait, for code that calls a concrete store (`RedbStore`) rather than
/// `dyn Store`, whose methods need no import: `use mailscore::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        AccountStore, ActionStore, BounceStore, EmailQueue, ImportLog, JobStore, Maintenance,
        RunStore, Store, UserStore,
    };
}

/// Told how long a store operation took, named by its trait method (`users`,
/// `record_actions`). A server sets one for its metrics ([`observe_operations`]); a
/// process without one (the command line) times nothing.
pub type OperationObserver = fn(&'static str, Duration);

static OPERATION_OBSERVER: OnceLock<OperationObserver> = OnceLock::new();

/// From now on, `observer` is told the duration of every store operation of this process
/// (of every store it opens: there is one process-wide metrics recorder too). The first
/// observer set stays.
pub fn observe_operations(observer: OperationObserver) {
    let _ = OPERATION_OBSERVER.set(observer);
}

/// Times one operation of an implementation, from [`OperationTimer::start`] until it is
/// dropped (however the operation ends), for the process's [`OperationObserver`]; costs
/// one clock read when there is one, nothing when there is none.
pub struct OperationTimer {
    operation: &'static str,
    started: Option<(Instant, OperationObserver)>,
}

impl OperationTimer {
    pub fn start(operation: &'static str) -> Self {
        Self {
            operation,
            started: OPERATION_OBSERVER
                .get()
                .map(|observer| (Instant::now(), *observer)),
        }
    }
}

impl Drop for OperationTimer {
    fn drop(&mut self) {
        if let Some((started, observer)) = self.started {
            observer(self.operation, started.elapsed());
        }
    }
}

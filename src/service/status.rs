//! Counts of what is stored, and the codes the current jobs use that no master names.

use super::ServiceError;
use crate::domain::Masters;
use crate::ingest::UnknownCodeUse;
use crate::store::{JobCounts, StorageStats, Store};

/// What the store holds.
#[derive(Debug, Clone)]
pub struct StoreStatus {
    pub space: StorageStats,
    pub jobs: JobCounts,
    pub users: usize,
    pub actions: u64,
    pub masters: Masters,
    /// The current jobs' codes that no master names, most used first (then by column
    /// and code).
    pub unknown_codes: Vec<UnknownCodeUse>,
}

/// Counts what `store` holds.
pub async fn store_status(store: &dyn Store) -> Result<StoreStatus, ServiceError> {
    let jobs = store.job_counts().await?;
    let users = store.users().await?.len();
    let actions = store.action_count().await?;
    let masters = store.masters().await?;
    let space = store.storage_stats().await?;
    let mut unknown_codes =
        crate::ingest::unknown_codes_in_use(&masters, &store.job_columns().await?);
    unknown_codes.sort_by(|a, b| {
        b.jobs
            .cmp(&a.jobs)
            .then(a.column.cmp(&b.column))
            .then(a.code.cmp(&b.code))
    });
    Ok(StoreStatus {
        space,
        jobs,
        users,
        actions,
        masters,
        unknown_codes,
    })
}

/// Whether the store answers: one cheap read, for a server's readiness.
pub async fn check_store(store: &dyn Store) -> Result<(), ServiceError> {
    store.data_version().await?;
    Ok(())
}

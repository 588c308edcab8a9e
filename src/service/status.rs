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

/// How many records of each kind of reference data are in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasterCounts {
    pub prefectures: u64,
    pub cities: u64,
    pub adjacency: u64,
    pub occupations: u64,
    pub employment_types: u64,
    pub salary_types: u64,
    pub features: u64,
    pub keywords: u64,
}

/// What `mailscore status` and `GET /api/status` show of a [`StoreStatus`]: its counts,
/// which the command line also reads back from a server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCounts {
    pub space: StorageStats,
    pub jobs: JobCounts,
    pub users: u64,
    pub actions: u64,
    pub masters: MasterCounts,
    /// As [`StoreStatus::unknown_codes`].
    pub unknown_codes: Vec<UnknownCodeUse>,
}

impl StoreStatus {
    pub fn counts(self) -> StatusCounts {
        let masters = &self.masters;
        let n = |len: usize| len as u64;
        StatusCounts {
            space: self.space,
            jobs: self.jobs,
            users: n(self.users),
            actions: self.actions,
            masters: MasterCounts {
                prefectures: n(masters.prefectures.len()),
                cities: n(masters.cities.len()),
                adjacency: n(masters.adjacency.len()),
                occupations: n(masters.occupations.len()),
                employment_types: n(masters.employment_types.len()),
                salary_types: n(masters.salary_types.len()),
                features: n(masters.features.len()),
                keywords: n(masters.keywords.len()),
            },
            unknown_codes: self.unknown_codes,
        }
    }
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

//! Counts of what is stored, and the codes the current jobs use that no master names.

use jiff::civil::Date;

use super::ServiceError;
use crate::domain::Masters;
use crate::domain::batch::EmailStatus;
use crate::ingest::UnknownCodeUse;
use crate::scoring::SectionKind;
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

/// What the date of the latest run holds: its picks by section and its emails by status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStatus {
    pub date: Date,
    /// Every section, in [`SectionKind::ALL`] order, with how many picks it holds.
    pub picks_by_section: Vec<(SectionKind, u64)>,
    /// Every status, in [`EmailStatus::ALL`] order, with how many emails have it.
    pub emails_by_status: Vec<(EmailStatus, u64)>,
}

/// Counts the picks and emails of the latest run's date; `None` before any run.
pub async fn latest_day_status(store: &dyn Store) -> Result<Option<DayStatus>, ServiceError> {
    let Some(run) = store.runs(1).await?.into_iter().next() else {
        return Ok(None);
    };
    let mut sections = [0u64; SectionKind::ALL.len()];
    for user in store.picks(run.date, None).await? {
        for pick in &user.picks {
            if let Some(count) = sections.get_mut(usize::from(pick.section)) {
                *count += 1;
            }
        }
    }
    let mut statuses = [0u64; EmailStatus::ALL.len()];
    for email in store.emails(run.date, None).await? {
        if let Some(index) = EmailStatus::ALL.iter().position(|s| *s == email.status) {
            statuses[index] += 1;
        }
    }
    Ok(Some(DayStatus {
        date: run.date,
        picks_by_section: SectionKind::ALL.into_iter().zip(sections).collect(),
        emails_by_status: EmailStatus::ALL.into_iter().zip(statuses).collect(),
    }))
}

/// Whether the store answers: one cheap read, for a server's readiness.
pub async fn check_store(store: &dyn Store) -> Result<(), ServiceError> {
    store.data_version().await?;
    Ok(())
}

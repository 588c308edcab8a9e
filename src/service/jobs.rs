//! The stored jobs, one at a time.

use super::ServiceError;
use crate::domain::{JobId, JobRecord};
use crate::store::Store;

/// Every stored column of one job (active or left behind by a later snapshot).
pub async fn show_job(store: &dyn Store, id: JobId) -> Result<JobRecord, ServiceError> {
    store
        .jobs(&[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ServiceError::NotFound {
            explanation: format!("no job {id} is stored"),
        })
}

//! Actions that come as a batch rather than a file (SPEC §2.3: "also accepted as JSON over
//! the API"): checked row by row exactly as the CSV importer checks a file's rows (one
//! [`ActionChecker`](crate::ingest::actions::ActionChecker)), their empty snapshot cells
//! filled from the job records, and stored once per identity (user, job, type, instant) in
//! one transaction with their import report, as an import of `actions.csv` is.

use super::ServiceError;
use crate::domain::{ImportReport, TimeZoneSetting};
use crate::ingest::actions::{ActionCells, check_action_batch, fill_snapshots};
use crate::store::Store;

/// The most actions one batch takes; a larger batch is refused whole.
pub const MAX_ACTIONS_PER_BATCH: usize = 10_000;

/// The name a batch's import report gives its "file".
pub const BATCH_FILE_NAME: &str = "POST /api/actions";

/// Checks and stores a batch of actions; returns its stored report (rows skipped and
/// warnings with the 1-based position of their action as `line`). An empty batch, or one
/// of more than [`MAX_ACTIONS_PER_BATCH`] actions, is refused whole and changes nothing.
/// Storing the same batch again stores nothing new: its actions count as `already_stored`.
pub async fn ingest_action_batch(
    store: &dyn Store,
    batch: &[ActionCells],
    zone: &TimeZoneSetting,
) -> Result<ImportReport, ServiceError> {
    if batch.is_empty() {
        return Err(ServiceError::BatchRejected {
            message: "the batch holds no action".to_owned(),
            hint: "send at least one action in `actions`".to_owned(),
        });
    }
    if batch.len() > MAX_ACTIONS_PER_BATCH {
        return Err(ServiceError::BatchRejected {
            message: format!(
                "the batch holds {} actions, more than the {MAX_ACTIONS_PER_BATCH} one batch takes",
                batch.len()
            ),
            hint: format!(
                "send at most {MAX_ACTIONS_PER_BATCH} actions per request, or upload a file \
                 with POST /api/imports?kind=actions"
            ),
        });
    }
    let clock = std::time::Instant::now();
    let mut report = ImportReport::new("actions", BATCH_FILE_NAME, crate::ingest::now_micros());
    report.encoding = "JSON".to_owned();
    let masters = store.masters().await?;
    let (mut actions, mut report) = check_action_batch(batch, &masters, zone, report);
    fill_snapshots(store, &mut actions, zone).await?;
    report.duration_ms = clock.elapsed().as_millis() as u64;
    let report = store.append_actions(actions, report).await?;
    tracing::info!(
        import = report.id,
        actions = report.rows_read,
        stored = report.rows_imported,
        skipped = report.rows_skipped,
        "action batch stored"
    );
    Ok(report)
}

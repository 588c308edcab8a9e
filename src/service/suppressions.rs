//! The suppression list: addresses that get no email.

use super::ServiceError;
use crate::domain::time::Micros;
use crate::domain::{EmailAddress, Suppression, SuppressionReason};
use crate::store::Store;

/// Every suppressed address, in the store's order (by address).
pub async fn list_suppressions(store: &dyn Store) -> Result<Vec<Suppression>, ServiceError> {
    Ok(store.suppressions().await?)
}

/// Suppresses `address` from `created_at` on; returns how many of its queued `pending` or
/// `failed` emails were marked suppressed with it.
pub async fn suppress_address(
    store: &dyn Store,
    address: EmailAddress,
    reason: SuppressionReason,
    note: Option<String>,
    created_at: Micros,
) -> Result<u64, ServiceError> {
    Ok(store
        .suppress(Suppression {
            address,
            reason,
            created_at,
            note,
        })
        .await?)
}

/// Lifts the suppression of `address`; an error when it is not on the list.
pub async fn unsuppress_address(
    store: &dyn Store,
    address: &EmailAddress,
) -> Result<(), ServiceError> {
    if !store.unsuppress(address).await? {
        return Err(ServiceError::NotFound {
            explanation: format!("{} is not on the suppression list", address.as_str()),
        });
    }
    Ok(())
}

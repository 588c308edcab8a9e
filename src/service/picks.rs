//! One user's picks of a date computed on demand, as a run would compute them, without
//! storing them.

use jiff::civil::Date;

use super::ServiceError;
use super::explain::{Missing, explain_no_picks};
use crate::domain::UserId;
use crate::domain::batch::UserPicks;
use crate::pipeline::{BatchOptions, recompute_user_picks};
use crate::store::Store;

/// `user`'s picks of `date`, computed now from the stored data with `base`'s scoring and
/// time zone exactly as a run of that user would compute them, and not stored (no run
/// record, no write: it takes no writer and can go on beside a run). Right after a run of
/// the date on the same data, they equal its stored picks; after new actions or a new
/// feed, they are what the next run would store. An error explains why a run would give
/// the user no picks (unknown, suppressed, inactive, unsubscribed).
pub async fn recompute_picks(
    store: &dyn Store,
    base: &BatchOptions,
    date: Date,
    user: &UserId,
) -> Result<UserPicks, ServiceError> {
    use tracing::Instrument;
    let options = BatchOptions {
        date,
        ..base.clone()
    };
    let span = tracing::info_span!("recompute", user = %user, date = %date);
    match recompute_user_picks(store, &options, user)
        .instrument(span)
        .await?
    {
        Some(picks) => Ok(picks),
        None => Err(ServiceError::NotFound {
            explanation: explain_no_picks(store, date, user, Missing::Picks).await?,
        }),
    }
}

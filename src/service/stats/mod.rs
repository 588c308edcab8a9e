//! The dashboard's statistics of a date (SPEC §7): what the store holds, the date's score
//! distributions and section fill, activity by day and section over a window, and the pick
//! hit rates, read from the store once and computed by the pure [`compute`] module.

pub mod compute;

use jiff::civil::Date;

use super::ServiceError;
use crate::domain::TimeZoneSetting;
use crate::domain::batch::EmailStatus;
use crate::pipeline::cpu_bound;
use crate::scoring::SectionSpec;
use crate::store::Store;
use compute::{Snapshot, Stats, StatsBuilder, StatsPeriod};

/// The days of the activity series and hit rates when the request names none.
pub const DEFAULT_WINDOW_DAYS: usize = 30;

/// The longest window a request may ask for (picks are kept 30 days by default).
pub const MAX_WINDOW_DAYS: usize = 90;

/// What statistics to compute.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// The date; `None`: today in the zone.
    pub date: Option<Date>,
    /// The window's days up to the date, 1 to [`MAX_WINDOW_DAYS`].
    pub window_days: usize,
    pub time_zone: TimeZoneSetting,
    /// The sections of an email and their sizes (the scoring settings').
    pub sections: Vec<SectionSpec>,
}

/// The statistics of a date. Reads the store once: the counts, the date's emails and job
/// scores, the action days of the window and of the week after it, then the picks of each
/// window date, two dates at a time, each added and dropped.
pub async fn date_stats(store: &dyn Store, options: &StatsOptions) -> Result<Stats, ServiceError> {
    if !(1..=MAX_WINDOW_DAYS).contains(&options.window_days) {
        return Err(ServiceError::InvalidValue {
            what: "days",
            value: options.window_days.to_string(),
            message: format!("the window is 1 to {MAX_WINDOW_DAYS} days"),
        });
    }
    let zone = &options.time_zone;
    let date = options
        .date
        .unwrap_or_else(|| super::runs::today(zone.zone()));
    let period = StatsPeriod::new(date, options.window_days, zone);
    let (from, to) = period.actions_range();
    let job_counts = store.job_counts().await?;
    let users = store.users().await?;
    let suppressions = store.suppressions().await?;
    let emails: Vec<EmailStatus> = store
        .emails(date, None)
        .await?
        .iter()
        .map(|email| email.status)
        .collect();
    let job_scores = store.job_scores(date).await?;
    let snapshot = Snapshot {
        jobs_active: job_counts.active,
        jobs_total: job_counts.total,
        users: &users,
        suppressions: &suppressions,
        emails: &emails,
        job_scores: job_scores.as_ref(),
        sections: &options.sections,
    };
    let action_days = store.action_days(from, to).await?;
    let mut builder = cpu_bound(|| StatsBuilder::new(&period, &action_days, snapshot));
    drop(action_days);
    for dates in period.window.chunks(2) {
        let (first, second) = tokio::join!(store.picks(dates[0], None), async {
            match dates.get(1) {
                Some(&date) => store.picks(date, None).await.map(Some),
                None => Ok(None),
            }
        });
        let (first, second) = (first?, second?);
        cpu_bound(|| {
            builder.add_picks(dates[0], &first);
            if let Some(second) = &second {
                builder.add_picks(dates[1], second);
            }
        });
    }
    Ok(cpu_bound(|| builder.finish(snapshot)))
}

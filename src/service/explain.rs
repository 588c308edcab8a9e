//! Why something a user asked for is not stored (a date's picks, a user's picks or
//! email), as the store tells it, and what to do about it.

use jiff::civil::Date;

use super::ServiceError;
use crate::domain::UserId;
use crate::domain::batch::{Phase, RunStatus};
use crate::store::Store;

/// How many recent run records are searched for a date's last run.
const RUNS_SEARCHED: usize = 100;

/// What a user has none of on a date, as the explanation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Picks,
    Email,
}

impl Missing {
    fn as_str(self) -> &'static str {
        match self {
            Self::Picks => "picks",
            Self::Email => "email",
        }
    }
}

/// Why a date has no stored picks, and what to do; `None` when a run of the date finished
/// its picks (so the date's picks are whatever it stored).
pub async fn explain_no_day(store: &dyn Store, date: Date) -> Result<Option<String>, ServiceError> {
    let run = format!("run `mailscore batch run --date {date}`");
    if let Some(checkpoint) = store.day_checkpoint(date).await? {
        return Ok(Some(format!(
            "the daily run of {date} did not finish ({} chunks of {} users stored); {run} to complete it",
            checkpoint.chunks_done, checkpoint.chunk_users
        )));
    }
    let last_finished = store.runs(RUNS_SEARCHED).await?.into_iter().find(|r| {
        // A run of some users, or one that did not finish, did not decide the date.
        r.date == date
            && r.users.is_none()
            && matches!(
                r.status,
                RunStatus::Succeeded | RunStatus::SucceededWithWarnings
            )
    });
    Ok(match last_finished {
        Some(last) if last.until == Phase::Profiles || last.until == Phase::Scores => {
            Some(format!(
                "the last daily run of {date} (#{}) stopped before the picks (`--until {}`); {run}",
                last.id, last.until
            ))
        }
        Some(_) => None,
        None if store.job_scores(date).await?.is_some() => None,
        None => Some(format!(
            "no daily run has stored picks for {date}; {run} first"
        )),
    })
}

/// Why one user has no picks (or no email) on a date: the user is not known, gets none
/// (inactive, unsubscribed, suppressed), the date was not run, or the user was not
/// eligible when it ran; and what to do.
pub async fn explain_no_picks(
    store: &dyn Store,
    date: Date,
    user: &UserId,
    missing: Missing,
) -> Result<String, ServiceError> {
    let what = missing.as_str();
    let none = format!("user {user} has no {what} for {date}");
    let known = store.user(user).await?;
    let Some(known) = known else {
        return Ok(format!(
            "{none}: no user {user} is stored; check the id (`mailscore picks export --date {date} --out -` lists the users with picks), or import the users file that has them"
        ));
    };
    let suppression = store.suppressions().await?.into_iter().find(|s| {
        s.address
            .as_str()
            .eq_ignore_ascii_case(known.email.as_str())
    });
    if let Some(suppression) = suppression {
        return Ok(format!(
            "{none}: their address {} is on the suppression list ({}), so daily runs leave them out; `mailscore suppressions remove {}` lifts it from the next run on",
            known.email.as_str(),
            suppression.reason.as_str(),
            known.email.as_str()
        ));
    }
    if !known.is_active || !known.subscribed {
        let state = if known.is_active {
            "unsubscribed (subscribed is false in the users file)"
        } else {
            "inactive (is_active is false in the users file)"
        };
        return Ok(format!(
            "{none}: they are {state}, so daily runs give them no picks and no email; import a users file that changes it, then rerun `mailscore batch run --date {date}`"
        ));
    }
    let picks = store.picks(date, Some(user)).await?;
    if missing == Missing::Email && picks.first().is_some_and(|p| !p.picks.is_empty()) {
        return Ok(format!(
            "{none}, though it has picks: the run of {date} stopped before rendering (`--until picks`), or the email failed to render (see `mailscore batch list`); rerun `mailscore batch run --date {date}`"
        ));
    }
    if !picks.is_empty() {
        return Ok(format!(
            "{none}: no eligible job matched them on that date (their pick list is empty), so no email either"
        ));
    }
    Ok(match explain_no_day(store, date).await? {
        Some(day) => format!("{none}: {day}"),
        None => format!(
            "{none}: they were not eligible when the date ran (imported, reactivated, resubscribed or unsuppressed since); rerun `mailscore batch run --date {date}`"
        ),
    })
}

//! What a daily run stores: each job's scores, each user's picks, the run record, and the
//! checkpoint a run killed midway resumes from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::Micros;
use super::{EmailAddress, UserId};
use crate::columnar::StrColumn;
use jiff::civil::Date;

/// One stored pick (SPEC §4): scores as computed (rounded to 6 decimals), reasons as bits
/// of [`crate::matching::reasons::Reason`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoredPick {
    /// [`crate::scoring::SectionKind`] code.
    pub section: u8,
    pub rank: u8,
    pub job_id: u64,
    /// [`crate::matching::Tier`] code.
    pub tier: u8,
    pub personalized: f64,
    pub basic: f64,
    pub seo: f64,
    pub total: f64,
    pub editorial: f64,
    pub reasons: u16,
}

/// The phases of the daily run, in order. Stored as their names (`render`), as records
/// written before the type existed hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Phase {
    Profiles,
    Scores,
    Picks,
    /// Render every email and queue it.
    Render,
}

impl Phase {
    pub const ALL: [Self; 4] = [Self::Profiles, Self::Scores, Self::Picks, Self::Render];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profiles => "profiles",
            Self::Scores => "scores",
            Self::Picks => "picks",
            Self::Render => "render",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|phase| phase.as_str() == text)
            .ok_or_else(|| {
                format!("unknown phase {text:?}; expected profiles, scores, picks or render")
            })
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Phase {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Phase> for String {
    fn from(phase: Phase) -> Self {
        phase.as_str().to_owned()
    }
}

/// A user's picks for one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPicks {
    pub user_id: UserId,
    pub picks: Vec<StoredPick>,
    /// True when matching failed and these are the previous day's picks (minus jobs no
    /// longer eligible).
    pub fallback: bool,
}

/// The jobs a user was picked on the two days before a date (SPEC §4: no job three days
/// running; and the fallback of a user whose matching fails).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentPicks {
    pub day_before: Vec<u64>,
    pub two_days_before: Vec<u64>,
}

/// Every user's [`RecentPicks`] for one date. Picks of a date are never read by that date's
/// own run, so chunks of users are independent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousPicks {
    by_user: std::collections::HashMap<UserId, RecentPicks>,
}

impl PreviousPicks {
    pub fn get(&self, user: &UserId) -> Option<&RecentPicks> {
        self.by_user.get(user)
    }

    /// Records the job ids `user` was picked `days_before` (1 or 2) the date.
    pub fn insert(&mut self, user: UserId, days_before: u8, job_ids: Vec<u64>) {
        let recent = self.by_user.entry(user).or_default();
        if days_before == 1 {
            recent.day_before = job_ids;
        } else {
            recent.two_days_before = job_ids;
        }
    }

    /// Every user's, in user id order.
    pub fn sorted(&self) -> Vec<(&UserId, &RecentPicks)> {
        let mut users: Vec<_> = self.by_user.iter().collect();
        users.sort_unstable_by_key(|(user, _)| *user);
        users
    }
}

/// Every job's scores for one date, as columns (the jobs of that day's snapshot).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobScoreTable {
    pub job_id: Vec<u64>,
    pub basic: Vec<f64>,
    pub wage: Vec<f64>,
    pub fee: Vec<f64>,
    pub popularity: Vec<f64>,
    pub seo: Vec<f64>,
    /// Names of the needs categories, `|`-separated.
    pub needs: StrColumn,
    pub occupation_category: Vec<u16>,
    /// `keyword(field)`, `|`-separated, in the order they counted.
    pub matched_keywords: StrColumn,
}

impl JobScoreTable {
    pub fn len(&self) -> usize {
        self.job_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.job_id.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// The run finished, but on degraded input: an inbox file was refused or rejected (the
    /// run used the data stored before it), or some users got yesterday's picks. The
    /// record's `warnings` say what.
    SucceededWithWarnings,
    Failed,
    /// Stopped on request at a phase or chunk boundary (`POST /api/runs/{id}/cancel`, a
    /// server shutting down). The chunks it stored are kept with the date's checkpoint,
    /// so the next run of the date resumes after them.
    Cancelled,
}

impl RunStatus {
    pub const ALL: [Self; 5] = [
        Self::Running,
        Self::Succeeded,
        Self::SucceededWithWarnings,
        Self::Failed,
        Self::Cancelled,
    ];

    /// How a person reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::SucceededWithWarnings => "succeeded with warnings",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The stable snake_case name (as stored, and as metrics and the API label it).
    pub fn code(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::SucceededWithWarnings => "succeeded_with_warnings",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the run has ended (every status but `running`).
    pub fn is_final(self) -> bool {
        self != Self::Running
    }
}

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// The cron schedule (`schedule`).
    Schedule,
    /// An HTTP client (`POST /api/runs`).
    Api,
    /// The command line (`mailscore batch run`, on its own or through a server).
    Cli,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Api => "api",
            Self::Cli => "cli",
        }
    }
}

/// One phase of a run: when it ran, what it counted, what went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub name: String,
    pub started_at: Micros,
    pub finished_at: Option<Micros>,
    pub duration_ms: u64,
    pub counts: BTreeMap<String, u64>,
    pub errors: Vec<String>,
}

/// A daily run (SPEC §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Assigned by the store; 0 before.
    pub id: u64,
    /// The batch date (stored as `YYYY-MM-DD`).
    pub date: Date,
    pub started_at: Micros,
    pub finished_at: Option<Micros>,
    pub status: RunStatus,
    /// The last phase asked for.
    pub until: Phase,
    pub phases: Vec<PhaseRecord>,
    /// SEO keywords skipped as matching more than half of the eligible jobs.
    pub skipped_keywords: Vec<String>,
    /// Users whose matching failed (they got the previous day's picks).
    pub failed_users: Vec<UserId>,
    /// Why the run failed, or where it was cancelled.
    pub error: Option<String>,
    /// What degraded the run (with status `succeeded_with_warnings`): each refused or
    /// rejected input file and why, users that fell back to yesterday's picks.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Who started the run; absent in records written before runs said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<RunTrigger>,
    /// The users a run of only some users computed (one user on demand, the failures of
    /// an earlier run); absent for the daily run of every user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserId>>,
    /// The run whose failures this run retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<u64>,
}

/// How far the daily run of one date got: written when the run begins the date and after
/// every stored chunk of users, deleted when the run finishes. A later run of the same date
/// resumes after the last stored chunk when nothing it depends on changed (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCheckpoint {
    /// The run that wrote the checkpoint last.
    pub run_id: u64,
    /// The store's data version ([`crate::store::ImportLog::data_version`]) the run computed from.
    pub data_version: u64,
    /// Users per chunk, in the order of [`crate::store::UserStore::users`].
    pub chunk_users: u32,
    /// Chunks whose picks (and emails) are stored: users `0..chunks_done × chunk_users`.
    pub chunks_done: u32,
    /// The last phase the run computes (`picks` or `render`, as in [`RunRecord::until`]).
    pub until: Phase,
    /// Fingerprint of everything else the chunks depend on: scoring, email and send
    /// settings, the signing key, the time zone, and the picks of the two days before.
    pub settings: u64,
}

impl DayCheckpoint {
    /// Whether the run queues emails (its `until` is `render`): only then does beginning the
    /// date remove its unsent emails, as replacing them is part of the run.
    pub fn queues_emails(&self) -> bool {
        self.until == Phase::Render
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
    Suppressed,
}

impl EmailStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Cancelled,
        Self::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Suppressed => "suppressed",
        }
    }

    /// Once an email is being sent or was sent, it is never regenerated.
    pub fn is_final_for_rerun(self) -> bool {
        matches!(self, Self::Sending | Self::Sent)
    }
}

/// One SMTP attempt of an email, and what the server answered (stored beside the email,
/// every attempt in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAttempt {
    pub started_at: Micros,
    pub finished_at: Micros,
    /// The reply code of the SMTP server's last reply; `None` when none came (refused,
    /// dropped or timed-out connection).
    pub reply_code: Option<u16>,
    /// The reply's text, or what went wrong without one.
    pub reply: String,
}

/// Sending is paused (by the automatic pause or an operator) until an operator resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPause {
    pub paused_at: Micros,
    /// Why, as a person reads it.
    pub reason: String,
}

/// One email in the queue: unique per (user, date). Bodies are LZ4-compressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEmail {
    pub user_id: UserId,
    /// Stored as `YYYY-MM-DD`.
    pub date: Date,
    pub to: EmailAddress,
    pub subject: String,
    pub scheduled_at: Micros,
    pub status: EmailStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub sent_at: Option<Micros>,
    /// What renders the bodies again identically: the email's view without its links
    /// (`crate::render::pack_view`), a tenth of the size of the bodies.
    pub content: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_records_store_the_same_bytes_as_the_text_fields_they_replaced() {
        let checkpoint = DayCheckpoint {
            run_id: 3,
            data_version: 7,
            chunk_users: 1000,
            chunks_done: 2,
            until: Phase::Render,
            settings: 42,
        };
        let as_text = (3u64, 7u64, 1000u32, 2u32, "render", 42u64);
        assert_eq!(
            postcard::to_allocvec(&checkpoint).unwrap(),
            postcard::to_allocvec(&as_text).unwrap()
        );
        let picks = UserPicks {
            user_id: UserId::parse("u1").unwrap(),
            picks: Vec::new(),
            fallback: false,
        };
        let bytes = postcard::to_allocvec(&picks).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&("u1", 0u8, false)).unwrap());
        assert_eq!(postcard::from_bytes::<UserPicks>(&bytes).unwrap(), picks);
        let date: Date = "2025-11-25".parse().unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2025-11-25\"");
        assert_eq!(
            postcard::to_allocvec(&date).unwrap(),
            postcard::to_allocvec("2025-11-25").unwrap()
        );
        assert!(serde_json::from_str::<Phase>("\"rendering\"").is_err());
    }
}

//! Tracked opens and clicks, and unsubscribing (SPEC §5): each verifies the signed token of
//! its link, then records what the token says.
//!
//! Opens and clicks go through a [`TrackingRecorder`]: the request is answered once the
//! action is queued, and a background task commits what was queued in one transaction at
//! most every [`BATCH_WINDOW`] (group commit), so that thousands of clicks a second do not
//! each wait for redb's single writer. A clean shutdown ([`TrackingRecorder::stop`] once
//! no request is left) commits what is queued; a SIGKILL loses what was queued since the last commit (at most
//! about one window's worth). Unsubscribing is never batched: the suppression is stored
//! before the answer.
//!
//! An action's identity is its instant, user, job and type (SPEC §2.3), so two clicks of one
//! link read in the same microsecond would be one. The recorder therefore gives every
//! action it takes an instant of its own: each is at least one microsecond after the one
//! taken before it, which moves an instant by no more than the queue's disorder.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::ServiceError;
use super::hot_reads::HotReads;
use crate::domain::action::{ActionColumnsBuilder, ActionRow, ActionSource, ActionType};
use crate::domain::job::none;
use crate::domain::time::Micros;
use crate::domain::{JobColumns, JobId, Suppression, SuppressionReason, TimeZoneSetting, UserId};
use crate::store::Store;
use crate::telemetry::ErrorChain;
use crate::tokens::{Claims, Purpose, TokenError, TokenSigner};

/// The longest a queued open or click waits for its commit.
pub const BATCH_WINDOW: Duration = Duration::from_millis(200);

/// The most actions one commit takes; more wait for the next.
pub const MAX_BATCH: usize = 20_000;

/// Actions queued and not yet taken by the recorder; a request waits when it is full.
const QUEUE_CAPACITY: usize = 100_000;

/// How often a failed commit is tried again before its actions are dropped (and logged).
const COMMIT_ATTEMPTS: u32 = 3;

/// One open or click, as its link's token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedAction {
    pub user_id: UserId,
    /// 0 for an open.
    pub job_id: u64,
    pub action_type: ActionType,
    pub at: Micros,
    /// The email's section the link was in (a click's `utm_content`).
    pub section: Option<String>,
}

/// Why a link was refused. Nothing is recorded for any of them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the link's token is refused: {0}")]
    Token(#[from] TokenError),
    #[error("the link names a user id that is not valid")]
    BadUser,
    #[error("the link's user is not stored")]
    UnknownUser,
}

/// Verifies a link's token for `purpose` at `now` (µs).
pub fn verify_link(
    signer: &TokenSigner,
    token: &str,
    purpose: Purpose,
    now: Micros,
) -> Result<(Claims, UserId), LinkError> {
    let claims = signer.verify(token, purpose, now.div_euclid(1_000_000))?;
    let user_id = UserId::parse(&claims.user_id).map_err(|_| LinkError::BadUser)?;
    Ok((claims, user_id))
}

/// Where a click goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickTarget {
    /// The job's own page: the feed's `url`, an absolute http(s) URL.
    Url(String),
    /// The feed has no usable `url` for the job (or the job is not stored): mailscore's
    /// own minimal page of the job.
    JobPage,
}

/// The section keys a click's `utm_content` may name; anything else is recorded as none.
fn known_section(section: Option<&str>) -> Option<String> {
    section
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .map(str::to_owned)
}

/// A job's `url` column when it is an absolute http(s) URL: the redirect never goes
/// anywhere else (no `javascript:`, no relative path).
pub fn redirect_url(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let lower = url.get(..8)?.to_ascii_lowercase();
    let absolute = lower.starts_with("https://") || lower.starts_with("http://");
    (absolute && !url.chars().any(char::is_control)).then(|| url.to_owned())
}

/// Records a click: verifies the token, queues the `click` action (source `email`, the
/// link's section), and says where to send the reader.
pub async fn click(
    store: &dyn Store,
    hot: &HotReads,
    recorder: &TrackingRecorder,
    signer: &TokenSigner,
    token: &str,
    section: Option<&str>,
    now: Micros,
) -> Result<(Claims, ClickTarget), ServiceError> {
    let (claims, user_id) = verify_link(signer, token, Purpose::Click, now)?;
    let target = match hot.job(store, JobId::new(claims.job_id)).await {
        Ok(job) => redirect_url(job.value("url")).map_or(ClickTarget::JobPage, ClickTarget::Url),
        Err(ServiceError::NotFound { .. }) => ClickTarget::JobPage,
        Err(error) => return Err(error),
    };
    recorder
        .record(TrackedAction {
            user_id,
            job_id: claims.job_id,
            action_type: ActionType::Click,
            at: now,
            section: known_section(section),
        })
        .await?;
    Ok((claims, target))
}

/// Records an open: verifies the token and queues the `open` action.
pub async fn open(
    recorder: &TrackingRecorder,
    signer: &TokenSigner,
    token: &str,
    now: Micros,
) -> Result<(), ServiceError> {
    let (_, user_id) = verify_link(signer, token, Purpose::Open, now)?;
    recorder
        .record(TrackedAction {
            user_id,
            job_id: 0,
            action_type: ActionType::Open,
            at: now,
            section: None,
        })
        .await
}

/// What an unsubscribe link is about, for its confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscription {
    pub user_id: UserId,
    /// The address, partly hidden (`ta***@example.jp`): the page may be seen by others.
    pub masked_address: String,
    pub already: bool,
    /// Queued emails marked suppressed by this unsubscription.
    pub emails_stopped: u64,
}

fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let shown: String = local.chars().take(2).collect();
            format!("{shown}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// The user an unsubscribe link is for, and whether their address is suppressed already.
async fn link_user(
    store: &dyn Store,
    signer: &TokenSigner,
    token: &str,
    now: Micros,
) -> Result<(crate::domain::User, bool), ServiceError> {
    let (_, user_id) = verify_link(signer, token, Purpose::Unsubscribe, now)?;
    let user = store
        .user(&user_id)
        .await?
        .ok_or(ServiceError::Link(LinkError::UnknownUser))?;
    let already = store
        .suppressions()
        .await?
        .iter()
        .any(|s| s.address.as_str().eq_ignore_ascii_case(user.email.as_str()));
    Ok((user, already))
}

/// The user an unsubscribe link is for, and whether the address is already suppressed
/// (for the confirmation page; changes nothing).
pub async fn unsubscribe_status(
    store: &dyn Store,
    signer: &TokenSigner,
    token: &str,
    now: Micros,
) -> Result<Unsubscription, ServiceError> {
    let (user, already) = link_user(store, signer, token, now).await?;
    Ok(Unsubscription {
        masked_address: mask(user.email.as_str()),
        user_id: user.user_id,
        already,
        emails_stopped: 0,
    })
}

/// Unsubscribes the link's user: the address goes on the suppression list (reason
/// `unsubscribed`) and its pending emails are marked `suppressed`, in one transaction,
/// before this returns. Unsubscribing twice changes nothing more.
pub async fn unsubscribe(
    store: &dyn Store,
    signer: &TokenSigner,
    token: &str,
    now: Micros,
) -> Result<Unsubscription, ServiceError> {
    let (user, already) = link_user(store, signer, token, now).await?;
    let emails_stopped = if already {
        0
    } else {
        store
            .suppress(Suppression {
                address: user.email.clone(),
                reason: SuppressionReason::Unsubscribed,
                created_at: now,
                note: Some("unsubscribe link".to_owned()),
            })
            .await?
    };
    if !already {
        tracing::info!(user_id = %user.user_id, emails_stopped, "unsubscribed by link");
    }
    Ok(Unsubscription {
        masked_address: mask(user.email.as_str()),
        user_id: user.user_id,
        already,
        emails_stopped,
    })
}

enum Command {
    Record(TrackedAction),
    /// Commit everything queued before and end the task (which lets go of the store).
    Stop,
}

/// Counts of what the recorder committed, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCommitted {
    pub actions: usize,
    pub new: u64,
}

/// The group commit of tracked opens and clicks (see the module documentation).
pub struct TrackingRecorder {
    sender: mpsc::Sender<Command>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TrackingRecorder {
    /// Starts the recorder's task on the current runtime. `on_commit` is told every commit.
    pub fn start(
        store: Arc<dyn Store>,
        zone: TimeZoneSetting,
        on_commit: impl Fn(BatchCommitted) + Send + 'static,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(run_recorder(store, zone, receiver, on_commit));
        Self {
            sender,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// Queues one action; waits only when the queue is full.
    pub async fn record(&self, action: TrackedAction) -> Result<(), ServiceError> {
        self.sender
            .send(Command::Record(action))
            .await
            .map_err(|_| ServiceError::ShuttingDown)
    }

    /// Commits everything queued before the call and ends the recorder: a later
    /// [`TrackingRecorder::record`] fails with [`ServiceError::ShuttingDown`]. Returns when
    /// the task has ended and let go of the store.
    pub async fn stop(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = self.sender.send(Command::Stop).await;
            if let Err(error) = task.await {
                tracing::error!(%error, "the tracking recorder ended abnormally");
            }
        }
    }
}

async fn run_recorder(
    store: Arc<dyn Store>,
    zone: TimeZoneSetting,
    mut receiver: mpsc::Receiver<Command>,
    on_commit: impl Fn(BatchCommitted),
) {
    let mut jobs: Option<(u64, JobColumns)> = None;
    let mut batch: Vec<TrackedAction> = Vec::new();
    let mut instants = DistinctInstants::default();
    loop {
        // Wait for the first command of a batch; then take whatever comes within the window.
        let Some(first) = receiver.recv().await else {
            break;
        };
        let mut open = true;
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Command::Record(mut action)) => {
                    action.at = instants.next(action.at);
                    batch.push(action);
                }
                Some(Command::Stop) => {
                    open = false;
                    break;
                }
                None => {}
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(command)) => next = Some(command),
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let committed = commit(store.as_ref(), &zone, &mut jobs, &batch).await;
            on_commit(committed);
            batch.clear();
        }
        if !open {
            break;
        }
    }
}

/// Gives each action taken an instant of its own (see the module documentation).
#[derive(Debug, Default)]
struct DistinctInstants {
    last: Option<Micros>,
}

impl DistinctInstants {
    fn next(&mut self, at: Micros) -> Micros {
        let at = match self.last {
            Some(last) if at <= last => last.saturating_add(1),
            _ => at,
        };
        self.last = Some(at);
        at
    }
}

/// Commits one batch, trying again a few times; a batch that cannot be committed is
/// dropped with an error in the log (the store is then failing for everything else too).
async fn commit(
    store: &dyn Store,
    zone: &TimeZoneSetting,
    jobs: &mut Option<(u64, JobColumns)>,
    batch: &[TrackedAction],
) -> BatchCommitted {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_commit(store, zone, jobs, batch).await {
            Ok(new) => {
                return BatchCommitted {
                    actions: batch.len(),
                    new,
                };
            }
            Err(error) if attempt < COMMIT_ATTEMPTS => {
                tracing::warn!(error = %ErrorChain(&error), attempt, "tracked actions not committed; trying again");
                tokio::time::sleep(BATCH_WINDOW * attempt).await;
            }
            Err(error) => {
                tracing::error!(error = %ErrorChain(&error), lost = batch.len(), "tracked actions could not be stored");
                return BatchCommitted::default();
            }
        }
    }
}

async fn try_commit(
    store: &dyn Store,
    zone: &TimeZoneSetting,
    jobs: &mut Option<(u64, JobColumns)>,
    batch: &[TrackedAction],
) -> Result<u64, crate::store::StoreError> {
    // The job snapshot fills each action's snapshot cells (SPEC §2.3), as an import's;
    // it is loaded again only when an import changed the data.
    let version = store.data_version().await?;
    if jobs.as_ref().is_none_or(|(loaded, _)| *loaded != version) {
        *jobs = Some((version, store.job_columns().await?));
    }
    let current = &jobs.as_ref().expect("loaded above").1;
    let mut builder = ActionColumnsBuilder::new();
    for action in batch {
        builder.push(&ActionRow {
            user_id: action.user_id.as_str(),
            job_id: action.job_id,
            action_type: Some(action.action_type),
            action_at: action.at,
            source: Some(ActionSource::Email),
            section: action.section.as_deref(),
            pref_cd: none::SMALL_CODE,
            city_cd: none::CODE,
            occupation_cd1: none::CODE,
            employment_type_cd: none::SMALL_CODE,
            salary_type_cd: none::SMALL_CODE,
            min_salary: none::SALARY,
            max_salary: none::SALARY,
            fee: none::FEE,
            ..ActionRow::default()
        });
    }
    let mut actions = builder.finish();
    crate::ingest::actions::fill_snapshots_with(store, &mut actions, zone, current).await?;
    store.record_actions(actions).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_taken_gets_an_instant_of_its_own() {
        let mut instants = DistinctInstants::default();
        assert_eq!(instants.next(100), 100);
        assert_eq!(instants.next(100), 101);
        assert_eq!(instants.next(99), 102);
        assert_eq!(instants.next(200), 200);
    }

    #[test]
    fn only_absolute_http_urls_become_redirects() {
        assert_eq!(
            redirect_url(Some(" https://example.jp/jobs/1 ")),
            Some("https://example.jp/jobs/1".to_owned())
        );
        assert_eq!(
            redirect_url(Some("HTTP://example.jp/")),
            Some("HTTP://example.jp/".to_owned())
        );
        for bad in [
            "javascript:alert(1)",
            "//evil.example/",
            "/jobs/1",
            "ftp://example.jp/",
            "",
            "https://example.jp/\r\nSet-Cookie: x",
        ] {
            assert_eq!(redirect_url(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(redirect_url(None), None);
    }

    #[test]
    fn a_section_is_kept_only_when_it_looks_like_a_section_key() {
        assert_eq!(known_section(Some("top5")), Some("top5".to_owned()));
        assert_eq!(known_section(Some("<script>")), None);
        assert_eq!(known_section(Some("")), None);
        assert_eq!(known_section(None), None);
    }

    #[test]
    fn an_address_is_masked_for_the_page() {
        assert_eq!(mask("taro@example.jp"), "ta***@example.jp");
        assert_eq!(mask("t@example.jp"), "t***@example.jp");
    }
}

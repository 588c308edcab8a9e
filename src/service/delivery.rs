//! Sending a date's queued emails over SMTP (`mailscore send`, the run's delivery phase):
//! the state machine of an email on its way out, with the rate limit, the retries and
//! the automatic pause of `crate::delivery::policy`.
//!
//! Each email goes `pending → sending` in a committed transaction before its SMTP
//! transaction starts, and `sending → sent | pending (retry) | failed` with its attempt
//! stored after the reply. An email found `sending` when a send starts was left by a
//! process that died mid-transaction: its outcome is unknown, so it is not sent again
//! (at-most-once) unless `smtp.at_least_once` is set; it is listed in the report.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use lettre::Address;
use tokio::task::JoinSet;

use super::ServiceError;
use super::emails::Messages;
use crate::delivery::dkim::DkimSigner;
use crate::delivery::policy::{
    FailureWindow, NextStep, Outcome, RateLimiter, backoff, next_step, reply_class,
};
use crate::delivery::smtp::{Reply, SmtpError, SmtpSettings, SmtpTransport};
use crate::domain::batch::{DeliveryPause, EmailAttempt, EmailStatus, QueuedEmail};
use crate::domain::time::Micros;
use crate::domain::{Suppression, SuppressionReason, UserId};
use crate::store::{EmailUpdate, Store};

/// Told what the sender does, for metrics (`crate::api::metrics` implements it).
pub trait DeliveryObserver: Send + Sync {
    /// One attempt ended with a reply of `class` (`2xx`, `4xx`, `5xx`, `none`) after
    /// `latency`.
    fn attempt(&self, class: &'static str, accepted: bool, latency: Duration);
    /// The rate limiter held a send back for `wait`.
    fn rate_wait(&self, wait: Duration);
    /// Sending paused (true) or resumed (false).
    fn paused(&self, paused: bool);
}

/// An observer that records nothing (the command line without a metrics endpoint).
pub struct NoObserver;

impl DeliveryObserver for NoObserver {
    fn attempt(&self, _: &'static str, _: bool, _: Duration) {}
    fn rate_wait(&self, _: Duration) {}
    fn paused(&self, _: bool) {}
}

/// What one send of a date did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendReport {
    pub date: Option<Date>,
    pub dry_run: bool,
    /// Emails that were due to be tried.
    pub due: u64,
    pub sent: u64,
    pub failed: u64,
    /// Failed with a 5.1.x reply: the address is suppressed too.
    pub hard_bounced: u64,
    /// Attempts that failed transiently and were tried again.
    pub retried: u64,
    /// Past the deadline: `cancelled`.
    pub cancelled: u64,
    /// Emails of the date not due yet (scheduled later).
    pub not_due: u64,
    /// Left `sending` by a process that died: outcome unknown, not sent again
    /// (at-most-once), by user id.
    pub unknown: Vec<UserId>,
    /// Sent again since `smtp.at_least_once` is set.
    pub resent_unknown: u64,
    /// Why sending is paused, when it is.
    pub paused: Option<String>,
    /// Emails sent per second over the send.
    pub rate_per_second: f64,
}

/// What a send does beside the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions {
    /// Render and sign every due email but send nothing and change nothing.
    pub dry_run: bool,
    /// Every pending email of the date, whatever its scheduled time (a past date).
    pub all_pending: bool,
}

/// Everything a send needs: the store, the messages, the signer, the transport.
pub struct Sender {
    pub store: Arc<dyn Store>,
    pub messages: Arc<Messages>,
    pub dkim: Option<Arc<DkimSigner>>,
    pub settings: SmtpSettings,
    /// `None` only for a dry run.
    transport: Option<SmtpTransport>,
    envelope_from: Address,
    pub observer: Arc<dyn DeliveryObserver>,
}

fn now_micros() -> Micros {
    jiff::Timestamp::now().as_microsecond()
}

fn address(text: &str) -> Result<Address, SmtpError> {
    text.parse()
        .map_err(|e: lettre::address::AddressError| SmtpError::BadAddress {
            address: text.to_owned(),
            message: e.to_string(),
        })
}

impl Sender {
    /// A sender of `settings`; the transport is made (and the URL checked) unless
    /// `dry_run`.
    pub fn new(
        store: Arc<dyn Store>,
        messages: Arc<Messages>,
        dkim: Option<Arc<DkimSigner>>,
        settings: SmtpSettings,
        dry_run: bool,
    ) -> Result<Self, SmtpError> {
        let transport = if dry_run {
            None
        } else {
            Some(SmtpTransport::new(&settings)?)
        };
        let from = settings
            .return_path
            .clone()
            .unwrap_or_else(|| messages.email.sender_email.clone());
        Ok(Self {
            envelope_from: address(&from)?,
            store,
            messages,
            dkim,
            settings,
            transport,
            observer: Arc::new(NoObserver),
        })
    }

    /// The complete signed message of `email`, as it goes out.
    pub fn message_bytes(&self, email: &QueuedEmail) -> Result<Vec<u8>, ServiceError> {
        self.attempt_context()
            .message
            .bytes(email)
            .map_err(|message| ServiceError::InvalidValue {
                what: "email of user",
                value: email.user_id.as_str().to_owned(),
                message,
            })
    }

    /// Sends `date`'s due emails (all its pending ones with `all_pending`), in user id
    /// order, until none is left to try, sending is paused or the deadline passes.
    pub async fn send_day(
        &self,
        date: Date,
        options: SendOptions,
    ) -> Result<SendReport, ServiceError> {
        let started = Instant::now();
        let mut report = SendReport {
            date: Some(date),
            dry_run: options.dry_run,
            ..SendReport::default()
        };
        if let Some(pause) = self.store.delivery_pause().await? {
            report.paused = Some(pause.reason);
            return Ok(report);
        }
        let now = now_micros();
        let mut queue = VecDeque::new();
        for email in self.store.emails(date, None).await? {
            match email.status {
                EmailStatus::Sending if self.settings.at_least_once && !options.dry_run => {
                    let update = self
                        .store
                        .update_email_status(
                            date,
                            &email.user_id,
                            &[EmailStatus::Sending],
                            EmailStatus::Pending,
                            now,
                        )
                        .await?;
                    if let EmailUpdate::Updated(email) = update {
                        report.resent_unknown += 1;
                        queue.push_back(email);
                    }
                }
                EmailStatus::Sending => report.unknown.push(email.user_id),
                EmailStatus::Pending if options.all_pending || email.scheduled_at <= now => {
                    queue.push_back(email);
                }
                EmailStatus::Pending => report.not_due += 1,
                _ => {}
            }
        }
        report.due = queue.len() as u64;
        if !report.unknown.is_empty() {
            tracing::warn!(
                %date,
                n_unknown = report.unknown.len(),
                "emails left sending by a process that stopped mid-send have an unknown outcome; \
                 they are not sent again (retry them with `mailscore send --retry-unknown`)"
            );
        }
        if options.dry_run {
            for email in &queue {
                self.message_bytes(email)?;
            }
            return Ok(report);
        }
        self.send_queue(date, queue, &mut report).await?;
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed > 0.0 {
            report.rate_per_second = report.sent as f64 / elapsed;
        }
        Ok(report)
    }

    async fn send_queue(
        &self,
        date: Date,
        mut queue: VecDeque<QueuedEmail>,
        report: &mut SendReport,
    ) -> Result<(), ServiceError> {
        let origin = Instant::now();
        let seconds = |at: Instant| at.duration_since(origin).as_secs_f64();
        let mut limiter = RateLimiter::new(
            self.settings.rate_per_second,
            self.settings.rate_per_hour,
            0.0,
        );
        let mut window = FailureWindow::new(
            self.settings.pause_window,
            self.settings.pause_threshold_percent,
        );
        // Emails waiting for their next attempt, with when it may start.
        let mut retries: Vec<(Instant, QueuedEmail)> = Vec::new();
        let mut in_flight: JoinSet<Result<AttemptEnd, ServiceError>> = JoinSet::new();
        let concurrency = self.settings.concurrency.max(1);
        let mut stopping = false;
        loop {
            let now = Instant::now();
            // Retries whose time has come go to the front, in user id order.
            retries.sort_by(|a, b| b.1.user_id.cmp(&a.1.user_id));
            let mut index = 0;
            while index < retries.len() {
                if retries[index].0 <= now {
                    let (_, email) = retries.remove(index);
                    queue.push_front(email);
                } else {
                    index += 1;
                }
            }
            let mut rate_ready: Option<Instant> = None;
            while !stopping && in_flight.len() < concurrency && !queue.is_empty() {
                let wait = limiter.try_acquire(seconds(Instant::now()));
                if !wait.is_zero() {
                    self.observer.rate_wait(wait);
                    rate_ready = Some(Instant::now() + wait);
                    break;
                }
                let Some(email) = queue.pop_front() else {
                    break;
                };
                if let Some(deadline) = self.settings.deadline
                    && now_micros() > email.scheduled_at + deadline.as_micros() as i64
                {
                    report.cancelled +=
                        self.store.cancel_pending_emails(date, now_micros()).await?;
                    tracing::warn!(
                        %date,
                        n_cancelled = report.cancelled,
                        "the day's sending deadline passed: unsent emails cancelled"
                    );
                    queue.clear();
                    retries.clear();
                    stopping = true;
                    break;
                }
                in_flight.spawn(attempt(self.attempt_context(), date, email));
            }
            if in_flight.is_empty() && (stopping || (queue.is_empty() && retries.is_empty())) {
                break;
            }
            // Wake for the rate limiter's next token, the next retry, or an attempt's end.
            let next_retry = retries.iter().map(|(at, _)| *at).min();
            let wake = match (rate_ready, next_retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let joined = match (wake, in_flight.is_empty()) {
                (Some(at), true) => {
                    tokio::time::sleep_until(at.into()).await;
                    None
                }
                (None, true) => None,
                (Some(at), false) => {
                    tokio::select! {
                        joined = in_flight.join_next() => joined,
                        () = tokio::time::sleep_until(at.into()) => None,
                    }
                }
                (None, false) => in_flight.join_next().await,
            };
            let Some(joined) = joined else { continue };
            let end = joined??;
            match end.step {
                Some(NextStep::Sent) => report.sent += 1,
                Some(NextStep::Retry) => {
                    report.retried += 1;
                    let jitter = rand::random::<f64>();
                    let wait = backoff(
                        end.email.attempts,
                        self.settings.retry_base,
                        self.settings.retry_max,
                        jitter,
                    );
                    retries.push((Instant::now() + wait, end.email));
                }
                Some(NextStep::Fail) => report.failed += 1,
                Some(NextStep::FailAndSuppress) => {
                    report.failed += 1;
                    report.hard_bounced += 1;
                }
                None => {}
            }
            if let Some(outcome) = &end.outcome
                && let Some(reason) = window.record(outcome.is_failure())
                && !stopping
            {
                let pause = DeliveryPause {
                    paused_at: now_micros(),
                    reason: format!("paused automatically: {reason}"),
                };
                self.store.set_delivery_pause(Some(pause.clone())).await?;
                self.observer.paused(true);
                tracing::error!(%date, reason = %pause.reason, "sending paused; resume it with `mailscore delivery resume`");
                report.paused = Some(pause.reason);
                stopping = true;
                // The emails waiting for a retry stay `pending`: they go with the next send.
                retries.clear();
                queue.clear();
            }
        }
        Ok(())
    }

    fn attempt_context(&self) -> AttemptContext {
        AttemptContext {
            store: self.store.clone(),
            message: MessageMaker {
                messages: self.messages.clone(),
                dkim: self.dkim.clone(),
                reply_to: self.settings.reply_to.clone(),
            },
            transport: self.transport.clone(),
            from: self.envelope_from.clone(),
            max_attempts: self.settings.max_attempts.max(1),
            observer: self.observer.clone(),
        }
    }
}

struct MessageMaker {
    messages: Arc<Messages>,
    dkim: Option<Arc<DkimSigner>>,
    reply_to: Option<String>,
}

impl MessageMaker {
    fn bytes(&self, email: &QueuedEmail) -> Result<Vec<u8>, String> {
        let mut message = Vec::new();
        if let Some(reply_to) = &self.reply_to {
            message.extend_from_slice(format!("Reply-To: {reply_to}\r\n").as_bytes());
        }
        let stored = self
            .messages
            .stored_message(email)
            .map_err(|e| format!("the message cannot be rendered: {e}"))?;
        message.extend_from_slice(&stored);
        match &self.dkim {
            Some(signer) => signer
                .sign(&message)
                .map_err(|e| format!("the message cannot be signed: {e}")),
            None => Ok(message),
        }
    }
}

struct AttemptContext {
    store: Arc<dyn Store>,
    message: MessageMaker,
    transport: Option<SmtpTransport>,
    from: Address,
    max_attempts: u32,
    observer: Arc<dyn DeliveryObserver>,
}

/// How an attempt ended: the email as stored after it, what the reply meant (`None`: the
/// email was not ours to send, or could not be made), and the step taken.
struct AttemptEnd {
    email: QueuedEmail,
    outcome: Option<Outcome>,
    step: Option<NextStep>,
}

/// One attempt of one email: `pending → sending` committed, the SMTP transaction, then
/// the attempt and the email's next status committed together.
async fn attempt(
    context: AttemptContext,
    date: Date,
    email: QueuedEmail,
) -> Result<AttemptEnd, ServiceError> {
    let store = &context.store;
    let started_at = now_micros();
    let claimed = store
        .update_email_status(
            date,
            &email.user_id,
            &[EmailStatus::Pending],
            EmailStatus::Sending,
            started_at,
        )
        .await?;
    let EmailUpdate::Updated(email) = claimed else {
        // Cancelled, suppressed or taken by another sender since it was listed.
        return Ok(AttemptEnd {
            email,
            outcome: None,
            step: None,
        });
    };
    let to: Result<Address, String> = email
        .to
        .as_str()
        .parse()
        .map_err(|e: lettre::address::AddressError| format!("bad recipient: {e}"));
    let made = to.and_then(|to| context.message.bytes(&email).map(|bytes| (to, bytes)));
    let (reply, outcome) = match (&made, &context.transport) {
        (Ok((to, bytes)), Some(transport)) => {
            let clock = Instant::now();
            let reply = transport.send(&context.from, to, bytes).await;
            let outcome = Outcome::of_reply(reply.code, &reply.text);
            context.observer.attempt(
                reply_class(reply.code),
                outcome == Outcome::Accepted,
                clock.elapsed(),
            );
            (reply, outcome)
        }
        (Err(message), _) => (
            Reply {
                code: None,
                text: message.clone(),
            },
            Outcome::Permanent,
        ),
        (Ok(_), None) => (
            Reply {
                code: None,
                text: "no transport (a dry run sends nothing)".to_owned(),
            },
            Outcome::Permanent,
        ),
    };
    let step = next_step(&outcome, email.attempts + 1, context.max_attempts);
    let finished_at = now_micros();
    if step == NextStep::FailAndSuppress {
        store
            .suppress(Suppression {
                address: email.to.clone(),
                reason: SuppressionReason::HardBounce,
                created_at: finished_at,
                note: Some(format!(
                    "{} {}",
                    reply.code.map(|c| c.to_string()).unwrap_or_default(),
                    reply.text
                )),
            })
            .await?;
    }
    let to_status = match step {
        NextStep::Sent => EmailStatus::Sent,
        NextStep::Retry => EmailStatus::Pending,
        NextStep::Fail | NextStep::FailAndSuppress => EmailStatus::Failed,
    };
    let ended = store
        .finish_email_attempt(
            date,
            &email.user_id,
            EmailAttempt {
                started_at,
                finished_at,
                reply_code: reply.code,
                reply: reply.text,
            },
            to_status,
        )
        .await?;
    let email = match ended {
        EmailUpdate::Updated(email) => email,
        EmailUpdate::NotFound | EmailUpdate::Refused(_) => email,
    };
    Ok(AttemptEnd {
        email,
        outcome: Some(outcome),
        step: Some(step),
    })
}

/// Resumes sending after a pause; false when it was not paused.
pub async fn resume(store: &dyn Store) -> Result<bool, ServiceError> {
    let was = store.delivery_pause().await?.is_some();
    store.set_delivery_pause(None).await?;
    Ok(was)
}

/// Pauses sending by hand.
pub async fn pause(store: &dyn Store, reason: String) -> Result<DeliveryPause, ServiceError> {
    let pause = DeliveryPause {
        paused_at: now_micros(),
        reason,
    };
    store.set_delivery_pause(Some(pause.clone())).await?;
    Ok(pause)
}

/// Cancels `date`'s sending: its pending emails become `cancelled`; returns how many.
pub async fn cancel(store: &dyn Store, date: Date) -> Result<u64, ServiceError> {
    Ok(store.cancel_pending_emails(date, now_micros()).await?)
}

/// Puts `date`'s emails of unknown outcome (left `sending`) back to `pending`, so that
/// the next send tries them; returns how many.
pub async fn retry_unknown(store: &dyn Store, date: Date) -> Result<u64, ServiceError> {
    let mut n_retried = 0;
    for email in store.emails(date, None).await? {
        if email.status == EmailStatus::Sending
            && let EmailUpdate::Updated(_) = store
                .update_email_status(
                    date,
                    &email.user_id,
                    &[EmailStatus::Sending],
                    EmailStatus::Pending,
                    now_micros(),
                )
                .await?
        {
            n_retried += 1;
        }
    }
    Ok(n_retried)
}

/// The state of `date`'s delivery: counts by status and the pause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryState {
    pub date: Option<Date>,
    pub paused: Option<DeliveryPause>,
    pub pending: u64,
    pub due: u64,
    pub sending_unknown: u64,
    pub sent: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub suppressed: u64,
    /// Attempts that did not end in `sent`.
    pub failed_attempts: u64,
}

/// Counts `date`'s emails by status, and says whether sending is paused.
pub async fn delivery_state(store: &dyn Store, date: Date) -> Result<DeliveryState, ServiceError> {
    let now = now_micros();
    let mut state = DeliveryState {
        date: Some(date),
        paused: store.delivery_pause().await?,
        ..DeliveryState::default()
    };
    for email in store.emails(date, None).await? {
        match email.status {
            EmailStatus::Pending => {
                state.pending += 1;
                if email.scheduled_at <= now {
                    state.due += 1;
                }
            }
            EmailStatus::Sending => state.sending_unknown += 1,
            EmailStatus::Sent => state.sent += 1,
            EmailStatus::Failed => state.failed += 1,
            EmailStatus::Cancelled => state.cancelled += 1,
            EmailStatus::Suppressed => state.suppressed += 1,
        }
        let succeeded = u32::from(email.status == EmailStatus::Sent);
        state.failed_attempts += u64::from(email.attempts.saturating_sub(succeeded));
    }
    Ok(state)
}

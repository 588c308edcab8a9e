//! The sender's decisions, free of I/O and clocks (time comes in as an argument): the rate
//! limiter's token buckets, the retry schedule, what an SMTP reply means for an email, and
//! when the failures of the last attempts pause sending.

use std::collections::VecDeque;
use std::time::Duration;

/// A token bucket: `capacity` tokens, refilled at `per_second`; a send takes one token.
/// Time is seconds since any fixed origin, as `f64`.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated_at: f64,
}

impl Bucket {
    fn new(capacity: f64, per_second: f64, now: f64) -> Self {
        Self {
            capacity,
            per_second,
            tokens: capacity,
            updated_at: now,
        }
    }

    fn refill(&mut self, now: f64) {
        if now > self.updated_at {
            self.tokens =
                (self.tokens + (now - self.updated_at) * self.per_second).min(self.capacity);
            self.updated_at = now;
        }
    }

    /// How long until one token is there (zero when it is now). A token short by less
    /// than rounding counts as there, so that waiting the answer always gets one.
    fn wait(&self) -> f64 {
        if self.tokens >= 1.0 - 1e-9 {
            0.0
        } else {
            (1.0 - self.tokens) / self.per_second
        }
    }
}

/// The rate limit of `smtp.rate_per_second` and `smtp.rate_per_hour` (0 = no limit), as two
/// token buckets: the per-second one holds one second of sends (so a burst is at most the
/// rate), the per-hour one an hour's.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    buckets: Vec<Bucket>,
}

impl RateLimiter {
    pub fn new(per_second: u32, per_hour: u32, now: f64) -> Self {
        let mut buckets = Vec::new();
        if per_second > 0 {
            buckets.push(Bucket::new(
                f64::from(per_second).max(1.0),
                f64::from(per_second),
                now,
            ));
        }
        if per_hour > 0 {
            buckets.push(Bucket::new(
                f64::from(per_hour),
                f64::from(per_hour) / 3600.0,
                now,
            ));
        }
        Self { buckets }
    }

    /// Takes a token at `now` and returns zero, or takes nothing and returns how long to
    /// wait before asking again.
    pub fn try_acquire(&mut self, now: f64) -> Duration {
        let mut wait: f64 = 0.0;
        for bucket in &mut self.buckets {
            bucket.refill(now);
            wait = wait.max(bucket.wait());
        }
        if wait > 0.0 {
            return Duration::from_secs_f64(wait);
        }
        for bucket in &mut self.buckets {
            bucket.tokens -= 1.0;
        }
        Duration::ZERO
    }
}

/// When the next attempt after `failed_attempts` failures may start: `base × 2^(n−1)`,
/// at most `max`, then between half and all of it by `jitter` (a number in [0, 1)), so
/// that emails that failed together do not come back together.
pub fn backoff(failed_attempts: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// What one SMTP attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx to the end of DATA: the server took the message.
    Accepted,
    /// A 4xx reply, or no reply at all (connection refused, dropped, timed out): try again.
    Transient,
    /// A 5xx reply: the email fails.
    Permanent,
    /// A 5xx reply with an enhanced status 5.1.x (bad destination mailbox): the email fails
    /// and the address is suppressed as a hard bounce.
    HardBounce,
}

impl Outcome {
    /// The outcome of a reply code (`None` when no reply came) and its text, which may
    /// start with an RFC 3463 enhanced status code (`5.1.1`).
    pub fn of_reply(code: Option<u16>, text: &str) -> Self {
        match code {
            Some(200..=299) => Self::Accepted,
            Some(500..=599) => {
                if text.trim_start().starts_with("5.1.") {
                    Self::HardBounce
                } else {
                    Self::Permanent
                }
            }
            _ => Self::Transient,
        }
    }

    /// Whether the attempt counts as failed for the automatic pause: every outcome but
    /// `Accepted`.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Accepted)
    }
}

/// The reply class label of a reply code: `2xx`, `4xx`, `5xx`, or `none`.
pub fn reply_class(code: Option<u16>) -> &'static str {
    match code {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "none",
    }
}

/// The automatic pause (`smtp.pause_window`, `smtp.pause_threshold_percent`): the outcomes
/// of the last `window` attempts; sending pauses when more than `threshold_percent` of them
/// failed. It trips only once the window is full, so that the first few attempts of a day
/// (one failure in three) do not stop it.
#[derive(Debug, Clone)]
pub struct FailureWindow {
    window: usize,
    threshold_percent: f64,
    outcomes: VecDeque<bool>,
    failures: usize,
}

impl FailureWindow {
    pub fn new(window: usize, threshold_percent: f64) -> Self {
        Self {
            window: window.max(1),
            threshold_percent,
            outcomes: VecDeque::new(),
            failures: 0,
        }
    }

    /// Records one attempt; returns the reason to pause when this attempt passes the
    /// threshold.
    pub fn record(&mut self, failed: bool) -> Option<String> {
        self.outcomes.push_back(failed);
        self.failures += usize::from(failed);
        if self.outcomes.len() > self.window {
            let oldest = self.outcomes.pop_front().unwrap_or(false);
            self.failures -= usize::from(oldest);
        }
        let share = self.failure_percent();
        (self.outcomes.len() == self.window && share > self.threshold_percent).then(|| {
            format!(
                "{} of the last {} attempts failed ({share:.1} %, over the threshold of {} %)",
                self.failures, self.window, self.threshold_percent
            )
        })
    }

    /// The share of failed attempts in the window, in percent (0 when empty).
    pub fn failure_percent(&self) -> f64 {
        if self.outcomes.is_empty() {
            0.0
        } else {
            self.failures as f64 * 100.0 / self.outcomes.len() as f64
        }
    }

    /// Forgets every outcome (an operator resumed sending).
    pub fn clear(&mut self) {
        self.outcomes.clear();
        self.failures = 0;
    }
}

/// What the sender does with an email after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// `sent`.
    Sent,
    /// Back to `pending`, tried again after the backoff.
    Retry,
    /// `failed` (attempts exhausted, or a permanent reply).
    Fail,
    /// `failed`, and the address suppressed as a hard bounce.
    FailAndSuppress,
}

/// The next step after an attempt with `outcome`, the `attempts` made so far counting this
/// one, of at most `max_attempts`.
pub fn next_step(outcome: &Outcome, attempts: u32, max_attempts: u32) -> NextStep {
    match outcome {
        Outcome::Accepted => NextStep::Sent,
        Outcome::Transient if attempts < max_attempts => NextStep::Retry,
        Outcome::Transient | Outcome::Permanent => NextStep::Fail,
        Outcome::HardBounce => NextStep::FailAndSuppress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_rate_never_waits() {
        let mut limiter = RateLimiter::new(0, 0, 0.0);
        for _ in 0..10_000 {
            assert_eq!(limiter.try_acquire(0.0), Duration::ZERO);
        }
    }

    #[test]
    fn the_per_second_bucket_lets_the_rate_through_and_no_more() {
        let mut limiter = RateLimiter::new(100, 0, 0.0);
        let mut now = 0.0;
        let mut sent = 0;
        while now < 10.0 {
            let wait = limiter.try_acquire(now);
            if wait.is_zero() {
                sent += 1;
            } else {
                now += wait.as_secs_f64();
            }
        }
        // One second's burst, then 100 a second for ten seconds.
        assert!((1000..=1101).contains(&sent), "{sent}");
    }

    #[test]
    fn the_per_hour_bucket_stops_after_an_hours_worth() {
        let mut limiter = RateLimiter::new(0, 50, 0.0);
        for _ in 0..50 {
            assert_eq!(limiter.try_acquire(1.0), Duration::ZERO);
        }
        let wait = limiter.try_acquire(1.0);
        assert!((wait.as_secs_f64() - 72.0).abs() < 1e-6, "{wait:?}");
        assert_eq!(limiter.try_acquire(73.0), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_between_half_and_all() {
        let base = Duration::from_secs(60);
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(2, base, max, 1.0), Duration::from_secs(120));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(120));
        assert_eq!(backoff(10, base, max, 1.0), max);
        assert_eq!(backoff(100, base, max, 0.0), max / 2);
    }

    #[test]
    fn replies_are_sorted_by_class_and_enhanced_status() {
        assert_eq!(Outcome::of_reply(Some(250), "2.0.0 ok"), Outcome::Accepted);
        assert_eq!(
            Outcome::of_reply(Some(451), "4.3.0 try later"),
            Outcome::Transient
        );
        assert_eq!(
            Outcome::of_reply(None, "connection reset"),
            Outcome::Transient
        );
        assert_eq!(
            Outcome::of_reply(Some(554), "5.7.1 rejected"),
            Outcome::Permanent
        );
        assert_eq!(
            Outcome::of_reply(Some(550), "5.1.1 no such user"),
            Outcome::HardBounce
        );
        assert_eq!(
            Outcome::of_reply(Some(550), "no such user"),
            Outcome::Permanent
        );
    }

    #[test]
    fn transient_failures_retry_until_the_last_attempt() {
        let transient = Outcome::Transient;
        assert_eq!(next_step(&transient, 1, 3), NextStep::Retry);
        assert_eq!(next_step(&transient, 3, 3), NextStep::Fail);
        assert_eq!(next_step(&Outcome::Permanent, 1, 3), NextStep::Fail);
        assert_eq!(
            next_step(&Outcome::HardBounce, 1, 3),
            NextStep::FailAndSuppress
        );
        assert_eq!(next_step(&Outcome::Accepted, 2, 3), NextStep::Sent);
    }

    #[test]
    fn the_pause_trips_only_over_the_threshold_of_a_full_window() {
        let mut window = FailureWindow::new(100, 5.0);
        for _ in 0..95 {
            assert_eq!(window.record(false), None);
        }
        for _ in 0..5 {
            assert_eq!(window.record(true), None, "5 % is not over 5 %");
        }
        let reason = window.record(true).expect("6 of 100 failed");
        assert!(
            reason.starts_with("6 of the last 100 attempts failed"),
            "{reason}"
        );
        window.clear();
        assert_eq!(window.record(true), None);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut window = FailureWindow::new(10, 5.0);
        assert_eq!(window.record(true), None);
        for _ in 0..9 {
            let _ = window.record(false);
        }
        // The failure is the oldest of the full window: 10 %.
        assert!(window.failure_percent() > 5.0);
        assert_eq!(window.record(false), None);
        assert_eq!(window.failure_percent(), 0.0);
    }
}

//! Settings the generated client carries with it (progenitor's "inner"
//! type), read by the one request hook in [`crate::client`].

use std::time::Duration;

/// How a [`Backoff`] randomises its delays, so that clients started together
/// do not call together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// Exact, repeatable delays.
    None,
    /// "Full jitter": uniformly between zero and the delay. Spreads retries
    /// of many clients the most; what [`RetryPolicy`] uses.
    #[default]
    Full,
    /// "Equal jitter": uniformly between half the delay and all of it, so a
    /// delay is never much shorter than scheduled; what
    /// [`WaitPolicy`](crate::ext::jobs::WaitPolicy) uses.
    Equal,
}

impl Jitter {
    /// `delay` randomised under this mode (never longer than `delay`).
    pub fn apply(self, delay: Duration) -> Duration {
        match self {
            Jitter::None => delay,
            Jitter::Full => delay.mul_f64(fastrand::f64()),
            Jitter::Equal => delay.mul_f64(0.5 + fastrand::f64() * 0.5),
        }
    }
}

/// The crate's one backoff rule, shared by [`RetryPolicy`] (between retries
/// of a request) and [`WaitPolicy`](crate::ext::jobs::WaitPolicy) (between
/// polls of a job).
///
/// Step `n` (1-based) waits `min(max, initial * multiplier^(n-1))`, rounded
/// to the millisecond (tokio's timer resolution), then randomised by the
/// [`Jitter`] mode. A multiplier below 1 (or not finite) is read as 1: a
/// constant delay.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::config::{Backoff, Jitter};
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 2.0, Jitter::None);
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(3), Duration::from_millis(400));
/// assert_eq!(backoff.delay(9), Duration::from_secs(1));
/// assert_eq!(backoff.sleep_for(3), Duration::from_millis(400)); // no jitter
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
}

impl Backoff {
    /// A backoff from `initial` growing by `multiplier` per step up to `max`.
    pub fn new(initial: Duration, max: Duration, multiplier: f64, jitter: Jitter) -> Self {
        Backoff {
            initial,
            max,
            multiplier,
            jitter,
        }
    }

    /// The first delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The growth per step.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The jitter mode.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    pub(crate) fn set_initial(&mut self, initial: Duration) {
        self.initial = initial;
    }

    pub(crate) fn set_max(&mut self, max: Duration) {
        self.max = max;
    }

    pub(crate) fn set_multiplier(&mut self, multiplier: f64) {
        self.multiplier = multiplier;
    }

    pub(crate) fn set_jitter(&mut self, jitter: Jitter) {
        self.jitter = jitter;
    }

    /// The delay of step `n` (1-based) before jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let millis = (self.initial.as_secs_f64() * 1000.0 * multiplier.powi(exponent)).round();
        let max = self.max.as_secs_f64() * 1000.0;
        if !millis.is_finite() || millis >= max {
            self.max
        } else {
            // Below the cap, so well within u64.
            Duration::from_millis(millis as u64)
        }
    }

    /// The delay of step `n`, jittered.
    pub fn sleep_for(&self, n: u32) -> Duration {
        self.jitter.apply(self.delay(n))
    }
}

/// What kind of request a retry decision is about: each kind has one
/// documented set of statuses worth another try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// An idempotent API call (`GET`): retried on `429`, `502`, `503`, `504`
    /// and on connection errors and timeouts. A plain `500` is not retried:
    /// the API's `500` is a server bug that another try does not fix.
    ApiRead,
    /// The export trigger (`POST`): never retried on a status (it may have
    /// started a job), only when the connection could not be made at all.
    ApiTrigger,
    /// A presigned-URL download (`GET` to storage): retried on `408`, `429`
    /// and every `5xx` (storage answers `500` for transient faults), and on
    /// broken or stalled connections, resuming where it stopped.
    Download,
}

impl RequestKind {
    /// Whether an answer with `status` is worth another try.
    pub fn retries_status(self, status: reqwest::StatusCode) -> bool {
        match self {
            RequestKind::ApiRead => matches!(status.as_u16(), 429 | 502 | 503 | 504),
            RequestKind::ApiTrigger => false,
            RequestKind::Download => matches!(status.as_u16(), 408 | 429 | 500..=599),
        }
    }
}

/// How failed requests are retried.
///
/// Which failures are retried depends on the request ([`RequestKind`]); the
/// delay before a retry is [`delay_before_retry`](Self::delay_before_retry):
/// a `Retry-After` header (seconds or HTTP date) honoured, clamped to
/// [`max_retry_after`](Self::max_retry_after), else the [`Backoff`]
/// (doubling, full jitter by default).
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::{RetryPolicy, config::Jitter};
///
/// let policy = RetryPolicy::default()
///     .with_max_retries(6)
///     .with_jitter(Jitter::None)
///     .with_backoff(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(policy.max_retries(), 6);
/// assert_eq!(policy.delay_before_retry(2, None), Duration::from_millis(200));
/// // The server's advice wins, up to the cap (60 s by default).
/// let advised = Some(Duration::from_secs(600));
/// assert_eq!(policy.delay_before_retry(2, advised), Duration::from_secs(60));
/// assert_eq!(RetryPolicy::none().max_retries(), 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    backoff: Backoff,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries, backoff doubling from 250 ms up to 8 s with full jitter, a
    /// `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            backoff: Backoff::new(
                Duration::from_millis(250),
                Duration::from_secs(8),
                2.0,
                Jitter::Full,
            ),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    crate::macros::setters! {
        /// Sets how many times a request may be retried after its first attempt.
        with_max_retries(n: u32) => max_retries = n;
    }

    /// Sets the first backoff delay and the cap on any backoff delay.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff.set_initial(initial);
        self.backoff.set_max(max.max(initial));
        self
    }

    crate::macros::setters! {
        /// Sets the longest `Retry-After` honoured; longer advertised delays are
        /// clamped to it.
        with_max_retry_after(max: Duration) => max_retry_after = max;
    }

    /// Sets the jitter mode ([`Jitter::Full`] by default; [`Jitter::None`]
    /// for exact, repeatable delays).
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.backoff.set_jitter(jitter);
        self
    }

    /// How many retries after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest `Retry-After` honoured.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The backoff between retries.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// The delay before retry number `retry` (1-based): the server's
    /// `Retry-After` when it gave one, clamped to
    /// [`max_retry_after`](Self::max_retry_after), else the backoff's
    /// (jittered) delay. The one rule API calls and downloads both follow.
    pub fn delay_before_retry(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(advised) => advised.min(self.max_retry_after),
            None => self.backoff.sleep_for(retry),
        }
    }
}

/// The state the generated client carries: what the request hook needs.
/// Public only because the generated client (itself hidden) names it.
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// How requests are retried.
    pub retry: RetryPolicy,
}

//! Settings the generated client carries with it (progenitor's "inner"
//! type), read by the one request hook in [`crate::client`].

use std::time::Duration;

/// How failed requests are retried.
///
/// Idempotent requests (`GET`) are retried on connection errors, timeouts,
/// `429`, `502`, `503` and `504`, with full-jitter exponential backoff; a
/// `Retry-After` header (seconds or HTTP date) is honoured, clamped to
/// [`max_retry_after`](Self::max_retry_after). The export trigger (`POST`)
/// is retried only when the connection could not be made at all, so it can
/// never run twice.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_retries(6)
///     .with_backoff(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(policy.max_retries(), 6);
/// assert_eq!(RetryPolicy::none().max_retries(), 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// 4 retries, backoff from 250 ms up to 8 s with full jitter, a
    /// `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
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

    /// Sets how many times a request may be retried after its first attempt.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first backoff delay and the cap on any backoff delay.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the longest `Retry-After` honoured; longer advertised delays are
    /// clamped to it.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Turns full jitter on (the default) or off (exact, repeatable delays).
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
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

    /// The delay before retry number `retry` (1-based) when the server gave
    /// no `Retry-After`: `min(max, initial * 2^(retry-1))`, and with jitter a
    /// uniformly random delay between zero and that.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        if self.jitter {
            ceiling.mul_f64(fastrand::f64())
        } else {
            ceiling
        }
    }
}

/// The state the generated client carries: what the request hook needs.
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// How requests are retried.
    pub retry: RetryPolicy,
}

//! How a wait spaces its polls and when it gives up.

use std::time::Duration;

/// How [`JobPoller::wait`](super::JobPoller::wait) spaces its polls and when it gives up.
///
/// The delay after poll `n` is `min(max_delay, initial_delay * multiplier^(n-1))`,
/// rounded to the millisecond (tokio's timer resolution); with jitter on, a
/// uniformly random delay between half of that and all of it (so polls never
/// bunch up, and are never later than the schedule).
///
/// The default (250 ms growing ×1.1 per poll, capped at 60 s) keeps the
/// delay near a tenth of the time waited so far: a job that takes 10 s is
/// seen done within about 1.2 s of finishing, one that takes a minute within
/// about 6 s, and a one-hour job costs about a hundred polls, not thousands.
/// A larger multiplier or cap spends fewer requests on long jobs and notices
/// the end of short ones later.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::ext::jobs::WaitPolicy;
///
/// let policy = WaitPolicy::default()
///     .with_jitter(false)
///     .with_multiplier(1.5)
///     .with_max_delay(Duration::from_secs(30))
///     .with_max_wait(Duration::from_secs(600));
/// assert_eq!(policy.delay(1), Duration::from_millis(250));
/// assert_eq!(policy.delay(2), Duration::from_millis(375));
/// assert_eq!(policy.delay(3), Duration::from_millis(563)); // 562.5 rounded
/// assert_eq!(policy.delay(50), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WaitPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: bool,
    max_wait: Duration,
    not_found_grace: Duration,
}

impl Default for WaitPolicy {
    /// 250 ms growing ×1.1 per poll up to 60 s, jitter on, at most 6 hours
    /// of waiting, `404` tolerated for the first 10 s.
    fn default() -> Self {
        WaitPolicy {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            multiplier: 1.1,
            jitter: true,
            max_wait: Duration::from_secs(6 * 60 * 60),
            not_found_grace: Duration::from_secs(10),
        }
    }
}

impl WaitPolicy {
    /// Sets the delay after the first poll.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets the longest delay between two polls.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets how much each delay grows over the previous one. Values below
    /// 1 (or not finite) are read as 1: a constant delay.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Turns jitter on (the default) or off (exact, repeatable delays).
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets how long [`JobPoller::wait`](super::JobPoller::wait) waits in all before
    /// [`Error::WaitTimeout`](crate::Error::WaitTimeout). The last poll happens when it runs out.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets how long after the trigger (or after the handle was made) a
    /// `404` is read as "not visible yet" rather than [`Error::NotFound`](crate::Error::NotFound).
    /// Once the job has been seen, a `404` is always an error.
    pub fn with_not_found_grace(mut self, grace: Duration) -> Self {
        self.not_found_grace = grace;
        self
    }

    /// The delay after the first poll.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The longest delay between two polls.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The growth factor of the delay.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// Whether delays are jittered.
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The longest wait in all.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The grace period for a `404` on a job not seen yet.
    pub fn not_found_grace(&self) -> Duration {
        self.not_found_grace
    }

    /// The scheduled delay after poll number `poll` (1-based), before
    /// jitter: `min(max_delay, initial_delay * multiplier^(poll-1))`, rounded
    /// to the millisecond.
    pub fn delay(&self, poll: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exponent = i32::try_from(poll.saturating_sub(1)).unwrap_or(i32::MAX);
        let millis =
            (self.initial_delay.as_secs_f64() * 1000.0 * multiplier.powi(exponent)).round();
        let max = self.max_delay.as_secs_f64() * 1000.0;
        if !millis.is_finite() || millis >= max {
            self.max_delay
        } else {
            // Below the cap, so well within u64.
            Duration::from_millis(millis as u64)
        }
    }

    /// The delay actually slept after poll `poll`: [`delay`](Self::delay),
    /// jittered into `delay/2..=delay` when jitter is on.
    pub fn sleep_for(&self, poll: u32) -> Duration {
        let delay = self.delay(poll);
        if self.jitter {
            delay.mul_f64(0.5 + fastrand::f64() * 0.5)
        } else {
            delay
        }
    }
}

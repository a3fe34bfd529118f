//! How a wait spaces its polls and when it gives up.

use std::time::Duration;

use crate::config::{Backoff, Jitter};

/// Which schedule [`JobPoller::wait`](super::JobPoller::wait) follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollSchedule {
    /// Follow the job's chunk counts (`completed_chunks` / `all_chunks`)
    /// once they move: predict when the job ends from every count seen
    /// (how long chunks take, how much they vary, which ones ran slow) and
    /// poll where the end is likely, sparsely while it is far or vague,
    /// closely as it nears and the prediction firms up. No poll goes out
    /// sooner than the backoff alone (unjittered) would have sent it, so a
    /// wait never makes more polls than the backoff. Without chunk counts (or before they
    /// move, with one chunk left) the [`Backoff`](PollSchedule::Backoff)
    /// schedule applies. The default.
    #[default]
    FollowProgress,
    /// The backoff alone: the delay after poll `n` is the policy's
    /// [`delay(n)`](WaitPolicy::delay), jittered.
    Backoff,
}

/// How [`JobPoller::wait`](super::JobPoller::wait) spaces its polls and when
/// it gives up.
///
/// The backoff: the delay after poll `n` is `min(max_delay, initial_delay *
/// multiplier^(n-1))`, rounded to the millisecond (tokio's timer
/// resolution), jittered by default with [`Jitter::Equal`] (uniformly
/// between half of it and all of it, so polls never bunch up and are never
/// later than the schedule). It is the crate's one [`Backoff`] rule, the
/// one [`RetryPolicy`](crate::RetryPolicy) uses too.
///
/// The default (250 ms growing ×1.1 per poll, capped at 60 s) keeps the
/// delay near a tenth of the time waited so far: a job that takes 10 s is
/// seen done within about 1.2 s of finishing, one that takes a minute within
/// about 6 s. On top of it, by default, the poller follows the job's own
/// progress ([`PollSchedule::FollowProgress`]): once the chunk counts move,
/// it predicts the end from them and polls near it (never ahead of the
/// backoff alone, and never sooner than `initial_delay` after the previous
/// poll), so a one-hour job of 30 chunks costs about twenty polls, not a
/// hundred. Delays aimed
/// at a prediction are not jittered and may be longer than `max_delay`,
/// which bounds the blind backoff only.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::{config::Jitter, ext::jobs::{PollSchedule, WaitPolicy}};
///
/// let policy = WaitPolicy::default()
///     .with_jitter(Jitter::None)
///     .with_schedule(PollSchedule::Backoff)
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
    backoff: Backoff,
    schedule: PollSchedule,
    max_wait: Duration,
    not_found_grace: Duration,
}

impl Default for WaitPolicy {
    /// 250 ms growing ×1.1 per poll up to 60 s, equal jitter, following the
    /// job's progress, at most 6 hours of waiting, `404` tolerated for the
    /// first 10 s.
    fn default() -> Self {
        WaitPolicy {
            backoff: Backoff::new(
                Duration::from_millis(250),
                Duration::from_secs(60),
                1.1,
                Jitter::Equal,
            ),
            schedule: PollSchedule::default(),
            max_wait: Duration::from_secs(6 * 60 * 60),
            not_found_grace: Duration::from_secs(10),
        }
    }
}

/// Setters of the backoff's knobs, each a `with_*` method.
macro_rules! backoff_knobs {
    ($($(#[$doc:meta])* $name:ident($value:ident: $ty:ty) => $set:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $value: $ty) -> Self {
                self.backoff.$set($value);
                self
            }
        )*
    };
}

impl WaitPolicy {
    backoff_knobs! {
        /// Sets the delay after the first poll, also the shortest delay the
        /// progress-aware schedule uses.
        with_initial_delay(delay: Duration) => set_initial;
        /// Sets the longest delay of the backoff.
        with_max_delay(delay: Duration) => set_max;
        /// Sets how much each delay grows over the previous one. Values below
        /// 1 (or not finite) are read as 1: a constant delay.
        with_multiplier(multiplier: f64) => set_multiplier;
        /// Sets the jitter of the backoff ([`Jitter::Equal`] by default;
        /// [`Jitter::None`] for exact, repeatable delays).
        with_jitter(jitter: Jitter) => set_jitter;
    }

    crate::macros::setters! {
        /// Sets the schedule ([`PollSchedule::FollowProgress`] by default;
        /// [`PollSchedule::Backoff`] turns progress-following off).
        with_schedule(schedule: PollSchedule) => schedule = schedule;

        /// Sets how long [`JobPoller::wait`](super::JobPoller::wait) waits in
        /// all before [`Error::WaitTimeout`](crate::Error::WaitTimeout). The last
        /// poll happens when it runs out.
        with_max_wait(max_wait: Duration) => max_wait = max_wait;

        /// Sets how long after the trigger (or after the handle was made) a
        /// `404` is read as "not visible yet" rather than
        /// [`Error::NotFound`](crate::Error::NotFound). Once the job has been
        /// seen, a `404` is always an error.
        with_not_found_grace(grace: Duration) => not_found_grace = grace;
    }

    /// The delay after the first poll.
    pub fn initial_delay(&self) -> Duration {
        self.backoff.initial()
    }

    /// The longest delay of the backoff.
    pub fn max_delay(&self) -> Duration {
        self.backoff.max()
    }

    /// The growth factor of the delay.
    pub fn multiplier(&self) -> f64 {
        self.backoff.multiplier()
    }

    /// The jitter mode of the backoff.
    pub fn jitter(&self) -> Jitter {
        self.backoff.jitter()
    }

    /// The schedule followed.
    pub fn schedule(&self) -> PollSchedule {
        self.schedule
    }

    /// The backoff itself.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// The longest wait in all.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The grace period for a `404` on a job not seen yet.
    pub fn not_found_grace(&self) -> Duration {
        self.not_found_grace
    }

    /// The backoff's delay after poll number `poll` (1-based), before
    /// jitter: `min(max_delay, initial_delay * multiplier^(poll-1))`, rounded
    /// to the millisecond.
    pub fn delay(&self, poll: u32) -> Duration {
        self.backoff.delay(poll)
    }

    /// The backoff's delay after poll `poll`, jittered: what the poller
    /// sleeps when it has no progress to follow.
    pub fn sleep_for(&self, poll: u32) -> Duration {
        self.backoff.sleep_for(poll)
    }
}

//! The progress-aware schedule: from the chunk counts a job reports, when
//! to poll next.
//!
//! The model: a job works through `all_chunks` one after the other. Each
//! time the count of completed chunks rises, the boundary lies between the
//! poll before and the poll that saw it. From those boundaries come two
//! estimates of a chunk's time: the mean since the first sighting, and the
//! rate between the last two boundaries (the smaller is the *typical*
//! chunk: one slow chunk early on does not push every later poll late).
//!
//! - Before any chunk completes, with two or more left: the next poll
//!   comes after up to three times the time waited so far (less with few
//!   chunks left): the job cannot end sooner unless its chunks differ more
//!   than threefold.
//! - While two or more chunks are left: half the way to the predicted start
//!   of the last chunk per poll, at least a few hundredths of a chunk, and
//!   longer in proportion when a chunk runs late.
//! - Once the last chunk runs: nothing until shortly before its predicted
//!   end, then about ten polls across the window where the end is expected
//!   (how precisely the last chunk's start is known, plus the spread of
//!   chunk times), then, past the window, delays that grow with the overrun.
//!
//! Counts that go back, or a total that changes, start the estimate afresh.

use std::time::Duration;

use tokio::time::Instant;

use super::Progress;

/// Before any chunk completes: the next poll after this many times the
/// time waited so far, at most.
const FIRST_CHUNK_GROWTH: f64 = 3.0;
/// How much longer than another one chunk is assumed to take, at most.
const CHUNK_RATIO: f64 = 3.0;
/// Share of the way to the last chunk's predicted start covered per poll.
const APPROACH: f64 = 0.5;
/// Shortest step while two or more chunks are left, in typical chunks.
const STEP: f64 = 0.15;
/// While a chunk runs late, the delay as a share of its lateness.
const LATE_BACKOFF: f64 = 0.3;
/// How much sooner than the typical chunk the last one may end.
const EARLY: f64 = 0.15;
/// How much later than the mean chunk the last one may end.
const LATE: f64 = 0.1;
/// Polls across the window where the end is expected.
const WINDOW_POLLS: f64 = 10.0;
/// Shortest spacing in that window, in typical chunks.
const SPACING: f64 = 0.05;
/// Past the window, the delay as a share of the overrun.
const OVERRUN_BACKOFF: f64 = 0.15;

/// One observation of the chunk counts.
#[derive(Clone, Copy, Debug)]
struct Sighting {
    at: Instant,
    done: u32,
}

/// A rise of the count to `done`, first seen at `seen`; the poll before
/// (at `before`) still saw fewer.
#[derive(Clone, Copy, Debug)]
struct Boundary {
    before: Instant,
    seen: Instant,
    done: u32,
}

/// What the poller has seen of a job's chunk counts.
#[derive(Clone, Debug, Default)]
pub(super) struct ProgressSchedule {
    total: u32,
    first: Option<Sighting>,
    latest: Option<Sighting>,
    last: Option<Boundary>,
    previous: Option<Boundary>,
}

impl ProgressSchedule {
    /// Takes in the progress seen at `at`. Updates without chunk counts are
    /// ignored; counts that go back or a total that changes start afresh.
    pub(super) fn observe(&mut self, at: Instant, progress: &Progress) {
        let (Some(done), Some(total)) = (progress.chunks_done, progress.chunks_total) else {
            return;
        };
        if total == 0 || done > total {
            return;
        }
        let sighting = Sighting { at, done };
        match self.latest {
            Some(latest) if total == self.total && done >= latest.done => {
                if done > latest.done {
                    self.previous = self.last;
                    self.last = Some(Boundary {
                        before: latest.at,
                        seen: at,
                        done,
                    });
                }
                self.latest = Some(sighting);
            }
            _ => {
                *self = ProgressSchedule {
                    total,
                    first: Some(sighting),
                    latest: Some(sighting),
                    ..ProgressSchedule::default()
                };
            }
        }
    }

    /// The delay before the next poll at `now`, never under `shortest`; or
    /// `None` when the counts say too little (fewer than two observations,
    /// or none moved yet with one chunk left): the backoff applies.
    pub(super) fn next_delay(&self, now: Instant, shortest: Duration) -> Option<Duration> {
        let (first, latest) = (self.first?, self.latest?);
        if latest.at <= first.at {
            return None;
        }
        let since = |t: Instant| t.saturating_duration_since(first.at).as_secs_f64();
        let now = since(now);
        let left = self.total - latest.done;
        let secs = match self.last {
            None if left >= 2 => now * FIRST_CHUNK_GROWTH.min(f64::from(left - 1) / CHUNK_RATIO),
            None => return None,
            Some(last) => {
                let mid = |b: &Boundary| (since(b.before) + since(b.seen)) / 2.0;
                let mean = mid(&last) / f64::from(last.done - first.done);
                let typical = match self.previous {
                    Some(previous) => mean
                        .min((mid(&last) - mid(&previous)) / f64::from(last.done - previous.done)),
                    None => mean,
                };
                let seen = since(last.seen);
                if left >= 2 {
                    let last_start = seen + f64::from(left - 1) * typical;
                    let late = now - seen - typical;
                    ((last_start - now) * APPROACH)
                        .max(typical * STEP)
                        .max(late * LATE_BACKOFF)
                } else {
                    let start = since(last.before) + typical * (1.0 - EARLY);
                    let end = seen + mean.max(typical) * (1.0 + LATE);
                    let spacing = (typical * SPACING).max((end - start) / WINDOW_POLLS);
                    if now < start {
                        start - now
                    } else if now < end {
                        spacing
                    } else {
                        spacing.max((now - end) * OVERRUN_BACKOFF)
                    }
                }
            }
        };
        if !secs.is_finite() {
            return None;
        }
        // A week: far beyond any max_wait, and within Duration's range.
        let secs = secs.clamp(0.0, 7.0 * 24.0 * 3600.0);
        Some(Duration::from_secs_f64(secs).max(shortest))
    }
}

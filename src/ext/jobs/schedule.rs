//! The progress-aware schedule: from the chunk counts a job reports, when
//! to poll next.
//!
//! The model: a job works through `all_chunks` one after the other, each
//! taking about the same time `D`, from about when it was first seen. Each
//! poll that reports `done` chunks at time `t` (counted from the first
//! sighting) says `done` boundaries are behind and the next is ahead, so
//! `D > t / (done + 1)`; the poll that first saw `done` says
//! `D <= t_seen / done`. The estimate is the middle of those bounds.
//!
//! The job cannot end before its last chunk starts, so the poller first
//! aims at that start (half the way there per poll, then in steps of a
//! tenth of a chunk), learning the rate as it goes; once the last chunk
//! runs it waits until shortly before the predicted end, polls a few times
//! across the window where the end is expected (its width: how precisely
//! the last chunk's start is known, plus a tenth of a chunk for chunks that
//! vary), and past that window backs off in proportion to the overrun.

use std::time::Duration;

use tokio::time::Instant;

use super::Progress;

/// While nothing has finished yet, the next poll comes after this many
/// times the time waited since the first sighting (when at least two
/// chunks remain, the job cannot end sooner than that).
const FIRST_CHUNK_GROWTH: f64 = 3.0;
/// Share of the way to the last chunk's predicted start covered per poll.
const APPROACH: f64 = 0.5;
/// Step near the last chunk's start, in chunks.
const STEP: f64 = 0.1;
/// How much one chunk may differ from the average, in chunks.
const CHUNK_SPREAD: f64 = 0.1;
/// Polls across the window where the end is expected.
const WINDOW_POLLS: f64 = 5.0;
/// Past the window, the delay as a share of the overrun.
const OVERRUN_BACKOFF: f64 = 0.5;

/// One observation of the chunk counts.
#[derive(Clone, Copy, Debug)]
struct Sighting {
    at: Instant,
    done: u32,
}

/// What the poller has seen of a job's chunk counts.
#[derive(Clone, Debug, Default)]
pub(super) struct ProgressSchedule {
    total: u32,
    first: Option<Sighting>,
    latest: Option<Sighting>,
    /// The poll before the latest count was first seen, and that poll.
    boundary: Option<(Instant, Instant)>,
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
                    self.boundary = Some((latest.at, at));
                }
                self.latest = Some(sighting);
            }
            _ => {
                *self = ProgressSchedule {
                    total,
                    first: Some(sighting),
                    latest: Some(sighting),
                    boundary: None,
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
        let left = self.total - latest.done;
        let secs = match self.boundary {
            None if left >= 2 => since(now) * FIRST_CHUNK_GROWTH,
            None => return None,
            Some((before, seen)) => {
                let moved = f64::from(latest.done - first.done);
                let low = since(latest.at) / (moved + 1.0);
                let high = since(seen) / moved;
                let chunk = if high > low { (low + high) / 2.0 } else { low };
                let now = since(now);
                if left >= 2 {
                    let last_start = f64::from(self.total - 1 - first.done) * chunk;
                    ((last_start - now) * APPROACH).max(chunk * STEP)
                } else {
                    let half_gap = (since(seen) - since(before)) / 2.0;
                    let end = since(before) + half_gap + chunk;
                    let half_width = half_gap + chunk * CHUNK_SPREAD;
                    let window_start = end - half_width;
                    if now < window_start {
                        window_start - now
                    } else if now < end + half_width {
                        2.0 * half_width / WINDOW_POLLS
                    } else {
                        (now - window_start) * OVERRUN_BACKOFF
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

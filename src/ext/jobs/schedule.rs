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
//!   chunk times). Past that window the last chunk is a slow one, and slow
//!   chunks take up to three times the typical one ([`CHUNK_RATIO`]): the
//!   delays grow with the time past the window until about eight polls
//!   cover the window where a chunk three times as long would end; past
//!   that too, delays grow with the overrun.
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
/// Where a last chunk of the typical length is expected to end.
const NORMAL_END: EndWindow = EndWindow {
    chunks: 1.0,
    early: 0.15,
    late: 0.1,
    polls: 10.0,
};
/// Where a slow last chunk ([`CHUNK_RATIO`] typical ones) is expected to end.
const SLOW_END: EndWindow = EndWindow {
    chunks: CHUNK_RATIO,
    early: 0.1,
    late: 0.1,
    polls: 8.0,
};
/// Shortest spacing in the normal window, in typical chunks.
const SPACING: f64 = 0.03;
/// Between the normal window and the slow one, the delay as a share of the
/// time past the normal window.
const BETWEEN_GROWTH: f64 = 1.2;
/// Past both windows, the delay as a share of the overrun.
const OVERRUN_BACKOFF: f64 = 0.15;

/// A window of time in which the last chunk is expected to end, if it
/// takes `chunks` typical chunks: from `early` (a share) sooner than the
/// typical length to `late` later than the longest, polled `polls` times.
struct EndWindow {
    chunks: f64,
    early: f64,
    late: f64,
    polls: f64,
}

impl EndWindow {
    /// `(start, end, spacing)` in seconds since the first observation, for
    /// a last chunk that started between `before` and `seen`.
    fn bounds(&self, before: f64, seen: f64, typical: f64, longest: f64) -> (f64, f64, f64) {
        let start = before + self.chunks * typical * (1.0 - self.early);
        let end = seen + self.chunks * longest * (1.0 + self.late);
        (start, end, (end - start) / self.polls)
    }
}

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
                    let longest = mean.max(typical);
                    let before = since(last.before);
                    let (start, end, spacing) = NORMAL_END.bounds(before, seen, typical, longest);
                    let spacing = spacing.max(typical * SPACING);
                    let (slow_start, slow_end, slow_spacing) =
                        SLOW_END.bounds(before, seen, typical, longest);
                    let slow_spacing = slow_spacing.max(spacing);
                    if now < start {
                        start - now
                    } else if now < end {
                        spacing
                    } else if now + spacing < slow_start {
                        (spacing.max((now - end) * BETWEEN_GROWTH)).min(slow_start - now)
                    } else if now < slow_end {
                        slow_spacing
                    } else {
                        slow_spacing.max((now - slow_end) * OVERRUN_BACKOFF)
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

#[cfg(test)]
mod tests {
    //! Which polls the schedule sends, and when, for jobs whose chunk ends
    //! are known in advance: a wait loop on synthetic instants (the poller's
    //! own loop, minus HTTP), exact and repeatable.

    use super::*;

    const SHORTEST: Duration = Duration::from_millis(250);

    /// The poll times (seconds from the start) of a wait for a job whose
    /// chunks end at `ends` (seconds, ascending); the last one saw it done.
    /// Where the counts say too little, the delay is the backoff's first
    /// step (the poller uses the jittered backoff there).
    fn polls(ends: &[f64]) -> Vec<f64> {
        let origin = Instant::now();
        let total = u32::try_from(ends.len()).expect("few chunks");
        let mut schedule = ProgressSchedule::default();
        let mut at = 0.0;
        let mut polls = Vec::new();
        loop {
            polls.push(at);
            let done = u32::try_from(ends.iter().filter(|end| **end <= at).count()).unwrap();
            if done == total {
                return polls;
            }
            let now = origin + Duration::from_secs_f64(at);
            let progress = Progress {
                chunks_done: Some(done),
                chunks_total: Some(total),
                ..Progress::default()
            };
            schedule.observe(now, &progress);
            let delay = schedule.next_delay(now, SHORTEST).unwrap_or(SHORTEST);
            assert!(delay >= SHORTEST, "{delay:?} after {at}");
            at += delay.as_secs_f64();
            assert!(polls.len() < 500, "never done: {polls:?}");
        }
    }

    /// `chunks` chunks of `each` seconds, the last one `last` seconds.
    fn ends(chunks: usize, each: f64, last: f64) -> Vec<f64> {
        (1..chunks)
            .map(|i| i as f64 * each)
            .chain([(chunks - 1) as f64 * each + last])
            .collect()
    }

    #[test]
    fn a_normal_last_chunk_is_seen_within_the_window_spacing() {
        let ends = ends(7, 60.0, 60.0);
        let polls = polls(&ends);
        let end = ends[6];
        let seen = *polls.last().unwrap();
        // The spacing in the window is at least 3 % of a chunk (1.8 s) and
        // at most a tenth of the window (a few seconds here).
        assert!(
            seen - end <= 5.0,
            "seen {seen} for an end at {end}: {polls:?}"
        );
        // After the poll that saw the last chunk start, nothing until shortly
        // before its predicted end (85 % of a chunk after its start).
        let seen_start = polls.iter().position(|t| *t >= ends[5]).unwrap();
        let in_last = &polls[seen_start + 1..];
        assert!(in_last.len() <= 12, "{in_last:?}");
        assert!(in_last[0] >= ends[5] + 0.8 * 60.0, "{polls:?}");
    }

    #[test]
    fn a_slow_last_chunk_is_awaited_where_three_chunks_would_end() {
        // Six chunks of a minute, then one of three minutes.
        let ends = ends(7, 60.0, 180.0);
        let polls = polls(&ends);
        let (start, end) = (ends[5], ends[6]);
        let seen = *polls.last().unwrap();
        assert!(
            seen - end <= 10.0,
            "seen {seen} for an end at {end}: {polls:?}"
        );
        // After the window of a normal chunk (up to 1.1 chunks after the poll
        // that saw the last chunk start), the gaps grow until the window of a
        // slow one (from 2.7 chunks after its start): few polls in between.
        let seen_start = *polls.iter().find(|t| **t >= start).unwrap();
        let between: Vec<f64> = polls
            .iter()
            .copied()
            .filter(|t| *t > seen_start + 1.15 * 60.0 && *t < start + 2.6 * 60.0)
            .collect();
        assert!(between.len() <= 5, "{between:?} in {polls:?}");
        let gaps: Vec<f64> = between.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
        let in_last = polls.iter().filter(|t| **t > start).count();
        assert!(
            in_last <= 22,
            "{in_last} polls in the last chunk: {polls:?}"
        );
    }

    #[test]
    fn past_both_windows_the_gaps_grow_with_the_overrun() {
        // The last chunk takes ten times the others: polls go on, further
        // and further apart, and still see the end.
        let ends = ends(7, 60.0, 600.0);
        let polls = polls(&ends);
        let start = ends[5];
        let late: Vec<f64> = polls
            .iter()
            .copied()
            .filter(|t| *t > start + 3.5 * 60.0)
            .collect();
        let gaps: Vec<f64> = late.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0] - 1e-6), "{gaps:?}");
        assert!(late.len() <= 30, "{late:?}");
        assert!(*polls.last().unwrap() >= ends[6]);
    }
}

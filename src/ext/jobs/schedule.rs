//! The progress-aware schedule: from the chunk counts a job reports, when
//! to poll next.
//!
//! The model: a job works through `all_chunks` one after the other. Most
//! chunks take about the same time (within ±15 % of a *typical* chunk),
//! about one in eight takes up to four times as long, and now and then
//! one takes anything from a fifth to twenty times as long
//! ([`CHUNK_MODEL`]). The typical chunk's time is not known; every count
//! seen says something about it: a count rising between two polls puts a
//! chunk's end between them, and a count not yet risen says the running
//! chunk has not ended.
//!
//! - Before any chunk completes (or, for a wait that began mid-job, before
//!   a chunk both starts and ends while it watches), with two or more left: the next poll
//!   comes after up to three times the time waited so far (less with few
//!   chunks left): the job cannot end sooner unless its chunks differ more
//!   than threefold. With one chunk left and no count moved, the backoff
//!   applies.
//! - Once a count moved: up to [`PARTICLES`] continuations of the job are
//!   drawn from the model, each consistent with every count seen (sequential
//!   importance sampling: each chunk's time is drawn within the bounds the
//!   polls put on its end, and the continuation weighted by how likely
//!   those bounds were). Their end times are the prediction. The next poll
//!   goes where the delay it would add on average (the weighted mean of
//!   how long before it the job ended, over the continuations that end
//!   before it) reaches [`DELAY_PER_POLL`] of a typical chunk: few polls
//!   while the end is far or vague, close polls where it is likely. A
//!   spacing like this (wider where the end is less likely) is the one
//!   that minimises polls plus delay.
//! - Counts that no continuation explains (a chunk far beyond the model)
//!   hand back to the backoff until they do; so do jobs of more than
//!   [`MAX_MODELLED_CHUNKS`] chunks.
//!
//! The draws are seeded from the number of polls seen, so a wait is
//! repeatable. Counts that go back, or a total that changes, start the
//! estimate afresh.

use std::time::Duration;

use tokio::time::Instant;

use super::{Progress, WaitPolicy};

/// Before any chunk completes: the next poll after this many times the
/// time waited so far, at most.
const FIRST_CHUNK_GROWTH: f64 = 3.0;
/// How much longer than another one chunk is assumed to take, at most,
/// before any has completed.
const CHUNK_RATIO: f64 = 3.0;
/// A chunk's time, in typical chunks: `(probability, shortest, longest)`
/// of uniform components.
const CHUNK_MODEL: [(f64, f64, f64); 3] = [(0.86, 0.85, 1.15), (0.12, 1.3, 3.8), (0.02, 0.2, 20.0)];
/// How many continuations of the job are drawn per prediction, for a job
/// of up to [`CHUNKS_AT_FULL_COUNT`] chunks; fewer for longer jobs (at
/// least [`FEWEST_PARTICLES`]), so the work per prediction stays bounded.
const PARTICLES: usize = 8000;
/// See [`PARTICLES`].
const CHUNKS_AT_FULL_COUNT: usize = 30;
/// The fewest continuations drawn, however long the job.
const FEWEST_PARTICLES: usize = 1000;
/// Jobs with more chunks than this left when the wait began get the
/// backoff: a prediction would cost more than it saves (and the count comes
/// from the server, which may say anything).
const MAX_MODELLED_CHUNKS: usize = 1000;
/// The mean delay one poll may add, in typical chunks.
const DELAY_PER_POLL: f64 = 0.004;
/// Continuations this far below the likeliest one are left out of the
/// range of typical chunk times searched again.
const NEGLIGIBLE: f64 = 1e-3;

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
    /// Every sighting since the estimate last started afresh, in order;
    /// their counts never go down.
    sightings: Vec<Sighting>,
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
        let continues = self
            .sightings
            .last()
            .is_some_and(|latest| total == self.total && done >= latest.done);
        if !continues {
            self.sightings.clear();
            self.total = total;
        }
        self.sightings.push(Sighting { at, done });
    }

    /// The delay before the next poll at `now`, never under `shortest`; or
    /// `None` when the counts say too little (fewer than two observations,
    /// none moved yet with one chunk left, or counts the model cannot
    /// explain): the backoff applies.
    pub(super) fn next_delay(&self, now: Instant, shortest: Duration) -> Option<Duration> {
        let first = self.sightings.first()?;
        let latest = self.sightings.last()?;
        if latest.at <= first.at {
            return None;
        }
        let since = |t: Instant| t.saturating_duration_since(first.at).as_secs_f64();
        let now = since(now);
        let left = self.total - latest.done;
        if (self.total - first.done) as usize > MAX_MODELLED_CHUNKS {
            return None;
        }
        let secs = match Timeline::new(&self.sightings, self.total, since) {
            Some(timeline) => {
                let mut rng = fastrand::Rng::with_seed(self.sightings.len() as u64);
                timeline.predicted_poll(&mut rng)? - now
            }
            None if left >= 2 => now * FIRST_CHUNK_GROWTH.min(f64::from(left - 1) / CHUNK_RATIO),
            None => return None,
        };
        if !secs.is_finite() {
            return None;
        }
        // A week: far beyond any max_wait, and within Duration's range.
        let secs = secs.clamp(0.0, 7.0 * 24.0 * 3600.0);
        Some(Duration::from_secs_f64(secs).max(shortest))
    }
}

/// The shortest delay after poll `polls`, made `waited` after the first:
/// poll `n + 1` goes out no sooner than the backoff alone (unjittered)
/// would have sent it, the sum of its first `n` delays after the first
/// poll, and never sooner than `initial_delay` after the previous one. So
/// a wait never makes more polls than the backoff alone would.
pub(super) fn not_ahead_of_backoff(policy: &WaitPolicy, polls: u32, waited: Duration) -> Duration {
    let backoff_at: Duration = (1..=polls).map(|n| policy.delay(n)).sum();
    backoff_at
        .saturating_sub(waited)
        .max(policy.initial_delay())
}

/// The chunks still to be explained, with what the polls say of each one's
/// end, in seconds since the first sighting.
struct Timeline {
    /// Where the first modelled chunk starts: `(earliest, latest)`.
    start: (f64, f64),
    /// Per modelled chunk: its end is after `.0` and at or before `.1`
    /// (`f64::INFINITY` while no poll saw it done).
    ends: Vec<(f64, f64)>,
    /// Range of typical chunk times to search first.
    typical: (f64, f64),
}

impl Timeline {
    /// From sightings whose count moved at least once. A wait that began
    /// with no chunk done models the job from its first chunk (started at
    /// the first poll); one that began mid-job models it from the first
    /// rise seen. `None` when that leaves no completed chunk to learn from.
    fn new(sightings: &[Sighting], total: u32, since: impl Fn(Instant) -> f64) -> Option<Timeline> {
        let first = sightings.first()?;
        let rise = sightings.iter().position(|s| s.done > first.done)?;
        let (from, start) = if first.done == 0 {
            (0, (0.0, 0.0))
        } else {
            let (before, seen) = (&sightings[rise - 1], &sightings[rise]);
            (seen.done, (since(before.at), since(seen.at)))
        };
        let latest = sightings.last()?;
        let completed = latest.done.checked_sub(from).filter(|n| *n > 0)?;
        let ends = (from + 1..=total)
            .map(|chunk| {
                let after = sightings
                    .iter()
                    .filter(|s| s.done < chunk)
                    .map(|s| since(s.at))
                    .fold(start.0, f64::max);
                let by = sightings
                    .iter()
                    .find(|s| s.done >= chunk)
                    .map_or(f64::INFINITY, |s| since(s.at));
                (after, by)
            })
            .collect();
        // The completed chunks took at most this long on average.
        let first_seen = sightings.iter().find(|s| s.done == latest.done)?;
        let mean = (since(first_seen.at) - start.0) / f64::from(completed);
        Some(Timeline {
            start,
            ends,
            typical: (mean / 25.0, mean * 1.5),
        })
    }

    /// When to poll next (seconds since the first sighting): draws the
    /// continuations, then searches again among the typical chunk times
    /// that explained the counts.
    fn predicted_poll(&self, rng: &mut fastrand::Rng) -> Option<f64> {
        let mut draws = self.draw(self.typical, rng)?;
        let (lo, hi) = draws
            .iter()
            .filter(|d| d.weight >= NEGLIGIBLE)
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), d| {
                (lo.min(d.typical), hi.max(d.typical))
            });
        if lo.is_finite() && hi > 0.0 {
            draws = self.draw((lo * 0.98, hi * 1.02), rng)?;
        }
        let typical = weighted_median(&mut draws)?;
        draws.sort_by(|a, b| a.end.total_cmp(&b.end));
        Some(poll_time(&draws, DELAY_PER_POLL * typical))
    }

    /// Up to [`PARTICLES`] continuations with typical chunk times log-uniform in
    /// `typical`, weights normalised to the largest; `None` if no
    /// continuation explains the counts.
    fn draw(&self, typical: (f64, f64), rng: &mut fastrand::Rng) -> Option<Vec<Draw>> {
        let (lo, hi) = (typical.0.max(1e-9).ln(), typical.1.max(1e-9).ln());
        let count = (PARTICLES * CHUNKS_AT_FULL_COUNT / self.ends.len().max(1))
            .clamp(FEWEST_PARTICLES, PARTICLES);
        let mut draws: Vec<Draw> = (0..count)
            .filter_map(|_| {
                let typical = (lo + (hi - lo) * rng.f64()).exp();
                let mut end = self.start.0 + (self.start.1 - self.start.0) * rng.f64();
                let mut log_weight = 0.0;
                for &(after, by) in &self.ends {
                    let shortest = (after - end) / typical;
                    let longest = (by - end) / typical;
                    let (mass, ratio) = draw_chunk(shortest, longest, rng)?;
                    log_weight += mass.ln();
                    end += ratio * typical;
                }
                Some(Draw {
                    typical,
                    end,
                    weight: log_weight,
                })
            })
            .collect();
        let best = draws
            .iter()
            .map(|d| d.weight)
            .fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            return None;
        }
        for d in &mut draws {
            d.weight = (d.weight - best).exp();
        }
        Some(draws)
    }
}

/// One continuation of the job.
#[derive(Clone, Copy, Debug)]
struct Draw {
    /// Its typical chunk time (seconds).
    typical: f64,
    /// When its last chunk ends (seconds since the first sighting).
    end: f64,
    /// Its weight (log while drawing, then relative to the largest).
    weight: f64,
}

/// A chunk's time in typical chunks, drawn from [`CHUNK_MODEL`] within
/// `(shortest, longest]`, with the probability of that range; `None` when
/// the model gives it none.
fn draw_chunk(shortest: f64, longest: f64, rng: &mut fastrand::Rng) -> Option<(f64, f64)> {
    let parts = CHUNK_MODEL.map(|(p, a, b)| {
        let (lo, hi) = (shortest.clamp(a, b), longest.clamp(a, b));
        (p * (hi - lo).max(0.0) / (b - a), lo, hi)
    });
    let mass: f64 = parts.iter().map(|p| p.0).sum();
    if mass <= 0.0 || !mass.is_finite() {
        return None;
    }
    let mut pick = rng.f64() * mass;
    for (p, lo, hi) in parts {
        if p <= 0.0 {
            continue;
        }
        if pick < p {
            return Some((mass, lo + (hi - lo) * (pick / p)));
        }
        pick -= p;
    }
    // Rounding left `pick` at the top: the end of the last component with
    // mass.
    let (_, _, hi) = parts.into_iter().rev().find(|p| p.0 > 0.0)?;
    Some((mass, hi))
}

/// The weighted median of the draws' typical chunk times.
fn weighted_median(draws: &mut [Draw]) -> Option<f64> {
    draws.sort_by(|a, b| a.typical.total_cmp(&b.typical));
    let total: f64 = draws.iter().map(|d| d.weight).sum();
    let mut seen = 0.0;
    draws
        .iter()
        .find(|d| {
            seen += d.weight;
            seen >= total / 2.0
        })
        .map(|d| d.typical)
}

/// The time at which `Σ w·(t − end)⁺ / Σ w`, the mean delay a poll at `t`
/// would add, reaches `delay`; `draws` sorted by end.
fn poll_time(draws: &[Draw], delay: f64) -> f64 {
    let total: f64 = draws.iter().map(|d| d.weight).sum();
    let (mut weight, mut weighted_end) = (0.0, 0.0);
    for d in draws {
        let w = d.weight / total;
        // The mean delay of a poll right at this draw's end.
        if weight * d.end - weighted_end >= delay {
            return (delay + weighted_end) / weight;
        }
        weight += w;
        weighted_end += w * d.end;
    }
    let last = draws.last().map_or(0.0, |d| d.end);
    last + (delay - (weight * last - weighted_end)).max(0.0) / weight.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    //! Which polls the schedule sends, and when, for jobs whose chunk ends
    //! are known in advance: a wait loop on synthetic instants (the poller's
    //! own loop, minus HTTP), exact and repeatable.

    use super::*;

    const SHORTEST: Duration = Duration::from_millis(250);

    /// The poll times (seconds from the start) of a wait for a job whose
    /// chunks end at `ends` (seconds, ascending), its first poll at
    /// `first`; the last poll saw it done. Where the counts say too little,
    /// the delay is the backoff's times `jitter` (the poller's equal jitter
    /// draws it from 0.5 to 1).
    fn polls_with(ends: &[f64], first: f64, jitter: f64) -> Vec<f64> {
        let origin = Instant::now();
        let total = u32::try_from(ends.len()).expect("few chunks");
        let mut schedule = ProgressSchedule::default();
        let mut at = first;
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
            // As the poller does: never ahead of the backoff alone (its
            // poll n+1 goes out the sum of its first n delays after the
            // first poll); where the counts say too little, the backoff's
            // delay.
            let backoff = WaitPolicy::default();
            let n = u32::try_from(polls.len()).unwrap();
            let shortest = not_ahead_of_backoff(&backoff, n, Duration::from_secs_f64(at - first));
            let delay = match schedule.next_delay(now, shortest) {
                Some(aimed) => {
                    assert!(aimed >= shortest, "{aimed:?} after {at}");
                    aimed
                }
                None => backoff.delay(n).mul_f64(jitter),
            };
            at += delay.as_secs_f64();
            assert!(polls.len() < 500, "never done: {polls:?}");
        }
    }

    fn polls(ends: &[f64]) -> Vec<f64> {
        polls_with(ends, 0.0, 1.0)
    }

    /// Chunks of the given lengths, one after the other from 0.
    fn ends_of(lengths: &[f64]) -> Vec<f64> {
        lengths
            .iter()
            .scan(0.0, |at, len| {
                *at += len;
                Some(*at)
            })
            .collect()
    }

    /// `chunks` chunks of `each` seconds, the last one `last` seconds.
    fn ends(chunks: usize, each: f64, last: f64) -> Vec<f64> {
        let mut lengths = vec![each; chunks - 1];
        lengths.push(last);
        ends_of(&lengths)
    }

    fn delay(ends: &[f64], polls: &[f64]) -> f64 {
        polls.last().unwrap() - ends.last().unwrap()
    }

    #[test]
    fn a_normal_last_chunk_is_seen_soon_after_few_polls() {
        let ends = ends(7, 60.0, 60.0);
        let polls = polls(&ends);
        assert!(delay(&ends, &polls) <= 4.0, "{polls:?}");
        assert!(polls.len() <= 16, "{} polls: {polls:?}", polls.len());
        // Past the first chunk, the gaps shrink towards the end: long while
        // it is far, a few seconds where it is likely.
        let after_first = polls.iter().position(|t| *t >= ends[0]).unwrap();
        let gaps: Vec<f64> = polls[after_first..]
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        let longest = (0..gaps.len())
            .max_by(|a, b| gaps[*a].total_cmp(&gaps[*b]))
            .unwrap();
        assert!(gaps[longest] >= 60.0, "{gaps:?}");
        assert!(
            gaps[longest..].windows(2).all(|g| g[1] <= g[0] + 1e-9),
            "{gaps:?}"
        );
        assert!(*gaps.last().unwrap() <= 6.0, "{gaps:?}");
    }

    #[test]
    fn a_slow_last_chunk_is_seen_soon_too() {
        // Six chunks of a minute, then one of three minutes: after the
        // window where a normal chunk would have ended, the polls go on
        // across the one where a slow chunk ends.
        let ends = ends(7, 60.0, 180.0);
        let polls = polls(&ends);
        assert!(delay(&ends, &polls) <= 4.0, "{polls:?}");
        assert!(polls.len() <= 40, "{} polls: {polls:?}", polls.len());
    }

    #[test]
    fn a_last_chunk_far_beyond_the_model_is_still_seen() {
        // The last chunk takes ten times the others: seen within the
        // backoff's longest delay, with no more polls than the backoff alone
        // would have made.
        let ends = ends(7, 60.0, 600.0);
        let polls = polls(&ends);
        let policy = crate::ext::jobs::WaitPolicy::default();
        assert!(
            delay(&ends, &polls) <= policy.max_delay().as_secs_f64(),
            "{polls:?}"
        );
        let (mut at, mut blind) = (0.0, 1);
        while at < ends[6] {
            at += policy.delay(blind).as_secs_f64();
            blind += 1;
        }
        assert!(
            polls.len() <= blind as usize,
            "{} polls, the backoff {blind}: {polls:?}",
            polls.len()
        );
    }

    #[test]
    fn slow_first_chunks_do_not_send_a_poll_far_past_the_end() {
        // The polling bench's one-hour job of seed 108: the first two of 30
        // chunks take 284 and 291 s, the others about 100 s (one 285 s).
        // With the backoff's first step jittered to 132 ms, the first rise
        // is seen 540 s in, bracketed from 135 s. The schedule before this
        // one took that chunk for a typical one, predicted a last chunk
        // three hours away and polled next 28 minutes after the job ended.
        let lengths = [
            283.6, 291.0, 95.3, 101.9, 93.7, 94.5, 107.0, 107.9, 95.0, 108.3, 113.8, 94.9, 97.0,
            95.3, 111.3, 96.6, 104.3, 97.4, 95.1, 100.2, 96.7, 97.9, 101.2, 109.6, 96.9, 106.4,
            108.1, 113.2, 285.2, 100.8,
        ];
        let ends = ends_of(&lengths);
        let polls = polls_with(&ends, 0.0, 0.528);
        assert!(
            polls.iter().any(|t| (540.0..=541.0).contains(t)),
            "the first rise is seen 540 s in: {polls:?}"
        );
        assert!(delay(&ends, &polls) <= 30.0, "{polls:?}");
        assert!(polls.len() <= 40, "{} polls: {polls:?}", polls.len());
    }

    #[test]
    fn a_wait_that_begins_mid_job_learns_from_the_chunks_it_sees() {
        // Ten chunks of a minute; the wait begins 3.5 chunks in.
        let ends = ends(10, 60.0, 60.0);
        let polls = polls_with(&ends, 210.0, 1.0);
        assert!(delay(&ends, &polls) <= 6.0, "{polls:?}");
        assert!(polls.len() <= 25, "{} polls: {polls:?}", polls.len());
    }

    #[test]
    fn the_same_counts_give_the_same_delays() {
        let mut lengths = vec![61.0, 58.0, 190.0];
        lengths.extend([63.0, 57.0, 60.0, 62.0]);
        let ends = ends_of(&lengths);
        assert_eq!(polls(&ends), polls(&ends));
    }

    #[test]
    fn counts_that_go_back_start_the_estimate_afresh() {
        let origin = Instant::now();
        let at = |s: u64| origin + Duration::from_secs(s);
        let seen = |done| Progress {
            chunks_done: Some(done),
            chunks_total: Some(7),
            ..Progress::default()
        };
        let mut schedule = ProgressSchedule::default();
        for (s, done) in [(0, 0), (10, 0), (70, 1), (130, 2)] {
            schedule.observe(at(s), &seen(done));
        }
        assert!(schedule.next_delay(at(130), SHORTEST).is_some());
        // The job restarted: one sighting is too little to say anything.
        schedule.observe(at(140), &seen(0));
        assert_eq!(schedule.sightings.len(), 1);
        assert_eq!(schedule.next_delay(at(140), SHORTEST), None);
    }

    #[test]
    fn a_job_of_too_many_chunks_gets_the_backoff_at_once() {
        // A server may announce any count ("1/4000000000"): nothing is
        // modelled, nothing is allocated per chunk.
        let origin = Instant::now();
        let mut schedule = ProgressSchedule::default();
        for (s, done) in [(0, 0), (10, 1), (20, 3)] {
            let progress = Progress {
                chunks_done: Some(done),
                chunks_total: Some(4_000_000_000),
                ..Progress::default()
            };
            schedule.observe(origin + Duration::from_secs(s), &progress);
        }
        assert_eq!(
            schedule.next_delay(origin + Duration::from_secs(20), SHORTEST),
            None
        );
        // At the limit it still predicts.
        let mut schedule = ProgressSchedule::default();
        let limit = u32::try_from(MAX_MODELLED_CHUNKS).unwrap();
        for (s, done) in [(0, 0), (10, 1), (20, 3)] {
            let progress = Progress {
                chunks_done: Some(done),
                chunks_total: Some(limit),
                ..Progress::default()
            };
            schedule.observe(origin + Duration::from_secs(s), &progress);
        }
        assert!(
            schedule
                .next_delay(origin + Duration::from_secs(20), SHORTEST)
                .is_some()
        );
    }

    #[test]
    fn with_one_chunk_left_and_no_count_moved_the_backoff_applies() {
        let origin = Instant::now();
        let mut schedule = ProgressSchedule::default();
        let progress = Progress {
            chunks_done: Some(0),
            chunks_total: Some(1),
            ..Progress::default()
        };
        schedule.observe(origin, &progress);
        schedule.observe(origin + Duration::from_secs(5), &progress);
        assert_eq!(
            schedule.next_delay(origin + Duration::from_secs(5), SHORTEST),
            None
        );
    }
}

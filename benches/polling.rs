//! Polling benchmark: how many `GET /jobs/{id}` requests the default
//! `WaitPolicy` makes, and how long after the job completes the waiter
//! returns (detection delay), for jobs lasting 10 s, 10 min and 1 h.
//!
//! Runs the real `handle.wait()` against the in-process simulator on
//! paused tokio time (a job of one chunk lasting the duration), so an hour
//! costs milliseconds. With jitter (the default) it reports the mean over
//! several seeds; without jitter it also checks the result against the
//! schedule computed from `WaitPolicy::delay(n)`.
//!
//! Run: `cargo bench --bench polling --features simulator`
//! (`APPEX_BENCH_REPS=n` seeds, default 20).

mod common;

use std::time::Duration;

use common::{median, print_machine, reps};
use userpilot_appex::config::Jitter;
use userpilot_appex::{
    Client,
    ext::jobs::WaitPolicy,
    simulator::{Route, Simulator, SimulatorConfig},
    types::ExportFormat,
};

fn main() {
    if !common::under_cargo_bench("polling") {
        return;
    }
    print_machine("polling");
    let seeds = reps(20) as u64;
    let durations = [
        ("10 s", Duration::from_secs(10)),
        ("10 min", Duration::from_secs(600)),
        ("1 h", Duration::from_secs(3600)),
    ];
    let mut summary = Vec::new();
    for (label, job_time) in durations {
        // No jitter: exact, and checked against the computed schedule.
        let policy = WaitPolicy::default().with_jitter(Jitter::None);
        let (polls, delay) = measure(job_time, policy.clone(), 0);
        let (expected_polls, expected_delay) = schedule(&policy, job_time);
        println!(
            "{label}: jitter off: {polls} polls, detected {:.2} s after completion (schedule says {expected_polls} polls, {:.2} s)",
            delay.as_secs_f64(),
            expected_delay.as_secs_f64()
        );
        let mut all_polls = Vec::new();
        let mut all_delays = Vec::new();
        for seed in 1..=seeds {
            let (p, d) = measure(job_time, WaitPolicy::default(), seed);
            all_polls.push(p as f64);
            all_delays.push(d.as_secs_f64());
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
        let line = format!(
            "{label:>6} job: default policy (jitter on, {seeds} seeds): {:.1} requests (median {:.0}, max {:.0}), detection delay mean {:.2} s (median {:.2} s, max {:.2} s) = {:.1}% of the job; jitter off: {polls} requests, {:.2} s",
            mean(&all_polls),
            median(&all_polls),
            max(&all_polls),
            mean(&all_delays),
            median(&all_delays),
            max(&all_delays),
            100.0 * mean(&all_delays) / job_time.as_secs_f64(),
            delay.as_secs_f64(),
        );
        println!("{line}");
        summary.push(line);
    }
    println!();
    println!("== summary");
    for line in summary {
        println!("{line}");
    }
}

/// Triggers a job lasting `job_time` and waits for it with `policy` on
/// paused time; returns the polls made and the detection delay.
fn measure(job_time: Duration, policy: WaitPolicy, seed: u64) -> (usize, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // The poller's jitter draws from this thread's generator.
        fastrand::seed(seed);
        let sim = Simulator::start(
            SimulatorConfig::default()
                .pending_duration(Duration::ZERO)
                .chunk_duration(job_time),
        )
        .await
        .expect("simulator");
        let client = Client::builder()
            .base_url(sim.base_url())
            .api_key(sim.api_key())
            .build()
            .expect("client");
        let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
        let started = tokio::time::Instant::now();
        let handle = client
            .export()
            .range(day, day)
            .format(ExportFormat::Ndjson)
            .wait_policy(policy)
            .send()
            .await
            .expect("trigger");
        let job = handle.wait().await.expect("completes");
        let done = tokio::time::Instant::now();
        assert_eq!(job.presigned_urls.len(), 1);
        let polls = sim.request_count(Route::GetJob);
        let completed_at = started + job_time;
        sim.shutdown().await;
        (polls, done.saturating_duration_since(completed_at))
    })
}

/// The polls and detection delay the policy's schedule (no jitter) implies:
/// poll at 0, then after `delay(1)`, `delay(2)`, ... until a poll at or
/// after `job_time`.
fn schedule(policy: &WaitPolicy, job_time: Duration) -> (usize, Duration) {
    let mut t = Duration::ZERO;
    let mut polls = 1;
    while t < job_time {
        t += policy.delay(polls as u32);
        polls += 1;
    }
    (polls, t - job_time)
}

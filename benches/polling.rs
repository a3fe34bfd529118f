//! Polling benchmark: how many `GET /jobs/{id}` requests a wait makes, and
//! how long after the job ends the waiter returns (detection delay), for
//! the default progress-aware schedule and, in the same run, the backoff
//! alone (`PollSchedule::Backoff`, the schedule before progress-following).
//!
//! Runs the real `handle.wait()` over loopback HTTP against a small job
//! server on paused tokio time, so an hour costs milliseconds. The job
//! reports `completed_chunks` / `all_chunks` as it goes; its chunk durations
//! are jittered (uniform ±10 % around the mean) and about one chunk in ten
//! (at least one) takes 3× as long as the rest, scaled so the job lasts
//! exactly its nominal time. Each seed draws other durations and other
//! jitter for the poller; the table gives the mean over seeds.
//!
//! Run: `cargo bench --bench polling --features simulator`
//! (`APPEX_BENCH_REPS=n` seeds, default 20; `APPEX_BENCH_CHUNK_SPREAD=0.25`
//! for chunks jittered ±25 % instead of ±10 %; `APPEX_BENCH_TRACE=1` prints
//! each seed's figures on stderr).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, extract::State, routing::get};
use common::median;
use tokio::time::Instant;
use userpilot_appex::{
    Client,
    ext::jobs::{PollSchedule, WaitPolicy},
};

/// A job's chunk plan: when each chunk ends, from the wait's start.
struct Plan {
    ends: Vec<Duration>,
}

impl Plan {
    /// `chunks` chunks lasting `total` in all, each within `spread` of the
    /// mean before the slow ones are stretched, drawn from `seed`.
    fn new(chunks: usize, total: Duration, spread: f64, seed: u64) -> Plan {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut weights: Vec<f64> = (0..chunks)
            .map(|_| 1.0 - spread + 2.0 * spread * rng.f64())
            .collect();
        if chunks > 1 {
            for _ in 0..(chunks / 10).max(1) {
                let slow = rng.usize(..chunks);
                weights[slow] *= 3.0;
            }
        }
        let sum: f64 = weights.iter().sum();
        let mut at = 0.0;
        let ends = weights
            .iter()
            .map(|w| {
                at += w / sum;
                total.mul_f64(at)
            })
            .collect();
        Plan { ends }
    }

    fn end(&self) -> Duration {
        *self.ends.last().expect("at least one chunk")
    }
}

struct JobServer {
    plan: Plan,
    started: Instant,
    gets: AtomicUsize,
}

async fn get_job(State(server): State<Arc<JobServer>>) -> Json<serde_json::Value> {
    server.gets.fetch_add(1, Ordering::Relaxed);
    let elapsed = server.started.elapsed();
    let names: Vec<String> = (0..server.plan.ends.len())
        .map(|i| format!("2025-01-{:02}", i + 1))
        .collect();
    let done = server
        .plan
        .ends
        .iter()
        .filter(|end| **end <= elapsed)
        .count();
    let completed = done == names.len();
    Json(serde_json::json!({
        "job_id": "bench-job",
        "status": if completed { "completed" } else { "processing" },
        "progress": format!("{}%", done * 100 / names.len()),
        "all_chunks": names,
        "completed_chunks": &names[..done],
        "current_chunk": names.get(done),
        "presigned_urls": if completed {
            serde_json::json!([{"filename": "f.ndjson.gz", "url": "https://bucket.invalid/f"}])
        } else {
            serde_json::json!([])
        },
    }))
}

/// Waits for a job of `plan` with `schedule` on paused time; returns the
/// requests made and the detection delay.
fn measure(plan: Plan, schedule: PollSchedule, seed: u64) -> (usize, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // The poller's jitter draws from this thread's generator.
        fastrand::seed(seed);
        let server = Arc::new(JobServer {
            plan,
            started: Instant::now(),
            gets: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/api/v1/analytics/exports/jobs/{job_id}", get(get_job))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let serve = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::builder()
            .base_url(format!("http://{addr}"))
            .api_key("bench-key")
            .build()
            .expect("client");
        let policy = WaitPolicy::default().with_schedule(schedule);
        let handle = client.job("bench-job").wait_policy(policy);
        let job = handle.wait().await.expect("completes");
        let delay = server.started.elapsed().saturating_sub(server.plan.end());
        assert_eq!(job.presigned_urls.len(), 1);
        serve.abort();
        (server.gets.load(Ordering::Relaxed), delay)
    })
}

struct Stats {
    requests_mean: f64,
    requests_max: f64,
    delay_mean: f64,
    delay_median: f64,
    delay_max: f64,
}

fn run(chunks: usize, total: Duration, schedule: PollSchedule, seeds: u64) -> Stats {
    let spread = chunk_spread();
    let mut requests = Vec::new();
    let mut delays = Vec::new();
    for seed in 1..=seeds {
        let (r, d) = measure(Plan::new(chunks, total, spread, seed), schedule, seed);
        if std::env::var_os("APPEX_BENCH_TRACE").is_some() {
            eprintln!(
                "{chunks} chunks, seed {seed}: {r} requests, seen {:.2} s after the end",
                d.as_secs_f64()
            );
        }
        requests.push(r as f64);
        delays.push(d.as_secs_f64());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    Stats {
        requests_mean: mean(&requests),
        requests_max: max(&requests),
        delay_mean: mean(&delays),
        delay_median: median(&delays),
        delay_max: max(&delays),
    }
}

/// How much chunks vary around their mean (`APPEX_BENCH_CHUNK_SPREAD`).
fn chunk_spread() -> f64 {
    common::env_number("APPEX_BENCH_CHUNK_SPREAD")
        .filter(|s: &f64| (0.0..1.0).contains(s))
        .unwrap_or(0.1)
}

fn main() {
    let Some(runs) = common::start("polling", 20) else {
        return;
    };
    let seeds = runs as u64;
    let jobs = [
        ("30 chunks, 1 h", 30, Duration::from_secs(3600)),
        ("7 chunks, 10 min", 7, Duration::from_secs(600)),
        ("5 chunks, 10 s", 5, Duration::from_secs(10)),
        ("1 chunk, 10 s", 1, Duration::from_secs(10)),
        ("1 chunk, 10 min", 1, Duration::from_secs(600)),
        ("1 chunk, 1 h", 1, Duration::from_secs(3600)),
    ];
    println!(
        "| job | schedule | requests (mean / max) | detection delay mean / median / max (s) |"
    );
    println!("| --- | --- | --- | --- |");
    for (label, chunks, total) in jobs {
        for (name, schedule) in [
            ("follow progress (default)", PollSchedule::FollowProgress),
            ("backoff alone (baseline)", PollSchedule::Backoff),
        ] {
            let s = run(chunks, total, schedule, seeds);
            println!(
                "| {label} | {name} | {:.1} / {:.0} | {:.2} / {:.2} / {:.2} |",
                s.requests_mean, s.requests_max, s.delay_mean, s.delay_median, s.delay_max
            );
        }
    }
    println!(
        "({seeds} seeds per row; chunks within ±{:.0} % of their mean, about one in ten 3× slower)",
        chunk_spread() * 100.0
    );
}

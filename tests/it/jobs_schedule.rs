//! The progress-aware poll schedule (`PollSchedule::FollowProgress`, the
//! default) against the simulator's jobs, on paused tokio time: when it
//! polls, how many requests it spends, how soon it sees the end, and that
//! without chunk counts it is the backoff schedule to the millisecond.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::NaiveDate;
use tokio::time::Instant;
use userpilot_appex::{
    Client,
    config::Jitter,
    ext::jobs::{PollSchedule, WaitPolicy},
    simulator::{Route, Simulator, SimulatorConfig},
    types::ExportFormat,
};

/// What one wait did: when each poll went out (from the trigger), and when
/// the wait returned.
struct Run {
    polls: Vec<Duration>,
    returned: Duration,
    requests: usize,
}

/// Triggers a job of `days` chunks of `chunk` each (no pending phase) and
/// waits for it under `policy`.
async fn wait_for_job(days: u32, chunk: Duration, policy: WaitPolicy) -> Run {
    let config = SimulatorConfig::default()
        .pending_duration(Duration::ZERO)
        .chunk_duration(chunk);
    let sim = Simulator::start(config).await.expect("simulator");
    let key = sim.api_key();
    let client = Client::builder().base_url(sim.base_url()).api_key(key);
    let client = client.build().expect("client");
    // One chunk per day of the range.
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let to = from + chrono::Duration::days(i64::from(days) - 1);
    let started = Instant::now();
    let handle = client
        .export()
        .range(from, to)
        .format(ExportFormat::Ndjson)
        .wait_policy(policy)
        .send()
        .await
        .expect("trigger");
    let polls = Arc::new(Mutex::new(Vec::new()));
    let seen = polls.clone();
    let job = handle
        .poller()
        .on_progress(move |_| seen.lock().unwrap().push(started.elapsed()))
        .wait()
        .await
        .expect("completes");
    let returned = started.elapsed();
    assert_eq!(job.presigned_urls.len(), days as usize);
    let mut polls = polls.lock().unwrap().clone();
    polls.push(returned);
    let requests = sim.request_count(Route::GetJob);
    sim.shutdown().await;
    Run {
        polls,
        returned,
        requests,
    }
}

fn exact(schedule: PollSchedule) -> WaitPolicy {
    WaitPolicy::default()
        .with_jitter(Jitter::None)
        .with_schedule(schedule)
}

fn gaps(polls: &[Duration]) -> Vec<Duration> {
    polls.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn following_progress_spends_fewer_requests_and_still_sees_the_end_soon() {
    let chunk = Duration::from_secs(120);
    let end = chunk * 30;
    let aware = wait_for_job(30, chunk, exact(PollSchedule::FollowProgress)).await;
    let blind = wait_for_job(30, chunk, exact(PollSchedule::Backoff)).await;

    assert_eq!(aware.requests, aware.polls.len());
    assert!(
        aware.requests * 2 < blind.requests,
        "progress-aware {} requests, backoff alone {}",
        aware.requests,
        blind.requests
    );
    assert!(aware.returned >= end);
    assert!(
        aware.returned - end <= Duration::from_secs(5),
        "seen done {:?} after the end",
        aware.returned - end
    );
    // Some delays aimed at the prediction are longer than the backoff's cap.
    assert!(
        gaps(&aware.polls)
            .iter()
            .any(|gap| *gap > WaitPolicy::default().max_delay())
    );
}

#[tokio::test(start_paused = true)]
async fn no_poll_comes_sooner_than_the_initial_delay_after_the_previous() {
    let initial = Duration::from_secs(2);
    let policy = exact(PollSchedule::FollowProgress).with_initial_delay(initial);
    let run = wait_for_job(7, Duration::from_secs(30), policy).await;
    for gap in gaps(&run.polls) {
        assert!(gap >= initial, "gap {gap:?} in {:?}", run.polls);
    }
}

#[tokio::test(start_paused = true)]
async fn a_one_chunk_job_is_polled_on_the_backoff_schedule_exactly() {
    let chunk = Duration::from_secs(90);
    let aware = wait_for_job(1, chunk, exact(PollSchedule::FollowProgress)).await;
    let blind = wait_for_job(1, chunk, exact(PollSchedule::Backoff)).await;
    assert_eq!(aware.polls, blind.polls);
    // And that schedule is the policy's delays, one after the other.
    let policy = exact(PollSchedule::Backoff);
    for (n, gap) in gaps(&blind.polls).iter().enumerate() {
        assert_eq!(*gap, policy.delay(n as u32 + 1), "gap after poll {}", n + 1);
    }
}

#[tokio::test(start_paused = true)]
async fn turned_off_it_follows_the_backoff_even_when_chunks_move() {
    let policy = exact(PollSchedule::Backoff);
    let run = wait_for_job(7, Duration::from_secs(5), policy.clone()).await;
    for (n, gap) in gaps(&run.polls).iter().enumerate() {
        assert_eq!(*gap, policy.delay(n as u32 + 1), "gap after poll {}", n + 1);
    }
}

#[tokio::test(start_paused = true)]
async fn estimates_tighten_near_the_end() {
    // 10 chunks of a minute: the last gaps before the end are short, the
    // middle ones long.
    let run = wait_for_job(
        10,
        Duration::from_secs(60),
        exact(PollSchedule::FollowProgress),
    )
    .await;
    let gaps = gaps(&run.polls);
    let longest = gaps.iter().max().copied().unwrap();
    let last = *gaps.last().unwrap();
    assert!(longest >= Duration::from_secs(60), "{gaps:?}");
    assert!(last <= Duration::from_secs(12), "{gaps:?}");
    assert!(run.returned - Duration::from_secs(600) <= Duration::from_secs(6));
}

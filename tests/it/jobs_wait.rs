//! Waiting for an export job: states, progress, failures, time limits, the
//! 404 grace period, retries and the backoff schedule. Every test runs on
//! paused tokio time against an in-process scripted server, so delays cost
//! nothing and the schedule is exact.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{
    self, KEY, job_path,
    server::{Reply, TestServer},
};
use futures::StreamExt;
use userpilot_appex::{
    Client, Error, RetryPolicy,
    config::Jitter,
    ext::jobs::{JobOrigin, JobPoller, JobUpdate, PollState, WaitPolicy},
    models::{ExportJob, JobStatus},
};

fn no_jitter() -> WaitPolicy {
    WaitPolicy::default().with_jitter(Jitter::None)
}

/// A server whose job `id` answers `replies` (in order, the last
/// repeating), and a client for it without retries.
async fn server_for_job(id: &str, replies: Vec<Reply>) -> (TestServer, Client) {
    let server = TestServer::start().await;
    server.on("GET", &job_path(id), replies);
    let client = support::client(&server.base_url(), RetryPolicy::none());
    (server, client)
}

/// A server whose job `id` answers each `(status, progress)` in turn, the
/// last one from then on.
async fn job_answering(id: &str, answers: &[(&str, Option<&str>)]) -> (TestServer, Client) {
    let replies = answers
        .iter()
        .map(|&(status, progress)| Reply::job(id, status, progress))
        .collect();
    server_for_job(id, replies).await
}

/// `(status, fraction)` of every update a callback saw, in order.
type Seen = Arc<Mutex<Vec<(Option<JobStatus>, Option<f64>)>>>;

/// A progress callback and what it records.
fn recorder() -> (Seen, impl Fn(&JobUpdate) + Send + Sync + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let callback = move |update: &JobUpdate| {
        sink.lock()
            .unwrap()
            .push((update.status().cloned(), update.progress.fraction));
    };
    (seen, callback)
}

/// Waits to the end with a [`recorder`] attached (the wait must succeed):
/// the job, and what the callback saw.
async fn wait_recorded(poller: JobPoller) -> (ExportJob, Seen) {
    let (seen, callback) = recorder();
    let job = poller
        .on_progress(callback)
        .wait()
        .await
        .expect("completed");
    (job, seen)
}

#[tokio::test(start_paused = true)]
async fn wait_reports_pending_then_processing_progress_in_order_then_completed() {
    let (server, client) = server_for_job(
        "job-1",
        vec![
            Reply::job("job-1", "pending", None),
            Reply::job("job-1", "processing", Some("3/8")),
            Reply::job("job-1", "processing", Some("75%")),
            Reply::json(
                200,
                serde_json::json!({
                    "job_id": "job-1", "status": "completed", "progress": "100%",
                    "presigned_urls": [{"filename": "part-0.ndjson.gz", "url": "https://bucket.example/p0?X-Amz-Signature=abc"}]
                }),
            ),
        ],
    )
    .await;
    let (job, seen) = wait_recorded(client.job("job-1").wait_policy(no_jitter()).poller()).await;

    assert_eq!(job.status, Some(JobStatus::Completed));
    assert_eq!(job.presigned_urls.len(), 1);
    assert_eq!(job.presigned_urls[0].filename, "part-0.ndjson.gz");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (Some(JobStatus::Pending), None),
            (Some(JobStatus::Processing), Some(3.0 / 8.0)),
            (Some(JobStatus::Processing), Some(0.75)),
        ]
    );
    assert_eq!(
        server.lines(),
        vec![format!("GET {}", job_path("job-1")); 4]
    );
    let auth = format!("Token {KEY}");
    assert_eq!(server.requests()[0].header("authorization"), Some(&*auth));
}

#[tokio::test(start_paused = true)]
async fn failed_job_ends_the_wait_with_job_failed_carrying_the_final_job() {
    let (server, client) = job_answering(
        "job-f",
        &[("processing", Some("2/7")), ("failed", Some("2/7"))],
    )
    .await;

    let error = client.job("job-f").wait().await.expect_err("failed");

    assert_eq!(
        error.to_string(),
        "export job job-f failed (progress \"2/7\")"
    );
    match error {
        Error::JobFailed { job } => {
            assert_eq!(job.job_id.as_deref(), Some("job-f"));
            assert_eq!(job.status, Some(JobStatus::Failed));
            assert_eq!(job.progress.as_deref(), Some("2/7"));
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn unknown_status_in_the_middle_keeps_waiting() {
    let (server, client) = job_answering(
        "job-u",
        &[
            ("pending", None),
            ("reticulating_splines", None),
            ("completed", None),
        ],
    )
    .await;
    let (job, seen) = wait_recorded(client.job("job-u").poller()).await;

    assert_eq!(job.status, Some(JobStatus::Completed));
    let statuses: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(
        statuses,
        vec![
            Some(JobStatus::Pending),
            Some(JobStatus::Unknown("reticulating_splines".into())),
        ]
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn exceeding_max_wait_reports_elapsed_time_and_poll_count() {
    let (server, client) = job_answering("job-slow", &[("processing", None)]).await;
    let policy = no_jitter()
        .with_initial_delay(Duration::from_secs(1))
        .with_multiplier(1.0)
        .with_max_wait(Duration::from_secs(5));

    let error = client
        .job("job-slow")
        .wait_policy(policy)
        .wait()
        .await
        .expect_err("timeout");

    assert_eq!(
        error.to_string(),
        "export job job-slow still running after 5s (max wait 5s, 6 polls)"
    );
    // Polls at 0, 1, 2, 3, 4 and a last one when the 5 s run out.
    match error {
        Error::WaitTimeout {
            job_id,
            max_wait,
            elapsed,
            polls,
        } => {
            assert_eq!(job_id, "job-slow");
            assert_eq!(max_wait, Duration::from_secs(5));
            assert_eq!(elapsed, Duration::from_secs(5));
            assert_eq!(polls, 6);
        }
        other => panic!("expected WaitTimeout, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn not_found_within_the_grace_period_is_tolerated() {
    let (server, client) = server_for_job(
        "job-new",
        vec![
            Reply::not_found(),
            Reply::not_found(),
            Reply::job("job-new", "completed", None),
        ],
    )
    .await;
    let mut poller = client.job("job-new").wait_policy(no_jitter()).poller();

    match poller.poll().await.expect("first poll") {
        PollState::InProgress(update) => {
            assert_eq!(update.job, None);
            assert_eq!(update.poll, 1);
            assert!(update.progress.is_unknown());
        }
        other => panic!("expected InProgress, got {other:?}"),
    }
    let job = poller.wait().await.expect("completed");

    assert_eq!(job.status, Some(JobStatus::Completed));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn not_found_past_the_grace_period_is_not_found() {
    let (server, client) = server_for_job("job-gone", vec![Reply::not_found()]).await;
    // Polls at 0, 0.25, 0.625 s fall inside the 1 s grace; 1.188 s does not.
    let policy = no_jitter()
        .with_multiplier(1.5)
        .with_not_found_grace(Duration::from_secs(1));

    let error = client
        .job("job-gone")
        .wait_policy(policy)
        .wait()
        .await
        .expect_err("not found");

    assert!(matches!(error, Error::NotFound(_)), "got {error:?}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn not_found_after_the_job_was_seen_is_not_found_at_once() {
    let (server, client) = server_for_job(
        "job-exp",
        vec![
            Reply::job("job-exp", "processing", None),
            Reply::not_found(),
        ],
    )
    .await;

    let error = client.job("job-exp").wait().await.expect_err("not found");

    assert!(matches!(error, Error::NotFound(_)), "got {error:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_503_while_polling_is_retried_by_the_client_retry_policy() {
    let (server, _) = server_for_job(
        "job-r",
        vec![
            Reply::job("job-r", "processing", None),
            Reply::status(503),
            Reply::job("job-r", "completed", None),
        ],
    )
    .await;
    let retry = RetryPolicy::default()
        .with_max_retries(2)
        .with_jitter(Jitter::None)
        .with_backoff(Duration::from_millis(100), Duration::from_millis(100));
    let client = support::client(&server.base_url(), retry);
    let (job, seen) = wait_recorded(client.job("job-r").poller()).await;

    assert_eq!(job.status, Some(JobStatus::Completed));
    // The 503 and its retry belong to the second poll: one update only.
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_503_past_the_retry_policy_ends_the_wait_with_an_api_error() {
    let (server, client) = server_for_job(
        "job-503",
        vec![
            Reply::job("job-503", "processing", None),
            Reply::status(503),
        ],
    )
    .await;

    let error = client.job("job-503").wait().await.expect_err("api error");

    match &error {
        Error::Api(failure) => {
            assert_eq!(failure.status.as_u16(), 503);
            assert_eq!(failure.operation, "get_job");
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn polls_follow_the_backoff_schedule_exactly() {
    let mut replies = vec![Reply::job("job-s", "processing", None); 7];
    replies.push(Reply::job("job-s", "completed", None));
    let (server, client) = server_for_job("job-s", replies).await;
    let policy = no_jitter()
        .with_multiplier(1.5)
        .with_max_delay(Duration::from_secs(1));

    client
        .job("job-s")
        .wait_policy(policy.clone())
        .wait()
        .await
        .expect("completed");

    let at: Vec<_> = server.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    let expected = vec![
        Duration::from_millis(250),
        Duration::from_millis(375),
        Duration::from_millis(563), // 562.5 ms, rounded to tokio's 1 ms resolution
        Duration::from_millis(844), // 843.75 ms
        Duration::from_secs(1),     // 1.265625 s, capped at max_delay
        Duration::from_secs(1),
        Duration::from_secs(1),
    ];
    assert_eq!(gaps, expected);
    let planned: Vec<Duration> = (1..=7).map(|n| policy.delay(n)).collect();
    assert_eq!(planned, expected);
}

#[test]
fn default_schedule_sees_a_short_job_end_quickly_and_a_long_one_cheaply() {
    let policy = WaitPolicy::default();
    assert_eq!(policy.delay(1), Duration::from_millis(250));
    assert_eq!(policy.delay(2), Duration::from_millis(275));
    assert_eq!(policy.delay(3), Duration::from_millis(303)); // 302.5 rounded
    assert_eq!(policy.delay(200), Duration::from_secs(60));
    assert_eq!(policy.not_found_grace(), Duration::from_secs(10));
    assert_eq!(policy.max_wait(), Duration::from_secs(6 * 3600));
    assert_eq!(policy.jitter(), Jitter::Equal);

    // (polls made up to `limit`, the gap after the last of them)
    let schedule = |limit: Duration| {
        let (mut t, mut n) = (Duration::ZERO, 1u32);
        while t + policy.delay(n) <= limit {
            t += policy.delay(n);
            n += 1;
        }
        (n, policy.delay(n))
    };
    let (polls_10s, gap_10s) = schedule(Duration::from_secs(10));
    assert_eq!(polls_10s, 17);
    assert!(gap_10s <= Duration::from_millis(1500), "{gap_10s:?}");
    let (polls_1h, gap_1h) = schedule(Duration::from_secs(3600));
    assert!((95..=115).contains(&polls_1h), "{polls_1h}");
    assert_eq!(gap_1h, Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_stay_between_half_and_all_of_the_schedule() {
    let policy = WaitPolicy::default();
    for poll in 1..=20 {
        let d = policy.sleep_for(poll);
        assert!(
            d >= policy.delay(poll) / 2 && d <= policy.delay(poll),
            "{poll}: {d:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn updates_stream_yields_each_state_then_ends() {
    let (_server, client) = job_answering(
        "job-st",
        &[
            ("pending", None),
            ("processing", Some("0.5")),
            ("completed", None),
        ],
    )
    .await;

    let states: Vec<_> = client
        .job("job-st")
        .poller()
        .updates()
        .collect::<Vec<_>>()
        .await;

    assert_eq!(states.len(), 3);
    match &states[1] {
        Ok(PollState::InProgress(update)) => {
            assert_eq!(update.poll, 2);
            assert_eq!(update.progress.fraction, Some(0.5));
            assert_eq!(update.job_id, "job-st");
        }
        other => panic!("expected InProgress, got {other:?}"),
    }
    match &states[2] {
        Ok(PollState::Completed(job)) => assert_eq!(job.status, Some(JobStatus::Completed)),
        other => panic!("expected Completed, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn updates_stream_ends_with_the_timeout_error() {
    let (_server, client) = job_answering("job-t", &[("pending", None)]).await;
    let policy = no_jitter()
        .with_multiplier(1.0)
        .with_max_wait(Duration::from_millis(500));

    let states: Vec<_> = client
        .job("job-t")
        .wait_policy(policy)
        .poller()
        .updates()
        .collect::<Vec<_>>()
        .await;

    // Polls at 0, 0.25 and 0.5 s, then the timeout, then the end.
    assert_eq!(states.len(), 4);
    assert!(
        states[..3]
            .iter()
            .all(|s| matches!(s, Ok(PollState::InProgress(_))))
    );
    assert!(matches!(
        states[3],
        Err(Error::WaitTimeout { polls: 3, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn resumed_handle_gets_the_job_by_its_stored_id() {
    let (server, client) = job_answering("stored-id", &[("processing", Some("45"))]).await;

    let handle = client.job("stored-id");
    let job = handle.get().await.expect("job");

    assert_eq!(handle.job_id(), "stored-id");
    assert_eq!(handle.origin(), JobOrigin::Resumed);
    assert!(handle.created().is_none());
    assert_eq!(job.progress.as_deref(), Some("45"));
    assert_eq!(
        server.lines(),
        vec![format!("GET {}", job_path("stored-id"))]
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_job_id_fails_before_any_request() {
    let (server, client) = job_answering("x", &[("completed", None)]).await;

    let error = client.job("  ").wait().await.expect_err("invalid");

    assert!(matches!(error, Error::InvalidInput(_)), "got {error:?}");
    assert!(server.requests().is_empty());
}

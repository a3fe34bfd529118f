//! What the trigger does with a `409` (an export already running) under
//! each conflict policy, asserted by the requests that went out. Paused
//! tokio time against an in-process scripted server.

use crate::support::{
    self, EXPORTS, JOBS, api_path, job_path,
    server::{Reply, TestServer},
};
use serde_json::json;
use userpilot_appex::config::Jitter;
use userpilot_appex::{
    Client, Error, RetryPolicy,
    ext::{
        export::ConflictPolicy,
        jobs::{ExportJobHandle, JobOrigin, WaitPolicy},
    },
    models::EventType,
};

fn conflict() -> Reply {
    Reply::json(
        409,
        json!({"errors": [{"error": "conflict", "message": "An export job is already running"}]}),
    )
}

fn created(job_id: &str) -> Reply {
    Reply::json(
        201,
        json!({"job_id": job_id, "environment_name": "production", "start_time": "2025-01-08 10:00:00"}),
    )
}

fn job_list(jobs: serde_json::Value) -> Reply {
    Reply::json(200, jobs)
}

fn running_list() -> Reply {
    job_list(json!([
        {"job_id": "old-done", "status": "completed", "start_time": "2025-01-07 09:00:00"},
        {"job_id": "other-running", "status": "processing", "progress": "40%", "start_time": "2025-01-08 09:59:00"}
    ]))
}

const POST_EXPORTS: &str = concat!("POST ", api_path!());
const GET_JOBS: &str = concat!("GET ", api_path!("/jobs/"));
const GET_OTHER: &str = concat!("GET ", api_path!("/jobs/other-running"));

/// A server whose trigger answers `posts`, whose job list answers `list`,
/// and whose job `other-running` answers `other` (in order, the last
/// repeating); and a client for it without retries.
async fn conflicted(posts: Vec<Reply>, list: Reply, other: Vec<Reply>) -> (TestServer, Client) {
    let server = TestServer::start().await;
    server
        .on("POST", EXPORTS, posts)
        .on("GET", JOBS, vec![list])
        .on("GET", &job_path("other-running"), other);
    let client = support::client(&server.base_url(), RetryPolicy::none());
    (server, client)
}

/// An answer of the other, running export's `GET /jobs/other-running`.
fn other_job(status: &str, progress: Option<&str>) -> Reply {
    Reply::job("other-running", status, progress)
}

/// A server whose every trigger meets the other export, which answers
/// `status` whenever it is polled.
async fn always_conflicted(status: &str) -> (TestServer, Client) {
    conflicted(
        vec![conflict()],
        running_list(),
        vec![other_job(status, None)],
    )
    .await
}

/// Sends a default export with `policy`.
async fn send_with(
    client: &Client,
    policy: ConflictPolicy,
) -> userpilot_appex::Result<ExportJobHandle> {
    client.export().conflict_policy(policy).send().await
}

#[tokio::test(start_paused = true)]
async fn fail_policy_returns_the_conflict_and_sends_nothing_else() {
    let (server, client) = conflicted(vec![conflict()], running_list(), vec![]).await;

    let error = client
        .export()
        .event_type(EventType::Track)
        .send()
        .await
        .expect_err("conflict");

    match &error {
        Error::Conflict(failure) => {
            assert_eq!(failure.status.as_u16(), 409);
            assert_eq!(failure.operation, "trigger_export");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(server.lines(), vec![POST_EXPORTS]);
    assert_eq!(ConflictPolicy::default(), ConflictPolicy::Fail);
}

#[tokio::test(start_paused = true)]
async fn attach_policy_returns_the_running_job_from_the_jobs_list() {
    let (server, client) = conflicted(vec![conflict()], running_list(), vec![]).await;

    let handle = send_with(&client, ConflictPolicy::Attach)
        .await
        .expect("attached");

    assert_eq!(handle.job_id(), "other-running");
    assert_eq!(handle.origin(), JobOrigin::Attached);
    assert!(handle.created().is_none());
    assert_eq!(server.lines(), vec![POST_EXPORTS, GET_JOBS]);
}

#[tokio::test(start_paused = true)]
async fn attach_policy_triggers_again_when_nothing_is_listed_running() {
    let (server, client) = conflicted(
        vec![conflict(), created("fresh")],
        job_list(json!([{"job_id": "old-done", "status": "completed"}])),
        vec![],
    )
    .await;

    let handle = send_with(&client, ConflictPolicy::Attach)
        .await
        .expect("triggered");

    assert_eq!(handle.job_id(), "fresh");
    assert_eq!(handle.origin(), JobOrigin::Triggered);
    assert_eq!(server.lines(), vec![POST_EXPORTS, GET_JOBS, POST_EXPORTS]);
}

#[tokio::test(start_paused = true)]
async fn attach_policy_gives_up_with_the_conflict_when_nothing_is_ever_listed() {
    let (server, client) = conflicted(vec![conflict()], job_list(json!([])), vec![]).await;

    let error = send_with(&client, ConflictPolicy::Attach)
        .await
        .expect_err("conflict");

    assert!(matches!(error, Error::Conflict(_)), "got {error:?}");
    assert_eq!(
        server.lines(),
        vec![POST_EXPORTS, GET_JOBS, POST_EXPORTS, GET_JOBS]
    );
}

#[tokio::test(start_paused = true)]
async fn wait_then_trigger_waits_for_the_running_job_then_triggers_the_same_request() {
    let (server, client) = conflicted(
        vec![conflict(), created("mine")],
        running_list(),
        vec![
            other_job("processing", Some("80%")),
            other_job("completed", None),
        ],
    )
    .await;

    let handle = client
        .export()
        .user_id("u-1")
        .event_type(EventType::PageView)
        .conflict_policy(ConflictPolicy::wait_then_trigger())
        .wait_policy(WaitPolicy::default().with_jitter(Jitter::None))
        .send()
        .await
        .expect("triggered");

    assert_eq!(handle.job_id(), "mine");
    assert_eq!(handle.origin(), JobOrigin::Triggered);
    assert_eq!(
        server.lines(),
        vec![POST_EXPORTS, GET_JOBS, GET_OTHER, GET_OTHER, POST_EXPORTS,]
    );
    let posts: Vec<serde_json::Value> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.json())
        .collect();
    let expected = json!({"user_id": ["u-1"], "event_type": ["page_view"]});
    assert_eq!(posts, vec![expected.clone(), expected]);
}

#[tokio::test(start_paused = true)]
async fn wait_then_trigger_retriggers_after_the_running_job_fails() {
    let (server, client) = conflicted(
        vec![conflict(), created("mine")],
        running_list(),
        vec![other_job("failed", None)],
    )
    .await;

    let handle = send_with(&client, ConflictPolicy::wait_then_trigger())
        .await
        .expect("triggered");

    assert_eq!(handle.job_id(), "mine");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn wait_then_trigger_stops_after_max_attempts_with_the_conflict() {
    let (server, client) = always_conflicted("completed").await;

    let error = send_with(&client, ConflictPolicy::WaitThenTrigger { max_attempts: 2 })
        .await
        .expect_err("conflict");

    assert!(matches!(error, Error::Conflict(_)), "got {error:?}");
    assert_eq!(
        server.lines(),
        vec![POST_EXPORTS, GET_JOBS, GET_OTHER, POST_EXPORTS,]
    );
}

#[tokio::test(start_paused = true)]
async fn wait_then_trigger_reports_a_timeout_waiting_for_the_running_job() {
    let (server, client) = always_conflicted("processing").await;
    let policy = WaitPolicy::default()
        .with_jitter(Jitter::None)
        .with_max_wait(std::time::Duration::from_secs(2));

    let error = client
        .export()
        .conflict_policy(ConflictPolicy::wait_then_trigger())
        .wait_policy(policy)
        .send()
        .await
        .expect_err("timeout");

    match error {
        Error::WaitTimeout { job_id, .. } => assert_eq!(job_id, "other-running"),
        other => panic!("expected WaitTimeout, got {other:?}"),
    }
    assert_eq!(
        server
            .lines()
            .iter()
            .filter(|l| l.starts_with("POST"))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_trigger_is_not_retried_on_503() {
    let server = TestServer::start().await;
    server.on("POST", EXPORTS, vec![Reply::status(503)]);
    let client = support::client(
        &server.base_url(),
        RetryPolicy::default().with_jitter(userpilot_appex::config::Jitter::None),
    );

    let error = client.export().send().await.expect_err("503");

    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.lines(), vec![POST_EXPORTS]);
}

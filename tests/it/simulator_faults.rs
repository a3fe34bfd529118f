//! Each fault knob of the simulator does what it says, and only when set.
//!
//! Run: `cargo test --features simulator --test it -- simulator_faults::`.

#![cfg(feature = "simulator")]

use std::time::Duration;

use crate::support::simulator::*;
use reqwest::StatusCode;
use serde_json::json;
use userpilot_appex::simulator::{Route, Simulator, SimulatorConfig};

const HOUR: Duration = Duration::from_secs(3600);

fn one_day() -> serde_json::Value {
    json!({"from": "2025-01-01", "to": "2025-01-01"})
}

/// Days of 400 events: files large enough to cut.
fn files_400() -> SimulatorConfig {
    SimulatorConfig::default().events_per_day(400)
}

/// The bytes a fault-free simulator with the same seed serves for the first
/// file of a one-day export.
async fn clean_file() -> bytes::Bytes {
    let sim = start(files_400()).await;
    let job = completed_job(&sim, one_day()).await;
    fetch(&urls(&job)[0].1, &[]).await.body
}

async fn first_url(sim: &Simulator) -> String {
    let job = completed_job(sim, one_day()).await;
    urls(&job)[0].1.clone()
}

/// The fault-free bytes of the first file of a one-day export, a simulator
/// with `config`, the URL of that file there and the response to a GET of
/// it, headers checked (200, the whole length announced), body unread.
async fn first_file_response(
    config: SimulatorConfig,
) -> (bytes::Bytes, Simulator, String, reqwest::Response) {
    let clean = clean_file().await;
    let sim = start(config).await;
    let url = first_url(&sim).await;
    let resp = http().get(&url).send().await.expect("headers arrive");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.content_length(), Some(clean.len() as u64));
    (clean, sim, url, resp)
}

async fn statuses(sim: &Simulator, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(get(sim, JOBS).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_every_nth_request() {
    let sim = start(SimulatorConfig::default().rate_limit_every(3, 7)).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(get(&sim, JOBS).await);
    }
    let codes: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(codes, vec![200, 200, 429, 200, 200, 429]);
    assert_eq!(answers[2].header("retry-after").as_deref(), Some("7"));
    assert_eq!(answers[2].json()["errors"][0]["error_code"], "429");
    assert_eq!(answers[0].header("retry-after"), None);
    assert_eq!(sim.request_count(Route::ListJobs), 6);
}

#[tokio::test]
async fn no_fault_is_on_by_default() {
    let sim = start(SimulatorConfig::default()).await;
    assert!(statuses(&sim, 30).await.iter().all(|s| *s == 200));
    let url = first_url(&sim).await;
    let a = fetch(&url, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(gunzip(&a.body).is_ok());
}

#[tokio::test]
async fn server_error_rate_answers_503_reproducibly_from_the_seed() {
    let a = start(SimulatorConfig::default().seed(3).server_error_rate(0.3)).await;
    let b = start(SimulatorConfig::default().seed(3).server_error_rate(0.3)).await;
    let c = start(SimulatorConfig::default().seed(4).server_error_rate(0.3)).await;
    let sa = statuses(&a, 100).await;
    assert_eq!(sa, statuses(&b, 100).await, "same seed, same failures");
    assert_ne!(sa, statuses(&c, 100).await, "another seed, other failures");
    let failures = sa.iter().filter(|s| **s == 503).count();
    assert!((10..=60).contains(&failures), "{failures} of 100");
    assert!(sa.iter().all(|s| *s == 200 || *s == 503));

    let all = start(SimulatorConfig::default().server_error_rate(1.0)).await;
    let x = get(&all, &format!("{LOOKUPS}flows")).await;
    assert_eq!(x.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(x.json()["errors"][0]["error_code"], "503");
}

#[tokio::test]
async fn a_dropped_download_breaks_off_and_a_ranged_retry_completes_it() {
    let (clean, sim, url, resp) =
        first_file_response(files_400().drop_download_after(1000, 1)).await;
    assert!(resp.bytes().await.is_err(), "the body breaks off");

    let a = fetch(&url, &[("Range", "bytes=1000-")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    let mut joined = clean[..1000].to_vec();
    joined.extend_from_slice(&a.body);
    assert_eq!(joined, clean.to_vec());

    let whole = fetch(&url, &[]).await;
    assert_eq!(whole.body, clean, "later downloads are whole");

    let downloads: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download)
        .collect();
    let ranges: Vec<Option<&str>> = downloads
        .iter()
        .map(|r| r.headers.range.as_deref())
        .collect();
    assert_eq!(ranges, vec![None, Some("bytes=1000-"), None]);
    let signature = url.split("X-Signature=").nth(1).expect("signature");
    for r in &downloads {
        let q = r.query.as_deref().expect("query");
        assert!(
            q.contains("X-Signature=<redacted>") && !q.contains(signature),
            "{q}"
        );
    }
}

#[tokio::test]
async fn drop_download_counts_attempts_per_file() {
    let sim = start(SimulatorConfig::default().drop_download_after(10, 2)).await;
    let url = first_url(&sim).await;
    for attempt in 0..2 {
        let resp = http().get(&url).send().await.expect("headers arrive");
        assert!(resp.bytes().await.is_err(), "attempt {attempt} breaks off");
    }
    let a = fetch(&url, &[]).await;
    assert!(gunzip(&a.body).is_ok());
}

#[tokio::test(start_paused = true)]
async fn hold_download_sends_the_first_bytes_then_nothing_until_released() {
    use futures::StreamExt;
    let (clean, sim, url, resp) =
        first_file_response(files_400().hold_download_after(1000, 1)).await;
    let mut body = resp.bytes_stream();
    let mut received = Vec::new();
    while received.len() < 1000 {
        let piece = body.next().await.expect("more body").expect("no error");
        received.extend_from_slice(&piece);
    }
    assert_eq!(received, clean[..1000].to_vec());
    // Then nothing, not even an error, for an hour of (paused) time.
    assert!(tokio::time::timeout(HOUR, body.next()).await.is_err());

    // Released: the rest of the file.
    sim.release_held_downloads();
    while let Some(piece) = body.next().await {
        received.extend_from_slice(&piece.expect("no error"));
    }
    assert_eq!(received, clean.to_vec());

    let whole = fetch(&url, &[]).await;
    assert_eq!(whole.body, clean, "later downloads are whole");
}

#[tokio::test]
async fn truncate_gzip_serves_a_complete_transfer_of_an_incomplete_gzip() {
    let clean = clean_file().await;
    let sim = start(files_400().truncate_gzip(true)).await;
    let url = first_url(&sim).await;
    let a = fetch(&url, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-length"), Some(a.body.len().to_string()));
    assert!(a.body.len() < clean.len());
    assert_eq!(
        &a.body[..],
        &clean[..a.body.len()],
        "a prefix of the real file"
    );
    let err = gunzip(&a.body).expect_err("gzip stream is incomplete");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test(start_paused = true)]
async fn slow_body_sends_pieces_with_a_delay_before_each() {
    let clean = clean_file().await;
    let sim = start(files_400().slow_body(1000, Duration::from_secs(2))).await;
    let url = first_url(&sim).await;
    let started = tokio::time::Instant::now();
    let a = fetch(&url, &[]).await;
    let elapsed = started.elapsed();
    assert_eq!(a.body, clean, "the body is whole, only slow");
    let pieces = clean.len().div_ceil(1000) as u32;
    assert!(
        elapsed >= Duration::from_secs(2) * pieces,
        "{pieces} pieces took {elapsed:?} of (paused) time"
    );
}

#[tokio::test]
async fn repeat_cursor_gives_the_page_after_p_the_cursor_of_p() {
    let sim = start(
        SimulatorConfig::default()
            .segments(120)
            .page_limit(50)
            .repeat_cursor_after_page(1),
    )
    .await;
    let p1 = get(&sim, &format!("{LOOKUPS}segments")).await.json();
    let c1 = p1["metadata"]["cursor"]["after"]
        .as_str()
        .expect("after")
        .to_string();
    let p2 = get(&sim, &format!("{LOOKUPS}segments?after_cursor={c1}"))
        .await
        .json();
    assert_eq!(
        p2["metadata"]["cursor"]["after"],
        c1.as_str(),
        "page 2 repeats page 1's cursor"
    );
    assert_eq!(p2["data"][0]["id"], 151, "page 2's data is page 2");

    let honest = start(SimulatorConfig::default().segments(120).page_limit(50)).await;
    let p2 = get(&honest, &format!("{LOOKUPS}segments?after_cursor={c1}"))
        .await
        .json();
    assert_ne!(p2["metadata"]["cursor"]["after"], c1.as_str());
}

#[tokio::test]
async fn fail_at_chunk_fails_the_job_there_without_files() {
    let sim = start(manual_clock().fail_at_chunk(1)).await;
    let id = trigger(&sim, json!({"from": "2025-01-01", "to": "2025-01-03"})).await;
    let path = format!("{JOBS}{id}");
    sim.advance(HOUR + HOUR / 2);
    assert_eq!(get(&sim, &path).await.json()["status"], "processing");
    sim.advance(HOUR);
    let job = get(&sim, &path).await.json();
    assert_eq!(job["status"], "failed");
    assert_eq!(job["completed_chunks"], json!(["2025-01-01"]));
    assert_eq!(job["current_chunk"], "2025-01-02");
    assert_eq!(job["progress"], "33%");
    assert_eq!(job["presigned_urls"], json!([]));
    assert!(job["end_time"].is_string());
    assert_eq!(get(&sim, JOBS).await.json()[0]["status"], "failed");
    // A failed job no longer blocks a new export.
    trigger(&sim, json!({})).await;
}

#[tokio::test]
async fn not_found_polls_hide_a_new_job_for_its_first_polls() {
    let sim = start(SimulatorConfig::default().not_found_polls(2)).await;
    let id = trigger(&sim, json!({})).await;
    let path = format!("{JOBS}{id}");
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(get(&sim, &path).await.status.as_u16());
    }
    assert_eq!(codes, vec![404, 404, 200]);
    assert_eq!(
        get(&sim, JOBS).await.json()[0]["job_id"],
        id.as_str(),
        "listed all along"
    );
}

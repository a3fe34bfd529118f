//! The export jobs, download and pagination extensions against the built-in
//! simulator (as well as the httpmock and scripted-server tests elsewhere):
//! a real stateful server with its fault knobs.

#![cfg(feature = "simulator")]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::sha256_hex;
use crate::support::simulator::{self, completed_export, reference_bytes};
use futures::StreamExt;
use userpilot_appex::{
    Client, Error, RetryPolicy,
    ext::{
        export::ConflictPolicy,
        jobs::{ExportJobHandle, WaitPolicy},
    },
    models::EventType,
    models::JobStatus,
    simulator::{Route, Simulator, SimulatorConfig},
    types::ExportFormat,
};

fn fast_sim() -> SimulatorConfig {
    SimulatorConfig::default()
        .events_per_day(200)
        .chunk_duration(Duration::from_millis(60))
        .pending_duration(Duration::from_millis(30))
}

fn client_for(sim: &Simulator) -> Client {
    sim.client_builder()
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .build()
        .unwrap()
}

fn quick_wait() -> WaitPolicy {
    simulator::quick_wait(
        Duration::from_millis(20),
        Duration::from_millis(100),
        Duration::from_secs(30),
    )
}

/// Triggers an export of [`range`], to wait for with [`quick_wait`].
async fn started(client: &Client) -> ExportJobHandle {
    client
        .export()
        .range(range().0, range().1)
        .wait_policy(quick_wait())
        .send()
        .await
        .unwrap()
}

fn range() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let from = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    (from, from + chrono::Days::new(3)) // four days, four chunks
}

#[tokio::test]
async fn trigger_wait_and_download_a_whole_export() {
    let sim = Simulator::start(fast_sim()).await.unwrap();
    let client = client_for(&sim);
    let (from, to) = range();
    let handle = client
        .export()
        .range(from, to)
        .format(ExportFormat::Ndjson)
        .event_types([EventType::TrackFeature, EventType::PageView])
        .wait_policy(quick_wait())
        .send()
        .await
        .unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let job = handle
        .poller()
        .on_progress(move |u| {
            log.lock()
                .unwrap()
                .push((u.status().cloned(), u.progress.fraction))
        })
        .wait()
        .await
        .unwrap();
    assert_eq!(job.status(), JobStatus::Completed);
    assert_eq!(job.all_chunks.len(), 4);
    assert_eq!(job.presigned_urls.len(), 4);

    // Progress was observed in order: pending before processing, fractions never going back.
    let seen = seen.lock().unwrap().clone();
    let statuses: Vec<_> = seen.iter().filter_map(|(s, _)| s.clone()).collect();
    assert!(statuses.contains(&JobStatus::Processing), "{statuses:?}");
    let first_processing = statuses
        .iter()
        .position(|s| *s == JobStatus::Processing)
        .unwrap();
    assert!(
        statuses[first_processing..]
            .iter()
            .all(|s| *s == JobStatus::Processing)
    );
    let fractions: Vec<f64> = seen.iter().filter_map(|(_, f)| *f).collect();
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");

    let dir = tempfile::tempdir().unwrap();
    let report = client
        .download(&job, dir.path())
        .concurrency(2)
        .run()
        .await
        .unwrap();
    assert_eq!(report.files.len(), 4);
    for (file, presigned) in report.files.iter().zip(&job.presigned_urls) {
        let expected = reference_bytes(presigned.url.expose()).await;
        let on_disk = std::fs::read(&file.path).unwrap();
        assert_eq!(on_disk.len() as u64, file.bytes);
        assert_eq!(Some(sha256_hex(&on_disk)), file.sha256);
        assert_eq!(on_disk, expected, "{}", file.filename);
        assert!(file.path.starts_with(dir.path()));
    }
    // No file request carried the API key, and no `.part` remains.
    let downloads: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download)
        .collect();
    assert!(downloads.iter().all(|r| !r.headers.authorization));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty());

    // A second run downloads nothing.
    let before = sim.request_count(Route::Download);
    let again = client.download(&job, dir.path()).run().await.unwrap();
    assert!(again.files.iter().all(|f| f.skipped));
    assert_eq!(sim.request_count(Route::Download), before);
}

#[tokio::test]
async fn a_job_failing_midway_is_job_failed_with_the_final_job() {
    let sim = Simulator::start(fast_sim().fail_at_chunk(2)).await.unwrap();
    let client = client_for(&sim);
    let handle = started(&client).await;
    let err = handle.wait().await.unwrap_err();
    let Error::JobFailed { job } = &err else {
        panic!("expected JobFailed, got {err:?}")
    };
    assert_eq!(job.status(), JobStatus::Failed);
    assert!(job.presigned_urls.is_empty());
}

#[tokio::test]
async fn a_new_job_invisible_for_its_first_polls_is_waited_for() {
    let sim = Simulator::start(fast_sim().not_found_polls(3))
        .await
        .unwrap();
    let client = client_for(&sim);
    let handle = started(&client).await;
    let job = handle.wait().await.unwrap();
    assert_eq!(job.status(), JobStatus::Completed);
    assert!(
        sim.requests()
            .iter()
            .filter(|r| r.route == Route::GetJob && r.status == 404)
            .count()
            >= 3
    );
}

#[tokio::test]
async fn a_second_export_conflicts_and_the_policies_resolve_it() {
    let sim = Simulator::start(fast_sim()).await.unwrap();
    let client = client_for(&sim);
    let (from, to) = range();
    let first = client.export().range(from, to).send().await.unwrap();

    let err = client.export().range(from, to).send().await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");

    let attached = client
        .export()
        .range(from, to)
        .conflict_policy(ConflictPolicy::Attach)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.job_id(), first.job_id());

    let next = client
        .export()
        .range(from, to)
        .conflict_policy(ConflictPolicy::wait_then_trigger())
        .wait_policy(quick_wait())
        .send()
        .await
        .unwrap();
    assert_ne!(next.job_id(), first.job_id());
    assert_eq!(
        first.get().await.unwrap().status(),
        JobStatus::Completed,
        "the first job ended before the retrigger"
    );
}

#[tokio::test]
async fn downloads_survive_drops_rate_limits_and_expired_urls() {
    let sim = Simulator::start(
        fast_sim()
            .events_per_day(2_000)
            .drop_download_after(3_000, 1)
            .rate_limit_every(7, 0),
    )
    .await
    .unwrap();
    let client = client_for(&sim);
    let job = completed_export(&client, range(), quick_wait()).await;
    sim.expire_urls();

    let dir = tempfile::tempdir().unwrap();
    let report = client.download(&job, dir.path()).run().await.unwrap();

    // Reference bytes through fresh URLs, fetched after the download used up
    // the one injected drop per file.
    let fresh = client
        .get_job(job.job_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(report.files.len(), fresh.presigned_urls.len());
    for (file, presigned) in report.files.iter().zip(&fresh.presigned_urls) {
        let expected = reference_bytes(presigned.url.expose()).await;
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            expected,
            "{}",
            file.filename
        );
        assert_eq!(Some(sha256_hex(&expected)), file.sha256);
    }
    let requests = sim.requests();
    let downloads: Vec<_> = requests
        .iter()
        .filter(|r| r.route == Route::Download)
        .collect();
    assert!(
        downloads.iter().any(|r| r.status == 403),
        "an expired URL was refused"
    );
    assert!(
        downloads.iter().any(|r| r.headers.range.is_some()),
        "a dropped body was resumed with Range"
    );
    assert!(
        requests.iter().any(|r| r.status == 429),
        "the rate limit was hit and retried through"
    );
}

#[tokio::test]
async fn pagination_walks_every_segment_and_event_property() {
    let sim = Simulator::start(fast_sim().page_limit(7).segments(30).event_properties(50))
        .await
        .unwrap();
    let client = client_for(&sim);
    let segments: Vec<_> = client.segments_stream().collect().await;
    let segments: Vec<_> = segments.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(segments.len(), 30);
    let properties: Vec<_> = client.events_properties_stream().collect::<Vec<_>>().await;
    assert_eq!(properties.len(), 50);
    assert!(properties.iter().all(Result::is_ok));
    assert_eq!(
        sim.request_count(Route::EventsProperties),
        8,
        "ceil(50 / 7) pages"
    );
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_walk_with_an_error_after_the_items() {
    let sim = Simulator::start(
        fast_sim()
            .page_limit(5)
            .segments(40)
            .repeat_cursor_after_page(2),
    )
    .await
    .unwrap();
    let client = client_for(&sim);
    let results: Vec<_> = client.segments_stream().collect().await;
    let (items, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert!(!items.is_empty());
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(errors[0], Err(Error::RepeatedCursor { .. })),
        "{:?}",
        errors[0]
    );
    assert!(sim.request_count(Route::Segments) <= 4, "bounded requests");
}

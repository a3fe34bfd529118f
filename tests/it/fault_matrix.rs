//! The fault matrix: every fault knob of the simulator against the real
//! flow a user runs (export → wait → download → read records, or a
//! pagination walk). Each cell asserts
//! - the outcome a user would expect: success with every byte right (the
//!   sha256 of each file on disk equals that of reference bytes fetched
//!   afresh afterwards, and every event reads back), or the specific error;
//! - that no partial file is presented as complete: no final-named file for
//!   a failed download, no `.part` left after a success;
//! - that retries are bounded: the requests the simulator saw, counted;
//! - and, by running to the end, that nothing panicked.
//!
//! Cells are kept small (one to three one-day files of a few hundred events,
//! 20 ms chunks, millisecond backoffs) so the whole matrix runs in seconds.

#![cfg(feature = "simulator")]

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::support::simulator::{self, completed_export, reference_bytes};
use crate::support::{hang_guard, sha256_hex};
use futures::StreamExt;
use std::sync::{Arc, Mutex};

use userpilot_appex::{
    Client, Error, RetryPolicy,
    error::DownloadFailure,
    ext::download::{Durability, ProgressEvent},
    ext::jobs::WaitPolicy,
    models::JobStatus,
    records::{ReadOptions, RecordReader},
    simulator::{RecordedRequest, Route, Simulator, SimulatorConfig},
    types::ExportFormat,
};

const EVENTS_PER_DAY: usize = 300;

// ---------------------------------------------------------------------------
// The export → wait → download → read cells
// ---------------------------------------------------------------------------

/// What a user should get from a cell.
enum Expect {
    /// Every file downloaded, byte for byte, and every event readable.
    Complete,
    /// The download completes (the lengths match), but reading the records
    /// fails with [`Error::CorruptFile`], strict and lenient alike.
    CorruptOnRead,
    /// The trigger fails with this error.
    TriggerFails(fn(&Error) -> bool),
    /// Waiting fails with this error.
    WaitFails(fn(&Error) -> bool),
    /// The download fails with [`Error::Download`] for this reason.
    DownloadFails(fn(&DownloadFailure) -> bool),
}

/// One cell: a simulator configuration, the client's policies, the
/// expected outcome and the bounds on requests.
struct Cell {
    sim: SimulatorConfig,
    days: u64,
    format: ExportFormat,
    /// Retries of API calls and of downloads.
    max_retries: u32,
    stall: Duration,
    wait: WaitPolicy,
    expire_before_download: bool,
    expect: Expect,
    /// Upper bound on API requests (everything but file downloads).
    max_api_requests: usize,
    /// Upper bound on the download's file requests.
    max_download_requests: usize,
    /// Take the reference bytes from a simulator without faults (when
    /// this one breaks every fetch).
    clean_reference: bool,
    /// The requests the failed file made, as the client counts them.
    attempts: Option<u32>,
}

/// `fn name(mut self, value) -> Self` setting one field, for each
/// `name(field: Type)`.
macro_rules! setters {
    ($($name:ident($field:ident: $ty:ty)),* $(,)?) => {
        $(
            fn $name(mut self, value: $ty) -> Self {
                self.$field = value;
                self
            }
        )*
    };
}

impl Cell {
    fn new(sim: SimulatorConfig) -> Self {
        Cell {
            sim,
            days: 2,
            format: ExportFormat::Ndjson,
            max_retries: 4,
            stall: Duration::from_secs(5),
            wait: quick_wait(),
            expire_before_download: false,
            expect: Expect::Complete,
            max_api_requests: 60,
            max_download_requests: 2,
            clean_reference: false,
            attempts: None,
        }
    }
    setters! {
        days(days: u64),
        format(format: ExportFormat),
        retries(max_retries: u32),
        stall(stall: Duration),
        wait(wait: WaitPolicy),
        expect(expect: Expect),
    }
    fn expire(mut self) -> Self {
        self.expire_before_download = true;
        self
    }
    fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }
    fn clean_reference(mut self) -> Self {
        self.clean_reference = true;
        self
    }
    fn bounds(mut self, api: usize, downloads: usize) -> Self {
        self.max_api_requests = api;
        self.max_download_requests = downloads;
        self
    }
}

fn base() -> SimulatorConfig {
    SimulatorConfig::default()
        .seed(11)
        .events_per_day(EVENTS_PER_DAY)
        .chunk_duration(Duration::from_millis(20))
        .pending_duration(Duration::from_millis(10))
}

fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_retries)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(10))
        // The simulator's `Retry-After: 1` is clamped to this.
        .with_max_retry_after(Duration::from_millis(5))
}

fn quick_wait() -> WaitPolicy {
    simulator::quick_wait(
        Duration::from_millis(10),
        Duration::from_millis(40),
        Duration::from_secs(20),
    )
}

fn client_for(sim: &Simulator, max_retries: u32) -> Client {
    sim.client_builder()
        .retry_policy(fast_retry(max_retries))
        .build()
        .expect("client builds")
}

fn range(days: u64) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let from = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).expect("date");
    (from, from + chrono::Days::new(days - 1))
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn api_requests(requests: &[RecordedRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.route != Route::Download)
        .count()
}

fn download_requests(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.route == Route::Download)
        .collect()
}

/// The longest run of consecutive API answers that are 429 or 5xx: one
/// operation's retries (the flow makes one API call at a time).
fn longest_failure_run(requests: &[RecordedRequest]) -> usize {
    let (mut longest, mut run) = (0, 0);
    for r in requests.iter().filter(|r| r.route != Route::Download) {
        if r.status == 429 || r.status >= 500 {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Reads every event of a file; the error, if any, ends the list.
fn read_all(path: &Path, options: ReadOptions) -> (usize, Option<Error>) {
    let reader = match RecordReader::with_options(path, options) {
        Ok(r) => r,
        Err(e) => return (0, Some(e)),
    };
    let mut events = 0;
    for item in reader {
        match item {
            Ok(_) => events += 1,
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

/// The lengths of the files the same export has on a simulator without
/// faults (same seed, same request, same bytes).
async fn clean_lengths(days: u64, format: ExportFormat) -> Vec<u64> {
    clean_files(days, format)
        .await
        .iter()
        .map(|f| f.len() as u64)
        .collect()
}

/// The files the same export has on a simulator without faults.
async fn clean_files(days: u64, format: ExportFormat) -> Vec<Vec<u8>> {
    let sim = simulator::start(base()).await;
    let client = client_for(&sim, 2);
    let (from, to) = range(days);
    let job = client
        .export()
        .range(from, to)
        .format(format)
        .wait_policy(quick_wait())
        .send()
        .await
        .expect("probe export")
        .wait()
        .await
        .expect("probe job completes");
    let mut files = Vec::new();
    for p in &job.presigned_urls {
        files.push(reference_bytes(p.url.expose()).await);
    }
    files
}

/// Runs a cell and asserts everything it promises. Returns the simulator's
/// request log and the download directory for cell-specific checks.
async fn run(cell: Cell) -> (Vec<RecordedRequest>, tempfile::TempDir) {
    let sim = simulator::start(cell.sim.clone()).await;
    let client = client_for(&sim, cell.max_retries);
    let dir = tempfile::tempdir().expect("tempdir");
    let downloads = run_flow(&cell, &sim, &client, dir.path()).await;

    let requests = sim.requests();
    let api = api_requests(&requests);
    assert!(
        api <= cell.max_api_requests,
        "{api} API requests, bound {}",
        cell.max_api_requests
    );
    assert!(
        downloads <= cell.max_download_requests,
        "{downloads} download requests, bound {}",
        cell.max_download_requests
    );
    // No operation was tried more than 1 + max_retries times.
    assert!(
        longest_failure_run(&requests) <= cell.max_retries as usize,
        "a run of {} failed API answers with max_retries {}",
        longest_failure_run(&requests),
        cell.max_retries
    );
    // No file request ever carried the API key.
    assert!(
        download_requests(&requests)
            .iter()
            .all(|r| !r.headers.authorization)
    );
    (requests, dir)
}

/// Runs the flow; returns how many file requests the download made.
async fn run_flow(cell: &Cell, sim: &Simulator, client: &Client, dir: &Path) -> usize {
    let (from, to) = range(cell.days);
    let handle = client
        .export()
        .range(from, to)
        .format(cell.format)
        .wait_policy(cell.wait.clone())
        .send()
        .await;
    let handle = match (&cell.expect, handle) {
        (Expect::TriggerFails(is_expected), Err(e)) => {
            assert!(is_expected(&e), "unexpected trigger error: {e:?}");
            return 0;
        }
        (Expect::TriggerFails(_), Ok(h)) => panic!("trigger succeeded: {}", h.job_id()),
        (_, Err(e)) => panic!("trigger failed: {e:?}"),
        (_, Ok(h)) => h,
    };

    let job = match (&cell.expect, handle.wait().await) {
        (Expect::WaitFails(is_expected), Err(e)) => {
            assert!(is_expected(&e), "unexpected wait error: {e:?}");
            if let Error::JobFailed { job } = &e {
                // A failed job has nothing to download, and nothing is written.
                let before = sim.request_count(Route::Download);
                let err = client
                    .download(job.as_ref(), dir)
                    .run()
                    .await
                    .expect_err("a failed job cannot be downloaded");
                assert!(
                    matches!(
                        &err,
                        Error::JobNotCompleted {
                            status: JobStatus::Failed,
                            ..
                        }
                    ),
                    "{err:?}"
                );
                assert_eq!(sim.request_count(Route::Download), before);
                assert!(listing(dir).is_empty(), "{:?}", listing(dir));
            }
            return 0;
        }
        (Expect::WaitFails(_), Ok(job)) => panic!("wait succeeded: {job:?}"),
        (_, Err(e)) => panic!("wait failed: {e:?}"),
        (_, Ok(job)) => job,
    };
    assert_eq!(job.status(), JobStatus::Completed);
    assert_eq!(job.presigned_urls.len() as u64, cell.days);
    if cell.expire_before_download {
        sim.expire_urls();
    }

    let result = client
        .download(&job, dir)
        .retry_policy(fast_retry(cell.max_retries))
        .stall_timeout(cell.stall)
        .concurrency(2)
        .run()
        .await;
    let downloads = sim.request_count(Route::Download);

    match &cell.expect {
        Expect::DownloadFails(is_expected) => {
            let err = result.expect_err("the download should fail");
            let Error::Download {
                reason,
                path,
                attempts,
                ..
            } = &err
            else {
                panic!("expected Error::Download, got {err:?}")
            };
            assert!(is_expected(reason), "unexpected reason: {err:?}");
            assert!(*attempts >= 1 && *attempts <= cell.max_retries + 2);
            if let Some(expected) = cell.attempts {
                assert_eq!(*attempts, expected, "attempts of the failed file");
            }
            // Nothing under the final name: a failed file is never presented as complete.
            assert!(!path.exists(), "{} exists after a failure", path.display());
            // What is left is the manifest and, at most, `.part` files.
            for name in listing(dir) {
                assert!(
                    name == ".appex-download.json"
                        || name == ".appex-download.lock"
                        || name.ends_with(".part"),
                    "unexpected {name} after a failed download"
                );
            }
        }
        Expect::Complete | Expect::CorruptOnRead => {
            let report = result.unwrap_or_else(|e| panic!("download failed: {e:?}"));
            assert_eq!(report.files.len() as u64, cell.days);
            // Reference bytes through fresh URLs, fetched afterwards.
            let references = if cell.clean_reference {
                clean_files(cell.days, cell.format).await
            } else {
                let fresh = client
                    .get_job(job.job_id.as_deref().expect("job id"))
                    .await
                    .expect("job fetched again");
                let mut references = Vec::new();
                for presigned in &fresh.presigned_urls {
                    references.push(reference_bytes(presigned.url.expose()).await);
                }
                references
            };
            assert_eq!(references.len(), report.files.len());
            for (file, expected) in report.files.iter().zip(references) {
                let on_disk = std::fs::read(&file.path).expect("file on disk");
                assert_eq!(file.bytes, expected.len() as u64, "{}", file.filename);
                assert_eq!(
                    sha256_hex(&on_disk),
                    sha256_hex(&expected),
                    "{}",
                    file.filename
                );
                assert_eq!(
                    file.sha256,
                    Some(sha256_hex(&expected)),
                    "{}",
                    file.filename
                );
                assert!(file.path.starts_with(dir));
            }
            let parts: Vec<_> = listing(dir)
                .into_iter()
                .filter(|n| n.ends_with(".part"))
                .collect();
            assert!(parts.is_empty(), "{parts:?} left after success");

            let paths: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
            if matches!(cell.expect, Expect::Complete) {
                for path in &paths {
                    let (events, error) = read_all(path, ReadOptions::default());
                    assert!(error.is_none(), "{}: {error:?}", path.display());
                    assert_eq!(events, EVENTS_PER_DAY, "{}", path.display());
                }
            } else {
                for path in &paths {
                    for options in [ReadOptions::default(), ReadOptions::lenient()] {
                        let (events, error) = read_all(path, options);
                        assert!(
                            matches!(&error, Some(Error::CorruptFile { file, records_read, .. })
                                if file == path && *records_read == events as u64),
                            "{}: {error:?}",
                            path.display()
                        );
                        assert!(events < EVENTS_PER_DAY, "{events} events");
                    }
                }
            }
        }
        Expect::TriggerFails(_) | Expect::WaitFails(_) => unreachable!("handled above"),
    }
    downloads
}

fn is_job_failed(e: &Error) -> bool {
    matches!(e, Error::JobFailed { job } if job.status() == JobStatus::Failed && job.presigned_urls.is_empty())
}

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::NotFound(f) if f.status == 404 && f.operation == "get_job")
}

// --- baseline ---

#[tokio::test]
async fn cell_no_faults_ndjson() {
    let (requests, _dir) = run(Cell::new(base()).bounds(40, 2)).await;
    assert!(
        requests.iter().all(|r| r.status < 400),
        "no fault, no error"
    );
}

#[tokio::test]
async fn cell_no_faults_csv() {
    run(Cell::new(base()).format(ExportFormat::Csv).bounds(40, 2)).await;
}

// --- 429 storms ---

#[tokio::test]
async fn cell_rate_limited_every_third_request_is_ridden_out() {
    let (requests, _dir) = run(Cell::new(base().rate_limit_every(3, 1))).await;
    assert!(requests.iter().any(|r| r.status == 429));
}

#[tokio::test]
async fn cell_rate_limited_every_other_request_is_ridden_out() {
    let (requests, _dir) = run(Cell::new(base().rate_limit_every(2, 1))
        .days(3)
        .bounds(80, 3))
    .await;
    assert!(requests.iter().filter(|r| r.status == 429).count() >= 2);
}

#[tokio::test]
async fn cell_rate_limited_always_the_trigger_is_sent_once() {
    let (requests, _dir) = run(Cell::new(base().rate_limit_every(1, 1))
        .expect(Expect::TriggerFails(|e| {
            matches!(e, Error::RateLimited { retry_after: Some(d), failure }
                if *d == Duration::from_secs(1) && failure.operation == "trigger_export")
        }))
        .bounds(1, 0))
    .await;
    assert_eq!(requests.len(), 1, "a POST is never retried after a 429");
}

#[tokio::test]
async fn cell_rate_limited_always_a_get_gives_up_after_its_retries() {
    let sim = simulator::start(base().rate_limit_every(1, 1)).await;
    let client = client_for(&sim, 3);
    let err = client.list_jobs().await.expect_err("always 429");
    assert!(
        matches!(
            &err,
            Error::RateLimited {
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sim.request_count(Route::ListJobs), 4, "1 + 3 retries");
}

// --- 5xx bursts ---

#[tokio::test]
async fn cell_server_errors_thirty_percent_are_ridden_out() {
    // Seed 11: the trigger (API request 1) is not among the 503s.
    let (requests, _dir) = run(Cell::new(base().server_error_rate(0.3))
        .retries(6)
        .bounds(80, 2))
    .await;
    assert!(requests.iter().any(|r| r.status == 503));
}

#[tokio::test]
async fn cell_server_errors_always_the_trigger_is_sent_once() {
    let (requests, _dir) = run(Cell::new(base().server_error_rate(1.0))
        .expect(Expect::TriggerFails(
            |e| matches!(e, Error::Api(f) if f.status == 503 && !f.errors.is_empty()),
        ))
        .bounds(1, 0))
    .await;
    assert_eq!(requests.len(), 1, "a POST is never retried after a 503");
}

#[tokio::test]
async fn cell_server_errors_always_a_get_gives_up_after_its_retries() {
    let sim = simulator::start(base().server_error_rate(1.0)).await;
    let client = client_for(&sim, 2);
    let err = client.get_job("any").await.expect_err("always 503");
    assert!(matches!(&err, Error::Api(f) if f.status == 503), "{err:?}");
    assert_eq!(sim.request_count(Route::GetJob), 3, "1 + 2 retries");
}

// --- drops mid-download ---

/// A one-file export whose first download breaks after `offset` bytes is
/// resumed from exactly there.
async fn drop_once_at(offset: impl FnOnce(u64) -> u64) {
    let len = clean_lengths(1, ExportFormat::Ndjson).await[0];
    let offset = offset(len);
    assert!(offset > 0 && offset < len);
    let (requests, _dir) = run(Cell::new(base().drop_download_after(offset, 1))
        .days(1)
        .bounds(40, 2))
    .await;
    let downloads = download_requests(&requests);
    assert_eq!(
        downloads.len(),
        3,
        "the drop, one resume, the reference fetch"
    );
    assert_eq!(downloads[0].headers.range, None);
    assert_eq!(downloads[1].headers.range, Some(format!("bytes={offset}-")));
    assert_eq!(downloads[1].status, 206);
}

#[tokio::test]
async fn cell_drop_after_the_first_byte_resumes() {
    drop_once_at(|_| 1).await;
}

#[tokio::test]
async fn cell_drop_mid_file_resumes() {
    drop_once_at(|len| len / 2).await;
}

#[tokio::test]
async fn cell_drop_before_the_last_byte_resumes() {
    drop_once_at(|len| len - 1).await;
}

#[tokio::test]
async fn cell_drop_every_time_but_with_progress_completes() {
    // Every request breaks after a fifth of the file: each resume gets
    // further, so the retry count starts over and the file completes in
    // exactly ceil(len / piece) requests.
    let len = clean_lengths(1, ExportFormat::Ndjson).await[0];
    let piece = len / 5 + 1;
    let expected = len.div_ceil(piece) as usize;
    let (requests, _dir) = run(Cell::new(base().drop_download_after(piece, 1000))
        .days(1)
        .retries(1)
        .clean_reference()
        .bounds(40, expected))
    .await;
    assert_eq!(download_requests(&requests).len(), expected);
}

#[tokio::test]
async fn cell_drop_before_any_byte_every_time_gives_up() {
    let (requests, dir) = run(Cell::new(base().drop_download_after(0, 1000))
        .days(1)
        .retries(3)
        .expect(Expect::DownloadFails(|r| {
            matches!(r, DownloadFailure::Transport(_))
        }))
        .bounds(40, 4))
    .await;
    assert_eq!(download_requests(&requests).len(), 4, "1 + 3 retries");
    // Nothing arrived: not even a `.part` is left.
    assert_eq!(
        listing(dir.path()),
        [".appex-download.json", ".appex-download.lock"]
    );
}

#[tokio::test]
async fn cell_drop_without_retries_keeps_the_part_and_the_next_run_resumes() {
    let len = clean_lengths(1, ExportFormat::Ndjson).await[0];
    let offset = len / 3;
    let sim = simulator::start(base().drop_download_after(offset, 1)).await;
    let client = client_for(&sim, 0);
    let job = completed_export(&client, range(1), quick_wait()).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let err = client
        .download(&job, dir.path())
        .run()
        .await
        .expect_err("no retries");
    let Error::Download {
        path,
        attempts: 1,
        reason: DownloadFailure::Transport(_),
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(!path.exists());
    let part = PathBuf::from(format!("{}.part", path.display()));
    assert_eq!(std::fs::metadata(&part).expect(".part kept").len(), offset);

    let report = client
        .download(&job, dir.path())
        .run()
        .await
        .expect("second run");
    assert!(!part.exists());
    let expected = reference_bytes(job.presigned_urls[0].url.expose()).await;
    assert_eq!(std::fs::read(path).expect("file"), expected);
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&expected)));
    let downloads: Vec<_> = download_requests(&sim.requests())
        .into_iter()
        .map(|r| r.headers.range.clone())
        .collect();
    assert_eq!(
        downloads,
        [None, Some(format!("bytes={offset}-")), None],
        "drop, resume, reference"
    );
}

// ---------------------------------------------------------------------------
// Across runs: an object replaced, two runs at once, a run stopped
// ---------------------------------------------------------------------------

/// 256 KiB synthetic files (they can be replaced, slowed, dropped).
fn synthetic() -> SimulatorConfig {
    base().synthetic_file_size(256 * 1024)
}

#[tokio::test]
async fn cell_object_replaced_between_runs_comes_back_whole_never_spliced() {
    let cut = 100_000;
    let sim = simulator::start(synthetic().drop_download_after(cut, 1)).await;
    let client = client_for(&sim, 0);
    let job = completed_export(&client, range(1), quick_wait()).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let err = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect_err("the drop fails the run (no retries)");
    let Error::Download { path, .. } = &err else {
        panic!("{err:?}")
    };
    let head_v1 =
        std::fs::read(PathBuf::from(format!("{}.part", path.display()))).expect(".part kept");
    assert_eq!(head_v1.len() as u64, cut);
    let etag_v1 = {
        let answer = reqwest::Client::new()
            .head(job.presigned_urls[0].url.expose())
            .send()
            .await
            .expect("head");
        answer.headers()["etag"].to_str().unwrap().to_string()
    };

    sim.replace_objects();
    let report = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("second run");

    let v2 = reference_bytes(job.presigned_urls[0].url.expose()).await;
    assert_ne!(
        &v2[..cut as usize],
        &head_v1[..],
        "the object really changed"
    );
    assert_eq!(std::fs::read(path).unwrap(), v2, "exactly version 2");
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&v2)));
    let resumed: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1, "one resume attempt");
    assert_eq!(resumed[0].headers.range.as_deref(), Some("bytes=100000-"));
    assert_eq!(
        resumed[0].headers.if_range.as_deref(),
        Some(etag_v1.as_str())
    );
    assert_eq!(resumed[0].status, 200, "the changed object came back whole");
}

#[tokio::test]
async fn cell_concurrent_runs_take_turns_and_fetch_each_file_once() {
    let sim = simulator::start(synthetic().slow_body(32 * 1024, Duration::from_millis(5))).await;
    let client = client_for(&sim, 2);
    let job = completed_export(&client, range(2), quick_wait()).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let first = client.download(&job, dir.path()).run();
    let second = client.download(&job, dir.path()).run();
    let (first, second) = hang_guard(async { tokio::join!(first, second) }).await;
    let (first, second) = (first.expect("first run"), second.expect("second run"));

    let fetched = sim.request_count(Route::Download);
    assert_eq!(fetched, job.presigned_urls.len(), "each file fetched once");
    assert!(
        first.files.iter().all(|f| f.skipped) ^ second.files.iter().all(|f| f.skipped),
        "one run fetched, the other found the files complete"
    );
    for (file, url) in first.files.iter().zip(&job.presigned_urls) {
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            reference_bytes(url.url.expose()).await
        );
    }
}

#[tokio::test]
async fn cell_interrupted_run_keeps_exactly_the_bytes_received_and_the_next_resumes() {
    let sim = simulator::start(synthetic().slow_body(8 * 1024, Duration::from_millis(10))).await;
    let client = client_for(&sim, 2);
    let job = completed_export(&client, range(1), quick_wait()).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let received = Arc::new(Mutex::new(0u64));
    let seen = received.clone();
    let err = hang_guard(
        client
            .download(&job, dir.path())
            .durability(Durability::None)
            .on_progress(move |p| {
                if p.event == ProgressEvent::Data {
                    *seen.lock().unwrap() = p.file_bytes;
                    if p.file_bytes >= 40_000
                        && let Some(tx) = stop_tx.lock().unwrap().take()
                    {
                        let _ = tx.send(());
                    }
                }
            })
            .stop_on(async {
                let _ = stop_rx.await;
            })
            .run(),
    )
    .await
    .expect_err("stopped");
    assert!(
        matches!(
            err,
            Error::Interrupted {
                files_complete: 0,
                files_total: 1
            }
        ),
        "{err:?}"
    );
    let name = &job.presigned_urls[0].filename;
    let part = std::fs::read(dir.path().join(format!("{name}.part"))).expect(".part kept");
    let expected = reference_bytes(job.presigned_urls[0].url.expose()).await;
    assert_eq!(part.len() as u64, *received.lock().unwrap());
    assert!(part.len() >= 40_000 && part.len() < expected.len());
    assert_eq!(&expected[..part.len()], &part[..]);

    let report = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("resumed");
    assert_eq!(std::fs::read(&report.files[0].path).unwrap(), expected);
    let resume = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect::<Vec<_>>();
    assert_eq!(resume.len(), 1);
    assert_eq!(
        resume[0].headers.range,
        Some(format!("bytes={}-", part.len()))
    );
    assert!(resume[0].headers.if_range.is_some());
    assert_eq!(resume[0].status, 206);
}

// --- truncated gzip ---

#[tokio::test]
async fn cell_truncated_gzip_ndjson_downloads_but_reads_as_corrupt() {
    let clean = clean_lengths(2, ExportFormat::Ndjson).await;
    let (_, dir) = run(Cell::new(base().truncate_gzip(true)).expect(Expect::CorruptOnRead)).await;
    assert_truncated(dir.path(), &clean);
}

#[tokio::test]
async fn cell_truncated_gzip_csv_downloads_but_reads_as_corrupt() {
    let clean = clean_lengths(2, ExportFormat::Csv).await;
    let (_, dir) = run(Cell::new(base().truncate_gzip(true))
        .format(ExportFormat::Csv)
        .expect(Expect::CorruptOnRead))
    .await;
    assert_truncated(dir.path(), &clean);
}

/// The files on disk are the served (truncated) ones: shorter than clean.
fn assert_truncated(dir: &Path, clean: &[u64]) {
    let mut lengths: Vec<u64> = listing(dir)
        .iter()
        .filter(|n| !n.starts_with('.'))
        .map(|n| std::fs::metadata(dir.join(n)).expect("file").len())
        .collect();
    lengths.sort();
    let mut clean = clean.to_vec();
    clean.sort();
    assert_eq!(lengths.len(), clean.len());
    for (got, full) in lengths.iter().zip(&clean) {
        assert!(got < full, "{got} bytes on disk, {full} in the clean file");
    }
}

// --- slow bodies ---

#[tokio::test]
async fn cell_slow_body_within_the_stall_timeout_completes() {
    run(Cell::new(base().slow_body(4096, Duration::from_millis(2)))
        .stall(Duration::from_secs(5))
        .bounds(40, 2))
    .await;
}

#[tokio::test]
async fn cell_slow_body_past_the_stall_timeout_gives_up() {
    // The first byte comes after an hour: no attempt can see progress (which
    // would reset the retry count), however slowly this machine runs.
    let (requests, dir) = run(Cell::new(base().slow_body(1024, Duration::from_secs(3600)))
        .days(1)
        .retries(2)
        .stall(Duration::from_millis(100))
        .expect(Expect::DownloadFails(
            |r| matches!(r, DownloadFailure::Stalled(d) if *d == Duration::from_millis(100)),
        ))
        .attempts(3)
        .bounds(40, 3))
    .await;
    // 1 + 2 retries, counted by the client above. The simulator saw each one
    // that got through before its 100 ms ran out: on a loaded machine a
    // connect can take longer, and that attempt never reaches it.
    let seen = download_requests(&requests).len();
    assert!((1..=3).contains(&seen), "{seen} file requests");
    assert_eq!(
        listing(dir.path()),
        [".appex-download.json", ".appex-download.lock"]
    );
}

// --- jobs failing midway ---

#[tokio::test]
async fn cell_job_failing_at_its_first_chunk() {
    run(Cell::new(base().fail_at_chunk(0))
        .expect(Expect::WaitFails(|e| {
            is_job_failed(e)
                && matches!(e, Error::JobFailed { job } if job.completed_chunks.is_empty())
        }))
        .bounds(40, 0))
    .await;
}

#[tokio::test]
async fn cell_job_failing_midway() {
    run(Cell::new(base().fail_at_chunk(2))
        .days(3)
        .expect(Expect::WaitFails(|e| {
            is_job_failed(e)
                && matches!(e, Error::JobFailed { job } if job.completed_chunks.len() == 2)
        }))
        .bounds(40, 0))
    .await;
}

// --- 404 grace ---

#[tokio::test]
async fn cell_job_invisible_for_its_first_polls_is_waited_for() {
    let (requests, _dir) = run(Cell::new(base().not_found_polls(3))).await;
    let not_found = requests
        .iter()
        .filter(|r| r.route == Route::GetJob && r.status == 404)
        .count();
    assert_eq!(not_found, 3);
}

// Paused time: a loaded machine cannot stretch the trigger-to-first-poll gap
// past the 150 ms grace (one poll only); no file is written here.
#[tokio::test(start_paused = true)]
async fn cell_job_invisible_past_the_grace_period_is_not_found() {
    // Polls every 10 ms; the grace period is 150 ms: a bounded number of polls.
    let wait = quick_wait()
        .with_max_delay(Duration::from_millis(10))
        .with_not_found_grace(Duration::from_millis(150));
    let (requests, _dir) = run(Cell::new(base().not_found_polls(1_000_000))
        .wait(wait)
        .expect(Expect::WaitFails(is_not_found))
        .bounds(40, 0))
    .await;
    assert!(requests.iter().filter(|r| r.route == Route::GetJob).count() >= 2);
}

// --- expired URLs ---

#[tokio::test]
async fn cell_expired_urls_are_refreshed_once_for_all_files() {
    let (requests, _dir) = run(Cell::new(base()).days(3).expire().bounds(40, 6)).await;
    let downloads = download_requests(&requests);
    assert_eq!(downloads.iter().filter(|r| r.status == 403).count(), 3);
    assert_eq!(
        downloads.iter().filter(|r| r.status == 200).count(),
        3 + 3,
        "files + references"
    );
    // One GET of the job for fresh URLs, shared by the three files, plus
    // the one the check makes for reference URLs after the download.
    let last_poll = requests
        .iter()
        .rposition(|r| r.route == Route::GetJob && r.status == 200)
        .expect("polls");
    let first_download = requests
        .iter()
        .position(|r| r.route == Route::Download)
        .expect("downloads");
    let refreshes = requests[first_download..last_poll]
        .iter()
        .filter(|r| r.route == Route::GetJob)
        .count();
    assert_eq!(refreshes, 1);
}

#[tokio::test]
async fn cell_urls_that_expire_at_once_fail_after_one_refresh() {
    let (requests, _dir) = run(Cell::new(base().url_ttl(Duration::ZERO))
        .expect(Expect::DownloadFails(
            |r| matches!(r, DownloadFailure::Expired(s) if s.as_u16() == 403),
        ))
        .bounds(40, 4))
    .await;
    let downloads = download_requests(&requests);
    assert_eq!(
        downloads.len(),
        4,
        "two files, each refused, refreshed, refused"
    );
    assert!(downloads.iter().all(|r| r.status == 403));
}

// --- everything at once ---

#[tokio::test]
async fn cell_everything_at_once_completes() {
    let len = clean_lengths(3, ExportFormat::Ndjson).await;
    let offset = len.iter().min().copied().unwrap_or(2) / 2;
    let (requests, _dir) = run(Cell::new(
        base()
            .rate_limit_every(5, 1)
            .server_error_rate(0.1)
            .not_found_polls(2)
            .drop_download_after(offset, 1)
            .slow_body(8192, Duration::from_millis(1)),
    )
    .days(3)
    .retries(6)
    .expire()
    .bounds(100, 12))
    .await;
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    for status in [429, 403, 404] {
        assert!(statuses.contains(&status), "{status} in {statuses:?}");
    }
}

// ---------------------------------------------------------------------------
// The pagination cells
// ---------------------------------------------------------------------------

async fn walk_segments(sim: &Simulator, max_retries: u32) -> Vec<userpilot_appex::Result<i64>> {
    let client = client_for(sim, max_retries);
    client
        .segments_stream()
        .map(|r| r.map(|s| s.id.expect("segment id")))
        .collect()
        .await
}

/// Walks every segment, which must succeed: the ids in order, and how many
/// of them are distinct.
async fn walk_all_segments(sim: &Simulator, max_retries: u32) -> (Vec<i64>, usize) {
    let ids: Vec<i64> = walk_segments(sim, max_retries)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("walk");
    let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
    (ids, distinct)
}

#[tokio::test]
async fn cell_pagination_without_faults_walks_every_item_once() {
    let sim = simulator::start(base().page_limit(7).segments(30)).await;
    let (ids, distinct) = walk_all_segments(&sim, 0).await;
    assert_eq!(distinct, 30, "30 distinct items");
    assert_eq!(ids.len(), 30);
    assert_eq!(sim.request_count(Route::Segments), 5, "ceil(30 / 7)");
}

#[tokio::test]
async fn cell_pagination_under_429s_and_503s_walks_every_item_once() {
    let sim = simulator::start(
        base()
            .page_limit(7)
            .segments(30)
            .rate_limit_every(3, 1)
            .server_error_rate(0.2),
    )
    .await;
    let (ids, distinct) = walk_all_segments(&sim, 6).await;
    assert_eq!((ids.len(), distinct), (30, 30));
    let requests = sim.requests();
    let ok = requests.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 5, "each page fetched exactly once");
    assert!(requests.len() > 5, "faults were injected");
    assert!(requests.len() <= 5 * 7, "at most 1 + 6 tries a page");
    assert!(longest_failure_run(&requests) <= 6);
}

async fn repeated_cursor_cell(after_page: usize, events_properties: bool) {
    let limit = 5;
    let sim = simulator::start(
        base()
            .page_limit(limit)
            .segments(100)
            .event_properties(100)
            .repeat_cursor_after_page(after_page),
    )
    .await;
    let client = client_for(&sim, 0);
    let (all, route): (Vec<userpilot_appex::Result<()>>, Route) = if events_properties {
        let all: Vec<_> = client.events_properties_stream().collect().await;
        (
            all.into_iter().map(|r| r.map(|_| ())).collect(),
            Route::EventsProperties,
        )
    } else {
        let all: Vec<_> = client.segments_stream().collect().await;
        (
            all.into_iter().map(|r| r.map(|_| ())).collect(),
            Route::Segments,
        )
    };
    let (ok, errors): (Vec<_>, Vec<_>) = all.into_iter().partition(Result::is_ok);
    let items = ok.len();
    // The pages up to the one that repeated its cursor are delivered, then
    // exactly one error; one request per page, nothing more.
    assert_eq!(items, (after_page + 1) * limit);
    assert_eq!(errors.len(), 1);
    let expected_operation = if events_properties {
        "events_properties"
    } else {
        "segments"
    };
    assert!(
        matches!(&errors[0], Err(Error::RepeatedCursor { operation, pages, .. })
            if *operation == expected_operation && *pages == after_page + 1),
        "{:?}",
        errors[0]
    );
    assert_eq!(sim.request_count(route), after_page + 1);
}

#[tokio::test]
async fn cell_repeated_cursor_after_page_1_segments() {
    repeated_cursor_cell(1, false).await;
}

#[tokio::test]
async fn cell_repeated_cursor_after_page_3_segments() {
    repeated_cursor_cell(3, false).await;
}

#[tokio::test]
async fn cell_repeated_cursor_after_page_2_events_properties() {
    repeated_cursor_cell(2, true).await;
}

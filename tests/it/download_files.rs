//! Downloading a job's files from presigned URLs, against a loopback file
//! server: bytes, concurrency, headers, hostile names, resume, refresh,
//! redirects, re-runs, progress and secrecy.

use std::{
    collections::BTreeSet,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{
    KEY, content, files::FileSpec, hang_guard, job_path, listed_job, logs::Logs, quick_client,
    server::TestServer, sha256_hex,
};
use userpilot_appex::{
    Client, Error, RetryPolicy,
    error::DownloadFailure,
    ext::download::{DownloadReport, ExistingCheck, ProgressEvent},
    models::JobStatus,
};

const SIG: &str = "SECRETSIG0123456789";
/// Names in `dir`, sorted.
fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect()
}

fn names(report: &DownloadReport) -> Vec<String> {
    report.files.iter().map(|f| f.filename.clone()).collect()
}

#[tokio::test]
async fn downloads_several_files_concurrently_with_the_right_bytes() {
    let server = TestServer::start().await;
    let sizes = [10_000usize, 300_000, 1, 70_000, 0, 123_457];
    let mut files = Vec::new();
    let mut contents = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let body = content(i as u8, *size);
        server.file(&format!("/files/{i}"), FileSpec::bytes(body.clone()));
        files.push((
            format!("part-{i}.ndjson.gz"),
            server.url(&format!("/files/{i}"), SIG),
        ));
        contents.push(body);
    }
    // Answers are held until three requests are in flight: a sequential
    // downloader would hang here (and fail by the guard).
    server.hold_until(3);
    let files: Vec<(&str, String)> = files.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(listed_job("job-1", &files), dir.path())
            .concurrency(3)
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(server.peak_in_flight(), 3, "at most and at least 3 at once");
    assert_eq!(report.job_id, "job-1");
    assert_eq!(report.files.len(), sizes.len());
    for (i, file) in report.files.iter().enumerate() {
        assert_eq!(file.filename, format!("part-{i}.ndjson.gz"));
        assert_eq!(file.path, dir.path().join(&file.filename));
        assert_eq!(file.bytes, sizes[i] as u64);
        assert_eq!(file.sha256, Some(sha256_hex(&contents[i])));
        assert!(!file.skipped);
        assert_eq!(std::fs::read(&file.path).unwrap(), contents[i]);
    }
    assert_eq!(report.total_bytes(), sizes.iter().sum::<usize>() as u64);
    for i in 0..sizes.len() {
        assert_eq!(server.hits(&format!("/files/{i}")), 1);
    }
}

#[tokio::test]
async fn file_requests_never_carry_the_authorization_header() {
    let server = TestServer::start().await;
    server.file("/files/a", FileSpec::bytes(content(1, 5000)));
    server.file("/files/b", FileSpec::bytes(content(2, 5000)));
    let listed = listed_job(
        "job-auth",
        &[
            ("a.csv", server.url("/files/a", SIG)),
            ("b.csv", server.url("/files/b", SIG)),
        ],
    );
    server.job_json(&listed);
    let dir = tempfile::tempdir().unwrap();

    // By id: the job is fetched with the API key, the files without it.
    let report = hang_guard(quick_client(&server).download("job-auth", dir.path()).run())
        .await
        .expect("download");

    assert_eq!(names(&report), ["a.csv", "b.csv"]);
    let job_requests = server.requests_to(&job_path("job-auth"));
    assert_eq!(job_requests.len(), 1);
    assert_eq!(
        job_requests[0].header("authorization"),
        Some(format!("Token {KEY}").as_str())
    );
    let file_requests = server.file_requests();
    assert_eq!(file_requests.len(), 2);
    for r in &file_requests {
        assert_eq!(r.method, "GET");
        assert_eq!(r.header("authorization"), None, "{} carried auth", r.path);
        assert!(
            !r.headers.iter().any(|(_, v)| v.contains(KEY)),
            "the key leaked in a header of {}",
            r.path
        );
        assert_eq!(
            r.query.as_deref(),
            Some(format!("X-Amz-Expires=172800&X-Amz-Signature={SIG}").as_str())
        );
    }
}

#[tokio::test]
async fn hostile_filenames_land_inside_the_target_dir_with_distinct_names() {
    let server = TestServer::start().await;
    let hostile = [
        "../x",
        "/etc/passwd",
        "a/b",
        "C:\\x",
        "..",
        "",
        "bad\u{7}name.csv",
        "dup.csv",
        "dup.csv",
        "DUP.csv",
        "x",
        "../../../../tmp/evil\u{0}.sh",
        "dup.csv.part",
        ".appex-download.json",
    ];
    let mut files = Vec::new();
    for (i, name) in hostile.iter().enumerate() {
        server.file(
            &format!("/files/{i}"),
            FileSpec::bytes(content(i as u8, 100 + i)),
        );
        files.push((*name, server.url(&format!("/files/{i}"), SIG)));
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");

    let report = hang_guard(
        quick_client(&server)
            .download(listed_job("job-h", &files), &dir)
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(
        names(&report),
        [
            "x",
            "passwd",
            "b",
            "x (2)",
            // No name left: "file-" and the first 8 hex digits of the
            // sha256 of the server's name (here ".." and "").
            "file-5ec1f7e7",
            "file-e3b0c442",
            "bad_name.csv",
            "dup.csv",
            "dup (2).csv",
            "DUP (3).csv",
            "x (3)",
            "evil_.sh",
            "dup (4).csv.part",
            ".appex-download (2).json",
        ]
    );
    let canonical = dir.canonicalize().unwrap();
    for (i, file) in report.files.iter().enumerate() {
        assert_eq!(file.source_filename, hostile[i]);
        assert_eq!(
            file.path.parent().unwrap().canonicalize().unwrap(),
            canonical
        );
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            content(i as u8, 100 + i)
        );
    }
    // Nothing was written next to the target directory.
    assert_eq!(listing(root.path()), BTreeSet::from(["out".to_string()]));
    let mut expected: BTreeSet<String> = names(&report).into_iter().collect();
    expected.insert(".appex-download.json".into());
    expected.insert(".appex-download.lock".into());
    assert_eq!(listing(&dir), expected);
}

#[tokio::test]
async fn a_connection_dropped_mid_file_is_resumed_with_range() {
    let server = TestServer::start().await;
    let body = content(9, 300_000);
    server.file(
        "/files/big",
        FileSpec::bytes(body.clone()).drop_after(100_000, 1),
    );
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-r", &[("big.csv", server.url("/files/big", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    let requests = server.requests_to("/files/big");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("range"), None);
    assert_eq!(requests[1].header("range"), Some("bytes=100000-"));
    assert_eq!(requests[1].header("if-range"), Some("\"v1\""));
    assert_eq!(report.files[0].bytes, 300_000);
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
    assert_eq!(std::fs::read(dir.path().join("big.csv")).unwrap(), body);
}

#[tokio::test]
async fn a_server_that_ignores_range_restarts_the_file() {
    let server = TestServer::start().await;
    let body = content(3, 200_000);
    server.file(
        "/files/f",
        FileSpec::bytes(body.clone())
            .no_ranges()
            .drop_after(50_000, 1),
    );
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-nr", &[("f.csv", server.url("/files/f", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    let requests = server.requests_to("/files/f");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("range"), Some("bytes=50000-"));
    assert_eq!(report.files[0].bytes, 200_000);
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
    assert_eq!(std::fs::read(dir.path().join("f.csv")).unwrap(), body);
}

#[tokio::test]
async fn a_partial_answer_starting_elsewhere_is_not_appended_but_restarted() {
    let server = TestServer::start().await;
    let body = content(2, 90_000);
    server.file(
        "/files/w",
        FileSpec::bytes(body.clone())
            .drop_after(30_000, 1)
            .wrong_range_start(),
    );
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-w", &[("w.csv", server.url("/files/w", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    let ranges: Vec<Option<String>> = server
        .requests_to("/files/w")
        .iter()
        .map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(ranges, [None, Some("bytes=30000-".to_string()), None]);
    assert_eq!(report.files[0].bytes, 90_000);
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
    assert_eq!(std::fs::read(dir.path().join("w.csv")).unwrap(), body);
}

#[tokio::test]
async fn transient_statuses_are_retried() {
    let server = TestServer::start().await;
    let body = content(4, 1000);
    server.file("/files/s", FileSpec::bytes(body.clone()).status(503, 2));
    server.file("/files/t", FileSpec::bytes(body.clone()).status(429, 1));
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job(
                    "job-5",
                    &[
                        ("s.csv", server.url("/files/s", SIG)),
                        ("t.csv", server.url("/files/t", SIG)),
                    ],
                ),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(server.hits("/files/s"), 3);
    assert_eq!(server.hits("/files/t"), 2);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.sha256 == Some(sha256_hex(&body)))
    );
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_names_the_file() {
    let server = TestServer::start().await;
    server.file(
        "/files/down",
        FileSpec::bytes(content(1, 10)).status(500, 100),
    );
    let dir = tempfile::tempdir().unwrap();

    let error = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-x", &[("down.csv", server.url("/files/down", SIG))]),
                dir.path(),
            )
            .retry_policy(
                RetryPolicy::default()
                    .with_max_retries(2)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
            )
            .run(),
    )
    .await
    .expect_err("must fail");

    assert_eq!(server.hits("/files/down"), 3);
    match &error {
        Error::Download {
            job_id,
            file,
            path,
            attempts,
            reason,
        } => {
            assert_eq!(job_id, "job-x");
            assert_eq!(file, "down.csv");
            assert_eq!(path, &dir.path().join("down.csv"));
            assert_eq!(*attempts, 3);
            assert_eq!(
                reason,
                &DownloadFailure::Status(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("down.csv"), "{text}");
    assert!(
        !text.contains(SIG) && !format!("{error:?}").contains(SIG),
        "{text}"
    );
    assert!(!dir.path().join("down.csv").exists());
    assert!(
        !dir.path().join("down.csv.part").exists(),
        "an empty .part is removed"
    );
}

#[tokio::test]
async fn an_expired_url_is_refreshed_through_the_job_and_retried() {
    let server = TestServer::start().await;
    let a = content(5, 40_000);
    let b = content(6, 41_000);
    server.file(
        "/files/a",
        FileSpec::bytes(a.clone()).valid_signature("fresh"),
    );
    server.file(
        "/files/b",
        FileSpec::bytes(b.clone()).valid_signature("fresh"),
    );
    let stale = listed_job(
        "job-e",
        &[
            ("a.csv", server.url("/files/a", "stale")),
            ("b.csv", server.url("/files/b", "stale")),
        ],
    );
    let fresh = listed_job(
        "job-e",
        &[
            ("a.csv", server.url("/files/a", "fresh")),
            ("b.csv", server.url("/files/b", "fresh")),
        ],
    );
    server.job_json(&fresh);
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(quick_client(&server).download(&stale, dir.path()).run())
        .await
        .expect("download");

    // One job fetch serves both refused files.
    assert_eq!(server.hits(&job_path("job-e")), 1);
    for (path, body, file) in [
        ("/files/a", &a, &report.files[0]),
        ("/files/b", &b, &report.files[1]),
    ] {
        let requests = server.requests_to(path);
        assert_eq!(requests.len(), 2, "{path}");
        assert!(
            requests[0]
                .query
                .as_deref()
                .unwrap()
                .ends_with("X-Amz-Signature=stale")
        );
        assert!(
            requests[1]
                .query
                .as_deref()
                .unwrap()
                .ends_with("X-Amz-Signature=fresh")
        );
        assert_eq!(file.sha256, Some(sha256_hex(body)));
    }
}

#[tokio::test]
async fn a_url_still_refused_after_the_refresh_fails_without_leaking_the_signature() {
    let server = TestServer::start().await;
    server.file(
        "/files/a",
        FileSpec::bytes(content(5, 100)).valid_signature("never"),
    );
    let listed = listed_job("job-f", &[("a.csv", server.url("/files/a", SIG))]);
    server.job_json(&listed);
    let dir = tempfile::tempdir().unwrap();

    let error = hang_guard(quick_client(&server).download(&listed, dir.path()).run())
        .await
        .expect_err("must fail");

    assert_eq!(server.hits(&job_path("job-f")), 1);
    assert_eq!(
        server.hits("/files/a"),
        2,
        "retried once with the refreshed URL"
    );
    assert!(matches!(
        &error,
        Error::Download { file, reason: DownloadFailure::Expired(s), .. }
            if file == "a.csv" && s.as_u16() == 403
    ));
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(SIG), "{text}");
        assert!(text.contains("a.csv"), "{text}");
    }
    assert_eq!(
        listing(dir.path()),
        BTreeSet::from([
            ".appex-download.json".to_string(),
            ".appex-download.lock".to_string()
        ])
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = TestServer::start().await;
    server.file(
        "/files/moved",
        FileSpec::bytes(content(1, 10)).redirect_to("/files/target"),
    );
    server.file("/files/target", FileSpec::bytes(content(2, 10)));
    let dir = tempfile::tempdir().unwrap();

    let error = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-3xx", &[("m.csv", server.url("/files/moved", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect_err("must fail");

    assert!(matches!(
        &error,
        Error::Download { reason: DownloadFailure::Redirect(s), .. } if s.as_u16() == 302
    ));
    assert_eq!(server.hits("/files/moved"), 1, "a redirect is not retried");
    assert_eq!(
        server.hits("/files/target"),
        0,
        "a redirect is not followed"
    );
    assert!(!dir.path().join("m.csv").exists());
}

#[tokio::test]
async fn no_part_file_survives_a_finished_download() {
    let server = TestServer::start().await;
    server.file(
        "/files/a",
        FileSpec::bytes(content(1, 200_000)).drop_after(70_000, 2),
    );
    server.file("/files/b", FileSpec::bytes(content(2, 5)));
    let dir = tempfile::tempdir().unwrap();

    hang_guard(
        quick_client(&server)
            .download(
                listed_job(
                    "job-p",
                    &[
                        ("a.gz", server.url("/files/a", SIG)),
                        ("b.gz", server.url("/files/b", SIG)),
                    ],
                ),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(server.hits("/files/a"), 3);
    assert_eq!(
        listing(dir.path()),
        BTreeSet::from([
            "a.gz".into(),
            "b.gz".into(),
            ".appex-download.json".to_string(),
            ".appex-download.lock".to_string()
        ])
    );
}

#[tokio::test]
async fn a_second_run_downloads_nothing() {
    let server = TestServer::start().await;
    let a = content(1, 50_000);
    let b = content(2, 60_000);
    server.file("/files/a", FileSpec::bytes(a.clone()));
    server.file("/files/b", FileSpec::bytes(b.clone()));
    let listed = listed_job(
        "job-2",
        &[
            ("a.csv", server.url("/files/a", SIG)),
            ("b.csv", server.url("/files/b", SIG)),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);

    let first = hang_guard(client.download(&listed, dir.path()).run())
        .await
        .expect("first");
    let hits = server.requests().len();
    let second = hang_guard(
        client
            .download(&listed, dir.path())
            .verify_existing(ExistingCheck::Sha256)
            .run(),
    )
    .await
    .expect("second");

    assert_eq!(
        server.requests().len(),
        hits,
        "the second run made no request"
    );
    assert_eq!(hits, 2);
    assert!(first.files.iter().all(|f| !f.skipped));
    assert!(second.files.iter().all(|f| f.skipped));
    assert_eq!(names(&first), names(&second));
    assert_eq!(second.files[0].sha256, Some(sha256_hex(&a)));
    assert_eq!(second.files[1].sha256, Some(sha256_hex(&b)));
    assert_eq!(second.files[1].bytes, 60_000);
}

#[tokio::test]
async fn a_file_changed_on_disk_is_downloaded_again() {
    let server = TestServer::start().await;
    let a = content(1, 5_000);
    server.file("/files/a", FileSpec::bytes(a.clone()));
    let listed = listed_job("job-c", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);
    hang_guard(client.download(&listed, dir.path()).run())
        .await
        .expect("first");

    std::fs::write(dir.path().join("a.csv"), b"truncated").unwrap();
    let second = hang_guard(client.download(&listed, dir.path()).run())
        .await
        .expect("second");

    assert_eq!(server.hits("/files/a"), 2);
    assert!(!second.files[0].skipped);
    assert_eq!(second.files[0].filename, "a.csv", "its own name is reused");
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), a);
}

#[tokio::test]
async fn a_file_not_created_by_the_download_is_never_overwritten() {
    let server = TestServer::start().await;
    server.file("/files/a", FileSpec::bytes(content(1, 500)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), b"mine").unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-o", &[("a.csv", server.url("/files/a", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(names(&report), ["a (2).csv"]);
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), b"mine");
    assert_eq!(
        std::fs::read(dir.path().join("a (2).csv")).unwrap(),
        content(1, 500)
    );
}

#[tokio::test]
async fn a_failed_file_keeps_its_part_and_the_next_run_resumes_it() {
    let server = TestServer::start().await;
    let body = content(8, 150_000);
    server.file(
        "/files/a",
        FileSpec::bytes(body.clone()).drop_after(60_000, 1),
    );
    let listed = listed_job("job-k", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);

    let error = hang_guard(
        client
            .download(&listed, dir.path())
            .retry_policy(RetryPolicy::none())
            .run(),
    )
    .await
    .expect_err("first run fails");
    assert!(matches!(
        &error,
        Error::Download { file, reason: DownloadFailure::Transport(_), .. } if file == "a.csv"
    ));
    assert!(!error.to_string().contains(SIG), "{error}");
    assert!(!dir.path().join("a.csv").exists());
    assert_eq!(
        std::fs::read(dir.path().join("a.csv.part")).unwrap(),
        body[..60_000].to_vec()
    );

    let report = hang_guard(client.download(&listed, dir.path()).run())
        .await
        .expect("second run");

    let requests = server.requests_to("/files/a");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("range"), Some("bytes=60000-"));
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
    assert!(!dir.path().join("a.csv.part").exists());
}

/// (event, index, file bytes, file total, overall bytes, overall total, files done)
type Seen = (
    ProgressEvent,
    usize,
    u64,
    Option<u64>,
    u64,
    Option<u64>,
    usize,
);

#[tokio::test]
async fn progress_reports_bytes_per_file_and_overall() {
    let server = TestServer::start().await;
    server.file("/files/a", FileSpec::bytes(content(1, 100_000)));
    server.file("/files/b", FileSpec::bytes(content(2, 30_000)));
    let events: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = events.clone();
    let dir = tempfile::tempdir().unwrap();

    hang_guard(
        quick_client(&server)
            .download(
                listed_job(
                    "job-pr",
                    &[
                        ("a", server.url("/files/a", SIG)),
                        ("b", server.url("/files/b", SIG)),
                    ],
                ),
                dir.path(),
            )
            .on_progress(move |p| {
                assert_eq!(p.files_total, 2);
                sink.lock().unwrap().push((
                    p.event,
                    p.index,
                    p.file_bytes,
                    p.file_total,
                    p.bytes,
                    p.total,
                    p.files_done,
                ));
            })
            .run(),
    )
    .await
    .expect("download");

    let events = events.lock().unwrap();
    let last = events.last().expect("events");
    assert_eq!(last.0, ProgressEvent::Finished);
    assert_eq!((last.4, last.5, last.6), (130_000, Some(130_000), 2));
    for (index, size) in [(0usize, 100_000u64), (1, 30_000)] {
        let mine: Vec<_> = events.iter().filter(|e| e.1 == index).collect();
        assert_eq!(mine.first().unwrap().0, ProgressEvent::Started);
        assert_eq!(mine.first().unwrap().3, Some(size));
        let finished = mine
            .iter()
            .find(|e| e.0 == ProgressEvent::Finished)
            .unwrap();
        assert_eq!(finished.2, size);
        let data: Vec<u64> = mine
            .iter()
            .filter(|e| e.0 == ProgressEvent::Data)
            .map(|e| e.2)
            .collect();
        assert!(!data.is_empty());
        assert!(data.windows(2).all(|w| w[0] < w[1]), "bytes only grow");
        assert_eq!(*data.last().unwrap(), size);
    }
    let overall: Vec<u64> = events.iter().map(|e| e.4).collect();
    assert!(
        overall.windows(2).all(|w| w[0] <= w[1]),
        "overall bytes only grow"
    );
}

#[tokio::test]
async fn a_job_not_completed_is_refused_before_any_request() {
    let server = TestServer::start().await;
    let mut pending = listed_job("job-pending", &[("a", server.url("/files/a", SIG))]);
    pending.status = Some(JobStatus::Pending);
    let dir = tempfile::tempdir().unwrap();

    let error = quick_client(&server)
        .download(pending, dir.path())
        .run()
        .await
        .expect_err("must fail");

    assert!(matches!(
        &error,
        Error::JobNotCompleted { job_id, status: userpilot_appex::models::JobStatus::Pending } if job_id == "job-pending"
    ));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn logs_and_reports_never_contain_the_signature() {
    let server = TestServer::start().await;
    server.file(
        "/files/a",
        FileSpec::bytes(content(1, 90_000))
            .drop_after(10_000, 2)
            .status(503, 1),
    );
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let download = quick_client(&server).download(
        listed_job("job-log", &[("a.csv", server.url("/files/a", SIG))]),
        dir.path(),
    );
    let debug = format!("{download:?}");

    let report = hang_guard(download.run()).await.expect("download");

    let text = logs.text();
    assert!(
        text.contains("retrying download"),
        "the retries were logged: {text}"
    );
    assert!(
        text.contains("/files/a?<redacted>"),
        "URLs are logged redacted: {text}"
    );
    assert!(!text.contains(SIG), "the signature leaked into logs");
    assert!(!debug.contains(SIG));
    assert!(!format!("{report:?}").contains(SIG));
    assert!(!serde_json::to_string(&report).unwrap().contains(SIG));
}

#[tokio::test]
async fn a_stalled_connection_is_abandoned_and_resumed() {
    let server = TestServer::start().await;
    let body = content(7, 20_000);
    server.file(
        "/files/slow",
        FileSpec::bytes(body.clone()).stall_after(8_000, 1),
    );
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-st", &[("slow.csv", server.url("/files/slow", SIG))]),
                dir.path(),
            )
            .stall_timeout(Duration::from_millis(500))
            .run(),
    )
    .await
    .expect("download");

    let requests = server.requests_to("/files/slow");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("range"), Some("bytes=8000-"));
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
}

#[tokio::test]
async fn the_report_serializes_to_its_json_schema() {
    let server = TestServer::start().await;
    server.file("/files/a", FileSpec::bytes(content(1, 10)));
    let dir = tempfile::tempdir().unwrap();
    let report = hang_guard(
        quick_client(&server)
            .download(
                listed_job("job-js", &[("a", server.url("/files/a", SIG))]),
                dir.path(),
            )
            .run(),
    )
    .await
    .expect("download");

    let schema = serde_json::to_value(schemars::schema_for!(DownloadReport)).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    assert!(jsonschema::is_valid(&schema, &value), "{value}");
    assert_eq!(value["files"][0]["sha256"], sha256_hex(&content(1, 10)));
    assert_eq!(value["files"][0]["skipped"], false);
    let back: DownloadReport = serde_json::from_value(value).unwrap();
    assert_eq!(back, report);
}

/// The download future can be spawned on a multi-threaded runtime (checked
/// at compile time).
const _: fn(Client) = |client| {
    fn send<T: Send>(_: T) {}
    send(client.download("job", "dir").run());
};

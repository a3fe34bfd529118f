//! Memory stays flat while downloading: a file many times larger than the
//! download's write buffer is streamed to disk, and a counting global
//! allocator shows the peak of live heap bytes grows by far less than the
//! file's size.
//!
//! The test binary's allocator (`support::alloc`) counts the whole process, so the measurement runs in a
//! child process of this test binary that runs this one test alone; in the
//! parent (the normal test run) the test only spawns and checks that child.

use crate::support::{
    self, alloc,
    files::{FileSpec, generated_sha256},
    server::TestServer,
};

use std::time::Duration;

use userpilot_appex::{
    RetryPolicy,
    models::{ExportJob, JobStatus, PresignedUrl, SecretUrl},
};

/// The downloader writes through a 256 KiB buffer; the file is 128 times that.
const FILE_SIZE: u64 = 32 * 1024 * 1024;

#[test]
fn a_file_much_larger_than_the_buffer_downloads_in_flat_memory() {
    alloc::measure_in_child(
        "download_memory::a_file_much_larger_than_the_buffer_downloads_in_flat_memory",
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(measure())
        },
    );
}

async fn measure() {
    let server = TestServer::start().await;
    // The server generates the bytes as it sends them: it holds none either.
    server.file(
        "/files/huge",
        FileSpec::generated(FILE_SIZE).drop_after(FILE_SIZE / 2, 1),
    );
    let expected = generated_sha256(FILE_SIZE);
    let client = support::client(&server.base_url(), RetryPolicy::default());
    let job = ExportJob {
        job_id: Some("job-mem".into()),
        status: Some(JobStatus::Completed),
        presigned_urls: vec![PresignedUrl {
            filename: "huge.ndjson.gz".into(),
            url: SecretUrl::new(server.url("/files/huge", "sig")),
            ..PresignedUrl::default()
        }],
        ..ExportJob::default()
    };
    let dir = tempfile::tempdir().unwrap();

    let baseline = alloc::process_baseline();
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        client.download(&job, dir.path()).run(),
    )
    .await
    .expect("the download hung")
    .expect("download");
    let growth = alloc::process_peak_growth(baseline);

    assert_eq!(report.files[0].bytes, FILE_SIZE);
    assert_eq!(report.files[0].sha256, Some(expected));
    assert_eq!(server.hits("/files/huge"), 2, "dropped once, then resumed");
    assert_eq!(
        std::fs::metadata(dir.path().join("huge.ndjson.gz"))
            .unwrap()
            .len(),
        FILE_SIZE
    );
    assert!(
        growth < (FILE_SIZE / 4) as usize,
        "peak heap grew by {growth} bytes for a {FILE_SIZE}-byte file"
    );
    eprintln!("peak heap growth: {growth} bytes for a {FILE_SIZE}-byte file");
}

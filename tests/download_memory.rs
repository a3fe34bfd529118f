//! Memory stays flat while downloading: a file many times larger than the
//! download's write buffer is streamed to disk, and a counting global
//! allocator shows the peak of live heap bytes grows by far less than the
//! file's size.

#[path = "common/file_server.rs"]
mod file_server;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use file_server::{FileServer, FileSpec, generated_sha256};
use userpilot_appex::{
    Client,
    models::{ExportJob, JobStatus, PresignedUrl, SecretUrl},
};

/// Counts live heap bytes and their peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::SeqCst) + n;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The downloader writes through a 256 KiB buffer; the file is 128 times that.
const FILE_SIZE: u64 = 32 * 1024 * 1024;

#[tokio::test]
async fn a_file_much_larger_than_the_buffer_downloads_in_flat_memory() {
    let server = FileServer::start().await;
    // The server generates the bytes as it sends them: it holds none either.
    server.add(
        "/files/huge",
        FileSpec::generated(FILE_SIZE).drop_after(FILE_SIZE / 2, 1),
    );
    let expected = generated_sha256(FILE_SIZE);
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
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

    let baseline = CURRENT.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        client.download(&job, dir.path()).run(),
    )
    .await
    .expect("the download hung")
    .expect("download");
    let growth = PEAK.load(Ordering::SeqCst).saturating_sub(baseline);

    assert_eq!(report.files[0].bytes, FILE_SIZE);
    assert_eq!(report.files[0].sha256, expected);
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

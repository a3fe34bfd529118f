//! Helpers shared by the integration tests.

pub mod alloc;
#[cfg(feature = "cli")]
pub mod cli;
pub mod files;
pub mod logs;
pub mod mock;
#[cfg(feature = "dataset")]
pub mod python;
pub mod records;
pub mod server;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod spec;
#[cfg(all(feature = "simulator", feature = "dataset"))]
pub mod sync;

use userpilot_appex::{Client, RetryPolicy, models::LookupKind};

/// A path of the API: its prefix, then `suffix`, as a literal (so constants
/// and `concat!` can use it).
macro_rules! api_path {
    () => {
        "/api/v1/analytics/exports"
    };
    ($suffix:literal) => {
        concat!("/api/v1/analytics/exports", $suffix)
    };
}
pub(crate) use api_path;

/// The API's prefix: `POST` here triggers an export.
pub const EXPORTS: &str = api_path!();
/// The jobs collection (`GET` lists them); a job's path is [`job_path`].
pub const JOBS: &str = api_path!("/jobs/");
/// A job's path as the spec writes it.
pub const JOB_TEMPLATE: &str = api_path!("/jobs/{job_id}");
/// The lookups' prefix; a lookup's path is this plus its name.
pub const LOOKUPS: &str = api_path!("/lookups/");

/// The path segments of the plain (not paginated) lookups, from the lookup
/// table.
pub fn plain_lookups() -> impl Iterator<Item = &'static str> {
    LookupKind::ALL
        .iter()
        .filter(|k| !k.is_paginated())
        .map(|k| k.name())
}

/// The path segments of every lookup, from the lookup table.
pub fn all_lookups() -> impl Iterator<Item = &'static str> {
    LookupKind::ALL.iter().map(|k| k.name())
}

/// The path of one job.
pub fn job_path(id: &str) -> String {
    format!("{JOBS}{id}")
}

/// The seven event types of the export file contract, by wire name.
pub const EVENT_TYPES: [&str; 7] = [
    "identify_user",
    "identify_company",
    "interaction",
    "track",
    "track_feature",
    "page_view",
    "session_start",
];

/// The API key of every client the tests build.
pub const KEY: &str = "test-key-7f3a9c";

/// A client for `base_url` with [`KEY`] and this retry policy.
pub fn client(base_url: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .retry_policy(retry)
        .build()
        .expect("client builds")
}

/// A client for `server` with three quick retries (1–5 ms apart): the
/// download tests' client.
pub fn quick_client(server: &server::TestServer) -> Client {
    client(
        &server.base_url(),
        RetryPolicy::default().with_max_retries(3).with_backoff(
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(5),
        ),
    )
}

/// A completed job `id` listing `files` (name, presigned URL).
pub fn listed_job(id: &str, files: &[(&str, String)]) -> userpilot_appex::models::ExportJob {
    use userpilot_appex::models::{ExportJob, JobStatus, PresignedUrl, SecretUrl};
    ExportJob {
        job_id: Some(id.to_string()),
        status: Some(JobStatus::Completed),
        presigned_urls: files
            .iter()
            .map(|(name, url)| PresignedUrl {
                filename: name.to_string(),
                url: SecretUrl::new(url.clone()),
                ..PresignedUrl::default()
            })
            .collect(),
        ..ExportJob::default()
    }
}

/// Deterministic content of `len` bytes, different per `seed`.
pub fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32 * 7) as u8 ^ seed)
        .collect()
}

/// Runs `f` with a guard against hanging (not a timing assertion): a
/// download that has not ended after a minute fails the test.
pub async fn hang_guard<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), f)
        .await
        .expect("the download hung")
}

/// The sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

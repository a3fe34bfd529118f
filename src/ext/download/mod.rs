//! Downloading a completed export's files from their presigned URLs:
//! streamed to disk, several at once, resumed and retried, verified.
//!
//! Start from [`Client::download`]:
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::Client;
//!
//! let client = Client::from_env()?;
//! let report = client
//!     .download("123e4567-e89b-12d3-a456-426614174000", "exports/")
//!     .concurrency(4)
//!     .on_progress(|p| eprintln!("{} {}/{:?}", p.filename, p.file_bytes, p.file_total))
//!     .run()
//!     .await?;
//! for file in &report.files {
//!     println!("{} {} bytes sha256={}", file.path.display(), file.bytes, file.sha256);
//! }
//! # Ok(()) }
//! ```
//!
//! # What is on disk, and when
//! - Each file is written to `<name>.part` and renamed to `<name>` only once
//!   its length matches what the server announced (`Content-Length`, and
//!   the total of `Content-Range` when resuming), after an `fsync`. A file
//!   under its final name is always complete.
//! - A manifest, `.appex-download.json`, is kept in the target directory. It
//!   records the local name given to each file of each job (so names stay
//!   stable between runs and two jobs in one directory never overwrite each
//!   other) and, once a file is complete, its length and sha256.
//! - Re-running a download skips a file the manifest records as complete
//!   whose final file still exists with the recorded length (and, with
//!   [`Download::verify_existing`], the recorded sha256); it is reported
//!   with `skipped: true` and the recorded sha256. Anything else is fetched
//!   again.
//! - When a file fails for good, its final name is left untouched and its
//!   `.part` is **kept** (removed only if empty), so the next run resumes it
//!   with a `Range` request; the server's `Content-Range` must then start
//!   exactly where the `.part` ends, and a server that answers the whole
//!   file (`200`) instead simply restarts it. Files that did not fail are
//!   still completed (and recorded), then the first failure is returned.
//! - Names already in the directory that this job did not create are never
//!   overwritten: a colliding name becomes `name (2).ext`.

mod file;
mod filename;
mod manifest;

use std::{
    collections::HashSet,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use filename::sanitize_filename;

use crate::{
    Client, RetryPolicy,
    error::{Error, Result},
    models::{ExportJob, JobStatus},
};
use manifest::{Completed, Entry, MANIFEST_NAME, Manifest};

/// The job whose files to download: the job itself (as
/// [`Client::get_job`] returned it) or its id (fetched first).
#[derive(Clone, Debug)]
pub enum DownloadSource {
    /// A job already fetched.
    Job(Box<ExportJob>),
    /// A job id.
    JobId(String),
}

impl From<ExportJob> for DownloadSource {
    fn from(job: ExportJob) -> Self {
        DownloadSource::Job(Box::new(job))
    }
}

impl From<&ExportJob> for DownloadSource {
    fn from(job: &ExportJob) -> Self {
        DownloadSource::Job(Box::new(job.clone()))
    }
}

impl From<&str> for DownloadSource {
    fn from(id: &str) -> Self {
        DownloadSource::JobId(id.to_string())
    }
}

impl From<String> for DownloadSource {
    fn from(id: String) -> Self {
        DownloadSource::JobId(id)
    }
}

impl From<&String> for DownloadSource {
    fn from(id: &String) -> Self {
        DownloadSource::JobId(id.clone())
    }
}

/// The outcome of a download: one entry per file of the job, in the job's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadReport {
    /// The job's id (empty if the job carried none).
    pub job_id: String,
    /// The target directory.
    pub directory: PathBuf,
    /// The files, in the order the job lists them.
    pub files: Vec<DownloadedFile>,
}

impl DownloadReport {
    /// The bytes of all files, skipped ones included.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// One file on disk, complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadedFile {
    /// The local file name (sanitised and de-duplicated).
    pub filename: String,
    /// The name the server gave (untrusted; for reference only).
    pub source_filename: String,
    /// The file's path: the target directory joined with `filename`.
    pub path: PathBuf,
    /// Its length in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// `true` if it was already complete on disk and not downloaded again.
    pub skipped: bool,
}

/// What happened, in a [`DownloadProgress`] report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The server answered; `file_total` is known if it announced a length.
    Started,
    /// Bytes were written.
    Data,
    /// The server sent the whole file again (no resume): the file's bytes
    /// went back to zero.
    Restarted,
    /// A transient failure; the file will be retried (or resumed).
    Retrying,
    /// The file is complete under its final name.
    Finished,
    /// The file was already complete on disk.
    Skipped,
    /// The file failed for good.
    Failed,
}

/// A progress report, given to the [`Download::on_progress`] callback:
/// one file's bytes and the whole download's.
#[derive(Clone, Debug)]
pub struct DownloadProgress<'a> {
    /// What happened.
    pub event: ProgressEvent,
    /// The file's position in the job's list (0-based).
    pub index: usize,
    /// The file's local name.
    pub filename: &'a str,
    /// The file's bytes on disk so far.
    pub file_bytes: u64,
    /// The file's length, once the server announced it.
    pub file_total: Option<u64>,
    /// Bytes on disk so far, all files together (skipped files included).
    /// It goes back down when a file has to start over ([`ProgressEvent::Restarted`]).
    pub bytes: u64,
    /// The sum of the lengths known so far.
    pub total_known: u64,
    /// The length of the whole download, once every file's is known.
    pub total: Option<u64>,
    /// Files finished or skipped.
    pub files_done: usize,
    /// Files in the job.
    pub files_total: usize,
}

type ProgressFn = dyn Fn(&DownloadProgress<'_>) + Send + Sync;

/// Downloads the files of a completed export job into a directory. Built
/// by [`Client::download`]; nothing happens until [`run`](Self::run).
///
/// See the [module documentation](self) for what is written where, how a
/// re-run skips complete files, and what a failure leaves behind.
///
/// Requests go to the presigned URLs with a separate HTTP client that never
/// sends the `Authorization` header and never follows redirects (a `3xx` is
/// an error). The URLs' query strings (their signatures) appear in no log,
/// `Debug` output or error.
///
/// ```no_run
/// # async fn run() -> userpilot_appex::Result<()> {
/// use std::time::Duration;
/// use userpilot_appex::{Client, RetryPolicy};
///
/// let client = Client::from_env()?;
/// let job = client.get_job("123e4567-e89b-12d3-a456-426614174000").await?;
/// let report = client
///     .download(&job, "exports/")
///     .concurrency(2)
///     .retry(RetryPolicy::default().with_max_retries(8))
///     .stall_timeout(Duration::from_secs(30))
///     .run()
///     .await?;
/// println!("{} files, {} bytes", report.files.len(), report.total_bytes());
/// # Ok(()) }
/// ```
#[must_use = "a download does nothing until run() is awaited"]
pub struct Download {
    client: Client,
    source: DownloadSource,
    dir: PathBuf,
    concurrency: usize,
    retry: RetryPolicy,
    stall_timeout: Duration,
    verify_existing: bool,
    progress: Option<Arc<ProgressFn>>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            DownloadSource::Job(job) => job.job_id.clone().unwrap_or_default(),
            DownloadSource::JobId(id) => id.clone(),
        };
        f.debug_struct("Download")
            .field("job_id", &source)
            .field("dir", &self.dir)
            .field("concurrency", &self.concurrency)
            .field("retry", &self.retry)
            .field("stall_timeout", &self.stall_timeout)
            .field("verify_existing", &self.verify_existing)
            .field("on_progress", &self.progress.is_some())
            .finish()
    }
}

impl Client {
    /// Prepares the download of a completed job's files into `dir` (created
    /// if missing). `job` is an [`ExportJob`] (or a reference to one) or a
    /// job id, which is fetched first. See [`Download`].
    ///
    /// ```no_run
    /// # async fn run() -> userpilot_appex::Result<()> {
    /// let client = userpilot_appex::Client::from_env()?;
    /// let report = client.download("job-id", "exports/").run().await?;
    /// assert!(report.files.iter().all(|f| f.path.starts_with("exports/")));
    /// # Ok(()) }
    /// ```
    pub fn download(&self, job: impl Into<DownloadSource>, dir: impl Into<PathBuf>) -> Download {
        Download {
            client: self.clone(),
            source: job.into(),
            dir: dir.into(),
            concurrency: 4,
            retry: self.retry_policy().clone(),
            stall_timeout: Duration::from_secs(60),
            verify_existing: false,
            progress: None,
        }
    }
}

impl Download {
    /// How many files are fetched at once (default 4; at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How transient failures are retried (default: the client's
    /// [`RetryPolicy`]). Transient: a connection that fails or breaks
    /// mid-body, a stall, a body shorter than announced, `408`, `429` (its
    /// `Retry-After` honoured up to the policy's cap) and `5xx`. The count
    /// of retries starts again whenever a file gets further than before, so
    /// a long file on a flaky link keeps going while it makes progress.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long to wait for the answer, or for the next bytes of a body,
    /// before treating the connection as stalled (default 60 s). A stall is
    /// a transient failure.
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Before skipping a file already complete on disk, read it again and
    /// check its sha256 against the manifest (default `false`: its length
    /// is checked). A file that does not match is downloaded again.
    pub fn verify_existing(mut self, verify: bool) -> Self {
        self.verify_existing = verify;
        self
    }

    /// Calls `callback` as the download progresses: when a file starts,
    /// after each chunk written, on retries, and when a file finishes or is
    /// skipped. It runs on the download's task: keep it quick.
    pub fn on_progress<F>(mut self, callback: F) -> Self
    where
        F: Fn(&DownloadProgress<'_>) + Send + Sync + 'static,
    {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Runs the download. Returns the report once every file is complete,
    /// or the first error; see the [module documentation](self).
    ///
    /// Errors: the job's own (when fetched by id), [`Error::JobNotCompleted`],
    /// [`Error::Io`] for the directory or a file, [`Error::Download`] naming
    /// the file that failed.
    pub async fn run(self) -> Result<DownloadReport> {
        let (job, job_id) = match self.source {
            DownloadSource::Job(job) => {
                let id = job.job_id.clone().unwrap_or_default();
                (*job, id)
            }
            DownloadSource::JobId(id) => {
                let job = self.client.get_job(&id).await?;
                (job, id)
            }
        };
        match &job.status {
            Some(JobStatus::Completed) | None => {}
            Some(other) => {
                return Err(Error::JobNotCompleted {
                    job_id,
                    status: other.as_str().to_string(),
                });
            }
        }

        let dir = self.dir;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        let mut manifest = Manifest::load(&dir).await?;
        let plan = plan(&dir, &job_id, &job, &mut manifest).await;
        manifest.version = 1;
        manifest.save(&dir).await?;

        let sink = Sink::new(self.progress, plan.len());
        let mut report = vec![None; plan.len()];
        let mut to_fetch = Vec::new();
        for (index, planned) in plan.into_iter().enumerate() {
            match skip_if_complete(&planned, self.verify_existing).await {
                Some(done) => {
                    sink.skipped(index, &done.filename, done.bytes);
                    report[index] = Some(done);
                }
                None => to_fetch.push((index, planned)),
            }
        }

        let ctx = file::Context {
            http: self.client.download_http().clone(),
            job_id: job_id.clone(),
            retry: self.retry,
            stall: self.stall_timeout,
            sink: &sink,
            refresher: file::Refresher::new(self.client.clone(), &job_id, job.presigned_urls),
        };
        let mut results = futures::stream::iter(
            to_fetch
                .into_iter()
                .map(|(index, planned)| file::fetch(&ctx, index, planned)),
        )
        .buffer_unordered(self.concurrency);

        let mut first_error: Option<(usize, Error)> = None;
        while let Some((index, result)) = results.next().await {
            match result {
                Ok(done) => {
                    if let Some(entry) = manifest.jobs.get_mut(&job_id).and_then(|entries| {
                        entries.iter_mut().find(|e| e.filename == done.filename)
                    }) {
                        entry.complete = Some(Completed {
                            bytes: done.bytes,
                            sha256: done.sha256.clone(),
                        });
                    }
                    manifest.save(&dir).await?;
                    report[index] = Some(done);
                }
                Err(error) => {
                    tracing::warn!(job_id = %job_id, index, error = %error, "download failed");
                    if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
                        first_error = Some((index, error));
                    }
                }
            }
        }
        if let Some((_, error)) = first_error {
            return Err(error);
        }
        Ok(DownloadReport {
            job_id,
            directory: dir,
            files: report.into_iter().flatten().collect(),
        })
    }
}

/// One file to fetch: where it comes from and where it goes.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub source: String,
    pub occurrence: usize,
    pub url: crate::models::SecretUrl,
    pub filename: String,
    pub path: PathBuf,
    pub complete: Option<Completed>,
}

impl Planned {
    pub fn part_path(&self) -> PathBuf {
        part_path(&self.path)
    }
}

pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut os = path.as_os_str().to_owned();
    os.push(".part");
    PathBuf::from(os)
}

/// Whether something (file, directory, link…) is at `path`; an error other
/// than "not found" counts as something.
async fn occupied(path: &Path) -> bool {
    match tokio::fs::symlink_metadata(path).await {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Gives every file of the job a local name: the one the manifest reserved
/// for it in an earlier run, else its sanitised name, de-duplicated against
/// the other files, other jobs' names and anything already in the
/// directory. Records the names in the manifest (for this job).
async fn plan(dir: &Path, job_id: &str, job: &ExportJob, manifest: &mut Manifest) -> Vec<Planned> {
    let previous = manifest.jobs.remove(job_id).unwrap_or_default();
    // Lower-cased, for case-insensitive file systems.
    let mut taken: HashSet<String> = HashSet::new();
    taken.insert(MANIFEST_NAME.to_lowercase());
    taken.insert(format!("{MANIFEST_NAME}.tmp").to_lowercase());
    for entries in manifest.jobs.values() {
        for e in entries {
            taken.insert(e.filename.to_lowercase());
            taken.insert(format!("{}.part", e.filename).to_lowercase());
        }
    }

    let mut occurrences: Vec<(String, usize)> = Vec::new();
    let mut slots: Vec<Option<Entry>> = Vec::new();
    for p in &job.presigned_urls {
        let occurrence = occurrences.iter().filter(|(s, _)| *s == p.filename).count();
        occurrences.push((p.filename.clone(), occurrence));
        // Reuse this job's earlier name, if it is still a safe, free name.
        let kept = previous
            .iter()
            .find(|e| e.source == p.filename && e.occurrence == occurrence)
            .filter(|e| sanitize_filename(&e.filename).is_ok_and(|n| n == e.filename))
            .filter(|e| {
                !taken.contains(&e.filename.to_lowercase())
                    && !taken.contains(&format!("{}.part", e.filename).to_lowercase())
            })
            .cloned();
        if let Some(e) = &kept {
            taken.insert(e.filename.to_lowercase());
            taken.insert(format!("{}.part", e.filename).to_lowercase());
        }
        slots.push(kept);
    }

    let mut planned = Vec::with_capacity(slots.len());
    let mut entries = Vec::with_capacity(slots.len());
    for (index, (p, slot)) in job.presigned_urls.iter().zip(slots).enumerate() {
        let occurrence = occurrences[index].1;
        let entry = match slot {
            Some(e) => e,
            None => {
                let base = filename::local_name(&p.filename, index);
                let mut n = 1;
                let name = loop {
                    let candidate = if n == 1 {
                        base.clone()
                    } else {
                        filename::numbered(&base, n)
                    };
                    n += 1;
                    let part = format!("{candidate}.part");
                    if taken.contains(&candidate.to_lowercase())
                        || taken.contains(&part.to_lowercase())
                        || occupied(&dir.join(&candidate)).await
                        || occupied(&dir.join(&part)).await
                    {
                        continue;
                    }
                    break candidate;
                };
                if name != p.filename {
                    tracing::info!(source = ?p.filename, local = %name, "file renamed for safety or uniqueness");
                }
                taken.insert(name.to_lowercase());
                taken.insert(format!("{name}.part").to_lowercase());
                Entry {
                    source: p.filename.clone(),
                    occurrence,
                    filename: name,
                    complete: None,
                }
            }
        };
        planned.push(Planned {
            source: p.filename.clone(),
            occurrence,
            url: p.url.clone(),
            filename: entry.filename.clone(),
            path: dir.join(&entry.filename),
            complete: entry.complete.clone(),
        });
        entries.push(entry);
    }
    manifest.jobs.insert(job_id.to_string(), entries);
    planned
}

/// The file as skipped, if the manifest says it is complete and the file
/// on disk still has its length (and, when asked, its sha256).
async fn skip_if_complete(planned: &Planned, verify: bool) -> Option<DownloadedFile> {
    let done = planned.complete.as_ref()?;
    let meta = tokio::fs::symlink_metadata(&planned.path).await.ok()?;
    if !meta.is_file() || meta.len() != done.bytes {
        return None;
    }
    if verify {
        let (len, sha) = file::hash_file(&planned.path).await.ok()?;
        if len != done.bytes || sha != done.sha256 {
            tracing::info!(file = %planned.filename, "file on disk differs from the manifest; downloading again");
            return None;
        }
    }
    Some(DownloadedFile {
        filename: planned.filename.clone(),
        source_filename: planned.source.clone(),
        path: planned.path.clone(),
        bytes: done.bytes,
        sha256: done.sha256.clone(),
        skipped: true,
    })
}

/// Progress bookkeeping and the user's callback.
pub(crate) struct Sink {
    callback: Option<Arc<ProgressFn>>,
    state: Mutex<Overall>,
}

struct Overall {
    done: Vec<u64>,
    totals: Vec<Option<u64>>,
    bytes: u64,
    total_known: u64,
    unknown: usize,
    files_done: usize,
}

impl Sink {
    fn new(callback: Option<Arc<ProgressFn>>, files: usize) -> Self {
        Sink {
            callback,
            state: Mutex::new(Overall {
                done: vec![0; files],
                totals: vec![None; files],
                bytes: 0,
                total_known: 0,
                unknown: files,
                files_done: 0,
            }),
        }
    }

    fn skipped(&self, index: usize, filename: &str, bytes: u64) {
        self.emit(ProgressEvent::Skipped, index, filename, bytes, Some(bytes));
    }

    /// Records a file's state and reports it.
    pub(crate) fn emit(
        &self,
        event: ProgressEvent,
        index: usize,
        filename: &str,
        file_bytes: u64,
        file_total: Option<u64>,
    ) {
        let Some(callback) = &self.callback else {
            return;
        };
        let progress = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            let Some(old) = s.done.get(index).copied() else {
                return;
            };
            s.done[index] = file_bytes;
            s.bytes = s.bytes - old + file_bytes;
            if let Some(total) = file_total {
                match s.totals[index].replace(total) {
                    Some(prev) => s.total_known = s.total_known - prev + total,
                    None => {
                        s.total_known += total;
                        s.unknown -= 1;
                    }
                }
            }
            if matches!(event, ProgressEvent::Finished | ProgressEvent::Skipped) {
                s.files_done += 1;
            }
            DownloadProgress {
                event,
                index,
                filename,
                file_bytes,
                file_total: s.totals[index],
                bytes: s.bytes,
                total_known: s.total_known,
                total: (s.unknown == 0).then_some(s.total_known),
                files_done: s.files_done,
                files_total: s.done.len(),
            }
        };
        callback(&progress);
    }
}

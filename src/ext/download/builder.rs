//! The [`Download`] builder and its run: lock the directory, name the
//! files, skip what is complete, fetch the rest a few at a time.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use tokio::sync::watch;

use super::{
    DownloadReport, DownloadedFile,
    file::{self, Fetched},
    lock::{DirectoryLock, LockPolicy},
    manifest::{Manifest, ManifestStore},
    naming::{self, Planned},
    part::{self, Checksum, Durability, ExistingCheck},
    progress::{DownloadProgress, ProgressFn, ProgressTracker},
    refresh::UrlRefresher,
};
use crate::{
    Client, RetryPolicy,
    error::{Error, LockHolder, Result},
    models::{ExportJob, JobStatus},
};

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

/// Downloads the files of a completed export job into a directory. Built
/// by [`Client::download`]; nothing happens until [`run`](Self::run).
///
/// See the [module documentation](super) for what is written where, how a
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
///     .retry_policy(RetryPolicy::default().with_max_retries(8))
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
    verify_existing: ExistingCheck,
    durability: Durability,
    checksum: Checksum,
    lock_policy: LockPolicy,
    progress: Option<Arc<ProgressFn>>,
    lock_wait: Option<LockWaitFn>,
    stop: Option<StopSignal>,
}

type LockWaitFn = Box<dyn FnOnce(Option<LockHolder>, Option<u32>) + Send + 'static>;
type StopSignal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

crate::macros::debug_fields!(Download {
    job_id = |d| match &d.source {
        DownloadSource::Job(job) => job.job_id.clone().unwrap_or_default(),
        DownloadSource::JobId(id) => id.clone(),
    },
    dir,
    concurrency,
    retry,
    stall_timeout,
    verify_existing,
    durability,
    checksum,
    lock_policy,
    on_progress = |d| d.progress.is_some(),
    on_lock_wait = |d| d.lock_wait.is_some(),
    stop_on = |d| d.stop.is_some(),
});

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
            verify_existing: ExistingCheck::Length,
            durability: Durability::default(),
            checksum: Checksum::default(),
            lock_policy: LockPolicy::default(),
            progress: None,
            lock_wait: None,
            stop: None,
        }
    }
}

impl Download {
    crate::macros::setters! {
        /// How many files are fetched at once (default 4; at least 1).
        concurrency(n: usize) => concurrency = n.max(1);
        /// How transient failures are retried (default: the client's
        /// [`RetryPolicy`]). Transient: a connection that fails or breaks
        /// mid-body, a stall, a body shorter than announced, `408`, `429` (its
        /// `Retry-After` honoured up to the policy's cap) and `5xx`. The count
        /// of retries starts again whenever a file gets further than before, so
        /// a long file on a flaky link keeps going while it makes progress.
        retry_policy(policy: RetryPolicy) => retry = policy;
        /// How long to wait for the answer, or for the next bytes of a body,
        /// before treating the connection as stalled (default 60 s). A stall is
        /// a transient failure.
        stall_timeout(timeout: Duration) => stall_timeout = timeout;
        /// How a file already complete on disk is checked before it is
        /// skipped (default [`ExistingCheck::Length`]; [`ExistingCheck::Sha256`]
        /// reads it again). A file that does not match is downloaded again,
        /// and so is, under [`ExistingCheck::Sha256`], a file whose manifest
        /// entry has no sha256 to compare with (one completed with
        /// [`Checksum::None`]).
        verify_existing(check: ExistingCheck) => verify_existing = check;
        /// Whether files are fsynced before they get their final name
        /// (default [`Durability::Fsync`]). [`Durability::None`] suits staging
        /// directories whose files are converted and thrown away.
        durability(durability: Durability) => durability = durability;
        /// Whether each file's SHA-256 is computed as it lands (default
        /// [`Checksum::Sha256`]: reported in [`DownloadedFile::sha256`] and
        /// recorded in the manifest). [`Checksum::None`] computes nothing,
        /// for staging directories (it pairs with [`Durability::None`]); a
        /// later run with [`ExistingCheck::Sha256`] then cannot verify the
        /// file and downloads it again.
        checksum(checksum: Checksum) => checksum = checksum;
        /// What to do when another download holds the directory (default
        /// [`LockPolicy::Wait`]; [`LockPolicy::FailFast`] returns
        /// [`Error::DirectoryBusy`] at once).
        lock_policy(policy: LockPolicy) => lock_policy = policy;
    }

    /// Stops the download cleanly when `signal` resolves (a Ctrl-C, a
    /// shutdown): no new request starts, each transfer stops, its `.part`
    /// is synced with exactly the bytes received, the manifest is saved,
    /// and [`run`](Self::run) returns [`Error::Interrupted`] (or the report,
    /// if every file was already complete). Needs a Tokio runtime.
    ///
    /// ```no_run
    /// # async fn run(client: userpilot_appex::Client) -> userpilot_appex::Result<()> {
    /// let stop = async {
    ///     let _ = tokio::signal::ctrl_c().await;
    /// };
    /// # let stop = async {};
    /// client.download("job-id", "exports/").stop_on(stop).run().await?;
    /// # Ok(()) }
    /// ```
    pub fn stop_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.stop = Some(Box::pin(signal));
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

    /// Calls `callback` once if the download has to wait for another run
    /// holding the directory ([`LockPolicy::Wait`]), with what holds it (a
    /// download or a sync) and its process id as far as the holder recorded
    /// them ([`LockHolder::describe`]
    /// words it): the moment to tell the user why nothing moves.
    pub fn on_lock_wait(
        mut self,
        callback: impl FnOnce(Option<LockHolder>, Option<u32>) + Send + 'static,
    ) -> Self {
        self.lock_wait = Some(Box::new(callback));
        self
    }

    /// Runs the download. Returns the report once every file is complete,
    /// or the first error; see the [module documentation](super).
    ///
    /// Errors: the job's own (when fetched by id), [`Error::JobNotCompleted`],
    /// [`Error::DirectoryBusy`], [`Error::Interrupted`], [`Error::Io`] for
    /// the directory or a file, [`Error::Download`] naming the file that
    /// failed.
    ///
    /// Cancel-safe: dropping the future at any point leaves a state the
    /// next run resumes from (complete files recorded, each `.part` holding
    /// the bytes received, the object version it holds recorded).
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
                    status: other.clone(),
                });
            }
        }

        let dir = self.dir;
        let io = |source| Error::Io {
            path: dir.clone(),
            source,
        };
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let on_wait = self.lock_wait.unwrap_or_else(|| Box::new(|_, _| {}));
        let lock = Arc::new(
            DirectoryLock::acquire(&dir, LockHolder::Download, self.lock_policy, on_wait).await?,
        );
        let mut manifest = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Manifest::load(&dir))
                .await
                .map_err(|e| io(std::io::Error::other(e)))??
        };
        let plan = naming::plan(&dir, &job_id, &job, &mut manifest).await;
        manifest.version = 1;
        let manifest = ManifestStore::new(dir.clone(), manifest, self.durability);
        manifest.update(|_| {}).await?;

        let progress = ProgressTracker::new(self.progress, plan.len());
        let files_total = plan.len();
        let mut report = vec![None; plan.len()];
        let mut to_fetch = Vec::new();
        for (index, planned) in plan.into_iter().enumerate() {
            match skip_if_complete(&planned, self.verify_existing).await {
                Some(done) => {
                    progress.skipped(index, &done.filename, done.bytes);
                    report[index] = Some(done);
                }
                None => to_fetch.push((index, planned)),
            }
        }

        let (stop_tx, stop) = watch::channel(false);
        let _stop_watch = self.stop.map(|signal| {
            AbortOnDrop(tokio::spawn(async move {
                signal.await;
                let _ = stop_tx.send(true);
            }))
        });
        let ctx = file::Context {
            http: self.client.download_http().clone(),
            job_id: job_id.clone(),
            retry: self.retry,
            stall: self.stall_timeout,
            durability: self.durability,
            checksum: self.checksum,
            progress: &progress,
            refresher: UrlRefresher::new(self.client.clone(), &job_id, job.presigned_urls),
            manifest: &manifest,
            lock,
            stop,
        };
        let fetched = to_fetch.len();
        let mut results = futures::stream::iter(
            to_fetch
                .into_iter()
                .map(|(index, planned)| file::fetch(&ctx, index, planned)),
        )
        .buffer_unordered(self.concurrency);

        let mut first_error: Option<(usize, Error)> = None;
        let mut interrupted = false;
        while let Some((index, result)) = results.next().await {
            match result {
                Ok(Fetched::Done(done)) => report[index] = Some(done),
                Ok(Fetched::Interrupted) => interrupted = true,
                Err(error) => {
                    tracing::warn!(job_id = %job_id, index, error = %error, "download failed");
                    if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
                        first_error = Some((index, error));
                    }
                }
            }
        }
        drop(results);
        if self.durability == Durability::Fsync && fetched > 0 {
            // Once per run: makes the renames (and the manifest's) durable.
            sync_dir(&dir).await;
        }
        if interrupted {
            return Err(Error::Interrupted {
                files_complete: report.iter().flatten().count(),
                files_total,
            });
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

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes renames in `dir` durable (best effort; a no-op where directories
/// cannot be opened).
async fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The file as skipped, if the manifest says it is complete and the file
/// on disk still has its length (and, when asked, its sha256: a manifest
/// entry without one cannot vouch for the file, which is fetched again).
async fn skip_if_complete(planned: &Planned, check: ExistingCheck) -> Option<DownloadedFile> {
    let done = planned.complete.as_ref()?;
    let meta = tokio::fs::symlink_metadata(&planned.path).await.ok()?;
    if !meta.is_file() || meta.len() != done.bytes {
        return None;
    }
    if check == ExistingCheck::Sha256 {
        let Some(recorded) = done.sha256.as_deref() else {
            tracing::info!(file = %planned.filename, "no sha256 recorded to verify the file with; downloading again");
            return None;
        };
        let (len, sha) = part::hash_file(&planned.path).await.ok()?;
        if len != done.bytes || sha != recorded {
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

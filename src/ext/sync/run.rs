//! Running a sync: one window at a time, trigger → wait → stage → land →
//! commit, resuming an interrupted run's job.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tokio::{sync::Notify, time::Instant};

use super::{
    Checkpoint, FilterChange, LookupRefresh, SyncRun,
    lock::{Acquire, SyncLock},
    plan::{SyncPlan, Window, halve},
    report::{DayReport, JobSource, SyncProgress, SyncReport, WindowReport},
    state::{InFlight, RunRecord, STATE_KEY, SyncState, filters_hash, request_hash},
};
use crate::{
    Client,
    dataset::{self, Destination, DestinationOptions, LandOptions},
    error::{Error, Result},
    ext::{
        download::{Checksum, Durability, ProgressEvent},
        export::ConflictPolicy,
        jobs::WaitPolicy,
    },
    generated::types::{ExportFormat, ExportRequest},
    models::{ExportJob, JobStatus},
};

/// Where staged files go when the destination is not a local directory.
const STAGING_KEY: &str = "_appex/staging";

impl SyncState {
    /// Reads the state of the destination `destination` (a directory or
    /// `s3://bucket/prefix`); an empty state when it was never synced.
    ///
    /// Reading changes nothing: a local directory that does not exist is
    /// not created (its state is empty).
    pub async fn load(destination: &str) -> Result<SyncState> {
        Self::load_with(destination, &DestinationOptions::default()).await
    }

    /// [`load`](Self::load), reaching an S3 destination with `options`
    /// (endpoint, settings) over the `AWS_*` variables.
    pub async fn load_with(destination: &str, options: &DestinationOptions) -> Result<SyncState> {
        if local_root(destination).is_some_and(|root| !root.exists()) {
            return Ok(SyncState::empty());
        }
        let dest = dataset::open(destination, options)?;
        load_state(dest.as_ref()).await
    }
}

async fn load_state(dest: &dyn Destination) -> Result<SyncState> {
    match dest.get(STATE_KEY).await? {
        Some(bytes) => SyncState::from_json(&bytes),
        None => Ok(SyncState::empty()),
    }
}

async fn save_state(dest: &dyn Destination, state: &SyncState) -> Result<()> {
    dest.put(STATE_KEY, state.to_json().into()).await
}

fn yesterday() -> NaiveDate {
    Utc::now().date_naive().pred_opt().unwrap_or(NaiveDate::MIN)
}

/// The state checked against the filters, and the plan it leads to.
fn checked(
    sync: &SyncRun,
    mut state: SyncState,
    start: NaiveDate,
    end: NaiveDate,
    template: ExportRequest,
) -> Result<(SyncState, ExportRequest, SyncPlan)> {
    let hash = filters_hash(&template);
    match &state.filters_hash {
        Some(old) if *old != hash && sync.scope.filter_change == FilterChange::Refuse => {
            return Err(Error::InvalidInput(format!(
                "{} was synced with other export filters; run with --reset to start over with these",
                sync.target.location
            )));
        }
        Some(old) if *old != hash => {
            state = SyncState::empty();
            state.filters_hash = Some(hash);
        }
        Some(_) => {}
        None => state.filters_hash = Some(hash),
    }
    state.lookback_days = Some(sync.scope.days.lookback);
    let window_days = state.window_days.map_or(sync.scope.days.window, |known| {
        known.min(sync.scope.days.window)
    });
    let plan = SyncPlan::new(
        start,
        end,
        state.watermark,
        sync.scope.days.lookback,
        window_days,
    );
    Ok((state, template, plan))
}

/// The days and the request template, checked.
fn days_and_template(sync: &SyncRun) -> Result<(NaiveDate, NaiveDate, ExportRequest)> {
    let start = sync.scope.days.start.ok_or_else(|| {
        Error::InvalidInput("a sync needs a start day (--start YYYY-MM-DD)".into())
    })?;
    let end = sync.scope.days.end.unwrap_or_else(yesterday);
    if start > end {
        return Err(Error::InvalidInput(format!(
            "the start day {start} is after the end day {end}"
        )));
    }
    let template = sync
        .scope
        .filters
        .clone()
        .range(start, end)
        .format(ExportFormat::Ndjson)
        .build()?;
    Ok((start, end, template))
}

/// The plan, from the state as it is; creates and writes nothing.
pub(super) async fn plan(sync: &SyncRun) -> Result<SyncPlan> {
    let (start, end, template) = days_and_template(sync)?;
    let state = SyncState::load_with(&sync.target.location, &sync.target.options).await?;
    Ok(checked(sync, state, start, end, template)?.2)
}

/// The request for one window: the filters, the window's days.
fn window_request(template: &ExportRequest, window: Window) -> ExportRequest {
    let mut request = template.clone();
    request.from = Some(window.first.format("%Y-%m-%d").to_string());
    request.to = Some(window.last.format("%Y-%m-%d").to_string());
    request.emails.clear();
    request
}

/// Everything one run carries from window to window.
struct Runner<'a> {
    client: Client,
    lock: &'a SyncLock,
    dest: Arc<dyn Destination>,
    state: SyncState,
    template: ExportRequest,
    staging: PathBuf,
    wait: WaitPolicy,
    max_wait_other: Duration,
    progress: Arc<Mutex<Option<super::builder::ProgressFn>>>,
    checkpoint: Option<super::builder::CheckpointFn>,
    requests: Arc<AtomicU64>,
    report: SyncReport,
}

/// How a window ended, short of an error.
enum WindowEnd {
    Committed,
    /// The server refused the range as too long.
    Refused(Error),
}

pub(super) async fn run(mut sync: SyncRun) -> Result<SyncReport> {
    let started = Instant::now();
    let started_at = Utc::now();
    days_and_template(&sync)?;
    let dest = dataset::open(&sync.target.location, &sync.target.options)?;
    // Held until the run ends: the state is read and written by one run
    // at a time.
    let root = local_root(&sync.target.location);
    let lock = Acquire {
        dest: &dest,
        local: root.as_deref(),
        policy: sync.waits.lock,
        expiry: sync.waits.lock_expiry,
        wait: &sync.waits.job,
    }
    .run(|holder| {
        if let Some(callback) = sync.hooks.progress.as_mut() {
            callback(&SyncProgress::WaitingForLock { holder });
        }
    })
    .await?;
    let result = locked(sync, dest, &lock, started, started_at).await;
    let released = lock.release().await;
    let report = result?;
    released?;
    Ok(report)
}

/// The run, once the destination is locked.
async fn locked(
    mut sync: SyncRun,
    dest: Arc<dyn Destination>,
    lock: &SyncLock,
    started: Instant,
    started_at: chrono::DateTime<Utc>,
) -> Result<SyncReport> {
    let (start, end, template) = days_and_template(&sync)?;
    let state = load_state(dest.as_ref()).await?;
    let (state, template, plan) = checked(&sync, state, start, end, template)?;
    let staging = match sync.target.staging.take() {
        Some(dir) => dir,
        None => default_staging(&sync.target.location, &dest),
    };
    let mut runner = Runner {
        client: sync.client.clone(),
        lock,
        dest,
        state,
        template,
        staging,
        wait: sync.waits.job.clone(),
        max_wait_other: sync.waits.other_export,
        progress: Arc::new(Mutex::new(sync.hooks.progress.take())),
        checkpoint: sync.hooks.checkpoint.clone(),
        requests: Arc::default(),
        report: SyncReport {
            windows_planned: plan.windows.len(),
            window_days: plan.window_days,
            plan: Some(plan.clone()),
            ..SyncReport::default()
        },
    };
    runner.emit(SyncProgress::Planned { plan: plan.clone() });

    let mut window_days = plan.window_days;
    let mut cursor = plan.windows.first().map(|w| w.first);
    // An interrupted run's job comes first when it lies in this plan.
    let mut resume = runner.state.in_flight.clone().filter(|job| {
        cursor.is_some_and(|from| job.window.first >= from && job.window.last <= plan.end)
    });
    if let Some(job) = &resume {
        cursor = Some(job.window.first);
    }
    let requests = runner.requests.clone();
    let lookups = sync.scope.lookups;
    let result: Result<()> = crate::client::count_requests(requests, async {
        while let Some(first) = cursor {
            let window = match &resume {
                Some(job) => job.window,
                None => match Window::next(first, plan.end, window_days) {
                    Some(w) => w,
                    None => break,
                },
            };
            let job = resume.take();
            match runner.window(window, window_days, job).await? {
                WindowEnd::Committed => cursor = window.last.succ_opt().filter(|d| *d <= plan.end),
                WindowEnd::Refused(error) => {
                    let Some(smaller) = halve(window.days()) else {
                        return Err(error);
                    };
                    window_days = smaller;
                    runner.report.window_days = smaller;
                    runner.emit(SyncProgress::Halved {
                        refused: window,
                        window_days: smaller,
                    });
                }
            }
        }
        if lookups == LookupRefresh::Refresh {
            runner.refresh_lookups().await?;
        }
        Ok(())
    })
    .await;
    let error = match result {
        Ok(()) => {
            runner.finish(started, started_at, true).await?;
            return Ok(runner.report);
        }
        Err(error) if is_injected(&error) => return Err(error),
        Err(error) => error,
    };
    if let Err(save_error) = runner.finish(started, started_at, false).await {
        tracing::warn!(error = %save_error, "could not record the stopped run in the state");
    }
    if runner.report.windows.iter().any(|w| w.committed) {
        Err(Error::SyncIncomplete {
            report: Box::new(runner.report),
            source: Box::new(error),
        })
    } else {
        Err(error)
    }
}

/// The directory of a local destination (`None` for `s3://…`).
fn local_root(destination: &str) -> Option<PathBuf> {
    (!destination.contains("://")).then(|| PathBuf::from(destination))
}

fn default_staging(destination: &str, dest: &Arc<dyn Destination>) -> PathBuf {
    match local_root(destination) {
        Some(root) => root.join(STAGING_KEY),
        None => {
            let name = hex::encode(&Sha256::digest(dest.describe().as_bytes())[..8]);
            std::env::temp_dir().join(format!("appex-sync-staging-{name}"))
        }
    }
}

/// `true` for the error a [`Checkpoint`] hook stops a run with.
fn is_injected(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::Interrupted
        && source.to_string().starts_with("sync stopped at checkpoint"))
}

/// A refusal of the range as too long: `400`/`422` whose error names the range.
fn is_range_refusal(error: &Error) -> bool {
    let Error::Api(failure) = error else {
        return false;
    };
    if !matches!(failure.status.as_u16(), 400 | 422) {
        return false;
    }
    let mentions = |text: &Option<String>| {
        text.as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("range"))
    };
    failure
        .errors
        .iter()
        .any(|e| mentions(&e.details) || mentions(&e.message) || mentions(&e.error))
        || mentions(&failure.body_excerpt)
}

impl Runner<'_> {
    /// Saves the state, if the lock is still this run's.
    async fn save(&self) -> Result<()> {
        self.lock.check()?;
        save_state(self.dest.as_ref(), &self.state).await
    }

    fn emit(&self, event: SyncProgress) {
        if let Ok(mut guard) = self.progress.lock()
            && let Some(callback) = guard.as_mut()
        {
            callback(&event);
        }
    }

    /// Stops the run here if the test hook says so.
    fn checkpoint(&self, at: Checkpoint) -> Result<()> {
        match &self.checkpoint {
            Some(hook) if hook(at) => Err(injected(at)),
            _ => Ok(()),
        }
    }

    /// Runs one window to its commit.
    async fn window(
        &mut self,
        window: Window,
        window_days: u32,
        resume: Option<InFlight>,
    ) -> Result<WindowEnd> {
        let request = window_request(&self.template, window);
        let hash = request_hash(&request);
        let resumed = match resume.filter(|job| job.request_hash == hash) {
            Some(job) => self.resume(&job).await?,
            None => None,
        };
        let (job_id, source, triggered_at) = match resumed {
            Some((id, at)) => (id, JobSource::Resumed, at),
            None => match self.trigger(&request, &hash).await {
                Ok(id) => {
                    let at = Utc::now();
                    self.state.in_flight = Some(InFlight {
                        job_id: id.clone(),
                        window,
                        request_hash: hash,
                        triggered_at: at,
                    });
                    self.save().await?;
                    self.checkpoint(Checkpoint::AfterTrigger)?;
                    (id, JobSource::Triggered, at)
                }
                Err(error) if is_range_refusal(&error) => {
                    self.report.windows.push(WindowReport {
                        window,
                        job_id: String::new(),
                        job: JobSource::Refused,
                        committed: false,
                    });
                    return Ok(WindowEnd::Refused(error));
                }
                Err(error) => return Err(error),
            },
        };
        self.report.windows.push(WindowReport {
            window,
            job_id: job_id.clone(),
            job: source,
            committed: false,
        });
        self.emit(SyncProgress::WindowStarted {
            window,
            job_id: job_id.clone(),
            source,
        });

        let job = self.wait_for(&job_id, window).await?;
        let dir = self
            .staging
            .join(crate::ext::download::sanitize_filename(&job_id)?);
        let files = self.stage(job, &dir).await?;
        self.checkpoint(Checkpoint::AfterStaging)?;

        // One file at a time: memory follows the largest file, and a kill
        // between two files leaves whole days landed (landing them again
        // drops the duplicates).
        let options = LandOptions {
            job_id: Some(job_id.clone()),
            export_range: Some((midnight(window.first), midnight_after(window.last))),
            ..LandOptions::default()
        };
        let mut landed = Vec::new();
        for (i, file) in files.iter().enumerate() {
            if i == 1 {
                self.checkpoint(Checkpoint::MidLanding)?;
            }
            let report =
                dataset::land_files(self.dest.as_ref(), std::slice::from_ref(file), &options)
                    .await?;
            landed.extend(report.days);
        }
        if files.len() <= 1 {
            self.checkpoint(Checkpoint::MidLanding)?;
        }
        self.checkpoint(Checkpoint::AfterLanding)?;

        for day in &landed {
            let reread = self.state.days.contains_key(&day.day);
            let report = DayReport {
                day: day.day,
                rows_before: day.rows_before,
                rows: day.rows_after,
                new_rows: day.rows_new,
                reread,
                checksum: day.sha256.clone(),
            };
            self.report.new_rows += report.new_rows;
            if reread {
                self.report.late_rows += report.new_rows;
            }
            self.report.duplicates_dropped += day.duplicates_dropped;
            self.state
                .record_day(day.day, day.rows_after, day.sha256.clone(), triggered_at);
            self.emit(SyncProgress::DayLanded {
                day: report.clone(),
            });
            self.report.days.push(report);
        }
        // Days of the window the export had no event for.
        for day in window.iter_days() {
            if !self.state.days.contains_key(&day) {
                self.state.record_day(day, 0, String::new(), triggered_at);
            } else if let Some(known) = self.state.days.get_mut(&day) {
                known.exported_at = known.exported_at.max(triggered_at);
            }
        }
        self.state.advance(window.last);
        self.state.in_flight = None;
        self.state.window_days = Some(window_days.max(window.days()).min(window_days));
        self.save().await?;
        self.checkpoint(Checkpoint::AfterStateWrite)?;
        if let Err(error) = tokio::fs::remove_dir_all(&dir).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), %error, "could not remove the staging directory");
        }
        if let Some(entry) = self.report.windows.last_mut() {
            entry.committed = true;
        }
        self.report.watermark = self.state.watermark;
        self.emit(SyncProgress::WindowCommitted { window });
        Ok(WindowEnd::Committed)
    }

    /// The interrupted run's job, if it can still be used: `Some` when the
    /// server still knows it and it has not failed (it is then waited for,
    /// not triggered again); `None` when it is gone (`404`, past the job
    /// retention) or failed, and the window must be triggered again.
    async fn resume(&mut self, job: &InFlight) -> Result<Option<(String, chrono::DateTime<Utc>)>> {
        match self.client.get_job(&job.job_id).await {
            Ok(found) if found.status() == JobStatus::Failed => Ok(None),
            Ok(_) => Ok(Some((job.job_id.clone(), job.triggered_at))),
            Err(Error::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Triggers the window's export; waits (bounded) for someone else's.
    async fn trigger(&mut self, request: &ExportRequest, hash: &str) -> Result<String> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self
                .client
                .trigger_export_with_conflict_policy(request, &ConflictPolicy::Fail, &self.wait)
                .await
            {
                Ok(handle) => {
                    self.report.exports_triggered += 1;
                    return Ok(handle.job_id().to_string());
                }
                Err(error @ Error::Conflict(_)) if attempts < 4 => error,
                Err(error) => return Err(error),
            };
            let running = self
                .client
                .list_jobs()
                .await?
                .into_iter()
                .filter(|job| job.status.as_ref().is_some_and(|s| !s.is_terminal()))
                .find_map(|job| job.job_id);
            let Some(other) = running else {
                tokio::time::sleep(self.wait.delay(1)).await;
                continue;
            };
            // This sync's own job for this very request (its trigger's
            // answer was lost, or it was not visible at the resume): follow it.
            if self
                .state
                .in_flight
                .as_ref()
                .is_some_and(|job| job.job_id == other && job.request_hash == hash)
            {
                return Ok(other);
            }
            self.emit(SyncProgress::WaitingForOther {
                job_id: other.clone(),
            });
            let policy = self.wait.clone().with_max_wait(self.max_wait_other);
            let poller = self.client.job(&other).wait_policy(policy).poller();
            match poller.wait().await {
                Ok(_) | Err(Error::JobFailed { .. }) | Err(Error::NotFound(_)) => {}
                Err(Error::WaitTimeout { .. }) => return Err(error),
                Err(other_error) => return Err(other_error),
            }
        }
    }

    /// Waits for the window's job to complete.
    async fn wait_for(&self, job_id: &str, window: Window) -> Result<ExportJob> {
        let stop = Arc::new(Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let hook = self.checkpoint.clone();
        let progress = self.progress.clone();
        let (stop_tx, stopped_tx) = (stop.clone(), stopped.clone());
        let poller = self
            .client
            .job(job_id)
            .wait_policy(self.wait.clone())
            .poller()
            .on_progress(move |update| {
                if let Ok(mut guard) = progress.lock()
                    && let Some(callback) = guard.as_mut()
                {
                    callback(&SyncProgress::Job {
                        window,
                        status: update
                            .status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        fraction: update.progress.fraction,
                    });
                }
                if !stopped_tx.load(Ordering::Relaxed)
                    && hook.as_ref().is_some_and(|hook| hook(Checkpoint::MidWait))
                {
                    stopped_tx.store(true, Ordering::Relaxed);
                    stop_tx.notify_one();
                }
            });
        let job = tokio::select! {
            biased;
            _ = stop.notified() => return Err(injected(Checkpoint::MidWait)),
            job = poller.wait() => job,
        };
        if stopped.load(Ordering::Relaxed) {
            return Err(injected(Checkpoint::MidWait));
        }
        job
    }

    /// Downloads the job's files into `dir` (complete files already there
    /// are reused); returns their paths in the job's order.
    async fn stage(&self, job: ExportJob, dir: &Path) -> Result<Vec<PathBuf>> {
        let stop = Arc::new(Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let hook = self.checkpoint.clone();
        let (stop_tx, stopped_tx) = (stop.clone(), stopped.clone());
        let download = self
            .client
            .download(job, dir)
            // Staged files are converted to Parquet and deleted: neither an
            // fsync nor a sha256 of the raw files would ever be used (the
            // landed days carry their own checksum).
            .durability(Durability::None)
            .checksum(Checksum::None)
            .on_progress(move |p| {
                if p.event == ProgressEvent::Data
                    && !stopped_tx.load(Ordering::Relaxed)
                    && hook
                        .as_ref()
                        .is_some_and(|hook| hook(Checkpoint::MidDownload))
                {
                    stopped_tx.store(true, Ordering::Relaxed);
                    stop_tx.notify_one();
                }
            });
        let report = tokio::select! {
            biased;
            _ = stop.notified() => return Err(injected(Checkpoint::MidDownload)),
            report = download.run() => report?,
        };
        if stopped.load(Ordering::Relaxed) {
            return Err(injected(Checkpoint::MidDownload));
        }
        Ok(report.files.into_iter().map(|f| f.path).collect())
    }

    /// Replaces every lookup table with a fresh snapshot, then the views.
    async fn refresh_lookups(&mut self) -> Result<()> {
        let catalogue = self.client.catalogue().await?;
        let dest = self.dest.as_ref();
        let landed = catalogue
            .land_tables(dest, |_| {})
            .await?
            .into_iter()
            .map(|t| t.kind)
            .collect();
        dataset::write_views(dest).await?;
        self.report.lookups = landed;
        Ok(())
    }

    /// Records the run in the state and the report's totals.
    async fn finish(
        &mut self,
        started: Instant,
        started_at: chrono::DateTime<Utc>,
        complete: bool,
    ) -> Result<()> {
        self.state.last_run = Some(RunRecord {
            started_at,
            finished_at: Utc::now(),
            complete,
        });
        self.save().await?;
        self.report.complete = complete;
        self.report.watermark = self.state.watermark;
        self.report.requests = self.requests.load(Ordering::Relaxed);
        self.report.elapsed = started.elapsed();
        Ok(())
    }
}

fn midnight(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn midnight_after(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.succ_opt()
        .map_or(chrono::DateTime::<Utc>::MAX_UTC, midnight)
}

/// The error a checkpoint hook stops a run with.
fn injected(at: Checkpoint) -> Error {
    Error::Io {
        path: PathBuf::from(STATE_KEY),
        source: std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("sync stopped at checkpoint {at:?} (test hook)"),
        ),
    }
}

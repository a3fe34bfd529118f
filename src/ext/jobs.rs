//! Export jobs after the trigger: a handle on one job, its progress read
//! leniently, and a poller that waits for the end with backoff.
//!
//! [`JobPoller::poll`] is one step, [`JobPoller::wait`] runs to a terminal
//! state under a [`WaitPolicy`], and [`JobPoller::updates`] is the same loop
//! as a [`Stream`](futures::Stream). Cancelling is dropping the future (or the stream).
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::Client;
//!
//! let client = Client::from_env()?;
//! // Resume a job whose id was stored earlier.
//! let job = client
//!     .job("123e4567-e89b-12d3-a456-426614174000")
//!     .poller()
//!     .on_progress(|update| println!("{}: {}", update.job_id, update.progress))
//!     .wait()
//!     .await?;
//! println!("{} files", job.presigned_urls.len());
//! # Ok(()) }
//! ```

use std::{fmt, time::Duration};

use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use tokio::time::Instant;

use crate::{
    Client,
    error::{Error, Result},
    models::{ExportCreated, ExportJob, JobStatus},
};

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

/// A job's progress, read leniently from whatever the server sent.
///
/// The `progress` field's form is undocumented; [`Progress::parse`] accepts
/// `"45%"`, `"0.45"`, `"45"`, `"3/7"` and `"3 of 7"`, and
/// [`Progress::from_job`] falls back on `completed_chunks` / `all_chunks`.
/// Parsing never fails: what cannot be read stays `None`, and the text
/// stays in [`raw`](Self::raw).
///
/// ```
/// use userpilot_appex::ext::jobs::Progress;
///
/// assert_eq!(Progress::parse("45%").fraction, Some(0.45));
/// assert_eq!(Progress::parse("0.45").fraction, Some(0.45));
/// let p = Progress::parse("3 of 4");
/// assert_eq!((p.chunks_done, p.chunks_total, p.fraction), (Some(3), Some(4), Some(0.75)));
/// assert_eq!(Progress::parse("soon").fraction, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Chunks finished, when known.
    pub chunks_done: Option<u32>,
    /// Chunks in all, when known.
    pub chunks_total: Option<u32>,
    /// Share done, in `0.0..=1.0`, when known.
    pub fraction: Option<f64>,
    /// The `progress` text as the server sent it, if any.
    pub raw: Option<String>,
}

impl Progress {
    /// Reads a progress text. Rules: `N%` is a percentage; `A/B` and
    /// `A of B` are chunk counts; a bare integer is a percentage (`"45"`);
    /// a decimal number up to 1 is a fraction (`"0.45"`), above 1 a
    /// percentage (`"45.5"`). The fraction is clamped to `0.0..=1.0`.
    pub fn parse(raw: &str) -> Progress {
        let text = raw.trim();
        let mut progress = Progress {
            raw: (!text.is_empty()).then(|| raw.to_string()),
            ..Progress::default()
        };
        if text.is_empty() {
            return progress;
        }
        if let Some((done, total)) = split_ratio(text) {
            if let (Some(done), Some(total)) = (leading_u32(done), leading_u32(total)) {
                progress.chunks_done = Some(done);
                progress.chunks_total = Some(total);
                progress.fraction = ratio(done, total);
            }
            return progress;
        }
        if let Some(percent) = text.strip_suffix('%') {
            progress.fraction = parse_number(percent).and_then(|n| clamp_fraction(n / 100.0));
            return progress;
        }
        if let Some(n) = parse_number(text) {
            let is_integer = !text.contains(['.', 'e', 'E']);
            let value = if is_integer || n > 1.0 { n / 100.0 } else { n };
            progress.fraction = clamp_fraction(value);
        }
        progress
    }

    /// The progress of a job: its `progress` text through [`Progress::parse`],
    /// with chunk counts from `completed_chunks` / `all_chunks` where the text
    /// gave none, the fraction from those counts where the text gave none,
    /// and `1.0` for a completed job whose progress is otherwise unknown.
    pub fn from_job(job: &ExportJob) -> Progress {
        let mut progress = job
            .progress
            .as_deref()
            .map(Progress::parse)
            .unwrap_or_default();
        if progress.chunks_total.is_none() && !job.all_chunks.is_empty() {
            let total = u32::try_from(job.all_chunks.len()).unwrap_or(u32::MAX);
            let done = u32::try_from(job.completed_chunks.len()).unwrap_or(u32::MAX);
            progress.chunks_done = Some(done);
            progress.chunks_total = Some(total);
            if progress.fraction.is_none() {
                progress.fraction = ratio(done, total);
            }
        }
        if progress.fraction.is_none() && job.status == Some(JobStatus::Completed) {
            progress.fraction = Some(1.0);
        }
        progress
    }

    /// The fraction as a percentage (`0.0..=100.0`), when known.
    pub fn percent(&self) -> Option<f64> {
        self.fraction.map(|f| f * 100.0)
    }

    /// `true` if nothing could be read.
    pub fn is_unknown(&self) -> bool {
        self.fraction.is_none() && self.chunks_done.is_none() && self.chunks_total.is_none()
    }
}

impl fmt::Display for Progress {
    /// `45.0%`, `3/7 chunks (42.9%)`, or `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.chunks_done, self.chunks_total, self.percent()) {
            (Some(done), Some(total), Some(p)) => write!(f, "{done}/{total} chunks ({p:.1}%)"),
            (Some(done), Some(total), None) => write!(f, "{done}/{total} chunks"),
            (_, _, Some(p)) => write!(f, "{p:.1}%"),
            _ => f.write_str("unknown"),
        }
    }
}

fn split_ratio(text: &str) -> Option<(&str, &str)> {
    if let Some(parts) = text.split_once('/') {
        return Some(parts);
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find(" of ")?;
    Some((&text[..at], &text[at + 4..]))
}

fn leading_u32(text: &str) -> Option<u32> {
    let token = text.split_whitespace().next()?;
    token.parse().ok()
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn ratio(done: u32, total: u32) -> Option<f64> {
    (total > 0)
        .then(|| f64::from(done) / f64::from(total))
        .and_then(clamp_fraction)
}

fn clamp_fraction(value: f64) -> Option<f64> {
    value.is_finite().then(|| value.clamp(0.0, 1.0))
}

// ---------------------------------------------------------------------------
// Wait policy
// ---------------------------------------------------------------------------

/// How [`JobPoller::wait`] spaces its polls and when it gives up.
///
/// The delay after poll `n` is `min(max_delay, initial_delay * multiplier^(n-1))`,
/// rounded to the millisecond (tokio's timer resolution); with jitter on, a
/// uniformly random delay between half of that and all of it (so polls never
/// bunch up, and are never later than the schedule).
///
/// The default (250 ms growing ×1.1 per poll, capped at 60 s) keeps the
/// delay near a tenth of the time waited so far: a job that takes 10 s is
/// seen done within about 1.2 s of finishing, one that takes a minute within
/// about 6 s, and a one-hour job costs about a hundred polls, not thousands.
/// A larger multiplier or cap spends fewer requests on long jobs and notices
/// the end of short ones later.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::ext::jobs::WaitPolicy;
///
/// let policy = WaitPolicy::default()
///     .with_jitter(false)
///     .with_multiplier(1.5)
///     .with_max_delay(Duration::from_secs(30))
///     .with_max_wait(Duration::from_secs(600));
/// assert_eq!(policy.delay(1), Duration::from_millis(250));
/// assert_eq!(policy.delay(2), Duration::from_millis(375));
/// assert_eq!(policy.delay(3), Duration::from_millis(563)); // 562.5 rounded
/// assert_eq!(policy.delay(50), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WaitPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: bool,
    max_wait: Duration,
    not_found_grace: Duration,
}

impl Default for WaitPolicy {
    /// 250 ms growing ×1.1 per poll up to 60 s, jitter on, at most 6 hours
    /// of waiting, `404` tolerated for the first 10 s.
    fn default() -> Self {
        WaitPolicy {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            multiplier: 1.1,
            jitter: true,
            max_wait: Duration::from_secs(6 * 60 * 60),
            not_found_grace: Duration::from_secs(10),
        }
    }
}

impl WaitPolicy {
    /// Sets the delay after the first poll.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets the longest delay between two polls.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets how much each delay grows over the previous one. Values below
    /// 1 (or not finite) are read as 1: a constant delay.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Turns jitter on (the default) or off (exact, repeatable delays).
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets how long [`JobPoller::wait`] waits in all before
    /// [`Error::WaitTimeout`]. The last poll happens when it runs out.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets how long after the trigger (or after the handle was made) a
    /// `404` is read as "not visible yet" rather than [`Error::NotFound`].
    /// Once the job has been seen, a `404` is always an error.
    pub fn with_not_found_grace(mut self, grace: Duration) -> Self {
        self.not_found_grace = grace;
        self
    }

    /// The delay after the first poll.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The longest delay between two polls.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The growth factor of the delay.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// Whether delays are jittered.
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The longest wait in all.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The grace period for a `404` on a job not seen yet.
    pub fn not_found_grace(&self) -> Duration {
        self.not_found_grace
    }

    /// The scheduled delay after poll number `poll` (1-based), before
    /// jitter: `min(max_delay, initial_delay * multiplier^(poll-1))`, rounded
    /// to the millisecond.
    pub fn delay(&self, poll: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exponent = i32::try_from(poll.saturating_sub(1)).unwrap_or(i32::MAX);
        let millis =
            (self.initial_delay.as_secs_f64() * 1000.0 * multiplier.powi(exponent)).round();
        let max = self.max_delay.as_secs_f64() * 1000.0;
        if !millis.is_finite() || millis >= max {
            self.max_delay
        } else {
            // Below the cap, so well within u64.
            Duration::from_millis(millis as u64)
        }
    }

    /// The delay actually slept after poll `poll`: [`delay`](Self::delay),
    /// jittered into `delay/2..=delay` when jitter is on.
    pub fn sleep_for(&self, poll: u32) -> Duration {
        let delay = self.delay(poll);
        if self.jitter {
            delay.mul_f64(0.5 + fastrand::f64() * 0.5)
        } else {
            delay
        }
    }
}

// ---------------------------------------------------------------------------
// Handle
// ---------------------------------------------------------------------------

/// Where an [`ExportJobHandle`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOrigin {
    /// This client's trigger created the job.
    Triggered,
    /// The trigger met a running export (409) and the handle points at that
    /// job ([`ConflictPolicy::Attach`](crate::ext::export::ConflictPolicy::Attach)):
    /// its filters may differ from the request.
    Attached,
    /// Built from a stored job id with [`Client::job`].
    Resumed,
}

/// One export job: its id and the client to ask about it.
///
/// Made by the export trigger ([`Client::export`](crate::Client::export)) or
/// from a stored id ([`Client::job`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct ExportJobHandle {
    client: Client,
    job_id: String,
    origin: JobOrigin,
    created: Option<ExportCreated>,
    since: Instant,
    policy: WaitPolicy,
}

impl Client {
    /// A handle on a job whose id was stored earlier, to check on it or
    /// wait for it again. The `404` grace period counts from now.
    pub fn job(&self, job_id: impl Into<String>) -> ExportJobHandle {
        ExportJobHandle::new(self.clone(), job_id.into(), JobOrigin::Resumed, None)
    }
}

impl ExportJobHandle {
    pub(crate) fn new(
        client: Client,
        job_id: String,
        origin: JobOrigin,
        created: Option<ExportCreated>,
    ) -> Self {
        ExportJobHandle {
            client,
            job_id,
            origin,
            created,
            since: Instant::now(),
            policy: WaitPolicy::default(),
        }
    }

    /// Sets the policy [`poller`](Self::poller) and [`wait`](Self::wait) use.
    pub fn with_wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The job's id; store it to resume later with [`Client::job`].
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// Whether the job was triggered, attached to, or resumed.
    pub fn origin(&self) -> JobOrigin {
        self.origin
    }

    /// The trigger's answer, when this handle comes from a trigger.
    pub fn created(&self) -> Option<&ExportCreated> {
        self.created.as_ref()
    }

    /// The wait policy in force.
    pub fn wait_policy(&self) -> &WaitPolicy {
        &self.policy
    }

    /// Fetches the job's current state once (`GET /jobs/{job_id}`).
    pub async fn get(&self) -> Result<ExportJob> {
        self.client.get_job(&self.job_id).await
    }

    /// A poller for this job, with this handle's wait policy.
    pub fn poller(&self) -> JobPoller {
        JobPoller {
            client: self.client.clone(),
            job_id: self.job_id.clone(),
            policy: self.policy.clone(),
            grace_from: self.since,
            created: Instant::now(),
            seen: false,
            polls: 0,
            on_progress: None,
        }
    }

    /// Waits until the job is completed and returns it; see [`JobPoller::wait`].
    pub async fn wait(&self) -> Result<ExportJob> {
        self.poller().wait().await
    }
}

// ---------------------------------------------------------------------------
// Poller
// ---------------------------------------------------------------------------

/// One observation of a job that has not ended yet.
#[derive(Clone, Debug, PartialEq)]
pub struct JobUpdate {
    /// The job's id.
    pub job_id: String,
    /// The job as fetched; `None` while it is not visible yet (a `404`
    /// inside the grace period).
    pub job: Option<ExportJob>,
    /// Its progress, read leniently.
    pub progress: Progress,
    /// Which poll this is (1-based).
    pub poll: u32,
    /// Time since the poller was made.
    pub elapsed: Duration,
}

impl JobUpdate {
    /// The job's status, if it was visible and carried one.
    pub fn status(&self) -> Option<&JobStatus> {
        self.job.as_ref().and_then(|job| job.status.as_ref())
    }
}

/// The outcome of one [`JobPoller::poll`].
#[derive(Clone, Debug, PartialEq)]
pub enum PollState {
    /// Not ended yet (any status other than completed and failed, including
    /// statuses this crate does not know, and a `404` inside the grace period).
    InProgress(JobUpdate),
    /// Completed: the presigned URLs are ready.
    Completed(ExportJob),
    /// Failed: the job as the server reported it.
    Failed(ExportJob),
}

impl PollState {
    /// `true` for `Completed` and `Failed`.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, PollState::InProgress(_))
    }
}

type ProgressCallback = Box<dyn FnMut(&JobUpdate) + Send>;

/// Polls one export job: one step at a time with [`poll`](Self::poll), to
/// the end with [`wait`](Self::wait), or as a [`Stream`](futures::Stream) with
/// [`updates`](Self::updates).
///
/// Each poll is one `GET /jobs/{job_id}`, which the client's
/// [`RetryPolicy`](crate::RetryPolicy) already retries on `429`/`5xx` and
/// connection errors; an error that survives it ends the wait.
pub struct JobPoller {
    client: Client,
    job_id: String,
    policy: WaitPolicy,
    grace_from: Instant,
    created: Instant,
    seen: bool,
    polls: u32,
    on_progress: Option<ProgressCallback>,
}

impl fmt::Debug for JobPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobPoller")
            .field("job_id", &self.job_id)
            .field("policy", &self.policy)
            .field("seen", &self.seen)
            .field("polls", &self.polls)
            .field("on_progress", &self.on_progress.is_some())
            .finish_non_exhaustive()
    }
}

impl JobPoller {
    /// Replaces the wait policy.
    pub fn with_wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Calls `callback` with every update of a job not yet ended, in order,
    /// from [`poll`](Self::poll), [`wait`](Self::wait) and
    /// [`updates`](Self::updates) alike.
    pub fn on_progress(mut self, callback: impl FnMut(&JobUpdate) + Send + 'static) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// The job's id.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// How many polls were made so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// One poll: fetches the job and says whether it has ended.
    ///
    /// A `404` before the job was ever seen and within the policy's
    /// [`not_found_grace`](WaitPolicy::not_found_grace) of the handle's
    /// creation is [`PollState::InProgress`] with no job; later it is
    /// [`Error::NotFound`].
    pub async fn poll(&mut self) -> Result<PollState> {
        self.polls += 1;
        let poll = self.polls;
        let job = match self.client.get_job(&self.job_id).await {
            Ok(job) => {
                self.seen = true;
                Some(job)
            }
            Err(Error::NotFound(failure))
                if !self.seen && self.grace_from.elapsed() < self.policy.not_found_grace =>
            {
                tracing::debug!(job_id = %self.job_id, poll, "job not visible yet ({})", failure.status);
                None
            }
            Err(error) => return Err(error),
        };
        match job {
            Some(job) if job.status == Some(JobStatus::Completed) => Ok(PollState::Completed(job)),
            Some(job) if job.status == Some(JobStatus::Failed) => Ok(PollState::Failed(job)),
            job => {
                let update = JobUpdate {
                    job_id: self.job_id.clone(),
                    progress: job.as_ref().map(Progress::from_job).unwrap_or_default(),
                    job,
                    poll,
                    elapsed: self.created.elapsed(),
                };
                tracing::debug!(
                    job_id = %self.job_id,
                    poll,
                    status = update.status().map(JobStatus::as_str).unwrap_or("<none>"),
                    progress = %update.progress,
                    "job in progress"
                );
                if let Some(callback) = self.on_progress.as_mut() {
                    callback(&update);
                }
                Ok(PollState::InProgress(update))
            }
        }
    }

    /// Polls until the job ends, as a stream: every [`PollState::InProgress`],
    /// then the terminal state (`Completed` or `Failed`) or the error that
    /// ended the wait ([`Error::WaitTimeout`] when `max_wait` ran out), then
    /// the end of the stream. Delays follow the [`WaitPolicy`]; the wait's
    /// clock starts at the first poll of the stream. Drop it to cancel.
    pub fn updates(self) -> BoxStream<'static, Result<PollState>> {
        let started = Instant::now();
        stream::unfold(Some((self, true)), move |state| async move {
            let (mut poller, first) = state?;
            match poller.step(started, first).await {
                Ok(PollState::InProgress(update)) => {
                    Some((Ok(PollState::InProgress(update)), Some((poller, false))))
                }
                other => Some((other, None)),
            }
        })
        .boxed()
    }

    /// Polls until the job ends and returns it once completed.
    ///
    /// Errors: [`Error::JobFailed`] with the final job if it failed,
    /// [`Error::WaitTimeout`] (with elapsed time and poll count) if
    /// `max_wait` ran out first, [`Error::NotFound`] for a job that stays
    /// unknown past the grace period (or expired), and any API or transport
    /// error left after the client's retry policy. Drop the future to cancel.
    pub async fn wait(mut self) -> Result<ExportJob> {
        let started = Instant::now();
        let mut first = true;
        loop {
            match self.step(started, first).await? {
                PollState::InProgress(_) => first = false,
                PollState::Completed(job) => return Ok(job),
                PollState::Failed(job) => return Err(Error::JobFailed { job: Box::new(job) }),
            }
        }
    }

    /// One step of a wait that started at `started`: unless it is the first,
    /// checks the time limit and sleeps the policy's delay (never past
    /// `max_wait`), then polls.
    async fn step(&mut self, started: Instant, first: bool) -> Result<PollState> {
        if !first {
            let elapsed = started.elapsed();
            let max_wait = self.policy.max_wait;
            if elapsed >= max_wait {
                return Err(Error::WaitTimeout {
                    job_id: self.job_id.clone(),
                    max_wait,
                    elapsed,
                    polls: self.polls,
                });
            }
            let delay = self.policy.sleep_for(self.polls).min(max_wait - elapsed);
            tokio::time::sleep(delay).await;
        }
        self.poll().await
    }
}

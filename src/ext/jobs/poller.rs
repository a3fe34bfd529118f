//! The poller: one step, a wait to the end, or a stream of updates.

use std::{fmt, sync::Arc, time::Duration};

use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use tokio::time::Instant;

use super::{
    PollSchedule, Progress, WaitPolicy,
    schedule::{self, ProgressSchedule},
};
use crate::{
    Client,
    error::{Error, Result},
    models::{ExportJob, JobStatus},
};

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

/// The crate's one callback shape (here and in
/// [`Download::on_progress`](crate::ext::download::Download::on_progress)):
/// `Fn + Send + Sync`, shared, so it can be called from any task.
#[derive(Clone)]
struct ProgressCallback(Arc<dyn Fn(&JobUpdate) + Send + Sync>);

impl fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressCallback")
    }
}

/// Polls one export job: one step at a time with [`poll`](Self::poll), to
/// the end with [`wait`](Self::wait), or as a [`Stream`](futures::Stream) with
/// [`updates`](Self::updates).
///
/// Each poll is one `GET /jobs/{job_id}`, which the client's
/// [`RetryPolicy`](crate::RetryPolicy) already retries on `429`/`5xx` and
/// connection errors; an error that survives it ends the wait.
#[derive(Debug)]
pub struct JobPoller {
    client: Client,
    job_id: String,
    policy: WaitPolicy,
    grace_from: Instant,
    created: Instant,
    seen: bool,
    polls: u32,
    /// When the first poll went out.
    first_poll: Option<Instant>,
    schedule: ProgressSchedule,
    on_progress: Option<ProgressCallback>,
}

impl JobPoller {
    /// A poller whose `404` grace period counts from `grace_from`.
    pub(super) fn new(
        client: Client,
        job_id: String,
        policy: WaitPolicy,
        grace_from: Instant,
    ) -> Self {
        JobPoller {
            client,
            job_id,
            policy,
            grace_from,
            created: Instant::now(),
            seen: false,
            polls: 0,
            first_poll: None,
            schedule: ProgressSchedule::default(),
            on_progress: None,
        }
    }

    /// Replaces the wait policy.
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Calls `callback` with every update of a job not yet ended, in order,
    /// from [`poll`](Self::poll), [`wait`](Self::wait) and
    /// [`updates`](Self::updates) alike.
    pub fn on_progress(mut self, callback: impl Fn(&JobUpdate) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(ProgressCallback(Arc::new(callback)));
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
        self.first_poll.get_or_insert_with(Instant::now);
        let poll = self.polls;
        let job = match self.client.get_job(&self.job_id).await {
            Ok(job) => {
                self.seen = true;
                Some(job)
            }
            Err(Error::NotFound(failure))
                if !self.seen && self.grace_from.elapsed() < self.policy.not_found_grace() =>
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
                self.schedule.observe(Instant::now(), &update.progress);
                if let Some(ProgressCallback(callback)) = &self.on_progress {
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
        stream::unfold(Some((self, NextPoll::Now)), move |state| async move {
            let (mut poller, next) = state?;
            match poller.step(next).await {
                Ok(PollState::InProgress(update)) => Some((
                    Ok(PollState::InProgress(update)),
                    Some((poller, NextPoll::AfterDelay { started })),
                )),
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
        let mut next = NextPoll::Now;
        loop {
            match self.step(next).await? {
                PollState::InProgress(_) => next = NextPoll::AfterDelay { started },
                PollState::Completed(job) => return Ok(job),
                PollState::Failed(job) => return Err(Error::JobFailed { job: Box::new(job) }),
            }
        }
    }

    /// The delay before the next poll: aimed by the job's progress when the
    /// policy follows it and the counts say enough, else the backoff's.
    fn next_delay(&self) -> Duration {
        let aimed = match self.policy.schedule() {
            PollSchedule::FollowProgress => {
                let waited = self.first_poll.map_or(Duration::ZERO, |t| t.elapsed());
                let shortest = schedule::not_ahead_of_backoff(&self.policy, self.polls, waited);
                self.schedule.next_delay(Instant::now(), shortest)
            }
            PollSchedule::Backoff => None,
        };
        aimed.unwrap_or_else(|| self.policy.sleep_for(self.polls))
    }

    /// One step of a wait: after the first, checks the time limit and
    /// sleeps the schedule's delay (never past `max_wait`); then polls.
    async fn step(&mut self, next: NextPoll) -> Result<PollState> {
        if let NextPoll::AfterDelay { started } = next {
            let elapsed = started.elapsed();
            let max_wait = self.policy.max_wait();
            if elapsed >= max_wait {
                return Err(Error::WaitTimeout {
                    job_id: self.job_id.clone(),
                    max_wait,
                    elapsed,
                    polls: self.polls,
                });
            }
            let delay = self.next_delay().min(max_wait - elapsed);
            tokio::time::sleep(delay).await;
        }
        self.poll().await
    }
}

/// When a wait's next poll goes out.
#[derive(Clone, Copy, Debug)]
enum NextPoll {
    /// At once: the wait's first poll.
    Now,
    /// After the schedule's delay, within the `max_wait` of a wait that
    /// started at `started`.
    AfterDelay {
        /// When the wait started.
        started: Instant,
    },
}

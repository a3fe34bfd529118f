//! A handle on one export job: its id, where it came from, and the client to ask.

use tokio::time::Instant;

use super::{JobPoller, WaitPolicy};
use crate::{
    Client,
    error::Result,
    models::{ExportCreated, ExportJob},
};

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
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
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

    /// Fetches the job's current state once (`GET /jobs/{job_id}`).
    pub async fn get(&self) -> Result<ExportJob> {
        self.client.get_job(&self.job_id).await
    }

    /// A poller for this job, with this handle's wait policy.
    pub fn poller(&self) -> JobPoller {
        JobPoller::new(
            self.client.clone(),
            self.job_id.clone(),
            self.policy.clone(),
            self.since,
        )
    }

    /// Waits until the job is completed and returns it; see [`JobPoller::wait`].
    pub async fn wait(&self) -> Result<ExportJob> {
        self.poller().wait().await
    }
}

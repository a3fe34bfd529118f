//! What to do when another export is running (`409`), and the trigger that applies it.

use crate::{
    Client,
    error::{ApiFailure, Error, Result},
    ext::jobs::{ExportJobHandle, JobOrigin, WaitPolicy},
    generated::types::ExportRequest,
    models::{ExportJobSummary, JobStatus},
};

/// What the trigger does when Userpilot answers `409`: another export is
/// already running in the environment (one at a time).
///
/// The default is [`Fail`](Self::Fail): the caller asked for *this* export
/// now, so the crate neither hands back a different export's job (whose
/// filters, window and format may differ) nor blocks for an unknown time
/// behind someone else's job. Choose another policy when that is what you
/// want.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Return [`Error::Conflict`].
    #[default]
    Fail,
    /// Find the running job through the jobs list, wait for it to end
    /// (under the trigger's [`WaitPolicy`]), then trigger again; at most
    /// `max_attempts` triggers in all (the first one included). The running
    /// job failing is fine: it has ended.
    WaitThenTrigger {
        /// Triggers in all, the first one included (at least 1).
        max_attempts: u32,
    },
    /// Return a handle to the running job found through the jobs list
    /// ([`JobOrigin::Attached`]); its filters may differ from the request.
    /// If the list shows none running (it just ended), trigger once more.
    Attach,
}

impl ConflictPolicy {
    /// [`WaitThenTrigger`](Self::WaitThenTrigger) with 3 attempts.
    pub fn wait_then_trigger() -> Self {
        ConflictPolicy::WaitThenTrigger { max_attempts: 3 }
    }
}

impl Client {
    /// Triggers an export of a ready-made request and returns a handle on
    /// its job, handling a `409` as `conflict` says: possibly several
    /// `POST`s, a jobs list and a wait. The handle carries `wait` as its
    /// wait policy. [`trigger_export`](Client::trigger_export) is the one
    /// bare `POST`; [`ExportRequestBuilder::send`](super::ExportRequestBuilder::send)
    /// builds the request and calls this.
    ///
    /// The `POST` is never retried after it may have reached the server; a
    /// conflict policy only re-triggers after a `409`, which means nothing
    /// was started.
    pub async fn trigger_export_with_conflict_policy(
        &self,
        request: &ExportRequest,
        conflict: &ConflictPolicy,
        wait: &WaitPolicy,
    ) -> Result<ExportJobHandle> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let conflict_error = match self.trigger_once(request, wait).await {
                Err(error @ Error::Conflict(_)) => error,
                other => return other,
            };
            let out_of_attempts = match conflict {
                ConflictPolicy::Fail => true,
                ConflictPolicy::WaitThenTrigger { max_attempts } => attempt >= *max_attempts,
                ConflictPolicy::Attach => false,
            };
            if out_of_attempts {
                return Err(conflict_error);
            }
            let running = self.running_job().await?;
            tracing::info!(
                attempt,
                running = running.as_deref().unwrap_or("<none listed>"),
                "export conflict (409)"
            );
            match (conflict, running) {
                (ConflictPolicy::Attach, Some(job_id)) => {
                    let handle =
                        ExportJobHandle::new(self.clone(), job_id, JobOrigin::Attached, None);
                    return Ok(handle.wait_policy(wait.clone()));
                }
                (ConflictPolicy::WaitThenTrigger { .. }, Some(job_id)) => {
                    let other = self.job(job_id).wait_policy(wait.clone());
                    match other.wait().await {
                        // Ended either way (or expired): time to try again.
                        Ok(_) | Err(Error::JobFailed { .. }) | Err(Error::NotFound(_)) => {}
                        Err(error) => return Err(error),
                    }
                }
                // Attach found nothing running twice: give up.
                (ConflictPolicy::Attach, None) if attempt >= 2 => return Err(conflict_error),
                // None listed as running: it ended between the 409 and the
                // list. Give the server a moment, then trigger again.
                _ => tokio::time::sleep(wait.delay(1)).await,
            }
        }
    }

    async fn trigger_once(
        &self,
        request: &ExportRequest,
        wait: &WaitPolicy,
    ) -> Result<ExportJobHandle> {
        let created = self.trigger_export(request).await?;
        let job_id = created
            .job_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                Error::Api(ApiFailure {
                    operation: "trigger_export",
                    status: reqwest::StatusCode::CREATED,
                    errors: Vec::new(),
                    body_excerpt: Some("the answer carried no job_id".into()),
                })
            })?;
        tracing::info!(job_id = %job_id, "export triggered");
        Ok(
            ExportJobHandle::new(self.clone(), job_id, JobOrigin::Triggered, Some(created))
                .wait_policy(wait.clone()),
        )
    }

    /// The id of the job the jobs list shows running, if any: a job with a
    /// non-terminal status, preferring `pending`/`processing` over unknown
    /// statuses, then the latest started.
    async fn running_job(&self) -> Result<Option<String>> {
        let jobs = self.list_jobs().await?;
        Ok(pick_running(&jobs))
    }
}

fn pick_running(jobs: &[ExportJobSummary]) -> Option<String> {
    jobs.iter()
        .filter(|job| {
            job.status.as_ref().is_some_and(|s| !s.is_terminal())
                && job
                    .job_id
                    .as_deref()
                    .is_some_and(|id| !id.trim().is_empty())
        })
        .max_by_key(|job| {
            let known = matches!(
                job.status,
                Some(JobStatus::Pending) | Some(JobStatus::Processing)
            );
            (known, job.started_at())
        })
        .and_then(|job| job.job_id.clone())
}

//! Starting an export: a validated request builder, typed event types, and
//! what to do when another export is already running (`409`).
//!
//! Last week's `track_feature` events as ndjson, waiting for the files:
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::{Client, models::EventType, types::ExportFormat};
//!
//! let client = Client::from_env()?;
//! let handle = client
//!     .export()
//!     .last_days(7)
//!     .event_type(EventType::TrackFeature)
//!     .format(ExportFormat::Ndjson)
//!     .send()
//!     .await?;
//! println!("job {}", handle.job_id()); // store it to resume with client.job(id)
//! let job = handle
//!     .poller()
//!     .on_progress(|update| println!("{}", update.progress))
//!     .wait()
//!     .await?;
//! for file in &job.presigned_urls {
//!     println!("{} {}", file.filename, file.url); // the URL prints redacted
//! }
//! # Ok(()) }
//! ```

use std::fmt;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, SecondsFormat, SubsecRound, Utc};

use crate::{
    Client,
    error::{ApiFailure, Error, Result},
    ext::jobs::{ExportJobHandle, JobOrigin, WaitPolicy},
    generated::types::{ExportFormat, ExportRequest},
    models::{ExportJobSummary, JobStatus},
};

// ---------------------------------------------------------------------------
// Event types
// ---------------------------------------------------------------------------

use crate::models::EventType;

// ---------------------------------------------------------------------------
// Time bounds
// ---------------------------------------------------------------------------

/// A bound of the export window: a calendar date (sent `YYYY-MM-DD`) or an
/// instant (sent as RFC 3339 in UTC, `2025-01-10T12:00:00Z`).
///
/// Whether the server reads a date `to` as inclusive is not documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportTime {
    /// A calendar date.
    Date(NaiveDate),
    /// An instant.
    DateTime(DateTime<Utc>),
}

impl ExportTime {
    /// The ISO 8601 text sent on the wire.
    pub fn to_wire(&self) -> String {
        match self {
            ExportTime::Date(date) => date.format("%Y-%m-%d").to_string(),
            ExportTime::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    /// The earliest instant this bound can mean (a date's midnight UTC).
    fn earliest(&self) -> DateTime<Utc> {
        match self {
            ExportTime::Date(date) => date.and_time(chrono::NaiveTime::MIN).and_utc(),
            ExportTime::DateTime(t) => *t,
        }
    }

    /// The latest instant this bound can mean (a date's last instant UTC).
    fn latest(&self) -> DateTime<Utc> {
        match self {
            ExportTime::Date(date) => date
                .succ_opt()
                .map(|next| next.and_time(chrono::NaiveTime::MIN).and_utc())
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ExportTime::DateTime(t) => *t,
        }
    }
}

impl From<NaiveDate> for ExportTime {
    fn from(date: NaiveDate) -> Self {
        ExportTime::Date(date)
    }
}

impl From<DateTime<Utc>> for ExportTime {
    fn from(t: DateTime<Utc>) -> Self {
        ExportTime::DateTime(t)
    }
}

impl fmt::Display for ExportTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

// ---------------------------------------------------------------------------
// Conflict policy
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

/// Builds and validates an [`ExportRequest`]; bound to a client (from
/// [`Client::export`]) it also sends it.
///
/// Only what was set is serialized. [`build`](Self::build) and
/// [`send`](ExportRequestBuilder::send) check the request before any
/// request goes out and fail with [`Error::InvalidInput`]: `from` after
/// `to`, an empty user, company or segment id, an email without `@`, an
/// empty event type or exclusions.
///
/// ```
/// use chrono::NaiveDate;
/// use userpilot_appex::{ext::export::ExportRequestBuilder, models::EventType, types::ExportFormat};
///
/// let request = ExportRequestBuilder::new()
///     .from(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
///     .to(NaiveDate::from_ymd_opt(2025, 1, 7).unwrap())
///     .event_type(EventType::TrackFeature)
///     .format(ExportFormat::Ndjson)
///     .build()?;
/// assert_eq!(
///     serde_json::to_value(&request).unwrap(),
///     serde_json::json!({"from": "2025-01-01", "to": "2025-01-07",
///                        "event_type": ["track_feature"], "format": "ndjson"})
/// );
///
/// let bad = ExportRequestBuilder::new().email("nobody").build();
/// assert!(matches!(bad, Err(userpilot_appex::Error::InvalidInput(_))));
/// # Ok::<(), userpilot_appex::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExportRequestBuilder<C = ()> {
    client: C,
    from: Option<ExportTime>,
    to: Option<ExportTime>,
    format: Option<ExportFormat>,
    event_types: Vec<EventType>,
    user_ids: Vec<String>,
    company_ids: Vec<String>,
    segment_id: Option<String>,
    emails: Vec<String>,
    exclusions: Option<String>,
    last_days: Option<u32>,
    conflict: ConflictPolicy,
    wait: WaitPolicy,
}

impl ExportRequestBuilder<()> {
    /// An empty request not bound to a client: finish it with
    /// [`build`](Self::build).
    pub fn new() -> Self {
        Self::default()
    }
}

impl Client {
    /// Starts an export request bound to this client: set filters, then
    /// [`send`](ExportRequestBuilder::send) it to get an [`ExportJobHandle`].
    /// See the [module docs](crate::ext::export) for an example.
    pub fn export(&self) -> ExportRequestBuilder<Client> {
        ExportRequestBuilder {
            client: self.clone(),
            from: None,
            to: None,
            format: None,
            event_types: Vec::new(),
            user_ids: Vec::new(),
            company_ids: Vec::new(),
            segment_id: None,
            emails: Vec::new(),
            exclusions: None,
            last_days: None,
            conflict: ConflictPolicy::default(),
            wait: WaitPolicy::default(),
        }
    }
}

impl<C> ExportRequestBuilder<C> {
    /// Sets the start of the window (a `NaiveDate` or a `DateTime<Utc>`).
    pub fn from(mut self, from: impl Into<ExportTime>) -> Self {
        self.from = Some(from.into());
        self.last_days = None;
        self
    }

    /// Sets the end of the window (a `NaiveDate` or a `DateTime<Utc>`).
    pub fn to(mut self, to: impl Into<ExportTime>) -> Self {
        self.to = Some(to.into());
        self.last_days = None;
        self
    }

    /// Sets both ends of the window.
    pub fn range(self, from: impl Into<ExportTime>, to: impl Into<ExportTime>) -> Self {
        self.from(from).to(to)
    }

    /// The window of the last `days` days up to the moment the request is
    /// built: `from = now - days`, `to = now`, as date-times to the second.
    /// `0` days is rejected by [`build`](Self::build).
    pub fn last_days(mut self, days: u32) -> Self {
        self.from = None;
        self.to = None;
        self.last_days = Some(days);
        self
    }

    /// Sets the file format (server default when unset).
    pub fn format(mut self, format: ExportFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Adds an event type to export (all types when none is added).
    pub fn event_type(mut self, event_type: impl Into<EventType>) -> Self {
        self.event_types.push(event_type.into());
        self
    }

    /// Adds several event types.
    pub fn event_types<I, E>(mut self, event_types: I) -> Self
    where
        I: IntoIterator<Item = E>,
        E: Into<EventType>,
    {
        self.event_types
            .extend(event_types.into_iter().map(Into::into));
        self
    }

    /// Adds a user id to export events of.
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.user_ids.push(id.into());
        self
    }

    /// Adds several user ids.
    pub fn user_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Adds a company id to export events of.
    pub fn company_id(mut self, id: impl Into<String>) -> Self {
        self.company_ids.push(id.into());
        self
    }

    /// Adds several company ids.
    pub fn company_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.company_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Restricts the export to one segment.
    pub fn segment_id(mut self, id: impl Into<String>) -> Self {
        self.segment_id = Some(id.into());
        self
    }

    /// Adds an address Userpilot notifies when the export is ready.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.emails.push(email.into());
        self
    }

    /// Adds several notification addresses.
    pub fn emails<I, S>(mut self, emails: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.emails.extend(emails.into_iter().map(Into::into));
        self
    }

    /// Sets `exclusions` (passed through as is; its meaning is undocumented).
    pub fn exclusions(mut self, exclusions: impl Into<String>) -> Self {
        self.exclusions = Some(exclusions.into());
        self
    }

    /// Checks the request and builds it. Nothing is sent.
    pub fn build(&self) -> Result<ExportRequest> {
        self.build_at(Utc::now())
    }

    fn build_at(&self, now: DateTime<Utc>) -> Result<ExportRequest> {
        let (from, to) = match self.last_days {
            Some(0) => return Err(invalid("last_days must be at least 1")),
            Some(days) => {
                let now = now.trunc_subsecs(0);
                (
                    Some(ExportTime::DateTime(
                        now - ChronoDuration::days(i64::from(days)),
                    )),
                    Some(ExportTime::DateTime(now)),
                )
            }
            None => (self.from, self.to),
        };
        if let (Some(from), Some(to)) = (from, to) {
            let reversed = match (from, to) {
                (ExportTime::DateTime(f), ExportTime::DateTime(t)) => f >= t,
                _ => from.earliest() >= to.latest(),
            };
            if reversed {
                return Err(invalid(format!(
                    "`from` ({from}) must be before `to` ({to})"
                )));
            }
        }
        let event_type = self
            .event_types
            .iter()
            .map(|event_type| match event_type {
                EventType::Unknown(s) if s.trim().is_empty() => {
                    Err(invalid("event type `Other` is empty"))
                }
                EventType::Unknown(s) if s.trim() != s => Err(invalid(format!(
                    "event type {s:?} has surrounding whitespace"
                ))),
                known => Ok(known.as_str().to_string()),
            })
            .collect::<Result<Vec<_>>>()?;
        check_ids("user_id", &self.user_ids)?;
        check_ids("company_id", &self.company_ids)?;
        if self
            .segment_id
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(invalid("segment_id is empty"));
        }
        for email in &self.emails {
            check_email(email)?;
        }
        if self
            .exclusions
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(invalid("exclusions is empty (leave it unset instead)"));
        }
        Ok(ExportRequest {
            company_id: self.company_ids.clone(),
            emails: self.emails.clone(),
            event_type,
            exclusions: self.exclusions.clone(),
            format: self.format,
            from: from.map(|t| t.to_wire()),
            segment_id: self.segment_id.clone(),
            to: to.map(|t| t.to_wire()),
            user_id: self.user_ids.clone(),
        })
    }
}

impl ExportRequestBuilder<Client> {
    /// Sets what happens if another export is running (default
    /// [`ConflictPolicy::Fail`]).
    pub fn conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }

    /// Sets the wait policy of the returned handle, also used to wait for a
    /// running job under [`ConflictPolicy::WaitThenTrigger`].
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.wait = policy;
        self
    }

    /// Validates the request, triggers the export and returns a handle on
    /// the job. Nothing is sent if validation fails.
    pub async fn send(self) -> Result<ExportJobHandle> {
        let request = self.build()?;
        self.client
            .start_export(&request, &self.conflict, &self.wait)
            .await
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

fn check_ids(field: &str, ids: &[String]) -> Result<()> {
    for (i, id) in ids.iter().enumerate() {
        if id.trim().is_empty() {
            return Err(invalid(format!("{field} #{} is empty", i + 1)));
        }
    }
    Ok(())
}

fn check_email(email: &str) -> Result<()> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "email {email:?} is not an address (expected local@domain)"
        )))
    }
}

// ---------------------------------------------------------------------------
// Trigger
// ---------------------------------------------------------------------------

impl Client {
    /// Triggers an export of a ready-made request and returns a handle on
    /// its job, handling a `409` as `conflict` says. The handle carries
    /// `wait` as its wait policy.
    ///
    /// The `POST` is never retried after it may have reached the server; a
    /// conflict policy only re-triggers after a `409`, which means nothing
    /// was started.
    pub async fn start_export(
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
                    return Ok(handle.with_wait_policy(wait.clone()));
                }
                (ConflictPolicy::WaitThenTrigger { .. }, Some(job_id)) => {
                    let other = self.job(job_id).with_wait_policy(wait.clone());
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
                .with_wait_policy(wait.clone()),
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

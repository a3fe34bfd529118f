//! Export job models: the job, its list summary, its files, its creation.

use std::{borrow::Cow, fmt};

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{
    lenient::{self, Coerce, Slot, lenient_model},
    open_enum::open_enum,
    timestamp::parse_timestamp,
};

open_enum! {
    /// The state of an export job. Open: a value this crate does not know is
    /// kept in [`JobStatus::Unknown`] rather than failing the response.
    ///
    /// `Completed` and `Failed` are terminal; everything else means "keep
    /// waiting". Read case-insensitively; `queued` reads as `Pending`,
    /// `running`/`in_progress` as `Processing`, `done`/`success` as
    /// `Completed`, `error` as `Failed`.
    ///
    /// ```
    /// use userpilot_appex::models::JobStatus;
    ///
    /// assert_eq!(JobStatus::from("Running"), JobStatus::Processing);
    /// assert!(JobStatus::from("done").is_terminal());
    /// assert_eq!(JobStatus::from("paused"), JobStatus::Unknown("paused".into()));
    /// ```
    JobStatus {
        /// Accepted, not started.
        Pending = "pending" | "queued",
        /// Running through its chunks.
        Processing = "processing" | "running" | "in_progress",
        /// Done; the presigned URLs are ready.
        Completed = "completed" | "complete" | "done" | "success" | "succeeded",
        /// Ended without producing files.
        Failed = "failed" | "error" | "errored",
    }
}

impl JobStatus {
    /// `true` for `Completed` and `Failed`: the job will not change again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// A URL that carries its own credentials (a presigned object-store URL).
///
/// `Debug` and `Display` print it without its query string, where the
/// signature lives: `https://host/path?<redacted>`. [`SecretUrl::expose`]
/// gives the full URL to the code that fetches it.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The full URL, signature included. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `true` if no URL was sent.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The URL with its query string and fragment replaced by `<redacted>`
    /// and any user info removed: safe to log.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

/// Redacts a URL's query, fragment and user info; see [`SecretUrl::redacted`].
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let had_query = u.query().is_some() || u.fragment().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if had_query {
                format!("{u}?<redacted>")
            } else {
                u.to_string()
            }
        }
        Err(_) => match raw.split_once(['?', '#']) {
            Some((head, _)) => format!("{head}?<redacted>"),
            None if raw.contains('@') => "<redacted url>".to_string(),
            None => raw.to_string(),
        },
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({:?})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SecretUrl(lenient::string(d)?))
    }
}

impl Coerce for SecretUrl {
    fn from_str(s: &str) -> Option<Self> {
        Some(SecretUrl::new(s))
    }
}

/// A URL that is never absent (empty: `""`); a value that does not fit is
/// read as its compact JSON, like any text.
impl Slot for SecretUrl {
    type Item = SecretUrl;
    fn put(&mut self, item: SecretUrl) {
        *self = item;
    }
    fn keep(&mut self, sent: Value) -> Option<Value> {
        *self = SecretUrl::new(sent.to_string());
        None
    }
}

impl JsonSchema for SecretUrl {
    fn schema_name() -> Cow<'static, str> {
        "SecretUrl".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "A presigned URL; its query string is a credential." })
    }
}

/// One downloadable file of a completed export.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct PresignedUrl {
    /// The file name the server suggests (untrusted: sanitise before use).
    pub filename: String,
    /// The presigned URL; a secret until it expires (2 days).
    pub url: SecretUrl,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient_model!(impl PresignedUrl { filename, url });

lenient_model! {
    /// An export job, as `GET /jobs/{job_id}` returns it.
    ///
    /// Every field is optional and decoded leniently; unknown fields are kept in
    /// [`extra`](Self::extra).
    pub struct ExportJob {
        /// The job's id.
        job_id: Option<String>,
        /// The environment's app token.
        app_token: Option<String>,
        /// The job's state; `None` if the server sent none.
        status: Option<JobStatus>,
        /// Progress as the server wrote it (form undocumented: `"45%"`, `"0.45"`, `"3/7"`…).
        progress: Option<String>,
        /// The chunk being processed now.
        current_chunk: Option<String>,
        /// Every chunk the job is split into (`null` reads as empty).
        all_chunks: Vec<String>,
        /// The chunks finished so far (`null` reads as empty).
        completed_chunks: Vec<String>,
        /// When the job started, as sent; see [`ExportJob::started_at`].
        start_time: Option<String>,
        /// When the job ended, as sent; see [`ExportJob::ended_at`].
        end_time: Option<String>,
        /// The job type.
        job_type: Option<String> = "type",
        /// The files of a completed export (`null` reads as empty).
        presigned_urls: Vec<PresignedUrl> as list,
    }
}

impl ExportJob {
    /// The status, or `Unknown("")` when the server sent none.
    pub fn status(&self) -> JobStatus {
        self.status
            .clone()
            .unwrap_or_else(|| JobStatus::Unknown(String::new()))
    }

    /// `true` once the job is completed or failed.
    pub fn is_terminal(&self) -> bool {
        self.status.as_ref().is_some_and(JobStatus::is_terminal)
    }

    /// [`start_time`](Self::start_time) as a date-time, where it parses.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_timestamp)
    }

    /// [`end_time`](Self::end_time) as a date-time, where it parses.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.end_time.as_deref().and_then(parse_timestamp)
    }
}

lenient_model! {
    /// A job as listed by `GET /jobs/`.
    pub struct ExportJobSummary {
        /// The job's id.
        job_id: Option<String>,
        /// The job's state; `None` if the server sent none.
        status: Option<JobStatus>,
        /// Progress as the server wrote it.
        progress: Option<String>,
        /// When the job started, as sent.
        start_time: Option<String>,
        /// When the job ended, as sent.
        end_time: Option<String>,
        /// Elapsed time in the server's own words (e.g. `"00:01:12"`).
        elapsed_time: Option<String>,
        /// Elapsed seconds; a number on the wire is accepted and kept as text.
        /// See [`ExportJobSummary::elapsed_seconds`].
        elapsed_time_seconds: Option<String>,
    }
}

impl ExportJobSummary {
    /// `true` once the job is completed or failed.
    pub fn is_terminal(&self) -> bool {
        self.status.as_ref().is_some_and(JobStatus::is_terminal)
    }

    /// [`elapsed_time_seconds`](Self::elapsed_time_seconds) as a number, where it parses.
    pub fn elapsed_seconds(&self) -> Option<f64> {
        self.elapsed_time_seconds
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
    }

    /// [`start_time`](Self::start_time) as a date-time, where it parses.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_timestamp)
    }
}

lenient_model! {
    /// The answer to a successful trigger (`201 Created`).
    pub struct ExportCreated {
        /// The environment's app token.
        environment_app_token: Option<String>,
        /// The environment's name (e.g. `production`).
        environment_name: Option<String>,
        /// The new job's id.
        job_id: Option<String>,
        /// Links to the job; the spec says string, content undocumented, so any JSON is kept.
        links: Option<Value>,
        /// When the job started, as sent.
        start_time: Option<String>,
    }
}

//! The one error type users match on.

use std::{fmt, path::PathBuf, time::Duration};

use reqwest::StatusCode;

use crate::models::{ErrorDetail, ErrorResponse, ExportJob, JobStatus};

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an API error answer carried: its status, the decoded `errors[]`, and
/// a short excerpt of the body when it was not the JSON error shape (an HTML
/// page from a proxy, say).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiFailure {
    /// The operation that failed (e.g. `get_job`).
    pub operation: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// The errors the server reported, if its body was the JSON error shape.
    pub errors: Vec<ErrorDetail>,
    /// The first bytes of a body that was not the JSON error shape.
    pub body_excerpt: Option<String>,
}

impl ApiFailure {
    pub(crate) fn from_body(operation: &'static str, status: StatusCode, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(decoded) => ApiFailure {
                operation,
                status,
                errors: decoded.errors,
                body_excerpt: None,
            },
            Err(_) => ApiFailure {
                operation,
                status,
                errors: Vec::new(),
                body_excerpt: excerpt(body),
            },
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {}", self.operation, self.status)?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{e}")?;
        }
        if let Some(body) = &self.body_excerpt {
            write!(f, " (body: {body:?})")?;
        }
        Ok(())
    }
}

/// The first 200 characters of a body, lossily decoded; `None` if empty.
pub(crate) fn excerpt(body: &[u8]) -> Option<String> {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let text = text.trim();
    (!text.is_empty()).then(|| shorten(text, MAX))
}

/// `text` cut to at most `max` characters, with `…` when it was cut: the one
/// way error messages quote values (bodies, cells, cursors).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Everything that can go wrong, as variants a caller can match on.
///
/// No variant's text contains the API key or a presigned URL's signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `401`: the API key is missing, wrong or lacks permission.
    #[error("unauthorized: {0}; check the API key")]
    Unauthorized(ApiFailure),
    /// `404`: no such resource (e.g. an unknown or expired job id).
    #[error("not found: {0}")]
    NotFound(ApiFailure),
    /// `409`: an export is already running in this environment (one at a time).
    #[error("conflict: {0}; an export is already running in this environment")]
    Conflict(ApiFailure),
    /// `429` after the retry policy gave up; `retry_after` is the server's advice.
    #[error("rate limited: {failure}{}", retry_after.map(|d| format!("; retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// The delay the server advertised in `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The answer itself.
        failure: ApiFailure,
    },
    /// Any other error status (5xx after retries, undocumented 4xx…).
    #[error("API error: {0}")]
    Api(ApiFailure),
    /// The request could not be sent or its answer not received.
    #[error("transport error during {operation}: {source}")]
    Transport {
        /// The operation (or `download`).
        operation: &'static str,
        /// The underlying error, with any URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// A successful answer whose body could not be decoded, or that lacked
    /// a value the operation cannot do without (a `201` without a `job_id`).
    #[error("could not decode the {operation} answer (status {}): {source}; body starts {excerpt:?}",
        status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()))]
    Decode {
        /// The operation.
        operation: &'static str,
        /// The HTTP status, when known.
        status: Option<StatusCode>,
        /// The first bytes of the body (for an answer that decoded but
        /// lacked a value: the decoded answer, serialized again).
        excerpt: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Input rejected before any request was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The HTTP client could not be set up (TLS backend, system
    /// configuration): nothing was sent, and retrying will not help.
    #[error("could not build the HTTP client: {source}")]
    HttpClient {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// An operation that runs on a Tokio runtime was called outside one:
    /// a mistake in the calling program, not in its input.
    #[error("{operation} must be called within a Tokio runtime")]
    NoRuntime {
        /// The operation called.
        operation: &'static str,
    },
    /// A local file could not be read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    // --- jobs ---
    /// The export job ended in the `failed` state; `job` is its final state
    /// as the server reported it.
    #[error("export job {} failed{}",
        job.job_id.as_deref().unwrap_or("<unknown id>"),
        job.progress.as_deref().map(|p| format!(" (progress {p:?})")).unwrap_or_default())]
    JobFailed {
        /// The job as last seen (status `failed`).
        job: Box<ExportJob>,
    },
    /// Waiting for an export job gave up: it was still not completed or
    /// failed when `max_wait` ran out. The job itself may still finish; resume
    /// with [`Client::job`](crate::Client::job).
    #[error(
        "export job {job_id} still running after {elapsed:?} (max wait {max_wait:?}, {polls} polls)"
    )]
    WaitTimeout {
        /// The job waited for.
        job_id: String,
        /// The wait policy's limit.
        max_wait: std::time::Duration,
        /// How long the wait actually ran.
        elapsed: std::time::Duration,
        /// How many times the job was polled.
        polls: u32,
    },
    // --- pagination ---
    /// A cursor-paginated lookup answered with a next-page cursor it had
    /// already given in this walk: following it would loop forever, so the
    /// walk stopped. Items of the pages before were delivered.
    #[error(
        "{operation}: the server repeated the page cursor {cursor_excerpt:?} after {pages} page(s); \
         stopped instead of looping"
    )]
    RepeatedCursor {
        /// The paginated operation (`segments` or `events_properties`).
        operation: &'static str,
        /// The repeated cursor, cut to at most 32 characters (`…` included).
        cursor_excerpt: String,
        /// How many pages were received, the one that repeated the cursor included.
        pages: usize,
    },
    // --- download ---
    /// A file name from the server that cannot be used as a local file name
    /// (see [`sanitize_filename`](crate::ext::download::sanitize_filename)).
    #[error("unsafe file name {name:?}: {reason}")]
    UnsafeFilename {
        /// The name as the server sent it.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The job cannot be downloaded: it has not completed (or failed).
    #[error("job {job_id} cannot be downloaded: its status is {status}, not completed")]
    JobNotCompleted {
        /// The job's id.
        job_id: String,
        /// The status the server reported.
        status: JobStatus,
    },
    /// One file of an export could not be downloaded. Nothing was written
    /// under its final name; see [`Download`](crate::ext::download::Download)
    /// for what happens to its `.part` file.
    #[error("download of {file:?} (job {job_id}) failed after {attempts} attempt(s): {reason}")]
    Download {
        /// The job's id.
        job_id: String,
        /// The file's name as the server sent it.
        file: String,
        /// Where it was being written (its final name).
        path: PathBuf,
        /// How many requests were made for it.
        attempts: u32,
        /// What went wrong.
        reason: DownloadFailure,
    },
    /// The target directory is locked by another run (a download or a sync:
    /// another `appex` run, a cron job, another task of this program) and
    /// this one was told not to wait for it
    /// ([`LockPolicy::FailFast`](crate::ext::download::LockPolicy::FailFast)).
    /// Nothing was written. Reads `<dir> is in use by another appex download
    /// (pid N)` ([`LockHolder::describe`]).
    #[error("{} is in use by {}", dir.display(), LockHolder::describe(*held_by, *pid))]
    DirectoryBusy {
        /// The target directory.
        dir: PathBuf,
        /// The process holding the lock, as it recorded itself (if it did).
        pid: Option<u32>,
        /// What holds the lock, as it recorded itself (`None` when the lock
        /// file does not say, as an older version's does not).
        held_by: Option<LockHolder>,
    },
    /// The download was asked to stop
    /// ([`Download::stop_on`](crate::ext::download::Download::stop_on), the
    /// CLI's Ctrl-C) before every file was complete. Complete files are
    /// recorded; each unfinished file's `.part` holds exactly the bytes
    /// received, synced, and the same download run again resumes it.
    #[error(
        "interrupted: {files_complete} of {files_total} files complete; run the same download again to resume"
    )]
    Interrupted {
        /// Files complete (fetched or already on disk).
        files_complete: usize,
        /// Files in the job.
        files_total: usize,
    },
    // --- records ---
    /// One row of an export file could not be read as an event: a line that
    /// is not a JSON object, a CSV row with the wrong number of cells, an
    /// `inserted_at` that is not a date-time… Strict reading stops here;
    /// lenient reading skips the row and counts it instead.
    #[error("malformed record in {} at {location}: {message}", file.display())]
    Record {
        /// The file being read.
        file: PathBuf,
        /// Where in the file: a line (ndjson, csv) or a row (avro, parquet).
        location: RecordLocation,
        /// What is wrong with the row.
        message: String,
    },
    /// An export file ends early or is damaged (a truncated gzip stream, a
    /// parquet file without its footer, a corrupt avro block). Whatever
    /// follows the damage is lost, so this is an error even in lenient mode.
    #[error("{} is truncated or corrupt after {records_read} record(s): {message}; the rest of the file is lost, download it again", file.display())]
    CorruptFile {
        /// The file being read.
        file: PathBuf,
        /// How many events were read from the file before the damage.
        records_read: u64,
        /// What the decoder reported.
        message: String,
    },
    /// An export file in a format this build cannot read (e.g. a parquet
    /// file without the `parquet` cargo feature).
    #[error("cannot read {} as {format}: {reason}", file.display())]
    UnsupportedFormat {
        /// The file.
        file: PathBuf,
        /// The format detected or asked for (`parquet`, `avro`…).
        format: String,
        /// Why it cannot be read and what to do about it.
        reason: String,
    },
    /// A sync committed some windows, then stopped on `source`: the state
    /// is saved and the next run continues where this one stopped.
    #[error("sync incomplete ({} of {} window(s) committed, watermark {}): {source}",
        report.windows.iter().filter(|w| w.committed).count(),
        report.windows_planned,
        report.watermark.map(|d| d.to_string()).unwrap_or_else(|| "none".into()))]
    SyncIncomplete {
        /// What the run did before it stopped.
        report: Box<crate::ext::sync::SyncReport>,
        /// Why it stopped.
        #[source]
        source: Box<Error>,
    },
    // --- dataset ---
    /// A dataset destination (object storage) failed an operation. The
    /// message never holds credentials.
    #[error("{operation} {key:?} at {destination} failed: {message}")]
    Destination {
        /// `put`, `get`, `list`, `delete` or `open`.
        operation: &'static str,
        /// The destination (`s3://bucket/prefix`, no credentials).
        destination: String,
        /// The object key (or list prefix) below it.
        key: String,
        /// What the store reported.
        message: String,
    },
    /// A file in a dataset cannot be used: a day file that is not Parquet
    /// or has columns this version cannot merge with.
    #[error("dataset file {key:?} at {destination}: {message}")]
    DatasetFile {
        /// The destination.
        destination: String,
        /// The object key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Where in an export file a malformed record sits (see [`Error::Record`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordLocation {
    /// A 1-based line: ndjson lines, or CSV lines with the header as line 1.
    Line(u64),
    /// A 1-based record number in the file (avro).
    Row(u64),
    /// A 1-based row number in the file and the 0-based row group holding it (parquet).
    RowGroup {
        /// The 0-based row group.
        row_group: usize,
        /// The 1-based row number, counted over the whole file.
        row: u64,
    },
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordLocation::Line(n) => write!(f, "line {n}"),
            RecordLocation::Row(n) => write!(f, "row {n}"),
            RecordLocation::RowGroup { row_group, row } => {
                write!(f, "row {row} (row group {row_group})")
            }
        }
    }
}

impl Error {
    /// The HTTP status this error came with, if it came from an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Unauthorized(f) | Error::NotFound(f) | Error::Conflict(f) | Error::Api(f) => {
                Some(f.status)
            }
            Error::RateLimited { failure, .. } => Some(failure.status),
            Error::Decode { status, .. } => *status,
            Error::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The API failure behind this error, for the status-based variants.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            Error::Unauthorized(f) | Error::NotFound(f) | Error::Conflict(f) | Error::Api(f) => {
                Some(f)
            }
            Error::RateLimited { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// Builds the variant for an error status.
    pub(crate) fn from_status(failure: ApiFailure, retry_after: Option<Duration>) -> Self {
        match failure.status.as_u16() {
            401 => Error::Unauthorized(failure),
            404 => Error::NotFound(failure),
            409 => Error::Conflict(failure),
            429 => Error::RateLimited {
                retry_after,
                failure,
            },
            _ => Error::Api(failure),
        }
    }

    /// The error for a `reqwest::Client` that could not be built.
    pub(crate) fn http_client(source: reqwest::Error) -> Self {
        Error::HttpClient {
            source: source.without_url(),
        }
    }

    pub(crate) fn transport(operation: &'static str, source: reqwest::Error) -> Self {
        Error::Transport {
            operation,
            source: source.without_url(),
        }
    }
}

/// What holds a busy directory (see [`Error::DirectoryBusy`]), as the
/// holder recorded itself in the lock file next to its process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockHolder {
    /// A download of a job's files (`appex jobs download`, `export --out`,
    /// [`Client::download`](crate::Client::download)).
    Download,
    /// A sync (`appex sync`, `Client::sync`).
    Sync,
}

impl LockHolder {
    /// The word the lock file and messages use: `download` or `sync`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockHolder::Download => "download",
            LockHolder::Sync => "sync",
        }
    }

    /// The holder as messages name it: `another appex download (pid 123)`,
    /// `another appex sync (pid 123)`, or `another appex run` when the lock
    /// file does not say what holds it (the pid added when known).
    pub fn describe(held_by: Option<LockHolder>, pid: Option<u32>) -> String {
        format!(
            "another appex {}{}",
            held_by.map_or("run", LockHolder::as_str),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        )
    }
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one file could not be downloaded (see [`Error::Download`]). No
/// variant carries a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownloadFailure {
    /// The server answered this status (for `5xx` and `429`: after retries).
    Status(StatusCode),
    /// The server answered a redirect; redirects are never followed.
    Redirect(StatusCode),
    /// The URL was refused (`401`/`403`, or an expired signature) and still
    /// was with the fresh URL the job gave when fetched again.
    Expired(StatusCode),
    /// The job, fetched again for fresh URLs, no longer lists this file.
    MissingAfterRefresh,
    /// The job gave no usable `http`/`https` URL for this file.
    BadUrl,
    /// The connection failed or broke, after retries (description without URL).
    Transport(String),
    /// No bytes arrived within the stall timeout, after retries.
    Stalled(Duration),
    /// The body was not as long as announced, after retries.
    Length {
        /// The length the server announced.
        expected: u64,
        /// The bytes received.
        received: u64,
    },
    /// A partial answer (`206`) whose `Content-Range` did not match the request.
    ContentRange(String),
}

impl fmt::Display for DownloadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadFailure::Status(s) => write!(f, "the server answered {s}"),
            DownloadFailure::Redirect(s) => {
                write!(
                    f,
                    "the server answered a redirect ({s}), which is not followed"
                )
            }
            DownloadFailure::Expired(s) => write!(
                f,
                "the presigned URL was refused ({s}) even after fetching the job again; it may have expired"
            ),
            DownloadFailure::MissingAfterRefresh => {
                f.write_str("the job, fetched again, no longer lists this file")
            }
            DownloadFailure::BadUrl => f.write_str("the job gave no usable http(s) URL"),
            DownloadFailure::Transport(e) => write!(f, "transport error: {e}"),
            DownloadFailure::Stalled(d) => write!(f, "no data arrived for {d:?}"),
            DownloadFailure::Length { expected, received } => write!(
                f,
                "received {received} bytes where {expected} were announced"
            ),
            DownloadFailure::ContentRange(e) => write!(f, "bad Content-Range: {e}"),
        }
    }
}

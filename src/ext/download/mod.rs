//! Downloading a completed export's files from their presigned URLs:
//! streamed to disk, several at once, resumed and retried, verified.
//!
//! Start from [`Client::download`](crate::Client::download):
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
//!     // `None` only with `.checksum(Checksum::None)`.
//!     let sha256 = file.sha256.as_deref().unwrap_or("-");
//!     println!("{} {} bytes sha256={sha256}", file.path.display(), file.bytes);
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
//!   other), the version (`ETag`/`Last-Modified`, length) of the object a
//!   `.part` holds the start of, and, once a file is complete, its length
//!   and sha256 (unless the run used [`Checksum::None`]).
//! - One download at a time per directory: a run takes the operating
//!   system's advisory lock (`flock` on Unix, through std's
//!   `File::try_lock`) on `.appex-download.lock`, which records what holds
//!   it (a download or a sync) and its process id, and by default waits
//!   for another run to end ([`LockPolicy`]).
//! - Nothing the download writes follows a link planted in the directory:
//!   files are opened with `O_NOFOLLOW` (a link at a `.part` or lock name
//!   is removed, never followed), temporary files are created with `O_EXCL`
//!   under fresh names, and final names are reached by `rename`, which
//!   replaces a link rather than writing through it.
//! - Re-running a download skips a file the manifest records as complete
//!   whose final file still exists with the recorded length (and, with
//!   [`Download::verify_existing`], the recorded sha256; a file recorded
//!   without one cannot be verified and is fetched again); it is reported
//!   with `skipped: true` and the recorded sha256. Anything else is fetched
//!   again.
//! - Each file's SHA-256 is computed on the thread that writes it, as its
//!   bytes land (a resumed `.part` has its earlier bytes read and hashed
//!   first). [`Download::checksum`] with [`Checksum::None`] turns this off
//!   for staging directories whose files are converted and thrown away,
//!   typically with [`Durability::None`].
//! - When a file fails for good, its final name is left untouched and its
//!   `.part` is **kept** (removed only if empty), so the next run resumes it
//!   with a `Range` request; the server's `Content-Range` must then start
//!   exactly where the `.part` ends, and a server that answers the whole
//!   file (`200`) instead simply restarts it. Files that did not fail are
//!   still completed (and recorded), then the first failure is returned.
//! - Names already in the directory that this job did not create are never
//!   overwritten: a colliding name becomes `name (2).ext`.
//! - Cancel-safe: dropping [`Download::run`]'s future leaves a state the
//!   next run resumes from; [`Download::stop_on`] stops cleanly.

mod builder;
mod file;
mod filename;
mod lock;
mod manifest;
mod naming;
mod nofollow;
mod part;
mod progress;
mod refresh;
mod report;

pub use builder::{Download, DownloadSource};
pub use filename::sanitize_filename;
#[cfg(feature = "dataset")]
pub(crate) use lock::DirectoryLock;
pub use lock::LockPolicy;
pub use part::{Checksum, Durability, ExistingCheck};
pub use progress::{DownloadProgress, ProgressEvent};
pub use report::{DownloadReport, DownloadedFile};

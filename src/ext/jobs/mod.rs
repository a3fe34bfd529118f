//! Export jobs after the trigger: a handle on one job, its progress read
//! leniently, and a poller that waits for the end with backoff.
//!
//! [`JobPoller::poll`] is one step, [`JobPoller::wait`] runs to a terminal
//! state under a [`WaitPolicy`], and [`JobPoller::updates`] is the same loop
//! as a [`Stream`](futures::Stream). Cancelling is dropping the future (or the stream).
//! Waits are cancel-safe: they hold no state but the job id, so a dropped
//! wait (Ctrl-C, a timeout around it) loses nothing; the job keeps running
//! on the server and `client.job(id)` waits for it again.
//! By default the wait follows the job's chunk counts and polls near the
//! predicted end ([`PollSchedule::FollowProgress`]); without them it backs
//! off as [`WaitPolicy`] says.
//!
//! Vocabulary, here and across the crate: setters on builders and handles
//! are bare names (`wait_policy`, `conflict_policy`, `on_progress`), the
//! knobs of a policy value are `with_*`, and callbacks are
//! `Fn + Send + Sync + 'static`.
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

mod handle;
mod policy;
mod poller;
mod progress;
mod schedule;

pub use handle::{ExportJobHandle, JobOrigin};
pub use policy::{PollSchedule, WaitPolicy};
pub use poller::{JobPoller, JobUpdate, PollState};
pub use progress::Progress;

//! Export jobs after the trigger: a handle on one job, its progress read
//! leniently, and a poller that waits for the end with backoff.
//!
//! Shaped like google-cloud-rust's `Poller` and the AWS SDK waiters:
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

mod handle;
mod policy;
mod poller;
mod progress;

pub use handle::{ExportJobHandle, JobOrigin};
pub use policy::WaitPolicy;
pub use poller::{JobPoller, JobUpdate, PollState};
pub use progress::Progress;

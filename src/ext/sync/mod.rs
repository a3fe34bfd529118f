//! Keeping a copy of an environment's events current: windowed,
//! resumable, late-event safe.
//!
//! [`Client::sync`](crate::Client::sync) lands every UTC day from a start day to an end day
//! (yesterday by default) in a destination (a local directory or
//! `s3://bucket/prefix`), one Parquet file per day, deduplicated on
//! `internal_event_id`. Run it again (nightly, say) and it reads only what
//! is new plus a lookback for late (backdated) events:
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use chrono::NaiveDate;
//! use userpilot_appex::{Client, ext::sync::SyncState};
//!
//! let client = Client::from_env()?;
//! let report = client
//!     .sync("warehouse/userpilot")
//!     .start(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
//!     .window_days(7)
//!     .lookback_days(3)
//!     .on_progress(|p| eprintln!("{p:?}"))
//!     .run()
//!     .await?;
//! println!("{} new rows, watermark {:?}", report.new_rows, report.watermark);
//! let state = SyncState::load("warehouse/userpilot").await?;
//! println!("{} days landed", state.days.len());
//! # Ok(()) }
//! ```
//!
//! # How a run goes
//! 1. **Plan** ([`SyncPlan`]): from the state's watermark (the last day
//!    landed completely) minus the lookback, or from the start day on a
//!    first run, to the end day; cut into windows of the window size.
//! 2. **One window at a time** (Userpilot runs one export per environment):
//!    trigger the export, save it in the state as in flight, wait for it,
//!    download its files to a staging directory, land each day (merge with
//!    what the day holds, dedupe, replace the day's file atomically), then
//!    save the state with the watermark moved past the window. A failure
//!    leaves earlier windows committed ([`Error::SyncIncomplete`](crate::Error::SyncIncomplete)).
//! 3. **Lookups** are refreshed as tables at the end.
//!
//! # What survives what
//! - **Killed at any point**: the next run finds the in-flight job in the
//!   state. Still visible: it is waited for and downloaded, not triggered
//!   again, and staged files already complete are reused. Gone (`404`,
//!   after the job retention): the window is triggered again. Days landed
//!   before the kill are landed again; the merge drops the duplicates, so
//!   no row is lost or doubled.
//! - **A range too long for the server** (`400`/`422` naming the range):
//!   the window is halved and the run goes on; the state remembers the size
//!   that worked.
//! - **Someone else's export running** (`409`): waited for (at most
//!   [`SyncRun::max_wait_other`]), then this window is triggered.
//! - **Other filters than the copy was made with**: refused
//!   ([`Error::InvalidInput`](crate::Error::InvalidInput)) unless [`SyncRun::on_filter_change`] says
//!   [`FilterChange::StartOver`].
//! - **Two syncs on one destination**: the second waits for the first's
//!   lock or is refused, as [`SyncRun::lock_policy`] says: the downloader's
//!   file lock on a local destination's `_appex/`, the lock object
//!   [`LOCK_KEY`] (created with a conditional PUT, refreshed while the run
//!   lasts, taken over once expired) on S3.
//!
//! What the crate assumes about the API: `from` and `to` are sent as dates
//! and `to`'s day is included; the range filters on `inserted_at`; events
//! land on the UTC day of their `inserted_at`, whatever the window.

#[cfg(feature = "dataset")]
mod builder;
#[cfg(feature = "dataset")]
mod lock;
mod plan;
mod report;
#[cfg(feature = "dataset")]
mod run;
mod state;

#[cfg(feature = "dataset")]
pub use builder::{Checkpoint, FilterChange, LookupRefresh, SyncRun};
#[cfg(feature = "dataset")]
pub use lock::LOCK_KEY;

pub use plan::{SyncPlan, Window};
pub use report::{DayReport, JobSource, SyncProgress, SyncReport, WindowReport};
pub use state::{
    DayState, InFlight, RunRecord, STATE_KEY, STATE_VERSION, SyncState, filters_hash, request_hash,
};

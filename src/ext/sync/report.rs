//! What a sync did: [`SyncReport`], and the progress it reports on the way.

use std::time::Duration;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plan::{SyncPlan, Window};

/// The outcome of [`SyncRun::run`](super::SyncRun::run).
///
/// A run that stops after committing some windows returns
/// [`Error::SyncIncomplete`](crate::Error::SyncIncomplete) carrying this
/// report (`complete: false`); the state is saved and the next run
/// continues from the watermark.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncReport {
    /// The plan the run started from.
    pub plan: Option<SyncPlan>,
    /// Windows planned at the start.
    pub windows_planned: usize,
    /// The windows run, in order (more than planned if the server refused
    /// a range and the window was halved).
    pub windows: Vec<WindowReport>,
    /// The days landed, in order, with their counts.
    pub days: Vec<DayReport>,
    /// Rows in the destination that were not there before this run.
    pub new_rows: u64,
    /// Of `new_rows`, those on days an earlier run had landed (late events
    /// the lookback brought in).
    pub late_rows: u64,
    /// Rows read that were already in the destination (or twice in the
    /// export) and were dropped.
    pub duplicates_dropped: u64,
    /// Exports triggered (a resumed in-flight job is not one).
    pub exports_triggered: u32,
    /// HTTP requests the run sent to the API and its file host: triggers,
    /// job polls and lists, file downloads and the lookup refresh, each
    /// retry counted (the destination's own requests are not).
    pub requests: u64,
    /// The window size (days) in force at the end.
    pub window_days: u32,
    /// The watermark at the end.
    pub watermark: Option<NaiveDate>,
    /// Whether every planned day landed.
    pub complete: bool,
    /// Lookup tables refreshed.
    pub lookups: Vec<String>,
    /// Wall time of the run.
    #[schemars(with = "f64")]
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

/// One window of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WindowReport {
    /// Its days.
    pub window: Window,
    /// The export job that covered it (empty if the range was refused).
    pub job_id: String,
    /// How the job came about.
    pub job: JobSource,
    /// Whether its days all landed and the state moved past it.
    pub committed: bool,
}

/// Where a window's export job came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobSource {
    /// Triggered by this run.
    Triggered,
    /// The in-flight job of an interrupted run, still visible: waited for
    /// and downloaded, not triggered again.
    Resumed,
    /// The server refused the range as too long; the window was halved.
    Refused,
}

/// One day landed by a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DayReport {
    /// The UTC day.
    pub day: NaiveDate,
    /// Rows in the day's file before.
    pub rows_before: u64,
    /// Rows in the day's file after.
    pub rows: u64,
    /// `rows - rows_before`.
    pub new_rows: u64,
    /// Whether an earlier run had landed the day (a lookback re-read).
    pub reread: bool,
    /// The day's checksum after landing.
    pub checksum: String,
}

/// What a sync is doing, for [`SyncRun::on_progress`](super::SyncRun::on_progress).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SyncProgress {
    /// The plan is made; `days` to read in all.
    Planned {
        /// The plan.
        plan: SyncPlan,
    },
    /// A window's export was triggered (or an interrupted run's job resumed).
    WindowStarted {
        /// The window.
        window: Window,
        /// Its job.
        job_id: String,
        /// Triggered or resumed.
        source: JobSource,
    },
    /// The job's status, while waiting.
    Job {
        /// The window.
        window: Window,
        /// The status as the server says it.
        status: String,
        /// Its progress, 0 to 1, when known.
        fraction: Option<f64>,
    },
    /// Another sync holds the destination's lock; this one waits for it
    /// ([`LockPolicy::Wait`](crate::ext::download::LockPolicy::Wait)).
    WaitingForLock {
        /// Who holds it: the lock, and the holder as it recorded itself.
        holder: String,
    },
    /// Someone else's export is running; the sync waits for it to end.
    WaitingForOther {
        /// The running job's id.
        job_id: String,
    },
    /// The server refused the range; the window shrinks.
    Halved {
        /// The refused window.
        refused: Window,
        /// The new size in days.
        window_days: u32,
    },
    /// A day landed.
    DayLanded {
        /// What landed.
        day: DayReport,
    },
    /// A window's days all landed and the state was saved.
    WindowCommitted {
        /// The window.
        window: Window,
    },
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Duration::try_from_secs_f64(secs).unwrap_or_default())
    }
}

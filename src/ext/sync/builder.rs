//! [`SyncRun`]: the builder [`Client::sync`] returns, and the checkpoints
//! tests stop a run at.

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use chrono::NaiveDate;

use super::{SyncPlan, SyncProgress, SyncReport, lock, run};
use crate::{
    Client,
    dataset::DestinationOptions,
    error::Result,
    ext::{download::LockPolicy, export::ExportRequestBuilder, jobs::WaitPolicy},
};

/// A named point of a sync run, for tests that stop a run there
/// ([`SyncRun::checkpoint_hook`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Checkpoint {
    /// The export was triggered and recorded in the state.
    AfterTrigger,
    /// The job was polled once and is still running.
    MidWait,
    /// The first file's first bytes are on disk.
    MidDownload,
    /// Every file of the window is staged.
    AfterStaging,
    /// The window's first day landed; the others not yet.
    MidLanding,
    /// Every day of the window landed; the state is not saved yet.
    AfterLanding,
    /// The state with the window committed is saved.
    AfterStateWrite,
}

impl Checkpoint {
    /// Every checkpoint, in the order a window passes them.
    pub const ALL: [Checkpoint; 7] = [
        Checkpoint::AfterTrigger,
        Checkpoint::MidWait,
        Checkpoint::MidDownload,
        Checkpoint::AfterStaging,
        Checkpoint::MidLanding,
        Checkpoint::AfterLanding,
        Checkpoint::AfterStateWrite,
    ];
}

/// Whether a sync refreshes the lookup tables at its end
/// ([`SyncRun::lookups`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LookupRefresh {
    /// Replace every lookup table with a fresh snapshot, then the views
    /// (default).
    #[default]
    Refresh,
    /// Leave the lookup tables as they are (`--no-lookups`).
    Skip,
}

pub(super) type ProgressFn = Box<dyn FnMut(&SyncProgress) + Send>;
pub(super) type CheckpointFn = Arc<dyn Fn(Checkpoint) -> bool + Send + Sync>;

/// A sync of the events into a destination; from [`Client::sync`], run
/// with [`run`](Self::run). See the [module documentation](super).
#[derive(Debug)]
pub struct SyncRun {
    pub(super) client: Client,
    pub(super) destination: String,
    pub(super) destination_options: DestinationOptions,
    pub(super) days: Days,
    pub(super) filters: ExportRequestBuilder,
    pub(super) waits: Waits,
    pub(super) reset: bool,
    pub(super) lookups: LookupRefresh,
    pub(super) staging: Option<PathBuf>,
    pub(super) hooks: Hooks,
}

/// The days a run covers and how it cuts them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Days {
    pub start: Option<NaiveDate>,
    /// Yesterday (UTC) when unset.
    pub end: Option<NaiveDate>,
    pub window: u32,
    pub lookback: u32,
}

/// How a run waits: for its jobs, for someone else's export, for the lock.
#[derive(Clone, Debug)]
pub(super) struct Waits {
    pub job: WaitPolicy,
    pub other_export: Duration,
    pub lock: LockPolicy,
    pub lock_expiry: Duration,
}

/// The caller's callbacks.
#[derive(Default)]
pub(super) struct Hooks {
    pub progress: Option<ProgressFn>,
    pub checkpoint: Option<CheckpointFn>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |hook: bool| if hook { "set" } else { "none" };
        write!(
            f,
            "Hooks {{ progress: {}, checkpoint: {} }}",
            set(self.progress.is_some()),
            set(self.checkpoint.is_some())
        )
    }
}

impl Client {
    /// A sync of this environment's events into `destination`: a local
    /// directory or `s3://bucket/prefix`. Set at least
    /// [`start`](SyncRun::start), then [`run`](SyncRun::run) it.
    pub fn sync(&self, destination: impl Into<String>) -> SyncRun {
        SyncRun {
            client: self.clone(),
            destination: destination.into(),
            destination_options: DestinationOptions::default(),
            days: Days {
                start: None,
                end: None,
                window: 7,
                lookback: 3,
            },
            filters: ExportRequestBuilder::new(),
            waits: Waits {
                job: WaitPolicy::default(),
                other_export: Duration::from_secs(30 * 60),
                lock: LockPolicy::default(),
                lock_expiry: lock::DEFAULT_EXPIRY,
            },
            reset: false,
            lookups: LookupRefresh::default(),
            staging: None,
            hooks: Hooks::default(),
        }
    }
}

impl SyncRun {
    /// The first UTC day to sync (required on a first run; later runs may
    /// repeat it).
    pub fn start(mut self, day: NaiveDate) -> Self {
        self.days.start = Some(day);
        self
    }

    /// The last UTC day to sync, included (default: yesterday, UTC).
    pub fn end(mut self, day: NaiveDate) -> Self {
        self.days.end = Some(day);
        self
    }

    /// Days per export (default 7; at least 1). The state's remembered size
    /// wins when it is smaller (the server refused larger ones).
    pub fn window_days(mut self, days: u32) -> Self {
        self.days.window = days.max(1);
        self
    }

    /// Landed days re-read for late events on every run (default 3).
    pub fn lookback_days(mut self, days: u32) -> Self {
        self.days.lookback = days;
        self
    }

    /// The export filters: event types, users, companies, segment,
    /// exclusions. Its range, format and emails are ignored (the sync sets
    /// the range per window and reads ndjson).
    pub fn filters(mut self, filters: ExportRequestBuilder) -> Self {
        self.filters = filters;
        self
    }

    /// How each window's job is waited for (default [`WaitPolicy::default`]).
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.waits.job = policy;
        self
    }

    /// How long to wait for an export someone else started before giving
    /// up with [`Error::Conflict`](crate::Error::Conflict) (default 30 min).
    pub fn max_wait_other(mut self, max: Duration) -> Self {
        self.waits.other_export = max;
        self
    }

    /// How an S3 destination is reached: endpoint and settings over the
    /// `AWS_*` variables (default: the variables alone). A local
    /// destination ignores them.
    pub fn destination_options(mut self, options: DestinationOptions) -> Self {
        self.destination_options = options;
        self
    }

    /// What to do when another sync holds the destination's lock: wait
    /// for it (default) or fail at once with
    /// [`Error::DirectoryBusy`](crate::Error::DirectoryBusy), the
    /// downloader's rules. A local destination is locked with the
    /// downloader's advisory lock on its `_appex/` (released when the run
    /// ends or its process dies); an S3 destination with the lock object
    /// `_appex/lock.json` (see [`lock_expiry`](Self::lock_expiry)).
    pub fn lock_policy(mut self, policy: LockPolicy) -> Self {
        self.waits.lock = policy;
        self
    }

    /// How long an S3 destination's lock object lives without a refresh
    /// (default 10 minutes). The running sync refreshes it every third of
    /// this; a lock past its expiry (its holder died) is taken over by the
    /// next sync. Hosts' clocks must agree to well within it.
    pub fn lock_expiry(mut self, expiry: Duration) -> Self {
        self.waits.lock_expiry = expiry.max(Duration::from_millis(300));
        self
    }

    /// Accept filters other than the ones the copy was made with: the
    /// state starts over (landed days stay and are merged into).
    pub fn reset(mut self, reset: bool) -> Self {
        self.reset = reset;
        self
    }

    /// Whether the lookup tables are refreshed at the end (default
    /// [`LookupRefresh::Refresh`]).
    pub fn lookups(mut self, lookups: LookupRefresh) -> Self {
        self.lookups = lookups;
        self
    }

    /// Where raw export files are staged (default: `_appex/staging` in a
    /// local destination; a directory under the system temp dir named
    /// after an S3 destination).
    pub fn staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging = Some(dir.into());
        self
    }

    /// Called with each step of the run.
    pub fn on_progress(mut self, callback: impl FnMut(&SyncProgress) + Send + 'static) -> Self {
        self.hooks.progress = Some(Box::new(callback));
        self
    }

    /// Test hook: called at each [`Checkpoint`]; returning `true` stops the
    /// run there as a kill would (nothing cleaned up, nothing saved), with
    /// an [`Error::Io`](crate::Error::Io) of kind `Interrupted`.
    #[doc(hidden)]
    pub fn checkpoint_hook(
        mut self,
        hook: impl Fn(Checkpoint) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.hooks.checkpoint = Some(Arc::new(hook));
        self
    }

    /// The plan this sync would follow, from the destination's state;
    /// nothing is triggered or written (`--dry-run`).
    pub async fn plan(&self) -> Result<SyncPlan> {
        run::plan(self).await
    }

    /// Runs the sync; see the [module documentation](super).
    ///
    /// Errors: [`Error::InvalidInput`](crate::Error::InvalidInput) for a
    /// missing start, a start after the end, or filters other than the
    /// state's; [`Error::SyncIncomplete`](crate::Error::SyncIncomplete)
    /// when some windows were committed before a failure; otherwise the
    /// failure of the first window (nothing committed).
    pub async fn run(self) -> Result<SyncReport> {
        run::run(self).await
    }
}

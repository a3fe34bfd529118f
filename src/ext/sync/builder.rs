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

/// What a sync does when its filters differ from the ones the copy was
/// made with ([`SyncRun::on_filter_change`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterChange {
    /// Refuse with [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// (exit 2 in the CLI), changing nothing (default).
    #[default]
    Refuse,
    /// Start the state over with the new filters; landed days stay and are
    /// merged into (`--reset`).
    StartOver,
}

pub(super) type ProgressFn = Box<dyn FnMut(&SyncProgress) + Send>;
pub(super) type CheckpointFn = Arc<dyn Fn(Checkpoint) -> bool + Send + Sync>;

/// A sync of the events into a destination; from [`Client::sync`], run
/// with [`run`](Self::run). See the [module documentation](super).
#[derive(Debug)]
pub struct SyncRun {
    pub(super) client: Client,
    pub(super) target: Target,
    pub(super) scope: Scope,
    pub(super) waits: Waits,
    pub(super) hooks: Hooks,
}

/// Where a run writes.
#[derive(Debug)]
pub(super) struct Target {
    /// A directory or `s3://bucket/prefix`, as the caller named it.
    pub location: String,
    pub options: DestinationOptions,
    /// Where raw export files are staged; from the location when unset.
    pub staging: Option<PathBuf>,
}

/// What a run reads, and what it does with the state and the lookups.
#[derive(Debug)]
pub(super) struct Scope {
    pub days: Days,
    pub filters: ExportRequestBuilder,
    /// What to do when the filters changed.
    pub filter_change: FilterChange,
    pub lookups: LookupRefresh,
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
            target: Target {
                location: destination.into(),
                options: DestinationOptions::default(),
                staging: None,
            },
            scope: Scope {
                days: Days {
                    start: None,
                    end: None,
                    window: 7,
                    lookback: 3,
                },
                filters: ExportRequestBuilder::new(),
                filter_change: FilterChange::Refuse,
                lookups: LookupRefresh::default(),
            },
            waits: Waits {
                job: WaitPolicy::default(),
                other_export: Duration::from_secs(30 * 60),
                lock: LockPolicy::default(),
                lock_expiry: lock::DEFAULT_EXPIRY,
            },
            hooks: Hooks::default(),
        }
    }
}

impl SyncRun {
    crate::macros::setters! {
        /// The first UTC day to sync (required on a first run; later runs may
        /// repeat it).
        start(day: NaiveDate) => scope.days.start = Some(day);
        /// The last UTC day to sync, included (default: yesterday, UTC).
        end(day: NaiveDate) => scope.days.end = Some(day);
        /// Days per export (default 7; at least 1). The state's remembered size
        /// wins when it is smaller (the server refused larger ones).
        window_days(days: u32) => scope.days.window = days.max(1);
        /// Landed days re-read for late events on every run (default 3).
        lookback_days(days: u32) => scope.days.lookback = days;
        /// The export filters: event types, users, companies, segment,
        /// exclusions. Its range, format and emails are ignored (the sync sets
        /// the range per window and reads ndjson).
        filters(filters: ExportRequestBuilder) => scope.filters = filters;
        /// How each window's job is waited for (default [`WaitPolicy::default`]).
        wait_policy(policy: WaitPolicy) => waits.job = policy;
        /// How long to wait for an export someone else started before giving
        /// up with [`Error::Conflict`](crate::Error::Conflict) (default 30 min).
        max_wait_other(max: Duration) => waits.other_export = max;
        /// How an S3 destination is reached: endpoint and settings over the
        /// `AWS_*` variables (default: the variables alone). A local
        /// destination ignores them.
        destination_options(options: DestinationOptions) => target.options = options;
        /// What to do when another sync holds the destination's lock: wait
        /// for it (default) or fail at once with
        /// [`Error::DirectoryBusy`](crate::Error::DirectoryBusy), the
        /// downloader's rules. A local destination is locked with the
        /// downloader's advisory lock on its `_appex/` (released when the run
        /// ends or its process dies); an S3 destination with the lock object
        /// `_appex/lock.json` (see [`lock_expiry`](Self::lock_expiry)).
        lock_policy(policy: LockPolicy) => waits.lock = policy;
        /// How long an S3 destination's lock object lives without a refresh
        /// (default 10 minutes). The running sync refreshes it every third of
        /// this; a lock past its expiry (its holder died) is taken over by the
        /// next sync. Hosts' clocks must agree to well within it.
        lock_expiry(expiry: Duration) => waits.lock_expiry = expiry.max(Duration::from_millis(300));
        /// What to do when the filters differ from the ones the copy was
        /// made with (default [`FilterChange::Refuse`]).
        on_filter_change(change: FilterChange) => scope.filter_change = change;
        /// Whether the lookup tables are refreshed at the end (default
        /// [`LookupRefresh::Refresh`]).
        lookups(lookups: LookupRefresh) => scope.lookups = lookups;
        /// Where raw export files are staged (default: `_appex/staging` in a
        /// local destination; a directory under the system temp dir named
        /// after an S3 destination).
        staging_dir(dir: impl Into<PathBuf>) => target.staging = Some(dir.into());
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

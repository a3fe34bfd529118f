//! One sync at a time per destination, with the downloader's rules
//! ([`LockPolicy`]: wait for the holder, or fail at once with
//! [`Error::DirectoryBusy`]).
//!
//! - **A local directory**: the downloader's advisory file lock
//!   ([`DirectoryLock`]) on the destination's `_appex/`, released when the
//!   run ends or its process dies.
//! - **S3**: the lock object `_appex/lock.json` (owner, host, pid, started,
//!   expires), created with a conditional create (`If-None-Match: *`), so
//!   of two runs only one creates it. The holder refreshes `expires` every
//!   third of the expiry ([`SyncRun::lock_expiry`](super::SyncRun::lock_expiry))
//!   with a compare-and-swap on the version it wrote (`If-Match`), and
//!   deletes the object at the end. A process that dies leaves the object
//!   behind: once `expires` is past (or the object is unreadable), the next
//!   run takes it over, again by compare-and-swap, so of two runs taking
//!   over one stale lock only one wins. The hosts' clocks must agree to
//!   well within the expiry. A holder whose refresh finds another owner
//!   (it stalled past its expiry and was taken over) stops before writing
//!   its next state.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    dataset::{Destination, ObjectVersion, PutCondition},
    error::{Error, LockHolder, Result},
    ext::{
        download::{DirectoryLock, LockPolicy},
        jobs::WaitPolicy,
    },
};

/// The lock object of an S3 destination.
pub const LOCK_KEY: &str = "_appex/lock.json";

/// How long an S3 lock lives without a refresh, by default.
pub(super) const DEFAULT_EXPIRY: Duration = Duration::from_secs(10 * 60);

/// What `_appex/lock.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LockRecord {
    /// This run's random id (the lock is its own while it holds this).
    owner: String,
    host: String,
    pid: u32,
    started: DateTime<Utc>,
    expires: DateTime<Utc>,
}

impl LockRecord {
    fn to_bytes(&self) -> Bytes {
        serde_json::to_vec_pretty(self).unwrap_or_default().into()
    }

    fn describe(&self) -> String {
        format!(
            "{} (pid {} on {}, since {})",
            self.owner,
            self.pid,
            self.host,
            self.started.format("%Y-%m-%d %H:%M:%SZ")
        )
    }
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn expires_after(expiry: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(expiry).unwrap_or(chrono::Duration::MAX)
}

/// A held sync lock; see the [module documentation](self).
#[derive(Debug)]
pub(super) enum SyncLock {
    /// A local destination's `_appex/` lock; released on drop.
    Dir {
        /// Held for its drop.
        _held: DirectoryLock,
    },
    /// An S3 destination's lock object.
    Object(ObjectLock),
}

/// The lock object this run holds, and its heartbeat.
#[derive(Debug)]
pub(super) struct ObjectLock {
    dest: Arc<dyn Destination>,
    owner: String,
    lost: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

/// How to take the lock.
pub(super) struct Acquire<'a> {
    pub dest: &'a Arc<dyn Destination>,
    /// The directory of a local destination; `None` for S3.
    pub local: Option<&'a Path>,
    pub policy: LockPolicy,
    /// How long an S3 lock lives without a refresh.
    pub expiry: Duration,
    /// The delays between two looks at a held S3 lock.
    pub wait: &'a WaitPolicy,
}

impl Acquire<'_> {
    /// Takes the lock; `on_wait` is told once, with the holder, when the
    /// run has to wait for it.
    pub async fn run(self, mut on_wait: impl FnMut(String)) -> Result<SyncLock> {
        match self.local {
            Some(root) => {
                let dir = root.join("_appex");
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|source| Error::Io {
                        path: dir.clone(),
                        source,
                    })?;
                let _held =
                    DirectoryLock::acquire(&dir, LockHolder::Sync, self.policy, |_, pid| {
                        on_wait(format!(
                            "{}{}",
                            dir.display(),
                            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                        ))
                    })
                    .await?;
                Ok(SyncLock::Dir { _held })
            }
            None => self.object(on_wait).await.map(SyncLock::Object),
        }
    }

    async fn object(self, mut on_wait: impl FnMut(String)) -> Result<ObjectLock> {
        let dest = self.dest;
        let owner = format!("appex-sync-{:016x}", fastrand::u64(..));
        let (host, pid, started) = (host(), std::process::id(), Utc::now());
        let record = || LockRecord {
            owner: owner.clone(),
            host: host.clone(),
            pid,
            started,
            expires: expires_after(self.expiry),
        };
        let mut looks = 0u32;
        loop {
            if let Some(version) = dest
                .put_if(LOCK_KEY, record().to_bytes(), PutCondition::Absent)
                .await?
            {
                return Ok(self.held(record(), version));
            }
            let Some((bytes, version)) = dest.get_versioned(LOCK_KEY).await? else {
                // Released between the two requests: try again.
                continue;
            };
            let holder = serde_json::from_slice::<LockRecord>(&bytes).ok();
            if holder.as_ref().is_none_or(|h| h.expires <= Utc::now()) {
                let condition = PutCondition::Matches(version);
                if let Some(version) = dest
                    .put_if(LOCK_KEY, record().to_bytes(), condition)
                    .await?
                {
                    tracing::warn!(
                        destination = %dest.describe(),
                        stale = %holder.as_ref().map_or_else(|| "unreadable".into(), LockRecord::describe),
                        "took over an expired sync lock"
                    );
                    return Ok(self.held(record(), version));
                }
                // Another run took it over first: look again.
                continue;
            }
            let holder = holder.expect("checked above");
            if self.policy == LockPolicy::FailFast {
                return Err(Error::DirectoryBusy {
                    dir: dest.describe().into(),
                    pid: Some(holder.pid),
                    held_by: Some(LockHolder::Sync),
                });
            }
            if looks == 0 {
                on_wait(format!("{} by {}", dest.describe(), holder.describe()));
            }
            looks += 1;
            tokio::time::sleep(self.wait.delay(looks)).await;
        }
    }

    /// The lock just written, with its heartbeat started.
    fn held(&self, record: LockRecord, version: ObjectVersion) -> ObjectLock {
        let owner = record.owner.clone();
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(heartbeat(
            self.dest.clone(),
            record,
            version,
            self.expiry,
            lost.clone(),
        ));
        ObjectLock {
            dest: self.dest.clone(),
            owner,
            lost,
            heartbeat,
        }
    }
}

/// Moves the lock's expiry forward every third of it, as long as the
/// object is still the version this run wrote.
async fn heartbeat(
    dest: Arc<dyn Destination>,
    mut record: LockRecord,
    mut version: ObjectVersion,
    expiry: Duration,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(expiry / 3).await;
        record.expires = expires_after(expiry);
        let condition = PutCondition::Matches(version.clone());
        match dest.put_if(LOCK_KEY, record.to_bytes(), condition).await {
            Ok(Some(next)) => version = next,
            Ok(None) => {
                tracing::warn!(destination = %dest.describe(), "the sync lock was taken over by another run");
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // A failed refresh is tried again at the next beat; the lock
            // holds until its expiry meanwhile.
            Err(error) => tracing::warn!(%error, "could not refresh the sync lock"),
        }
    }
}

impl SyncLock {
    /// Fails if another run took the lock over (this run stalled past its
    /// expiry): nothing more may be written.
    pub fn check(&self) -> Result<()> {
        match self {
            SyncLock::Object(lock) if lock.lost.load(Ordering::Relaxed) => {
                Err(Error::Destination {
                    operation: "lock",
                    destination: lock.dest.describe(),
                    key: LOCK_KEY.into(),
                    message: "the sync lock expired and another run took it over".into(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Releases the lock: stops the heartbeat and deletes the lock object
    /// if it is still this run's.
    pub async fn release(self) -> Result<()> {
        let SyncLock::Object(mut lock) = self else {
            return Ok(());
        };
        lock.heartbeat.abort();
        let _ = (&mut lock.heartbeat).await;
        if let Some((bytes, _)) = lock.dest.get_versioned(LOCK_KEY).await?
            && serde_json::from_slice::<LockRecord>(&bytes)
                .is_ok_and(|record| record.owner == lock.owner)
        {
            lock.dest.delete(LOCK_KEY).await?;
        }
        Ok(())
    }
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        // Not released (a panic, a dropped future): the object stays until
        // its expiry, as if the process had died.
        self.heartbeat.abort();
    }
}

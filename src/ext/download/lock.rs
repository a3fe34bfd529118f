//! One download at a time per directory: an exclusive advisory lock
//! (`std::fs::File::try_lock`: `flock` on Unix) on `.appex-download.lock`
//! in the directory, held for the whole download.

use std::{
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use crate::error::{Error, Result};

use super::nofollow;

/// The lock file's name inside the target directory.
pub(crate) const LOCK_NAME: &str = ".appex-download.lock";

/// What a download does when another download (another `appex` run, a
/// cron job, another task of this program) holds its directory. Set with
/// [`Download::lock_policy`](super::Download::lock_policy).
///
/// The lock is an advisory `flock` on `.appex-download.lock` in the
/// directory: it is released when the download ends, fails, is dropped or
/// its process dies, so a crashed run never leaves the directory locked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockPolicy {
    /// Wait until the other download ends, then run (default). Two
    /// overlapping runs of one job both succeed, one after the other, and
    /// the second skips the files the first completed.
    #[default]
    Wait,
    /// Fail at once with [`Error::DirectoryBusy`], writing nothing.
    FailFast,
}

/// The held lock; released on drop.
#[derive(Debug)]
pub(crate) struct DirectoryLock {
    _file: std::fs::File,
}

impl DirectoryLock {
    /// Takes the lock on `dir` (which exists), as `policy` says, telling
    /// `on_wait` once, with the holder's process id if it recorded one,
    /// when it has to wait.
    pub async fn acquire(
        dir: &Path,
        policy: LockPolicy,
        on_wait: impl FnOnce(Option<u32>),
    ) -> Result<DirectoryLock> {
        let path = dir.join(LOCK_NAME);
        let mut on_wait = Some(on_wait);
        loop {
            let attempt = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || try_lock(&path))
                    .await
                    .map_err(|e| Error::Io {
                        path: dir.to_path_buf(),
                        source: std::io::Error::other(e),
                    })?
            };
            match attempt {
                Ok(Some(lock)) => return Ok(lock),
                Ok(None) if policy == LockPolicy::FailFast => {
                    return Err(Error::DirectoryBusy {
                        dir: dir.to_path_buf(),
                        pid: holder(&path),
                    });
                }
                Ok(None) => {
                    if let Some(tell) = on_wait.take() {
                        tell(holder(&path));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(source) => return Err(Error::Io { path, source }),
            }
        }
    }
}

/// The lock if free (with this process's id written into the file), `None`
/// if another holds it.
fn try_lock(path: &PathBuf) -> std::io::Result<Option<DirectoryLock>> {
    nofollow::remove_link(path)?;
    let mut file = nofollow::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(Some(DirectoryLock { _file: file }))
}

/// The process id the holder wrote into the lock file, if readable.
fn holder(path: &Path) -> Option<u32> {
    let mut text = String::new();
    nofollow::options()
        .read(true)
        .open(path)
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

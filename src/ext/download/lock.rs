//! One download at a time per directory: an exclusive advisory lock on
//! `.appex-download.lock` in the directory, held for the whole download.
//! The lock is the operating system's advisory lock (`flock` on Unix)
//! taken through std's `File::try_lock`, polled every 100 ms while waiting;
//! no lock protocol of our own. The lock file holds what holds it and its
//! process id (`download 1234`), for the busy message.

use std::{
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use crate::error::{Error, LockHolder, Result};

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
    /// Takes the lock on `dir` (which exists) for `me`, as `policy` says,
    /// telling `on_wait` once, with what holds it and its process id as far
    /// as the holder recorded them, when it has to wait.
    pub async fn acquire(
        dir: &Path,
        me: LockHolder,
        policy: LockPolicy,
        on_wait: impl FnOnce(Option<LockHolder>, Option<u32>),
    ) -> Result<DirectoryLock> {
        let path = dir.join(LOCK_NAME);
        let mut on_wait = Some(on_wait);
        loop {
            let attempt = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || try_lock(&path, me))
                    .await
                    .map_err(|e| Error::Io {
                        path: dir.to_path_buf(),
                        source: std::io::Error::other(e),
                    })?
            };
            match attempt {
                Ok(Some(lock)) => return Ok(lock),
                Ok(None) if policy == LockPolicy::FailFast => {
                    let (held_by, pid) = holder(&path);
                    return Err(Error::DirectoryBusy {
                        dir: dir.to_path_buf(),
                        pid,
                        held_by,
                    });
                }
                Ok(None) => {
                    if let Some(tell) = on_wait.take() {
                        let (held_by, pid) = holder(&path);
                        tell(held_by, pid);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(source) => return Err(Error::Io { path, source }),
            }
        }
    }
}

/// The lock if free (with `me` and this process's id written into the
/// file), `None` if another holds it.
fn try_lock(path: &PathBuf, me: LockHolder) -> std::io::Result<Option<DirectoryLock>> {
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
    writeln!(file, "{} {}", me.as_str(), std::process::id())?;
    Ok(Some(DirectoryLock { _file: file }))
}

/// What holds the lock and its process id, as the holder wrote them
/// (`download 1234`; an older version wrote the id alone). Unreadable or
/// unknown content is `None`.
fn holder(path: &Path) -> (Option<LockHolder>, Option<u32>) {
    let mut text = String::new();
    let read = nofollow::options()
        .read(true)
        .open(path)
        .and_then(|mut file| file.read_to_string(&mut text));
    if read.is_err() {
        return (None, None);
    }
    parse_holder(&text)
}

fn parse_holder(text: &str) -> (Option<LockHolder>, Option<u32>) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (kind, pid) = match words[..] {
        [kind, pid] => (Some(kind), pid),
        [pid] => (None, pid),
        _ => return (None, None),
    };
    let held_by = kind.and_then(|kind| {
        [LockHolder::Download, LockHolder::Sync]
            .into_iter()
            .find(|h| h.as_str() == kind)
    });
    (held_by, pid.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_names_its_holder_old_and_unknown_content_does_not() {
        assert_eq!(
            parse_holder("download 12\n"),
            (Some(LockHolder::Download), Some(12))
        );
        assert_eq!(parse_holder("sync 7\n"), (Some(LockHolder::Sync), Some(7)));
        // Written by an older version: the pid alone.
        assert_eq!(parse_holder("12\n"), (None, Some(12)));
        assert_eq!(parse_holder("backup 12"), (None, Some(12)));
        assert_eq!(parse_holder(""), (None, None));
        assert_eq!(parse_holder("a b c"), (None, None));
        assert_eq!(
            LockHolder::describe(Some(LockHolder::Sync), Some(7)),
            "another appex sync (pid 7)"
        );
        assert_eq!(LockHolder::describe(None, None), "another appex run");
    }
}

//! The `.part` file: written with `std::fs::File` from one blocking thread
//! per file, hashed on that thread (unless [`Checksum::None`]), in batches
//! of up to 1 MiB handed over without copying, with at most [`IN_FLIGHT`]
//! bytes queued per file.

use std::{
    io::{self, IoSlice, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::{lock::DirectoryLock, nofollow};
use crate::error::{Error, Result};

/// Bytes received but not yet written, per file, at most.
pub(crate) const IN_FLIGHT: usize = 1024 * 1024;
/// The most written by one system call.
const BATCH: usize = IN_FLIGHT;

/// How a download checks a file already complete on disk before it skips
/// it. Set with [`Download::verify_existing`](super::Download::verify_existing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExistingCheck {
    /// Its length matches the manifest's (default).
    #[default]
    Length,
    /// Its length and its sha256 match the manifest's: the file is read
    /// again.
    Sha256,
}

/// Whether a download makes its files durable before calling them complete.
/// Set with [`Download::durability`](super::Download::durability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Each file is fsynced before it gets its final name, and the
    /// directory once at the end of the run (default): a file under its
    /// final name survives a power cut. Each file's fsync runs on its own
    /// thread, overlapped with the other transfers.
    #[default]
    Fsync,
    /// No fsync (of the files, the directory or the manifest): files are
    /// complete and verified but may be lost (or, after a power cut, come
    /// back short) until the system writes them out. For staging
    /// directories whose files are converted and thrown away.
    None,
}

/// Whether a download computes each file's SHA-256 as it lands. Set with
/// [`Download::checksum`](super::Download::checksum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checksum {
    /// Each file is hashed as its bytes are written (default); the digest
    /// is reported in [`DownloadedFile::sha256`](super::DownloadedFile::sha256)
    /// and recorded in the manifest, so [`ExistingCheck::Sha256`] can verify
    /// the file on a later run.
    #[default]
    Sha256,
    /// Nothing is computed: `sha256` is `None` in the report and absent
    /// from the manifest. For staging directories whose files are converted
    /// and thrown away (it pairs with [`Durability::None`]). A later run
    /// with [`ExistingCheck::Sha256`] cannot verify such a file, so it
    /// downloads it again.
    None,
}

enum Command {
    /// Append (the permit returns the bytes to the file's budget).
    Write(Bytes, OwnedSemaphorePermit),
    /// Empty the file: the server sends it whole again.
    Restart,
    /// Flush what is written to disk (`fsync`), then answer.
    Sync(oneshot::Sender<io::Result<()>>),
}

/// What the writer thread hands back when the file is complete.
struct Written {
    file: std::fs::File,
    hasher: Option<Sha256>,
}

/// What to do with the bytes an earlier attempt left in a `.part`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Earlier {
    /// Keep them and resume after them.
    Resume,
    /// Empty the file: the download starts over.
    Discard,
}

/// A `.part` file being written.
pub(crate) struct PartFile {
    path: PathBuf,
    /// Bytes handed to the writer (what the file holds once they land).
    have: u64,
    budget: Arc<Semaphore>,
    commands: mpsc::UnboundedSender<Command>,
    writer: tokio::task::JoinHandle<io::Result<Written>>,
}

impl PartFile {
    /// Opens `path`, keeping what an earlier attempt left in it
    /// ([`Earlier::Resume`]; those bytes are read and hashed first unless
    /// `checksum` is [`Checksum::None`]), or emptying it
    /// ([`Earlier::Discard`]). A link at `path` is removed, never followed;
    /// anything else that is not a plain file is refused. `lock` is held by
    /// the writer thread until its last write landed, so a download dropped
    /// mid-file keeps the directory locked until then.
    pub async fn open(
        path: PathBuf,
        earlier: Earlier,
        checksum: Checksum,
        lock: Arc<DirectoryLock>,
    ) -> Result<PartFile> {
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_blocking(&path, earlier, checksum)).await
        };
        let (file, hasher, have) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(source)) => return Err(Error::Io { path, source }),
            Err(e) => {
                return Err(Error::Io {
                    path,
                    source: io::Error::other(e),
                });
            }
        };
        let (commands, queue) = mpsc::unbounded_channel();
        let writer = tokio::task::spawn_blocking(move || {
            let written = write_loop(file, hasher, queue);
            drop(lock);
            written
        });
        Ok(PartFile {
            path,
            have,
            budget: Arc::new(Semaphore::new(IN_FLIGHT)),
            commands,
            writer,
        })
    }

    /// The bytes the file holds (once queued writes land).
    pub fn have(&self) -> u64 {
        self.have
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `chunk`; waits while the file already has [`IN_FLIGHT`]
    /// bytes queued.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let permits = chunk.len().clamp(1, IN_FLIGHT) as u32;
        let permit = self.budget.clone().acquire_many_owned(permits).await;
        let len = chunk.len() as u64;
        let sent = match permit {
            Ok(permit) => self.commands.send(Command::Write(chunk, permit)).is_ok(),
            Err(_) => false,
        };
        if !sent {
            return Err(self.writer_error().await);
        }
        self.have += len;
        Ok(())
    }

    /// Empties the file: the server sends it whole again.
    pub async fn restart(&mut self) -> Result<()> {
        if self.commands.send(Command::Restart).is_err() {
            return Err(self.writer_error().await);
        }
        self.have = 0;
        Ok(())
    }

    /// Waits until everything queued is on disk, fsynced.
    pub async fn sync(&mut self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Sync(tx)).is_err() {
            return Err(self.writer_error().await);
        }
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(self.io(source)),
            Err(_) => Err(self.writer_error().await),
        }
    }

    /// Ends the writes: the file's length and lowercase hex sha256 (`None`
    /// under [`Checksum::None`]), after an fsync if `durability` asks for
    /// one (on the writer's thread, so other files keep transferring
    /// meanwhile).
    pub async fn finish(self, durability: Durability) -> Result<(u64, Option<String>)> {
        let PartFile {
            path,
            have,
            commands,
            writer,
            ..
        } = self;
        drop(commands);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let written = writer.await.map_err(|e| io(io::Error::other(e)))?;
        let Written { file, hasher } = written.map_err(io)?;
        if durability == Durability::Fsync {
            tokio::task::spawn_blocking(move || file.sync_all())
                .await
                .map_err(|e| io(io::Error::other(e)))?
                .map_err(io)?;
        }
        Ok((have, hasher.map(|h| hex::encode(h.finalize()))))
    }

    /// Leaves the file for the next run: synced if it holds anything,
    /// removed if empty.
    pub async fn keep_for_resume(mut self) {
        let _ = self.sync().await;
        let (have, path) = (self.have, self.path.clone());
        drop(self.commands);
        let _ = self.writer.await;
        if have == 0 {
            let _ = tokio::fs::remove_file(&path).await;
        }
    }

    fn io(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The writer's error, once it stopped.
    async fn writer_error(&mut self) -> Error {
        let source = match (&mut self.writer).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => io::Error::other("the writer stopped"),
            Err(e) => io::Error::other(e),
        };
        self.io(source)
    }
}

fn open_blocking(
    path: &Path,
    earlier: Earlier,
    checksum: Checksum,
) -> io::Result<(std::fs::File, Option<Sha256>, u64)> {
    let keep = earlier == Earlier::Resume;
    nofollow::remove_link(path)?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(io::Error::other(
            "not a regular file; refusing to write to it",
        ));
    }
    let mut file = nofollow::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(!keep)
        .open(path)?;
    let hashing = checksum == Checksum::Sha256;
    let (have, hasher) = match (keep, hashing) {
        // The digest covers the whole file: hash what is already there.
        (true, true) => {
            let (have, hasher) = hash_from_start(&mut file)?;
            (have, Some(hasher))
        }
        (true, false) => (file.metadata()?.len(), None),
        (false, true) => (0, Some(Sha256::new())),
        (false, false) => (0, None),
    };
    file.seek(SeekFrom::Start(have))?;
    Ok((file, hasher, have))
}

/// The writer thread: applies commands in order until the channel closes.
fn write_loop(
    mut file: std::fs::File,
    mut hasher: Option<Sha256>,
    mut queue: mpsc::UnboundedReceiver<Command>,
) -> io::Result<Written> {
    let mut batch: Vec<(Bytes, OwnedSemaphorePermit)> = Vec::new();
    let mut next = queue.blocking_recv();
    while let Some(command) = next.take() {
        match command {
            Command::Write(chunk, permit) => {
                let mut size = chunk.len();
                batch.push((chunk, permit));
                // Take what else is queued, up to a batch.
                while size < BATCH {
                    match queue.try_recv() {
                        Ok(Command::Write(chunk, permit)) => {
                            size += chunk.len();
                            batch.push((chunk, permit));
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                write_batch(&mut file, &batch)?;
                if let Some(hasher) = &mut hasher {
                    for (chunk, _) in &batch {
                        hasher.update(chunk);
                    }
                }
                batch.clear();
            }
            Command::Restart => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                if let Some(hasher) = &mut hasher {
                    *hasher = Sha256::new();
                }
            }
            Command::Sync(reply) => {
                let _ = reply.send(file.sync_data());
            }
        }
        if next.is_none() {
            next = queue.blocking_recv();
        }
    }
    Ok(Written { file, hasher })
}

/// Writes the chunks in order with as few system calls as it takes.
fn write_batch(
    file: &mut std::fs::File,
    batch: &[(Bytes, OwnedSemaphorePermit)],
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|(c, _)| IoSlice::new(c)).collect();
    let mut slices = &mut slices[..];
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a whole file, returning its length and lowercase hex sha256.
pub(crate) async fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = nofollow::options().read(true).open(&path)?;
        let (len, hasher) = hash_from_start(&mut file)?;
        Ok((len, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(io::Error::other)?
}

/// Reads `file` to its end: its length and digest.
fn hash_from_start(file: &mut std::fs::File) -> io::Result<(u64, Sha256)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, hasher));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

//! Progress accounting: every file's bytes and length, their sums, and
//! the user's callback.

use std::sync::{Arc, Mutex};

/// What happened, in a [`DownloadProgress`] report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The server answered; `file_total` is known if it announced a length.
    Started,
    /// Bytes were written.
    Data,
    /// The server sent the whole file again (no resume): the file's bytes
    /// went back to zero.
    Restarted,
    /// A transient failure; the file will be retried (or resumed).
    Retrying,
    /// The file is complete under its final name.
    Finished,
    /// The file was already complete on disk.
    Skipped,
    /// The file failed for good.
    Failed,
}

/// A progress report, given to the [`Download::on_progress`](super::Download::on_progress) callback:
/// one file's bytes and the whole download's.
#[derive(Clone, Debug)]
pub struct DownloadProgress<'a> {
    /// What happened.
    pub event: ProgressEvent,
    /// The file's position in the job's list (0-based).
    pub index: usize,
    /// The file's local name.
    pub filename: &'a str,
    /// The file's bytes on disk so far.
    pub file_bytes: u64,
    /// The file's length, once the server announced it.
    pub file_total: Option<u64>,
    /// Bytes on disk so far, all files together (skipped files included).
    /// It goes back down when a file has to start over ([`ProgressEvent::Restarted`]).
    pub bytes: u64,
    /// The sum of the lengths known so far.
    pub total_known: u64,
    /// The length of the whole download, once every file's is known.
    pub total: Option<u64>,
    /// Files finished or skipped.
    pub files_done: usize,
    /// Files in the job.
    pub files_total: usize,
}

pub(crate) type ProgressFn = dyn Fn(&DownloadProgress<'_>) + Send + Sync;

/// Progress bookkeeping and the user's callback.
pub(crate) struct ProgressTracker {
    callback: Option<Arc<ProgressFn>>,
    state: Mutex<Totals>,
}

/// Every file's bytes and length so far, and their sums.
struct Totals {
    done: Vec<u64>,
    totals: Vec<Option<u64>>,
    bytes: u64,
    total_known: u64,
    unknown: usize,
    files_done: usize,
}

impl ProgressTracker {
    pub(crate) fn new(callback: Option<Arc<ProgressFn>>, files: usize) -> Self {
        ProgressTracker {
            callback,
            state: Mutex::new(Totals {
                done: vec![0; files],
                totals: vec![None; files],
                bytes: 0,
                total_known: 0,
                unknown: files,
                files_done: 0,
            }),
        }
    }

    pub(crate) fn skipped(&self, index: usize, filename: &str, bytes: u64) {
        self.emit(ProgressEvent::Skipped, index, filename, bytes, Some(bytes));
    }

    /// Records a file's state and reports it.
    pub(crate) fn emit(
        &self,
        event: ProgressEvent,
        index: usize,
        filename: &str,
        file_bytes: u64,
        file_total: Option<u64>,
    ) {
        let Some(callback) = &self.callback else {
            return;
        };
        let progress = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            let Some(old) = s.done.get(index).copied() else {
                return;
            };
            s.done[index] = file_bytes;
            s.bytes = s.bytes - old + file_bytes;
            if let Some(total) = file_total {
                match s.totals[index].replace(total) {
                    Some(prev) => s.total_known = s.total_known - prev + total,
                    None => {
                        s.total_known += total;
                        s.unknown -= 1;
                    }
                }
            }
            if matches!(event, ProgressEvent::Finished | ProgressEvent::Skipped) {
                s.files_done += 1;
            }
            DownloadProgress {
                event,
                index,
                filename,
                file_bytes,
                file_total: s.totals[index],
                bytes: s.bytes,
                total_known: s.total_known,
                total: (s.unknown == 0).then_some(s.total_known),
                files_done: s.files_done,
                files_total: s.done.len(),
            }
        };
        callback(&progress);
    }
}

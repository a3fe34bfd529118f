//! What a download returns: the files on disk, complete.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The outcome of a download: one entry per file of the job, in the job's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadReport {
    /// The job's id (empty if the job carried none).
    pub job_id: String,
    /// The target directory.
    pub directory: PathBuf,
    /// The files, in the order the job lists them.
    pub files: Vec<DownloadedFile>,
}

impl DownloadReport {
    /// The bytes of all files, skipped ones included.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// One file on disk, complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadedFile {
    /// The local file name (sanitised and de-duplicated).
    pub filename: String,
    /// The name the server gave (untrusted; for reference only).
    pub source_filename: String,
    /// The file's path: the target directory joined with `filename`.
    pub path: PathBuf,
    /// Its length in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex: computed as it landed, or recorded in
    /// the manifest for a skipped file. `None` when the download ran with
    /// [`Checksum::None`](super::Checksum::None) (or skipped a file an
    /// earlier such run completed).
    pub sha256: Option<String>,
    /// `true` if it was already complete on disk and not downloaded again.
    pub skipped: bool,
}

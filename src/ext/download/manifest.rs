//! The download manifest: a small JSON file kept in the target directory
//! that remembers which local name each job's file was given, what a
//! `.part` file needs to be resumed safely (the object's validators), and
//! which files are complete (with length, and sha256 when it was computed).
//!
//! It is read without following a link and written through a fresh
//! temporary file (`O_EXCL`, unique name), fsynced and renamed over the
//! old one, so a link planted at either name is never followed.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{nofollow, part::Durability};
use crate::error::{Error, Result};

/// The manifest's file name inside the target directory.
pub(crate) const MANIFEST_NAME: &str = ".appex-download.json";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[serde(default)]
    pub version: u32,
    /// Job id → its files.
    #[serde(default)]
    pub jobs: BTreeMap<String, Vec<Entry>>,
}

/// One file of a job: the local name reserved for it, what its `.part`
/// was downloaded from, and once it is complete its length and digest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The name the server gave.
    pub source: String,
    /// Which occurrence of `source` in the job this is (0 for the first).
    #[serde(default)]
    pub occurrence: usize,
    /// The local file name (a single path component).
    pub filename: String,
    /// Set once the file is complete under `filename`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<Completed>,
    /// The version of the object the `.part` holds the start of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Validators>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Completed {
    pub bytes: u64,
    /// Lowercase hex; absent when the file was downloaded with
    /// [`Checksum::None`](super::Checksum::None) (manifests written before
    /// the choice existed always have it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What identifies the version of an object a `.part` holds the start of:
/// a resume sends `If-Range` with it, so a changed object comes back whole
/// (`200`) instead of a tail spliced onto the old head.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Validators {
    /// A strong `ETag` (weak ones cannot guard a range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified`, used when there is no strong `ETag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The object's whole length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The URL's path, without its query (the signature).
    pub url_path: String,
}

impl Validators {
    /// The `If-Range` value: the strong `ETag`, else `Last-Modified`;
    /// `None` when the server gave neither (then nothing is resumed).
    pub fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|t| !t.starts_with("W/"))
            .or(self.last_modified.as_deref())
    }
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_NAME)
    }

    /// Reads the manifest; a missing file is an empty manifest, and so is
    /// one that does not parse or is a link (it is only a cache: files it
    /// does not vouch for are downloaded again, and their names are never
    /// overwritten). Removes temporary files an interrupted save left (the
    /// caller holds the directory lock, so none is in use).
    pub fn load(dir: &Path) -> Result<Manifest> {
        remove_stale_temporaries(dir);
        let path = Self::path(dir);
        let mut bytes = Vec::new();
        let read = nofollow::options()
            .read(true)
            .open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes));
        match read {
            Ok(_) => match serde_json::from_slice(&bytes) {
                Ok(m) => Ok(m),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable download manifest");
                    Ok(Manifest::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(_) if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) => {
                tracing::warn!(path = %path.display(), "ignoring a download manifest that is a link");
                Ok(Manifest::default())
            }
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// The entry of `job_id`'s file named `filename` locally.
    pub fn entry_mut(&mut self, job_id: &str, filename: &str) -> Option<&mut Entry> {
        self.jobs
            .get_mut(job_id)?
            .iter_mut()
            .find(|e| e.filename == filename)
    }

    /// Writes the manifest atomically (fresh temporary file, fsync unless
    /// `durability` is [`Durability::None`], rename).
    pub fn save(&self, dir: &Path, durability: Durability) -> Result<()> {
        let path = Self::path(dir);
        let mut body = serde_json::to_vec_pretty(self).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        body.push(b'\n');
        let (tmp, mut file) = nofollow::create_temp(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let written = file
            .write_all(&body)
            .and_then(|()| match durability {
                Durability::Fsync => file.sync_all(),
                Durability::None => Ok(()),
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::Io { path, source });
        }
        Ok(())
    }
}

/// Temporary manifest files (and links planted at such names) left in
/// `dir`; best effort.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if nofollow::is_temp_of(&entry.file_name().to_string_lossy(), MANIFEST_NAME) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The manifest shared by a download's files, saved after every change.
pub(crate) struct ManifestStore {
    dir: PathBuf,
    /// Whether each save is fsynced before its rename.
    durability: Durability,
    /// Held across a change and its save, so saves land in order.
    manifest: tokio::sync::Mutex<Manifest>,
}

impl ManifestStore {
    pub fn new(dir: PathBuf, manifest: Manifest, durability: Durability) -> Self {
        ManifestStore {
            dir,
            durability,
            manifest: tokio::sync::Mutex::new(manifest),
        }
    }

    /// Applies `change` and saves the manifest (on a blocking thread).
    pub async fn update(&self, change: impl FnOnce(&mut Manifest)) -> Result<()> {
        let mut manifest = self.manifest.lock().await;
        change(&mut manifest);
        let snapshot = manifest.clone();
        let (dir, durability) = (self.dir.clone(), self.durability);
        tokio::task::spawn_blocking(move || snapshot.save(&dir, durability))
            .await
            .map_err(|e| Error::Io {
                path: self.dir.clone(),
                source: std::io::Error::other(e),
            })?
    }
}

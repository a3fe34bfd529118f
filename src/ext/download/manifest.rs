//! The download manifest: a small JSON file kept in the target directory
//! that remembers which local name each job's file was given and which
//! files are complete (with length and sha256).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name inside the target directory.
pub(crate) const MANIFEST_NAME: &str = ".appex-download.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[serde(default)]
    pub version: u32,
    /// Job id → its files.
    #[serde(default)]
    pub jobs: BTreeMap<String, Vec<Entry>>,
}

/// One file of a job: the local name reserved for it, and once it is
/// complete its length and digest.
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
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Completed {
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_NAME)
    }

    /// Reads the manifest; a missing file is an empty manifest, and so is
    /// one that does not parse (it is only a cache: files it does not vouch
    /// for are downloaded again, and their names are never overwritten).
    pub async fn load(dir: &Path) -> Result<Manifest> {
        let path = Self::path(dir);
        match tokio::fs::read(&path).await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(m) => Ok(m),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable download manifest");
                    Ok(Manifest::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Writes the manifest atomically (temporary file, fsync, rename).
    pub async fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = dir.join(format!("{MANIFEST_NAME}.tmp"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let mut body = serde_json::to_vec_pretty(self).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        body.push(b'\n');
        {
            use tokio::io::AsyncWriteExt;
            let mut file = tokio::fs::File::create(&tmp).await.map_err(io(&tmp))?;
            file.write_all(&body).await.map_err(io(&tmp))?;
            file.sync_all().await.map_err(io(&tmp))?;
        }
        tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        Ok(())
    }
}

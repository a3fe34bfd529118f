//! Local names for a job's files: the ones an earlier run reserved, else
//! sanitised server names made unique in the directory.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use super::{
    filename::{self, sanitize_filename},
    lock::LOCK_NAME,
    manifest::{Completed, Entry, MANIFEST_NAME, Manifest, Validators},
};
use crate::models::ExportJob;

/// One file to fetch: where it comes from and where it goes.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub source: String,
    pub occurrence: usize,
    pub url: crate::models::SecretUrl,
    pub filename: String,
    pub path: PathBuf,
    pub complete: Option<Completed>,
    /// What an earlier run learnt about the object, to resume its `.part`.
    pub resume: Option<Validators>,
}

impl Planned {
    pub fn part_path(&self) -> PathBuf {
        part_path(&self.path)
    }
}

pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut os = path.as_os_str().to_owned();
    os.push(".part");
    PathBuf::from(os)
}

/// Whether something (file, directory, link…) is at `path`; an error other
/// than "not found" counts as something.
async fn occupied(path: &Path) -> bool {
    match tokio::fs::symlink_metadata(path).await {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Gives every file of the job a local name: the one the manifest reserved
/// for it in an earlier run, else its sanitised name, de-duplicated against
/// the other files, other jobs' names and anything already in the
/// directory. Records the names in the manifest (for this job).
pub(crate) async fn plan(
    dir: &Path,
    job_id: &str,
    job: &ExportJob,
    manifest: &mut Manifest,
) -> Vec<Planned> {
    let previous = manifest.jobs.remove(job_id).unwrap_or_default();
    // Lower-cased, for case-insensitive file systems.
    let mut taken: HashSet<String> = HashSet::new();
    taken.insert(MANIFEST_NAME.to_lowercase());
    taken.insert(format!("{MANIFEST_NAME}.tmp").to_lowercase());
    taken.insert(LOCK_NAME.to_lowercase());
    for entries in manifest.jobs.values() {
        for e in entries {
            taken.insert(e.filename.to_lowercase());
            taken.insert(format!("{}.part", e.filename).to_lowercase());
        }
    }

    let mut occurrences: Vec<(String, usize)> = Vec::new();
    let mut slots: Vec<Option<Entry>> = Vec::new();
    for p in &job.presigned_urls {
        let occurrence = occurrences.iter().filter(|(s, _)| *s == p.filename).count();
        occurrences.push((p.filename.clone(), occurrence));
        // Reuse this job's earlier name, if it is still a safe, free name.
        let kept = previous
            .iter()
            .find(|e| e.source == p.filename && e.occurrence == occurrence)
            .filter(|e| sanitize_filename(&e.filename).is_ok_and(|n| n == e.filename))
            .filter(|e| {
                !taken.contains(&e.filename.to_lowercase())
                    && !taken.contains(&format!("{}.part", e.filename).to_lowercase())
            })
            .cloned();
        if let Some(e) = &kept {
            taken.insert(e.filename.to_lowercase());
            taken.insert(format!("{}.part", e.filename).to_lowercase());
        }
        slots.push(kept);
    }

    let mut planned = Vec::with_capacity(slots.len());
    let mut entries = Vec::with_capacity(slots.len());
    for (index, (p, slot)) in job.presigned_urls.iter().zip(slots).enumerate() {
        let occurrence = occurrences[index].1;
        let entry = match slot {
            Some(e) => e,
            None => {
                let base = filename::local_name(&p.filename, index);
                let mut n = 1;
                let name = loop {
                    let candidate = if n == 1 {
                        base.clone()
                    } else {
                        filename::numbered(&base, n)
                    };
                    n += 1;
                    let part = format!("{candidate}.part");
                    if taken.contains(&candidate.to_lowercase())
                        || taken.contains(&part.to_lowercase())
                        || occupied(&dir.join(&candidate)).await
                        || occupied(&dir.join(&part)).await
                    {
                        continue;
                    }
                    break candidate;
                };
                if name != p.filename {
                    tracing::info!(source = ?p.filename, local = %name, "file renamed for safety or uniqueness");
                }
                taken.insert(name.to_lowercase());
                taken.insert(format!("{name}.part").to_lowercase());
                Entry {
                    source: p.filename.clone(),
                    occurrence,
                    filename: name,
                    complete: None,
                    resume: None,
                }
            }
        };
        planned.push(Planned {
            source: p.filename.clone(),
            occurrence,
            url: p.url.clone(),
            filename: entry.filename.clone(),
            path: dir.join(&entry.filename),
            complete: entry.complete.clone(),
            resume: entry.resume.clone(),
        });
        entries.push(entry);
    }
    manifest.jobs.insert(job_id.to_string(), entries);
    planned
}

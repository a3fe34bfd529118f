//! A local directory as a [`Destination`].

use std::{
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
};

use bytes::Bytes;
use futures::{FutureExt, future::BoxFuture};

use super::destination::{Destination, ObjectInfo, check_key, check_prefix};
use crate::{Error, Result};

/// A local directory: objects are files below it, replaced atomically
/// (temporary file created with `create_new` under a unique name, fsync,
/// rename, directory fsync). Symbolic links below the root are refused,
/// never followed; so is a root that is itself a link.
#[derive(Clone, Debug)]
pub struct LocalDir {
    root: PathBuf,
}

fn io_err(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn link_refused(path: &Path) -> Error {
    Error::InvalidInput(format!(
        "{} is a symbolic link; a dataset never follows links",
        path.display()
    ))
}

/// What [`LocalDir::resolve`] does with a directory of the key that does
/// not exist.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MissingDirs {
    /// Creates it (to write the key).
    Create,
    /// Answers that the key is absent (to read or delete it).
    Absent,
}

impl LocalDir {
    /// Opens (creating if missing) the directory `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if root.as_os_str().is_empty() {
            return Err(Error::InvalidInput("empty destination directory".into()));
        }
        match fs::symlink_metadata(root) {
            Ok(m) if m.file_type().is_symlink() => return Err(link_refused(root)),
            Ok(m) if !m.is_dir() => {
                return Err(Error::InvalidInput(format!(
                    "destination {} is not a directory",
                    root.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
            }
            Err(e) => return Err(io_err(root, e)),
        }
        let root = fs::canonicalize(root).map_err(|e| io_err(root, e))?;
        Ok(LocalDir { root })
    }

    /// The directory (canonical path).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `key`, checking every directory below the root is a real
    /// directory (creating missing ones with [`MissingDirs::Create`]). `None`
    /// when a directory is missing and is not to be created.
    fn resolve(&self, key: &str, missing: MissingDirs) -> Result<Option<PathBuf>> {
        check_key(key)?;
        let mut path = self.root.clone();
        let parts: Vec<&str> = key.split('/').collect();
        let (name, dirs) = parts.split_last().expect("a checked key has a component");
        for dir in dirs {
            path.push(dir);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Err(link_refused(&path)),
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::InvalidInput(format!(
                        "{} is not a directory",
                        path.display()
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if missing == MissingDirs::Absent {
                        return Ok(None);
                    }
                    match fs::create_dir(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            let m = fs::symlink_metadata(&path).map_err(|e| io_err(&path, e))?;
                            if !m.is_dir() {
                                return Err(link_refused(&path));
                            }
                        }
                        Err(e) => return Err(io_err(&path, e)),
                    }
                }
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        path.push(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => Err(link_refused(&path)),
            Ok(m) if m.is_dir() => Err(Error::InvalidInput(format!(
                "{} is a directory",
                path.display()
            ))),
            _ => Ok(Some(path)),
        }
    }

    fn put_blocking(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.resolve(key, MissingDirs::Create)?.expect("created");
        let dir = path.parent().expect("below the root");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object");
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o644));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(|e| io_err(dir, e))?;
        tmp.write_all(data).map_err(|e| io_err(tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_err(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| io_err(&path, e.error))?;
        sync_dir(dir)
    }

    fn get_blocking(&self, key: &str) -> Result<Option<Bytes>> {
        let Some(path) = self.resolve(key, MissingDirs::Absent)? else {
            return Ok(None);
        };
        match fs::read(&path) {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn list_blocking(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        check_prefix(prefix)?;
        // Start from the deepest complete directory of the prefix.
        let base = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let mut out = Vec::new();
        let mut dir = self.root.clone();
        for part in base.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
                Ok(_) => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(io_err(&dir, e)),
            }
        }
        let mut stack = vec![(dir, base.to_string())];
        while let Some((dir, key)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_err(&dir, e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let child = if key.is_empty() {
                    name
                } else {
                    format!("{key}/{name}")
                };
                let ft = entry.file_type().map_err(|e| io_err(&entry.path(), e))?;
                if ft.is_dir() {
                    if prefix.starts_with(&format!("{child}/")) || child.starts_with(prefix) {
                        stack.push((entry.path(), child));
                    }
                } else if ft.is_file() && child.starts_with(prefix) {
                    let size = entry
                        .metadata()
                        .map_err(|e| io_err(&entry.path(), e))?
                        .len();
                    out.push(ObjectInfo { key: child, size });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete_blocking(&self, key: &str) -> Result<()> {
        let Some(path) = self.resolve(key, MissingDirs::Absent)? else {
            return Ok(());
        };
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().expect("below the root")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Destination for LocalDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn put<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFuture<'a, Result<()>> {
        let (this, key) = (self.clone(), key.to_owned());
        blocking(move || this.put_blocking(&key, &data)).boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let (this, key) = (self.clone(), key.to_owned());
        blocking(move || this.get_blocking(&key)).boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<ObjectInfo>>> {
        let (this, prefix) = (self.clone(), prefix.to_owned());
        blocking(move || this.list_blocking(&prefix)).boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        let (this, key) = (self.clone(), key.to_owned());
        blocking(move || this.delete_blocking(&key)).boxed()
    }
}

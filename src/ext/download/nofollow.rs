//! Opening files in the target directory without ever following a link
//! planted there: `O_NOFOLLOW` on Unix, `O_CREAT|O_EXCL` with a unique
//! name for temporary files, and links found at a name removed (the link
//! itself, never what it points at).

use std::{
    fs::OpenOptions,
    io,
    path::{Path, PathBuf},
};

/// Options that refuse to open a symbolic link (Unix: `O_NOFOLLOW`).
pub(crate) fn options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Removes `path` if it is a symbolic link (the link, not its target).
/// Anything else there, or nothing, is left as it is.
pub(crate) fn remove_link(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(path),
        _ => Ok(()),
    }
}

/// A fresh temporary file next to `path`, created with `O_EXCL` under a
/// name no one can have planted (`<name>.<pid>-<random>.tmp`).
pub(crate) fn create_temp(path: &Path) -> io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let tmp = path.with_file_name(format!(
            "{name}.{}-{:08x}.tmp",
            std::process::id(),
            fastrand::u32(..)
        ));
        match options().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether `file_name` is a temporary file [`create_temp`] makes for
/// `base` (or the fixed `<base>.tmp` name older versions used).
pub(crate) fn is_temp_of(file_name: &str, base: &str) -> bool {
    file_name
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest.ends_with("tmp"))
}

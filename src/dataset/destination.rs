//! Where a dataset is written: the [`Destination`] trait and [`open`].
//!
//! A destination stores whole objects under relative keys
//! (`events/dt=2026-01-31/events.parquet`). [`Destination::put`] replaces
//! an object atomically: a reader sees the old bytes or the new ones, never
//! a missing or half-written object. Keys are checked by [`check_key`]:
//! nothing can be written outside the directory or bucket prefix the user
//! named.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use futures::future::BoxFuture;

use super::local::LocalDir;
use crate::{Error, Result};

/// One stored object, as [`Destination::list`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key, relative to the destination's root.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A place a dataset is written to: a local directory ([`open`] of a path)
/// or S3-compatible object storage ([`open`] of `s3://bucket/prefix`, cargo
/// feature `s3`).
///
/// Keys are relative, `/`-separated, and checked with [`check_key`].
/// Implementations never write outside their root and never follow an
/// existing link below it.
pub trait Destination: fmt::Debug + Send + Sync {
    /// Where this is, for messages: the directory or `s3://bucket/prefix`
    /// (never credentials).
    fn describe(&self) -> String;

    /// The prefix a query engine puts before a key to read the object, as
    /// `_appex/views.sql` uses it: `""` (paths relative to the dataset's
    /// directory) by default, `s3://bucket/prefix/` for S3.
    fn query_base(&self) -> String {
        String::new()
    }

    /// Stores `data` under `key`, replacing what was there atomically (local:
    /// a uniquely named temporary file created with `create_new`, fsync,
    /// rename, directory fsync; S3: one PUT).
    fn put<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFuture<'a, Result<()>>;

    /// The object under `key`, or `None` if there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>>;

    /// Every object whose key starts with `prefix` (a key prefix, e.g.
    /// `events/`), sorted by key. Temporary files of unfinished writes are
    /// not listed.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<ObjectInfo>>>;

    /// Deletes the object under `key`; deleting a missing object is not an
    /// error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>>;

    /// The object under `key` with its version (S3: its ETag), for a later
    /// [`put_if`](Self::put_if); `None` if there is none.
    ///
    /// The default (a local directory) has no versions:
    /// [`Error::InvalidInput`].
    fn get_versioned<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Versioned>> {
        let _ = key;
        Box::pin(async move { Err(no_conditional_writes(&self.describe())) })
    }

    /// Stores `data` under `key` only if `when` holds, in one request the
    /// store checks atomically (S3: `If-None-Match: *` or `If-Match`).
    /// `Ok(Some(version))`: written; `Ok(None)`: the condition did not hold
    /// and nothing was written.
    ///
    /// The default (a local directory, locked with a file lock instead) has
    /// no conditional writes: [`Error::InvalidInput`].
    fn put_if<'a>(&'a self, key: &'a str, data: Bytes, when: PutCondition) -> PutIf<'a> {
        let _ = (key, data, when);
        Box::pin(async move { Err(no_conditional_writes(&self.describe())) })
    }
}

/// What [`Destination::get_versioned`] finds: the object and its version.
pub type Versioned = Option<(Bytes, ObjectVersion)>;

/// What [`Destination::put_if`] returns: the version written, or `None`
/// when the condition did not hold.
pub type PutIf<'a> = BoxFuture<'a, Result<Option<ObjectVersion>>>;

/// A version of a stored object (S3: its ETag), as
/// [`Destination::get_versioned`] and [`Destination::put_if`] return it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectVersion(pub String);

/// When [`Destination::put_if`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutCondition {
    /// Only if no object is stored under the key (a create).
    Absent,
    /// Only if the stored object is still this version (a compare-and-swap).
    Matches(ObjectVersion),
}

fn no_conditional_writes(describe: &str) -> Error {
    Error::InvalidInput(format!("{describe} has no conditional writes"))
}

/// How to open a destination; only S3 destinations use these.
#[derive(Clone, Default)]
pub struct DestinationOptions {
    /// The S3 endpoint for S3-compatible stores (MinIO, R2, moto…); the
    /// `AWS_ENDPOINT_URL` variable otherwise, then AWS itself.
    pub s3_endpoint: Option<String>,
    /// Extra S3 settings, as `object_store`'s `AmazonS3ConfigKey` names
    /// (`aws_access_key_id`, `aws_secret_access_key`, `aws_region`…), over
    /// the `AWS_*` variables. `Debug` shows their names, never their values.
    pub s3_config: Vec<(String, String)>,
}

impl fmt::Debug for DestinationOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationOptions")
            .field("s3_endpoint", &self.s3_endpoint)
            .field(
                "s3_config",
                &self.s3_config.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Opens a destination: `s3://bucket/prefix` (cargo feature `s3`; region and
/// credentials from the standard `AWS_*` variables) or a local directory
/// path, created if missing.
///
/// ```no_run
/// # async fn run() -> userpilot_appex::Result<()> {
/// use userpilot_appex::dataset::{DestinationOptions, open};
///
/// let dest = open("analytics/userpilot", &DestinationOptions::default())?;
/// dest.put("_appex/hello.txt", "hi".into()).await?;
/// assert_eq!(dest.get("_appex/hello.txt").await?.as_deref(), Some(&b"hi"[..]));
/// # Ok(()) }
/// ```
pub fn open(dest: &str, options: &DestinationOptions) -> Result<Arc<dyn Destination>> {
    if let Some(rest) = dest.strip_prefix("s3://") {
        #[cfg(feature = "s3")]
        {
            return Ok(Arc::new(super::s3::S3Destination::open(rest, options)?));
        }
        #[cfg(not(feature = "s3"))]
        {
            let _ = (rest, options);
            return Err(Error::InvalidInput(
                "s3:// destinations need the `s3` cargo feature".into(),
            ));
        }
    }
    if dest.contains("://") {
        return Err(Error::InvalidInput(format!(
            "unsupported destination {dest:?}: use a directory or s3://bucket/prefix"
        )));
    }
    Ok(Arc::new(LocalDir::open(dest)?))
}

/// Checks a key: relative, `/`-separated, no empty component, no backslash
/// or NUL, no component starting with `.` (so no `.` or `..`; the names of
/// temporary files start with `.`, so no key is ever one).
///
/// ```
/// use userpilot_appex::dataset::check_key;
/// assert!(check_key("events/dt=2026-01-31/events.parquet").is_ok());
/// assert!(check_key("../etc/passwd").is_err());
/// assert!(check_key("/abs").is_err());
/// assert!(check_key("a//b").is_err());
/// ```
pub fn check_key(key: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::InvalidInput(format!(
            "bad dataset key {key:?}: {why}"
        )))
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.contains('\\') || key.contains('\0') {
        return bad("backslash or NUL");
    }
    for part in key.split('/') {
        if part.is_empty() {
            return bad("empty component or absolute path");
        }
        if part.starts_with('.') {
            return bad("components may not start with '.'");
        }
    }
    Ok(())
}

/// Checks a list prefix: empty, or a key prefix whose complete components
/// pass [`check_key`].
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(Error::InvalidInput(format!("bad list prefix {prefix:?}")));
    }
    check_key(trimmed)
}

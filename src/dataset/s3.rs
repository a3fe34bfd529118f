//! S3-compatible object storage as a [`Destination`] (cargo feature `s3`),
//! through the `object_store` crate.

use std::{str::FromStr, sync::Arc};

use bytes::Bytes;
use futures::{FutureExt, TryStreamExt, future::BoxFuture};
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    path::Path as StorePath,
};

use super::destination::{
    Destination, DestinationOptions, ObjectInfo, ObjectVersion, PutCondition, PutIf, Versioned,
    check_key, check_prefix,
};
use crate::{Error, Result};

/// `s3://bucket/prefix`: objects are stored under `prefix/`, each replaced
/// by one PUT (S3 makes a PUT atomic per object: readers see the old object
/// or the new one). Region, credentials and endpoint come from the standard
/// `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT_URL`); [`DestinationOptions::s3_endpoint`] overrides the
/// endpoint. Its `Debug` and errors show the bucket and prefix, never
/// credentials.
pub struct S3Destination {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
}

crate::macros::debug_fields!(S3Destination { bucket, prefix });

impl S3Destination {
    /// Opens `bucket/prefix` (what follows `s3://`).
    pub fn open(location: &str, options: &DestinationOptions) -> Result<Self> {
        let location = location.trim_end_matches('/');
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let describe = format!("s3://{location}");
        if bucket.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{describe}: no bucket; use s3://bucket/prefix"
            )));
        }
        if !prefix.is_empty() {
            check_key(prefix)?;
        }
        // HTTPS to the store needs a TLS crypto provider; the crate builds
        // rustls with ring. Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut endpoint = std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .ok();
        for (key, value) in &options.s3_config {
            let config_key = AmazonS3ConfigKey::from_str(key).map_err(|_| {
                Error::InvalidInput(format!("{describe}: unknown S3 setting {key:?}"))
            })?;
            if config_key == AmazonS3ConfigKey::Endpoint {
                endpoint = Some(value.clone());
            }
            builder = builder.with_config(config_key, value);
        }
        if let Some(e) = &options.s3_endpoint {
            builder = builder.with_endpoint(e);
            endpoint = Some(e.clone());
        }
        if endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
        {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().map_err(|e| Error::Destination {
            operation: "open",
            destination: describe,
            key: String::new(),
            message: e.to_string(),
        })?;
        Ok(S3Destination {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    fn path(&self, key: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(key)
        } else {
            StorePath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn err(&self, operation: &'static str, key: &str, e: object_store::Error) -> Error {
        Error::Destination {
            operation,
            destination: self.describe(),
            key: key.to_owned(),
            message: e.to_string(),
        }
    }
}

impl Destination for S3Destination {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn query_base(&self) -> String {
        format!("{}/", self.describe())
    }

    fn put<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFuture<'a, Result<()>> {
        async move {
            check_key(key)?;
            self.store
                .put(&self.path(key), PutPayload::from(data))
                .await
                .map_err(|e| self.err("put", key, e))?;
            Ok(())
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        async move {
            check_key(key)?;
            match self.store.get(&self.path(key)).await {
                Ok(got) => Ok(Some(
                    got.bytes().await.map_err(|e| self.err("get", key, e))?,
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err("get", key, e)),
            }
        }
        .boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<ObjectInfo>>> {
        async move {
            check_prefix(prefix)?;
            // object_store lists by whole path segments: list the deepest
            // complete directory, then filter by the key prefix.
            let base = prefix.rfind('/').map(|i| &prefix[..i]).unwrap_or("");
            let root = match (self.prefix.is_empty(), base.is_empty()) {
                (true, true) => None,
                (true, false) => Some(StorePath::from(base)),
                (false, true) => Some(StorePath::from(self.prefix.as_str())),
                (false, false) => Some(StorePath::from(format!("{}/{base}", self.prefix))),
            };
            let strip = if self.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", self.prefix)
            };
            let metas: Vec<_> = self
                .store
                .list(root.as_ref())
                .try_collect()
                .await
                .map_err(|e| self.err("list", prefix, e))?;
            let mut out: Vec<ObjectInfo> = metas
                .into_iter()
                .filter_map(|m| {
                    let key = m.location.as_ref().strip_prefix(strip.as_str())?.to_owned();
                    key.starts_with(prefix)
                        .then_some(ObjectInfo { key, size: m.size })
                })
                .collect();
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            check_key(key)?;
            match self.store.delete(&self.path(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.err("delete", key, e)),
            }
        }
        .boxed()
    }

    fn get_versioned<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Versioned>> {
        async move {
            check_key(key)?;
            match self.store.get(&self.path(key)).await {
                Ok(got) => {
                    let version = ObjectVersion(got.meta.e_tag.clone().unwrap_or_default());
                    let bytes = got.bytes().await.map_err(|e| self.err("get", key, e))?;
                    Ok(Some((bytes, version)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err("get", key, e)),
            }
        }
        .boxed()
    }

    fn put_if<'a>(&'a self, key: &'a str, data: Bytes, when: PutCondition) -> PutIf<'a> {
        async move {
            check_key(key)?;
            let mode = match when {
                PutCondition::Absent => PutMode::Create,
                PutCondition::Matches(version) => PutMode::Update(UpdateVersion {
                    e_tag: Some(version.0),
                    version: None,
                }),
            };
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&self.path(key), PutPayload::from(data), options)
                .await
            {
                Ok(put) => Ok(Some(ObjectVersion(put.e_tag.unwrap_or_default()))),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(None),
                Err(e) => Err(self.err("put", key, e)),
            }
        }
        .boxed()
    }
}

//! Fetching one file: request, stream to `.part`, retry and resume (never
//! across two versions of the object), verify, rename.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::{
    StatusCode,
    header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, IF_RANGE, LAST_MODIFIED, RANGE},
};
use tokio::sync::watch;

use super::{
    DownloadedFile, ProgressEvent,
    lock::DirectoryLock,
    manifest::{Completed, ManifestStore, Validators},
    naming::Planned,
    part::{Checksum, Durability, Earlier, PartFile},
    progress::ProgressTracker,
    refresh::UrlRefresher,
};
use crate::{
    RetryPolicy,
    client::{describe_transport_error, retry_after},
    error::{DownloadFailure, Error, Result},
    models::SecretUrl,
};

/// How much of an error body is read to look for "expired".
const ERROR_BODY_LIMIT: usize = 4096;

/// What every file's fetch shares.
pub(crate) struct Context<'a> {
    pub http: reqwest::Client,
    pub job_id: String,
    pub retry: RetryPolicy,
    pub stall: Duration,
    pub durability: Durability,
    pub checksum: Checksum,
    pub progress: &'a ProgressTracker,
    pub refresher: UrlRefresher,
    pub manifest: &'a ManifestStore,
    /// The directory lock, shared with every file's writer thread.
    pub lock: Arc<DirectoryLock>,
    /// Turns `true` when the download is asked to stop.
    pub stop: watch::Receiver<bool>,
}

impl Context<'_> {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the download is asked to stop (never, if the sender
    /// is gone without asking).
    async fn stop_requested(&self) {
        let mut stop = self.stop.clone();
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How a file's fetch ended, when it did not fail.
pub(crate) enum Fetched {
    /// Complete under its final name.
    Done(DownloadedFile),
    /// Stopped on request; its `.part` is synced for the next run.
    Interrupted,
}

/// Fetches one file; never returns a partial file as complete. Returns its
/// index with the outcome.
pub(crate) async fn fetch(
    ctx: &Context<'_>,
    index: usize,
    planned: Planned,
) -> (usize, Result<Fetched>) {
    if ctx.stopped() {
        return (index, Ok(Fetched::Interrupted));
    }
    let result = match FileFetch::start(ctx, index, planned).await {
        Ok(fetch) => fetch.run().await,
        Err(e) => Err(e),
    };
    (index, result)
}

/// How one request ended.
enum Outcome {
    /// The `.part` holds the whole file.
    Complete,
    /// Worth another try (after a backoff), maybe resuming.
    Transient {
        reason: DownloadFailure,
        retry_after: Option<Duration>,
    },
    /// The URL was refused: fetch the job for a fresh one.
    Refused(StatusCode),
    /// Give up.
    Fatal(DownloadFailure),
    /// The download was asked to stop.
    Interrupted,
}

fn transient(reason: DownloadFailure) -> Outcome {
    Outcome::Transient {
        reason,
        retry_after: None,
    }
}

/// Why a file failed for good.
enum Failure {
    Download(DownloadFailure),
    Other(Error),
}

impl From<DownloadFailure> for Failure {
    fn from(reason: DownloadFailure) -> Self {
        Failure::Download(reason)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Other(error)
    }
}

/// One file's fetch, from its first request to its final name.
struct FileFetch<'c, 'a> {
    ctx: &'c Context<'a>,
    index: usize,
    planned: Planned,
    part: PartFile,
    url: SecretUrl,
    /// The URL generation `url` belongs to.
    generation: u64,
    refreshed: bool,
    attempts: u32,
    /// Retries since the file last got further than before.
    retries: u32,
    high_water: u64,
    /// The version of the object the `.part` holds the start of.
    validators: Option<Validators>,
}

impl<'c, 'a> FileFetch<'c, 'a> {
    /// Opens the `.part`: kept only if an earlier run recorded which
    /// version of the object it holds (and of the same object path).
    async fn start(ctx: &'c Context<'a>, index: usize, planned: Planned) -> Result<Self> {
        let path = url_path(&planned.url);
        let validators = planned
            .resume
            .clone()
            .filter(|v| v.if_range().is_some() && v.url_path == path);
        let earlier = match validators {
            Some(_) => Earlier::Resume,
            None => Earlier::Discard,
        };
        let part =
            PartFile::open(planned.part_path(), earlier, ctx.checksum, ctx.lock.clone()).await?;
        Ok(FileFetch {
            ctx,
            index,
            url: planned.url.clone(),
            planned,
            high_water: part.have(),
            part,
            generation: 0,
            refreshed: false,
            attempts: 0,
            retries: 0,
            validators,
        })
    }

    fn total(&self) -> Option<u64> {
        self.validators.as_ref().and_then(|v| v.total)
    }

    fn emit(&self, event: ProgressEvent) {
        self.ctx.progress.emit(
            event,
            self.index,
            &self.planned.filename,
            self.part.have(),
            self.total(),
        );
    }

    async fn run(mut self) -> Result<Fetched> {
        loop {
            if self.ctx.stopped() {
                return Ok(self.interrupt().await);
            }
            self.attempts += 1;
            let outcome = match self.attempt().await {
                Ok(outcome) => outcome,
                Err(e) => return Err(self.fail(e).await),
            };
            let (reason, advised) = match outcome {
                Outcome::Complete => return self.complete().await,
                Outcome::Interrupted => return Ok(self.interrupt().await),
                Outcome::Fatal(reason) => return Err(self.fail(reason).await),
                Outcome::Refused(status) => {
                    if let Err(failure) = self.refresh(status).await {
                        return Err(self.fail(failure).await);
                    }
                    continue;
                }
                Outcome::Transient {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            if self.part.have() > self.high_water {
                self.high_water = self.part.have();
                self.retries = 0;
            }
            if self.retries >= self.ctx.retry.max_retries() {
                return Err(self.fail(reason).await);
            }
            self.retries += 1;
            let delay = self.ctx.retry.delay_before_retry(self.retries, advised);
            tracing::info!(
                file = %self.planned.filename,
                url = %self.url,
                retry = self.retries,
                have = self.part.have(),
                delay_ms = delay.as_millis() as u64,
                reason = %reason,
                "retrying download"
            );
            self.emit(ProgressEvent::Retrying);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.ctx.stop_requested() => {}
            }
        }
    }

    /// A fresh URL after a refusal (once per file).
    async fn refresh(&mut self, status: StatusCode) -> std::result::Result<(), Failure> {
        if self.refreshed {
            return Err(DownloadFailure::Expired(status).into());
        }
        self.refreshed = true;
        let Some(generation) = self.ctx.refresher.newer_than(self.generation).await? else {
            return Err(DownloadFailure::Expired(status).into());
        };
        self.generation = generation.number;
        self.url = generation
            .urls
            .iter()
            .filter(|p| p.filename == self.planned.source)
            .nth(self.planned.occurrence)
            .map(|p| p.url.clone())
            .ok_or(DownloadFailure::MissingAfterRefresh)?;
        Ok(())
    }

    /// The one way a file fails: its `.part` is kept for the next run
    /// (removed if empty), the failure reported and returned as an error.
    async fn fail(self, failure: impl Into<Failure>) -> Error {
        let error = match failure.into() {
            Failure::Download(reason) => Error::Download {
                job_id: self.ctx.job_id.clone(),
                file: self.planned.source.clone(),
                path: self.planned.path.clone(),
                attempts: self.attempts,
                reason,
            },
            Failure::Other(error) => error,
        };
        self.ctx.progress.emit(
            ProgressEvent::Failed,
            self.index,
            &self.planned.filename,
            0,
            None,
        );
        self.part.keep_for_resume().await;
        error
    }

    /// Stops: the `.part` holds exactly the bytes received, synced.
    async fn interrupt(self) -> Fetched {
        self.part.keep_for_resume().await;
        Fetched::Interrupted
    }

    /// The `.part` is complete: make it durable, give it its final name,
    /// record it in the manifest.
    async fn complete(self) -> Result<Fetched> {
        let FileFetch {
            ctx,
            index,
            planned,
            part,
            attempts,
            ..
        } = self;
        let part_path = part.path().to_path_buf();
        let (bytes, sha256) = part.finish(ctx.durability).await?;
        tokio::fs::rename(&part_path, &planned.path)
            .await
            .map_err(|source| Error::Io {
                path: planned.path.clone(),
                source,
            })?;
        ctx.manifest
            .update(|m| {
                if let Some(entry) = m.entry_mut(&ctx.job_id, &planned.filename) {
                    entry.complete = Some(Completed {
                        bytes,
                        sha256: sha256.clone(),
                    });
                    entry.resume = None;
                }
            })
            .await?;
        tracing::debug!(file = %planned.filename, bytes, attempts, "downloaded");
        ctx.progress.emit(
            ProgressEvent::Finished,
            index,
            &planned.filename,
            bytes,
            Some(bytes),
        );
        Ok(Fetched::Done(DownloadedFile {
            filename: planned.filename.clone(),
            source_filename: planned.source.clone(),
            path: planned.path.clone(),
            bytes,
            sha256,
            skipped: false,
        }))
    }

    /// Records (in memory and in the manifest) which version of the object
    /// the `.part` now holds the start of.
    async fn remember(&mut self, validators: Validators) -> Result<()> {
        if self.validators.as_ref() == Some(&validators) {
            return Ok(());
        }
        let filename = &self.planned.filename;
        let job_id = &self.ctx.job_id;
        let stored = validators.clone();
        self.validators = Some(validators);
        self.ctx
            .manifest
            .update(|m| {
                if let Some(entry) = m.entry_mut(job_id, filename) {
                    entry.resume = Some(stored);
                }
            })
            .await
    }

    /// Empties the `.part` so the next request starts from zero.
    async fn restart(&mut self, why: &str) -> Result<()> {
        if self.part.have() > 0 {
            tracing::info!(file = %self.planned.filename, why, "cannot resume; restarting the file");
            self.part.restart().await?;
            self.emit(ProgressEvent::Restarted);
        }
        Ok(())
    }

    /// As [`restart`](Self::restart), then retry.
    async fn restart_and_retry(&mut self, why: String) -> Result<Outcome> {
        self.restart(&why).await?;
        Ok(transient(DownloadFailure::ContentRange(why)))
    }

    /// One request.
    async fn attempt(&mut self) -> Result<Outcome> {
        let target = match url::Url::parse(self.url.expose()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return Ok(Outcome::Fatal(DownloadFailure::BadUrl)),
        };
        let mut request = self.ctx.http.get(target);
        if self.part.have() > 0 {
            // Resume only if the object is still the one we have the start of.
            match self.validators.as_ref().and_then(Validators::if_range) {
                Some(tag) => {
                    request = request
                        .header(RANGE, format!("bytes={}-", self.part.have()))
                        .header(IF_RANGE, tag);
                }
                None => self.restart("no validator to resume with").await?,
            }
        }
        let from = self.part.have();
        tracing::debug!(file = %self.planned.filename, url = %self.url, from, "requesting");
        crate::client::note_request_sent();
        let sent = tokio::select! {
            sent = tokio::time::timeout(self.ctx.stall, request.send()) => sent,
            () = self.ctx.stop_requested() => return Ok(Outcome::Interrupted),
        };
        let response = match sent {
            Err(_) => return Ok(transient(DownloadFailure::Stalled(self.ctx.stall))),
            Ok(Err(e)) if e.is_builder() => return Ok(Outcome::Fatal(DownloadFailure::BadUrl)),
            Ok(Err(e)) => {
                return Ok(transient(DownloadFailure::Transport(
                    describe_transport_error(&e),
                )));
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let headers = response.headers().clone();
        let mut found = Validators {
            etag: header(&headers, ETAG),
            last_modified: header(&headers, LAST_MODIFIED),
            total: None,
            url_path: url_path(&self.url),
        };
        match status.as_u16() {
            200 => {
                if self.part.have() > 0 {
                    self.restart("the server sent the whole file").await?;
                }
                found.total = content_length(&headers);
            }
            206 => {
                let (start, end, full) = match content_range(&headers) {
                    Ok(r) => r,
                    Err(e) => return self.restart_and_retry(e).await,
                };
                if start != from {
                    return self
                        .restart_and_retry(format!("asked from byte {from}, got from byte {start}"))
                        .await;
                }
                let known = self.validators.as_ref();
                if let (Some(known), Some(tag)) = (known.and_then(|v| v.etag.as_ref()), &found.etag)
                    && known != tag
                {
                    return self
                        .restart_and_retry("the object changed (another ETag)".to_string())
                        .await;
                }
                if let (Some(known), Some(full)) = (self.total(), full)
                    && known != full
                {
                    return self
                        .restart_and_retry(format!(
                            "the file's length changed from {known} to {full}"
                        ))
                        .await;
                }
                if let Some(len) = content_length(&headers)
                    && len != end - start + 1
                {
                    return Ok(Outcome::Fatal(DownloadFailure::ContentRange(format!(
                        "range {start}-{end} announced with Content-Length {len}"
                    ))));
                }
                // The whole length: the range's total, else its end.
                found.total = Some(full.unwrap_or(end + 1));
                if found.etag.is_none() && found.last_modified.is_none() {
                    found.etag = known.and_then(|v| v.etag.clone());
                    found.last_modified = known.and_then(|v| v.last_modified.clone());
                }
            }
            300..=399 => return Ok(Outcome::Fatal(DownloadFailure::Redirect(status))),
            401 | 403 => return Ok(Outcome::Refused(status)),
            400 => {
                // Some object stores answer 400 to an expired signature.
                let body = read_some(response, ERROR_BODY_LIMIT, self.ctx.stall).await;
                if String::from_utf8_lossy(&body)
                    .to_ascii_lowercase()
                    .contains("expired")
                {
                    return Ok(Outcome::Refused(status));
                }
                return Ok(Outcome::Fatal(DownloadFailure::Status(status)));
            }
            416 => {
                return self
                    .restart_and_retry("range not satisfiable".to_string())
                    .await;
            }
            _ if crate::config::RequestKind::Download.retries_status(status) => {
                return Ok(Outcome::Transient {
                    reason: DownloadFailure::Status(status),
                    retry_after: retry_after(&headers),
                });
            }
            _ => return Ok(Outcome::Fatal(DownloadFailure::Status(status))),
        }
        self.remember(found).await?;
        self.emit(ProgressEvent::Started);
        self.receive(response).await
    }

    /// Streams the body into the `.part`.
    async fn receive(&mut self, response: reqwest::Response) -> Result<Outcome> {
        let mut body = response.bytes_stream();
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(self.ctx.stall, body.next()) => next,
                () = self.ctx.stop_requested() => return Ok(Outcome::Interrupted),
            };
            let chunk: Bytes = match next {
                Err(_) => return Ok(transient(DownloadFailure::Stalled(self.ctx.stall))),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Ok(transient(DownloadFailure::Transport(
                        describe_transport_error(&e),
                    )));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let received = self.part.have() + chunk.len() as u64;
            if let Some(expected) = self.total().filter(|&t| received > t) {
                self.part.restart().await?;
                return Ok(transient(DownloadFailure::Length { expected, received }));
            }
            self.part.write(chunk).await?;
            self.emit(ProgressEvent::Data);
        }
        match self.total() {
            Some(expected) if self.part.have() != expected => {
                Ok(transient(DownloadFailure::Length {
                    expected,
                    received: self.part.have(),
                }))
            }
            _ => Ok(Outcome::Complete),
        }
    }
}

/// A header's value as text, if it is text.
fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    Some(headers.get(name)?.to_str().ok()?.trim().to_string())
}

/// The URL's path without its query (the signature), for the manifest.
fn url_path(url: &SecretUrl) -> String {
    match url::Url::parse(url.expose()) {
        Ok(u) => format!("{}{}", u.host_str().unwrap_or_default(), u.path()),
        Err(_) => String::new(),
    }
}

/// The parsed `Content-Range: bytes <start>-<end>/<total>`.
fn content_range(headers: &HeaderMap) -> std::result::Result<(u64, u64, Option<u64>), String> {
    let raw = headers
        .get(CONTENT_RANGE)
        .ok_or("a 206 answer without Content-Range")?
        .to_str()
        .map_err(|_| "Content-Range is not text".to_string())?;
    let bad = || format!("cannot parse {raw:?}");
    let rest = raw.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let (start, end) = range.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().map_err(|_| bad())?),
    };
    if end < start || total.is_some_and(|t| end >= t) {
        return Err(bad());
    }
    Ok((start, end, total))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Up to `limit` bytes of a body, for error messages; empty on failure.
async fn read_some(response: reqwest::Response, limit: usize, stall: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = response.bytes_stream();
    while out.len() < limit {
        match tokio::time::timeout(stall, body.next()).await {
            Ok(Some(Ok(chunk))) => {
                let take = chunk.len().min(limit - out.len());
                out.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    out
}

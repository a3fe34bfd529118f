//! Fetching one file: request, stream to `.part`, retry and resume, verify,
//! rename.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use reqwest::{
    StatusCode,
    header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, IF_RANGE, RANGE},
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{DownloadedFile, Planned, ProgressEvent, Sink};
use crate::{
    Client, RetryPolicy,
    client::{describe_transport_error, retry_after},
    error::{DownloadFailure, Error, Result},
    models::{PresignedUrl, SecretUrl},
};

/// The write buffer: bytes are written to disk in pieces of at most this.
pub(crate) const WRITE_BUFFER: usize = 256 * 1024;
/// How much of an error body is read to look for "expired".
const ERROR_BODY_LIMIT: usize = 4096;

/// What every file's fetch shares.
pub(crate) struct Context<'a> {
    pub http: reqwest::Client,
    pub job_id: String,
    pub retry: RetryPolicy,
    pub stall: Duration,
    pub sink: &'a Sink,
    pub refresher: Refresher,
}

/// Fetches the job again when a URL is refused, once for all the files
/// that were refused with URLs of the same generation.
pub(crate) struct Refresher {
    client: Client,
    job_id: Option<String>,
    state: tokio::sync::Mutex<(u64, Arc<Vec<PresignedUrl>>)>,
}

impl Refresher {
    pub fn new(client: Client, job_id: &str, urls: Vec<PresignedUrl>) -> Self {
        Refresher {
            client,
            job_id: (!job_id.trim().is_empty()).then(|| job_id.to_string()),
            state: tokio::sync::Mutex::new((0, Arc::new(urls))),
        }
    }

    /// Fresh URLs newer than generation `seen`: fetched now unless another
    /// file already did. `None` if the job has no id to fetch it by.
    async fn fresh(&self, seen: u64) -> Result<Option<(u64, Arc<Vec<PresignedUrl>>)>> {
        let Some(job_id) = &self.job_id else {
            return Ok(None);
        };
        let mut state = self.state.lock().await;
        if state.0 == seen {
            tracing::info!(job_id = %job_id, "presigned URL refused; fetching the job for fresh URLs");
            let job = self.client.get_job(job_id).await?;
            *state = (seen + 1, Arc::new(job.presigned_urls));
        }
        Ok(Some((state.0, state.1.clone())))
    }
}

/// Reads a whole file, returning its length and lowercase hex sha256.
pub(crate) async fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let (len, hasher) = hash_prefix(path).await?;
    Ok((len, hex::encode(hasher.finalize())))
}

/// Why an attempt ended without the file.
enum Outcome {
    /// Worth another try (after a backoff), maybe resuming.
    Transient {
        reason: DownloadFailure,
        retry_after: Option<Duration>,
    },
    /// The URL was refused: fetch the job for a fresh one.
    Refused(StatusCode),
    /// Give up.
    Fatal(DownloadFailure),
}

fn transient(reason: DownloadFailure) -> Outcome {
    Outcome::Transient {
        reason,
        retry_after: None,
    }
}

/// The `.part` file being written, with the digest of what it holds.
struct Part {
    path: PathBuf,
    writer: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    have: u64,
}

impl Part {
    /// Opens `path`, keeping (and hashing) what an earlier attempt left in
    /// it. Anything there that is not a plain file is refused, and a
    /// symbolic link is removed rather than followed.
    async fn open(path: PathBuf) -> Result<Part> {
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let (have, hasher) = match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) if meta.is_file() => {
                let (len, hasher) = hash_prefix(&path).await.map_err(io)?;
                (len, hasher)
            }
            Ok(meta) if meta.file_type().is_symlink() => {
                tokio::fs::remove_file(&path).await.map_err(io)?;
                (0, Sha256::new())
            }
            Ok(_) => {
                return Err(io(std::io::Error::other(
                    "not a regular file; refusing to write to it",
                )));
            }
            Err(_) => (0, Sha256::new()),
        };
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .await
            .map_err(io)?;
        file.set_len(have).await.map_err(io)?;
        file.seek(SeekFrom::Start(have)).await.map_err(io)?;
        Ok(Part {
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            path,
            hasher,
            have,
        })
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if let Err(e) = self.writer.write_all(chunk).await {
            return Err(self.io(e));
        }
        self.hasher.update(chunk);
        self.have += chunk.len() as u64;
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        match self.writer.flush().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Empties the file: the server sends it whole again.
    async fn restart(&mut self) -> Result<()> {
        self.flush().await?;
        let file = self.writer.get_mut();
        let result = async {
            file.set_len(0).await?;
            file.seek(SeekFrom::Start(0)).await.map(|_| ())
        }
        .await;
        result.map_err(|e| self.io(e))?;
        self.hasher = Sha256::new();
        self.have = 0;
        Ok(())
    }
}

async fn hash_prefix(path: &Path) -> std::io::Result<(u64, Sha256)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hasher))
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

/// Fetches one file; never returns a partial file as complete. Returns its
/// index with the outcome.
pub(crate) async fn fetch(
    ctx: &Context<'_>,
    index: usize,
    planned: Planned,
) -> (usize, Result<DownloadedFile>) {
    let result = fetch_file(ctx, index, &planned).await;
    if result.is_err() {
        ctx.sink
            .emit(ProgressEvent::Failed, index, &planned.filename, 0, None);
    }
    (index, result)
}

async fn fetch_file(ctx: &Context<'_>, index: usize, planned: &Planned) -> Result<DownloadedFile> {
    let mut part = Part::open(planned.part_path()).await?;
    let mut url = planned.url.clone();
    let mut generation = 0u64;
    let mut refreshed = false;
    let mut attempts = 0u32;
    let mut retries = 0u32;
    let mut high_water = part.have;
    let mut total: Option<u64> = None;
    let mut etag: Option<String> = None;

    let failed = |attempts: u32, reason: DownloadFailure| Error::Download {
        job_id: ctx.job_id.clone(),
        file: planned.source.clone(),
        path: planned.path.clone(),
        attempts,
        reason,
    };

    loop {
        attempts += 1;
        let outcome = attempt(ctx, index, planned, &url, &mut part, &mut total, &mut etag).await?;
        let (reason, advised) = match outcome {
            None => break,
            Some(Outcome::Fatal(reason)) => {
                return Err(give_up(part, failed(attempts, reason)).await);
            }
            Some(Outcome::Refused(status)) => {
                if refreshed {
                    return Err(
                        give_up(part, failed(attempts, DownloadFailure::Expired(status))).await,
                    );
                }
                refreshed = true;
                let fresh = match ctx.refresher.fresh(generation).await {
                    Ok(Some(fresh)) => fresh,
                    Ok(None) => {
                        return Err(give_up(
                            part,
                            failed(attempts, DownloadFailure::Expired(status)),
                        )
                        .await);
                    }
                    Err(e) => return Err(give_up(part, e).await),
                };
                generation = fresh.0;
                let found = fresh
                    .1
                    .iter()
                    .filter(|p| p.filename == planned.source)
                    .nth(planned.occurrence)
                    .map(|p| p.url.clone());
                match found {
                    Some(u) => url = u,
                    None => {
                        return Err(give_up(
                            part,
                            failed(attempts, DownloadFailure::MissingAfterRefresh),
                        )
                        .await);
                    }
                }
                continue;
            }
            Some(Outcome::Transient {
                reason,
                retry_after,
            }) => (reason, retry_after),
        };
        if part.have > high_water {
            high_water = part.have;
            retries = 0;
        }
        if retries >= ctx.retry.max_retries() {
            return Err(give_up(part, failed(attempts, reason)).await);
        }
        retries += 1;
        let delay = ctx.retry.delay_before_retry(retries, advised);
        tracing::info!(
            file = %planned.filename,
            url = %url,
            retry = retries,
            have = part.have,
            delay_ms = delay.as_millis() as u64,
            reason = %reason,
            "retrying download"
        );
        ctx.sink.emit(
            ProgressEvent::Retrying,
            index,
            &planned.filename,
            part.have,
            total,
        );
        tokio::time::sleep(delay).await;
    }

    // Complete: make it durable, then give it its final name.
    part.flush().await?;
    let Part {
        path: part_path,
        writer,
        hasher,
        have,
    } = part;
    let file = writer.into_inner();
    file.sync_all().await.map_err(|source| Error::Io {
        path: part_path.clone(),
        source,
    })?;
    drop(file);
    tokio::fs::rename(&part_path, &planned.path)
        .await
        .map_err(|source| Error::Io {
            path: planned.path.clone(),
            source,
        })?;
    sync_dir(planned.path.parent()).await;
    let sha256 = hex::encode(hasher.finalize());
    tracing::debug!(file = %planned.filename, bytes = have, attempts, "downloaded");
    ctx.sink.emit(
        ProgressEvent::Finished,
        index,
        &planned.filename,
        have,
        Some(have),
    );
    Ok(DownloadedFile {
        filename: planned.filename.clone(),
        source_filename: planned.source.clone(),
        path: planned.path.clone(),
        bytes: have,
        sha256,
        skipped: false,
    })
}

/// Leaves the `.part` for the next run (removed if empty), returns `error`.
async fn give_up(mut part: Part, error: Error) -> Error {
    let _ = part.flush().await;
    let have = part.have;
    let path = part.path.clone();
    drop(part);
    if have == 0 {
        let _ = tokio::fs::remove_file(&path).await;
    }
    error
}

/// Makes a rename durable (best effort; a no-op where directories cannot
/// be opened).
async fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    if let Some(dir) = dir
        && let Ok(d) = tokio::fs::File::open(dir).await
    {
        let _ = d.sync_all().await;
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// One request. `Ok(None)`: the file is complete in `part`.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    ctx: &Context<'_>,
    index: usize,
    planned: &Planned,
    url: &SecretUrl,
    part: &mut Part,
    total: &mut Option<u64>,
    etag: &mut Option<String>,
) -> Result<Option<Outcome>> {
    let target = match url::Url::parse(url.expose()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return Ok(Some(Outcome::Fatal(DownloadFailure::BadUrl))),
    };
    let mut request = ctx.http.get(target);
    let from = part.have;
    if from > 0 {
        request = request.header(RANGE, format!("bytes={from}-"));
        // Resume only if the file is still the one we have the start of.
        if let Some(tag) = etag.as_deref().filter(|t| !t.starts_with("W/")) {
            request = request.header(IF_RANGE, tag);
        }
    }
    tracing::debug!(file = %planned.filename, url = %url, from, "requesting");
    let response = match tokio::time::timeout(ctx.stall, request.send()).await {
        Err(_) => return Ok(Some(transient(DownloadFailure::Stalled(ctx.stall)))),
        Ok(Err(e)) if e.is_builder() => {
            return Ok(Some(Outcome::Fatal(DownloadFailure::BadUrl)));
        }
        Ok(Err(e)) => {
            return Ok(Some(transient(DownloadFailure::Transport(
                describe_transport_error(&e),
            ))));
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    let headers = response.headers().clone();
    match status.as_u16() {
        200 => {
            if part.have > 0 {
                tracing::info!(file = %planned.filename, "server sent the whole file again; restarting it");
                part.restart().await?;
                ctx.sink
                    .emit(ProgressEvent::Restarted, index, &planned.filename, 0, None);
            }
            if let Some(len) = content_length(&headers) {
                *total = Some(len);
            }
        }
        206 => {
            let (start, end, full) = match content_range(&headers) {
                Ok(r) => r,
                Err(e) => return Ok(Some(restart_from_zero(part, e).await?)),
            };
            if start != part.have {
                return Ok(Some(
                    restart_from_zero(
                        part,
                        format!("asked from byte {}, got from byte {start}", part.have),
                    )
                    .await?,
                ));
            }
            if let (Some(known), Some(full)) = (*total, full)
                && known != full
            {
                return Ok(Some(
                    restart_from_zero(
                        part,
                        format!("the file's length changed from {known} to {full}"),
                    )
                    .await?,
                ));
            }
            if let Some(len) = content_length(&headers)
                && len != end - start + 1
            {
                return Ok(Some(Outcome::Fatal(DownloadFailure::ContentRange(
                    format!("range {start}-{end} announced with Content-Length {len}"),
                ))));
            }
            // The whole length: the range's total, else its end.
            *total = Some(full.unwrap_or(end + 1));
        }
        300..=399 => return Ok(Some(Outcome::Fatal(DownloadFailure::Redirect(status)))),
        401 | 403 => return Ok(Some(Outcome::Refused(status))),
        400 => {
            // Some object stores answer 400 to an expired signature.
            let body = read_some(response, ERROR_BODY_LIMIT, ctx.stall).await;
            if String::from_utf8_lossy(&body)
                .to_ascii_lowercase()
                .contains("expired")
            {
                return Ok(Some(Outcome::Refused(status)));
            }
            return Ok(Some(Outcome::Fatal(DownloadFailure::Status(status))));
        }
        416 => {
            return Ok(Some(
                restart_from_zero(part, "range not satisfiable".to_string()).await?,
            ));
        }
        _ if crate::config::RequestKind::Download.retries_status(status) => {
            return Ok(Some(Outcome::Transient {
                reason: DownloadFailure::Status(status),
                retry_after: retry_after(&headers),
            }));
        }
        _ => return Ok(Some(Outcome::Fatal(DownloadFailure::Status(status)))),
    }
    if let Some(tag) = headers.get(ETAG).and_then(|v| v.to_str().ok()) {
        *etag = Some(tag.to_string());
    }
    ctx.sink.emit(
        ProgressEvent::Started,
        index,
        &planned.filename,
        part.have,
        *total,
    );

    let mut body = response.bytes_stream();
    loop {
        let next = match tokio::time::timeout(ctx.stall, body.next()).await {
            Err(_) => {
                part.flush().await?;
                return Ok(Some(transient(DownloadFailure::Stalled(ctx.stall))));
            }
            Ok(next) => next,
        };
        match next {
            Some(Ok(chunk)) => {
                if total.is_some_and(|t| part.have + chunk.len() as u64 > t) {
                    let expected = total.unwrap_or_default();
                    let received = part.have + chunk.len() as u64;
                    part.restart().await?;
                    return Ok(Some(transient(DownloadFailure::Length {
                        expected,
                        received,
                    })));
                }
                part.write(&chunk).await?;
                ctx.sink.emit(
                    ProgressEvent::Data,
                    index,
                    &planned.filename,
                    part.have,
                    *total,
                );
            }
            Some(Err(e)) => {
                part.flush().await?;
                return Ok(Some(transient(DownloadFailure::Transport(
                    describe_transport_error(&e),
                ))));
            }
            None => break,
        }
    }
    part.flush().await?;
    match *total {
        Some(expected) if part.have != expected => Ok(Some(transient(DownloadFailure::Length {
            expected,
            received: part.have,
        }))),
        _ => Ok(None),
    }
}

/// The server's answer to a resume did not fit: empty the file and try
/// again from the start.
async fn restart_from_zero(part: &mut Part, why: String) -> Result<Outcome> {
    tracing::info!(file = %part.path.display(), why = %why, "cannot resume; restarting the file");
    part.restart().await?;
    Ok(transient(DownloadFailure::ContentRange(why)))
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

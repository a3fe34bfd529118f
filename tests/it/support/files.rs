//! Files for [`TestServer`](super::server::TestServer): a [`FileSpec`]
//! served with `Range` (206/416) and an `ETag` honoured by `If-Range`, and
//! its faults (a connection dropped or left silent after K body bytes, a
//! status, a redirect, a wrong range start, a refused stale signature).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::watch,
};

use super::server::{respond, write_head};

/// The entity tag every file is served with.
const ETAG: &str = "\"v1\"";

/// A file's content.
#[derive(Clone)]
pub enum Body {
    /// These bytes.
    Bytes(Arc<Vec<u8>>),
    /// `len` bytes of [`generated_byte`], produced while sending (nothing held in memory).
    Generated(u64),
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Generated(n) => *n,
        }
    }

    fn fill(&self, from: u64, buf: &mut [u8]) {
        match self {
            Body::Bytes(b) => buf.copy_from_slice(&b[from as usize..from as usize + buf.len()]),
            Body::Generated(_) => {
                for (i, byte) in buf.iter_mut().enumerate() {
                    *byte = generated_byte(from + i as u64);
                }
            }
        }
    }
}

/// The byte at `pos` of a generated file.
pub fn generated_byte(pos: u64) -> u8 {
    (pos.wrapping_mul(2_654_435_761) >> 7) as u8 ^ (pos as u8)
}

/// The sha256 (hex) of a generated file of `len` bytes, computed in pieces.
pub fn generated_sha256(len: u64) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        Body::Generated(len).fill(pos, &mut buf[..n]);
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    hex::encode(hasher.finalize())
}

/// How one file path answers.
#[derive(Clone)]
pub struct FileSpec {
    pub body: Body,
    /// Answer `Range: bytes=N-` with 206 (else always 200 with the whole file).
    pub ranges: bool,
    /// Close the connection after this many body bytes, on the first N requests.
    pub drop_after: Option<(u64, usize)>,
    /// Answer this status (empty body), on the first N requests.
    pub status: Option<(u16, usize)>,
    /// Send this many body bytes then go silent (connection left open), on the first N requests.
    pub stall_after: Option<(u64, usize)>,
    /// Answer `302 Found` with this `Location`.
    pub redirect_to: Option<String>,
    /// Answer a `Range` request with a 206 that starts at byte 0 (a broken server).
    pub wrong_range_start: bool,
    /// Answer 403 unless the query carries `X-Amz-Signature=<this>`.
    pub valid_signature: Option<String>,
}

impl FileSpec {
    pub fn bytes(content: impl Into<Vec<u8>>) -> Self {
        FileSpec::new(Body::Bytes(Arc::new(content.into())))
    }

    pub fn generated(len: u64) -> Self {
        FileSpec::new(Body::Generated(len))
    }

    fn new(body: Body) -> Self {
        FileSpec {
            body,
            ranges: true,
            drop_after: None,
            status: None,
            stall_after: None,
            redirect_to: None,
            wrong_range_start: false,
            valid_signature: None,
        }
    }

    pub fn no_ranges(mut self) -> Self {
        self.ranges = false;
        self
    }

    pub fn drop_after(mut self, bytes: u64, first_requests: usize) -> Self {
        self.drop_after = Some((bytes, first_requests));
        self
    }

    pub fn status(mut self, status: u16, first_requests: usize) -> Self {
        self.status = Some((status, first_requests));
        self
    }

    pub fn stall_after(mut self, bytes: u64, first_requests: usize) -> Self {
        self.stall_after = Some((bytes, first_requests));
        self
    }

    pub fn redirect_to(mut self, location: &str) -> Self {
        self.redirect_to = Some(location.to_string());
        self
    }

    pub fn wrong_range_start(mut self) -> Self {
        self.wrong_range_start = true;
        self
    }

    pub fn valid_signature(mut self, sig: &str) -> Self {
        self.valid_signature = Some(sig.to_string());
        self
    }
}

/// File answers in progress: how many at once, at most, and the hold.
pub(super) struct InFlight {
    /// File requests arrived so far (watched by held answers).
    arrived: watch::Sender<usize>,
    hold_until: AtomicUsize,
    active: AtomicUsize,
    peak: AtomicUsize,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            arrived: watch::channel(0).0,
            hold_until: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }
}

impl InFlight {
    pub(super) fn hold_until(&self, n: usize) {
        self.hold_until.store(n, Ordering::SeqCst);
    }

    pub(super) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// What a file answer depends on.
pub(super) struct FileRequest {
    /// This is the nth request to the path (from 1).
    pub nth: usize,
    pub query: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

/// Answers one file request.
pub(super) async fn serve_file(
    stream: &mut TcpStream,
    state: &InFlight,
    spec: FileSpec,
    request: FileRequest,
) -> std::io::Result<()> {
    let nth = request.nth;
    // In flight from here until the last body byte is about to be written.
    let now = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak.fetch_max(now, Ordering::SeqCst);
    let mut active = ActiveGuard(&state.active, false);
    state.arrived.send_modify(|n| *n += 1);
    let want = state.hold_until.load(Ordering::SeqCst);
    let mut rx = state.arrived.subscribe();
    let _ = rx.wait_for(|n| *n >= want).await;

    if let Some(location) = &spec.redirect_to {
        active.release();
        return respond(stream, "302 Found", &[("Location", location.clone())], b"").await;
    }
    if let Some((status, first)) = spec.status
        && nth <= first
    {
        active.release();
        return respond(stream, &format!("{status} Status"), &[], b"").await;
    }
    if let Some(sig) = &spec.valid_signature {
        let expected = format!("X-Amz-Signature={sig}");
        let ok = request
            .query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|kv| kv == expected));
        if !ok {
            active.release();
            return respond(
                stream,
                "403 Forbidden",
                &[("Content-Type", "application/xml".into())],
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )
            .await;
        }
    }

    let len = spec.body.len();
    // `If-Range` with another validator: the whole file, as a 200.
    let range_applies = spec.ranges && request.if_range.as_deref().is_none_or(|v| v == ETAG);
    let start = match (&request.range, range_applies) {
        (Some(r), true) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<u64>().ok()),
        _ => None,
    };
    let start = if spec.wrong_range_start {
        start.map(|_| 0)
    } else {
        start
    };
    let (status_line, from, mut extra) = match start {
        Some(s) if s < len => (
            "206 Partial Content",
            s,
            vec![("Content-Range", format!("bytes {s}-{}/{len}", len - 1))],
        ),
        Some(_) => {
            active.release();
            return respond(
                stream,
                "416 Range Not Satisfiable",
                &[("Content-Range", format!("bytes */{len}"))],
                b"",
            )
            .await;
        }
        None => ("200 OK", 0, Vec::new()),
    };
    extra.push(("Content-Length", (len - from).to_string()));
    extra.push(("ETag", ETAG.to_string()));
    extra.push(("Accept-Ranges", "bytes".to_string()));
    write_head(stream, status_line, &extra).await?;

    let cut = spec
        .drop_after
        .filter(|(_, first)| nth <= *first)
        .map(|(bytes, _)| bytes);
    let stall = spec
        .stall_after
        .filter(|(_, first)| nth <= *first)
        .map(|(bytes, _)| bytes);
    let end = cut.or(stall).map_or(len, |c| c.clamp(from, len));
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pos = from;
    while pos < end {
        let n = (end - pos).min(chunk.len() as u64) as usize;
        spec.body.fill(pos, &mut chunk[..n]);
        if pos + n as u64 == end {
            active.release();
        }
        stream.write_all(&chunk[..n]).await?;
        pos += n as u64;
    }
    active.release();
    stream.flush().await?;
    if stall.is_some() {
        // Silent, connection open, until the client gives up on it.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        return Ok(());
    }
    stream.shutdown().await
}

struct ActiveGuard<'a>(&'a AtomicUsize, bool);

impl ActiveGuard<'_> {
    fn release(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

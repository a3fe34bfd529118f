//! A small HTTP/1.1 file server on loopback for the download tests: serves
//! files (stored or generated on the fly), honours `Range`, records every
//! request with its headers, can drop a connection after K body bytes on
//! the first N requests, answer a status for the first N requests, refuse
//! a stale signature with 403, redirect, hold answers until several
//! requests are in flight, and serve one export job as JSON.
//!
//! Each test binary includes it with `#[path = "common/file_server.rs"] mod file_server;`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// The path the job is served at (the client's `get_job` path).
pub const JOB_PATH_PREFIX: &str = "/api/v1/analytics/exports/jobs/";

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

/// Length and sha256 (hex) of a generated file, computed in pieces.
pub fn generated_sha256(len: u64) -> String {
    let mut hasher = Sha256::new();
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

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How one path answers.
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

/// A request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, FileSpec>>,
    requests: Mutex<Vec<Recorded>>,
    job_json: Mutex<Option<String>>,
    /// File requests arrived so far (watched by held answers).
    arrived: Option<watch::Sender<usize>>,
    hold_until: AtomicUsize,
    active: AtomicUsize,
    peak: AtomicUsize,
}

/// The server; it stops when dropped.
pub struct FileServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FileServer {
    pub async fn start() -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, _) = watch::channel(0usize);
        let state = Arc::new(State {
            arrived: Some(tx),
            ..State::default()
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, state).await;
                });
            }
        });
        FileServer { addr, state, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The presigned-style URL of `path` with this signature.
    pub fn url(&self, path: &str, signature: &str) -> String {
        format!(
            "{}{path}?X-Amz-Expires=172800&X-Amz-Signature={signature}",
            self.base_url()
        )
    }

    pub fn add(&self, path: &str, spec: FileSpec) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), spec);
    }

    /// Serves this JSON at `GET /api/v1/analytics/exports/jobs/<any id>`.
    pub fn set_job_json(&self, json: String) {
        *self.state.job_json.lock().unwrap() = Some(json);
    }

    /// Holds every file answer until `n` file requests have arrived.
    pub fn hold_until(&self, n: usize) {
        self.state.hold_until.store(n, Ordering::SeqCst);
    }

    /// The most file requests in progress at once.
    pub fn peak_in_flight(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    /// Requests to anything but the job endpoint.
    pub fn file_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.starts_with(JOB_PATH_PREFIX))
            .collect()
    }
}

async fn handle(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    // Read the head (a GET has no body).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default().to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.clone(), None),
    };
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let recorded = Recorded {
        method,
        path: path.clone(),
        query: query.clone(),
        headers,
    };
    let range = recorded.header("range").map(str::to_string);
    let nth = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(recorded);
        requests.iter().filter(|r| r.path == path).count()
    };

    if path.starts_with(JOB_PATH_PREFIX) {
        let json = state.job_json.lock().unwrap().clone();
        return match json {
            Some(json) => {
                respond(
                    &mut stream,
                    "200 OK",
                    &[("Content-Type", "application/json".into())],
                    json.as_bytes(),
                )
                .await
            }
            None => respond(&mut stream, "404 Not Found", &[], b"").await,
        };
    }

    let spec = state.files.lock().unwrap().get(&path).cloned();
    let Some(spec) = spec else {
        return respond(&mut stream, "404 Not Found", &[], b"").await;
    };

    // In flight from here until the last body byte is about to be written.
    let now = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak.fetch_max(now, Ordering::SeqCst);
    let mut active = ActiveGuard(&state.active, false);
    if let Some(tx) = &state.arrived {
        tx.send_modify(|n| *n += 1);
        let want = state.hold_until.load(Ordering::SeqCst);
        let mut rx = tx.subscribe();
        let _ = rx.wait_for(|n| *n >= want).await;
    }

    if let Some(location) = &spec.redirect_to {
        active.release();
        return respond(
            &mut stream,
            "302 Found",
            &[("Location", location.clone())],
            b"",
        )
        .await;
    }
    if let Some((status, first)) = spec.status
        && nth <= first
    {
        active.release();
        let line = format!("{status} Status");
        return respond(&mut stream, &line, &[], b"").await;
    }
    if let Some(sig) = &spec.valid_signature {
        let expected = format!("X-Amz-Signature={sig}");
        let ok = query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|kv| kv == expected));
        if !ok {
            active.release();
            return respond(
                &mut stream,
                "403 Forbidden",
                &[("Content-Type", "application/xml".into())],
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )
            .await;
        }
    }

    let len = spec.body.len();
    let start = match (&range, spec.ranges) {
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
                &mut stream,
                "416 Range Not Satisfiable",
                &[("Content-Range", format!("bytes */{len}"))],
                b"",
            )
            .await;
        }
        None => ("200 OK", 0, Vec::new()),
    };
    extra.push(("Content-Length", (len - from).to_string()));
    extra.push(("ETag", "\"v1\"".to_string()));
    extra.push(("Accept-Ranges", "bytes".to_string()));
    write_head(&mut stream, status_line, &extra).await?;

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

async fn write_head(
    stream: &mut TcpStream,
    status_line: &str,
    headers: &[(&str, String)],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status_line}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await
}

async fn respond(
    stream: &mut TcpStream,
    status_line: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut all: Vec<(&str, String)> = headers.to_vec();
    all.push(("Content-Length", body.len().to_string()));
    write_head(stream, status_line, &all).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

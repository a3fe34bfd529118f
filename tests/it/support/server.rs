//! The scripted HTTP/1.1 test server on loopback, for the tests httpmock
//! and the simulator cannot express.
//!
//! - **Scripted routes** ([`TestServer::on`], [`TestServer::on_any`]): a
//!   route answers its [`Reply`]s in order, the last one repeating (429 then
//!   200; pending, processing, completed).
//! - **Files** ([`TestServer::file`]): a [`FileSpec`] served with `Range`
//!   (206/416), an `ETag` honoured by `If-Range`, and faults: a connection
//!   dropped or left silent after K body bytes, a status, a redirect, a
//!   wrong range start, a refused stale signature; answers can be held
//!   until several requests are in flight ([`TestServer::hold_until`]).
//! - **Recorded requests** ([`TestServer::requests`]): every request, one
//!   parser, one [`Recorded`] type, stamped with the tokio instant it
//!   arrived at.
//!
//! It runs as a task on the test's own runtime, so it works under paused
//! tokio time. A request no route matches is answered 500 (`no route`).
//! Every answer closes its connection.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};

use super::{
    JOBS,
    files::{FileRequest, FileSpec, InFlight, serve_file},
};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with this JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::text(status, "application/json", &body.to_string())
    }

    /// `status` with this body and content type.
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A job answer (200) with this status and optional progress.
    pub fn job(id: &str, status: &str, progress: Option<&str>) -> Reply {
        let mut job = serde_json::json!({"job_id": id, "status": status});
        if let Some(p) = progress {
            job["progress"] = p.into();
        }
        Reply::json(200, job)
    }

    /// 404 with the API's error body.
    pub fn not_found() -> Reply {
        Reply::json(
            404,
            serde_json::json!({"errors": [{"error": "not_found", "message": "no such job"}]}),
        )
    }

    /// `status` with a generic API error body.
    pub fn status(status: u16) -> Reply {
        Reply::json(
            status,
            serde_json::json!({"errors": [{"error": "status", "message": "scripted"}]}),
        )
    }
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: Option<String>,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The tokio instant the request had fully arrived at.
    pub at: Instant,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `"METHOD /path?query"`.
    pub fn line(&self) -> String {
        match &self.query {
            Some(q) => format!("{} {}?{q}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Reads one request (head and `Content-Length` body); `None` if the peer
/// closed first.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Recorded>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Recorded {
        method,
        path,
        query,
        headers,
        body: buf[head_end..head_end + length].to_vec(),
        at: Instant::now(),
    }))
}

/// Which requests a route takes.
#[derive(Clone, PartialEq)]
enum Matcher {
    Any,
    Prefix(String, String),
    Exact(Option<String>, String),
}

impl Matcher {
    /// Higher is more specific; `None` if it does not match.
    fn rank(&self, method: &str, path: &str) -> Option<u8> {
        match self {
            Matcher::Any => Some(0),
            Matcher::Prefix(m, p) => (m == method && path.starts_with(p.as_str())).then_some(1),
            Matcher::Exact(m, p) => {
                (m.as_deref().is_none_or(|m| m == method) && p == path).then_some(2)
            }
        }
    }
}

enum Handler {
    Replies { replies: Vec<Reply>, next: usize },
    File(FileSpec),
}

#[derive(Default)]
struct State {
    routes: Mutex<Vec<(Matcher, Handler)>>,
    requests: Mutex<Vec<Recorded>>,
    in_flight: InFlight,
}

/// What the router picked for one request.
enum Pick {
    Reply(Reply),
    File(FileSpec),
}

impl State {
    fn add(&self, matcher: Matcher, handler: Handler) {
        let mut routes = self.routes.lock().unwrap();
        routes.retain(|(m, _)| *m != matcher);
        routes.push((matcher, handler));
    }

    /// The most specific route for this request (the last added among equals).
    fn pick(&self, method: &str, path: &str) -> Pick {
        let mut routes = self.routes.lock().unwrap();
        let best = routes
            .iter_mut()
            .enumerate()
            .filter_map(|(i, (m, h))| m.rank(method, path).map(|r| ((r, i), h)))
            .max_by_key(|(key, _)| *key)
            .map(|(_, h)| h);
        match best {
            Some(Handler::Replies { replies, next }) if !replies.is_empty() => {
                let reply = replies[(*next).min(replies.len() - 1)].clone();
                *next += 1;
                Pick::Reply(reply)
            }
            Some(Handler::File(spec)) => Pick::File(spec.clone()),
            _ => Pick::Reply(Reply::json(
                500,
                serde_json::json!({"errors": [{"message": format!("no route for {method} {path}")}]}),
            )),
        }
    }
}

/// The server; it stops accepting when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// A server with no routes, on the current runtime.
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, state).await;
                });
            }
        });
        TestServer { addr, state, task }
    }

    /// A server whose every request is answered from `replies`, in order.
    pub async fn scripted(replies: Vec<Reply>) -> TestServer {
        let server = TestServer::start().await;
        server.on_any(replies);
        server
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

    /// `METHOD path` (any query) answers `replies` in order, the last repeating.
    pub fn on(&self, method: &str, path: &str, replies: Vec<Reply>) -> &Self {
        self.state.add(
            Matcher::Exact(Some(method.into()), path.into()),
            Handler::Replies { replies, next: 0 },
        );
        self
    }

    /// Requests no other route takes answer `replies` in order, the last repeating.
    pub fn on_any(&self, replies: Vec<Reply>) -> &Self {
        self.state
            .add(Matcher::Any, Handler::Replies { replies, next: 0 });
        self
    }

    /// Serves a file at `path` (any method).
    pub fn file(&self, path: &str, spec: FileSpec) -> &Self {
        self.state
            .add(Matcher::Exact(None, path.into()), Handler::File(spec));
        self
    }

    /// Serves `job` as JSON at `GET` [`JOBS`]`<any id>`.
    pub fn job_json(&self, job: &impl serde::Serialize) -> &Self {
        let json = serde_json::to_value(job).expect("job serializes");
        self.state.add(
            Matcher::Prefix("GET".into(), JOBS.into()),
            Handler::Replies {
                replies: vec![Reply::json(200, json)],
                next: 0,
            },
        );
        self
    }

    /// Holds every file answer until `n` file requests have arrived.
    pub fn hold_until(&self, n: usize) {
        self.state.in_flight.hold_until(n);
    }

    /// The most file requests in progress at once.
    pub fn peak_in_flight(&self) -> usize {
        self.state.in_flight.peak()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// `"METHOD /path?query"` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::line).collect()
    }

    /// The requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// How many requests went to `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    /// Requests to anything but the API (the file downloads).
    pub fn file_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.starts_with(super::EXPORTS))
            .collect()
    }
}

async fn handle(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let Some(recorded) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let (method, path, query) = (
        recorded.method.clone(),
        recorded.path.clone(),
        recorded.query.clone(),
    );
    let range = recorded.header("range").map(str::to_string);
    let if_range = recorded.header("if-range").map(str::to_string);
    let nth = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(recorded);
        requests.iter().filter(|r| r.path == path).count()
    };
    match state.pick(&method, &path) {
        Pick::Reply(reply) => {
            let status_line = format!("{} Scripted", reply.status);
            let headers: Vec<(&str, String)> = reply
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            respond(&mut stream, &status_line, &headers, &reply.body).await
        }
        Pick::File(spec) => {
            let request = FileRequest {
                nth,
                query,
                range,
                if_range,
            };
            serve_file(&mut stream, &state.in_flight, spec, request).await
        }
    }
}

pub(super) async fn write_head(
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

pub(super) async fn respond(
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

//! A scripted HTTP/1.1 server on loopback for job tests: each route answers
//! from a list of replies in order (the last one repeats), and every request
//! is recorded with the tokio instant it arrived at. It runs as a task on
//! the test's own runtime, so it works under paused tokio time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};
use userpilot_appex::{Client, RetryPolicy};

pub const EXPORTS: &str = "/api/v1/analytics/exports";
pub const JOBS: &str = "/api/v1/analytics/exports/jobs/";

/// The path of one job.
pub fn job_path(id: &str) -> String {
    format!("{JOBS}{id}")
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    /// `"GET /path"`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
        }
    }

    /// A job answer with this status (and optional progress).
    pub fn job(id: &str, status: &str, progress: Option<&str>) -> Reply {
        let mut job = serde_json::json!({"job_id": id, "status": status});
        if let Some(p) = progress {
            job["progress"] = p.into();
        }
        Reply::json(200, job)
    }

    pub fn not_found() -> Reply {
        Reply::json(
            404,
            serde_json::json!({"errors": [{"error": "not_found", "message": "no such job"}]}),
        )
    }

    pub fn status(status: u16) -> Reply {
        Reply::json(
            status,
            serde_json::json!({"errors": [{"error": "status", "message": "scripted"}]}),
        )
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, (Vec<Reply>, usize)>,
    log: Vec<Recorded>,
}

/// The server; dropping it stops nothing (the task ends with the runtime).
pub struct FakeServer {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeServer {
    /// Starts a server with routes `("GET /path", replies)`.
    pub async fn start(routes: Vec<(String, Vec<Reply>)>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            routes: routes.into_iter().map(|(k, v)| (k, (v, 0))).collect(),
            log: Vec::new(),
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        FakeServer { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("lock").log.clone()
    }

    /// `"METHOD /path"` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::line).collect()
    }

    /// A client for this server with the given retry policy.
    pub fn client(&self, retry: RetryPolicy) -> Client {
        Client::builder()
            .api_key("test-key")
            .base_url(self.base_url())
            .retry_policy(retry)
            .build()
            .expect("client")
    }
}

/// A route key.
pub fn route(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
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
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    let recorded = Recorded {
        method: method.clone(),
        path: path.clone(),
        headers,
        body,
        at: Instant::now(),
    };
    let reply = {
        let mut state = state.lock().expect("lock");
        state.log.push(recorded);
        match state.routes.get_mut(&route(&method, &path)) {
            Some((replies, next)) if !replies.is_empty() => {
                let reply = replies[(*next).min(replies.len() - 1)].clone();
                *next += 1;
                reply
            }
            _ => Reply::json(
                500,
                serde_json::json!({"errors": [{"message": format!("no route for {method} {path}")}]}),
            ),
        }
    };
    let response = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

//! Helpers shared by the simulator tests: plain reqwest calls, a job run to
//! completion with the simulator's clock, gunzip.

use std::{io::Read, time::Duration};

use chrono::NaiveDate;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;
use userpilot_appex::{
    Client,
    ext::jobs::WaitPolicy,
    models::ExportJob,
    simulator::{Simulator, SimulatorConfig},
};

pub use super::{EXPORTS, JOBS, LOOKUPS, all_lookups, plain_lookups};

/// A config whose jobs only move when the test advances the clock: 1 h
/// pending, 1 h per chunk.
pub fn manual_clock() -> SimulatorConfig {
    SimulatorConfig::default()
        .pending_duration(Duration::from_secs(3600))
        .chunk_duration(Duration::from_secs(3600))
}

pub async fn start(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

/// A reqwest client without default headers.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .expect("reqwest client builds")
}

/// An answer: status, headers, raw body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is text").to_string())
    }
}

/// Sends a request to `path` (relative to the base URL), with
/// `Authorization: Token <key>` when `key` is given.
pub async fn call(
    sim: &Simulator,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = http().request(method, format!("{}{path}", sim.base_url()));
    if let Some(key) = key {
        req = req.header("Authorization", format!("Token {key}"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request reaches the simulator");
    Answer {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("body arrives"),
    }
}

/// An authenticated GET.
pub async fn get(sim: &Simulator, path: &str) -> Answer {
    call(sim, Method::GET, path, Some(sim.api_key()), None).await
}

/// An authenticated POST of JSON.
pub async fn post(sim: &Simulator, path: &str, body: Value) -> Answer {
    call(sim, Method::POST, path, Some(sim.api_key()), Some(body)).await
}

/// `POST` of an export request.
pub async fn post_export(sim: &Simulator, body: Value) -> Answer {
    post(sim, EXPORTS, body).await
}

/// Triggers an export (must answer 201) and returns its job id.
pub async fn trigger(sim: &Simulator, body: Value) -> String {
    let a = post(sim, EXPORTS, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    a.json()["job_id"]
        .as_str()
        .expect("job_id is a string")
        .to_string()
}

/// Triggers an export, moves the clock past its end, returns the job JSON.
pub async fn completed_job(sim: &Simulator, body: Value) -> Value {
    let id = trigger(sim, body).await;
    sim.advance(Duration::from_secs(48 * 3600));
    let a = get(sim, &format!("{JOBS}{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let job = a.json();
    assert_eq!(job["status"], "completed", "{job}");
    job
}

/// The presigned URLs of a completed job, in order.
pub fn urls(job: &Value) -> Vec<(String, String)> {
    job["presigned_urls"]
        .as_array()
        .expect("presigned_urls is an array")
        .iter()
        .map(|u| {
            (
                u["filename"].as_str().expect("filename").to_string(),
                u["url"].as_str().expect("url").to_string(),
            )
        })
        .collect()
}

/// GETs an absolute URL without auth, with extra headers.
pub async fn fetch(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = http().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request reaches the simulator");
    Answer {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("body arrives"),
    }
}

/// The bytes behind a presigned URL, fetched directly (no
/// `Authorization`): the reference a download is compared with.
pub async fn reference_bytes(url: &str) -> Vec<u8> {
    let answer = fetch(url, &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "reference fetch status");
    answer.body.to_vec()
}

/// A wait policy for jobs with millisecond chunks: polls from `initial`
/// doubling up to `max_delay`, without jitter, for at most `max_wait`.
pub fn quick_wait(initial: Duration, max_delay: Duration, max_wait: Duration) -> WaitPolicy {
    WaitPolicy::default()
        .with_initial_delay(initial)
        .with_max_delay(max_delay)
        .with_jitter(userpilot_appex::config::Jitter::None)
        .with_max_wait(max_wait)
}

/// Triggers an export of `from..=to` and waits with `wait` until it
/// completes (panics otherwise).
pub async fn completed_export(
    client: &Client,
    (from, to): (NaiveDate, NaiveDate),
    wait: WaitPolicy,
) -> ExportJob {
    client
        .export()
        .range(from, to)
        .wait_policy(wait)
        .send()
        .await
        .expect("trigger")
        .wait()
        .await
        .expect("job completes")
}

pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

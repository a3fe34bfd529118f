//! The one request hook: retries, `Retry-After`, and a tracing span around
//! every operation. Cross-cutting behaviour lives here and nowhere else.

use std::{
    cell::Cell,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::{Method, Response, StatusCode, header::RETRY_AFTER};
use tokio::time::Instant;
use tracing::Instrument;

use crate::{
    config::{ClientState, RequestKind},
    generated::Client as RawClient,
};

tokio::task_local! {
    /// The status of the last answer seen inside [`super::operation_gate`]; progenitor
    /// drops it when a body fails to decode.
    pub(crate) static LAST_STATUS: Cell<Option<StatusCode>>;

    /// Counts every HTTP request sent inside [`count_requests`]' scope.
    static REQUESTS_SENT: Arc<AtomicU64>;
}

/// Runs `work`, adding to `counter` every HTTP request it sends in its
/// task (API requests, each retry included, and file downloads). Used by
/// the sync (feature `dataset`) for its report.
#[cfg(feature = "dataset")]
pub(crate) async fn count_requests<F: Future>(counter: Arc<AtomicU64>, work: F) -> F::Output {
    REQUESTS_SENT.scope(counter, work).await
}

/// Counts one request sent, inside a [`count_requests`] scope.
pub(crate) fn note_request_sent() {
    let _ = REQUESTS_SENT.try_with(|n| n.fetch_add(1, Ordering::Relaxed));
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Whether a transport error may be retried: for an API read any connect,
/// timeout or request error; for the trigger only a failed connect (the
/// request never reached the server).
fn retries_error(kind: RequestKind, error: &reqwest::Error) -> bool {
    if error.is_connect() {
        return true;
    }
    kind == RequestKind::ApiRead && (error.is_timeout() || error.is_request() || error.is_body())
}

impl ClientHooks<ClientState> for RawClient {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<Response> {
        let policy = self.inner().retry.clone();
        // Reads are idempotent; anything else may have started a job.
        let kind = match *request.method() {
            Method::GET | Method::HEAD => RequestKind::ApiRead,
            _ => RequestKind::ApiTrigger,
        };
        let span = tracing::info_span!(
            "appex.request",
            operation = info.operation_id,
            method = %request.method(),
            path = request.url().path(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let client = self.client().clone();
        async move {
            let started = Instant::now();
            let mut retries = 0u32;
            loop {
                // A request whose body cannot be cloned is sent once, as is.
                note_request_sent();
                let Some(attempt) = request.try_clone() else {
                    return client.execute(request).await;
                };
                let result = client.execute(attempt).await;
                let delay = match &result {
                    Ok(response) => {
                        let status = response.status();
                        tracing::debug!(status = status.as_u16(), retries, "answer");
                        kind.retries_status(status).then(|| {
                            policy.delay_before_retry(retries + 1, retry_after(response.headers()))
                        })
                    }
                    Err(error) => {
                        tracing::debug!(error = %describe(error), retries, "transport error");
                        retries_error(kind, error)
                            .then(|| policy.delay_before_retry(retries + 1, None))
                    }
                };
                match delay {
                    Some(delay) if retries < policy.max_retries() => {
                        retries += 1;
                        tracing::info!(
                            retry = retries,
                            delay_ms = delay.as_millis() as u64,
                            "retrying"
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    _ => {}
                }
                let span = tracing::Span::current();
                span.record("attempts", retries + 1);
                span.record("elapsed_ms", started.elapsed().as_millis() as u64);
                if let Ok(response) = &result {
                    span.record("status", response.status().as_u16());
                    let _ = LAST_STATUS.try_with(|s| s.set(Some(response.status())));
                }
                return result;
            }
        }
        .instrument(span)
        .await
    }
}

/// A transport error described without its URL, for logs.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "connect error"
    } else if error.is_timeout() {
        "timeout"
    } else if error.is_body() {
        "body error"
    } else if error.is_decode() {
        "decode error"
    } else {
        "request error"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

//! Fault injection: rate limiting, server errors, and download bodies that
//! stall, break off or lose their tail.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::{config::Faults, data::derive_seed, routes::error_response};

/// The 429 or 503 that API request number `n` (1-based) gets, if any.
pub(crate) fn api_fault(faults: &Faults, seed: u64, n: u64) -> Option<Response> {
    if let Some((every, retry_after)) = faults.rate_limit
        && n.is_multiple_of(every as u64)
    {
        let mut r = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            &format!("Rate limit exceeded; retry after {retry_after} seconds"),
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Some(r);
    }
    if faults.server_error_rate > 0.0 {
        let draw = derive_seed(seed, &["503", &n.to_string()]) as f64 / u64::MAX as f64;
        if draw < faults.server_error_rate {
            return Some(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service temporarily unavailable",
                "The simulator injected this 503 (server_error_rate)",
            ));
        }
    }
    None
}

/// Cuts a gzip file's last third (keeping at least its 10-byte header).
pub(crate) fn truncate(bytes: Bytes) -> Bytes {
    let keep = (bytes.len() * 2 / 3).max(10).min(bytes.len());
    bytes.slice(..keep)
}

/// Where and how the download of a file is cut, given how many GETs of it
/// came `before`: [`Faults::drop_download`] first, then
/// [`Faults::hold_download`].
pub(crate) fn cut(faults: &Faults, before: usize) -> Option<(u64, Cut)> {
    let applies = |fault: Option<(u64, usize)>| {
        fault
            .filter(|(_, times)| before < *times)
            .map(|(bytes, _)| bytes)
    };
    applies(faults.drop_download)
        .map(|bytes| (bytes, Cut::Drop))
        .or_else(|| applies(faults.hold_download).map(|bytes| (bytes, Cut::Hold)))
}

/// What happens to a file body at its cut-off point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The connection breaks.
    Drop,
    /// Nothing more is sent; the connection stays open.
    Hold,
}

/// The body of a file response: `data` as is, or in slow pieces, or cut
/// off after `cut`'s byte count (then [`Cut`] says what happens).
pub(crate) fn body(data: Bytes, cut: Option<(u64, Cut)>, slow: Option<(usize, Duration)>) -> Body {
    if cut.is_none() && slow.is_none() {
        return Body::from(data);
    }
    let (piece, delay) = slow.unwrap_or((64 * 1024, Duration::ZERO));
    let limit = cut.map_or(data.len(), |(d, _)| (d as usize).min(data.len()));
    let mode = cut.map(|(_, mode)| mode);
    let cut = limit < data.len();
    let stream = futures::stream::unfold(0usize, move |pos| {
        let data = data.clone();
        async move {
            if pos >= limit {
                if cut && pos != usize::MAX {
                    return Some((Err(cut_off(mode).await), usize::MAX));
                }
                return None;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let end = (pos + piece).min(limit);
            Some((Ok::<Bytes, std::io::Error>(data.slice(pos..end)), end))
        }
    });
    Body::from_stream(stream)
}

/// At a body's cut-off: the error that breaks the connection, or, for
/// [`Cut::Hold`], nothing ever (the client gives up or goes away).
async fn cut_off(mode: Option<Cut>) -> std::io::Error {
    if mode == Some(Cut::Hold) {
        std::future::pending::<()>().await;
    }
    connection_drop().await
}

/// The error that makes hyper abort the connection mid-body, once what
/// was sent (headers included) had a moment to be flushed.
async fn connection_drop() -> std::io::Error {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "simulated connection drop",
    )
}

/// The length of the filler block behind synthetic files.
pub(crate) const SYNTHETIC_BLOCK: usize = 1 << 20;
/// The largest piece of a synthetic body handed to the server at once.
const SYNTHETIC_PIECE: usize = 256 * 1024;

/// Bytes `start..end` of a synthetic file whose byte `p` is
/// `block[(shift + p) % block.len()]`, streamed as zero-copy slices of
/// `block`.
pub(crate) fn synthetic_body(
    block: Bytes,
    shift: usize,
    range: std::ops::Range<usize>,
    cut: Option<(u64, Cut)>,
    slow: Option<(usize, Duration)>,
) -> Body {
    let (piece, delay) = slow.unwrap_or((SYNTHETIC_PIECE, Duration::ZERO));
    let end = cut.map_or(range.end, |(d, _)| range.end.min(range.start + d as usize));
    let mode = cut.map(|(_, mode)| mode);
    let cut = end < range.end;
    let stream = futures::stream::unfold(range.start, move |pos| {
        let block = block.clone();
        async move {
            if pos >= end || block.is_empty() {
                if cut && pos != usize::MAX {
                    return Some((Err(cut_off(mode).await), usize::MAX));
                }
                return None;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let at = (shift % block.len() + pos % block.len()) % block.len();
            let len = (block.len() - at).min(end - pos).min(piece);
            Some((
                Ok::<Bytes, std::io::Error>(block.slice(at..at + len)),
                pos + len,
            ))
        }
    });
    Body::from_stream(stream)
}

/// A 206 or 200 file response's status plus headers are set by the caller;
/// this is the 416 answer.
pub(crate) fn range_not_satisfiable(total: usize) -> Response {
    let mut r = super::routes::s3_error(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "InvalidRange",
        "The requested range is not satisfiable",
    );
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    r.into_response()
}

//! Fault injection: rate limiting, server errors, and download bodies that
//! stall, break off or lose their tail.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use tokio::sync::watch;

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
/// [`Faults::hold_download`] (held until `release` says so).
pub(crate) fn cut(
    faults: &Faults,
    before: usize,
    release: watch::Receiver<bool>,
) -> Option<(u64, Cut)> {
    let applies = |fault: Option<(u64, usize)>| {
        fault
            .filter(|(_, times)| before < *times)
            .map(|(bytes, _)| bytes)
    };
    applies(faults.drop_download)
        .map(|bytes| (bytes, Cut::Drop))
        .or_else(|| applies(faults.hold_download).map(|bytes| (bytes, Cut::Hold(release))))
}

/// What happens to a file body at its cut-off point.
#[derive(Debug)]
pub(crate) enum Cut {
    /// The connection breaks.
    Drop,
    /// Nothing more is sent, the connection left open, until the receiver
    /// reads `true` ([`Simulator::release_held_downloads`]); then the rest.
    ///
    /// [`Simulator::release_held_downloads`]: super::Simulator::release_held_downloads
    Hold(watch::Receiver<bool>),
}

/// The body of a file response: `data` as is, or in slow pieces, or cut
/// after `cut`'s byte count (then [`Cut`] says what happens).
pub(crate) fn body(data: Bytes, cut: Option<(u64, Cut)>, slow: Option<(usize, Duration)>) -> Body {
    if cut.is_none() && slow.is_none() {
        return Body::from(data);
    }
    let (piece, delay) = slow.unwrap_or((64 * 1024, Duration::ZERO));
    let len = data.len();
    pieces(0..len, cut, piece, delay, move |pos, max| {
        data.slice(pos..pos + max)
    })
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
    pieces(range, cut, piece, delay, move |pos, max| {
        if block.is_empty() {
            return Bytes::new();
        }
        let at = (shift % block.len() + pos % block.len()) % block.len();
        block.slice(at..at + (block.len() - at).min(max))
    })
}

/// Streams the bytes `range` of a file in pieces of at most `piece`,
/// waiting `delay` before each; `next(pos, max)` gives up to `max` bytes
/// from `pos` (none: the stream ends). At `cut`'s byte count (counted from
/// the range's start) the connection breaks or is held.
fn pieces(
    range: std::ops::Range<usize>,
    cut: Option<(u64, Cut)>,
    piece: usize,
    delay: Duration,
    next: impl Fn(usize, usize) -> Bytes + Send + Sync + 'static,
) -> Body {
    let end = range.end;
    let (cut_at, mode) = match cut {
        Some((bytes, mode)) => {
            let at = range
                .start
                .saturating_add(usize::try_from(bytes).unwrap_or(usize::MAX));
            (at < end).then_some((at, mode)).unzip()
        }
        None => (None, None),
    };
    let next = std::sync::Arc::new(next);
    let stream = futures::stream::unfold(Some((range.start, mode)), move |state| {
        let next = next.clone();
        async move {
            let (pos, mut mode) = state?;
            if Some(pos) == cut_at {
                // Whether the body goes on past the cut.
                let goes_on = match mode.take() {
                    Some(Cut::Drop) => false,
                    Some(Cut::Hold(mut release)) => {
                        release.wait_for(|released| *released).await.is_ok()
                    }
                    None => true,
                };
                if !goes_on {
                    return Some((Err(connection_drop().await), None));
                }
            }
            if pos >= end {
                return None;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let stop = cut_at.filter(|at| *at > pos).unwrap_or(end);
            let bytes = next(pos, (stop - pos).min(piece));
            if bytes.is_empty() {
                return None;
            }
            let pos = pos + bytes.len();
            Some((Ok::<Bytes, std::io::Error>(bytes), Some((pos, mode))))
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

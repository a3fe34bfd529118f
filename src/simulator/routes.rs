//! The HTTP surface: the 15 API operations, presigned file downloads, the
//! auth and fault gate, and the request log.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, RawQuery, Request, State as AxState},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::models::LookupKind;

use super::{
    RecordedHeaders, RecordedRequest, Route,
    data::{self, Filters},
    encode::Format,
    faults,
    state::{State, fmt_time},
};

type Shared = Arc<State>;

/// A path of the API: its prefix, then `suffix` (a literal).
macro_rules! api_path {
    () => {
        "/api/v1/analytics/exports"
    };
    ($suffix:literal) => {
        concat!("/api/v1/analytics/exports", $suffix)
    };
}

/// The router with every route and the gate in front.
pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route(api_path!(), post(trigger_export))
        .route(api_path!("/jobs/"), get(list_jobs))
        .route(api_path!("/jobs/{job_id}"), get(get_job))
        .route(api_path!("/lookups/{name}"), get(lookup))
        .route("/_files/{job_id}/{filename}", get(download))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// Which operation a request is, from its method and path.
pub(crate) fn classify(method: &Method, path: &str) -> Route {
    const EXPORTS: &str = api_path!();
    if path.starts_with("/_files/") {
        return Route::Download;
    }
    if path == EXPORTS && method == Method::POST {
        return Route::TriggerExport;
    }
    if method != Method::GET && method != Method::HEAD {
        return Route::Other;
    }
    let Some(rest) = path.strip_prefix(EXPORTS) else {
        return Route::Other;
    };
    if rest == "/jobs/" {
        return Route::ListJobs;
    }
    if let Some(id) = rest.strip_prefix("/jobs/") {
        return if id.is_empty() || id.contains('/') {
            Route::Other
        } else {
            Route::GetJob
        };
    }
    rest.strip_prefix("/lookups/")
        .and_then(|name| LookupKind::ALL.iter().copied().find(|k| k.name() == name))
        .map_or(Route::Other, Route::from)
}

/// Records every request; checks auth and injects API faults on API routes.
async fn gate(AxState(state): AxState<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = classify(&method, &path);
    let query = request.uri().query().map(|q| {
        if route == Route::Download {
            redact_signature(q)
        } else {
            q.to_string()
        }
    });
    let has_auth = request.headers().contains_key(header::AUTHORIZATION);
    let range = header_text(request.headers(), header::RANGE);
    let if_range = header_text(request.headers(), header::IF_RANGE);

    let response = if route == Route::Download {
        next.run(request).await
    } else if let Some(denied) = check_auth(request.headers(), &state.config.environment.api_key) {
        denied
    } else {
        let n = state.next_api_request();
        match faults::api_fault(&state.config.faults, state.config.data.seed, n) {
            Some(fault) => fault,
            None => next.run(request).await,
        }
    };
    state.record(RecordedRequest {
        route,
        method: method.to_string(),
        path,
        query,
        headers: RecordedHeaders {
            authorization: has_auth,
            range,
            if_range,
        },
        status: response.status().as_u16(),
    });
    response
}

/// A header's value, lossily decoded.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Decodes a query string leniently (repeated keys: the last wins).
fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A query string with the `X-Signature` value replaced by `<redacted>`.
fn redact_signature(query: &str) -> String {
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("X-Signature") => format!("{k}=<redacted>"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn check_auth(headers: &HeaderMap, key: &str) -> Option<Response> {
    let details = match headers.get(header::AUTHORIZATION) {
        None => "The Authorization header is missing; send `Authorization: Token <API_KEY>`",
        Some(value) => {
            let value = value.to_str().unwrap_or("");
            let token = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("token"))
                .map(|(_, t)| t.trim());
            match token {
                Some(t) if t == key => return None,
                Some(_) => "The API key is not valid for this environment",
                None => "The Authorization header must have the form `Token <API_KEY>`",
            }
        }
    };
    Some(error_response(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Invalid API key",
        details,
    ))
}

/// A JSON error answer in the spec's `ErrorResponse` shape.
pub(crate) fn error_response(
    status: StatusCode,
    error: &str,
    message: &str,
    details: &str,
) -> Response {
    let body = json!({
        "errors": [{
            "error": error,
            "error_code": status.as_u16().to_string(),
            "message": message,
            "details": details,
        }]
    });
    (status, Json(body)).into_response()
}

/// An S3-style XML error answer (file downloads).
pub(crate) fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>SIMULATOR</RequestId></Error>"
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )],
        body,
    )
        .into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        &format!("No route for {method} {}", uri.path()),
    )
}

fn bad_request(details: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "Invalid request",
        details,
    )
}

// --- exports ---

#[derive(Deserialize, Default)]
struct ExportBody {
    from: Option<String>,
    to: Option<String>,
    #[allow(dead_code)]
    emails: Option<Vec<String>>,
    event_type: Option<Vec<String>>,
    user_id: Option<Vec<String>>,
    company_id: Option<Vec<String>>,
    #[allow(dead_code)]
    segment_id: Option<String>,
    format: Option<String>,
    #[allow(dead_code)]
    exclusions: Option<String>,
}

/// Parses `YYYY-MM-DD`, RFC 3339, or a naive date-time (read as UTC).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    crate::models::parse_timestamp(s)
}

/// The days of the range, `to`'s day included. Default: the last 7 days.
fn export_days(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
    max_days: usize,
) -> Result<Vec<NaiveDate>, String> {
    let parse = |name: &str, v: &str| {
        parse_instant(v)
            .ok_or_else(|| format!("`{name}` must be an ISO 8601 date or date-time, got {v:?}"))
    };
    let to = match to {
        Some(v) => parse("to", v)?,
        None => now,
    };
    let from = match from {
        Some(v) => parse("from", v)?,
        None => to - ChronoDuration::days(6),
    };
    let (first, last) = (from.date_naive(), to.date_naive());
    if first > last {
        return Err(format!("`from` ({first}) is after `to` ({last})"));
    }
    let days = (last - first).num_days() + 1;
    if days > max_days as i64 {
        return Err(format!(
            "the range covers {days} days; at most {max_days} are allowed"
        ));
    }
    Ok(first.iter_days().take(days as usize).collect())
}

async fn trigger_export(AxState(state): AxState<Shared>, body: Bytes) -> Response {
    let req: ExportBody = if body.iter().all(u8::is_ascii_whitespace) {
        ExportBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return bad_request(&format!(
                    "The request body is not a valid export request: {e}"
                ));
            }
        }
    };
    let format = match Format::parse(req.format.as_deref().unwrap_or("ndjson")) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    let days = match export_days(
        req.from.as_deref(),
        req.to.as_deref(),
        state.wall_now(),
        state.config.jobs.max_range_days,
    ) {
        Ok(d) => d,
        Err(e) => return bad_request(&e),
    };
    let filters = Filters {
        event_types: req.event_type.unwrap_or_default(),
        user_ids: req.user_id.unwrap_or_default(),
        company_ids: req.company_id.unwrap_or_default(),
    };
    state.before_trigger();
    match state.create_job(format, filters, days) {
        Ok(job) => {
            let body = json!({
                "environment_app_token": state.config.environment.app_token,
                "environment_name": state.config.environment.name,
                "job_id": job.id,
                "links": format!("{}{}{}", state.base_url, api_path!("/jobs/"), job.id),
                "start_time": fmt_time(job.start_time),
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(running) => error_response(
            StatusCode::CONFLICT,
            "conflict",
            "An export job is already in progress",
            &format!(
                "Export job {running} is still running; wait for it to finish before starting another"
            ),
        ),
    }
}

async fn list_jobs(AxState(state): AxState<Shared>) -> Response {
    let jobs: Vec<Value> = state
        .jobs()
        .iter()
        .map(|j| state.job_summary_json(j))
        .collect();
    Json(Value::Array(jobs)).into_response()
}

fn job_not_found(id: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "Export job not found",
        &format!("No export job with id {id}; jobs are kept 3 days"),
    )
}

async fn get_job(AxState(state): AxState<Shared>, Path(job_id): Path<String>) -> Response {
    let Some(job) = state.job(&job_id) else {
        return job_not_found(&job_id);
    };
    let poll = {
        let mut polls = job.polls.lock().unwrap_or_else(|p| p.into_inner());
        *polls += 1;
        *polls
    };
    if poll <= state.config.faults.not_found_polls {
        return job_not_found(&job_id);
    }
    Json(state.job_json(&job)).into_response()
}

// --- lookups ---

async fn lookup(
    AxState(state): AxState<Shared>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    let Some(kind) = LookupKind::ALL.iter().copied().find(|k| k.name() == name) else {
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            &format!("No lookup named {name:?}"),
        );
    };
    if !kind.is_paginated() {
        return Json(data::plain_lookup(kind)).into_response();
    }
    let (prefix, count, item) = data::paged_lookup(kind, &state.config.data.lookups);
    page(&state, prefix, count, &query, item)
}

fn cursor(kind: &str, offset: usize) -> String {
    hex::encode(format!("{kind}:{offset}"))
}

fn decode_cursor(kind: &str, raw: &str, total: usize) -> Option<usize> {
    let text = String::from_utf8(hex::decode(raw).ok()?).ok()?;
    let (k, offset) = text.split_once(':')?;
    let offset: usize = offset.parse().ok()?;
    (k == kind && offset <= total).then_some(offset)
}

fn page(
    state: &State,
    kind: &str,
    total: usize,
    query: &HashMap<String, String>,
    item: fn(usize) -> Value,
) -> Response {
    let limit = match query.get("limit") {
        None => state.config.data.lookups.page_limit,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return bad_request(&format!(
                    "`limit` must be an integer from 1 to 1000, got {v:?}"
                ));
            }
        },
    };
    let start = if let Some(raw) = query.get("after_cursor").filter(|c| !c.is_empty()) {
        match decode_cursor(kind, raw, total) {
            Some(o) => o,
            None => {
                return bad_request(&format!(
                    "`after_cursor` {raw:?} is not a cursor this lookup issued"
                ));
            }
        }
    } else if let Some(raw) = query.get("before_cursor").filter(|c| !c.is_empty()) {
        match decode_cursor(kind, raw, total) {
            Some(o) => o.saturating_sub(limit),
            None => {
                return bad_request(&format!(
                    "`before_cursor` {raw:?} is not a cursor this lookup issued"
                ));
            }
        }
    } else {
        0
    };
    let end = (start + limit).min(total);
    let items: Vec<Value> = (start..end).map(item).collect();
    let page_number = start / limit + 1;
    let after = if end >= total {
        Value::Null
    } else if state
        .config
        .faults
        .repeat_cursor_after_page
        .is_some_and(|p| page_number == p + 1 && start > 0)
    {
        // Fault: repeat the cursor that led here (page p's `after`).
        json!(cursor(kind, start))
    } else {
        json!(cursor(kind, end))
    };
    let before = if start == 0 {
        Value::Null
    } else {
        json!(cursor(kind, start))
    };
    Json(json!({
        "data": items,
        "metadata": {
            "cursor": {"after": after, "before": before},
            "limit": limit,
            "total_count": total,
        }
    }))
    .into_response()
}

// --- downloads ---

/// The byte range a `Range` header asks of a file of `total` bytes (`None`:
/// the whole file); `Err` when it cannot be satisfied (a 416).
fn requested_range(headers: &HeaderMap, total: usize) -> Result<Option<(usize, usize)>, ()> {
    headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Ok(None), |v| parse_range(v, total))
}

/// Parses a single `bytes=` range against `total`: `Ok(None)` = whole
/// file, `Err(())` = not satisfiable.
#[allow(clippy::result_unit_err)]
pub(crate) fn parse_range(value: &str, total: usize) -> Result<Option<(usize, usize)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multiple ranges: serve the whole file, as S3 does.
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: usize = b.parse().map_err(|_| ())?;
        if n == 0 || total == 0 {
            return Err(());
        }
        (total.saturating_sub(n), total - 1)
    } else {
        let start: usize = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            total.saturating_sub(1)
        } else {
            let e: usize = b.parse().map_err(|_| ())?;
            if e < start {
                return Ok(None);
            }
            e.min(total.saturating_sub(1))
        };
        if start >= total {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

async fn download(
    AxState(state): AxState<Shared>,
    method: Method,
    Path((job_id, filename)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(raw.as_deref());
    if headers.contains_key(header::AUTHORIZATION) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Signature query parameter or the Authorization header should be specified",
        );
    }
    if let Err((code, message)) = state.verify(&job_id, &filename, &query) {
        return s3_error(StatusCode::FORBIDDEN, code, message);
    }
    let found = state.job(&job_id).and_then(|job| {
        let i = job.file_index(&filename)?;
        state.is_completed(&job).then_some((job, i))
    });
    let Some((job, i)) = found else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let format = job.format;
    if let Some(size) = state.config.data.synthetic_file_size {
        return synthetic_file(&state, &job_id, &filename, format, size, &headers, &method);
    }
    let generated = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.file_bytes(&job, i)).await
    };
    let mut bytes = match generated {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e);
        }
        Err(_) => {
            return s3_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "file generation failed",
            );
        }
    };
    let faults = &state.config.faults;
    if faults.truncate_gzip && format.is_gzip() {
        bytes = faults::truncate(bytes);
    }
    let total = bytes.len();
    let range = match requested_range(&headers, total) {
        Ok(range) => range,
        Err(()) => return faults::range_not_satisfiable(total),
    };
    let (status, data) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, bytes.slice(a..=b)),
        None => (StatusCode::OK, bytes.clone()),
    };
    let etag = format!(
        "\"{}\"",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))[..32]
    );
    let len = data.len();
    let cut = if method == Method::GET {
        faults::cut(
            faults,
            state.next_download(&job_id, &filename),
            state.hold_release(),
        )
    } else {
        None
    };
    let slow = if method == Method::GET {
        faults.slow_body
    } else {
        None
    };
    let mut response = Response::new(faults::body(data, cut, slow));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some((a, b)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{total}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

/// The answer for a file under [`SimulatorConfig::synthetic_file_size`]:
/// `size` filler bytes streamed from the shared block, `Range` honoured.
///
/// [`SimulatorConfig::synthetic_file_size`]: super::SimulatorConfig::synthetic_file_size
fn synthetic_file(
    state: &State,
    job_id: &str,
    filename: &str,
    format: Format,
    size: u64,
    headers: &HeaderMap,
    method: &Method,
) -> Response {
    let Ok(total) = usize::try_from(size) else {
        return s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "synthetic file size too large for this platform",
        );
    };
    let seed = state.config.data.seed;
    // Revision 0 keeps the keys of old, so files stay byte-identical.
    let revision = state.object_revision();
    let mut keys = vec!["synthetic", job_id, filename];
    let revision_key = revision.to_string();
    if revision > 0 {
        keys.push(&revision_key);
    }
    let shift = data::derive_seed(seed, &keys) as usize;
    let total_key = total.to_string();
    let mut etag_keys = vec!["synthetic-etag", job_id, filename, &total_key];
    if revision > 0 {
        etag_keys.push(&revision_key);
    }
    let etag = format!("\"{:016x}\"", data::derive_seed(seed, &etag_keys));
    // `If-Range` that does not name this version: the whole file.
    let current = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = match requested_range(headers, total) {
        Ok(range) if current => range,
        Ok(_) => None,
        Err(()) if current => return faults::range_not_satisfiable(total),
        Err(()) => None,
    };
    let (status, start, end) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        None => (StatusCode::OK, 0, total),
    };
    let faults = &state.config.faults;
    let (cut, slow) = if method == Method::GET {
        (
            faults::cut(
                faults,
                state.next_download(job_id, filename),
                state.hold_release(),
            ),
            faults.slow_body,
        )
    } else {
        (None, None)
    };
    let body = faults::synthetic_body(state.synthetic_block(), shift, start..end, cut, slow);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if range.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

//! Error answers decode into variants a caller can match on; retries follow
//! the policy; the API key never shows in `Debug` or error text.

use std::time::Duration;

use crate::support::{
    self, EXPORTS, JOBS, KEY, LOOKUPS, job_path,
    mock::answer,
    server::{Reply, TestServer},
};
use httpmock::{Method::GET, Method::POST, MockServer};
use serde_json::json;
use userpilot_appex::{Error, RetryPolicy, types::ExportRequest};

fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({"errors": [{"error": code, "error_code": code, "message": message, "details": "more"}]})
}

/// A loopback URL whose port is (very likely) closed: a listener bound to it
/// is dropped at once.
fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// `get_job(id)` against `base_url` without retries; it must fail.
async fn get_job_error(base_url: &str, id: &str) -> Error {
    support::client(base_url, RetryPolicy::none())
        .get_job(id)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn get_job_404_is_not_found_not_an_empty_job() {
    let server = MockServer::start_async().await;
    answer(
        &server,
        GET,
        job_path("nope"),
        404,
        error_body("not_found", "Export job not found"),
    )
    .await;
    let err = get_job_error(&server.base_url(), "nope").await;
    let Error::NotFound(failure) = &err else {
        panic!("expected NotFound, got {err:?}")
    };
    assert_eq!(failure.status.as_u16(), 404);
    assert_eq!(failure.operation, "get_job");
    assert_eq!(
        failure.errors[0].message.as_deref(),
        Some("Export job not found")
    );
    assert!(err.to_string().contains("Export job not found"));
}

#[tokio::test]
async fn get_job_and_list_jobs_401_are_unauthorized() {
    let server = MockServer::start_async().await;
    answer(
        &server,
        GET,
        job_path("j1"),
        401,
        error_body("unauthorized", "Invalid API key"),
    )
    .await;
    answer(
        &server,
        GET,
        JOBS,
        401,
        error_body("unauthorized", "Invalid API key"),
    )
    .await;
    let client = support::client(&server.base_url(), RetryPolicy::none());
    for err in [
        client.get_job("j1").await.unwrap_err(),
        client.list_jobs().await.err().unwrap(),
    ] {
        let Error::Unauthorized(failure) = &err else {
            panic!("expected Unauthorized, got {err:?}")
        };
        assert_eq!(
            failure.errors[0].error_code.as_deref(),
            Some("unauthorized")
        );
    }
}

#[tokio::test]
async fn trigger_401_and_409_decode_into_their_variants() {
    let server = MockServer::start_async().await;
    let client = support::client(&server.base_url(), RetryPolicy::none());
    let conflict = server
        .mock_async(|when, then| {
            when.method(POST).path(EXPORTS);
            then.status(409)
                .json_body(error_body("conflict", "Export job already in progress"));
        })
        .await;
    let err = client
        .trigger_export(&ExportRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(f) if f.status.as_u16() == 409),
        "{err:?}"
    );
    conflict.delete_async().await;
    answer(
        &server,
        POST,
        EXPORTS,
        401,
        error_body("unauthorized", "Invalid API key"),
    )
    .await;
    let err = client
        .trigger_export(&ExportRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Unauthorized(_)), "{err:?}");
}

#[tokio::test]
async fn lookups_401_are_typed_too() {
    let server = MockServer::start_async().await;
    for lookup in ["flows", "segments", "events_properties", "checklists"] {
        answer(
            &server,
            GET,
            format!("{LOOKUPS}{lookup}"),
            401,
            error_body("unauthorized", "Invalid API key"),
        )
        .await;
    }
    let client = support::client(&server.base_url(), RetryPolicy::none());
    let errors = [
        client.flows().await.err().unwrap(),
        client.segments_page(None).await.err().unwrap(),
        client.events_properties_page(None).await.err().unwrap(),
        client.checklists().await.err().unwrap(),
    ];
    for err in errors {
        let Error::Unauthorized(failure) = &err else {
            panic!("expected Unauthorized, got {err:?}")
        };
        assert_eq!(failure.errors.len(), 1);
    }
}

#[tokio::test]
async fn an_html_502_from_a_proxy_keeps_its_status_and_an_excerpt() {
    let server = TestServer::scripted(vec![Reply::text(
        502,
        "text/html",
        "<html><body>Bad Gateway</body></html>",
    )])
    .await;
    let err = support::client(&server.base_url(), RetryPolicy::none())
        .list_jobs()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    let Error::Api(failure) = &err else {
        panic!("expected Api, got {err:?}")
    };
    assert!(failure.errors.is_empty());
    assert!(
        failure
            .body_excerpt
            .as_deref()
            .unwrap()
            .contains("Bad Gateway")
    );
}

#[tokio::test]
async fn an_html_401_keeps_its_status_though_the_body_is_not_json() {
    let server = TestServer::scripted(vec![Reply::text(401, "text/html", "<h1>Denied</h1>")]).await;
    let err = get_job_error(&server.base_url(), "j").await;
    let Error::Unauthorized(failure) = &err else {
        panic!("expected Unauthorized, got {err:?}")
    };
    assert_eq!(failure.body_excerpt.as_deref(), Some("<h1>Denied</h1>"));
}

#[tokio::test]
async fn a_success_with_an_undecodable_body_is_a_decode_error_with_status() {
    let server =
        TestServer::scripted(vec![Reply::text(200, "application/json", "{not json")]).await;
    let err = get_job_error(&server.base_url(), "j").await;
    let Error::Decode {
        status,
        excerpt,
        operation,
        ..
    } = &err
    else {
        panic!("expected Decode, got {err:?}")
    };
    assert_eq!(status.map(|s| s.as_u16()), Some(200));
    assert_eq!(excerpt, "{not json");
    assert_eq!(*operation, "get_job");
}

#[tokio::test]
async fn a_429_then_200_succeeds_after_the_advertised_delay() {
    let server = TestServer::scripted(vec![
        Reply::json(429, error_body("rate_limited", "slow down")).header("retry-after", "1"),
        Reply::json(200, json!([])),
    ])
    .await;
    let client = support::client(&server.base_url(), RetryPolicy::default());
    assert!(client.list_jobs().await.unwrap().is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The retry waited at least the advertised second (a lower bound, not a timing goal).
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    // Whole seconds: the date lies 2-3 s ahead.
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let server = TestServer::scripted(vec![
        Reply::json(503, json!({})).header("retry-after", &soon),
        Reply::json(200, json!([])),
    ])
    .await;
    let client = support::client(&server.base_url(), RetryPolicy::default());
    client.list_jobs().await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The retry went out once the date had come, however long the first
    // answer took to arrive (a lower bound, not a timing goal).
    let date = httpdate::parse_http_date(&soon).expect("date");
    assert!(std::time::SystemTime::now() >= date);
}

#[tokio::test]
async fn rate_limited_after_retries_reports_the_advice() {
    let limited =
        || Reply::json(429, error_body("rate_limited", "slow down")).header("retry-after", "0");
    let server = TestServer::scripted(vec![limited(), limited(), limited()]).await;
    let client = support::client(
        &server.base_url(),
        RetryPolicy::default().with_max_retries(2),
    );
    let err = client.flows().await.unwrap_err();
    let Error::RateLimited {
        retry_after,
        failure,
    } = &err
    else {
        panic!("expected RateLimited, got {err:?}")
    };
    assert_eq!(*retry_after, Some(Duration::ZERO));
    assert_eq!(failure.status.as_u16(), 429);
    assert_eq!(server.requests().len(), 3, "first attempt + 2 retries");
}

#[tokio::test]
async fn a_503_on_get_is_retried() {
    let server = TestServer::scripted(vec![
        Reply::json(503, json!({})),
        Reply::json(200, json!({"job_id": "j", "status": "processing"})),
    ])
    .await;
    let client = support::client(
        &server.base_url(),
        RetryPolicy::default().with_backoff(Duration::from_millis(10), Duration::from_millis(20)),
    );
    let job = client.get_job("j").await.unwrap();
    assert_eq!(job.job_id.as_deref(), Some("j"));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_503_on_the_trigger_is_not_retried() {
    let server = TestServer::scripted(vec![
        Reply::json(503, json!({})),
        Reply::json(201, json!({"job_id": "would-be-a-duplicate"})),
    ])
    .await;
    let client = support::client(
        &server.base_url(),
        RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
    );
    let err = client
        .trigger_export(&ExportRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "the POST was sent once");
    assert_eq!(requests[0].method, "POST");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let client = support::client(&closed_port_url(), RetryPolicy::none());
    let err = client.list_jobs().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                operation: "list_jobs",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_input_is_rejected_before_any_request() {
    let server = TestServer::scripted(vec![]).await;
    let client = support::client(&server.base_url(), RetryPolicy::none());
    let err = client.get_job("  ").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_key_never_appears_in_debug_or_error_text() {
    let server = TestServer::scripted(vec![
        Reply::json(401, error_body("unauthorized", "Invalid API key")),
        Reply::json(404, error_body("not_found", "missing")),
        Reply::json(409, error_body("conflict", "running")),
        Reply::json(429, json!({})).header("retry-after", "7"),
        Reply::text(500, "text/html", "<p>oops</p>"),
        Reply::text(200, "application/json", "[1,"),
    ])
    .await;
    let client = support::client(&server.base_url(), RetryPolicy::none());
    let unreachable = support::client(&closed_port_url(), RetryPolicy::none());
    let errors = vec![
        client.get_job("a").await.unwrap_err(),
        client.get_job("b").await.unwrap_err(),
        client
            .trigger_export(&ExportRequest::default())
            .await
            .unwrap_err(),
        client.flows().await.unwrap_err(),
        client.list_jobs().await.unwrap_err(),
        client.banners().await.unwrap_err(),
        unreachable.list_jobs().await.unwrap_err(),
        client.get_job("").await.unwrap_err(),
        userpilot_appex::Client::builder()
            .api_key(format!("{KEY}\u{1}x"))
            .build()
            .unwrap_err(),
        userpilot_appex::Client::builder()
            .api_key(format!("bad\u{7f}{KEY}"))
            .build()
            .unwrap_err(),
    ];
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Unauthorized(_) => "unauthorized",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::RateLimited { .. } => "rate_limited",
            Error::Api(_) => "api",
            Error::Decode { .. } => "decode",
            Error::Transport { .. } => "transport",
            Error::InvalidInput(_) => "invalid_input",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "not_found",
            "conflict",
            "rate_limited",
            "api",
            "decode",
            "transport",
            "invalid_input",
            "invalid_input",
            "invalid_input"
        ]
    );
    for err in &errors {
        let mut text = format!("{err} | {err:?}");
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            text.push_str(&format!(" | {s} | {s:?}"));
            source = s.source();
        }
        assert!(!text.contains(KEY), "key leaked in: {text}");
    }
    assert!(!format!("{client:?}").contains(KEY));
    assert!(
        !format!("{:?}", client.raw()).contains(KEY),
        "the generated client's Debug hides the sensitive header"
    );
    assert!(!format!("{:?}", userpilot_appex::ApiKey::new(KEY)).contains(KEY));
}

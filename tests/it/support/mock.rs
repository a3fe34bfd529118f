//! httpmock helpers: a client for a mock server, canned answers, and lookup
//! pages served to requests with the test key and a given `after_cursor`
//! (or none).

use httpmock::{
    Method::{self, GET},
    Mock, MockServer,
};
use serde_json::Value;
use userpilot_appex::{Client, RetryPolicy};

use super::{EXPORTS, KEY, LOOKUPS};

/// A client for `server`, without retries.
pub fn client(server: &MockServer) -> Client {
    super::client(&server.base_url(), RetryPolicy::none())
}

/// Mocks `method path` (any headers, any body) answering `status` with
/// this JSON body.
pub async fn answer(
    server: &MockServer,
    method: Method,
    path: impl Into<String>,
    status: u16,
    body: Value,
) -> Mock<'_> {
    let path = path.into();
    server
        .mock_async(|when, then| {
            when.method(method).path(path);
            then.status(status).json_body(body);
        })
        .await
}

/// Mocks `GET path` sent with the test key, answering 200 with this JSON body.
pub async fn get_json(server: &MockServer, path: impl Into<String>, body: Value) -> Mock<'_> {
    let path = path.into();
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(path)
                .header("authorization", format!("Token {KEY}"));
            then.status(200).json_body(body);
        })
        .await
}

/// Mocks the export trigger: `POST` [`EXPORTS`] with the test key and
/// exactly this JSON body, answering 201 with `created`.
pub async fn trigger(server: &MockServer, body: Value, created: Value) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(EXPORTS)
                .header("authorization", format!("Token {KEY}"))
                .header("content-type", "application/json")
                .json_body(body);
            then.status(201).json_body(created);
        })
        .await
}

/// Mocks the first page of `lookup`: a request with no `after_cursor`.
pub async fn first_page<'a>(server: &'a MockServer, lookup: &str, body: Value) -> Mock<'a> {
    page(server, lookup, None, body).await
}

/// Mocks the page of `lookup` sent for `after_cursor=cursor`.
pub async fn page_after<'a>(
    server: &'a MockServer,
    lookup: &str,
    cursor: &str,
    body: Value,
) -> Mock<'a> {
    page(server, lookup, Some(cursor), body).await
}

async fn page<'a>(
    server: &'a MockServer,
    lookup: &str,
    cursor: Option<&str>,
    body: Value,
) -> Mock<'a> {
    let path = format!("{LOOKUPS}{lookup}");
    server
        .mock_async(|when, then| {
            let when = when
                .method(GET)
                .path(path)
                .header("authorization", format!("Token {KEY}"));
            match cursor {
                Some(cursor) => when.query_param("after_cursor", cursor),
                None => when.query_param_missing("after_cursor"),
            };
            then.status(200).json_body(body);
        })
        .await
}

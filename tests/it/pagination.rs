//! Cursor pagination of `segments` and `events_properties` as streams,
//! against a mock server: the `after_cursor` each request sends, the items
//! and pages that come back in order, and how a walk ends.

use futures::{Stream, StreamExt, TryStreamExt};
use httpmock::{Method::GET, Mock, MockServer};
use serde_json::{Value, json};
use userpilot_appex::{Client, Error, Result};

use crate::support::{
    LOOKUPS,
    mock::{client, first_page, page_after},
};

const SEGMENTS: &str = "segments";
const EVENTS_PROPERTIES: &str = "events_properties";

/// Items 1 to 5 on three pages: cursors `c-2` and `c-3` lead to the next
/// ones.
const THREE_PAGES: [(&[i64], Option<&str>); 3] =
    [(&[1, 2], Some("c-2")), (&[3, 4], Some("c-3")), (&[5], None)];

/// A page body with items `ids` and next cursor `after`.
fn page(ids: &[i64], after: Option<&str>) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "key": format!("key_{id}"), "title": format!("Item {id}")}))
        .collect();
    json!({
        "data": data,
        "metadata": {"cursor": {"after": after, "before": null}, "limit": 2, "total_count": 5}
    })
}

/// Mocks any request that carries an `after_cursor` (to prove none is sent).
async fn any_cursor<'a>(server: &'a MockServer, lookup: &str) -> Mock<'a> {
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{LOOKUPS}{lookup}"))
                .query_param_exists("after_cursor");
            then.status(500).body("no further page was expected");
        })
        .await
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> Option<i64>) -> Vec<i64> {
    items.iter().map(|i| id(i).expect("id")).collect()
}

/// Mocks the pages of `lookup` a walk meets, each a [`page`] of `(ids,
/// after)`: the first one is served for the first request, each next one
/// for the previous page's `after` cursor. One mock per page, in order.
async fn serve<'a>(
    server: &'a MockServer,
    lookup: &str,
    pages: &[(&[i64], Option<&str>)],
) -> Vec<Mock<'a>> {
    let mut mocks = Vec::new();
    let mut cursor = None;
    for &(ids, after) in pages {
        let body = page(ids, after);
        mocks.push(match cursor {
            None => first_page(server, lookup, body).await,
            Some(cursor) => page_after(server, lookup, cursor, body).await,
        });
        cursor = after;
    }
    mocks
}

/// Asserts how many requests each mock of [`serve`] answered.
async fn assert_calls(mocks: &[Mock<'_>], calls: &[usize]) {
    assert_eq!(mocks.len(), calls.len());
    for (mock, &n) in mocks.iter().zip(calls) {
        mock.assert_calls_async(n).await;
    }
}

/// Every item or page of a walk that must succeed.
async fn walk<T>(stream: impl Stream<Item = Result<T>>) -> Vec<T> {
    stream.try_collect().await.expect("walk")
}

#[tokio::test]
async fn events_properties_stream_follows_each_after_cursor_across_three_pages() {
    let server = MockServer::start_async().await;
    let mocks = serve(&server, EVENTS_PROPERTIES, &THREE_PAGES).await;

    let items = walk(client(&server).events_properties_stream()).await;

    assert_eq!(ids(&items, |p| p.id), vec![1, 2, 3, 4, 5]);
    assert_eq!(items[4].key.as_deref(), Some("key_5"));
    assert_calls(&mocks, &[1, 1, 1]).await;
}

#[tokio::test]
async fn segments_pages_expose_total_count_limit_and_after_cursor_in_order() {
    let server = MockServer::start_async().await;
    let mocks = serve(&server, SEGMENTS, &THREE_PAGES).await;

    let pages = walk(client(&server).segments_paginator().pages()).await;

    assert_eq!(pages.len(), 3);
    let cursors: Vec<_> = pages.iter().map(|p| p.after_cursor()).collect();
    assert_eq!(cursors, vec![Some("c-2"), Some("c-3"), None]);
    assert!(
        pages
            .iter()
            .all(|p| p.total_count() == Some(5) && p.limit() == Some(2))
    );
    assert_eq!(ids(&pages[0].data, |s| s.id), vec![1, 2]);
    assert_eq!(ids(&pages[1].data, |s| s.id), vec![3, 4]);
    assert_eq!(ids(&pages[2].data, |s| s.id), vec![5]);
    assert_eq!(pages[2].data[0].title.as_deref(), Some("Item 5"));
    assert_calls(&mocks, &[1, 1, 1]).await;
}

#[tokio::test]
async fn segments_stream_walks_segments_like_events_properties() {
    let server = MockServer::start_async().await;
    let mocks = serve(&server, SEGMENTS, &[(&[7], Some("s-2")), (&[8], None)]).await;

    let items = walk(client(&server).segments_stream()).await;

    assert_eq!(ids(&items, |s| s.id), vec![7, 8]);
    assert_calls(&mocks, &[1, 1]).await;
}

#[tokio::test]
async fn an_empty_first_page_ends_the_walk_even_with_a_cursor() {
    let server = MockServer::start_async().await;
    let p1 = first_page(
        &server,
        EVENTS_PROPERTIES,
        page(&[], Some("never-followed")),
    )
    .await;
    let further = any_cursor(&server, EVENTS_PROPERTIES).await;
    let client = client(&server);

    let items = walk(client.events_properties_stream()).await;
    assert!(items.is_empty());

    let pages = walk(client.events_properties_paginator().pages()).await;
    assert_eq!(pages.len(), 1, "the empty page itself is yielded");
    assert!(pages[0].is_empty());
    assert_eq!(pages[0].total_count(), Some(5));

    p1.assert_calls_async(2).await; // once per walk
    further.assert_calls_async(0).await;
}

/// Merges the former `a_null_cursor_ends_the_walk`,
/// `an_empty_cursor_ends_the_walk_like_a_null_one` and
/// `missing_metadata_ends_the_walk`.
#[tokio::test]
async fn a_null_or_empty_cursor_or_missing_metadata_ends_the_walk() {
    let cases = [
        ("a null cursor", page(&[1, 2], None), vec![1, 2]),
        ("an empty cursor", page(&[1, 2], Some("")), vec![1, 2]),
        ("no metadata", json!({"data": [{"id": 1}]}), vec![1]),
    ];
    for (case, body, expected) in cases {
        let server = MockServer::start_async().await;
        let p1 = first_page(&server, SEGMENTS, body).await;
        let further = any_cursor(&server, SEGMENTS).await;

        let items = walk(client(&server).segments_stream()).await;

        assert_eq!(ids(&items, |s| s.id), expected, "{case}");
        p1.assert_calls_async(1).await;
        further.assert_calls_async(0).await;
    }
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_walk_with_repeated_cursor_after_two_requests() {
    let server = MockServer::start_async().await;
    // A broken server: the page after `loop` points at `loop` again.
    let pages = [(&[1, 2][..], Some("loop")), (&[3], Some("loop"))];
    let mocks = serve(&server, SEGMENTS, &pages).await;

    let mut stream = client(&server).segments_stream();
    let mut got = Vec::new();
    let error = loop {
        match stream
            .next()
            .await
            .expect("the stream must end with an error")
        {
            Ok(segment) => got.push(segment.id.expect("id")),
            Err(e) => break e,
        }
    };

    assert_eq!(got, vec![1, 2, 3], "every item received is delivered first");
    match &error {
        Error::RepeatedCursor {
            operation,
            cursor_excerpt,
            pages,
        } => {
            assert_eq!(*operation, "segments");
            assert_eq!(cursor_excerpt, "loop");
            assert_eq!(*pages, 2);
        }
        other => panic!("expected RepeatedCursor, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    assert_calls(&mocks, &[1, 1]).await;
}

#[tokio::test]
async fn a_cursor_cycle_is_caught_at_its_first_repeat() {
    let server = MockServer::start_async().await;
    let pages = [(&[1][..], Some("a")), (&[2], Some("b")), (&[3], Some("a"))];
    let mocks = serve(&server, EVENTS_PROPERTIES, &pages).await;

    let results: Vec<Result<_>> = client(&server).events_properties_stream().collect().await;

    assert_eq!(results.len(), 4);
    let items: Vec<i64> = results[..3]
        .iter()
        .map(|r| r.as_ref().expect("item").id.expect("id"))
        .collect();
    assert_eq!(items, vec![1, 2, 3]);
    assert!(
        matches!(&results[3], Err(Error::RepeatedCursor { cursor_excerpt, pages: 3, .. }) if cursor_excerpt == "a"),
        "{:?}",
        results[3]
    );
    assert_calls(&mocks, &[1, 1, 1]).await;
}

#[tokio::test]
async fn a_repeated_long_cursor_is_shown_short_in_the_error() {
    let server = MockServer::start_async().await;
    let long = "c".repeat(500);
    let pages = [(&[1][..], Some(long.as_str())), (&[2], Some(&long))];
    let mocks = serve(&server, SEGMENTS, &pages).await;

    let results: Vec<Result<_>> = client(&server).segments_stream().collect().await;

    let error = results
        .last()
        .expect("results")
        .as_ref()
        .expect_err("an error last");
    let text = error.to_string();
    // As documented: at most 32 characters, the `…` included.
    assert!(text.contains(&format!("\"{}…\"", "c".repeat(31))), "{text}");
    assert!(!text.contains(&"c".repeat(32)), "the cursor is cut: {text}");
    assert!(text.contains("segments"), "{text}");
    assert_calls(&mocks, &[1, 1]).await;
}

#[tokio::test]
async fn unauthorized_on_page_two_delivers_page_one_then_the_error_then_ends() {
    let server = MockServer::start_async().await;
    let p1 = first_page(&server, EVENTS_PROPERTIES, page(&[1, 2], Some("cursor-2"))).await;
    let p2 = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{LOOKUPS}{EVENTS_PROPERTIES}"))
                .query_param("after_cursor", "cursor-2");
            then.status(401).json_body(json!({
                "errors": [{"error": "unauthorized", "error_code": "invalid_token", "message": "Invalid API key"}]
            }));
        })
        .await;
    let p3 = any_cursor(&server, EVENTS_PROPERTIES).await;

    let mut stream = client(&server).events_properties_stream();
    assert_eq!(stream.next().await.unwrap().expect("item 1").id, Some(1));
    assert_eq!(stream.next().await.unwrap().expect("item 2").id, Some(2));
    match stream.next().await {
        Some(Err(Error::Unauthorized(failure))) => {
            assert_eq!(failure.operation, "events_properties");
            assert_eq!(failure.status.as_u16(), 401);
            assert_eq!(
                failure.errors[0].error_code.as_deref(),
                Some("invalid_token")
            );
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    assert!(stream.next().await.is_none(), "and stays ended");
    p1.assert_calls_async(1).await;
    p2.assert_calls_async(1).await;
    // No other page was asked for after the error (`p2`, defined first,
    // takes the page-2 request; a retry would show as a second call there).
    p3.assert_calls_async(0).await;
}

#[tokio::test]
async fn max_items_cuts_the_walk_without_requesting_another_page() {
    let server = MockServer::start_async().await;
    let mocks = serve(&server, SEGMENTS, &THREE_PAGES).await;

    let items = walk(client(&server).segments_paginator().max_items(3).items()).await;

    assert_eq!(ids(&items, |s| s.id), vec![1, 2, 3]);
    assert_calls(&mocks, &[1, 1, 0]).await;
}

#[tokio::test]
async fn max_items_on_a_page_boundary_sends_no_further_request() {
    let server = MockServer::start_async().await;
    let mocks = serve(
        &server,
        SEGMENTS,
        &[(&[1, 2], Some("s-2")), (&[3, 4], None)],
    )
    .await;

    let client = client(&server);
    let items = walk(client.segments_paginator().max_items(2).items()).await;
    assert_eq!(ids(&items, |s| s.id), vec![1, 2]);

    // Pages are never cut: the page that reaches the cap is the last one.
    let pages = walk(client.segments_paginator().max_items(1).pages()).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(ids(&pages[0].data, |s| s.id), vec![1, 2]);

    let none = walk(client.segments_paginator().max_items(0).items()).await;
    assert!(none.is_empty());

    assert_calls(&mocks, &[2, 0]).await;
}

/// Merges the former `max_pages_caps_the_number_of_requests` and
/// `start_after_resumes_from_a_saved_cursor`.
#[tokio::test]
async fn max_pages_caps_the_requests_and_start_after_resumes_from_a_saved_cursor() {
    let server = MockServer::start_async().await;
    let mocks = serve(&server, EVENTS_PROPERTIES, &THREE_PAGES).await;
    let client = client(&server);

    let pages = walk(client.events_properties_paginator().max_pages(2).pages()).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(
        pages[1].after_cursor(),
        Some("c-3"),
        "the cursor to resume from"
    );
    assert_calls(&mocks, &[1, 1, 0]).await;

    let resumed = client.events_properties_paginator().start_after("c-2");
    let items = walk(resumed.items()).await;
    assert_eq!(ids(&items, |p| p.id), vec![3, 4, 5]);
    // The first page is not asked for again: one more call each for the
    // second and third pages.
    assert_calls(&mocks, &[1, 2, 1]).await;
}

#[tokio::test]
async fn a_server_handing_back_the_start_cursor_is_a_repeat() {
    let server = MockServer::start_async().await;
    let resumed = page_after(&server, SEGMENTS, "saved", page(&[3], Some("saved"))).await;

    let results: Vec<Result<_>> = client(&server)
        .segments_paginator()
        .start_after("saved")
        .items()
        .collect()
        .await;

    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().expect("item").id, Some(3));
    assert!(
        matches!(results[1], Err(Error::RepeatedCursor { pages: 1, .. })),
        "{:?}",
        results[1]
    );
    resumed.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_page_that_does_not_decode_is_a_decode_error_after_earlier_items() {
    let server = MockServer::start_async().await;
    let p1 = first_page(&server, SEGMENTS, page(&[1], Some("s-2"))).await;
    let p2 = page_after(&server, SEGMENTS, "s-2", json!({"data": "not a list"})).await;

    let results: Vec<Result<_>> = client(&server).segments_stream().collect().await;

    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().expect("item").id, Some(1));
    match &results[1] {
        Err(Error::Decode {
            operation, excerpt, ..
        }) => {
            assert_eq!(*operation, "segments");
            assert!(excerpt.contains("not a list"), "{excerpt}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    p1.assert_calls_async(1).await;
    p2.assert_calls_async(1).await;
}

#[test]
fn the_paginator_and_its_streams_are_send() {
    fn send<T: Send>(_: &T) {}
    let client = Client::builder().api_key("k").build().expect("client");
    let paginator = client.events_properties_paginator().max_pages(1);
    send(&paginator);
    send(&paginator.clone().pages());
    send(&client.segments_stream());
    assert_eq!(paginator.operation(), "events_properties");
}

//! Building and sending an export request: what goes on the wire, and what
//! is refused before anything is sent.

use crate::support::{
    EVENT_TYPES, EXPORTS,
    mock::{answer, client, trigger},
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use httpmock::{Method::POST, MockServer};
use serde_json::json;
use userpilot_appex::{
    Client, Error,
    ext::{
        export::{ExportRequestBuilder, ExportTime},
        jobs::{ExportJobHandle, JobOrigin},
    },
    models::EventType,
    types::ExportFormat,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn created(job_id: &str) -> serde_json::Value {
    json!({
        "environment_app_token": "NX-123",
        "environment_name": "production",
        "job_id": job_id,
        "links": "",
        "start_time": "2025-01-08 10:00:00"
    })
}

/// Sends the export `build` makes to a mock server that answers `job_id`
/// only to a POST of exactly `body`, and asserts it was sent once.
async fn send_expecting(
    body: serde_json::Value,
    job_id: &str,
    build: impl FnOnce(ExportRequestBuilder<Client>) -> ExportRequestBuilder<Client>,
) -> ExportJobHandle {
    let server = MockServer::start_async().await;
    let trigger = trigger(&server, body, created(job_id)).await;
    let handle = build(client(&server).export())
        .send()
        .await
        .expect("triggered");
    trigger.assert_async().await;
    handle
}

#[tokio::test]
async fn send_posts_only_the_fields_that_were_set_and_returns_a_handle() {
    let body = json!({
        "from": "2025-01-01",
        "to": "2025-01-07T12:30:00Z",
        "event_type": ["track_feature", "custom_thing"],
        "format": "ndjson"
    });
    let handle = send_expecting(body, "job-42", |export| {
        export
            .from(date(2025, 1, 1))
            .to(Utc.with_ymd_and_hms(2025, 1, 7, 12, 30, 0).unwrap())
            .event_type(EventType::TrackFeature)
            .event_type("custom_thing")
            .format(ExportFormat::Ndjson)
    })
    .await;

    assert_eq!(handle.job_id(), "job-42");
    assert_eq!(handle.origin(), JobOrigin::Triggered);
    let created = handle.created().expect("created");
    assert_eq!(created.environment_name.as_deref(), Some("production"));
}

#[tokio::test]
async fn every_filter_is_serialized_under_its_wire_name() {
    let body = json!({
        "from": "2025-01-01T00:00:00Z",
        "to": "2025-01-02T00:00:00.250Z",
        "event_type": ["identify_user", "identify_company", "interaction", "track",
                       "track_feature", "page_view", "session_start"],
        "user_id": ["u1", "u2"],
        "company_id": ["c1"],
        "segment_id": "seg-9",
        "emails": ["ops@example.com"],
        "exclusions": "internal",
        "format": "parquet"
    });
    let to =
        Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap() + chrono::Duration::milliseconds(250);
    let handle = send_expecting(body, "job-all", |export| {
        export
            .range(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(), to)
            .event_types(EventType::KNOWN.iter().cloned())
            .user_ids(["u1", "u2"])
            .company_id("c1")
            .segment_id("seg-9")
            .email("ops@example.com")
            .exclusions("internal")
            .format(ExportFormat::Parquet)
    })
    .await;

    assert_eq!(handle.job_id(), "job-all");
}

#[tokio::test]
async fn an_empty_request_sends_an_empty_object() {
    let handle = send_expecting(json!({}), "job-empty", |export| export).await;
    assert_eq!(handle.job_id(), "job-empty");
}

#[tokio::test]
async fn invalid_requests_fail_before_any_request_is_sent() {
    let server = MockServer::start_async().await;
    let trigger = answer(&server, POST, EXPORTS, 201, created("never")).await;
    let client = client(&server);
    let at = |h| Utc.with_ymd_and_hms(2025, 1, 5, h, 0, 0).unwrap();

    let cases: Vec<(
        &str,
        userpilot_appex::ext::export::ExportRequestBuilder<Client>,
    )> = vec![
        (
            "`from`",
            client.export().from(date(2025, 1, 8)).to(date(2025, 1, 7)),
        ),
        ("`from`", client.export().from(at(12)).to(at(11))),
        ("`from`", client.export().from(at(12)).to(at(12))),
        ("`from`", client.export().from(date(2025, 1, 6)).to(at(23))),
        ("user_id #2 is empty", client.export().user_ids(["u1", " "])),
        ("company_id #1 is empty", client.export().company_id("")),
        ("segment_id is empty", client.export().segment_id("")),
        ("not an address", client.export().email("ops.example.com")),
        ("not an address", client.export().email("@example.com")),
        ("not an address", client.export().email("ops@")),
        ("not an address", client.export().email("o ps@example.com")),
        (
            "`Other` is empty",
            client
                .export()
                .event_type(EventType::Unknown(String::new())),
        ),
        (
            "whitespace",
            client
                .export()
                .event_type(EventType::Unknown(" custom".into())),
        ),
        ("exclusions is empty", client.export().exclusions("")),
        ("last_days", client.export().last_days(0)),
    ];
    for (expected, builder) in cases {
        match builder.send().await {
            Err(Error::InvalidInput(message)) => {
                assert!(message.contains(expected), "{message:?} lacks {expected:?}")
            }
            other => panic!("{expected}: expected InvalidInput, got {other:?}"),
        }
    }

    assert_eq!(trigger.calls_async().await, 0);
}

#[test]
fn a_date_range_of_one_day_and_a_date_to_after_a_same_day_time_are_valid() {
    let one_day = ExportRequestBuilder::new()
        .range(date(2025, 1, 7), date(2025, 1, 7))
        .build()
        .expect("valid");
    assert_eq!(one_day.from.as_deref(), Some("2025-01-07"));
    assert_eq!(one_day.to.as_deref(), Some("2025-01-07"));

    let mixed = ExportRequestBuilder::new()
        .from(Utc.with_ymd_and_hms(2025, 1, 7, 18, 0, 0).unwrap())
        .to(date(2025, 1, 7))
        .build()
        .expect("valid");
    assert_eq!(mixed.from.as_deref(), Some("2025-01-07T18:00:00Z"));
}

#[test]
fn last_days_spans_that_many_days_up_to_now() {
    let before = Utc::now();
    let request = ExportRequestBuilder::new()
        .last_days(7)
        .build()
        .expect("valid");
    let parse = |s: Option<String>| DateTime::parse_from_rfc3339(&s.unwrap()).unwrap();
    let from = parse(request.from);
    let to = parse(request.to);

    assert_eq!(to - from, chrono::Duration::days(7));
    assert!(to.timestamp() >= before.timestamp() && to.timestamp() <= Utc::now().timestamp());
    assert_eq!(to.timestamp_subsec_nanos(), 0);
}

#[test]
fn setting_from_after_last_days_replaces_the_window() {
    let request = ExportRequestBuilder::new()
        .last_days(3)
        .from(date(2025, 2, 1))
        .build()
        .expect("valid");
    assert_eq!(request.from.as_deref(), Some("2025-02-01"));
    assert_eq!(request.to, None);
}

#[test]
fn export_times_are_written_as_iso_8601() {
    assert_eq!(ExportTime::from(date(2025, 3, 9)).to_wire(), "2025-03-09");
    let t = Utc.with_ymd_and_hms(2025, 3, 9, 7, 5, 3).unwrap();
    assert_eq!(ExportTime::from(t).to_wire(), "2025-03-09T07:05:03Z");
    let micro = t + chrono::Duration::microseconds(123_456);
    assert_eq!(
        ExportTime::from(micro).to_wire(),
        "2025-03-09T07:05:03.123456Z"
    );
}

#[test]
fn event_types_round_trip_as_wire_strings() {
    let all: Vec<EventType> = EventType::KNOWN
        .iter()
        .cloned()
        .chain([EventType::Unknown("survey_answer".into())])
        .collect();
    let wire = serde_json::to_value(&all).unwrap();
    let mut expected = EVENT_TYPES.to_vec();
    expected.push("survey_answer");
    assert_eq!(wire, json!(expected));
    let back: Vec<EventType> = serde_json::from_value(wire).unwrap();
    assert_eq!(back, all);
    let schema = schemars::schema_for!(EventType);
    assert_eq!(schema.get("type"), Some(&json!("string")));
}

#[tokio::test]
async fn a_created_answer_without_job_id_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let body = json!({"environment_name": "production"});
    let trigger = answer(&server, POST, EXPORTS, 201, body).await;

    let error = client(&server)
        .export()
        .send()
        .await
        .expect_err("no job id");

    trigger.assert_async().await;
    match error {
        Error::Decode {
            operation,
            status,
            source,
            ..
        } => {
            assert_eq!(operation, "trigger_export");
            assert_eq!(status.map(|s| s.as_u16()), Some(201));
            assert!(source.to_string().contains("job_id"), "{source}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn unauthorized_trigger_is_reported_as_such() {
    let server = MockServer::start_async().await;
    let trigger = server
        .mock_async(|when, then| {
            when.method(POST).path(EXPORTS);
            then.status(401)
                .json_body(json!({"errors": [{"error": "unauthorized", "message": "bad token"}]}));
        })
        .await;

    let error = client(&server).export().send().await.expect_err("401");

    trigger.assert_async().await;
    assert!(matches!(error, Error::Unauthorized(_)), "got {error:?}");
}

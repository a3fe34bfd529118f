//! One test per API operation: the request that went out (method, exact
//! path, `Authorization`, query, body) and the value that came back, with
//! the spec's own examples as fixtures.

use crate::support::{
    self, JOBS, KEY, LOOKUPS, job_path,
    mock::{answer, client, first_page, get_json, page_after, trigger},
};
use httpmock::{Method::GET, MockServer};
use serde_json::{Value, json};
use userpilot_appex::{
    RetryPolicy,
    models::JobStatus,
    types::{ExportFormat, ExportRequest},
};

fn spec() -> Value {
    serde_json::from_str(include_str!("../../openapi/userpilot-appex-openapi.json"))
        .expect("spec is JSON")
}

/// The `example` of a lookup's 200 answer in the vendored spec.
fn spec_example(lookup: &str) -> Value {
    let spec = spec();
    spec["paths"][format!("{LOOKUPS}{lookup}")]["get"]["responses"]["200"]["content"]["application/json"]
        ["example"]
        .clone()
}

macro_rules! plain_lookup_test {
    ($test:ident, $method:ident, $path:literal) => {
        #[tokio::test]
        async fn $test() {
            let server = MockServer::start_async().await;
            let example = spec_example($path);
            assert!(
                example.as_array().is_some_and(|a| !a.is_empty()),
                "spec example for {}",
                $path
            );
            let mock = server
                .mock_async(|when, then| {
                    when.method(GET)
                        .path(format!("{LOOKUPS}{}", $path))
                        .header("authorization", format!("Token {KEY}"))
                        .header("accept", "application/json");
                    then.status(200).json_body(example.clone());
                })
                .await;
            let items = client(&server).$method().await.expect("lookup succeeds");
            mock.assert_async().await;
            assert_eq!(serde_json::to_value(&items).unwrap(), example);
        }
    };
}

plain_lookup_test!(
    user_properties_sends_get_and_decodes_spec_example,
    user_properties,
    "user_properties"
);
plain_lookup_test!(
    company_properties_sends_get_and_decodes_spec_example,
    company_properties,
    "company_properties"
);
plain_lookup_test!(
    features_events_sends_get_and_decodes_spec_example,
    features_events,
    "features_events"
);
plain_lookup_test!(flows_sends_get_and_decodes_spec_example, flows, "flows");
plain_lookup_test!(
    banners_sends_get_and_decodes_spec_example,
    banners,
    "banners"
);
plain_lookup_test!(embeds_sends_get_and_decodes_spec_example, embeds, "embeds");
plain_lookup_test!(
    spotlights_sends_get_and_decodes_spec_example,
    spotlights,
    "spotlights"
);
plain_lookup_test!(
    surveys_sends_get_and_decodes_spec_example,
    surveys,
    "surveys"
);
plain_lookup_test!(
    resource_center_modules_sends_get_and_decodes_spec_example,
    resource_center_modules,
    "resource_center_modules"
);
plain_lookup_test!(
    checklists_sends_get_and_decodes_spec_example,
    checklists,
    "checklists"
);

#[tokio::test]
async fn segments_first_page_sends_no_cursor_and_decodes_spec_example() {
    let server = MockServer::start_async().await;
    let example = spec_example("segments");
    let mock = first_page(&server, "segments", example.clone()).await;
    let page = client(&server).segments_page(None).await.unwrap();
    mock.assert_async().await;
    let page = serde_json::to_value(&page).unwrap();
    assert_eq!(page["data"], example["data"]);
    assert_eq!(page["metadata"]["total_count"], json!(1));
    assert_eq!(page["metadata"]["limit"], json!(50));
    assert_eq!(page["metadata"]["cursor"]["after"], json!("..."));
}

#[tokio::test]
async fn segments_next_page_sends_after_cursor() {
    let server = MockServer::start_async().await;
    let body = json!({"data": [], "metadata": {"cursor": {"after": null, "before": "c1"}, "limit": 50, "total_count": 1}});
    let mock = page_after(&server, "segments", "c2==", body).await;
    let page = client(&server).segments_page(Some("c2==")).await.unwrap();
    mock.assert_async().await;
    assert!(page.data.is_empty());
}

#[tokio::test]
async fn events_properties_sends_cursor_and_decodes_spec_example() {
    let server = MockServer::start_async().await;
    let example = spec_example("events_properties");
    let mock = page_after(&server, "events_properties", "abc", example.clone()).await;
    let page = client(&server)
        .events_properties_page(Some("abc"))
        .await
        .unwrap();
    mock.assert_async().await;
    let page = serde_json::to_value(&page).unwrap();
    assert_eq!(page["data"], example["data"]);
    assert_eq!(page["metadata"]["total_count"], json!(53));
}

#[tokio::test]
async fn list_jobs_uses_the_real_trailing_slash_and_accepts_numbers_for_strings() {
    let server = MockServer::start_async().await;
    let jobs = json!([
        {"job_id": "j-1", "status": "completed", "progress": "100%", "start_time": "2025-01-10T10:00:00Z",
         "end_time": "2025-01-10T10:05:00Z", "elapsed_time": "00:05:00", "elapsed_time_seconds": 300},
        {"job_id": "j-2", "status": "processing", "progress": "3/7", "elapsed_time_seconds": 12.5, "end_time": null}
    ]);
    let mock = get_json(&server, JOBS, jobs).await;
    let jobs = client(&server).list_jobs().await.unwrap();
    mock.assert_async().await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].job_id.as_deref(), Some("j-1"));
    assert_eq!(jobs[0].status, Some(JobStatus::Completed));
    assert_eq!(jobs[0].elapsed_seconds(), Some(300.0));
    assert_eq!(jobs[1].elapsed_time_seconds.as_deref(), Some("12.5"));
    assert_eq!(jobs[1].elapsed_seconds(), Some(12.5));
    assert_eq!(jobs[1].end_time, None);
}

#[tokio::test]
async fn get_job_encodes_the_id_and_decodes_the_job_leniently() {
    let server = MockServer::start_async().await;
    let job = json!({
        "app_token": "NX-RE213S2", "job_id": "job 1", "status": "completed", "progress": "100%",
        "current_chunk": "2025-01-07", "all_chunks": ["2025-01-06", "2025-01-07"],
        "completed_chunks": null, "start_time": "2025-01-10 10:00:00.123456", "end_time": "2025-01-10T10:05:00Z",
        "type": "export", "brand_new_field": {"x": 1},
        "presigned_urls": [{"filename": "part-0.ndjson.gz", "url": "https://bucket.example/part-0?X-Sig=s3cr3t"}]
    });
    let mock = get_json(&server, job_path("job%201"), job).await;
    let job = client(&server).get_job("job 1").await.unwrap();
    mock.assert_async().await;
    assert_eq!(job.status(), JobStatus::Completed);
    assert!(job.is_terminal());
    assert_eq!(job.all_chunks, vec!["2025-01-06", "2025-01-07"]);
    assert!(job.completed_chunks.is_empty(), "null reads as empty");
    assert_eq!(job.job_type.as_deref(), Some("export"));
    assert_eq!(
        job.started_at().map(|t| t.timestamp_subsec_micros()),
        Some(123_456)
    );
    assert_eq!(
        job.ended_at().map(|t| t.to_rfc3339()),
        Some("2025-01-10T10:05:00+00:00".into())
    );
    assert_eq!(job.extra["brand_new_field"], json!({"x": 1}));
    assert_eq!(job.presigned_urls[0].filename, "part-0.ndjson.gz");
    assert_eq!(
        job.presigned_urls[0].url.expose(),
        "https://bucket.example/part-0?X-Sig=s3cr3t"
    );
    assert!(
        !format!("{job:?}").contains("s3cr3t"),
        "Debug redacts the presigned signature"
    );
}

#[tokio::test]
async fn trigger_export_posts_only_the_fields_that_were_set() {
    let server = MockServer::start_async().await;
    let body = json!({"from": "2025-01-01", "to": "2025-01-07", "format": "ndjson", "event_type": ["track"]});
    let created = json!({
        "environment_app_token": "NX-RE213S2", "environment_name": "production",
        "job_id": "123e4567-e89b-12d3-a456-426614174000", "links": "", "start_time": "2025-01-08T00:00:00Z"
    });
    let mock = trigger(&server, body, created).await;
    let request = ExportRequest {
        from: Some("2025-01-01".into()),
        to: Some("2025-01-07".into()),
        format: Some(ExportFormat::Ndjson),
        event_type: vec!["track".into()],
        ..Default::default()
    };
    let created = client(&server).trigger_export(&request).await.unwrap();
    mock.assert_async().await;
    assert_eq!(
        created.job_id.as_deref(),
        Some("123e4567-e89b-12d3-a456-426614174000")
    );
    assert_eq!(created.environment_name.as_deref(), Some("production"));
}

#[tokio::test]
async fn every_request_carries_the_user_agent_and_no_double_slash() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path(JOBS).header(
                "user-agent",
                concat!("userpilot-appex/", env!("CARGO_PKG_VERSION")),
            );
            then.status(200).json_body(json!([]));
        })
        .await;
    // A trailing slash on the base URL must not produce `//api/...`.
    let client = support::client(&format!("{}/", server.base_url()), RetryPolicy::none());
    assert!(client.list_jobs().await.unwrap().is_empty());
    mock.assert_async().await;
}

#[tokio::test]
async fn a_base_url_with_a_path_stem_is_kept() {
    let server = MockServer::start_async().await;
    let mock = answer(&server, GET, format!("/eu-proxy{JOBS}"), 200, json!([])).await;
    let client = support::client(
        &format!("{}/eu-proxy/", server.base_url()),
        RetryPolicy::none(),
    );
    client.list_jobs().await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn raw_generated_client_is_reachable_and_typed() {
    let server = MockServer::start_async().await;
    let job = json!({"job_id": "j-9", "status": "pending"});
    let mock = get_json(&server, job_path("j-9"), job).await;
    let client = client(&server);
    let job = client
        .raw()
        .get_job()
        .job_id("j-9")
        .send()
        .await
        .unwrap()
        .into_inner();
    mock.assert_async().await;
    assert_eq!(job.status, Some(JobStatus::Pending));
}

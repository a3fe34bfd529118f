//! The simulator's API behaviour: auth, the export job lifecycle, conflicts,
//! retention, request validation, pagination, the request log, and the
//! crate's own `Client` against it.
//!
//! Run: `cargo test --features simulator --test it -- simulator_api::`.

#![cfg(feature = "simulator")]

use std::{collections::HashSet, time::Duration};

use crate::support::simulator::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use userpilot_appex::{
    Error, RetryPolicy,
    simulator::{Route, SimulatorConfig},
    types::ExportRequest,
};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_wrong_key_gets_401_and_the_log_keeps_no_key() {
    let sim = start(SimulatorConfig::default().api_key("right")).await;
    let a = call(&sim, Method::GET, JOBS, Some("wrong"), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["errors"][0]["error"], "unauthorized");
    let a = call(&sim, Method::GET, JOBS, None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = call(&sim, Method::GET, JOBS, Some("right"), None).await;
    assert_eq!(a.status, StatusCode::OK);

    let log = sim.requests();
    let seen: Vec<(bool, u16)> = log
        .iter()
        .map(|r| (r.headers.authorization, r.status))
        .collect();
    assert_eq!(seen, vec![(true, 401), (false, 401), (true, 200)]);
    assert!(
        log.iter()
            .all(|r| r.route == Route::ListJobs && r.path == JOBS)
    );
    assert!(
        !format!("{log:?}").contains("right"),
        "the log holds no key"
    );
    assert_eq!(sim.request_count(Route::ListJobs), 3);
    assert_eq!(sim.request_count(Route::GetJob), 0);
}

#[tokio::test]
async fn trigger_answers_201_with_the_environment_and_a_uuid_job_id() {
    let sim = start(
        SimulatorConfig::default()
            .app_token("NX-TEST")
            .environment_name("staging"),
    )
    .await;
    let a = post_export(
        &sim,
        json!({"from": "2025-01-01", "to": "2025-01-07", "format": "csv"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let body = a.json();
    assert_eq!(body["environment_app_token"], "NX-TEST");
    assert_eq!(body["environment_name"], "staging");
    let id = body["job_id"].as_str().expect("job_id");
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, vec![8, 4, 4, 4, 12], "uuid-shaped: {id}");
    assert!(body["links"].as_str().expect("links").ends_with(id));
    assert!(
        body["start_time"]
            .as_str()
            .expect("start_time")
            .ends_with('Z')
    );
    assert_eq!(sim.job_ids(), vec![id.to_string()]);
}

#[tokio::test]
async fn job_ids_follow_from_the_seed() {
    let a = start(SimulatorConfig::default().seed(9)).await;
    let b = start(SimulatorConfig::default().seed(9)).await;
    let c = start(SimulatorConfig::default().seed(10)).await;
    let ia = trigger(&a, json!({})).await;
    assert_eq!(ia, trigger(&b, json!({})).await);
    assert_ne!(ia, trigger(&c, json!({})).await);
}

#[tokio::test]
async fn a_second_export_while_one_runs_gets_409_then_201_once_done() {
    let sim = start(manual_clock()).await;
    let first = trigger(&sim, json!({"from": "2025-01-01", "to": "2025-01-02"})).await;
    let a = post(&sim, EXPORTS, json!({})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let err = &a.json()["errors"][0];
    assert_eq!(err["error_code"], "409");
    assert!(err["details"].as_str().expect("details").contains(&first));

    sim.advance(HOUR * 2); // pending 1 h + chunk 1 of 2: still running
    assert_eq!(
        post(&sim, EXPORTS, json!({})).await.status,
        StatusCode::CONFLICT
    );
    sim.advance(HOUR); // both chunks done
    let second = trigger(&sim, json!({})).await;
    assert_ne!(first, second);
    assert_eq!(sim.job_ids(), vec![first, second]);
}

#[tokio::test]
async fn a_job_moves_through_its_chunks_to_completed_with_presigned_urls() {
    let sim = start(manual_clock()).await;
    let id = trigger(
        &sim,
        json!({"from": "2025-01-01T00:00:00Z", "to": "2025-01-04"}),
    )
    .await;
    let path = format!("{JOBS}{id}");
    let all = json!(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]);

    let job = get(&sim, &path).await.json();
    assert_eq!(job["status"], "pending");
    assert_eq!(job["progress"], "0%");
    assert_eq!(job["all_chunks"], all);
    assert_eq!(job["completed_chunks"], json!([]));
    assert_eq!(job["presigned_urls"], json!([]));
    assert_eq!(job["type"], "export");
    assert_eq!(job["job_id"], id.as_str());
    assert!(job.get("end_time").is_none());

    sim.advance(HOUR * 2); // pending done, chunk 0 done, on chunk 1
    let job = get(&sim, &path).await.json();
    assert_eq!(job["status"], "processing");
    assert_eq!(job["progress"], "25%");
    assert_eq!(job["current_chunk"], "2025-01-02");
    assert_eq!(job["completed_chunks"], json!(["2025-01-01"]));
    assert_eq!(job["presigned_urls"], json!([]));

    sim.advance(HOUR * 3);
    let job = get(&sim, &path).await.json();
    assert_eq!(job["status"], "completed");
    assert_eq!(job["progress"], "100%");
    assert_eq!(job["completed_chunks"], all);
    assert!(job["end_time"].is_string());
    let files = urls(&job);
    let short = &id[..8];
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("export-{short}-2025-01-01.ndjson.gz"),
            format!("export-{short}-2025-01-02.ndjson.gz"),
            format!("export-{short}-2025-01-03.ndjson.gz"),
            format!("export-{short}-2025-01-04.ndjson.gz"),
        ]
    );
    for (name, url) in &files {
        let u = url::Url::parse(url).expect("absolute URL");
        assert!(url.starts_with(&sim.base_url()));
        assert_eq!(u.path(), format!("/_files/{id}/{name}"));
        let keys: HashSet<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert!(
            keys.contains("X-Signature") && keys.contains("X-Expires"),
            "{keys:?}"
        );
    }
}

#[tokio::test]
async fn the_job_list_shows_progress_and_elapsed_time() {
    let sim = start(manual_clock()).await;
    let id = trigger(&sim, json!({"from": "2025-01-01", "to": "2025-01-02"})).await;
    sim.advance(HOUR + Duration::from_secs(61));
    let list = get(&sim, JOBS).await.json();
    let item = &list[0];
    assert_eq!(item["job_id"], id.as_str());
    assert_eq!(item["status"], "processing");
    assert_eq!(item["progress"], "0%");
    assert!(
        item["elapsed_time"]
            .as_str()
            .expect("elapsed_time")
            .starts_with("01:01:0"),
        "{item}"
    );
    let secs: f64 = item["elapsed_time_seconds"]
        .as_str()
        .expect("string")
        .parse()
        .expect("number");
    assert!((3661.0..3700.0).contains(&secs), "{secs}");

    sim.advance(HOUR * 5);
    let item = get(&sim, JOBS).await.json()[0].clone();
    assert_eq!(item["status"], "completed");
    // A finished job's elapsed time is its run time: 1 h pending + 2 chunks.
    assert_eq!(item["elapsed_time"], "03:00:00");
    assert_eq!(item["elapsed_time_seconds"], "10800.000");
}

#[tokio::test]
async fn jobs_past_retention_are_gone() {
    let sim = start(SimulatorConfig::default().job_retention(Duration::from_secs(24 * 3600))).await;
    let id = trigger(&sim, json!({})).await;
    sim.advance(HOUR * 23);
    assert_eq!(
        get(&sim, &format!("{JOBS}{id}")).await.status,
        StatusCode::OK
    );
    sim.advance(HOUR * 2);
    let a = get(&sim, &format!("{JOBS}{id}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["errors"][0]["error_code"], "404");
    assert_eq!(get(&sim, JOBS).await.json(), json!([]));
}

#[tokio::test]
async fn an_unknown_job_is_404() {
    let sim = start(SimulatorConfig::default()).await;
    let a = get(&sim, &format!("{JOBS}nope")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(
        a.json()["errors"][0]["details"]
            .as_str()
            .expect("details")
            .contains("nope")
    );
}

#[tokio::test]
async fn the_default_range_is_the_last_seven_days() {
    let sim = start(manual_clock()).await;
    let id = trigger(&sim, json!({})).await;
    let job = get(&sim, &format!("{JOBS}{id}")).await.json();
    let chunks = job["all_chunks"].as_array().expect("all_chunks");
    let today = chrono::Utc::now().date_naive();
    let expected: Vec<Value> = (0..7)
        .rev()
        .map(|d| json!((today - chrono::Duration::days(d)).to_string()))
        .collect();
    // Around midnight the day may flip between trigger and check.
    let yesterday: Vec<Value> = (1..8)
        .rev()
        .map(|d| json!((today - chrono::Duration::days(d)).to_string()))
        .collect();
    assert!(chunks == &expected || chunks == &yesterday, "{chunks:?}");
}

#[tokio::test]
async fn bad_export_requests_get_400_and_create_no_job() {
    let sim = start(SimulatorConfig::default()).await;
    let cases = [
        (json!({"from": "not a date"}), "from"),
        (json!({"from": "2025-03-01", "to": "2025-02-01"}), "after"),
        (json!({"from": "2020-01-01", "to": "2025-01-01"}), "366"),
        (json!({"format": "xlsx"}), "xlsx"),
        (json!({"user_id": "u1"}), "export request"),
        (json!([1, 2]), "export request"),
    ];
    for (body, needle) in cases {
        let a = post(&sim, EXPORTS, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let details = a.json()["errors"][0]["details"]
            .as_str()
            .expect("details")
            .to_string();
        assert!(details.contains(needle), "{body}: {details}");
    }
    let a = http()
        .post(format!("{}{EXPORTS}", sim.base_url()))
        .header("Authorization", "Token sim-key")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(a.status(), StatusCode::BAD_REQUEST);
    assert!(sim.job_ids().is_empty());
}

/// Asserts an export in `format` is refused with a 400 naming the feature.
#[cfg(not(all(feature = "parquet", feature = "avro")))]
async fn refused_without_its_feature(format: &str) {
    let sim = start(SimulatorConfig::default()).await;
    let a = post(&sim, EXPORTS, json!({ "format": format })).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let feature = format!("`{format}` feature");
    assert!(a.text().contains(&feature), "{}", a.text());
}

#[cfg(not(feature = "parquet"))]
#[tokio::test]
async fn parquet_without_the_feature_is_a_clear_400() {
    refused_without_its_feature("parquet").await;
}

#[cfg(not(feature = "avro"))]
#[tokio::test]
async fn avro_without_the_feature_is_a_clear_400() {
    refused_without_its_feature("avro").await;
}

async fn walk(
    sim: &userpilot_appex::simulator::Simulator,
    name: &str,
    limit: Option<usize>,
) -> (Vec<Value>, Vec<Value>) {
    let mut items = Vec::new();
    let mut metas = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        if let Some(a) = &after {
            q.push(format!("after_cursor={a}"));
        }
        let a = get(sim, &format!("{LOOKUPS}{name}?{}", q.join("&"))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let page = a.json();
        items.extend(page["data"].as_array().expect("data").iter().cloned());
        metas.push(page["metadata"].clone());
        match page["metadata"]["cursor"]["after"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => break,
        }
        assert!(metas.len() <= 100, "the walk ends");
    }
    (items, metas)
}

#[tokio::test]
async fn segments_paginate_with_the_default_limit_until_after_is_null() {
    let sim = start(SimulatorConfig::default().segments(120).page_limit(50)).await;
    let (items, metas) = walk(&sim, "segments", None).await;
    assert_eq!(metas.len(), 3);
    assert!(
        metas
            .iter()
            .all(|m| m["limit"] == 50 && m["total_count"] == 120)
    );
    assert!(metas[0]["cursor"]["before"].is_null());
    assert!(metas[1]["cursor"]["before"].is_string());
    assert!(metas[2]["cursor"]["after"].is_null());
    let ids: Vec<i64> = items
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, (101..221).collect::<Vec<_>>());
    assert_eq!(sim.request_count(Route::Segments), 3);
    let queries: Vec<Option<String>> = sim.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries[0].as_deref(), Some(""));
    assert!(
        queries[1]
            .as_deref()
            .is_some_and(|q| q.starts_with("after_cursor="))
    );
}

#[tokio::test]
async fn events_properties_honour_the_limit_query() {
    let sim = start(SimulatorConfig::default().event_properties(25)).await;
    let (items, metas) = walk(&sim, "events_properties", Some(10)).await;
    assert_eq!(metas.len(), 3);
    assert!(
        metas
            .iter()
            .all(|m| m["limit"] == 10 && m["total_count"] == 25)
    );
    assert_eq!(items.len(), 25);
    let ids: HashSet<i64> = items
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 25, "no item twice");
}

#[tokio::test]
async fn a_foreign_cursor_or_bad_limit_is_400() {
    let sim = start(SimulatorConfig::default()).await;
    let seg = get(&sim, &format!("{LOOKUPS}segments")).await.json();
    let cursor = seg["metadata"]["cursor"]["after"]
        .as_str()
        .expect("after")
        .to_string();
    let a = get(
        &sim,
        &format!("{LOOKUPS}events_properties?after_cursor={cursor}"),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text().contains("after_cursor"));
    let a = get(&sim, &format!("{LOOKUPS}segments?limit=0")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lookups_hold_the_documented_shapes() {
    let sim = start(SimulatorConfig::default()).await;
    let embeds = get(&sim, &format!("{LOOKUPS}embeds")).await.json();
    let kinds: HashSet<&str> = embeds
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, HashSet::from(["banner", "card"]));
    for (lookup, parts) in [("surveys", "modules"), ("checklists", "tasks")] {
        let items = get(&sim, &format!("{LOOKUPS}{lookup}")).await.json();
        let items = items.as_array().expect("array");
        assert!(
            items
                .iter()
                .all(|s| s[parts].as_array().is_some_and(|m| !m.is_empty())),
            "every {lookup} item has {parts}"
        );
    }
    let a = get(&sim, &format!("{LOOKUPS}nothing_here")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_crate_client_runs_an_export_against_the_simulator() {
    let sim = start(manual_clock()).await;
    let client = sim.client().expect("client builds");
    let request = ExportRequest {
        from: Some("2025-01-01".into()),
        to: Some("2025-01-02".into()),
        ..Default::default()
    };
    let created = client.trigger_export(&request).await.expect("201");
    let id = created.job_id.clone().expect("job id");
    assert!(matches!(
        client.trigger_export(&request).await,
        Err(Error::Conflict(_))
    ));
    sim.advance(HOUR * 4);
    let job = client.get_job(&id).await.expect("job");
    assert!(job.is_terminal());
    assert_eq!(job.status().as_str(), "completed");
    assert_eq!(job.presigned_urls.len(), 2);
    assert!(job.ended_at().is_some() && job.started_at().is_some());
    let jobs = client.list_jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].elapsed_seconds(), Some(3.0 * 3600.0));
    let segments = client.segments_page(None).await.expect("segments");
    assert!(!segments.data.is_empty());
    let flows = client.flows().await.expect("flows");
    assert!(!flows.is_empty());

    let wrong = sim
        .client_builder()
        .api_key("nope")
        .build()
        .expect("client");
    assert!(matches!(
        wrong.list_jobs().await,
        Err(Error::Unauthorized(_))
    ));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start(SimulatorConfig::default()).await;
    let base = sim.base_url();
    assert_eq!(get(&sim, JOBS).await.status, StatusCode::OK);
    sim.shutdown().await;
    let err = http().get(format!("{base}{JOBS}")).send().await;
    assert!(err.is_err(), "no server after shutdown");
}

#[tokio::test]
async fn dropping_the_simulator_stops_it() {
    let sim = start(SimulatorConfig::default()).await;
    let base = sim.base_url();
    drop(sim);
    tokio::task::yield_now().await;
    let err = http().get(format!("{base}{JOBS}")).send().await;
    assert!(err.is_err(), "no server after drop");
}

#[tokio::test]
async fn shutdown_returns_while_a_client_keeps_its_connection() {
    let sim = start(SimulatorConfig::default()).await;
    let client = sim
        .client_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    client.list_jobs().await.expect("jobs");
    // The pooled keep-alive connection must not hold the shutdown open.
    sim.shutdown().await;
    assert!(client.list_jobs().await.is_err());
}

//! The simulator's knobs for testing a sync offline: a largest range,
//! late (backdated) events, a foreign running export (now, or just
//! before the Nth trigger), job retention.
#![cfg(feature = "simulator")]

use std::{collections::BTreeSet, time::Duration};

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use userpilot_appex::simulator::SimulatorConfig;

use crate::support::simulator::{
    EXPORTS, JOBS, completed_job, fetch, get, gunzip, manual_clock, post, post_export, start,
    trigger, urls,
};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
}

/// The `internal_event_id`s and `inserted_at` days of the events of every
/// file of a completed job.
async fn events_of(job: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (_, url) in urls(job) {
        let answer = fetch(&url, &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
        let text = String::from_utf8(gunzip(&answer.body).expect("gzip")).expect("utf-8");
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).expect("ndjson line");
            out.push((
                event["internal_event_id"].as_str().expect("id").to_string(),
                event["inserted_at"].as_str().expect("inserted_at")[..10].to_string(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn max_range_days_refuses_longer_ranges_with_the_error_shape() {
    let sim = start(manual_clock().max_range_days(3)).await;
    let refused = post_export(&sim, json!({"from": "2025-03-01", "to": "2025-03-04"})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let body = refused.json();
    let details = body["errors"][0]["details"].as_str().expect("details");
    assert!(details.contains("range covers 4 days"), "{details}");
    assert!(details.contains("at most 3"), "{details}");
    assert!(sim.job_ids().is_empty(), "a refused trigger starts no job");

    let id = trigger(&sim, json!({"from": "2025-03-01", "to": "2025-03-03"})).await;
    assert_eq!(sim.job_ids(), vec![id]);
}

#[tokio::test]
async fn late_events_appear_only_in_exports_triggered_after_their_time() {
    let config =
        manual_clock()
            .events_per_day(40)
            .late_events(day(2), 5, Duration::from_secs(100 * 3600));
    let sim = start(config).await;
    let body = json!({"from": "2025-03-01", "to": "2025-03-03"});
    let before = events_of(&completed_job(&sim, body.clone()).await).await;
    // completed_job moved the clock 48 h; move past 100 h.
    sim.advance(Duration::from_secs(60 * 3600));
    let after = events_of(&completed_job(&sim, body).await).await;

    assert_eq!(before.len(), 120);
    assert_eq!(after.len(), 125);
    let before_ids: BTreeSet<_> = before.iter().cloned().collect();
    let after_ids: BTreeSet<_> = after.iter().cloned().collect();
    assert!(before_ids.is_subset(&after_ids), "late events only add");
    let added: Vec<_> = after_ids.difference(&before_ids).collect();
    assert_eq!(added.len(), 5);
    assert!(added.iter().all(|(_, d)| d == "2025-03-02"), "{added:?}");
}

#[tokio::test]
async fn late_events_are_the_same_in_every_later_export() {
    let config = manual_clock()
        .events_per_day(10)
        .late_events(day(2), 3, Duration::ZERO);
    let sim = start(config).await;
    let body = json!({"from": "2025-03-02", "to": "2025-03-02"});
    let first = events_of(&completed_job(&sim, body.clone()).await).await;
    let second = events_of(&completed_job(&sim, body).await).await;
    assert_eq!(first.len(), 13);
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_foreign_export_blocks_triggers_until_it_ends() {
    let sim = start(manual_clock()).await;
    let foreign = sim.start_foreign_export(2).expect("nothing runs yet");
    assert_eq!(sim.start_foreign_export(1), None, "one export at a time");
    let conflict = post_export(&sim, json!({"from": "2025-03-01", "to": "2025-03-01"})).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.text().contains(&foreign), "{}", conflict.text());
    let listed = get(&sim, JOBS).await.json();
    assert_eq!(listed[0]["job_id"], foreign.as_str());
    assert_eq!(listed[0]["status"], "pending");

    sim.advance(Duration::from_secs(4 * 3600)); // 1 h pending + 2 chunks
    let mine = trigger(&sim, json!({"from": "2025-03-01", "to": "2025-03-01"})).await;
    assert_ne!(mine, foreign);
}

#[tokio::test]
async fn a_foreign_export_starts_just_before_the_named_trigger() {
    let sim = start(manual_clock().foreign_export_before_trigger(2, 3)).await;
    let body = json!({"from": "2025-03-01", "to": "2025-03-01"});
    let first = completed_job(&sim, body.clone()).await;
    let second = post(&sim, EXPORTS, body.clone()).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text());
    let listed = get(&sim, JOBS).await.json();
    let foreign = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] != first["job_id"])
        .expect("the foreign job is listed");
    assert_eq!(foreign["status"], "pending");

    // Only the named trigger: once the foreign job ends, triggers succeed.
    sim.advance(Duration::from_secs(4 * 3600));
    assert_eq!(post(&sim, EXPORTS, body).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn jobs_vanish_after_the_retention() {
    let sim = start(SimulatorConfig::default().job_retention(Duration::from_secs(3600))).await;
    let id = trigger(&sim, json!({"from": "2025-03-01", "to": "2025-03-01"})).await;
    assert_eq!(
        get(&sim, &format!("{JOBS}{id}")).await.status,
        StatusCode::OK
    );
    sim.advance(Duration::from_secs(3601));
    assert_eq!(
        get(&sim, &format!("{JOBS}{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&sim, JOBS).await.json(), json!([]));
}

//! `appex export`: the request the flags make, and the trigger → wait →
//! download flow with its JSON shape.
#![cfg(feature = "cli")]

use std::path::Path;

use crate::support::{
    EXPORTS,
    cli::{self, Run, SECRET_KEY, Sim, appex_cmd, sha256_of},
    job_path,
};
use httpmock::prelude::*;
use serde_json::json;
use userpilot_appex::simulator::Route;

#[test]
fn every_flag_goes_into_the_request_body() {
    let server = MockServer::start();
    let trigger = server.mock(|when, then| {
        when.method(POST)
            .path(EXPORTS)
            .header("authorization", format!("Token {SECRET_KEY}"))
            .json_body(json!({
                "from": "2025-01-01",
                "to": "2025-01-07T12:00:00Z",
                "format": "csv",
                "event_type": ["track", "page_view"],
                "user_id": ["u1", "u2"],
                "company_id": ["c1"],
                "segment_id": "42",
                "emails": ["a@example.com", "b@example.com"],
                "exclusions": "internal",
            }));
        then.status(201)
            .json_body(json!({"job_id": "job-1", "links": ""}));
    });
    let get = server.mock(|when, then| {
        when.method(GET).path(job_path("job-1"));
        then.status(200)
            .json_body(json!({"job_id": "job-1", "status": "pending"}));
    });
    let mut cmd = appex_cmd();
    cmd.args(["--base-url", &server.base_url(), "--api-key", SECRET_KEY]);
    cmd.args([
        "export",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-07T14:00:00+02:00",
        "--format",
        "csv",
        "--event-type",
        "track",
        "--event-type",
        "page_view",
        "--user-id",
        "u1",
        "--user-id",
        "u2",
        "--company-id",
        "c1",
        "--segment-id",
        "42",
        "--email",
        "a@example.com",
        "--email",
        "b@example.com",
        "--exclusions",
        "internal",
        "--no-wait",
        "--json",
    ]);
    let out = Run::of(cmd).ok().json();
    trigger.assert_calls(1);
    get.assert_calls(1);
    assert_eq!(
        out,
        json!({"job_id": "job-1", "status": "pending", "files": []})
    );
}

#[test]
fn export_json_waits_and_lists_the_files_not_downloaded() {
    let sim = Sim::start();
    let out = sim.export(2, &["--json"]).ok().json();
    let job_id = out["job_id"].as_str().expect("job_id");
    assert_eq!(sim.sim.job_ids(), vec![job_id.to_string()]);
    assert_eq!(out["status"], "completed");
    let files = out["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    for file in files {
        assert!(file["filename"].as_str().is_some_and(|f| !f.is_empty()));
        assert!(file["path"].is_null());
        assert!(file["bytes"].is_null());
        assert!(file["sha256"].is_null());
    }
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 1);
    assert_eq!(sim.sim.request_count(Route::Download), 0);
}

#[test]
fn export_out_downloads_the_files_and_reports_them() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8");
    let out = sim
        .export(3, &["--format", "ndjson", "--out", out_dir, "--json"])
        .ok()
        .json();
    assert_eq!(out["status"], "completed");
    let files = out["files"].as_array().expect("files");
    assert_eq!(files.len(), 3);
    for file in files {
        let path = Path::new(file["path"].as_str().expect("path"));
        assert!(path.starts_with(dir.path()));
        assert_eq!(
            file["bytes"].as_u64(),
            Some(std::fs::metadata(path).expect("on disk").len())
        );
        assert_eq!(file["sha256"].as_str(), Some(sha256_of(path).as_str()));
    }
    assert_eq!(sim.sim.request_count(Route::Download), 3);
}

#[test]
fn export_text_prints_the_job_and_its_files() {
    let sim = Sim::start();
    let run = sim.export(2, &[]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{:?}", run.stdout);
    let job_id = &sim.sim.job_ids()[0];
    assert_eq!(lines[0], format!("job {job_id} completed (2 files)"));
}

#[test]
fn export_no_wait_prints_only_the_job_id() {
    let sim = Sim::with(cli::fast().chunk_duration(std::time::Duration::from_secs(60)));
    let run = sim.export(2, &["--no-wait"]).ok();
    assert_eq!(run.stdout, format!("{}\n", sim.sim.job_ids()[0]));
    assert_eq!(sim.sim.request_count(Route::Download), 0);
}

#[test]
fn on_conflict_attach_follows_the_running_job() {
    let sim = Sim::with(cli::fast().chunk_duration(std::time::Duration::from_secs(60)));
    let first = sim.export(2, &["--no-wait"]).ok();
    let running = first.stdout.trim();
    let attached = sim
        .export(5, &["--on-conflict", "attach", "--no-wait", "--json"])
        .ok()
        .json();
    assert_eq!(attached["job_id"], running);
    assert_eq!(sim.sim.job_ids().len(), 1, "no second job");
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 2);
}

#[test]
fn no_wait_conflicts_with_out() {
    let sim = Sim::start();
    let run = sim.export(2, &["--no-wait", "--out", "x"]);
    let line = run.fails_with(2);
    assert!(line.contains("--no-wait"), "{line}");
    assert!(sim.sim.requests().is_empty());
}

#[test]
fn on_conflict_wait_waits_for_the_running_job_then_triggers_its_own() {
    let sim = Sim::with(cli::fast().chunk_duration(std::time::Duration::from_millis(100)));
    let first = sim.export(3, &["--no-wait"]).ok();
    let running = first.stdout.trim().to_string();
    let out = sim
        .export(2, &["--on-conflict", "wait", "--json"])
        .ok()
        .json();
    assert_ne!(out["job_id"], running.as_str());
    assert_eq!(out["status"], "completed");
    assert_eq!(
        out["files"].as_array().map(Vec::len),
        Some(2),
        "its own 2-day range"
    );
    assert_eq!(sim.sim.job_ids().len(), 2);
    assert!(sim.sim.request_count(Route::TriggerExport) >= 2);
}

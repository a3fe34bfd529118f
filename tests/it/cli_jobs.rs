//! `appex jobs list|show|wait|download` against the simulator.
#![cfg(feature = "cli")]

use std::path::Path;

use crate::support::cli::{Sim, sha256_of};
use userpilot_appex::simulator::Route;

/// Triggers a 3-day export through the binary without waiting; returns its id.
fn trigger(sim: &Sim) -> String {
    let run = sim.export(3, &["--no-wait"]).ok();
    let id = run.stdout.trim().to_string();
    assert!(!id.is_empty(), "the job id on stdout");
    id
}

/// Triggers a 3-day export and waits for it through the binary; returns its id.
fn completed(sim: &Sim) -> String {
    let id = trigger(sim);
    sim.appex(&["jobs", "wait", &id, "-q"]).ok();
    id
}

/// `appex jobs <command> <id> --json`: asserts it prints job `id`,
/// completed, and returns it.
fn completed_json(sim: &Sim, command: &str, id: &str) -> serde_json::Value {
    let job = sim.appex(&["jobs", command, id, "--json"]).ok().json();
    assert_eq!(job["job_id"], id);
    assert_eq!(job["status"], "completed");
    job
}

#[test]
fn jobs_list_json_is_an_array_of_the_environments_jobs() {
    let sim = Sim::start();
    let empty = sim.appex(&["jobs", "list", "--json"]).ok().json();
    assert_eq!(empty, serde_json::json!([]));

    let id = trigger(&sim);
    let jobs = sim.appex(&["--json", "jobs", "list"]).ok().json();
    let jobs = jobs.as_array().expect("array");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["job_id"], id.as_str());
    assert!(jobs[0]["status"].is_string());
    assert_eq!(sim.sim.request_count(Route::ListJobs), 2);
}

#[test]
fn jobs_list_table_has_a_header_and_a_row_per_job() {
    let sim = Sim::start();
    let id = trigger(&sim);
    let run = sim.appex(&["jobs", "list"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", run.stdout);
    assert!(lines[0].starts_with("JOB_ID"));
    assert!(lines[0].contains("STATUS"));
    assert!(lines[1].starts_with(&id));
}

#[test]
fn jobs_wait_json_prints_the_completed_job_without_signatures() {
    let sim = Sim::start();
    let id = trigger(&sim);
    let job = completed_json(&sim, "wait", &id);
    let files = job["presigned_urls"].as_array().expect("files");
    assert_eq!(files.len(), 3, "one file per day");
    for file in files {
        assert!(file["filename"].as_str().is_some_and(|f| !f.is_empty()));
        let url = file["url"].as_str().expect("url");
        assert!(url.ends_with("?<redacted>"), "{url}");
        assert!(!url.contains("X-Signature"), "{url}");
    }
    assert!(sim.sim.request_count(Route::GetJob) >= 1);
}

#[test]
fn jobs_show_json_and_text_describe_the_job() {
    let sim = Sim::start();
    let id = completed(&sim);

    let job = completed_json(&sim, "show", &id);
    assert_eq!(job["all_chunks"].as_array().map(Vec::len), Some(3));
    assert_eq!(job["completed_chunks"].as_array().map(Vec::len), Some(3));

    let text = sim.appex(&["jobs", "show", &id]).ok().stdout;
    assert!(text.contains(&format!("job_id:    {id}")), "{text}");
    assert!(text.contains("status:    completed"), "{text}");
    assert!(text.contains("files:     3"), "{text}");
    assert!(!text.contains("X-Signature"), "{text}");
}

#[test]
fn jobs_download_json_lists_files_with_path_bytes_and_sha256() {
    let sim = Sim::start();
    let id = completed(&sim);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("exports");
    let out_str = out.to_str().expect("utf-8 path");

    let report = sim
        .appex(&[
            "jobs",
            "download",
            &id,
            "--out",
            out_str,
            "--concurrency",
            "2",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(report["job_id"], id.as_str());
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 3);
    for file in files {
        let path = Path::new(file["path"].as_str().expect("path"));
        assert!(path.starts_with(&out), "{path:?}");
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            file["filename"].as_str()
        );
        let len = std::fs::metadata(path).expect("file on disk").len();
        assert_eq!(file["bytes"].as_u64(), Some(len));
        assert!(len > 0);
        assert_eq!(file["sha256"].as_str(), Some(sha256_of(path).as_str()));
        let keys: Vec<&str> = file
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }
    assert_eq!(sim.sim.request_count(Route::Download), 3);
}

#[test]
fn jobs_download_text_prints_a_line_per_file() {
    let sim = Sim::start();
    let id = completed(&sim);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_str = dir.path().to_str().expect("utf-8 path");
    let run = sim.appex(&["jobs", "download", &id, "--out", out_str]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{:?}", run.stdout);
    for line in lines {
        assert!(line.starts_with(out_str), "{line}");
        assert!(line.contains(" bytes  sha256:"), "{line}");
    }
}

#[test]
fn jobs_wait_accepts_global_options_after_the_subcommand_and_the_key_from_env() {
    let sim = Sim::start();
    let id = trigger(&sim);
    let job = sim
        .appex_env_key(&["jobs", "wait", &id, "--max-wait", "60", "--json", "-q"])
        .ok()
        .json();
    assert_eq!(job["status"], "completed");
}

//! `appex simulate` (a foreground server other runs point at) and `appex demo`.
#![cfg(feature = "cli")]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::support::cli::{self, Run, appex_cmd};

/// Ends the child (SIGINT, as Ctrl-C would) if a test fails half-way.
struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
}

/// Reads the first JSON document `simulate --json` prints.
fn read_json_document(child: &mut Child) -> serde_json::Value {
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "simulate ended before printing its JSON: {text:?}");
        text.push_str(&line);
        if let Ok(value) = serde_json::from_str(&text) {
            return value;
        }
    }
}

#[test]
fn simulate_prints_url_and_key_serves_other_runs_and_stops_on_ctrl_c() {
    let mut cmd = appex_cmd();
    cmd.args([
        "simulate",
        "--json",
        "--port",
        "0",
        "--events",
        "20",
        "--seed",
        "3",
        "--chunk-ms",
        "10",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = Foreground(cmd.spawn().expect("spawn simulate"));
    let info = read_json_document(&mut child.0);
    let base_url = info["base_url"].as_str().expect("base_url").to_string();
    let api_key = info["api_key"].as_str().expect("api_key").to_string();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    // Another run, pointed at it through the environment.
    let mut other = appex_cmd();
    other
        .env("USERPILOT_APPEX_URL", &base_url)
        .env("USERPILOT_API_KEY", &api_key)
        .args([
            "export",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-02",
            "--json",
        ]);
    let out = Run::of(other).ok().json();
    assert_eq!(out["status"], "completed");
    assert_eq!(out["files"].as_array().map(Vec::len), Some(2));

    interrupt(&child.0);
    let status = child.0.wait().expect("wait for simulate");
    assert_eq!(status.code(), Some(0), "Ctrl-C is a clean stop");
}

#[test]
fn simulate_text_prints_export_lines_and_ignores_the_callers_key() {
    let mut cmd = appex_cmd();
    cmd.args(["simulate", "--api-key", cli::SECRET_KEY])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Foreground(cmd.spawn().expect("spawn simulate"));
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url_line = lines.next().expect("line").expect("read");
    let key_line = lines.next().expect("line").expect("read");
    assert!(
        url_line.starts_with("export USERPILOT_APPEX_URL=http://127.0.0.1:"),
        "{url_line}"
    );
    assert!(
        key_line.starts_with("export USERPILOT_API_KEY="),
        "{key_line}"
    );
    assert!(!key_line.contains(cli::SECRET_KEY), "{key_line}");
    interrupt(&child.0);
    assert_eq!(child.0.wait().expect("wait").code(), Some(0));
}

#[test]
fn demo_json_runs_the_whole_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("demo");
    let mut cmd = appex_cmd();
    cmd.args(["demo", "--json", "--out", out_dir.to_str().expect("utf-8")]);
    let out = Run::of(cmd).ok().json();
    assert_eq!(out["status"], "completed");
    assert!(out["job_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(out["directory"].as_str(), out_dir.to_str());
    let files = out["files"].as_array().expect("files");
    assert_eq!(files.len(), 7, "one file per day of the last week");
    for file in files {
        let path = Path::new(file["path"].as_str().expect("path"));
        assert!(path.starts_with(&out_dir));
        assert_eq!(file["sha256"].as_str(), Some(cli::sha256_of(path).as_str()));
    }
    let summary = &out["summary"];
    let total = summary["total"].as_u64().expect("total");
    assert!(total > 0);
    let sum: u64 = summary["by_event_type"]
        .as_object()
        .expect("by_event_type")
        .values()
        .filter_map(|n| n.as_u64())
        .sum();
    assert_eq!(sum, total);
    assert_eq!(summary["files"].as_u64(), Some(7));
}

#[test]
fn demo_text_ends_with_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = appex_cmd();
    cmd.args(["demo", "-q", "--out", dir.path().to_str().expect("utf-8")]);
    let run = Run::of(cmd).ok();
    let first = run.stdout.lines().next().expect("a first line");
    assert!(first.starts_with("job "), "{first}");
    assert!(first.contains(" completed: 7 files"), "{first}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with("total ")),
        "{:?}",
        run.stdout
    );
}

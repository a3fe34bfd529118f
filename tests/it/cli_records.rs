//! `appex records <FILE>…`: events as ndjson (a JSON array under `--json`),
//! or a summary.
#![cfg(feature = "cli")]

use std::path::PathBuf;

use crate::support::{
    EVENT_TYPES,
    cli::{self, Sim},
};
use userpilot_appex::records::{ReadOptions, summarize};

/// Exports 2 days (ndjson or csv) into a temp dir; returns the dir and files.
fn exported(sim: &Sim, format: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = sim
        .export(
            2,
            &[
                "--format",
                format,
                "--out",
                dir.path().to_str().expect("utf-8"),
                "--json",
                "-q",
            ],
        )
        .ok()
        .json();
    let files = out["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| PathBuf::from(f["path"].as_str().expect("path")))
        .collect();
    (dir, files)
}

fn args<'a>(head: &[&'a str], files: &'a [PathBuf]) -> Vec<&'a str> {
    let mut args = head.to_vec();
    args.extend(files.iter().map(|f| f.to_str().expect("utf-8")));
    args
}

#[test]
fn records_prints_one_typed_event_per_line() {
    let sim = Sim::start();
    let (_dir, files) = exported(&sim, "ndjson");
    let expected = summarize(&files, ReadOptions::default()).expect("library summary");
    let run = sim.appex(&args(&["records"], &files)).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len() as u64, expected.total);
    assert!(expected.total > 0);
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        let kind = event["event_type"].as_str().expect("event_type");
        assert!(EVENT_TYPES.contains(&kind), "{kind}");
        assert!(
            event["inserted_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }
}

#[test]
fn records_json_is_one_array_of_the_events() {
    let sim = Sim::start();
    let (_dir, files) = exported(&sim, "csv");
    let expected = summarize(&files, ReadOptions::default()).expect("library summary");
    let events = sim.appex(&args(&["records", "--json"], &files)).ok().json();
    let events = events.as_array().expect("array");
    assert_eq!(events.len() as u64, expected.total);
    assert!(events.iter().all(|e| e["event_type"].is_string()));
}

#[test]
fn summary_json_counts_by_event_type() {
    let sim = Sim::start();
    let (_dir, files) = exported(&sim, "ndjson");
    let expected = summarize(&files, ReadOptions::default()).expect("library summary");
    let summary = sim
        .appex(&args(&["records", "--summary", "--json"], &files))
        .ok()
        .json();
    assert_eq!(summary["total"].as_u64(), Some(expected.total));
    assert_eq!(summary["files"].as_u64(), Some(2));
    let by_type = summary["by_event_type"].as_object().expect("by_event_type");
    let sum: u64 = by_type.values().map(|n| n.as_u64().expect("count")).sum();
    assert_eq!(sum, expected.total);
    for (kind, n) in &expected.by_event_type {
        assert_eq!(by_type[kind].as_u64(), Some(*n), "{kind}");
    }
}

#[test]
fn summary_text_has_a_line_per_event_type_and_the_total() {
    let sim = Sim::start();
    let (_dir, files) = exported(&sim, "ndjson");
    let expected = summarize(&files, ReadOptions::default()).expect("library summary");
    let run = sim.appex(&args(&["records", "--summary"], &files)).ok();
    for (kind, n) in &expected.by_event_type {
        assert!(
            run.stdout.lines().any(
                |l| l.split_whitespace().collect::<Vec<_>>() == [kind.as_str(), &n.to_string()]
            ),
            "{kind} {n} in {:?}",
            run.stdout
        );
    }
    assert!(run.stdout.lines().any(|l| {
        l.split_whitespace().collect::<Vec<_>>() == ["total", &expected.total.to_string()]
    }));
}

#[test]
fn records_needs_no_api_key() {
    let sim = Sim::start();
    let (_dir, files) = exported(&sim, "ndjson");
    let mut cmd = cli::appex_cmd();
    cmd.args(args(&["records", "--summary", "--json"], &files));
    let summary = cli::Run::of(cmd).ok().json();
    assert!(summary["total"].as_u64().is_some_and(|n| n > 0));
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // Megabytes of events: far more than a pipe buffers.
    let sim = Sim::with(cli::fast().events_per_day(3000));
    let (_dir, files) = exported(&sim, "ndjson");
    let mut cmd = cli::appex_cmd();
    cmd.args(args(&["records"], &files))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    // `| head -1`: the pipe is closed after one line.
    serde_json::from_str::<serde_json::Value>(&first).expect("an event");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Every exit code, each with exactly one `error: …` line on stderr and
//! nothing on stdout.
#![cfg(feature = "cli")]

use std::time::Duration;

use crate::support::cli::{Run, SECRET_KEY, Sim, appex_cmd, fast};
use userpilot_appex::simulator::Route;

fn slow_jobs() -> Sim {
    Sim::with(fast().chunk_duration(Duration::from_secs(60)))
}

/// Runs `appex export --from <from> --to <to>` against a fresh simulator:
/// asserts exit code 2 and no request sent; returns the error line.
fn refused_range(from: &str, to: &str) -> String {
    let sim = Sim::start();
    let line = sim
        .appex(&["export", "--from", from, "--to", to])
        .fails_with(2);
    assert!(sim.sim.requests().is_empty());
    line
}

#[test]
fn bad_date_exits_2_before_any_request() {
    let line = refused_range("01/02/2025", "2025-01-03");
    assert!(line.contains("--from"), "{line}");
    assert!(line.contains("YYYY-MM-DD"), "{line}");
}

#[test]
fn from_after_to_exits_2_before_any_request() {
    let line = refused_range("2025-01-05", "2025-01-01");
    assert!(line.contains("must be before"), "{line}");
}

#[test]
fn bad_email_exits_2() {
    let sim = Sim::start();
    sim.export(2, &["--email", "nobody"]).fails_with(2);
    assert!(sim.sim.requests().is_empty());
}

#[test]
fn unknown_flag_and_unknown_value_exit_2() {
    let line = Run::of({
        let mut cmd = appex_cmd();
        cmd.args(["jobs", "list", "--bogus"]);
        cmd
    })
    .fails_with(2);
    assert!(line.contains("--bogus"), "{line}");
    let line = Run::of({
        let mut cmd = appex_cmd();
        cmd.args(["lookups", "widgets"]);
        cmd
    })
    .fails_with(2);
    assert!(line.contains("widgets"), "{line}");
}

#[test]
fn missing_subcommand_or_argument_exits_2_with_one_line() {
    for args in [
        &[][..],
        &["jobs"][..],
        &["jobs", "show"][..],
        &["export", "--from", "2025-01-01"][..],
    ] {
        let mut cmd = appex_cmd();
        cmd.args(args);
        let line = Run::of(cmd).fails_with(2);
        assert!(line.ends_with("(see --help)"), "{args:?}: {line}");
    }
}

#[test]
fn missing_api_key_exits_2() {
    let line = Run::of({
        let mut cmd = appex_cmd();
        cmd.args(["--base-url", "http://127.0.0.1:9", "jobs", "list"]);
        cmd
    })
    .fails_with(2);
    assert!(line.contains("USERPILOT_API_KEY"), "{line}");
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "--version"] {
        let mut cmd = appex_cmd();
        cmd.arg(flag);
        let run = Run::of(cmd).ok();
        assert!(!run.stdout.is_empty());
    }
}

#[test]
fn wrong_key_exits_3() {
    let sim = Sim::start();
    let mut cmd = appex_cmd();
    cmd.args([
        "--base-url",
        &sim.url(),
        "--api-key",
        "wrong-key",
        "jobs",
        "list",
    ]);
    let line = Run::of(cmd).fails_with(3);
    assert!(line.contains("unauthorized"), "{line}");
    assert!(!line.contains("wrong-key"), "{line}");
    assert_eq!(sim.sim.request_count(Route::ListJobs), 1);
}

#[test]
fn unknown_job_exits_4() {
    let sim = Sim::start();
    let line = sim
        .appex(&["jobs", "show", "00000000-0000-4000-8000-000000000000"])
        .fails_with(4);
    assert!(line.contains("not found"), "{line}");
    assert_eq!(sim.sim.request_count(Route::GetJob), 1);
}

#[test]
fn conflict_with_a_running_job_exits_5() {
    let sim = slow_jobs();
    sim.export(2, &["--no-wait"]).ok();
    let line = sim.export(2, &["--on-conflict", "fail"]).fails_with(5);
    assert!(line.contains("conflict"), "{line}");
    // The default policy is fail too.
    sim.export(2, &[]).fails_with(5);
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 3);
    assert_eq!(sim.sim.job_ids().len(), 1);
}

#[test]
fn failed_job_exits_6_from_export_wait_and_download() {
    let sim = Sim::with(fast().fail_at_chunk(1));
    let line = sim.export(3, &[]).fails_with(6);
    assert!(line.contains("failed"), "{line}");
    let job_id = sim.sim.job_ids()[0].clone();
    sim.appex(&["jobs", "wait", &job_id]).fails_with(6);
    let dir = tempfile::tempdir().expect("tempdir");
    sim.appex(&[
        "jobs",
        "download",
        &job_id,
        "--out",
        dir.path().to_str().expect("utf-8"),
    ])
    .fails_with(6);
}

#[test]
fn max_wait_exceeded_exits_7() {
    let sim = slow_jobs();
    let line = sim.export(2, &["--max-wait", "0"]).fails_with(7);
    assert!(line.contains("still running"), "{line}");
    let job_id = sim.sim.job_ids()[0].clone();
    sim.appex(&["jobs", "wait", &job_id, "--max-wait", "0"])
        .fails_with(7);
}

#[test]
fn unreachable_api_exits_1() {
    let mut cmd = appex_cmd();
    // A port nothing listens on (the discard port on loopback).
    cmd.args([
        "--base-url",
        "http://127.0.0.1:9",
        "--api-key",
        SECRET_KEY,
        "jobs",
        "list",
    ]);
    let line = Run::of(cmd).fails_with(1);
    assert!(line.contains("list_jobs"), "{line}");
}

#[test]
fn records_of_a_missing_file_exits_1() {
    let mut cmd = appex_cmd();
    cmd.args(["records", "/nonexistent/part-0.ndjson.gz"]);
    let line = Run::of(cmd).fails_with(1);
    assert!(line.contains("/nonexistent/part-0.ndjson.gz"), "{line}");
}

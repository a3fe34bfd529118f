//! What the binary must never print: the API key (from `--api-key` or the
//! environment, at any `-v` level), presigned signatures on stderr, and
//! anything but one JSON document on stdout under `--json`, even while
//! progress bars are drawn.
#![cfg(feature = "cli")]

use crate::support::cli::{Run, SECRET_KEY, Sim, appex_cmd, export_args};
use userpilot_appex::simulator::Route;

/// How many downloads the simulator served with a query string (where
/// the presigned signature lives).
fn signed_downloads(sim: &Sim) -> usize {
    sim.sim
        .requests()
        .iter()
        .filter(|r| r.route == Route::Download && r.query.as_deref().is_some_and(|q| !q.is_empty()))
        .count()
}

/// The simulator signs with `?X-Expires=…&X-Generation=…&X-Signature=…`:
/// none of it may be printed.
fn assert_no_query(text: &str, what: &str) {
    for name in ["X-Signature", "X-Expires", "X-Generation"] {
        assert!(!text.contains(name), "{what}: {name} printed: {text}");
    }
}

fn assert_clean(run: &Run, what: &str) {
    assert!(!run.stdout.contains(SECRET_KEY), "{what}: key on stdout");
    assert!(!run.stderr.contains(SECRET_KEY), "{what}: key on stderr");
}

#[test]
fn the_key_never_appears_at_any_verbosity_from_flag_or_env() {
    let sim = Sim::start();
    for verbosity in ["-v", "-vv", "-vvv"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_str().expect("utf-8");
        let by_flag = sim.export(2, &["--out", out, verbosity]).ok();
        assert!(!by_flag.stderr.is_empty(), "{verbosity} logs something");
        assert_clean(&by_flag, &format!("export {verbosity} --api-key"));

        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_str().expect("utf-8");
        let export = export_args(2, &["--out", out, verbosity]);
        let by_env = sim.appex_env_key(&export).ok();
        assert_clean(&by_env, &format!("export {verbosity} env"));

        let listed = sim.appex_env_key(&["jobs", "list", verbosity]).ok();
        assert_clean(&listed, &format!("jobs list {verbosity}"));
        let lookups = sim
            .appex(&["lookups", "segments", "--json", verbosity])
            .ok();
        assert_clean(&lookups, &format!("lookups {verbosity}"));

        // Failing runs too.
        let missing = sim.appex(&["jobs", "show", "no-such-job", verbosity]);
        assert_eq!(missing.code, 4);
        assert_clean(&missing, &format!("jobs show {verbosity}"));
    }
    // Not even `--help` shows the key from the environment.
    let mut cmd = appex_cmd();
    cmd.env("USERPILOT_API_KEY", SECRET_KEY).arg("--help");
    assert_clean(&Run::of(cmd).ok(), "--help");
}

#[test]
fn a_wrong_key_is_not_echoed_at_any_verbosity() {
    let sim = Sim::start();
    let wrong = "wrong-key-3f9a1c";
    for verbosity in ["-v", "-vv", "-vvv"] {
        let mut cmd = appex_cmd();
        cmd.env("USERPILOT_API_KEY", wrong).args([
            "--base-url",
            &sim.url(),
            "jobs",
            "list",
            verbosity,
        ]);
        let run = Run::of(cmd);
        assert_eq!(run.code, 3);
        assert!(!run.stderr.contains(wrong), "{verbosity}: {}", run.stderr);
        assert!(
            run.stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("error: "))
        );
    }
}

#[test]
fn presigned_signatures_never_reach_stderr() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8");
    let run = sim.export(3, &["--out", out, "-vvv"]).ok();
    assert_eq!(
        signed_downloads(&sim),
        3,
        "the downloads carried signatures"
    );
    assert!(run.stderr.contains("/_files/"), "the downloads were logged");
    assert_no_query(&run.stderr, "export stderr");
    assert_no_query(&run.stdout, "export stdout");

    // `jobs show/wait` print the job without them.
    let job_id = sim.sim.job_ids()[0].clone();
    for command in [["jobs", "show"], ["jobs", "wait"]] {
        let run = sim
            .appex(&[command[0], command[1], &job_id, "--json", "-vvv"])
            .ok();
        assert!(run.stdout.contains("?<redacted>"), "{command:?}");
        assert_no_query(&run.stdout, "jobs stdout");
        assert_no_query(&run.stderr, "jobs stderr");
    }
}

#[test]
fn json_stdout_is_one_document_while_progress_is_drawn() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8");
    let mut cmd = sim.command();
    cmd.env("APPEX_PROGRESS", "always")
        .args(export_args(3, &["--out", out, "--json"]));
    let run = Run::of(cmd).ok();
    // Progress was drawn: the job bar and the byte bars, on stderr.
    assert!(run.stderr.contains("chunks"), "job bar: {:?}", run.stderr);
    assert!(run.stderr.contains("ETA"), "byte bars: {:?}", run.stderr);
    assert!(!run.stdout.contains('\u{1b}'), "no escape codes on stdout");
    let doc = run.json();
    assert_eq!(doc["status"], "completed");
    assert_eq!(doc["files"].as_array().map(Vec::len), Some(3));

    // -q hides it all.
    let mut cmd = sim.command();
    cmd.env("APPEX_PROGRESS", "always").args([
        "jobs",
        "wait",
        &sim.sim.job_ids()[0],
        "--json",
        "-q",
    ]);
    let quiet = Run::of(cmd).ok();
    assert!(quiet.stderr.is_empty(), "{:?}", quiet.stderr);
    assert_eq!(quiet.json()["status"], "completed");
}

#[test]
fn progress_is_not_drawn_when_stderr_is_not_a_terminal() {
    let sim = Sim::start();
    let run = sim.export(2, &["--json"]).ok();
    assert!(run.stderr.is_empty(), "{:?}", run.stderr);
    run.json();
}

#[test]
fn verbosity_and_rust_log_choose_the_log_level_on_stderr() {
    let sim = Sim::start();
    let quiet = sim.appex(&["jobs", "list", "--json"]).ok();
    assert!(quiet.stderr.is_empty(), "{:?}", quiet.stderr);

    let debug = sim.appex(&["jobs", "list", "--json", "-vv"]).ok();
    assert!(debug.stderr.contains("DEBUG"), "{:?}", debug.stderr);
    assert!(!debug.stderr.contains("TRACE"), "{:?}", debug.stderr);
    debug.json();

    let mut cmd = sim.command();
    cmd.env("RUST_LOG", "trace")
        .args(["jobs", "list", "--json"]);
    let traced = Run::of(cmd).ok();
    assert!(traced.stderr.contains("TRACE"), "{:?}", traced.stderr);
    assert_clean(&traced, "RUST_LOG=trace");
    traced.json();
}

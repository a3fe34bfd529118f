//! `appex sync` and `appex sync status` end to end: the binary against the
//! simulator (in-process, and `appex simulate` in its own process).
#![cfg(feature = "cli")]

use std::{
    path::Path,
    process::{Child, Stdio},
    time::Duration,
};

use serde_json::Value;
use userpilot_appex::simulator::Route;

use crate::support::cli::{Run, SECRET_KEY, Sim, appex_cmd, fast};

/// A temporary directory (removed on drop) and a destination in it.
fn fresh_dest() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy").to_str().unwrap().to_string();
    (dir, dest)
}

/// `sync --dest DEST` and the words of `rest`.
fn sync_args(dest: &str, rest: &str) -> Vec<String> {
    ["sync", "--dest", dest]
        .into_iter()
        .chain(rest.split_whitespace())
        .map(String::from)
        .collect()
}

fn state_of(dest: &str) -> Option<Value> {
    let text = std::fs::read_to_string(Path::new(dest).join("_appex/state.json")).ok()?;
    Some(serde_json::from_str(&text).expect("state is JSON"))
}

#[test]
fn dry_run_prints_the_plan_and_triggers_nothing() {
    let sim = Sim::start();
    let (_dir, dest) = fresh_dest();
    let run = sim
        .appex(&sync_args(
            &dest,
            "--start 2025-03-01 --end 2025-03-10 --window 4d --dry-run",
        ))
        .ok();
    assert!(
        run.stdout
            .contains("window 1: 2025-03-01..=2025-03-04 (4 day(s))"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("window 3: 2025-03-09..=2025-03-10 (2 day(s))"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("nothing was triggered"),
        "{}",
        run.stdout
    );
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 0);
    assert!(sim.sim.requests().is_empty(), "no API call at all");
    assert!(state_of(&dest).is_none(), "no state written");

    let json = sim
        .appex(&sync_args(
            &dest,
            "--start 2025-03-01 --end 2025-03-10 --dry-run --json",
        ))
        .ok()
        .json();
    assert_eq!(json["windows"].as_array().unwrap().len(), 2);
    assert_eq!(json["window_days"], 7);
}

#[test]
fn sync_lands_the_days_then_a_second_run_adds_nothing_and_status_shows_them() {
    let sim = Sim::start();
    let (_dir, dest) = fresh_dest();
    let args = sync_args(&dest, "--start 2025-03-01 --end 2025-03-05 --json -q");
    let first = sim.appex(&args).ok().json();
    assert_eq!(first["complete"], true);
    assert_eq!(first["days"].as_array().unwrap().len(), 5);
    assert_eq!(first["new_rows"], 250);
    assert_eq!(first["watermark"], "2025-03-05");
    for d in 1..=5 {
        assert!(
            Path::new(&dest)
                .join(format!("events/dt=2025-03-0{d}/events.parquet"))
                .is_file()
        );
    }

    let second = sim.appex(&args).ok().json();
    assert_eq!(second["new_rows"], 0);
    assert_eq!(second["exports_triggered"], 1);

    let status = sim
        .appex(&["sync", "status", "--dest", &dest, "--json"])
        .ok()
        .json();
    assert_eq!(status["state"]["watermark"], "2025-03-05");
    assert_eq!(status["days"].as_array().unwrap().len(), 5);
    assert_eq!(status["days"][0]["rows"], 50);
    assert_eq!(status["gaps"], serde_json::json!([]));

    let human = sim.appex(&["sync", "status", "--dest", &dest]).ok();
    assert!(
        human.stdout.contains("watermark:   2025-03-05"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("2025-03-03         50  ####"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains(SECRET_KEY));
}

#[test]
fn a_sync_stopped_after_committed_windows_exits_8_and_the_next_run_finishes() {
    let sim = Sim::with(fast().foreign_export_before_trigger(2, 365));
    let (_dir, dest) = fresh_dest();
    let args = sync_args(
        &dest,
        "--start 2025-03-01 --end 2025-03-06 --window 2d --lookback 0d --max-wait 1",
    );
    // Between the first window's commit and the second's trigger, someone
    // starts a long export (365 days × 20 ms) that outlasts --max-wait.
    let run = sim.appex(&args);
    let line = run.fails_with(8);
    assert!(line.contains("sync incomplete"), "{line}");
    let state = state_of(&dest).unwrap();
    assert_eq!(state["watermark"], "2025-03-02", "the first window only");

    sim.sim.advance(Duration::from_secs(3600));
    let next = sim.appex(&args).ok();
    assert!(
        next.stdout.contains("watermark 2025-03-06"),
        "{}",
        next.stdout
    );
}

#[test]
fn other_filters_exit_2_unless_reset() {
    let sim = Sim::start();
    let (_dir, dest) = fresh_dest();
    let base = sync_args(&dest, "--start 2025-03-01 --end 2025-03-01 -q");
    let mut tracks = base.clone();
    tracks.extend(["--event-type".into(), "track".into()]);
    sim.appex(&tracks).ok();
    let line = sim.appex(&base).fails_with(2);
    assert!(line.contains("--reset"), "{line}");
    let mut reset = base.clone();
    reset.push("--reset".into());
    sim.appex(&reset).ok();
}

#[test]
fn sync_against_appex_simulate_in_its_own_process() {
    let mut cmd = appex_cmd();
    cmd.args("simulate --json --port 0 --events 20 --chunk-ms 10".split(' '))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    struct Foreground(Child);
    impl Drop for Foreground {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Foreground(cmd.spawn().expect("spawn simulate"));
    // The first JSON document on its stdout (it keeps running).
    let info: Value = serde_json::Deserializer::from_reader(child.0.stdout.take().unwrap())
        .into_iter()
        .next()
        .expect("simulate printed its JSON")
        .expect("valid JSON");
    let (_dir, dest) = fresh_dest();
    let mut run = appex_cmd();
    run.args(["--base-url", info["base_url"].as_str().unwrap()])
        .args(["--api-key", info["api_key"].as_str().unwrap()])
        .args(sync_args(
            &dest,
            "--start 2025-03-01 --end 2025-03-03 --json",
        ));
    let report = Run::of(run).ok().json();
    assert_eq!(report["complete"], true);
    assert_eq!(report["new_rows"], 60);
}

#[test]
fn the_progress_bar_shows_days_windows_and_job_status_on_stderr_and_q_hides_it() {
    // Jobs of a few 100 ms chunks: the bar has time to draw its messages.
    let sim = Sim::with(fast().chunk_duration(Duration::from_millis(150)));
    let (_dir, dest) = fresh_dest();
    let args = sync_args(
        &dest,
        "--start 2025-03-01 --end 2025-03-04 --window 2d --no-lookups --json",
    );
    let mut cmd = sim.command();
    cmd.env("APPEX_PROGRESS", "always").args(&args);
    let run = Run::of(cmd).ok();
    assert!(run.stderr.contains("days"), "the bar: {:?}", run.stderr);
    assert!(
        run.stderr.contains("2025-03-01..=2025-03-02: job"),
        "window and job status: {:?}",
        run.stderr
    );
    assert!(!run.stdout.contains('\u{1b}'), "no escape codes on stdout");
    assert_eq!(run.json()["days"].as_array().map(Vec::len), Some(4));

    let mut cmd = sim.command();
    cmd.env("APPEX_PROGRESS", "always").args(&args).arg("-q");
    let quiet = Run::of(cmd).ok();
    assert!(quiet.stderr.is_empty(), "{:?}", quiet.stderr);
    assert_eq!(quiet.json()["new_rows"], 0);
}

#[test]
fn no_wait_lock_exits_1_while_another_holds_the_destination() {
    let sim = Sim::start();
    let (_dir, dest) = fresh_dest();
    // Hold the destination's lock as a running sync would.
    let appex = Path::new(&dest).join("_appex");
    std::fs::create_dir_all(&appex).unwrap();
    // What a sync writes into it: its kind and pid.
    let held = std::fs::File::create(appex.join(".appex-download.lock")).unwrap();
    held.try_lock().unwrap();
    std::fs::write(appex.join(".appex-download.lock"), "sync 4242\n").unwrap();
    let args = sync_args(&dest, "--start 2025-03-01 --end 2025-03-02 --no-wait-lock");
    let line = sim.appex(&args).fails_with(1);
    assert_eq!(
        line,
        format!(
            "error: {} is in use by another appex sync (pid 4242)",
            appex.display()
        )
    );
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 0);
    assert!(state_of(&dest).is_none(), "nothing written");

    drop(held);
    sim.appex(&args).ok();
    assert_eq!(state_of(&dest).unwrap()["watermark"], "2025-03-02");
}

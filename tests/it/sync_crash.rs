//! Crash injection: a sync stopped at each checkpoint, then run again,
//! ends with the same rows as an uninterrupted sync, no duplicate, and at
//! most one extra trigger per crash. A property test mixes window sizes,
//! lookbacks, crash points and late events.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use proptest::prelude::*;
use userpilot_appex::{
    Error,
    ext::sync::{Checkpoint, JobSource, SyncRun, SyncState},
    simulator::{Route, Simulator, SimulatorConfig},
};

use crate::support::sync::{
    dataset_rows, day, fast, has_duplicates, reference_rows, run_ok, start, sync,
};

/// Stops the run the `nth` time (1-based) it reaches `at`.
fn crash_at(run: SyncRun, at: Checkpoint, nth: usize) -> SyncRun {
    let hits = Arc::new(AtomicUsize::new(0));
    run.checkpoint_hook(move |reached| {
        reached == at && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth
    })
}

fn is_crash(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::Interrupted)
}

/// Uninterrupted, then run → crash → run, on one simulator; compares.
async fn crash_and_resume(at: Checkpoint, nth: usize) {
    // Jobs slow enough to be seen running at the first poll.
    let sim = start(fast().chunk_duration(Duration::from_millis(15))).await;
    let clean = tempfile::tempdir().unwrap();
    run_ok(sync(&sim, clean.path(), 1, 10).window_days(4)).await;
    let clean_triggers = sim.request_count(Route::TriggerExport);

    let crashed = tempfile::tempdir().unwrap();
    let error = crash_at(sync(&sim, crashed.path(), 1, 10).window_days(4), at, nth)
        .run()
        .await
        .unwrap_err();
    assert!(is_crash(&error), "{at:?}: {error}");
    let report = run_ok(sync(&sim, crashed.path(), 1, 10).window_days(4)).await;
    assert!(report.complete, "{at:?}");

    let triggers = sim.request_count(Route::TriggerExport) - clean_triggers;
    assert!(
        triggers <= clean_triggers + 1,
        "{at:?}: {triggers} triggers vs {clean_triggers} uninterrupted"
    );
    if matches!(
        at,
        Checkpoint::AfterTrigger | Checkpoint::MidWait | Checkpoint::MidDownload
    ) {
        assert_eq!(
            report.windows.first().map(|w| w.job),
            Some(JobSource::Resumed),
            "{at:?}: the in-flight job is resumed, not triggered again"
        );
        assert_eq!(triggers, clean_triggers, "{at:?}");
    }
    let rows = dataset_rows(crashed.path());
    assert!(!has_duplicates(&rows), "{at:?}");
    assert_eq!(rows, dataset_rows(clean.path()), "{at:?}");
    let state = SyncState::load(crashed.path().to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(state.watermark, Some(day(10)));
    assert_eq!(state.in_flight, None);
}

#[tokio::test]
async fn a_crash_at_any_checkpoint_of_the_first_window_loses_and_doubles_nothing() {
    for at in Checkpoint::ALL {
        crash_and_resume(at, 1).await;
    }
}

#[tokio::test]
async fn a_crash_at_any_checkpoint_of_a_later_window_loses_and_doubles_nothing() {
    for at in Checkpoint::ALL {
        crash_and_resume(at, 2).await;
    }
}

#[tokio::test]
async fn an_in_flight_job_gone_past_retention_is_triggered_again() {
    let sim = start(fast().job_retention(Duration::from_secs(3600))).await;
    let dir = tempfile::tempdir().unwrap();
    let error = crash_at(sync(&sim, dir.path(), 1, 3), Checkpoint::AfterTrigger, 1)
        .run()
        .await
        .unwrap_err();
    assert!(is_crash(&error), "{error}");
    let in_flight = SyncState::load(dir.path().to_str().unwrap())
        .await
        .unwrap()
        .in_flight
        .expect("the job is recorded before the crash");
    sim.advance(Duration::from_secs(2 * 3600));
    assert!(sim.job_ids().is_empty(), "the job is gone");

    let report = sync(&sim, dir.path(), 1, 3).run().await.unwrap();
    assert_eq!(report.windows[0].job, JobSource::Triggered);
    assert_ne!(report.windows[0].job_id, in_flight.job_id);
    assert_eq!(sim.request_count(Route::TriggerExport), 2);
    assert_eq!(dataset_rows(dir.path()), reference_rows(&sim, 1, 3).await);
}

/// One scenario of the property test.
#[derive(Clone, Debug)]
struct Scenario {
    window: u32,
    lookback: u32,
    crash: Option<(usize, usize)>,
    /// (day offset from the end, count): late events visible after the first hour.
    late: Vec<(u32, usize)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1u32..6,
        1u32..4,
        proptest::option::of((0usize..7, 1usize..3)),
    )
        .prop_flat_map(|(window, lookback, crash)| {
            let late = proptest::collection::vec((0..lookback, 1usize..4), 0..3);
            late.prop_map(move |late| Scenario {
                window,
                lookback,
                crash,
                late,
            })
        })
}

async fn check(s: Scenario) -> Result<(), TestCaseError> {
    const LAST: u32 = 8;
    let mut config: SimulatorConfig = fast().events_per_day(12);
    for (offset, count) in &s.late {
        config = config.late_events(day(LAST - offset), *count, Duration::from_secs(3600));
    }
    let sim: Simulator = start(config).await;
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        sync(&sim, dir.path(), 1, LAST)
            .window_days(s.window)
            .lookback_days(s.lookback)
    };

    let first = match s.crash {
        Some((point, nth)) => crash_at(run(), Checkpoint::ALL[point], nth).run().await,
        None => run().run().await,
    };
    if let Err(error) = &first {
        prop_assert!(is_crash(error), "{error}");
    }
    run()
        .run()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // The late events become visible; the lookback brings them in.
    sim.advance(Duration::from_secs(3600));
    run()
        .run()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;

    let rows = dataset_rows(dir.path());
    prop_assert!(!has_duplicates(&rows));
    prop_assert_eq!(rows, reference_rows(&sim, 1, LAST).await);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_windows_lookbacks_crashes_and_late_events_end_like_one_export(s in scenario()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(check(s))?;
    }
}

/// The staged raw files are downloaded without a SHA-256 (they are
/// converted and thrown away): a sync stopped right after staging leaves
/// them complete, of the recorded length, with no digest in the staging
/// directory's download manifest.
#[tokio::test]
async fn staged_files_are_downloaded_without_a_checksum() {
    let sim = start(fast()).await;
    let dataset = tempfile::tempdir().unwrap();
    let error = crash_at(
        sync(&sim, dataset.path(), 1, 3),
        Checkpoint::AfterStaging,
        1,
    )
    .run()
    .await
    .unwrap_err();
    assert!(is_crash(&error), "{error}");

    let staging = dataset.path().join("_appex/staging");
    let jobs: Vec<_> = std::fs::read_dir(&staging)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(jobs.len(), 1, "one staged job: {jobs:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(jobs[0].join(".appex-download.json")).unwrap())
            .unwrap();
    let entries: Vec<&serde_json::Value> = manifest["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|files| files.as_array().unwrap())
        .collect();
    assert!(!entries.is_empty(), "{manifest}");
    for entry in entries {
        let complete = &entry["complete"];
        let name = entry["filename"].as_str().unwrap();
        let len = std::fs::metadata(jobs[0].join(name)).unwrap().len();
        assert_eq!(complete["bytes"].as_u64(), Some(len), "{entry}");
        assert!(len > 0, "{entry}");
        assert!(complete.get("sha256").is_none(), "{entry}");
    }
}

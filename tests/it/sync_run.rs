//! `Client::sync` against the simulator: what lands, what a second run
//! does, adaptive windows, late events, conflicts, changed filters.

use std::{
    fs,
    sync::{Arc, Mutex},
    time::Duration,
};

use userpilot_appex::{
    Error,
    ext::{
        export::ExportRequestBuilder,
        sync::{
            FilterChange, JobSource, LookupRefresh, SyncProgress, SyncReport, SyncRun, SyncState,
            Window,
        },
    },
    models::LookupKind,
    simulator::{Route, Simulator},
};

use crate::support::sync::{
    dataset_rows, day, fast, has_duplicates, reference_rows, run_ok, start, sync,
};

/// The bytes of the day files of March 1 to 10.
fn day_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    (1..=10)
        .map(|d| fs::read(dir.join(format!("events/dt=2025-03-{d:02}/events.parquet"))).unwrap())
        .collect()
}

/// Runs a sync that must succeed; its report and the exports it triggered.
async fn triggers_of(sim: &Simulator, sync: SyncRun) -> (SyncReport, usize) {
    let before = sim.request_count(Route::TriggerExport);
    let report = run_ok(sync).await;
    (report, sim.request_count(Route::TriggerExport) - before)
}

#[tokio::test]
async fn a_first_sync_lands_every_day_like_one_export_of_the_range() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_ok(sync(&sim, dir.path(), 1, 10).window_days(4)).await;

    let windows: Vec<Window> = report.windows.iter().map(|w| w.window).collect();
    assert_eq!(
        windows,
        [
            Window {
                first: day(1),
                last: day(4)
            },
            Window {
                first: day(5),
                last: day(8)
            },
            Window {
                first: day(9),
                last: day(10)
            },
        ]
    );
    assert!(
        report
            .windows
            .iter()
            .all(|w| w.committed && w.job == JobSource::Triggered)
    );
    assert_eq!(report.exports_triggered, 3);
    assert_eq!(sim.request_count(Route::TriggerExport), 3);
    assert!(report.complete);
    assert_eq!(report.watermark, Some(day(10)));
    assert_eq!(report.new_rows, 300);
    assert_eq!(report.late_rows, 0);

    let rows = dataset_rows(dir.path());
    assert_eq!(rows, reference_rows(&sim, 1, 10).await);
    let state = SyncState::load(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(state.watermark, Some(day(10)));
    assert_eq!(state.in_flight, None);
    assert_eq!(state.days.len(), 10);
    assert!(state.days.values().all(|d| d.rows == 30));
    assert!(
        !dir.path().join("_appex/staging").exists()
            || fs::read_dir(dir.path().join("_appex/staging"))
                .unwrap()
                .next()
                .is_none(),
        "staged files are removed once their window is committed"
    );
}

#[tokio::test]
async fn a_sync_ends_by_replacing_every_lookup_table_and_the_views() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_ok(sync(&sim, dir.path(), 1, 2).lookups(LookupRefresh::Refresh)).await;

    let kinds: Vec<&str> = LookupKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        report.lookups, kinds,
        "one table per row of the lookup table"
    );
    let views = fs::read_to_string(dir.path().join("_appex/views.sql")).unwrap();
    for kind in &kinds {
        let table = dir.path().join(format!("lookups/{kind}.parquet"));
        let bytes = fs::read(&table).unwrap_or_else(|e| panic!("{}: {e}", table.display()));
        assert_eq!(&bytes[..4], b"PAR1", "{kind} is a Parquet file");
        assert!(
            views.contains(&format!("lookups/{kind}.parquet")),
            "{kind} has a view"
        );
    }
    for kind in LookupKind::ALL {
        assert!(
            sim.request_count(Route::from(*kind)) >= 1,
            "{kind:?} was fetched"
        );
    }
    // Every request the simulator saw (trigger, polls, file downloads,
    // every lookup page) is counted.
    let seen = sim.requests();
    assert!(
        seen.iter()
            .any(|r| r.route == Route::from(LookupKind::ALL[0]))
    );
    assert_eq!(report.requests, seen.len() as u64, "{seen:#?}");
}

#[tokio::test]
async fn a_second_sync_reads_only_the_lookback_and_changes_no_row() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        sync(&sim, dir.path(), 1, 10)
            .window_days(7)
            .lookback_days(3),
    )
    .await;
    let files_before = day_files(dir.path());
    let run = sync(&sim, dir.path(), 1, 10)
        .window_days(7)
        .lookback_days(3);
    let (second, triggers) = triggers_of(&sim, run).await;
    assert_eq!(triggers, 1);
    let windows: Vec<Window> = second.windows.iter().map(|w| w.window).collect();
    assert_eq!(
        windows,
        [Window {
            first: day(8),
            last: day(10)
        }]
    );
    assert_eq!(second.new_rows, 0);
    assert_eq!(second.duplicates_dropped, 90);
    assert!(second.days.iter().all(|d| d.reread && d.new_rows == 0));
    let files_after = day_files(dir.path());
    assert!(files_before == files_after, "no day file changed");
}

#[tokio::test]
async fn a_refused_range_halves_the_window_and_the_state_remembers_it() {
    let sim = start(fast().max_range_days(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let halved = Arc::new(Mutex::new(Vec::new()));
    let seen = halved.clone();
    let report = sync(&sim, dir.path(), 1, 10)
        .window_days(7)
        .on_progress(move |p| {
            if let SyncProgress::Halved { window_days, .. } = p {
                seen.lock().unwrap().push(*window_days);
            }
        })
        .run()
        .await
        .unwrap();

    assert_eq!(*halved.lock().unwrap(), [3]);
    assert_eq!(report.windows[0].job, JobSource::Refused);
    let committed: Vec<u32> = report
        .windows
        .iter()
        .filter(|w| w.committed)
        .map(|w| w.window.days())
        .collect();
    assert_eq!(committed, [3, 3, 3, 1]);
    assert_eq!(report.window_days, 3);
    let state = SyncState::load(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(state.window_days, Some(3));
    assert_eq!(dataset_rows(dir.path()).len(), 10);

    // The next run starts at 3 days: no refusal.
    let run = sync(&sim, dir.path(), 1, 12)
        .window_days(7)
        .lookback_days(0);
    let (next, triggers) = triggers_of(&sim, run).await;
    assert_eq!(triggers, 1);
    assert!(next.windows.iter().all(|w| w.job != JobSource::Refused));
}

#[tokio::test]
async fn late_events_inside_the_lookback_land_exactly_once() {
    let config = fast().late_events(day(9), 5, Duration::from_secs(3600));
    let sim = start(config).await;
    let dir = tempfile::tempdir().unwrap();
    run_ok(sync(&sim, dir.path(), 1, 10).lookback_days(3)).await;
    assert_eq!(dataset_rows(dir.path())[&day(9)].len(), 30);

    sim.advance(Duration::from_secs(3600));
    let second = run_ok(sync(&sim, dir.path(), 1, 10).lookback_days(3)).await;
    assert_eq!(second.new_rows, 5);
    assert_eq!(second.late_rows, 5);
    let third = run_ok(sync(&sim, dir.path(), 1, 10).lookback_days(3)).await;
    assert_eq!(third.new_rows, 0);

    let rows = dataset_rows(dir.path());
    assert_eq!(rows[&day(9)].len(), 35);
    assert!(!has_duplicates(&rows));
    assert_eq!(rows, reference_rows(&sim, 1, 10).await);
}

#[tokio::test]
async fn someone_elses_running_export_is_waited_for_then_the_window_runs() {
    // Someone else's 3-day export starts just before the sync's trigger.
    let config = fast()
        .chunk_duration(Duration::from_millis(60))
        .foreign_export_before_trigger(1, 3);
    let sim = start(config).await;
    let dir = tempfile::tempdir().unwrap();
    let waited = Arc::new(Mutex::new(Vec::new()));
    let seen = waited.clone();
    let report = sync(&sim, dir.path(), 1, 2)
        .on_progress(move |p| {
            if let SyncProgress::WaitingForOther { job_id } = p {
                seen.lock().unwrap().push(job_id.clone());
            }
        })
        .run()
        .await
        .unwrap();
    let foreign = sim.job_ids()[0].clone();
    assert_eq!(*waited.lock().unwrap(), [foreign]);
    assert!(report.complete);
    assert_eq!(report.exports_triggered, 1);
    assert_eq!(dataset_rows(dir.path()).len(), 2);
}

#[tokio::test]
async fn someone_elses_export_past_the_bound_is_a_conflict_and_nothing_lands() {
    let sim = start(fast().chunk_duration(Duration::from_secs(3600))).await;
    sim.start_foreign_export(1).expect("nothing runs");
    let dir = tempfile::tempdir().unwrap();
    let error = sync(&sim, dir.path(), 1, 2)
        .max_wait_other(Duration::from_millis(100))
        .run()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict(_)), "{error}");
    assert!(dataset_rows(dir.path()).is_empty());
}

#[tokio::test]
async fn other_filters_are_refused_unless_reset() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let tracks = || ExportRequestBuilder::new().event_type("track");
    run_ok(sync(&sim, dir.path(), 1, 2).filters(tracks())).await;
    let posts = sim.request_count(Route::TriggerExport);

    let error = sync(&sim, dir.path(), 1, 2).run().await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput(_)), "{error}");
    assert!(error.to_string().contains("--reset"), "{error}");
    assert_eq!(
        sim.request_count(Route::TriggerExport),
        posts,
        "nothing triggered"
    );

    // Same filters in another order: accepted.
    run_ok(sync(&sim, dir.path(), 1, 2).filters(tracks())).await;
    run_ok(sync(&sim, dir.path(), 1, 2).on_filter_change(FilterChange::StartOver)).await;
    let state = SyncState::load(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(state.watermark, Some(day(2)));
}

#[tokio::test]
async fn a_failing_window_after_committed_ones_is_incomplete_and_the_next_run_continues() {
    // Just before the third window's trigger, someone starts a long export
    // (365 days) that outlasts the 50 ms bound.
    let sim = start(fast().foreign_export_before_trigger(3, 365)).await;
    let dir = tempfile::tempdir().unwrap();
    let error = sync(&sim, dir.path(), 1, 6)
        .window_days(2)
        .max_wait_other(Duration::from_millis(50))
        .run()
        .await
        .unwrap_err();
    let Error::SyncIncomplete { report, source } = error else {
        panic!("expected SyncIncomplete, got {error}");
    };
    assert!(matches!(*source, Error::Conflict(_)), "{source}");
    assert!(!report.complete);
    assert_eq!(report.watermark, Some(day(4)));
    assert_eq!(report.windows.iter().filter(|w| w.committed).count(), 2);
    let state = SyncState::load(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(state.watermark, Some(day(4)));
    assert!(!state.last_run.as_ref().unwrap().complete);

    // The foreign export ends; the next run goes on from day 5 (minus the lookback).
    sim.advance(Duration::from_secs(3600));
    let next = run_ok(sync(&sim, dir.path(), 1, 6).window_days(2).lookback_days(0)).await;
    let windows: Vec<Window> = next.windows.iter().map(|w| w.window).collect();
    assert_eq!(
        windows,
        [Window {
            first: day(5),
            last: day(6)
        }]
    );
    let rows = dataset_rows(dir.path());
    assert_eq!(rows, reference_rows(&sim, 1, 6).await);
}

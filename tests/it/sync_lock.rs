//! Two syncs on one local destination: the second waits for the first's
//! lock (then adds nothing) or, fail-fast, is refused with the downloader's
//! error while the first completes. The first is held at a checkpoint by a
//! [`Gate`], so the overlap is certain, not timed.

use std::path::Path;

use userpilot_appex::{
    Error,
    error::LockHolder,
    ext::{
        download::LockPolicy,
        sync::{Checkpoint, SyncReport},
    },
    simulator::{Route, Simulator},
};

use crate::support::sync::{
    Gate, dataset_rows, fast, has_duplicates, lock_waits, reference_rows, start, sync,
};

/// A first sync of days 1 to 5, held after its first trigger (holding the
/// lock) until the gate opens.
async fn held_first(
    sim: &Simulator,
    dir: &Path,
) -> (Gate, tokio::task::JoinHandle<Result<SyncReport, Error>>) {
    let gate = Gate::default();
    let first = tokio::spawn(
        sync(sim, dir, 1, 5)
            .checkpoint_hook(gate.at(Checkpoint::AfterTrigger))
            .run(),
    );
    gate.reached().await;
    (gate, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_sync_fails_fast_with_the_busy_error_while_the_first_completes() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let (gate, first) = held_first(&sim, dir.path()).await;

    let refused = sync(&sim, dir.path(), 1, 5)
        .lock_policy(LockPolicy::FailFast)
        .run()
        .await
        .unwrap_err();
    match &refused {
        Error::DirectoryBusy {
            dir: busy,
            pid,
            held_by,
        } => {
            assert_eq!(busy, &dir.path().join("_appex"));
            assert_eq!(*pid, Some(std::process::id()));
            assert_eq!(*held_by, Some(LockHolder::Sync));
            assert_eq!(
                refused.to_string(),
                format!(
                    "{} is in use by another appex sync (pid {})",
                    busy.display(),
                    std::process::id()
                )
            );
        }
        other => panic!("expected DirectoryBusy, got {other:?}"),
    }
    // The refused run triggered nothing.
    assert_eq!(sim.request_count(Route::TriggerExport), 1);

    gate.open();
    let report = first.await.unwrap().unwrap();
    assert!(report.complete);
    assert_eq!(report.new_rows, 150);
    let rows = dataset_rows(dir.path());
    assert!(!has_duplicates(&rows));
    assert_eq!(rows, reference_rows(&sim, 1, 5).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_sync_waits_for_the_lock_then_adds_nothing() {
    let sim = start(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let (gate, first) = held_first(&sim, dir.path()).await;

    let (on_wait, waiting) = lock_waits();
    let second = tokio::spawn(sync(&sim, dir.path(), 1, 5).on_progress(on_wait).run());
    let holder = waiting.await.expect("the second sync waits for the lock");
    assert!(holder.contains("_appex"), "{holder}");
    // Still one trigger: the waiting run has not started.
    assert_eq!(sim.request_count(Route::TriggerExport), 1);

    gate.open();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.new_rows, 150);
    let second = second.await.unwrap().unwrap();
    assert!(second.complete);
    assert_eq!(second.new_rows, 0, "the second run found the first's days");
    assert_eq!(second.exports_triggered, 1, "only the lookback window");
    let rows = dataset_rows(dir.path());
    assert!(!has_duplicates(&rows));
    assert_eq!(rows, reference_rows(&sim, 1, 5).await);
}

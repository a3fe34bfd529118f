//! Syncing into S3 (moto on 127.0.0.1): the days read back through
//! `object_store` hold the simulator's rows, a second run changes nothing,
//! the state is one PUT per save, nothing lands outside the prefix, and the
//! lock object `_appex/lock.json` keeps two syncs apart.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};
use userpilot_appex::{
    Error,
    dataset::{Destination, DestinationOptions, day_key, open},
    error::LockHolder,
    ext::{
        download::LockPolicy,
        sync::{Checkpoint, LOCK_KEY, LookupRefresh, STATE_KEY, SyncRun, SyncState},
    },
    simulator::{Route, Simulator},
};

use crate::support::{
    python::{self, ACCESS_KEY, Moto, SECRET_KEY},
    sync::{
        Gate, client, day, fast, lock_waits, parquet_ids, quick_wait, reference_rows, run_ok, start,
    },
};

/// The variables `moto.env()` sets, as settings (`aws_access_key_id`…).
fn options(moto: &Moto) -> DestinationOptions {
    let s3_config = moto
        .env()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    DestinationOptions {
        s3_config,
        ..DestinationOptions::default()
    }
}

/// A sync of `first..=last` into `s3://{bucket}/team/copy`, staging in `staging`.
fn s3_sync(
    sim: &Simulator,
    moto: &Moto,
    bucket: &str,
    staging: &std::path::Path,
    first: u32,
    last: u32,
) -> SyncRun {
    client(sim)
        .sync(format!("s3://{bucket}/team/copy"))
        .destination_options(options(moto))
        .staging_dir(staging.join("staging"))
        .start(day(first))
        .end(day(last))
        .wait_policy(quick_wait())
        .lookups(LookupRefresh::Skip)
}

/// A fail-fast sync of days 1 to 5, which must be refused as busy.
async fn refused(
    sim: &Simulator,
    moto: &Moto,
    bucket: &str,
    staging: &Path,
) -> (PathBuf, Option<u32>) {
    let error = s3_sync(sim, moto, bucket, staging, 1, 5)
        .lock_policy(LockPolicy::FailFast)
        .run()
        .await
        .unwrap_err();
    match error {
        Error::DirectoryBusy { dir, pid, held_by } => {
            assert_eq!(held_by, Some(LockHolder::Sync), "held by a sync");
            (dir, pid)
        }
        other => panic!("expected DirectoryBusy, got {other:?}"),
    }
}

/// Runs a boto3 snippet against moto with `s3` bound; returns its output.
fn boto3(moto: &Moto, body: &str) -> String {
    let script = format!(
        "import boto3,sys,json\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
             aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n{body}"
    );
    python::run(&script, &[&moto.endpoint, ACCESS_KEY, SECRET_KEY])
}

fn bucket_keys(moto: &Moto, bucket: &str) -> Vec<String> {
    let out = boto3(
        moto,
        &format!(
            "for o in s3.list_objects_v2(Bucket='{bucket}').get('Contents', []): print(o['Key'])\n"
        ),
    );
    out.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_into_s3_lands_the_days_and_a_second_run_changes_nothing() {
    let moto = Moto::start();
    moto.create_bucket("appex-sync");
    // Versioning on: every PUT of the state leaves one version.
    boto3(
        &moto,
        "s3.put_bucket_versioning(Bucket='appex-sync', VersioningConfiguration={'Status': 'Enabled'})\n",
    );
    let sim = start(fast()).await;
    let tmp = tempfile::tempdir().unwrap();
    let report = s3_sync(&sim, &moto, "appex-sync", tmp.path(), 1, 5)
        .window_days(3)
        .run()
        .await
        .unwrap();
    assert!(report.complete);
    assert_eq!(report.windows.len(), 2);
    assert_eq!(report.new_rows, 150);

    // Back through object_store: the state, and every day's rows.
    let dest = open("s3://appex-sync/team/copy", &options(&moto)).unwrap();
    let state = SyncState::from_json(&dest.get(STATE_KEY).await.unwrap().unwrap()).unwrap();
    assert_eq!(state.watermark, Some(day(5)));
    assert!(state.in_flight.is_none());
    let reference = reference_rows(&sim, 1, 5).await;
    assert_eq!(reference.len(), 5);
    for (d, ids) in &reference {
        let file = dest.get(&day_key(*d)).await.unwrap().expect("day landed");
        assert_eq!(&parquet_ids(file), ids, "{d}");
        assert_eq!(state.days[d].rows, ids.len() as u64);
    }

    // Exactly the dataset's objects, all under the prefix; no lock left,
    // no temporary object.
    let mut expected: Vec<String> = reference
        .keys()
        .map(|d| format!("team/copy/{}", day_key(*d)))
        .collect();
    expected.push(format!("team/copy/{STATE_KEY}"));
    expected.sort();
    assert_eq!(bucket_keys(&moto, "appex-sync"), expected);

    // The state is one PUT per save: a save after each trigger, one after
    // each window's commit, one at the end.
    let versions = boto3(
        &moto,
        "v = s3.list_object_versions(Bucket='appex-sync', Prefix='team/copy/_appex/state.json')\n\
         print(len([x for x in v.get('Versions', []) if x['Key'] == 'team/copy/_appex/state.json']))\n",
    );
    assert_eq!(
        versions.trim(),
        "5",
        "2 windows × 2 saves + the run's record"
    );

    let second = s3_sync(&sim, &moto, "appex-sync", tmp.path(), 1, 5)
        .run()
        .await
        .unwrap();
    assert!(second.complete);
    assert_eq!(second.new_rows, 0);
    assert_eq!(second.exports_triggered, 1, "only the lookback window");
    for (d, ids) in &reference {
        let file = dest.get(&day_key(*d)).await.unwrap().unwrap();
        assert_eq!(&parquet_ids(file), ids, "{d} after the second run");
    }
    assert_eq!(bucket_keys(&moto, "appex-sync"), expected);
}

/// moto with `bucket`, a fast simulator, a staging directory, and the
/// destination `s3://{bucket}/team/copy`.
async fn case(bucket: &str) -> (Moto, Simulator, tempfile::TempDir, Arc<dyn Destination>) {
    let moto = Moto::start();
    moto.create_bucket(bucket);
    let dest = open(&format!("s3://{bucket}/team/copy"), &options(&moto)).unwrap();
    (
        moto,
        start(fast()).await,
        tempfile::tempdir().unwrap(),
        dest,
    )
}

/// Puts a lock object as another run would have left it.
async fn plant_lock(dest: &Arc<dyn Destination>, expires_in: Days) {
    let now = Utc::now();
    let record = json!({
        "owner": "appex-sync-someone-else",
        "host": "elsewhere",
        "pid": 4242,
        "started": now - Days::hours(1),
        "expires": now + expires_in,
    });
    dest.put(LOCK_KEY, serde_json::to_vec(&record).unwrap().into())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_s3_lock_refuses_a_fail_fast_sync_and_an_expired_one_is_taken_over() {
    let (moto, sim, tmp, dest) = case("appex-lock").await;

    plant_lock(&dest, Days::minutes(5)).await;
    let (dir, pid) = refused(&sim, &moto, "appex-lock", tmp.path()).await;
    assert_eq!(dir.to_str(), Some("s3://appex-lock/team/copy"));
    assert_eq!(pid, Some(4242));
    assert_eq!(sim.request_count(Route::TriggerExport), 0);
    assert_eq!(
        bucket_keys(&moto, "appex-lock"),
        [format!("team/copy/{LOCK_KEY}")],
        "nothing written"
    );

    // The same lock, expired: taken over, the sync runs, the lock is gone.
    plant_lock(&dest, Days::minutes(-1)).await;
    let report = run_ok(
        s3_sync(&sim, &moto, "appex-lock", tmp.path(), 1, 5).lock_policy(LockPolicy::FailFast),
    )
    .await;
    assert!(report.complete);
    assert_eq!(report.new_rows, 150);
    assert!(dest.get(LOCK_KEY).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_syncs_on_one_s3_destination_fail_fast_or_wait_and_the_holder_refreshes_its_lock() {
    let (moto, sim, tmp, dest) = case("appex-two").await;
    let gate = Gate::default();
    let first = tokio::spawn(
        s3_sync(&sim, &moto, "appex-two", tmp.path(), 1, 5)
            .lock_expiry(std::time::Duration::from_secs(3))
            .checkpoint_hook(gate.at(Checkpoint::AfterTrigger))
            .run(),
    );
    gate.reached().await;

    // The holder's record: this process, and an expiry it moves forward.
    let read = || async {
        let bytes = dest.get(LOCK_KEY).await.unwrap().expect("lock held");
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    let held = read().await;
    assert_eq!(held["pid"], std::process::id());
    let expires = held["expires"].as_str().unwrap().to_string();
    loop {
        let now = read().await;
        assert_eq!(now["owner"], held["owner"]);
        if now["expires"].as_str().unwrap() > expires.as_str() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let (_, pid) = refused(&sim, &moto, "appex-two", tmp.path()).await;
    assert_eq!(pid, Some(std::process::id()));

    let (on_wait, waiting) = lock_waits();
    let second = tokio::spawn(
        s3_sync(&sim, &moto, "appex-two", tmp.path(), 1, 5)
            .on_progress(on_wait)
            .run(),
    );
    let holder = waiting.await.expect("the second sync waits for the lock");
    assert!(holder.contains("s3://appex-two/team/copy"), "{holder}");
    assert!(!holder.contains(SECRET_KEY));
    assert_eq!(sim.request_count(Route::TriggerExport), 1);

    gate.open();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.new_rows, 150);
    let second = second.await.unwrap().unwrap();
    assert_eq!(second.new_rows, 0);
    assert_eq!(second.exports_triggered, 1);
    assert!(dest.get(LOCK_KEY).await.unwrap().is_none());
}

/// `appex sync --dest s3://… --s3-endpoint …` with the credentials in the
/// `AWS_*` variables: lands, a second run adds nothing, `sync status`
/// reads the state from S3, and no output shows the secret key.
#[cfg(feature = "cli")]
#[test]
fn cli_sync_into_s3_and_status_print_no_secret() {
    use crate::support::cli::Sim;
    let moto = Moto::start();
    moto.create_bucket("appex-cli-sync");
    let sim = Sim::start();
    let staging = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = sim.command();
        for (k, v) in moto.env() {
            cmd.env(k, v);
        }
        cmd.env("TMPDIR", staging.path())
            .arg("sync")
            .args(args)
            .args(["--dest", "s3://appex-cli-sync/nightly"])
            .args(["--s3-endpoint", &moto.endpoint]);
        let run = crate::support::cli::Run::of(cmd).ok();
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(SECRET_KEY), "{text}");
        }
        run.json()
    };
    let args = [
        "--start",
        "2025-03-01",
        "--end",
        "2025-03-04",
        "--json",
        "-vv",
    ];
    let first = run(&args);
    assert_eq!(first["complete"], true);
    assert_eq!(first["new_rows"], 200);
    let second = run(&args);
    assert_eq!(second["new_rows"], 0);

    let status = run(&["status", "--json"]);
    let rows: Vec<u64> = status["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [50, 50, 50, 50]);
    assert_eq!(status["state"]["watermark"], "2025-03-04");
    assert!(
        bucket_keys(&moto, "appex-cli-sync")
            .iter()
            .all(|k| k.starts_with("nightly/")),
    );
}

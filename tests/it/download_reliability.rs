//! What a download promises under the faults shared directories, cron and
//! changing objects bring: no planted link followed, no splice of two
//! versions across runs, one run at a time per directory, a clean stop,
//! and names that keep their type suffix. Library side (the CLI side is in
//! `cli_download_faults`; object replaced between runs, concurrent runs and
//! interrupted runs are cells of `fault_matrix`).

use std::{sync::Mutex, time::Duration};

use userpilot_appex::{
    Client, Error, RetryPolicy,
    error::LockHolder,
    ext::download::{LockPolicy, ProgressEvent},
    models::{ExportJob, JobStatus, PresignedUrl, SecretUrl},
    simulator::{Route, Simulator, SimulatorConfig},
};

use crate::support::{files::FileSpec, hang_guard, server::TestServer, simulator};

const FILE_SIZE: u64 = 256 * 1024;

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .seed(5)
        .chunk_duration(Duration::from_millis(10))
        .pending_duration(Duration::from_millis(10))
        .synthetic_file_size(FILE_SIZE)
}

fn client(sim: &Simulator, max_retries: u32) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(max_retries)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .expect("client")
}

/// A completed job of `days` one-day files.
pub async fn completed_job(client: &Client, days: u64) -> ExportJob {
    let from = chrono::NaiveDate::from_ymd_opt(2025, 3, 3).expect("date");
    let wait = simulator::quick_wait(
        Duration::from_millis(10),
        Duration::from_millis(20),
        Duration::from_secs(60),
    );
    simulator::completed_export(client, (from, from + chrono::Days::new(days - 1)), wait).await
}

/// The bytes a presigned URL serves now, fetched directly.
async fn reference(url: &SecretUrl) -> Vec<u8> {
    let response = reqwest::get(url.expose()).await.expect("reference fetch");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body").to_vec()
}

/// The names a download of `job` may write in its directory: the manifest,
/// its (legacy-named) temporary file, the lock file, and each file's final
/// and `.part` names.
pub fn names_a_download_writes(job: &ExportJob) -> Vec<String> {
    let mut names: Vec<String> = vec![
        ".appex-download.json".into(),
        ".appex-download.json.tmp".into(),
        ".appex-download.lock".into(),
    ];
    for file in &job.presigned_urls {
        names.push(file.filename.clone());
        names.push(format!("{}.part", file.filename));
    }
    names
}

/// A victim file in `victims` for each name, and a symbolic link at that
/// name in `dir` pointing at it; returns each victim with its content.
#[cfg(unix)]
pub fn plant_links(
    dir: &std::path::Path,
    victims: &std::path::Path,
    names: &[String],
) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut planted = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let victim = victims.join(format!("victim-{i}"));
        let original = format!("victim {i}: must stay as it is\n").into_bytes();
        std::fs::write(&victim, &original).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        planted.push((victim, original));
    }
    planted
}

/// Every victim is byte-identical and `dir` holds regular files only.
pub fn assert_no_link_followed(dir: &std::path::Path, planted: &[(std::path::PathBuf, Vec<u8>)]) {
    for (victim, original) in planted {
        assert_eq!(
            &std::fs::read(victim).unwrap(),
            original,
            "{} was written through a link",
            victim.display()
        );
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        assert!(
            meta.is_file(),
            "{:?} is not a regular file",
            entry.file_name()
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn no_link_planted_at_any_name_the_download_writes_is_followed() {
    let sim = simulator::start(config()).await;
    let client = client(&sim, 2);
    let job = completed_job(&client, 2).await;
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let victims = root.path().join("victims");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&victims).unwrap();
    let planted = plant_links(&dir, &victims, &names_a_download_writes(&job));

    let report = hang_guard(client.download(&job, &dir).run())
        .await
        .expect("download");

    assert_no_link_followed(&dir, &planted);
    for (file, url) in report.files.iter().zip(&job.presigned_urls) {
        assert_eq!(file.filename, url.filename, "the planted link took no name");
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            reference(&url.url).await
        );
    }
}

#[tokio::test]
async fn a_part_without_a_recorded_version_is_fetched_from_zero() {
    let sim = simulator::start(config().drop_download_after(50_000, 1)).await;
    let client = client(&sim, 0);
    let job = completed_job(&client, 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect_err("the drop fails the run");
    // The manifest as a client that recorded no version wrote it.
    let manifest_path = dir.path().join(".appex-download.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let entries = manifest["jobs"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    let entry = entries[0].as_object_mut().unwrap();
    assert!(entry.remove("resume").is_some(), "the version was recorded");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let report = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("download");

    let expected = reference(&job.presigned_urls[0].url).await;
    assert_eq!(std::fs::read(&report.files[0].path).unwrap(), expected);
    let ranges: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download)
        .map(|r| r.headers.range)
        .collect();
    assert_eq!(
        ranges,
        [None, None, None],
        "dropped run, then from zero (no resume of unvouched bytes), then the reference"
    );
}

#[tokio::test]
async fn a_busy_directory_fails_fast_or_is_waited_for_with_a_note_and_the_first_run_completes() {
    // The first run's file stops after 16 KiB until released: it cannot end
    // before the second run tries the lock, however loaded the machine.
    let sim = simulator::start(config().hold_download_after(16 * 1024, 1)).await;
    let client = client(&sim, 2);
    let job = completed_job(&client, 1).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Mutex::new(Some(started_tx));
    let first = tokio::spawn(
        client
            .download(&job, dir.path())
            .on_progress(move |p| {
                if p.event == ProgressEvent::Started
                    && let Some(tx) = started_tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            })
            .run(),
    );
    hang_guard(started_rx).await.expect("the first run started");

    let err = hang_guard(
        client
            .download(&job, dir.path())
            .lock_policy(LockPolicy::FailFast)
            .run(),
    )
    .await
    .expect_err("busy");
    let Error::DirectoryBusy {
        dir: busy,
        pid,
        held_by,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(busy, dir.path());
    assert_eq!(*pid, Some(std::process::id()));
    assert_eq!(*held_by, Some(LockHolder::Download));
    assert_eq!(
        err.to_string(),
        format!(
            "{} is in use by another appex download (pid {})",
            dir.path().display(),
            std::process::id()
        )
    );

    // A waiting run is told once, with the holder, then waits its turn.
    let (waiting_tx, waiting_rx) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(
        client
            .download(&job, dir.path())
            .on_lock_wait(move |held_by, pid| {
                let _ = waiting_tx.send((held_by, pid));
            })
            .run(),
    );
    let holder = hang_guard(waiting_rx).await.expect("the note");
    assert_eq!(
        holder,
        (Some(LockHolder::Download), Some(std::process::id()))
    );
    assert!(
        !waiting.is_finished(),
        "it waits while the first run holds the lock"
    );

    sim.release_held_downloads();
    let report = hang_guard(first)
        .await
        .unwrap()
        .expect("the first run completes");
    assert_eq!(
        std::fs::read(&report.files[0].path).unwrap(),
        reference(&job.presigned_urls[0].url).await
    );
    let second = hang_guard(waiting)
        .await
        .unwrap()
        .expect("the waiting run completes");
    assert!(
        second.files[0].skipped,
        "it found the file the first run completed"
    );
}

#[tokio::test]
async fn shortened_reserved_and_control_names_keep_their_suffix_and_stay_unique() {
    let server = TestServer::start().await;
    let long_a = format!("{}.ndjson.gz", "a".repeat(300));
    let long_b = format!("{}b.ndjson.gz", "a".repeat(299));
    let names = [
        long_a.as_str(),
        long_b.as_str(),
        "CON.csv",
        "nul.parquet",
        "com1.avro",
        "line\nbreak.csv.gz",
        "esc\u{1b}[31m.ndjson.gz",
        "nul\u{0}byte.ndjson",
    ];
    let mut files = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = format!("/files/{i}");
        server.file(&path, FileSpec::bytes(vec![i as u8; 10 + i]));
        files.push(PresignedUrl {
            filename: name.to_string(),
            url: SecretUrl::new(server.url(&path, "sig")),
            ..PresignedUrl::default()
        });
    }
    let job = ExportJob {
        job_id: Some("job-names".into()),
        status: Some(JobStatus::Completed),
        presigned_urls: files,
        ..ExportJob::default()
    };
    let client = Client::builder()
        .api_key("key-for-names")
        .base_url(server.base_url())
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("tempdir");

    let report = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("download");

    let local: Vec<&str> = report.files.iter().map(|f| f.filename.as_str()).collect();
    let suffixes = [
        ".ndjson.gz",
        ".ndjson.gz",
        ".csv",
        ".parquet",
        ".avro",
        ".csv.gz",
        ".ndjson.gz",
        ".ndjson",
    ];
    for ((name, suffix), raw) in local.iter().zip(suffixes).zip(names) {
        assert!(name.ends_with(suffix), "{raw:?} became {name:?}");
        assert!(name.len() <= 255, "{name}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
    assert!(local[0].starts_with("aaaa") && local[1].starts_with("aaaa"));
    assert!(local[2].starts_with("CON-"), "{}", local[2]);
    let unique: std::collections::BTreeSet<_> = local.iter().collect();
    assert_eq!(unique.len(), local.len(), "names are unique: {local:?}");
    for (i, file) in report.files.iter().enumerate() {
        assert_eq!(std::fs::read(&file.path).unwrap(), vec![i as u8; 10 + i]);
    }

    // A second run finds the same names (stable) and skips every file.
    let again = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("second run");
    let again: Vec<&str> = again.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(again, local);
}

#[tokio::test]
async fn a_download_dropped_mid_transfer_leaves_a_state_the_next_run_resumes_exactly() {
    const HELD: u64 = 48 * 1024;
    // The file stops after HELD bytes until released: the future is
    // dropped with exactly those received, however loaded the machine.
    let sim = simulator::start(config().hold_download_after(HELD, 1)).await;
    let client = client(&sim, 2);
    let job = completed_job(&client, 1).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
    let held_tx = Mutex::new(Some(held_tx));
    let download = client
        .download(&job, dir.path())
        .on_progress(move |p| {
            if p.file_bytes >= HELD
                && let Some(tx) = held_tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        })
        .run();
    tokio::select! {
        ended = download => panic!("a held download cannot end: {ended:?}"),
        held = hang_guard(held_rx) => held.expect("the transfer reached the held byte"),
    }
    // The future is dropped: no final name was given.
    let name = &job.presigned_urls[0].filename;
    assert!(!dir.path().join(name).exists());

    let report = hang_guard(client.download(&job, dir.path()).run())
        .await
        .expect("the next run");

    let downloads: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download)
        .collect();
    assert_eq!(downloads.len(), 2, "the dropped transfer, then one resume");
    assert_eq!(downloads[0].headers.range, None);
    assert_eq!(
        downloads[1].headers.range,
        Some(format!("bytes={HELD}-")),
        "resumed after exactly the bytes received"
    );
    assert!(
        downloads[1].headers.if_range.is_some(),
        "the version was recorded"
    );
    assert_eq!(downloads[1].status, 206);
    let expected = reference(&job.presigned_urls[0].url).await;
    assert_eq!(std::fs::read(&report.files[0].path).unwrap(), expected);
    assert!(!report.files[0].skipped);
    assert!(!dir.path().join(format!("{name}.part")).exists());
}

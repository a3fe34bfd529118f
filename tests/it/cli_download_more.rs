//! More of the download guarantees, black-box through the `appex` binary:
//! no planted link followed, no splice of two versions of an object across
//! runs, names that keep their suffix for `appex records`, Ctrl-C twice
//! and during `export`'s wait, a run killed outright, the busy message for
//! an older version's lock file, server strings escaped in `jobs list` and
//! `lookups`, and a short API key redacted only where it stands alone.

use std::path::PathBuf;

use serde_json::json;
use userpilot_appex::simulator::Route;

use crate::{
    cli_download_faults::{
        HELD, InProgress, completed_job, download, download_in_progress, finish, hour_chunk_sim,
        part, reference, send_signal, spawn_waiting,
    },
    support::{
        JOBS, LOOKUPS,
        cli::{Run, Sim, appex_cmd, days_ago, fast},
        files::FileSpec,
        records::write_ndjson,
        server::{Reply, TestServer},
    },
};

/// Runs the binary built by `args` on a blocking thread (the test's
/// runtime keeps serving the scripted server meanwhile).
async fn run_blocking(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut cmd = appex_cmd();
        cmd.args(args);
        Run::of(cmd)
    })
    .await
    .expect("appex run")
}

/// `--base-url <server> --api-key <key>` then `rest`.
fn against(server: &TestServer, key: &str, rest: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--base-url".to_string(),
        server.base_url(),
        "--api-key".to_string(),
        key.to_string(),
    ];
    args.extend(rest.iter().map(|a| a.to_string()));
    args
}

#[cfg(unix)]
#[test]
fn links_planted_at_every_name_a_cli_download_writes_are_not_followed() {
    use crate::download_reliability::{
        assert_no_link_followed, names_a_download_writes, plant_links,
    };

    let sim = Sim::with(fast().synthetic_file_size(128 * 1024));
    let job = completed_job(&sim, 2);
    let job_id = job.job_id.clone().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    let victims = root.path().join("victims");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&victims).unwrap();
    let planted = plant_links(&dir, &victims, &names_a_download_writes(&job));

    let run = download(&sim, &job_id, &dir, &["--json"]).ok();

    assert_no_link_followed(&dir, &planted);
    let printed = run.json();
    let files = printed["files"].as_array().expect("files");
    assert_eq!(files.len(), job.presigned_urls.len());
    for (i, (file, url)) in files.iter().zip(&job.presigned_urls).enumerate() {
        let path = dir.join(&url.filename);
        assert_eq!(
            file["path"],
            path.display().to_string(),
            "the planted link took no name"
        );
        assert_eq!(std::fs::read(&path).unwrap(), reference(&sim, &job, i));
    }
}

#[test]
fn a_cli_run_after_ctrl_c_never_splices_an_object_replaced_meanwhile() {
    let InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        child,
    } = download_in_progress(HELD);
    send_signal(&child, "-INT");
    assert_eq!(finish(child).code, 130);
    let head_v1 = std::fs::read(part(dir.path(), &name)).expect(".part kept");
    assert_eq!(head_v1.len() as u64, HELD);
    let (v1, etag_v1) = reference_with_etag(&sim, &job);
    assert_eq!(&v1[..head_v1.len()], &head_v1[..]);

    // The object changes between the two runs: same length, new ETag.
    sim.sim.replace_objects();
    let again = download(&sim, &job_id, dir.path(), &[]).ok();

    let v2 = reference(&sim, &job, 0);
    assert_eq!(v2.len(), v1.len(), "same length");
    assert_ne!(
        &v2[..head_v1.len()],
        &head_v1[..],
        "the object really changed"
    );
    assert_eq!(
        std::fs::read(dir.path().join(&name)).unwrap(),
        v2,
        "exactly version 2"
    );
    assert!(again.stdout.contains(&crate::support::sha256_hex(&v2)));
    assert!(!part(dir.path(), &name).exists());
    let resumed: Vec<_> = sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1, "one resume attempt");
    assert_eq!(resumed[0].headers.range, Some(format!("bytes={HELD}-")));
    assert_eq!(
        resumed[0].headers.if_range.as_deref(),
        Some(etag_v1.as_str())
    );
    assert_eq!(resumed[0].status, 200, "the changed object came back whole");
}

/// The bytes and `ETag` the job's first file serves now, fetched directly.
fn reference_with_etag(sim: &Sim, job: &userpilot_appex::models::ExportJob) -> (Vec<u8>, String) {
    let url = job.presigned_urls[0].url.expose().to_string();
    sim.block_on(async move {
        let response = reqwest::get(url).await.expect("reference fetch");
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        (response.bytes().await.expect("body").to_vec(), etag)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_and_reserved_names_keep_their_suffix_so_records_globs_find_every_event() {
    let server = TestServer::start().await;
    let long = format!("{}.ndjson.gz", "d".repeat(300 - ".ndjson.gz".len()));
    assert_eq!(long.len(), 300);
    let names = [long.as_str(), "CON.ndjson.gz", "plain.ndjson.gz"];
    let events = [0..40, 40..70, 70..100];
    let scratch = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (name, range)) in names.iter().zip(events.clone()).enumerate() {
        let source = scratch.path().join(format!("{i}.ndjson.gz"));
        write_ndjson(&source, range, true);
        let path = format!("/files/{i}");
        server.file(&path, FileSpec::bytes(std::fs::read(&source).unwrap()));
        files.push(json!({"filename": name, "url": server.url(&path, "sig")}));
    }
    server.job_json(&json!({
        "job_id": "job-names",
        "status": "completed",
        "presigned_urls": files,
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();

    run_blocking(against(
        &server,
        "key-for-names",
        &["jobs", "download", "job-names", "--out", &out],
    ))
    .await
    .ok();

    // What the shell makes of `<dir>/*.ndjson.gz`.
    let mut globbed: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with(".ndjson.gz")
        })
        .collect();
    globbed.sort();
    assert_eq!(globbed.len(), 3, "every file keeps its suffix: {globbed:?}");
    let local: Vec<String> = globbed
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    // A readable stem: a prefix of the server's name, `-`, 8 hex digits of
    // its hash, the type suffix; 240 bytes at most (room for `.part` and
    // `name (2)` within the usual 255-byte limit).
    let hash = |raw: &str| crate::support::sha256_hex(raw.as_bytes())[..8].to_string();
    let shortened = format!("{}-{}.ndjson.gz", "d".repeat(240 - 1 - 8 - 10), hash(&long));
    let renamed = format!("CON-{}.ndjson.gz", hash("CON.ndjson.gz"));
    let mut expected_names = vec![shortened, renamed, "plain.ndjson.gz".to_string()];
    expected_names.sort();
    assert_eq!(local, expected_names);
    assert!(local.iter().all(|n| n.len() <= 240), "{local:?}");

    let mut args = vec!["records".to_string()];
    args.extend(globbed.iter().map(|p| p.display().to_string()));
    let records = run_blocking(args).await.ok();
    let mut ids: Vec<String> = records
        .stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("one event a line");
            event["internal_event_id"].as_str().expect("id").to_string()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..100).map(|i| format!("evt-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every event of every file, once");
}

#[test]
fn two_quick_ctrl_cs_exit_130_and_leave_a_resumable_state() {
    let InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        child,
    } = download_in_progress(HELD);
    // Two signals back to back: the second may land while the first stop
    // is under way (exit at once) or after it (the clean stop's line).
    // (Not reaped yet, the process can be signalled until `finish`.)
    send_signal(&child, "-INT");
    send_signal(&child, "-INT");
    let run = finish(child);

    assert_eq!(run.code, 130, "stderr: {}", run.stderr);
    // The second signal during the first stop exits at once
    // (`interrupted`); one that comes after the stop finds its line printed
    // (and may add its own before the exit).
    let clean = "interrupted: 0 of 1 files complete; run the same command again to resume";
    let lines: Vec<&str> = run.stderr.lines().collect();
    let allowed = [vec!["interrupted"], vec![clean], vec![clean, "interrupted"]];
    assert!(allowed.contains(&lines), "{:?}", run.stderr);
    let expected = reference(&sim, &job, 0);
    let kept = std::fs::read(part(dir.path(), &name)).expect(".part kept");
    assert_eq!(kept.len() as u64, HELD, "the bytes received stay");
    assert_eq!(&expected[..kept.len()], &kept[..]);

    download(&sim, &job_id, dir.path(), &[]).ok();
    assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), expected);
    let resumed: Vec<_> = sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].headers.range, Some(format!("bytes={HELD}-")));
    assert_eq!(resumed[0].status, 206);
}

#[test]
fn ctrl_c_while_export_waits_names_the_job_and_the_wait_command() {
    let sim = hour_chunk_sim();
    let child = spawn_waiting(
        &sim,
        &["export", "--from", &days_ago(2), "--to", &days_ago(1)],
    );
    send_signal(&child, "-INT");
    let run = finish(child);

    assert_eq!(run.code, 130, "stderr: {}", run.stderr);
    let job_id = sim.sim.job_ids().pop().expect("the export's job");
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "interrupted: job {job_id} is still running on the server; `appex jobs wait {job_id}` waits for it again"
        )
    );
    assert!(run.stdout.is_empty());
    assert_eq!(sim.sim.request_count(Route::TriggerExport), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_list_prints_server_strings_escaped_one_line_per_job() {
    let server = TestServer::start().await;
    let jobs = json!([
        {"job_id": "job\nforged: line", "status": "done\u{1b}[2J", "progress": "5\u{0}%",
         "start_time": "2025-01-07 09:00:00"},
        {"job_id": "plain-job", "status": "completed", "progress": "100%",
         "start_time": "2025-01-08 09:00:00"},
    ]);
    server.on("GET", JOBS, vec![Reply::json(200, jobs.clone())]);

    let run = run_blocking(against(&server, "key-for-escapes", &["jobs", "list"]))
        .await
        .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and one line per job: {:?}",
        run.stdout
    );
    assert!(lines[0].starts_with("JOB_ID"), "{}", lines[0]);
    assert!(lines[1].starts_with("job\\nforged: line  "), "{}", lines[1]);
    assert!(lines[1].contains("done\\x1b[2J"), "{}", lines[1]);
    assert!(lines[1].contains("5\\0%"), "{}", lines[1]);
    assert!(lines[2].starts_with("plain-job "), "{}", lines[2]);
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\0'));

    let run = run_blocking(against(
        &server,
        "key-for-escapes",
        &["jobs", "list", "--json"],
    ))
    .await
    .ok();
    let printed = run.json();
    assert_eq!(printed[0]["job_id"], jobs[0]["job_id"]);
    assert_eq!(printed[0]["status"], jobs[0]["status"]);
    assert_eq!(printed[0]["progress"], jobs[0]["progress"]);
    assert_eq!(printed[1]["job_id"], "plain-job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_print_titles_with_control_characters_one_line_per_item() {
    let server = TestServer::start().await;
    let flows = json!([
        {"id": "f1", "title": "Welcome\nforged: row"},
        {"id": "f2", "title": "esc\u{1b}]0;pwned\u{7}"},
        {"id": "f3", "title": "nul\u{0}byte"},
    ]);
    server.on(
        "GET",
        &format!("{LOOKUPS}flows"),
        vec![Reply::json(200, flows.clone())],
    );

    let run = run_blocking(against(&server, "key-for-lookups", &["lookups", "flows"]))
        .await
        .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "a header and one line per item: {:?}",
        run.stdout
    );
    assert!(lines[0].starts_with("ID"), "{}", lines[0]);
    // Control characters, a line break included, are shown as escapes.
    assert_eq!(lines[1], "f1  Welcome\\nforged: row");
    assert_eq!(lines[2], "f2  esc\\x1b]0;pwned\\x07");
    assert_eq!(lines[3], "f3  nul\\0byte");
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\0'));

    let run = run_blocking(against(
        &server,
        "key-for-lookups",
        &["lookups", "flows", "--json"],
    ))
    .await
    .ok();
    let printed = run.json();
    for i in 0..3 {
        assert_eq!(
            printed[i]["title"], flows[i]["title"],
            "JSON keeps the title exactly"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_api_key_is_redacted_where_it_stands_alone_not_inside_words() {
    let server = TestServer::start().await;
    let key = "abc12";
    server.on(
        "GET",
        &crate::support::job_path("job-x"),
        vec![Reply::json(
            404,
            json!({"errors": [{
                "error_code": "not_found",
                "message": "no job for abc12 here; see xabc12y, abc12def and (abc12)"
            }]}),
        )],
    );

    let run = run_blocking(against(&server, key, &["jobs", "show", "job-x"])).await;
    let line = run.fails_with(4);
    assert!(
        line.contains("no job for <redacted> here; see xabc12y, abc12def and (<redacted>)"),
        "{line}"
    );
    assert_eq!(line.matches(key).count(), 2, "only inside words: {line}");
}

#[test]
fn a_lock_file_from_an_older_version_is_named_as_another_appex_run() {
    let sim = Sim::start();
    let job = completed_job(&sim, 1);
    let job_id = job.job_id.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Held the way an older appex held it: its pid alone in the file.
    let lock = dir.path().join(".appex-download.lock");
    let held = std::fs::File::create(&lock).unwrap();
    held.try_lock().unwrap();
    std::fs::write(&lock, "4242\n").unwrap();

    let line = download(&sim, &job_id, dir.path(), &["--no-wait-lock"]).fails_with(1);
    assert_eq!(
        line,
        format!(
            "error: {} is in use by another appex run (pid 4242)",
            dir.path().display()
        )
    );
    assert_eq!(sim.sim.request_count(Route::Download), 0, "nothing fetched");

    drop(held);
    download(&sim, &job_id, dir.path(), &["--no-wait-lock"]).ok();
    assert_eq!(
        std::fs::read(dir.path().join(&job.presigned_urls[0].filename)).unwrap(),
        reference(&sim, &job, 0)
    );
}

#[test]
fn a_download_killed_outright_leaves_the_directory_unlocked_and_resumable() {
    let InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        mut child,
    } = download_in_progress(HELD);
    send_signal(&child, "-KILL");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), None, "killed by the signal");

    // The lock died with the process: a fail-fast run is not refused.
    let again = download(&sim, &job_id, dir.path(), &["--no-wait-lock"]).ok();
    assert!(again.stdout.contains(&name));
    assert_eq!(
        std::fs::read(dir.path().join(&name)).unwrap(),
        reference(&sim, &job, 0)
    );
    let resumed: Vec<_> = sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].headers.range, Some(format!("bytes={HELD}-")));
    assert!(
        resumed[0].headers.if_range.is_some(),
        "the version was recorded"
    );
    assert_eq!(resumed[0].status, 206);
}

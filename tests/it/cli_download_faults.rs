//! The CLI under the faults of shared directories and impatient users:
//! Ctrl-C stops cleanly (exit 130) and the same command resumes, two runs
//! into one directory take turns (or the second says the directory is busy),
//! server strings are printed escaped, and the API key never goes out over
//! plain http to another host.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use userpilot_appex::{
    models::ExportJob,
    simulator::{Route, SimulatorConfig},
};

use crate::support::{
    cli::{Run, Sim, appex_cmd, days_ago, fast, sha256_of},
    server::TestServer,
};

/// A simulator whose files are 512 KiB, served slowly (8 KiB every 10 ms:
/// about 0.6 s a file), so a run can be interrupted or overlapped.
fn slow_sim() -> Sim {
    Sim::with(slow(fast()))
}

/// A slow simulator whose first download of each file sends `bytes` bytes
/// and then holds the connection until released: a download stopped or
/// overlapped there cannot finish first, however loaded the machine.
pub fn held_sim(bytes: u64) -> Sim {
    Sim::with(slow(fast()).hold_download_after(bytes, 1))
}

fn slow(config: SimulatorConfig) -> SimulatorConfig {
    config
        .synthetic_file_size(512 * 1024)
        .slow_body(8 * 1024, Duration::from_millis(10))
}

/// A completed job of `days` one-day files, through the library.
pub fn completed_job(sim: &Sim, days: u64) -> ExportJob {
    let client = sim.client();
    sim.block_on(crate::download_reliability::completed_job(&client, days))
}

/// A one-file download running in the background against a
/// [`held_sim`]: its `.part` holds exactly the `bytes` bytes sent before
/// the simulator holds the connection.
pub struct InProgress {
    pub sim: Sim,
    pub job: ExportJob,
    pub job_id: String,
    pub name: String,
    pub dir: tempfile::TempDir,
    pub child: Child,
}

pub fn download_in_progress(bytes: u64) -> InProgress {
    let sim = held_sim(bytes);
    let job = completed_job(&sim, 1);
    let job_id = job.job_id.clone().unwrap();
    let name = job.presigned_urls[0].filename.clone();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_download(&sim, &job_id, dir.path(), &[]);
    wait_for_bytes(&part(dir.path(), &name), bytes);
    InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        child,
    }
}

/// The bytes a file of the job serves, fetched directly.
pub fn reference(sim: &Sim, job: &ExportJob, i: usize) -> Vec<u8> {
    let url = job.presigned_urls[i].url.expose().to_string();
    sim.block_on(async move {
        let response = reqwest::get(url).await.expect("reference fetch");
        response.bytes().await.expect("body").to_vec()
    })
}

/// `appex jobs download <id> --out <dir> <extra>`, to run or spawn.
pub fn download_cmd(sim: &Sim, job_id: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = sim.command();
    cmd.args(["jobs", "download", job_id, "--out"])
        .arg(dir)
        .args(extra);
    cmd
}

/// `appex jobs download <id> --out <dir> <extra>`, run to its end.
pub fn download(sim: &Sim, job_id: &str, dir: &Path, extra: &[&str]) -> Run {
    Run::of(download_cmd(sim, job_id, dir, extra))
}

/// `appex jobs download <id> --out <dir> <extra>` started in the background.
pub fn spawn_download(sim: &Sim, job_id: &str, dir: &Path, extra: &[&str]) -> Child {
    let mut cmd = download_cmd(sim, job_id, dir, extra);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("spawn appex")
}

/// Waits for a child (a guard against hanging, not a timing assertion);
/// the output is what is left in the pipes the test has not taken.
pub fn finish(mut child: Child) -> Run {
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "appex hung");
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest = |pipe: Option<&mut dyn Read>| {
        let mut text = String::new();
        if let Some(pipe) = pipe {
            pipe.read_to_string(&mut text).unwrap();
        }
        text
    };
    Run {
        code: status.code().expect("exit code (not killed by a signal)"),
        stdout: rest(child.stdout.as_mut().map(|p| p as &mut dyn Read)),
        stderr: rest(child.stderr.as_mut().map(|p| p as &mut dyn Read)),
    }
}

/// Waits until `path` exists with at least `bytes` bytes.
pub fn wait_for_bytes(path: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(path).map_or(true, |m| m.len() < bytes) {
        assert!(Instant::now() < deadline, "{} never grew", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn part(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.part"))
}

pub fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A simulator whose jobs take an hour a chunk: a wait on them keeps
/// polling.
pub fn hour_chunk_sim() -> Sim {
    Sim::with(
        fast()
            .chunk_duration(Duration::from_secs(3600))
            .pending_duration(Duration::from_millis(1)),
    )
}

/// Spawns `appex <args>` against `sim` (output piped) and returns once it
/// has asked for a job twice: its wait is under way.
pub fn spawn_waiting(sim: &Sim, args: &[&str]) -> Child {
    let mut cmd = appex_cmd();
    cmd.args(["--base-url", &sim.url(), "--api-key", sim.sim.api_key()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.sim.request_count(Route::GetJob) < 2 {
        assert!(Instant::now() < deadline, "never polled");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// Where held downloads stop: the bytes a `.part` holds when interrupted.
pub const HELD: u64 = 64 * 1024;

#[test]
fn ctrl_c_during_a_download_exits_130_and_the_same_command_resumes() {
    let InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        child,
    } = download_in_progress(HELD);
    // The transfer is held at a known byte: nothing but the stop itself
    // (sync the `.part`, save the manifest) stands between the signal and
    // the exit.
    let signalled = Instant::now();
    send_signal(&child, "-INT");
    let run = finish(child);
    let stopped_in = signalled.elapsed();

    assert_eq!(run.code, 130, "stderr: {}", run.stderr);
    assert!(
        stopped_in < Duration::from_secs(2),
        "exit {stopped_in:?} after SIGINT"
    );
    assert_eq!(
        run.stderr.trim_end(),
        "interrupted: 0 of 1 files complete; run the same command again to resume"
    );
    assert!(run.stdout.is_empty());
    let expected = reference(&sim, &job, 0);
    let kept = std::fs::read(part(dir.path(), &name)).expect(".part kept");
    assert_eq!(kept.len() as u64, HELD, "exactly the bytes received");
    assert_eq!(
        &expected[..kept.len()],
        &kept[..],
        "the object's first bytes"
    );
    assert!(!dir.path().join(&name).exists());

    let again = download(&sim, &job_id, dir.path(), &[]).ok();
    assert!(again.stdout.contains(&name));
    assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), expected);
    let resumed: Vec<_> = sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Download && r.headers.range.is_some())
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        resumed[0].headers.range,
        Some(format!("bytes={}-", kept.len()))
    );
    assert!(
        resumed[0].headers.if_range.is_some(),
        "the manifest kept the object's version"
    );
    assert_eq!(resumed[0].status, 206);
}

#[test]
fn sigterm_stops_a_jobs_wait_with_the_job_id_and_exit_130() {
    let sim = hour_chunk_sim();
    let client = sim.client();
    let job_id = sim.block_on(async {
        let from = chrono::NaiveDate::from_ymd_opt(2025, 2, 3).unwrap();
        client
            .export()
            .range(from, from)
            .send()
            .await
            .expect("trigger")
            .job_id()
            .to_string()
    });
    let child = spawn_waiting(&sim, &["jobs", "wait", &job_id]);
    send_signal(&child, "-TERM");
    let run = finish(child);
    assert_eq!(run.code, 130, "stderr: {}", run.stderr);
    let line = run.stderr.trim_end();
    assert!(line.starts_with("interrupted: job "), "{line}");
    assert!(
        line.contains(&format!("appex jobs wait {job_id}")),
        "{line}"
    );
}

#[test]
fn two_runs_into_one_directory_both_succeed_one_after_the_other() {
    let sim = slow_sim();
    let job = completed_job(&sim, 2);
    let job_id = job.job_id.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();

    let first = spawn_download(&sim, &job_id, dir.path(), &[]);
    let second = spawn_download(&sim, &job_id, dir.path(), &[]);
    let (first, second) = (finish(first), finish(second));

    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        sim.sim.request_count(Route::Download),
        2,
        "each file fetched once"
    );
    for (i, file) in job.presigned_urls.iter().enumerate() {
        let path = dir.path().join(&file.filename);
        assert_eq!(std::fs::read(&path).unwrap(), reference(&sim, &job, i));
        assert!(!part(dir.path(), &file.filename).exists());
    }
    let skipped = [&first, &second]
        .iter()
        .filter(|r| r.stdout.contains("(already complete)"))
        .count();
    assert_eq!(skipped, 1, "the later run found the files complete");
}

#[test]
fn a_busy_directory_fails_at_once_under_no_wait_lock_else_is_waited_for_with_a_note() {
    let InProgress {
        sim,
        job,
        job_id,
        name,
        dir,
        child: first,
    } = download_in_progress(1);
    let busy = download(&sim, &job_id, dir.path(), &["--no-wait-lock"]);
    let line = busy.fails_with(1);
    assert_eq!(
        line,
        format!(
            "error: {} is in use by another appex download (pid {})",
            dir.path().display(),
            first.id()
        )
    );

    // Without the flag it says why it waits, once, then waits its turn.
    let mut waiting = spawn_download(&sim, &job_id, dir.path(), &[]);
    let stderr = waiting.stderr.take().expect("piped stderr");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stderr).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let note = line_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a note on stderr (hang guard)");
    assert_eq!(
        note.trim_end(),
        format!(
            "waiting: {} is in use by another appex download (pid {})",
            dir.path().display(),
            first.id()
        )
    );

    sim.sim.release_held_downloads();
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let waited = finish(waiting);
    assert_eq!(
        waited.code, 0,
        "the waiting run completes: {}",
        waited.stderr
    );
    assert_eq!(
        sha256_of(&dir.path().join(&name)),
        crate::support::sha256_hex(&reference(&sim, &job, 0))
    );
}

#[test]
fn no_fsync_downloads_the_same_bytes() {
    let sim = Sim::start();
    let job = completed_job(&sim, 2);
    let job_id = job.job_id.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    download(&sim, &job_id, dir.path(), &["--no-fsync"]).ok();
    for (i, file) in job.presigned_urls.iter().enumerate() {
        assert_eq!(
            std::fs::read(dir.path().join(&file.filename)).unwrap(),
            reference(&sim, &job, i)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_show_prints_server_file_names_escaped_one_line_each() {
    let server = TestServer::start().await;
    let names = [
        "a\nforged: line.csv",
        "esc\u{1b}[2Jwipe.csv",
        "nul\u{0}byte.csv",
    ];
    let files: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({"filename": n, "url": server.url("/f", "sig")}))
        .collect();
    server.job_json(&serde_json::json!({
        "job_id": "job-esc",
        "status": "completed",
        "presigned_urls": files,
    }));
    let base = server.base_url();
    let run = tokio::task::spawn_blocking(move || {
        let mut cmd = appex_cmd();
        cmd.args(["--base-url", &base, "--api-key", "key-for-escapes"])
            .args(["jobs", "show", "job-esc"]);
        Run::of(cmd)
    })
    .await
    .unwrap()
    .ok();

    let lines: Vec<&str> = run.stdout.lines().collect();
    let file_lines: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| !l.starts_with("files:"))
        .skip(1)
        .collect();
    assert_eq!(
        file_lines,
        [
            "  a\\nforged: line.csv",
            "  esc\\x1b[2Jwipe.csv",
            "  nul\\0byte.csv"
        ]
    );
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\0'));
    assert!(!lines.iter().any(|l| l.starts_with("forged")));
}

#[test]
fn an_http_base_url_to_another_host_is_refused_before_any_connection() {
    let run = appex_cmd()
        .args([
            "--base-url",
            "http://example.invalid",
            "--api-key",
            "k-123456789",
        ])
        .args(["jobs", "list"])
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "error: invalid input: base URL http://example.invalid is http:// to a host other than this machine"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("k-123456789"));

    // Opting in: a warning, then the request is attempted (and fails: the
    // host does not exist), so the exit code is no longer the usage one.
    let run = appex_cmd()
        .args([
            "--base-url",
            "http://example.invalid",
            "--api-key",
            "k-123456789",
        ])
        .args(["--allow-insecure-http", "jobs", "list"])
        .output()
        .expect("run");
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.starts_with("warning: --allow-insecure-http: the API key is sent unencrypted to http://example.invalid"),
        "{stderr}"
    );
    assert_ne!(run.status.code(), Some(2), "{stderr}");

    // Loopback over http is fine without opting in (the simulator).
    let sim = Sim::start();
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    let listed = sim.appex(&["jobs", "list"]).ok();
    assert!(!listed.stderr.contains("warning"));
}

#[test]
fn the_client_refuses_http_to_another_host_when_built_not_when_used() {
    use userpilot_appex::{Client, Error};
    // `build` is synchronous and runs outside any runtime: no lookup, no
    // connection can have happened when it refuses.
    for url in [
        "http://example.invalid",
        "http://10.0.0.1:8080",
        "http://[2001:db8::1]",
    ] {
        let err = Client::builder()
            .api_key("k")
            .base_url(url)
            .build()
            .expect_err(url);
        assert!(matches!(err, Error::InvalidInput(_)), "{url}: {err:?}");
    }
    for url in [
        "http://127.0.0.1:9",
        "http://127.3.4.5",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://example.invalid",
    ] {
        Client::builder()
            .api_key("k")
            .base_url(url)
            .build()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    Client::builder()
        .api_key("k")
        .base_url("http://example.invalid")
        .allow_insecure_http(true)
        .build()
        .expect("opted in");
}

#[test]
fn ctrl_c_during_export_out_names_the_command_that_resumes() {
    let sim = held_sim(64 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = appex_cmd();
    cmd.args(["--base-url", &sim.url(), "--api-key", sim.sim.api_key()])
        .args([
            "export",
            "--from",
            &days_ago(1),
            "--to",
            &days_ago(1),
            "--out",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    // Until the one file's `.part` holds something.
    let deadline = Instant::now() + Duration::from_secs(30);
    let part = loop {
        let found = std::fs::read_dir(dir.path()).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "part"))
        });
        if let Some(part) = found.filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0)) {
            break part;
        }
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    send_signal(&child, "-INT");
    let run = finish(child);

    assert_eq!(run.code, 130, "stderr: {}", run.stderr);
    let job_id = sim.sim.job_ids().pop().expect("a job");
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "interrupted: 0 of 1 files complete; `appex jobs download {job_id} --out {}` resumes",
            dir.path().display()
        )
    );
    assert!(std::fs::metadata(&part).unwrap().len() > 0, ".part kept");
    download(&sim, &job_id, dir.path(), &[]).ok();
    assert!(!part.exists());
}

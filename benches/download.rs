//! Download benchmark: an export of 8 files served by the simulator (in
//! another process, synthetic filler bytes) on loopback, downloaded to
//! disk by `client.download(..).concurrency(8)` (in a third process, so
//! its peak RSS is its own) in three modes, versus 8 `curl -s -o FILE URL`
//! processes fetching the same presigned URLs at once (then, for the fsync
//! comparison, an fsync of each of curl's files, in parallel). Each
//! repetition runs, in this order:
//!
//! - `fsync`: the defaults (`Durability::Fsync`, `Checksum::Sha256`),
//!   compared with curl + fsync;
//! - `none`: `Durability::None` with the default SHA-256, compared with
//!   plain curl;
//! - `staging`: `Durability::None` and `Checksum::None`, what the sync uses
//!   for its staging directory, compared with plain curl;
//! - curl.
//!
//! Every mode must get the same bytes as curl: the SHA-256s the client
//! reports (`fsync`, `none`) are compared with those of curl's files; the
//! `staging` run reports none, so its files are hashed by the bench after
//! the run (outside the timed part) and compared the same way.
//!
//! Run: `cargo bench --bench download --features simulator`
//! (`APPEX_BENCH_REPS=n` repetitions, default 3; `APPEX_BENCH_FILE_MIB=16`
//! (say) one file size, default 16 and 128; `APPEX_BENCH_DIR` for the
//! download directory, default the system temp dir).

mod common;

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{Server, ServerSpec, list, median, status_kib};
use sha2::{Digest, Sha256};
use userpilot_appex::{
    Client,
    ext::download::{Checksum, Durability},
    types::ExportFormat,
};

const CLIENT_ENV: &str = "APPEX_BENCH_DOWNLOAD_CLIENT";
const FILES: u64 = 8;
const MIB: u64 = 1024 * 1024;

fn main() {
    common::serve_if_asked();
    if std::env::var_os(CLIENT_ENV).is_some() {
        client_mode();
        return;
    }
    let Some(reps) = common::start("download", 3) else {
        return;
    };
    let base = std::env::var_os("APPEX_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut summary = Vec::new();
    // `APPEX_BENCH_FILE_MIB=128` (say) runs one file size only.
    let sizes: Vec<u64> = match std::env::var("APPEX_BENCH_FILE_MIB") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![16, 128],
    };
    for file_mib in sizes {
        summary.push(run_size(&base, file_mib * MIB, reps));
    }
    println!();
    println!("== summary (medians of {reps})");
    for line in summary {
        println!("{line}");
    }
}

/// One export size: `reps` alternating runs of ours and curl's.
fn run_size(base: &Path, file_size: u64, reps: usize) -> String {
    let total = file_size * FILES;
    println!();
    println!(
        "-- {} files x {} MiB = {} MiB",
        FILES,
        file_size / MIB,
        total / MIB
    );
    let server = Server::spawn(&ServerSpec {
        seed: 7,
        synthetic_file_size: Some(file_size),
        ..ServerSpec::default()
    });
    let client = server.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let job = runtime.block_on(async {
        let handle = client
            .export()
            .range(
                chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
                chrono::NaiveDate::from_ymd_opt(2025, 1, 8).expect("date"),
            )
            .format(ExportFormat::Ndjson)
            .send()
            .await
            .expect("trigger");
        handle.wait().await.expect("job completes")
    });
    let job_id = job.job_id.clone().expect("job id");
    assert_eq!(job.presigned_urls.len() as u64, FILES);

    let mut ours_mibs = Vec::new();
    let mut none_mibs = Vec::new();
    let mut staging_mibs = Vec::new();
    let mut curl_mibs = Vec::new();
    let mut curl_sync_mibs = Vec::new();
    let mut hwms = Vec::new();
    let mut sampled = Vec::new();
    for rep in 1..=reps {
        // Ours, in its own process: the defaults, then no fsync, then
        // neither fsync nor checksum (staging).
        let ours = run_ours(base, &server, &job_id, total, "fsync");
        ours_mibs.push(total as f64 / MIB as f64 / ours.secs);
        hwms.push(ours.hwm_mib);
        sampled.push(ours.sampled_mib);
        let none = run_ours(base, &server, &job_id, total, "none");
        none_mibs.push(total as f64 / MIB as f64 / none.secs);
        hwms.push(none.hwm_mib);
        sampled.push(none.sampled_mib);
        let staging = run_ours(base, &server, &job_id, total, "staging");
        staging_mibs.push(total as f64 / MIB as f64 / staging.secs);
        hwms.push(staging.hwm_mib);
        sampled.push(staging.sampled_mib);
        let (our_sha, ours_secs, inner_secs) = (ours.sha, ours.secs, ours.inner_secs);
        assert_eq!(none.sha, our_sha, "fsync and none got the same bytes");
        assert_eq!(staging.sha, our_sha, "fsync and staging got the same bytes");

        // curl: 8 processes at once, one per URL.
        let dir = base.join(format!("appex-bench-curl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("curl dir");
        let started = Instant::now();
        let children: Vec<_> = job
            .presigned_urls
            .iter()
            .map(|p| {
                Command::new("curl")
                    .arg("-s")
                    .arg("--fail")
                    .arg("-o")
                    .arg(dir.join(&p.filename))
                    .arg(p.url.expose())
                    .spawn()
                    .expect("curl runs")
            })
            .collect();
        for mut c in children {
            assert!(c.wait().expect("curl waits").success(), "curl failed");
        }
        let curl_secs = started.elapsed().as_secs_f64();
        curl_mibs.push(total as f64 / MIB as f64 / curl_secs);
        // The same, made durable as our client does (fsync of each file).
        let syncs: Vec<_> = job
            .presigned_urls
            .iter()
            .map(|p| {
                let path = dir.join(&p.filename);
                std::thread::spawn(move || {
                    std::fs::File::open(path)
                        .and_then(|f| f.sync_all())
                        .expect("fsync")
                })
            })
            .collect();
        for s in syncs {
            s.join().expect("fsync thread");
        }
        let curl_sync_secs = started.elapsed().as_secs_f64();
        curl_sync_mibs.push(total as f64 / MIB as f64 / curl_sync_secs);
        // Same bytes: every file's sha256 matches.
        assert_eq!(our_sha.len() as u64, FILES);
        for (name, sha) in &our_sha {
            let theirs = sha256_file(&dir.join(name));
            assert_eq!(
                &theirs, sha,
                "curl and our client got different bytes for {name}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "rep {rep}: ours {:.0} MiB/s ({ours_secs:.2} s process, {inner_secs:.2} s in run()), ours without fsync {:.0} MiB/s ({:.2} s), staging (no fsync, no checksum) {:.0} MiB/s ({:.2} s), curl {:.0} MiB/s ({curl_secs:.2} s; {curl_sync_secs:.2} s with fsync), peak RSS {:.1} MiB; sha256 of all {FILES} files equal",
            ours_mibs[rep - 1],
            none_mibs[rep - 1],
            none.secs,
            staging_mibs[rep - 1],
            staging.secs,
            curl_mibs[rep - 1],
            hwms.last().copied().unwrap_or(f64::NAN),
        );
    }
    let server_hwm = server.stop().map_or(f64::NAN, |k| k as f64 / 1024.0);
    let (o, n, st, c, cs) = (
        median(&ours_mibs),
        median(&none_mibs),
        median(&staging_mibs),
        median(&curl_mibs),
        median(&curl_sync_mibs),
    );
    println!(
        "ours MiB/s: [{}]  ours without fsync MiB/s: [{}]  staging MiB/s: [{}]  curl MiB/s: [{}]  curl+fsync MiB/s: [{}]",
        list(&ours_mibs),
        list(&none_mibs),
        list(&staging_mibs),
        list(&curl_mibs),
        list(&curl_sync_mibs)
    );
    let max_hwm = hwms.iter().copied().fold(f64::NAN, f64::max);
    let line = format!(
        "{} MiB export: ours (fsync) {o:.0} MiB/s vs curl+fsync {cs:.0} MiB/s: {:.2}x (goal >= 0.95x); ours (Durability::None, sha256) {n:.0} MiB/s vs curl {c:.0} MiB/s: {:.2}x (goal >= 0.95x); staging (Durability::None, Checksum::None) {st:.0} MiB/s vs curl: {:.2}x; client peak RSS median {:.1} MiB, max {max_hwm:.1} MiB (VmHWM; sampled VmRSS max {:.1} MiB; goal <= 32 MiB); simulator process peak RSS {server_hwm:.1} MiB",
        total / MIB,
        o / cs,
        n / c,
        st / c,
        median(&hwms),
        median(&sampled),
    );
    println!("{line}");
    line
}

/// One run of our client in its own process.
struct Ours {
    secs: f64,
    inner_secs: f64,
    hwm_mib: f64,
    sampled_mib: f64,
    /// Each file's name and SHA-256: as the client reported it, or (for
    /// `staging`, which computes none) hashed by the bench after the run.
    sha: Vec<(String, String)>,
}

/// One run of our client in `mode` (`fsync`, `none` or `staging`).
fn run_ours(base: &Path, server: &Server, job_id: &str, total: u64, mode: &str) -> Ours {
    let dir = base.join(format!("appex-bench-ours-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().expect("exe"))
        .env(CLIENT_ENV, mode)
        .env("APPEX_BENCH_URL", &server.base_url)
        .env("APPEX_BENCH_KEY", &server.api_key)
        .env("APPEX_BENCH_JOB", job_id)
        .env("APPEX_BENCH_OUT", &dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("client process");
    let secs = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "our client failed");
    let mut ours = Ours {
        secs,
        inner_secs: f64::NAN,
        hwm_mib: f64::NAN,
        sampled_mib: f64::NAN,
        sha: Vec::new(),
    };
    let mut files = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let mib = |kib: &str| kib.parse::<f64>().unwrap_or(f64::NAN) / 1024.0;
        match f.as_slice() {
            ["FILE", name, local, bytes] => files.push((
                name.to_string(),
                dir.join(local),
                bytes.parse::<u64>().expect("bytes"),
            )),
            ["SHA", name, sha] => ours.sha.push((name.to_string(), sha.to_string())),
            ["HWM", kib] => ours.hwm_mib = mib(kib),
            ["SAMPLED", kib] => ours.sampled_mib = mib(kib),
            ["SECS", s] => ours.inner_secs = s.parse().unwrap_or(f64::NAN),
            ["BYTES", b] => assert_eq!(b.parse::<u64>().ok(), Some(total)),
            _ => {}
        }
    }
    assert_eq!(files.len() as u64, FILES, "{mode}: every file reported");
    if mode == "staging" {
        // No checksum reported: hash what landed, before the dir goes.
        assert!(ours.sha.is_empty(), "staging computes no sha256");
        for (name, path, bytes) in &files {
            let len = std::fs::metadata(path).expect("staged file").len();
            assert_eq!(
                len, *bytes,
                "{name}: the length on disk is the reported one"
            );
            ours.sha.push((name.clone(), sha256_file(path)));
        }
    }
    assert_eq!(ours.sha.len() as u64, FILES, "{mode}: a sha256 per file");
    let _ = std::fs::remove_dir_all(&dir);
    ours
}

/// The lowercase hex SHA-256 of a file on disk.
fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open file");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read file");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// The measured process: one `client.download(..)` with concurrency 8.
fn client_mode() {
    let var = |k: &str| std::env::var(k).expect(k);
    let client = Client::builder()
        .base_url(var("APPEX_BENCH_URL"))
        .api_key(var("APPEX_BENCH_KEY"))
        .build()
        .expect("client");
    let job_id = var("APPEX_BENCH_JOB");
    let out = PathBuf::from(var("APPEX_BENCH_OUT"));

    // Sample VmRSS every 5 ms besides the kernel's VmHWM.
    let stop = Arc::new(AtomicBool::new(false));
    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_rss) = (stop.clone(), max_rss.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(k) = status_kib("VmRSS") {
                    max_rss.fetch_max(k, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let (durability, checksum) = match std::env::var(CLIENT_ENV).as_deref() {
        Ok("none") => (Durability::None, Checksum::Sha256),
        Ok("staging") => (Durability::None, Checksum::None),
        _ => (Durability::Fsync, Checksum::Sha256),
    };
    let report = runtime
        .block_on(
            client
                .download(job_id.as_str(), &out)
                .concurrency(8)
                .durability(durability)
                .checksum(checksum)
                .run(),
        )
        .expect("download succeeds");
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    println!("SECS {secs:.4}");
    println!("BYTES {}", report.total_bytes());
    for f in &report.files {
        println!("FILE {} {} {}", f.source_filename, f.filename, f.bytes);
        if let Some(sha) = &f.sha256 {
            println!("SHA {} {sha}", f.source_filename);
        }
    }
    println!("HWM {}", status_kib("VmHWM").unwrap_or(0));
    println!("SAMPLED {}", max_rss.load(Ordering::Relaxed));
}

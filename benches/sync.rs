//! Sync benchmark: 30 days × 100k events/day through the simulator (in a
//! process of its own), `Client::sync` into a fresh local dataset (windows
//! of 7 days) versus the baseline of a single export of the whole range,
//! its download and its conversion into the same dataset layout
//! (`dataset::land_files`), in the same run.
//!
//! Each variant runs in a child process of this binary so its peak RSS
//! (VmHWM) is its own. Also run: the sync of 10 days, to show whether peak
//! RSS grows with the number of days, and the same sync run a second time
//! on its own copy (the nightly case: the lookback's days are re-read and
//! merged with the landed ones). Printed: wall times (median and
//! every run), the ratio sync / baseline, API requests, peak RSS.
//!
//! Run: `cargo bench --bench sync --all-features` (`APPEX_BENCH_REPS=n`,
//! default 3; `APPEX_BENCH_EVENTS_PER_DAY`, default 100000;
//! `APPEX_BENCH_DAYS`, default 30).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use chrono::NaiveDate;
use common::{ServerSpec, list, median, print_machine, reps, status_kib};
use userpilot_appex::{
    Client,
    dataset::{DestinationOptions, LandOptions, land_files, open},
    ext::{jobs::WaitPolicy, sync::LookupRefresh},
    types::ExportFormat,
};

/// Env var that makes this binary run one variant and report.
const VARIANT_ENV: &str = "APPEX_BENCH_SYNC_VARIANT";

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("a day")
}

fn wait() -> WaitPolicy {
    WaitPolicy::default()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200))
}

fn main() {
    common::serve_if_asked();
    if let Ok(variant) = std::env::var(VARIANT_ENV) {
        run_variant(&variant);
        return;
    }
    if !common::under_cargo_bench("sync") {
        return;
    }
    print_machine("sync");
    let reps = reps(3);
    let events = env_u64("APPEX_BENCH_EVENTS_PER_DAY").unwrap_or(100_000);
    let days = env_u64("APPEX_BENCH_DAYS").unwrap_or(30);
    let base = std::env::temp_dir().join(format!("appex-bench-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    let server = common::Server::spawn(&ServerSpec {
        seed: 1,
        events_per_day: Some(events as usize),
        ..ServerSpec::default()
    });
    println!("{days} days x {events} events/day, {reps} run(s) each");
    let mut rows: Vec<(&str, u64, Vec<Outcome>)> = Vec::new();
    let mut again = Vec::new();
    for (name, days) in [
        ("single export + convert", days),
        ("sync (7-day windows)", days),
        ("sync, 10 days", 10),
    ] {
        let variant = if name.starts_with("single") {
            "single"
        } else {
            "sync"
        };
        let mut outcomes = Vec::new();
        for rep in 0..reps {
            let dir = base.join(format!("{variant}-{days}-{rep}"));
            outcomes.push(spawn_variant(&server, variant, days, &dir));
            if rows.len() == 1 {
                // The nightly case: the same sync again re-reads the
                // 3-day lookback and merges it with the landed days.
                again.push(spawn_variant(&server, variant, days, &dir));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        rows.push((name, days, outcomes));
    }
    rows.push(("sync again (3-day lookback)", days, again));
    let server_hwm = server.stop();
    let _ = std::fs::remove_dir_all(&base);

    let median_of = |o: &[Outcome]| median(&o.iter().map(|x| x.secs).collect::<Vec<_>>());
    let baseline = median_of(&rows[0].2);
    for (name, days, outcomes) in &rows {
        let secs: Vec<f64> = outcomes.iter().map(|o| o.secs).collect();
        let rss: Vec<f64> = outcomes.iter().map(|o| o.hwm_kib as f64 / 1024.0).collect();
        println!(
            "{name:<26} {days:>3} days: median {:.2}s [{}] ({:.2}x baseline), requests {}, peak RSS {:.0} MiB [{}]",
            median(&secs),
            list(&secs),
            median(&secs) / baseline,
            outcomes.first().map_or(0, |o| o.requests),
            median(&rss),
            list(&rss),
        );
    }
    println!(
        "sync / single export time: {:.2}x (goal <= 1.2x); simulator process peak RSS {} MiB",
        median_of(&rows[1].2) / baseline,
        server_hwm.unwrap_or(0) / 1024
    );
}

struct Outcome {
    secs: f64,
    requests: u64,
    hwm_kib: u64,
}

fn spawn_variant(server: &common::Server, variant: &str, days: u64, dir: &Path) -> Outcome {
    let exe = std::env::current_exe().expect("current exe");
    let output = Command::new(exe)
        .env(VARIANT_ENV, variant)
        .env("APPEX_BENCH_URL", &server.base_url)
        .env("APPEX_BENCH_KEY", &server.api_key)
        .env("APPEX_BENCH_DAYS", days.to_string())
        .env("APPEX_BENCH_OUT", dir)
        .output()
        .expect("run a variant");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "variant {variant} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    Outcome {
        secs: f[0],
        requests: f[1] as u64,
        hwm_kib: f[2] as u64,
    }
}

fn run_variant(variant: &str) {
    let url = std::env::var("APPEX_BENCH_URL").expect("url");
    let key = std::env::var("APPEX_BENCH_KEY").expect("key");
    let days = env_u64("APPEX_BENCH_DAYS").expect("days") as i64;
    let out = PathBuf::from(std::env::var_os("APPEX_BENCH_OUT").expect("out"));
    let client = Client::builder()
        .base_url(url)
        .api_key(key)
        .build()
        .expect("client");
    let last = first_day() + chrono::Duration::days(days - 1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let requests = runtime.block_on(async {
        match variant {
            "sync" => {
                let report = client
                    .sync(out.to_str().expect("utf-8"))
                    .start(first_day())
                    .end(last)
                    .window_days(7)
                    .wait_policy(wait())
                    .lookups(LookupRefresh::Skip)
                    .run()
                    .await
                    .expect("sync");
                report.requests
            }
            _ => {
                let polls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
                let counter = polls.clone();
                let job = client
                    .export()
                    .range(first_day(), last)
                    .format(ExportFormat::Ndjson)
                    .send()
                    .await
                    .expect("export")
                    .wait_policy(wait())
                    .poller()
                    .on_progress(move |_| {
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    })
                    .wait()
                    .await
                    .expect("job");
                let files = out.join("_raw");
                let report = client.download(job, &files).run().await.expect("download");
                let paths: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
                let dest = open(out.to_str().expect("utf-8"), &DestinationOptions::default())
                    .expect("destination");
                land_files(dest.as_ref(), &paths, &LandOptions::default())
                    .await
                    .expect("land");
                // The trigger, the polls, the files.
                1 + polls.load(std::sync::atomic::Ordering::Relaxed) + paths.len() as u64
            }
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "RESULT {secs} {requests} {}",
        status_kib("VmHWM").unwrap_or(0)
    );
}

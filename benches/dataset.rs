//! Dataset benchmark: a week of ndjson.gz export files (7 days x 200k
//! events from the simulator) landed as the Parquet dataset by
//! `appex records FILE… --dest DIR`, versus DuckDB's own
//! `COPY (SELECT * FROM read_json_auto('…/*.ndjson.gz')) TO '…' (FORMAT parquet)`
//! on the same files in the same run. Both run as child processes, timed by
//! wall clock, with their peak RSS from `wait4`. Then the input grows to 4x
//! (4 weeks): peak RSS should stay flat (days wait on disk, are landed one
//! at a time). The other 4x, 4x the events per day
//! (`APPEX_BENCH_EVENTS_PER_DAY=800000 APPEX_BENCH_SCALES=1`), makes each
//! day file 4x larger: an in-order day is staged a row group at a time, so
//! only its dedupe keys and its finished file (read back to be put) grow.
//!
//! DuckDB comes from the Python environment the tests create under
//! `target/pyenv` (created here if missing). Run:
//! `cargo bench --bench dataset --features cli` (`APPEX_BENCH_REPS`,
//! default 3; `APPEX_BENCH_EVENTS_PER_DAY`, default 200000;
//! `APPEX_BENCH_SCALES`, weeks per run, default `1,4`).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use common::{list, median};
use userpilot_appex::types::ExportFormat;

/// Runs a command, prints `seconds peak_rss_kib exit_code`.
const MEASURE: &str = r#"
import os, subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
print(time.monotonic() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"#;

const DUCKDB_COPY: &str = r#"
import sys, duckdb
con = duckdb.connect()
con.execute(f"COPY (SELECT * FROM read_json_auto('{sys.argv[1]}/*.ndjson.gz')) TO '{sys.argv[2]}' (FORMAT parquet)")
"#;

fn main() {
    let Some(reps) = common::start("dataset", 3) else {
        return;
    };
    let per_day: usize = common::env_number("APPEX_BENCH_EVENTS_PER_DAY").unwrap_or(200_000);
    let scales: Vec<u32> = std::env::var("APPEX_BENCH_SCALES")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let python = pyenv();
    let base = std::env::temp_dir().join(format!("appex-bench-dataset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut summary = Vec::new();
    for weeks in scales {
        let days = 7 * weeks;
        let input = base.join(format!("in-{weeks}w"));
        let started = std::time::Instant::now();
        let files = runtime.block_on(common::export_files(
            &input,
            per_day,
            days,
            ExportFormat::Ndjson,
        ));
        let gz: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        println!(
            "\n-- {weeks}x: {days} days x {per_day} events, {} ndjson.gz files, {:.1} MB (made in {:.0} s)",
            files.len(),
            gz as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let (mut ours, mut duck, mut ours_rss, mut duck_rss) = (vec![], vec![], vec![], vec![]);
        for rep in 1..=reps {
            let dest = base.join("ds");
            let _ = std::fs::remove_dir_all(&dest);
            let mut cmd = vec![
                env!("CARGO_BIN_EXE_appex").to_string(),
                "records".into(),
                "-q".into(),
            ];
            cmd.extend(files.iter().map(|f| f.display().to_string()));
            cmd.extend(["--dest".into(), dest.display().to_string()]);
            let (secs, rss) = measure(&python, &cmd);
            let rows = landed_rows(&python, &dest);
            assert_eq!(rows, (per_day * days as usize) as u64, "every event landed");
            ours.push(secs);
            ours_rss.push(rss as f64 / 1024.0);

            let out = base.join("duck.parquet");
            let _ = std::fs::remove_file(&out);
            let (secs, rss) = measure(
                &python,
                &[
                    python.display().to_string(),
                    "-c".into(),
                    DUCKDB_COPY.into(),
                    input.display().to_string(),
                    out.display().to_string(),
                ],
            );
            duck.push(secs);
            duck_rss.push(rss as f64 / 1024.0);
            println!(
                "rep {rep}: ours {:.2} s ({:.0} MiB peak), DuckDB COPY {:.2} s ({:.0} MiB peak), ratio (DuckDB time / ours) {:.2}x",
                ours[rep - 1],
                ours_rss[rep - 1],
                duck[rep - 1],
                duck_rss[rep - 1],
                duck[rep - 1] / ours[rep - 1]
            );
        }
        let ratios: Vec<f64> = duck.iter().zip(&ours).map(|(d, o)| d / o).collect();
        println!(
            "ours s: [{}]; DuckDB s: [{}]; ratios: [{}]; ours peak MiB: [{}]; DuckDB peak MiB: [{}]",
            list(&ours),
            list(&duck),
            list(&ratios),
            list(&ours_rss),
            list(&duck_rss)
        );
        summary.push(format!(
            "{weeks}x ({days} days x {per_day}): ours {:.2} s, DuckDB {:.2} s, ratio {:.2}x (min {:.2}, max {:.2}; goal >= 1.0x); peak RSS ours {:.0} MiB (goal <= 256), DuckDB {:.0} MiB",
            median(&ours),
            median(&duck),
            median(&ratios),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max),
            ours_rss.iter().copied().fold(0.0, f64::max),
            duck_rss.iter().copied().fold(0.0, f64::max),
        ));
        let _ = std::fs::remove_dir_all(&input);
    }
    let _ = std::fs::remove_dir_all(&base);
    println!("\n== summary (medians of {reps}; load: {})", load());
    for line in summary {
        println!("{line}");
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// (seconds, peak RSS KiB) of a command run to success.
fn measure(python: &Path, cmd: &[String]) -> (f64, u64) {
    let out = Command::new(python)
        .arg("-c")
        .arg(MEASURE)
        .args(cmd)
        .output()
        .expect("measure");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert!(
        out.status.success() && f.len() == 3 && f[2] == "0",
        "{cmd:?} failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (f[0].parse().unwrap(), f[1].parse().unwrap())
}

/// Rows in the landed dataset, counted by pyarrow.
fn landed_rows(python: &Path, dest: &Path) -> u64 {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, pyarrow.dataset as ds; print(ds.dataset(sys.argv[1], format='parquet', partitioning='hive').count_rows())",
        ])
        .arg(dest.join("events"))
        .output()
        .expect("pyarrow");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The Python of `target/pyenv` (what the tests create), created if missing.
fn pyenv() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv");
    let python = dir.join("bin/python");
    if !dir.join(".appex-ready").exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "duckdb", "pyarrow"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not create the Python environment {}",
            dir.display()
        );
    }
    python
}

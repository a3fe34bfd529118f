//! Records benchmark: an ndjson.gz and a csv.gz export file (about 200 MB
//! uncompressed, events from the simulator) read into typed
//! `ExportedEvent`s with `RecordReader` (its iterator, a new event per
//! row, and `read_into`, one event reused), in MB/s of uncompressed data,
//! versus `gzip -dc FILE > /dev/null` of the same file (the floor any
//! reader pays). Also shown: flate2's inflate alone, in this process. With
//! the `parquet` feature, the same events as parquet files too.
//!
//! Run: `cargo bench --bench records --features simulator[,parquet]`
//! (`APPEX_BENCH_REPS=n` repetitions, default 5; `APPEX_BENCH_RECORDS_MB`
//! for the uncompressed size, default 200; `APPEX_BENCH_DIR` for the files).

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use common::{list, median};
use flate2::{Compression, read::MultiGzDecoder, write::GzEncoder};
use userpilot_appex::{
    records::{ExportedEvent, RecordReader},
    types::ExportFormat,
};

const DAYS: u32 = 10;
const MB: f64 = 1_000_000.0;

fn main() {
    let Some(reps) = common::start("records", 5) else {
        return;
    };
    let target_mb: f64 = common::env_number("APPEX_BENCH_RECORDS_MB").unwrap_or(200.0);
    let base = std::env::var_os("APPEX_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("appex-bench-records-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("dir");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Probe the size of an event, then size the export to the target.
    let probe = runtime.block_on(common::export_files(
        &base.join("probe"),
        2_000,
        1,
        ExportFormat::Ndjson,
    ));
    let probe_bytes = inflate_len(&probe[0]);
    let per_event = probe_bytes as f64 / 2_000.0;
    let events_per_day = (target_mb * MB / per_event / f64::from(DAYS)).ceil() as usize;
    println!("~{per_event:.0} bytes per ndjson event; {DAYS} days x {events_per_day} events");

    let mut summary = Vec::new();
    let mut ndjson_mbs = None;
    // `APPEX_BENCH_ONLY=csv` (say) runs one format, e.g. under a profiler.
    let only = std::env::var("APPEX_BENCH_ONLY").ok();
    for (format, name) in [
        (ExportFormat::Ndjson, "ndjson.gz"),
        (ExportFormat::Csv, "csv.gz"),
    ] {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        let started = Instant::now();
        let days = runtime.block_on(common::export_files(
            &base.join(name),
            events_per_day,
            DAYS,
            format,
        ));
        let file = base.join(format!("export.{name}"));
        let (raw_bytes, gz_bytes) = join_gzip(&days, &file, format == ExportFormat::Csv);
        for d in &days {
            let _ = std::fs::remove_file(d);
        }
        println!(
            "\n-- {name}: {:.1} MB uncompressed, {:.1} MB gzip (made in {:.1} s)",
            raw_bytes as f64 / MB,
            gz_bytes as f64 / MB,
            started.elapsed().as_secs_f64()
        );
        let expected_events = events_per_day as u64 * u64::from(DAYS);
        // Warm the page cache.
        gzip_dc(&file);
        let (mut ours, mut floor, mut inflate) = (Vec::new(), Vec::new(), Vec::new());
        let mut reused = Vec::new();
        for rep in 1..=reps {
            let t = Instant::now();
            let n = read_events(&file);
            let ours_secs = t.elapsed().as_secs_f64();
            assert_eq!(n, expected_events);
            let t = Instant::now();
            assert_eq!(read_events_into(&file), expected_events);
            let reused_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            gzip_dc(&file);
            let gzip_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            assert_eq!(inflate_len(&file), raw_bytes);
            let inflate_secs = t.elapsed().as_secs_f64();
            let mbs = |s: f64| raw_bytes as f64 / MB / s;
            ours.push(mbs(ours_secs));
            reused.push(mbs(reused_secs));
            floor.push(mbs(gzip_secs));
            inflate.push(mbs(inflate_secs));
            println!(
                "rep {rep}: RecordReader {:.0} MB/s ({:.0} events/s), read_into {:.0} MB/s, gzip -dc {:.0} MB/s, flate2 inflate alone {:.0} MB/s",
                ours[rep - 1],
                n as f64 / ours_secs,
                reused[rep - 1],
                floor[rep - 1],
                inflate[rep - 1]
            );
        }
        println!(
            "RecordReader MB/s: [{}]; read_into MB/s: [{}]; gzip -dc MB/s: [{}]; flate2 MB/s: [{}]",
            list(&ours),
            list(&reused),
            list(&floor),
            list(&inflate)
        );
        let (o, f, i) = (median(&ours), median(&floor), median(&inflate));
        let r = median(&reused);
        if format == ExportFormat::Ndjson {
            ndjson_mbs = Some((o, raw_bytes, f));
        }
        summary.push(format!(
            "{name}: RecordReader {o:.0} MB/s ({:.2}x), read_into {r:.0} MB/s ({:.2}x), gzip -dc {f:.0} MB/s (goal >= 1.0x); flate2 inflate alone {i:.0} MB/s ({:.2}x gzip -dc)",
            o / f,
            r / f,
            i / f
        ));
        let _ = std::fs::remove_file(&file);
    }

    #[cfg(feature = "parquet")]
    if let Some((ndjson, ndjson_bytes, floor)) = ndjson_mbs
        && only
            .as_deref()
            .is_none_or(|o| o == "parquet" || o == "ndjson")
    {
        let started = Instant::now();
        let days = runtime.block_on(common::export_files(
            &base.join("parquet"),
            events_per_day,
            DAYS,
            ExportFormat::Parquet,
        ));
        let size: u64 = days
            .iter()
            .map(|d| std::fs::metadata(d).map_or(0, |m| m.len()))
            .sum();
        println!(
            "\n-- parquet: {DAYS} files, {:.1} MB (made in {:.1} s); MB/s below are of the same events as ndjson ({:.1} MB)",
            size as f64 / MB,
            started.elapsed().as_secs_f64(),
            ndjson_bytes as f64 / MB
        );
        let mut ours = Vec::new();
        for rep in 1..=reps {
            let t = Instant::now();
            let n: u64 = days.iter().map(|d| read_events(d)).sum();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(n, events_per_day as u64 * u64::from(DAYS));
            ours.push(ndjson_bytes as f64 / MB / secs);
            println!(
                "rep {rep}: RecordReader (parquet) {:.0} MB/s ndjson-equivalent ({:.0} events/s)",
                ours[rep - 1],
                n as f64 / secs
            );
        }
        let o = median(&ours);
        summary.push(format!(
            "parquet: RecordReader {o:.0} MB/s ndjson-equivalent, {:.2}x gzip -dc of the ndjson.gz ({floor:.0} MB/s), {:.2}x the ndjson reader",
            o / floor,
            o / ndjson
        ));
    }
    #[cfg(not(feature = "parquet"))]
    let _ = ndjson_mbs;

    let _ = std::fs::remove_dir_all(&base);
    println!();
    println!("== summary (medians of {reps})");
    for line in summary {
        println!("{line}");
    }
}

/// Concatenates gzip files' contents (CSV: one header) into one gzip file
/// at the default level; returns (uncompressed, compressed) bytes.
fn join_gzip(parts: &[PathBuf], out: &Path, csv: bool) -> (u64, u64) {
    let file = std::fs::File::create(out).expect("create");
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::default());
    let mut raw = 0u64;
    for (i, part) in parts.iter().enumerate() {
        let mut reader = BufReader::new(MultiGzDecoder::new(
            std::fs::File::open(part).expect("open part"),
        ));
        if csv && i > 0 {
            let mut header = Vec::new();
            reader.read_until(b'\n', &mut header).expect("header");
        }
        raw += std::io::copy(&mut reader, &mut gz).expect("copy");
    }
    let mut w = gz.finish().expect("finish gzip");
    w.flush().expect("flush");
    drop(w);
    (raw, std::fs::metadata(out).expect("meta").len())
}

/// Reads every event of a file into `ExportedEvent`s; returns the count.
fn read_events(path: &Path) -> u64 {
    let mut n = 0;
    for event in RecordReader::open(path).expect("open") {
        std::hint::black_box(event.expect("event"));
        n += 1;
    }
    n
}

/// Reads every event of a file into one reused `ExportedEvent`
/// (`RecordReader::read_into`); returns the count.
fn read_events_into(path: &Path) -> u64 {
    let mut reader = RecordReader::open(path).expect("open");
    let mut event = ExportedEvent::default();
    let mut n = 0;
    while let Some(read) = reader.read_into(&mut event) {
        read.expect("event");
        std::hint::black_box(&event);
        n += 1;
    }
    n
}

/// The baseline: `gzip -dc FILE > /dev/null`.
fn gzip_dc(path: &Path) {
    let status = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("gzip runs");
    assert!(status.success(), "gzip -dc failed");
}

/// Inflates a gzip file in-process with flate2; returns its length.
fn inflate_len(path: &Path) -> u64 {
    let file = std::fs::File::open(path).expect("open");
    let mut d = MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, file));
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let k = d.read(&mut buf).expect("inflate");
        if k == 0 {
            return n;
        }
        n += k as u64;
    }
}

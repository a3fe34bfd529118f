//! Downloading a job's files with byte progress bars (`jobs download`,
//! `export --out`, `demo`).

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
};

use indicatif::ProgressBar;
use serde::Serialize;
use userpilot_appex::{
    Client, Error,
    error::LockHolder,
    ext::download::{
        Checksum, DownloadReport, DownloadSource, Durability, LockPolicy, ProgressEvent,
    },
};

use crate::{
    args::DownloadFlags,
    errors::CliError,
    interrupt,
    output::{FileOut, Ui, bytes_style},
};

/// `jobs download --json`.
#[derive(Debug, Serialize)]
struct DownloadOut<'a> {
    job_id: &'a str,
    files: Vec<FileOut>,
}

/// The files of a download report, for JSON output.
pub fn files_of(report: &DownloadReport) -> Vec<FileOut> {
    report
        .files
        .iter()
        .map(|f| FileOut {
            filename: f.filename.clone(),
            path: Some(f.path.display().to_string()),
            bytes: Some(f.bytes),
            sha256: f.sha256.clone(),
        })
        .collect()
}

/// Downloads with one byte bar per file (rate and ETA) on stderr. When
/// another download holds the directory: waits for it with a note on
/// stderr, or fails at once under `--no-wait-lock`. Ctrl-C stops it
/// cleanly ([`Error::Interrupted`]).
pub async fn download_with_progress(
    ui: &Ui,
    client: &Client,
    source: impl Into<DownloadSource>,
    dir: &Path,
    concurrency: usize,
    flags: DownloadFlags,
) -> Result<DownloadReport, Error> {
    let multi = ui.multi();
    let bars: Arc<Mutex<HashMap<usize, ProgressBar>>> = Arc::default();
    let callback_bars = bars.clone();
    let durability = if flags.no_fsync {
        Durability::None
    } else {
        Durability::Fsync
    };
    let checksum = if flags.no_checksum {
        Checksum::None
    } else {
        Checksum::Sha256
    };
    let lock = if flags.no_wait_lock {
        LockPolicy::FailFast
    } else {
        LockPolicy::Wait
    };
    let quiet = ui.quiet;
    let shown = dir.display().to_string();
    let result = client
        .download(source, dir)
        .concurrency(concurrency)
        .durability(durability)
        .checksum(checksum)
        .lock_policy(lock)
        .on_lock_wait(move |held_by, pid| {
            if !quiet {
                let holder = LockHolder::describe(held_by, pid);
                eprintln!("waiting: {shown} is in use by {holder}");
            }
        })
        .stop_on(interrupt::requested())
        .on_progress(move |p| {
            let Ok(mut bars) = callback_bars.lock() else {
                return;
            };
            let bar = bars.entry(p.index).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(bytes_style());
                bar.set_prefix(p.filename.to_string());
                bar
            });
            if let Some(total) = p.file_total {
                bar.set_length(total);
            }
            bar.set_position(p.file_bytes);
            match p.event {
                ProgressEvent::Finished => bar.finish_with_message("done"),
                ProgressEvent::Skipped => {
                    bar.set_length(p.file_bytes);
                    bar.finish_with_message("already complete")
                }
                ProgressEvent::Retrying => bar.set_message("retrying"),
                ProgressEvent::Restarted => bar.set_message("restarted"),
                ProgressEvent::Failed => bar.abandon_with_message("failed"),
                _ => {}
            }
        })
        .run()
        .await;
    if let Ok(bars) = bars.lock() {
        for bar in bars.values().filter(|b| !b.is_finished()) {
            bar.abandon();
        }
    }
    result
}

/// Prints a download's outcome: JSON under `--json`, else one line per file.
pub fn print_report(ui: &Ui, report: &DownloadReport) -> Result<(), CliError> {
    if ui.json {
        return ui.print_json(&DownloadOut {
            job_id: &report.job_id,
            files: files_of(report),
        });
    }
    ui.print_lines(file_lines(report))
}

/// One line per downloaded file: path, bytes, sha256 (when computed).
pub fn file_lines(report: &DownloadReport) -> Vec<String> {
    report
        .files
        .iter()
        .map(|f| {
            format!(
                "{}  {} bytes{}{}",
                f.path.display(),
                f.bytes,
                f.sha256
                    .as_ref()
                    .map(|sha| format!("  sha256:{sha}"))
                    .unwrap_or_default(),
                if f.skipped {
                    "  (already complete)"
                } else {
                    ""
                }
            )
        })
        .collect()
}

//! The main job, end to end: trigger an export, wait for it with visible
//! progress, download its files, read the records back and summarise them.
//!
//! ```sh
//! cargo run --example export --features simulator            # against the built-in simulator
//! USERPILOT_API_KEY=… cargo run --example export --features simulator   # against Userpilot
//! ```
//!
//! With `USERPILOT_API_KEY` set it talks to the real API (`USERPILOT_APPEX_URL`
//! for EU / dedicated hosts) and exports the last 7 days; otherwise it starts
//! the simulator in-process. Files land in `$APPEX_OUT` or a temporary folder.

use std::{io::Write, path::PathBuf, time::Instant};

use userpilot_appex::{records::records_stream, types::ExportFormat};

mod common;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> userpilot_appex::Result<()> {
    let started = Instant::now();
    // Keep the simulator (if any) alive for the whole run.
    let (client, _simulator) = common::client().await?;

    // 1. Trigger: the last 7 days of events as ndjson.
    let handle = client
        .export()
        .last_days(7)
        .format(ExportFormat::Ndjson)
        .send()
        .await?;
    eprintln!("triggered export job {}", handle.job_id());

    // 2. Wait, showing progress as it comes.
    let job = handle
        .poller()
        .on_progress(|update| {
            let status = update
                .status()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not visible yet".into());
            eprint!("\r  {status:<12} {:>5}   ", update.progress.to_string());
            let _ = std::io::stderr().flush();
        })
        .wait()
        .await?;
    eprintln!(
        "\r  {:<12} {} file(s)",
        job.status().to_string(),
        job.presigned_urls.len()
    );

    // 3. Download every file (streamed to disk, verified, resumable).
    let out = std::env::var_os("APPEX_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("userpilot-appex-{}", handle.job_id()))
        });
    let report = client.download(&job, &out).run().await?;
    eprintln!(
        "downloaded {} file(s), {} bytes, into {}",
        report.files.len(),
        report.total_bytes(),
        out.display()
    );

    // 4. Read the records back as typed events and summarise them.
    let summary = records_stream(report.files.iter().map(|f| f.path.clone()))
        .summarize()
        .await?;
    println!("{} events in {} file(s)", summary.total, summary.files);
    for (event_type, count) in &summary.by_event_type {
        println!("  {event_type:<18} {count:>8}");
    }
    if let (Some(first), Some(last)) = (summary.first_inserted_at, summary.last_inserted_at) {
        println!("from {first} to {last}");
    }
    eprintln!("done in {:.1?}", started.elapsed());
    Ok(())
}

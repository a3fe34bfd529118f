//! Keep a copy current: the last week synced into a local Parquet dataset
//! (one file per UTC day, deduplicated), then the one DuckDB command line
//! that queries it.
//!
//! ```sh
//! cargo run --example sync --features simulator,dataset            # against the built-in simulator
//! USERPILOT_API_KEY=… cargo run --example sync --features simulator,dataset   # against Userpilot
//! ```
//!
//! With `USERPILOT_API_KEY` set it talks to the real API
//! (`USERPILOT_APPEX_URL` for EU / dedicated hosts); otherwise it starts the
//! simulator in-process. The dataset lands in `$APPEX_OUT` or
//! `./userpilot-events`. Run it twice: the second run re-reads only the
//! lookback (3 days) and adds no row.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use userpilot_appex::ext::sync::SyncProgress;

mod common;

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> userpilot_appex::Result<()> {
    // Keep the simulator (if any) alive for the whole run.
    let (client, _simulator) = common::client().await?;
    let out = std::env::var_os("APPEX_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("userpilot-events"));
    let dest = out.to_string_lossy().into_owned();

    // The last 7 full UTC days, in windows of 7 days, re-reading 3 for late events.
    let yesterday = Utc::now().date_naive() - Duration::days(1);
    let report = client
        .sync(dest.as_str())
        .start(yesterday - Duration::days(6))
        .end(yesterday)
        .on_progress(|p| match p {
            SyncProgress::WindowStarted { window, job_id, .. } => {
                eprintln!("window {window}: export job {job_id}")
            }
            SyncProgress::DayLanded { day } => {
                eprintln!("  {} {} rows ({} new)", day.day, day.rows, day.new_rows)
            }
            _ => {}
        })
        .run()
        .await?;
    eprintln!(
        "{} new rows, {} duplicates dropped, watermark {:?}, {:.1}s",
        report.new_rows,
        report.duplicates_dropped,
        report.watermark,
        report.elapsed.as_secs_f64()
    );
    println!(
        "duckdb -c \"SELECT dt, count(*) AS events FROM read_parquet('{dest}/events/*/*.parquet', hive_partitioning = true) GROUP BY dt ORDER BY dt\""
    );
    Ok(())
}

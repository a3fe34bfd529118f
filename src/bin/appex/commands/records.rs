//! `appex records <FILE>…`: downloaded export files as ndjson of typed
//! events (a JSON array under `--json`), or counts with `--summary`, or
//! landed as a Parquet dataset with `--dest`.

use std::{
    io::{self, BufWriter, Write},
    path::PathBuf,
};

use futures::StreamExt;
use userpilot_appex::records::{Summary, format_micros, records_stream};

use super::Ctx;
use crate::{args::RecordsArgs, errors::CliError, output::Ui};

pub async fn run(ctx: &Ctx, args: RecordsArgs) -> Result<(), CliError> {
    if let Some(dataset) = super::land::open_dest(&args.dest)? {
        let options = userpilot_appex::dataset::LandOptions::default();
        let report = super::land::land_files(&ctx.ui, &dataset, &args.files, options).await?;
        return super::land::print_report(&ctx.ui, &report);
    }
    if args.summary {
        let summary = records_stream(&args.files).summarize().await?;
        return print_summary(&ctx.ui, &summary);
    }
    print_events(&ctx.ui, args.files).await
}

/// Streams the events to stdout, one JSON object a line (or one array).
async fn print_events(ui: &Ui, files: Vec<PathBuf>) -> Result<(), CliError> {
    let mut events = records_stream(&files);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut first = true;
    if ui.json {
        out.write_all(b"[")?;
    }
    while let Some(event) = events.next().await {
        let event = event?;
        if ui.json && !first {
            out.write_all(b",")?;
        }
        if ui.json {
            out.write_all(b"\n  ")?;
        }
        serde_json::to_writer(&mut out, &event).map_err(|e| CliError::json("an event", e))?;
        if !ui.json {
            out.write_all(b"\n")?;
        }
        first = false;
    }
    if ui.json {
        out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
    }
    out.flush()?;
    Ok(())
}

/// The summary: its JSON under `--json`, else counts by event type.
pub fn print_summary(ui: &Ui, summary: &Summary) -> Result<(), CliError> {
    if ui.json {
        return ui.print_json(summary);
    }
    ui.print_lines(summary_lines(summary))
}

/// Counts by event type, then the total and the time span.
pub fn summary_lines(summary: &Summary) -> Vec<String> {
    let width = summary
        .by_event_type
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
        .max("total".len());
    let mut lines: Vec<String> = summary
        .by_event_type
        .iter()
        .map(|(kind, n)| format!("{kind:<width$}  {n}"))
        .collect();
    lines.push(format!("{:<width$}  {}", "total", summary.total));
    if let (Some(first), Some(last)) = (summary.first_inserted_at, summary.last_inserted_at) {
        lines.push(format!(
            "{} file(s), events from {} to {}",
            summary.files,
            format_micros(&first),
            format_micros(&last)
        ));
    }
    lines
}

//! `--dest`: landing files and lookups as a Parquet dataset (a directory or
//! s3://bucket/prefix), with progress per file and per day; `appex sql`.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;
use userpilot_appex::{
    Client,
    dataset::{
        Dataset, DestinationOptions, LandOptions, LandProgress, LandReport, LookupReport,
        current_views,
    },
    ext::lookups::Catalogue,
    models::LookupKind,
};

use super::Invocation;
use crate::{
    args::{DestArgs, SqlArgs},
    errors::CliError,
    output::Ui,
};

/// Opens the dataset `--dest` names.
pub fn open(dest: &str, s3_endpoint: Option<&str>) -> Result<Dataset, CliError> {
    let options = DestinationOptions {
        s3_endpoint: s3_endpoint.map(str::to_owned),
        ..DestinationOptions::default()
    };
    Ok(Dataset::open(dest, &options)?)
}

/// Opens the dataset of `--dest`, if given.
pub fn open_dest(args: &DestArgs) -> Result<Option<Dataset>, CliError> {
    args.dest
        .as_deref()
        .map(|d| open(d, args.s3_endpoint.as_deref()))
        .transpose()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Lands `files` with a bar over the files (rows read) and one per day.
pub async fn land_files(
    ui: &Ui,
    dataset: &Dataset,
    files: &[PathBuf],
    mut options: LandOptions,
) -> Result<LandReport, CliError> {
    let multi: MultiProgress = ui.multi();
    let files_bar = multi.add(ProgressBar::new(files.len() as u64));
    files_bar.set_style(style("{prefix:24!} [{bar:30}] {pos}/{len} files {msg}"));
    files_bar.set_prefix("reading");
    let day_bars: Arc<Mutex<Option<ProgressBar>>> = Arc::default();
    let (fb, db, m) = (files_bar.clone(), day_bars.clone(), multi.clone());
    options.progress = Some(Arc::new(move |p: &LandProgress| match p {
        LandProgress::FileStarted { path, index, .. } => {
            fb.set_position(*index as u64);
            fb.set_message(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        LandProgress::RowsRead(rows) => fb.set_message(format!("{rows} rows")),
        LandProgress::DayStarted { day, index, total } => {
            fb.finish();
            let bar = m.add(ProgressBar::new(*total as u64));
            bar.set_style(style("{prefix:24!} [{bar:30}] {pos}/{len} days {msg}"));
            bar.set_prefix("landing");
            bar.set_position(*index as u64);
            bar.set_message(day.to_string());
            if let Ok(mut slot) = db.lock()
                && let Some(old) = slot.replace(bar)
            {
                old.finish_and_clear();
            }
        }
        LandProgress::DayDone(day) => {
            if let Ok(slot) = db.lock()
                && let Some(bar) = slot.as_ref()
            {
                bar.inc(1);
                bar.set_message(format!("{} {} rows", day.day, day.rows_after));
            }
        }
        _ => {}
    }));
    let result = dataset.land_files(files, &options).await;
    files_bar.finish_and_clear();
    if let Ok(slot) = day_bars.lock()
        && let Some(bar) = slot.as_ref()
    {
        bar.finish_and_clear();
    }
    let report = result?;
    dataset.write_views().await?;
    Ok(report)
}

/// The report as lines: one per day, then the totals.
pub fn report_lines(report: &LandReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .days
        .iter()
        .map(|d| {
            format!(
                "{}  {:>9} rows  {:>7} new  {:>6} dup  {:>10} bytes  {}",
                d.day,
                d.rows_after,
                d.rows_new,
                d.duplicates_dropped,
                d.bytes,
                if d.written { "written" } else { "unchanged" }
            )
        })
        .collect();
    lines.push(format!(
        "{} rows read from {} file(s): {} new, {} duplicates dropped; {} day(s) written ({} bytes) to {}",
        report.rows_in,
        report.files,
        report.rows_new,
        report.duplicates_dropped,
        report.days_written,
        report.bytes_written,
        report.destination
    ));
    lines
}

/// Prints a landing report (its JSON under `--json`).
pub fn print_report(ui: &Ui, report: &LandReport) -> Result<(), CliError> {
    if ui.json {
        return ui.print_json(report);
    }
    ui.print_lines(report_lines(report))
}

/// `appex lookups --dest`: what was landed.
#[derive(Debug, Serialize)]
pub struct LookupsLanded {
    pub destination: String,
    pub tables: Vec<LookupReport>,
}

/// Fetches every lookup and lands each as `lookups/<kind>.parquet`.
pub async fn land_lookups(
    ctx: &Invocation,
    client: &Client,
    dataset: &Dataset,
) -> Result<(), CliError> {
    let bar = ctx
        .ui
        .multi()
        .add(ProgressBar::new(LookupKind::ALL.len() as u64));
    bar.set_style(style("{prefix:24!} [{bar:30}] {pos}/{len} tables {msg}"));
    bar.set_prefix("lookups");
    bar.set_message("fetching");
    let c: Catalogue = client.catalogue().await?;
    let tables = c
        .land_tables(dataset.destination().as_ref(), |table| {
            bar.set_message(table.kind.clone());
            bar.inc(1);
        })
        .await?;
    bar.finish_and_clear();
    dataset.write_views().await?;
    let landed = LookupsLanded {
        destination: dataset.destination().describe(),
        tables,
    };
    if ctx.ui.json {
        return ctx.ui.print_json(&landed);
    }
    let mut lines: Vec<String> = landed
        .tables
        .iter()
        .map(|t| format!("{:<24} {:>6} rows  {:>8} bytes", t.key, t.rows, t.bytes))
        .collect();
    lines.push(format!(
        "{} lookup tables landed in {}",
        landed.tables.len(),
        landed.destination
    ));
    ctx.ui.print_lines(lines)
}

/// `appex sql`: the dataset's DuckDB views (what `_appex/views.sql` holds).
pub async fn sql(ctx: &Invocation, args: SqlArgs) -> Result<(), CliError> {
    let dataset = open(&args.dest, args.s3_endpoint.as_deref())?;
    let sql = current_views(dataset.destination().as_ref()).await?;
    if ctx.ui.json {
        return ctx.ui.print_json(&serde_json::json!({ "sql": sql }));
    }
    ctx.ui.print_lines(sql.lines())
}

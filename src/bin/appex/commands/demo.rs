//! `appex demo`: the whole flow against an in-process simulator.

use std::path::PathBuf;

use chrono::{Days, Utc};
use serde::Serialize;
use userpilot_appex::{
    Client,
    records::{Summary, records_stream},
    simulator::SimulatorConfig,
    types::ExportFormat,
};

use super::{Invocation, download, jobs, records, simulate};
use crate::{args::DemoArgs, errors::CliError, output::FileOut};

/// `demo --json`.
#[derive(Debug, Serialize)]
struct DemoOut {
    job_id: String,
    status: String,
    directory: String,
    files: Vec<FileOut>,
    summary: Summary,
}

pub async fn run(ctx: &Invocation, args: DemoArgs) -> Result<(), CliError> {
    let ui = &ctx.ui;
    let sim = simulate::start(SimulatorConfig::default(), 0).await?;
    ui.note(format!("1/4 simulator started on {}", sim.base_url()));
    let client = Client::builder()
        .base_url(sim.base_url())
        .api_key(sim.api_key())
        .build()?;

    let to = Utc::now().date_naive() - Days::new(1);
    let from = to - Days::new(6);
    let handle = client
        .export()
        .from(from)
        .to(to)
        .format(ExportFormat::Ndjson)
        .send()
        .await?;
    let job_id = handle.job_id().to_string();
    ui.note(format!("2/4 export {from}..{to} triggered: job {job_id}"));
    let job = jobs::wait_with_progress(ui, &handle).await?;
    let status = job.status().as_str().to_string();

    let dir = args.out.unwrap_or_else(demo_dir);
    ui.note(format!(
        "3/4 downloading {} files into {}",
        job.presigned_urls.len(),
        dir.display()
    ));
    let report =
        download::download_with_progress(ui, &client, job, &dir, 4, Default::default()).await?;

    ui.note("4/4 reading the files back");
    let paths: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
    let summary = records_stream(&paths).summarize().await?;
    sim.shutdown().await;

    if ui.json {
        return ui.print_json(&DemoOut {
            job_id,
            status,
            directory: dir.display().to_string(),
            files: download::files_of(&report),
            summary,
        });
    }
    let mut lines = vec![format!(
        "job {job_id} {status}: {} files, {} bytes in {}",
        report.files.len(),
        report.total_bytes(),
        dir.display()
    )];
    lines.extend(download::file_lines(&report));
    lines.push(String::new());
    lines.extend(records::summary_lines(&summary));
    ui.print_lines(lines)
}

/// A new directory under the system temp dir.
fn demo_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "appex-demo-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    ))
}

//! `appex jobs list|show|wait|download`.

use std::time::Duration;

use indicatif::ProgressBar;
use userpilot_appex::{
    Error,
    ext::jobs::{ExportJobHandle, Progress, WaitPolicy},
    models::{ExportJob, ExportJobSummary, JobStatus, SecretUrl},
};

use super::Invocation;
use crate::{
    args::JobsCommand,
    errors::CliError,
    interrupt,
    output::{JobBar, Ui, job_style},
};

pub async fn run(ctx: &Invocation, command: JobsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        JobsCommand::List => {
            let jobs = client.list_jobs().await?;
            if ctx.ui.json {
                ctx.ui.print_json(&jobs)
            } else {
                print_job_table(&ctx.ui, &jobs)
            }
        }
        JobsCommand::Show { job_id } => {
            let job = redacted(client.get_job(&job_id).await?);
            if ctx.ui.json {
                ctx.ui.print_json(&job)
            } else {
                ctx.ui.print_lines(describe_job(&job))
            }
        }
        JobsCommand::Wait { job_id, max_wait } => {
            interrupt::install();
            let handle = client.job(job_id).wait_policy(wait_policy(max_wait));
            let job = redacted(wait_interruptible(&ctx.ui, &handle).await?);
            if ctx.ui.json {
                ctx.ui.print_json(&job)
            } else {
                ctx.ui.print_lines(describe_job(&job))
            }
        }
        JobsCommand::Download {
            job_id,
            out,
            concurrency,
            flags,
        } => {
            interrupt::install();
            let report = super::download::download_with_progress(
                &ctx.ui,
                &client,
                job_id.as_str(),
                &out,
                usize::from(concurrency),
                flags,
            )
            .await?;
            super::download::print_report(&ctx.ui, &report)
        }
    }
}

/// The default wait policy, with `--max-wait` when given.
pub fn wait_policy(max_wait: Option<u64>) -> WaitPolicy {
    let policy = WaitPolicy::default();
    match max_wait {
        Some(secs) => policy.with_max_wait(Duration::from_secs(secs)),
        None => policy,
    }
}

/// The job with its presigned URLs' signatures removed: nothing this
/// command prints carries a credential.
pub fn redacted(mut job: ExportJob) -> ExportJob {
    for file in &mut job.presigned_urls {
        file.url = SecretUrl::new(file.url.redacted());
    }
    job
}

/// [`wait_with_progress`], stopped by Ctrl-C with the command that waits
/// again (the job keeps running on the server).
pub async fn wait_interruptible(ui: &Ui, handle: &ExportJobHandle) -> Result<ExportJob, CliError> {
    tokio::select! {
        result = wait_with_progress(ui, handle) => Ok(result?),
        () = interrupt::requested() => Err(interrupted_wait(handle.job_id())),
    }
}

/// The line a stopped wait prints: the job id, and how to wait again.
pub fn interrupted_wait(job_id: &str) -> CliError {
    CliError::Interrupted(format!(
        "interrupted: job {job_id} is still running on the server; `appex jobs wait {job_id}` waits for it again"
    ))
}

/// Waits for a job with a bar over its chunks on stderr.
pub async fn wait_with_progress(ui: &Ui, handle: &ExportJobHandle) -> Result<ExportJob, Error> {
    let bar = ui.job_bar(handle.job_id());
    bar.set_message("waiting");
    let updates = bar.clone();
    let result = handle
        .poller()
        .on_progress(move |update| {
            show_progress(&updates, &update.progress);
            updates.set_message(
                update
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "not visible yet".into()),
            );
        })
        .wait()
        .await;
    match &result {
        Ok(job) => {
            show_progress(&bar, &Progress::from_job(job));
            if let Some(len) = bar.length() {
                bar.set_position(len);
            }
            bar.finish_with_message("completed");
        }
        Err(Error::JobFailed { .. }) => bar.abandon_with_message("failed"),
        Err(_) => bar.abandon_with_message("stopped"),
    }
    result
}

/// Moves a job bar: chunks when their count is known, else a percentage.
fn show_progress(bar: &ProgressBar, progress: &Progress) {
    if let (Some(done), Some(total)) = (progress.chunks_done, progress.chunks_total) {
        if bar.length() != Some(u64::from(total)) {
            bar.set_style(job_style(JobBar::Chunks));
            bar.set_length(u64::from(total));
        }
        bar.set_position(u64::from(done.min(total)));
    } else if let Some(fraction) = progress.fraction {
        if bar.length() != Some(100) {
            bar.set_style(job_style(JobBar::Percent));
            bar.set_length(100);
        }
        bar.set_position((fraction * 100.0).round() as u64);
    }
}

fn print_job_table(ui: &Ui, jobs: &[ExportJobSummary]) -> Result<(), CliError> {
    if jobs.is_empty() {
        ui.note("no jobs (the environment keeps them 3 days)");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                text(&job.job_id),
                job.status
                    .as_ref()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "-".into()),
                text(&job.progress),
                text(&job.start_time),
                job.elapsed_seconds()
                    .map(|s| format!("{s:.1}s"))
                    .or_else(|| job.elapsed_time.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    ui.print_table(
        &["JOB_ID", "STATUS", "PROGRESS", "STARTED", "ELAPSED"],
        &rows,
    )
}

/// A job as `key: value` lines, files last.
pub fn describe_job(job: &ExportJob) -> Vec<String> {
    let mut lines = vec![
        format!("job_id:    {}", text(&job.job_id)),
        format!("status:    {}", job.status()),
        format!("progress:  {}", Progress::from_job(job)),
    ];
    if let Some(chunk) = &job.current_chunk {
        lines.push(format!("chunk:     {chunk}"));
    }
    if !job.all_chunks.is_empty() {
        lines.push(format!(
            "chunks:    {}/{} done",
            job.completed_chunks.len(),
            job.all_chunks.len()
        ));
    }
    lines.push(format!("started:   {}", text(&job.start_time)));
    lines.push(format!("ended:     {}", text(&job.end_time)));
    if let Some(kind) = &job.job_type {
        lines.push(format!("type:      {kind}"));
    }
    if job.status() == JobStatus::Completed || !job.presigned_urls.is_empty() {
        lines.push(format!("files:     {}", job.presigned_urls.len()));
        for file in &job.presigned_urls {
            lines.push(format!("  {}", file.filename));
        }
    }
    lines
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

//! `appex export`: trigger, wait with progress, download with `--out`,
//! land as a Parquet dataset with `--dest`.

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;
use userpilot_appex::{
    Error,
    dataset::{LandOptions, LandReport},
    ext::{
        export::{ConflictPolicy, ExportTime},
        jobs::JobOrigin,
    },
    models::ExportJob,
};

use super::{Invocation, jobs};
use crate::{
    args::{DownloadFlags, ExportArgs},
    errors::CliError,
    output::FileOut,
};

/// `export --json`.
#[derive(Debug, Serialize)]
pub struct ExportOut {
    pub job_id: String,
    pub status: String,
    pub files: Vec<FileOut>,
    /// With `--dest`: what was landed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed: Option<LandReport>,
}

pub async fn run(ctx: &Invocation, args: ExportArgs) -> Result<(), CliError> {
    let client = ctx.client()?;
    crate::interrupt::install();
    // Opened first: a bad destination fails before any export is triggered.
    let dataset = super::land::open_dest(&args.dest)?;
    let range = (earliest(&args.from), earliest_after(&args.to));
    let mut request = args
        .filters
        .apply(client.export())
        .from(args.from)
        .to(args.to)
        .emails(args.emails)
        .conflict_policy(ConflictPolicy::from(args.on_conflict))
        .wait_policy(jobs::wait_policy(args.max_wait));
    if let Some(format) = args.format {
        request = request.format(format.into());
    }
    let handle = request.send().await?;
    let job_id = handle.job_id().to_string();
    match handle.origin() {
        JobOrigin::Attached => ctx.ui.note(format!(
            "another export was running: following job {job_id} (its filters may differ)"
        )),
        _ => ctx.ui.note(format!("export job {job_id} triggered")),
    }

    if args.no_wait {
        let status = match handle.get().await {
            Ok(job) => job.status().as_str().to_string(),
            // Not visible yet right after the trigger.
            Err(Error::NotFound(_)) => "pending".to_string(),
            Err(e) => return Err(e.into()),
        };
        return if ctx.ui.json {
            ctx.ui.print_json(&ExportOut {
                job_id,
                status,
                files: Vec::new(),
                landed: None,
            })
        } else {
            ctx.ui.print_lines([job_id])
        };
    }

    let job = jobs::wait_interruptible(&ctx.ui, &handle).await?;
    let status = job.status().as_str().to_string();
    if let Some(dataset) = dataset {
        // Raw files go to a temporary directory unless --out keeps them;
        // staged files are converted and thrown away, so they are not fsynced.
        let flags = crate::args::DownloadFlags {
            no_fsync: args.download.no_fsync || args.out.is_none(),
            ..args.download
        };
        let temp;
        let dir = match args.out {
            Some(dir) => dir,
            None => {
                temp = tempfile::Builder::new()
                    .prefix("appex-export-")
                    .tempdir()
                    .map_err(|e| {
                        CliError::Other(format!("cannot create a temporary directory: {e}"))
                    })?;
                temp.path().to_path_buf()
            }
        };
        let report =
            super::download::download_with_progress(&ctx.ui, &client, job, &dir, 4, flags).await?;
        let files: Vec<_> = report.files.iter().map(|f| f.path.clone()).collect();
        let options = LandOptions {
            job_id: Some(job_id.clone()),
            export_range: Some(range),
            ..LandOptions::default()
        };
        let landed = super::land::land_files(&ctx.ui, &dataset, &files, options).await?;
        return if ctx.ui.json {
            ctx.ui.print_json(&ExportOut {
                job_id,
                status,
                files: super::download::files_of(&report),
                landed: Some(landed),
            })
        } else {
            let mut lines = vec![format!(
                "job {job_id} {status} ({} files)",
                report.files.len()
            )];
            lines.extend(super::land::report_lines(&landed));
            ctx.ui.print_lines(lines)
        };
    }
    let Some(dir) = args.out else {
        let files = listed_files(&job);
        return if ctx.ui.json {
            ctx.ui.print_json(&ExportOut {
                job_id,
                status,
                files,
                landed: None,
            })
        } else {
            let mut lines = vec![format!("job {job_id} {status} ({} files)", files.len())];
            lines.extend(files.into_iter().map(|f| format!("  {}", f.filename)));
            ctx.ui.print_lines(lines)
        };
    };
    download_and_print(ctx, &client, job, job_id, status, &dir, args.download).await
}

/// The first instant of a `--from` bound.
fn earliest(t: &ExportTime) -> DateTime<Utc> {
    match t {
        ExportTime::Date(date) => date.and_time(NaiveTime::MIN).and_utc(),
        ExportTime::DateTime(t) => *t,
    }
}

/// The first instant after a `--to` bound (a date means its whole day).
fn earliest_after(t: &ExportTime) -> DateTime<Utc> {
    match t {
        ExportTime::Date(date) => date
            .succ_opt()
            .map(|d| d.and_time(NaiveTime::MIN).and_utc())
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        ExportTime::DateTime(t) => *t,
    }
}

/// The job's files, not downloaded.
fn listed_files(job: &ExportJob) -> Vec<FileOut> {
    job.presigned_urls
        .iter()
        .map(|f| FileOut {
            filename: f.filename.clone(),
            path: None,
            bytes: None,
            sha256: None,
        })
        .collect()
}

async fn download_and_print(
    ctx: &Invocation,
    client: &userpilot_appex::Client,
    job: ExportJob,
    job_id: String,
    status: String,
    dir: &std::path::Path,
    flags: DownloadFlags,
) -> Result<(), CliError> {
    let report = match super::download::download_with_progress(&ctx.ui, client, job, dir, 4, flags)
        .await
    {
        Ok(report) => report,
        // Running `export` again would start another export: say what resumes this one.
        Err(Error::Interrupted {
            files_complete,
            files_total,
        }) => {
            return Err(CliError::Interrupted(format!(
                "interrupted: {files_complete} of {files_total} files complete; `appex jobs download {job_id} --out {}` resumes",
                dir.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if ctx.ui.json {
        ctx.ui.print_json(&ExportOut {
            job_id,
            status,
            files: super::download::files_of(&report),
            landed: None,
        })
    } else {
        let mut lines = vec![format!(
            "job {job_id} {status} ({} files, {} bytes)",
            report.files.len(),
            report.total_bytes()
        )];
        lines.extend(super::download::file_lines(&report));
        ctx.ui.print_lines(lines)
    }
}

//! `appex sync` (keep a copy current, `--dry-run` for the plan) and
//! `appex sync status` (what a destination holds).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use userpilot_appex::{
    Client, Error,
    dataset::DestinationOptions,
    ext::{
        download::LockPolicy,
        export::ExportRequestBuilder,
        sync::{FilterChange, LookupRefresh, SyncPlan, SyncProgress, SyncReport, SyncState},
    },
};

use super::{Invocation, jobs};
use crate::{
    args::{SyncArgs, SyncCommand},
    errors::CliError,
};

pub async fn run(ctx: &Invocation, args: SyncArgs) -> Result<(), CliError> {
    let options = DestinationOptions {
        s3_endpoint: args.s3_endpoint.clone(),
        ..DestinationOptions::default()
    };
    if let Some(SyncCommand::Status { dest }) = &args.command {
        return status(ctx, dest, &options).await;
    }
    let (Some(dest), Some(start)) = (args.dest.clone(), args.start) else {
        return Err(CliError::Usage("sync needs --dest and --start".into()));
    };
    let client = if args.dry_run {
        // The plan needs no API call: any key will do.
        Client::builder()
            .base_url(ctx.global.base_url.clone())
            .api_key(
                ctx.global
                    .api_key
                    .clone()
                    .unwrap_or_else(|| "dry-run".into()),
            )
            .build()?
    } else {
        ctx.client()?
    };
    let filters = args.filters.apply(ExportRequestBuilder::new());
    let mut sync = client
        .sync(dest.clone())
        .start(start)
        .window_days(args.window)
        .lookback_days(args.lookback)
        .filters(filters)
        .wait_policy(jobs::wait_policy(args.max_wait))
        .max_wait_other(Duration::from_secs(args.max_wait.unwrap_or(30 * 60)))
        .on_filter_change(if args.reset {
            FilterChange::StartOver
        } else {
            FilterChange::Refuse
        })
        .destination_options(options);
    if args.no_lookups {
        sync = sync.lookups(LookupRefresh::Skip);
    }
    if let Some(end) = args.end {
        sync = sync.end(end);
    }
    if args.no_wait_lock {
        sync = sync.lock_policy(LockPolicy::FailFast);
    }
    if args.dry_run {
        let plan = sync.plan().await?;
        return if ctx.ui.json {
            ctx.ui.print_json(&plan)
        } else {
            ctx.ui.print_lines(plan_lines(&dest, &plan))
        };
    }

    let bar = ctx.ui.multi().add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} sync [{bar:30}] {pos}/{len} days {msg} ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let progress_bar = bar.clone();
    let result = sync
        .on_progress(move |event| show(&progress_bar, event))
        .run()
        .await;
    bar.finish_and_clear();
    match result {
        Ok(report) => print_report(ctx, &dest, &report),
        Err(Error::SyncIncomplete { report, source }) => {
            if ctx.ui.json {
                ctx.ui.print_json(&report)?;
            }
            Err(CliError::Lib(Error::SyncIncomplete { report, source }))
        }
        Err(error) => Err(error.into()),
    }
}

fn show(bar: &ProgressBar, event: &SyncProgress) {
    match event {
        SyncProgress::Planned { plan } => bar.set_length(u64::from(plan.days())),
        SyncProgress::WindowStarted { window, job_id, .. } => {
            bar.set_message(format!("{window}: job {} started", short(job_id)))
        }
        SyncProgress::Job {
            window,
            status,
            fraction,
        } => bar.set_message(match fraction {
            Some(f) => format!("{window}: job {status} {:.0}%", f * 100.0),
            None => format!("{window}: job {status}"),
        }),
        SyncProgress::WaitingForLock { holder } => {
            bar.set_message(format!("waiting: the destination is locked by {holder}"))
        }
        SyncProgress::WaitingForOther { job_id } => bar.set_message(format!(
            "another export ({}) is running; waiting for it",
            short(job_id)
        )),
        SyncProgress::Halved {
            refused,
            window_days,
        } => bar.println(format!(
            "the server refused {refused} as too long; windows of {window_days} day(s) now"
        )),
        SyncProgress::DayLanded { day } => {
            bar.inc(1);
            bar.set_message(format!("{} landed", day.day));
        }
        SyncProgress::WindowCommitted { window } => {
            bar.set_message(format!("{window} committed"));
        }
        _ => {}
    }
}

fn short(job_id: &str) -> String {
    job_id.chars().take(8).collect()
}

fn plan_lines(dest: &str, plan: &SyncPlan) -> Vec<String> {
    let mut lines = vec![format!(
        "plan for {dest}: {}..={} (watermark {}), windows of {} day(s)",
        plan.start,
        plan.end,
        plan.watermark
            .map_or_else(|| "none".to_string(), |d| d.to_string()),
        plan.window_days
    )];
    match plan.reread {
        Some(w) => lines.push(format!(
            "re-read for late events: {w} ({} day(s))",
            w.days()
        )),
        None => lines.push("re-read for late events: nothing".into()),
    }
    match plan.new_days {
        Some(w) => lines.push(format!("new days: {w} ({} day(s))", w.days())),
        None => lines.push("new days: none (up to date)".into()),
    }
    for (i, w) in plan.windows.iter().enumerate() {
        lines.push(format!("window {}: {w} ({} day(s))", i + 1, w.days()));
    }
    lines.push(format!(
        "{} export(s) over {} day(s) would run; nothing was triggered (--dry-run)",
        plan.windows.len(),
        plan.days()
    ));
    lines
}

fn print_report(ctx: &Invocation, dest: &str, report: &SyncReport) -> Result<(), CliError> {
    if ctx.ui.json {
        return ctx.ui.print_json(report);
    }
    let committed = report.windows.iter().filter(|w| w.committed).count();
    ctx.ui.print_lines([
        format!(
            "synced {dest}: {} day(s) in {committed} window(s), {} new row(s) ({} late), {} duplicate(s) dropped",
            report.days.len(),
            report.new_rows,
            report.late_rows,
            report.duplicates_dropped
        ),
        format!(
            "watermark {}, {} export(s) triggered, {} request(s), {:.1}s",
            report
                .watermark
                .map_or_else(|| "none".to_string(), |d| d.to_string()),
            report.exports_triggered,
            report.requests,
            report.elapsed.as_secs_f64()
        ),
    ])
}

/// `sync status --json`.
#[derive(Debug, Serialize)]
struct StatusOut<'a> {
    destination: &'a str,
    state: &'a SyncState,
    gaps: Vec<chrono::NaiveDate>,
    days: Vec<DayOut>,
}

#[derive(Debug, Serialize)]
struct DayOut {
    day: chrono::NaiveDate,
    rows: u64,
    read_after_days: i64,
    unsettled: bool,
}

async fn status(
    ctx: &Invocation,
    dest: &str,
    options: &DestinationOptions,
) -> Result<(), CliError> {
    let state = SyncState::load_with(dest, options).await?;
    let days: Vec<DayOut> = state
        .days
        .iter()
        .map(|(day, s)| DayOut {
            day: *day,
            rows: s.rows,
            read_after_days: s.read_after_days(*day),
            unsettled: state.is_unsettled(*day),
        })
        .collect();
    let gaps = state.gaps();
    if ctx.ui.json {
        return ctx.ui.print_json(&StatusOut {
            destination: dest,
            state: &state,
            gaps,
            days,
        });
    }
    let none = || "none".to_string();
    let mut lines = vec![
        format!("destination: {dest}"),
        format!(
            "watermark:   {}",
            state.watermark.map_or_else(none, |d| d.to_string())
        ),
        format!(
            "last run:    {}",
            state.last_run.as_ref().map_or_else(none, |r| format!(
                "{} to {} ({})",
                r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
                r.finished_at.format("%Y-%m-%d %H:%M:%SZ"),
                if r.complete {
                    "complete"
                } else {
                    "stopped early"
                }
            ))
        ),
        format!(
            "in flight:   {}",
            state.in_flight.as_ref().map_or_else(none, |j| format!(
                "job {} for {} (triggered {})",
                j.job_id,
                j.window,
                j.triggered_at.format("%Y-%m-%d %H:%M:%SZ")
            ))
        ),
    ];
    let max = state
        .days
        .values()
        .map(|d| d.rows)
        .max()
        .unwrap_or(0)
        .max(1);
    if let (Some(first), Some(last)) = (state.days.keys().next(), state.days.keys().next_back()) {
        lines.push(String::new());
        for day in first.iter_days().take_while(|d| d <= last) {
            let line = match state.days.get(&day) {
                None => format!("{day}  {:>9}  (gap: not landed)", "-"),
                Some(s) => {
                    let width = (s.rows * 40).div_ceil(max) as usize;
                    let mark = if state.is_unsettled(day) {
                        format!(
                            "  read {}d after; may miss late events",
                            s.read_after_days(day)
                        )
                    } else {
                        String::new()
                    };
                    format!("{day}  {:>9}  {}{mark}", s.rows, "#".repeat(width))
                }
            };
            lines.push(line);
        }
    }
    ctx.ui.print_lines(lines)
}

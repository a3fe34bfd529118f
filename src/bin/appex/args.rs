//! The command-line interface, as clap types. This is a contract: scripts
//! depend on the names, values and defaults below.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum, builder::TypedValueParser};
use userpilot_appex::{
    client::{DEFAULT_BASE_URL, ENV_API_KEY, ENV_BASE_URL},
    ext::export::{ConflictPolicy, ExportRequestBuilder, ExportTime},
    models::LookupKind,
    types::ExportFormat,
};

/// Userpilot Analytics Export from the command line: look up resources,
/// trigger exports, wait for them, download and read their files.
#[derive(Debug, Parser)]
#[command(
    name = "appex",
    version,
    about,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = false
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after its name.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// API base URL (EU and dedicated environments have their own).
    #[arg(long, global = true, env = ENV_BASE_URL, default_value = DEFAULT_BASE_URL, value_name = "URL")]
    pub base_url: String,
    /// API key; prefer the environment variable, which stays out of shell history.
    #[arg(long, global = true, env = ENV_API_KEY, hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Print exactly one JSON document on stdout (progress and logs go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or notes on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Accept an http:// base URL to a host other than this machine (the API key then travels unencrypted).
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,
}

/// How files are written, for every command that downloads.
#[derive(Clone, Copy, Debug, Default, Args)]
pub struct DownloadFlags {
    /// Fail at once (exit 1) when another appex run (a download or a sync) uses the directory, instead of waiting for it.
    #[arg(long)]
    pub no_wait_lock: bool,
    /// Do not fsync the files (faster; for staging directories whose files are converted and thrown away).
    #[arg(long)]
    pub no_fsync: bool,
    /// Do not compute each file's SHA-256 (faster; for staging directories whose files are converted and thrown away, with --no-fsync). No sha256 is printed (null in --json) or recorded, so a later run cannot check the file against one.
    #[arg(long)]
    pub no_checksum: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List what exported events refer to (properties, segments, flows…).
    Lookups(LookupsArgs),
    /// Inspect, wait for and download export jobs.
    #[command(subcommand, subcommand_required = true, arg_required_else_help = false)]
    Jobs(JobsCommand),
    /// Trigger an export, wait for it, optionally download its files.
    Export(ExportArgs),
    /// Read downloaded export files: ndjson of events on stdout, or a summary.
    Records(RecordsArgs),
    /// Run the built-in API simulator in the foreground until Ctrl-C.
    Simulate(SimulateArgs),
    /// The whole flow against an in-process simulator: trigger, wait, download, read.
    Demo(DemoArgs),
    /// Keep a deduplicated, day-partitioned Parquet copy of the events up to date.
    Sync(SyncArgs),
    /// Print the DuckDB views (`_appex/views.sql`) of a dataset.
    Sql(SqlArgs),
}

/// Where a dataset is landed: `--dest DIR|s3://bucket/prefix`.
#[derive(Debug, Args)]
pub struct DestArgs {
    /// Land as a Parquet dataset here: a directory, or s3://bucket/prefix
    /// (region and credentials from the AWS_* variables).
    #[arg(long, value_name = "DIR|s3://bucket/prefix")]
    pub dest: Option<String>,
    /// Endpoint of an S3-compatible store (MinIO, R2…) for an s3:// --dest.
    #[arg(long, value_name = "URL", requires = "dest")]
    pub s3_endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The dataset: a directory, or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://bucket/prefix", default_value = ".")]
    pub dest: String,
    /// Endpoint of an S3-compatible store for an s3:// --dest.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct LookupsArgs {
    /// What to list (with --dest: land all 12 lookup tables instead).
    #[arg(value_parser = lookup_kind_parser(), required_unless_present = "dest", conflicts_with = "dest")]
    pub kind: Option<LookupKind>,
    #[command(flatten)]
    pub dest: DestArgs,
}

/// The lookup kinds as the command line names them (`user-properties`…),
/// from the library's lookup table.
fn lookup_kind_parser() -> impl TypedValueParser<Value = LookupKind> {
    let names: Vec<String> = LookupKind::ALL
        .iter()
        .map(|k| k.name().replace('_', "-"))
        .collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<LookupKind>())
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs the environment keeps (3 days).
    List,
    /// Show one job: status, progress, chunks, files.
    Show {
        /// The job's id.
        job_id: String,
    },
    /// Wait for a job to complete, with a progress bar over its chunks.
    Wait {
        /// The job's id.
        job_id: String,
        /// Give up (exit code 7) after this many seconds.
        #[arg(long, value_name = "SECS")]
        max_wait: Option<u64>,
    },
    /// Download a completed job's files into a directory.
    Download {
        /// The job's id.
        job_id: String,
        /// Target directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Files fetched at once.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        #[command(flatten)]
        flags: DownloadFlags,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Start of the window: YYYY-MM-DD or RFC 3339.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    pub from: ExportTime,
    /// End of the window: YYYY-MM-DD or RFC 3339.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    pub to: ExportTime,
    /// File format (the server's default when absent).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Address Userpilot notifies when the export is ready (repeatable).
    #[arg(long = "email", value_name = "ADDR")]
    pub emails: Vec<String>,
    /// When another export is running: fail (exit 5), wait for it then trigger, or attach to it.
    #[arg(long, value_enum, default_value_t = OnConflict::Fail)]
    pub on_conflict: OnConflict,
    /// Print the job id and return without waiting.
    #[arg(long, conflicts_with_all = ["max_wait", "out", "dest"])]
    pub no_wait: bool,
    /// Give up waiting (exit code 7) after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub max_wait: Option<u64>,
    /// Download the files into this directory once the job completes.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub download: DownloadFlags,
    #[command(flatten)]
    pub dest: DestArgs,
}

/// Which events an export (or a sync's exports) holds: the filters of the
/// export request, shared by `export` and `sync`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Event type to export (repeatable; all types when absent).
    #[arg(long = "event-type", value_name = "T")]
    pub event_types: Vec<String>,
    /// User id to export events of (repeatable).
    #[arg(long = "user-id", value_name = "ID")]
    pub user_ids: Vec<String>,
    /// Company id to export events of (repeatable).
    #[arg(long = "company-id", value_name = "ID")]
    pub company_ids: Vec<String>,
    /// Segment to export events of.
    #[arg(long, value_name = "ID")]
    pub segment_id: Option<String>,
    /// Passed through as `exclusions` (meaning undocumented by Userpilot).
    #[arg(long, value_name = "S")]
    pub exclusions: Option<String>,
}

impl FilterArgs {
    /// Sets these filters on an export request.
    pub fn apply<C>(self, request: ExportRequestBuilder<C>) -> ExportRequestBuilder<C> {
        let mut request = request
            .event_types(self.event_types)
            .user_ids(self.user_ids)
            .company_ids(self.company_ids);
        if let Some(segment) = self.segment_id {
            request = request.segment_id(segment);
        }
        if let Some(exclusions) = self.exclusions {
            request = request.exclusions(exclusions);
        }
        request
    }
}

/// Export file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Avro,
    Csv,
    Ndjson,
    Parquet,
}

impl From<FormatArg> for ExportFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Avro => ExportFormat::Avro,
            FormatArg::Csv => ExportFormat::Csv,
            FormatArg::Ndjson => ExportFormat::Ndjson,
            FormatArg::Parquet => ExportFormat::Parquet,
        }
    }
}

/// What to do when another export is running (409).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    /// Exit with code 5.
    Fail,
    /// Wait for the running export to end, then trigger (3 attempts).
    Wait,
    /// Follow the running export instead (its filters may differ).
    Attach,
}

impl From<OnConflict> for ConflictPolicy {
    fn from(c: OnConflict) -> Self {
        match c {
            OnConflict::Fail => ConflictPolicy::Fail,
            OnConflict::Wait => ConflictPolicy::wait_then_trigger(),
            OnConflict::Attach => ConflictPolicy::Attach,
        }
    }
}

#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// Downloaded export files (ndjson or csv, gzip-compressed or not).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print counts by event type instead of the events.
    #[arg(long, conflicts_with = "dest")]
    pub summary: bool,
    #[command(flatten)]
    pub dest: DestArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Loopback port to listen on (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// Events generated per day of an export's range.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub events: usize,
    /// Seed for job ids and file contents (same seed, same bytes).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Milliseconds a job spends on each chunk (one chunk per day).
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub chunk_ms: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the downloaded files here (default: a new directory under the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub command: Option<SyncCommand>,
    /// Where the copy lives: a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", required = true)]
    pub dest: Option<String>,
    /// First UTC day to sync (included).
    #[arg(long, value_name = "DATE", value_parser = parse_day, required = true)]
    pub start: Option<NaiveDate>,
    /// Last UTC day to sync, included (default: yesterday, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub end: Option<NaiveDate>,
    /// Days per export (the server may force fewer; the state remembers).
    #[arg(long, value_name = "DAYS", default_value = "7d", value_parser = parse_days)]
    pub window: u32,
    /// Landed days re-read on every run for late (backdated) events.
    #[arg(long, value_name = "DAYS", default_value = "3d", value_parser = parse_days_or_zero)]
    pub lookback: u32,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Print the plan (windows, days, what is re-read) and trigger nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up waiting for one export (exit 7), or for someone else's running export (exit 5), after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub max_wait: Option<u64>,
    /// Fail at once (exit 1) when another sync holds the destination, instead of waiting for it.
    #[arg(long)]
    pub no_wait_lock: bool,
    /// Accept filters other than the ones the copy was made with.
    #[arg(long)]
    pub reset: bool,
    /// Leave the lookup tables as they are (refreshed at the end by default).
    #[arg(long)]
    pub no_lookups: bool,
    /// Endpoint of an S3-compatible store (MinIO, R2…) for an s3:// --dest.
    #[arg(long, value_name = "URL", global = true)]
    pub s3_endpoint: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// What a destination holds, from its state (no query, no API call).
    Status {
        /// The destination: a directory or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        dest: String,
    },
}

/// `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| "expected a UTC day as YYYY-MM-DD".to_string())
}

/// A number of days: `7d` or `7`, at least 1.
pub fn parse_days(s: &str) -> Result<u32, String> {
    match parse_days_or_zero(s)? {
        0 => Err("expected at least 1 day".to_string()),
        n => Ok(n),
    }
}

/// A number of days: `3d` or `3`, 0 allowed.
pub fn parse_days_or_zero(s: &str) -> Result<u32, String> {
    let s = s.trim();
    s.strip_suffix('d')
        .unwrap_or(s)
        .parse::<u32>()
        .map_err(|_| "expected a number of days such as 7d".to_string())
}

/// `YYYY-MM-DD` or RFC 3339 (converted to UTC).
pub fn parse_time(s: &str) -> Result<ExportTime, String> {
    let s = s.trim();
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(ExportTime::Date(date));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| ExportTime::DateTime(t.with_timezone(&Utc)))
        .map_err(|_| {
            "expected a date (YYYY-MM-DD) or an RFC 3339 date-time (2025-01-10T12:00:00Z)"
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parse_time_reads_dates_and_rfc3339() {
        assert_eq!(
            parse_time("2025-01-10"),
            Ok(ExportTime::Date(
                NaiveDate::from_ymd_opt(2025, 1, 10).unwrap()
            ))
        );
        let t = parse_time("2025-01-10T12:00:00+02:00").unwrap();
        assert_eq!(t.to_wire(), "2025-01-10T10:00:00Z");
        assert!(parse_time("10/01/2025").is_err());
        assert!(parse_time("2025-13-01").is_err());
    }

    #[test]
    fn days_read_with_or_without_the_suffix() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("3"), Ok(3));
        assert!(parse_days("0d").is_err());
        assert_eq!(parse_days_or_zero("0d"), Ok(0));
        assert!(parse_days("1w").is_err());
    }
}

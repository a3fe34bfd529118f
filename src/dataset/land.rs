//! Landing events into days: split incoming rows by the UTC day of
//! `inserted_at`, merge each day with the file already there, drop
//! duplicates by the dedupe key, write the replacement atomically, report.

use std::{
    collections::BTreeMap,
    fmt,
    fs::File,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
    cast::AsArray,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use arrow_select::{interleave::interleave, take::take_record_batch};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use foldhash::HashSet;
use futures::{Stream, StreamExt};
use parquet::arrow::ArrowWriter;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    destination::Destination,
    writer::{
        META_CRATE_VERSION, META_EXPORT_FROM, META_EXPORT_TO, META_JOB_ID, META_SCHEMA_VERSION,
        ParquetBuffer, read_parquet, writer_properties,
    },
};
use crate::{
    Error, Result,
    records::{self, BatchOptions, ReadOptions},
};

/// The column rows are partitioned and sorted by.
pub const INSERTED_AT_COLUMN: &str = "inserted_at";
/// The column duplicates are recognised by ([`records::arrow::DEDUPE_KEY`]:
/// `internal_event_id`, or a local surrogate when the export has none):
/// rows of one day with the same value are written once (the first one
/// seen: rows already in the day file win over new ones). Rows where it is
/// null are all kept.
pub const DEDUPE_KEY_COLUMN: &str = records::arrow::DEDUPE_KEY;
/// Rows per batch handed to the Parquet writer.
const WRITE_BATCH_ROWS: usize = 8192;

/// The key of the file holding one UTC day of events:
/// `events/dt=YYYY-MM-DD/events.parquet`.
///
/// ```
/// use chrono::NaiveDate;
/// use userpilot_appex::dataset::day_key;
/// let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
/// assert_eq!(day_key(day), "events/dt=2026-01-31/events.parquet");
/// ```
pub fn day_key(day: NaiveDate) -> String {
    format!("events/dt={}/events.parquet", day.format("%Y-%m-%d"))
}

/// The day a [`day_key`] names, if `key` is one.
pub fn parse_day_key(key: &str) -> Option<NaiveDate> {
    let rest = key.strip_prefix("events/dt=")?;
    let day = rest.strip_suffix("/events.parquet")?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Called as landing goes on (progress bars).
pub type ProgressFn = Arc<dyn Fn(&LandProgress) + Send + Sync>;

/// What [`ProgressFn`] is told.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LandProgress {
    /// An input file is being read (`index` of `total`, from 0).
    FileStarted {
        /// The file.
        path: std::path::PathBuf,
        /// Its position among the inputs.
        index: usize,
        /// How many input files there are.
        total: usize,
    },
    /// Rows were read from the inputs (cumulative count).
    RowsRead(u64),
    /// A day is about to be merged and written (`index` of `total`).
    DayStarted {
        /// The day.
        day: NaiveDate,
        /// Its position among the days landed.
        index: usize,
        /// How many days are landed.
        total: usize,
    },
    /// A day is done.
    DayDone(DayReport),
}

/// How to land.
#[derive(Clone, Default)]
pub struct LandOptions {
    /// The export job the rows came from, recorded in each file's metadata.
    pub job_id: Option<String>,
    /// The export's range, recorded in each file's metadata.
    pub export_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// How input files are read ([`land_files`]).
    pub read: ReadOptions,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

crate::macros::debug_fields!(LandOptions {
    job_id,
    export_range,
    read,
    progress = |o| o.progress.is_some(),
});

impl LandOptions {
    pub(crate) fn report(&self, p: LandProgress) {
        if let Some(f) = &self.progress {
            f(&p);
        }
    }
}

/// What landing did to one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayReport {
    /// The UTC day.
    pub day: NaiveDate,
    /// The file's key (`events/dt=…/events.parquet`).
    pub key: String,
    /// Rows of this day in the input.
    pub rows_in: u64,
    /// Rows the day file held before.
    pub rows_before: u64,
    /// Rows it holds now.
    pub rows_after: u64,
    /// Rows added (`rows_after - rows_before`).
    pub rows_new: u64,
    /// Input rows dropped as duplicates (of each other or of rows already
    /// there).
    pub duplicates_dropped: u64,
    /// Whether the file was (re)written; a day with no new rows is left as it was.
    pub written: bool,
    /// The day file's size now.
    pub bytes: u64,
    /// SHA-256 (hex) of the day file now.
    pub sha256: String,
}

/// What a landing did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LandReport {
    /// Where (`describe()` of the destination).
    pub destination: String,
    /// Input files read (0 when landing batches).
    pub files: u64,
    /// Rows read from the input.
    pub rows_in: u64,
    /// Rows added over all days.
    pub rows_new: u64,
    /// Input rows dropped as duplicates.
    pub duplicates_dropped: u64,
    /// Bytes written (files rewritten only).
    pub bytes_written: u64,
    /// Days written (rewritten with new rows).
    pub days_written: u64,
    /// Every day the input touched, in order.
    pub days: Vec<DayReport>,
}

/// Incoming rows, grouped by day and staged on local disk as Parquet files
/// in a temporary directory (deleted afterwards), so that holding the input
/// costs disk, not memory, however many days it spans.
///
/// A day's rows arrive in runs: a run is rows of one day received one after
/// the other (an export's file for that day). A run is deduplicated as it
/// comes (the first row of a key wins) and written in the final format as it
/// comes, each incoming batch sorted by `inserted_at` and the dedupe key. A
/// day that is one run whose batches follow each other in that order (an
/// export file is sorted by `inserted_at`) and that has no file at the
/// destination yet is landed as staged: memory stays bounded by a row group,
/// not by the day. Any other day is rebuilt from its runs (and the file
/// already there) when it is landed ([`land_day`]).
pub(crate) struct DayBuffers {
    options: LandOptions,
    schema: Option<SchemaRef>,
    metadata: Vec<(String, String)>,
    staging: Option<tempfile::TempDir>,
    /// Staging directories of buffers merged into this one ([`Self::append`]).
    merged_staging: Vec<tempfile::TempDir>,
    days: BTreeMap<NaiveDate, DayStage>,
    /// The run rows are being added to: one at a time.
    open: Option<(NaiveDate, Run)>,
    rows_in: u64,
    /// The input file being read and `rows_in` when it started, so that
    /// errors name a row of that file.
    file: Option<(PathBuf, u64)>,
}

/// One day's staged runs.
#[derive(Default)]
struct DayStage {
    runs: Vec<StagedRun>,
    /// Rows of this day in the input (before deduplication).
    rows_in: u64,
}

/// A finished run: a Parquet file in the staging directory.
struct StagedRun {
    path: PathBuf,
    rows: u64,
    sorted: bool,
}

/// The run rows are being added to.
struct Run {
    writer: ArrowWriter<File>,
    path: PathBuf,
    seen: HashSet<Box<str>>,
    /// `inserted_at` and dedupe key of the last row written.
    last: Option<(i64, Option<Box<str>>)>,
    rows: u64,
    sorted: bool,
}

fn stage_err(e: impl fmt::Display) -> Error {
    Error::InvalidInput(format!("staging rows: {e}"))
}

/// The dedupe key column of a batch, if it has one.
fn dedupe_keys(batch: &RecordBatch) -> Result<Option<&StringArray>> {
    batch
        .column_by_name(DEDUPE_KEY_COLUMN)
        .map(|c| {
            c.as_string_opt::<i32>().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{DEDUPE_KEY_COLUMN:?} is {}, not Utf8",
                    c.data_type()
                ))
            })
        })
        .transpose()
}

impl Run {
    fn new(path: PathBuf, schema: &SchemaRef, metadata: &[(String, String)]) -> Result<Self> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(metadata)))
            .map_err(stage_err)?;
        Ok(Run {
            writer,
            path,
            seen: HashSet::default(),
            last: None,
            rows: 0,
            sorted: true,
        })
    }

    /// Adds rows of the run's day: those whose key was not seen yet in
    /// this run, sorted.
    fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let ts = inserted_at(batch)?;
        let keys = dedupe_keys(batch)?;
        let key = |r: usize| keys.and_then(|k| k.is_valid(r).then(|| k.value(r)));
        let mut kept: Vec<u32> = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            if let Some(k) = key(r) {
                if self.seen.contains(k) {
                    continue;
                }
                self.seen.insert(k.into());
            }
            kept.push(r as u32);
        }
        let order = |&r: &u32| (ts.value(r as usize), key(r as usize));
        if !kept.is_sorted_by_key(order) {
            kept.sort_by_key(order);
        }
        let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
            return Ok(());
        };
        if let Some((t, k)) = &self.last
            && order(first) < (*t, k.as_deref())
        {
            self.sorted = false;
        }
        let (t, k) = order(last);
        self.last = Some((t, k.map(Into::into)));
        self.rows += kept.len() as u64;
        let identity = kept.len() == batch.num_rows() && kept.is_sorted();
        let rows = if identity {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(kept)).map_err(stage_err)?
        };
        self.writer.write(&rows).map_err(stage_err)
    }

    fn finish(self) -> Result<StagedRun> {
        self.writer.close().map_err(stage_err)?;
        Ok(StagedRun {
            path: self.path,
            rows: self.rows,
            sorted: self.sorted,
        })
    }
}

fn inserted_at(batch: &RecordBatch) -> Result<&TimestampMicrosecondArray> {
    let column = batch.column_by_name(INSERTED_AT_COLUMN).ok_or_else(|| {
        Error::InvalidInput(format!("batch has no {INSERTED_AT_COLUMN:?} column"))
    })?;
    match column.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz))
            if matches!(tz.as_ref(), "UTC" | "+00:00" | "Z") => {}
        other => {
            return Err(Error::InvalidInput(format!(
                "{INSERTED_AT_COLUMN:?} is {other}, not Timestamp(Microsecond, \"UTC\")"
            )));
        }
    }
    Ok(column
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("checked type"))
}

fn day_of(micros: i64) -> Result<NaiveDate> {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.date_naive())
        .ok_or_else(|| Error::InvalidInput(format!("inserted_at {micros}µs is out of range")))
}

fn same_columns(a: &SchemaRef, b: &SchemaRef) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

impl DayBuffers {
    pub(crate) fn new(options: &LandOptions) -> Self {
        DayBuffers {
            options: options.clone(),
            schema: None,
            metadata: Vec::new(),
            staging: None,
            merged_staging: Vec::new(),
            days: BTreeMap::new(),
            open: None,
            rows_in: 0,
            file: None,
        }
    }

    /// Rows added from now on come from `path` (named in errors).
    fn start_file(&mut self, path: &std::path::Path) {
        self.file = Some((path.to_path_buf(), self.rows_in));
    }

    /// Appends the rows of `later` (read after this one's): its days' runs
    /// follow this one's, so the first row of a key still wins.
    fn append(&mut self, mut later: DayBuffers) -> Result<()> {
        self.close_run()?;
        later.close_run()?;
        let Some(schema) = later.schema.take() else {
            return Ok(());
        };
        match &self.schema {
            None => {
                self.schema = Some(schema);
                self.metadata = later.metadata;
            }
            Some(s) if !same_columns(s, &schema) => {
                return Err(Error::InvalidInput(
                    "batches to land have different schemas".into(),
                ));
            }
            Some(_) => {}
        }
        for (day, stage) in later.days {
            let mine = self.days.entry(day).or_default();
            mine.rows_in += stage.rows_in;
            mine.runs.extend(stage.runs);
        }
        self.rows_in += later.rows_in;
        self.merged_staging.extend(later.staging);
        self.merged_staging.extend(later.merged_staging);
        Ok(())
    }

    pub(crate) fn add(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match &self.schema {
            None => {
                self.metadata = file_metadata(&batch.schema(), &self.options);
                self.schema = Some(batch.schema());
            }
            Some(s) if !same_columns(s, &batch.schema()) => {
                return Err(Error::InvalidInput(
                    "batches to land have different schemas".into(),
                ));
            }
            Some(_) => {}
        }
        let ts = inserted_at(&batch)?;
        let mut groups: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            if ts.is_null(row) {
                let (source, start) = match &self.file {
                    Some((path, start)) => (path.display().to_string(), *start),
                    None => ("the input".to_owned(), 0),
                };
                return Err(Error::InvalidInput(format!(
                    "an event without {INSERTED_AT_COLUMN} cannot be placed in a day (row {} of {source})",
                    self.rows_in - start + row as u64 + 1
                )));
            }
            groups
                .entry(day_of(ts.value(row))?)
                .or_default()
                .push(row as u32);
        }
        self.rows_in += batch.num_rows() as u64;
        let single = groups.len() == 1;
        for (day, rows) in groups {
            let part = if single {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(rows))
                    .map_err(|e| Error::InvalidInput(format!("splitting a batch by day: {e}")))?
            };
            self.stage(day, &part)?;
        }
        Ok(())
    }

    /// Adds rows of one day to its open run, opening one (and closing the
    /// other day's) if need be.
    fn stage(&mut self, day: NaiveDate, part: &RecordBatch) -> Result<()> {
        if self.open.as_ref().is_some_and(|(d, _)| *d != day) {
            self.close_run()?;
        }
        let stage = self.days.entry(day).or_default();
        stage.rows_in += part.num_rows() as u64;
        if self.open.is_none() {
            let staging = match &self.staging {
                Some(dir) => dir,
                None => self.staging.insert(
                    tempfile::Builder::new()
                        .prefix("appex-land-")
                        .tempdir()
                        .map_err(|source| Error::Io {
                            path: std::env::temp_dir(),
                            source,
                        })?,
                ),
            };
            let path = staging
                .path()
                .join(format!("{day}-{}.parquet", stage.runs.len()));
            let schema = self.schema.as_ref().expect("set by add");
            self.open = Some((day, Run::new(path, schema, &self.metadata)?));
        }
        let (_, run) = self.open.as_mut().expect("opened above");
        run.push(part)
    }

    fn close_run(&mut self) -> Result<()> {
        if let Some((day, run)) = self.open.take() {
            let staged = run.finish()?;
            self.days.entry(day).or_default().runs.push(staged);
        }
        Ok(())
    }
}

/// Lands a stream of event batches (the schema of
/// [`crate::records`]: an `inserted_at` `Timestamp(Microsecond, "UTC")`
/// column and an `internal_event_id` text column) into `dest`: one file per
/// UTC day, each merged with the day file already there, deduplicated on
/// [`DEDUPE_KEY_COLUMN`], sorted by `inserted_at`, and replaced atomically.
///
/// Nothing is written until the whole input has been read: an input error
/// leaves the dataset as it was. Meanwhile each day's rows wait as Parquet
/// in a temporary directory of the machine's (`TMPDIR`), deleted at the end,
/// so memory does not grow with the number of days; a day that arrives in
/// one piece, in `inserted_at` order, and is new to the destination is
/// staged as its final file as it arrives (memory bounded by a row group
/// and the day's dedupe keys). Days are then written one by one; a
/// failure part-way leaves earlier days landed and later ones as they were
/// (landing again is safe: duplicates are dropped).
pub async fn land_batches<S>(
    dest: &dyn Destination,
    batches: S,
    options: &LandOptions,
) -> Result<LandReport>
where
    S: Stream<Item = Result<RecordBatch>>,
{
    let mut buffers = DayBuffers::new(options);
    let mut batches = std::pin::pin!(batches);
    while let Some(batch) = batches.next().await {
        buffers.add(batch?)?;
        options.report(LandProgress::RowsRead(buffers.rows_in));
    }
    land_buffers(dest, buffers, options).await
}

/// Lands export files (any format [`records::batches`] reads: ndjson, CSV,
/// gzip or not, Parquet, Avro) into `dest` like [`land_batches`] (progress
/// per file, then per day). Nothing is written unless every file was read
/// to its end.
///
/// The files are read and staged by as many workers as the machine has
/// cores, each taking a consecutive share of them; the shares are then
/// joined in the files' order, so which row of a key wins and what lands
/// is the same as reading the files one after the other.
pub async fn land_files<P: AsRef<std::path::Path>>(
    dest: &dyn Destination,
    files: &[P],
    options: &LandOptions,
) -> Result<LandReport> {
    let paths: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len());
    let rows_read = Arc::new(AtomicU64::new(0));
    let buffers = match tokio::runtime::Handle::try_current() {
        Ok(runtime) if workers > 1 => {
            let share = paths.len().div_ceil(workers);
            let tasks: Vec<_> = (0..paths.len())
                .step_by(share)
                .map(|first| {
                    let (paths, options) = (paths.clone(), options.clone());
                    let (rows_read, handle) = (rows_read.clone(), runtime.clone());
                    let range = first..(first + share).min(paths.len());
                    runtime.spawn_blocking(move || {
                        handle.block_on(stage_files(&paths, range, &options, &rows_read))
                    })
                })
                .collect();
            let mut buffers: Option<DayBuffers> = None;
            for task in tasks {
                let share = match task.await {
                    Ok(share) => share?,
                    Err(e) => match e.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        // The runtime is shutting down.
                        Err(_) => {
                            return Err(Error::NoRuntime {
                                operation: "dataset::land_files",
                            });
                        }
                    },
                };
                match &mut buffers {
                    Some(b) => b.append(share)?,
                    None => buffers = Some(share),
                }
            }
            buffers.expect("at least one share")
        }
        _ => stage_files(&paths, 0..paths.len(), options, &rows_read).await?,
    };
    let mut report = land_buffers(dest, buffers, options).await?;
    report.files = files.len() as u64;
    Ok(report)
}

/// Reads and stages `paths[range]`, one after the other; `rows_read` counts
/// the rows all workers read (progress).
async fn stage_files(
    paths: &[PathBuf],
    range: std::ops::Range<usize>,
    options: &LandOptions,
    rows_read: &AtomicU64,
) -> Result<DayBuffers> {
    let mut buffers = DayBuffers::new(options);
    for index in range {
        let file = &paths[index];
        options.report(LandProgress::FileStarted {
            path: file.clone(),
            index,
            total: paths.len(),
        });
        buffers.start_file(file);
        let batch_options = BatchOptions {
            read: options.read,
            ..BatchOptions::default()
        };
        let mut batches = records::batches([file], batch_options);
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let rows = batch.num_rows() as u64;
            buffers.add(batch)?;
            let total = rows_read.fetch_add(rows, Ordering::Relaxed) + rows;
            options.report(LandProgress::RowsRead(total));
        }
    }
    Ok(buffers)
}

pub(crate) async fn land_buffers(
    dest: &dyn Destination,
    mut buffers: DayBuffers,
    options: &LandOptions,
) -> Result<LandReport> {
    let mut report = LandReport {
        destination: dest.describe(),
        rows_in: buffers.rows_in,
        ..LandReport::default()
    };
    buffers.close_run()?;
    let Some(schema) = buffers.schema.clone() else {
        return Ok(report);
    };
    let days = std::mem::take(&mut buffers.days);
    let total = days.len();
    for (index, (day, stage)) in days.into_iter().enumerate() {
        options.report(LandProgress::DayStarted { day, index, total });
        let day_report = land_day(dest, day, &schema, stage, &buffers.metadata).await?;
        report.rows_new += day_report.rows_new;
        report.duplicates_dropped += day_report.duplicates_dropped;
        if day_report.written {
            report.days_written += 1;
            report.bytes_written += day_report.bytes;
        }
        options.report(LandProgress::DayDone(day_report.clone()));
        report.days.push(day_report);
    }
    Ok(report)
}

fn file_metadata(schema: &SchemaRef, options: &LandOptions) -> Vec<(String, String)> {
    let mut meta = vec![(
        META_CRATE_VERSION.to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )];
    let version = schema
        .metadata()
        .get(records::arrow::SCHEMA_VERSION_KEY)
        .cloned()
        .unwrap_or_else(|| "unknown".to_owned());
    meta.push((META_SCHEMA_VERSION.to_owned(), version));
    if let Some(job) = &options.job_id {
        meta.push((META_JOB_ID.to_owned(), job.clone()));
    }
    if let Some((from, to)) = &options.export_range {
        let f = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        meta.push((META_EXPORT_FROM.to_owned(), f(from)));
        meta.push((META_EXPORT_TO.to_owned(), f(to)));
    }
    meta
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lands one day: its staged rows as they are when they can be (one
/// sorted run, no file there yet), else merged with the file already there.
async fn land_day(
    dest: &dyn Destination,
    day: NaiveDate,
    schema: &SchemaRef,
    stage: DayStage,
    metadata: &[(String, String)],
) -> Result<DayReport> {
    let key = day_key(day);
    let bad_file = |message: String| Error::DatasetFile {
        destination: dest.describe(),
        key: key.clone(),
        message,
    };
    let read_run = |run: &StagedRun| {
        std::fs::read(&run.path).map_err(|source| Error::Io {
            path: run.path.clone(),
            source,
        })
    };
    let rows_in = stage.rows_in;
    let existing_bytes = dest.get(&key).await?;
    if existing_bytes.is_none()
        && let [run] = &stage.runs[..]
        && run.sorted
    {
        let data = Bytes::from(read_run(run)?);
        let report = DayReport {
            day,
            key: key.clone(),
            rows_in,
            rows_before: 0,
            rows_after: run.rows,
            rows_new: run.rows,
            duplicates_dropped: rows_in - run.rows,
            written: true,
            bytes: data.len() as u64,
            sha256: sha256_hex(&data),
        };
        dest.put(&key, data).await?;
        return Ok(report);
    }
    let existing = match &existing_bytes {
        Some(data) => {
            let contents =
                read_parquet(data.clone()).map_err(|e| bad_file(format!("unreadable: {e}")))?;
            if !same_columns(&contents.schema, schema) {
                return Err(bad_file(
                    "its columns differ from the rows being landed (another schema version?); \
                     move it away to land this day"
                        .into(),
                ));
            }
            contents.batches
        }
        None => Vec::new(),
    };
    let mut new = Vec::new();
    for run in &stage.runs {
        new.extend(read_parquet(Bytes::from(read_run(run)?))?.batches);
    }
    let rows_before: u64 = existing.iter().map(|b| b.num_rows() as u64).sum();
    let all: Vec<&RecordBatch> = existing.iter().chain(new.iter()).collect();

    // Keep the first row of each key (rows already there first), then sort.
    let mut seen: HashSet<&str> = HashSet::default();
    let mut kept: Vec<(i64, Option<&str>, usize, usize)> = Vec::new();
    let keys_holder = all
        .iter()
        .map(|b| dedupe_keys(b))
        .collect::<Result<Vec<_>>>()?;
    for (b, batch) in all.iter().enumerate() {
        let ts = inserted_at(batch)?;
        let keys = keys_holder[b];
        for r in 0..batch.num_rows() {
            let k = keys.and_then(|k| k.is_valid(r).then(|| k.value(r)));
            if let Some(k) = k
                && !seen.insert(k)
            {
                continue;
            }
            if ts.is_null(r) {
                return Err(bad_file(format!("row {r} has no {INSERTED_AT_COLUMN}")));
            }
            kept.push((ts.value(r), k, b, r));
        }
    }
    let rows_after = kept.len() as u64;
    let rows_new = rows_after.saturating_sub(rows_before);
    let duplicates_dropped = rows_in - rows_new;
    if rows_new == 0
        && let Some(data) = &existing_bytes
    {
        return Ok(DayReport {
            day,
            key,
            rows_in,
            rows_before,
            rows_after: rows_before,
            rows_new: 0,
            duplicates_dropped: rows_in,
            written: false,
            bytes: data.len() as u64,
            sha256: sha256_hex(data),
        });
    }
    kept.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    let mut out = ParquetBuffer::new(schema.clone(), metadata)?;
    let mut indices: Vec<(usize, usize)> = Vec::with_capacity(WRITE_BATCH_ROWS);
    for chunk in kept.chunks(WRITE_BATCH_ROWS) {
        indices.clear();
        indices.extend(chunk.iter().map(|&(_, _, b, r)| (b, r)));
        let columns = (0..schema.fields().len())
            .map(|i| {
                let arrays: Vec<&dyn Array> = all.iter().map(|b| b.column(i).as_ref()).collect();
                interleave(&arrays, &indices)
            })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()
            .map_err(|e| Error::InvalidInput(format!("merging day {day}: {e}")))?;
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::InvalidInput(format!("merging day {day}: {e}")))?;
        out.write(&batch)?;
    }
    drop(kept);
    drop(seen);
    let data: Bytes = out.finish()?;
    let report = DayReport {
        day,
        key: key.clone(),
        rows_in,
        rows_before,
        rows_after,
        rows_new,
        duplicates_dropped,
        written: true,
        bytes: data.len() as u64,
        sha256: sha256_hex(&data),
    };
    dest.put(&key, data).await?;
    Ok(report)
}

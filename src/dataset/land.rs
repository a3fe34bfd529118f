//! Landing events into days: split incoming rows by the UTC day of
//! `inserted_at`, merge each day with the file already there, drop
//! duplicates by the dedupe key, write the replacement atomically, report.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
    cast::AsArray,
};
use arrow_ipc::{
    CompressionType,
    reader::StreamReader,
    writer::{IpcWriteOptions, StreamWriter},
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use arrow_select::{concat::concat_batches, interleave::interleave, take::take_record_batch};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::{Stream, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    destination::Destination,
    writer::{
        META_CRATE_VERSION, META_EXPORT_FROM, META_EXPORT_TO, META_JOB_ID, META_SCHEMA_VERSION,
        ParquetBuffer, read_parquet,
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

/// Incoming rows, grouped by day. Each day's rows wait in memory as
/// zstd-compressed Arrow IPC (a batch of [`WRITE_BATCH_ROWS`] at a time),
/// so holding a week of input costs its compressed size, not its decoded
/// size; a day is decoded only when it is merged.
#[derive(Default)]
pub(crate) struct DayBuffers {
    schema: Option<SchemaRef>,
    days: BTreeMap<NaiveDate, DaySpill>,
    rows_in: u64,
}

/// One day's incoming rows.
struct DaySpill {
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    ipc: StreamWriter<Vec<u8>>,
}

fn spill_err(e: arrow_schema::ArrowError) -> Error {
    Error::InvalidInput(format!("buffering rows: {e}"))
}

impl DaySpill {
    fn new(schema: &SchemaRef) -> Result<Self> {
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::ZSTD))
            .map_err(spill_err)?;
        Ok(DaySpill {
            pending: Vec::new(),
            pending_rows: 0,
            ipc: StreamWriter::try_new_with_options(Vec::new(), schema, options)
                .map_err(spill_err)?,
        })
    }

    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= WRITE_BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let schema = self.pending[0].schema();
        let batch = concat_batches(&schema, &self.pending).map_err(spill_err)?;
        self.ipc.write(&batch).map_err(spill_err)?;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }

    /// The day's rows, decoded.
    fn into_batches(mut self) -> Result<Vec<RecordBatch>> {
        self.flush()?;
        self.ipc.finish().map_err(spill_err)?;
        let data = self.ipc.into_inner().map_err(spill_err)?;
        StreamReader::try_new(std::io::Cursor::new(data), None)
            .map_err(spill_err)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(spill_err)
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
    pub(crate) fn add(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match &self.schema {
            None => self.schema = Some(batch.schema()),
            Some(s) if !same_columns(s, &batch.schema()) => {
                return Err(Error::InvalidInput(
                    "batches to land have different schemas".into(),
                ));
            }
            Some(_) => {}
        }
        let schema = self.schema.clone().expect("set above");
        let ts = inserted_at(&batch)?;
        let mut groups: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            if ts.is_null(row) {
                return Err(Error::InvalidInput(format!(
                    "an event without {INSERTED_AT_COLUMN} cannot be placed in a day (row {} of the input)",
                    self.rows_in + row as u64 + 1
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
            let spill = match self.days.entry(day) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(DaySpill::new(&schema)?),
            };
            let part = if single {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(rows))
                    .map_err(|e| Error::InvalidInput(format!("splitting a batch by day: {e}")))?
            };
            spill.push(part)?;
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
/// leaves the dataset as it was. Days are then written one by one; a
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
    let mut buffers = DayBuffers::default();
    let mut batches = std::pin::pin!(batches);
    while let Some(batch) = batches.next().await {
        buffers.add(batch?)?;
        options.report(LandProgress::RowsRead(buffers.rows_in));
    }
    land_buffers(dest, buffers, options).await
}

/// Lands export files (any format [`records::batches`] reads: ndjson, CSV,
/// gzip or not, Parquet, Avro) into `dest` like [`land_batches`], a file at
/// a time (progress per file, then per day). Nothing is written unless every
/// file was read to its end.
pub async fn land_files<P: AsRef<std::path::Path>>(
    dest: &dyn Destination,
    files: &[P],
    options: &LandOptions,
) -> Result<LandReport> {
    let mut buffers = DayBuffers::default();
    for (index, file) in files.iter().enumerate() {
        options.report(LandProgress::FileStarted {
            path: file.as_ref().to_path_buf(),
            index,
            total: files.len(),
        });
        let batch_options = BatchOptions {
            read: options.read,
            ..BatchOptions::default()
        };
        let mut batches = records::batches([file], batch_options);
        while let Some(batch) = batches.next().await {
            buffers.add(batch?)?;
            options.report(LandProgress::RowsRead(buffers.rows_in));
        }
    }
    let mut report = land_buffers(dest, buffers, options).await?;
    report.files = files.len() as u64;
    Ok(report)
}

pub(crate) async fn land_buffers(
    dest: &dyn Destination,
    buffers: DayBuffers,
    options: &LandOptions,
) -> Result<LandReport> {
    let mut report = LandReport {
        destination: dest.describe(),
        rows_in: buffers.rows_in,
        ..LandReport::default()
    };
    let Some(schema) = buffers.schema else {
        return Ok(report);
    };
    let total = buffers.days.len();
    for (index, (day, spill)) in buffers.days.into_iter().enumerate() {
        options.report(LandProgress::DayStarted { day, index, total });
        let batches = spill.into_batches()?;
        let day_report = land_day(dest, day, &schema, batches, options).await?;
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

async fn land_day(
    dest: &dyn Destination,
    day: NaiveDate,
    schema: &SchemaRef,
    new: Vec<RecordBatch>,
    options: &LandOptions,
) -> Result<DayReport> {
    let key = day_key(day);
    let bad_file = |message: String| Error::DatasetFile {
        destination: dest.describe(),
        key: key.clone(),
        message,
    };
    let existing_bytes = dest.get(&key).await?;
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
    let rows_before: u64 = existing.iter().map(|b| b.num_rows() as u64).sum();
    let rows_in: u64 = new.iter().map(|b| b.num_rows() as u64).sum();
    let all: Vec<&RecordBatch> = existing.iter().chain(new.iter()).collect();

    // Keep the first row of each key (rows already there first), then sort.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut kept: Vec<(i64, Option<&str>, usize, usize)> = Vec::new();
    let mut keys_holder: Vec<Option<&StringArray>> = Vec::with_capacity(all.len());
    for batch in &all {
        let keys = match batch.column_by_name(DEDUPE_KEY_COLUMN) {
            Some(c) => Some(c.as_string_opt::<i32>().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{DEDUPE_KEY_COLUMN:?} is {}, not Utf8",
                    c.data_type()
                ))
            })?),
            None => None,
        };
        keys_holder.push(keys);
    }
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

    let mut out = ParquetBuffer::new(schema.clone(), &file_metadata(schema, options))?;
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

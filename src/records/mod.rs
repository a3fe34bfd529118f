//! Reading downloaded export files back as typed [`ExportedEvent`]s.
//!
//! [`RecordReader`] streams one file as a blocking iterator;
//! [`records_stream`] streams several files, in order, as a
//! [`futures::Stream`]; [`summarize`] counts what a set of files holds.
//! Memory stays flat whatever the file size: ndjson is read a line at a
//! time, CSV a record at a time, parquet a record batch at a time, avro a
//! value at a time.
//!
//! Formats (see [`RecordFormat`]): ndjson and CSV, gzip-compressed or not
//! (gzip is detected by its magic bytes, whatever the file is called),
//! parquet with the `parquet` cargo feature and avro with the `avro` one.
//!
//! Errors: a malformed row is [`Error::Record`] naming the file and the line
//! (or row); in [lenient](ReadOptions::lenient) mode such rows are skipped
//! and counted instead ([`RecordReader::skipped`]). A file that ends early
//! or is corrupt (a truncated gzip stream, say) is
//! [`Error::CorruptFile`] in both modes: what follows is lost, and reading
//! never passes a partial file off as complete. Being a stream, the reader
//! has already yielded the events before the damage (the error says how
//! many); a gzip file whose trailer (CRC and length) is cut yields all its
//! events and then this error.
//!
//! A plain (uncompressed) ndjson or CSV file cut short cannot be told from a
//! complete one except by its last row: strict mode reports that row as
//! malformed, lenient mode skips it (and counts it). An empty file reads as
//! no events, unless its name ends in `.gz`: no gzip stream is empty, so
//! that is [`Error::CorruptFile`].
//!
//! ```no_run
//! use userpilot_appex::records::{ReadOptions, RecordReader, summarize};
//!
//! # fn run() -> userpilot_appex::Result<()> {
//! for event in RecordReader::open("exports/part-0000.ndjson.gz")? {
//!     let event = event?;
//!     println!("{:?} {:?}", event.event_type, event.inserted_at);
//! }
//! let summary = summarize(["exports/part-0000.ndjson.gz"], ReadOptions::lenient())?;
//! println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
//! # Ok(()) }
//! ```

#[cfg(feature = "avro")]
pub mod avro;
mod csv;
mod event;
mod ndjson;
#[cfg(feature = "parquet")]
pub mod parquet;

use std::{
    collections::{BTreeMap, VecDeque},
    fmt,
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use chrono::{DateTime, Utc};
use flate2::bufread::MultiGzDecoder;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    error::RecordLocation,
    models::{EventSource, EventType},
};
pub use event::{EXPORT_FIELDS, ExportedEvent, Interaction, format_micros, parse_inserted_at};

/// Buffer size for file and decompressed reads.
const BUF_SIZE: usize = 64 * 1024;

/// An export file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormat {
    /// One JSON object per line.
    Ndjson,
    /// A header row, then one event per row.
    Csv,
    /// Apache Parquet (cargo feature `parquet`).
    Parquet,
    /// Apache Avro object container (cargo feature `avro`).
    Avro,
}

impl RecordFormat {
    /// The format's name as the API spells it (`ndjson`, `csv`, `parquet`, `avro`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Ndjson => "ndjson",
            RecordFormat::Csv => "csv",
            RecordFormat::Parquet => "parquet",
            RecordFormat::Avro => "avro",
        }
    }

    /// The format a file name suggests, ignoring a trailing `.gz`:
    /// `.ndjson`/`.jsonl`/`.json`, `.csv`, `.parquet`/`.pq`, `.avro`.
    ///
    /// ```
    /// use userpilot_appex::records::RecordFormat;
    /// assert_eq!(RecordFormat::from_path("a/part-1.csv.gz"), Some(RecordFormat::Csv));
    /// assert_eq!(RecordFormat::from_path("events.jsonl"), Some(RecordFormat::Ndjson));
    /// assert_eq!(RecordFormat::from_path("events.gz"), None);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Option<Self> {
        let path = path.as_ref();
        let ext = |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
        };
        let mut e = ext(path)?;
        if e == "gz" || e == "gzip" {
            e = ext(Path::new(path.file_stem()?))?;
        }
        match e.as_str() {
            "ndjson" | "jsonl" | "json" => Some(RecordFormat::Ndjson),
            "csv" => Some(RecordFormat::Csv),
            "parquet" | "pq" => Some(RecordFormat::Parquet),
            "avro" => Some(RecordFormat::Avro),
            _ => None,
        }
    }
}

impl std::str::FromStr for RecordFormat {
    type Err = Error;

    /// Parses `ndjson` (or `jsonl`/`json`), `csv`, `parquet`, `avro`,
    /// case-insensitively.
    ///
    /// ```
    /// use userpilot_appex::records::RecordFormat;
    /// assert_eq!("CSV".parse::<RecordFormat>().unwrap(), RecordFormat::Csv);
    /// assert!("xlsx".parse::<RecordFormat>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "json" => Ok(RecordFormat::Ndjson),
            "csv" => Ok(RecordFormat::Csv),
            "parquet" => Ok(RecordFormat::Parquet),
            "avro" => Ok(RecordFormat::Avro),
            _ => Err(Error::InvalidInput(format!(
                "unknown record format {s:?}; expected ndjson, csv, parquet or avro"
            ))),
        }
    }
}

impl fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to read export files.
///
/// ```
/// use userpilot_appex::records::{ReadOptions, RecordFormat};
/// let strict = ReadOptions::default();
/// let lenient_csv = ReadOptions { lenient: true, format: Some(RecordFormat::Csv) };
/// assert!(!strict.lenient && lenient_csv.lenient);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip (and count) malformed rows instead of failing on the first one.
    /// A truncated or corrupt file is an error either way.
    pub lenient: bool,
    /// The format, when known; `None` detects it from the file's magic bytes,
    /// then its name, then its first byte (`{` means ndjson, anything else
    /// CSV). gzip compression is always detected by magic bytes.
    pub format: Option<RecordFormat>,
}

impl ReadOptions {
    /// Lenient reading with format detection.
    pub fn lenient() -> Self {
        ReadOptions {
            lenient: true,
            format: None,
        }
    }
}

/// Why a format reader could not produce a row.
pub(crate) enum Fault {
    /// A bad row; the reader can go on past it.
    Row {
        location: RecordLocation,
        message: String,
    },
    /// A bad row the reader cannot go on past (e.g. a CSV header).
    Fatal {
        location: RecordLocation,
        message: String,
    },
    /// The file is damaged from here on.
    #[cfg_attr(not(any(feature = "parquet", feature = "avro")), allow(dead_code))]
    Corrupt(String),
    /// The file's format cannot be read (an unsupported column type…).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    Unsupported(String),
    /// Reading the file failed.
    Io(io::Error),
}

/// A byte source: the file, or the file decompressed.
type Source = Box<dyn BufRead + Send>;

/// A gzip decoder that remembers its first error, so that an I/O error
/// surfacing through a format parser can be told apart as damaged
/// compressed data.
struct Inflate {
    inner: MultiGzDecoder<BufReader<File>>,
    failed: Arc<OnceLock<String>>,
}

impl Read for Inflate {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let _ = self.failed.set(e.to_string());
        })
    }
}

enum Rows {
    Ndjson(ndjson::NdjsonRows<Source>),
    Csv(csv::CsvRows<Source>),
    #[cfg(feature = "parquet")]
    Parquet(parquet::ParquetRows),
    #[cfg(feature = "avro")]
    Avro(avro::AvroRows),
}

impl Rows {
    fn next_row(&mut self) -> Option<Result<ExportedEvent, Fault>> {
        match self {
            Rows::Ndjson(r) => r.next_row(),
            Rows::Csv(r) => r.next_row(),
            #[cfg(feature = "parquet")]
            Rows::Parquet(r) => r.next_row(),
            #[cfg(feature = "avro")]
            Rows::Avro(r) => r.next_row(),
        }
    }
}

/// A blocking, streaming reader of one export file: an iterator of events.
///
/// After an error the iterator ends, except in lenient mode where malformed
/// rows are skipped and counted ([`skipped`](Self::skipped)).
///
/// ```no_run
/// use userpilot_appex::records::{ReadOptions, RecordReader};
///
/// # fn run() -> userpilot_appex::Result<()> {
/// let mut reader = RecordReader::with_options("part-0000.csv", ReadOptions::lenient())?;
/// let mut n = 0;
/// for event in &mut reader {
///     event?;
///     n += 1;
/// }
/// println!("{n} events from a {} file, {} bad rows skipped", reader.format(), reader.skipped());
/// # Ok(()) }
/// ```
pub struct RecordReader {
    path: PathBuf,
    format: RecordFormat,
    gzip: bool,
    lenient: bool,
    rows: Rows,
    read: u64,
    skipped: u64,
    inflate_failed: Option<Arc<OnceLock<String>>>,
    done: bool,
}

impl fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("lenient", &self.lenient)
            .field("read", &self.read)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl RecordReader {
    /// Opens a file in strict mode, detecting its format.
    ///
    /// ```no_run
    /// # fn run() -> userpilot_appex::Result<()> {
    /// let events = userpilot_appex::records::RecordReader::open("part-0000.ndjson")?
    ///     .collect::<userpilot_appex::Result<Vec<_>>>()?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_options(path, ReadOptions::default())
    }

    /// Opens a file with options. Fails if the file cannot be opened, its
    /// gzip header is damaged, it is empty although its name ends in `.gz`
    /// ([`Error::CorruptFile`]: no gzip stream is empty), or its format needs
    /// a cargo feature that is not enabled.
    ///
    /// ```no_run
    /// use userpilot_appex::records::{ReadOptions, RecordFormat, RecordReader};
    /// # fn run() -> userpilot_appex::Result<()> {
    /// let reader = RecordReader::with_options(
    ///     "download.bin",
    ///     ReadOptions { lenient: false, format: Some(RecordFormat::Csv) },
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io_err)?;
        let mut plain = BufReader::with_capacity(BUF_SIZE, file);
        let head = peek(&mut plain, 4).map_err(io_err)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        if head.is_empty() && named_gzip(&path) {
            // A gzip stream is never empty (even an empty one has a header
            // and a trailer): this file was cut, not exported empty.
            return Err(Error::CorruptFile {
                file: path,
                records_read: 0,
                message:
                    "the file is empty, but its name says gzip and a gzip stream is never empty"
                        .into(),
            });
        }
        let (format, source, inflate_failed): (RecordFormat, Source, _) = if gzip {
            let failed = Arc::new(OnceLock::new());
            let mut inflated = BufReader::with_capacity(
                BUF_SIZE,
                Inflate {
                    inner: MultiGzDecoder::new(plain),
                    failed: failed.clone(),
                },
            );
            let format = match options.format.or_else(|| RecordFormat::from_path(&path)) {
                Some(f) => f,
                None => sniff(&mut inflated).map_err(|e| Error::CorruptFile {
                    file: path.clone(),
                    records_read: 0,
                    message: format!("gzip stream: {e}"),
                })?,
            };
            (format, Box::new(inflated), Some(failed))
        } else {
            let format = match options.format {
                Some(f) => f,
                None if head.starts_with(b"PAR1") => RecordFormat::Parquet,
                None if head.starts_with(b"Obj\x01") => RecordFormat::Avro,
                None => match RecordFormat::from_path(&path) {
                    Some(f) => f,
                    None => sniff(&mut plain).map_err(io_err)?,
                },
            };
            (format, Box::new(plain), None)
        };
        let rows = open_rows(&path, format, gzip, source)?;
        Ok(RecordReader {
            path,
            format,
            gzip,
            lenient: options.lenient,
            rows,
            read: 0,
            skipped: 0,
            inflate_failed,
            done: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's format (detected or given).
    pub fn format(&self) -> RecordFormat {
        self.format
    }

    /// `true` if the file is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        self.read
    }

    /// Malformed rows skipped so far (lenient mode; always 0 in strict mode).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn finish(&mut self, error: Error) -> Option<Result<ExportedEvent>> {
        self.done = true;
        Some(Err(error))
    }
}

impl Iterator for RecordReader {
    type Item = Result<ExportedEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let fault = match self.rows.next_row() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(event)) => {
                    self.read += 1;
                    return Some(Ok(event));
                }
                Some(Err(fault)) => fault,
            };
            if let Some(message) = self.inflate_failed.as_ref().and_then(|f| f.get()) {
                let error = Error::CorruptFile {
                    file: self.path.clone(),
                    records_read: self.read,
                    message: format!("gzip stream: {message}"),
                };
                return self.finish(error);
            }
            let error = match fault {
                Fault::Row { location, message } if self.lenient => {
                    self.skipped += 1;
                    tracing::debug!(file = %self.path.display(), %location, %message, "skipping malformed record");
                    continue;
                }
                Fault::Row { location, message } | Fault::Fatal { location, message } => {
                    Error::Record {
                        file: self.path.clone(),
                        location,
                        message,
                    }
                }
                Fault::Corrupt(message) => Error::CorruptFile {
                    file: self.path.clone(),
                    records_read: self.read,
                    message,
                },
                Fault::Unsupported(reason) => Error::UnsupportedFormat {
                    file: self.path.clone(),
                    format: self.format.to_string(),
                    reason,
                },
                Fault::Io(source) => Error::Io {
                    path: self.path.clone(),
                    source,
                },
            };
            return self.finish(error);
        }
    }
}

/// The first `n` bytes of a buffered reader (fewer at end of file), unconsumed.
/// `true` if the file name ends in `.gz` or `.gzip` (any case).
fn named_gzip(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("gzip"))
}

fn peek(reader: &mut impl BufRead, n: usize) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// Guesses a text format from the first non-blank byte: `{` is ndjson,
/// the avro or parquet magic is that format, anything else is CSV. An empty
/// input reads as ndjson (no events).
fn sniff(reader: &mut impl BufRead) -> io::Result<RecordFormat> {
    let buf = reader.fill_buf()?;
    if buf.starts_with(b"Obj\x01") {
        return Ok(RecordFormat::Avro);
    }
    if buf.starts_with(b"PAR1") {
        return Ok(RecordFormat::Parquet);
    }
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(match buf.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') => RecordFormat::Ndjson,
        Some(_) => RecordFormat::Csv,
    })
}

fn open_rows(path: &Path, format: RecordFormat, gzip: bool, source: Source) -> Result<Rows> {
    match format {
        RecordFormat::Ndjson => Ok(Rows::Ndjson(ndjson::NdjsonRows::new(source))),
        RecordFormat::Csv => Ok(Rows::Csv(csv::CsvRows::new(source))),
        RecordFormat::Parquet => open_parquet(path, gzip, source),
        RecordFormat::Avro => open_avro(path, source),
    }
}

fn unsupported(path: &Path, format: RecordFormat, reason: &str) -> Error {
    Error::UnsupportedFormat {
        file: path.to_path_buf(),
        format: format.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(feature = "parquet")]
fn open_parquet(path: &Path, gzip: bool, source: Source) -> Result<Rows> {
    if gzip {
        return Err(unsupported(
            path,
            RecordFormat::Parquet,
            "a gzip-compressed parquet file cannot be streamed; decompress it first",
        ));
    }
    // Parquet is read by seeking in the file, not through the byte source.
    drop(source);
    parquet::ParquetRows::open(path).map(Rows::Parquet)
}

#[cfg(not(feature = "parquet"))]
fn open_parquet(path: &Path, _gzip: bool, _source: Source) -> Result<Rows> {
    Err(unsupported(
        path,
        RecordFormat::Parquet,
        "this build lacks parquet support; enable the `parquet` cargo feature",
    ))
}

#[cfg(feature = "avro")]
fn open_avro(path: &Path, source: Source) -> Result<Rows> {
    avro::AvroRows::open(path, source).map(Rows::Avro)
}

#[cfg(not(feature = "avro"))]
fn open_avro(path: &Path, _source: Source) -> Result<Rows> {
    Err(unsupported(
        path,
        RecordFormat::Avro,
        "this build lacks avro support; enable the `avro` cargo feature",
    ))
}

/// How many events (as chunks) may wait between the reading thread and the stream.
const CHANNEL_CHUNKS: usize = 8;
/// Events sent across the channel at a time.
const CHUNK: usize = 256;

/// An asynchronous stream of the events of several files, read in order on
/// a blocking thread (see [`records_stream`]).
///
/// The stream ends after the first error. [`skipped`](Self::skipped) gives
/// the malformed rows skipped so far in lenient mode (final once the stream
/// has ended).
pub struct RecordStream {
    rx: tokio::sync::mpsc::Receiver<Vec<Result<ExportedEvent>>>,
    buffered: VecDeque<Result<ExportedEvent>>,
    skipped: Arc<AtomicU64>,
    files: u64,
}

impl fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream")
            .field("buffered", &self.buffered.len())
            .field("skipped", &self.skipped())
            .finish_non_exhaustive()
    }
}

impl RecordStream {
    /// Malformed rows skipped so far, over all files (lenient mode).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Acquire)
    }

    /// Reads the rest of the stream into a [`Summary`]; the first error ends
    /// it.
    ///
    /// ```no_run
    /// use userpilot_appex::records::{ReadOptions, records_stream_with};
    /// # async fn run() -> userpilot_appex::Result<()> {
    /// let summary = records_stream_with(["a.ndjson", "b.ndjson"], ReadOptions::lenient())
    ///     .summarize()
    ///     .await?;
    /// println!("{} events, {} skipped", summary.total, summary.skipped);
    /// # Ok(()) }
    /// ```
    pub async fn summarize(mut self) -> Result<Summary> {
        use futures::StreamExt;
        let mut summary = Summary::default();
        while let Some(event) = self.next().await {
            summary.add(&event?);
        }
        summary.skipped = self.skipped();
        summary.files = self.files;
        Ok(summary)
    }
}

impl Stream for RecordStream {
    type Item = Result<ExportedEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Poll::Ready(Some(item));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.buffered.extend(chunk),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Streams the events of several files, file after file, each in file
/// order, in strict mode. See [`records_stream_with`].
///
/// ```no_run
/// use futures::StreamExt;
/// use userpilot_appex::records::records_stream;
///
/// # async fn run() -> userpilot_appex::Result<()> {
/// let mut events = records_stream(["part-0.ndjson.gz", "part-1.ndjson.gz"]);
/// while let Some(event) = events.next().await {
///     let event = event?;
///     println!("{:?}", event.event_name);
/// }
/// # Ok(()) }
/// ```
pub fn records_stream<I, P>(paths: I) -> RecordStream
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    records_stream_with(paths, ReadOptions::default())
}

/// Streams the events of several files with options.
///
/// The files are read one after the other on a Tokio blocking thread and
/// handed over through a bounded channel, so memory stays flat and a slow
/// consumer slows the reading down. The stream ends after the first error
/// (which names the file). Dropping the stream stops the reading.
///
/// Must be called from within a Tokio runtime; outside one, the stream
/// yields a single [`Error::InvalidInput`].
///
/// ```no_run
/// use futures::TryStreamExt;
/// use userpilot_appex::records::{ReadOptions, records_stream_with};
///
/// # async fn run() -> userpilot_appex::Result<()> {
/// let mut stream = records_stream_with(["a.csv", "b.csv"], ReadOptions::lenient());
/// let mut n = 0u64;
/// while let Some(_event) = stream.try_next().await? {
///     n += 1;
/// }
/// println!("{n} events, {} bad rows skipped", stream.skipped());
/// # Ok(()) }
/// ```
pub fn records_stream_with<I, P>(paths: I, options: ReadOptions) -> RecordStream
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let paths: Vec<PathBuf> = paths
        .into_iter()
        .map(|p| p.as_ref().to_path_buf())
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    let skipped = Arc::new(AtomicU64::new(0));
    let stream = RecordStream {
        rx,
        buffered: VecDeque::new(),
        skipped: skipped.clone(),
        files: paths.len() as u64,
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(move || read_files(paths, options, tx, skipped));
        }
        Err(_) => {
            let _ = tx.try_send(vec![Err(Error::InvalidInput(
                "records_stream must be called within a Tokio runtime".into(),
            ))]);
        }
    }
    stream
}

/// The blocking side of [`records_stream_with`].
fn read_files(
    paths: Vec<PathBuf>,
    options: ReadOptions,
    tx: tokio::sync::mpsc::Sender<Vec<Result<ExportedEvent>>>,
    skipped: Arc<AtomicU64>,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut skipped_before = 0;
    for path in paths {
        let mut reader = match RecordReader::with_options(&path, options) {
            Ok(r) => r,
            Err(e) => {
                chunk.push(Err(e));
                let _ = tx.blocking_send(chunk);
                return;
            }
        };
        while let Some(item) = reader.next() {
            let failed = item.is_err();
            chunk.push(item);
            if failed || chunk.len() == CHUNK {
                skipped.store(skipped_before + reader.skipped(), Ordering::Release);
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if tx.blocking_send(full).is_err() || failed {
                    return;
                }
            }
        }
        skipped_before += reader.skipped();
        skipped.store(skipped_before, Ordering::Release);
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(chunk);
    }
}

/// What a set of export files holds: counts by event type and source, the
/// time span, and how many malformed rows were skipped.
///
/// ```
/// use userpilot_appex::{models::EventType, records::{ExportedEvent, Summary}};
/// let mut summary = Summary::default();
/// summary.add(&ExportedEvent { event_type: Some(EventType::Track), ..Default::default() });
/// assert_eq!(summary.total, 1);
/// assert_eq!(summary.by_event_type["track"], 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Events read.
    pub total: u64,
    /// Malformed rows skipped (lenient mode).
    pub skipped: u64,
    /// Files read.
    pub files: u64,
    /// Events per `event_type` (as written; [`Summary::NONE`] when absent).
    pub by_event_type: BTreeMap<String, u64>,
    /// Events per `source` (as written; [`Summary::NONE`] when absent).
    pub by_source: BTreeMap<String, u64>,
    /// The earliest `inserted_at`.
    #[serde(serialize_with = "serialize_opt_micros")]
    pub first_inserted_at: Option<DateTime<Utc>>,
    /// The latest `inserted_at`.
    #[serde(serialize_with = "serialize_opt_micros")]
    pub last_inserted_at: Option<DateTime<Utc>>,
}

fn serialize_opt_micros<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_micros(t)),
        None => s.serialize_none(),
    }
}

impl Summary {
    /// The key counting events without an `event_type` or `source`.
    pub const NONE: &'static str = "(none)";

    /// Counts one event.
    pub fn add(&mut self, event: &ExportedEvent) {
        self.total += 1;
        let kind = event
            .event_type
            .as_ref()
            .map_or(Self::NONE, EventType::as_str);
        *self.by_event_type.entry(kind.to_string()).or_default() += 1;
        let source = event
            .source
            .as_ref()
            .map_or(Self::NONE, EventSource::as_str);
        *self.by_source.entry(source.to_string()).or_default() += 1;
        if let Some(t) = event.inserted_at {
            if self.first_inserted_at.is_none_or(|f| t < f) {
                self.first_inserted_at = Some(t);
            }
            if self.last_inserted_at.is_none_or(|l| t > l) {
                self.last_inserted_at = Some(t);
            }
        }
    }
}

/// Reads files one after the other (blocking) and summarizes them; the
/// first error ends the reading. With [`ReadOptions::lenient`], malformed
/// rows are skipped and counted in [`Summary::skipped`].
///
/// ```no_run
/// use userpilot_appex::records::{ReadOptions, summarize};
/// # fn run() -> userpilot_appex::Result<()> {
/// let summary = summarize(["part-0.csv.gz", "part-1.csv.gz"], ReadOptions::lenient())?;
/// for (kind, n) in &summary.by_event_type {
///     println!("{kind}: {n}");
/// }
/// # Ok(()) }
/// ```
pub fn summarize<I, P>(paths: I, options: ReadOptions) -> Result<Summary>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let mut summary = Summary::default();
    for path in paths {
        let mut reader = RecordReader::with_options(path, options)?;
        for event in &mut reader {
            summary.add(&event?);
        }
        summary.skipped += reader.skipped();
        summary.files += 1;
    }
    Ok(summary)
}

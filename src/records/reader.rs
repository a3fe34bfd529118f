//! [`RecordReader`]: one export file as a blocking iterator of events,
//! whatever its format and compression.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use flate2::bufread::MultiGzDecoder;

use super::{
    csv,
    event::ExportedEvent,
    field::JsonTexts,
    format::{RecordFormat, named_gzip, peek, sniff},
    ndjson,
};
use crate::{Error, Result, error::RecordLocation};

/// Buffer size for file and decompressed reads.
const BUF_SIZE: usize = 64 * 1024;

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
pub(crate) type Source = Box<dyn BufRead + Send>;

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

/// Bytes inflated at a time by [`Inflated`]'s thread.
const INFLATE_CHUNK: usize = 128 * 1024;
/// Inflated chunks that may wait for the parser.
const INFLATE_AHEAD: usize = 4;

/// What the inflating thread sends.
enum Inflating {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// A gzip stream inflated on a thread of its own, a few chunks ahead of
/// the reader: on two cores, decompression and parsing overlap. Memory is
/// bounded by [`INFLATE_AHEAD`] chunks; dropping the reader stops the
/// thread. An error is returned again by every later read, and a thread that
/// stopped without saying the stream ended is an error, never an early end.
struct Inflated {
    rx: std::sync::mpsc::Receiver<Inflating>,
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
    failed: Option<(io::ErrorKind, String)>,
}

impl Inflated {
    fn spawn(mut inflate: Inflate) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(INFLATE_AHEAD);
        let (recycle, recycled) = std::sync::mpsc::sync_channel::<Vec<u8>>(INFLATE_AHEAD + 1);
        std::thread::Builder::new()
            .name("appex-inflate".into())
            .spawn(move || {
                loop {
                    let mut chunk = recycled
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(INFLATE_CHUNK));
                    chunk.resize(INFLATE_CHUNK, 0);
                    let mut filled = 0;
                    let message = loop {
                        match inflate.read(&mut chunk[filled..]) {
                            Ok(0) => break None,
                            Ok(n) => {
                                filled += n;
                                if filled == chunk.len() {
                                    break None;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break Some(Inflating::Failed(e)),
                        }
                    };
                    chunk.truncate(filled);
                    let last = filled < INFLATE_CHUNK || message.is_some();
                    if filled > 0 && tx.send(Inflating::Data(chunk)).is_err() {
                        return;
                    }
                    if last {
                        let _ = tx.send(message.unwrap_or(Inflating::End));
                        return;
                    }
                }
            })?;
        Ok(Inflated {
            rx,
            recycle,
            chunk: Vec::new(),
            pos: 0,
            ended: false,
            failed: None,
        })
    }
}

impl Read for Inflated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Inflated {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.chunk.len() && !self.ended {
            if let Some((kind, message)) = &self.failed {
                return Err(io::Error::new(*kind, message.clone()));
            }
            match self.rx.recv() {
                Ok(Inflating::Data(chunk)) => {
                    let used = std::mem::replace(&mut self.chunk, chunk);
                    let _ = self.recycle.try_send(used);
                    self.pos = 0;
                }
                Ok(Inflating::End) => self.ended = true,
                Ok(Inflating::Failed(e)) => self.failed = Some((e.kind(), e.to_string())),
                Err(_) => {
                    self.failed = Some((
                        io::ErrorKind::Other,
                        "the inflating thread stopped before the end of the stream".into(),
                    ));
                }
            }
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.chunk.len());
    }
}

enum Rows {
    Ndjson(ndjson::NdjsonRows<Source>),
    Csv(csv::CsvRows<Source>),
    #[cfg(feature = "parquet")]
    Parquet(super::parquet::ParquetRows),
    #[cfg(feature = "avro")]
    Avro(super::avro::AvroRows),
}

impl Rows {
    fn next_row_into(
        &mut self,
        event: &mut ExportedEvent,
        json: Option<&mut JsonTexts>,
    ) -> Option<Result<(), Fault>> {
        match self {
            Rows::Ndjson(r) => r.next_row_into(event, json),
            Rows::Csv(r) => r.next_row_into(event),
            #[cfg(feature = "parquet")]
            Rows::Parquet(r) => r.next_row().map(|row| row.map(|e| *event = e)),
            #[cfg(feature = "avro")]
            Rows::Avro(r) => r.next_row().map(|row| row.map(|e| *event = e)),
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

crate::macros::debug_fields!(RecordReader {
    path,
    format,
    gzip,
    lenient,
    read,
    skipped
});

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
            let mut inflated = Inflated::spawn(Inflate {
                inner: MultiGzDecoder::new(plain),
                failed: failed.clone(),
            })
            .map_err(io_err)?;
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

    /// Reads the next event into `event`, reusing the buffers `event`
    /// holds (its text fields), and returns `Some(Ok(()))`; `None` at the
    /// end. The same events, errors and skipping as the iterator, which
    /// makes a new event per row: this is the faster way to read a file
    /// whose events are each used before the next is read. After an error
    /// `event` holds no meaningful value.
    ///
    /// ```no_run
    /// use userpilot_appex::records::{ExportedEvent, RecordReader};
    /// # fn run() -> userpilot_appex::Result<()> {
    /// let mut reader = RecordReader::open("part-0000.ndjson.gz")?;
    /// let mut event = ExportedEvent::default();
    /// let mut users = std::collections::HashSet::new();
    /// while let Some(read) = reader.read_into(&mut event) {
    ///     read?;
    ///     if let Some(user) = &event.user_id {
    ///         users.insert(user.clone());
    ///     }
    /// }
    /// println!("{} users", users.len());
    /// # Ok(()) }
    /// ```
    pub fn read_into(&mut self, event: &mut ExportedEvent) -> Option<Result<()>> {
        self.read_row_into(event, None)
    }

    /// [`read_into`](Self::read_into); with `json`, the text of the JSON
    /// fields of an ndjson row goes there instead of into `event` (see
    /// [`JsonTexts`]; other formats leave it empty).
    pub(crate) fn read_row_into(
        &mut self,
        event: &mut ExportedEvent,
        mut json: Option<&mut JsonTexts>,
    ) -> Option<Result<()>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(json) = json.as_deref_mut() {
                json.clear();
            }
            let fault = match self.rows.next_row_into(event, json.as_deref_mut()) {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(())) => {
                    self.read += 1;
                    return Some(Ok(()));
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

    fn finish(&mut self, error: Error) -> Option<Result<()>> {
        self.done = true;
        Some(Err(error))
    }
}

impl Iterator for RecordReader {
    type Item = Result<ExportedEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut event = ExportedEvent::default();
        Some(self.read_into(&mut event)?.map(|()| event))
    }
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
    super::parquet::ParquetRows::open(path).map(Rows::Parquet)
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
    super::avro::AvroRows::open(path, source).map(Rows::Avro)
}

#[cfg(not(feature = "avro"))]
fn open_avro(path: &Path, _source: Source) -> Result<Rows> {
    Err(unsupported(
        path,
        RecordFormat::Avro,
        "this build lacks avro support; enable the `avro` cargo feature",
    ))
}

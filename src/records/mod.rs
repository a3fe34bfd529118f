//! Reading downloaded export files back as typed [`ExportedEvent`]s.
//!
//! [`RecordReader`] streams one file as a blocking iterator;
//! [`records_stream`] streams several files, in order, as a
//! [`futures::Stream`]; [`summarize`] counts what a set of files holds.
//! With the `arrow` cargo feature (implied by `parquet`), `batches` turns
//! several files into Arrow record batches in the one documented schema
//! of exported events (`records::arrow`).
//! Memory stays flat whatever the file size: ndjson is read a line at a
//! time, CSV a record at a time, parquet a record batch at a time, avro a
//! value at a time.
//!
//! Formats (see [`RecordFormat`]): ndjson and CSV, gzip-compressed or not
//! (gzip is detected by its magic bytes, whatever the file is called),
//! parquet with the `parquet` cargo feature and avro with the `avro` one.
//!
//! Errors: a malformed row is [`Error::Record`](crate::Error::Record) naming the file and the line
//! (or row); in [lenient](ReadOptions::lenient) mode such rows are skipped
//! and counted instead ([`RecordReader::skipped`]). A file that ends early
//! or is corrupt (a truncated gzip stream, say) is
//! [`Error::CorruptFile`](crate::Error::CorruptFile) in both modes: what follows is lost, and reading
//! never passes a partial file off as complete. Being a stream, the reader
//! has already yielded the events before the damage (the error says how
//! many); a gzip file whose trailer (CRC and length) is cut yields all its
//! events and then this error.
//!
//! A plain (uncompressed) ndjson or CSV file cut short cannot be told from a
//! complete one except by its last row: strict mode reports that row as
//! malformed, lenient mode skips it (and counts it). An empty file reads as
//! no events, unless its name ends in `.gz`: no gzip stream is empty, so
//! that is [`Error::CorruptFile`](crate::Error::CorruptFile).
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

#[cfg(feature = "arrow")]
pub mod arrow;
#[cfg(feature = "avro")]
pub mod avro;
mod csv;
mod event;
mod field;
mod format;
mod key;
mod ndjson;
#[cfg(feature = "parquet")]
pub mod parquet;
mod reader;
mod stream;
mod summary;

#[cfg(feature = "arrow")]
pub use arrow::{BatchOptions, BatchStream, batches};
pub use event::{
    EXPORT_FIELD_KINDS, EXPORT_FIELDS, EventSource, EventType, ExportedEvent, Interaction,
};
pub use field::{Cell, FieldKind, format_micros, parse_inserted_at};
pub use format::RecordFormat;
pub use key::DedupeKey;
pub(crate) use reader::Fault;
pub use reader::{ReadOptions, RecordReader};
pub use stream::{RecordStream, records_stream, records_stream_with};
pub use summary::{Summary, summarize};

pub use crate::error::RecordLocation;

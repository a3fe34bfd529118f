//! The Arrow schema of exported events, and events to record batches
//! (cargo feature `arrow`, implied by `parquet`).
//!
//! [`schema`] is the one documented schema this crate writes events in
//! (the `dataset` layer lands it as Parquet). Its columns, in order:
//!
//! | column | Arrow type | holds |
//! | --- | --- | --- |
//! | the 20 [`EXPORT_FIELDS`], in export order | see below | the event's fields |
//! | [`EXTRA`] | `Utf8`, JSON text | the fields the schema does not know, as one JSON object (null when there are none) |
//! | [`INTERACTION_ENTITY_TYPE`], [`INTERACTION_ENTITY_ID`], [`INTERACTION_STATUS`] | `Utf8` | an `interaction` event's `event_name` split ([`ExportedEvent::interaction`]); null for other events |
//! | [`DEDUPE_KEY`] | `Utf8`, not null | `internal_event_id`, or a local surrogate ([`DedupeKey`]) |
//! | [`DEDUPE_KEY_IS_LOCAL`] | `Boolean`, not null | `true` when [`DEDUPE_KEY`] is the local surrogate |
//!
//! The export fields map by their [`FieldKind`]: `inserted_at`
//! ([`FieldKind::Timestamp`]) is `Timestamp(Microsecond, "UTC")`;
//! `event_type` and `source` ([`FieldKind::Label`]) are dictionary-encoded
//! `Utf8` (`Dictionary(Int32, Utf8)`); the screen sizes
//! ([`FieldKind::Integer`]) are `Int64`; `metadata` ([`FieldKind::Json`]) is
//! JSON text (`Utf8`: `{"a":1}` for an object, `"x"` for a string); the
//! other fields are `Utf8`. All export-field columns are nullable. From an
//! ndjson file, [`batches`] keeps that text as the file holds it (spacing,
//! key order and number spelling unchanged, `null` as null); from the
//! other formats, and in [`EventBatchBuilder::push`], it is the value
//! written compactly.
//!
//! The schema's metadata carries [`SCHEMA_VERSION_KEY`] = [`SCHEMA_VERSION`].
//! parquet's `ArrowWriter` keeps it only inside the Arrow schema it encodes
//! in the file (`ARROW:schema`); a writer of this schema also puts it in the
//! Parquet file's own key-value metadata (`WriterProperties::
//! set_key_value_metadata`), where engines other than Arrow see it. The
//! crate's own Parquet reader recognizes a file in this schema by either
//! entry and reads it back into the same [`ExportedEvent`]s: it folds
//! [`EXTRA`] back into [`ExportedEvent::extra`] and ignores the derived
//! columns.
//!
//! [`EXPORT_FIELDS`]: super::EXPORT_FIELDS
//! [`DedupeKey`]: super::DedupeKey

use std::{
    collections::HashMap,
    fmt,
    path::Path,
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use arrow_array::{
    ArrayRef, RecordBatch,
    builder::{
        BooleanBuilder, Int64Builder, StringBuilder, StringDictionaryBuilder,
        TimestampMicrosecondBuilder,
    },
    types::Int32Type,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::Stream;

use super::{
    ReadOptions,
    event::{EXPORT_FIELD_KINDS, EXPORT_FIELDS, ExportedEvent},
    field::{Cell, FieldKind, JsonTexts},
    stream::{Files, spawn_reader},
};
use crate::Result;

/// The version of [`schema`]; bumped whenever a column is added, removed,
/// renamed or retyped.
pub const SCHEMA_VERSION: &str = "1";
/// The key under which the schema's (and a Parquet file's key-value)
/// metadata holds [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "userpilot_appex.schema_version";
/// The column holding unknown fields as a JSON object.
pub const EXTRA: &str = "extra";
/// The column holding an interaction's entity type (`checklist`, `flow`…).
pub const INTERACTION_ENTITY_TYPE: &str = "interaction_entity_type";
/// The column holding an interaction's entity id.
pub const INTERACTION_ENTITY_ID: &str = "interaction_entity_id";
/// The column holding an interaction's status (`SEEN`, `COMPLETED`…).
pub const INTERACTION_STATUS: &str = "interaction_status";
/// The column holding the dedupe key.
pub const DEDUPE_KEY: &str = "dedupe_key";
/// The column saying whether the dedupe key is a local surrogate.
pub const DEDUPE_KEY_IS_LOCAL: &str = "dedupe_key_is_local";
/// The columns [`schema`] derives from other columns (a reader ignores them).
pub const DERIVED_COLUMNS: [&str; 5] = [
    INTERACTION_ENTITY_TYPE,
    INTERACTION_ENTITY_ID,
    INTERACTION_STATUS,
    DEDUPE_KEY,
    DEDUPE_KEY_IS_LOCAL,
];
/// Rows per batch unless [`BatchOptions::batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// The Arrow type an export field of this kind has in [`schema`].
pub fn data_type(kind: FieldKind) -> DataType {
    match kind {
        FieldKind::Text | FieldKind::Json => DataType::Utf8,
        FieldKind::Label => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        FieldKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        FieldKind::Integer => DataType::Int64,
    }
}

/// The Arrow schema of exported events (see the [module docs](self)).
///
/// ```
/// use userpilot_appex::records::arrow::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, schema};
/// let schema = schema();
/// assert_eq!(schema.field(0).name(), "app_token");
/// assert_eq!(schema.fields().len(), 26);
/// assert_eq!(schema.metadata()[SCHEMA_VERSION_KEY], SCHEMA_VERSION);
/// ```
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields: Vec<Field> = EXPORT_FIELDS
                .iter()
                .zip(EXPORT_FIELD_KINDS)
                .map(|(name, kind)| Field::new(*name, data_type(kind), true))
                .collect();
            fields.push(Field::new(EXTRA, DataType::Utf8, true));
            for name in [
                INTERACTION_ENTITY_TYPE,
                INTERACTION_ENTITY_ID,
                INTERACTION_STATUS,
            ] {
                fields.push(Field::new(name, DataType::Utf8, true));
            }
            fields.push(Field::new(DEDUPE_KEY, DataType::Utf8, false));
            fields.push(Field::new(DEDUPE_KEY_IS_LOCAL, DataType::Boolean, false));
            let metadata =
                HashMap::from([(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
            Arc::new(Schema::new_with_metadata(fields, metadata))
        })
        .clone()
}

/// The builder of one export-field column.
enum Column {
    Text(StringBuilder),
    Label(StringDictionaryBuilder<Int32Type>),
    Timestamp(TimestampMicrosecondBuilder),
    Integer(Int64Builder),
}

impl Column {
    fn new(kind: FieldKind, capacity: usize) -> Self {
        match kind {
            FieldKind::Text | FieldKind::Json => {
                Column::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            FieldKind::Label => Column::Label(StringDictionaryBuilder::new()),
            FieldKind::Timestamp => Column::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            FieldKind::Integer => Column::Integer(Int64Builder::with_capacity(capacity)),
        }
    }

    fn push(&mut self, cell: Cell<'_>, json: &mut String) {
        match (self, cell) {
            (Column::Text(b), Cell::Text(s)) => b.append_value(s),
            (Column::Text(b), Cell::Json(v)) => {
                json.clear();
                write_json(json, v);
                b.append_value(&*json);
            }
            (Column::Label(b), Cell::Text(s)) => {
                b.append_value(s);
            }
            (Column::Timestamp(b), Cell::Timestamp(t)) => b.append_value(t.timestamp_micros()),
            (Column::Integer(b), Cell::Integer(n)) => b.append_value(n),
            (Column::Text(b), _) => b.append_null(),
            (Column::Label(b), _) => b.append_null(),
            (Column::Timestamp(b), _) => b.append_null(),
            (Column::Integer(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Label(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Integer(b) => Arc::new(b.finish()),
        }
    }
}

fn write_json(out: &mut String, value: &impl serde::Serialize) {
    // Serializing a `serde_json::Value` or map into a String cannot fail.
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

/// Builds record batches in [`schema`] from events.
///
/// ```
/// use userpilot_appex::records::{ExportedEvent, arrow::EventBatchBuilder};
/// let mut builder = EventBatchBuilder::with_capacity(2);
/// builder.push(&ExportedEvent { user_id: Some("u1".into()), ..Default::default() });
/// builder.push(&ExportedEvent::default());
/// let batch = builder.finish();
/// assert_eq!(batch.num_rows(), 2);
/// assert!(builder.is_empty());
/// ```
pub struct EventBatchBuilder {
    fields: Vec<Column>,
    extra: StringBuilder,
    interaction: [StringBuilder; 3],
    key: StringBuilder,
    key_is_local: BooleanBuilder,
    rows: usize,
    json: String,
}

impl fmt::Debug for EventBatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBatchBuilder")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_BATCH_SIZE)
    }
}

impl EventBatchBuilder {
    /// A builder with room for `capacity` rows (it grows past it if need be).
    pub fn with_capacity(capacity: usize) -> Self {
        EventBatchBuilder {
            fields: EXPORT_FIELD_KINDS
                .iter()
                .map(|&kind| Column::new(kind, capacity))
                .collect(),
            extra: StringBuilder::new(),
            interaction: std::array::from_fn(|_| StringBuilder::new()),
            key: StringBuilder::with_capacity(capacity, capacity * 16),
            key_is_local: BooleanBuilder::with_capacity(capacity),
            rows: 0,
            json: String::new(),
        }
    }

    /// Appends one event as a row.
    pub fn push(&mut self, event: &ExportedEvent) {
        self.push_with(event, &JsonTexts::default());
    }

    /// Appends one event as a row, a JSON field's column taking the text
    /// `json` holds for it (as the file held it) rather than the event's
    /// value serialized.
    pub(crate) fn push_with(&mut self, event: &ExportedEvent, json: &JsonTexts) {
        for (i, (column, cell)) in self.fields.iter_mut().zip(event.cells()).enumerate() {
            match (json.get(i), column) {
                (Some(text), Column::Text(b)) => b.append_value(text),
                (_, column) => column.push(cell, &mut self.json),
            }
        }
        if event.extra.is_empty() {
            self.extra.append_null();
        } else {
            self.json.clear();
            write_json(&mut self.json, &event.extra);
            self.extra.append_value(&self.json);
        }
        match event.interaction_parts() {
            Some(parts) => {
                for (column, part) in self.interaction.iter_mut().zip(parts) {
                    column.append_value(part);
                }
            }
            None => self.interaction.iter_mut().for_each(|b| b.append_null()),
        }
        let (key, local) = event.dedupe_key_text();
        self.key.append_value(&key);
        self.key_is_local.append_value(local);
        self.rows += 1;
    }

    /// Rows pushed since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// `true` when no row was pushed since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows pushed so far as a batch in [`schema`]; the builder starts
    /// over empty.
    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = self.fields.iter_mut().map(Column::finish).collect();
        columns.push(Arc::new(self.extra.finish()));
        columns.extend(
            self.interaction
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(Arc::new(self.key.finish()));
        columns.push(Arc::new(self.key_is_local.finish()));
        self.rows = 0;
        RecordBatch::try_new(schema(), columns)
            .expect("every column is built in the schema's type and length")
    }
}

/// How [`batches`] reads.
///
/// ```
/// use userpilot_appex::records::{ReadOptions, arrow::BatchOptions};
/// let options = BatchOptions { batch_size: 1024, read: ReadOptions::lenient() };
/// assert_eq!(BatchOptions::default().batch_size, 8192);
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// The most rows in a batch (at least 1); every batch but the last has
    /// exactly this many. Default [`DEFAULT_BATCH_SIZE`].
    pub batch_size: usize,
    /// How the files are read (strict or lenient, the format).
    pub read: ReadOptions,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            read: ReadOptions::default(),
        }
    }
}

/// Record batches in [`schema`] made from the events of several files (see
/// [`batches`]).
pub struct BatchStream {
    rx: tokio::sync::mpsc::Receiver<Result<RecordBatch>>,
    skipped: Arc<AtomicU64>,
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream")
            .field("skipped", &self.skipped())
            .finish_non_exhaustive()
    }
}

impl BatchStream {
    /// Malformed rows skipped so far, over all files (lenient mode; final
    /// once the stream has ended).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Acquire)
    }
}

impl Stream for BatchStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Reads the events of several files (any format [`RecordReader`] reads),
/// file after file, into record batches in [`schema`] of
/// [`BatchOptions::batch_size`] rows (a batch may hold rows of two files).
///
/// The files are read on a Tokio blocking thread; at most two finished
/// batches wait for the consumer, so memory is bounded by the batch size,
/// not the file size, and a slow consumer slows the reading down. The
/// stream ends after the first error (which names the file), after the
/// batch of the events read before it. Must be called within a Tokio
/// runtime; outside one, the stream yields a single
/// [`Error::NoRuntime`](crate::Error::NoRuntime).
///
/// ```no_run
/// use futures::TryStreamExt;
/// use userpilot_appex::records::{batches, BatchOptions};
///
/// # async fn run() -> userpilot_appex::Result<()> {
/// let mut stream = batches(["part-0.ndjson.gz", "part-1.csv.gz"], BatchOptions::default());
/// while let Some(batch) = stream.try_next().await? {
///     println!("{} rows", batch.num_rows());
/// }
/// # Ok(()) }
/// ```
///
/// [`RecordReader`]: super::RecordReader
pub fn batches<I, P>(paths: I, options: BatchOptions) -> BatchStream
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let batch_size = options.batch_size.max(1);
    let files = Files::new(paths, options.read);
    let (rx, skipped) = spawn_reader("records::batches", files, 1, Err, move |files, tx| {
        let mut builder = EventBatchBuilder::with_capacity(batch_size);
        let mut failure = None;
        files.read(true, |item| match item {
            Ok((event, json)) => {
                builder.push_with(event, json);
                if builder.len() < batch_size {
                    return true;
                }
                tx.blocking_send(Ok(builder.finish())).is_ok()
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        });
        if !builder.is_empty() && tx.blocking_send(Ok(builder.finish())).is_err() {
            return;
        }
        if let Some(e) = failure {
            let _ = tx.blocking_send(Err(e));
        }
    });
    BatchStream { rx, skipped }
}

//! The Parquet day writer: zstd, statistics on, rows sorted by
//! `inserted_at`, key-value metadata saying who wrote the file and what from.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::{
    arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder},
    basic::{Compression, ZstdLevel},
    file::{
        metadata::KeyValue,
        properties::{EnabledStatistics, WriterProperties},
    },
    schema::types::ColumnPath,
};

use crate::{Error, Result};

/// Rows per Parquet row group (and per batch handed to the writer).
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Key-value metadata key: the version of this crate that wrote the file.
pub const META_CRATE_VERSION: &str = "appex.crate_version";
/// Key-value metadata key: the export job the rows came from, when known.
pub const META_JOB_ID: &str = "appex.job_id";
/// Key-value metadata key: the start of the export's range (RFC 3339).
pub const META_EXPORT_FROM: &str = "appex.export_from";
/// Key-value metadata key: the end of the export's range (RFC 3339).
pub const META_EXPORT_TO: &str = "appex.export_to";
/// Key-value metadata key: the version of the events schema
/// ([`crate::records::arrow::SCHEMA_VERSION`]).
pub const META_SCHEMA_VERSION: &str = crate::records::arrow::SCHEMA_VERSION_KEY;

/// The writer settings every dataset file uses: zstd (level 1: as small
/// as level 3 on export rows, and faster), page
/// statistics, `metadata` as key-value metadata.
pub fn writer_properties(metadata: &[(String, String)]) -> WriterProperties {
    let kv = metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(kv))
        .set_column_dictionary_enabled(ColumnPath::from("internal_event_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("dedupe_key"), false)
        .set_column_dictionary_enabled(ColumnPath::from("inserted_at"), false)
        .build()
}

/// Writes Parquet into memory, a batch at a time.
pub(crate) struct ParquetBuffer {
    writer: ArrowWriter<Vec<u8>>,
}

impl ParquetBuffer {
    pub(crate) fn new(schema: SchemaRef, metadata: &[(String, String)]) -> Result<Self> {
        let writer = ArrowWriter::try_new(Vec::new(), schema, Some(writer_properties(metadata)))
            .map_err(parquet_err)?;
        Ok(ParquetBuffer { writer })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(parquet_err)
    }

    pub(crate) fn finish(self) -> Result<Bytes> {
        Ok(Bytes::from(self.writer.into_inner().map_err(parquet_err)?))
    }
}

/// Writes `batches` (all of one schema, already in the order wanted) as one
/// Parquet file in memory, with [`writer_properties`].
pub fn write_parquet(
    schema: SchemaRef,
    batches: &[RecordBatch],
    metadata: &[(String, String)],
) -> Result<Bytes> {
    let mut out = ParquetBuffer::new(schema, metadata)?;
    for batch in batches {
        out.write(batch)?;
    }
    out.finish()
}

/// Reads a whole Parquet file (from memory) as record batches, with its
/// Arrow schema and key-value metadata.
pub fn read_parquet(data: Bytes) -> Result<ParquetContents> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data).map_err(parquet_err)?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(8192).build().map_err(parquet_err)?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::InvalidInput(format!("reading parquet: {e}")))?;
    Ok(ParquetContents {
        schema,
        batches,
        metadata,
    })
}

/// What [`read_parquet`] read.
#[derive(Debug)]
pub struct ParquetContents {
    /// The file's Arrow schema.
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
    /// Its key-value metadata, in file order.
    pub metadata: Vec<(String, String)>,
}

fn parquet_err(e: parquet::errors::ParquetError) -> Error {
    Error::InvalidInput(format!("parquet: {e}"))
}

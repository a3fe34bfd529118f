//! Export file encoding: ndjson and csv (gzip), parquet and avro (behind
//! their features).

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use serde_json::{Map, Value};

use super::data::{Event, FIELDS};

/// An export file format the simulator can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Ndjson,
    Csv,
    Parquet,
    Avro,
}

impl Format {
    /// Parses the request's `format`; `Err` carries the 400 message.
    pub(crate) fn parse(s: &str) -> Result<Format, String> {
        let f = match s {
            "ndjson" => Format::Ndjson,
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            "avro" => Format::Avro,
            other => {
                return Err(format!(
                    "format {other:?} is not one of avro, csv, ndjson, parquet"
                ));
            }
        };
        if f == Format::Parquet && !cfg!(feature = "parquet") {
            return Err("format \"parquet\" is not available: the simulator was built without the `parquet` feature".into());
        }
        if f == Format::Avro && !cfg!(feature = "avro") {
            return Err("format \"avro\" is not available: the simulator was built without the `avro` feature".into());
        }
        Ok(f)
    }

    /// The file name suffix. csv is gzip-compressed although its name does
    /// not say so, as Userpilot's files apparently are.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson.gz",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
        }
    }

    /// Whether the file bytes are gzip-compressed.
    pub(crate) fn is_gzip(self) -> bool {
        matches!(self, Format::Ndjson | Format::Csv)
    }

    /// The `Content-Type` served with the file.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson | Format::Csv => "application/gzip",
            Format::Parquet | Format::Avro => "application/octet-stream",
        }
    }
}

/// Encodes events in `format`. `Err` is an internal failure (500).
pub(crate) fn encode(format: Format, events: &[Event]) -> Result<Vec<u8>, String> {
    match format {
        Format::Ndjson => gzip(&ndjson(events)?),
        Format::Csv => gzip(&csv(events)?),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet(events),
        #[cfg(feature = "avro")]
        Format::Avro => avro(events),
        #[allow(unreachable_patterns)]
        _ => Err("format not compiled in".into()),
    }
}

fn gzip(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 4 + 64), Compression::fast());
    enc.write_all(raw).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

fn ndjson(events: &[Event]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(events.len() * 700);
    for e in events {
        let mut obj = Map::new();
        for (name, value) in FIELDS.iter().zip(&e.values) {
            obj.insert(
                (*name).to_string(),
                value.as_ref().map_or(Value::Null, |v| v.to_json()),
            );
        }
        serde_json::to_writer(&mut out, &obj).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

fn csv(events: &[Event]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(events.len() * 600));
    w.write_record(FIELDS).map_err(|e| e.to_string())?;
    for e in events {
        w.write_record(
            e.values
                .iter()
                .map(|v| v.as_ref().map(|v| v.as_text()).unwrap_or_default()),
        )
        .map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Whether a field is an integer in the export file contract (the records
/// layer's field table says which).
#[cfg(any(feature = "parquet", feature = "avro"))]
fn is_int_field(name: &str) -> bool {
    use crate::records::{EXPORT_FIELD_KINDS, FieldKind};
    FIELDS
        .iter()
        .zip(EXPORT_FIELD_KINDS)
        .any(|(f, kind)| *f == name && kind == FieldKind::Integer)
}

#[cfg(feature = "parquet")]
fn parquet(events: &[Event]) -> Result<Vec<u8>, String> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};

    let schema = Arc::new(crate::records::parquet::schema());
    let columns: Vec<ArrayRef> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| -> ArrayRef {
            if is_int_field(name) {
                Arc::new(Int64Array::from_iter(events.iter().map(
                    |e| match &e.values[i] {
                        Some(super::data::FieldValue::Int(n)) => Some(*n),
                        Some(other) => other.as_text().parse().ok(),
                        None => None,
                    },
                )))
            } else {
                Arc::new(StringArray::from_iter(
                    events
                        .iter()
                        .map(|e| e.values[i].as_ref().map(|v| v.as_text())),
                ))
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(feature = "avro")]
fn avro(events: &[Event]) -> Result<Vec<u8>, String> {
    use apache_avro::{Schema, Writer, types::Value as AvroValue};

    let schema =
        Schema::parse_str(&crate::records::avro::schema_json()).map_err(|e| e.to_string())?;
    let mut writer = Writer::new(&schema, Vec::new()).map_err(|e| e.to_string())?;
    for e in events {
        let record: Vec<(String, AvroValue)> = FIELDS
            .iter()
            .zip(&e.values)
            .map(|(name, v)| {
                let inner = match v {
                    None => AvroValue::Union(0, Box::new(AvroValue::Null)),
                    Some(super::data::FieldValue::Int(n)) if is_int_field(name) => {
                        AvroValue::Union(1, Box::new(AvroValue::Long(*n)))
                    }
                    Some(other) => {
                        if is_int_field(name) {
                            match other.as_text().parse::<i64>() {
                                Ok(n) => AvroValue::Union(1, Box::new(AvroValue::Long(n))),
                                Err(_) => AvroValue::Union(0, Box::new(AvroValue::Null)),
                            }
                        } else {
                            AvroValue::Union(1, Box::new(AvroValue::String(other.as_text())))
                        }
                    }
                };
                ((*name).to_string(), inner)
            })
            .collect();
        writer
            .append_value(AvroValue::Record(record))
            .map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

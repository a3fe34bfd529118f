//! Avro object container files (cargo feature `avro`), read a value at a time.

use std::path::Path;

use apache_avro::{Reader, types::Value as Avro};
use serde_json::{Map, Value};

use super::{
    EXPORT_FIELD_KINDS, EXPORT_FIELDS, Fault, FieldKind,
    event::{ExportedEvent, text_cell},
    field::format_micros,
    reader::Source,
};
use crate::{Error, Result, error::RecordLocation};

/// The avro schema (JSON) of the export file contract: a record
/// `ExportedEvent` whose fields are all `["null", "string"]` unions except
/// the [`FieldKind::Integer`] ones, `screen_width` and `screen_height`
/// (`["null", "long"]`); `metadata` holds JSON text.
///
/// The reader does not require it: any record whose field names match is
/// read, and other field types are converted leniently.
///
/// ```
/// let json = userpilot_appex::records::avro::schema_json();
/// let schema = apache_avro::Schema::parse_str(&json).unwrap();
/// assert!(matches!(schema, apache_avro::Schema::Record(_)));
/// ```
pub fn schema_json() -> String {
    let fields: Vec<Value> = EXPORT_FIELDS
        .iter()
        .zip(EXPORT_FIELD_KINDS)
        .map(|(name, kind)| {
            let ty = match kind {
                FieldKind::Integer => "long",
                _ => "string",
            };
            serde_json::json!({"name": name, "type": ["null", ty], "default": null})
        })
        .collect();
    serde_json::json!({"type": "record", "name": "ExportedEvent", "fields": fields}).to_string()
}

/// Streams events from an avro object container.
pub(crate) struct AvroRows {
    reader: Reader<'static, Source>,
    row: u64,
}

impl AvroRows {
    pub(super) fn open(path: &Path, source: Source) -> Result<Self> {
        let reader = Reader::new(source).map_err(|e| Error::CorruptFile {
            file: path.to_path_buf(),
            records_read: 0,
            message: format!("not a readable avro file: {e}"),
        })?;
        Ok(AvroRows { reader, row: 0 })
    }

    pub(super) fn next_row(&mut self) -> Option<std::result::Result<ExportedEvent, Fault>> {
        let value = match self.reader.next()? {
            Ok(v) => v,
            Err(e) => return Some(Err(Fault::Corrupt(format!("avro block: {e}")))),
        };
        self.row += 1;
        let location = RecordLocation::Row(self.row);
        let row = |message: String| Fault::Row { location, message };
        let Avro::Record(fields) = value else {
            return Some(Err(row("not an avro record".into())));
        };
        let mut map = Map::new();
        for (name, value) in fields {
            match cell(&name, value) {
                Ok(None) => {}
                Ok(Some(v)) => {
                    map.insert(name, v);
                }
                Err(message) => return Some(Err(row(message))),
            }
        }
        Some(ExportedEvent::from_json_map(map).map_err(row))
    }
}

/// One avro field as the JSON value the event model reads; `None` for null.
fn cell(name: &str, value: Avro) -> std::result::Result<Option<Value>, String> {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| Value::String(format_micros(&t)))
            .ok_or_else(|| format!("{name}: timestamp out of range"))
    };
    Ok(Some(match value {
        Avro::Null => return Ok(None),
        Avro::Union(_, inner) => return cell(name, *inner),
        Avro::String(s) | Avro::Enum(_, s) => text_cell(name, s),
        Avro::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => text_cell(name, s),
            Err(_) => return Err(format!("{name}: bytes that are not UTF-8")),
        },
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::TimestampMillis(t) | Avro::LocalTimestampMillis(t) => {
            time(chrono::DateTime::from_timestamp_millis(t))?
        }
        Avro::TimestampMicros(t) | Avro::LocalTimestampMicros(t) => {
            time(chrono::DateTime::from_timestamp_micros(t))?
        }
        Avro::TimestampNanos(t) | Avro::LocalTimestampNanos(t) => {
            time(Some(chrono::DateTime::from_timestamp_nanos(t)))?
        }
        other => Value::try_from(other).map_err(|e| format!("{name}: {e}"))?,
    }))
}

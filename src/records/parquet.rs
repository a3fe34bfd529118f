//! Parquet files (cargo feature `parquet`), read a record batch at a time.

use std::{collections::VecDeque, fs::File, path::Path};

use arrow_array::{
    Array, RecordBatch,
    cast::AsArray,
    types::{
        Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
    },
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde_json::{Map, Number, Value};

use super::{
    EXPORT_FIELD_KINDS, EXPORT_FIELDS, Fault, FieldKind, arrow,
    event::{ExportedEvent, field_index, from_json_fields, text_cell},
    field::format_micros,
};
use crate::{Error, Result, error::RecordLocation};

/// Rows decoded at a time.
pub const BATCH_SIZE: usize = 1024;

/// The arrow schema of the export file contract: one nullable column per
/// field, `Int64` for the [`FieldKind::Integer`] fields (`screen_width`,
/// `screen_height`), UTF-8 strings for the others; `metadata` holds JSON
/// text. (What this crate itself writes is [`arrow::schema`].)
///
/// The reader does not require it: other integer, float, boolean,
/// timestamp and dictionary-encoded string columns are converted too.
///
/// ```
/// let schema = userpilot_appex::records::parquet::schema();
/// assert_eq!(schema.fields().len(), 20);
/// ```
pub fn schema() -> Schema {
    Schema::new(
        EXPORT_FIELDS
            .iter()
            .zip(EXPORT_FIELD_KINDS)
            .map(|(&name, kind)| {
                let ty = match kind {
                    FieldKind::Integer => DataType::Int64,
                    _ => DataType::Utf8,
                };
                Field::new(name, ty, true)
            })
            .collect::<Vec<_>>(),
    )
}

/// Streams events from a parquet file, one record batch at a time.
pub(crate) struct ParquetRows {
    batches: ParquetRecordBatchReader,
    /// Converted rows of the current batch.
    pending: VecDeque<std::result::Result<ExportedEvent, Fault>>,
    /// Rows decoded so far (the number of the last row in `pending`).
    rows: u64,
    /// The cumulative row count at the end of each row group.
    group_ends: Vec<u64>,
    /// The file is in this crate's [`arrow::schema`]: its [`arrow::EXTRA`]
    /// column is folded back into `extra` and its derived columns ignored.
    ours: bool,
}

/// What a column of a parquet file holds for the event model.
#[derive(Clone, Copy)]
enum Role {
    /// The export field of this index in [`EXPORT_FIELDS`].
    Field(usize),
    /// A field this crate does not know: goes to `extra` by its name.
    Other,
    /// [`arrow::EXTRA`]: a JSON object of unknown fields.
    Extra,
    /// A column [`arrow::schema`] derives from the others.
    Derived,
}

impl ParquetRows {
    pub(super) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let corrupt = |e: parquet::errors::ParquetError| Error::CorruptFile {
            file: path.to_path_buf(),
            records_read: 0,
            message: format!("not a readable parquet file: {e}"),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(corrupt)?;
        // Ours if either the Arrow schema stored in the file (ArrowWriter's
        // `ARROW:schema`) or the file's own key-value metadata says so.
        let ours = builder
            .schema()
            .metadata()
            .contains_key(arrow::SCHEMA_VERSION_KEY)
            || builder
                .metadata()
                .file_metadata()
                .key_value_metadata()
                .is_some_and(|kv| kv.iter().any(|e| e.key == arrow::SCHEMA_VERSION_KEY));
        let mut end = 0u64;
        let group_ends = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| {
                end += u64::try_from(g.num_rows()).unwrap_or(0);
                end
            })
            .collect();
        let batches = builder
            .with_batch_size(BATCH_SIZE)
            .build()
            .map_err(corrupt)?;
        Ok(ParquetRows {
            batches,
            pending: VecDeque::new(),
            rows: 0,
            group_ends,
            ours,
        })
    }

    pub(super) fn next_row(&mut self) -> Option<std::result::Result<ExportedEvent, Fault>> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Some(row);
            }
            match self.batches.next()? {
                Ok(batch) => {
                    if let Err(fault) = self.convert(&batch) {
                        return Some(Err(fault));
                    }
                }
                Err(e) => return Some(Err(Fault::Corrupt(format!("parquet batch: {e}")))),
            }
        }
    }

    fn role(&self, name: &str) -> Role {
        match field_index(name) {
            Some(i) => Role::Field(i),
            None if self.ours && name == arrow::EXTRA => Role::Extra,
            None if self.ours && arrow::DERIVED_COLUMNS.contains(&name) => Role::Derived,
            None => Role::Other,
        }
    }

    fn location(&self, row: u64) -> RecordLocation {
        // `row` is 1-based; a row group ends at (and includes) its cumulative count.
        let row_group = self.group_ends.partition_point(|&end| end < row);
        RecordLocation::RowGroup { row_group, row }
    }

    /// Converts a batch into rows in `pending`; fails on a column type this
    /// reader does not convert.
    fn convert(&mut self, batch: &RecordBatch) -> std::result::Result<(), Fault> {
        let schema = batch.schema();
        let mut columns = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .filter_map(|(field, array)| {
                let name = field.name().as_str();
                let role = self.role(name);
                if matches!(role, Role::Derived) {
                    return None;
                }
                Some(column(name, array.as_ref()).map(|cells| (name, role, cells)))
            })
            .collect::<std::result::Result<Vec<_>, Fault>>()?;
        for i in 0..batch.num_rows() {
            self.rows += 1;
            let location = self.location(self.rows);
            // Known columns go straight to their field (a repeated column:
            // the last one wins), others to `extra`; each cell is moved out
            // of its column, not copied.
            let mut fields: [Option<Value>; EXPORT_FIELDS.len()] = Default::default();
            let mut extra = Map::new();
            let mut failure = None;
            for (name, role, cells) in &mut columns {
                match std::mem::replace(&mut cells[i], Ok(None)) {
                    Ok(None) => {}
                    Ok(Some(v)) => match role {
                        Role::Field(k) => fields[*k] = Some(v),
                        Role::Other => {
                            extra.insert((*name).to_string(), v);
                        }
                        Role::Extra => match fold_extra(v, &mut extra) {
                            Ok(()) => {}
                            Err(message) => {
                                failure = Some(message);
                                break;
                            }
                        },
                        Role::Derived => {}
                    },
                    Err(message) => {
                        failure = Some(message);
                        break;
                    }
                }
            }
            let row = match failure {
                Some(message) => Err(message),
                None => from_json_fields(fields, extra),
            };
            self.pending
                .push_back(row.map_err(|message| Fault::Row { location, message }));
        }
        Ok(())
    }
}

/// Adds the members of an [`arrow::EXTRA`] cell (JSON text of an object)
/// to `extra`.
fn fold_extra(cell: Value, extra: &mut Map<String, Value>) -> std::result::Result<(), String> {
    let object = match cell {
        Value::String(text) => serde_json::from_str::<Map<String, Value>>(&text).ok(),
        _ => None,
    };
    let object =
        object.ok_or_else(|| format!("{}: not the JSON text of an object", arrow::EXTRA))?;
    extra.extend(object);
    Ok(())
}

type Cells = Vec<std::result::Result<Option<Value>, String>>;

/// Converts a column to JSON cells (`None` for null).
fn column(name: &str, array: &dyn Array) -> std::result::Result<Cells, Fault> {
    fn each<T>(
        array: &dyn Array,
        n: usize,
        f: impl Fn(usize) -> std::result::Result<Value, String>,
    ) -> Vec<std::result::Result<Option<Value>, T>>
    where
        T: From<String>,
    {
        (0..n)
            .map(|i| {
                if array.is_null(i) {
                    Ok(None)
                } else {
                    f(i).map(Some).map_err(T::from)
                }
            })
            .collect()
    }
    let n = array.len();
    let unsupported = || {
        Fault::Unsupported(format!(
            "column {name} has type {} which this reader does not convert",
            array.data_type()
        ))
    };
    let int = |v: i64| Ok(Value::Number(v.into()));
    let float = |v: f64| {
        Ok(Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null))
    };
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| Value::String(format_micros(&t)))
            .ok_or_else(|| format!("{name}: timestamp out of range"))
    };
    macro_rules! prim {
        ($ty:ty, $conv:expr) => {{
            let a = array.as_primitive_opt::<$ty>().ok_or_else(unsupported)?;
            each(array, n, |i| $conv(a.value(i)))
        }};
    }
    Ok(match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string_opt::<i32>().ok_or_else(unsupported)?;
            each(array, n, |i| Ok(text_cell(name, a.value(i).to_string())))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string_opt::<i64>().ok_or_else(unsupported)?;
            each(array, n, |i| Ok(text_cell(name, a.value(i).to_string())))
        }
        DataType::Utf8View => {
            let a = array.as_string_view_opt().ok_or_else(unsupported)?;
            each(array, n, |i| Ok(text_cell(name, a.value(i).to_string())))
        }
        DataType::Binary => {
            let a = array.as_binary_opt::<i32>().ok_or_else(unsupported)?;
            each(array, n, |i| match std::str::from_utf8(a.value(i)) {
                Ok(s) => Ok(text_cell(name, s.to_string())),
                Err(_) => Err(format!("{name}: bytes that are not UTF-8")),
            })
        }
        DataType::Boolean => {
            let a = array.as_boolean_opt().ok_or_else(unsupported)?;
            each(array, n, |i| Ok(Value::Bool(a.value(i))))
        }
        DataType::Int8 => prim!(Int8Type, |v| int(i64::from(v))),
        DataType::Int16 => prim!(Int16Type, |v| int(i64::from(v))),
        DataType::Int32 => prim!(Int32Type, |v| int(i64::from(v))),
        DataType::Int64 => prim!(Int64Type, int),
        DataType::UInt8 => prim!(UInt8Type, |v| int(i64::from(v))),
        DataType::UInt16 => prim!(UInt16Type, |v| int(i64::from(v))),
        DataType::UInt32 => prim!(UInt32Type, |v| int(i64::from(v))),
        DataType::UInt64 => prim!(UInt64Type, |v: u64| Ok(Value::Number(v.into()))),
        DataType::Float32 => prim!(Float32Type, |v| float(f64::from(v))),
        DataType::Float64 => prim!(Float64Type, float),
        DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType, |v| time(
            chrono::DateTime::from_timestamp(v, 0)
        )),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            prim!(TimestampMillisecondType, |v| time(
                chrono::DateTime::from_timestamp_millis(v)
            ))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            prim!(TimestampMicrosecondType, |v| time(
                chrono::DateTime::from_timestamp_micros(v)
            ))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            prim!(TimestampNanosecondType, |v| time(Some(
                chrono::DateTime::from_timestamp_nanos(v)
            )))
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary_opt().ok_or_else(unsupported)?;
            let values = column(name, dict.values().as_ref())?;
            let keys = dict.normalized_keys();
            (0..n)
                .map(|i| {
                    if array.is_null(i) {
                        Ok(None)
                    } else {
                        keys.get(i)
                            .and_then(|&k| values.get(k))
                            .cloned()
                            .unwrap_or_else(|| Err(format!("{name}: dictionary key out of range")))
                    }
                })
                .collect()
        }
        _ => return Err(unsupported()),
    })
}

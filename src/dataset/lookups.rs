//! Lookup tables as Parquet: one file per kind, typed columns for the
//! fields the model knows, an `extra` JSON column for the rest.
//!
//! Generic over any `Serialize + JsonSchema` item, so any lookup model (or
//! a new one) lands the same way: the item's JSON schema says which
//! top-level fields are integers, numbers, booleans, date-times or text;
//! anything else (objects, lists) is kept as JSON text.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, RecordBatch,
    builder::{
        ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    },
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    destination::{Destination, check_key},
    writer::{META_CRATE_VERSION, write_parquet},
};
use crate::{Error, Result};

/// The column holding, as JSON text (an object, or null), the fields of an
/// item that have no typed column and the values that did not fit theirs.
pub const EXTRA_COLUMN: &str = "extra";

/// The key of a lookup table: `lookups/<kind>.parquet`.
///
/// ```
/// assert_eq!(userpilot_appex::dataset::lookup_key("flows"), "lookups/flows.parquet");
/// ```
pub fn lookup_key(kind: &str) -> String {
    format!("lookups/{kind}.parquet")
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnKind {
    Int,
    Float,
    Bool,
    Time,
    Text,
    Json,
}

impl ColumnKind {
    fn data_type(self) -> DataType {
        match self {
            ColumnKind::Int => DataType::Int64,
            ColumnKind::Float => DataType::Float64,
            ColumnKind::Bool => DataType::Boolean,
            ColumnKind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnKind::Text | ColumnKind::Json => DataType::Utf8,
        }
    }
}

/// The kind of a property schema, following a `$ref` into `$defs` once and
/// looking through `Option` (`type: [T, "null"]`, `anyOf: [T, null]`).
fn kind_of(schema: &Value, defs: Option<&Map<String, Value>>, depth: u8) -> ColumnKind {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str)
        && depth < 4
        && let Some(def) = r
            .rsplit('/')
            .next()
            .and_then(|name| defs.and_then(|d| d.get(name)))
    {
        return kind_of(def, defs, depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = options
                .iter()
                .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            let kinds: Vec<ColumnKind> = non_null
                .iter()
                .map(|o| kind_of(o, defs, depth + 1))
                .collect();
            return match kinds.split_first() {
                Some((first, rest)) if rest.iter().all(|k| k == first) => *first,
                _ => ColumnKind::Json,
            };
        }
    }
    if schema.get("enum").is_some() || schema.get("const").is_some() {
        let all_strings = schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|v| v.iter().all(|x| x.is_string() || x.is_null()))
            .unwrap_or_else(|| schema.get("const").is_some_and(Value::is_string));
        if all_strings {
            return ColumnKind::Text;
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    match types.as_slice() {
        ["integer"] => ColumnKind::Int,
        ["number"] => ColumnKind::Float,
        ["boolean"] => ColumnKind::Bool,
        ["string"] => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => ColumnKind::Time,
            _ => ColumnKind::Text,
        },
        _ => ColumnKind::Json,
    }
}

/// The typed columns of `T`: its JSON schema's top-level properties, in
/// schema order.
fn columns_of<T: JsonSchema>() -> Vec<(String, ColumnKind)> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Value::as_object);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .filter(|(name, _)| name.as_str() != EXTRA_COLUMN)
        .map(|(name, s)| (name.clone(), kind_of(s, defs, 0)))
        .collect()
}

enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    Text(StringBuilder),
}

impl Builder {
    fn new(kind: ColumnKind) -> Self {
        match kind {
            ColumnKind::Int => Builder::Int(Int64Builder::new()),
            ColumnKind::Float => Builder::Float(Float64Builder::new()),
            ColumnKind::Bool => Builder::Bool(BooleanBuilder::new()),
            ColumnKind::Time => {
                Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnKind::Text | ColumnKind::Json => Builder::Text(StringBuilder::new()),
        }
    }

    /// Appends `value`; `false` when it does not fit (nothing appended).
    fn append(&mut self, kind: ColumnKind, value: &Value) -> bool {
        if value.is_null() {
            self.append_null();
            return true;
        }
        match (self, kind) {
            (Builder::Int(b), _) => match value.as_i64() {
                Some(v) => b.append_value(v),
                None => return false,
            },
            (Builder::Float(b), _) => match value.as_f64() {
                Some(v) => b.append_value(v),
                None => return false,
            },
            (Builder::Bool(b), _) => match value.as_bool() {
                Some(v) => b.append_value(v),
                None => return false,
            },
            (Builder::Time(b), _) => match value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            {
                Some(t) => b.append_value(t.timestamp_micros()),
                None => return false,
            },
            (Builder::Text(b), ColumnKind::Text) => match value.as_str() {
                Some(s) => b.append_value(s),
                None => return false,
            },
            (Builder::Text(b), _) => b.append_value(value.to_string()),
        }
        true
    }

    fn append_null(&mut self) {
        match self {
            Builder::Int(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Text(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        self.as_dyn().finish()
    }

    /// The builder, for what every kind of column does alike.
    fn as_dyn(&mut self) -> &mut dyn ArrayBuilder {
        match self {
            Builder::Int(b) => b,
            Builder::Float(b) => b,
            Builder::Bool(b) => b,
            Builder::Time(b) => b,
            Builder::Text(b) => b,
        }
    }
}

/// The Arrow schema of a lookup table of `T`: its typed columns, then
/// [`EXTRA_COLUMN`].
pub fn lookup_schema<T: JsonSchema>() -> SchemaRef {
    let mut fields: Vec<Field> = columns_of::<T>()
        .into_iter()
        .map(|(name, kind)| Field::new(name, kind.data_type(), true))
        .collect();
    fields.push(Field::new(EXTRA_COLUMN, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Converts lookup items to one record batch of [`lookup_schema`]. A value
/// that does not fit its typed column is kept in `extra` under its own key.
pub fn lookup_batch<T: Serialize + JsonSchema>(items: &[T]) -> Result<RecordBatch> {
    let columns = columns_of::<T>();
    let mut builders: Vec<Builder> = columns.iter().map(|(_, k)| Builder::new(*k)).collect();
    let mut extra = StringBuilder::new();
    for item in items {
        let mut object = match serde_json::to_value(item) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(Error::InvalidInput(format!(
                    "a lookup item serialized as {other}, not an object"
                )));
            }
            Err(e) => return Err(Error::InvalidInput(format!("lookup item: {e}"))),
        };
        let mut rest = Map::new();
        for ((name, kind), builder) in columns.iter().zip(&mut builders) {
            match object.remove(name) {
                None => builder.append_null(),
                Some(value) => {
                    if !builder.append(*kind, &value) {
                        builder.append_null();
                        rest.insert(name.clone(), value);
                    }
                }
            }
        }
        rest.extend(object);
        if rest.is_empty() {
            extra.append_null();
        } else {
            extra.append_value(Value::Object(rest).to_string());
        }
    }
    let mut arrays: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
    arrays.push(Arc::new(extra.finish()));
    RecordBatch::try_new(lookup_schema::<T>(), arrays)
        .map_err(|e| Error::InvalidInput(format!("lookup table: {e}")))
}

/// What landing one lookup table did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LookupReport {
    /// The lookup's kind (the file's name).
    pub kind: String,
    /// `lookups/<kind>.parquet`.
    pub key: String,
    /// Rows written.
    pub rows: u64,
    /// The file's size.
    pub bytes: u64,
}

/// Writes `items` as `lookups/<kind>.parquet`, replacing the table
/// atomically (a lookup table is a snapshot: the whole table each time).
pub async fn land_lookup<T: Serialize + JsonSchema>(
    dest: &dyn Destination,
    kind: &str,
    items: &[T],
) -> Result<LookupReport> {
    let key = lookup_key(kind);
    check_key(&key)?;
    if kind.contains('/') {
        return Err(Error::InvalidInput(format!("bad lookup kind {kind:?}")));
    }
    let batch = lookup_batch(items)?;
    let meta = [(
        META_CRATE_VERSION.to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )];
    let data = write_parquet(batch.schema(), &[batch], &meta)?;
    let bytes = data.len() as u64;
    dest.put(&key, data).await?;
    Ok(LookupReport {
        kind: kind.to_owned(),
        key,
        rows: items.len() as u64,
        bytes,
    })
}

//! The kinds of export field and how each is decoded from JSON or text and
//! borrowed as a [`Cell`]: the "type and decoder" half of the field table
//! in `event.rs`.

use std::{borrow::Cow, fmt, ops::Range};

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serializer;
use serde_json::Value;

use crate::models::{EventSource, EventType};

/// What an export field holds, which decides how every format maps it.
///
/// ```
/// use userpilot_appex::records::{EXPORT_FIELD_KINDS, FieldKind};
/// assert_eq!(EXPORT_FIELD_KINDS[6], FieldKind::Timestamp); // inserted_at
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// Text from a small open set of values (`event_type`, `source`).
    Label,
    /// A UTC date-time to the microsecond.
    Timestamp,
    /// A whole number.
    Integer,
    /// A JSON value (written as JSON text by the text and columnar formats).
    Json,
}

/// One field's value, borrowed from an
/// [`ExportedEvent`](super::ExportedEvent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Absent.
    Null,
    /// A [`FieldKind::Text`] or [`FieldKind::Label`] value.
    Text(&'a str),
    /// A [`FieldKind::Timestamp`] value.
    Timestamp(DateTime<Utc>),
    /// A [`FieldKind::Integer`] value.
    Integer(i64),
    /// A [`FieldKind::Json`] value (never `Null`: that is [`Cell::Null`]).
    Json(&'a Value),
}

/// The Rust type of an export field: its kind, its decoders, how it is
/// serialized. One implementation per kind of field.
pub(crate) trait FieldValue: Sized {
    /// The field's kind.
    const KIND: FieldKind;

    /// Decodes a JSON member (an ndjson value, a parquet/avro cell):
    /// strings as sent, empty strings as absent, numbers and booleans in
    /// text fields as their text.
    fn from_json(key: &str, value: Option<Value>) -> Result<Self, String>;

    /// Decodes a text cell (CSV), already known to be non-empty.
    fn from_text(key: &str, cell: Option<&str>) -> Result<Self, String>;

    /// Decodes a JSON member as a reader hands it over: exactly as
    /// [`from_json`](Self::from_json) decodes the same member as a
    /// [`Value`], without making a `String` of a string member first.
    fn from_slot(key: &str, slot: Option<JsonSlot<'_>>) -> Result<Self, String> {
        match slot {
            // What `from_json` does with a string: empty is absent, the
            // rest reads as the text cell it is.
            Some(JsonSlot::Text(s)) => Self::from_text(key, Some(&*s).filter(|s| !s.is_empty())),
            Some(JsonSlot::Value(v)) => Self::from_json(key, Some(v)),
            None => Self::from_json(key, None),
        }
    }

    /// Decodes a JSON member into `self`, exactly as
    /// [`from_slot`](Self::from_slot) decodes it, reusing what `self`
    /// holds (a text field's buffer) where it can.
    fn set_from_slot(&mut self, key: &str, slot: Option<JsonSlot<'_>>) -> Result<(), String> {
        *self = Self::from_slot(key, slot)?;
        Ok(())
    }

    /// Decodes a text cell into `self`, exactly as
    /// [`from_text`](Self::from_text) decodes it, reusing what `self` holds
    /// where it can.
    fn set_from_text(&mut self, key: &str, cell: Option<&str>) -> Result<(), String> {
        *self = Self::from_text(key, cell)?;
        Ok(())
    }

    /// The value as a [`Cell`].
    fn cell(&self) -> Cell<'_>;

    /// `true` when absent (left out when serialized).
    fn is_absent(&self) -> bool {
        matches!(self.cell(), Cell::Null)
    }

    /// Serializes the value as the ndjson contract writes it.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.cell() {
            Cell::Null => s.serialize_none(),
            Cell::Text(t) => s.serialize_str(t),
            Cell::Timestamp(t) => s.serialize_str(&format_micros(&t)),
            Cell::Integer(n) => s.serialize_i64(n),
            Cell::Json(v) => serde::Serialize::serialize(v, s),
        }
    }
}

/// A JSON member's value as a reader hands it to [`FieldValue::from_slot`]:
/// a string (borrowed from the input when it has no escapes), or any other
/// JSON value.
pub(crate) enum JsonSlot<'a> {
    /// A JSON string.
    Text(Cow<'a, str>),
    /// Any JSON value.
    Value(Value),
}

impl From<Value> for JsonSlot<'_> {
    fn from(value: Value) -> Self {
        JsonSlot::Value(value)
    }
}

/// The JSON text of an event's [`FieldKind::Json`] fields as an ndjson
/// line holds them, for a writer that keeps JSON as text: a reader asked to
/// keep it puts a JSON member's text here instead of decoding it into the
/// event (which then holds `Null` there). A `null` member is absent.
#[derive(Debug, Default)]
pub(crate) struct JsonTexts {
    text: String,
    spans: Vec<(usize, Range<usize>)>,
}

impl JsonTexts {
    /// Forgets the texts of the last row.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Keeps `text` as the JSON text of field `index` (a later one for the
    /// same field wins).
    pub(crate) fn set(&mut self, index: usize, text: &str) {
        self.spans.retain(|(i, _)| *i != index);
        if text != "null" {
            let start = self.text.len();
            self.text.push_str(text);
            self.spans.push((index, start..self.text.len()));
        }
    }

    /// The JSON text kept for field `index`, if any.
    #[cfg_attr(not(feature = "arrow"), allow(dead_code))]
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        self.spans
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, span)| &self.text[span.clone()])
    }
}

/// A text member: strings as sent (empty = absent), numbers and booleans as
/// their text.
fn text(key: &str, value: Option<Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!(
            "{key} should be text, found {}",
            excerpt(&other.to_string())
        )),
    }
}

impl FieldValue for Option<String> {
    const KIND: FieldKind = FieldKind::Text;
    fn from_json(key: &str, value: Option<Value>) -> Result<Self, String> {
        text(key, value)
    }
    fn from_text(_: &str, cell: Option<&str>) -> Result<Self, String> {
        Ok(cell.map(str::to_string))
    }
    fn set_from_slot(&mut self, key: &str, slot: Option<JsonSlot<'_>>) -> Result<(), String> {
        match slot {
            Some(JsonSlot::Text(s)) => self.set_from_text(key, Some(&*s).filter(|s| !s.is_empty())),
            other => {
                *self = Self::from_slot(key, other)?;
                Ok(())
            }
        }
    }
    fn set_from_text(&mut self, _: &str, cell: Option<&str>) -> Result<(), String> {
        match (self.as_mut(), cell) {
            (Some(buffer), Some(cell)) => {
                buffer.clear();
                buffer.push_str(cell);
            }
            (_, cell) => *self = cell.map(str::to_string),
        }
        Ok(())
    }
    fn cell(&self) -> Cell<'_> {
        self.as_deref().map_or(Cell::Null, Cell::Text)
    }
}

/// [`FieldValue`] for the open enums of [`FieldKind::Label`] fields.
macro_rules! label {
    ($ty:ty) => {
        impl FieldValue for Option<$ty> {
            const KIND: FieldKind = FieldKind::Label;
            fn from_json(key: &str, value: Option<Value>) -> Result<Self, String> {
                Ok(text(key, value)?.map(|s| <$ty>::from(s.as_str())))
            }
            fn from_text(_: &str, cell: Option<&str>) -> Result<Self, String> {
                Ok(cell.map(<$ty>::from))
            }
            fn cell(&self) -> Cell<'_> {
                self.as_ref().map_or(Cell::Null, |v| Cell::Text(v.as_str()))
            }
        }
    };
}
label!(EventType);
label!(EventSource);

impl FieldValue for Option<DateTime<Utc>> {
    const KIND: FieldKind = FieldKind::Timestamp;
    fn from_json(key: &str, value: Option<Value>) -> Result<Self, String> {
        Self::from_text(key, text(key, value)?.as_deref())
    }
    fn from_text(key: &str, cell: Option<&str>) -> Result<Self, String> {
        cell.map(|s| {
            parse_inserted_at(s).ok_or_else(|| format!("{key} {:?} is not a date-time", excerpt(s)))
        })
        .transpose()
    }
    fn cell(&self) -> Cell<'_> {
        self.map_or(Cell::Null, Cell::Timestamp)
    }
}

impl FieldValue for Option<i64> {
    const KIND: FieldKind = FieldKind::Integer;
    fn from_json(key: &str, value: Option<Value>) -> Result<Self, String> {
        integer(key, value)
    }
    fn from_text(key: &str, cell: Option<&str>) -> Result<Self, String> {
        match cell {
            None => Ok(None),
            Some(s) => integer_text(key, s),
        }
    }
    fn cell(&self) -> Cell<'_> {
        self.map_or(Cell::Null, Cell::Integer)
    }
}

impl FieldValue for Value {
    const KIND: FieldKind = FieldKind::Json;
    fn from_json(_: &str, value: Option<Value>) -> Result<Self, String> {
        Ok(value.unwrap_or(Value::Null))
    }
    fn from_text(_: &str, cell: Option<&str>) -> Result<Self, String> {
        Ok(cell.map_or(Value::Null, json_text))
    }
    fn from_slot(key: &str, slot: Option<JsonSlot<'_>>) -> Result<Self, String> {
        match slot {
            // A JSON string member stays a string (it is not JSON text).
            Some(JsonSlot::Text(s)) => Ok(Value::String(s.into_owned())),
            Some(JsonSlot::Value(v)) => Self::from_json(key, Some(v)),
            None => Self::from_json(key, None),
        }
    }
    fn cell(&self) -> Cell<'_> {
        if self.is_null() {
            Cell::Null
        } else {
            Cell::Json(self)
        }
    }
}

/// JSON text as its value; text that is not JSON as a JSON string.
pub(crate) fn json_text(cell: &str) -> Value {
    match serde_json::from_str::<Value>(cell) {
        Ok(v) => v,
        Err(_) => Value::String(cell.to_string()),
    }
}

/// An integer field: a JSON integer, an integral float, or a string holding one.
fn integer(key: &str, v: Option<Value>) -> Result<Option<i64>, String> {
    let bad = |v: &dyn fmt::Display| {
        format!(
            "{key} should be an integer, found {}",
            excerpt(&v.to_string())
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(integral))
            .map(Some)
            .ok_or_else(|| bad(&n)),
        Some(Value::String(s)) => integer_text(key, &s),
        Some(other) => Err(bad(&other)),
    }
}

/// An integer field's text: an integer, or an integral float; blank is absent.
fn integer_text(key: &str, s: &str) -> Result<Option<i64>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<i64>()
        .ok()
        .or_else(|| t.parse::<f64>().ok().and_then(integral))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "{key} should be an integer, found {}",
                excerpt(&format!("{s:?}"))
            )
        })
}

/// A float that holds an integer exactly, as that integer.
fn integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// The first 80 characters of a value, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    crate::error::shorten(s, 80)
}

/// Formats a date-time the way export files write it:
/// `2025-01-10T12:34:56.123456Z`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use userpilot_appex::records::format_micros;
/// let t = Utc.with_ymd_and_hms(2025, 1, 10, 12, 34, 56).unwrap();
/// assert_eq!(format_micros(&t), "2025-01-10T12:34:56.000000Z");
/// ```
pub fn format_micros(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses an `inserted_at` value: RFC 3339 (`…Z` or an offset, converted to
/// UTC), or a naive `YYYY-MM-DD HH:MM:SS[.ffffff]` (also with `T`) read as
/// UTC. Precision beyond microseconds is truncated.
///
/// ```
/// use userpilot_appex::records::parse_inserted_at;
/// let a = parse_inserted_at("2025-01-10T12:34:56.123456Z").unwrap();
/// let b = parse_inserted_at("2025-01-10 12:34:56.123456").unwrap();
/// let c = parse_inserted_at("2025-01-10T14:34:56.123456+02:00").unwrap();
/// assert!(a == b && b == c);
/// assert!(parse_inserted_at("yesterday").is_none());
/// ```
pub fn parse_inserted_at(s: &str) -> Option<DateTime<Utc>> {
    crate::models::parse_timestamp(s).map(|t| t.trunc_subsecs(6))
}

//! Serde helpers for what the server really sends, as opposed to what the
//! spec declares: numbers where strings are declared, `null` where arrays
//! are declared. A surprising value never fails a whole response.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Reads any JSON scalar as an optional string: a string as is, a number or
/// bool as its text, an object or array as its compact JSON, `null` as `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    })
}

/// Reads a string like [`opt_string`], with `null` or a missing field as `""`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d).map(Option::unwrap_or_default)
}

/// Reads an array, with `null` as empty. Each item is decoded as `T`.
pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Reads an array of strings leniently: `null` as empty, each item through
/// [`opt_string`] (so numbers become text), `null` items dropped; a single
/// scalar where an array was declared reads as a one-item list.
pub fn string_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    fn scalar(v: Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    })
}

/// Reads an integer leniently: a JSON number (integral) or a string holding
/// one; anything else, including `null`, as `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Reads a bool leniently: `true`/`false`, `"true"`/`"false"`, `1`/`0`;
/// anything else as `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    })
}

// --- taking typed fields out of a JSON object (lookup models) ---
//
// The lookup models decode from a JSON object field by field: each typed
// field is taken out of the object only when its value fits, so a value that
// does not (an id that is not an integer, a date that does not parse) stays
// in the model's `extra` map exactly as sent instead of being lost or failing
// the whole response.

/// Takes `key` out of `map` when `parse` accepts its value and returns the
/// parsed value. `null` is removed and reads as `None`; a value `parse`
/// rejects stays in `map`, as sent.
pub fn take<T>(
    map: &mut serde_json::Map<String, Value>,
    key: &str,
    parse: impl FnOnce(&Value) -> Option<T>,
) -> Option<T> {
    let value = map.get(key)?;
    if value.is_null() {
        map.remove(key);
        return None;
    }
    let parsed = parse(value)?;
    map.remove(key);
    Some(parsed)
}

/// Takes a list out of `map`: `null` or a missing key reads as empty; a
/// value that is not a list of `T` stays in `map`, as sent, and reads as
/// empty.
pub fn take_vec<T: serde::de::DeserializeOwned>(
    map: &mut serde_json::Map<String, Value>,
    key: &str,
) -> Vec<T> {
    take(map, key, |v| {
        v.is_array()
            .then(|| serde_json::from_value::<Vec<T>>(v.clone()).ok())
            .flatten()
    })
    .unwrap_or_default()
}

/// An integer: a JSON integer (or a float with no fraction) or a string
/// holding one.
pub fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A bool: `true`/`false`, the strings `"true"`/`"false"` (any case, or
/// `"1"`/`"0"`), or the numbers `1`/`0`.
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A text: a string as is, a number or bool as its text. Objects and arrays
/// are rejected (and so kept as sent by [`take`]).
pub fn as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A UTC date-time from a string in RFC 3339 or `YYYY-MM-DD HH:MM:SS[.f]`
/// (read as UTC).
pub fn as_datetime(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    value.as_str().and_then(super::jobs::parse_time)
}

/// A nested object decoded as `T`; anything else is rejected.
pub fn as_object<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
    value
        .is_object()
        .then(|| serde_json::from_value(value.clone()).ok())
        .flatten()
}

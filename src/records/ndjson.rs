//! ndjson: one JSON object per line.

use std::{
    borrow::Cow,
    fmt,
    io::{BufRead, Read},
};

use serde::{
    Deserialize, Deserializer,
    de::{
        self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
        value::{MapAccessDeserializer, SeqAccessDeserializer},
    },
};
use serde_json::{Map, Value, value::RawValue};

use super::{
    Fault,
    event::{EXPORT_FIELD_KINDS, EXPORT_FIELDS, ExportedEvent, field_index, set_json_fields},
    field::{FieldKind, JsonSlot, JsonTexts},
};
use crate::error::RecordLocation;

/// The longest line read; a longer one is a malformed row (and is skipped
/// without being held in memory).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Streams events from ndjson text, one line at a time.
pub(super) struct NdjsonRows<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    order: KeyOrder,
}

/// The order the known fields came in on the lines read so far:
/// `next[0]` is the field the last line started with, `next[i + 1]` the
/// field that followed field `i`. Every line of an export lists its keys in
/// the same order, so a key is found at the first guess.
struct KeyOrder {
    next: [usize; EXPORT_FIELDS.len() + 1],
}

impl KeyOrder {
    fn new() -> Self {
        // Before any line: the table's order.
        KeyOrder {
            next: std::array::from_fn(|i| i),
        }
    }
}

impl<R: BufRead> NdjsonRows<R> {
    pub(super) fn new(reader: R) -> Self {
        NdjsonRows {
            reader,
            line: 0,
            buf: Vec::with_capacity(4096),
            order: KeyOrder::new(),
        }
    }

    /// Reads up to and including the next `\n`, at most `MAX_LINE + 1` bytes.
    fn read_line(&mut self) -> std::io::Result<usize> {
        self.buf.clear();
        (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
    }

    /// Reads the next event into `event` (see
    /// [`RecordReader::read_into`](super::RecordReader::read_into)); with
    /// `json`, the JSON fields' text goes there instead (see [`JsonTexts`]).
    pub(super) fn next_row_into(
        &mut self,
        event: &mut ExportedEvent,
        mut json: Option<&mut JsonTexts>,
    ) -> Option<Result<(), Fault>> {
        loop {
            // A line wholly inside the reader's buffer is parsed where it
            // lies; one that crosses the buffer's end is copied first.
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) => return Some(Err(Fault::Io(e))),
            };
            if available.is_empty() {
                return None;
            }
            if let Some(end) = memchr::memchr(b'\n', available) {
                self.line += 1;
                let row = parse_line(
                    &available[..end],
                    self.line,
                    &mut self.order,
                    event,
                    json.as_deref_mut(),
                );
                self.reader.consume(end + 1);
                match row {
                    Some(row) => return Some(row),
                    None => continue,
                }
            }
            let n = match self.read_line() {
                Ok(n) => n,
                Err(e) => return Some(Err(Fault::Io(e))),
            };
            if n == 0 {
                return None;
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                // Drop the rest of the over-long line, a bounded piece at a time.
                loop {
                    match self.read_line() {
                        Ok(0) => break,
                        Ok(_) if self.buf.last() == Some(&b'\n') => break,
                        Ok(_) => {}
                        Err(e) => return Some(Err(Fault::Io(e))),
                    }
                }
                return Some(Err(Fault::Row {
                    location: RecordLocation::Line(self.line),
                    message: format!("line is longer than {MAX_LINE} bytes"),
                }));
            }
            if let Some(row) = parse_line(
                &self.buf,
                self.line,
                &mut self.order,
                event,
                json.as_deref_mut(),
            ) {
                return Some(row);
            }
        }
    }
}

/// Reads the event of line number `number` (without or with its `\n`)
/// into `event`; `None` for a blank line.
fn parse_line(
    line: &[u8],
    number: u64,
    order: &mut KeyOrder,
    event: &mut ExportedEvent,
    json: Option<&mut JsonTexts>,
) -> Option<Result<(), Fault>> {
    let location = RecordLocation::Line(number);
    let mut line = line.trim_ascii();
    if number == 1 {
        line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    }
    if line.is_empty() {
        return None;
    }
    let row = match Fields::parse(line, order, json) {
        Ok((fields, extra)) => set_json_fields(event, fields, extra)
            .map_err(|message| Fault::Row { location, message }),
        Err(e) => Err(Fault::Row {
            location,
            message: format!("not a JSON object: {e}"),
        }),
    };
    Some(row)
}

/// A line's object split as it is read: the values of the known fields
/// (by their index in [`EXPORT_FIELDS`]) and the other members. The same
/// result as decoding a `Map` and taking the fields out of it (a repeated
/// key: the last one wins), without building and searching that map.
struct Fields<'o> {
    order: &'o mut KeyOrder,
    /// Where the JSON fields' text goes, when it is kept as text.
    json: Option<&'o mut JsonTexts>,
}

type Split<'a> = (
    [Option<JsonSlot<'a>>; EXPORT_FIELDS.len()],
    Map<String, Value>,
);

impl Fields<'_> {
    fn parse<'a>(
        line: &'a [u8],
        order: &mut KeyOrder,
        json: Option<&mut JsonTexts>,
    ) -> serde_json::Result<Split<'a>> {
        // A line checked as UTF-8 once is parsed as text: its strings need
        // no check of their own. A line that is not UTF-8 is parsed as
        // bytes, for the error to say where.
        match std::str::from_utf8(line) {
            Ok(text) => Self::parse_from(serde_json::de::StrRead::new(text), order, json),
            Err(_) => Self::parse_from(serde_json::de::SliceRead::new(line), order, json),
        }
    }

    fn parse_from<'a, R: serde_json::de::Read<'a>>(
        read: R,
        order: &mut KeyOrder,
        json: Option<&mut JsonTexts>,
    ) -> serde_json::Result<Split<'a>> {
        let mut de = serde_json::Deserializer::new(read);
        let split = de.deserialize_map(Fields { order, json })?;
        de.end()?;
        Ok(split)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Split<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Split<'de>, A::Error> {
        let mut fields: [Option<JsonSlot<'de>>; EXPORT_FIELDS.len()] = Default::default();
        let mut extra = Map::new();
        // The key after field `i` is most likely the one that followed it
        // on the line before, tried before a search.
        let next = &mut self.order.next;
        let mut after = 0;
        while let Some(key) = access.next_key_seed(KeySeed { hint: next[after] })? {
            match key {
                Key::Known(i) => {
                    next[after] = i;
                    after = i + 1;
                    match self.json.as_deref_mut() {
                        Some(json) if EXPORT_FIELD_KINDS[i] == FieldKind::Json => {
                            let text: &RawValue = access.next_value()?;
                            json.set(i, text.get());
                            fields[i] = None;
                        }
                        _ => fields[i] = Some(access.next_value_seed(SlotSeed)?),
                    }
                }
                Key::Other(name) => {
                    let value = access.next_value()?;
                    extra.insert(name, value);
                }
            }
        }
        Ok((fields, extra))
    }
}

/// A member name: a known field's index, or another name.
enum Key {
    Known(usize),
    Other(String),
}

/// Reads a [`Key`], trying the known field `hint` first.
struct KeySeed {
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor { hint: self.hint })
    }
}

struct KeyVisitor {
    hint: usize,
}

impl KeyVisitor {
    fn index(&self, name: &str) -> Option<usize> {
        if EXPORT_FIELDS.get(self.hint) == Some(&name) {
            Some(self.hint)
        } else {
            field_index(name)
        }
    }
}

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match self.index(name) {
            Some(i) => Key::Known(i),
            None => Key::Other(name.to_string()),
        })
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Key, E> {
        Ok(match self.index(&name) {
            Some(i) => Key::Known(i),
            None => Key::Other(name),
        })
    }
}

/// Reads a known field's value as a [`JsonSlot`]: a string borrowed from
/// the line when it has no escapes, any other value exactly as
/// `serde_json::Value` reads it.
struct SlotSeed;

impl<'de> DeserializeSeed<'de> for SlotSeed {
    type Value = JsonSlot<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<JsonSlot<'de>, D::Error> {
        d.deserialize_any(SlotSeed)
    }
}

impl<'de> Visitor<'de> for SlotSeed {
    type Value = JsonSlot<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonSlot::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonSlot::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonSlot::Text(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        value(v.into_deserializer())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        value(v.into_deserializer())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        value(v.into_deserializer())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        value(v.into_deserializer())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonSlot::Value(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonSlot::Value(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        value(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        value(SeqAccessDeserializer::new(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        value(MapAccessDeserializer::new(map))
    }
}

/// A non-string value, decoded by `serde_json::Value` itself.
fn value<'de, D: Deserializer<'de>>(d: D) -> Result<JsonSlot<'de>, D::Error> {
    Value::deserialize(d).map(JsonSlot::Value)
}

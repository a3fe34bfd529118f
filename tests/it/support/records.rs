//! Export-file helpers: CSV text in the contract's layout, export files of
//! generated events in the formats the readers accept, and the check that a
//! read failed with a record error at a given place.

use std::{
    fmt::Debug,
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use userpilot_appex::{
    Error,
    error::RecordLocation,
    records::{EXPORT_FIELDS, ReadOptions, RecordReader},
};

/// One event as a CSV row in [`EXPORT_FIELDS`] order: `metadata` as JSON
/// text, absent as empty.
fn csv_row(e: &Value) -> Vec<String> {
    EXPORT_FIELDS
        .iter()
        .map(|f| match &e[*f] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// CSV text with the contract header, `metadata` as JSON text, empty = absent.
pub fn csv_text(events: &[Value]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(EXPORT_FIELDS).unwrap();
    for e in events {
        w.write_record(csv_row(e)).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Asserts `result` is an [`Error::Record`] naming `file` at `location`;
/// returns its message.
pub fn record_error<T: Debug>(
    result: &Result<T, Error>,
    file: &Path,
    location: RecordLocation,
) -> String {
    match result {
        Err(Error::Record {
            file: got_file,
            location: got_location,
            message,
        }) => {
            assert_eq!(got_file, file);
            assert_eq!(*got_location, location);
            message.clone()
        }
        other => panic!("expected a Record error, got {other:?}"),
    }
}

/// Reads `path` to the end in lenient mode: the `internal_event_id`s of the
/// events read (empty where absent), and the reader for its counts.
pub fn read_lenient(path: &Path) -> (Vec<String>, RecordReader) {
    let mut reader = RecordReader::with_options(path, ReadOptions::lenient()).unwrap();
    let ids = (&mut reader)
        .map(|e| e.unwrap().internal_event_id.unwrap_or_default())
        .collect();
    (ids, reader)
}

/// The `i`-th generated event as an export's JSON object.
pub fn event_json(i: usize) -> Value {
    json!({
        "app_token": "NX-123",
        "event_type": if i.is_multiple_of(3) { "track" } else { "page_view" },
        "event_name": if i.is_multiple_of(3) { "Clicked" } else { "" },
        "user_id": format!("user-{}", i % 97),
        "source": "web-client",
        "inserted_at": format!("2025-01-10T12:00:00.{:06}Z", i % 1_000_000),
        "internal_event_id": format!("evt-{i}"),
        "pathname": "/billing",
        "screen_width": 1920,
        "metadata": {"n": i},
    })
}

/// Writes events `range` as ndjson, gzip-compressed if `gz`.
pub fn write_ndjson(path: &Path, range: std::ops::Range<usize>, gz: bool) {
    let file = BufWriter::new(File::create(path).unwrap());
    let mut out: Box<dyn Write> = if gz {
        Box::new(GzEncoder::new(file, Compression::fast()))
    } else {
        Box::new(file)
    };
    for i in range {
        writeln!(out, "{}", event_json(i)).unwrap();
    }
    out.flush().unwrap();
}

/// Writes events `range` as CSV with the export header.
pub fn write_csv(path: &Path, range: std::ops::Range<usize>) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(EXPORT_FIELDS).unwrap();
    for i in range {
        let e = event_json(i);
        w.write_record(csv_row(&e)).unwrap();
    }
    w.flush().unwrap();
}

//! Export-file helpers: CSV text in the contract's layout, and the check
//! that a read failed with a record error at a given place.

use std::{fmt::Debug, path::Path};

use serde_json::Value;
use userpilot_appex::{
    Error,
    records::{EXPORT_FIELDS, ReadOptions, RecordLocation, RecordReader},
};

/// CSV text with the contract header, `metadata` as JSON text, empty = absent.
pub fn csv_text(events: &[Value]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(EXPORT_FIELDS).unwrap();
    for e in events {
        let row: Vec<String> = EXPORT_FIELDS
            .iter()
            .map(|f| match &e[*f] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        w.write_record(&row).unwrap();
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

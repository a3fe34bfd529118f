//! Export files of generated events, in the formats the readers accept.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use userpilot_appex::records::EXPORT_FIELDS;

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
    w.flush().unwrap();
}

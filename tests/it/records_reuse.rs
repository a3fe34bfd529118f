//! The fast paths of the readers, held to the slow ones: `read_into` (one
//! event reused) reads what the iterator reads, whatever the event held
//! before; ndjson lines whose keys change order read like their decoded
//! object; text that is not UTF-8 is a row error, also when only the cell
//! boundaries make it so; and `batches` keeps an ndjson JSON field as the
//! text the file holds.

use std::path::Path;

use serde_json::{Map, Value, json};
use userpilot_appex::{
    Error,
    error::RecordLocation,
    records::{ExportedEvent, ReadOptions, RecordReader},
};

use crate::support::records::{csv_text, event_json};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// What the iterator reads: events, or the message of each row error.
fn by_iterator(path: &Path, options: ReadOptions) -> (Vec<Result<ExportedEvent, String>>, u64) {
    let mut reader = RecordReader::with_options(path, options).unwrap();
    let items = (&mut reader)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    (items, reader.skipped())
}

/// What `read_into` reads into one event that starts full of other values.
fn by_read_into(path: &Path, options: ReadOptions) -> (Vec<Result<ExportedEvent, String>>, u64) {
    let mut reader = RecordReader::with_options(path, options).unwrap();
    let mut event: ExportedEvent =
        serde_json::from_value(event_json(999)).expect("a full event to start from");
    event.extra.insert("stale".into(), json!("from before"));
    let mut items = Vec::new();
    while let Some(read) = reader.read_into(&mut event) {
        items.push(read.map(|()| event.clone()).map_err(|e| e.to_string()));
    }
    (items, reader.skipped())
}

/// Lines of every shape: full, sparse, unknown members, escapes, numbers
/// where text is expected, a null metadata, and malformed rows between.
fn mixed_ndjson() -> String {
    let mut lines = vec![event_json(0).to_string()];
    lines.push(r#"{"user_id":"u-sparse","inserted_at":"2025-01-10T00:00:00Z"}"#.into());
    lines.push(
        r#"{"event_type":"track","plan":{"tier":"pro"},"metadata":null,"screen_width":"1440"}"#
            .into(),
    );
    lines.push(r#"{"event_type":"track","user_id":"#.into()); // cut JSON
    lines.push(event_json(1).to_string());
    lines.push(r#"{"browser":"Fire\"fox","country_code":1.5e3,"device_type":false}"#.into());
    lines.push(r#"{"screen_width":"wide"}"#.into()); // bad integer
    lines.push(r#"{"app_token":"NX-1"}"#.into());
    lines.join("\n") + "\n"
}

#[test]
fn read_into_reads_what_the_iterator_reads_whatever_the_event_held_before() {
    let dir = tempfile::tempdir().unwrap();
    let ndjson = write(dir.path(), "mixed.ndjson", mixed_ndjson().as_bytes());
    let mut csv = csv_text(&[event_json(0), event_json(1)]);
    csv.push_str("NX-1,track,too,few\n"); // a row of 4 cells
    csv.push_str(csv_text(&[event_json(2)]).lines().nth(1).unwrap());
    csv.push('\n');
    let csv = write(dir.path(), "mixed.csv", csv.as_bytes());
    for path in [&ndjson, &csv] {
        for options in [ReadOptions::default(), ReadOptions::lenient()] {
            let (want, want_skipped) = by_iterator(path, options);
            let (got, got_skipped) = by_read_into(path, options);
            assert_eq!(got, want, "{} {options:?}", path.display());
            assert_eq!(got_skipped, want_skipped);
            assert!(want.len() >= 2, "the cases read something: {want:?}");
        }
    }
    // The lenient ndjson read skipped both bad rows and kept the sparse row
    // sparse (nothing left over from the row before it).
    let (lenient, skipped) = by_read_into(&ndjson, ReadOptions::lenient());
    assert_eq!(skipped, 2);
    let sparse = lenient[1].as_ref().unwrap();
    assert_eq!(sparse.user_id.as_deref(), Some("u-sparse"));
    assert_eq!(
        (sparse.app_token.as_ref(), sparse.metadata.clone()),
        (None, Value::Null)
    );
    assert!(sparse.extra.is_empty());
    assert_eq!(
        lenient[2].as_ref().unwrap().extra["plan"],
        json!({"tier": "pro"})
    );
}

#[test]
fn lines_whose_keys_change_order_read_like_their_decoded_object() {
    // Each line lists the same members in another order (rotated, reversed),
    // and some lines leave members out: the reader's guess of the next key
    // from the line before must never pick a wrong field.
    let full = event_json(5);
    let members: Vec<(String, Value)> = full.as_object().unwrap().clone().into_iter().collect();
    let mut lines = Vec::new();
    for shift in 0..members.len() {
        let mut order = members.clone();
        order.rotate_left(shift);
        if shift % 2 == 1 {
            order.reverse();
        }
        if shift % 3 == 2 {
            order.retain(|(k, _)| k != "user_id" && k != "metadata");
        }
        let text: Vec<String> = order
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
            .collect();
        lines.push(format!("{{{}}}", text.join(",")));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "orders.ndjson",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let read: Vec<ExportedEvent> = RecordReader::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read.len(), lines.len());
    for (line, got) in lines.iter().zip(&read) {
        let map: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(got, &ExportedEvent::from_json_map(map).unwrap(), "{line}");
    }
    assert!(read.iter().any(|e| e.user_id.is_none()) && read.iter().any(|e| e.user_id.is_some()));
}

#[test]
fn text_that_is_not_utf8_is_a_row_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // ndjson: a byte that is not UTF-8 inside a string on line 2.
    let mut ndjson = format!("{}\n", event_json(0)).into_bytes();
    ndjson.extend_from_slice(b"{\"user_id\":\"u\xff\"}\n");
    ndjson.extend_from_slice(format!("{}\n", event_json(1)).as_bytes());
    let ndjson = write(dir.path(), "bad-utf8.ndjson", &ndjson);
    // CSV: line 3 holds `é` split over two cells (0xC3 ends one, 0xA9
    // starts the next): the record's bytes are UTF-8, its cells are not.
    let mut csv = "user_id,session,company_id\nu0,s0,c0\n".as_bytes().to_vec();
    csv.extend_from_slice(b"u1\xc3,\xa9s1,c1\nu2,s2,c2\n");
    let csv = write(dir.path(), "bad-utf8.csv", &csv);
    for (path, line, user_after) in [(&ndjson, 2, "user-1"), (&csv, 3, "u2")] {
        let strict: Vec<_> = RecordReader::open(path).unwrap().collect();
        assert_eq!(strict.len(), 2, "one event, then the error: {strict:?}");
        match &strict[1] {
            Err(Error::Record { location, .. }) => {
                assert_eq!(*location, RecordLocation::Line(line), "{}", path.display())
            }
            other => panic!("{}: {other:?}", path.display()),
        }
        let mut reader = RecordReader::with_options(path, ReadOptions::lenient()).unwrap();
        let users: Vec<String> = (&mut reader)
            .map(|e| e.unwrap().user_id.unwrap_or_default())
            .collect();
        assert_eq!(reader.skipped(), 1);
        assert_eq!(
            users.last().map(String::as_str),
            Some(user_after),
            "{users:?}"
        );
    }
    let csv_error = RecordReader::open(&csv)
        .unwrap()
        .nth(1)
        .unwrap()
        .unwrap_err();
    assert!(
        csv_error.to_string().contains("is not UTF-8"),
        "{csv_error}"
    );
}

#[cfg(feature = "arrow")]
#[tokio::test]
async fn batches_keep_an_ndjson_json_field_as_the_text_the_file_holds() {
    use arrow_array::{Array, StringArray};
    use futures::TryStreamExt;
    use userpilot_appex::records::{BatchOptions, arrow::EventBatchBuilder, batches};

    // As sent: spaces, keys out of order, a float written `1.0`, an escape.
    let sent = [
        Some(r#"{ "b": [1.0, 2], "a": "caf\u00e9" }"#),
        Some(r#""just text""#),
        Some("null"),
        None,
    ];
    let mut lines = String::new();
    for (i, metadata) in sent.iter().enumerate() {
        let mut line = format!(r#"{{"internal_event_id":"e{i}","user_id":"u{i}""#);
        if let Some(m) = metadata {
            line.push_str(&format!(r#","metadata":{m}"#));
        }
        lines.push_str(&line);
        lines.push_str("}\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "raw.ndjson", lines.as_bytes());
    let got: Vec<_> = batches([&path], BatchOptions::default())
        .try_collect()
        .await
        .unwrap();
    let column = got[0].column_by_name("metadata").unwrap();
    let column = column.as_any().downcast_ref::<StringArray>().unwrap();
    let landed: Vec<Option<&str>> = (0..column.len())
        .map(|i| column.is_valid(i).then(|| column.value(i)))
        .collect();
    assert_eq!(
        landed,
        [Some(sent[0].unwrap()), Some(sent[1].unwrap()), None, None]
    );
    // The text is the same JSON value the event model reads.
    let events: Vec<ExportedEvent> = RecordReader::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (text, event) in landed.iter().zip(&events) {
        let value = text.map_or(Value::Null, |t| serde_json::from_str(t).unwrap());
        assert_eq!(value, event.metadata);
    }
    // An event pushed as a value is written compactly.
    let mut builder = EventBatchBuilder::with_capacity(1);
    builder.push(&events[0]);
    let batch = builder.finish();
    let pushed = batch.column_by_name("metadata").unwrap();
    let pushed = pushed.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(pushed.value(0), r#"{"a":"café","b":[1.0,2]}"#);
}

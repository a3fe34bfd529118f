//! Record reader: parquet and avro (run with `--features parquet,avro`).
#![cfg(any(feature = "parquet", feature = "avro"))]

use std::path::Path;

use chrono::Timelike;
use serde_json::json;
use userpilot_appex::{
    Error,
    records::{
        EventSource, EventType, ExportedEvent, ReadOptions, RecordFormat, RecordLocation,
        RecordReader, format_micros,
    },
};

/// The `i`-th fixture event as typed values (what a reader must return).
fn expected(i: usize) -> ExportedEvent {
    ExportedEvent {
        app_token: Some("NX-123".into()),
        event_type: Some(if i.is_multiple_of(2) {
            EventType::Interaction
        } else {
            EventType::Track
        }),
        event_name: Some(if i.is_multiple_of(2) {
            format!("survey:{i}:COMPLETED")
        } else {
            "Clicked".into()
        }),
        user_id: Some(format!("user-{i}")),
        company_id: if i == 1 { None } else { Some("acme".into()) },
        source: Some(EventSource::BackendSegment),
        inserted_at: userpilot_appex::records::parse_inserted_at(&format!(
            "2025-01-10T12:00:0{i}.00012{i}Z"
        )),
        internal_event_id: Some(format!("evt-{i}")),
        hostname: Some("app.example.com".into()),
        pathname: Some("/".into()),
        screen_width: Some(1920 + i as i64),
        screen_height: if i == 2 { None } else { Some(1080) },
        device_type: Some("desktop".into()),
        user_agent: Some("Mozilla/5.0".into()),
        operating_system: Some("macOS".into()),
        browser: Some("Safari".into()),
        browser_language: Some("fr-FR".into()),
        session: Some("s-1".into()),
        country_code: Some("FR".into()),
        metadata: json!({"i": i, "nested": {"ok": true}}),
        extra: Default::default(),
    }
}

/// The text cell the contract writes for `field` of an event (`None` = null).
fn text_field(e: &ExportedEvent, field: &str) -> Option<String> {
    let v = serde_json::to_value(e).unwrap();
    match v.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn assert_all_read(path: &Path, n: usize, format: RecordFormat) {
    let reader = RecordReader::open(path).unwrap();
    assert_eq!(reader.format(), format);
    assert!(!reader.is_gzip());
    let read: Vec<ExportedEvent> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(read.len(), n);
    for (i, e) in read.iter().enumerate() {
        assert_eq!(e, &expected(i), "event {i}");
        assert_eq!(e.inserted_at.unwrap().nanosecond() % 1000, 0);
        assert_eq!(
            e.inserted_at.unwrap().nanosecond() / 1000,
            120 + i as u32,
            "microseconds kept"
        );
    }
    assert_eq!(read[0].interaction().unwrap().entity_type, "survey");
}

#[cfg(feature = "parquet")]
mod parquet_files {
    use std::{fs::File, sync::Arc};

    use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};
    use userpilot_appex::records::{EXPORT_FIELDS, parquet::schema};

    use super::*;

    /// Writes `events` with the contract schema, two rows per row group.
    fn write_contract(path: &Path, events: &[ExportedEvent]) {
        let schema = Arc::new(schema());
        let columns: Vec<ArrayRef> = EXPORT_FIELDS
            .iter()
            .map(|&f| -> ArrayRef {
                if f == "screen_width" || f == "screen_height" {
                    Arc::new(Int64Array::from_iter(
                        events
                            .iter()
                            .map(|e| text_field(e, f).map(|s| s.parse::<i64>().unwrap())),
                    ))
                } else {
                    Arc::new(StringArray::from_iter(
                        events.iter().map(|e| text_field(e, f)),
                    ))
                }
            })
            .collect();
        write_batch(path, RecordBatch::try_new(schema, columns).unwrap());
    }

    fn write_batch(path: &Path, batch: RecordBatch) {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut w =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn parquet_round_trip_across_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<ExportedEvent> = (0..5).map(expected).collect();
        let path = dir.path().join("part-0.parquet");
        write_contract(&path, &events);
        assert_all_read(&path, 5, RecordFormat::Parquet);
    }

    #[test]
    fn parquet_is_detected_by_magic_whatever_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<ExportedEvent> = (0..3).map(expected).collect();
        let path = dir.path().join("part-0.csv");
        write_contract(&path, &events);
        assert_all_read(&path, 3, RecordFormat::Parquet);
    }

    #[test]
    fn parquet_columns_of_other_types_are_read_leniently() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("event_type", DataType::Utf8, true),
            Field::new("screen_width", DataType::Utf8, true),
            Field::new("screen_height", DataType::Int32, true),
            Field::new("metadata", DataType::Utf8, true),
            Field::new("campaign", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("page_view"), Some("webhook")])),
                Arc::new(StringArray::from(vec![Some("1366"), None])),
                Arc::new(Int32Array::from(vec![Some(768), Some(900)])),
                Arc::new(StringArray::from(vec![
                    Some("{\"a\":[1]}"),
                    Some("plain text"),
                ])),
                Arc::new(StringArray::from(vec![Some("spring"), None])),
            ],
        )
        .unwrap();
        let path = dir.path().join("odd.parquet");
        write_batch(&path, batch);
        let read: Vec<ExportedEvent> = RecordReader::open(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read[0].event_type, Some(EventType::PageView));
        assert_eq!(read[0].screen_width, Some(1366));
        assert_eq!(read[0].screen_height, Some(768));
        assert_eq!(read[0].metadata, json!({"a": [1]}));
        assert_eq!(read[0].extra["campaign"], json!("spring"));
        assert_eq!(read[1].event_type, Some(EventType::Other("webhook".into())));
        assert_eq!(read[1].screen_width, None);
        assert_eq!(read[1].metadata, json!("plain text"));
        assert!(!read[1].extra.contains_key("campaign"));
    }

    fn with_bad_row(dir: &Path) -> std::path::PathBuf {
        let events: Vec<ExportedEvent> = (0..5).map(expected).collect();
        let path = dir.join("bad.parquet");
        // Write row 4 (index 3) with a broken inserted_at.
        let schema = Arc::new(schema());
        let columns: Vec<ArrayRef> = EXPORT_FIELDS
            .iter()
            .map(|&f| -> ArrayRef {
                if f == "screen_width" || f == "screen_height" {
                    Arc::new(Int64Array::from_iter(
                        events
                            .iter()
                            .map(|e| text_field(e, f).map(|s| s.parse::<i64>().unwrap())),
                    ))
                } else {
                    Arc::new(StringArray::from_iter(events.iter().enumerate().map(
                        |(i, e)| {
                            if f == "inserted_at" && i == 3 {
                                Some("not a time".to_string())
                            } else {
                                text_field(e, f)
                            }
                        },
                    )))
                }
            })
            .collect();
        write_batch(&path, RecordBatch::try_new(schema, columns).unwrap());
        path
    }

    #[test]
    fn malformed_parquet_row_is_an_error_naming_file_row_and_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = with_bad_row(dir.path());
        let items: Vec<_> = RecordReader::open(&path).unwrap().collect();
        assert_eq!(items.len(), 4, "three events, the error, then the end");
        match &items[3] {
            Err(Error::Record {
                file,
                location,
                message,
            }) => {
                assert_eq!(file, &path);
                assert_eq!(
                    *location,
                    RecordLocation::RowGroup {
                        row_group: 1,
                        row: 4
                    }
                );
                assert!(message.contains("inserted_at"), "{message}");
            }
            other => panic!("expected a Record error, got {other:?}"),
        }
        let text = items[3].as_ref().unwrap_err().to_string();
        assert!(text.contains("row 4 (row group 1)"), "{text}");
    }

    #[test]
    fn lenient_parquet_reading_skips_the_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = with_bad_row(dir.path());
        let mut reader = RecordReader::with_options(&path, ReadOptions::lenient()).unwrap();
        let ids: Vec<String> = (&mut reader)
            .map(|e| e.unwrap().internal_event_id.unwrap())
            .collect();
        assert_eq!(ids, ["evt-0", "evt-1", "evt-2", "evt-4"]);
        assert_eq!(reader.skipped(), 1);
    }

    #[test]
    fn truncated_parquet_is_a_corrupt_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.parquet");
        write_contract(&path, &(0..5).map(expected).collect::<Vec<_>>());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        for options in [ReadOptions::default(), ReadOptions::lenient()] {
            match RecordReader::with_options(&path, options) {
                Err(Error::CorruptFile { file, .. }) => assert_eq!(file, path),
                other => panic!("expected CorruptFile, got {other:?}"),
            }
        }
    }
}

#[cfg(feature = "avro")]
mod avro_files {
    use apache_avro::{
        Codec, DeflateSettings, Schema, Writer,
        types::{Record, Value as Avro},
    };
    use userpilot_appex::records::{EXPORT_FIELDS, avro::schema_json};

    use super::*;

    fn write_avro(path: &Path, events: &[ExportedEvent], bad_time_at: Option<usize>) {
        let schema = Schema::parse_str(&schema_json()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut w =
            Writer::with_codec(&schema, file, Codec::Deflate(DeflateSettings::default())).unwrap();
        for (i, e) in events.iter().enumerate() {
            let mut r = Record::new(&schema).unwrap();
            for f in EXPORT_FIELDS {
                let value = match text_field(e, f) {
                    None => Avro::Union(0, Box::new(Avro::Null)),
                    Some(_) if f == "inserted_at" && bad_time_at == Some(i) => {
                        Avro::Union(1, Box::new(Avro::String("later".into())))
                    }
                    Some(s) if f == "screen_width" || f == "screen_height" => {
                        Avro::Union(1, Box::new(Avro::Long(s.parse().unwrap())))
                    }
                    Some(s) => Avro::Union(1, Box::new(Avro::String(s))),
                };
                r.put(f, value);
            }
            w.append_value(r).unwrap();
        }
        w.flush().unwrap();
    }

    #[test]
    fn avro_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.avro");
        write_avro(&path, &(0..5).map(expected).collect::<Vec<_>>(), None);
        assert_all_read(&path, 5, RecordFormat::Avro);
    }

    #[test]
    fn avro_is_detected_by_magic_whatever_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("download.ndjson");
        write_avro(&path, &(0..2).map(expected).collect::<Vec<_>>(), None);
        assert_all_read(&path, 2, RecordFormat::Avro);
    }

    #[test]
    fn malformed_avro_row_is_an_error_naming_file_and_row_and_lenient_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.avro");
        write_avro(&path, &(0..4).map(expected).collect::<Vec<_>>(), Some(1));
        let items: Vec<_> = RecordReader::open(&path).unwrap().collect();
        assert_eq!(items.len(), 2);
        match &items[1] {
            Err(Error::Record { file, location, .. }) => {
                assert_eq!(file, &path);
                assert_eq!(*location, RecordLocation::Row(2));
            }
            other => panic!("expected a Record error, got {other:?}"),
        }
        let mut reader = RecordReader::with_options(&path, ReadOptions::lenient()).unwrap();
        let mut n = 0;
        for event in &mut reader {
            event.unwrap();
            n += 1;
        }
        assert_eq!((n, reader.skipped()), (3, 1));
    }

    #[test]
    fn truncated_avro_is_a_corrupt_file_error_even_in_lenient_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.avro");
        write_avro(&path, &(0..50).map(expected).collect::<Vec<_>>(), None);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
        for options in [ReadOptions::default(), ReadOptions::lenient()] {
            let mut reader = RecordReader::with_options(&path, options).unwrap();
            let err = reader
                .by_ref()
                .find_map(Result::err)
                .expect("a truncated avro file must not end silently");
            match err {
                Error::CorruptFile { file, .. } => assert_eq!(file, path),
                other => panic!("expected CorruptFile, got {other:?}"),
            }
            assert!(reader.next().is_none());
        }
    }
}

#[test]
fn fixture_times_format_with_microseconds() {
    assert_eq!(
        format_micros(&expected(3).inserted_at.unwrap()),
        "2025-01-10T12:00:03.000123Z"
    );
}

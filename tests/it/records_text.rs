//! Record reader: ndjson and CSV, plain and gzip, the event model, errors.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

use crate::support::{
    EVENT_TYPES,
    records::{csv_text, read_lenient, record_error},
};
use chrono::{TimeZone, Timelike, Utc};
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use userpilot_appex::{
    Error,
    error::RecordLocation,
    models::{EventSource, EventType},
    records::{
        EXPORT_FIELDS, ExportedEvent, ReadOptions, RecordFormat, RecordReader, Summary, summarize,
    },
};

/// The `i`-th event of a fixture, as a JSON object in the contract's form.
fn event_json(i: usize) -> Value {
    let kind = EVENT_TYPES[i % EVENT_TYPES.len()];
    let name = match kind {
        "interaction" => format!("checklist:{i}:SEEN"),
        "track_feature" => format!("feature-{i}"),
        "track" => "Clicked Buy".to_string(),
        _ => String::new(),
    };
    json!({
        "app_token": "NX-123",
        "event_type": kind,
        "event_name": name,
        "user_id": format!("user-{i}"),
        "company_id": "acme",
        "source": if i.is_multiple_of(2) { "web-client" } else { "backend-http" },
        "inserted_at": format!("2025-01-10T12:{:02}:{:02}.{:06}Z", (i / 60) % 60, i % 60, 100_000 + i),
        "internal_event_id": format!("evt-{i}"),
        "hostname": "app.example.com",
        "pathname": "/billing",
        "screen_width": 1920,
        "screen_height": 1080,
        "device_type": "desktop",
        "user_agent": "Mozilla/5.0",
        "operating_system": "Linux",
        "browser": "Firefox",
        "browser_language": "en-US",
        "session": format!("s-{}", i / 10),
        "country_code": "DE",
        "metadata": {"n": i, "tags": ["a", "b"]},
    })
}

fn ndjson_text(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

fn read_all(path: &Path) -> Vec<ExportedEvent> {
    RecordReader::open(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn ids(events: &[ExportedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.internal_event_id.clone().unwrap_or_default())
        .collect()
}

fn expected_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("evt-{i}")).collect()
}

/// Checks that `event` carries every typed field of `event_json(i)`.
fn assert_event_matches(event: &ExportedEvent, i: usize) {
    let expected = event_json(i);
    assert_eq!(
        event.event_type.as_ref().map(EventType::as_str),
        expected["event_type"].as_str()
    );
    assert!(!matches!(event.event_type, Some(EventType::Unknown(_))));
    let name = expected["event_name"].as_str().unwrap();
    assert_eq!(
        event.event_name.as_deref(),
        if name.is_empty() { None } else { Some(name) }
    );
    assert_eq!(event.user_id.as_deref(), Some(format!("user-{i}").as_str()));
    assert_eq!(
        event.source.as_ref().map(EventSource::as_str),
        expected["source"].as_str()
    );
    let at = event.inserted_at.expect("inserted_at");
    assert_eq!(at.nanosecond(), (100_000 + i as u32) * 1000);
    assert_eq!(
        userpilot_appex::records::format_micros(&at),
        expected["inserted_at"].as_str().unwrap()
    );
    assert_eq!(event.screen_width, Some(1920));
    assert_eq!(event.screen_height, Some(1080));
    assert_eq!(event.country_code.as_deref(), Some("DE"));
    assert_eq!(event.metadata, json!({"n": i, "tags": ["a", "b"]}));
    assert!(event.extra.is_empty(), "unexpected extra {:?}", event.extra);
}

#[test]
fn ndjson_plain_file_reads_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Value> = (0..7).map(event_json).collect();
    let path = write(dir.path(), "part-0.ndjson", ndjson_text(&events).as_bytes());
    let reader = RecordReader::open(&path).unwrap();
    assert_eq!(reader.format(), RecordFormat::Ndjson);
    assert!(!reader.is_gzip());
    let read: Vec<ExportedEvent> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(read.len(), 7);
    for (i, e) in read.iter().enumerate() {
        assert_event_matches(e, i);
    }
    let interaction = read[2].interaction().expect("interaction parts");
    assert_eq!(
        (
            interaction.entity_type.as_str(),
            interaction.entity_id.as_str(),
            interaction.status.as_str()
        ),
        ("checklist", "2", "SEEN")
    );
    assert_eq!(
        read[3].interaction(),
        None,
        "a track event has no interaction parts"
    );
}

/// Merges the former `ndjson_gzip_file_is_decompressed`,
/// `gzip_ndjson_named_without_gz_is_detected_by_magic` and
/// `gzip_csv_named_csv_is_detected_by_magic`.
#[test]
fn gzip_files_are_decompressed_and_detected_by_magic_whatever_their_name() {
    let cases = [
        ("part-0.ndjson.gz", RecordFormat::Ndjson, 20),
        ("data.ndjson", RecordFormat::Ndjson, 5),
        ("part-0.csv", RecordFormat::Csv, 9),
    ];
    for (name, format, n) in cases {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Value> = (0..n).map(event_json).collect();
        let text = match format {
            RecordFormat::Csv => csv_text(&events),
            _ => ndjson_text(&events),
        };
        let path = write(dir.path(), name, &gzip(text.as_bytes()));
        let reader = RecordReader::open(&path).unwrap();
        assert!(reader.is_gzip(), "{name}");
        assert_eq!(reader.format(), format, "{name}");
        let read: Vec<ExportedEvent> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(ids(&read), expected_ids(n), "{name}");
        for (i, e) in read.iter().enumerate() {
            assert_event_matches(e, i);
        }
    }
}

#[test]
fn gzip_without_a_known_name_sniffs_the_decompressed_content() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Value> = (0..3).map(event_json).collect();
    let csv_path = write(
        dir.path(),
        "download-1",
        &gzip(csv_text(&events).as_bytes()),
    );
    let nd_path = write(
        dir.path(),
        "download-2.gz",
        &gzip(ndjson_text(&events).as_bytes()),
    );
    let csv_reader = RecordReader::open(&csv_path).unwrap();
    assert_eq!(csv_reader.format(), RecordFormat::Csv);
    assert_eq!(
        ids(&csv_reader.collect::<Result<Vec<_>, _>>().unwrap()),
        expected_ids(3)
    );
    let nd_reader = RecordReader::open(&nd_path).unwrap();
    assert_eq!(nd_reader.format(), RecordFormat::Ndjson);
    assert_eq!(
        ids(&nd_reader.collect::<Result<Vec<_>, _>>().unwrap()),
        expected_ids(3)
    );
}

#[test]
fn csv_plain_file_reads_fields_with_metadata_json_and_empty_cells_absent() {
    let dir = tempfile::tempdir().unwrap();
    let mut events: Vec<Value> = (0..7).map(event_json).collect();
    events[1]["screen_width"] = json!("1280"); // a string cell where an integer is expected
    events[1]["metadata"] = json!("not json {");
    let path = write(dir.path(), "part-0.csv", csv_text(&events).as_bytes());
    let reader = RecordReader::open(&path).unwrap();
    assert_eq!(reader.format(), RecordFormat::Csv);
    assert!(!reader.is_gzip());
    let read: Vec<ExportedEvent> = reader.collect::<Result<_, _>>().unwrap();
    assert_event_matches(&read[0], 0);
    assert_event_matches(&read[2], 2);
    assert_eq!(read[1].screen_width, Some(1280));
    assert_eq!(read[1].metadata, json!("not json {"));
    // identify_user has an empty event_name cell: absent, not "".
    assert_eq!(read[0].event_name, None);
}

#[test]
fn csv_with_a_different_column_order_and_extra_columns_maps_by_header() {
    let dir = tempfile::tempdir().unwrap();
    let text = "user_id,plan,event_type,inserted_at,metadata\n\
                u1,pro,track,2025-01-10 12:00:00.000001,\"{\"\"k\"\":1}\"\n";
    let path = write(dir.path(), "x.csv", text.as_bytes());
    let read = read_all(&path);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].user_id.as_deref(), Some("u1"));
    assert_eq!(read[0].event_type, Some(EventType::Track));
    assert_eq!(read[0].metadata, json!({"k": 1}));
    assert_eq!(read[0].extra.get("plan"), Some(&json!("pro")));
    assert_eq!(read[0].inserted_at.unwrap().nanosecond(), 1000);
}

/// Reads a gzip file of `n` events cut to `keep(len)` bytes and checks that
/// it ends with a `CorruptFile` error naming it, after the events before
/// the cut.
fn assert_truncated(options: ReadOptions, name: &str, keep: fn(usize) -> usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let events: Vec<Value> = (0..n).map(event_json).collect();
    let text = if name.contains("csv") {
        csv_text(&events)
    } else {
        ndjson_text(&events)
    };
    let full = gzip(text.as_bytes());
    let path = write(dir.path(), name, &full[..keep(full.len())]);
    let mut reader = RecordReader::with_options(&path, options).unwrap();
    let mut ok = 0u64;
    let err = loop {
        match reader.next() {
            Some(Ok(_)) => ok += 1,
            Some(Err(e)) => break e,
            None => panic!("a truncated gzip file ended silently after {ok} events"),
        }
    };
    assert!(ok as usize <= n, "read {ok} of {n} before the cut");
    match &err {
        Error::CorruptFile {
            file, records_read, ..
        } => {
            assert_eq!(file, &path);
            assert_eq!(*records_read, ok);
        }
        other => panic!("expected CorruptFile, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(name), "{text}");
    assert!(text.contains("truncated"), "{text}");
    assert!(text.contains("lost"), "{text}");
    assert!(reader.next().is_none(), "reading stops after the damage");
    assert_eq!(reader.skipped(), 0);
    ok
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let read = assert_truncated(ReadOptions::default(), "part-7.ndjson.gz", |len| len / 2);
    assert!(read > 0 && read < 3000, "{read}");
}

#[test]
fn truncated_gzip_is_an_error_even_in_lenient_mode() {
    let read = assert_truncated(ReadOptions::lenient(), "part-7.ndjson.gz", |len| len / 2);
    assert!(read > 0 && read < 3000, "{read}");
}

#[test]
fn truncated_gzip_csv_named_csv_is_an_error_in_both_modes() {
    for options in [ReadOptions::default(), ReadOptions::lenient()] {
        let read = assert_truncated(options, "part-8.csv", |len| len / 3);
        assert!(read > 0 && read < 3000, "{read}");
    }
}

#[test]
fn gzip_missing_only_its_trailer_is_an_error_after_every_event() {
    // The whole body decompresses, but the CRC/length trailer is cut: the
    // file cannot be trusted to be complete, so the end is still an error.
    for options in [ReadOptions::default(), ReadOptions::lenient()] {
        assert_eq!(
            assert_truncated(options, "part-9.ndjson.gz", |len| len - 4),
            3000
        );
    }
}

#[test]
fn gzip_cut_inside_its_header_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = gzip(ndjson_text(&[event_json(0)]).as_bytes());
    let path = write(dir.path(), "tiny.ndjson.gz", &full[..6]);
    let result = RecordReader::open(&path).and_then(|r| r.collect::<Result<Vec<_>, _>>());
    match result {
        Err(Error::CorruptFile { file, .. }) => assert_eq!(file, path),
        other => panic!("expected CorruptFile, got {other:?}"),
    }
}

fn ndjson_with_bad_rows(dir: &Path) -> PathBuf {
    let mut text = String::new();
    text.push_str(&format!("{}\n", event_json(0)));
    text.push_str(&format!("{}\n", event_json(1)));
    text.push_str("{\"event_type\": \"track\", \"user_id\": \n"); // line 3: cut JSON
    text.push_str(&format!("{}\n", event_json(3)));
    text.push_str("[1, 2, 3]\n"); // line 5: not an object
    text.push_str("{\"inserted_at\": \"last tuesday\"}\n"); // line 6: bad timestamp
    text.push_str("{\"screen_width\": \"wide\"}\n"); // line 7: bad integer
    text.push_str(&format!("{}\n", event_json(7)));
    write(dir, "bad.ndjson", text.as_bytes())
}

fn csv_with_bad_rows(dir: &Path) -> PathBuf {
    let mut text = csv_text(&[event_json(0)]);
    text.push_str("NX-1,track,too,few\n"); // line 3: 4 cells of 20
    text.push_str(csv_text(&[event_json(2)]).lines().nth(1).unwrap());
    text.push('\n');
    write(dir, "bad.csv", text.as_bytes())
}

/// Merges the former `malformed_ndjson_row_is_an_error_naming_file_and_line`
/// and `malformed_csv_row_is_an_error_naming_file_and_line`.
#[test]
fn a_malformed_ndjson_or_csv_row_is_an_error_naming_file_and_line() {
    type Writer = fn(&Path) -> PathBuf;
    // The bad file, the events read before the error, what its message says.
    let cases: [(Writer, &[&str], &str); 2] = [
        (ndjson_with_bad_rows, &["evt-0", "evt-1"], "JSON"),
        (csv_with_bad_rows, &["evt-0"], "4 cells"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (bad_file, before, says) in cases {
        let path = bad_file(dir.path());
        let items: Vec<_> = RecordReader::open(&path).unwrap().collect();
        assert_eq!(
            items.len(),
            before.len() + 1,
            "the events, the error, then the end"
        );
        let read: Vec<_> = items[..before.len()]
            .iter()
            .map(|e| {
                e.as_ref()
                    .unwrap()
                    .internal_event_id
                    .clone()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(read, before);
        let error = &items[before.len()];
        let message = record_error(error, &path, RecordLocation::Line(3));
        assert!(message.contains(says), "{message}");
        let text = error.as_ref().unwrap_err().to_string();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(text.contains(name) && text.contains("line 3"), "{text}");
    }
}

/// Merges the former `lenient_mode_skips_and_counts_malformed_ndjson_rows`
/// and `lenient_mode_skips_and_counts_malformed_csv_rows`.
#[test]
fn lenient_mode_skips_and_counts_malformed_ndjson_and_csv_rows() {
    type Writer = fn(&Path) -> PathBuf;
    let cases: [(Writer, &[&str], u64); 2] = [
        (
            ndjson_with_bad_rows,
            &["evt-0", "evt-1", "evt-3", "evt-7"],
            4,
        ),
        (csv_with_bad_rows, &["evt-0", "evt-2"], 1),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (bad_file, expected, skipped) in cases {
        let path = bad_file(dir.path());
        let (ids, reader) = read_lenient(&path);
        assert_eq!(ids, expected, "{}", path.display());
        assert_eq!(reader.skipped(), skipped, "{}", path.display());
        assert_eq!(reader.events_read(), expected.len() as u64);
    }
}

#[test]
fn csv_whose_header_names_no_exported_field_fails_even_in_lenient_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "notes.csv", b"a,b\n1,2\n");
    let items: Vec<_> = RecordReader::with_options(&path, ReadOptions::lenient())
        .unwrap()
        .collect();
    assert_eq!(items.len(), 1);
    record_error(&items[0], &path, RecordLocation::Line(1));
}

#[test]
fn unknown_fields_are_kept_in_extra() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = event_json(3);
    e["experiment"] = json!({"variant": "B"});
    e["score"] = json!(4.5);
    let path = write(dir.path(), "x.ndjson", format!("{e}\n").as_bytes());
    let read = read_all(&path);
    assert_eq!(read[0].extra.len(), 2);
    assert_eq!(read[0].extra["experiment"], json!({"variant": "B"}));
    assert_eq!(read[0].extra["score"], json!(4.5));
    // and they survive a round trip through the ndjson form
    let back: ExportedEvent =
        serde_json::from_str(&serde_json::to_string(&read[0]).unwrap()).unwrap();
    assert_eq!(back, read[0]);
}

#[test]
fn unknown_event_type_and_source_are_kept_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\"event_type\":\"nps_response\",\"source\":\"backend-zapier\"}\n\
                {\"event_type\":\"PAGE_VIEW\",\"source\":\"Web-Client\"}\n";
    let path = write(dir.path(), "x.ndjson", text.as_bytes());
    let read = read_all(&path);
    assert_eq!(
        read[0].event_type,
        Some(EventType::Unknown("nps_response".into()))
    );
    assert_eq!(
        read[0].source,
        Some(EventSource::Unknown("backend-zapier".into()))
    );
    assert_eq!(read[1].event_type, Some(EventType::PageView));
    assert_eq!(read[1].source, Some(EventSource::WebClient));
    assert_eq!(
        serde_json::to_value(&read[0]).unwrap(),
        json!({"event_type": "nps_response", "source": "backend-zapier"})
    );
}

#[test]
fn inserted_at_keeps_microseconds_in_every_accepted_form() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\"inserted_at\":\"2025-01-10T12:34:56.123456Z\"}\n\
                {\"inserted_at\":\"2025-01-10 12:34:56.123456\"}\n\
                {\"inserted_at\":\"2025-01-10T14:34:56.123456+02:00\"}\n\
                {\"inserted_at\":\"2025-01-10T12:34:56.123456789Z\"}\n";
    let path = write(dir.path(), "t.ndjson", text.as_bytes());
    let read = read_all(&path);
    let expected = Utc.with_ymd_and_hms(2025, 1, 10, 12, 34, 56).unwrap()
        + chrono::Duration::microseconds(123_456);
    for e in &read {
        assert_eq!(e.inserted_at, Some(expected));
        assert_eq!(
            serde_json::to_value(e).unwrap()["inserted_at"],
            "2025-01-10T12:34:56.123456Z"
        );
    }
}

#[test]
fn screen_sizes_accept_integers_strings_and_integral_floats() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\"screen_width\":1440,\"screen_height\":\"900\"}\n\
                {\"screen_width\":1440.0,\"screen_height\":null}\n";
    let path = write(dir.path(), "s.ndjson", text.as_bytes());
    let read = read_all(&path);
    assert_eq!(
        (read[0].screen_width, read[0].screen_height),
        (Some(1440), Some(900))
    );
    assert_eq!(
        (read[1].screen_width, read[1].screen_height),
        (Some(1440), None)
    );
}

#[test]
fn blank_lines_crlf_and_a_missing_final_newline_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\r\n\r\n\n{}", event_json(0), event_json(1));
    let path = write(dir.path(), "crlf.ndjson", text.as_bytes());
    assert_eq!(ids(&read_all(&path)), expected_ids(2));
}

#[test]
fn an_empty_file_has_no_events() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["empty.ndjson", "empty.csv", "empty"] {
        let path = write(dir.path(), name, b"");
        assert!(read_all(&path).is_empty(), "{name}");
        let gz = write(dir.path(), &format!("{name}.gz"), &gzip(b""));
        assert!(read_all(&gz).is_empty(), "{name}.gz");
    }
}

#[test]
fn a_given_format_overrides_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "blob.json",
        csv_text(&[event_json(0)]).as_bytes(),
    );
    let options = ReadOptions {
        lenient: false,
        format: Some(RecordFormat::Csv),
    };
    let reader = RecordReader::with_options(&path, options).unwrap();
    assert_eq!(reader.format(), RecordFormat::Csv);
    let read: Vec<ExportedEvent> = reader.collect::<Result<_, _>>().unwrap();
    assert_event_matches(&read[0], 0);
}

#[test]
fn readers_and_streams_can_move_between_threads() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<RecordReader>();
    assert_send::<userpilot_appex::records::RecordStream>();
    assert_send::<ExportedEvent>();
}

#[test]
fn serialized_events_validate_against_the_json_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(ExportedEvent)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut e = event_json(2);
    e["experiment"] = json!("B");
    let path = write(dir.path(), "x.ndjson", format!("{e}\n").as_bytes());
    let event = &read_all(&path)[0];
    let instance = serde_json::to_value(event).unwrap();
    assert!(validator.is_valid(&instance), "{instance}");
    assert!(!validator.is_valid(&json!({"screen_width": "wide"})));
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.ndjson");
    match RecordReader::open(&path) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[cfg(not(feature = "parquet"))]
#[test]
fn a_parquet_file_without_the_feature_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.bin", b"PAR1\0\0\0\0PAR1");
    match RecordReader::open(&path) {
        Err(Error::UnsupportedFormat {
            file,
            format,
            reason,
        }) => {
            assert_eq!(file, path);
            assert_eq!(format, "parquet");
            assert!(reason.contains("`parquet` cargo feature"), "{reason}");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
}

#[test]
fn summarize_counts_types_sources_time_span_and_skipped_rows() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.ndjson.gz",
        &gzip(ndjson_text(&(0..10).map(event_json).collect::<Vec<_>>()).as_bytes()),
    );
    let b = ndjson_with_bad_rows(dir.path());
    let summary = summarize([&a, &b], ReadOptions::lenient()).unwrap();
    assert_eq!(summary.total, 14);
    assert_eq!(summary.skipped, 4);
    assert_eq!(summary.files, 2);
    // a: i = 0..10 → kinds i % 7; b: evt-0, 1, 3, 7
    assert_eq!(summary.by_event_type["identify_user"], 2 + 2);
    assert_eq!(summary.by_event_type["identify_company"], 2 + 1);
    assert_eq!(summary.by_event_type["interaction"], 2);
    assert_eq!(summary.by_event_type["track"], 1 + 1);
    assert_eq!(summary.by_source["web-client"], 5 + 1);
    assert_eq!(summary.by_source["backend-http"], 5 + 3);
    assert_eq!(
        summary
            .first_inserted_at
            .map(|t| userpilot_appex::records::format_micros(&t)),
        Some("2025-01-10T12:00:00.100000Z".to_string())
    );
    assert_eq!(
        summary
            .last_inserted_at
            .map(|t| userpilot_appex::records::format_micros(&t)),
        Some("2025-01-10T12:00:09.100009Z".to_string())
    );
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["skipped"], 4);
    assert_eq!(json["first_inserted_at"], "2025-01-10T12:00:00.100000Z");
    // strict mode stops at the first bad row and names it
    record_error(
        &summarize([&a, &b], ReadOptions::default()),
        &b,
        RecordLocation::Line(3),
    );
    let mut empty = Summary::default();
    empty.add(&ExportedEvent::default());
    assert_eq!(empty.by_event_type[Summary::NONE], 1);
}

/// The CSV reader maps cells straight to fields; it must read a row exactly
/// as the event model reads the same cells as a JSON object of strings
/// (`metadata` parsed), errors included.
#[test]
fn csv_rows_read_exactly_like_their_cells_as_a_json_object() {
    // Columns reversed, an unknown column, `session` twice (the last wins).
    let mut header: Vec<&str> = EXPORT_FIELDS.iter().rev().copied().collect();
    header.insert(3, "plan");
    header.push("session");
    let row = |i: usize, width: &str| -> Vec<String> {
        header
            .iter()
            .enumerate()
            .map(|(col, name)| match *name {
                "metadata" => format!("\"{{\"\"step\"\": {i}}}\""),
                "inserted_at" => "2025-01-10 12:34:56.123456".to_string(),
                "screen_width" => width.to_string(),
                "screen_height" => "900".to_string(),
                "event_type" => EVENT_TYPES[i % EVENT_TYPES.len()].to_string(),
                "company_id" if i == 1 => String::new(),
                "session" if col + 1 == header.len() => format!("last-{i}"),
                other => format!("{other}-{i}"),
            })
            .collect()
    };
    let rows = [row(0, "1440"), row(1, " 800 "), row(2, "wide")];
    let mut text = header.join(",") + "\n";
    for r in &rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cells.csv", text.as_bytes());
    let read: Vec<_> = RecordReader::open(&path).unwrap().collect();
    assert_eq!(read.len(), 3, "{read:?}");
    for (i, r) in rows.iter().enumerate() {
        let mut map = serde_json::Map::new();
        for (name, cell) in header.iter().zip(r) {
            if cell.is_empty() {
                continue;
            }
            // The CSV cell of metadata, unquoted, is JSON text.
            let value = if *name == "metadata" {
                serde_json::from_str(&cell[1..cell.len() - 1].replace("\"\"", "\"")).unwrap()
            } else {
                Value::String(cell.clone())
            };
            map.insert(name.to_string(), value);
        }
        let expected = ExportedEvent::from_json_map(map);
        match (&read[i], expected) {
            (Ok(got), Ok(want)) => {
                assert_eq!(got, &want, "row {i}");
                assert_eq!(got.extra["plan"], format!("plan-{i}"));
            }
            (Err(Error::Record { message, .. }), Err(want)) => {
                assert_eq!(message, &want, "row {i}");
                assert!(message.contains("screen_width"), "{message}");
            }
            (got, want) => panic!("row {i}: got {got:?}, the model says {want:?}"),
        }
    }
    let first = read[0].as_ref().unwrap();
    assert_eq!(first.session.as_deref(), Some("last-0"));
    assert_eq!(first.screen_width, Some(1440));
    assert_eq!(first.metadata, json!({"step": 0}));
    assert_eq!(read[1].as_ref().unwrap().company_id, None);
    assert_eq!(read[1].as_ref().unwrap().screen_width, Some(800));
    assert!(read[2].is_err());
}

/// The ndjson reader splits each object as it parses it; it must read a
/// line exactly as the event model reads the decoded object, errors included.
#[test]
fn ndjson_lines_read_exactly_like_their_decoded_object() {
    let lines = [
        // An escaped key naming a known field, a repeated key (the last wins),
        // an unknown member, numbers where text is expected.
        r#"{"app_token":"NX-1","user\u005fid":42,"session":"a","session":"b","plan":{"tier":"pro"},"screen_width":"1440","metadata":{"k":1},"inserted_at":"2025-01-10T12:34:56.123456Z"}"#,
        r#"{"event_type":"track","company_id":null,"source":"","is_test":true}"#,
        // Escaped string values, a string metadata that is not JSON, floats
        // and booleans where text or integers are expected, blank cells.
        r#"{"event_type":"inter\u0061ction","event_name":"flow:1:SEEN","metadata":"not json {","inserted_at":"2025-01-10 12:34:56","screen_height":1080.0,"browser":"Fire\"fox"}"#,
        r#"{"metadata":"","screen_width":" ","country_code":1.5e3,"device_type":false,"user_agent":-7}"#,
        // The last line fails (and ends a strict read).
        r#"{"app_token":"NX-1","hostname":["not","text"]}"#,
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "split.ndjson",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let read: Vec<_> = RecordReader::open(&path).unwrap().collect();
    assert_eq!(read.len(), lines.len(), "{read:?}");
    for (i, line) in lines.iter().enumerate() {
        let map: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        match (&read[i], ExportedEvent::from_json_map(map)) {
            (Ok(got), Ok(want)) => assert_eq!(got, &want, "line {i}"),
            (Err(Error::Record { message, .. }), Err(want)) => assert_eq!(message, &want),
            (got, want) => panic!("line {i}: got {got:?}, the model says {want:?}"),
        }
    }
    let first = read[0].as_ref().unwrap();
    assert_eq!(first.user_id.as_deref(), Some("42"));
    assert_eq!(first.session.as_deref(), Some("b"));
    assert_eq!(first.screen_width, Some(1440));
    assert_eq!(first.extra["plan"], json!({"tier": "pro"}));
    assert_eq!(read[1].as_ref().unwrap().extra["is_test"], json!(true));
    assert_eq!(read[1].as_ref().unwrap().source, None);
    assert_eq!(
        read[2].as_ref().unwrap().browser.as_deref(),
        Some("Fire\"fox")
    );
    assert_eq!(read[3].as_ref().unwrap().metadata, json!(""));
    assert!(read[lines.len() - 1].is_err());
}

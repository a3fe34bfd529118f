//! Record batches in the crate's Arrow schema: the schema's columns and
//! types, `batches` over every input format, batch sizes, the dedupe key
//! and interaction columns, flat memory, and the Parquet round trip (written
//! with parquet's own `ArrowWriter`, read back by the crate's reader).
#![cfg(feature = "parquet")]

use std::{
    collections::BTreeMap,
    fs::File,
    path::{Path, PathBuf},
};

use arrow_array::{
    Array, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, cast::AsArray,
    types::Int32Type,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Map, Value, json};
use userpilot_appex::{
    Error,
    models::{EventSource, EventType},
    records::{
        BatchOptions, EXPORT_FIELDS, ExportedEvent, ReadOptions, RecordReader,
        arrow::{
            DEDUPE_KEY, DEDUPE_KEY_IS_LOCAL, EXTRA, EventBatchBuilder, INTERACTION_ENTITY_ID,
            INTERACTION_ENTITY_TYPE, INTERACTION_STATUS, SCHEMA_VERSION, SCHEMA_VERSION_KEY,
            schema,
        },
        batches,
    },
};

use crate::support::{
    alloc,
    records::{event_json, write_csv, write_ndjson},
};

/// Writes batches to a parquet file with parquet's own writer.
fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema(), None).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// Every event of the files, read with the crate's reader.
fn read_all(paths: &[PathBuf]) -> Vec<ExportedEvent> {
    paths
        .iter()
        .flat_map(|p| RecordReader::open(p).unwrap())
        .collect::<userpilot_appex::Result<_>>()
        .unwrap()
}

fn strings<'a>(batch: &'a RecordBatch, column: &str) -> &'a StringArray {
    batch.column_by_name(column).unwrap().as_string::<i32>()
}

#[test]
fn the_schema_has_the_documented_columns_and_types() {
    let schema = schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names[..EXPORT_FIELDS.len()], EXPORT_FIELDS[..]);
    assert_eq!(
        names[EXPORT_FIELDS.len()..],
        [
            EXTRA,
            INTERACTION_ENTITY_TYPE,
            INTERACTION_ENTITY_ID,
            INTERACTION_STATUS,
            DEDUPE_KEY,
            DEDUPE_KEY_IS_LOCAL
        ]
    );
    let ty = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(
        ty("inserted_at"),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert_eq!(ty("event_type"), dictionary);
    assert_eq!(ty("source"), dictionary);
    assert_eq!(ty("screen_width"), DataType::Int64);
    assert_eq!(ty("screen_height"), DataType::Int64);
    for name in ["metadata", EXTRA, "user_id", DEDUPE_KEY] {
        assert_eq!(ty(name), DataType::Utf8, "{name}");
    }
    assert_eq!(ty(DEDUPE_KEY_IS_LOCAL), DataType::Boolean);
    assert!(!schema.field_with_name(DEDUPE_KEY).unwrap().is_nullable());
    assert_eq!(schema.metadata()[SCHEMA_VERSION_KEY], SCHEMA_VERSION);
}

#[test]
fn a_file_marked_only_in_its_key_value_metadata_reads_back_as_the_same_events() {
    use parquet::{
        arrow::arrow_writer::ArrowWriterOptions,
        file::{metadata::KeyValue, properties::WriterProperties},
    };
    let event: ExportedEvent = serde_json::from_value(json!({
        "event_type": "interaction", "event_name": "checklist:2:SEEN", "user_id": "u1",
        "inserted_at": "2025-01-10T12:34:56.5Z", "metadata": {"a": 1}, "plan": "pro",
    }))
    .unwrap();
    let mut builder = EventBatchBuilder::with_capacity(1);
    builder.push(&event);
    let batch = builder.finish();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    // No `ARROW:schema` entry: only the Parquet key-value metadata marks it.
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SCHEMA_VERSION_KEY.to_string(),
            SCHEMA_VERSION.to_string(),
        )]))
        .build();
    let options = ArrowWriterOptions::new()
        .with_properties(properties)
        .with_skip_arrow_metadata(true);
    let mut writer =
        ArrowWriter::try_new_with_options(File::create(&path).unwrap(), schema(), options).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    assert_eq!(read_all(std::slice::from_ref(&path)), [event]);

    // Unmarked, the same columns are someone else's: `extra` and the derived
    // columns are unknown fields, kept as such.
    let unmarked = dir.path().join("unmarked.parquet");
    let options = ArrowWriterOptions::new().with_skip_arrow_metadata(true);
    let mut writer =
        ArrowWriter::try_new_with_options(File::create(&unmarked).unwrap(), schema(), options)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let read = read_all(&[unmarked]);
    assert_eq!(read[0].extra[EXTRA], json!({"plan": "pro"}).to_string());
    assert_eq!(read[0].extra[INTERACTION_STATUS], "SEEN");
    assert_eq!(read[0].extra[DEDUPE_KEY_IS_LOCAL], true);
}

#[test]
fn cells_land_typed_with_extra_interaction_and_dedupe_columns() {
    let with_id: ExportedEvent = serde_json::from_value(json!({
        "event_type": "interaction", "event_name": "flow:a:b:COMPLETED", "source": "web-client",
        "inserted_at": "2025-01-10 12:34:56.123456", "internal_event_id": "777",
        "screen_width": 1920, "metadata": {"k": [1, "é"]}, "plan": "pro", "seats": 3,
    }))
    .unwrap();
    let without_id: ExportedEvent = serde_json::from_value(
        json!({"event_type": "track", "event_name": "Clicked", "user_id": "u1"}),
    )
    .unwrap();
    let mut builder = EventBatchBuilder::default();
    builder.push(&with_id);
    builder.push(&without_id);
    let batch = builder.finish();
    assert_eq!(batch.num_rows(), 2);

    let inserted = batch
        .column_by_name("inserted_at")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    let at: DateTime<Utc> = "2025-01-10T12:34:56.123456Z".parse().unwrap();
    assert_eq!(inserted.value(0), at.timestamp_micros());
    assert!(inserted.is_null(1));

    let types = batch
        .column_by_name("event_type")
        .unwrap()
        .as_dictionary::<Int32Type>();
    let values = types.values().as_string::<i32>();
    let type_at = |i: usize| values.value(types.keys().value(i) as usize).to_string();
    assert_eq!(
        (type_at(0), type_at(1)),
        ("interaction".into(), "track".into())
    );

    let width = batch
        .column_by_name("screen_width")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(width.value(0), 1920);
    assert!(width.is_null(1));

    let metadata: Value = serde_json::from_str(strings(&batch, "metadata").value(0)).unwrap();
    assert_eq!(metadata, json!({"k": [1, "é"]}));
    assert!(strings(&batch, "metadata").is_null(1));
    let extra: Value = serde_json::from_str(strings(&batch, EXTRA).value(0)).unwrap();
    assert_eq!(extra, json!({"plan": "pro", "seats": 3}));
    assert!(strings(&batch, EXTRA).is_null(1));

    assert_eq!(strings(&batch, INTERACTION_ENTITY_TYPE).value(0), "flow");
    assert_eq!(strings(&batch, INTERACTION_ENTITY_ID).value(0), "a:b");
    assert_eq!(strings(&batch, INTERACTION_STATUS).value(0), "COMPLETED");
    for column in [
        INTERACTION_ENTITY_TYPE,
        INTERACTION_ENTITY_ID,
        INTERACTION_STATUS,
    ] {
        assert!(strings(&batch, column).is_null(1), "{column}");
    }

    let keys = strings(&batch, DEDUPE_KEY);
    let local = batch
        .column_by_name(DEDUPE_KEY_IS_LOCAL)
        .unwrap()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert_eq!((keys.value(0), local.value(0)), ("777", false));
    assert_eq!(keys.value(1), without_id.dedupe_key().key);
    assert!(local.value(1));
}

#[test]
fn the_local_dedupe_key_is_the_documented_xxh64_of_the_six_fields() {
    use std::hash::Hasher;
    let event: ExportedEvent = serde_json::from_value(json!({
        "app_token": "NX", "event_type": "track", "event_name": "Clicked", "user_id": "u1",
        "inserted_at": "2025-01-10T12:34:56Z", "hostname": "ignored.example.com",
    }))
    .unwrap();
    let mut hasher = twox_hash::XxHash64::with_seed(0);
    hasher.write(b"NX\x1ftrack\x1fClicked\x1fu1\x1f\x1f2025-01-10T12:34:56.000000Z\x1f");
    let key = event.dedupe_key();
    assert_eq!(key.key, format!("{:016x}", hasher.finish()));
    assert!(key.local);
    // Fields outside the six do not change it; any of the six does.
    let other_host = ExportedEvent {
        hostname: None,
        ..event.clone()
    };
    assert_eq!(other_host.dedupe_key(), key);
    let other_user = ExportedEvent {
        user_id: Some("u2".into()),
        ..event
    };
    assert_ne!(other_user.dedupe_key(), key);
}

#[tokio::test]
async fn batches_read_every_format_in_batches_of_the_given_size() {
    let dir = tempfile::tempdir().unwrap();
    let ndjson = dir.path().join("a.ndjson");
    let ndjson_gz = dir.path().join("b.ndjson.gz");
    let csv = dir.path().join("c.csv");
    let csv_gz = dir.path().join("d.csv.gz");
    let parquet = dir.path().join("e.parquet");
    write_ndjson(&ndjson, 0..7, false);
    write_ndjson(&ndjson_gz, 7..12, true);
    write_csv(&csv, 12..20);
    write_csv(&dir.path().join("plain.csv"), 20..23);
    let plain = std::fs::read(dir.path().join("plain.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(File::create(&csv_gz).unwrap(), Default::default());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    gz.finish().unwrap();
    let mut builder = EventBatchBuilder::default();
    for event in read_all(std::slice::from_ref(&ndjson)) {
        builder.push(&event);
    }
    write_parquet(&parquet, &[builder.finish()]);
    let inputs = vec![ndjson.clone(), ndjson_gz, csv, csv_gz, parquet];
    let expected = read_all(&inputs);
    assert_eq!(expected.len(), 7 + 5 + 8 + 3 + 7);

    let options = BatchOptions {
        batch_size: 4,
        ..BatchOptions::default()
    };
    let got: Vec<RecordBatch> = batches(&inputs, options).try_collect().await.unwrap();
    let sizes: Vec<usize> = got.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 4, 2]);
    assert!(got.iter().all(|b| b.schema() == schema()));

    // The batches, landed as parquet and read back, are the same events.
    let landed = dir.path().join("landed.parquet");
    write_parquet(&landed, &got);
    assert_eq!(read_all(&[landed]), expected);
    assert_eq!(event_json(0)["internal_event_id"], "evt-0");
    assert_eq!(expected[0].internal_event_id.as_deref(), Some("evt-0"));
}

#[tokio::test]
async fn batches_yield_the_rows_before_an_error_then_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ndjson");
    write_ndjson(&good, 0..5, false);
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"user_id\":\"x\"}\nnot json\n{\"user_id\":\"y\"}\n").unwrap();
    let options = BatchOptions {
        batch_size: 4,
        ..BatchOptions::default()
    };
    let items: Vec<_> = futures::StreamExt::collect(batches([&good, &bad], options)).await;
    let sizes: Vec<Option<usize>> = items
        .iter()
        .map(|i| i.as_ref().ok().map(RecordBatch::num_rows))
        .collect();
    assert_eq!(sizes, [Some(4), Some(2), None]);
    match &items[2] {
        Err(Error::Record { file, .. }) => assert_eq!(file, &bad),
        other => panic!("expected a record error, got {other:?}"),
    }

    // Lenient: the bad row is skipped and counted.
    let options = BatchOptions {
        batch_size: 4,
        read: ReadOptions::lenient(),
    };
    let mut stream = batches([&good, &bad], options);
    let mut rows = 0;
    while let Some(batch) = stream.try_next().await.unwrap() {
        rows += batch.num_rows();
    }
    assert_eq!((rows, stream.skipped()), (7, 1));
}

/// Measured alone in a child process (see `support::alloc::measure_in_child`).
#[test]
fn batches_of_a_large_file_keep_memory_bounded_by_the_batch_size() {
    alloc::measure_in_child(
        "records_arrow::batches_of_a_large_file_keep_memory_bounded_by_the_batch_size",
        measure_batches_memory,
    );
}

fn measure_batches_memory() {
    const ROWS: usize = 300_000;
    const BATCH: usize = 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ndjson.gz");
    write_ndjson(&path, 0..ROWS, true);
    let decompressed: usize = (0..ROWS).map(|i| event_json(i).to_string().len() + 1).sum();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let baseline = alloc::process_baseline();
    let (rows, largest) = runtime.block_on(async {
        let options = BatchOptions {
            batch_size: BATCH,
            ..BatchOptions::default()
        };
        let mut stream = batches([&path], options);
        let (mut rows, mut largest) = (0, 0);
        while let Some(batch) = stream.try_next().await.unwrap() {
            rows += batch.num_rows();
            largest = largest.max(batch.num_rows());
        }
        (rows, largest)
    });
    let growth = alloc::process_peak_growth(baseline);
    assert_eq!((rows, largest), (ROWS, BATCH));
    alloc::assert_bounded("batching", decompressed, growth, 8 * 1024 * 1024, 8);
    eprintln!("peak heap growth: {growth} bytes for {decompressed} bytes of ndjson");
}

// ---------------------------------------------------------------------------
// The round trip: generated events -> batches -> parquet (ArrowWriter) -> the
// crate's reader -> the same events.

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_:./ -]{1,24}",
        "\\PC{1,12}",
        Just("é日本語 🚀".to_string()),
        Just("line\nbreak, \"quoted\"".to_string()),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        arb_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(arb_text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_metadata() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => arb_json(),
        // Huge metadata: a quarter of a megabyte of text in one object.
        1 => (1usize..4).prop_map(|n| json!({"blob": "x".repeat(n * 256 * 1024), "n": n})),
    ]
}

/// Unknown fields, including names the schema uses for its own columns.
fn arb_extra() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        "[a-z_]{1,10}".prop_filter("not an export field", |n| !EXPORT_FIELDS
            .contains(&n.as_str())),
        Just(EXTRA.to_string()),
        Just(DEDUPE_KEY.to_string()),
        Just(INTERACTION_STATUS.to_string()),
    ];
    prop::collection::btree_map(name, arb_json(), 0..4).prop_map(|m| m.into_iter().collect())
}

prop_compose! {
    fn arb_event()(
        texts in prop::collection::vec(prop::option::of(arb_text()), 14),
        event_type in prop::option::of(prop_oneof![
            Just("interaction".to_string()), Just("track".to_string()), arb_text()
        ]),
        interaction_name in prop::option::of(("[a-z]{1,8}", "[a-z0-9:]{1,8}", "[A-Z]{1,8}")),
        source in prop::option::of(prop_oneof![Just("web-client".to_string()), arb_text()]),
        inserted_at in prop::option::of(0i64..4_102_444_800_000_000),
        sizes in (prop::option::of(any::<i64>()), prop::option::of(any::<i64>())),
        metadata in arb_metadata(),
        extra in arb_extra(),
    ) -> ExportedEvent {
        let mut t = texts.into_iter();
        let mut next = || t.next().flatten();
        let mut event_name = next();
        if let Some((kind, id, status)) = interaction_name {
            event_name = Some(format!("{kind}:{id}:{status}"));
        }
        ExportedEvent {
            app_token: next(),
            event_type: event_type.as_deref().map(EventType::from),
            event_name,
            user_id: next(),
            company_id: next(),
            source: source.as_deref().map(EventSource::from),
            inserted_at: inserted_at.and_then(DateTime::from_timestamp_micros),
            internal_event_id: next(),
            hostname: next(),
            pathname: next(),
            screen_width: sizes.0,
            screen_height: sizes.1,
            device_type: next(),
            user_agent: next(),
            operating_system: next(),
            browser: next(),
            browser_language: next(),
            session: next(),
            country_code: next(),
            metadata,
            extra,
        }
    }
}

fn round_trip(events: &[ExportedEvent], batch_size: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let mut builder = EventBatchBuilder::with_capacity(batch_size);
    let mut written = Vec::new();
    for chunk in events.chunks(batch_size) {
        chunk.iter().for_each(|e| builder.push(e));
        written.push(builder.finish());
    }
    write_parquet(&path, &written);
    let read = read_all(&[path]);
    prop_assert_eq!(read.len(), events.len());
    for (i, (got, want)) in read.iter().zip(events).enumerate() {
        prop_assert_eq!(got, want, "event {}", i);
    }
    // The derived columns agree with the events they were derived from.
    let kinds: BTreeMap<usize, Option<String>> = written
        .iter()
        .flat_map(|b| {
            let a = strings(b, INTERACTION_ENTITY_TYPE);
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .enumerate()
        .collect();
    for (i, event) in events.iter().enumerate() {
        prop_assert_eq!(&kinds[&i], &event.interaction().map(|x| x.entity_type));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn events_survive_the_parquet_round_trip(
        events in prop::collection::vec(arb_event(), 1..40),
        batch_size in 1usize..16,
    ) {
        round_trip(&events, batch_size)?;
    }
}

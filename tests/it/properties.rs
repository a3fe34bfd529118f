//! Property tests (proptest) for everything that reads untrusted input:
//! the lenient job, error and lookup decoders, `Progress::parse`, the
//! record readers and the file name sanitiser.
//!
//! The checked-in case counts keep `cargo test` fast. Run longer with
//! `PROPTEST_CASES=20000 cargo test --release --test it -- properties::` (the
//! variable overrides every test's count here). Failures found that way are
//! kept below as ordinary regression tests.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Component, Path},
};

use crate::support::EVENT_TYPES;
use proptest::prelude::*;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};
use userpilot_appex::{
    Error,
    ext::{download::sanitize_filename, jobs::Progress},
    models::{
        Checklist, ChecklistTask, Embed, ErrorDetail, ErrorResponse, EventProperty,
        EventPropertyPage, EventRef, Experience, ExportCreated, ExportJob, ExportJobSummary,
        FeatureEvent, PageCursor, PageMetadata, PresignedUrl, Property, ResourceCenterModule,
        Segment, SegmentPage, Survey, SurveyModule,
    },
    records::{EXPORT_FIELDS, ReadOptions, RecordFormat, RecordReader},
};

/// The case count: `PROPTEST_CASES` when set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// JSON strategies
// ---------------------------------------------------------------------------

/// Every field name the models know besides [`JOB_FIELDS`], so arbitrary
/// objects hit them often.
const OTHER_KNOWN_KEYS: &[&str] = &[
    "presigned_urls",
    "filename",
    "url",
    "elapsed_time",
    "elapsed_time_seconds",
    "environment_app_token",
    "environment_name",
    "links",
    "errors",
    "details",
    "error",
    "error_code",
    "message",
    "id",
    "key",
    "display_name",
    "data_type",
    "is_auto_property",
    "title",
    "usage",
    "category",
    "is_hidden",
    "is_protected",
    "event",
    "is_mobile_auto_property",
    "description",
    "is_archived",
    "inserted_at",
    "last_seen",
    "platform",
    "modules",
    "order",
    "question",
    "tasks",
    "after",
    "before",
    "cursor",
    "limit",
    "total_count",
    "data",
    "metadata",
];

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        "[0-9]{1,4}",
        Just("2025-01-10T12:34:56.123456Z".to_string()),
        Just("2025-01-10 12:34:56".to_string()),
        Just("completed".to_string()),
        Just("user_property".to_string()),
        Just("45%".to_string()),
    ]
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-5i64..5).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        arb_string().prop_map(Value::String),
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            JOB_FIELDS
                .iter()
                .chain(OTHER_KNOWN_KEYS)
                .copied()
                .collect::<Vec<_>>()
        )
        .prop_map(str::to_string),
        "[a-z_]{1,8}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with some of `known` (each a random scalar), the listed
/// `lists` fields as arrays of objects with random scalars, and unknown
/// fields with arbitrary values.
fn arb_model_object(
    known: &'static [&'static str],
    lists: &'static [(&'static str, &'static [&'static str])],
) -> impl Strategy<Value = (Map<String, Value>, BTreeMap<String, Value>)> {
    let scalars = prop::collection::vec(prop::option::of(arb_scalar()), known.len());
    let list_items = prop::collection::vec(
        prop::option::of(prop::collection::vec(
            prop::collection::vec(prop::option::of(arb_scalar()), 8),
            0..3,
        )),
        lists.len(),
    );
    let unknown = prop::collection::btree_map("x_[a-z]{1,6}", arb_json(), 0..4);
    (scalars, list_items, unknown).prop_map(move |(scalars, list_items, unknown)| {
        let mut map = Map::new();
        for (key, value) in known.iter().zip(scalars) {
            if let Some(v) = value {
                map.insert(key.to_string(), v);
            }
        }
        for ((key, fields), items) in lists.iter().zip(list_items) {
            if let Some(items) = items {
                let items = items
                    .into_iter()
                    .map(|values| {
                        let mut item = Map::new();
                        for (field, value) in fields.iter().zip(values) {
                            if let Some(v) = value {
                                item.insert(field.to_string(), v);
                            }
                        }
                        Value::Object(item)
                    })
                    .collect();
                map.insert(key.to_string(), Value::Array(items));
            }
        }
        for (k, v) in &unknown {
            map.insert(k.clone(), v.clone());
        }
        (map, unknown)
    })
}

// ---------------------------------------------------------------------------
// Decoders: arbitrary JSON never panics; a decoded value round-trips
// ---------------------------------------------------------------------------

/// Decodes `value` as `T`; if that works, serializing and decoding again
/// gives the same value, and the serialized JSON text has no duplicate keys.
fn decode_round_trip<T>(value: &Value) -> Result<Option<T>, TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(decoded) = serde_json::from_value::<T>(value.clone()) else {
        return Ok(None);
    };
    let text = serde_json::to_string(&decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
    assert_no_duplicate_keys(&text)?;
    let again: T = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("re-decoding {text}: {e}")))?;
    prop_assert_eq!(&again, &decoded, "round trip of {}", value);
    Ok(Some(decoded))
}

/// Fails if any JSON object in `text` names a key twice.
fn assert_no_duplicate_keys(text: &str) -> Result<(), TestCaseError> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct Check;
    impl<'de> serde::Deserialize<'de> for Check {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Check)
        }
    }
    impl<'de> Visitor<'de> for Check {
        type Value = Check;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_str<E>(self, _: &str) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_unit<E>(self) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Check, A::Error> {
            while seq.next_element::<Check>()?.is_some() {}
            Ok(Check)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
            let mut keys = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !keys.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                }
                map.next_value::<Check>()?;
            }
            Ok(Check)
        }
    }
    serde_json::from_str::<Check>(text)
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))
}

/// Runs [`decode_round_trip`] for every model.
fn decode_every_model(value: &Value) -> Result<(), TestCaseError> {
    decode_round_trip::<ExportJob>(value)?;
    decode_round_trip::<ExportJobSummary>(value)?;
    decode_round_trip::<Vec<ExportJobSummary>>(value)?;
    decode_round_trip::<ExportCreated>(value)?;
    decode_round_trip::<PresignedUrl>(value)?;
    decode_round_trip::<ErrorResponse>(value)?;
    decode_round_trip::<ErrorDetail>(value)?;
    decode_round_trip::<Property>(value)?;
    decode_round_trip::<Segment>(value)?;
    decode_round_trip::<FeatureEvent>(value)?;
    decode_round_trip::<EventRef>(value)?;
    decode_round_trip::<EventProperty>(value)?;
    decode_round_trip::<Experience>(value)?;
    decode_round_trip::<Embed>(value)?;
    decode_round_trip::<Survey>(value)?;
    decode_round_trip::<SurveyModule>(value)?;
    decode_round_trip::<ResourceCenterModule>(value)?;
    decode_round_trip::<Checklist>(value)?;
    decode_round_trip::<ChecklistTask>(value)?;
    decode_round_trip::<PageCursor>(value)?;
    decode_round_trip::<PageMetadata>(value)?;
    decode_round_trip::<SegmentPage>(value)?;
    decode_round_trip::<EventPropertyPage>(value)?;
    Ok(())
}

const JOB_FIELDS: &[&str] = &[
    "job_id",
    "app_token",
    "status",
    "progress",
    "current_chunk",
    "all_chunks",
    "completed_chunks",
    "start_time",
    "end_time",
    "type",
];
const PRESIGNED_FIELDS: &[&str] = &["filename", "url", "x_size"];
const SUMMARY_FIELDS: &[&str] = &[
    "job_id",
    "status",
    "progress",
    "start_time",
    "end_time",
    "elapsed_time",
    "elapsed_time_seconds",
];
const ERROR_DETAIL_FIELDS: &[&str] = &["details", "error", "error_code", "message", "x_hint"];
const PROPERTY_FIELDS: &[&str] = &[
    "id",
    "type",
    "key",
    "display_name",
    "data_type",
    "is_auto_property",
];
const SEGMENT_FIELDS: &[&str] = &[
    "id",
    "title",
    "usage",
    "category",
    "is_hidden",
    "is_protected",
    "status",
];
const EVENT_PROPERTY_FIELDS: &[&str] = &[
    "id",
    "key",
    "display_name",
    "is_auto_property",
    "is_mobile_auto_property",
    "data_type",
    "category",
    "description",
    "is_archived",
    "event",
    "inserted_at",
    "last_seen",
];
const SURVEY_FIELDS: &[&str] = &["id", "title", "platform"];
const SURVEY_MODULE_FIELDS: &[&str] = &["id", "order", "type", "question"];
const CHECKLIST_FIELDS: &[&str] = &["id", "title", "key", "display_name", "data_type"];
const TASK_FIELDS: &[&str] = &["id", "title", "order"];

/// Decodes an object built from a model's fields: it must decode, every
/// unknown field must come back unchanged, every non-null input field must
/// survive serialization (typed, or kept as sent), and the value round-trips.
fn model_keeps_everything<T>(
    map: &Map<String, Value>,
    unknown: &BTreeMap<String, Value>,
) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let value = Value::Object(map.clone());
    let decoded = decode_round_trip::<T>(&value)?;
    let Some(decoded) = decoded else {
        let err = serde_json::from_value::<T>(value.clone()).unwrap_err();
        return Err(TestCaseError::fail(format!(
            "{value} did not decode: {err}"
        )));
    };
    let out = serde_json::to_value(&decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (k, v) in unknown {
        prop_assert_eq!(out.get(k), Some(v), "unknown field {} of {}", k, value);
    }
    for (k, v) in map {
        let empty = match v {
            Value::Null => true,
            Value::Array(items) => items.iter().all(Value::is_null),
            _ => false,
        };
        if !empty {
            prop_assert!(
                out.get(k).is_some(),
                "field {} of {} lost: {}",
                k,
                value,
                out
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn decoders_never_panic_on_arbitrary_json(value in arb_json()) {
        decode_every_model(&value)?;
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_objects(
        map in prop::collection::btree_map(arb_key(), arb_json(), 0..12)
    ) {
        decode_every_model(&Value::Object(map.into_iter().collect()))?;
    }

    #[test]
    fn job_objects_decode_and_keep_unknown_fields(
        (map, unknown) in arb_model_object(JOB_FIELDS, &[("presigned_urls", PRESIGNED_FIELDS)])
    ) {
        model_keeps_everything::<ExportJob>(&map, &unknown)?;
    }

    #[test]
    fn job_summary_objects_decode_and_keep_unknown_fields(
        (map, unknown) in arb_model_object(SUMMARY_FIELDS, &[])
    ) {
        model_keeps_everything::<ExportJobSummary>(&map, &unknown)?;
    }

    #[test]
    fn created_objects_decode_and_keep_unknown_fields(
        (map, unknown) in arb_model_object(
            &["environment_app_token", "environment_name", "job_id", "links", "start_time"], &[])
    ) {
        model_keeps_everything::<ExportCreated>(&map, &unknown)?;
    }

    #[test]
    fn error_objects_decode_and_keep_unknown_fields(
        (map, unknown) in arb_model_object(&[], &[("errors", ERROR_DETAIL_FIELDS)])
    ) {
        model_keeps_everything::<ErrorResponse>(&map, &unknown)?;
    }

    #[test]
    fn lookup_objects_decode_and_keep_unknown_fields(
        (property, property_unknown) in arb_model_object(PROPERTY_FIELDS, &[]),
        (segment, segment_unknown) in arb_model_object(SEGMENT_FIELDS, &[]),
        (event_property, event_property_unknown) in arb_model_object(EVENT_PROPERTY_FIELDS, &[]),
        (survey, survey_unknown) in arb_model_object(SURVEY_FIELDS, &[("modules", SURVEY_MODULE_FIELDS)]),
        (checklist, checklist_unknown) in arb_model_object(CHECKLIST_FIELDS, &[("tasks", TASK_FIELDS)]),
        (experience, experience_unknown) in arb_model_object(&["id", "title"], &[]),
        (embed, embed_unknown) in arb_model_object(&["id", "title", "type"], &[]),
        (feature, feature_unknown) in arb_model_object(&["id", "key", "display_name", "data_type"], &[]),
    ) {
        model_keeps_everything::<Property>(&property, &property_unknown)?;
        model_keeps_everything::<Segment>(&segment, &segment_unknown)?;
        model_keeps_everything::<EventProperty>(&event_property, &event_property_unknown)?;
        model_keeps_everything::<Survey>(&survey, &survey_unknown)?;
        model_keeps_everything::<Checklist>(&checklist, &checklist_unknown)?;
        model_keeps_everything::<Experience>(&experience, &experience_unknown)?;
        model_keeps_everything::<Embed>(&embed, &embed_unknown)?;
        model_keeps_everything::<FeatureEvent>(&feature, &feature_unknown)?;
        model_keeps_everything::<ResourceCenterModule>(&feature, &feature_unknown)?;
    }

    #[test]
    fn page_objects_decode_and_keep_unknown_fields(
        (items, _) in arb_model_object(&[], &[("data", SEGMENT_FIELDS)]),
        (cursor, cursor_unknown) in arb_model_object(&["after", "before"], &[]),
        (metadata, metadata_unknown) in arb_model_object(&["limit", "total_count"], &[]),
        cursor_as_scalar in prop::option::of(arb_scalar()),
        page_unknown in prop::collection::btree_map("x_[a-z]{1,6}", arb_json(), 0..3),
    ) {
        let mut metadata = metadata;
        match cursor_as_scalar {
            Some(scalar) => metadata.insert("cursor".into(), scalar),
            None => metadata.insert("cursor".into(), Value::Object(cursor.clone())),
        };
        let mut page = items;
        page.insert("metadata".into(), Value::Object(metadata.clone()));
        page.extend(page_unknown.clone());
        model_keeps_everything::<PageCursor>(&cursor, &cursor_unknown)?;
        model_keeps_everything::<PageMetadata>(&metadata, &metadata_unknown)?;
        model_keeps_everything::<SegmentPage>(&page, &page_unknown)?;
    }
}

// ---------------------------------------------------------------------------
// Progress::parse
// ---------------------------------------------------------------------------

fn check_progress(text: &str) -> Result<(), TestCaseError> {
    let p = Progress::parse(text);
    if let Some(f) = p.fraction {
        prop_assert!((0.0..=1.0).contains(&f), "{:?} gave {}", text, f);
    }
    if let (Some(done), Some(total)) = (p.chunks_done, p.chunks_total)
        && total > 0
    {
        let f = p.fraction.expect("a fraction from chunk counts");
        prop_assert!((f - (f64::from(done) / f64::from(total)).min(1.0)).abs() < 1e-9);
    }
    prop_assert_eq!(p.raw.is_some(), !text.trim().is_empty());
    let shown = p.to_string();
    prop_assert!(!shown.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn progress_parse_never_panics_and_stays_in_range(text in ".{0,24}") {
        check_progress(&text)?;
    }

    #[test]
    fn progress_parse_of_number_like_text_stays_in_range(
        text in prop_oneof![
            "[-+]?[0-9]{0,12}(\\.[0-9]{0,6})?([eE][-+]?[0-9]{1,4})?%?",
            "[-+]?[0-9]{0,12} ?(/| of | OF ) ?[-+]?[0-9]{0,12}[a-z ]{0,6}",
            "(NaN|inf|-inf|infinity|1e999|-1e999)%?",
        ]
    ) {
        check_progress(&text)?;
    }
}

// ---------------------------------------------------------------------------
// Record readers
// ---------------------------------------------------------------------------

/// `e.csv` or `e.ndjson`, with `.gz` when `gz`.
fn file_name(csv: bool, gz: bool) -> &'static str {
    match (csv, gz) {
        (true, true) => "e.csv.gz",
        (true, false) => "e.csv",
        (false, true) => "e.ndjson.gz",
        (false, false) => "e.ndjson",
    }
}

fn arb_event() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::sample::select(
            EVENT_TYPES
                .iter()
                .copied()
                .chain(["survey_answer"])
                .collect::<Vec<_>>(),
        ),
        "[a-z0-9:_]{0,12}",
        "[A-Za-z0-9 ,\"\n\u{e9}]{0,10}",
        0i64..86_400_000_000,
        prop::option::of(0i64..5000),
        prop::collection::btree_map("[a-z]{1,5}", arb_scalar(), 0..3),
    )
        .prop_map(|(event_type, name, user, micros, width, metadata)| {
            let at = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(
                1_736_467_200_000_000 + micros,
            )
            .expect("timestamp");
            let mut map = Map::new();
            map.insert("app_token".into(), json!("NX-1"));
            map.insert("event_type".into(), json!(event_type));
            map.insert("event_name".into(), json!(name));
            map.insert("user_id".into(), json!(user));
            map.insert("source".into(), json!("web-client"));
            map.insert(
                "inserted_at".into(),
                json!(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
            );
            if let Some(w) = width {
                map.insert("screen_width".into(), json!(w));
            }
            map.insert(
                "metadata".into(),
                Value::Object(metadata.into_iter().collect()),
            );
            map
        })
}

fn ndjson_text(events: &[Map<String, Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(serde_json::to_string(e).expect("json").as_bytes());
        out.push(b'\n');
    }
    out
}

fn csv_text(events: &[Map<String, Value>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(EXPORT_FIELDS).expect("header");
    for e in events {
        let row: Vec<String> = EXPORT_FIELDS
            .iter()
            .map(|f| match e.get(*f) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            })
            .collect();
        w.write_record(&row).expect("row");
    }
    w.into_inner().expect("csv bytes")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Reads a file to the end: the events read, and the error that ended it.
/// Checks that an error is the last item and that reading never panics.
fn read_file(path: &Path, options: ReadOptions) -> Result<(u64, Option<Error>), TestCaseError> {
    let mut reader = match RecordReader::with_options(path, options) {
        Ok(r) => r,
        Err(e) => return Ok((0, Some(e))),
    };
    let mut events = 0u64;
    let mut error = None;
    for item in &mut reader {
        prop_assert!(error.is_none(), "an item after the error {:?}", error);
        match item {
            Ok(_) => events += 1,
            Err(e) => error = Some(e),
        }
    }
    prop_assert!(reader.next().is_none(), "the reader ended");
    prop_assert_eq!(reader.events_read(), events);
    if !options.lenient {
        prop_assert_eq!(reader.skipped(), 0);
    }
    Ok((events, error))
}

/// The error is one of the reader's typed errors, naming the file.
fn is_typed_read_error(e: &Error, path: &Path) -> bool {
    match e {
        Error::Record { file, .. }
        | Error::CorruptFile { file, .. }
        | Error::UnsupportedFormat { file, .. } => file == path,
        Error::Io { path: p, .. } => p == path,
        _ => false,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[derive(Clone, Debug)]
enum Damage {
    Truncate(usize),
    Flip(Vec<(usize, u8)>),
    Splice(usize, Vec<u8>),
}

fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(|i| Damage::Truncate(i.index(usize::MAX))),
        prop::collection::vec((any::<usize>(), 1u8..=255), 1..4).prop_map(Damage::Flip),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Splice(at, bytes)),
    ]
}

/// Applies damage; `None` if it changed nothing.
fn damage(bytes: &[u8], how: &Damage) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    match how {
        Damage::Truncate(n) => out.truncate(n % bytes.len().max(1)),
        Damage::Flip(flips) => {
            for (at, mask) in flips {
                let i = at % out.len().max(1);
                if let Some(b) = out.get_mut(i) {
                    *b ^= mask;
                }
            }
        }
        Damage::Splice(at, junk) => {
            let i = at % (out.len() + 1);
            out.splice(i..i, junk.iter().copied());
        }
    }
    (out != bytes).then_some(out)
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            // Arbitrary bytes behind a gzip magic, and gzip of arbitrary bytes.
            prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| [&[0x1f, 0x8b][..], &b].concat()),
            prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| gzip(&b)),
        ],
        name in prop::sample::select(vec!["f.ndjson", "f.csv", "f.bin", "f.ndjson.gz", "f.csv.gz", "f.parquet", "f.avro"]),
        format in prop::option::of(prop::sample::select(vec![RecordFormat::Ndjson, RecordFormat::Csv])),
        lenient in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), name, &bytes);
        let (_, error) = read_file(&path, ReadOptions { lenient, format })?;
        if let Some(e) = &error {
            prop_assert!(is_typed_read_error(e, &path), "{:?}", e);
        }
    }

    #[test]
    fn valid_files_read_back_every_event(
        events in prop::collection::vec(arb_event(), 0..40),
        csv in any::<bool>(),
        gzipped in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = if csv { csv_text(&events) } else { ndjson_text(&events) };
        let bytes = if gzipped { gzip(&text) } else { text };
        let name = file_name(csv, gzipped);
        let path = write(dir.path(), name, &bytes);
        let (read, error) = read_file(&path, ReadOptions::default())?;
        prop_assert!(error.is_none(), "{:?}", error);
        prop_assert_eq!(read, events.len() as u64);
    }

    #[test]
    fn damaged_gzip_files_never_lose_events_silently(
        events in prop::collection::vec(arb_event(), 1..40),
        csv in any::<bool>(),
        how in arb_damage(),
        named_gz in any::<bool>(),
        lenient in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = if csv { csv_text(&events) } else { ndjson_text(&events) };
        let clean = gzip(&text);
        let Some(damaged) = damage(&clean, &how) else { return Ok(()) };
        let name = file_name(csv, named_gz);
        let path = write(dir.path(), name, &damaged);
        let (read, error) = read_file(&path, ReadOptions { lenient, format: None })?;
        match &error {
            Some(e) => prop_assert!(is_typed_read_error(e, &path), "{:?}", e),
            // An empty file not named `.gz` is a valid empty plain export:
            // nothing tells it from a cut one.
            None if damaged.is_empty() && !named_gz => {}
            // Without an error, strict reading gave every event (the damage
            // hit bytes that carry no data, such as the gzip header's mtime).
            None if !lenient => prop_assert_eq!(read, events.len() as u64, "silent loss after {:?}", how),
            None => {}
        }
    }

    #[test]
    fn damaged_plain_files_give_events_or_typed_errors(
        events in prop::collection::vec(arb_event(), 1..30),
        csv in any::<bool>(),
        how in arb_damage(),
        lenient in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = if csv { csv_text(&events) } else { ndjson_text(&events) };
        let Some(damaged) = damage(&text, &how) else { return Ok(()) };
        let path = write(dir.path(), if csv { "e.csv" } else { "e.ndjson" }, &damaged);
        let (_, error) = read_file(&path, ReadOptions { lenient, format: None })?;
        if let Some(e) = &error {
            prop_assert!(is_typed_read_error(e, &path), "{:?}", e);
        }
    }
}

// ---------------------------------------------------------------------------
// sanitize_filename
// ---------------------------------------------------------------------------

fn check_sanitized(raw: &str) -> Result<(), TestCaseError> {
    match sanitize_filename(raw) {
        Ok(name) => {
            prop_assert!(!name.is_empty());
            prop_assert!(!name.contains(['/', '\\']), "{:?} -> {:?}", raw, name);
            prop_assert!(name != "." && name != "..", "{:?} -> {:?}", raw, name);
            prop_assert!(
                !name.chars().any(char::is_control),
                "{:?} -> {:?}",
                raw,
                name
            );
            prop_assert!(name.len() <= 240);
            prop_assert_eq!(name.trim(), name.as_str());
            // One plain component, which stays inside the directory it is joined to.
            let components: Vec<_> = Path::new(&name).components().collect();
            prop_assert!(
                matches!(components.as_slice(), [Component::Normal(_)]),
                "{:?}",
                components
            );
            let dir = Path::new("/srv/exports");
            let joined = dir.join(&name);
            prop_assert_eq!(joined.parent(), Some(dir));
            prop_assert!(joined.starts_with(dir));
            // Already safe names are kept as they are.
            prop_assert_eq!(sanitize_filename(&name).ok(), Some(name.clone()));
        }
        Err(Error::UnsafeFilename { name, reason }) => {
            prop_assert_eq!(name, raw);
            prop_assert!(!reason.is_empty());
        }
        Err(other) => return Err(TestCaseError::fail(format!("{raw:?}: {other:?}"))),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn sanitized_names_are_single_safe_components(raw in any::<String>()) {
        check_sanitized(&raw)?;
    }

    #[test]
    fn sanitized_path_like_names_are_single_safe_components(
        parts in prop::collection::vec(
            prop_oneof![
                Just("..".to_string()), Just(".".to_string()), Just("".to_string()),
                Just("C:".to_string()), Just("nul".to_string()), Just("CON.txt".to_string()),
                Just(" ".to_string()), Just("...".to_string()), Just("\u{0}".to_string()),
                "[a-zA-Z0-9 ._:<>|?*\"-]{0,8}",
                ".{0,4}",
            ],
            0..6,
        ),
        separators in prop::collection::vec(prop::sample::select(vec!["/", "\\", "//", "\\\\", ":"]), 6),
    ) {
        let mut raw = String::new();
        for (part, sep) in parts.iter().zip(&separators) {
            raw.push_str(part);
            raw.push_str(sep);
        }
        if let Some(last) = parts.last() {
            raw.push_str(last);
        }
        check_sanitized(&raw)?;
    }
}

// ---------------------------------------------------------------------------
// Regression cases the properties found, as ordinary tests
// ---------------------------------------------------------------------------

/// The object keys of a serialized value, in order, duplicates included.
fn keys_of(text: &str) -> Vec<String> {
    // Top-level keys, read with a streaming map visitor.
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Keys>(text).expect("an object").0
}

#[test]
fn a_cursor_value_that_does_not_fit_is_written_back_once() {
    let cursor: PageCursor = serde_json::from_value(json!({"after": [], "before": "b1"})).unwrap();
    assert_eq!(cursor.after, None);
    assert_eq!(cursor.extra["after"], json!([]));
    let text = serde_json::to_string(&cursor).unwrap();
    assert_eq!(keys_of(&text), ["before", "after"]);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"after": [], "before": "b1"})
    );
}

#[test]
fn a_metadata_or_cursor_that_is_not_an_object_is_written_back_once() {
    let metadata: PageMetadata =
        serde_json::from_value(json!({"cursor": false, "limit": 5})).unwrap();
    let text = serde_json::to_string(&metadata).unwrap();
    assert_eq!(keys_of(&text), ["limit", "cursor"]);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"cursor": false, "limit": 5})
    );

    let page: SegmentPage = serde_json::from_value(json!({"metadata": false})).unwrap();
    let text = serde_json::to_string(&page).unwrap();
    assert_eq!(keys_of(&text), ["data", "metadata"]);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"data": [], "metadata": false})
    );
}

#[test]
fn a_well_formed_page_still_writes_its_null_cursors() {
    let page: SegmentPage = serde_json::from_value(json!({
        "data": [{"id": 1}],
        "metadata": {"cursor": {"after": null, "before": null}, "limit": 1, "total_count": 1}
    }))
    .unwrap();
    assert_eq!(
        serde_json::to_value(&page).unwrap(),
        json!({"data": [{"id": 1}], "metadata": {"cursor": {"after": null, "before": null}, "limit": 1, "total_count": 1}})
    );
}

#[test]
fn an_empty_file_named_gz_is_corrupt_not_an_empty_export() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["part-0.ndjson.gz", "part-0.csv.GZ", "part-0.gzip"] {
        let path = write(dir.path(), name, b"");
        let err = RecordReader::open(&path).expect_err(name);
        assert!(
            matches!(&err, Error::CorruptFile { file, records_read: 0, .. } if *file == path),
            "{name}: {err:?}"
        );
        let err = RecordReader::with_options(&path, ReadOptions::lenient()).expect_err(name);
        assert!(matches!(err, Error::CorruptFile { .. }), "{name}: {err:?}");
    }
}

#[test]
fn an_empty_plain_file_is_an_empty_export() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["part-0.ndjson", "part-0.csv"] {
        let path = write(dir.path(), name, b"");
        let events: Vec<_> = RecordReader::open(&path).expect(name).collect();
        assert!(events.is_empty(), "{name}");
    }
}

#[test]
fn a_job_whose_file_list_is_not_a_list_is_an_error_not_a_job_without_files() {
    // Deliberate: reading it as "no files" would let a completed export
    // download nothing, silently. `null` is an empty list.
    for files in [json!("x"), json!(3), json!({"filename": "a"})] {
        let job = json!({"status": "completed", "presigned_urls": files});
        assert!(
            serde_json::from_value::<ExportJob>(job.clone()).is_err(),
            "{job}"
        );
    }
    let job: ExportJob =
        serde_json::from_value(json!({"status": "completed", "presigned_urls": null})).unwrap();
    assert!(job.presigned_urls.is_empty());
}

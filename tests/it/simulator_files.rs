//! The simulator's export files and presigned URLs: contents per the export
//! file contract, determinism, S3-like URL behaviour, `Range`.
//!
//! Run: `cargo test --features simulator --test it -- simulator_files::`
//! (add `,parquet,avro` for the binary formats).

#![cfg(feature = "simulator")]

use std::collections::{BTreeSet, HashSet};

use crate::support::{EVENT_TYPES, simulator::*};
use chrono::NaiveDateTime;
use reqwest::StatusCode;
use serde_json::{Value, json};
use userpilot_appex::{
    records::EXPORT_FIELDS,
    simulator::{Route, SimulatorConfig},
};

const SOURCES: [&str; 5] = [
    "web-client",
    "backend-http",
    "backend-hubspot",
    "backend-salesforce",
    "backend-segment",
];

/// Checks one event (as a JSON object, values as ndjson carries them)
/// against the export file contract; `day` is the file's chunk.
fn assert_contract_event(e: &Value, day: &str, app_token: &str) {
    let obj = e.as_object().expect("event is an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = EXPORT_FIELDS.to_vec();
    expected.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, expected, "{e}");
    assert_eq!(e["app_token"], app_token);
    let ty = e["event_type"].as_str().expect("event_type");
    assert!(EVENT_TYPES.contains(&ty), "{ty}");
    let source = e["source"].as_str().expect("source");
    assert!(SOURCES.contains(&source), "{source}");
    let name = e["event_name"].as_str().expect("event_name");
    match ty {
        "interaction" => {
            let parts: Vec<&str> = name.split(':').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert!(parts[1].parse::<u64>().is_ok(), "{name}");
            assert!(
                parts[2].chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
            assert_eq!(e["metadata"]["entity_type"], parts[0]);
        }
        "track_feature" => assert!(name.starts_with("feature_"), "{name}"),
        "track" => assert!(!name.is_empty()),
        _ => assert_eq!(name, "", "{ty} has no event name"),
    }
    let at = e["inserted_at"].as_str().expect("inserted_at");
    assert!(
        at.ends_with('Z') && at.len() == "2025-01-10T12:34:56.123456Z".len(),
        "{at}"
    );
    let parsed = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.6fZ").expect("timestamp");
    assert_eq!(parsed.date().to_string(), day);
    assert!(e["user_id"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(
        e["internal_event_id"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(e["metadata"].is_object());
    if source == "web-client" {
        assert!(
            e["screen_width"].is_i64() && e["screen_height"].is_i64(),
            "{e}"
        );
        // The text fields from `hostname` to `country_code`.
        let texts = EXPORT_FIELDS[8..19]
            .iter()
            .filter(|f| !f.starts_with("screen_"));
        for f in texts {
            assert!(e[f].as_str().is_some_and(|v| !v.is_empty()), "{f} in {e}");
        }
    } else {
        assert!(
            e["hostname"].is_null() && e["screen_width"].is_null(),
            "{e}"
        );
    }
}

fn ndjson_events(bytes: &[u8]) -> Vec<Value> {
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let text = String::from_utf8(gunzip(bytes).expect("gunzips")).expect("utf-8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("line is JSON"))
        .collect()
}

/// A one-day export of `day` in `format` on a fresh simulator with
/// `events` a day: the file's name and bytes.
async fn first_file(events: usize, day: &str, format: &str) -> (String, bytes::Bytes) {
    let sim = start(SimulatorConfig::default().events_per_day(events)).await;
    let body = json!({"from": day, "to": day, "format": format});
    let job = completed_job(&sim, body).await;
    let (name, url) = urls(&job).remove(0);
    (name, fetch(&url, &[]).await.body)
}

#[tokio::test]
async fn ndjson_files_hold_contract_events_for_every_day() {
    let sim = start(
        SimulatorConfig::default()
            .events_per_day(300)
            .app_token("NX-FILES"),
    )
    .await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-03"})).await;
    let files = urls(&job);
    assert_eq!(files.len(), 3);
    let mut types = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for ((name, url), day) in files.iter().zip(["2025-01-01", "2025-01-02", "2025-01-03"]) {
        assert!(name.ends_with(&format!("{day}.ndjson.gz")), "{name}");
        let a = fetch(url, &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("content-length"), Some(a.body.len().to_string()));
        assert_eq!(a.header("accept-ranges").as_deref(), Some("bytes"));
        let events = ndjson_events(&a.body);
        assert_eq!(events.len(), 300);
        let mut last = String::new();
        for e in &events {
            assert_contract_event(e, day, "NX-FILES");
            let at = e["inserted_at"].as_str().expect("inserted_at").to_string();
            assert!(at >= last, "events are in time order");
            last = at;
            types.insert(e["event_type"].as_str().expect("type").to_string());
            sources.insert(e["source"].as_str().expect("source").to_string());
        }
    }
    assert_eq!(types.len(), 7, "all seven event types: {types:?}");
    assert_eq!(sources.len(), 5, "all sources: {sources:?}");
    assert_eq!(sim.request_count(Route::Download), 3);
    assert!(
        sim.requests()
            .iter()
            .filter(|r| r.route == Route::Download)
            .all(|r| !r.headers.authorization)
    );
}

#[tokio::test]
async fn csv_files_are_gzip_under_a_csv_name_with_the_contract_header() {
    let (name, body) = first_file(100, "2025-01-05", "csv").await;
    assert!(name.ends_with("2025-01-05.csv"), "{name}");
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip although named .csv");
    let raw = gunzip(&body).expect("gunzips");
    let mut reader = csv::Reader::from_reader(raw.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, EXPORT_FIELDS);
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("row");
        // Rebuild the ndjson view: empty cell = absent, integers and metadata parsed.
        let mut obj = serde_json::Map::new();
        for (field, cell) in EXPORT_FIELDS.iter().zip(record.iter()) {
            let v = match (*field, cell) {
                (_, "") if *field != "event_name" => Value::Null,
                ("screen_width" | "screen_height", c) => json!(c.parse::<i64>().expect("integer")),
                ("metadata", c) => serde_json::from_str(c).expect("metadata is JSON text"),
                (_, c) => json!(c),
            };
            obj.insert((*field).to_string(), v);
        }
        assert_contract_event(&Value::Object(obj), "2025-01-05", "NX-SIM00001");
        rows += 1;
    }
    assert_eq!(rows, 100);
}

#[tokio::test]
async fn files_are_deterministic_for_a_seed_and_request() {
    let body = json!({"from": "2025-01-01", "to": "2025-01-01"});
    let mut contents = Vec::new();
    for seed in [5, 5, 6] {
        let sim = start(SimulatorConfig::default().seed(seed)).await;
        let job = completed_job(&sim, body.clone()).await;
        let a = fetch(&urls(&job)[0].1, &[]).await;
        contents.push(gunzip(&a.body).expect("gunzips"));
    }
    assert_eq!(contents[0], contents[1]);
    assert_ne!(contents[0], contents[2]);
}

#[tokio::test]
async fn filters_shape_the_events() {
    let sim = start(SimulatorConfig::default().events_per_day(200)).await;
    let job = completed_job(
        &sim,
        json!({"from": "2025-01-01", "to": "2025-01-01", "event_type": ["track", "page_view"], "user_id": ["u-1", "u-2"]}),
    )
    .await;
    let events = ndjson_events(&fetch(&urls(&job)[0].1, &[]).await.body);
    let types: HashSet<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, HashSet::from(["track", "page_view"]));
    let users: HashSet<&str> = events
        .iter()
        .map(|e| e["user_id"].as_str().expect("user"))
        .collect();
    assert_eq!(users, HashSet::from(["u-1", "u-2"]));
}

#[tokio::test]
async fn a_file_url_with_an_authorization_header_is_400_like_s3() {
    let sim = start(SimulatorConfig::default()).await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-01"})).await;
    let url = &urls(&job)[0].1;
    let a = fetch(url, &[("Authorization", "Token sim-key")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.header("content-type").is_some_and(|c| c.contains("xml")));
    assert!(
        a.text().contains("<Code>InvalidArgument</Code>"),
        "{}",
        a.text()
    );
    let last = sim.requests().pop().expect("logged");
    assert_eq!(
        (last.route, last.headers.authorization, last.status),
        (Route::Download, true, 400)
    );
}

#[tokio::test]
async fn a_tampered_signature_is_403() {
    let sim = start(SimulatorConfig::default()).await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-02"})).await;
    let files = urls(&job);
    let url = &files[0].1;
    let sig_at = url.find("X-Signature=").expect("signature") + "X-Signature=".len();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    let tampered = format!("{}{flipped}{}", &url[..sig_at], &url[sig_at + 1..]);
    let a = fetch(&tampered, &[]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text().contains("SignatureDoesNotMatch"), "{}", a.text());
    // A valid signature for another file does not open this one.
    let other_file = url.replace(&files[0].0, &files[1].0);
    assert_eq!(fetch(&other_file, &[]).await.status, StatusCode::FORBIDDEN);
    // No signature at all.
    let bare = url.split('?').next().expect("path");
    assert_eq!(fetch(bare, &[]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expired_urls_are_403_and_a_fresh_poll_signs_new_ones() {
    let sim = start(SimulatorConfig::default()).await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-01"})).await;
    let old = urls(&job)[0].1.clone();
    assert_eq!(fetch(&old, &[]).await.status, StatusCode::OK);
    sim.expire_urls();
    let a = fetch(&old, &[]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text().contains("expired"), "{}", a.text());
    let id = job["job_id"].as_str().expect("id");
    let fresh = get(&sim, &format!("{JOBS}{id}")).await.json();
    let new = urls(&fresh)[0].1.clone();
    assert_ne!(new, old);
    assert_eq!(fetch(&new, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn urls_expire_after_their_ttl() {
    let sim = start(SimulatorConfig::default().url_ttl(std::time::Duration::from_secs(3600))).await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-01"})).await;
    let url = urls(&job)[0].1.clone();
    assert_eq!(fetch(&url, &[]).await.status, StatusCode::OK);
    sim.advance(std::time::Duration::from_secs(3601));
    let a = fetch(&url, &[]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text().contains("Request has expired"));
}

#[tokio::test]
async fn range_requests_get_206_with_the_right_bytes_and_416_past_the_end() {
    let sim = start(SimulatorConfig::default()).await;
    let job = completed_job(&sim, json!({"from": "2025-01-01", "to": "2025-01-01"})).await;
    let url = urls(&job)[0].1.clone();
    let full = fetch(&url, &[]).await.body;
    let total = full.len();
    assert!(total > 200);

    let a = fetch(&url, &[("Range", "bytes=10-99")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        a.header("content-range"),
        Some(format!("bytes 10-99/{total}"))
    );
    assert_eq!(a.header("content-length").as_deref(), Some("90"));
    assert_eq!(&a.body[..], &full[10..100]);

    let a = fetch(&url, &[("Range", "bytes=100-")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&a.body[..], &full[100..]);

    let a = fetch(&url, &[("Range", "bytes=-50")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&a.body[..], &full[total - 50..]);

    let a = fetch(&url, &[("Range", &format!("bytes={total}-"))]).await;
    assert_eq!(a.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(a.header("content-range"), Some(format!("bytes */{total}")));
}

#[tokio::test]
async fn files_of_an_unfinished_or_forgotten_job_are_not_served() {
    let sim =
        start(SimulatorConfig::default().job_retention(std::time::Duration::from_secs(60 * 3600)))
            .await;
    // Running: the id is known, no URL is handed out, and a forged one fails.
    let running = trigger(&sim, json!({"from": "2025-01-01", "to": "2025-01-01"})).await;
    let a = fetch(
        &format!("{}/_files/{running}/x.ndjson.gz", sim.base_url()),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Completed after 48 h, then forgotten at 60 h.
    sim.advance(std::time::Duration::from_secs(48 * 3600));
    let job = get(&sim, &format!("{JOBS}{running}")).await.json();
    let url = urls(&job)[0].1.clone();
    assert_eq!(fetch(&url, &[]).await.status, StatusCode::OK);
    sim.advance(std::time::Duration::from_secs(13 * 3600));
    let a = fetch(&url, &[]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.text().contains("NoSuchKey"));
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn parquet_files_have_string_columns_and_int64_screen_sizes() {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let (name, body) = first_file(50, "2025-01-01", "parquet").await;
    assert!(name.ends_with(".parquet"));
    assert_eq!(&body[..4], b"PAR1");
    let reader = SerializedFileReader::new(body).expect("parquet");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 50);
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, EXPORT_FIELDS);
    for c in schema.columns() {
        let physical = c.physical_type();
        if matches!(c.name(), "screen_width" | "screen_height") {
            assert_eq!(physical, parquet::basic::Type::INT64, "{}", c.name());
        } else {
            assert_eq!(physical, parquet::basic::Type::BYTE_ARRAY, "{}", c.name());
        }
    }
}

#[cfg(feature = "avro")]
#[tokio::test]
async fn avro_files_hold_exported_event_records() {
    use apache_avro::{Reader, types::Value as Avro};

    let (name, body) = first_file(40, "2025-01-01", "avro").await;
    assert!(name.ends_with(".avro"));
    let reader = Reader::new(&body[..]).expect("avro container");
    let mut n = 0;
    for record in reader {
        let Avro::Record(fields) = record.expect("record") else {
            panic!("not a record")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, EXPORT_FIELDS);
        for (k, v) in &fields {
            let Avro::Union(_, inner) = v else {
                panic!("{k} is not a union")
            };
            match (k.as_str(), inner.as_ref()) {
                (_, Avro::Null) => {}
                ("screen_width" | "screen_height", Avro::Long(_)) => {}
                ("metadata", Avro::String(s)) => {
                    assert!(serde_json::from_str::<Value>(s).expect("json").is_object())
                }
                (_, Avro::String(_)) => {}
                (k, other) => panic!("{k}: {other:?}"),
            }
        }
        n += 1;
    }
    assert_eq!(n, 40);
}

#[tokio::test]
async fn synthetic_files_have_the_set_size_deterministic_filler_and_ranges() {
    // 2.5 MiB + 7: crosses the 1 MiB filler block several times.
    const SIZE: usize = 5 * 512 * 1024 + 7;
    let body = json!({"from": "2025-01-01", "to": "2025-01-02"});
    let mut firsts = Vec::new();
    for seed in [5, 5, 6] {
        let sim = start(
            SimulatorConfig::default()
                .seed(seed)
                .synthetic_file_size(SIZE as u64),
        )
        .await;
        let job = completed_job(&sim, body.clone()).await;
        let files = urls(&job);
        assert_eq!(files.len(), 2);
        let a = fetch(&files[0].1, &[]).await;
        let b = fetch(&files[1].1, &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body.len(), SIZE);
        assert_eq!(a.header("content-length"), Some(SIZE.to_string()));
        assert_eq!(b.body.len(), SIZE);
        assert_ne!(a.body, b.body, "each file has its own bytes");
        assert_ne!(&a.body[..2], &[0x1f, 0x8b], "filler, not gzip");

        let r = fetch(&files[0].1, &[("Range", "bytes=1048570-2097160")]).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes 1048570-2097160/{SIZE}"))
        );
        assert_eq!(&r.body[..], &a.body[1_048_570..=2_097_160]);
        let r = fetch(&files[0].1, &[("Range", &format!("bytes={SIZE}-"))]).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(sim.request_count(Route::Download), 4);
        firsts.push(a.body);
    }
    assert_eq!(firsts[0], firsts[1], "same seed, same bytes");
    assert_ne!(firsts[0], firsts[2], "another seed, other bytes");
}

//! Lookup tables: typed columns from the model's JSON schema, the rest in
//! `extra`; and a landed day read back by the crate's own Parquet reader.

use arrow_array::{Array, cast::AsArray, types::Int64Type};
use arrow_schema::DataType;
use futures::StreamExt;
use serde_json::json;
use userpilot_appex::{
    dataset::{Dataset, DestinationOptions, LandOptions, lookup_batch, lookup_key},
    models::{Property, Segment},
    records::{RecordReader, records_stream},
};

#[test]
fn lookup_tables_have_typed_columns_and_keep_the_rest_in_extra() {
    let props: Vec<Property> = serde_json::from_value(json!([
        {"id": 1, "type": "user_property", "key": "email", "display_name": "Email",
         "data_type": "string", "is_auto_property": false, "colour": "blue"},
        {"id": "not-a-number", "key": "plan"}
    ]))
    .unwrap();
    let batch = lookup_batch(&props).unwrap();
    let schema = batch.schema();
    assert_eq!(
        schema.field_with_name("id").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema
            .field_with_name("is_auto_property")
            .unwrap()
            .data_type(),
        &DataType::Boolean
    );
    assert_eq!(
        schema.field_with_name("type").unwrap().data_type(),
        &DataType::Utf8
    );
    let ids = batch
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(ids.value(0), 1);
    assert!(ids.is_null(1));
    let kinds = batch.column_by_name("type").unwrap().as_string::<i32>();
    assert_eq!(kinds.value(0), "user_property");
    let extra = batch.column_by_name("extra").unwrap().as_string::<i32>();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(extra.value(0)).unwrap(),
        json!({"colour": "blue"})
    );
    // The id that was not a number is kept, as sent, in extra.
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(extra.value(1)).unwrap(),
        json!({"id": "not-a-number"})
    );
    // A model with a date-time field gets a UTC timestamp column.
    let segments: Vec<Segment> = serde_json::from_value(json!([{"id": 3, "title": "x"}])).unwrap();
    let seg = lookup_batch(&segments).unwrap();
    assert!(
        seg.schema()
            .fields()
            .iter()
            .all(|f| !matches!(f.data_type(), DataType::Null)),
        "{:?}",
        seg.schema()
    );
    assert_eq!(lookup_key("segments"), "lookups/segments.parquet");
}

/// Landed day files read back with the crate's own reader hold exactly the
/// input's events (once each), whatever their order.
#[tokio::test]
async fn landed_days_read_back_as_the_same_events() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("part-0.ndjson.gz");
    crate::support::records::write_ndjson(&input, 0..500, true);
    // The same events twice (a re-sent file): landed once.
    let again = tmp.path().join("part-1.ndjson.gz");
    crate::support::records::write_ndjson(&again, 250..500, true);
    let ds = Dataset::open(
        tmp.path().join("ds").to_str().unwrap(),
        &DestinationOptions::default(),
    )
    .unwrap();
    let report = ds
        .land_files(&[&input, &again], &LandOptions::default())
        .await
        .unwrap();
    assert_eq!(report.rows_in, 750);
    assert_eq!(report.rows_new, 500);
    assert_eq!(report.duplicates_dropped, 250);

    let mut expected = Vec::new();
    let mut events = records_stream([&input]);
    while let Some(e) = events.next().await {
        expected.push(serde_json::to_string(&e.unwrap()).unwrap());
    }
    let mut landed = Vec::new();
    for day in &report.days {
        let path = tmp.path().join("ds").join(&day.key);
        for e in RecordReader::open(&path).unwrap() {
            landed.push(serde_json::to_string(&e.unwrap()).unwrap());
        }
    }
    expected.sort();
    landed.sort();
    assert_eq!(landed.len(), 500);
    assert_eq!(landed, expected);
}

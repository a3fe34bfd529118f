//! The export field table: the model, the field names, their kinds and the
//! format schemas all come from one declaration and agree with each other.

use serde_json::{Value, json};
use userpilot_appex::records::{Cell, EXPORT_FIELD_KINDS, EXPORT_FIELDS, ExportedEvent, FieldKind};

/// An event with every export field set, and its ndjson object.
fn full_event() -> (ExportedEvent, Value) {
    let object = json!({
        "app_token": "NX", "event_type": "track", "event_name": "Clicked", "user_id": "u1",
        "company_id": "c1", "source": "web-client", "inserted_at": "2025-01-10T12:34:56.000001Z",
        "internal_event_id": "e1", "hostname": "h", "pathname": "/p", "screen_width": 1,
        "screen_height": 2, "device_type": "d", "user_agent": "ua", "operating_system": "os",
        "browser": "b", "browser_language": "fr", "session": "s", "country_code": "FR",
        "metadata": {"a": [1]},
    });
    (serde_json::from_value(object.clone()).unwrap(), object)
}

#[test]
fn the_model_serializes_exactly_the_declared_fields_in_order() {
    let (event, object) = full_event();
    let written = serde_json::to_string(&event).unwrap();
    let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&written)
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut expected: Vec<&str> = EXPORT_FIELDS.to_vec();
    expected.sort_unstable();
    let mut keys_sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected);
    // The order of the fields in the text is the table's.
    let positions: Vec<usize> = EXPORT_FIELDS
        .iter()
        .map(|f| written.find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "{written}");
    assert_eq!(serde_json::to_value(&event).unwrap(), object);
}

#[test]
fn each_cell_has_the_kind_the_table_declares() {
    let (event, _) = full_event();
    for ((name, kind), cell) in EXPORT_FIELDS
        .iter()
        .zip(EXPORT_FIELD_KINDS)
        .zip(event.cells())
    {
        let ok = matches!(
            (kind, cell),
            (FieldKind::Text | FieldKind::Label, Cell::Text(_))
                | (FieldKind::Timestamp, Cell::Timestamp(_))
                | (FieldKind::Integer, Cell::Integer(_))
                | (FieldKind::Json, Cell::Json(_))
        );
        assert!(ok, "{name}: {kind:?} but {cell:?}");
    }
    assert!(
        ExportedEvent::default()
            .cells()
            .iter()
            .all(|c| *c == Cell::Null)
    );
}

#[test]
fn the_json_schema_of_the_model_names_every_field() {
    let schema = serde_json::to_value(schemars::schema_for!(ExportedEvent)).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for field in EXPORT_FIELDS {
        assert!(
            properties.contains_key(field),
            "{field} missing from {schema}"
        );
    }
}

#[cfg(feature = "parquet")]
#[test]
fn the_parquet_contract_schema_follows_the_table() {
    use arrow_schema::DataType;
    let schema = userpilot_appex::records::parquet::schema();
    for ((field, name), kind) in schema
        .fields()
        .iter()
        .zip(EXPORT_FIELDS)
        .zip(EXPORT_FIELD_KINDS)
    {
        assert_eq!(field.name(), name);
        let want = if kind == FieldKind::Integer {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        assert_eq!(field.data_type(), &want, "{name}");
    }
}

#[cfg(feature = "avro")]
#[test]
fn the_avro_contract_schema_follows_the_table() {
    let schema: Value =
        serde_json::from_str(&userpilot_appex::records::avro::schema_json()).unwrap();
    let fields = schema["fields"].as_array().unwrap();
    assert_eq!(fields.len(), EXPORT_FIELDS.len());
    for ((field, name), kind) in fields.iter().zip(EXPORT_FIELDS).zip(EXPORT_FIELD_KINDS) {
        assert_eq!(field["name"], name);
        let ty = if kind == FieldKind::Integer {
            "long"
        } else {
            "string"
        };
        assert_eq!(field["type"], json!(["null", ty]), "{name}");
    }
}

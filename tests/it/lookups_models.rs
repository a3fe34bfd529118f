//! The lookup models against fixtures: each spec example decodes to the
//! expected typed value; an "odd" fixture per lookup (unknown fields, unknown
//! enum values, nulls, numeric strings, values that do not fit) decodes too,
//! and what the models do not type survives a serialize round-trip.

use std::fmt::Debug;

use crate::support::LOOKUPS;
use chrono::{TimeZone, Utc};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};
use userpilot_appex::models::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/lookups/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn decode<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name} does not decode: {e}"))
}

/// Serializes `value`, checks it decodes back to itself, returns the JSON.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> Value {
    let json = serde_json::to_value(value).expect("serialize");
    let back: T = serde_json::from_value(json.clone()).expect("decode the serialized value");
    assert_eq!(&back, value, "round-trip changed the value");
    json
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn fixtures_hold_the_vendored_spec_examples() {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/openapi/userpilot-appex-openapi.json"
        ))
        .expect("read the spec"),
    )
    .expect("spec is JSON");
    let paths = spec["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        let Some(name) = path.strip_prefix(LOOKUPS) else {
            continue;
        };
        let example = &item["get"]["responses"]["200"]["content"]["application/json"]["example"];
        let fixture: Value = serde_json::from_str(&fixture(&format!("{name}.spec.json"))).unwrap();
        assert_eq!(
            &fixture, example,
            "{name}.spec.json differs from the spec example"
        );
        checked += 1;
    }
    assert_eq!(checked, 12, "the spec has 12 lookups");
}

// --- user and company properties ---

#[test]
fn user_properties_spec_example_decodes() {
    let got: Vec<UserProperty> = decode("user_properties.spec.json");
    assert_eq!(
        got,
        vec![Property {
            id: Some(1),
            kind: Some(PropertyKind::UserProperty),
            key: Some("email".into()),
            display_name: Some("Email".into()),
            data_type: Some(DataType::String),
            is_auto_property: Some(false),
            extra: Map::new(),
        }]
    );
    assert_eq!(
        round_trip(&got),
        serde_json::from_str::<Value>(&fixture("user_properties.spec.json")).unwrap(),
        "a spec example serializes back exactly"
    );
}

#[test]
fn user_properties_odd_fixture_decodes_and_keeps_what_it_does_not_type() {
    let got: Vec<UserProperty> = decode("user_properties.odd.json");
    assert_eq!(got.len(), 2);
    let p = &got[0];
    assert_eq!(p.id, Some(7), "numeric string id");
    assert_eq!(
        p.kind,
        Some(PropertyKind::Unknown("account_property".into()))
    );
    assert_eq!(p.data_type, Some(DataType::Unknown("money".into())));
    assert_eq!(p.is_auto_property, Some(true), "flag as a string");
    assert_eq!(p.display_name, None, "null reads as None");
    assert_eq!(p.extra["is_pii"], json!(true));
    assert_eq!(p.extra["source"], json!({"integration": "hubspot"}));
    // An id that is not an integer is kept as sent, not lost.
    assert_eq!(got[1].id, None);
    assert_eq!(got[1].extra["id"], json!("usr-prop-uuid"));

    let json = round_trip(&got);
    assert_eq!(json[0]["type"], "account_property");
    assert_eq!(json[0]["data_type"], "money");
    assert_eq!(json[0]["source"], json!({"integration": "hubspot"}));
    assert_eq!(json[0]["is_pii"], json!(true));
    assert_eq!(json[1]["id"], json!("usr-prop-uuid"));
}

#[test]
fn company_properties_spec_example_decodes() {
    let got: Vec<CompanyProperty> = decode("company_properties.spec.json");
    assert_eq!(
        got,
        vec![Property {
            id: Some(10),
            kind: Some(PropertyKind::CompanyProperty),
            key: Some("company_name".into()),
            display_name: Some("Company Name".into()),
            data_type: Some(DataType::String),
            is_auto_property: Some(false),
            extra: Map::new(),
        }]
    );
}

#[test]
fn company_properties_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<CompanyProperty> = decode("company_properties.odd.json");
    assert_eq!(got[0].id, Some(11));
    assert_eq!(got[0].data_type, Some(DataType::Unknown("currency".into())));
    assert_eq!(got[0].is_auto_property, Some(false), "0 reads as false");
    assert_eq!(got[0].extra, map(json!({"created_by": "api"})));
    let json = round_trip(&got);
    assert_eq!(json[0]["created_by"], "api");
    assert_eq!(json[0]["data_type"], "currency");
}

// --- segments ---

#[test]
fn segments_spec_example_decodes() {
    let got: SegmentPage = decode("segments.spec.json");
    assert_eq!(
        got,
        Page {
            data: vec![Segment {
                id: Some(101),
                title: Some("Active Users".into()),
                usage: Some("all".into()),
                category: Some(SegmentCategory::UserId),
                is_hidden: Some(false),
                is_protected: Some(false),
                status: Some(SegmentStatus::Published),
                extra: Map::new(),
            }],
            metadata: PageMetadata {
                cursor: PageCursor {
                    after: Some("...".into()),
                    before: None,
                    extra: Map::new(),
                },
                limit: Some(50),
                total_count: Some(1),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    );
    assert_eq!(got.after_cursor(), Some("..."));
    assert_eq!(got.total_count(), Some(1));
    assert_eq!(got.limit(), Some(50));
}

#[test]
fn segments_odd_fixture_decodes_and_keeps_extras() {
    let got: SegmentPage = decode("segments.odd.json");
    let s = &got.data[0];
    assert_eq!(s.id, Some(101));
    assert_eq!(s.usage.as_deref(), Some("analytics_only"));
    assert_eq!(
        s.category,
        Some(SegmentCategory::Unknown("device_id".into()))
    );
    assert_eq!(s.status, Some(SegmentStatus::Unknown("archived".into())));
    assert_eq!(s.is_hidden, Some(false));
    assert_eq!(s.is_protected, Some(true));
    assert_eq!(
        s.extra["owner"],
        json!({"id": 5, "email": "owner@example.com"})
    );
    assert_eq!(got.data[1].title, None);
    assert_eq!(got.data[1].category, None);
    assert_eq!(got.after_cursor(), None, "null after: last page");
    assert_eq!(got.metadata.cursor.before.as_deref(), Some("b-1"));
    assert_eq!(got.limit(), Some(50), "numeric string limit");
    assert_eq!(got.metadata.cursor.extra["direction"], "forward");
    assert_eq!(got.metadata.extra["has_more"], json!(false));
    assert_eq!(got.extra["request_id"], "req-123");

    let json = round_trip(&got);
    assert_eq!(json["request_id"], "req-123");
    assert_eq!(json["metadata"]["has_more"], json!(false));
    assert_eq!(json["metadata"]["cursor"]["direction"], "forward");
    assert_eq!(json["data"][0]["owner"]["email"], "owner@example.com");
    assert_eq!(json["data"][0]["status"], "archived");
}

#[test]
fn a_page_with_null_data_and_no_metadata_is_an_empty_last_page() {
    let page: SegmentPage = serde_json::from_str(r#"{"data": null}"#).unwrap();
    assert!(page.is_empty());
    assert_eq!(page.after_cursor(), None);
    assert_eq!(page.total_count(), None);
    let page: SegmentPage =
        serde_json::from_str(r#"{"data": [], "metadata": {"cursor": {"after": ""}}}"#).unwrap();
    assert_eq!(page.after_cursor(), None, "an empty cursor ends the walk");
}

#[test]
fn a_page_item_that_is_not_an_object_is_a_decode_error_naming_it() {
    let err = serde_json::from_str::<SegmentPage>(r#"{"data": [{"id": 1}, 42]}"#).unwrap_err();
    assert!(err.to_string().contains("data[1]"), "{err}");
    assert!(err.to_string().contains("Segment"), "{err}");
}

// --- features & events, event properties ---

/// Merges the former `features_events_spec_example_decodes` and
/// `resource_center_modules_spec_example_decodes` (both lookups are
/// [`KeyedItem`]s).
#[test]
fn features_events_and_resource_center_modules_spec_examples_decode() {
    let cases = [
        ("features_events.spec.json", "feature_a", "Feature A"),
        (
            "resource_center_modules.spec.json",
            "resource_center_module_a",
            "Resource Center Module A",
        ),
    ];
    for (name, key, display_name) in cases {
        let got: Vec<KeyedItem> = decode(name);
        let expected = KeyedItem {
            id: None,
            key: Some(key.into()),
            display_name: Some(display_name.into()),
            data_type: Some(DataType::String),
            extra: Map::new(),
        };
        assert_eq!(got, vec![expected], "{name}");
    }
}

#[test]
fn features_events_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<FeatureEvent> = decode("features_events.odd.json");
    assert_eq!(got[0].id, Some(9));
    assert_eq!(
        got[0].data_type,
        Some(DataType::Unknown("html_element".into()))
    );
    assert_eq!(got[0].extra["selectors"], json!([".btn", "#go"]));
    assert_eq!(got[1].display_name, None);
    assert_eq!(got[1].data_type, None);
    let json = round_trip(&got);
    assert_eq!(json[0]["kind"], "feature");
    assert_eq!(json[0]["selectors"], json!([".btn", "#go"]));
}

#[test]
fn events_properties_spec_example_decodes() {
    let got: EventPropertyPage = decode("events_properties.spec.json");
    let expected = EventProperty {
        id: Some(12),
        key: Some("url".into()),
        display_name: Some("URL".into()),
        is_auto_property: Some(true),
        is_mobile_auto_property: Some(false),
        data_type: Some(DataType::String),
        category: Some("css_attribute".into()),
        description: Some("Page URL".into()),
        is_archived: Some(false),
        event: Some(EventRef {
            id: Some(33),
            display_name: Some("page_view".into()),
            extra: Map::new(),
        }),
        inserted_at: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
        last_seen: Some(Utc.with_ymd_and_hms(2025, 1, 10, 0, 0, 0).unwrap()),
        extra: Map::new(),
    };
    assert_eq!(got.data, vec![expected]);
    assert_eq!(got.total_count(), Some(53));
    assert_eq!(got.limit(), Some(50));
    assert_eq!(got.after_cursor(), Some("..."));
    assert_eq!(
        round_trip(&got),
        serde_json::from_str::<Value>(&fixture("events_properties.spec.json")).unwrap(),
        "the spec example serializes back exactly (dates included)"
    );
}

#[test]
fn events_properties_odd_fixture_decodes_and_keeps_unparseable_dates() {
    let got: EventPropertyPage = decode("events_properties.odd.json");
    let p = &got.data[0];
    assert_eq!(p.is_auto_property, Some(true));
    assert_eq!(p.is_mobile_auto_property, None);
    assert_eq!(p.data_type, Some(DataType::Unknown("url".into())));
    assert_eq!(p.category.as_deref(), Some("page_attribute"));
    let event = p.event.as_ref().expect("event");
    assert_eq!(event.id, Some(33));
    assert_eq!(event.extra["kind"], "system");
    assert_eq!(
        p.inserted_at,
        Some(
            Utc.with_ymd_and_hms(2025, 1, 1, 8, 30, 0).unwrap()
                + chrono::Duration::microseconds(123_456)
        ),
        "a naive date-time reads as UTC"
    );
    assert_eq!(p.last_seen, None);
    assert_eq!(
        p.extra["last_seen"], "last tuesday",
        "an unparseable date is kept as sent"
    );
    assert_eq!(got.data[1].event, None);
    assert_eq!(got.data[1].inserted_at, None);
    assert!(
        !got.data[1].extra.contains_key("inserted_at"),
        "null is not kept"
    );
    assert_eq!(got.metadata, PageMetadata::default(), "null metadata");

    let json = round_trip(&got);
    assert_eq!(json["data"][0]["last_seen"], "last tuesday");
    assert_eq!(
        json["data"][0]["sample_values"],
        json!(["https://a.example", "https://b.example"])
    );
    assert_eq!(json["data"][0]["event"]["kind"], "system");
    assert_eq!(
        json["data"][0]["inserted_at"],
        "2025-01-01T08:30:00.123456Z"
    );
}

// --- flows, banners, spotlights, embeds ---

/// Merges the former `flows_spec_example_decodes`,
/// `banners_spec_example_decodes` and `spotlights_spec_example_decodes`.
#[test]
fn flows_banners_and_spotlights_spec_examples_decode() {
    let cases = [
        ("flows.spec.json", 123, "Onboarding Flow"),
        ("banners.spec.json", 77, "Promo Banner"),
        ("spotlights.spec.json", 88, "New Feature Spotlight"),
    ];
    for (name, id, title) in cases {
        let got: Vec<Experience> = decode(name);
        let expected = Experience {
            id: Some(id),
            title: Some(title.into()),
            extra: Map::new(),
        };
        assert_eq!(got, vec![expected], "{name}");
    }
}

#[test]
fn flows_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<Flow> = decode("flows.odd.json");
    assert_eq!(got[0].id, Some(123));
    assert_eq!(got[0].extra, map(json!({"status": "live", "locale": "en"})));
    assert_eq!(got[1].title, None);
    let json = round_trip(&got);
    assert_eq!(json[0]["status"], "live");
    assert_eq!(json[1]["published_at"], "2025-02-02T00:00:00Z");
}

#[test]
fn banners_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<Banner> = decode("banners.odd.json");
    assert_eq!(got[0].id, Some(77));
    assert_eq!(
        got[0].extra,
        map(json!({"position": "top", "is_archived": true}))
    );
    let json = round_trip(&got);
    assert_eq!(json[0]["position"], "top");
    assert_eq!(json[0]["is_archived"], json!(true));
}

#[test]
fn spotlights_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<Spotlight> = decode("spotlights.odd.json");
    assert_eq!(got[0].title.as_deref(), Some("New Feature Spotlight"));
    assert_eq!(got[0].extra["kind"], "hotspot");
    assert_eq!(
        got[0].extra["targets"],
        Value::Null,
        "unknown fields are kept even when null"
    );
    let json = round_trip(&got);
    assert_eq!(json[0]["kind"], "hotspot");
    assert!(json[0].as_object().unwrap().contains_key("targets"));
}

#[test]
fn embeds_spec_example_decodes() {
    let got: Vec<Embed> = decode("embeds.spec.json");
    assert_eq!(
        got,
        vec![
            Embed {
                id: Some(77),
                title: Some("Promo Banner".into()),
                kind: Some(EmbedKind::Banner),
                extra: Map::new()
            },
            Embed {
                id: Some(92),
                title: Some("Feature Card".into()),
                kind: Some(EmbedKind::Card),
                extra: Map::new()
            },
        ]
    );
}

#[test]
fn embeds_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<Embed> = decode("embeds.odd.json");
    assert_eq!(
        got[0].kind,
        Some(EmbedKind::Unknown("inline_widget".into()))
    );
    assert!(got[0].kind.as_ref().unwrap().is_unknown());
    assert_eq!(got[0].extra["placement"], "sidebar");
    assert_eq!(got[1].id, Some(92));
    assert_eq!(got[1].kind, None);
    let json = round_trip(&got);
    assert_eq!(json[0]["type"], "inline_widget");
    assert_eq!(json[0]["placement"], "sidebar");
}

// --- surveys ---

#[test]
fn surveys_spec_example_decodes() {
    let got: Vec<Survey> = decode("surveys.spec.json");
    assert_eq!(
        got,
        vec![Survey {
            id: Some(45),
            title: Some("CSAT Survey".into()),
            platform: Some(Platform::Web),
            modules: vec![SurveyModule {
                id: Some(1),
                order: Some(1),
                kind: Some(SurveyModuleKind::OpenText),
                question: Some("How was it?".into()),
                extra: Map::new(),
            }],
            extra: Map::new(),
        }]
    );
    assert_eq!(
        got[0].module(1).and_then(|m| m.question.as_deref()),
        Some("How was it?")
    );
}

#[test]
fn surveys_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<Survey> = decode("surveys.odd.json");
    let s = &got[0];
    assert_eq!(s.platform, Some(Platform::Unknown("desktop_app".into())));
    assert_eq!(s.modules.len(), 2);
    assert_eq!(s.modules[0].order, Some(1));
    assert_eq!(
        s.modules[0].kind,
        Some(SurveyModuleKind::Unknown("emoji_scale".into()))
    );
    assert_eq!(s.modules[0].extra["scale"], json!(5));
    assert_eq!(s.modules[1].kind, Some(SurveyModuleKind::OpenText));
    assert_eq!(s.modules[1].question, None);
    assert_eq!(s.extra["languages"], json!(["en", "fr"]));
    assert_eq!(got[1].modules, vec![], "null modules read as empty");
    assert_eq!(got[1].platform, None);
    let json = round_trip(&got);
    assert_eq!(json[0]["modules"][0]["scale"], json!(5));
    assert_eq!(json[0]["modules"][0]["type"], "emoji_scale");
    assert_eq!(json[0]["languages"], json!(["en", "fr"]));
}

#[test]
fn survey_modules_that_are_not_a_list_are_kept_as_sent() {
    let s: Survey = serde_json::from_value(json!({"id": 1, "modules": {"1": "odd"}})).unwrap();
    assert!(s.modules.is_empty());
    assert_eq!(s.extra["modules"], json!({"1": "odd"}));
}

// --- resource center modules, checklists ---

#[test]
fn resource_center_modules_odd_fixture_decodes_and_keeps_extras() {
    let got: Vec<ResourceCenterModule> = decode("resource_center_modules.odd.json");
    assert_eq!(got[0].id, Some(501));
    assert_eq!(
        got[0].data_type,
        Some(DataType::Unknown("knowledge_base".into()))
    );
    assert_eq!(got[0].extra, map(json!({"resource_center_id": 3})));
    let json = round_trip(&got);
    assert_eq!(json[0]["resource_center_id"], json!(3));
}

#[test]
fn checklists_spec_example_decodes() {
    let got: Vec<Checklist> = decode("checklists.spec.json");
    assert_eq!(
        got,
        vec![Checklist {
            id: None,
            title: None,
            key: Some("checklist_a".into()),
            display_name: Some("Checklist A".into()),
            data_type: Some(DataType::String),
            tasks: vec![],
            extra: Map::new(),
        }]
    );
    assert_eq!(got[0].name(), Some("Checklist A"));
}

#[test]
fn checklists_odd_fixture_decodes_tasks_and_keeps_extras() {
    let got: Vec<Checklist> = decode("checklists.odd.json");
    let c = &got[0];
    assert_eq!(c.id, Some(2));
    assert_eq!(c.data_type, Some(DataType::Unknown("checklist".into())));
    assert_eq!(
        c.tasks[0],
        ChecklistTask {
            id: Some(21),
            title: Some("Invite a teammate".into()),
            order: Some(1),
            extra: map(json!({"action": "flow"})),
        }
    );
    assert_eq!(c.tasks[1].title, None);
    assert_eq!(c.tasks[1].order, None);
    assert_eq!(c.extra["theme"], json!({"color": "#fff"}));
    assert_eq!(got[1].tasks, vec![], "null tasks read as empty");
    let json = round_trip(&got);
    assert_eq!(json[0]["theme"], json!({"color": "#fff"}));
    assert_eq!(json[0]["tasks"][0]["action"], "flow");
}

// --- enums ---

#[test]
fn open_enums_read_known_values_in_any_case_and_keep_the_rest() {
    assert_eq!(EmbedKind::from("banner"), EmbedKind::Banner);
    assert_eq!(EmbedKind::from("card"), EmbedKind::Card);
    // A known value in another case is that value.
    assert_eq!(EmbedKind::from("Card"), EmbedKind::Card);
    // An unknown value round-trips exactly as sent.
    assert_eq!(
        EmbedKind::from("Pop Up"),
        EmbedKind::Unknown("Pop Up".into())
    );
    assert_eq!(
        serde_json::to_value(EmbedKind::from("Pop Up")).unwrap(),
        json!("Pop Up")
    );
    assert_eq!(EmbedKind::Banner.to_string(), "banner");
    let kind: EmbedKind = serde_json::from_value(json!(3)).unwrap();
    assert_eq!(kind, EmbedKind::Unknown("3".into()));
}

#[test]
fn a_lookup_item_that_is_not_an_object_is_an_error() {
    let err = serde_json::from_value::<Vec<Flow>>(json!([{"id": 1}, "flow"])).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a JSON object for Experience"),
        "{err}"
    );
}

#[test]
fn models_have_a_json_schema_naming_their_fields() {
    let schema = serde_json::to_value(schemars::schema_for!(EventProperty)).unwrap();
    let props = schema["properties"].as_object().expect("properties");
    for field in ["id", "key", "event", "inserted_at", "last_seen"] {
        assert!(props.contains_key(field), "schema lacks {field}: {schema}");
    }
    let schema = serde_json::to_value(schemars::schema_for!(Embed)).unwrap();
    assert!(
        schema["properties"]
            .as_object()
            .unwrap()
            .contains_key("type")
    );
}

// --- decoding straight from the input ---

/// Decodes `text` three ways: straight from the text (the visitor path the
/// client uses), from a `serde_json::Value` of it, and from the text
/// re-indented with its keys in another order; all three must agree.
fn decodes_the_same_every_way<T: DeserializeOwned + PartialEq + Debug>(name: &str) -> T {
    let text = fixture(name);
    let from_text: T = serde_json::from_str(&text).expect("decode from text");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let from_value: T = serde_json::from_value(value.clone()).expect("decode from a Value");
    assert_eq!(from_text, from_value, "{name}: text vs Value");
    let reordered = reverse_keys(value);
    let pretty = serde_json::to_string_pretty(&reordered).unwrap();
    let from_pretty: T = serde_json::from_str(&pretty).expect("decode reordered text");
    assert_eq!(
        from_text, from_pretty,
        "{name}: key order or layout changed the result"
    );
    from_text
}

/// The same JSON with every object's keys in reverse order (a repeated key
/// cannot occur in a `Value`, so the result must not change).
fn reverse_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.reverse();
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                out.insert(k, reverse_keys(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(reverse_keys).collect()),
        other => other,
    }
}

#[test]
fn every_lookup_fixture_decodes_the_same_from_text_and_from_a_value() {
    for kind in ["spec", "odd"] {
        let f = |lookup: &str| format!("{lookup}.{kind}.json");
        decodes_the_same_every_way::<Vec<UserProperty>>(&f("user_properties"));
        decodes_the_same_every_way::<Vec<CompanyProperty>>(&f("company_properties"));
        decodes_the_same_every_way::<SegmentPage>(&f("segments"));
        decodes_the_same_every_way::<Vec<FeatureEvent>>(&f("features_events"));
        decodes_the_same_every_way::<EventPropertyPage>(&f("events_properties"));
        decodes_the_same_every_way::<Vec<Flow>>(&f("flows"));
        decodes_the_same_every_way::<Vec<Banner>>(&f("banners"));
        decodes_the_same_every_way::<Vec<Embed>>(&f("embeds"));
        decodes_the_same_every_way::<Vec<Spotlight>>(&f("spotlights"));
        decodes_the_same_every_way::<Vec<Survey>>(&f("surveys"));
        decodes_the_same_every_way::<Vec<ResourceCenterModule>>(&f("resource_center_modules"));
        decodes_the_same_every_way::<Vec<Checklist>>(&f("checklists"));
    }
}

#[test]
fn a_repeated_key_reads_as_its_last_value_as_in_a_json_object() {
    let segment: Segment =
        serde_json::from_str(r#"{"id": 1, "title": "a", "id": "not a number", "title": "b"}"#)
            .unwrap();
    assert_eq!(segment.id, None);
    assert_eq!(segment.extra["id"], json!("not a number"));
    assert_eq!(segment.title.as_deref(), Some("b"));
    let segment: Segment = serde_json::from_str(r#"{"id": "x", "id": 7}"#).unwrap();
    assert_eq!(segment.id, Some(7));
    assert!(segment.extra.is_empty(), "{:?}", segment.extra);
}

#[test]
fn one_set_of_coercion_rules_for_job_and_lookup_fields() {
    // The same flag spellings read the same in every model.
    for (sent, read) in [
        (json!("TRUE"), Some(true)),
        (json!("0"), Some(false)),
        (json!(1), Some(true)),
        (json!("yes"), None),
        (json!(2), None),
    ] {
        let p: Property = serde_json::from_value(json!({"is_auto_property": sent})).unwrap();
        assert_eq!(p.is_auto_property, read, "{sent}");
        let s: Segment = serde_json::from_value(json!({"is_hidden": sent})).unwrap();
        assert_eq!(s.is_hidden, read, "{sent}");
    }
    // Integers: a float beyond 2^53 does not fit, in pages as in items.
    let m: PageMetadata =
        serde_json::from_value(json!({"limit": 1.0e16, "total_count": "12"})).unwrap();
    assert_eq!(m.limit, None);
    assert_eq!(m.extra["limit"], json!(1.0e16));
    assert_eq!(m.total_count, Some(12));
    let s: Segment = serde_json::from_value(json!({"id": 1.0e16})).unwrap();
    assert_eq!(s.id, None);
    // Text: numbers and bools read as their JSON text in jobs and lookups.
    let job: ExportJob = serde_json::from_value(json!({"progress": 0.5, "job_id": 7})).unwrap();
    assert_eq!(job.progress.as_deref(), Some("0.5"));
    assert_eq!(job.job_id.as_deref(), Some("7"));
    let f: FeatureEvent = serde_json::from_value(json!({"key": 0.5})).unwrap();
    assert_eq!(f.key.as_deref(), Some("0.5"));
}

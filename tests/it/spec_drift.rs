//! The drift guard: the vendored spec against the hand-written models, the
//! typed operations and the exported event fields; and a rehearsed spec
//! update (`tests/fixtures/spec-update/patch.json`) whose four changes the
//! guard must name, exactly.

use serde_json::{Value, json};
use userpilot_appex::{
    generated,
    models::LookupKind,
    records::{EXPORT_FIELD_KINDS, EXPORT_FIELDS, FieldKind},
};
use userpilot_appex_spec::{
    codegen,
    drift::{self, EventFieldType},
    lookups::{LOOKUPS, Paging},
    repairs::{self, API_PREFIX},
};

use crate::support::spec::{apply_patch, rehearsed_update, repaired, typed, vendored};

/// The drift report of a repaired spec: every replaced schema against its
/// model, every operation against the typed methods and the lookup table.
fn drift_report(repaired: &Value) -> Vec<String> {
    drift::report(repaired, &typed())
}

/// The type the crate reads each export field as.
fn crate_event_fields() -> Vec<(&'static str, EventFieldType)> {
    let kind = |k: FieldKind| match k {
        FieldKind::Text => EventFieldType::Text,
        FieldKind::Label => EventFieldType::Label,
        FieldKind::Timestamp => EventFieldType::Timestamp,
        FieldKind::Integer => EventFieldType::Integer,
        FieldKind::Json => EventFieldType::Json,
    };
    EXPORT_FIELDS
        .into_iter()
        .zip(EXPORT_FIELD_KINDS.map(kind))
        .collect()
}

#[test]
fn the_vendored_spec_produces_no_drift_report() {
    let report = drift_report(&repaired(vendored()));
    assert!(report.is_empty(), "{report:#?}");
}

#[test]
fn every_replaced_schema_has_its_models_json_schema() {
    let names: Vec<&str> = generated::replaced_model_schemas()
        .iter()
        .map(|(name, _, _)| *name)
        .collect();
    assert_eq!(names, repairs::replacements());
    for (name, path, schema) in generated::replaced_model_schemas() {
        assert_eq!(path, format!("crate::models::{name}"));
        assert!(schema.get("properties").is_some(), "{name}: {schema}");
    }
}

#[test]
fn exported_event_fields_match_the_documented_event_schema() {
    let in_crate = crate_event_fields();
    let report = drift::compare_event_fields(&drift::DOCUMENTED_EVENT_FIELDS, &in_crate);
    assert!(report.is_empty(), "{report:#?}");
    // And the comparison does see a difference of names.
    let mut renamed = in_crate.clone();
    renamed[8].0 = "host";
    assert_eq!(
        drift::compare_event_fields(&drift::DOCUMENTED_EVENT_FIELDS, &renamed),
        [
            "spec drift: event field hostname is documented but not in records::EXPORT_FIELDS",
            "spec drift: event field host is in records::EXPORT_FIELDS but not documented",
        ]
    );
}

#[test]
fn an_event_field_read_as_another_type_than_documented_is_drift() {
    // The crate reading screen_width as text, inserted_at as text, metadata
    // as a label.
    let mut retyped = crate_event_fields();
    for (name, kind) in &mut retyped {
        match *name {
            "screen_width" | "inserted_at" => *kind = EventFieldType::Text,
            "metadata" => *kind = EventFieldType::Label,
            _ => {}
        }
    }
    assert_eq!(
        drift::compare_event_fields(&drift::DOCUMENTED_EVENT_FIELDS, &retyped),
        [
            "spec drift: event field inserted_at is documented as timestamp but read as text",
            "spec drift: event field screen_width is documented as integer but read as text",
            "spec drift: event field metadata is documented as json but read as label",
        ]
    );
    // The documentation changing a type is caught the same way.
    let mut documented = drift::DOCUMENTED_EVENT_FIELDS;
    documented[11].1 = EventFieldType::Text; // screen_height
    assert_eq!(
        drift::compare_event_fields(&documented, &crate_event_fields()),
        ["spec drift: event field screen_height is documented as text but read as integer"]
    );
}

#[test]
fn the_lookup_kinds_are_the_rows_of_the_spec_crates_lookup_table() {
    let rows: Vec<(&str, String, bool)> = LOOKUPS
        .iter()
        .map(|l| {
            (
                l.name(),
                format!("{API_PREFIX}{}", l.path),
                l.paging == Paging::Paged,
            )
        })
        .collect();
    let kinds: Vec<(&str, String, bool)> = LookupKind::ALL
        .iter()
        .map(|k| (k.name(), k.path().to_string(), k.is_paginated()))
        .collect();
    assert_eq!(kinds, rows);
    assert_eq!(LookupKind::ALL.len(), 12);
    // Each row's operation is the id the repairs give its path.
    for lookup in LOOKUPS {
        let path = format!("{API_PREFIX}{}", lookup.path);
        assert_eq!(repairs::operation_id_for("get", &path), lookup.name());
    }
    // A paginated row hoists its page, items, metadata and cursor; a plain
    // one its items.
    let hoisted = |path: &str| -> Vec<String> {
        repairs::hoists()
            .into_iter()
            .filter(|h| h.path == path)
            .map(|h| h.name.into_owned())
            .collect()
    };
    assert_eq!(
        hoisted("/lookups/segments"),
        ["Segment", "PageCursor", "PageMetadata", "SegmentPage"]
    );
    assert_eq!(hoisted("/lookups/flows"), ["Flow"]);
}

#[test]
fn a_rehearsed_spec_update_generates_and_the_drift_guard_names_exactly_its_four_changes() {
    let spec = repaired(rehearsed_update());

    // The repairs give the new operation a readable id.
    assert_eq!(
        spec["paths"]["/api/v1/analytics/exports/lookups/tours"]["get"]["operationId"],
        json!("tours")
    );
    // Generation succeeds, with a raw method for it.
    let code = codegen::generate(spec.clone()).expect("progenitor generates the client");
    assert!(
        code.contains("pub fn tours(&self)"),
        "no raw `tours` method"
    );
    assert!(code.contains("pub fn replaced_model_schemas()"));

    let mut report = drift_report(&spec);
    report.sort();
    assert_eq!(report, REHEARSED_DRIFT);
}

/// The drift report of the rehearsed spec update, sorted: what the drift
/// guard names and what the build warns, one line each.
pub const REHEARSED_DRIFT: [&str; 4] = [
    // (d) a removed property
    "spec drift: ExportJob.current_chunk is in crate::models::ExportJob but no longer in the spec",
    // (b) a new property on the job schema
    "spec drift: ExportJob.priority is in the spec but not in crate::models::ExportJob",
    // (c) a new job status value
    "spec drift: ExportJob.status value \"cancelled\" is in the spec but not a known value of crate::models::JobStatus",
    // (a) a 13th lookup
    "spec drift: operation tours (GET /api/v1/analytics/exports/lookups/tours) has no typed method on Client, \
     no Catalogue entry, no CLI kind and no simulator route: add its row to LOOKUPS (crates/appex-spec/src/lookups.rs) and its model",
];

#[test]
fn a_declared_type_the_model_cannot_decode_is_drift() {
    let mut spec = vendored();
    let path = "/paths/~1api~1v1~1analytics~1exports~1jobs~1{job_id}/get/responses/200/content/application~1json/schema/properties/presigned_urls";
    apply_patch(
        &mut spec,
        &json!([{"op": "add", "path": format!("{path}"), "value": {"type": "integer"}}]),
    );
    // The hoist of the presigned URL's item schema no longer fits: the build
    // would stop on the repair, naming it.
    let err = repairs::repair_spec(&mut spec).unwrap_err();
    assert_eq!(err.repair, "hoist_inline_schemas");

    let mut spec = repaired(vendored());
    spec["components"]["schemas"]["ExportJob"]["properties"]["all_chunks"] =
        json!({"type": "integer"});
    spec["components"]["schemas"]["ExportJobSummary"]["properties"]["job_id"] =
        json!({"type": "object"});
    let mut report = drift_report(&spec);
    report.sort();
    assert_eq!(
        report,
        [
            "spec drift: ExportJob.all_chunks is declared integer in the spec, but crate::models::ExportJob reads array",
            "spec drift: ExportJobSummary.job_id is declared object in the spec, but crate::models::ExportJobSummary reads string",
        ]
    );
}

#[test]
fn a_typed_operation_the_spec_dropped_is_drift() {
    let mut spec = repaired(vendored());
    spec["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/api/v1/analytics/exports/jobs/");
    assert_eq!(
        drift_report(&spec),
        ["spec drift: Client::list_jobs has no operation in the spec"]
    );
}

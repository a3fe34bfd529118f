//! The spec repairs that build.rs applies, exercised on the vendored spec
//! and on variations of it a future spec update might bring.

use serde_json::{Value, json};
use userpilot_appex_spec::repairs::{API_PREFIX, repair_spec};

use crate::support::spec::vendored;

fn ids(spec: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.push((method.clone(), path.clone(), id.to_string()));
            }
        }
    }
    out.sort();
    out
}

fn id_of(spec: &Value, method: &str, path: &str) -> String {
    spec["paths"][path][method]["operationId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_vendored_spec_gets_readable_operation_ids() {
    let mut spec = vendored();
    repair_spec(&mut spec).unwrap();
    let mut names: Vec<String> = ids(&spec).into_iter().map(|(_, _, id)| id).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "banners",
            "checklists",
            "company_properties",
            "embeds",
            "events_properties",
            "features_events",
            "flows",
            "get_job",
            "list_jobs",
            "resource_center_modules",
            "segments",
            "spotlights",
            "surveys",
            "trigger_export",
            "user_properties"
        ]
    );
    assert_eq!(
        id_of(&spec, "get", &format!("{API_PREFIX}/jobs/")),
        "list_jobs"
    );
    assert_eq!(id_of(&spec, "post", API_PREFIX), "trigger_export");
}

#[test]
fn an_added_path_gets_a_deterministic_id_and_existing_ids_do_not_move() {
    let mut before = vendored();
    repair_spec(&mut before).unwrap();
    let mut spec = vendored();
    spec["paths"][format!("{API_PREFIX}/lookups/tooltips")] =
        json!({"get": {"responses": {"200": {"description": "ok"}}}});
    spec["paths"][format!("{API_PREFIX}/jobs/{{job_id}}/cancel")] =
        json!({"post": {"responses": {"202": {"description": "ok"}}}});
    let mut again = spec.clone();
    repair_spec(&mut spec).unwrap();
    repair_spec(&mut again).unwrap();
    assert_eq!(ids(&spec), ids(&again), "same input, same ids");
    assert_eq!(
        id_of(&spec, "get", &format!("{API_PREFIX}/lookups/tooltips")),
        "tooltips"
    );
    assert_eq!(
        id_of(
            &spec,
            "post",
            &format!("{API_PREFIX}/jobs/{{job_id}}/cancel")
        ),
        "post_jobs_by_job_id_cancel"
    );
    for (method, path, id) in ids(&before) {
        assert_eq!(id_of(&spec, &method, &path), id);
    }
}

#[test]
fn an_upstream_operation_id_is_respected_and_never_shadowed() {
    let mut spec = vendored();
    spec["paths"][format!("{API_PREFIX}/jobs/{{job_id}}")]["get"]["operationId"] = json!("showJob");
    // An upstream id equal to a name we would synthesize elsewhere.
    spec["paths"][format!("{API_PREFIX}/lookups/flows")]["get"]["operationId"] = json!("list_jobs");
    repair_spec(&mut spec).unwrap();
    assert_eq!(
        id_of(&spec, "get", &format!("{API_PREFIX}/jobs/{{job_id}}")),
        "showJob"
    );
    assert_eq!(
        id_of(&spec, "get", &format!("{API_PREFIX}/lookups/flows")),
        "list_jobs"
    );
    assert_eq!(
        id_of(&spec, "get", &format!("{API_PREFIX}/jobs/")),
        "list_jobs_2"
    );
}

/// Every operation of the spec, with its path (path-level `parameters`
/// left out).
fn operations(spec: &Value) -> Vec<(&str, &Value)> {
    let paths = spec["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let ops = item.as_object().expect("a path item");
            ops.iter()
                .filter(|(k, _)| *k != "parameters")
                .map(move |(_, op)| (path.as_str(), op))
        })
        .collect()
}

#[test]
fn transport_headers_are_dropped_everywhere() {
    let mut spec = vendored();
    repair_spec(&mut spec).unwrap();
    let text = spec["paths"].to_string();
    assert!(!text.contains("AuthorizationHeader"));
    for (_, op) in operations(&spec) {
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = p["name"].as_str().unwrap_or_default().to_ascii_lowercase();
            assert!(
                !["accept", "content-type", "authorization"].contains(&name.as_str()),
                "{p}"
            );
        }
    }
}

#[test]
fn every_error_response_points_at_error_response_and_lookups_get_a_401() {
    let mut spec = vendored();
    repair_spec(&mut spec).unwrap();
    let mut lookups = 0;
    for (path, op) in operations(&spec) {
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.contains_key("401"), "{path} declares 401");
        for (code, response) in responses {
            if code.starts_with('4') {
                assert_eq!(
                    response["content"]["application/json"]["schema"],
                    json!({"$ref": "#/components/schemas/ErrorResponse"}),
                    "{path} {code}"
                );
            }
        }
        lookups += usize::from(path.contains("/lookups/"));
    }
    assert_eq!(lookups, 12);
}

#[test]
fn a_spec_that_already_has_error_response_refs_is_left_alone() {
    let mut once = vendored();
    repair_spec(&mut once).unwrap();
    let mut twice = once.clone();
    repair_spec(&mut twice).unwrap();
    assert_eq!(once, twice, "the repairs are idempotent");
}

#[test]
fn segments_gets_the_after_cursor_parameter_once() {
    let mut spec = vendored();
    repair_spec(&mut spec).unwrap();
    repair_spec(&mut spec).unwrap();
    let params = spec["paths"][format!("{API_PREFIX}/lookups/segments")]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let cursors: Vec<_> = params
        .iter()
        .filter(|p| p["name"] == "after_cursor")
        .collect();
    assert_eq!(cursors.len(), 1);
    assert_eq!(cursors[0]["in"], "query");
}

#[test]
fn inline_schemas_are_hoisted_under_readable_names() {
    let mut spec = vendored();
    repair_spec(&mut spec).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for name in [
        "ExportJob",
        "PresignedUrl",
        "ExportJobSummary",
        "ExportRequest",
        "ExportFormat",
        "ExportCreated",
        "ErrorDetail",
        "Segment",
        "EventProperty",
        "SegmentPage",
        "EventPropertyPage",
        "PageMetadata",
        "PageCursor",
        "Survey",
    ] {
        assert!(schemas.contains_key(name), "{name} hoisted");
    }
    assert_eq!(
        schemas["ExportFormat"]["enum"],
        json!(["avro", "csv", "ndjson", "parquet"])
    );
    assert_eq!(
        spec["paths"][format!("{API_PREFIX}/jobs/{{job_id}}")]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/ExportJob"})
    );
}

#[test]
fn a_spec_that_breaks_a_repair_fails_naming_the_repair_and_path() {
    let mut spec = vendored();
    spec["paths"]
        .as_object_mut()
        .unwrap()
        .remove(&format!("{API_PREFIX}/lookups/segments"));
    let err = repair_spec(&mut spec).unwrap_err();
    assert_eq!(err.repair, "declare_segments_cursor");
    assert!(err.path.contains("/lookups/segments"), "{}", err.path);
    assert!(err.to_string().contains("declare_segments_cursor"));

    let mut spec = vendored();
    spec["components"]["schemas"]
        .as_object_mut()
        .unwrap()
        .remove("ErrorResponse");
    let err = repair_spec(&mut spec).unwrap_err();
    assert_eq!(err.repair, "unify_error_responses");

    let mut spec = vendored();
    spec["paths"][format!("{API_PREFIX}/jobs/")]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"] = json!({"type": "object"});
    let err = repair_spec(&mut spec).unwrap_err();
    assert_eq!(err.repair, "hoist_inline_schemas");
    assert!(err.message.contains("ExportJobSummary"), "{}", err.message);
}

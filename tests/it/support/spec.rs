//! The vendored spec, JSON Patch edits of it (the spec-update fixtures),
//! and what the crate types, for the drift guard.

use serde_json::Value;
use userpilot_appex::{client::JOB_OPERATIONS, generated, models::LookupKind};
use userpilot_appex_spec::{drift::Typed, repairs};

/// What the crate types, live: every replaced schema's model and its JSON
/// schema, the hand-typed operations, the lookups of [`LookupKind`].
pub fn typed() -> Typed {
    Typed {
        models: generated::replaced_model_schemas()
            .into_iter()
            .map(|(component, path, schema)| (component.to_string(), path.to_string(), schema))
            .collect(),
        operations: JOB_OPERATIONS.iter().map(|o| o.to_string()).collect(),
        lookups: LookupKind::ALL
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
    }
}

/// The spec after the repairs.
pub fn repaired(mut spec: Value) -> Value {
    repairs::repair_spec(&mut spec).expect("the repairs apply");
    spec
}

/// The rehearsed spec update: the vendored spec with
/// `tests/fixtures/spec-update/patch.json` applied (not repaired).
pub fn rehearsed_update() -> Value {
    let fixture: Value =
        serde_json::from_str(include_str!("../../fixtures/spec-update/patch.json"))
            .expect("the fixture is JSON");
    let mut spec = vendored();
    apply_patch(&mut spec, &fixture["patch"]);
    spec
}

/// The vendored spec, as published (before the repairs).
pub fn vendored() -> Value {
    serde_json::from_str(include_str!(
        "../../../openapi/userpilot-appex-openapi.json"
    ))
    .expect("the vendored spec is JSON")
}

/// Applies the `add` and `remove` operations of a JSON Patch (RFC 6902).
pub fn apply_patch(doc: &mut Value, patch: &Value) {
    for op in patch.as_array().expect("a patch is a list") {
        let path = op["path"].as_str().expect("a path");
        let (parent, last) = path.rsplit_once('/').expect("a pointer below the root");
        let key = last.replace("~1", "/").replace("~0", "~");
        let target = doc
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent}"));
        match op["op"].as_str() {
            Some("add") => {
                target.insert(key, op["value"].clone());
            }
            Some("remove") => {
                target
                    .remove(&key)
                    .unwrap_or_else(|| panic!("nothing to remove at {path}"));
            }
            other => panic!("unsupported patch op {other:?}"),
        }
    }
}

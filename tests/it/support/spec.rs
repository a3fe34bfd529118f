//! The vendored spec, and JSON Patch edits of it (the spec-update fixtures).

use serde_json::Value;

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

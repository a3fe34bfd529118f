//! The spec side of `userpilot-appex`, shared by its `build.rs` and its tests:
//!
//! - [`repairs`]: the named repairs applied to the vendored OpenAPI spec
//!   before progenitor sees it, and the list of schemas the crate replaces
//!   with hand-written models;
//! - [`surface`]: the reviewed listing of what the spec gives the crate
//!   (`openapi/api-surface.txt`);
//! - [`drift`]: the comparisons behind the drift guard (spec schemas against
//!   the models' JSON schemas, spec operations against the typed methods).
//!
//! - [`codegen`] (feature `codegen`): progenitor's run with this crate's
//!   settings.
//!
//! Without `codegen` it depends on `serde_json` only.

#[cfg(feature = "codegen")]
pub mod codegen;
pub mod drift;
pub mod lookups;
pub mod repairs;
pub mod surface;

use serde_json::Value;

/// HTTP methods an OpenAPI path item may hold operations under.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a spec: `(method, path, operation)`, sorted by path then
/// method.
pub fn operations(spec: &Value) -> Vec<(&'static str, &str, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.push((method, path.as_str(), op));
                }
            }
        }
    }
    out.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    out
}

/// Follows a local `$ref` (`#/components/...`), a few hops at most.
pub fn resolve<'a>(spec: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| spec.pointer(p))
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

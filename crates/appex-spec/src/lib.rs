//! The spec side of `userpilot-appex`, shared by its `build.rs` and its tests:
//!
//! - [`repairs`]: the named repairs applied to the vendored OpenAPI spec
//!   before progenitor sees it, and the list of schemas the crate replaces
//!   with hand-written models;
//! - [`surface`]: the reviewed listing of what the spec gives the crate
//!   (`openapi/api-surface.txt`);
//! - [`lookups`]: the lookup table, declared once; the repairs derive each
//!   lookup's hoists from it and `build.rs` writes the crate's
//!   `lookup_table!` macro from it;
//! - [`drift`]: the comparisons behind the drift guard (spec schemas against
//!   the models' JSON schemas, spec operations against the typed methods,
//!   the exported event fields against the documented ones), and the
//!   report `build.rs` prints as warnings against the models' snapshot
//!   (`openapi/model-schemas.json`).
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

/// The environment variable that asks the tests to rewrite the generated,
/// reviewed files (`openapi/api-surface.txt`, `openapi/model-schemas.json`).
pub const UPDATE_VAR: &str = "APPEX_UPDATE_SURFACE";

/// Whether a value of [`UPDATE_VAR`] asks for the rewrite: only `1` does
/// (unset, empty, `0` or anything else compares instead).
///
/// ```
/// use std::ffi::OsStr;
/// use userpilot_appex_spec::update_requested;
///
/// assert!(update_requested(Some(OsStr::new("1"))));
/// assert!(!update_requested(Some(OsStr::new("0"))));
/// assert!(!update_requested(None));
/// ```
pub fn update_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

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

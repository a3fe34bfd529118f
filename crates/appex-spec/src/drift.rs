//! The drift guard's comparisons: what the repaired spec declares against
//! what the crate types.
//!
//! Every finding is one line starting `spec drift: ` that names the schema
//! and property (or the operation) and the crate item to change. The
//! crate's test `spec_drift` feeds these functions the models' JSON schemas
//! (`schemars`) and the typed operations; an empty report means the crate
//! covers the spec.

use serde_json::Value;

use crate::{operations, resolve};

/// The exported event fields Userpilot documents, in its order.
///
/// Source: Userpilot's Analytics Export documentation, "Exported event
/// fields": the base
/// fields, the auto-captured ones, and the `metadata` object. The crate's
/// own list is `userpilot_appex::records::EXPORT_FIELDS`; the drift guard
/// compares the two with [`compare_event_fields`].
pub const DOCUMENTED_EVENT_FIELDS: [&str; 20] = [
    "app_token",
    "event_type",
    "event_name",
    "user_id",
    "company_id",
    "source",
    "inserted_at",
    "internal_event_id",
    "hostname",
    "pathname",
    "screen_width",
    "screen_height",
    "device_type",
    "user_agent",
    "operating_system",
    "browser",
    "browser_language",
    "session",
    "country_code",
    "metadata",
];

/// The start of every finding.
pub const PREFIX: &str = "spec drift: ";

/// Compares the spec's `components/schemas/<component>` with the JSON
/// schema of the model that replaces it (`rust_path`, e.g.
/// `crate::models::ExportJob`; `model` as `schemars` writes it, `$defs`
/// included): properties on one side only, declared types the model cannot
/// decode, enum values the model does not know.
pub fn compare_model(spec: &Value, component: &str, rust_path: &str, model: &Value) -> Vec<String> {
    let Some(declared) = spec.pointer(&format!("/components/schemas/{component}")) else {
        return vec![format!(
            "{PREFIX}{component} is replaced by {rust_path} but is no longer in the spec"
        )];
    };
    let declared = resolve(spec, declared);
    let Some(spec_props) = declared.get("properties").and_then(Value::as_object) else {
        // A bare `object`: the spec declares no fields to compare.
        return Vec::new();
    };
    let model_root = model;
    let model = resolve(model_root, model);
    let empty = serde_json::Map::new();
    let model_props = model
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = Vec::new();
    let mut names: Vec<&String> = spec_props.keys().chain(model_props.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let place = format!("{component}.{name}");
        let (declared, typed) = match (spec_props.get(name), model_props.get(name)) {
            (Some(_), None) => {
                out.push(format!(
                    "{PREFIX}{place} is in the spec but not in {rust_path}"
                ));
                continue;
            }
            (None, Some(_)) => {
                out.push(format!(
                    "{PREFIX}{place} is in {rust_path} but no longer in the spec"
                ));
                continue;
            }
            (Some(d), Some(t)) => (resolve(spec, d), t),
            (None, None) => continue,
        };
        let model_types = types(model_root, typed);
        if let Some(spec_type) = declared.get("type").and_then(Value::as_str)
            && !decodes(spec_type, &model_types)
        {
            out.push(format!(
                "{PREFIX}{place} is declared {spec_type} in the spec, but {rust_path} reads {}",
                model_types.join(" or ")
            ));
        }
        let spec_values = declared
            .get("enum")
            .or_else(|| resolve(spec, declared.get("items").unwrap_or(&Value::Null)).get("enum"))
            .and_then(Value::as_array);
        if let Some(values) = spec_values {
            let (owner, known) = known_values(model_root, typed);
            let owner = owner.map_or(rust_path.to_string(), |o| rust_path.replace(component, &o));
            for value in values.iter().filter_map(Value::as_str) {
                if let Some(known) = &known
                    && !known.iter().any(|k| k == value)
                {
                    out.push(format!(
                        "{PREFIX}{place} value {value:?} is in the spec but not a known value of {owner}"
                    ));
                }
            }
        }
    }
    out
}

/// Operations in the spec the crate does not type: an operation not in
/// `typed` (its typed `Client` method's operation names), and a lookup
/// (`.../lookups/<kind>`) not in `lookups` (the lookup table's operation
/// names, from which the typed method, the catalogue entry, the CLI kind
/// and the simulator route all come). Typed names with no operation in the
/// spec are reported too.
pub fn compare_operations(spec: &Value, typed: &[&str], lookups: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (method, path, op) in operations(spec) {
        let name = op.get("operationId").and_then(Value::as_str).unwrap_or("?");
        seen.push(name.to_string());
        let what = format!("operation {name} ({} {path})", method.to_ascii_uppercase());
        if path.contains("/lookups/") {
            if !lookups.contains(&name) {
                out.push(format!(
                    "{PREFIX}{what} has no typed method on Client, no Catalogue entry, no CLI kind \
                     and no simulator route: add its row to the lookup table and its model"
                ));
            }
        } else if !typed.contains(&name) {
            out.push(format!("{PREFIX}{what} has no typed method on Client"));
        }
    }
    for name in typed.iter().chain(lookups) {
        if !seen.iter().any(|s| s == name) {
            out.push(format!(
                "{PREFIX}Client::{name} has no operation in the spec"
            ));
        }
    }
    out
}

/// The crate's exported event fields against [`DOCUMENTED_EVENT_FIELDS`].
pub fn compare_event_fields(documented: &[&str], in_crate: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for field in documented.iter().filter(|f| !in_crate.contains(f)) {
        out.push(format!(
            "{PREFIX}event field {field} is documented but not in records::EXPORT_FIELDS"
        ));
    }
    for field in in_crate.iter().filter(|f| !documented.contains(f)) {
        out.push(format!(
            "{PREFIX}event field {field} is in records::EXPORT_FIELDS but not documented"
        ));
    }
    out
}

/// The JSON types a model's property schema reads (`null` left out); empty
/// for a property that takes any value.
fn types(root: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(root, schema);
    let mut out: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => ["anyOf", "oneOf"]
            .iter()
            .filter_map(|k| schema.get(*k).and_then(Value::as_array))
            .flatten()
            .flat_map(|s| types(root, s))
            .collect(),
    };
    out.retain(|t| t != "null");
    out.sort();
    out.dedup();
    out
}

/// Whether a model reading `model` types decodes a value declared `spec`:
/// the same type, an integer read as a number, or a scalar read leniently
/// as text.
fn decodes(spec: &str, model: &[String]) -> bool {
    let has = |t: &str| model.iter().any(|m| m == t);
    model.is_empty()
        || has(spec)
        || (spec == "integer" && has("number"))
        || (has("string") && matches!(spec, "integer" | "number" | "boolean"))
}

/// The values a model's enum property knows (its `enum`, or an open enum's
/// `examples`) and the enum's name; `None` when it takes any text.
fn known_values(root: &Value, schema: &Value) -> (Option<String>, Option<Vec<String>>) {
    let name = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(String::from);
    let resolved = resolve(root, schema);
    for key in ["enum", "examples"] {
        if let Some(values) = resolved.get(key).and_then(Value::as_array) {
            let values = values.iter().filter_map(Value::as_str).map(String::from);
            return (name, Some(values.collect()));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = resolved.get(key).and_then(Value::as_array) {
            for variant in variants {
                let found = known_values(root, variant);
                if found.1.is_some() {
                    return found;
                }
            }
        }
    }
    let items = resolved.get("items").unwrap_or(&Value::Null);
    if !items.is_null() {
        return known_values(root, items);
    }
    (name, None)
}

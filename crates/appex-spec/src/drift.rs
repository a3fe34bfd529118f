//! The drift guard's comparisons: what the repaired spec declares against
//! what the crate types.
//!
//! Every finding is one line starting `spec drift: ` that names the schema
//! and property (or the operation, or the event field) and the crate item
//! to change. The crate's tests feed [`report`] the models' live JSON
//! schemas (`schemars`) and the typed operations, and
//! [`compare_event_fields`] the exported event fields; `build.rs` feeds
//! [`build_report`] the snapshot of the same models
//! (`openapi/model-schemas.json`, [`Typed::to_snapshot`]) and prints each
//! finding as a `cargo:warning`. An empty report means the crate covers the
//! spec.

use serde_json::Value;

use crate::{operations, resolve};

/// What an exported event field holds, as Userpilot documents it (and as
/// the crate's `records::FieldKind` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventFieldType {
    /// Free text.
    Text,
    /// Text from a small, documented set of values (an enum).
    Label,
    /// A UTC date-time.
    Timestamp,
    /// A whole number.
    Integer,
    /// A JSON value (an object).
    Json,
}

impl EventFieldType {
    /// The type's name in findings: `text`, `label`, `timestamp`,
    /// `integer`, `json`.
    pub fn name(self) -> &'static str {
        match self {
            EventFieldType::Text => "text",
            EventFieldType::Label => "label",
            EventFieldType::Timestamp => "timestamp",
            EventFieldType::Integer => "integer",
            EventFieldType::Json => "json",
        }
    }
}

impl std::fmt::Display for EventFieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

use EventFieldType::{Integer, Json, Label, Text, Timestamp};

/// The exported event fields Userpilot documents, in its order, with the
/// type each is documented as.
///
/// Source: Userpilot's Analytics Export documentation, "Exported event
/// fields": the base fields (`event_type` one of its documented event
/// types, `source` one of `web-client`, `backend-http`, … ; `inserted_at`
/// in UTC to the microsecond), the auto-captured ones (screen sizes in
/// pixels), and the `metadata` object that varies by event type. The
/// crate's own list is `userpilot_appex::records::EXPORT_FIELDS` with
/// `EXPORT_FIELD_KINDS`; the drift guard compares the two with
/// [`compare_event_fields`].
pub const DOCUMENTED_EVENT_FIELDS: [(&str, EventFieldType); 20] = [
    ("app_token", Text),
    ("event_type", Label),
    ("event_name", Text),
    ("user_id", Text),
    ("company_id", Text),
    ("source", Label),
    ("inserted_at", Timestamp),
    ("internal_event_id", Text),
    ("hostname", Text),
    ("pathname", Text),
    ("screen_width", Integer),
    ("screen_height", Integer),
    ("device_type", Text),
    ("user_agent", Text),
    ("operating_system", Text),
    ("browser", Text),
    ("browser_language", Text),
    ("session", Text),
    ("country_code", Text),
    ("metadata", Json),
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
                     and no simulator route: add its row to LOOKUPS (crates/appex-spec/src/lookups.rs) and its model"
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

/// What the crate types, as the drift guard compares it with a spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Typed {
    /// Each schema replaced by a hand-written model: its name in the spec,
    /// the model's path (`crate::models::ExportJob`) and the model's JSON
    /// schema as `schemars` writes it.
    pub models: Vec<(String, String, Value)>,
    /// The operations typed by hand (`client::JOB_OPERATIONS`).
    pub operations: Vec<String>,
    /// The lookups' operation names (the lookup table's).
    pub lookups: Vec<String>,
}

/// What `openapi/model-schemas.json` says it is.
const SNAPSHOT_ABOUT: &str = "The JSON schemas of userpilot-appex's hand-written models and its \
    hand-typed operations, for the drift warning build.rs prints. Generated: do not edit. A test \
    fails when it differs from the models; `APPEX_UPDATE_SURFACE=1 cargo test --all-features` \
    rewrites it.";

impl Typed {
    /// The snapshot build.rs reads (`openapi/model-schemas.json`): the
    /// models, their schemas without their descriptions (documentation is
    /// not drift), and the hand-typed operations. The lookups are not in
    /// it: they come from [`LOOKUPS`](crate::lookups::LOOKUPS).
    pub fn to_snapshot(&self) -> Value {
        let models: Vec<Value> = self
            .models
            .iter()
            .map(|(component, model, schema)| {
                let mut schema = schema.clone();
                strip_descriptions(&mut schema);
                serde_json::json!({ "component": component, "model": model, "schema": schema })
            })
            .collect();
        serde_json::json!({
            "about": SNAPSHOT_ABOUT,
            "models": models,
            "operations": self.operations,
        })
    }

    /// The typed side a snapshot records, with the lookups of
    /// [`LOOKUPS`](crate::lookups::LOOKUPS).
    pub fn from_snapshot(snapshot: &Value) -> Result<Typed, String> {
        let text = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or_else(|| format!("an entry has no {key:?}"))
        };
        let models = snapshot
            .get("models")
            .and_then(Value::as_array)
            .ok_or("no \"models\" list")?
            .iter()
            .map(|m| {
                let schema = m
                    .get("schema")
                    .cloned()
                    .ok_or("a model has no \"schema\"")?;
                Ok((text(m, "component")?, text(m, "model")?, schema))
            })
            .collect::<Result<_, String>>()?;
        let operations = snapshot
            .get("operations")
            .and_then(Value::as_array)
            .ok_or("no \"operations\" list")?
            .iter()
            .map(|o| {
                o.as_str()
                    .map(String::from)
                    .ok_or("an operation is not text")
            })
            .collect::<Result<_, _>>()?;
        let lookups = crate::lookups::LOOKUPS
            .iter()
            .map(|l| l.name().to_string())
            .collect();
        Ok(Typed {
            models,
            operations,
            lookups,
        })
    }
}

/// Removes every `"description": "<text>"` from a JSON schema (a property
/// named `description` has a schema, not text, and stays).
fn strip_descriptions(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("description").is_some_and(Value::is_string) {
                map.remove("description");
            }
            map.values_mut().for_each(strip_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// The drift report of a repaired spec against what the crate types: each
/// replaced schema against its model ([`compare_model`]), each operation
/// against the typed methods and the lookup table
/// ([`compare_operations`]). Empty when the crate covers the spec.
pub fn report(spec: &Value, typed: &Typed) -> Vec<String> {
    let mut out = Vec::new();
    for (component, rust_path, schema) in &typed.models {
        out.extend(compare_model(spec, component, rust_path, schema));
    }
    let operations: Vec<&str> = typed.operations.iter().map(String::as_str).collect();
    let lookups: Vec<&str> = typed.lookups.iter().map(String::as_str).collect();
    out.extend(compare_operations(spec, &operations, &lookups));
    out
}

/// What `build.rs` warns about: the drift report of a repaired spec
/// against the snapshot of the models (`snapshot`, the text of
/// `openapi/model-schemas.json`), one `spec drift: …` line per finding. A
/// snapshot that cannot be read is one finding saying so.
pub fn build_report(spec: &Value, snapshot: &str) -> Vec<String> {
    let typed = serde_json::from_str(snapshot)
        .map_err(|e| e.to_string())
        .and_then(|v| Typed::from_snapshot(&v));
    match typed {
        Ok(typed) => report(spec, &typed),
        Err(e) => vec![format!(
            "{PREFIX}cannot read the models' snapshot ({e}); \
             run `APPEX_UPDATE_SURFACE=1 cargo test --all-features`"
        )],
    }
}

/// The crate's exported event fields and the types it reads them as
/// against [`DOCUMENTED_EVENT_FIELDS`]: a field on one side only, and a
/// field read as another type than documented.
pub fn compare_event_fields(
    documented: &[(&str, EventFieldType)],
    in_crate: &[(&str, EventFieldType)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (field, _) in documented
        .iter()
        .filter(|(f, _)| !in_crate.iter().any(|(c, _)| c == f))
    {
        out.push(format!(
            "{PREFIX}event field {field} is documented but not in records::EXPORT_FIELDS"
        ));
    }
    for (field, _) in in_crate
        .iter()
        .filter(|(c, _)| !documented.iter().any(|(f, _)| f == c))
    {
        out.push(format!(
            "{PREFIX}event field {field} is in records::EXPORT_FIELDS but not documented"
        ));
    }
    for (field, documented_as) in documented {
        if let Some((_, read_as)) = in_crate.iter().find(|(c, _)| c == field)
            && read_as != documented_as
        {
            out.push(format!(
                "{PREFIX}event field {field} is documented as {documented_as} but read as {read_as}"
            ));
        }
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

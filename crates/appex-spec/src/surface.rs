//! The API surface: a plain-text listing of what the repaired spec gives
//! the crate, checked in as `openapi/api-surface.txt` so that a spec update
//! shows its effect on the public API in review.
//!
//! One block per operation (name, method, path, parameters, success and
//! error types) and one per component schema (its fields and their types),
//! both sorted, so the text depends on the spec's content only.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{operations, repairs, resolve};

/// The first lines of the file: what it is and how it is rewritten.
pub const HEADER: &str = "\
# The API surface the vendored spec gives userpilot-appex, after the repairs
# (crates/appex-spec). Generated: do not edit. A test fails when it differs;
# `APPEX_UPDATE_SURFACE=1 cargo test --all-features` rewrites it.
";

/// The surface of a repaired spec, as the text of `openapi/api-surface.txt`.
pub fn render(spec: &Value) -> String {
    let mut out = String::from(HEADER);
    let mut ops: Vec<(String, String)> = operations(spec)
        .into_iter()
        .map(|(method, path, op)| {
            let name = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("(no operationId)")
                .to_string();
            (name, operation(spec, method, path, op))
        })
        .collect();
    ops.sort();
    for (_, block) in ops {
        out.push('\n');
        out.push_str(&block);
    }
    let replaced = repairs::replacements();
    if let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        let mut names: Vec<&String> = schemas.keys().collect();
        names.sort();
        for name in names {
            let by = if replaced.contains(name) {
                format!(" (hand-written: crate::models::{name})")
            } else {
                String::new()
            };
            let schema = resolve(spec, &schemas[name]);
            let kind = match schema.get("type").and_then(Value::as_str) {
                Some("object") => "object".to_string(),
                _ => type_of(spec, schema),
            };
            let _ = writeln!(out, "\nschema {name}{by}: {kind}");
            for line in fields(spec, &schemas[name]) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

/// The one line `build.rs` warns with when the surface (`fresh`) differs
/// from the reviewed file (`reviewed`, the text of `file`): how many lines
/// came and went, the first new one, and where to read more. `None` when
/// they are equal.
pub fn change_warning(file: &str, reviewed: &str, fresh: &str) -> Option<String> {
    if reviewed == fresh {
        return None;
    }
    let old: Vec<&str> = reviewed.lines().collect();
    let new: Vec<&str> = fresh.lines().collect();
    let added = new.iter().filter(|l| !old.contains(l)).count();
    let removed = old.iter().filter(|l| !new.contains(l)).count();
    let first = new
        .iter()
        .find(|l| !old.contains(l))
        .map(|l| format!(", first new line `{}`", l.trim()))
        .unwrap_or_default();
    Some(format!(
        "spec drift: the API surface differs from {file} (+{added} -{removed} lines{first}); \
         run `cargo test --all-features` for the drift report, then see README \"Updating the spec\""
    ))
}

fn operation(spec: &Value, method: &str, path: &str, op: &Value) -> String {
    let name = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("(no operationId)");
    let mut out = format!("operation {name}: {} {path}\n", method.to_ascii_uppercase());
    let item_params = spec
        .pointer(&format!(
            "/paths/{}/parameters",
            path.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_array);
    let op_params = op.get("parameters").and_then(Value::as_array);
    let mut params: Vec<String> = item_params
        .into_iter()
        .chain(op_params)
        .flatten()
        .map(|p| {
            let p = resolve(spec, p);
            let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?");
            let required = if p.get("required").and_then(Value::as_bool) == Some(true) {
                " (required)"
            } else {
                ""
            };
            let ty = p.get("schema").map_or("any".into(), |s| type_of(spec, s));
            format!("  param {} {}: {ty}{required}", text("in"), text("name"))
        })
        .collect();
    params.sort();
    params.dedup();
    for p in params {
        let _ = writeln!(out, "{p}");
    }
    if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
        let _ = writeln!(out, "  body: {}", type_of(spec, body));
    }
    let mut errors: Vec<(String, String)> = Vec::new();
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        let mut codes: Vec<&String> = responses.keys().collect();
        codes.sort();
        for code in codes {
            let response = resolve(spec, &responses[code]);
            let ty = response
                .pointer("/content/application~1json/schema")
                .map_or("no body".into(), |s| type_of(spec, s));
            if code.starts_with('2') {
                let _ = writeln!(out, "  success {code}: {ty}");
            } else {
                match errors.iter_mut().find(|(_, t)| *t == ty) {
                    Some((codes, _)) => {
                        codes.push_str(", ");
                        codes.push_str(code);
                    }
                    None => errors.push((code.clone(), ty)),
                }
            }
        }
    }
    for (codes, ty) in errors {
        let _ = writeln!(out, "  error {codes}: {ty}");
    }
    out
}

/// The fields of an object schema, one `name: type` line each, sorted.
fn fields(spec: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(spec, schema);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, s)| {
                    let req = if required.contains(&name.as_str()) {
                        " (required)"
                    } else {
                        ""
                    };
                    format!("{name}: {}{req}", type_of(spec, s))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A schema's type in one line: a component by name, `array<T>`, an inline
/// object with its fields, a scalar with its format and enum values; `?`
/// when nullable.
pub fn type_of(spec: &Value, schema: &Value) -> String {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
    {
        return name.to_string();
    }
    let mut ty = match schema.get("type").and_then(Value::as_str) {
        Some("array") => format!(
            "array<{}>",
            schema
                .get("items")
                .map_or("any".into(), |i| type_of(spec, i))
        ),
        Some("object") => {
            let inner = fields(spec, schema);
            if inner.is_empty() {
                "object".to_string()
            } else {
                format!("object {{{}}}", inner.join(", "))
            }
        }
        Some(scalar) => {
            let mut t = scalar.to_string();
            if let Some(format) = schema.get("format").and_then(Value::as_str) {
                let _ = write!(t, "({format})");
            }
            t
        }
        None => {
            let variants = ["allOf", "oneOf", "anyOf"].into_iter().find_map(|k| {
                schema
                    .get(k)
                    .and_then(Value::as_array)
                    .map(|v| (k, v.iter().map(|s| type_of(spec, s)).collect::<Vec<_>>()))
            });
            match variants {
                Some((k, v)) => format!("{k}[{}]", v.join(", ")),
                None => "any".to_string(),
            }
        }
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        let _ = write!(ty, " enum[{}]", values.join(", "));
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        ty.push('?');
    }
    ty
}

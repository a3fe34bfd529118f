//! Named repairs applied to the vendored OpenAPI spec before progenitor sees it.
//!
//! `build.rs` runs them (this crate is its build dependency) and the
//! integration tests exercise each one. They depend on `serde_json` only. Each repair is a small function with one line on why
//! progenitor needs it; a repair that no longer fits the spec returns a
//! [`RepairError`] naming itself and the JSON path, so a spec update fails
//! the build with a readable message rather than a backtrace.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::{METHODS, lookups::LOOKUPS};

/// A repair that could not be applied to the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairError {
    /// The name of the repair function.
    pub repair: &'static str,
    /// Where in the spec it failed (a JSON-pointer-like path).
    pub path: String,
    /// What was expected there.
    pub message: String,
}

impl std::fmt::Display for RepairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "spec repair `{}` failed at `{}`: {}. The vendored spec changed shape; \
             update crates/appex-spec/src/repairs.rs.",
            self.repair, self.path, self.message
        )
    }
}

impl std::error::Error for RepairError {}

type Result<T> = std::result::Result<T, RepairError>;

fn fail(repair: &'static str, path: impl Into<String>, message: impl Into<String>) -> RepairError {
    RepairError {
        repair,
        path: path.into(),
        message: message.into(),
    }
}

/// The common prefix of every export API path.
pub const API_PREFIX: &str = "/api/v1/analytics/exports";

/// Header parameters that are the transport's job, not the caller's.
const TRANSPORT_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

/// What a hoisted schema becomes in the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Progenitor generates the type (e.g. the export request the client sends).
    Generated,
    /// A hand-written lenient model in `src/models/` replaces it
    /// (`crate::models::<name>`); the drift guard compares the two.
    HandWritten,
}

/// One inline schema hoisted into `components/schemas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hoist {
    /// The operation's method (`""`: a pointer from the document root).
    pub method: &'static str,
    /// The operation's path after [`API_PREFIX`].
    pub path: &'static str,
    /// The JSON pointer inside the operation (or the document).
    pub pointer: &'static str,
    /// The component name it gets.
    pub name: Cow<'static, str>,
    /// Who writes the Rust type.
    pub model: Model,
}

const fn hoist(
    method: &'static str,
    path: &'static str,
    pointer: &'static str,
    name: &'static str,
    model: Model,
) -> Hoist {
    Hoist {
        method,
        path,
        pointer,
        name: Cow::Borrowed(name),
        model,
    }
}

/// The pointer of a `200` JSON answer's schema, plus a suffix.
macro_rules! ok_200 {
    ($suffix:literal) => {
        concat!("/responses/200/content/application~1json/schema", $suffix)
    };
}

use Model::{Generated, HandWritten};

/// Where each inline schema of the job and export operations (and the
/// shared error schema) is hoisted, the component name it gets, and whether
/// a hand-written model replaces it. The lookups' hoists are derived from
/// the lookup table ([`hoists`]).
pub const HOISTS: &[Hoist] = &[
    hoist(
        "get",
        "/jobs/{job_id}",
        ok_200!("/properties/presigned_urls/items"),
        "PresignedUrl",
        HandWritten,
    ),
    hoist(
        "get",
        "/jobs/{job_id}",
        ok_200!(""),
        "ExportJob",
        HandWritten,
    ),
    hoist(
        "get",
        "/jobs/",
        ok_200!("/items"),
        "ExportJobSummary",
        HandWritten,
    ),
    hoist(
        "post",
        "",
        "/requestBody/content/application~1json/schema/properties/format",
        "ExportFormat",
        Generated,
    ),
    hoist(
        "post",
        "",
        "/requestBody/content/application~1json/schema",
        "ExportRequest",
        Generated,
    ),
    hoist(
        "post",
        "",
        "/responses/201/content/application~1json/schema",
        "ExportCreated",
        HandWritten,
    ),
    hoist(
        "",
        "",
        "/components/schemas/ErrorResponse/properties/errors/items",
        "ErrorDetail",
        HandWritten,
    ),
];

/// Every hoist, in the order [`hoist_inline_schemas`] applies them:
/// [`HOISTS`], then each lookup's, derived from its row of
/// [`LOOKUPS`]: a plain lookup's item schema
/// becomes its model; a paginated one's page becomes `<Model>Page`, with
/// its items, metadata and cursor (`PageMetadata`, `PageCursor`, shared).
/// The one list: `build.rs` derives its replacements from it
/// ([`replacements`]).
pub fn hoists() -> Vec<Hoist> {
    let mut out = HOISTS.to_vec();
    for lookup in LOOKUPS {
        let mut add = |pointer: &'static str, name: Cow<'static, str>| {
            out.push(Hoist {
                method: "get",
                path: lookup.path,
                pointer,
                name,
                model: HandWritten,
            });
        };
        match lookup.page_model() {
            None => add(ok_200!("/items"), Cow::Borrowed(lookup.model)),
            Some(page) => {
                add(
                    ok_200!("/properties/data/items"),
                    Cow::Borrowed(lookup.model),
                );
                add(
                    ok_200!("/properties/metadata/properties/cursor"),
                    Cow::Borrowed("PageCursor"),
                );
                add(
                    ok_200!("/properties/metadata"),
                    Cow::Borrowed("PageMetadata"),
                );
                add(ok_200!(""), Cow::Owned(page));
            }
        }
    }
    out
}

/// Components the spec names itself that a hand-written model replaces.
pub const NAMED_REPLACEMENTS: &[&str] = &["ErrorResponse"];

/// Every component schema replaced by a hand-written model
/// (`crate::models::<name>`): [`NAMED_REPLACEMENTS`] and the hand-written
/// [`hoists`], each once, in that order.
pub fn replacements() -> Vec<String> {
    let hoisted = hoists()
        .into_iter()
        .filter(|h| h.model == HandWritten)
        .map(|h| h.name.into_owned());
    let mut names: Vec<String> = Vec::new();
    for name in NAMED_REPLACEMENTS
        .iter()
        .map(|n| n.to_string())
        .chain(hoisted)
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Operation ids for the operations Userpilot has today: names a user would pick.
const KNOWN_OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("post", "", "trigger_export"),
    ("get", "/jobs/", "list_jobs"),
    ("get", "/jobs/{job_id}", "get_job"),
];

/// Applies every repair in order. This is what `build.rs` runs.
pub fn repair_spec(spec: &mut Value) -> Result<()> {
    synthesize_operation_ids(spec)?;
    drop_transport_headers(spec)?;
    unify_error_responses(spec)?;
    declare_segments_cursor(spec)?;
    hoist_inline_schemas(spec)?;
    Ok(())
}

fn paths_mut<'a>(spec: &'a mut Value, repair: &'static str) -> Result<&'a mut Map<String, Value>> {
    spec.get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| fail(repair, "/paths", "expected an object of paths"))
}

/// Each path and its path item, which must be an object (anything else
/// fails the repair).
fn path_items_mut<'a>(
    paths: &'a mut Map<String, Value>,
    repair: &'static str,
) -> Result<Vec<(&'a String, &'a mut Map<String, Value>)>> {
    paths
        .iter_mut()
        .map(|(path, item)| match item.as_object_mut() {
            Some(item) => Ok((path, item)),
            None => Err(fail(
                repair,
                format!("/paths/{path}"),
                "expected a path item object",
            )),
        })
        .collect()
}

/// Strips [`API_PREFIX`] from a path, if present.
fn short_path(path: &str) -> &str {
    path.strip_prefix(API_PREFIX).unwrap_or(path)
}

/// The operation id for `method path` that the spec does not name itself.
///
/// Known operations get the names in `KNOWN_OPERATION_IDS`; a lookup
/// `/lookups/<kind>` is called `<kind>`; anything else is
/// `<method>_<segments>` with `{param}` read as `by_param`. Deterministic, so
/// a spec that adds a path changes no existing name.
pub fn operation_id_for(method: &str, path: &str) -> String {
    let short = short_path(path);
    if let Some((_, _, id)) = KNOWN_OPERATION_IDS
        .iter()
        .find(|(m, p, _)| *m == method && *p == short)
    {
        return (*id).to_string();
    }
    if let Some(kind) = short
        .strip_prefix("/lookups/")
        .filter(|k| method == "get" && !k.is_empty())
        && !kind.contains('/')
        && !kind.contains('{')
    {
        return snake(kind);
    }
    let mut parts = vec![method.to_string()];
    for seg in short.split('/').filter(|s| !s.is_empty()) {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => parts.push(format!("by_{}", snake(param))),
            None => parts.push(snake(seg)),
        }
    }
    if parts.len() == 1 {
        parts.push("root".to_string());
    }
    parts.join("_")
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// progenitor refuses a spec with no `operationId`; give each operation a
/// readable, stable one, and keep any id the spec provides.
pub fn synthesize_operation_ids(spec: &mut Value) -> Result<()> {
    const REPAIR: &str = "synthesize_operation_ids";
    let paths = paths_mut(spec, REPAIR)?;
    let mut taken: Vec<String> = Vec::new();
    // Upstream ids first, so a synthesized one never shadows them.
    for item in paths.values() {
        for method in METHODS {
            if let Some(id) = item
                .get(method)
                .and_then(|op| op.get("operationId"))
                .and_then(Value::as_str)
            {
                taken.push(id.to_string());
            }
        }
    }
    for (path, item) in path_items_mut(paths, REPAIR)? {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            if op.get("operationId").and_then(Value::as_str).is_some() {
                continue;
            }
            let base = operation_id_for(method, path);
            let mut id = base.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{base}_{n}");
                n += 1;
            }
            taken.push(id.clone());
            op.insert("operationId".into(), Value::String(id));
        }
    }
    Ok(())
}

/// `Accept`, `Content-Type` and `Authorization` are declared as parameters
/// and would become method arguments; the client sets them itself.
pub fn drop_transport_headers(spec: &mut Value) -> Result<()> {
    const REPAIR: &str = "drop_transport_headers";
    let components = spec.get("components").cloned().unwrap_or(Value::Null);
    let is_transport = |param: &Value| -> bool {
        let resolved = match param.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/components/parameters/")
                .and_then(|name| components.get("parameters").and_then(|p| p.get(name)))
                .unwrap_or(param),
            None => param,
        };
        resolved.get("in").and_then(Value::as_str) == Some("header")
            && resolved
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| TRANSPORT_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
    };
    let paths = paths_mut(spec, REPAIR)?;
    for (_, item) in path_items_mut(paths, REPAIR)? {
        if let Some(params) = item.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| !is_transport(p));
        }
        for method in METHODS {
            if let Some(params) = item
                .get_mut(method)
                .and_then(|op| op.get_mut("parameters"))
                .and_then(Value::as_array_mut)
            {
                params.retain(|p| !is_transport(p));
            }
        }
    }
    Ok(())
}

/// Inline 4xx schemas all get the name `{OpId}Response`, and the type
/// generator reuses the first type registered under a name (a 404 then
/// decodes as an empty job); point every error response at `ErrorResponse`
/// and give operations that declare none (the lookups) the same 401.
pub fn unify_error_responses(spec: &mut Value) -> Result<()> {
    const REPAIR: &str = "unify_error_responses";
    if spec.pointer("/components/schemas/ErrorResponse").is_none() {
        return Err(fail(
            REPAIR,
            "/components/schemas/ErrorResponse",
            "the shared error schema is missing",
        ));
    }
    let error_ref = json!({ "$ref": "#/components/schemas/ErrorResponse" });
    let paths = paths_mut(spec, REPAIR)?;
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| {
                    fail(
                        REPAIR,
                        format!("/paths/{path}/{method}/responses"),
                        "expected an object",
                    )
                })?;
            let has_error = responses.keys().any(|code| is_error_code(code));
            if !has_error {
                responses.insert(
                    "401".into(),
                    json!({ "description": "Unauthorized - Invalid API key" }),
                );
            }
            for (code, response) in responses.iter_mut() {
                if !is_error_code(code) {
                    continue;
                }
                let response = response.as_object_mut().ok_or_else(|| {
                    fail(
                        REPAIR,
                        format!("/paths/{path}/{method}/responses/{code}"),
                        "expected a response object",
                    )
                })?;
                response.insert(
                    "content".into(),
                    json!({ "application/json": { "schema": error_ref.clone() } }),
                );
            }
        }
    }
    Ok(())
}

fn is_error_code(code: &str) -> bool {
    code.starts_with('4') || code.starts_with('5')
}

/// `segments` pages through `after_cursor` exactly like `events_properties`,
/// but the spec declares the parameter only on the latter.
pub fn declare_segments_cursor(spec: &mut Value) -> Result<()> {
    const REPAIR: &str = "declare_segments_cursor";
    let path = format!("{API_PREFIX}/lookups/segments");
    let op = spec
        .get_mut("paths")
        .and_then(|p| p.get_mut(&path))
        .and_then(|item| item.get_mut("get"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            fail(
                REPAIR,
                format!("/paths/{path}/get"),
                "the segments lookup is missing",
            )
        })?;
    let params = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| {
            fail(
                REPAIR,
                format!("/paths/{path}/get/parameters"),
                "expected an array",
            )
        })?;
    let declared = params
        .iter()
        .any(|p| p.get("name").and_then(Value::as_str) == Some("after_cursor"));
    if !declared {
        params.push(json!({
            "name": "after_cursor",
            "in": "query",
            "required": false,
            "schema": { "type": "string" },
            "description": "Cursor for pagination. Use the value from the previous response's metadata.cursor.after."
        }));
    }
    Ok(())
}

/// Inline schemas get generated names like `GetJobResponse`; hoist each
/// into `components/schemas` under the name a reader understands, so the
/// types are `ExportJob`, `PresignedUrl`, … and can be replaced by the
/// hand-written lenient models.
pub fn hoist_inline_schemas(spec: &mut Value) -> Result<()> {
    const REPAIR: &str = "hoist_inline_schemas";
    for Hoist {
        method,
        path: short,
        pointer,
        name,
        ..
    } in hoists()
    {
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        let full_pointer = if method.is_empty() {
            pointer.to_string()
        } else {
            let path = format!("{API_PREFIX}{short}");
            format!("/paths/{}/{method}{pointer}", escape_pointer(&path))
        };
        let resolved = resolve_pointer(spec, &full_pointer);
        let Some(slot) = resolved.and_then(|p| spec.pointer_mut(&p)) else {
            return Err(fail(
                REPAIR,
                full_pointer,
                format!("no schema to hoist as `{name}`"),
            ));
        };
        if *slot == reference {
            continue; // Already a reference: nothing to do.
        }
        if slot.get("$ref").is_some() {
            // Upstream already names this schema; respect it.
            continue;
        }
        let schema = std::mem::replace(slot, reference);
        let schemas = spec
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| fail(REPAIR, "/components/schemas", "expected an object"))?;
        match schemas.get(name.as_ref()) {
            // The same shape hoisted twice (pagination metadata): share it.
            Some(existing) if *existing == schema => {}
            Some(_) => {
                return Err(fail(
                    REPAIR,
                    full_pointer,
                    format!("a different schema named `{name}` already exists in components"),
                ));
            }
            None => {
                schemas.insert(name.into_owned(), schema);
            }
        }
    }
    Ok(())
}

/// Turns a JSON pointer that may pass through local `$ref`s (an earlier
/// hoist) into the absolute pointer of the value it reaches.
fn resolve_pointer(spec: &Value, pointer: &str) -> Option<String> {
    let mut resolved = String::new();
    let mut node = spec;
    for token in pointer.split('/').skip(1) {
        // Follow a reference before stepping into it (at most a few hops).
        for _ in 0..8 {
            let Some(target) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
            else {
                break;
            };
            node = spec.pointer(target)?;
            resolved = target.to_string();
        }
        let key = token.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(map) => map.get(&key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
        resolved.push('/');
        resolved.push_str(token);
    }
    Some(resolved)
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

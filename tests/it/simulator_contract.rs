//! Every JSON answer of the simulator, checked against the vendored spec's
//! response schemas (`$ref`s inlined, `nullable` turned into a type union),
//! and lookup items checked against the keys and types of the spec's examples.
//!
//! Run: `cargo test --features simulator --test it -- simulator_contract::`.

#![cfg(feature = "simulator")]

use crate::support::{JOB_TEMPLATE, simulator::*};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use userpilot_appex::simulator::SimulatorConfig;

fn spec() -> Value {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/userpilot-appex-openapi.json"
    ))
    .expect("vendored spec is readable");
    serde_json::from_str(&raw).expect("vendored spec is JSON")
}

/// Inlines `$ref`s and converts OpenAPI 3.0 `nullable` to JSON Schema.
fn to_json_schema(spec: &Value, schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.strip_prefix('#').expect("local $ref");
                let target = spec.pointer(pointer).expect("$ref resolves");
                return to_json_schema(spec, target);
            }
            let mut out = Map::new();
            for (k, v) in map {
                if k == "nullable" || k == "example" {
                    continue;
                }
                out.insert(k.clone(), to_json_schema(spec, v));
            }
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type")
            {
                out.insert("type".into(), json!([t, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| to_json_schema(spec, v)).collect())
        }
        other => other.clone(),
    }
}

/// The spec's operation object for `method` on `path`.
fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &spec["paths"][path][method];
    assert!(op.is_object(), "spec has no {method} {path}");
    op
}

/// The JSON schema the spec declares for `status` of the operation, or the
/// spec's `ErrorResponse` for an error status it does not declare.
fn response_schema(spec: &Value, path: &str, method: &str, status: StatusCode) -> Value {
    let op = operation(spec, path, method);
    let declared = &op["responses"][status.as_str()]["content"]["application/json"]["schema"];
    if declared.is_object() {
        return to_json_schema(spec, declared);
    }
    assert!(
        !status.is_success(),
        "spec declares no JSON schema for {status} of {method} {path}"
    );
    to_json_schema(spec, &spec["components"]["schemas"]["ErrorResponse"])
}

fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not follow the spec: {errors:?}\n{instance}"
    );
}

/// Checks `answer` against the spec for `spec_path` and `method`.
fn check(spec: &Value, spec_path: &str, method: &str, answer: &Answer, expected: StatusCode) {
    assert_eq!(
        answer.status,
        expected,
        "{method} {spec_path}: {}",
        answer.text()
    );
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{method} {spec_path} answers JSON"
    );
    let schema = response_schema(spec, spec_path, method, answer.status);
    assert_valid(
        &schema,
        &answer.json(),
        &format!("{expected} of {method} {spec_path}"),
    );
}

/// Every key of `example` appears in `item` with the same JSON type
/// (recursively through objects and the first element of arrays).
fn assert_shaped_like(example: &Value, item: &Value, what: &str) {
    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    assert_eq!(kind(example), kind(item), "{what}: {item}");
    match (example, item) {
        (Value::Object(e), Value::Object(i)) => {
            for (k, ev) in e {
                let iv = i
                    .get(k)
                    .unwrap_or_else(|| panic!("{what} lacks `{k}`: {item}"));
                assert_shaped_like(ev, iv, &format!("{what}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(i)) => {
            if let Some(first) = e.first() {
                assert!(!i.is_empty(), "{what} is empty");
                for (n, iv) in i.iter().enumerate() {
                    assert_shaped_like(first, iv, &format!("{what}[{n}]"));
                }
            }
        }
        _ => {}
    }
}

fn spec_example<'a>(spec: &'a Value, path: &str) -> &'a Value {
    let ex =
        &operation(spec, path, "get")["responses"]["200"]["content"]["application/json"]["example"];
    assert!(!ex.is_null(), "spec has an example for {path}");
    ex
}

#[tokio::test]
async fn plain_lookups_follow_the_spec_schemas_and_examples() {
    let spec = spec();
    let sim = start(SimulatorConfig::default()).await;
    for name in plain_lookups() {
        let path = format!("{LOOKUPS}{name}");
        let a = get(&sim, &path).await;
        check(&spec, &path, "get", &a, StatusCode::OK);
        let items = a.json();
        let items = items.as_array().expect("array");
        assert!(items.len() >= 2, "{name} has plausible items");
        let example = &spec_example(&spec, &path)[0];
        for (i, item) in items.iter().enumerate() {
            assert_shaped_like(example, item, &format!("{name}[{i}]"));
        }
    }
}

#[tokio::test]
async fn paginated_lookups_follow_the_spec_on_every_page() {
    let spec = spec();
    let sim = start(SimulatorConfig::default().page_limit(40)).await;
    for name in ["segments", "events_properties"] {
        let path = format!("{LOOKUPS}{name}");
        let example = &spec_example(&spec, &path)["data"][0];
        let mut query = String::new();
        let mut pages = 0;
        loop {
            let a = get(&sim, &format!("{path}{query}")).await;
            check(&spec, &path, "get", &a, StatusCode::OK);
            let page = a.json();
            for (i, item) in page["data"].as_array().expect("data").iter().enumerate() {
                assert_shaped_like(example, item, &format!("{name} page {pages} [{i}]"));
            }
            pages += 1;
            match page["metadata"]["cursor"]["after"].as_str() {
                Some(after) => query = format!("?after_cursor={after}"),
                None => break,
            }
            assert!(pages < 10, "{name} ends");
        }
        assert!(pages >= 3, "{name} spans several pages, got {pages}");
    }
}

#[tokio::test]
async fn export_job_operations_follow_the_spec_in_every_state() {
    let spec = spec();
    let sim = start(manual_clock()).await;
    let jobs_path = JOBS;
    let job_path = JOB_TEMPLATE;

    let a = get(&sim, JOBS).await;
    check(&spec, jobs_path, "get", &a, StatusCode::OK);
    assert_eq!(a.json(), json!([]));

    let created = post_export(&sim, json!({"from": "2025-01-01", "to": "2025-01-03"})).await;
    check(&spec, EXPORTS, "post", &created, StatusCode::CREATED);
    let id = created.json()["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();

    let conflict = post(&sim, EXPORTS, json!({})).await;
    check(&spec, EXPORTS, "post", &conflict, StatusCode::CONFLICT);

    // pending, processing, completed
    for (advance_h, status) in [
        (0, "pending"),
        (1, "processing"),
        (2, "processing"),
        (2, "completed"),
    ] {
        sim.advance(std::time::Duration::from_secs(advance_h * 3600));
        let job = get(&sim, &format!("{JOBS}{id}")).await;
        check(&spec, job_path, "get", &job, StatusCode::OK);
        assert_eq!(job.json()["status"], status);
        let list = get(&sim, JOBS).await;
        check(&spec, jobs_path, "get", &list, StatusCode::OK);
        assert_eq!(list.json()[0]["status"], status);
    }

    let missing = get(&sim, &format!("{JOBS}00000000-0000-4000-8000-000000000000")).await;
    check(&spec, job_path, "get", &missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failed_job_follows_the_spec() {
    let spec = spec();
    let sim = start(manual_clock().fail_at_chunk(1)).await;
    let id = trigger(&sim, json!({"from": "2025-01-01", "to": "2025-01-03"})).await;
    sim.advance(std::time::Duration::from_secs(10 * 3600));
    let job = get(&sim, &format!("{JOBS}{id}")).await;
    check(&spec, JOB_TEMPLATE, "get", &job, StatusCode::OK);
    assert_eq!(job.json()["status"], "failed");
    let list = get(&sim, JOBS).await;
    check(&spec, JOBS, "get", &list, StatusCode::OK);
}

#[tokio::test]
async fn every_operation_answers_401_in_the_error_shape() {
    let spec = spec();
    let sim = start(SimulatorConfig::default()).await;
    let mut cases: Vec<(Method, String, String)> = vec![
        (Method::POST, EXPORTS.into(), EXPORTS.into()),
        (Method::GET, JOBS.into(), JOBS.into()),
        (Method::GET, format!("{JOBS}some-job"), JOB_TEMPLATE.into()),
    ];
    for name in all_lookups() {
        cases.push((
            Method::GET,
            format!("{LOOKUPS}{name}"),
            format!("{LOOKUPS}{name}"),
        ));
    }
    assert_eq!(cases.len(), 15);
    for (method, path, spec_path) in cases {
        let m = method.as_str().to_ascii_lowercase();
        for key in [None, Some("wrong-key")] {
            let body = (method == Method::POST).then(|| json!({}));
            let a = call(&sim, method.clone(), &path, key, body).await;
            check(&spec, &spec_path, &m, &a, StatusCode::UNAUTHORIZED);
            let err = &a.json()["errors"][0];
            assert_eq!(err["error_code"], "401");
            assert_eq!(err["message"], "Invalid API key");
        }
    }
}

#[tokio::test]
async fn bad_requests_and_faults_answer_in_the_error_shape() {
    let spec = spec();
    let sim = start(SimulatorConfig::default()).await;
    for body in [
        json!({"from": "yesterday"}),
        json!({"from": "2025-02-01", "to": "2025-01-01"}),
        json!({"format": "xml"}),
        json!({"event_type": "track"}),
    ] {
        let a = post(&sim, EXPORTS, body).await;
        check(&spec, EXPORTS, "post", &a, StatusCode::BAD_REQUEST);
    }
    let a = get(&sim, &format!("{LOOKUPS}segments?after_cursor=zzz")).await;
    check(
        &spec,
        &format!("{LOOKUPS}segments"),
        "get",
        &a,
        StatusCode::BAD_REQUEST,
    );

    let limited = start(SimulatorConfig::default().rate_limit_every(1, 3)).await;
    let a = get(&limited, JOBS).await;
    check(&spec, JOBS, "get", &a, StatusCode::TOO_MANY_REQUESTS);

    let failing = start(SimulatorConfig::default().server_error_rate(1.0)).await;
    let a = get(&failing, &format!("{LOOKUPS}flows")).await;
    check(
        &spec,
        &format!("{LOOKUPS}flows"),
        "get",
        &a,
        StatusCode::SERVICE_UNAVAILABLE,
    );
}

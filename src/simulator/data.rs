//! Deterministic data: exported events (the export file contract) and the
//! lookup collections.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::config::LookupSizes;
use crate::models::LookupKind;

/// The export file fields, in file order (the record readers' contract).
pub(crate) use crate::records::EXPORT_FIELDS as FIELDS;

const BACKEND_SOURCES: [&str; 4] = [
    "backend-http",
    "backend-hubspot",
    "backend-salesforce",
    "backend-segment",
];

/// One field value of an event.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    Int(i64),
    Json(Value),
}

impl FieldValue {
    /// The value as text (csv cell, parquet/avro string column).
    pub(crate) fn as_text(&self) -> String {
        match self {
            FieldValue::Str(s) => s.clone(),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Json(v) => v.to_string(),
        }
    }

    /// The value as JSON (ndjson).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::String(s.clone()),
            FieldValue::Int(i) => Value::from(*i),
            FieldValue::Json(v) => v.clone(),
        }
    }
}

/// One exported event: a value (or absent) per entry of [`FIELDS`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Event {
    pub values: [Option<FieldValue>; 20],
}

/// What an export asks for; the part that decides the file contents.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filters {
    pub event_types: Vec<String>,
    pub user_ids: Vec<String>,
    pub company_ids: Vec<String>,
}

/// A 64-bit seed derived from the simulator seed and some labels.
pub(crate) fn derive_seed(seed: u64, parts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let out = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&out[..8]);
    u64::from_le_bytes(b)
}

/// A UUID-shaped (version 4) id from a random source.
pub(crate) fn uuid_like(rng: &mut fastrand::Rng) -> String {
    let a = rng.u64(..);
    let b = rng.u64(..);
    let hi = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

const PAGES: [(&str, &str); 8] = [
    ("/dashboard", "Dashboard"),
    ("/reports", "Reports"),
    ("/settings", "Settings"),
    ("/settings/billing", "Billing"),
    ("/projects", "Projects"),
    ("/projects/new", "New project"),
    ("/onboarding", "Welcome"),
    ("/integrations", "Integrations"),
];

const DEVICES: [(&str, i64, i64, &str, &str, &str); 5] = [
    (
        "desktop",
        1920,
        1080,
        "Windows",
        "Chrome",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "desktop",
        1440,
        900,
        "Mac OS",
        "Safari",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    ),
    (
        "desktop",
        2560,
        1440,
        "Linux",
        "Firefox",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    (
        "mobile",
        390,
        844,
        "iOS",
        "Mobile Safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    ),
    (
        "tablet",
        820,
        1180,
        "Android",
        "Chrome",
        "Mozilla/5.0 (Linux; Android 14; Pixel Tablet) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
];

const LANGS: [(&str, &str); 6] = [
    ("en-US", "US"),
    ("en-GB", "GB"),
    ("de-DE", "DE"),
    ("fr-FR", "FR"),
    ("es-ES", "ES"),
    ("pt-BR", "BR"),
];

const TRACK_EVENTS: [&str; 6] = [
    "Clicked Upgrade",
    "Invited Teammate",
    "Created Project",
    "Exported Report",
    "Connected Integration",
    "Completed Checkout",
];

const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];

/// Entity types of `interaction` events, with the lookup ids they use.
const INTERACTIONS: [(&str, &[i64], &[&str]); 6] = [
    (
        "flow",
        &[123, 124, 125],
        &["SEEN", "STARTED", "COMPLETED", "DISMISSED"],
    ),
    ("checklist", &[2, 3], &["SEEN", "STARTED", "COMPLETED"]),
    ("survey", &[45, 46], &["SEEN", "SUBMITTED", "DISMISSED"]),
    ("spotlight", &[88, 89], &["SEEN", "CLICKED", "DISMISSED"]),
    ("banner", &[77, 78], &["SEEN", "CLICKED", "DISMISSED"]),
    ("resource_center", &[1, 2], &["OPENED", "CLICKED"]),
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn s(v: impl Into<String>) -> Option<FieldValue> {
    Some(FieldValue::Str(v.into()))
}

/// The events of one day, sorted by `inserted_at`, same for the same inputs.
pub(crate) fn day_events(
    seed: u64,
    app_token: &str,
    day: NaiveDate,
    count: usize,
    filters: &Filters,
) -> Vec<Event> {
    let day_text = day.to_string();
    let rng = fastrand::Rng::with_seed(derive_seed(
        seed,
        &[
            "events",
            &day_text,
            &filters.event_types.join(","),
            &filters.user_ids.join(","),
            &filters.company_ids.join(","),
        ],
    ));
    events_of_day(rng, app_token, day, count, filters)
}

/// Backdated events of one day (the `batch`th set configured for it):
/// like [`day_events`], from a seed of their own.
pub(crate) fn late_day_events(
    seed: u64,
    app_token: &str,
    day: NaiveDate,
    count: usize,
    batch: usize,
    filters: &Filters,
) -> Vec<Event> {
    let rng = fastrand::Rng::with_seed(derive_seed(
        seed,
        &[
            "late-events",
            &day.to_string(),
            &batch.to_string(),
            &filters.event_types.join(","),
            &filters.user_ids.join(","),
            &filters.company_ids.join(","),
        ],
    ));
    events_of_day(rng, app_token, day, count, filters)
}

/// `count` events spread over `day`, sorted by `inserted_at`, drawn from `rng`.
fn events_of_day(
    mut rng: fastrand::Rng,
    app_token: &str,
    day: NaiveDate,
    count: usize,
    filters: &Filters,
) -> Vec<Event> {
    let types: Vec<String> = if filters.event_types.is_empty() {
        crate::models::EventType::KNOWN
            .iter()
            .map(|t| t.as_str().to_string())
            .collect()
    } else {
        filters.event_types.clone()
    };
    let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let Some(start) = start else {
        return Vec::new();
    };
    let mut micros: Vec<i64> = (0..count).map(|_| rng.i64(0..86_400_000_000)).collect();
    micros.sort_unstable();
    micros
        .into_iter()
        .map(|offset| {
            let at = start + chrono::Duration::microseconds(offset);
            let event_type = pick(&mut rng, &types).clone();
            one_event(&mut rng, app_token, &event_type, at, filters)
        })
        .collect()
}

fn one_event(
    rng: &mut fastrand::Rng,
    app_token: &str,
    event_type: &str,
    at: DateTime<Utc>,
    filters: &Filters,
) -> Event {
    let user_n = rng.u32(1..=400);
    let user_id = if filters.user_ids.is_empty() {
        format!("user-{user_n:04}")
    } else {
        pick(rng, &filters.user_ids).clone()
    };
    let company_id = if filters.company_ids.is_empty() {
        format!("company-{:03}", user_n % 60 + 1)
    } else {
        pick(rng, &filters.company_ids).clone()
    };
    let backend =
        matches!(event_type, "identify_user" | "identify_company" | "track") && rng.u8(..100) < 35;
    let source = if backend {
        *pick(rng, &BACKEND_SOURCES)
    } else {
        "web-client"
    };
    let (event_name, metadata) = name_and_metadata(rng, event_type, &user_id, &company_id, at);
    let mut values: [Option<FieldValue>; 20] = Default::default();
    values[0] = s(app_token);
    values[1] = s(event_type);
    values[2] = s(event_name);
    values[3] = s(user_id);
    values[4] = if event_type == "identify_user" && rng.u8(..10) == 0 {
        None
    } else {
        s(company_id)
    };
    values[5] = s(source);
    values[6] = s(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    values[7] = s(uuid_like(rng));
    if !backend {
        let (device, w, h, os, browser, ua) = *pick(rng, &DEVICES);
        let (path, _) = *pick(rng, &PAGES);
        let (lang, country) = *pick(rng, &LANGS);
        values[8] = s("app.example.com");
        values[9] = s(path);
        values[10] = Some(FieldValue::Int(w));
        values[11] = Some(FieldValue::Int(h));
        values[12] = s(device);
        values[13] = s(ua);
        values[14] = s(os);
        values[15] = s(browser);
        values[16] = s(lang);
        values[17] = s(format!("sess-{:06}", user_n * 1000 + rng.u32(..1000)));
        values[18] = s(country);
    }
    values[19] = Some(FieldValue::Json(Value::Object(metadata)));
    Event { values }
}

fn name_and_metadata(
    rng: &mut fastrand::Rng,
    event_type: &str,
    user_id: &str,
    company_id: &str,
    at: DateTime<Utc>,
) -> (String, Map<String, Value>) {
    let m = match event_type {
        "identify_user" => json!({
            "email": format!("{user_id}@example.com"),
            "name": format!("User {}", user_id.trim_start_matches("user-")),
            "plan": pick(rng, &PLANS),
            "role": pick(rng, &["admin", "member", "viewer"]),
            "created_at": (at - chrono::Duration::days(rng.i64(1..700))).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }),
        "identify_company" => json!({
            "name": format!("Company {}", company_id.trim_start_matches("company-")),
            "plan": pick(rng, &PLANS),
            "employees": rng.u32(2..5000),
            "industry": pick(rng, &["saas", "fintech", "retail", "health", "education"]),
        }),
        "interaction" => {
            let (entity, ids, statuses) = *pick(rng, &INTERACTIONS);
            let id = *pick(rng, ids);
            let status = *pick(rng, statuses);
            let mut m = json!({
                "entity_type": entity,
                "entity_id": id,
                "status": status,
            });
            if entity == "flow" {
                m["step"] = json!(rng.u8(1..6));
                m["flow_version"] = json!(rng.u8(1..4));
            }
            if entity == "survey" && status == "SUBMITTED" {
                m["score"] = json!(rng.u8(1..11));
            }
            return (format!("{entity}:{id}:{status}"), as_map(m));
        }
        "track" => {
            let name = *pick(rng, &TRACK_EVENTS);
            let m = json!({
                "plan": pick(rng, &PLANS),
                "value": rng.u32(1..500),
                "currency": "USD",
            });
            return (name.to_string(), as_map(m));
        }
        "track_feature" => {
            let n = rng.u8(1..13);
            let m = json!({
                "feature_name": format!("Feature {n}"),
                "element": pick(rng, &["button", "link", "tab", "menu_item"]),
            });
            return (format!("feature_{n}"), as_map(m));
        }
        "page_view" => {
            let (path, title) = *pick(rng, &PAGES);
            json!({
                "title": title,
                "url": format!("https://app.example.com{path}"),
                "referrer": pick(rng, &["", "https://www.google.com/", "https://app.example.com/dashboard"]),
            })
        }
        "session_start" => json!({
            "landing_page": pick(rng, &PAGES).0,
            "utm_source": pick(rng, &["", "newsletter", "google", "linkedin"]),
        }),
        _ => json!({ "note": "simulated event of a type the simulator does not model" }),
    };
    (String::new(), as_map(m))
}

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

// --- lookups ---

/// The items of a plain lookup; a lookup with no sample data has none.
pub(crate) fn plain_lookup(kind: LookupKind) -> Value {
    match kind {
        LookupKind::UserProperties => json!([
            {"id": 1, "type": "user_property", "key": "email", "display_name": "Email", "data_type": "string", "is_auto_property": false},
            {"id": 2, "type": "user_property", "key": "name", "display_name": "Name", "data_type": "string", "is_auto_property": false},
            {"id": 3, "type": "user_property", "key": "created_at", "display_name": "Signed up", "data_type": "date", "is_auto_property": false},
            {"id": 4, "type": "user_property", "key": "plan", "display_name": "Plan", "data_type": "string", "is_auto_property": false},
            {"id": 5, "type": "user_property", "key": "browser", "display_name": "Browser", "data_type": "string", "is_auto_property": true},
            {"id": 6, "type": "user_property", "key": "country_code", "display_name": "Country", "data_type": "string", "is_auto_property": true}
        ]),
        LookupKind::CompanyProperties => json!([
            {"id": 10, "type": "company_property", "key": "company_name", "display_name": "Company Name", "data_type": "string", "is_auto_property": false},
            {"id": 11, "type": "company_property", "key": "plan", "display_name": "Plan", "data_type": "string", "is_auto_property": false},
            {"id": 12, "type": "company_property", "key": "employees", "display_name": "Employees", "data_type": "numeric", "is_auto_property": false},
            {"id": 13, "type": "company_property", "key": "created_at", "display_name": "Created", "data_type": "date", "is_auto_property": true}
        ]),
        LookupKind::FeaturesEvents => {
            let mut items: Vec<Value> = (1..=12)
                .map(|n| json!({"display_name": format!("Feature {n}"), "key": format!("feature_{n}"), "data_type": "string"}))
                .collect();
            items.extend(TRACK_EVENTS.iter().map(|e| {
                json!({"display_name": e, "key": e.to_lowercase().replace(' ', "_"), "data_type": "string"})
            }));
            Value::Array(items)
        }
        LookupKind::Flows => json!([
            {"id": 123, "title": "Onboarding Flow"},
            {"id": 124, "title": "Upgrade Flow"},
            {"id": 125, "title": "What's New"}
        ]),
        LookupKind::Banners => json!([
            {"id": 77, "title": "Promo Banner"},
            {"id": 78, "title": "Maintenance Notice"}
        ]),
        LookupKind::Embeds => json!([
            {"id": 77, "title": "Promo Banner", "type": "banner"},
            {"id": 78, "title": "Maintenance Notice", "type": "banner"},
            {"id": 92, "title": "Feature Card", "type": "card"},
            {"id": 93, "title": "Tips Card", "type": "card"}
        ]),
        LookupKind::Spotlights => json!([
            {"id": 88, "title": "New Feature Spotlight"},
            {"id": 89, "title": "Keyboard Shortcuts"}
        ]),
        LookupKind::Surveys => json!([
            {"id": 45, "title": "CSAT Survey", "platform": "web", "modules": [
                {"id": 1, "order": 1, "type": "open_text", "question": "How was it?"},
                {"id": 2, "order": 2, "type": "rating", "question": "How likely are you to recommend us?"}
            ]},
            {"id": 46, "title": "NPS Survey", "platform": "web", "modules": [
                {"id": 3, "order": 1, "type": "nps", "question": "How likely are you to recommend us to a friend?"}
            ]}
        ]),
        LookupKind::ResourceCenterModules => json!([
            {"display_name": "Knowledge Base", "key": "knowledge_base", "data_type": "string"},
            {"display_name": "Contact Support", "key": "contact_support", "data_type": "string"},
            {"display_name": "Product Tours", "key": "product_tours", "data_type": "string"}
        ]),
        LookupKind::Checklists => json!([
            {"id": 2, "display_name": "Getting Started", "key": "checklist_2", "data_type": "string", "tasks": [
                {"id": 1, "order": 1, "title": "Create a project"},
                {"id": 2, "order": 2, "title": "Invite a teammate"}
            ]},
            {"id": 3, "display_name": "Admin Setup", "key": "checklist_3", "data_type": "string", "tasks": [
                {"id": 3, "order": 1, "title": "Connect billing"}
            ]}
        ]),
        _ => json!([]),
    }
}

/// The sample data of a paginated lookup: its cursors' prefix, how many
/// items it holds, and item number `i`. A paginated lookup with no sample
/// data pages through no items.
pub(crate) fn paged_lookup(
    kind: LookupKind,
    sizes: &LookupSizes,
) -> (&'static str, usize, fn(usize) -> Value) {
    match kind {
        LookupKind::Segments => ("seg", sizes.segments, segment),
        LookupKind::EventsProperties => ("evp", sizes.event_properties, event_property),
        other => (other.name(), 0, |_| Value::Null),
    }
}

const SEGMENT_NAMES: [&str; 8] = [
    "Active Users",
    "Trial Users",
    "Churn Risk",
    "Power Users",
    "New Signups",
    "Enterprise Accounts",
    "Mobile Users",
    "Dormant Users",
];

/// Segment number `i` (0-based) of the `segments` lookup.
pub(crate) fn segment(i: usize) -> Value {
    json!({
        "id": 101 + i,
        "title": format!("{} {}", SEGMENT_NAMES[i % SEGMENT_NAMES.len()], i / SEGMENT_NAMES.len() + 1),
        "usage": if i.is_multiple_of(3) { "all" } else { "analytics" },
        "category": if i.is_multiple_of(4) { "company_id" } else { "user_id" },
        "is_hidden": i % 11 == 10,
        "is_protected": i.is_multiple_of(7),
        "status": if i % 9 == 8 { "draft" } else { "published" },
    })
}

const PROPERTY_KEYS: [(&str, &str, &str); 6] = [
    ("url", "URL", "Page URL"),
    ("title", "Title", "Page title"),
    ("plan", "Plan", "Plan at the time of the event"),
    ("value", "Value", "Numeric value sent with the event"),
    ("element", "Element", "Clicked element"),
    ("referrer", "Referrer", "Referring page"),
];

/// Event property number `i` (0-based) of the `events_properties` lookup.
pub(crate) fn event_property(i: usize) -> Value {
    let (key, name, description) = PROPERTY_KEYS[i % PROPERTY_KEYS.len()];
    let round = i / PROPERTY_KEYS.len();
    let auto = i.is_multiple_of(2);
    let event = if round < TRACK_EVENTS.len() {
        TRACK_EVENTS[round].to_string()
    } else {
        format!("custom_event_{round}")
    };
    let day = 1 + (i % 28);
    json!({
        "id": 12 + i,
        "key": if round == 0 { key.to_string() } else { format!("{key}_{round}") },
        "display_name": if round == 0 { name.to_string() } else { format!("{name} {round}") },
        "is_auto_property": auto,
        "is_mobile_auto_property": false,
        "data_type": if key == "value" { "numeric" } else { "string" },
        "category": if auto { "css_attribute" } else { "event_attribute" },
        "description": description,
        "is_archived": i % 13 == 12,
        "event": {"id": 33 + round, "display_name": event},
        "inserted_at": format!("2025-01-{day:02}T00:00:00Z"),
        "last_seen": format!("2025-02-{day:02}T12:00:00Z"),
    })
}

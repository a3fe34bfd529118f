//! The exported event model: one row of an export file, whatever its format.

use std::{borrow::Cow, fmt};

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use serde_json::{Map, Value};

/// The exported fields, in the order CSV headers and parquet/avro schemas
/// list them (the export file contract).
///
/// ```
/// use userpilot_appex::ext::records::EXPORT_FIELDS;
/// assert_eq!(EXPORT_FIELDS[0], "app_token");
/// assert_eq!(EXPORT_FIELDS[19], "metadata");
/// ```
pub const EXPORT_FIELDS: [&str; 20] = [
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

/// Defines an open string enum: known values, an `Unknown(String)` arm, the
/// wire form, case-insensitive parsing, serde and JSON Schema.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $schema_desc:literal,
        $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in the order the contract lists them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            /// Case-insensitive and trimmed; anything else is kept in `Unknown`.
            fn from(s: &str) -> Self {
                let t = s.trim();
                $( if t.eq_ignore_ascii_case($wire) { return $name::$variant; } )+
                $name::Unknown(s.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from(crate::models::lenient::string(d)?.as_str()))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "description": $schema_desc,
                    "examples": [$($wire),+]
                })
            }
        }
    };
}

open_enum! {
    /// The kind of an exported event (`event_type`). Open: a value this crate
    /// does not know is kept in [`EventKind::Unknown`].
    ///
    /// ```
    /// use userpilot_appex::ext::records::EventKind;
    /// assert_eq!(EventKind::from("page_view"), EventKind::PageView);
    /// assert_eq!(EventKind::from("nps_answer"), EventKind::Unknown("nps_answer".into()));
    /// ```
    EventKind,
    "Exported event type; known values are listed in examples, others may appear.",
    /// `identify_user`.
    IdentifyUser => "identify_user",
    /// `identify_company`.
    IdentifyCompany => "identify_company",
    /// `interaction`: `event_name` is `{entity_type}:{entity_id}:{status}`.
    Interaction => "interaction",
    /// `track`: `event_name` is the tracked event's name.
    Track => "track",
    /// `track_feature`: `event_name` is the feature id.
    TrackFeature => "track_feature",
    /// `page_view`.
    PageView => "page_view",
    /// `session_start`.
    SessionStart => "session_start",
}

open_enum! {
    /// Where an exported event came from (`source`). Open: a value this crate
    /// does not know is kept in [`EventSource::Unknown`].
    ///
    /// ```
    /// use userpilot_appex::ext::records::EventSource;
    /// assert_eq!(EventSource::from("web-client"), EventSource::WebClient);
    /// assert_eq!(EventSource::WebClient.as_str(), "web-client");
    /// ```
    EventSource,
    "Exported event source; known values are listed in examples, others may appear.",
    /// `web-client`: the Userpilot JavaScript SDK.
    WebClient => "web-client",
    /// `backend-http`: the HTTP API.
    BackendHttp => "backend-http",
    /// `backend-hubspot`: the HubSpot integration.
    BackendHubspot => "backend-hubspot",
    /// `backend-salesforce`: the Salesforce integration.
    BackendSalesforce => "backend-salesforce",
    /// `backend-segment`: the Segment integration.
    BackendSegment => "backend-segment",
}

/// One exported event, as read from any export file format.
///
/// Every field is optional (an empty string reads as absent); unknown fields
/// are kept in [`extra`](Self::extra). Serialized, it is one line of the
/// ndjson contract: `inserted_at` is written `2025-01-10T12:34:56.123456Z`,
/// absent fields are left out.
///
/// ```
/// use userpilot_appex::ext::records::{EventKind, ExportedEvent};
///
/// let line = r#"{"event_type":"interaction","event_name":"checklist:2:SEEN",
///   "inserted_at":"2025-01-10 12:34:56.123456","screen_width":"1920","metadata":{"a":1}}"#;
/// let event: ExportedEvent = serde_json::from_str(line).unwrap();
/// assert_eq!(event.event_type, Some(EventKind::Interaction));
/// assert_eq!(event.screen_width, Some(1920));
/// assert_eq!(event.interaction().unwrap().status, "SEEN");
/// assert_eq!(
///     event.inserted_at.unwrap().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
///     "2025-01-10T12:34:56.123456Z"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ExportedEvent {
    /// The environment's app token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_token: Option<String>,
    /// The kind of event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventKind>,
    /// Depends on the kind: `{entity_type}:{entity_id}:{status}` for
    /// interactions (see [`ExportedEvent::interaction`]), the feature id for
    /// `track_feature`, the event name for `track`, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The company's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// Where the event came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    /// When Userpilot stored the event, UTC, to the microsecond.
    #[serde(
        default,
        serialize_with = "serialize_micros",
        skip_serializing_if = "Option::is_none"
    )]
    pub inserted_at: Option<DateTime<Utc>>,
    /// Userpilot's id for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_event_id: Option<String>,
    /// Page host name (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Page path (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pathname: Option<String>,
    /// Screen width in pixels (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_width: Option<i64>,
    /// Screen height in pixels (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_height: Option<i64>,
    /// Device type (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// User agent (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Operating system (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    /// Browser (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Browser language (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_language: Option<String>,
    /// Session id (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Country code (auto-captured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Event-specific data, normally a JSON object. In CSV, parquet and avro
    /// files it is JSON text, parsed here; text that is not JSON is kept as a
    /// JSON string. `Null` when absent.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    /// Fields this crate does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn serialize_micros<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_micros(t)),
        None => s.serialize_none(),
    }
}

/// Formats a date-time the way export files write it:
/// `2025-01-10T12:34:56.123456Z`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use userpilot_appex::ext::records::format_micros;
/// let t = Utc.with_ymd_and_hms(2025, 1, 10, 12, 34, 56).unwrap();
/// assert_eq!(format_micros(&t), "2025-01-10T12:34:56.000000Z");
/// ```
pub fn format_micros(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses an `inserted_at` value: RFC 3339 (`…Z` or an offset, converted to
/// UTC), or a naive `YYYY-MM-DD HH:MM:SS[.ffffff]` (also with `T`) read as
/// UTC. Precision beyond microseconds is truncated.
///
/// ```
/// use userpilot_appex::ext::records::parse_inserted_at;
/// let a = parse_inserted_at("2025-01-10T12:34:56.123456Z").unwrap();
/// let b = parse_inserted_at("2025-01-10 12:34:56.123456").unwrap();
/// let c = parse_inserted_at("2025-01-10T14:34:56.123456+02:00").unwrap();
/// assert!(a == b && b == c);
/// assert!(parse_inserted_at("yesterday").is_none());
/// ```
pub fn parse_inserted_at(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else {
        [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f UTC",
            "%Y-%m-%d %H:%M:%S%.fZ",
        ]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())?
        .and_utc()
    };
    Some(t.trunc_subsecs(6))
}

/// An interaction's `event_name` split into its parts
/// (`{entity_type}:{entity_id}:{status}`, e.g. `checklist:2:SEEN`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Interaction {
    /// What was interacted with (`checklist`, `flow`, `survey`…).
    pub entity_type: String,
    /// Its id; may itself contain `:`.
    pub entity_id: String,
    /// What happened (`SEEN`, `COMPLETED`…), as written.
    pub status: String,
}

impl Interaction {
    /// Splits `entity_type:entity_id:status` at the first and last `:`;
    /// `None` unless all three parts are non-empty.
    ///
    /// ```
    /// use userpilot_appex::ext::records::Interaction;
    /// let i = Interaction::parse("flow:a:b:COMPLETED").unwrap();
    /// assert_eq!((i.entity_type.as_str(), i.entity_id.as_str(), i.status.as_str()),
    ///            ("flow", "a:b", "COMPLETED"));
    /// assert!(Interaction::parse("checklist:SEEN").is_none());
    /// ```
    pub fn parse(event_name: &str) -> Option<Self> {
        let (entity_type, rest) = event_name.trim().split_once(':')?;
        let (entity_id, status) = rest.rsplit_once(':')?;
        if entity_type.is_empty() || entity_id.is_empty() || status.is_empty() {
            return None;
        }
        Some(Interaction {
            entity_type: entity_type.to_string(),
            entity_id: entity_id.to_string(),
            status: status.to_string(),
        })
    }
}

impl ExportedEvent {
    /// For an `interaction` event, its `event_name` split into entity type,
    /// id and status; `None` for other kinds or a name of another shape.
    ///
    /// ```
    /// use userpilot_appex::ext::records::{EventKind, ExportedEvent};
    /// let event = ExportedEvent {
    ///     event_type: Some(EventKind::Interaction),
    ///     event_name: Some("checklist:2:SEEN".into()),
    ///     ..Default::default()
    /// };
    /// let parts = event.interaction().unwrap();
    /// assert_eq!((parts.entity_type.as_str(), parts.entity_id.as_str()), ("checklist", "2"));
    /// ```
    pub fn interaction(&self) -> Option<Interaction> {
        match self.event_type {
            Some(EventKind::Interaction) => self.event_name.as_deref().and_then(Interaction::parse),
            _ => None,
        }
    }

    /// Builds an event from a JSON object (an ndjson line, or the cells of a
    /// CSV/parquet/avro row). Strings are kept as sent, empty strings read
    /// as absent, numbers and booleans in text fields read as their text;
    /// unknown keys go to [`extra`](Self::extra).
    ///
    /// Fails on an `inserted_at` that is not a date-time, a screen size that
    /// is not an integer, or an object/array where text is expected.
    ///
    /// ```
    /// use userpilot_appex::ext::records::ExportedEvent;
    /// let map = serde_json::json!({"user_id": 42, "plan": "pro"});
    /// let event = ExportedEvent::from_json_map(map.as_object().unwrap().clone()).unwrap();
    /// assert_eq!(event.user_id.as_deref(), Some("42"));
    /// assert_eq!(event.extra["plan"], "pro");
    /// ```
    pub fn from_json_map(mut map: Map<String, Value>) -> Result<Self, String> {
        let mut text = |key: &str| -> Result<Option<String>, String> {
            match map.remove(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(other) => Err(format!(
                    "{key} should be text, found {}",
                    excerpt(&other.to_string())
                )),
            }
        };
        let app_token = text("app_token")?;
        let event_type = text("event_type")?.map(|s| EventKind::from(s.as_str()));
        let event_name = text("event_name")?;
        let user_id = text("user_id")?;
        let company_id = text("company_id")?;
        let source = text("source")?.map(|s| EventSource::from(s.as_str()));
        let inserted_at = match text("inserted_at")? {
            None => None,
            Some(s) => Some(
                parse_inserted_at(&s)
                    .ok_or_else(|| format!("inserted_at {:?} is not a date-time", excerpt(&s)))?,
            ),
        };
        let internal_event_id = text("internal_event_id")?;
        let hostname = text("hostname")?;
        let pathname = text("pathname")?;
        let device_type = text("device_type")?;
        let user_agent = text("user_agent")?;
        let operating_system = text("operating_system")?;
        let browser = text("browser")?;
        let browser_language = text("browser_language")?;
        let session = text("session")?;
        let country_code = text("country_code")?;
        let screen_width = integer("screen_width", map.remove("screen_width"))?;
        let screen_height = integer("screen_height", map.remove("screen_height"))?;
        let metadata = map.remove("metadata").unwrap_or(Value::Null);
        Ok(ExportedEvent {
            app_token,
            event_type,
            event_name,
            user_id,
            company_id,
            source,
            inserted_at,
            internal_event_id,
            hostname,
            pathname,
            screen_width,
            screen_height,
            device_type,
            user_agent,
            operating_system,
            browser,
            browser_language,
            session,
            country_code,
            metadata,
            extra: map,
        })
    }
}

/// An integer field: a JSON integer, an integral float, or a string holding one.
fn integer(key: &str, v: Option<Value>) -> Result<Option<i64>, String> {
    let bad = |v: &dyn fmt::Display| {
        format!(
            "{key} should be an integer, found {}",
            excerpt(&v.to_string())
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| bad(&n)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| bad(&format!("{s:?}")))
        }
        Some(other) => Err(bad(&other)),
    }
}

/// The first 80 characters of a value, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// Turns a text cell (CSV, parquet or avro string) into the JSON value the
/// event model reads: `metadata` is parsed as JSON text (kept as a string if
/// it is not JSON), everything else stays a string.
pub(crate) fn text_cell(name: &str, cell: String) -> Value {
    if name == "metadata" {
        match serde_json::from_str::<Value>(&cell) {
            Ok(v) => v,
            Err(_) => Value::String(cell),
        }
    } else {
        Value::String(cell)
    }
}

impl<'de> Deserialize<'de> for ExportedEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        ExportedEvent::from_json_map(map).map_err(D::Error::custom)
    }
}

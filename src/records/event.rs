//! The exported event model: one row of an export file, whatever its format.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use serde_json::{Map, Value};

/// The exported fields, in the order CSV headers and parquet/avro schemas
/// list them (the export file contract).
///
/// ```
/// use userpilot_appex::records::EXPORT_FIELDS;
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

pub use crate::models::{EventSource, EventType};

/// What an export field holds, which decides how every format maps it.
///
/// ```
/// use userpilot_appex::records::{EXPORT_FIELD_KINDS, FieldKind};
/// assert_eq!(EXPORT_FIELD_KINDS[6], FieldKind::Timestamp); // inserted_at
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// Text from a small open set of values (`event_type`, `source`).
    Label,
    /// A UTC date-time to the microsecond.
    Timestamp,
    /// A whole number.
    Integer,
    /// A JSON value (written as JSON text by the text and columnar formats).
    Json,
}

/// The kind of each of [`EXPORT_FIELDS`], index for index.
pub const EXPORT_FIELD_KINDS: [FieldKind; EXPORT_FIELDS.len()] = {
    use FieldKind::*;
    [
        Text, Label, Text, Text, Text, Label, Timestamp, Text, Text, Text, Integer, Integer, Text,
        Text, Text, Text, Text, Text, Text, Json,
    ]
};

/// One field's value, borrowed from an [`ExportedEvent`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Absent.
    Null,
    /// A [`FieldKind::Text`] or [`FieldKind::Label`] value.
    Text(&'a str),
    /// A [`FieldKind::Timestamp`] value.
    Timestamp(DateTime<Utc>),
    /// A [`FieldKind::Integer`] value.
    Integer(i64),
    /// A [`FieldKind::Json`] value (never `Null`: that is [`Cell::Null`]).
    Json(&'a Value),
}

/// One exported event, as read from any export file format.
///
/// Every field is optional (an empty string reads as absent); unknown fields
/// are kept in [`extra`](Self::extra). Serialized, it is one line of the
/// ndjson contract: `inserted_at` is written `2025-01-10T12:34:56.123456Z`,
/// absent fields are left out.
///
/// ```
/// use userpilot_appex::records::{EventType, ExportedEvent};
///
/// let line = r#"{"event_type":"interaction","event_name":"checklist:2:SEEN",
///   "inserted_at":"2025-01-10 12:34:56.123456","screen_width":"1920","metadata":{"a":1}}"#;
/// let event: ExportedEvent = serde_json::from_str(line).unwrap();
/// assert_eq!(event.event_type, Some(EventType::Interaction));
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
    pub event_type: Option<EventType>,
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
/// use userpilot_appex::records::format_micros;
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
/// use userpilot_appex::records::parse_inserted_at;
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
    /// use userpilot_appex::records::Interaction;
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
    /// The values of the export fields, index for index with
    /// [`EXPORT_FIELDS`].
    ///
    /// ```
    /// use userpilot_appex::records::{Cell, ExportedEvent};
    /// let event = ExportedEvent { screen_width: Some(1920), ..Default::default() };
    /// assert_eq!(event.cells()[10], Cell::Integer(1920));
    /// assert_eq!(event.cells()[0], Cell::Null);
    /// ```
    pub fn cells(&self) -> [Cell<'_>; EXPORT_FIELDS.len()] {
        fn text(v: &Option<String>) -> Cell<'_> {
            v.as_deref().map_or(Cell::Null, Cell::Text)
        }
        [
            text(&self.app_token),
            self.event_type
                .as_ref()
                .map_or(Cell::Null, |t| Cell::Text(t.as_str())),
            text(&self.event_name),
            text(&self.user_id),
            text(&self.company_id),
            self.source
                .as_ref()
                .map_or(Cell::Null, |s| Cell::Text(s.as_str())),
            self.inserted_at.map_or(Cell::Null, Cell::Timestamp),
            text(&self.internal_event_id),
            text(&self.hostname),
            text(&self.pathname),
            self.screen_width.map_or(Cell::Null, Cell::Integer),
            self.screen_height.map_or(Cell::Null, Cell::Integer),
            text(&self.device_type),
            text(&self.user_agent),
            text(&self.operating_system),
            text(&self.browser),
            text(&self.browser_language),
            text(&self.session),
            text(&self.country_code),
            if self.metadata.is_null() {
                Cell::Null
            } else {
                Cell::Json(&self.metadata)
            },
        ]
    }

    /// For an `interaction` event, its `event_name` split into entity type,
    /// id and status; `None` for other kinds or a name of another shape.
    ///
    /// ```
    /// use userpilot_appex::records::{EventType, ExportedEvent};
    /// let event = ExportedEvent {
    ///     event_type: Some(EventType::Interaction),
    ///     event_name: Some("checklist:2:SEEN".into()),
    ///     ..Default::default()
    /// };
    /// let parts = event.interaction().unwrap();
    /// assert_eq!((parts.entity_type.as_str(), parts.entity_id.as_str()), ("checklist", "2"));
    /// ```
    pub fn interaction(&self) -> Option<Interaction> {
        match self.event_type {
            Some(EventType::Interaction) => self.event_name.as_deref().and_then(Interaction::parse),
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
    /// use userpilot_appex::records::ExportedEvent;
    /// let map = serde_json::json!({"user_id": 42, "plan": "pro"});
    /// let event = ExportedEvent::from_json_map(map.as_object().unwrap().clone()).unwrap();
    /// assert_eq!(event.user_id.as_deref(), Some("42"));
    /// assert_eq!(event.extra["plan"], "pro");
    /// ```
    pub fn from_json_map(mut map: Map<String, Value>) -> Result<Self, String> {
        let fields = EXPORT_FIELDS.map(|key| map.remove(key));
        from_json_fields(fields, map)
    }
}

/// The event whose known fields are `fields` (`fields[i]` the value of
/// [`EXPORT_FIELDS`]`[i]`) and whose other fields are `extra`: what
/// [`ExportedEvent::from_json_map`] reads once it has taken the known
/// fields out of the object.
pub(crate) fn from_json_fields(
    fields: [Option<Value>; EXPORT_FIELDS.len()],
    extra: Map<String, Value>,
) -> Result<ExportedEvent, String> {
    let [
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
    ] = fields;
    let text = |key: &str, value: Option<Value>| -> Result<Option<String>, String> {
        match value {
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
    let app_token = text("app_token", app_token)?;
    let event_type = text("event_type", event_type)?.map(|s| EventType::from(s.as_str()));
    let event_name = text("event_name", event_name)?;
    let user_id = text("user_id", user_id)?;
    let company_id = text("company_id", company_id)?;
    let source = text("source", source)?.map(|s| EventSource::from(s.as_str()));
    let inserted_at = match text("inserted_at", inserted_at)? {
        None => None,
        Some(s) => Some(
            parse_inserted_at(&s)
                .ok_or_else(|| format!("inserted_at {:?} is not a date-time", excerpt(&s)))?,
        ),
    };
    let internal_event_id = text("internal_event_id", internal_event_id)?;
    let hostname = text("hostname", hostname)?;
    let pathname = text("pathname", pathname)?;
    let device_type = text("device_type", device_type)?;
    let user_agent = text("user_agent", user_agent)?;
    let operating_system = text("operating_system", operating_system)?;
    let browser = text("browser", browser)?;
    let browser_language = text("browser_language", browser_language)?;
    let session = text("session", session)?;
    let country_code = text("country_code", country_code)?;
    let screen_width = integer("screen_width", screen_width)?;
    let screen_height = integer("screen_height", screen_height)?;
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
        metadata: metadata.unwrap_or(Value::Null),
        extra,
    })
}

/// The index of a field in [`EXPORT_FIELDS`].
pub(crate) fn field_index(name: &str) -> Option<usize> {
    EXPORT_FIELDS.iter().position(|f| *f == name)
}

/// The text cells of one row of a text format (CSV), by field: `fields[i]`
/// holds the cell of [`EXPORT_FIELDS`]`[i]`, `extra` the cells of other
/// columns. Reads exactly as [`ExportedEvent::from_json_map`] reads the
/// object of those cells as JSON strings (and `metadata` through
/// [`text_cell`]), without building that object first.
pub(crate) fn from_text_fields(
    fields: [Option<String>; EXPORT_FIELDS.len()],
    extra: Map<String, Value>,
) -> Result<ExportedEvent, String> {
    let [
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
    ] = fields.map(|f| f.filter(|s| !s.is_empty()));
    let inserted_at = match inserted_at {
        None => None,
        Some(s) => Some(
            parse_inserted_at(&s)
                .ok_or_else(|| format!("inserted_at {:?} is not a date-time", excerpt(&s)))?,
        ),
    };
    let screen_width = integer("screen_width", screen_width.map(Value::String))?;
    let screen_height = integer("screen_height", screen_height.map(Value::String))?;
    Ok(ExportedEvent {
        app_token,
        event_type: event_type.map(|s| EventType::from(s.as_str())),
        event_name,
        user_id,
        company_id,
        source: source.map(|s| EventSource::from(s.as_str())),
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
        metadata: metadata.map_or(Value::Null, |m| text_cell("metadata", m)),
        extra,
    })
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
    crate::error::shorten(s, 80)
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

//! The exported event model: one row of an export file, whatever its
//! format, declared once in [`export_fields!`]'s table.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::{Map, Value};

use super::field::{Cell, FieldKind, FieldValue, JsonSlot, json_text};
use crate::models::{EventSource, EventType};

/// Declares the export fields once: from the table come [`ExportedEvent`]'s
/// fields, [`EXPORT_FIELDS`], [`EXPORT_FIELD_KINDS`], [`ExportedEvent::cells`]
/// and the decoders every reader uses ([`set_json_fields`],
/// [`set_text_fields`]); the formats' schemas (Arrow, the parquet and avro
/// export contracts) are made from [`EXPORT_FIELD_KINDS`]. A field's Rust
/// type decides its kind and decoder ([`FieldValue`]).
macro_rules! export_fields {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty, )+) => {
        /// One exported event, as read from any export file format.
        ///
        /// Every field is optional (an empty string reads as absent); unknown
        /// fields are kept in [`extra`](Self::extra). Serialized, it is one
        /// line of the ndjson contract: `inserted_at` is written
        /// `2025-01-10T12:34:56.123456Z`, absent fields are left out.
        ///
        /// ```
        /// use userpilot_appex::{models::EventType, records::ExportedEvent};
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
            $(
                $(#[$doc])*
                #[serde(
                    default,
                    serialize_with = "FieldValue::write",
                    skip_serializing_if = "FieldValue::is_absent"
                )]
                pub $name: $ty,
            )+
            /// Fields this crate does not know, kept as sent.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        /// The exported fields, in the order CSV headers and parquet/avro
        /// schemas list them (the export file contract).
        ///
        /// ```
        /// use userpilot_appex::records::EXPORT_FIELDS;
        /// assert_eq!(EXPORT_FIELDS[0], "app_token");
        /// assert_eq!(EXPORT_FIELDS[19], "metadata");
        /// ```
        pub const EXPORT_FIELDS: [&str; [$(stringify!($name)),+].len()] =
            [$(stringify!($name)),+];

        /// The kind of each of [`EXPORT_FIELDS`], index for index.
        pub const EXPORT_FIELD_KINDS: [FieldKind; EXPORT_FIELDS.len()] =
            [$(<$ty as FieldValue>::KIND),+];

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
                [$(self.$name.cell()),+]
            }
        }

        /// Sets `event` to the event whose known fields are `fields`
        /// (`fields[i]` the value of [`EXPORT_FIELDS`]`[i]`) and whose other
        /// fields are `extra`, reusing the buffers `event` holds: what
        /// [`ExportedEvent::from_json_map`] reads once it has taken the
        /// known fields out of the object. On an error `event` is partly
        /// set and must not be used.
        pub(crate) fn set_json_fields<'a, S: Into<JsonSlot<'a>>>(
            event: &mut ExportedEvent,
            fields: [Option<S>; EXPORT_FIELDS.len()],
            extra: Map<String, Value>,
        ) -> Result<(), String> {
            let [$($name),+] = fields;
            $(event.$name.set_from_slot(stringify!($name), $name.map(Into::into))?;)+
            event.extra = extra;
            Ok(())
        }

        /// Sets `event` from the text cells of one row of a text format
        /// (CSV), by field: `fields[i]` holds the cell of
        /// [`EXPORT_FIELDS`]`[i]`, `extra` the cells of other columns. Reads
        /// exactly as [`ExportedEvent::from_json_map`] reads the object of
        /// those cells as JSON strings (a [`FieldKind::Json`] cell as JSON
        /// text), without building that object first, reusing the buffers
        /// `event` holds. On an error `event` is partly set and must not be
        /// used.
        pub(crate) fn set_text_fields(
            event: &mut ExportedEvent,
            fields: [Option<&str>; EXPORT_FIELDS.len()],
            extra: Map<String, Value>,
        ) -> Result<(), String> {
            let [$($name),+] = fields.map(|f| f.filter(|s| !s.is_empty()));
            $(event.$name.set_from_text(stringify!($name), $name)?;)+
            event.extra = extra;
            Ok(())
        }
    };
}

// The table. Source: Userpilot's documented export event fields, in the
// export's order (the Analytics Export API documentation's event schema,
// "Exported event fields"; the drift guard in `crates/appex-spec` holds the
// documented list and compares it with this one).
export_fields! {
    /// The environment's app token.
    app_token: Option<String>,
    /// The kind of event.
    event_type: Option<EventType>,
    /// Depends on the kind: `{entity_type}:{entity_id}:{status}` for
    /// interactions (see [`ExportedEvent::interaction`]), the feature id for
    /// `track_feature`, the event name for `track`, absent otherwise.
    event_name: Option<String>,
    /// The user's id.
    user_id: Option<String>,
    /// The company's id.
    company_id: Option<String>,
    /// Where the event came from.
    source: Option<EventSource>,
    /// When Userpilot stored the event, UTC, to the microsecond.
    inserted_at: Option<DateTime<Utc>>,
    /// Userpilot's id for the event: a deterministic hash of the event, the
    /// dedupe key (see [`ExportedEvent::dedupe_key`]).
    internal_event_id: Option<String>,
    /// Page host name (auto-captured).
    hostname: Option<String>,
    /// Page path (auto-captured).
    pathname: Option<String>,
    /// Screen width in pixels (auto-captured).
    screen_width: Option<i64>,
    /// Screen height in pixels (auto-captured).
    screen_height: Option<i64>,
    /// Device type (auto-captured).
    device_type: Option<String>,
    /// User agent (auto-captured).
    user_agent: Option<String>,
    /// Operating system (auto-captured).
    operating_system: Option<String>,
    /// Browser (auto-captured).
    browser: Option<String>,
    /// Browser language (auto-captured).
    browser_language: Option<String>,
    /// Session id (auto-captured).
    session: Option<String>,
    /// Country code (auto-captured).
    country_code: Option<String>,
    /// Event-specific data, normally a JSON object. In CSV, parquet and avro
    /// files it is JSON text, parsed here; text that is not JSON is kept as a
    /// JSON string. `Null` when absent.
    metadata: Value,
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
        let [entity_type, entity_id, status] = interaction_parts(event_name)?;
        Some(Interaction {
            entity_type: entity_type.to_string(),
            entity_id: entity_id.to_string(),
            status: status.to_string(),
        })
    }
}

/// [`Interaction::parse`]'s split, borrowed: entity type, id, status.
fn interaction_parts(event_name: &str) -> Option<[&str; 3]> {
    let (entity_type, rest) = event_name.trim().split_once(':')?;
    let (entity_id, status) = rest.rsplit_once(':')?;
    if entity_type.is_empty() || entity_id.is_empty() || status.is_empty() {
        return None;
    }
    Some([entity_type, entity_id, status])
}

impl ExportedEvent {
    /// For an `interaction` event, its `event_name` split into entity type,
    /// id and status; `None` for other kinds or a name of another shape.
    ///
    /// ```
    /// use userpilot_appex::{models::EventType, records::ExportedEvent};
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

    /// [`interaction`](Self::interaction)'s parts, borrowed from the event.
    #[cfg_attr(not(feature = "arrow"), allow(dead_code))]
    pub(crate) fn interaction_parts(&self) -> Option<[&str; 3]> {
        match self.event_type {
            Some(EventType::Interaction) => self.event_name.as_deref().and_then(interaction_parts),
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
/// [`EXPORT_FIELDS`]`[i]`) and whose other fields are `extra`
/// ([`set_json_fields`] into a new event).
pub(crate) fn from_json_fields<'a, S: Into<JsonSlot<'a>>>(
    fields: [Option<S>; EXPORT_FIELDS.len()],
    extra: Map<String, Value>,
) -> Result<ExportedEvent, String> {
    let mut event = ExportedEvent::default();
    set_json_fields(&mut event, fields, extra)?;
    Ok(event)
}

/// The index of a field in [`EXPORT_FIELDS`].
pub(crate) fn field_index(name: &str) -> Option<usize> {
    EXPORT_FIELDS.iter().position(|f| *f == name)
}

/// Turns a text cell (CSV, parquet or avro string) into the JSON value the
/// event model reads: a [`FieldKind::Json`] field's cell is parsed as JSON
/// text (kept as a string if it is not JSON), everything else stays a
/// string.
#[cfg_attr(not(any(feature = "parquet", feature = "avro")), allow(dead_code))]
pub(crate) fn text_cell(name: &str, cell: String) -> Value {
    match field_index(name).map(|i| EXPORT_FIELD_KINDS[i]) {
        Some(FieldKind::Json) => json_text(&cell),
        _ => Value::String(cell),
    }
}

impl<'de> Deserialize<'de> for ExportedEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        ExportedEvent::from_json_map(map).map_err(D::Error::custom)
    }
}

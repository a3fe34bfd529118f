//! Lookup models: the resources exported events refer to (properties,
//! segments, features, flows, surveys…), and the page of the two
//! cursor-paginated lookups.
//!
//! # Decoding rules
//!
//! The spec types every lookup item as a bare `object`; these models are
//! shaped from its examples and decoded leniently, so nothing Userpilot adds
//! or changes breaks a whole response:
//!
//! - every field is optional; a missing field or `null` reads as `None`
//!   (lists: empty);
//! - ids and other integers are `i64`, also read from numeric strings
//!   (`"42"`); flags are `bool`, also read from `"true"`/`"false"`/`1`/`0`;
//! - `inserted_at`/`last_seen` are [`DateTime<Utc>`], read from RFC 3339 or
//!   `YYYY-MM-DD HH:MM:SS[.f]` (as UTC);
//! - **a value that does not fit its typed field** (an id that is not an
//!   integer, a date that does not parse, a list that is not a list) is not
//!   dropped and does not fail the response: the field reads as `None` and
//!   the value stays in the model's `extra` map under its own key, exactly as
//!   sent, so it serializes back unchanged;
//! - every server enum is open: a value this crate does not know is kept in
//!   its `Unknown(String)` arm;
//! - fields this crate does not know are kept in `extra` and serialized back.
//!
//! Models deserialize from a JSON object (the hand-written `Deserialize`
//! takes each typed field out of the object when it fits and keeps the
//! rest); `Serialize` and [`JsonSchema`] are derived from the fields.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::lenient::{as_bool, as_datetime, as_i64, as_object, as_string, take, take_vec};
use super::open_enum::open_enum;

/// Reads a JSON object (the only shape a lookup item may have).
fn object<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Object(map) => Ok(map),
        other => Err(serde::de::Error::custom(format_args!(
            "expected a JSON object for {what}, found {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Implements `Deserialize` for a model by taking its typed fields out of the
/// JSON object; what is left becomes `extra`.
macro_rules! from_object {
    ($ty:ident, |$map:ident| $body:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[allow(unused_mut)]
                let mut $map = object(d, stringify!($ty))?;
                Ok($body)
            }
        }
    };
}

open_enum! {
    /// What a property belongs to (the `type` of a user or company property).
    PropertyKind {
        /// `user_property`.
        UserProperty = "user_property",
        /// `company_property`.
        CompanyProperty = "company_property",
    }
}

open_enum! {
    /// The data type of a property, feature or module (`data_type`).
    DataType {
        /// `string`.
        String = "string",
        /// `number`.
        Number = "number",
        /// `boolean`.
        Boolean = "boolean",
        /// `date`.
        Date = "date",
    }
}

open_enum! {
    /// What a segment groups (`category`): users or companies.
    SegmentCategory {
        /// `user_id`: a segment of users.
        UserId = "user_id",
        /// `company_id`: a segment of companies.
        CompanyId = "company_id",
    }
}

open_enum! {
    /// A segment's publication state (`status`).
    SegmentStatus {
        /// `published`.
        Published = "published",
        /// `draft`.
        Draft = "draft",
    }
}

open_enum! {
    /// The platform a survey runs on (`platform`).
    Platform {
        /// `web`.
        Web = "web",
        /// `mobile`.
        Mobile = "mobile",
    }
}

open_enum! {
    /// The kind of an embed (`type`): a banner or a card.
    EmbedKind {
        /// `banner`.
        Banner = "banner",
        /// `card`.
        Card = "card",
    }
}

open_enum! {
    /// The kind of a survey question (`type` of a survey module).
    SurveyModuleKind {
        /// `open_text`: a free-text answer.
        OpenText = "open_text",
        /// `nps`: a Net Promoter Score scale.
        Nps = "nps",
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// A user or company property available for export
/// (`lookups/user_properties`, `lookups/company_properties`).
///
/// ```
/// use userpilot_appex::models::{DataType, Property, PropertyKind};
///
/// let p: Property = serde_json::from_str(
///     r#"{"id": "1", "type": "user_property", "key": "email", "data_type": "string", "is_auto_property": false}"#,
/// )?;
/// assert_eq!(p.id, Some(1));
/// assert_eq!(p.kind, Some(PropertyKind::UserProperty));
/// assert_eq!(p.data_type, Some(DataType::String));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Property {
    /// The property's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Whose property it is (`type`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<PropertyKind>,
    /// The key, as used in exported data (e.g. `email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The name shown in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The value's data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Whether Userpilot captures it automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_auto_property: Option<bool>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Property, |m| Property {
    id: take(&mut m, "id", as_i64),
    kind: take(&mut m, "type", as_string).map(PropertyKind::from),
    key: take(&mut m, "key", as_string),
    display_name: take(&mut m, "display_name", as_string),
    data_type: take(&mut m, "data_type", as_string).map(DataType::from),
    is_auto_property: take(&mut m, "is_auto_property", as_bool),
    extra: m,
});

/// A user property (`lookups/user_properties`).
pub type UserProperty = Property;
/// A company property (`lookups/company_properties`).
pub type CompanyProperty = Property;

// ---------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------

/// A segment (`lookups/segments`, paginated).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Segment {
    /// The segment's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The segment's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where the segment may be used (e.g. `all`); meaning undocumented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// What the segment groups: users or companies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<SegmentCategory>,
    /// Whether it is hidden in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_hidden: Option<bool>,
    /// Whether it is protected from edits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_protected: Option<bool>,
    /// Its publication state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SegmentStatus>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Segment, |m| Segment {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    usage: take(&mut m, "usage", as_string),
    category: take(&mut m, "category", as_string).map(SegmentCategory::from),
    is_hidden: take(&mut m, "is_hidden", as_bool),
    is_protected: take(&mut m, "is_protected", as_bool),
    status: take(&mut m, "status", as_string).map(SegmentStatus::from),
    extra: m,
});

// ---------------------------------------------------------------------------
// Features & events, event properties
// ---------------------------------------------------------------------------

/// A feature or tracked event (`lookups/features_events`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct FeatureEvent {
    /// The feature's id (a `track_feature` event's `event_name`), when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The name shown in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(FeatureEvent, |m| FeatureEvent {
    id: take(&mut m, "id", as_i64),
    key: take(&mut m, "key", as_string),
    display_name: take(&mut m, "display_name", as_string),
    data_type: take(&mut m, "data_type", as_string).map(DataType::from),
    extra: m,
});

/// The event an [`EventProperty`] belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct EventRef {
    /// The event's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The event's name (e.g. `page_view`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(EventRef, |m| EventRef {
    id: take(&mut m, "id", as_i64),
    display_name: take(&mut m, "display_name", as_string),
    extra: m,
});

/// A property or attribute of a trackable event (`lookups/events_properties`,
/// paginated).
///
/// ```
/// use userpilot_appex::models::EventProperty;
///
/// let p: EventProperty = serde_json::from_str(
///     r#"{"id": 12, "key": "url", "event": {"id": 33, "display_name": "page_view"},
///         "inserted_at": "2025-01-01T00:00:00Z", "last_seen": "yesterday"}"#,
/// )?;
/// assert_eq!(p.event.and_then(|e| e.display_name).as_deref(), Some("page_view"));
/// assert!(p.inserted_at.is_some());
/// // A date that does not parse is kept as sent, not lost:
/// assert_eq!(p.last_seen, None);
/// assert_eq!(p.extra["last_seen"], "yesterday");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct EventProperty {
    /// The property's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The key (e.g. `url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The name shown in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether Userpilot captures it automatically on the web.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_auto_property: Option<bool>,
    /// Whether Userpilot captures it automatically on mobile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mobile_auto_property: Option<bool>,
    /// The data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// The category (e.g. `css_attribute`); an open set, kept as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it is archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// The event it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRef>,
    /// When Userpilot first recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inserted_at: Option<DateTime<Utc>>,
    /// When Userpilot last saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field (e.g. an unparseable date), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(EventProperty, |m| EventProperty {
    id: take(&mut m, "id", as_i64),
    key: take(&mut m, "key", as_string),
    display_name: take(&mut m, "display_name", as_string),
    is_auto_property: take(&mut m, "is_auto_property", as_bool),
    is_mobile_auto_property: take(&mut m, "is_mobile_auto_property", as_bool),
    data_type: take(&mut m, "data_type", as_string).map(DataType::from),
    category: take(&mut m, "category", as_string),
    description: take(&mut m, "description", as_string),
    is_archived: take(&mut m, "is_archived", as_bool),
    event: take(&mut m, "event", as_object::<EventRef>),
    inserted_at: take(&mut m, "inserted_at", as_datetime),
    last_seen: take(&mut m, "last_seen", as_datetime),
    extra: m,
});

// ---------------------------------------------------------------------------
// Experiences: flows, banners, spotlights, embeds
// ---------------------------------------------------------------------------

/// An experience identified by id and title: a flow (`lookups/flows`), a
/// banner (`lookups/banners`) or a spotlight (`lookups/spotlights`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Experience {
    /// The experience's id (the `entity_id` of its interaction events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Experience, |m| Experience {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    extra: m,
});

/// A flow (`lookups/flows`).
pub type Flow = Experience;
/// A banner (`lookups/banners`).
pub type Banner = Experience;
/// A spotlight (`lookups/spotlights`).
pub type Spotlight = Experience;

/// An embed: a banner or a card (`lookups/embeds`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Embed {
    /// The embed's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Banner or card (`type`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<EmbedKind>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Embed, |m| Embed {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    kind: take(&mut m, "type", as_string).map(EmbedKind::from),
    extra: m,
});

// ---------------------------------------------------------------------------
// Surveys
// ---------------------------------------------------------------------------

/// A survey with its questions (`lookups/surveys`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Survey {
    /// The survey's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The platform it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Its questions, in the order sent (`null` reads as empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<SurveyModule>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Survey, |m| Survey {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    platform: take(&mut m, "platform", as_string).map(Platform::from),
    modules: take_vec(&mut m, "modules"),
    extra: m,
});

impl Survey {
    /// The module (question) with this id.
    pub fn module(&self, id: i64) -> Option<&SurveyModule> {
        self.modules.iter().find(|m| m.id == Some(id))
    }
}

/// One question of a [`Survey`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct SurveyModule {
    /// The module's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its position in the survey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// The kind of question (`type`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<SurveyModuleKind>,
    /// The question asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(SurveyModule, |m| SurveyModule {
    id: take(&mut m, "id", as_i64),
    order: take(&mut m, "order", as_i64),
    kind: take(&mut m, "type", as_string).map(SurveyModuleKind::from),
    question: take(&mut m, "question", as_string),
    extra: m,
});

// ---------------------------------------------------------------------------
// Resource center modules, checklists
// ---------------------------------------------------------------------------

/// A resource center module (`lookups/resource_center_modules`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ResourceCenterModule {
    /// The module's id, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The name shown in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(ResourceCenterModule, |m| ResourceCenterModule {
    id: take(&mut m, "id", as_i64),
    key: take(&mut m, "key", as_string),
    display_name: take(&mut m, "display_name", as_string),
    data_type: take(&mut m, "data_type", as_string).map(DataType::from),
    extra: m,
});

/// A checklist with its tasks (`lookups/checklists`).
///
/// The spec's example shows only `display_name`, `key` and `data_type`;
/// `id`, `title` and `tasks` are read when sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Checklist {
    /// The checklist's id (the `entity_id` of its interaction events), when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its title, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The name shown in Userpilot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Its tasks, in the order sent (`null` reads as empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<ChecklistTask>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(Checklist, |m| Checklist {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    key: take(&mut m, "key", as_string),
    display_name: take(&mut m, "display_name", as_string),
    data_type: take(&mut m, "data_type", as_string).map(DataType::from),
    tasks: take_vec(&mut m, "tasks"),
    extra: m,
});

impl Checklist {
    /// The name to show: `display_name`, else `title`, else `key`.
    pub fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.title.as_deref())
            .or(self.key.as_deref())
    }
}

/// One task of a [`Checklist`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ChecklistTask {
    /// The task's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its position in the checklist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

from_object!(ChecklistTask, |m| ChecklistTask {
    id: take(&mut m, "id", as_i64),
    title: take(&mut m, "title", as_string),
    order: take(&mut m, "order", as_i64),
    extra: m,
});

// ---------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------

/// The cursors of a page (`metadata.cursor`).
#[derive(Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PageCursor {
    /// The cursor of the next page; `null` (or empty) on the last page.
    pub after: Option<String>,
    /// The cursor of the previous page.
    pub before: Option<String>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Serialize for PageCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field("after", &self.after, self.after.is_none())?;
        out.field("before", &self.before, self.before.is_none())?;
        out.end()
    }
}

from_object!(PageCursor, |m| PageCursor {
    after: take(&mut m, "after", as_string),
    before: take(&mut m, "before", as_string),
    extra: m,
});

/// A page's `metadata`: its cursors, page size and the total count.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct PageMetadata {
    /// The cursors (`null` or missing reads as no cursor).
    pub cursor: PageCursor,
    /// The page size the server used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many items exist in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Serialize for PageMetadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field("cursor", &self.cursor, self.cursor == PageCursor::default())?;
        if let Some(limit) = &self.limit {
            out.field("limit", limit, false)?;
        }
        if let Some(total) = &self.total_count {
            out.field("total_count", total, false)?;
        }
        out.end()
    }
}

from_object!(PageMetadata, |m| PageMetadata {
    cursor: take(&mut m, "cursor", as_object::<PageCursor>).unwrap_or_default(),
    limit: take(&mut m, "limit", as_i64),
    total_count: take(&mut m, "total_count", as_i64),
    extra: m,
});

/// One page of a cursor-paginated lookup: `{data: [...], metadata: {...}}`.
///
/// `data: null` reads as an empty page; missing or `null` metadata as no
/// cursor (the last page). To walk every page, see
/// [`Paginator`](crate::ext::pagination::Paginator).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Page<T> {
    /// The items of this page, in server order.
    pub data: Vec<T>,
    /// The cursors, page size and total count.
    pub metadata: PageMetadata,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = object(d, "Page")?;
        // Items are decoded one by one so one odd item names itself in the
        // error instead of failing silently into `extra`.
        let data = match m.remove("data") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| serde::de::Error::custom(format_args!("data[{i}]: {e}")))
                })
                .collect::<Result<_, D::Error>>()?,
            Some(other) => {
                return Err(serde::de::Error::custom(format_args!(
                    "expected `data` to be a list, found {}",
                    kind_of(&other)
                )));
            }
        };
        Ok(Page {
            data,
            metadata: take(&mut m, "metadata", as_object::<PageMetadata>).unwrap_or_default(),
            extra: m,
        })
    }
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field("data", &self.data, self.data.is_empty())?;
        out.field(
            "metadata",
            &self.metadata,
            self.metadata == PageMetadata::default(),
        )?;
        out.end()
    }
}

/// Writes a model whose typed fields are always written (so `null` cursors
/// show) next to its `extra` map, never naming a key twice: a value that did
/// not fit its typed field is kept in `extra` under the field's own name, and
/// then it is written as sent in place of the empty typed field.
struct ObjectWriter<'a, M> {
    map: M,
    extra: &'a Map<String, Value>,
    written: Vec<&'static str>,
}

impl<'a, M: serde::ser::SerializeMap> ObjectWriter<'a, M> {
    fn new<S: Serializer<SerializeMap = M>>(
        s: S,
        extra: &'a Map<String, Value>,
    ) -> Result<Self, S::Error> {
        Ok(ObjectWriter {
            map: s.serialize_map(None)?,
            extra,
            written: Vec::new(),
        })
    }

    /// Writes a typed field, unless it is `empty` and `extra` holds a value
    /// under its name.
    fn field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
        empty: bool,
    ) -> Result<(), M::Error> {
        if empty && self.extra.contains_key(key) {
            return Ok(());
        }
        self.written.push(key);
        self.map.serialize_entry(key, value)
    }

    /// Writes `extra` (minus the keys written already) and ends the object.
    fn end(mut self) -> Result<M::Ok, M::Error> {
        for (k, v) in self.extra {
            if !self.written.contains(&k.as_str()) {
                self.map.serialize_entry(k, v)?;
            }
        }
        self.map.end()
    }
}

impl<T> Page<T> {
    /// The cursor of the next page, or `None` on the last page (a `null`,
    /// missing or empty `metadata.cursor.after`).
    pub fn after_cursor(&self) -> Option<&str> {
        self.metadata
            .cursor
            .after
            .as_deref()
            .filter(|c| !c.trim().is_empty())
    }

    /// How many items exist in total, as the server counts them.
    pub fn total_count(&self) -> Option<i64> {
        self.metadata.total_count
    }

    /// The page size the server used.
    pub fn limit(&self) -> Option<i64> {
        self.metadata.limit
    }

    /// `true` when the page holds no items.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of items on this page.
    pub fn len(&self) -> usize {
        self.data.len()
    }
}

/// A page of segments (`lookups/segments`).
pub type SegmentPage = Page<Segment>;
/// A page of event properties (`lookups/events_properties`).
pub type EventPropertyPage = Page<EventProperty>;

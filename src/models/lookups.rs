//! Lookup models: the resources exported events refer to (properties,
//! segments, features, flows, surveys…). The page of the two paginated
//! lookups is in [`super::page`].
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
//! Models deserialize from a JSON object straight from the input, by the
//! rules of [`super::lenient`]; `Serialize` and `JsonSchema` are derived
//! from the fields.

use chrono::{DateTime, Utc};

use super::{lenient::lenient_model, open_enum::open_enum};

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

// The item type of each lookup that shares a model with another.

/// A user property (`lookups/user_properties`).
pub type UserProperty = Property;
/// A company property (`lookups/company_properties`).
pub type CompanyProperty = Property;
/// A feature or tracked event (`lookups/features_events`).
pub type FeatureEvent = KeyedItem;
/// A resource center module (`lookups/resource_center_modules`).
pub type ResourceCenterModule = KeyedItem;
/// A flow (`lookups/flows`).
pub type Flow = Experience;
/// A banner (`lookups/banners`).
pub type Banner = Experience;
/// A spotlight (`lookups/spotlights`).
pub type Spotlight = Experience;

lenient_model! {
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
    pub struct Property {
        /// The property's id.
        id: Option<i64>,
        /// Whose property it is (`type`).
        kind: Option<PropertyKind> = "type",
        /// The key, as used in exported data (e.g. `email`).
        key: Option<String>,
        /// The name shown in Userpilot.
        display_name: Option<String>,
        /// The value's data type.
        data_type: Option<DataType>,
        /// Whether Userpilot captures it automatically.
        is_auto_property: Option<bool>,
    }
}

lenient_model! {
    /// A segment (`lookups/segments`, paginated).
    pub struct Segment {
        /// The segment's id.
        id: Option<i64>,
        /// The segment's title.
        title: Option<String>,
        /// Where the segment may be used (e.g. `all`); meaning undocumented.
        usage: Option<String>,
        /// What the segment groups: users or companies.
        category: Option<SegmentCategory>,
        /// Whether it is hidden in Userpilot.
        is_hidden: Option<bool>,
        /// Whether it is protected from edits.
        is_protected: Option<bool>,
        /// Its publication state.
        status: Option<SegmentStatus>,
    }
}

lenient_model! {
    /// An item identified by its key, with a display name and a data type: a
    /// feature or tracked event (`lookups/features_events`) or a resource center
    /// module (`lookups/resource_center_modules`).
    pub struct KeyedItem {
        /// The item's id, when sent (for a feature: a `track_feature` event's
        /// `event_name`).
        id: Option<i64>,
        /// The key.
        key: Option<String>,
        /// The name shown in Userpilot.
        display_name: Option<String>,
        /// The data type.
        data_type: Option<DataType>,
    }
}

lenient_model! {
    /// The event an [`EventProperty`] belongs to.
    pub struct EventRef {
        /// The event's id.
        id: Option<i64>,
        /// The event's name (e.g. `page_view`).
        display_name: Option<String>,
    }
}

lenient_model! {
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
    pub struct EventProperty {
        /// The property's id.
        id: Option<i64>,
        /// The key (e.g. `url`).
        key: Option<String>,
        /// The name shown in Userpilot.
        display_name: Option<String>,
        /// Whether Userpilot captures it automatically on the web.
        is_auto_property: Option<bool>,
        /// Whether Userpilot captures it automatically on mobile.
        is_mobile_auto_property: Option<bool>,
        /// The data type.
        data_type: Option<DataType>,
        /// The category (e.g. `css_attribute`); an open set, kept as text.
        category: Option<String>,
        /// A description.
        description: Option<String>,
        /// Whether it is archived.
        is_archived: Option<bool>,
        /// The event it belongs to.
        event: Option<EventRef>,
        /// When Userpilot first recorded it.
        inserted_at: Option<DateTime<Utc>>,
        /// When Userpilot last saw it.
        last_seen: Option<DateTime<Utc>>,
    }
}

lenient_model! {
    /// An experience identified by id and title: a flow (`lookups/flows`), a
    /// banner (`lookups/banners`) or a spotlight (`lookups/spotlights`).
    pub struct Experience {
        /// The experience's id (the `entity_id` of its interaction events).
        id: Option<i64>,
        /// Its title.
        title: Option<String>,
    }
}

lenient_model! {
    /// An embed: a banner or a card (`lookups/embeds`).
    pub struct Embed {
        /// The embed's id.
        id: Option<i64>,
        /// Its title.
        title: Option<String>,
        /// Banner or card (`type`).
        kind: Option<EmbedKind> = "type",
    }
}

lenient_model! {
    /// A survey with its questions (`lookups/surveys`).
    pub struct Survey {
        /// The survey's id.
        id: Option<i64>,
        /// Its title.
        title: Option<String>,
        /// The platform it runs on.
        platform: Option<Platform>,
        /// Its questions, in the order sent (`null` reads as empty).
        modules: Vec<SurveyModule>,
    }
}

impl Survey {
    /// The module (question) with this id.
    pub fn module(&self, id: i64) -> Option<&SurveyModule> {
        self.modules.iter().find(|m| m.id == Some(id))
    }
}

lenient_model! {
    /// One question of a [`Survey`].
    pub struct SurveyModule {
        /// The module's id.
        id: Option<i64>,
        /// Its position in the survey.
        order: Option<i64>,
        /// The kind of question (`type`).
        kind: Option<SurveyModuleKind> = "type",
        /// The question asked.
        question: Option<String>,
    }
}

lenient_model! {
    /// A checklist with its tasks (`lookups/checklists`).
    ///
    /// The spec's example shows only `display_name`, `key` and `data_type`;
    /// `id`, `title` and `tasks` are read when sent.
    pub struct Checklist {
        /// The checklist's id (the `entity_id` of its interaction events), when sent.
        id: Option<i64>,
        /// Its title, when sent.
        title: Option<String>,
        /// The key.
        key: Option<String>,
        /// The name shown in Userpilot.
        display_name: Option<String>,
        /// The data type.
        data_type: Option<DataType>,
        /// Its tasks, in the order sent (`null` reads as empty).
        tasks: Vec<ChecklistTask>,
    }
}

impl Checklist {
    /// The name to show: `display_name`, else `title`, else `key`.
    pub fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.title.as_deref())
            .or(self.key.as_deref())
    }
}

lenient_model! {
    /// One task of a [`Checklist`].
    pub struct ChecklistTask {
        /// The task's id.
        id: Option<i64>,
        /// Its title.
        title: Option<String>,
        /// Its position in the checklist.
        order: Option<i64>,
    }
}

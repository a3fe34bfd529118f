//! Hand-written models that the generated client uses in place of the
//! spec's loosely typed schemas (the replacements `build.rs` derives from
//! the spec crate's hoists and lookup table).
//!
//! They sit below the generated code: decoding is lenient (one mechanism
//! and one set of coercion rules for every model: numbers where strings are
//! declared, `null` where arrays are declared, a value that does not fit its
//! field kept as sent), every enum sent by the server has an
//! `Unknown(String)` arm, and unknown fields are kept in an `extra` map so a
//! new field from Userpilot survives a round-trip.

pub(crate) mod lenient;
pub(crate) mod lookup_table;
pub(crate) mod open_enum;

mod errors;
mod events;
mod jobs;
mod lookups;
mod page;
mod timestamp;

pub use errors::{ErrorDetail, ErrorResponse};
pub use events::{EventSource, EventType};
pub use jobs::{ExportCreated, ExportJob, ExportJobSummary, JobStatus, PresignedUrl, SecretUrl};
pub(crate) use lookup_table::lookup_table;
pub use lookup_table::{LookupKind, UnknownLookup};
pub use lookups::{
    Banner, Checklist, ChecklistTask, CompanyProperty, DataType, Embed, EmbedKind, EventProperty,
    EventRef, Experience, FeatureEvent, Flow, KeyedItem, Platform, Property, PropertyKind,
    ResourceCenterModule, Segment, SegmentCategory, SegmentStatus, Spotlight, Survey, SurveyModule,
    SurveyModuleKind, UserProperty,
};
pub use page::{Page, PageCursor, PageMetadata};
pub use timestamp::parse_timestamp;

use page::declare_page_types;
lookup_table!(declare_page_types);

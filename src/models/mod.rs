//! Hand-written models that the generated client uses in place of the
//! spec's loosely typed schemas (see `REPLACEMENTS` in `build.rs`).
//!
//! They sit below the generated code: decoding is lenient (numbers where
//! strings are declared, `null` where arrays are declared), every enum sent
//! by the server has an `Unknown(String)` arm, and unknown fields are kept
//! in an `extra` map so a new field from Userpilot survives a round-trip.

pub mod lenient;
pub(crate) mod open_enum;

mod errors;
mod events;
mod jobs;
pub mod lookups;

pub use errors::{ErrorDetail, ErrorResponse};
pub use events::{EventSource, EventType};
pub use jobs::{ExportCreated, ExportJob, ExportJobSummary, JobStatus, PresignedUrl, SecretUrl};
pub use lookups::{
    Banner, Checklist, ChecklistTask, CompanyProperty, DataType, Embed, EmbedKind, EventProperty,
    EventPropertyPage, EventRef, Experience, FeatureEvent, Flow, Page, PageCursor, PageMetadata,
    Platform, Property, PropertyKind, ResourceCenterModule, Segment, SegmentCategory, SegmentPage,
    SegmentStatus, Spotlight, Survey, SurveyModule, SurveyModuleKind, UserProperty,
};

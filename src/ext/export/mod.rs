//! Starting an export: a validated request builder, typed event types, and
//! what to do when another export is already running (`409`).
//!
//! Last week's `track_feature` events as ndjson, waiting for the files:
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::{Client, ext::export::EventType, types::ExportFormat};
//!
//! let client = Client::from_env()?;
//! let handle = client
//!     .export()
//!     .last_days(7)
//!     .event_type(EventType::TrackFeature)
//!     .format(ExportFormat::Ndjson)
//!     .send()
//!     .await?;
//! println!("job {}", handle.job_id()); // store it to resume with client.job(id)
//! let job = handle
//!     .poller()
//!     .on_progress(|update| println!("{}", update.progress))
//!     .wait()
//!     .await?;
//! for file in &job.presigned_urls {
//!     println!("{} {}", file.filename, file.url); // the URL prints redacted
//! }
//! # Ok(()) }
//! ```

mod builder;
mod conflict;
mod time;

pub use crate::models::EventType;
pub use builder::ExportRequestBuilder;
pub use conflict::ConflictPolicy;
pub use time::ExportTime;

//! [`Summary`]: what a set of export files holds.

use std::{collections::BTreeMap, path::Path};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    event::{EventSource, EventType, ExportedEvent},
    field::format_micros,
    reader::{ReadOptions, RecordReader},
};
use crate::Result;

/// What a set of export files holds: counts by event type and source, the
/// time span, and how many malformed rows were skipped.
///
/// ```
/// use userpilot_appex::records::{ExportedEvent, EventType, Summary};
/// let mut summary = Summary::default();
/// summary.add(&ExportedEvent { event_type: Some(EventType::Track), ..Default::default() });
/// assert_eq!(summary.total, 1);
/// assert_eq!(summary.by_event_type["track"], 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Events read.
    pub total: u64,
    /// Malformed rows skipped (lenient mode).
    pub skipped: u64,
    /// Files read.
    pub files: u64,
    /// Events per `event_type` (as written; [`Summary::NONE`] when absent).
    pub by_event_type: BTreeMap<String, u64>,
    /// Events per `source` (as written; [`Summary::NONE`] when absent).
    pub by_source: BTreeMap<String, u64>,
    /// The earliest `inserted_at`.
    #[serde(serialize_with = "serialize_opt_micros")]
    pub first_inserted_at: Option<DateTime<Utc>>,
    /// The latest `inserted_at`.
    #[serde(serialize_with = "serialize_opt_micros")]
    pub last_inserted_at: Option<DateTime<Utc>>,
}

fn serialize_opt_micros<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_micros(t)),
        None => s.serialize_none(),
    }
}

impl Summary {
    /// The key counting events without an `event_type` or `source`.
    pub const NONE: &'static str = "(none)";

    /// Counts one event.
    pub fn add(&mut self, event: &ExportedEvent) {
        self.total += 1;
        let kind = event
            .event_type
            .as_ref()
            .map_or(Self::NONE, EventType::as_str);
        *self.by_event_type.entry(kind.to_string()).or_default() += 1;
        let source = event
            .source
            .as_ref()
            .map_or(Self::NONE, EventSource::as_str);
        *self.by_source.entry(source.to_string()).or_default() += 1;
        if let Some(t) = event.inserted_at {
            if self.first_inserted_at.is_none_or(|f| t < f) {
                self.first_inserted_at = Some(t);
            }
            if self.last_inserted_at.is_none_or(|l| t > l) {
                self.last_inserted_at = Some(t);
            }
        }
    }
}

/// Reads files one after the other (blocking) and summarizes them; the
/// first error ends the reading. With [`ReadOptions::lenient`], malformed
/// rows are skipped and counted in [`Summary::skipped`].
///
/// ```no_run
/// use userpilot_appex::records::{ReadOptions, summarize};
/// # fn run() -> userpilot_appex::Result<()> {
/// let summary = summarize(["part-0.csv.gz", "part-1.csv.gz"], ReadOptions::lenient())?;
/// for (kind, n) in &summary.by_event_type {
///     println!("{kind}: {n}");
/// }
/// # Ok(()) }
/// ```
pub fn summarize<I, P>(paths: I, options: ReadOptions) -> Result<Summary>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let mut summary = Summary::default();
    for path in paths {
        let mut reader = RecordReader::with_options(path, options)?;
        for event in &mut reader {
            summary.add(&event?);
        }
        summary.skipped += reader.skipped();
        summary.files += 1;
    }
    Ok(summary)
}

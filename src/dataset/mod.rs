//! Landing exports as a queryable dataset: typed Parquet in a
//! Hive-partitioned layout every engine reads without configuration, on a
//! local directory or S3-compatible object storage.
//!
//! The layout, below the directory or `s3://bucket/prefix` named:
//!
//! ```text
//! events/dt=YYYY-MM-DD/events.parquet   one file per UTC day of inserted_at
//! lookups/<kind>.parquet                one file per lookup table
//! _appex/views.sql                      DuckDB CREATE VIEW statements
//! ```
//!
//! Every file is replaced atomically ([`Destination::put`]). Landing rows
//! into a day merges them with the day's file: the union, with duplicates
//! (same [`DEDUPE_KEY_COLUMN`]) written once, sorted by `inserted_at`.
//!
//! This module is offline file work: it uses [`crate::records`] and
//! [`crate::models`], never the API client.
//!
//! ```no_run
//! # async fn run(batches: Vec<arrow_array::RecordBatch>) -> userpilot_appex::Result<()> {
//! use futures::stream;
//! use userpilot_appex::dataset::{Dataset, DestinationOptions, LandOptions};
//!
//! let dataset = Dataset::open("analytics/userpilot", &DestinationOptions::default())?;
//! let report = dataset
//!     .land_batches(stream::iter(batches.into_iter().map(Ok)), &LandOptions::default())
//!     .await?;
//! for day in &report.days {
//!     println!("{} {} rows ({} new)", day.day, day.rows_after, day.rows_new);
//! }
//! # Ok(()) }
//! ```

mod destination;
mod land;
mod local;
mod lookups;
#[cfg(feature = "s3")]
mod s3;
mod views;
mod writer;

use std::sync::Arc;

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use futures::Stream;

pub use destination::{
    Destination, DestinationOptions, ObjectInfo, ObjectVersion, PutCondition, PutIf, Versioned,
    check_key, open,
};
pub use land::{
    DEDUPE_KEY_COLUMN, DayReport, INSERTED_AT_COLUMN, LandOptions, LandProgress, LandReport,
    ProgressFn, day_key, land_batches, land_files, parse_day_key,
};
pub use local::LocalDir;
pub use lookups::{
    EXTRA_COLUMN, LookupReport, land_lookup, lookup_batch, lookup_key, lookup_schema,
};
#[cfg(feature = "s3")]
pub use s3::S3Destination;
pub use views::{EventsView, VIEWS_KEY, current_views, lookup_kinds, views_sql, write_views};
pub use writer::{
    META_CRATE_VERSION, META_EXPORT_FROM, META_EXPORT_TO, META_JOB_ID, META_SCHEMA_VERSION,
    ParquetContents, ROW_GROUP_ROWS, read_parquet, write_parquet, writer_properties,
};

use crate::Result;

/// A dataset at a [`Destination`]: what the CLI and `sync` land into.
#[derive(Clone, Debug)]
pub struct Dataset {
    dest: Arc<dyn Destination>,
}

impl Dataset {
    /// Opens the dataset at `location`: a directory (created if missing) or
    /// `s3://bucket/prefix` (see [`open`]).
    pub fn open(location: &str, options: &DestinationOptions) -> Result<Self> {
        Ok(Dataset {
            dest: open(location, options)?,
        })
    }

    /// The dataset at `dest`.
    pub fn new(dest: Arc<dyn Destination>) -> Self {
        Dataset { dest }
    }

    /// Where it is.
    pub fn destination(&self) -> &Arc<dyn Destination> {
        &self.dest
    }

    /// Lands event batches (see [`land_batches`]).
    pub async fn land_batches<S>(&self, batches: S, options: &LandOptions) -> Result<LandReport>
    where
        S: Stream<Item = Result<RecordBatch>>,
    {
        land_batches(self.dest.as_ref(), batches, options).await
    }

    /// Lands one lookup table (see [`land_lookup`]).
    pub async fn land_lookup<T: serde::Serialize + schemars::JsonSchema>(
        &self,
        kind: &str,
        items: &[T],
    ) -> Result<LookupReport> {
        land_lookup(self.dest.as_ref(), kind, items).await
    }

    /// Writes `_appex/views.sql` for what the dataset holds (see
    /// [`write_views`]).
    pub async fn write_views(&self) -> Result<String> {
        write_views(self.dest.as_ref()).await
    }

    /// Lands export files (see [`land_files`]).
    pub async fn land_files<P: AsRef<std::path::Path>>(
        &self,
        files: &[P],
        options: &LandOptions,
    ) -> Result<LandReport> {
        land_files(self.dest.as_ref(), files, options).await
    }

    /// The days the dataset holds, in order.
    pub async fn days(&self) -> Result<Vec<NaiveDate>> {
        Ok(self
            .dest
            .list("events/")
            .await?
            .iter()
            .filter_map(|o| parse_day_key(&o.key))
            .collect())
    }
}

//! Hand-written extensions: what the spec cannot express, one file per
//! capability.

#[cfg(feature = "dataset")]
mod catalogue_tables;
pub mod download;
pub mod export;
pub mod jobs;
pub mod lookups;
pub mod pagination;
pub mod sync;

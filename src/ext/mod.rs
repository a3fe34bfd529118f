//! Hand-written extensions: what the spec cannot express, one file per
//! capability.

pub mod download;
pub mod export;
pub mod jobs;
pub mod lookups;
pub mod pagination;
pub mod sync;

//! Hand-written extensions: what the spec cannot express, one file per
//! capability.

pub mod records;

//! Helpers shared by the integration tests.

pub mod alloc;
#[cfg(feature = "cli")]
pub mod cli;
pub mod file_server;
pub mod jobs;
#[cfg(feature = "dataset")]
pub mod python;
pub mod records;
pub mod scripted;
#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(all(feature = "simulator", feature = "dataset"))]
pub mod sync;

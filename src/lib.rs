//! # userpilot-appex
//!
//! A typed Rust client for Userpilot's Analytics Export API ("appex"):
//! trigger an export job, wait for it, download its files from presigned
//! URLs, and look up the resources events refer to.
//!
//! The layers, lowest first (lower layers never use upper ones):
//! - [`models`] and [`config`]: hand-written lenient models and settings the
//!   generated code is built against;
//! - `generated` (hidden: an escape hatch, not the API): the client
//!   progenitor generates from the vendored spec in `openapi/` at build
//!   time (never edited by hand);
//! - [`Client`]: configuration, the secret API key, retries and tracing in
//!   one request hook, and one typed method per operation;
//! - [`records`]: an offline reader of export files (never touches the
//!   client);
//! - [`dataset`] (cargo feature `dataset`): landing export files as a
//!   Hive-partitioned Parquet dataset on a directory or S3 (offline too);
//! - [`ext`]: what needs the API but the spec cannot express (pagination,
//!   polling, downloads, lookups).
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::Client;
//!
//! let client = Client::builder().api_key("my-key").build()?;
//! let job = client.get_job("123e4567-e89b-12d3-a456-426614174000").await?;
//! println!("{} {:?}", job.status(), job.progress);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod config;
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod error;
pub mod ext;
#[doc(hidden)]
pub mod generated;
mod macros;
pub mod models;
pub mod records;
#[cfg(feature = "simulator")]
pub mod simulator;

pub use client::{ApiKey, Client, ClientBuilder};
pub use config::RetryPolicy;
pub use error::{ApiFailure, Error, Result};
pub use generated::types;

/// The README's code examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

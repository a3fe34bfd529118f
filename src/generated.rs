//! The client progenitor generates from the vendored spec at build time.
//!
//! Never edited by hand: `build.rs` writes it into `OUT_DIR`. Reach it
//! through [`crate::Client::raw`] for raw calls; its error responses decode
//! into [`crate::models::ErrorResponse`] and its job and lookup types are the
//! hand-written [`crate::models`].

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    unused_qualifications,
    rustdoc::bare_urls
)]

include!(concat!(env!("OUT_DIR"), "/codegen.rs"));

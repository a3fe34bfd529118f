//! Generates the typed client from the vendored OpenAPI spec.
//!
//! The spec in `openapi/` is never edited by hand. Everything progenitor
//! needs changed is a named repair in `build/repairs.rs`; the hand-written
//! models that replace loosely typed schemas are listed in [`REPLACEMENTS`].

#[path = "build/repairs.rs"]
mod repairs;

use std::{env, fs, path::PathBuf, process::ExitCode, str::FromStr};

const SPEC: &str = "openapi/userpilot-appex-openapi.json";

/// Component schemas replaced by hand-written models in `src/models/`
/// (lenient decoding, open enums, unknown fields kept).
const REPLACEMENTS: &[(&str, &str)] = &[
    ("ErrorResponse", "crate::models::ErrorResponse"),
    ("ErrorDetail", "crate::models::ErrorDetail"),
    ("ExportJob", "crate::models::ExportJob"),
    ("ExportJobSummary", "crate::models::ExportJobSummary"),
    ("PresignedUrl", "crate::models::PresignedUrl"),
    ("ExportCreated", "crate::models::ExportCreated"),
    // Lookups (hoisted item schemas, see HOISTS in build/repairs.rs).
    ("UserProperty", "crate::models::UserProperty"),
    ("CompanyProperty", "crate::models::CompanyProperty"),
    ("Segment", "crate::models::Segment"),
    ("SegmentPage", "crate::models::SegmentPage"),
    ("FeatureEvent", "crate::models::FeatureEvent"),
    ("EventProperty", "crate::models::EventProperty"),
    ("EventPropertyPage", "crate::models::EventPropertyPage"),
    ("PageMetadata", "crate::models::PageMetadata"),
    ("PageCursor", "crate::models::PageCursor"),
    ("Flow", "crate::models::Flow"),
    ("Banner", "crate::models::Banner"),
    ("Embed", "crate::models::Embed"),
    ("Spotlight", "crate::models::Spotlight"),
    ("Survey", "crate::models::Survey"),
    (
        "ResourceCenterModule",
        "crate::models::ResourceCenterModule",
    ),
    ("Checklist", "crate::models::Checklist"),
];

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build/repairs.rs");
    println!("cargo:rerun-if-changed=build.rs");
    match generate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One readable line instead of a panic backtrace.
            println!("cargo:warning={message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate() -> Result<(), String> {
    let raw = fs::read_to_string(SPEC).map_err(|e| format!("cannot read {SPEC}: {e}"))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| format!("{SPEC} is not valid JSON: {e}"))?;
    repairs::repair_spec(&mut spec).map_err(|e| e.to_string())?;
    let spec: openapiv3::OpenAPI = serde_json::from_value(spec)
        .map_err(|e| format!("{SPEC} is not an OpenAPI 3.0 document after repair: {e}"))?;

    let inner = proc_macro2::TokenStream::from_str("crate::config::ClientState")
        .map_err(|e| format!("inner type: {e}"))?;
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(inner)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq");
    for (schema, model) in REPLACEMENTS {
        settings.with_replacement(*schema, *model, std::iter::empty());
    }

    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor could not generate the client from {SPEC}: {e}"))?;
    let file = syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    let code = prettyplease::unparse(&file);

    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?).join("codegen.rs");
    fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(())
}

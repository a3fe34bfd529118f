//! Generates the typed client from the vendored OpenAPI spec, and the
//! lookup table's macro from the spec crate's `LOOKUPS`.
//!
//! The spec in `openapi/` is never edited by hand. Everything progenitor
//! needs changed is a named repair in the `userpilot-appex-spec` crate
//! (`crates/appex-spec`); the hand-written models that replace loosely
//! typed schemas are derived from its hoists and lookup table
//! ([`repairs::replacements`]). The build warns, one `spec drift: …` line
//! each, about every difference between the repaired spec and the models'
//! snapshot (`openapi/model-schemas.json`, kept equal to the models by a
//! test), and in one line when the API surface differs from the reviewed
//! `openapi/api-surface.txt`; the full report and the diffs are in
//! `cargo test`.

use std::{env, fs, path::PathBuf, process::ExitCode};

use userpilot_appex_spec::{codegen, drift, lookups, repairs, surface};

const SPEC: &str = "openapi/userpilot-appex-openapi.json";
const SURFACE: &str = "openapi/api-surface.txt";
const MODELS: &str = "openapi/model-schemas.json";

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed={SURFACE}");
    println!("cargo:rerun-if-changed={MODELS}");
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
    let snapshot = fs::read_to_string(MODELS).unwrap_or_default();
    for finding in drift::build_report(&spec, &snapshot) {
        println!("cargo:warning={finding}");
    }
    warn_on_surface_change(&surface::render(&spec));
    let code = codegen::generate(spec).map_err(|e| format!("{SPEC}: {e}"))?;
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    write(&out_dir.join("codegen.rs"), &code)?;
    write(&out_dir.join("lookup_table.rs"), &lookups::render_macro())
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One `cargo:warning` line when the surface differs from the reviewed file.
fn warn_on_surface_change(fresh: &str) {
    let reviewed = fs::read_to_string(SURFACE).unwrap_or_default();
    if let Some(line) = surface::change_warning(SURFACE, &reviewed, fresh) {
        println!("cargo:warning={line}");
    }
}

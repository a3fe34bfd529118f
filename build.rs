//! Generates the typed client from the vendored OpenAPI spec.
//!
//! The spec in `openapi/` is never edited by hand. Everything progenitor
//! needs changed is a named repair in the `userpilot-appex-spec` crate
//! (`crates/appex-spec`); the hand-written models that replace loosely
//! typed schemas are derived from its `HOISTS` list
//! ([`repairs::replacements`]). When the repaired spec's API surface differs
//! from the reviewed `openapi/api-surface.txt`, the build says so in one
//! warning line: the drift report and the diff are in `cargo test`.

use std::{env, fs, path::PathBuf, process::ExitCode};

use userpilot_appex_spec::{codegen, lookups, repairs, surface};

const SPEC: &str = "openapi/userpilot-appex-openapi.json";
const SURFACE: &str = "openapi/api-surface.txt";

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed={SURFACE}");
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
    if reviewed == fresh {
        return;
    }
    let old: Vec<&str> = reviewed.lines().collect();
    let new: Vec<&str> = fresh.lines().collect();
    let added = new.iter().filter(|l| !old.contains(l)).count();
    let removed = old.iter().filter(|l| !new.contains(l)).count();
    let first = new
        .iter()
        .find(|l| !old.contains(l))
        .map(|l| format!(", first new line `{}`", l.trim()))
        .unwrap_or_default();
    println!(
        "cargo:warning=spec drift: the API surface differs from {SURFACE} (+{added} -{removed} lines{first}); \
         run `cargo test --all-features` for the drift report, then see README \"Updating the spec\""
    );
}

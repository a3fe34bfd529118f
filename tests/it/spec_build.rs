//! What `build.rs` warns about: the drift report of the repaired spec
//! against the models' snapshot (`openapi/model-schemas.json`, kept equal to
//! the models here), and the API surface's change; and when the tests
//! rewrite the reviewed files (`APPEX_UPDATE_SURFACE=1` only).
//! `APPEX_UPDATE_SURFACE=1 cargo test --all-features` rewrites the snapshot.

use std::{ffi::OsStr, path::Path};

use serde_json::Value;
use similar::TextDiff;
use userpilot_appex_spec::{
    UPDATE_VAR,
    drift::{self, Typed},
    surface, update_requested,
};

use crate::{
    spec_drift::REHEARSED_DRIFT,
    support::spec::{rehearsed_update, repaired, typed, vendored},
};

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/model-schemas.json");

fn snapshot_text() -> String {
    std::fs::read_to_string(MODELS).unwrap_or_default()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON renders") + "\n"
}

#[test]
fn the_checked_in_model_schemas_match_the_models() {
    let live = typed().to_snapshot();
    if update_requested(std::env::var_os(UPDATE_VAR).as_deref()) {
        std::fs::write(Path::new(MODELS), pretty(&live)).expect("write the snapshot");
        return;
    }
    let text = snapshot_text();
    let fresh = pretty(&live);
    let checked_in: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        checked_in == live,
        "the models' JSON schemas changed; run `APPEX_UPDATE_SURFACE=1 cargo test --all-features` \
         and commit openapi/model-schemas.json:\n{}",
        TextDiff::from_lines(&text, &fresh)
            .unified_diff()
            .context_radius(2)
            .header("openapi/model-schemas.json (checked in)", "the models now")
    );
    // The snapshot reads back as what the crate types (the lookups from the
    // spec crate's table, which the crate's LookupKind is made from), less
    // the schemas' descriptions.
    let read = Typed::from_snapshot(&live).expect("the snapshot reads back");
    let names = |t: &Typed| -> Vec<(String, String)> {
        t.models
            .iter()
            .map(|(c, p, _)| (c.clone(), p.clone()))
            .collect()
    };
    let typed = typed();
    assert_eq!(names(&read), names(&typed));
    assert_eq!(read.operations, typed.operations);
    assert_eq!(read.lookups, typed.lookups);
    assert!(
        !text.contains("\"description\": \""),
        "descriptions are left out"
    );
}

#[test]
fn the_vendored_spec_gives_no_build_warning() {
    assert_eq!(
        drift::build_report(&repaired(vendored()), &snapshot_text()),
        Vec::<String>::new()
    );
}

#[test]
fn a_rehearsed_spec_update_gives_exactly_its_four_drift_warnings_at_build_time() {
    let mut warnings = drift::build_report(&repaired(rehearsed_update()), &snapshot_text());
    warnings.sort();
    assert_eq!(warnings, REHEARSED_DRIFT);
    // Each is one line: one `cargo:warning` each.
    assert!(warnings.iter().all(|w| !w.contains('\n')));
}

#[test]
fn an_unreadable_snapshot_is_one_warning_saying_how_to_rewrite_it() {
    for text in ["", "{\"models\": 3}", "not json"] {
        let warnings = drift::build_report(&repaired(vendored()), text);
        assert_eq!(warnings.len(), 1, "{text:?}: {warnings:?}");
        assert!(
            warnings[0].starts_with("spec drift: cannot read the models' snapshot (")
                && warnings[0].ends_with("run `APPEX_UPDATE_SURFACE=1 cargo test --all-features`"),
            "{}",
            warnings[0]
        );
    }
}

#[test]
fn the_surface_warning_is_one_line_only_when_the_surface_changed() {
    let reviewed = surface::render(&repaired(vendored()));
    assert_eq!(
        surface::change_warning("openapi/api-surface.txt", &reviewed, &reviewed),
        None
    );
    let updated = surface::render(&repaired(rehearsed_update()));
    let warning = surface::change_warning("openapi/api-surface.txt", &reviewed, &updated)
        .expect("the surface changed");
    assert!(
        warning.starts_with("spec drift: the API surface differs from openapi/api-surface.txt (+"),
        "{warning}"
    );
    assert!(
        warning.contains(
            "first new line `operation tours: GET /api/v1/analytics/exports/lookups/tours`"
        ),
        "{warning}"
    );
    assert!(!warning.contains('\n'));
}

#[test]
fn only_the_value_1_asks_for_the_reviewed_files_to_be_rewritten() {
    assert_eq!(UPDATE_VAR, "APPEX_UPDATE_SURFACE");
    assert!(update_requested(Some(OsStr::new("1"))));
    for value in ["0", "", "true", "yes", " 1", "01"] {
        assert!(!update_requested(Some(OsStr::new(value))), "{value:?}");
    }
    assert!(!update_requested(None));
}

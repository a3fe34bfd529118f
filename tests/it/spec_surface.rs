//! The reviewed API surface: `openapi/api-surface.txt` is what the repaired
//! spec gives the crate; it is regenerated here and must match, so a spec
//! update shows its effect on the API as a diff in review.
//! `APPEX_UPDATE_SURFACE=1 cargo test --all-features` rewrites it.

use std::path::Path;

use similar::TextDiff;
use userpilot_appex_spec::{UPDATE_VAR, repairs, surface, update_requested};

use crate::support::spec::{apply_patch, vendored};

const SURFACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/api-surface.txt");

fn surface_of(mut spec: serde_json::Value) -> String {
    repairs::repair_spec(&mut spec).expect("the repairs apply");
    surface::render(&spec)
}

fn unified_diff(reviewed: &str, fresh: &str) -> String {
    TextDiff::from_lines(reviewed, fresh)
        .unified_diff()
        .context_radius(2)
        .header(
            "openapi/api-surface.txt (reviewed)",
            "the spec's surface now",
        )
        .to_string()
}

#[test]
fn the_checked_in_api_surface_matches_the_spec() {
    let fresh = surface_of(vendored());
    if update_requested(std::env::var_os(UPDATE_VAR).as_deref()) {
        std::fs::write(Path::new(SURFACE), &fresh).expect("write the surface");
        return;
    }
    let reviewed = std::fs::read_to_string(SURFACE).unwrap_or_default();
    assert!(
        reviewed == fresh,
        "the API surface changed; review the diff, then run \
         `APPEX_UPDATE_SURFACE=1 cargo test --all-features` and commit the file:\n{}",
        unified_diff(&reviewed, &fresh)
    );
}

#[test]
fn the_surface_lists_operations_parameters_and_model_fields() {
    let text = surface_of(vendored());
    for line in [
        "operation get_job: GET /api/v1/analytics/exports/jobs/{job_id}",
        "  param path job_id: string (required)",
        "  success 200: ExportJob",
        "operation segments: GET /api/v1/analytics/exports/lookups/segments",
        "  param query after_cursor: string",
        "  success 200: SegmentPage",
        "operation flows: GET /api/v1/analytics/exports/lookups/flows",
        "  success 200: array<Flow>",
        "  error 401: ErrorResponse",
        "schema ExportJob (hand-written: crate::models::ExportJob): object",
        "  presigned_urls: array<PresignedUrl>",
        "schema ExportRequest: object",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("Authorization"),
        "transport headers are not parameters"
    );
}

#[test]
fn a_spec_update_shows_as_a_diff_of_the_surface() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/spec-update/patch.json")).unwrap();
    let mut updated = vendored();
    apply_patch(&mut updated, &fixture["patch"]);
    let diff = unified_diff(&surface_of(vendored()), &surface_of(updated));
    for line in [
        "+operation tours: GET /api/v1/analytics/exports/lookups/tours",
        "+  priority: integer",
        "-  current_chunk: string",
        "+  status: string enum[\"pending\", \"processing\", \"completed\", \"failed\", \"cancelled\"]",
    ] {
        assert!(diff.lines().any(|l| l == line), "no {line:?} in\n{diff}");
    }
}

//! Reading a job's progress leniently: every plausible form, chunk lists,
//! clamping, and never failing.

use userpilot_appex::{ext::jobs::Progress, models::ExportJob};

fn parsed(raw: &str) -> (Option<u32>, Option<u32>, Option<f64>) {
    let p = Progress::parse(raw);
    (p.chunks_done, p.chunks_total, p.fraction)
}

#[test]
fn percent_sign_is_a_percentage() {
    assert_eq!(parsed("45%"), (None, None, Some(0.45)));
    assert_eq!(parsed(" 12.5 % "), (None, None, Some(0.125)));
}

#[test]
fn decimal_up_to_one_is_a_fraction() {
    assert_eq!(parsed("0.45"), (None, None, Some(0.45)));
    assert_eq!(parsed("1.0"), (None, None, Some(1.0)));
}

#[test]
fn bare_integer_and_decimal_above_one_are_percentages() {
    assert_eq!(parsed("45"), (None, None, Some(0.45)));
    assert_eq!(parsed("1"), (None, None, Some(0.01)));
    assert_eq!(parsed("45.5"), (None, None, Some(0.455)));
}

#[test]
fn slash_and_of_are_chunk_counts() {
    assert_eq!(parsed("3/7"), (Some(3), Some(7), Some(3.0 / 7.0)));
    assert_eq!(parsed("3 / 4"), (Some(3), Some(4), Some(0.75)));
    assert_eq!(parsed("3 of 4"), (Some(3), Some(4), Some(0.75)));
    assert_eq!(parsed("3 OF 4 chunks"), (Some(3), Some(4), Some(0.75)));
}

#[test]
fn zero_total_gives_counts_without_fraction() {
    assert_eq!(parsed("0/0"), (Some(0), Some(0), None));
}

#[test]
fn out_of_range_values_are_clamped() {
    assert_eq!(parsed("150%"), (None, None, Some(1.0)));
    assert_eq!(parsed("-5%"), (None, None, Some(0.0)));
    assert_eq!(parsed("9/7"), (Some(9), Some(7), Some(1.0)));
    assert_eq!(parsed("250"), (None, None, Some(1.0)));
}

#[test]
fn unreadable_text_is_kept_raw_and_never_fails() {
    for raw in ["soon", "NaN", "inf%", "a/b", "%", "--", "3/", "1e999"] {
        let p = Progress::parse(raw);
        assert_eq!(p.fraction, None, "{raw}");
        assert_eq!(p.raw.as_deref(), Some(raw), "{raw}");
    }
    assert_eq!(Progress::parse("   "), Progress::default());
}

#[test]
fn job_without_progress_text_uses_chunk_lists() {
    let job: ExportJob = serde_json::from_value(serde_json::json!({
        "status": "processing",
        "all_chunks": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
        "completed_chunks": ["2025-01-01"],
        "progress": null
    }))
    .unwrap();
    let p = Progress::from_job(&job);
    assert_eq!(
        (p.chunks_done, p.chunks_total, p.fraction),
        (Some(1), Some(4), Some(0.25))
    );
    assert_eq!(p.raw, None);
    assert_eq!(p.to_string(), "1/4 chunks (25.0%)");
}

#[test]
fn job_progress_text_wins_over_chunk_lists_for_the_fraction() {
    let job: ExportJob = serde_json::from_value(serde_json::json!({
        "status": "processing",
        "progress": "60%",
        "all_chunks": ["a", "b"],
        "completed_chunks": ["a"]
    }))
    .unwrap();
    let p = Progress::from_job(&job);
    assert_eq!(
        (p.chunks_done, p.chunks_total, p.fraction),
        (Some(1), Some(2), Some(0.6))
    );
}

#[test]
fn numeric_progress_on_the_wire_is_read() {
    let job: ExportJob =
        serde_json::from_value(serde_json::json!({"status": "processing", "progress": 0.3}))
            .unwrap();
    assert_eq!(Progress::from_job(&job).fraction, Some(0.3));
}

#[test]
fn completed_job_with_unknown_progress_is_whole() {
    let job: ExportJob =
        serde_json::from_value(serde_json::json!({"status": "completed"})).unwrap();
    assert_eq!(Progress::from_job(&job).fraction, Some(1.0));
    let pending: ExportJob =
        serde_json::from_value(serde_json::json!({"status": "pending"})).unwrap();
    assert!(Progress::from_job(&pending).is_unknown());
    assert_eq!(Progress::from_job(&pending).to_string(), "unknown");
}

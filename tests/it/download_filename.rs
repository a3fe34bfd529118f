//! `sanitize_filename`: what it keeps, repairs and refuses.

use userpilot_appex::{Error, ext::download::sanitize_filename};

#[test]
fn plain_names_are_kept() {
    for name in [
        "events-0001.csv.gz",
        "a",
        "data.ndjson",
        ".hidden",
        "ünïcødé.csv",
        "with space.csv",
    ] {
        assert_eq!(sanitize_filename(name).unwrap(), name);
    }
}

#[test]
fn directories_and_drive_prefixes_are_stripped() {
    let cases = [
        ("../x", "x"),
        ("../../../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("a/b", "b"),
        ("a\\b", "b"),
        ("C:\\x", "x"),
        ("C:x", "x"),
        ("c:/Windows/system32/x.dll", "x.dll"),
        ("\\\\server\\share\\f.csv", "f.csv"),
        ("./f.csv", "f.csv"),
    ];
    for (raw, safe) in cases {
        assert_eq!(sanitize_filename(raw).unwrap(), safe, "{raw:?}");
    }
}

#[test]
fn characters_windows_forbids_become_underscores_and_trailing_dots_go() {
    assert_eq!(
        sanitize_filename("a<b>c:d\"e|f?g*h").unwrap(),
        "a_b_c_d_e_f_g_h"
    );
    assert_eq!(sanitize_filename("report.csv. . ").unwrap(), "report.csv");
    assert_eq!(sanitize_filename("  padded.csv  ").unwrap(), "padded.csv");
}

#[test]
fn unsafe_names_are_refused_with_a_reason() {
    let refused = [
        "",
        "   ",
        ".",
        "..",
        "...",
        "a/",
        "a/..",
        "C:",
        "bell\u{7}.csv",
        "nul\u{0}byte",
        "line\nbreak",
        "esc\u{1b}[31m",
        "del\u{7f}",
        "CON",
        "nul.txt",
        "Com1.csv",
        "LPT9",
    ];
    for raw in refused {
        match sanitize_filename(raw) {
            Err(Error::UnsafeFilename { name, reason }) => {
                assert_eq!(name, raw);
                assert!(!reason.is_empty());
            }
            other => panic!("{raw:?} gave {other:?}"),
        }
    }
    let long = "a".repeat(300);
    assert!(matches!(
        sanitize_filename(&long),
        Err(Error::UnsafeFilename { .. })
    ));
}

#[test]
fn the_error_text_escapes_control_characters() {
    let text = sanitize_filename("x\u{1b}[2Jy").unwrap_err().to_string();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}"), "{text}");
}

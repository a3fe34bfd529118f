//! Untrusted file names from the server, made safe to create in a directory.

use crate::error::{Error, Result};

/// The longest name kept, in bytes (most file systems allow 255).
const MAX_NAME_BYTES: usize = 240;

/// Names Windows reserves for devices, whatever the extension (`CON.txt`).
const RESERVED_STEMS: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9",
];

/// Turns a file name the server suggested into one that is safe to create
/// inside a target directory, or refuses it.
///
/// The name is untrusted. The result is always a single, plain path
/// component, the same on every platform:
/// - directories are stripped: only what follows the last `/` or `\` is
///   kept (`../x`, `/etc/x`, `a/x` and `C:\dir\x` all give `x`);
/// - a drive prefix is stripped (`C:x` gives `x`);
/// - characters Windows forbids (`< > : " | ? *`) become `_`;
/// - surrounding whitespace and trailing dots are trimmed (Windows drops
///   trailing dots and spaces, which would make `a.` and `a` the same file).
///
/// It is refused with [`Error::UnsafeFilename`] when what is left is empty
/// (`""`, `"a/"`), is `.` or `..`, contains a control character (`\0`,
/// `\n`, `\x1b`…), is a name Windows reserves for a device (`CON`,
/// `nul.txt`, `COM1`…), or is longer than 240 bytes.
///
/// Collisions between names are not this function's business: the
/// downloader de-duplicates them (see [`Download`](super::Download)).
///
/// ```
/// use userpilot_appex::ext::download::sanitize_filename;
///
/// assert_eq!(sanitize_filename("events-0001.csv.gz")?, "events-0001.csv.gz");
/// assert_eq!(sanitize_filename("../../etc/passwd")?, "passwd");
/// assert_eq!(sanitize_filename(r"C:\Windows\x.ndjson")?, "x.ndjson");
/// assert_eq!(sanitize_filename("report 10:30.csv")?, "report 10_30.csv");
/// assert!(sanitize_filename("..").is_err());
/// assert!(sanitize_filename("").is_err());
/// assert!(sanitize_filename("bell\x07.csv").is_err());
/// assert!(sanitize_filename("NUL.txt").is_err());
/// # Ok::<(), userpilot_appex::Error>(())
/// ```
pub fn sanitize_filename(raw: &str) -> Result<String> {
    let refuse = |reason: &'static str| Error::UnsafeFilename {
        name: raw.to_string(),
        reason,
    };
    if raw.chars().any(char::is_control) {
        return Err(refuse("it contains a control character"));
    }
    // Strip directories, whichever separator the server used.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    // Strip a drive prefix such as `C:` (a drive-relative path on Windows).
    let bytes = last.as_bytes();
    let last = if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        &last[2..]
    } else {
        last
    };
    let replaced: String = last
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let name = replaced.trim().trim_end_matches(['.', ' ']).trim();
    if name.is_empty() {
        // `.`, `..`, `...` and blank names all end up here.
        return Err(refuse("no file name is left once directories are stripped"));
    }
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    if RESERVED_STEMS.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err(refuse("it is a device name Windows reserves"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(refuse("it is longer than 240 bytes"));
    }
    Ok(name.to_string())
}

/// The name the downloader uses for a server name: [`sanitize_filename`]'s
/// answer, or, for a refused name, the same with control characters
/// replaced by `_`, or finally `file-<n>` (1-based position in the job).
pub(crate) fn local_name(raw: &str, index: usize) -> String {
    if let Ok(name) = sanitize_filename(raw) {
        return name;
    }
    let repaired: String = raw
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    sanitize_filename(&repaired).unwrap_or_else(|_| format!("file-{}", index + 1))
}

/// `name (n).ext` for the n-th copy of a name (the extension being what
/// follows the first `.` after the first character, so `a.csv.gz` gives
/// `a (2).csv.gz`).
pub(crate) fn numbered(name: &str, n: usize) -> String {
    let split = name
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '.')
        .map(|(i, _)| i);
    match split {
        Some(i) => format!("{} ({n}){}", &name[..i], &name[i..]),
        None => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_keeps_compound_extensions() {
        assert_eq!(numbered("a.csv.gz", 2), "a (2).csv.gz");
        assert_eq!(numbered("a", 3), "a (3)");
        assert_eq!(numbered(".hidden", 2), ".hidden (2)");
    }
}

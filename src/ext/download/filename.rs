//! Untrusted file names from the server, made safe to create in a directory.

use sha2::{Digest, Sha256};

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
    let name = clean(raw);
    if name.is_empty() {
        // `.`, `..`, `...` and blank names all end up here.
        return Err(refuse("no file name is left once directories are stripped"));
    }
    if is_reserved(&name) {
        return Err(refuse("it is a device name Windows reserves"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(refuse("it is longer than 240 bytes"));
    }
    Ok(name)
}

/// The last path component, drive prefix stripped, characters Windows
/// forbids replaced, surrounding whitespace and trailing dots trimmed.
fn clean(raw: &str) -> String {
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
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    replaced
        .trim()
        .trim_end_matches(['.', ' '])
        .trim()
        .to_string()
}

fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    RESERVED_STEMS.iter().any(|r| r.eq_ignore_ascii_case(stem))
}

/// Type suffixes kept whole when a name has to be shortened or renamed,
/// longest first, so `appex records out/*.ndjson.gz` still finds the file.
const KNOWN_SUFFIXES: &[&str] = &[
    ".ndjson.gz",
    ".jsonl.gz",
    ".json.gz",
    ".csv.gz",
    ".tsv.gz",
    ".parquet",
    ".ndjson",
    ".jsonl",
    ".json",
    ".avro",
    ".csv",
    ".tsv",
    ".zip",
    ".gz",
];

/// The name the downloader uses for a server name: [`sanitize_filename`]'s
/// answer; for a name with control characters, the same with them replaced
/// by `_`; for a name too long or reserved, a readable prefix of it, a
/// short hash of the whole server name (so different names stay apart and
/// the same name gets the same local name on every run) and its type
/// suffix: `<prefix>-<8 hex digits><suffix>`.
pub(crate) fn local_name(raw: &str) -> String {
    if let Ok(name) = sanitize_filename(raw) {
        return name;
    }
    let cleaned = clean(raw);
    if !cleaned.is_empty() && !is_reserved(&cleaned) && cleaned.len() <= MAX_NAME_BYTES {
        return cleaned;
    }
    let suffix = type_suffix(&cleaned);
    let stem = &cleaned[..cleaned.len() - suffix.len()];
    let digest = hex::encode(Sha256::digest(raw.as_bytes()));
    let hash = &digest[..8];
    // Room for the stem: the limit less `-`, the hash and the suffix.
    let room = MAX_NAME_BYTES - 1 - hash.len() - suffix.len();
    let mut end = stem.len().min(room);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = stem[..end].trim_end_matches(['.', ' ']);
    let prefix = if prefix.is_empty() { "file" } else { prefix };
    format!("{prefix}-{hash}{suffix}")
}

/// The known type suffix `name` ends with (case kept), else its last
/// extension if short and plain, else nothing.
fn type_suffix(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    if let Some(known) = KNOWN_SUFFIXES
        .iter()
        .find(|s| lower.ends_with(*s) && lower.len() > s.len())
    {
        return &name[name.len() - known.len()..];
    }
    match name.rfind('.') {
        Some(i)
            if i > 0
                && name.len() - i <= 10
                && name[i + 1..].chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            &name[i..]
        }
        _ => "",
    }
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
    fn renamed_names_keep_their_type_suffix_and_a_stable_stem() {
        let long = format!("{}.ndjson.gz", "e".repeat(300));
        let a = local_name(&long);
        assert!(a.len() <= MAX_NAME_BYTES, "{a}");
        assert!(a.ends_with(".ndjson.gz") && a.starts_with("eeee"), "{a}");
        assert_eq!(local_name(&long), a, "stable between runs");
        let other = format!("{}x.ndjson.gz", "e".repeat(300));
        assert_ne!(local_name(&other), a, "different names stay apart");
        let con = local_name("CON.csv");
        assert!(con.starts_with("CON-") && con.ends_with(".csv"), "{con}");
        assert_eq!(local_name("a\nb.csv.gz"), "a_b.csv.gz");
        assert!(local_name("..").starts_with("file-"));
    }

    #[test]
    fn numbered_keeps_compound_extensions() {
        assert_eq!(numbered("a.csv.gz", 2), "a (2).csv.gz");
        assert_eq!(numbered("a", 3), "a (3)");
        assert_eq!(numbered(".hidden", 2), ".hidden (2)");
    }
}

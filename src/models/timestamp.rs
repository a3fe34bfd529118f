//! The one lenient timestamp parser: how Userpilot writes date-times, read
//! by the job models, the lookup models, the record readers and the
//! simulator alike.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Naive forms, read as UTC.
const NAIVE_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f UTC",
    "%Y-%m-%d %H:%M:%S%.fZ",
];

/// Parses a timestamp the way Userpilot writes them: RFC 3339 (any offset,
/// converted to UTC), or a naive `YYYY-MM-DD HH:MM:SS[.ffffff]` (also with
/// `T`, or followed by ` UTC` or `Z`) read as UTC. Surrounding whitespace is
/// ignored; anything else is `None`.
///
/// ```
/// use userpilot_appex::models::parse_timestamp;
///
/// let a = parse_timestamp("2025-01-10T12:34:56.5Z").unwrap();
/// assert_eq!(parse_timestamp("2025-01-10 12:34:56.5"), Some(a));
/// assert_eq!(parse_timestamp("2025-01-10T14:34:56.5+02:00"), Some(a));
/// assert_eq!(parse_timestamp("yesterday"), None);
/// ```
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NAIVE_FORMATS
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|t| t.and_utc())
}

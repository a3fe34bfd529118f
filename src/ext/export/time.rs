//! A bound of the export window: a date or an instant.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// A bound of the export window: a calendar date (sent `YYYY-MM-DD`) or an
/// instant (sent as RFC 3339 in UTC, `2025-01-10T12:00:00Z`).
///
/// Whether the server reads a date `to` as inclusive is not documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportTime {
    /// A calendar date.
    Date(NaiveDate),
    /// An instant.
    DateTime(DateTime<Utc>),
}

impl ExportTime {
    /// The ISO 8601 text sent on the wire.
    pub fn to_wire(&self) -> String {
        match self {
            ExportTime::Date(date) => date.format("%Y-%m-%d").to_string(),
            ExportTime::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    /// The earliest instant this bound can mean (a date's midnight UTC).
    pub(super) fn earliest(&self) -> DateTime<Utc> {
        match self {
            ExportTime::Date(date) => date.and_time(chrono::NaiveTime::MIN).and_utc(),
            ExportTime::DateTime(t) => *t,
        }
    }

    /// The latest instant this bound can mean (a date's last instant UTC).
    pub(super) fn latest(&self) -> DateTime<Utc> {
        match self {
            ExportTime::Date(date) => date
                .succ_opt()
                .map(|next| next.and_time(chrono::NaiveTime::MIN).and_utc())
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ExportTime::DateTime(t) => *t,
        }
    }
}

impl From<NaiveDate> for ExportTime {
    fn from(date: NaiveDate) -> Self {
        ExportTime::Date(date)
    }
}

impl From<DateTime<Utc>> for ExportTime {
    fn from(t: DateTime<Utc>) -> Self {
        ExportTime::DateTime(t)
    }
}

impl fmt::Display for ExportTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

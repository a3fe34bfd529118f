//! Export file formats, and telling them apart from a file's first bytes.

use std::{
    fmt,
    io::{self, BufRead},
    path::Path,
};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An export file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormat {
    /// One JSON object per line.
    Ndjson,
    /// A header row, then one event per row.
    Csv,
    /// Apache Parquet (cargo feature `parquet`).
    Parquet,
    /// Apache Avro object container (cargo feature `avro`).
    Avro,
}

impl RecordFormat {
    /// The format's name as the API spells it (`ndjson`, `csv`, `parquet`, `avro`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Ndjson => "ndjson",
            RecordFormat::Csv => "csv",
            RecordFormat::Parquet => "parquet",
            RecordFormat::Avro => "avro",
        }
    }

    /// The format a file name suggests, ignoring a trailing `.gz`:
    /// `.ndjson`/`.jsonl`/`.json`, `.csv`, `.parquet`/`.pq`, `.avro`.
    ///
    /// ```
    /// use userpilot_appex::records::RecordFormat;
    /// assert_eq!(RecordFormat::from_path("a/part-1.csv.gz"), Some(RecordFormat::Csv));
    /// assert_eq!(RecordFormat::from_path("events.jsonl"), Some(RecordFormat::Ndjson));
    /// assert_eq!(RecordFormat::from_path("events.gz"), None);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Option<Self> {
        let path = path.as_ref();
        let ext = |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
        };
        let mut e = ext(path)?;
        if e == "gz" || e == "gzip" {
            e = ext(Path::new(path.file_stem()?))?;
        }
        match e.as_str() {
            "ndjson" | "jsonl" | "json" => Some(RecordFormat::Ndjson),
            "csv" => Some(RecordFormat::Csv),
            "parquet" | "pq" => Some(RecordFormat::Parquet),
            "avro" => Some(RecordFormat::Avro),
            _ => None,
        }
    }
}

impl std::str::FromStr for RecordFormat {
    type Err = Error;

    /// Parses `ndjson` (or `jsonl`/`json`), `csv`, `parquet`, `avro`,
    /// case-insensitively.
    ///
    /// ```
    /// use userpilot_appex::records::RecordFormat;
    /// assert_eq!("CSV".parse::<RecordFormat>().unwrap(), RecordFormat::Csv);
    /// assert!("xlsx".parse::<RecordFormat>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "json" => Ok(RecordFormat::Ndjson),
            "csv" => Ok(RecordFormat::Csv),
            "parquet" => Ok(RecordFormat::Parquet),
            "avro" => Ok(RecordFormat::Avro),
            _ => Err(Error::InvalidInput(format!(
                "unknown record format {s:?}; expected ndjson, csv, parquet or avro"
            ))),
        }
    }
}

impl fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `true` if the file name ends in `.gz` or `.gzip` (any case).
pub(super) fn named_gzip(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("gzip"))
}

/// The first `n` bytes of a buffered reader (fewer at end of file), unconsumed.
pub(super) fn peek(reader: &mut impl BufRead, n: usize) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// Guesses a text format from the first non-blank byte: `{` is ndjson,
/// the avro or parquet magic is that format, anything else is CSV. An empty
/// input reads as ndjson (no events).
pub(super) fn sniff(reader: &mut impl BufRead) -> io::Result<RecordFormat> {
    let buf = reader.fill_buf()?;
    if buf.starts_with(b"Obj\x01") {
        return Ok(RecordFormat::Avro);
    }
    if buf.starts_with(b"PAR1") {
        return Ok(RecordFormat::Parquet);
    }
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(match buf.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') => RecordFormat::Ndjson,
        Some(_) => RecordFormat::Csv,
    })
}

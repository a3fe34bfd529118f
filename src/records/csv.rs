//! CSV: a header row naming the fields, one event per row, empty cell = absent.

use std::io::Read;

use csv::{ByteRecord, ErrorKind, ReaderBuilder};
use serde_json::{Map, Value};

use super::{
    Fault,
    event::{EXPORT_FIELDS, ExportedEvent, set_text_fields},
};
use crate::error::RecordLocation;

/// Streams events from CSV text, one record at a time.
pub(super) struct CsvRows<R> {
    reader: csv::Reader<R>,
    headers: Vec<String>,
    /// Per column: the index in [`EXPORT_FIELDS`] of the field it holds.
    slots: Vec<Option<usize>>,
    record: ByteRecord,
    started: bool,
}

impl<R: Read> CsvRows<R> {
    pub(super) fn new(reader: R) -> Self {
        CsvRows {
            reader: ReaderBuilder::new()
                .buffer_capacity(64 * 1024)
                .has_headers(true)
                .flexible(false)
                .from_reader(reader),
            headers: Vec::new(),
            slots: Vec::new(),
            record: ByteRecord::new(),
            started: false,
        }
    }

    /// Reads and checks the header row; `Ok(false)` for an empty file.
    fn read_headers(&mut self) -> Result<bool, Fault> {
        let headers = self.reader.byte_headers().map_err(fault)?;
        if headers.is_empty() {
            return Ok(false);
        }
        let mut names = Vec::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            let name = std::str::from_utf8(h).map_err(|_| Fault::Fatal {
                location: RecordLocation::Line(1),
                message: format!("header cell {} is not UTF-8", i + 1),
            })?;
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            names.push(name.trim().to_string());
        }
        if !names.iter().any(|n| EXPORT_FIELDS.contains(&n.as_str())) {
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            return Err(Fault::Fatal {
                location: RecordLocation::Line(1),
                message: format!(
                    "the header row names none of the exported fields (it starts {shown:?}); \
                     is this an export file with a header?"
                ),
            });
        }
        self.slots = names
            .iter()
            .map(|n| EXPORT_FIELDS.iter().position(|f| f == n))
            .collect();
        self.headers = names;
        Ok(true)
    }

    /// Reads the next event into `event` (see
    /// [`RecordReader::read_into`](super::RecordReader::read_into)).
    pub(super) fn next_row_into(&mut self, event: &mut ExportedEvent) -> Option<Result<(), Fault>> {
        if !self.started {
            self.started = true;
            match self.read_headers() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(f) => return Some(Err(f)),
            }
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some(self.convert(RecordLocation::Line(line), event))
            }
            Err(e) => Some(Err(fault(e))),
        }
    }

    fn convert(&self, location: RecordLocation, event: &mut ExportedEvent) -> Result<(), Fault> {
        // Known columns go straight to their field (a repeated column: the
        // last one wins), others to `extra`.
        // Cells are borrowed from the record: only the fields that keep
        // text allocate it.
        let mut fields: [Option<&str>; EXPORT_FIELDS.len()] = Default::default();
        let mut extra = Map::new();
        // The record's bytes are checked as UTF-8 once; a cell is then
        // valid when it starts and ends on character boundaries.
        let text = std::str::from_utf8(self.record.as_slice()).ok();
        let columns = self.headers.iter().zip(&self.slots);
        for (column, (name, slot)) in columns.enumerate() {
            let Some(range) = self.record.range(column) else {
                break;
            };
            if range.is_empty() {
                continue;
            }
            let cell = text.and_then(|t| t.get(range)).ok_or_else(|| Fault::Row {
                location,
                message: format!("cell {name} is not UTF-8"),
            })?;
            match slot {
                Some(i) => fields[*i] = Some(cell),
                None => {
                    extra.insert(name.clone(), Value::String(cell.to_string()));
                }
            }
        }
        set_text_fields(event, fields, extra).map_err(|message| Fault::Row { location, message })
    }
}

fn fault(e: csv::Error) -> Fault {
    let line = e.position().map(|p| p.line());
    let message = e.to_string();
    match e.into_kind() {
        ErrorKind::Io(io) => Fault::Io(io),
        ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Fault::Row {
            location: RecordLocation::Line(pos.map(|p| p.line()).or(line).unwrap_or(0)),
            message: format!("row has {len} cells, the header has {expected_len}"),
        },
        _ => Fault::Row {
            location: RecordLocation::Line(line.unwrap_or(0)),
            message,
        },
    }
}

//! ndjson: one JSON object per line.

use std::io::{BufRead, Read};

use serde_json::{Map, Value};

use super::{Fault, event::ExportedEvent};
use crate::error::RecordLocation;

/// The longest line read; a longer one is a malformed row (and is skipped
/// without being held in memory).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Streams events from ndjson text, one line at a time.
pub(super) struct NdjsonRows<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> NdjsonRows<R> {
    pub(super) fn new(reader: R) -> Self {
        NdjsonRows {
            reader,
            line: 0,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads up to and including the next `\n`, at most `MAX_LINE + 1` bytes.
    fn read_line(&mut self) -> std::io::Result<usize> {
        self.buf.clear();
        (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
    }

    pub(super) fn next_row(&mut self) -> Option<Result<ExportedEvent, Fault>> {
        loop {
            let n = match self.read_line() {
                Ok(n) => n,
                Err(e) => return Some(Err(Fault::Io(e))),
            };
            if n == 0 {
                return None;
            }
            self.line += 1;
            let location = RecordLocation::Line(self.line);
            if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                // Drop the rest of the over-long line, a bounded piece at a time.
                loop {
                    match self.read_line() {
                        Ok(0) => break,
                        Ok(_) if self.buf.last() == Some(&b'\n') => break,
                        Ok(_) => {}
                        Err(e) => return Some(Err(Fault::Io(e))),
                    }
                }
                return Some(Err(Fault::Row {
                    location,
                    message: format!("line is longer than {MAX_LINE} bytes"),
                }));
            }
            let mut line = self.buf.trim_ascii();
            if self.line == 1 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if line.is_empty() {
                continue;
            }
            let map = match serde_json::from_slice::<Map<String, Value>>(line) {
                Ok(map) => map,
                Err(e) => {
                    return Some(Err(Fault::Row {
                        location,
                        message: format!("not a JSON object: {e}"),
                    }));
                }
            };
            return Some(
                ExportedEvent::from_json_map(map)
                    .map_err(|message| Fault::Row { location, message }),
            );
        }
    }
}

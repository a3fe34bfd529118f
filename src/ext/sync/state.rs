//! The sync's state, kept at `_appex/state.json` in the destination:
//! what has landed, what is in flight, and what the copy was made with.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::plan::Window;
use crate::{
    error::{Error, Result},
    generated::types::ExportRequest,
};

/// Where the state lives in the destination.
pub const STATE_KEY: &str = "_appex/state.json";

/// The state's format version; a newer one is refused, not guessed at.
pub const STATE_VERSION: u32 = 1;

/// What a destination holds according to its sync state. Written after
/// every committed window (and when a job is triggered), replaced
/// atomically; read it with [`SyncState::load`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncState {
    /// The format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The last day landed completely: every day from the first synced
    /// one up to it holds everything its last export returned.
    pub watermark: Option<NaiveDate>,
    /// The hash of the export filters the copy was made with
    /// ([`filters_hash`]); a sync with other filters is refused.
    pub filters_hash: Option<String>,
    /// The window size (days) the server last accepted.
    pub window_days: Option<u32>,
    /// The lookback (days) of the last run.
    #[serde(default)]
    pub lookback_days: Option<u32>,
    /// The export triggered and not yet committed, if any.
    pub in_flight: Option<InFlight>,
    /// One entry per landed day.
    pub days: BTreeMap<NaiveDate, DayState>,
    /// The last run.
    pub last_run: Option<RunRecord>,
}

/// An export this sync triggered whose days have not all landed yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InFlight {
    /// The job's id.
    pub job_id: String,
    /// The days it covers.
    pub window: Window,
    /// The hash of the request body ([`request_hash`]); a resumed run only
    /// reuses the job when it would send the same request.
    pub request_hash: String,
    /// When it was triggered.
    pub triggered_at: DateTime<Utc>,
}

/// One landed day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DayState {
    /// Rows in the day's file after the last landing.
    pub rows: u64,
    /// The checksum the landing reported for the day's rows.
    pub checksum: String,
    /// When the day was last exported (its export's trigger time): late
    /// events imported after that are not in the copy.
    pub exported_at: DateTime<Utc>,
}

impl DayState {
    /// Whole days between the end of `day` and its last export (negative
    /// when exported before the day ended).
    pub fn read_after_days(&self, day: NaiveDate) -> i64 {
        let end = day
            .succ_opt()
            .map_or(NaiveDate::MAX, |d| d)
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        let after = self.exported_at - end;
        if after < chrono::Duration::zero() {
            after.num_days() - 1
        } else {
            after.num_days()
        }
    }
}

/// When the last run started and ended, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunRecord {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (it may have stopped early: see `complete`).
    pub finished_at: DateTime<Utc>,
    /// Whether every planned window was committed.
    pub complete: bool,
}

impl SyncState {
    /// A state for a destination never synced.
    pub fn empty() -> SyncState {
        SyncState {
            version: STATE_VERSION,
            ..SyncState::default()
        }
    }

    /// Decodes a state file. A file of a newer format, or one that is not
    /// a state at all, is an [`Error::InvalidInput`] naming the key: the
    /// state is never silently replaced.
    pub fn from_json(bytes: &[u8]) -> Result<SyncState> {
        let state: SyncState = serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidInput(format!("{STATE_KEY} is not a sync state: {e}")))?;
        if state.version > STATE_VERSION || state.version == 0 {
            return Err(Error::InvalidInput(format!(
                "{STATE_KEY} has format version {}; this build reads version {STATE_VERSION}",
                state.version
            )));
        }
        Ok(state)
    }

    /// Encodes the state (pretty JSON, a trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Records a landed day.
    #[cfg_attr(not(feature = "dataset"), allow(dead_code))]
    pub(crate) fn record_day(
        &mut self,
        day: NaiveDate,
        rows: u64,
        checksum: String,
        exported_at: DateTime<Utc>,
    ) {
        self.days.insert(
            day,
            DayState {
                rows,
                checksum,
                exported_at,
            },
        );
    }

    /// Days the state has no entry for between its first and last day.
    pub fn gaps(&self) -> Vec<NaiveDate> {
        let (Some(first), Some(last)) = (self.days.keys().next(), self.days.keys().next_back())
        else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|d| d <= last)
            .filter(|d| !self.days.contains_key(d))
            .collect()
    }

    /// Whether `day`'s copy may miss late events for good: its last export
    /// ran less than the lookback after the day ended, and the day is now
    /// out of the lookback (no run will read it again).
    pub fn is_unsettled(&self, day: NaiveDate) -> bool {
        let (Some(state), Some(watermark)) = (self.days.get(&day), self.watermark) else {
            return false;
        };
        let lookback = i64::from(self.lookback_days.unwrap_or(0));
        let reread_from = watermark - chrono::Duration::days(lookback - 1);
        day < reread_from && state.read_after_days(day) < lookback
    }

    /// Moves the watermark to `day` unless it is already past it.
    #[cfg_attr(not(feature = "dataset"), allow(dead_code))]
    pub(crate) fn advance(&mut self, day: NaiveDate) {
        if self.watermark.is_none_or(|w| w < day) {
            self.watermark = Some(day);
        }
    }
}

/// The hash of what decides which events an export returns (event types,
/// users, companies, segment, exclusions), independent of order and of
/// the range: a copy is made with one set of filters.
pub fn filters_hash(request: &ExportRequest) -> String {
    let sorted = |values: &[String]| {
        let mut v = values.to_vec();
        v.sort();
        v.dedup();
        v
    };
    let canonical = serde_json::json!({
        "event_type": sorted(&request.event_type),
        "user_id": sorted(&request.user_id),
        "company_id": sorted(&request.company_id),
        "segment_id": request.segment_id,
        "exclusions": request.exclusions,
    });
    sha256_hex(canonical.to_string().as_bytes())
}

/// The hash of a request body as sent.
pub fn request_hash(request: &ExportRequest) -> String {
    sha256_hex(&serde_json::to_vec(request).unwrap_or_default())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, day).unwrap()
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut state = SyncState::empty();
        state.filters_hash = Some("abc".into());
        state.window_days = Some(3);
        state.record_day(d(1), 10, "c1".into(), Utc::now());
        state.advance(d(1));
        state.in_flight = Some(InFlight {
            job_id: "j".into(),
            window: Window {
                first: d(2),
                last: d(4),
            },
            request_hash: "h".into(),
            triggered_at: Utc::now(),
        });
        let back = SyncState::from_json(&state.to_json()).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn a_newer_or_foreign_state_is_refused_not_replaced() {
        let newer = br#"{"version": 99, "days": {}}"#;
        let error = SyncState::from_json(newer).unwrap_err().to_string();
        assert!(error.contains("version 99"), "{error}");
        assert!(SyncState::from_json(b"[1,2]").is_err());
        assert!(
            SyncState::from_json(br#"{"days": {}}"#).is_err(),
            "version 0"
        );
    }

    #[test]
    fn gaps_and_unsettled_days_show_at_once() {
        let at = |day: u32, hour: u32| d(day).and_hms_opt(hour, 0, 0).unwrap().and_utc();
        let mut state = SyncState::empty();
        state.lookback_days = Some(3);
        // Day 1 read on day 2 only (1 h after it ended), day 2 on day 9.
        state.record_day(d(1), 5, "a".into(), at(2, 1));
        state.record_day(d(2), 5, "b".into(), at(9, 0));
        state.record_day(d(4), 5, "c".into(), at(9, 0));
        state.record_day(d(8), 5, "c".into(), at(9, 0));
        state.advance(d(8));
        assert_eq!(state.gaps(), vec![d(3), d(5), d(6), d(7)]);
        assert_eq!(state.days[&d(1)].read_after_days(d(1)), 0);
        assert_eq!(state.days[&d(2)].read_after_days(d(2)), 6);
        assert!(state.is_unsettled(d(1)), "read too early, never again");
        assert!(!state.is_unsettled(d(2)));
        assert!(!state.is_unsettled(d(8)), "still inside the lookback");
    }

    #[test]
    fn the_watermark_never_moves_back() {
        let mut state = SyncState::empty();
        state.advance(d(5));
        state.advance(d(3));
        assert_eq!(state.watermark, Some(d(5)));
    }

    #[test]
    fn filters_hash_ignores_order_range_and_format_but_not_filters() {
        let a = ExportRequest {
            event_type: vec!["track".into(), "page_view".into()],
            from: Some("2025-01-01".into()),
            ..ExportRequest::default()
        };
        let b = ExportRequest {
            event_type: vec!["page_view".into(), "track".into()],
            to: Some("2025-02-01".into()),
            ..ExportRequest::default()
        };
        let c = ExportRequest {
            event_type: vec!["track".into()],
            ..ExportRequest::default()
        };
        assert_eq!(filters_hash(&a), filters_hash(&b));
        assert_ne!(filters_hash(&a), filters_hash(&c));
        assert_ne!(request_hash(&a), request_hash(&b));
    }
}

//! The plan of a sync: which days to read, cut into windows. Pure: no I/O,
//! no clock (the caller passes `end`).

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A range of UTC days, both ends included: one export request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Window {
    /// The first day.
    pub first: NaiveDate,
    /// The last day (included).
    pub last: NaiveDate,
}

impl Window {
    /// How many days the window covers (at least 1).
    pub fn days(&self) -> u32 {
        ((self.last - self.first).num_days() + 1).max(1) as u32
    }

    /// The days, in order.
    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        self.first.iter_days().take(self.days() as usize)
    }

    /// The window of at most `size` days (at least 1) that starts at
    /// `first` and ends no later than `end`; `None` when `first > end`.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use userpilot_appex::ext::sync::Window;
    ///
    /// let d = |day| NaiveDate::from_ymd_opt(2025, 1, day).unwrap();
    /// assert_eq!(Window::next(d(1), d(10), 7), Some(Window { first: d(1), last: d(7) }));
    /// assert_eq!(Window::next(d(8), d(10), 7), Some(Window { first: d(8), last: d(10) }));
    /// assert_eq!(Window::next(d(11), d(10), 7), None);
    /// ```
    pub fn next(first: NaiveDate, end: NaiveDate, size: u32) -> Option<Window> {
        if first > end {
            return None;
        }
        let span = i64::from(size.max(1)) - 1;
        let last = first
            .checked_add_signed(chrono::Duration::days(span))
            .map_or(end, |last| last.min(end));
        Some(Window { first, last })
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

/// What a sync will read: from the watermark minus the lookback (or the
/// start, on a first run) to the end, in windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncPlan {
    /// The first day asked for (`--start`).
    pub start: NaiveDate,
    /// The last day asked for (`--end`, included).
    pub end: NaiveDate,
    /// The last day landed completely before this run, if any.
    pub watermark: Option<NaiveDate>,
    /// The days re-read for late events (landed before, inside the lookback).
    pub reread: Option<Window>,
    /// The days read for the first time.
    pub new_days: Option<Window>,
    /// The window size in days the windows are cut to.
    pub window_days: u32,
    /// The windows, in order: one export each (unless a refusal halves them).
    pub windows: Vec<Window>,
}

impl SyncPlan {
    /// Plans a sync of `start..=end` given the state's `watermark`, a
    /// lookback of `lookback_days` and windows of `window_days` (at least 1).
    ///
    /// Days read: from `watermark + 1 - lookback_days` (never before
    /// `start`) to `end`; with no watermark (or one before `start`), from
    /// `start`. Nothing to read when that is after `end`.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use userpilot_appex::ext::sync::SyncPlan;
    ///
    /// let d = |day| NaiveDate::from_ymd_opt(2025, 1, day).unwrap();
    /// // First run: ten days in windows of 7.
    /// let plan = SyncPlan::new(d(1), d(10), None, 3, 7);
    /// assert_eq!(plan.windows.len(), 2);
    /// assert_eq!(plan.reread, None);
    /// // Next day: the last 3 days again, plus the new one.
    /// let plan = SyncPlan::new(d(1), d(11), Some(d(10)), 3, 7);
    /// assert_eq!((plan.windows[0].first, plan.windows[0].last), (d(8), d(11)));
    /// assert_eq!(plan.reread.map(|w| w.days()), Some(3));
    /// ```
    pub fn new(
        start: NaiveDate,
        end: NaiveDate,
        watermark: Option<NaiveDate>,
        lookback_days: u32,
        window_days: u32,
    ) -> SyncPlan {
        let window_days = window_days.max(1);
        let watermark = watermark.filter(|w| *w >= start);
        let from = match watermark {
            Some(w) => w
                .checked_add_signed(chrono::Duration::days(1 - i64::from(lookback_days)))
                .unwrap_or(start)
                .max(start),
            None => start,
        };
        let windows = windows(from, end, window_days);
        let reread = watermark.and_then(|w| {
            let last = w.min(end);
            (from <= last).then_some(Window { first: from, last })
        });
        let first_new = watermark
            .and_then(|w| w.succ_opt())
            .unwrap_or(start)
            .max(from);
        let new_days = (first_new <= end).then_some(Window {
            first: first_new,
            last: end,
        });
        SyncPlan {
            start,
            end,
            watermark,
            reread,
            new_days,
            window_days,
            windows,
        }
    }

    /// The days the plan reads, in all.
    pub fn days(&self) -> u32 {
        self.windows.iter().map(Window::days).sum()
    }
}

/// `from..=end` cut into windows of `size` days (the last may be shorter).
pub(crate) fn windows(from: NaiveDate, end: NaiveDate, size: u32) -> Vec<Window> {
    let mut out = Vec::new();
    let mut cursor = Some(from);
    while let Some(first) = cursor {
        let Some(window) = Window::next(first, end, size) else {
            break;
        };
        cursor = window.last.succ_opt();
        out.push(window);
    }
    out
}

/// The window size to try after the server refused `size` days as too
/// long: half of it (rounded down), or `None` when one day was refused.
#[cfg_attr(not(feature = "dataset"), allow(dead_code))]
pub(crate) fn halve(size: u32) -> Option<u32> {
    (size > 1).then_some(size / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, day).unwrap()
    }

    #[test]
    fn windows_cover_every_day_once_in_order() {
        for size in 1..12 {
            let ws = windows(d(1, 1), d(2, 3), size);
            let days: Vec<NaiveDate> = ws.iter().flat_map(|w| w.iter_days()).collect();
            let expected: Vec<NaiveDate> = d(1, 1).iter_days().take(34).collect();
            assert_eq!(days, expected, "size {size}");
            assert!(ws.iter().all(|w| w.days() <= size));
        }
    }

    #[test]
    fn lookback_never_reaches_before_start() {
        let plan = SyncPlan::new(d(1, 5), d(1, 10), Some(d(1, 6)), 30, 7);
        assert_eq!(plan.windows[0].first, d(1, 5));
        assert_eq!(
            plan.reread,
            Some(Window {
                first: d(1, 5),
                last: d(1, 6)
            })
        );
        assert_eq!(
            plan.new_days,
            Some(Window {
                first: d(1, 7),
                last: d(1, 10)
            })
        );
    }

    #[test]
    fn up_to_date_without_lookback_reads_nothing() {
        let plan = SyncPlan::new(d(1, 1), d(1, 10), Some(d(1, 10)), 0, 7);
        assert!(plan.windows.is_empty());
        assert_eq!(plan.days(), 0);
        assert_eq!(plan.new_days, None);
    }

    #[test]
    fn halving_goes_down_to_one_day() {
        assert_eq!(halve(7), Some(3));
        assert_eq!(halve(3), Some(1));
        assert_eq!(halve(2), Some(1));
        assert_eq!(halve(1), None);
    }
}

//! A job's progress, read leniently from whatever the server sent.

use std::fmt;

use crate::models::{ExportJob, JobStatus};

/// A job's progress, read leniently from whatever the server sent.
///
/// The `progress` field's form is undocumented; [`Progress::parse`] accepts
/// `"45%"`, `"0.45"`, `"45"`, `"3/7"` and `"3 of 7"`, and
/// [`Progress::from_job`] falls back on `completed_chunks` / `all_chunks`.
/// Parsing never fails: what cannot be read stays `None`, and the text
/// stays in [`raw`](Self::raw).
///
/// ```
/// use userpilot_appex::ext::jobs::Progress;
///
/// assert_eq!(Progress::parse("45%").fraction, Some(0.45));
/// assert_eq!(Progress::parse("0.45").fraction, Some(0.45));
/// let p = Progress::parse("3 of 4");
/// assert_eq!((p.chunks_done, p.chunks_total, p.fraction), (Some(3), Some(4), Some(0.75)));
/// assert_eq!(Progress::parse("soon").fraction, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Chunks finished, when known.
    pub chunks_done: Option<u32>,
    /// Chunks in all, when known.
    pub chunks_total: Option<u32>,
    /// Share done, in `0.0..=1.0`, when known.
    pub fraction: Option<f64>,
    /// The `progress` text as the server sent it, if any.
    pub raw: Option<String>,
}

impl Progress {
    /// Reads a progress text. Rules: `N%` is a percentage; `A/B` and
    /// `A of B` are chunk counts; a bare integer is a percentage (`"45"`);
    /// a decimal number up to 1 is a fraction (`"0.45"`), above 1 a
    /// percentage (`"45.5"`). The fraction is clamped to `0.0..=1.0`.
    pub fn parse(raw: &str) -> Progress {
        let text = raw.trim();
        let mut progress = Progress {
            raw: (!text.is_empty()).then(|| raw.to_string()),
            ..Progress::default()
        };
        if text.is_empty() {
            return progress;
        }
        if let Some((done, total)) = split_ratio(text) {
            if let (Some(done), Some(total)) = (leading_u32(done), leading_u32(total)) {
                progress.chunks_done = Some(done);
                progress.chunks_total = Some(total);
                progress.fraction = ratio(done, total);
            }
            return progress;
        }
        if let Some(percent) = text.strip_suffix('%') {
            progress.fraction = parse_number(percent).and_then(|n| clamp_fraction(n / 100.0));
            return progress;
        }
        if let Some(n) = parse_number(text) {
            let is_integer = !text.contains(['.', 'e', 'E']);
            let value = if is_integer || n > 1.0 { n / 100.0 } else { n };
            progress.fraction = clamp_fraction(value);
        }
        progress
    }

    /// The progress of a job: its `progress` text through [`Progress::parse`],
    /// with chunk counts from `completed_chunks` / `all_chunks` where the text
    /// gave none, the fraction from those counts where the text gave none,
    /// and `1.0` for a completed job whose progress is otherwise unknown.
    pub fn from_job(job: &ExportJob) -> Progress {
        let mut progress = job
            .progress
            .as_deref()
            .map(Progress::parse)
            .unwrap_or_default();
        if progress.chunks_total.is_none() && !job.all_chunks.is_empty() {
            let total = u32::try_from(job.all_chunks.len()).unwrap_or(u32::MAX);
            let done = u32::try_from(job.completed_chunks.len()).unwrap_or(u32::MAX);
            progress.chunks_done = Some(done);
            progress.chunks_total = Some(total);
            if progress.fraction.is_none() {
                progress.fraction = ratio(done, total);
            }
        }
        if progress.fraction.is_none() && job.status == Some(JobStatus::Completed) {
            progress.fraction = Some(1.0);
        }
        progress
    }

    /// The fraction as a percentage (`0.0..=100.0`), when known.
    pub fn percent(&self) -> Option<f64> {
        self.fraction.map(|f| f * 100.0)
    }

    /// `true` if nothing could be read.
    pub fn is_unknown(&self) -> bool {
        self.fraction.is_none() && self.chunks_done.is_none() && self.chunks_total.is_none()
    }
}

impl fmt::Display for Progress {
    /// `45.0%`, `3/7 chunks (42.9%)`, or `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.chunks_done, self.chunks_total, self.percent()) {
            (Some(done), Some(total), Some(p)) => write!(f, "{done}/{total} chunks ({p:.1}%)"),
            (Some(done), Some(total), None) => write!(f, "{done}/{total} chunks"),
            (_, _, Some(p)) => write!(f, "{p:.1}%"),
            _ => f.write_str("unknown"),
        }
    }
}

fn split_ratio(text: &str) -> Option<(&str, &str)> {
    if let Some(parts) = text.split_once('/') {
        return Some(parts);
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find(" of ")?;
    Some((&text[..at], &text[at + 4..]))
}

fn leading_u32(text: &str) -> Option<u32> {
    let token = text.split_whitespace().next()?;
    token.parse().ok()
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn ratio(done: u32, total: u32) -> Option<f64> {
    (total > 0)
        .then(|| f64::from(done) / f64::from(total))
        .and_then(clamp_fraction)
}

fn clamp_fraction(value: f64) -> Option<f64> {
    value.is_finite().then(|| value.clamp(0.0, 1.0))
}

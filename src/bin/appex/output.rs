//! Where output goes: results on stdout (one JSON document under `--json`),
//! progress bars and notes on stderr.

use std::{
    io::{self, IsTerminal, Write},
    time::Duration,
};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use serde::Serialize;

use crate::errors::CliError;

/// Set to `always` to draw progress bars on stderr even when it is not a
/// terminal (CI logs, tests). `-q` still hides them.
pub const ENV_PROGRESS: &str = "APPEX_PROGRESS";

/// `text` with control characters shown as escapes (`\n`, `\r`, `\t`,
/// `\0`, `\x1b`, `\u{9b}`…), for human output: whatever a server sent
/// cannot start a new line or drive the terminal. JSON output needs none
/// of this (its encoder escapes them).
pub fn escape(text: &str) -> String {
    use std::fmt::Write as _;
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// One file in the JSON output of `jobs download`, `export` and `demo`.
/// `path`, `bytes` and `sha256` are `null` for files not downloaded;
/// `sha256` is also `null` for files downloaded with `--no-checksum`.
#[derive(Debug, Serialize)]
pub struct FileOut {
    pub filename: String,
    pub path: Option<String>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
}

/// Output settings of one run.
#[derive(Clone, Debug)]
pub struct Ui {
    /// `--json`: stdout carries one JSON document.
    pub json: bool,
    /// `-q`: no progress bars, no notes.
    pub quiet: bool,
    force_progress: bool,
}

impl Ui {
    pub fn new(json: bool, quiet: bool) -> Self {
        let force_progress = std::env::var(ENV_PROGRESS).is_ok_and(|v| v == "always");
        Ui {
            json,
            quiet,
            force_progress,
        }
    }

    /// `true` when progress and notes are drawn: stderr is a terminal (or
    /// [`ENV_PROGRESS`] says always) and not `-q`.
    pub fn draws(&self) -> bool {
        !self.quiet && (self.force_progress || io::stderr().is_terminal())
    }

    /// A note for a human on stderr, drawn like the progress bars: not under
    /// `-q`, not when stderr is not a terminal (so a failure in a script
    /// leaves exactly one line there).
    pub fn note(&self, message: impl AsRef<str>) {
        if self.draws() {
            eprintln!("{}", escape(message.as_ref()));
        }
    }

    /// Prints `value` as the run's one JSON document on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(|e| CliError::json("the output", e))?;
        writeln!(out)?;
        out.flush()?;
        Ok(())
    }

    /// Prints lines of text on stdout, control characters [escaped](escape).
    pub fn print_lines<I, S>(&self, lines: I) -> Result<(), CliError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = io::stdout().lock();
        for line in lines {
            writeln!(out, "{}", escape(line.as_ref()))?;
        }
        out.flush()?;
        Ok(())
    }

    /// Prints a table (header row, then rows) with aligned columns on stdout.
    pub fn print_table(&self, headers: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|cell| escape(cell)).collect())
            .collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let render = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.trim_end().to_string()
        };
        let mut lines = vec![render(&mut headers.iter().copied())];
        for row in &rows {
            lines.push(render(&mut row.iter().map(String::as_str)));
        }
        self.print_lines(lines)
    }

    fn draw_target(&self) -> ProgressDrawTarget {
        if self.quiet {
            ProgressDrawTarget::hidden()
        } else if self.force_progress && !io::stderr().is_terminal() {
            ProgressDrawTarget::term_like(Box::new(ForcedStderr))
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// A container for several bars.
    pub fn multi(&self) -> MultiProgress {
        MultiProgress::with_draw_target(self.draw_target())
    }

    /// A spinner-and-bar over a job's chunks (length set once known).
    pub fn job_bar(&self, job_id: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.draw_target());
        bar.set_style(job_style(JobBar::Chunks));
        bar.set_prefix(short_id(job_id));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

/// What a job bar counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobBar {
    /// Chunks done of all chunks (`pos/len`).
    Chunks,
    /// A percentage.
    Percent,
}

/// The style of a job bar.
pub fn job_style(counting: JobBar) -> ProgressStyle {
    let template = match counting {
        JobBar::Percent => "{spinner} job {prefix} [{bar:30}] {pos:>3}% {msg} ({elapsed})",
        JobBar::Chunks => "{spinner} job {prefix} [{bar:30}] {pos}/{len} chunks {msg} ({elapsed})",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The style of one file's download bar: bytes, rate and ETA.
pub fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:24!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// The first 8 characters of a job id, for bar prefixes.
pub fn short_id(job_id: &str) -> String {
    job_id.chars().take(8).collect()
}

/// A stderr "terminal" that always draws ([`ENV_PROGRESS`]).
#[derive(Debug)]
struct ForcedStderr;

impl ForcedStderr {
    fn write(&self, s: &str) -> io::Result<()> {
        io::stderr().lock().write_all(s.as_bytes())
    }

    /// Moves the cursor `n` cells in the ANSI direction `A` (up), `B`
    /// (down), `C` (right) or `D` (left); nothing for 0.
    fn move_cursor(&self, n: usize, direction: char) -> io::Result<()> {
        if n > 0 {
            self.write(&format!("\x1b[{n}{direction}"))?;
        }
        Ok(())
    }
}

impl TermLike for ForcedStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

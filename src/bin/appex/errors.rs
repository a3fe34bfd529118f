//! Failures of a command: exit codes and the one line printed on stderr.

use std::{fmt, process::ExitCode};

use userpilot_appex::{
    Error,
    models::{JobStatus, SecretUrl},
};

/// Exit codes (a contract: scripts branch on them).
pub mod code {
    /// Success.
    pub const OK: u8 = 0;
    /// Anything not listed below (network, decode, I/O…).
    pub const OTHER: u8 = 1;
    /// Invalid usage or input.
    pub const USAGE: u8 = 2;
    /// The API key was refused.
    pub const UNAUTHORIZED: u8 = 3;
    /// No such job (or resource).
    pub const NOT_FOUND: u8 = 4;
    /// Another export is running (409) and `--on-conflict fail`.
    pub const CONFLICT: u8 = 5;
    /// The export job failed.
    pub const JOB_FAILED: u8 = 6;
    /// `--max-wait` ran out before the job ended.
    pub const MAX_WAIT: u8 = 7;
    /// Stopped by Ctrl-C (SIGINT) or SIGTERM; the same command resumes.
    pub const INTERRUPTED: u8 = crate::interrupt::EXIT_CODE;
    /// `sync` committed some windows, then stopped: run it again to continue.
    pub const PARTIAL: u8 = 8;
}

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// An error of the library.
    Lib(Error),
    /// Invalid usage the parser could not catch.
    Usage(String),
    /// Writing the output failed.
    Output(std::io::Error),
    /// Anything else (a simulator that would not start…).
    Other(String),
    /// Stopped by a signal: what to run to carry on (printed as is).
    Interrupted(String),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Lib(e)
    }
}

impl CliError {
    /// A JSON encoding error; an I/O one (stdout closed) stays I/O.
    pub fn json(what: &str, error: serde_json::Error) -> Self {
        match error.io_error_kind() {
            Some(kind) => CliError::Output(kind.into()),
            None => CliError::Other(format!("cannot encode {what} as JSON: {error}")),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Lib(Error::Interrupted {
                files_complete,
                files_total,
            }) => write!(
                f,
                "interrupted: {files_complete} of {files_total} files complete; run the same command again to resume"
            ),
            CliError::Lib(e) => {
                // The error, then the causes its text does not already say
                // ("error sending request" alone helps nobody).
                let mut text = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(cause) = source {
                    let cause_text = cause.to_string();
                    if !text.contains(&cause_text) {
                        text.push_str(": ");
                        text.push_str(&cause_text);
                    }
                    source = cause.source();
                }
                f.write_str(&text)
            }
            CliError::Usage(m) | CliError::Other(m) | CliError::Interrupted(m) => f.write_str(m),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Lib(e) => lib_exit_code(e),
            CliError::Usage(_) => code::USAGE,
            CliError::Interrupted(_) => code::INTERRUPTED,
            CliError::Output(_) | CliError::Other(_) => code::OTHER,
        }
    }

    /// `true` when stdout was closed under us (`appex records … | head`):
    /// not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// The one place library errors become exit codes.
pub fn lib_exit_code(error: &Error) -> u8 {
    match error {
        Error::InvalidInput(_) => code::USAGE,
        Error::Unauthorized(_) => code::UNAUTHORIZED,
        Error::NotFound(_) => code::NOT_FOUND,
        Error::Conflict(_) => code::CONFLICT,
        Error::JobFailed { .. } => code::JOB_FAILED,
        Error::JobNotCompleted {
            status: JobStatus::Failed,
            ..
        } => code::JOB_FAILED,
        Error::WaitTimeout { .. } => code::MAX_WAIT,
        Error::Interrupted { .. } => code::INTERRUPTED,
        Error::SyncIncomplete { .. } => code::PARTIAL,
        _ => code::OTHER,
    }
}

/// Prints `error: …` as one line on stderr, with `secret` (the API key)
/// scrubbed should it ever appear, and returns the exit code.
pub fn report(error: &CliError, secret: Option<&str>) -> ExitCode {
    if error.is_broken_pipe() {
        return ExitCode::from(code::OK);
    }
    let line = one_line(&error.to_string(), secret);
    if error.exit_code() == code::INTERRUPTED {
        eprintln!("{line}");
    } else {
        eprintln!("error: {line}");
    }
    ExitCode::from(error.exit_code())
}

/// Folds a message onto one line, removes `secret` from it and the query
/// string (a presigned signature) from any URL in it, and escapes control
/// characters (a server must not forge lines or send terminal escapes).
///
/// A key of 8 characters or more is removed wherever it occurs; a shorter
/// one only where it stands as a word of its own, so ordinary words that
/// happen to contain it are left whole.
pub fn one_line(message: &str, secret: Option<&str>) -> String {
    let secret = secret.map(str::trim).filter(|s| !s.is_empty());
    let line = message
        .split_whitespace()
        .map(|word| {
            if (word.starts_with("http://") || word.starts_with("https://")) && word.contains('?') {
                SecretUrl::new(word).redacted()
            } else {
                word.to_string()
            }
        })
        .map(|word| match secret {
            Some(secret) => redact(&word, secret),
            None => word,
        })
        .collect::<Vec<_>>()
        .join(" ");
    crate::output::escape(&line)
}

/// `word` with `secret` replaced by `<redacted>`: everywhere for a long
/// key, only where it is delimited (not inside a run of letters, digits,
/// `-` or `_`) for a short one.
fn redact(word: &str, secret: &str) -> String {
    const LONG: usize = 8;
    if secret.chars().count() >= LONG {
        return word.replace(secret, "<redacted>");
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find(secret) {
        out.push_str(&rest[..at]);
        let before = out.chars().next_back();
        rest = &rest[at + secret.len()..];
        let after = rest.chars().next();
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(secret);
        } else {
            out.push_str("<redacted>");
        }
    }
    out.push_str(rest);
    out
}

/// A clap error as one line (`error: …` without the usage block), and its
/// exit code: 0 for `--help`/`--version` (printed as clap prints them).
pub fn clap_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            let code = if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                code::USAGE
            } else {
                code::OK
            };
            ExitCode::from(code)
        }
        _ => {
            let text = error.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("tip:")
                        && !l.starts_with("For more information")
                })
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("error: {message} (see --help)");
            ExitCode::from(code::USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_and_scrubs() {
        assert_eq!(
            one_line("bad key abc123\n  details\n", Some("abc123")),
            "bad key <redacted> details"
        );
        assert_eq!(one_line("a\nb", None), "a b");
        // A short key is not stripped from ordinary words, only as a word.
        assert_eq!(
            one_line("key abc refused; abcdef and xabc stay", Some("abc")),
            "key <redacted> refused; abcdef and xabc stay"
        );
        assert_eq!(
            one_line("server said \u{1b}[31mred\u{0}", None),
            "server said \\x1b[31mred\\0"
        );
        assert_eq!(
            one_line("fetching https://h/p?X-Signature=abc failed", None),
            "fetching https://h/p?<redacted> failed"
        );
    }

    #[test]
    fn invalid_input_is_usage() {
        assert_eq!(lib_exit_code(&Error::InvalidInput("x".into())), 2);
        let wait = Error::WaitTimeout {
            job_id: "j".into(),
            max_wait: std::time::Duration::ZERO,
            elapsed: std::time::Duration::ZERO,
            polls: 1,
        };
        assert_eq!(lib_exit_code(&wait), 7);
    }
}

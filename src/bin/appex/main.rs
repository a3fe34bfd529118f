//! `appex`: Userpilot Analytics Export from a terminal, a cron job or CI.
//!
//! The binary is a thin layer over the library: argument parsing
//! ([`args`]), output and progress bars ([`output`]), exit codes and error
//! lines ([`errors`]), Ctrl-C ([`interrupt`]), one module per command
//! ([`commands`]).

mod args;
mod commands;
mod errors;
mod interrupt;
mod output;

use std::{
    io::{self, IsTerminal},
    process::ExitCode,
    time::Duration,
};

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::{args::Cli, errors::CliError};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return errors::clap_error(error),
    };
    init_tracing(cli.global.verbose);
    let secret = cli.global.api_key.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return errors::report(
                &CliError::Other(format!("cannot start the async runtime: {e}")),
                secret.as_deref(),
            );
        }
    };
    let result = runtime.block_on(commands::run(cli));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => errors::report(&error, secret.as_deref()),
    }
}

/// Logs go to stderr: nothing but errors by default, `-v` info, `-vv`
/// debug, `-vvv` trace; `RUST_LOG`, when set, decides instead.
fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "error",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(level))
        }
        _ => EnvFilter::new(level),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

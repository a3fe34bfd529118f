//! Shared by the `cli_*` tests: a simulator on a runtime of its own, and
//! the `appex` binary pointed at it.

use std::{
    ffi::OsStr,
    process::{Command, Output},
};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use userpilot_appex::simulator::{Simulator, SimulatorConfig};

/// An API key that must never show up in any output.
pub const SECRET_KEY: &str = "sk-test-7Hq2Zx-do-not-print";

/// Environment variables that would make a run depend on the caller's shell.
const AMBIENT: [&str; 5] = [
    "USERPILOT_API_KEY",
    "USERPILOT_APPEX_URL",
    "RUST_LOG",
    "APPEX_PROGRESS",
    "NO_COLOR",
];

/// A simulator served by a multi-thread runtime's workers, so the test
/// thread can block on the binary while it answers.
pub struct Sim {
    pub sim: Simulator,
    // Declared last: dropped after the simulator.
    rt: tokio::runtime::Runtime,
}

impl Sim {
    /// A simulator with fast jobs (20 ms a chunk) and [`SECRET_KEY`].
    pub fn start() -> Sim {
        Sim::with(fast())
    }

    /// A simulator with this configuration.
    pub fn with(config: SimulatorConfig) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        let sim = rt.block_on(Simulator::start(config)).expect("simulator");
        Sim { sim, rt }
    }

    pub fn url(&self) -> String {
        self.sim.base_url()
    }

    /// `appex --base-url <sim> --api-key <key> <args>`.
    pub fn appex(&self, args: &[impl AsRef<OsStr>]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        Run::of(cmd)
    }

    /// `appex --base-url <sim> --api-key <key>`, to add arguments and
    /// environment to.
    pub fn command(&self) -> Command {
        let mut cmd = appex_cmd();
        cmd.args(["--base-url", &self.url(), "--api-key", self.sim.api_key()]);
        cmd
    }

    /// `appex … ` [`export_args`]`(days, args)`.
    pub fn export(&self, days: u64, args: &[&str]) -> Run {
        self.appex(&export_args(days, args))
    }

    /// `appex --base-url <sim> <args>` with the key in `USERPILOT_API_KEY`.
    pub fn appex_env_key(&self, args: &[impl AsRef<OsStr>]) -> Run {
        let mut cmd = appex_cmd();
        cmd.env("USERPILOT_API_KEY", self.sim.api_key());
        cmd.args(["--base-url", &self.url()]);
        cmd.args(args);
        Run::of(cmd)
    }

    /// Runs a future on the simulator's runtime (to use the library client).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A library client for the simulator.
    pub fn client(&self) -> userpilot_appex::Client {
        self.sim.client().expect("client")
    }
}

/// The default test configuration: fast chunks, the secret key.
pub fn fast() -> SimulatorConfig {
    SimulatorConfig::default()
        .api_key(SECRET_KEY)
        .chunk_duration(std::time::Duration::from_millis(20))
        .pending_duration(std::time::Duration::from_millis(20))
        .events_per_day(50)
}

/// The `appex` binary with a clean environment.
pub fn appex_cmd() -> Command {
    let mut cmd = Command::cargo_bin("appex").expect("the appex binary (--features cli)");
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    cmd
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(mut cmd: Command) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run appex");
        Run {
            code: status.code().expect("exit code (not killed by a signal)"),
            stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
        }
    }

    /// Asserts exit code 0 and returns the run.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success; stderr: {}", self.stderr);
        self
    }

    /// stdout parsed as exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {:?}", self.stdout))
    }

    /// Asserts a failure with `code` and exactly one `error: ` line on stderr;
    /// returns that line.
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "exit code; stdout: {:?} stderr: {:?}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{:?}", lines[0]);
        assert!(
            self.stdout.is_empty(),
            "nothing on stdout: {:?}",
            self.stdout
        );
        lines[0].to_string()
    }
}

/// `export --from <days ago> --to <yesterday> <args>`.
pub fn export_args(days: u64, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "export".to_string(),
        "--from".to_string(),
        days_ago(days),
        "--to".to_string(),
        days_ago(1),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

/// A date `days` ago, as `YYYY-MM-DD`.
pub fn days_ago(days: u64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The hex SHA-256 of a file.
pub fn sha256_of(path: &std::path::Path) -> String {
    super::sha256_hex(&std::fs::read(path).expect("read downloaded file"))
}

//! Shared by the benchmarks: the simulator in a separate process, machine
//! facts, medians, memory counters. Not a benchmark itself.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::Duration,
};

use userpilot_appex::{
    Client,
    simulator::{Simulator, SimulatorConfig},
    types::ExportFormat,
};

/// Env var that turns a bench binary into the simulator server process.
const SERVER_ENV: &str = "APPEX_BENCH_SERVER";

/// What the server process should configure, passed through env vars.
#[derive(Clone, Debug, Default)]
pub struct ServerSpec {
    pub seed: u64,
    pub events_per_day: Option<usize>,
    pub event_properties: Option<usize>,
    pub page_limit: Option<usize>,
    pub synthetic_file_size: Option<u64>,
}

/// A simulator running in a child process (so its memory and CPU are not
/// the measured process's). Stops when dropped.
pub struct Server {
    pub base_url: String,
    pub api_key: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Spawns this very binary in server mode and waits until it listens.
    pub fn spawn(spec: &ServerSpec) -> Server {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        cmd.env(SERVER_ENV, "1")
            .env("APPEX_BENCH_SEED", spec.seed.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        fn text(value: Option<impl ToString>) -> Option<String> {
            value.map(|v| v.to_string())
        }
        let optional = [
            ("APPEX_BENCH_EVENTS_PER_DAY", text(spec.events_per_day)),
            ("APPEX_BENCH_EVENT_PROPERTIES", text(spec.event_properties)),
            ("APPEX_BENCH_PAGE_LIMIT", text(spec.page_limit)),
            ("APPEX_BENCH_SYNTHETIC", text(spec.synthetic_file_size)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                cmd.env(name, value);
            }
        }
        let mut child = cmd.spawn().expect("spawn the server process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("server says READY");
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("READY"), "server said {line:?}");
        let base_url = parts.next().expect("base url").to_string();
        let api_key = parts.next().expect("api key").to_string();
        Server {
            base_url,
            api_key,
            child,
            stdin,
            stdout,
        }
    }

    /// A client for this server.
    pub fn client(&self) -> Client {
        Client::builder()
            .base_url(&self.base_url)
            .api_key(self.api_key.as_str())
            .build()
            .expect("client")
    }

    /// Stops the server and returns its peak RSS in KiB (VmHWM).
    pub fn stop(mut self) -> Option<u64> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        let _ = self.child.wait();
        line.strip_prefix("HWM ")?.trim().parse().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            drop(self.stdin.take());
            let _ = self.child.wait();
        }
    }
}

/// If this process was spawned as the server, serve until stdin closes and
/// exit; otherwise return.
pub fn serve_if_asked() {
    if std::env::var_os(SERVER_ENV).is_none() {
        return;
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mut config = SimulatorConfig::default()
        .seed(env("APPEX_BENCH_SEED").unwrap_or(1))
        .pending_duration(Duration::ZERO)
        .chunk_duration(Duration::from_millis(1));
    if let Some(n) = env("APPEX_BENCH_EVENTS_PER_DAY") {
        config = config.events_per_day(n as usize);
    }
    if let Some(n) = env("APPEX_BENCH_EVENT_PROPERTIES") {
        config = config.event_properties(n as usize);
    }
    if let Some(n) = env("APPEX_BENCH_PAGE_LIMIT") {
        config = config.page_limit(n as usize);
    }
    if let Some(n) = env("APPEX_BENCH_SYNTHETIC") {
        config = config.synthetic_file_size(n);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let sim = Simulator::start(config).await.expect("simulator starts");
        println!("READY {} {}", sim.base_url(), sim.api_key());
        let _ = std::io::stdout().flush();
        // Serve until the parent writes a line or closes stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
        sim.shutdown().await;
    });
    println!("HWM {}", status_kib("VmHWM").unwrap_or(0));
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// A `/proc/self/status` field in KiB (e.g. `VmHWM`, `VmRSS`).
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Prints the date, core count, CPU model and load, for the record.
pub fn print_machine(name: &str) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "== bench {name}: {date}, {cores} cores ({cpu}), loadavg {}",
        load.trim()
    );
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// How many repetitions to run: `APPEX_BENCH_REPS` or `default`.
pub fn reps(default: usize) -> usize {
    env_number("APPEX_BENCH_REPS")
        .filter(|&n: &usize| n > 0)
        .unwrap_or(default)
}

/// The number in environment variable `name`, if it is set and parses.
pub fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Formats a list of figures for the log.
pub fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU time (user + system) this process has used so far, in seconds,
/// from `/proc/self/stat` (clock ticks of 10 ms).
pub fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// `cargo bench` passes `--bench` to a `harness = false` target; `cargo test
/// --all-targets` (or `--benches`) runs the same binary without it. Returns
/// `false`, after saying so, in the second case, so tests never run a
/// benchmark. Run a bench binary by hand with `--bench`.
pub fn under_cargo_bench(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return true;
    }
    println!("bench {name}: skipped (not run by `cargo bench`; pass --bench to run it)");
    false
}

/// Starts bench `name` run by `cargo bench` ([`under_cargo_bench`]): prints
/// the machine and returns the repetitions to run ([`reps`]); `None` when the
/// bench is to be skipped.
pub fn start(name: &str, default_reps: usize) -> Option<usize> {
    if !under_cargo_bench(name) {
        return None;
    }
    print_machine(name);
    Some(reps(default_reps))
}

/// Exports `days` days of `events_per_day` events in `format` from an
/// in-process simulator and downloads the files into `dir`.
pub async fn export_files(
    dir: &Path,
    events_per_day: usize,
    days: u32,
    format: ExportFormat,
) -> Vec<PathBuf> {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .seed(11)
            .events_per_day(events_per_day)
            .pending_duration(std::time::Duration::ZERO)
            .chunk_duration(std::time::Duration::from_millis(1)),
    )
    .await
    .expect("simulator");
    let client = sim.client().expect("client");
    let from = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("date");
    let to = from + chrono::Days::new(u64::from(days - 1));
    let job = client
        .export()
        .range(from, to)
        .format(format)
        .send()
        .await
        .expect("trigger")
        .wait()
        .await
        .expect("job completes");
    let report = client
        .download(&job, dir)
        .concurrency(2)
        .run()
        .await
        .expect("download");
    sim.shutdown().await;
    report.files.into_iter().map(|f| f.path).collect()
}

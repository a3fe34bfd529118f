//! A Python environment with readers nobody here wrote (DuckDB, pyarrow)
//! and an S3 server (moto), created under `target/pyenv` on first use and
//! reused afterwards. Set-up failures fail the test with one clear line;
//! nothing is ever skipped.

use std::{
    fs,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

/// What the environment holds; changing it rebuilds the environment.
const REQUIREMENTS: &[&str] = &["duckdb>=1.1", "pyarrow>=17", "moto[server]>=5"];

static SETUP: Mutex<Option<PathBuf>> = Mutex::new(None);

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

fn fail(step: &str, detail: &str) -> ! {
    let last = detail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    panic!("Python test environment: {step} failed: {last}");
}

fn run_setup(step: &str, cmd: &mut Command) {
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => fail(step, &String::from_utf8_lossy(&out.stderr)),
        Err(e) => fail(step, &e.to_string()),
    }
}

/// The environment's directory, created (once, serialised across the tests
/// of this process and, by a lock directory, across processes) if missing.
pub fn env_dir() -> PathBuf {
    let mut guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = guard.as_ref() {
        return dir.clone();
    }
    let target = target_dir();
    fs::create_dir_all(&target).unwrap_or_else(|e| fail("creating target/", &e.to_string()));
    let dir = target.join("pyenv");
    let stamp = dir.join(".appex-ready");
    let wanted = REQUIREMENTS.join("\n");
    let _lock = DirLock::acquire(&target.join("pyenv.lock"));
    if fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let started = Instant::now();
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| fail("removing a stale target/pyenv", &e.to_string()));
        }
        let python = std::env::var("APPEX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        run_setup(
            "`python3 -m venv target/pyenv`",
            Command::new(&python).args(["-m", "venv"]).arg(&dir),
        );
        run_setup(
            "`pip install duckdb pyarrow moto[server]`",
            Command::new(dir.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(REQUIREMENTS),
        );
        fs::write(&stamp, &wanted).unwrap_or_else(|e| fail("writing the stamp", &e.to_string()));
        eprintln!(
            "created the Python test environment {} in {:.0?}",
            dir.display(),
            started.elapsed()
        );
    }
    *guard = Some(dir.clone());
    dir
}

/// A lock across processes: a directory created atomically, removed on
/// drop; one left by a killed process is taken over after 20 minutes.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> DirLock {
        let deadline = Instant::now() + Duration::from_secs(30 * 60);
        loop {
            match fs::create_dir(path) {
                Ok(()) => return DirLock(path.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(20 * 60));
                    if stale {
                        let _ = fs::remove_dir(path);
                    }
                    if Instant::now() > deadline {
                        fail(
                            "waiting for target/pyenv.lock",
                            "still held after 30 minutes",
                        );
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => fail("creating target/pyenv.lock", &e.to_string()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// Runs a Python script in the environment with `args`; its stdout, or a
/// panic with its stderr.
pub fn run(script: &str, args: &[&str]) -> String {
    let python = env_dir().join("bin/python");
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Reads a landed dataset's `events` (hive partitions) with pyarrow:
/// prints the `inserted_at` column's type, then `day rows` per `dt`, sorted.
/// Arguments: the dataset path, then for S3 the endpoint and the keys.
const PYARROW_COUNTS: &str = r#"
import os, sys, pyarrow.fs as pafs, pyarrow.dataset as ds
fs = None
if len(sys.argv) > 2:
    fs = pafs.S3FileSystem(endpoint_override=sys.argv[2], scheme="http", region="us-east-1",
                           access_key=sys.argv[3], secret_key=sys.argv[4])
d = ds.dataset(sys.argv[1] + "/events", filesystem=fs, format="parquet", partitioning="hive")
t = d.to_table(columns=["dt", "inserted_at"])
print(t.schema.field("inserted_at").type)
counts = {}
for v in t.column("dt").to_pylist():
    counts[str(v)] = counts.get(str(v), 0) + 1
for k in sorted(counts):
    print(k, counts[k])
sys.stdout.flush()
# Leave without the AWS SDK's exit-time teardown, which sometimes aborts the
# interpreter ("terminate called without an active exception") after
# everything above was done and printed.
os._exit(0)
"#;

/// What pyarrow reads in the dataset at `path` (a directory, or with `s3`
/// a `bucket/prefix` on that moto server): see [`parse_counts`].
pub fn pyarrow_counts(path: &str, s3: Option<&Moto>) -> (String, Vec<(String, u64)>) {
    let out = match s3 {
        None => run(PYARROW_COUNTS, &[path]),
        Some(moto) => run(
            PYARROW_COUNTS,
            &[path, &moto.endpoint, ACCESS_KEY, SECRET_KEY],
        ),
    };
    parse_counts(&out)
}

/// `(type line, [(day, rows)])` from a reader script's output: a first line
/// naming the `inserted_at` type, then `day rows` lines.
pub fn parse_counts(out: &str) -> (String, Vec<(String, u64)>) {
    let mut lines = out.lines();
    let kind = lines.next().expect("a type line").to_string();
    let counts = lines
        .map(|l| {
            let (d, n) = l.split_once(' ').expect("day count");
            (d.to_string(), n.parse().expect("a count"))
        })
        .collect();
    (kind, counts)
}

/// A `moto_server` on 127.0.0.1 (a free port), killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// The credentials the tests give moto (which accepts any).
pub const ACCESS_KEY: &str = "AKIATESTTESTTESTTEST";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "test-secret-never-printed-0123456789";

impl Moto {
    /// Starts the server and waits until it accepts connections.
    pub fn start() -> Moto {
        let server = env_dir().join("bin/moto_server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| fail("starting moto_server", &e.to_string()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                fail("moto_server", &format!("exited with {status}"));
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Environment variables that point AWS clients at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }

    /// Creates a bucket (through boto3, which moto brings).
    pub fn create_bucket(&self, bucket: &str) {
        run(
            "import boto3,sys\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                 aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])\n\
             s3.create_bucket(Bucket=sys.argv[2])\n",
            &[&self.endpoint, bucket, ACCESS_KEY, SECRET_KEY],
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

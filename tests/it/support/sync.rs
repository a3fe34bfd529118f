//! Shared by the `sync_*` tests: a fast simulator, a client with quick
//! polling, the rows a dataset holds, and the rows one export returns.

use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    sync::{Arc, Condvar, Mutex},
    time::Duration,
};

use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use userpilot_appex::{
    Client,
    ext::{
        jobs::WaitPolicy,
        sync::{Checkpoint, LookupRefresh, SyncProgress, SyncReport, SyncRun},
    },
    simulator::{Simulator, SimulatorConfig},
};

/// A day of March 2025.
pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, d).expect("a March day")
}

/// Jobs that finish in milliseconds, small days.
pub fn fast() -> SimulatorConfig {
    SimulatorConfig::default()
        .events_per_day(30)
        .pending_duration(Duration::from_millis(2))
        .chunk_duration(Duration::from_millis(2))
}

pub async fn start(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub fn client(sim: &Simulator) -> Client {
    Client::builder()
        .base_url(sim.base_url())
        .api_key(sim.api_key())
        .build()
        .expect("client builds")
}

/// Polls every few milliseconds.
pub fn quick_wait() -> WaitPolicy {
    WaitPolicy::default()
        .with_initial_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(20))
        .with_jitter(userpilot_appex::config::Jitter::None)
        .with_max_wait(Duration::from_secs(30))
        .with_not_found_grace(Duration::from_millis(200))
}

/// A sync of `first..=last` into `dir` with quick polling and no lookups.
pub fn sync(sim: &Simulator, dir: &Path, first: u32, last: u32) -> SyncRun {
    client(sim)
        .sync(dir.to_str().expect("utf-8 path"))
        .start(day(first))
        .end(day(last))
        .wait_policy(quick_wait())
        .lookups(LookupRefresh::Skip)
}

/// Runs a sync that must succeed.
pub async fn run_ok(sync: SyncRun) -> SyncReport {
    sync.run().await.expect("the sync succeeds")
}

/// A progress callback that reports, once, who holds the lock the run
/// waits for; and where it reports it.
pub fn lock_waits() -> (
    impl FnMut(&SyncProgress) + Send + 'static,
    tokio::sync::oneshot::Receiver<String>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    let callback = move |p: &SyncProgress| {
        if let SyncProgress::WaitingForLock { holder } = p
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(holder.clone());
        }
    };
    (callback, rx)
}

/// The `internal_event_id`s of each day file of the dataset in `dir`,
/// sorted, duplicates kept (so a duplicate shows as two equal ids).
pub fn dataset_rows(dir: &Path) -> BTreeMap<NaiveDate, Vec<String>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir.join("events")) else {
        return out;
    };
    for entry in entries {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().into_string().expect("utf-8 name");
        let Some(day) = name.strip_prefix("dt=") else {
            continue;
        };
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("dt=YYYY-MM-DD");
        let bytes = fs::read(entry.path().join("events.parquet")).expect("day file");
        out.insert(day, parquet_ids(bytes.into()));
    }
    out
}

/// The `internal_event_id`s of one day file, sorted, duplicates kept.
pub fn parquet_ids(file: bytes::Bytes) -> Vec<String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let column = batch
            .column_by_name("internal_event_id")
            .expect("internal_event_id column");
        let text = |v: Option<&str>| v.unwrap_or_default().to_string();
        match arrow_array::cast::AsArray::as_string_opt::<i32>(column.as_ref()) {
            Some(a) => ids.extend(a.iter().map(text)),
            None => ids.extend(
                arrow_array::cast::AsArray::as_string_view_opt(column.as_ref())
                    .expect("a text column")
                    .iter()
                    .map(text),
            ),
        }
    }
    ids.sort();
    ids
}

/// Holds a sync at a checkpoint until [`open`](Gate::open)ed: the run that
/// reaches it blocks there (holding its destination's lock) while the test
/// does something else; no sleep, no race. Needs a multi-thread runtime.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<(bool, bool)>, Condvar)>);

impl Gate {
    /// A checkpoint hook that holds the run the first time it reaches `at`.
    pub fn at(&self, at: Checkpoint) -> impl Fn(Checkpoint) -> bool + Send + Sync + 'static {
        let gate = self.clone();
        move |reached| {
            if reached == at {
                // `block_in_place`: the tasks queued on this worker (the
                // lock's heartbeat) move to another thread meanwhile.
                tokio::task::block_in_place(|| {
                    let (state, changed) = &*gate.0;
                    let mut s = state.lock().unwrap();
                    s.0 = true;
                    changed.notify_all();
                    while !s.1 {
                        s = changed.wait(s).unwrap();
                    }
                });
            }
            false
        }
    }

    /// Waits until a run is held at the gate.
    pub async fn reached(&self) {
        let gate = self.clone();
        tokio::task::spawn_blocking(move || {
            let (state, changed) = &*gate.0;
            let mut s = state.lock().unwrap();
            while !s.0 {
                s = changed.wait(s).unwrap();
            }
        })
        .await
        .unwrap();
    }

    /// Lets the held run (and any later one) go on.
    pub fn open(&self) {
        let (state, changed) = &*self.0;
        state.lock().unwrap().1 = true;
        changed.notify_all();
    }
}

/// Whether any day holds an id twice.
pub fn has_duplicates(rows: &BTreeMap<NaiveDate, Vec<String>>) -> bool {
    rows.values()
        .any(|ids| ids.windows(2).any(|w| w[0] == w[1]))
}

/// The rows of a single export of `first..=last`, by day of `inserted_at`,
/// deduplicated: what a dataset of that range must hold.
pub async fn reference_rows(
    sim: &Simulator,
    first: u32,
    last: u32,
) -> BTreeMap<NaiveDate, Vec<String>> {
    let client = client(sim);
    let job =
        crate::support::simulator::completed_export(&client, (day(first), day(last)), quick_wait())
            .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = client
        .download(job, dir.path())
        .run()
        .await
        .expect("download");
    let mut out: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for file in report.files {
        let bytes = fs::read(&file.path).expect("file");
        let text = crate::support::simulator::gunzip(&bytes).expect("gzip");
        for line in String::from_utf8(text).expect("utf-8").lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("ndjson");
            let at = event["inserted_at"].as_str().expect("inserted_at");
            let d = NaiveDate::parse_from_str(&at[..10], "%Y-%m-%d").expect("date");
            out.entry(d)
                .or_default()
                .push(event["internal_event_id"].as_str().expect("id").to_string());
        }
    }
    for ids in out.values_mut() {
        ids.sort();
        ids.dedup();
    }
    out
}

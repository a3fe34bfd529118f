//! Shared simulator state: the clock, export jobs and their lifecycle, the
//! file cache, URL signing and the request log.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::time::Instant;

use super::{
    RecordedRequest, Route,
    config::SimulatorConfig,
    data::{self, Filters},
    encode::{self, Format},
};

/// Everything the handlers share.
pub(crate) struct State {
    pub config: SimulatorConfig,
    pub base_url: String,
    signing_key: [u8; 32],
    /// When the simulator started, on its clock.
    started: Instant,
    inner: Mutex<Inner>,
    /// The filler behind synthetic files, made on first use.
    synthetic: OnceLock<Bytes>,
    /// `true` once downloads held by `hold_download_after` may go on.
    released: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    /// Extra time added to the clock by `Simulator::advance`.
    offset: Duration,
    jobs: Vec<Arc<Job>>,
    job_counter: u64,
    /// Valid export requests seen so far (for the foreign-export fault).
    triggers: usize,
    api_requests: u64,
    /// URLs signed in an older generation are expired.
    url_generation: u64,
    /// Bumped by `Simulator::replace_objects`: synthetic files change.
    object_revision: u64,
    requests: Vec<RecordedRequest>,
    /// Per file (`job/filename`): downloads started so far.
    downloads: HashMap<String, usize>,
}

/// One export job.
pub(crate) struct Job {
    pub(super) id: String,
    pub(super) format: Format,
    filters: Filters,
    days: Vec<NaiveDate>,
    triggered: Instant,
    pub(super) start_time: DateTime<Utc>,
    pub(super) polls: Mutex<usize>,
    files: Vec<OnceLock<Bytes>>,
}

/// Where a job is at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Processing(usize),
    Completed,
    Failed(usize),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An event's `inserted_at` text (empty if absent).
fn inserted_at(event: &data::Event) -> &str {
    match &event.values[6] {
        Some(data::FieldValue::Str(text)) => text,
        _ => "",
    }
}

/// The timestamp format of job times.
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Job {
    /// The chunk names, one per day.
    pub fn chunk_names(&self) -> Vec<String> {
        self.days.iter().map(|d| d.to_string()).collect()
    }

    /// File name of day `i`.
    pub fn filename(&self, i: usize) -> String {
        let short: String = self.id.chars().take(8).collect();
        format!("export-{short}-{}.{}", self.days[i], self.format.suffix())
    }

    /// The index of the day whose file is `name`.
    pub fn file_index(&self, name: &str) -> Option<usize> {
        (0..self.days.len()).find(|&i| self.filename(i) == name)
    }
}

impl State {
    pub(crate) fn new(config: SimulatorConfig, base_url: String) -> State {
        let mut key = [0u8; 32];
        let mut rng = fastrand::Rng::new();
        rng.fill(&mut key);
        State {
            config,
            base_url,
            signing_key: key,
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
            synthetic: OnceLock::new(),
            released: tokio::sync::watch::Sender::new(false),
        }
    }

    /// What a held download waits on: `true` once released.
    pub fn hold_release(&self) -> tokio::sync::watch::Receiver<bool> {
        self.released.subscribe()
    }

    /// Lets held downloads (and every later one) go on.
    pub fn release_held_downloads(&self) {
        self.released.send_replace(true);
    }

    /// The simulator's clock: real (tokio) time plus any `advance`.
    pub fn now(&self) -> Instant {
        Instant::now() + lock(&self.inner).offset
    }

    /// Wall-clock time matching [`State::now`].
    pub fn wall_now(&self) -> DateTime<Utc> {
        let offset = lock(&self.inner).offset;
        Utc::now() + chrono::Duration::from_std(offset).unwrap_or_default()
    }

    pub fn advance(&self, by: Duration) {
        lock(&self.inner).offset += by;
    }

    pub fn expire_urls(&self) {
        lock(&self.inner).url_generation += 1;
    }

    pub fn replace_objects(&self) {
        lock(&self.inner).object_revision += 1;
    }

    pub fn object_revision(&self) -> u64 {
        lock(&self.inner).object_revision
    }

    // --- request log and counters ---

    pub fn record(&self, request: RecordedRequest) {
        lock(&self.inner).requests.push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner).requests.clone()
    }

    pub fn request_count(&self, route: Route) -> usize {
        lock(&self.inner)
            .requests
            .iter()
            .filter(|r| r.route == route)
            .count()
    }

    /// Counts an authenticated API request; returns its 1-based number.
    pub fn next_api_request(&self) -> u64 {
        let mut inner = lock(&self.inner);
        inner.api_requests += 1;
        inner.api_requests
    }

    /// Counts a download of a file; returns how many started before it.
    pub fn next_download(&self, job: &str, filename: &str) -> usize {
        let mut inner = lock(&self.inner);
        let n = inner
            .downloads
            .entry(format!("{job}/{filename}"))
            .or_default();
        let before = *n;
        *n += 1;
        before
    }

    // --- jobs ---

    /// Removes jobs past retention.
    fn prune(&self, inner: &mut Inner, now: Instant) {
        let keep = self.config.jobs.retention;
        inner
            .jobs
            .retain(|j| now.saturating_duration_since(j.triggered) < keep);
    }

    /// Every kept job, oldest first.
    pub fn jobs(&self) -> Vec<Arc<Job>> {
        let now = self.now();
        let mut inner = lock(&self.inner);
        self.prune(&mut inner, now);
        inner.jobs.clone()
    }

    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs().into_iter().find(|j| j.id == id)
    }

    /// Creates a job unless one is running; `Err` = the running job's id.
    pub fn create_job(
        &self,
        format: Format,
        filters: Filters,
        days: Vec<NaiveDate>,
    ) -> Result<Arc<Job>, String> {
        let now = self.now();
        let wall = self.wall_now();
        let mut inner = lock(&self.inner);
        self.prune(&mut inner, now);
        if let Some(running) = inner
            .jobs
            .iter()
            .find(|j| !matches!(self.phase(j, now), Phase::Completed | Phase::Failed(_)))
        {
            return Err(running.id.clone());
        }
        inner.job_counter += 1;
        let mut rng = fastrand::Rng::with_seed(data::derive_seed(
            self.config.data.seed,
            &["job", &inner.job_counter.to_string()],
        ));
        let id = data::uuid_like(&mut rng);
        let files = days.iter().map(|_| OnceLock::new()).collect();
        let job = Arc::new(Job {
            id,
            format,
            filters,
            days,
            triggered: now,
            start_time: wall,
            polls: Mutex::new(0),
            files,
        });
        inner.jobs.push(job.clone());
        Ok(job)
    }

    /// Counts a valid export request and, if the foreign-export fault
    /// names this one, starts the foreign job first.
    pub fn before_trigger(&self) {
        let n = {
            let mut inner = lock(&self.inner);
            inner.triggers += 1;
            inner.triggers
        };
        if let Some((at, days)) = self.config.faults.foreign_export_before_trigger
            && at == n
        {
            let _ = self.create_foreign_job(days);
        }
    }

    /// Starts a job as someone else would (all event types, ndjson) over
    /// `days` days ending yesterday; `Err` = the running job's id.
    pub fn create_foreign_job(&self, days: usize) -> Result<Arc<Job>, String> {
        let last = self.wall_now().date_naive() - chrono::Duration::days(1);
        let first = last - chrono::Duration::days(days.max(1) as i64 - 1);
        let days = first.iter_days().take(days.max(1)).collect();
        self.create_job(Format::Ndjson, Filters::default(), days)
    }

    /// The job's phase at `now`.
    pub fn phase(&self, job: &Job, now: Instant) -> Phase {
        let elapsed = now.saturating_duration_since(job.triggered);
        let pending = self.config.jobs.pending;
        if elapsed < pending {
            return Phase::Pending;
        }
        let chunk = self.config.jobs.chunk.as_nanos().max(1);
        let k = ((elapsed - pending).as_nanos() / chunk) as usize;
        if let Some(f) = self.config.faults.fail_at_chunk
            && k >= f
            && f < job.days.len()
        {
            return Phase::Failed(f);
        }
        if k >= job.days.len() {
            Phase::Completed
        } else {
            Phase::Processing(k)
        }
    }

    /// When the job ended (completed or failed), as wall-clock time.
    fn end_time(&self, job: &Job, phase: &Phase) -> Option<DateTime<Utc>> {
        let chunks = match phase {
            Phase::Completed => job.days.len(),
            Phase::Failed(k) => *k,
            _ => return None,
        };
        let d = self.config.jobs.pending + self.config.jobs.chunk * chunks as u32;
        Some(job.start_time + chrono::Duration::from_std(d).unwrap_or_default())
    }

    fn progress(job: &Job, phase: &Phase) -> (String, Vec<String>, String) {
        let names = job.chunk_names();
        let n = names.len().max(1);
        let (done, current) = match phase {
            Phase::Pending => (0, String::new()),
            Phase::Processing(k) => (*k, names[*k].clone()),
            Phase::Failed(k) => (*k, names.get(*k).cloned().unwrap_or_default()),
            Phase::Completed => (names.len(), names.last().cloned().unwrap_or_default()),
        };
        (
            format!("{}%", done * 100 / n),
            names[..done].to_vec(),
            current,
        )
    }

    fn status(phase: &Phase) -> &'static str {
        match phase {
            Phase::Pending => "pending",
            Phase::Processing(_) => "processing",
            Phase::Completed => "completed",
            Phase::Failed(_) => "failed",
        }
    }

    /// The job JSON of `GET /jobs/{id}`, with freshly signed URLs.
    pub fn job_json(&self, job: &Job) -> Value {
        let now = self.now();
        let phase = self.phase(job, now);
        let (progress, completed, current) = Self::progress(job, &phase);
        let mut v = json!({
            "app_token": self.config.environment.app_token,
            "job_id": job.id,
            "status": Self::status(&phase),
            "progress": progress,
            "current_chunk": current,
            "all_chunks": job.chunk_names(),
            "completed_chunks": completed,
            "start_time": fmt_time(job.start_time),
            "type": "export",
            "presigned_urls": [],
        });
        if let Some(end) = self.end_time(job, &phase) {
            v["end_time"] = json!(fmt_time(end));
        }
        if phase == Phase::Completed {
            let urls: Vec<Value> = (0..job.days.len())
                .map(|i| {
                    let name = job.filename(i);
                    json!({"filename": name, "url": self.presign(&job.id, &name)})
                })
                .collect();
            v["presigned_urls"] = Value::Array(urls);
        }
        v
    }

    /// One item of `GET /jobs/`.
    pub fn job_summary_json(&self, job: &Job) -> Value {
        let now = self.now();
        let phase = self.phase(job, now);
        let (progress, _, _) = Self::progress(job, &phase);
        let end = self.end_time(job, &phase);
        let elapsed = match end {
            Some(end) => (end - job.start_time).to_std().unwrap_or_default(),
            None => now.saturating_duration_since(job.triggered),
        };
        let secs = elapsed.as_secs();
        let mut v = json!({
            "job_id": job.id,
            "status": Self::status(&phase),
            "progress": progress,
            "start_time": fmt_time(job.start_time),
            "elapsed_time": format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            "elapsed_time_seconds": format!("{:.3}", elapsed.as_secs_f64()),
        });
        if let Some(end) = end {
            v["end_time"] = json!(fmt_time(end));
        }
        v
    }

    /// Whether the job is completed (files can be downloaded).
    pub fn is_completed(&self, job: &Job) -> bool {
        self.phase(job, self.now()) == Phase::Completed
    }

    /// The bytes of file `i` of `job`, generated once.
    pub fn file_bytes(&self, job: &Job, i: usize) -> Result<Bytes, String> {
        let cell = job.files.get(i).ok_or("no such file")?;
        if let Some(b) = cell.get() {
            return Ok(b.clone());
        }
        let day = job.days[i];
        let mut events = data::day_events(
            self.config.data.seed,
            &self.config.environment.app_token,
            day,
            self.config.data.events_per_day,
            &job.filters,
        );
        let since_start = job.triggered.saturating_duration_since(self.started);
        let mut late_added = false;
        for (batch, late) in self.config.data.late_events.iter().enumerate() {
            if late.day == day && since_start >= late.visible_after {
                late_added = true;
                events.extend(data::late_day_events(
                    self.config.data.seed,
                    &self.config.environment.app_token,
                    day,
                    late.count,
                    batch,
                    &job.filters,
                ));
            }
        }
        if late_added {
            // Sorted by `inserted_at` like every file (its fixed-width
            // text sorts as the time does).
            events.sort_by(|a, b| inserted_at(a).cmp(inserted_at(b)));
        }
        let bytes = Bytes::from(encode::encode(job.format, &events)?);
        Ok(cell.get_or_init(|| bytes).clone())
    }

    /// The shared pseudo-random block synthetic files are cut from
    /// ([`SimulatorConfig::synthetic_file_size`]).
    pub fn synthetic_block(&self) -> Bytes {
        self.synthetic
            .get_or_init(|| {
                let mut rng = fastrand::Rng::with_seed(data::derive_seed(
                    self.config.data.seed,
                    &["synthetic"],
                ));
                let mut block = vec![0u8; super::faults::SYNTHETIC_BLOCK];
                rng.fill(&mut block);
                Bytes::from(block)
            })
            .clone()
    }

    // --- presigned URLs ---

    fn sign(&self, job: &str, filename: &str, expires: u64, generation: u64) -> String {
        // An HMAC key of any length is accepted; this cannot fail.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.signing_key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(format!("{job}/{filename}\n{expires}\n{generation}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn unix_now(&self) -> u64 {
        let offset = lock(&self.inner).offset;
        (SystemTime::now() + offset)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// A presigned download URL for a file.
    pub fn presign(&self, job: &str, filename: &str) -> String {
        let expires = self.unix_now() + self.config.jobs.url_ttl.as_secs();
        let generation = lock(&self.inner).url_generation;
        let sig = self.sign(job, filename, expires, generation);
        format!(
            "{}/_files/{job}/{filename}?X-Expires={expires}&X-Generation={generation}&X-Signature={sig}",
            self.base_url
        )
    }

    /// Checks a download's signature: `Err((code, message))` when refused.
    pub fn verify(
        &self,
        job: &str,
        filename: &str,
        query: &HashMap<String, String>,
    ) -> Result<(), (&'static str, &'static str)> {
        let bad = (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
        let (Some(expires), Some(generation), Some(sig)) = (
            query.get("X-Expires").and_then(|v| v.parse::<u64>().ok()),
            query
                .get("X-Generation")
                .and_then(|v| v.parse::<u64>().ok()),
            query.get("X-Signature"),
        ) else {
            return Err((
                "AccessDenied",
                "Query-string authentication requires the X-Expires, X-Generation and X-Signature parameters.",
            ));
        };
        let expected = self.sign(job, filename, expires, generation);
        let ok = !expected.is_empty()
            && expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !ok {
            return Err(bad);
        }
        let current = lock(&self.inner).url_generation;
        if generation < current || expires <= self.unix_now() {
            return Err(("AccessDenied", "Request has expired"));
        }
        Ok(())
    }
}

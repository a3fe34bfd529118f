//! [`SimulatorConfig`]: every knob of the simulator, fault injection included.

use std::time::Duration;

/// How the simulator behaves. Start from [`SimulatorConfig::default`] and
/// chain the setters; every fault is off by default.
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::simulator::SimulatorConfig;
///
/// let config = SimulatorConfig::default()
///     .api_key("test-key")
///     .seed(42)
///     .events_per_day(1_000)
///     .chunk_duration(Duration::from_millis(20))
///     .rate_limit_every(5, 1);
/// assert_eq!(config.get_api_key(), "test-key");
/// ```
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    pub(crate) environment: Environment,
    pub(crate) jobs: JobRules,
    pub(crate) data: Data,
    pub(crate) faults: Faults,
}

/// The environment the simulator stands for: where it listens, the key it
/// accepts, the token and name it reports.
#[derive(Clone, Debug)]
pub(crate) struct Environment {
    pub api_key: String,
    pub port: u16,
    pub app_token: String,
    pub name: String,
}

/// How export jobs run, and how long what they leave behind lasts.
#[derive(Clone, Debug)]
pub(crate) struct JobRules {
    /// Time spent `pending`.
    pub pending: Duration,
    /// Time spent on each chunk (one per day).
    pub chunk: Duration,
    /// How long a job is kept after its trigger.
    pub retention: Duration,
    /// How long a presigned URL stays valid.
    pub url_ttl: Duration,
    /// The longest range one export may cover.
    pub max_range_days: usize,
}

/// What exports and lookups hold, all generated from `seed`.
#[derive(Clone, Debug)]
pub(crate) struct Data {
    pub seed: u64,
    pub events_per_day: usize,
    pub late_events: Vec<LateEvents>,
    /// Filler files of this size instead of events (benchmarks).
    pub synthetic_file_size: Option<u64>,
    pub lookups: LookupSizes,
}

/// How much the paginated lookups hold, and their default page size.
#[derive(Clone, Debug)]
pub(crate) struct LookupSizes {
    pub page_limit: usize,
    pub segments: usize,
    pub event_properties: usize,
}

/// Backdated events for one day ([`SimulatorConfig::late_events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LateEvents {
    /// The day their `inserted_at` falls on.
    pub day: chrono::NaiveDate,
    /// How many.
    pub count: usize,
    /// Exports triggered this long after the simulator started (on its
    /// clock) or later contain them; earlier ones do not.
    pub visible_after: Duration,
}

/// The fault knobs, all off by default. Set through [`SimulatorConfig`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    /// Every Nth API request answers 429 with `Retry-After: secs`.
    pub rate_limit: Option<(usize, u64)>,
    /// Share (0..=1) of API requests answered 503, chosen from the seed.
    pub server_error_rate: f64,
    /// Cut each file's first `times` downloads after `bytes` body bytes.
    pub drop_download: Option<(u64, usize)>,
    /// Hold each file's first `times` downloads after `bytes` body bytes.
    pub hold_download: Option<(u64, usize)>,
    /// Serve gzip files with their tail cut off.
    pub truncate_gzip: bool,
    /// Send bodies in pieces of `bytes`, waiting `delay` before each.
    pub slow_body: Option<(usize, Duration)>,
    /// The page after this (1-based) page repeats its cursor.
    pub repeat_cursor_after_page: Option<usize>,
    /// Jobs fail when they reach this (0-based) chunk.
    pub fail_at_chunk: Option<usize>,
    /// A new job answers 404 to its first M polls.
    pub not_found_polls: usize,
    /// Just before the Nth valid export request (1-based), someone else
    /// starts an export of this many days.
    pub foreign_export_before_trigger: Option<(usize, usize)>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            environment: Environment {
                api_key: "sim-key".into(),
                port: 0,
                app_token: "NX-SIM00001".into(),
                name: "simulator".into(),
            },
            jobs: JobRules {
                pending: Duration::from_millis(100),
                chunk: Duration::from_millis(150),
                retention: Duration::from_secs(3 * 24 * 3600),
                url_ttl: Duration::from_secs(2 * 24 * 3600),
                max_range_days: 366,
            },
            data: Data {
                seed: 1,
                events_per_day: 200,
                late_events: Vec::new(),
                synthetic_file_size: None,
                lookups: LookupSizes {
                    page_limit: 50,
                    segments: 120,
                    event_properties: 130,
                },
            },
            faults: Faults::default(),
        }
    }
}

impl SimulatorConfig {
    /// The configured API key.
    pub fn get_api_key(&self) -> &str {
        &self.environment.api_key
    }

    crate::macros::setters! {
        /// The API key the simulator accepts (default `"sim-key"`); requests
        /// must send `Authorization: Token <key>`.
        api_key(key: impl Into<String>) => environment.api_key = key.into();

        /// The loopback port to bind (default 0: any free port).
        port(port: u16) => environment.port = port;

        /// The seed for everything random: job ids, export file contents, fault
        /// choices (default 1). Same seed and same export request, same bytes.
        seed(seed: u64) => data.seed = seed;

        /// Events generated per day of an export's range (default 200). Each
        /// day is one file, generated on first download and then cached.
        events_per_day(n: usize) => data.events_per_day = n;

        /// How long a job spends on each chunk (one chunk per day of the range;
        /// default 150 ms, so a 7-day export completes in about a second).
        chunk_duration(d: Duration) => jobs.chunk = d;

        /// How long a new job stays `pending` before processing (default 100 ms).
        pending_duration(d: Duration) => jobs.pending = d;

        /// How long a job is kept after it was triggered (default 3 days, as
        /// Userpilot documents). Older jobs are gone: 404 and not listed.
        job_retention(d: Duration) => jobs.retention = d;

        /// How long a presigned download URL stays valid (default 2 days). Each
        /// `GET /jobs/{id}` signs fresh URLs. See also
        /// [`Simulator::expire_urls`](super::Simulator::expire_urls).
        url_ttl(d: Duration) => jobs.url_ttl = d;

        /// The default page size of `segments` and `events_properties`
        /// (default 50); a request's `limit` query overrides it (1..=1000).
        page_limit(n: usize) => data.lookups.page_limit = n.max(1);

        /// How many segments the `segments` lookup holds (default 120).
        segments(n: usize) => data.lookups.segments = n;

        /// How many items the `events_properties` lookup holds (default 130).
        event_properties(n: usize) => data.lookups.event_properties = n;

        /// The environment's app token (default `"NX-SIM00001"`), written as
        /// `environment_app_token`, the job's `app_token` and each event's `app_token`.
        app_token(token: impl Into<String>) => environment.app_token = token.into();

        /// The environment's name (default `"simulator"`).
        environment_name(name: impl Into<String>) => environment.name = name.into();

        /// For benchmarks: serve every export file as `bytes` bytes of
        /// deterministic filler instead of generated events (default: off).
        ///
        /// The filler is not an export file (not gzip, no events); it exists
        /// so downloads of any size can be measured without the simulator
        /// generating or holding them. Bytes are streamed from one shared
        /// 1 MiB pseudo-random block (from the seed), each file starting at its
        /// own offset in it, so memory stays flat whatever the size. `Range`
        /// requests (and `If-Range`), signatures and expiry work as for real
        /// files, and so do [`drop_download_after`](Self::drop_download_after),
        /// [`hold_download_after`](Self::hold_download_after) and
        /// [`slow_body`](Self::slow_body) ([`truncate_gzip`](Self::truncate_gzip)
        /// does not apply). [`Simulator::replace_objects`](super::Simulator::replace_objects)
        /// gives every synthetic file a new version. `0` turns it off.
        synthetic_file_size(bytes: u64) => data.synthetic_file_size = (bytes > 0).then_some(bytes);

        /// The longest range one export may cover, in days (default 366).
        /// A trigger over more days is refused with `400` and the spec's error
        /// body, whose `details` read `the range covers N days; at most M are
        /// allowed`. Userpilot does not document its own limit; this knob lets
        /// code that discovers it (halving on refusal) be tested. `0` is read as 1.
        max_range_days(days: usize) => jobs.max_range_days = days.max(1);
    }

    /// Backdated events: `count` more events whose `inserted_at` falls on
    /// `day`, present in the files of exports triggered at least
    /// `visible_after` after the simulator started (on its clock, so
    /// [`Simulator::advance`](super::Simulator::advance) moves past it) and
    /// absent from earlier ones, as when events are imported late with a
    /// past timestamp. They are generated from the seed like the day's
    /// other events (same request, same bytes) and carry their own
    /// `internal_event_id`s. Repeatable; several calls for one day add up.
    pub fn late_events(
        mut self,
        day: chrono::NaiveDate,
        count: usize,
        visible_after: Duration,
    ) -> Self {
        self.data.late_events.push(LateEvents {
            day,
            count,
            visible_after,
        });
        self
    }

    // --- faults ---

    /// Fault: every `n`th API request (counting all authenticated API
    /// requests, file downloads excluded) answers 429 with
    /// `Retry-After: <retry_after_secs>` and an error body. `n = 0` turns it off.
    pub fn rate_limit_every(mut self, n: usize, retry_after_secs: u64) -> Self {
        self.faults.rate_limit = (n > 0).then_some((n, retry_after_secs));
        self
    }

    /// Fault: this share (clamped to 0..=1) of authenticated API requests
    /// answers 503 with an error body. Which requests fail follows from the
    /// seed and the request's sequence number, so a run is reproducible.
    pub fn server_error_rate(mut self, rate: f64) -> Self {
        self.faults.server_error_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Fault: the first `times` downloads of each file send `bytes` body
    /// bytes (of the `Content-Length` announced) and then drop the
    /// connection. Later downloads of that file, such as a resumed `Range`
    /// request, succeed.
    pub fn drop_download_after(mut self, bytes: u64, times: usize) -> Self {
        self.faults.drop_download = (times > 0).then_some((bytes, times));
        self
    }

    /// Fault: the first `times` downloads of each file send `bytes` body
    /// bytes and then nothing more, with the connection left open: a
    /// transfer that hangs midway until the client gives up or is stopped,
    /// or until [`Simulator::release_held_downloads`](super::Simulator::release_held_downloads)
    /// lets it finish (tests stop or overlap a download at a known byte
    /// this way, whatever the machine's load). Later downloads of that file
    /// succeed. [`drop_download_after`](Self::drop_download_after) applies first.
    pub fn hold_download_after(mut self, bytes: u64, times: usize) -> Self {
        self.faults.hold_download = (times > 0).then_some((bytes, times));
        self
    }

    /// Fault: file bodies are sent in pieces of `piece_bytes`, waiting
    /// `delay` before each piece.
    pub fn slow_body(mut self, piece_bytes: usize, delay: Duration) -> Self {
        self.faults.slow_body = Some((piece_bytes.max(1), delay));
        self
    }

    crate::macros::setters! {
        /// Fault: gzip-compressed files (ndjson, csv) are served with their
        /// last third cut off, with a matching `Content-Length`: the transfer
        /// succeeds, the gzip stream is incomplete.
        truncate_gzip(on: bool) => faults.truncate_gzip = on;

        /// Fault: for `segments` and `events_properties`, the page after page
        /// `page` (1-based) carries page `page`'s `after` cursor again, so a
        /// client that trusts cursors blindly loops forever.
        repeat_cursor_after_page(page: usize) => faults.repeat_cursor_after_page = (page > 0).then_some(page);

        /// Fault: jobs fail when they reach chunk `k` (0-based): status
        /// `failed`, chunks before `k` completed, no files.
        fail_at_chunk(k: usize) => faults.fail_at_chunk = Some(k);

        /// Fault: `GET /jobs/{id}` of a new job answers 404 to its first `m`
        /// polls (the job is listed all along), like an eventually consistent store.
        not_found_polls(m: usize) => faults.not_found_polls = m;
    }

    /// Fault: just before the `n`th valid export request (1-based) is
    /// answered, someone else starts an export of `days` days ending
    /// yesterday (as [`Simulator::start_foreign_export`] does), so that
    /// request meets a running job: `409`, and the foreign job is listed.
    ///
    /// [`Simulator::start_foreign_export`]: crate::simulator::Simulator::start_foreign_export
    pub fn foreign_export_before_trigger(mut self, n: usize, days: usize) -> Self {
        self.faults.foreign_export_before_trigger = (n > 0).then_some((n, days));
        self
    }
}

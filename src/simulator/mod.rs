//! A built-in, stateful fake of Userpilot's Analytics Export API (feature
//! `simulator`), for trying the crate without an account and for testing
//! code that uses it.
//!
//! [`Simulator::start`] serves, on loopback, all 15 operations of the spec
//! the way Userpilot documents them:
//!
//! - `Authorization: Token <key>` checked on every API call (401 with the
//!   spec's error body otherwise);
//! - `POST /api/v1/analytics/exports` starts a job (201), one running job at
//!   a time (409 while one runs), 400 on a bad body, range or format (the
//!   range defaults to the last 7 days; `to`'s day is included; parquet and
//!   avro need the crate features of the same names);
//! - a job goes `pending` → `processing` (one chunk per day of the range,
//!   [`SimulatorConfig::chunk_duration`] each) → `completed` (or `failed`, see
//!   [`SimulatorConfig::fail_at_chunk`]), with `progress`, `current_chunk`,
//!   `all_chunks` and `completed_chunks` filled as it goes; jobs are listed
//!   with elapsed times and forgotten after [`SimulatorConfig::job_retention`];
//! - completed jobs carry presigned download URLs (`/_files/...` with an
//!   expiry and an HMAC signature in the query) that behave like S3's: 400
//!   when the request also carries `Authorization`, 403 on a bad or expired
//!   signature, `Range` requests answered with 206 (416 out of range);
//! - one file per day, generated deterministically from the seed and the
//!   request, following the export file contract (all seven event types,
//!   sources, auto-captured fields, metadata per type): ndjson and csv
//!   gzip-compressed (csv under a name without `.gz`), parquet and avro with
//!   their features;
//! - `segments` and `events_properties` paginate with `limit` and opaque
//!   `after_cursor` cursors; the other lookups return plausible items.
//!
//! Faults are opt-in knobs of [`SimulatorConfig`]: 429 every N requests, a
//! rate of 503s, dropped, truncated or slow downloads, a repeated cursor, a
//! failing job, 404s for a new job's first polls. Knobs for keeping a copy
//! current: [`SimulatorConfig::max_range_days`] (longer ranges refused),
//! [`SimulatorConfig::late_events`] (backdated events that show up in later
//! exports only), [`SimulatorConfig::job_retention`] (jobs vanish), and
//! [`Simulator::start_foreign_export`] (an export started by someone else).
//!
//! # Testing your own code against the simulator
//!
//! Get a [`Client`](crate::Client) for the simulator with
//! [`Simulator::client`] (or [`Simulator::client_builder`] for other
//! settings), run the code under test, then assert on what it returned and
//! on the requests the simulator saw:
//!
//! ```
//! use userpilot_appex::simulator::{Route, Simulator, SimulatorConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimulatorConfig::default().seed(7)).await?;
//! let client = sim.client()?;
//!
//! // The code under test; here, a plain call.
//! let jobs = client.list_jobs().await?;
//!
//! assert!(jobs.is_empty());
//! assert_eq!(sim.request_count(Route::ListJobs), 1);
//! assert!(sim.requests()[0].headers.authorization);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Injecting faults
//!
//! Each fault is a [`SimulatorConfig`] knob. Here every second API request
//! is answered 429, and the client's retry policy rides it out:
//!
//! ```
//! use userpilot_appex::simulator::{Route, Simulator, SimulatorConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimulatorConfig::default().rate_limit_every(2, 0)).await?;
//! let client = sim.client()?;
//!
//! client.list_jobs().await?; // request 1: 200
//! let flows = client.flows().await?; // request 2: 429, retried; request 3: 200
//!
//! assert!(!flows.is_empty());
//! let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
//! assert_eq!(statuses, [200, 429, 200]);
//! assert_eq!(sim.request_count(Route::Flows), 2);
//! # Ok(()) }
//! ```

mod config;
mod data;
mod encode;
mod faults;
mod routes;
mod state;

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::models::LookupKind;

pub use config::SimulatorConfig;

/// Declares [`Route`] with one variant per row of the lookup table.
macro_rules! declare_route {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        /// An operation of the API (or a file download), for counting requests.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Route {
            /// `POST /api/v1/analytics/exports`.
            TriggerExport,
            /// `GET /api/v1/analytics/exports/jobs/`.
            ListJobs,
            /// `GET /api/v1/analytics/exports/jobs/{job_id}`.
            GetJob,
            $(
                #[doc = concat!("`GET .../lookups/", stringify!($op), "`.")]
                $variant,
            )*
            /// A presigned file download (`/_files/{job_id}/{filename}`).
            Download,
            /// Anything else (answered 404 or 405).
            Other,
        }

        impl From<LookupKind> for Route {
            fn from(kind: LookupKind) -> Route {
                match kind {
                    $( LookupKind::$variant => Route::$variant, )*
                }
            }
        }
    };
}

crate::models::lookup_table!(declare_route);

/// One request the simulator received. The `Authorization` value is never
/// stored, only whether the header was there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The operation, from method and path.
    pub route: Route,
    /// The HTTP method, e.g. `"GET"`.
    pub method: String,
    /// The path, e.g. `"/api/v1/analytics/exports/jobs/"`.
    pub path: String,
    /// The query string, if any, as sent, except that a download's
    /// `X-Signature` value reads `<redacted>`.
    pub query: Option<String>,
    /// The headers that matter to the API's contract.
    pub headers: RecordedHeaders,
    /// The status the simulator answered.
    pub status: u16,
}

/// The headers of a [`RecordedRequest`] that tests check: whether the
/// API key was sent (never its value) and the resume headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedHeaders {
    /// Whether an `Authorization` header was sent.
    pub authorization: bool,
    /// The `Range` header, if one was sent (e.g. `bytes=1000-`).
    pub range: Option<String>,
    /// The `If-Range` header, if one was sent (an `ETag` or a date).
    pub if_range: Option<String>,
}

/// A running simulator. Dropping it stops the server; [`Simulator::shutdown`]
/// stops it and waits until it has.
pub struct Simulator {
    state: Arc<state::State>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.state.base_url)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl Simulator {
    /// Binds `127.0.0.1:<port>` (any free port by default) and serves in a
    /// background task of the current tokio runtime.
    pub async fn start(config: SimulatorConfig) -> std::io::Result<Simulator> {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", config.environment.port)).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let state = Arc::new(state::State::new(config, base_url));
        let app = routes::router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "simulator server ended with an error");
            }
        });
        Ok(Simulator {
            state,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:40123` (no
    /// trailing `/`).
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key the simulator accepts.
    pub fn api_key(&self) -> &str {
        &self.state.config.environment.api_key
    }

    /// A [`Client`](crate::Client) for this simulator: its base URL and API
    /// key, everything else default.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use userpilot_appex::simulator::{Simulator, SimulatorConfig};
    ///
    /// let sim = Simulator::start(SimulatorConfig::default()).await?;
    /// let client = sim.client()?;
    /// assert_eq!(client.base_url(), sim.base_url());
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> crate::Result<crate::Client> {
        self.client_builder().build()
    }

    /// A [`ClientBuilder`](crate::ClientBuilder) with this simulator's base
    /// URL and API key set, for a client with other settings (a retry
    /// policy, timeouts).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use userpilot_appex::RetryPolicy;
    /// use userpilot_appex::simulator::{Simulator, SimulatorConfig};
    ///
    /// let sim = Simulator::start(SimulatorConfig::default()).await?;
    /// let client = sim
    ///     .client_builder()
    ///     .retry_policy(RetryPolicy::none())
    ///     .build()?;
    /// client.list_jobs().await?;
    /// # Ok(()) }
    /// ```
    pub fn client_builder(&self) -> crate::ClientBuilder {
        crate::Client::builder()
            .base_url(self.base_url())
            .api_key(self.api_key())
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimulatorConfig {
        &self.state.config
    }

    /// How many requests of `route` arrived so far (rejected ones included).
    pub fn request_count(&self, route: Route) -> usize {
        self.state.request_count(route)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Moves the simulator's clock forward: jobs progress (and age) as if
    /// `by` had passed, so tests need not wait for chunks.
    pub fn advance(&self, by: Duration) {
        self.state.advance(by);
    }

    /// Expires every download URL handed out so far: they answer 403
    /// "Request has expired". `GET /jobs/{id}` then hands out fresh URLs.
    pub fn expire_urls(&self) {
        self.state.expire_urls();
    }

    /// Lets every download held by
    /// [`SimulatorConfig::hold_download_after`] go on: held bodies send the
    /// rest of their bytes, and from then on no download is held.
    pub fn release_held_downloads(&self) {
        self.state.release_held_downloads();
    }

    /// Replaces every synthetic file
    /// ([`SimulatorConfig::synthetic_file_size`]) by a new version of the
    /// same length: other bytes, another `ETag`. A `Range` request whose
    /// `If-Range` names the old version gets the whole new file (`200`), as
    /// from an object store; one without `If-Range` gets the new bytes of
    /// the range.
    pub fn replace_objects(&self) {
        self.state.replace_objects();
    }

    /// Starts an export "by someone else" (another script or a colleague
    /// using the same environment): all event types, ndjson, over the
    /// `days` days (at least 1) that end yesterday. It runs like any job
    /// (`pending`, one chunk a day, `completed`) and, while it runs, every
    /// trigger answers 409. Returns its id, or `None` if an export is
    /// already running.
    pub fn start_foreign_export(&self, days: usize) -> Option<String> {
        self.state
            .create_foreign_job(days)
            .ok()
            .map(|job| job.id.clone())
    }

    /// The ids of the jobs currently kept, oldest first.
    pub fn job_ids(&self) -> Vec<String> {
        self.state.jobs().iter().map(|j| j.id.clone()).collect()
    }

    /// Stops accepting connections, lets running requests finish, and
    /// waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

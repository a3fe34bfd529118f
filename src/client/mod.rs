//! Client configuration: the API key (a secret), the base URL, timeouts,
//! the retry policy, and the request hook around the generated client.

mod hooks;
mod ops;

use std::{cell::Cell, fmt, future::Future, sync::Arc, time::Duration};

use progenitor_client::ResponseValue;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::{
    config::{ClientState, RetryPolicy},
    error::{ApiFailure, Error, Result, excerpt},
    generated,
    models::ErrorResponse,
};

#[cfg(feature = "dataset")]
pub(crate) use hooks::count_requests;
pub(crate) use hooks::{describe as describe_transport_error, note_request_sent, retry_after};
#[doc(hidden)]
pub use ops::JOB_OPERATIONS;

/// The public Userpilot host.
pub const DEFAULT_BASE_URL: &str = "https://appex.userpilot.io";
/// The environment variable read for the API key.
pub const ENV_API_KEY: &str = "USERPILOT_API_KEY";
/// The environment variable read for the base URL (EU / dedicated hosts).
pub const ENV_BASE_URL: &str = "USERPILOT_APPEX_URL";
/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("userpilot-appex/", env!("CARGO_PKG_VERSION"));

/// A Userpilot API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace is trimmed.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into().trim().to_string())
    }

    /// The key itself, for code that must send it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Authorization` header value, marked sensitive.
    fn header_value(&self) -> Result<HeaderValue> {
        if self.0.is_empty() {
            return Err(Error::InvalidInput("the API key is empty".into()));
        }
        let mut value = HeaderValue::from_str(&format!("Token {}", self.0)).map_err(|_| {
            Error::InvalidInput(
                "the API key contains characters not allowed in an HTTP header".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey::new(s)
    }
}

/// Normalises a base URL: must be `http(s)`, no query or fragment, no
/// trailing `/` (which would give `//api/...`). A path stem is kept.
pub(crate) fn normalize_base_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw)
        .map_err(|e| Error::InvalidInput(format!("base URL {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput(format!(
            "base URL must be http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidInput(
            "base URL must not have a query or fragment".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput(format!("base URL {raw:?} has no host")));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Refuses an `http://` base URL whose host is not this machine
/// (`localhost`, `127.0.0.0/8`, `::1`): the API key would cross the network
/// unencrypted. Decided from the URL alone, before any lookup or connection.
fn refuse_cleartext_to_remote(base_url: &str) -> Result<()> {
    let Ok(url) = url::Url::parse(base_url) else {
        return Ok(());
    };
    if url.scheme() != "http" {
        return Ok(());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "base URL {base_url} is http:// to a host other than this machine: the API key would travel unencrypted; use https:// (or allow_insecure_http(true) / --allow-insecure-http to accept the risk)"
    )))
}

/// Configures a [`Client`]. Start from [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use userpilot_appex::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("my-key")
///     .base_url("https://appex-eu.example.com/")
///     .request_timeout(Duration::from_secs(30))
///     .retry_policy(RetryPolicy::default().with_max_retries(2))
///     .build()?;
/// assert_eq!(client.base_url(), "https://appex-eu.example.com");
/// # Ok::<(), userpilot_appex::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    allow_insecure_http: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            allow_insecure_http: false,
        }
    }
}

impl ClientBuilder {
    crate::macros::setters! {
        /// Sets the API key (required).
        api_key(key: impl Into<ApiKey>) => api_key = Some(key.into());

        /// Sets the base URL (default [`DEFAULT_BASE_URL`]); EU and dedicated
        /// hosts are just another URL. A trailing `/` is fine.
        base_url(url: impl Into<String>) => base_url = url.into();

        /// Sets the TCP/TLS connect timeout (default 10 s).
        connect_timeout(timeout: Duration) => connect_timeout = timeout;

        /// Sets the timeout of one API request, answer included (default 60 s).
        /// Downloads are not bound by it: they have only the connect timeout and
        /// a stall timeout of their own.
        request_timeout(timeout: Duration) => request_timeout = timeout;

        /// Sets the retry policy (default [`RetryPolicy::default`]).
        retry_policy(policy: RetryPolicy) => retry = policy;

        /// Accepts an `http://` base URL to a host other than this machine
        /// (default `false`: [`build`](Self::build) refuses it with
        /// [`Error::InvalidInput`], since the API key would travel unencrypted).
        /// `http://` to `localhost`, `127.0.0.0/8` or `::1` (a simulator, a
        /// local proxy) is always accepted.
        ///
        /// ```
        /// use userpilot_appex::Client;
        ///
        /// let refused = Client::builder().api_key("k").base_url("http://example.invalid").build();
        /// assert!(refused.is_err());
        /// let local = Client::builder().api_key("k").base_url("http://127.0.0.1:8080").build();
        /// assert!(local.is_ok());
        /// let opted_in = Client::builder()
        ///     .api_key("k")
        ///     .base_url("http://example.invalid")
        ///     .allow_insecure_http(true)
        ///     .build();
        /// assert!(opted_in.is_ok());
        /// ```
        allow_insecure_http(allow: bool) => allow_insecure_http = allow;
    }

    /// Reads `USERPILOT_API_KEY` and, if set, `USERPILOT_APPEX_URL`.
    pub fn from_env(mut self) -> Result<Self> {
        let key = std::env::var(ENV_API_KEY)
            .map_err(|_| Error::InvalidInput(format!("{ENV_API_KEY} is not set")))?;
        self.api_key = Some(ApiKey::new(key));
        if let Ok(url) = std::env::var(ENV_BASE_URL)
            && !url.trim().is_empty()
        {
            self.base_url = url;
        }
        Ok(self)
    }

    /// Builds the client. Fails on a missing or malformed key or base URL.
    pub fn build(self) -> Result<Client> {
        let key = self.api_key.ok_or_else(|| {
            Error::InvalidInput(format!("no API key: set {ENV_API_KEY} or call api_key()"))
        })?;
        let base_url = normalize_base_url(&self.base_url)?;
        if !self.allow_insecure_http {
            refuse_cleartext_to_remote(&base_url)?;
        }
        install_crypto_provider();

        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, key.header_value()?);
        let api_http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()
            .map_err(Error::http_client)?;
        // Downloads go to presigned URLs on other hosts: no auth header, and
        // no redirects (a redirect must not carry anything anywhere).
        let download_http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::http_client)?;

        let state = ClientState {
            retry: self.retry.clone(),
        };
        let raw = generated::Client::new_with_client(&base_url, api_http, state);
        Ok(Client {
            inner: Arc::new(Inner {
                raw,
                download_http,
                base_url,
                retry: self.retry,
            }),
        })
    }
}

/// Installs rustls' `ring` provider as the process default, once. Ignored
/// if the application installed one already.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

struct Inner {
    raw: generated::Client,
    download_http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
}

/// The Userpilot Analytics Export API client. Cheap to clone.
///
/// Typed operations live here and in the extension modules.
///
/// ```no_run
/// # async fn run() -> userpilot_appex::Result<()> {
/// use userpilot_appex::Client;
///
/// let client = Client::from_env()?; // USERPILOT_API_KEY, USERPILOT_APPEX_URL
/// for job in client.list_jobs().await? {
///     println!("{:?} {:?}", job.job_id, job.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"<redacted>")
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl Client {
    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for the default host with this key.
    pub fn new(api_key: impl Into<ApiKey>) -> Result<Self> {
        Self::builder().api_key(api_key).build()
    }

    /// A client configured from `USERPILOT_API_KEY` and `USERPILOT_APPEX_URL`.
    pub fn from_env() -> Result<Self> {
        Self::builder().from_env()?.build()
    }

    /// The generated client, for raw calls (errors are progenitor's). An
    /// escape hatch, not the API: hidden from the docs.
    #[doc(hidden)]
    pub fn raw(&self) -> &generated::Client {
        &self.inner.raw
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The HTTP client for presigned downloads: no `Authorization` header,
    /// no redirects.
    pub(crate) fn download_http(&self) -> &reqwest::Client {
        &self.inner.download_http
    }
}

/// The gate every typed operation passes through: runs one generated
/// request inside the scope where the request hook records the answer's
/// status (which progenitor drops when a body fails to decode), and maps the
/// outcome to this crate's types. A generated request sent any other way
/// loses that status and progenitor's raw errors reach the caller.
pub(crate) async fn operation_gate<T, F>(operation: &'static str, request: F) -> Result<T>
where
    F: Future<
        Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<ErrorResponse>>,
    >,
{
    hooks::LAST_STATUS
        .scope(Cell::new(None), async move {
            match request.await {
                Ok(value) => Ok(value.into_inner()),
                Err(error) => {
                    let status = hooks::LAST_STATUS.with(Cell::get);
                    Err(map_error(operation, error, status).await)
                }
            }
        })
        .await
}

async fn map_error(
    operation: &'static str,
    error: progenitor_client::Error<ErrorResponse>,
    status: Option<reqwest::StatusCode>,
) -> Error {
    use progenitor_client::Error as E;
    match error {
        E::ErrorResponse(value) => {
            let status = value.status();
            let retry_after = retry_after(value.headers());
            let failure = ApiFailure {
                operation,
                status,
                errors: value.into_inner().errors,
                body_excerpt: None,
            };
            Error::from_status(failure, retry_after)
        }
        E::UnexpectedResponse(response) => {
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => return Error::transport(operation, e),
            };
            if status.is_success() {
                // A success status the spec does not declare: report what came.
                let failure = ApiFailure {
                    operation,
                    status,
                    errors: Vec::new(),
                    body_excerpt: excerpt(&body),
                };
                return Error::Api(failure);
            }
            Error::from_status(ApiFailure::from_body(operation, status, &body), retry_after)
        }
        E::InvalidResponsePayload(body, source) => match status {
            // A documented error status whose body was not the JSON error shape.
            Some(s) if s.is_client_error() || s.is_server_error() => {
                Error::from_status(ApiFailure::from_body(operation, s, &body), None)
            }
            _ => Error::Decode {
                operation,
                status,
                excerpt: excerpt(&body).unwrap_or_default(),
                source,
            },
        },
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            Error::transport(operation, e)
        }
        E::InvalidRequest(message) | E::Custom(message) => Error::InvalidInput(message),
    }
}

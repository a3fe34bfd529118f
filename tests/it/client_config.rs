//! Configuration: environment, base URL validation, retry schedule, tracing.

use std::time::Duration;

use crate::support::{self, KEY, job_path, logs::Logs, mock::answer};
use httpmock::{Method::GET, MockServer};
use serde_json::json;
use userpilot_appex::config::Jitter;
use userpilot_appex::{Client, Error, RetryPolicy};

#[test]
fn from_env_reads_the_key_and_the_base_url() {
    // The only test in this binary that touches the environment.
    unsafe {
        std::env::remove_var("USERPILOT_API_KEY");
    }
    let err = Client::from_env().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("USERPILOT_API_KEY")),
        "{err:?}"
    );
    unsafe {
        std::env::set_var("USERPILOT_API_KEY", KEY);
        std::env::set_var("USERPILOT_APPEX_URL", "https://appex-eu.example.com/");
    }
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), "https://appex-eu.example.com");
    assert!(!format!("{client:?}").contains(KEY));
    unsafe {
        std::env::remove_var("USERPILOT_APPEX_URL");
    }
    assert_eq!(
        Client::from_env().unwrap().base_url(),
        "https://appex.userpilot.io"
    );
}

#[test]
fn bad_base_urls_and_keys_are_rejected_with_clear_errors() {
    for (url, needle) in [
        ("ftp://example.com", "http or https"),
        ("not a url", "not a URL"),
        ("https://example.com/?token=x", "query"),
    ] {
        let err = Client::builder()
            .api_key(KEY)
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(m) if m.contains(needle)),
            "{url}: {err}"
        );
    }
    let err = Client::builder().build().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("no API key")),
        "{err}"
    );
    let err = Client::builder().api_key("   ").build().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("empty")),
        "{err}"
    );
}

#[test]
fn the_backoff_doubles_from_the_initial_delay_up_to_the_cap() {
    let policy = RetryPolicy::default()
        .with_jitter(Jitter::None)
        .with_backoff(Duration::from_millis(250), Duration::from_secs(2));
    let delays: Vec<_> = (1..=6)
        .map(|n| policy.delay_before_retry(n, None))
        .collect();
    assert_eq!(
        delays,
        [250, 500, 1000, 2000, 2000, 2000].map(Duration::from_millis)
    );
    let jittered =
        RetryPolicy::default().with_backoff(Duration::from_millis(250), Duration::from_secs(2));
    for n in 1..=6 {
        assert!(
            jittered.delay_before_retry(n, None) <= delays[n as usize - 1],
            "full jitter stays under the ceiling"
        );
    }
}

#[tokio::test]
async fn each_operation_runs_in_a_span_with_its_id_and_status_and_no_key() {
    let (logs, _guard) = Logs::capture();

    let server = MockServer::start_async().await;
    let job = json!({"job_id": "j-1", "status": "pending"});
    answer(&server, GET, job_path("j-1"), 200, job).await;
    support::client(&server.base_url(), RetryPolicy::none())
        .get_job("j-1")
        .await
        .unwrap();

    let logs = logs.text();
    assert!(logs.contains("appex.request"), "{logs}");
    assert!(
        logs.contains("operation=\"get_job\"") || logs.contains("operation=get_job"),
        "{logs}"
    );
    assert!(logs.contains("status=200"), "{logs}");
    assert!(!logs.contains(KEY), "the key leaked into the logs");
}

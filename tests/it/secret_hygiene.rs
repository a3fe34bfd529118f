//! Secret hygiene: a representative flow against the simulator (lookups, a
//! paginated walk, an export, waiting, a download whose URLs expired and are
//! refreshed, errors: 401, 404, a broken download, an unreachable host) with
//! every `tracing` event at TRACE, from this crate, the simulator, hyper and
//! h2, and every `log` record (reqwest, rustls), captured into a buffer.
//! Neither the API key nor any presigned signature may appear in those logs,
//! in any error's `Display` or `Debug`, or in the `Debug` of the client, jobs,
//! handles and reports.

#![cfg(feature = "simulator")]

use std::time::Duration;

use crate::support::logs::Logs;

use futures::StreamExt;
use userpilot_appex::{
    Client, Error, RetryPolicy,
    ext::jobs::WaitPolicy,
    models::{ExportJob, SecretUrl},
    simulator::{Simulator, SimulatorConfig},
};

const API_KEY: &str = "appex-secret-KEY-4f9a2c7e1b";
const WRONG_KEY: &str = "appex-wrong-KEY-77aa19";
/// A signature of our own making, on a URL that cannot be reached.
const FAKE_SIGNATURE: &str = "feedfacecafebeef0123456789abcdef";

/// Forwards `log` records (reqwest, rustls) into the buffer.
struct LogBridge(Logs);

impl log::Log for LogBridge {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!(
            "LOG {} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        self.0.append(line.as_bytes());
    }
    fn flush(&self) {}
}

/// The `X-Signature` values of a job's URLs.
fn signatures(job: &ExportJob) -> Vec<String> {
    job.presigned_urls
        .iter()
        .filter_map(|p| signature(&p.url))
        .collect()
}

fn signature(url: &SecretUrl) -> Option<String> {
    let parsed = url::Url::parse(url.expose()).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == "X-Signature")
        .map(|(_, v)| v.into_owned())
}

/// Fails if `text` holds a secret or an unredacted `X-Signature=` value.
fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} contains the secret {secret:?}:\n{text}"
        );
    }
    for (i, _) in text.match_indices("X-Signature=") {
        let rest = &text[i + "X-Signature=".len()..];
        assert!(
            rest.starts_with("<redacted>"),
            "{what} has an unredacted signature near {:?}",
            &rest[..rest.len().min(40)]
        );
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(4)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(10))
        .with_max_retry_after(Duration::from_millis(5))
}

#[tokio::test]
async fn neither_the_key_nor_a_signature_reaches_logs_errors_or_debug() {
    // This test's runtime is current-thread: every task it spawns (the
    // simulator's too) runs under this subscriber.
    let (buffer, _guard) = Logs::capture();
    log::set_boxed_logger(Box::new(LogBridge(buffer.clone()))).expect("the only logger");
    log::set_max_level(log::LevelFilter::Trace);

    let sim = Simulator::start(
        SimulatorConfig::default()
            .api_key(API_KEY)
            .seed(5)
            .events_per_day(200)
            .chunk_duration(Duration::from_millis(20))
            .pending_duration(Duration::from_millis(10))
            .page_limit(20),
    )
    .await
    .expect("simulator starts");
    let client = sim
        .client_builder()
        .retry_policy(fast_retry())
        .build()
        .expect("client builds");

    let mut debug_texts: Vec<(String, String)> = vec![
        ("client".into(), format!("{client:?}")),
        ("simulator".into(), format!("{sim:?}")),
    ];
    let mut errors: Vec<Error> = Vec::new();
    let mut signatures_seen: Vec<String> = Vec::new();

    // Lookups: a plain one, the catalogue, a paginated walk.
    let flows = client.flows().await.expect("flows");
    debug_texts.push(("flows".into(), format!("{flows:?}")));
    let catalogue = client.catalogue().await.expect("catalogue");
    debug_texts.push(("catalogue".into(), format!("{catalogue:?}")));
    let segments: Vec<_> = client.segments_stream().collect().await;
    assert!(segments.iter().all(Result::is_ok));

    // Export, wait with progress, download after the URLs expired.
    let from = chrono::NaiveDate::from_ymd_opt(2025, 2, 1).expect("date");
    let handle = client
        .export()
        .range(from, from + chrono::Days::new(1))
        .wait_policy(
            WaitPolicy::default()
                .with_initial_delay(Duration::from_millis(10))
                .with_max_delay(Duration::from_millis(40))
                .with_max_wait(Duration::from_secs(20)),
        )
        .send()
        .await
        .expect("export starts");
    debug_texts.push(("handle".into(), format!("{handle:?}")));
    let poller = handle.poller().on_progress(|_| {});
    debug_texts.push(("poller".into(), format!("{poller:?}")));
    let job = poller.wait().await.expect("job completes");
    signatures_seen.extend(signatures(&job));
    assert_eq!(signatures_seen.len(), 2, "two files, two signatures");
    debug_texts.push(("job".into(), format!("{job:?}")));
    debug_texts.push(("job (pretty)".into(), format!("{job:#?}")));
    debug_texts.push((
        "presigned url".into(),
        format!("{:?}", job.presigned_urls[0]),
    ));
    debug_texts.push((
        "secret url".into(),
        format!("{}", job.presigned_urls[0].url),
    ));

    sim.expire_urls();
    let dir = tempfile::tempdir().expect("tempdir");
    let download = client.download(&job, dir.path()).concurrency(2);
    debug_texts.push(("download".into(), format!("{download:?}")));
    let report = download.run().await.expect("download after a refresh");
    debug_texts.push(("report".into(), format!("{report:?}")));
    // The URLs the refresh handed out (same second, same generation: the
    // same signatures the downloader used), and the next ones.
    let fresh = client
        .get_job(job.job_id.as_deref().expect("job id"))
        .await
        .expect("job again");
    signatures_seen.extend(signatures(&fresh));
    let listed = client.list_jobs().await.expect("jobs listed");
    debug_texts.push(("jobs".into(), format!("{listed:?}")));

    // Errors: 401 with a wrong key, 404, a download that cannot connect
    // (its URL carries a signature of our own), an API host that is down.
    let wrong = sim
        .client_builder()
        .api_key(WRONG_KEY)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    debug_texts.push(("wrong client".into(), format!("{wrong:?}")));
    let err = wrong.flows().await.expect_err("401");
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    errors.push(err);
    let err = wrong.get_job("x").await.expect_err("401");
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    errors.push(err);
    let err = client
        .get_job("00000000-0000-0000-0000-000000000000")
        .await
        .expect_err("404");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    errors.push(err);

    let mut broken = fresh.clone();
    broken.job_id = None; // no refresh: the URL is all there is
    broken.presigned_urls.truncate(1);
    broken.presigned_urls[0].url = SecretUrl::new(format!(
        "http://127.0.0.1:9/_files/x/y.ndjson.gz?X-Expires=1&X-Signature={FAKE_SIGNATURE}"
    ));
    signatures_seen.push(FAKE_SIGNATURE.to_string());
    let err = client
        .download(&broken, dir.path().join("broken"))
        .retry_policy(RetryPolicy::none())
        .run()
        .await
        .expect_err("nothing listens on port 9");
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    errors.push(err);

    let down = Client::builder()
        .api_key(API_KEY)
        .base_url("http://127.0.0.1:9")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    let err = down.list_jobs().await.expect_err("connection refused");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    errors.push(err);

    sim.shutdown().await;

    let mut secrets = vec![API_KEY.to_string(), WRONG_KEY.to_string()];
    secrets.extend(signatures_seen.iter().cloned());
    assert!(
        signatures_seen.iter().all(|s| s.len() >= 16),
        "{signatures_seen:?}"
    );

    // The logs are really captured: this crate's request spans and
    // download retries, hyper's connection pool, reqwest's log records.
    let logs = buffer.text();
    for marker in [
        "appex.request",
        "operation=\"get_job\"",
        "presigned URL refused",
        "hyper_util",
        "LOG ",
    ] {
        assert!(logs.contains(marker), "no {marker:?} in the captured logs");
    }
    assert_clean("the logs", &logs, &secrets);

    for error in &errors {
        assert_clean("an error's Display", &error.to_string(), &secrets);
        assert_clean("an error's Debug", &format!("{error:?}"), &secrets);
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            assert_clean("an error source", &format!("{s} {s:?}"), &secrets);
            source = s.source();
        }
    }
    for (what, text) in &debug_texts {
        assert_clean(what, text, &secrets);
    }
}

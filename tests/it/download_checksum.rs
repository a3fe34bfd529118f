//! `Download::checksum`: files downloaded without a SHA-256 land the same
//! bytes, report and record none; a `.part` left by such a run is hashed
//! whole when resumed with the default; a file recorded without one cannot
//! be verified by `ExistingCheck::Sha256` and is fetched again; the CLI's
//! `--no-checksum`.

use std::path::Path;

use serde_json::Value;
use userpilot_appex::{
    Error, RetryPolicy,
    ext::download::{Checksum, Durability, ExistingCheck},
};

use crate::support::{
    content, files::FileSpec, hang_guard, listed_job, quick_client, server::TestServer, sha256_hex,
};

const SIG: &str = "CHECKSUMSIG0123456789";

/// The manifest's `complete` object of `job_id`'s file named `filename`,
/// as written on disk.
fn completed_entry(dir: &Path, job_id: &str, filename: &str) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir.join(".appex-download.json")).expect("manifest");
    let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
    let entry = manifest["jobs"][job_id]
        .as_array()
        .expect("the job's entries")
        .iter()
        .find(|e| e["filename"] == filename)
        .unwrap_or_else(|| panic!("no entry for {filename}: {text}"))
        .clone();
    entry["complete"]
        .as_object()
        .unwrap_or_else(|| panic!("{filename} is not recorded complete: {text}"))
        .clone()
}

#[tokio::test]
async fn without_a_checksum_the_served_bytes_land_and_no_sha256_is_reported_or_recorded() {
    let server = TestServer::start().await;
    let bodies = [content(1, 300_000), content(2, 1), Vec::new()];
    let mut files = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        server.file(&format!("/files/{i}"), FileSpec::bytes(body.clone()));
        files.push((format!("f{i}.csv"), server.url(&format!("/files/{i}"), SIG)));
    }
    let files: Vec<(&str, String)> = files.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(listed_job("job-none", &files), dir.path())
            .durability(Durability::None)
            .checksum(Checksum::None)
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(report.files.len(), bodies.len());
    for (file, body) in report.files.iter().zip(&bodies) {
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            *body,
            "{}",
            file.filename
        );
        assert_eq!(file.bytes, body.len() as u64);
        assert_eq!(file.sha256, None, "{}", file.filename);
        assert!(!file.skipped);
        let complete = completed_entry(dir.path(), "job-none", &file.filename);
        assert_eq!(complete["bytes"], body.len() as u64);
        assert!(
            !complete.contains_key("sha256"),
            "no sha256 key: {complete:?}"
        );
    }
}

#[tokio::test]
async fn by_default_the_sha256_of_the_bytes_is_reported_and_recorded() {
    let server = TestServer::start().await;
    let body = content(3, 250_000);
    server.file("/files/a", FileSpec::bytes(body.clone()));
    let listed = listed_job("job-sha", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();

    let report = hang_guard(quick_client(&server).download(&listed, dir.path()).run())
        .await
        .expect("download");

    let expected = sha256_hex(&body);
    assert_eq!(std::fs::read(&report.files[0].path).unwrap(), body);
    assert_eq!(report.files[0].sha256.as_deref(), Some(expected.as_str()));
    let complete = completed_entry(dir.path(), "job-sha", "a.csv");
    assert_eq!(complete["sha256"], expected.as_str());
}

#[tokio::test]
async fn a_part_left_without_a_checksum_is_hashed_whole_when_resumed_with_one() {
    let server = TestServer::start().await;
    let body = content(4, 200_000);
    server.file(
        "/files/a",
        FileSpec::bytes(body.clone()).drop_after(70_000, 1),
    );
    let listed = listed_job("job-resume", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);

    let error = hang_guard(
        client
            .download(&listed, dir.path())
            .retry_policy(RetryPolicy::none())
            .durability(Durability::None)
            .checksum(Checksum::None)
            .run(),
    )
    .await
    .expect_err("the first run fails mid-file");
    assert!(matches!(error, Error::Download { .. }), "{error}");
    assert_eq!(
        std::fs::read(dir.path().join("a.csv.part")).unwrap(),
        body[..70_000].to_vec()
    );

    let report = hang_guard(client.download(&listed, dir.path()).run())
        .await
        .expect("the resumed run");

    let requests = server.requests_to("/files/a");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("range"), Some("bytes=70000-"));
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), body);
    let expected = sha256_hex(&body);
    assert_eq!(
        report.files[0].sha256.as_deref(),
        Some(expected.as_str()),
        "the bytes of the first run are in the digest"
    );
    assert_eq!(
        completed_entry(dir.path(), "job-resume", "a.csv")["sha256"],
        expected.as_str()
    );
}

#[tokio::test]
async fn a_part_left_with_a_checksum_resumes_without_one() {
    let server = TestServer::start().await;
    let body = content(5, 180_000);
    server.file(
        "/files/a",
        FileSpec::bytes(body.clone()).drop_after(50_000, 1),
    );
    let listed = listed_job("job-resume-none", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);

    hang_guard(
        client
            .download(&listed, dir.path())
            .retry_policy(RetryPolicy::none())
            .run(),
    )
    .await
    .expect_err("the first run fails mid-file");
    let report = hang_guard(
        client
            .download(&listed, dir.path())
            .checksum(Checksum::None)
            .run(),
    )
    .await
    .expect("the resumed run");

    let requests = server.requests_to("/files/a");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("range"), Some("bytes=50000-"));
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), body);
    assert_eq!(report.files[0].bytes, body.len() as u64);
    assert_eq!(report.files[0].sha256, None);
    assert!(!completed_entry(dir.path(), "job-resume-none", "a.csv").contains_key("sha256"));
}

#[tokio::test]
async fn a_file_recorded_without_a_sha256_is_fetched_again_to_verify_it_but_skipped_by_length() {
    let server = TestServer::start().await;
    let body = content(6, 90_000);
    server.file("/files/a", FileSpec::bytes(body.clone()));
    let listed = listed_job("job-verify", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    let client = quick_client(&server);
    hang_guard(
        client
            .download(&listed, dir.path())
            .checksum(Checksum::None)
            .run(),
    )
    .await
    .expect("first run");
    assert_eq!(server.hits("/files/a"), 1);

    // By length: the recorded length vouches for the file.
    let by_length = hang_guard(
        client
            .download(&listed, dir.path())
            .verify_existing(ExistingCheck::Length)
            .run(),
    )
    .await
    .expect("by length");
    assert_eq!(server.hits("/files/a"), 1, "skipped: no request");
    assert!(by_length.files[0].skipped);
    assert_eq!(by_length.files[0].sha256, None, "none was recorded");

    // By sha256: nothing recorded to compare with, so it is fetched again.
    let by_sha = hang_guard(
        client
            .download(&listed, dir.path())
            .verify_existing(ExistingCheck::Sha256)
            .run(),
    )
    .await
    .expect("by sha256");
    assert_eq!(server.hits("/files/a"), 2, "the GET went out again");
    assert!(!by_sha.files[0].skipped);
    let expected = sha256_hex(&body);
    assert_eq!(by_sha.files[0].sha256.as_deref(), Some(expected.as_str()));
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), body);
    assert_eq!(
        completed_entry(dir.path(), "job-verify", "a.csv")["sha256"],
        expected.as_str()
    );

    // Now recorded: the next verified run reads the file and skips it.
    let again = hang_guard(
        client
            .download(&listed, dir.path())
            .verify_existing(ExistingCheck::Sha256)
            .run(),
    )
    .await
    .expect("verified");
    assert_eq!(server.hits("/files/a"), 2);
    assert!(again.files[0].skipped);
    assert_eq!(again.files[0].sha256.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn a_manifest_written_before_the_choice_still_vouches_for_its_files() {
    let server = TestServer::start().await;
    let body = content(7, 40_000);
    server.file("/files/a", FileSpec::bytes(body.clone()));
    let listed = listed_job("job-old", &[("a.csv", server.url("/files/a", SIG))]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), &body).unwrap();
    let old = serde_json::json!({
        "version": 1,
        "jobs": {"job-old": [{
            "source": "a.csv",
            "occurrence": 0,
            "filename": "a.csv",
            "complete": {"bytes": body.len(), "sha256": sha256_hex(&body)},
        }]},
    });
    std::fs::write(
        dir.path().join(".appex-download.json"),
        serde_json::to_vec_pretty(&old).unwrap(),
    )
    .unwrap();

    let report = hang_guard(
        quick_client(&server)
            .download(&listed, dir.path())
            .verify_existing(ExistingCheck::Sha256)
            .run(),
    )
    .await
    .expect("download");

    assert_eq!(server.hits("/files/a"), 0, "verified against the old entry");
    assert!(report.files[0].skipped);
    assert_eq!(report.files[0].sha256, Some(sha256_hex(&body)));
}

#[cfg(feature = "cli")]
mod cli {
    use crate::{
        cli_download_faults::{completed_job, download, reference},
        support::{cli::Sim, sha256_hex},
    };

    #[test]
    fn jobs_download_no_checksum_prints_no_sha256_and_json_null() {
        let sim = Sim::start();
        let job = completed_job(&sim, 2);
        let job_id = job.job_id.clone().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let human = download(&sim, &job_id, dir.path(), &["--no-checksum"]).ok();
        let lines: Vec<&str> = human.stdout.lines().collect();
        assert_eq!(lines.len(), job.presigned_urls.len(), "{}", human.stdout);
        for (i, file) in job.presigned_urls.iter().enumerate() {
            let path = dir.path().join(&file.filename);
            let bytes = reference(&sim, &job, i);
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
            assert_eq!(
                lines[i],
                format!("{}  {} bytes", path.display(), bytes.len())
            );
        }
        assert!(!human.stdout.contains("sha256"), "{}", human.stdout);

        let dir = tempfile::tempdir().unwrap();
        let json = download(
            &sim,
            &job_id,
            dir.path(),
            &["--no-checksum", "--no-fsync", "--json"],
        )
        .ok()
        .json();
        let files = json["files"].as_array().expect("files");
        assert_eq!(files.len(), job.presigned_urls.len());
        for (i, file) in files.iter().enumerate() {
            let path = dir.path().join(&job.presigned_urls[i].filename);
            assert_eq!(file["path"], path.display().to_string());
            assert_eq!(
                file["bytes"].as_u64(),
                Some(reference(&sim, &job, i).len() as u64)
            );
            assert!(file.get("sha256").is_some_and(|v| v.is_null()), "{file}");
        }
    }

    #[test]
    fn jobs_download_prints_the_sha256_by_default() {
        let sim = Sim::start();
        let job = completed_job(&sim, 2);
        let job_id = job.job_id.clone().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let human = download(&sim, &job_id, dir.path(), &[]).ok();
        let lines: Vec<&str> = human.stdout.lines().collect();
        assert_eq!(lines.len(), job.presigned_urls.len(), "{}", human.stdout);
        for (i, file) in job.presigned_urls.iter().enumerate() {
            let path = dir.path().join(&file.filename);
            let bytes = reference(&sim, &job, i);
            assert_eq!(
                lines[i],
                format!(
                    "{}  {} bytes  sha256:{}",
                    path.display(),
                    bytes.len(),
                    sha256_hex(&bytes)
                )
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let json = download(&sim, &job_id, dir.path(), &["--json"]).ok().json();
        let files = json["files"].as_array().expect("files");
        assert_eq!(files.len(), job.presigned_urls.len());
        for (i, file) in files.iter().enumerate() {
            let expected = sha256_hex(&reference(&sim, &job, i));
            assert_eq!(file["sha256"].as_str(), Some(expected.as_str()));
        }
    }

    #[test]
    fn export_out_no_checksum_reports_null_sha256() {
        let sim = Sim::start();
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().to_str().expect("utf-8");
        let out = sim
            .export(2, &["--out", out_dir, "--no-checksum", "--json"])
            .ok()
            .json();
        let files = out["files"].as_array().expect("files");
        assert_eq!(files.len(), 2);
        for file in files {
            let path = std::path::Path::new(file["path"].as_str().expect("path"));
            assert_eq!(
                file["bytes"].as_u64(),
                Some(std::fs::metadata(path).expect("on disk").len())
            );
            assert!(file.get("sha256").is_some_and(|v| v.is_null()), "{file}");
        }
    }

    #[test]
    fn the_help_says_what_no_checksum_is_for() {
        let sim = Sim::start();
        let help = sim.appex(&["jobs", "download", "--help"]).ok();
        // The flag's entry: its line and the description lines under it.
        let mut entry = help
            .stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--no-checksum"));
        let first = entry.next().expect("--no-checksum is listed");
        let text = std::iter::once(first)
            .chain(entry.take_while(|l| !l.trim_start().starts_with('-')))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains("SHA-256"), "{text}");
        assert!(text.contains("staging"), "{text}");
    }
}

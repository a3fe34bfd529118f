//! Landing into S3-compatible storage: moto (from the test Python
//! environment) on 127.0.0.1, read back through `object_store` and by
//! pyarrow's own S3 client; a day re-landed while a reader lists and reads
//! in a loop is never missing or half-written.

use std::{
    io::Write,
    process::{Command, Stdio},
    sync::Arc,
};

use arrow_array::{RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use futures::stream;
use userpilot_appex::dataset::{
    DEDUPE_KEY_COLUMN, Dataset, DestinationOptions, LandOptions, day_key, open, read_parquet,
};

use crate::support::python::{self, ACCESS_KEY, Moto, SECRET_KEY};

fn batch(start_micros: i64, n: usize, id_prefix: &str) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "inserted_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(DEDUPE_KEY_COLUMN, DataType::Utf8, true),
    ]));
    // One event an hour from `start`.
    let ts = TimestampMicrosecondArray::from_iter_values(
        (0..n).map(|i| start_micros + i as i64 * 3_600_000_000),
    )
    .with_timezone("UTC");
    let ids = StringArray::from_iter_values((0..n).map(|i| format!("{id_prefix}-{i}")));
    RecordBatch::try_new(schema, vec![Arc::new(ts), Arc::new(ids)]).unwrap()
}

/// 2026-03-01T00:00:00Z in microseconds.
const MARCH_1: i64 = 1_772_323_200_000_000;

fn options(moto: &Moto) -> DestinationOptions {
    DestinationOptions {
        s3_endpoint: Some(moto.endpoint.clone()),
        s3_config: vec![
            ("aws_access_key_id".into(), ACCESS_KEY.into()),
            ("aws_secret_access_key".into(), SECRET_KEY.into()),
            ("aws_region".into(), "us-east-1".into()),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn land_into_moto_and_read_back_with_object_store_and_pyarrow() {
    let moto = Moto::start();
    moto.create_bucket("appex-test");
    let opts = options(&moto);
    let dest = open("s3://appex-test/team/ds", &opts).unwrap();
    let debug = format!("{dest:?} {opts:?}");
    assert!(
        !debug.contains(SECRET_KEY) && !debug.contains(ACCESS_KEY),
        "{debug}"
    );

    // 60 hourly events: 24 + 24 + 12 over three days.
    let ds = Dataset::new(dest.clone());
    let report = ds
        .land_batches(
            stream::iter(vec![Ok(batch(MARCH_1, 60, "e"))]),
            &LandOptions::default(),
        )
        .await
        .unwrap();
    let per_day: Vec<(String, u64)> = report
        .days
        .iter()
        .map(|d| (d.day.to_string(), d.rows_after))
        .collect();
    assert_eq!(
        per_day,
        [
            ("2026-03-01".to_string(), 24),
            ("2026-03-02".to_string(), 24),
            ("2026-03-03".to_string(), 12)
        ]
    );
    ds.write_views().await.unwrap();

    // Back through object_store.
    let listed = dest.list("events/").await.unwrap();
    assert_eq!(listed.len(), 3);
    for day in &report.days {
        let data = dest.get(&day.key).await.unwrap().expect("landed");
        assert_eq!(data.len() as u64, day.bytes);
        let rows: usize = read_parquet(data)
            .unwrap()
            .batches
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows as u64, day.rows_after);
    }

    // Back through pyarrow's own S3 client.
    let (kind, counts) = python::pyarrow_counts("appex-test/team/ds", Some(&moto));
    assert_eq!(kind, "timestamp[us, tz=UTC]");
    assert_eq!(counts, per_day);

    // Nothing outside the prefix.
    let keys = python::run(
        "import boto3,sys\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
             aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n\
         for o in s3.list_objects_v2(Bucket='appex-test').get('Contents', []): print(o['Key'])\n",
        &[&moto.endpoint, ACCESS_KEY, SECRET_KEY],
    );
    assert!(keys.lines().count() >= 4, "{keys}");
    assert!(keys.lines().all(|k| k.starts_with("team/ds/")), "{keys}");

    // Errors name the destination, never the credentials.
    let missing = open("s3://no-such-bucket/x", &opts).unwrap();
    let err = missing.put("a.txt", "x".into()).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("s3://no-such-bucket/x"), "{text}");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

/// Lists the day's prefix and reads the day file in a loop until the stop
/// file (the last argument) exists; prints every row count seen, and FAIL lines for a missing or
/// unreadable file. It lists with pyarrow's S3 client and reads each file
/// with one GET (boto3), parsed by pyarrow: S3 makes each request atomic,
/// not a series of ranged reads (pyarrow's own reads fetch the footer and
/// the pages by separate range requests, and can mix two versions of a file
/// replaced meanwhile, on S3 as on moto; see the README).
const READER_LOOP: &str = r#"
import os, sys, boto3, pyarrow as pa, pyarrow.fs as pafs, pyarrow.parquet as pq
fs = pafs.S3FileSystem(endpoint_override=sys.argv[1], scheme="http", region="us-east-1",
                       access_key=sys.argv[3], secret_key=sys.argv[4])
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
stop = sys.argv[5]
path = sys.argv[2]
reads = 0
print("ready", flush=True)
while not os.path.exists(stop):
    try:
        infos = fs.get_file_info(pafs.FileSelector(path.rsplit("/", 1)[0], recursive=False))
        names = [i.path for i in infos]
        if path not in names:
            print("FAIL missing", names, flush=True)
            continue
        bucket, key = path.split("/", 1)
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        print(pq.read_table(pa.BufferReader(data)).num_rows, flush=True)
        reads += 1
    except Exception as e:
        print("FAIL", repr(e), flush=True)
print("reads", reads, flush=True)
# Leave without running the AWS SDK's exit-time teardown, which sometimes
# aborts the interpreter ("terminate called without an active exception")
# after everything above was done and printed.
os._exit(0)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relanding_a_day_on_s3_is_atomic_for_a_reader_in_a_loop() {
    let moto = Moto::start();
    moto.create_bucket("appex-atomic");
    let dest = open("s3://appex-atomic/ds", &options(&moto)).unwrap();
    let ds = Dataset::new(dest);
    // Day one: 24 events.
    ds.land_batches(
        stream::iter(vec![Ok(batch(MARCH_1, 24, "base"))]),
        &LandOptions::default(),
    )
    .await
    .unwrap();
    let key = format!("appex-atomic/ds/{}", day_key("2026-03-01".parse().unwrap()));
    let stop_dir = tempfile::tempdir().unwrap();
    let stop = stop_dir.path().join("stop");
    let mut reader = Command::new(python::env_dir().join("bin/python"))
        .arg("-c")
        .arg(READER_LOOP)
        .args([&moto.endpoint, &key, ACCESS_KEY, SECRET_KEY])
        .arg(&stop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(reader.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert_eq!(first.trim(), "ready");
    // One read before the re-landing starts, so the reader has read however
    // fast the landing runs on this machine.
    let mut first_read = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first_read).unwrap();
    // Re-land the day 12 times, each time with one more distinct event
    // (same hour, new id), while the reader loops.
    let mut expected = vec![24u64];
    for round in 0..12 {
        let report = ds
            .land_batches(
                stream::iter(vec![
                    Ok(batch(MARCH_1, 24, "base")),
                    Ok(batch(MARCH_1, 1, &format!("round{round}"))),
                ]),
                &LandOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(report.days[0].rows_new, 1);
        expected.push(report.days[0].rows_after);
    }
    std::fs::write(&stop, "").unwrap();
    let mut rest = first_read;
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = reader.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut reader.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "reader: {status}\n{stderr}\n{rest}");
    assert!(
        !rest.contains("FAIL"),
        "the reader saw a missing or broken day:\n{rest}"
    );
    let reads: u64 = rest
        .lines()
        .find_map(|l| l.strip_prefix("reads "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reads > 0, "{rest}");
    let seen: Vec<u64> = rest.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        seen.iter().all(|n| expected.contains(n)),
        "{seen:?} vs {expected:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    let _ = std::io::stdout().flush();
}

/// `appex records FILE… --dest s3://…` with the credentials in the standard
/// `AWS_*` variables: lands, reports, and never prints them.
#[cfg(feature = "cli")]
#[test]
fn cli_records_dest_s3_lands_with_aws_variables_and_prints_no_secret() {
    let moto = Moto::start();
    moto.create_bucket("appex-cli");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("part-0.ndjson.gz");
    crate::support::records::write_ndjson(&file, 0..40, true);
    let mut cmd = crate::support::cli::appex_cmd();
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd.args([
        "records",
        file.to_str().unwrap(),
        "--dest",
        "s3://appex-cli/x/y",
    ])
    .args(["--s3-endpoint", &moto.endpoint, "--json", "-vvv"]);
    let run = crate::support::cli::Run::of(cmd).ok();
    let report = run.json();
    assert_eq!(report["destination"], "s3://appex-cli/x/y");
    assert_eq!(report["rows_in"].as_u64(), Some(40));
    let rows: u64 = report["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rows_after"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, report["rows_new"].as_u64().unwrap());
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(SECRET_KEY), "{text}");
    }
    let (_, counts) = python::pyarrow_counts("appex-cli/x/y", Some(&moto));
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, rows);
}
